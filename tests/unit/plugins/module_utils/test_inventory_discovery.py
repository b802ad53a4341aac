# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery's grouping (pure): MSSQLSvc SPNs and service connection points
to a draft inventory, every inference marked as a guess."""

from __future__ import annotations

import itertools
import pathlib

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:
    from ansible.template import trust_as_template

    def as_module_result(value):
        return value  # ansible-core >= 2.19 templates no string it was not told to trust
except ImportError:  # ansible-core < 2.19 templates every string it is given, but those marked unsafe
    from ansible.utils.unsafe_proxy import wrap_var as as_module_result

    def trust_as_template(value):
        return value

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import Account
from ansible_collections.sqlauth.kerberos.plugins.module_utils._inventory_discovery import (
    draft_inventory,
    mssql_spns,
    scp_instance,
    spn_hosts,
)

_RIDS = itertools.count(1100)
DOMAIN = "corp.example.com"
# LdapClient.domains() of a forest of two domains.
DOMAINS = [dict(dn="DC=corp,DC=example,DC=com", netbios="CORP", dns="corp.example.com"),
           dict(dn="DC=emea,DC=corp,DC=example,DC=com", netbios="EMEA", dns="emea.corp.example.com")]
ROLE_TEMPLATES = pathlib.Path(__file__).resolve().parents[4] / "roles" / "inventory_draft" / "templates"


def account(name, spns, kind="user", dns_host_name=None, domain="CORP"):
    classes = {"user": ["top", "person", "organizationalPerson", "user"],
               "computer": ["top", "person", "organizationalPerson", "user", "computer"],
               "gmsa": ["top", "person", "organizationalPerson", "user", "computer",
                        "msDS-GroupManagedServiceAccount"]}[kind]
    suffix = next(d["dn"] for d in DOMAINS if d["netbios"] == domain)
    return Account(dn="CN=%s,CN=Users,%s" % (name.rstrip("$"), suffix),
                   sid="S-1-5-21-1-2-3-%d" % next(_RIDS), sam_account_name=name, domain_netbios=domain,
                   object_classes=classes, dns_host_name=dns_host_name, spns=list(spns))


def computer(short, spns=()):
    return account(short.upper() + "$", list(spns) + ["HOST/%s.%s" % (short, DOMAIN)], "computer",
                   "%s.%s" % (short, DOMAIN))


def draft(accounts, scps=(), computers=()):
    return draft_inventory(accounts, list(scps), list(computers), DOMAIN, DOMAINS)


def host(result, fqdn):
    return next(h for h in result["hosts"] if h["fqdn"] == fqdn)


def instances(result, fqdn):
    return {i["instance"]: i for i in host(result, fqdn)["instances"]}


def all_comments(instance):
    return [line for lines in instance["comments"].values() for line in lines]


def test_named_instance_with_its_port_on_one_account():
    svc = account("sqlsvc2", ["MSSQLSvc/sql2.corp.example.com:1533", "MSSQLSvc/sql2.corp.example.com:SALES",
                              "MSSQLSvc/sql2:1533", "MSSQLSvc/sql2:SALES"])
    result = draft([svc], computers=[computer("sql2")])
    sales = instances(result, "sql2.corp.example.com")["SALES"]
    assert (sales["port"], sales["service_account"], sales["enabled"]) == (1533, "CORP\\sqlsvc2", True)
    # The name SPN names the instance: no guess; the pairing and the account are guesses.
    assert sales["comments"]["instance"] == []
    assert sales["comments"]["port"][0].startswith("guess: ")
    assert sales["comments"]["service_account"] == ["guess: holds the instance's SPNs today"]
    assert len(sales["spns"]) == 4 and sales["duplicates"] == []
    assert host(result, "sql2.corp.example.com")["computer_account"] == "CORP\\SQL2$"
    assert result["summary"] == dict(hosts=1, instances=1, spns=4, duplicate_spns=0, service_connection_points=0)


def test_bare_host_is_a_guessed_default_instance():
    svc = account("sqlsvc1", ["MSSQLSvc/sql1.corp.example.com", "MSSQLSvc/sql1.corp.example.com:1433"])
    default = instances(draft([svc], computers=[computer("sql1")]), "sql1.corp.example.com")["MSSQLSERVER"]
    assert default["port"] == 1433
    assert default["comments"]["instance"] == [
        "guess: a bare-host SPN (no port, no instance name) names the default instance"]


def test_port_only_spn_makes_a_default_instance():
    svc = account("sqlsvc8", ["MSSQLSvc/sql8.corp.example.com:1433"])
    default = instances(draft([svc], computers=[computer("sql8")]), "sql8.corp.example.com")["MSSQLSERVER"]
    assert default["port"] == 1433
    assert default["comments"]["instance"][0].startswith("guess: port SPNs without an instance name")


def test_named_instance_without_port_is_dynamic_and_default_without_port_is_1433():
    svc = account("sqlsvc", ["MSSQLSvc/sql1.corp.example.com:HR", "MSSQLSvc/sql1.corp.example.com"])
    found = instances(draft([svc], computers=[computer("sql1")]), "sql1.corp.example.com")
    assert found["HR"]["port"] == "dynamic" and found["MSSQLSERVER"]["port"] == 1433
    assert all(line.startswith("guess: no port SPN") for i in found.values() for line in i["comments"]["port"])


def test_several_names_and_ports_on_one_account_are_paired_in_order_as_a_guess():
    svc = account("sqlsvc14", ["MSSQLSvc/sql11.corp.example.com:1533", "MSSQLSvc/sql11.corp.example.com:DW",
                               "MSSQLSvc/sql11.corp.example.com:1433", "MSSQLSvc/sql11.corp.example.com:APP"])
    found = instances(draft([svc], computers=[computer("sql11")]), "sql11.corp.example.com")
    assert (found["APP"]["port"], found["DW"]["port"]) == (1433, 1533)
    assert "paired in order" in found["DW"]["comments"]["port"][0]


def test_each_account_pairs_its_own_name_and_port():
    accounts = [account("svc%s" % name, ["MSSQLSvc/sql9.corp.example.com:%d" % port,
                                         "MSSQLSvc/sql9.corp.example.com:%s" % name])
                for name, port in (("LOCKED", 1533), ("EXPIRED", 1534), ("PWD", 1535))]
    found = instances(draft(accounts), "sql9.corp.example.com")
    assert {name: (i["port"], i["service_account"]) for name, i in found.items()} == {
        "LOCKED": (1533, "CORP\\svcLOCKED"), "EXPIRED": (1534, "CORP\\svcEXPIRED"), "PWD": (1535, "CORP\\svcPWD")}


def test_a_port_left_over_is_listed_unassigned():
    svc = account("sqlsvc1", ["MSSQLSvc/sql1.corp.example.com", "MSSQLSvc/sql1.corp.example.com:1433",
                              "MSSQLSvc/sql1.corp.example.com:1435"])
    result = draft([svc], computers=[computer("sql1")])
    drafted = host(result, "sql1.corp.example.com")
    assert [i["port"] for i in drafted["instances"]] == [1433]
    assert drafted["unassigned_spns"] == [dict(spn="MSSQLSvc/sql1.corp.example.com:1435", holders=["CORP\\sqlsvc1"])]
    assert any("MSSQLSvc/sql1.corp.example.com:1435 on CORP\\sqlsvc1" in line for line in drafted["comments"])


def test_short_name_spns_join_their_fqdn_host():
    svc = account("sqlsvc1", ["MSSQLSvc/sql1.corp.example.com:1433", "MSSQLSvc/sql1:1433", "MSSQLSvc/SQL1"])
    result = draft([svc], computers=[computer("sql1")])
    assert [h["fqdn"] for h in result["hosts"]] == ["sql1.corp.example.com"]
    assert sorted(instances(result, "sql1.corp.example.com")["MSSQLSERVER"]["spns"]) == [
        "MSSQLSvc/sql1", "MSSQLSvc/sql1.corp.example.com:1433", "MSSQLSvc/sql1:1433"]


def test_a_host_named_only_by_short_spns_gets_the_domain_suffix_as_a_guess():
    result = draft([account("svc", ["MSSQLSvc/legacy:1433"])])
    drafted = host(result, "legacy.corp.example.com")
    assert any(line.startswith("guess: only short-name SPNs") for line in drafted["comments"])
    assert spn_hosts([account("svc", ["MSSQLSvc/legacy:1433"])], [], DOMAIN) == ["legacy.corp.example.com"]


def test_duplicates_name_every_holder_and_the_service_account_holds_most():
    current = account("sqlsvc4", ["MSSQLSvc/sql4.corp.example.com:1433", "MSSQLSvc/sql4.corp.example.com",
                                  "MSSQLSvc/sql4:1433", "MSSQLSvc/sql4"])
    old = account("sqlsvc4old", ["MSSQLSvc/sql4.corp.example.com:1433"])
    result = draft([old, current], computers=[computer("sql4")])
    default = instances(result, "sql4.corp.example.com")["MSSQLSERVER"]
    assert default["service_account"] == "CORP\\sqlsvc4"
    assert default["duplicates"] == ["MSSQLSvc/sql4.corp.example.com:1433"]
    assert [h["name"] for h in default["holders"]] == ["CORP\\sqlsvc4", "CORP\\sqlsvc4old"]
    assert any(note.startswith("duplicate: MSSQLSvc/sql4.corp.example.com:1433 is held by CORP\\sqlsvc4, "
                               "CORP\\sqlsvc4old") for note in default["notes"])
    assert result["summary"]["duplicate_spns"] == 1


def test_spns_on_the_hosts_computer_account_guess_a_virtual_account_or_stale():
    sql3 = computer("sql3", ["MSSQLSvc/sql3.corp.example.com:1433", "MSSQLSvc/sql3.corp.example.com",
                             "MSSQLSvc/sql3.corp.example.com:RETIRED"])
    found = instances(draft([sql3], computers=[sql3]), "sql3.corp.example.com")
    assert found["MSSQLSERVER"]["service_account"] == "NT SERVICE\\MSSQLSERVER"
    assert found["RETIRED"]["service_account"] == "NT SERVICE\\MSSQL$RETIRED"
    line = found["MSSQLSERVER"]["comments"]["service_account"][0]
    assert line.startswith("guess: ") and "CORP\\SQL3$" in line and "LocalSystem" in line and "stale" in line


def test_spns_on_another_hosts_computer_account_keep_its_name():
    node = computer("node1", ["MSSQLSvc/sqlfci.corp.example.com:1433"])
    default = instances(draft([node], computers=[node]), "sqlfci.corp.example.com")["MSSQLSERVER"]
    assert default["service_account"] == "CORP\\NODE1$"
    assert "not this host's computer account" in default["comments"]["service_account"][0]


def test_a_gmsa_holder_is_written_by_name_and_a_dynamic_range_port_is_flagged():
    gmsa = account("gmsa-sql5$", ["MSSQLSvc/sql5.corp.example.com:HR", "MSSQLSvc/sql5.corp.example.com:49712"],
                   "gmsa", "sql5.corp.example.com")
    hr = instances(draft([gmsa], computers=[computer("sql5")]), "sql5.corp.example.com")["HR"]
    assert (hr["service_account"], hr["port"]) == ("CORP\\gmsa-sql5$", 49712)
    assert any("dynamic range" in line for line in hr["comments"]["port"])


def test_a_host_without_computer_account_may_be_a_listener():
    svc = account("sqlsvc1", ["MSSQLSvc/sql1.corp.example.com:1433", "MSSQLSvc/sql1.corp.example.com",
                              "MSSQLSvc/aglisten1.corp.example.com:1433"])
    result = draft([svc], computers=[computer("sql1")])
    listener = host(result, "aglisten1.corp.example.com")
    assert listener["computer_account"] is None
    assert "availability group listener" in listener["comments"][0]
    assert "sql1.corp.example.com" in listener["comments"][0]


def test_every_instance_inference_is_marked_as_a_guess():
    svc = account("sqlsvc1", ["MSSQLSvc/sql1.corp.example.com", "MSSQLSvc/sql1.corp.example.com:1433"])
    for instance in host(draft([svc], computers=[computer("sql1")]), "sql1.corp.example.com")["instances"]:
        assert all(line.startswith("guess: ") for line in all_comments(instance))


def test_other_service_classes_are_ignored_and_malformed_spns_reported():
    svc = account("svc", ["HTTP/web.corp.example.com", "MSSQLSvc/sql1.corp.example.com:1433",
                          "MSSQLSvc/bad host:1433"])
    parsed, unparsed = mssql_spns([svc])
    assert [str(spn) for spn, _a in parsed] == ["MSSQLSvc/sql1.corp.example.com:1433"]
    assert [row["spn"] for row in unparsed] == ["MSSQLSvc/bad host:1433"]
    assert draft([svc])["unparsed_spns"][0]["holder"] == "CORP\\svc"


def test_hosts_sort_as_people_count():
    accounts = [account("svc%d" % n, ["MSSQLSvc/sql%d.corp.example.com:1433" % n]) for n in (10, 2, 1)]
    assert [h["fqdn"] for h in draft(accounts)["hosts"]] == [
        "sql1.corp.example.com", "sql2.corp.example.com", "sql10.corp.example.com"]


SCP = {"dn": "CN=SQL7-REPORTS,CN=SQL7,CN=Computers,DC=corp,DC=example,DC=com", "objectClass": ["mS-SQL-SQLServer"],
       "serviceDNSName": ["sql7.corp.example.com"], "serviceClassName": ["MSSQLServer"],
       "mS-SQL-Name": ["SQL7\\REPORTS"], "mS-SQL-TCPIP": ["1533"], "mS-SQL-ServiceAccount": []}


def test_scp_instance_reads_host_instance_and_port():
    assert scp_instance(SCP) == dict(dn=SCP["dn"], host="sql7.corp.example.com", instance="REPORTS", port=1533,
                                     service_account=None)
    bare = dict(SCP, **{"serviceDNSName": [], "mS-SQL-Name": ["sql7.corp.example.com"], "mS-SQL-TCPIP": ["x"]})
    assert scp_instance(bare)["instance"] == "MSSQLSERVER" and scp_instance(bare)["port"] is None


def test_an_instance_only_in_a_service_connection_point_is_drafted_disabled():
    result = draft([], scps=[SCP], computers=[computer("sql7")])
    reports = instances(result, "sql7.corp.example.com")["REPORTS"]
    assert (reports["port"], reports["service_account"], reports["enabled"]) == (1533, None, False)
    assert reports["comments"]["instance"][0].startswith("guess: from a service connection point only")
    with_account = dict(SCP, **{"mS-SQL-ServiceAccount": ["CORP\\sqlsvc7"]})
    reports = instances(draft([], scps=[with_account]), "sql7.corp.example.com")["REPORTS"]
    assert (reports["service_account"], reports["enabled"]) == ("CORP\\sqlsvc7", True)
    assert reports["comments"]["service_account"] == ["guess: as its service connection point says"]


def test_a_service_connection_point_of_an_spn_instance_is_noted_and_gives_a_missing_port():
    svc = account("sqlsvc7", ["MSSQLSvc/sql7.corp.example.com:REPORTS"])
    reports = instances(draft([svc], scps=[SCP], computers=[computer("sql7")]), "sql7.corp.example.com")["REPORTS"]
    assert reports["port"] == 1533 and reports["service_account"] == "CORP\\sqlsvc7"
    assert reports["comments"]["port"] == ["guess: no port SPN; the port of its service connection point"]
    assert any(SCP["dn"] in note for note in reports["notes"])


def test_nothing_found_is_an_empty_draft():
    assert draft([]) == dict(hosts=[], unparsed_spns=[], service_connection_points=[],
                             summary=dict(hosts=0, instances=0, spns=0, duplicate_spns=0, service_connection_points=0))


def test_a_short_name_spn_joins_the_host_its_holder_holds_spns_of():
    svc_a = account("svcA", ["MSSQLSvc/sql1.corp.example.com:1433"])
    svc_b = account("svcB", ["MSSQLSvc/sql1.emea.corp.example.com:1433", "MSSQLSvc/sql1:1433", "MSSQLSvc/sql1"],
                    domain="EMEA")
    result = draft([svc_a, svc_b])
    assert [h["fqdn"] for h in result["hosts"]] == ["sql1.corp.example.com", "sql1.emea.corp.example.com"]
    corp = instances(result, "sql1.corp.example.com")["MSSQLSERVER"]
    assert (corp["spns"], corp["service_account"]) == (["MSSQLSvc/sql1.corp.example.com:1433"], "CORP\\svcA")
    emea = instances(result, "sql1.emea.corp.example.com")["MSSQLSERVER"]
    assert emea["spns"] == ["MSSQLSvc/sql1", "MSSQLSvc/sql1.emea.corp.example.com:1433", "MSSQLSvc/sql1:1433"]
    assert emea["duplicates"] == [] and emea["service_account"] == "EMEA\\svcB"
    # More than one host has that first label: where the short SPNs went is a guess.
    assert host(result, "sql1.emea.corp.example.com")["comments"][0] == (
        "guess: MSSQLSvc/sql1, MSSQLSvc/sql1:1433 on EMEA\\svcB: sql1 is the first label of sql1.corp.example.com, "
        "sql1.emea.corp.example.com; placed here as the same account holds SPNs of this host")
    assert not any("first label" in line for line in host(result, "sql1.corp.example.com")["comments"])


def test_a_short_name_spn_goes_to_its_holders_domain():
    svc_a = account("svcA", ["MSSQLSvc/sql1.corp.example.com:1433"])
    svc_b = account("svcB", ["MSSQLSvc/sql1.emea.corp.example.com:1433"], domain="EMEA")
    svc_c = account("svcC", ["MSSQLSvc/sql1:HR"], domain="EMEA")
    result = draft([svc_a, svc_b, svc_c])
    assert "HR" in instances(result, "sql1.emea.corp.example.com")
    assert "placed here as this host is in its domain" in host(result, "sql1.emea.corp.example.com")["comments"][0]
    # No FQDN known: the holder's domain, not the connected one.
    only_short = draft([account("svcD", ["MSSQLSvc/legacy:1433"], domain="EMEA")])
    assert [h["fqdn"] for h in only_short["hosts"]] == ["legacy.emea.corp.example.com"]
    assert spn_hosts([svc_a, svc_b, svc_c], [], DOMAIN, DOMAINS) == [
        "sql1.corp.example.com", "sql1.emea.corp.example.com"]


def test_a_stale_holders_old_port_makes_no_default_instance():
    current = account("svcNew", ["MSSQLSvc/sql1.corp.example.com:INST1", "MSSQLSvc/sql1.corp.example.com:1500"])
    stale = account("svcOld", ["MSSQLSvc/sql1.corp.example.com:INST1", "MSSQLSvc/sql1.corp.example.com:1600"])
    result = draft([current, stale], computers=[computer("sql1")])
    found = instances(result, "sql1.corp.example.com")
    assert list(found) == ["INST1"]
    assert (found["INST1"]["port"], found["INST1"]["service_account"]) == (1500, "CORP\\svcNew")
    assert host(result, "sql1.corp.example.com")["unassigned_spns"] == [
        dict(spn="MSSQLSvc/sql1.corp.example.com:1600", holders=["CORP\\svcOld"])]


def test_a_port_on_another_account_gives_the_default_instance_its_port():
    bare = account("svcA", ["MSSQLSvc/sql1.corp.example.com"])
    port = account("svcB", ["MSSQLSvc/sql1.corp.example.com:1433"])
    result = draft([bare, port], computers=[computer("sql1")])
    default = instances(result, "sql1.corp.example.com")["MSSQLSERVER"]
    assert default["port"] == 1433
    assert default["comments"]["port"] == [
        "guess: from MSSQLSvc/sql1.corp.example.com:1433 on CORP\\svcB, which holds no instance name of this host; "
        "the default instance has no port SPN of its own"]
    assert host(result, "sql1.corp.example.com")["unassigned_spns"] == []


def test_the_summary_counts_spns_and_duplicates_among_unassigned_ports():
    svc = account("sqlsvc1", ["MSSQLSvc/sql1.corp.example.com:1433", "MSSQLSvc/sql1.corp.example.com:HR",
                              "MSSQLSvc/sql1.corp.example.com:1435"])
    old = account("sqlsvc1old", ["MSSQLSvc/sql1.corp.example.com:HR", "MSSQLSvc/sql1.corp.example.com:1435"])
    result = draft([svc, old], computers=[computer("sql1")])
    hr = instances(result, "sql1.corp.example.com")["HR"]
    assert hr["duplicates"] == ["MSSQLSvc/sql1.corp.example.com:HR"]
    assert host(result, "sql1.corp.example.com")["unassigned_spns"] == [
        dict(spn="MSSQLSvc/sql1.corp.example.com:1435", holders=["CORP\\sqlsvc1", "CORP\\sqlsvc1old"])]
    assert result["summary"]["duplicate_spns"] == 2 and result["summary"]["spns"] == 3
    only = draft([account("a", ["MSSQLSvc/sql2.corp.example.com:1435"]),
                  account("b", ["MSSQLSvc/sql2.corp.example.com:1435"])])
    assert (only["summary"]["duplicate_spns"], only["summary"]["spns"]) == (1, 1)


def test_a_computer_found_by_its_account_name_only_is_a_guess():
    nameless = account("SQL6$", [], "computer")
    result = draft([account("svc", ["MSSQLSvc/sql6.corp.example.com:1433"])], computers=[nameless])
    drafted = host(result, "sql6.corp.example.com")
    assert drafted["computer_account"] == "CORP\\SQL6$"
    assert any(line.startswith("guess: the computer account CORP\\SQL6$ has this host's short name")
               for line in drafted["comments"])
    # Another host's computer of the same short name is not this one.
    other = account("SQL6$", [], "computer", "sql6.emea.corp.example.com", domain="EMEA")
    assert host(draft([account("svc", ["MSSQLSvc/sql6.corp.example.com:1433"])], computers=[other]),
                "sql6.corp.example.com")["computer_account"] is None


def test_a_service_connection_points_account_that_is_no_account_is_commented_out():
    scp = dict(SCP, **{"mS-SQL-ServiceAccount": ["CORP\\{{ q('pipe','id') }}"]})
    reports = instances(draft([], scps=[scp]), "sql7.corp.example.com")["REPORTS"]
    assert (reports["service_account"], reports["enabled"]) == (None, False)
    assert reports["comments"]["service_account"][0].startswith(
        "its service connection point names no usable service account (")


def render(template, **variables):
    """The role's template rendered as the template action renders it."""
    # The variables are a module's result, which Ansible marks unsafe (< 2.19) or leaves untrusted.
    templar = Templar(loader=DataLoader(), variables=as_module_result(variables)).copy_with_new_env(
        searchpath=[str(ROLE_TEMPLATES)])
    return templar.template(trust_as_template((ROLE_TEMPLATES / template).read_text()), escape_backslashes=False,
                            overrides=dict(trim_blocks=True, lstrip_blocks=False))


def load_as_host_vars(path):
    """The file read and templated as host_group_vars and a play do: every
    string of host_vars is a trusted template."""
    loader = DataLoader()
    try:
        data = loader.load_from_file(str(path), cache="none", unsafe=True, trusted_as_template=True)
    except TypeError:  # ansible-core < 2.19: no trust marks, every string is a template (but !unsafe ones)
        data = loader.load_from_file(str(path), cache="none", unsafe=True)
    return Templar(loader=loader, variables={}).template(data)


@pytest.mark.parametrize("sam_account_name", [
    "{{q('pipe','touch PWNED')}}",
    "svc{% set x = q('pipe', 'touch PWNED') %}",
    "svc{# q('pipe', 'touch PWNED') #}",
    "#jinja2:variable_start_string:'[[',variable_end_string:']]'\n[[ q('pipe','touch PWNED') ]]",
    "sqlsvc\n",
    "yes",
    "svc: x # y",
])
def test_text_from_ad_never_runs_as_a_template(tmp_path, monkeypatch, sam_account_name):
    monkeypatch.chdir(tmp_path)
    holder = account(sam_account_name, ["MSSQLSvc/sql1.corp.example.com:1433"])
    scp = dict(SCP, **{"mS-SQL-ServiceAccount": ["CORP\\{{ q('pipe','touch PWNED') }}"],
                       "dn": "CN=SQL7-REPORTS\n{{ q('pipe','touch PWNED') }},CN=SQL7,DC=corp,DC=example,DC=com"})
    result = draft([holder], scps=[scp], computers=[computer("sql1")])
    hosts_yml = tmp_path / "hosts.yml"
    hosts_yml.write_text(render("hosts.yml.j2", inventory_draft_discovered=result))
    assert list(load_as_host_vars(hosts_yml)["sql_servers"]["hosts"]) == [
        "sql1.corp.example.com", "sql7.corp.example.com"]
    for drafted in result["hosts"]:
        path = tmp_path / ("%s.yml" % drafted["fqdn"])
        path.write_text(render("host_vars.yml.j2", inventory_draft_host=drafted))
        loaded = load_as_host_vars(path)
        assert list(loaded) == ["sqlauth_instances"], path.read_text()
        assert loaded["sqlauth_instances"] == [
            dict(instance=i["instance"], port=i["port"], service_account=i["service_account"])
            for i in drafted["instances"] if i["enabled"]], path.read_text()
    assert instances(result, "sql1.corp.example.com")["MSSQLSERVER"]["service_account"] == "CORP\\" + sam_account_name
    assert not (tmp_path / "PWNED").exists()
