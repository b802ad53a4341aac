# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate's names as clients resolve them: which names are looked up,
what every combination of records means (the dns checks), which aliases
need SPNs, and the drift report's DNS findings with their commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._catalogue import finding_for
from ansible_collections.sqlauth.kerberos.plugins.module_utils._dns_lookup import DnsError, parse_server, server_label
from ansible_collections.sqlauth.kerberos.plugins.module_utils._dns_names import (
    aliases_without_spns,
    classify,
    estate_names,
    qualified_short_name,
    record_of,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import dns_checks, dns_checks_by_instance
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import prepare_audit
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import parse_instance

HOST = "sql1.corp.example.com"
LISTENER = "ag1.corp.example.com"
ALIAS = "sales-db.corp.example.com"


def instance(**options):
    full = dict(host=HOST, instance="MSSQLSERVER", port=1433, tcp_enabled=True, service_account="CORP\\sqlsvc1",
                listeners=[], extra_spns=[], aliases=[])
    full.update(options)
    return parse_instance(full)


def forward(addresses=(), chain=(), nxdomain=False, name=HOST):
    chain = list(chain)
    return dict(name=name, addresses=list(addresses), chain=chain, canonical=chain[-1] if chain else name,
                nxdomain=nxdomain, rcode="NOERROR")


def entry(role="host", name=HOST, leads_to=()):
    return dict(name=name, role=role, instances=[HOST], leads_to=list(leads_to))


def statuses(found):
    return [item["status"] for item in found]


# -- which names ----------------------------------------------------------------

def test_estate_names_hosts_listeners_aliases_once_each_in_inventory_order():
    first = instance(listeners=[dict(name=LISTENER, port=1433)], aliases=[ALIAS, "crm.corp.example.com"])
    second = instance(host="sql2.corp.example.com", listeners=[dict(name=LISTENER.upper(), port=1433)],
                      aliases=[ALIAS])
    names = estate_names([first, second])
    assert [(n["name"], n["role"]) for n in names] == [
        (HOST, "host"), (LISTENER, "listener"), (ALIAS, "alias"), ("crm.corp.example.com", "alias"),
        ("sql2.corp.example.com", "host")]
    by_name = {n["name"]: n for n in names}
    assert by_name[LISTENER]["instances"] == [HOST, "sql2.corp.example.com"]
    # An alias of two instances may lead to either's host or listener.
    assert by_name[ALIAS]["leads_to"] == [HOST, LISTENER, "sql2.corp.example.com"]
    assert by_name[HOST]["leads_to"] == []


def test_a_name_both_host_and_alias_is_a_host():
    names = estate_names([instance(aliases=["sql2.corp.example.com"]), instance(host="sql2.corp.example.com")])
    assert [(n["name"], n["role"], n["leads_to"]) for n in names] == [
        (HOST, "host", []), ("sql2.corp.example.com", "host", [])]


def test_short_name_under_the_domain_suffix():
    assert qualified_short_name(HOST, "corp.example.com") is None
    assert qualified_short_name("sql1.dmz.example.com", "CORP.example.com.") == "sql1.corp.example.com"
    assert qualified_short_name(HOST, None) is None


# -- every record combination -----------------------------------------------------

def test_host_with_address_and_matching_ptr_is_ok():
    found = classify(entry(), forward(["10.0.0.1"]), {"10.0.0.1": dict(names=[HOST.upper() + "."])})
    assert found == []
    assert record_of(forward(["10.0.0.1"])) == "address"


@pytest.mark.parametrize("lookup, nxdomain", [(forward(nxdomain=True), True), (forward(), False),
                                              (forward(chain=["gone.corp.example.com"], nxdomain=True), True)])
def test_no_address_is_unresolved(lookup, nxdomain):
    found = classify(entry(), lookup, {})
    assert statuses(found) == ["unresolved"]
    assert found[0]["nxdomain"] is nxdomain
    assert record_of(lookup) == "none"


def test_ptr_missing_or_naming_another_host():
    found = classify(entry(), forward(["10.0.0.1", "10.0.1.1"]),
                     {"10.0.0.1": dict(names=["sql9.corp.example.com"]), "10.0.1.1": dict(names=[])})
    assert statuses(found) == ["several_addresses", "ptr_mismatch"]
    wrong = found[1]["addresses"]
    assert [(w["address"], w["names"], w["pointer"]) for w in wrong] == [
        ("10.0.0.1", ["sql9.corp.example.com"], "1.0.0.10.in-addr.arpa"), ("10.0.1.1", [], "1.1.0.10.in-addr.arpa")]


def test_a_ptr_the_server_could_not_give_is_unknown_not_wrong():
    """SERVFAIL on the reverse lookup (pointers None): no ptr_mismatch."""
    assert classify(entry(), forward(["10.0.0.1"]), {"10.0.0.1": dict(names=None)}) == []


def test_listener_with_two_addresses_each_with_its_ptr():
    found = classify(entry("listener", LISTENER), forward(["10.0.0.9", "10.0.1.9"], name=LISTENER),
                     {"10.0.0.9": dict(names=[LISTENER]), "10.0.1.9": dict(names=[LISTENER])})
    assert statuses(found) == ["several_addresses"]
    assert found[0]["addresses"] == ["10.0.0.9", "10.0.1.9"]


def test_host_that_is_a_cname_leads_elsewhere():
    found = classify(entry(), forward(["10.0.0.2"], chain=["sql2.corp.example.com"]),
                     {"10.0.0.2": dict(names=["sql2.corp.example.com"])})
    assert statuses(found) == ["name_elsewhere"]
    assert "clients build the SPNs for sql2.corp.example.com" in found[0]["reason"]


def test_alias_by_cname_to_its_host():
    found = classify(entry("alias", ALIAS, [HOST]), forward(["10.0.0.1"], chain=[HOST], name=ALIAS), {})
    assert found == [dict(status="alias_cname", canonical=HOST)]


def test_alias_by_cname_to_another_host():
    found = classify(entry("alias", ALIAS, [HOST, LISTENER]),
                     forward(["10.0.0.2"], chain=["sql2.corp.example.com"], name=ALIAS), {})
    assert statuses(found) == ["name_elsewhere"]
    assert "not of %s or %s" % (HOST, LISTENER) in found[0]["reason"]


def test_alias_by_address_record_sharing_its_host_address():
    lookups = {HOST: forward(["10.0.0.1"])}
    found = classify(entry("alias", ALIAS, [HOST]), forward(["10.0.0.1"], name=ALIAS), {},
                     forward_of=lookups.get)
    assert found == [dict(status="alias_address", addresses=["10.0.0.1"])]


def test_alias_by_address_record_of_another_address():
    lookups = {HOST: forward(["10.0.0.1"])}
    found = classify(entry("alias", ALIAS, [HOST]), forward(["10.0.0.7"], name=ALIAS), {}, forward_of=lookups.get)
    assert statuses(found) == ["name_elsewhere"]


def test_alias_by_address_record_when_its_host_does_not_resolve():
    """Nothing to compare with: the alias keeps its name (the host's own
    finding is DNS001)."""
    found = classify(entry("alias", ALIAS, [HOST]), forward(["10.0.0.7"], name=ALIAS), {},
                     forward_of={HOST: forward()}.get)
    assert statuses(found) == ["alias_address"]


def test_short_name_resolving_elsewhere_or_not_at_all():
    short = dict(forward(["10.0.0.5"], name="sql1.corp.example.com"), name="sql1.corp.example.com")
    found = classify(entry(name="sql1.dmz.example.com"), forward(["10.0.0.1"], name="sql1.dmz.example.com"),
                     {"10.0.0.1": dict(names=["sql1.dmz.example.com"])}, short=short)
    assert statuses(found) == ["short_name_mismatch"]
    assert found[0]["short_addresses"] == ["10.0.0.5"]
    unresolved = dict(forward(name="sql1.corp.example.com"), name="sql1.corp.example.com")
    assert statuses(classify(entry(name="sql1.dmz.example.com"), forward(["10.0.0.1"], name="sql1.dmz.example.com"),
                             {"10.0.0.1": dict(names=["sql1.dmz.example.com"])}, short=unresolved)) == [
        "short_name_mismatch"]


def test_dns_host_name_of_the_computer_account():
    ptrs = {"10.0.0.1": dict(names=[HOST])}
    same = dict(dn="CN=SQL1,CN=Computers,DC=corp", dns_host_name=HOST.upper())
    assert classify(entry(), forward(["10.0.0.1"]), ptrs, computer=same) == []
    other = dict(dn="CN=SQL1,CN=Computers,DC=corp", dns_host_name="sql1.old.example.com")
    assert statuses(classify(entry(), forward(["10.0.0.1"]), ptrs, computer=other)) == ["host_name_mismatch"]
    assert classify(entry(), forward(["10.0.0.1"]), ptrs, computer=dict(dn="CN=X", dns_host_name=None)) == []


# -- which aliases need SPNs --------------------------------------------------------

def test_aliases_without_spns_are_cnames_those_leading_elsewhere_and_the_unresolved():
    names = [dict(name=HOST, role="host", statuses=[dict(status="unresolved")]),
             dict(name="A.corp.example.com", role="alias", statuses=[dict(status="alias_address")]),
             dict(name="C.corp.example.com", role="alias", statuses=[dict(status="alias_cname")]),
             dict(name="e.corp.example.com", role="alias", statuses=[dict(status="name_elsewhere")]),
             dict(name="u.corp.example.com", role="alias", statuses=[dict(status="unresolved")])]
    assert aliases_without_spns(names) == {"c.corp.example.com", "e.corp.example.com", "u.corp.example.com"}


def test_required_spns_follow_dns():
    options = dict(host=HOST, instance="SALES", port=1533, service_account="CORP\\sqlsvc1",
                   aliases=["a.corp.example.com", "c.corp.example.com"])
    with_dns = parse_instance(options, {"c.corp.example.com"})
    assert [(r.spn, r.form) for r in with_dns.required_spns() if "a.corp" in r.spn or r.spn.startswith(
        "MSSQLSvc/a:")] == [
        ("MSSQLSvc/a.corp.example.com:1533", "alias_fqdn_port"), ("MSSQLSvc/a.corp.example.com:SALES",
                                                                  "alias_fqdn_instance"),
        ("MSSQLSvc/a:1533", "alias_netbios_port"), ("MSSQLSvc/a:SALES", "alias_netbios_instance")]
    assert not [r for r in with_dns.required_spns() if "/c." in r.spn or r.spn.startswith("MSSQLSvc/c:")]
    # The forms chosen apply to aliases too.
    assert [r.spn for r in with_dns.required_spns(["fqdn_port"])] == [
        "MSSQLSvc/%s:1533" % HOST, "MSSQLSvc/a.corp.example.com:1533"]
    # Without DNS results, every alias needs its SPNs.
    without = parse_instance(options)
    assert "MSSQLSvc/c.corp.example.com:1533" in [r.spn for r in without.required_spns()]


def test_prepare_audit_takes_dns_results():
    aliases = ["a.corp.example.com", "c.corp.example.com"]
    options = [dict(host=HOST, service_account="CORP\\sqlsvc1", aliases=aliases)]
    names = [dict(name="a.corp.example.com", role="alias", statuses=[dict(status="alias_address")]),
             dict(name="c.corp.example.com", role="alias", statuses=[dict(status="alias_cname")])]
    (sql, _reference), = prepare_audit(options, names)
    assert sql.alias_spn_names == ["a.corp.example.com"]
    (sql, _reference), = prepare_audit(options, [])
    assert sql.alias_spn_names == ["a.corp.example.com", "c.corp.example.com"]
    # An alias the results do not cover (an older run) keeps its SPNs.
    (sql, _reference), = prepare_audit(options, names[1:])
    assert sql.alias_spn_names == ["a.corp.example.com"]
    (sql, _reference), = prepare_audit(options, names[:1])
    assert sql.alias_spn_names == ["a.corp.example.com", "c.corp.example.com"]


@pytest.mark.parametrize("alias, message", [("sales", "must be the fully qualified DNS name"),
                                            ("bad name.corp", "alias")])
def test_bad_alias_names_the_instance(alias, message):
    with pytest.raises(SpnError, match=r"instance %s: .*%s" % (HOST.replace(".", r"\."), message)):
        parse_instance(dict(host=HOST, service_account="CORP\\sqlsvc1", aliases=[alias]))


def test_an_alias_equal_to_the_host_or_repeated_is_kept_once():
    sql = parse_instance(dict(host=HOST, service_account="x", aliases=[HOST.upper(), ALIAS, ALIAS.upper()]))
    assert sql.aliases == [ALIAS]


# -- DNS servers --------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [("10.0.0.53", ("10.0.0.53", 53)), ("10.0.0.53:5353", ("10.0.0.53", 5353)),
                                            ("[fd00::53]:5353", ("fd00::53", 5353)), ("fd00::53", ("fd00::53", 53))])
def test_dns_servers(text, expected):
    assert parse_server(text) == expected
    assert parse_server(server_label(expected)) == expected


@pytest.mark.parametrize("text", ["dc1.corp.example.com", "10.0.0.1:0", "10.0.0.1:x", ""])
def test_bad_dns_server_is_named(text):
    with pytest.raises(DnsError, match="dns_servers item %r" % text):
        parse_server(text)


# -- the drift report's findings ---------------------------------------------------

def name_row(name, role, statuses_found, record="address", addresses=(), leads_to=(), instances=(HOST,)):
    return dict(name=name, role=role, record=record, canonical=name, instances=list(instances),
                leads_to=list(leads_to), rcode="NOERROR",
                addresses=[dict(address=a, ptr=[name]) for a in addresses], statuses=statuses_found)


def test_every_status_is_a_catalogue_finding_with_fix():
    rows = [
        name_row(HOST, "host", []),
        name_row("gone.corp.example.com", "host", [dict(status="unresolved", nxdomain=True, chain=[])], "none"),
        name_row("c.corp.example.com", "alias", [dict(status="alias_cname", canonical=HOST)], "cname"),
        name_row("a.corp.example.com", "alias", [dict(status="alias_address", addresses=["10.0.0.1"])],
                 leads_to=[HOST]),
        name_row(LISTENER, "listener", [dict(status="several_addresses", addresses=["10.0.0.9", "10.0.1.9"])],
                 addresses=["10.0.0.9", "10.0.1.9"]),
        name_row("sql8.corp.example.com", "host", [dict(status="ptr_mismatch", canonical="sql8.corp.example.com",
                                                        addresses=[dict(address="10.0.0.8", names=[
                                                            "sql9.corp.example.com"], zone="0.0.10.in-addr.arpa",
                                                            pointer="8.0.0.10.in-addr.arpa")])]),
        name_row("sqlold.corp.example.com", "host", [dict(status="host_name_mismatch", computer="CN=SQLOLD",
                                                          dns_host_name="sqlold.legacy.example.com")]),
        name_row("sql1.dmz.example.com", "host", [dict(status="short_name_mismatch", short_name=HOST,
                                                       short_addresses=[], addresses=["10.0.0.1"])]),
        name_row("old.corp.example.com", "alias", [dict(status="name_elsewhere", canonical="sql2.corp.example.com",
                                                        reason="old is a CNAME of sql2")], "cname",
                 leads_to=[HOST]),
    ]
    checks = [check for row in rows for check in dns_checks(row, "corp.example.com")]
    assert [c["status"] for c in checks] == ["ok", "unresolved", "alias_cname", "alias_address", "several_addresses",
                                             "ptr_mismatch", "host_name_mismatch", "short_name_mismatch",
                                             "name_elsewhere"]
    for check in checks[1:]:
        assert finding_for("dns", check["status"]) is not None
        assert check["result"] == "drift" and check["fix"]
    by_status = {c["status"]: c for c in checks}
    assert by_status["ptr_mismatch"]["commands"] == [
        "Remove-DnsServerResourceRecord -ZoneName '0.0.10.in-addr.arpa' -Name '8' -RRType Ptr -RecordData "
        "'sql9.corp.example.com.' -Force",
        "Add-DnsServerResourceRecordPtr -ZoneName '0.0.10.in-addr.arpa' -Name '8' -PtrDomainName "
        "'sql8.corp.example.com.'"]
    assert by_status["unresolved"]["commands"][1].startswith(
        "# Add-DnsServerResourceRecordA -ZoneName 'corp.example.com' -Name 'gone'")
    assert by_status["name_elsewhere"]["commands"][-1] == (
        "Add-DnsServerResourceRecordCName -ZoneName 'corp.example.com' -Name 'old' -HostNameAlias '%s.'" % HOST)
    assert "10.0.0.9 (PTR %s), 10.0.1.9 (PTR %s)" % (LISTENER, LISTENER) in by_status["several_addresses"]["detail"]


def test_ptr_fix_creates_the_reverse_zone_when_none_holds_it():
    row = name_row(HOST, "host", [dict(status="ptr_mismatch", canonical=HOST, addresses=[dict(
        address="10.1.2.3", names=[], zone=None, pointer="3.2.1.10.in-addr.arpa")])])
    (check,) = dns_checks(row)
    assert check["commands"] == ["Add-DnsServerPrimaryZone -NetworkId '10.1.2.0/24' -ReplicationScope 'Domain'",
                                 "Add-DnsServerResourceRecordPtr -ZoneName '2.1.10.in-addr.arpa' -Name '3' "
                                 "-PtrDomainName '%s.'" % HOST]
    assert "10.1.2.3's PTR is missing" in check["detail"]


def test_ptr_fix_names_the_record_relative_to_the_zone_however_written():
    row = name_row(HOST, "host", [dict(status="ptr_mismatch", canonical=HOST, addresses=[dict(
        address="10.0.0.5", names=[], zone="0.0.10.IN-ADDR.ARPA", pointer="5.0.0.10.in-addr.arpa")])])
    (check,) = dns_checks(row)
    assert check["commands"] == ["Add-DnsServerResourceRecordPtr -ZoneName '0.0.10.IN-ADDR.ARPA' -Name '5' "
                                 "-PtrDomainName '%s.'" % HOST]


def test_each_name_is_checked_with_the_first_instance_using_it():
    dns = dict(domain="corp.example.com", names=[
        name_row(LISTENER, "listener", [], instances=["sql2.corp.example.com\\SALES", HOST])])
    by_instance = dns_checks_by_instance(dns)
    assert list(by_instance) == [("sql2.corp.example.com", "SALES")]
    assert dns_checks_by_instance(None) == {}


def test_the_dns_commands_parse_with_a_powershell_grammar():
    pytest.importorskip("tree_sitter_powershell")
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tests" / "lab"))
    from powershell_grammar import syntax_problems
    wrong_ptr = dict(status="ptr_mismatch", canonical="sql8.corp.example.com", addresses=[
        dict(address="10.0.0.8", names=["sql9.corp.example.com"], zone=None, pointer="8.0.0.10.in-addr.arpa")])
    rows = [
        name_row("sql8.corp.example.com", "host", [wrong_ptr]),
        name_row("old.corp.example.com", "alias", [dict(status="name_elsewhere", canonical="x", reason="r")],
                 "cname", leads_to=[HOST]),
        name_row("gone.corp.example.com", "host", [dict(status="unresolved", nxdomain=True, chain=[])], "none"),
    ]
    script = "\n".join(line for row in rows for check in dns_checks(row, "corp.example.com")
                       for line in check["commands"])
    assert "Add-DnsServerResourceRecordPtr" in script
    assert syntax_problems(script) == []
