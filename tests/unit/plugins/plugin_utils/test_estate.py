# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate as the controller reads it from the inventory
(plugin_utils/_estate): one walk over the hosts' variables, and what every
filter and role derives from it. Pure."""

from __future__ import annotations

import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.filter import estate as estate_filter
from ansible_collections.sqlauth.kerberos.plugins.filter.estate import (
    FilterModule,
    encryption_types_accounts,
    rbkcd_links,
    sql_estate,
    unconstrained_delegation_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import (
    WINRM_CONNECTION_ARGUMENT_SPEC,
    WINRM_OPTION_GROUPS,
    with_environment,
)
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import (
    EstateError,
    delegation_targets,
    port_settings,
    read_estate,
    winrm_connection,
)

HOST = "sql1.corp.example.com"


WINDOWS_RESULT = dict(changed=False, instances=[dict(instance="MSSQLSERVER", changed=False)])
LINUX_RESULT = dict(changed=True, instances=[dict(instance="MSSQLSERVER", changed=True)])


def test_port_settings_defaults():
    assert port_settings({}, HOST) == dict(fqdn=HOST, platform="windows", managed=True, result=None)


def test_port_settings_fqdn_and_platform():
    variables = dict(sqlauth_host_fqdn="SQLLNX1.corp.example.com", sqlauth_platform="linux")
    settings = port_settings(variables, "lnx")
    # The FQDN is given as written; the drift report lowers it.
    assert (settings["fqdn"], settings["platform"]) == ("SQLLNX1.corp.example.com", "linux")
    # Empty values fall back to the inventory name and Windows.
    settings = port_settings(dict(sqlauth_host_fqdn="", sqlauth_platform=None), "sql1")
    assert (settings["fqdn"], settings["platform"]) == ("sql1", "windows")


@pytest.mark.parametrize("platform, result", [(None, WINDOWS_RESULT), ("windows", WINDOWS_RESULT),
                                              ("linux", LINUX_RESULT)])
def test_port_settings_read_the_result_registered_for_the_platform(platform, result):
    variables = dict(sql_static_port_windows_result=WINDOWS_RESULT, sql_static_port_linux_result=LINUX_RESULT)
    if platform:
        variables["sqlauth_platform"] = platform
    assert port_settings(variables, HOST)["result"] is result


def test_port_settings_ignore_the_other_platforms_result():
    variables = dict(sqlauth_platform="linux", sql_static_port_windows_result=WINDOWS_RESULT)
    assert port_settings(variables, HOST)["result"] is None
    assert port_settings(dict(sql_static_port_linux_result=LINUX_RESULT), HOST)["result"] is None


@pytest.mark.parametrize("managed, expected", [
    (True, True), (False, False), (1, True), (0, False),
    ("true", True), ("yes", True), ("on", True), ("1", True), ("Y", True), ("anything", True),
    ("false", False), ("False", False), ("no", False), (" NO ", False), ("off", False), ("0", False),
    ("n", False), ("f", False), ("", False), ("  ", False),
])
def test_port_settings_managed(managed, expected):
    variables = dict(sql_kerberos_manage_ports=managed, sql_static_port_windows_result=WINDOWS_RESULT)
    settings = port_settings(variables, HOST)
    assert settings["managed"] is expected
    # An unmanaged host's registered result is not read.
    assert settings["result"] is (WINDOWS_RESULT if expected else None)


@pytest.mark.parametrize("result", [None, "skipped", [], ["MSSQLSERVER"], 0])
def test_port_settings_result_that_is_not_a_dict_is_none(result):
    assert port_settings(dict(sql_static_port_windows_result=result), HOST)["result"] is None


# -- the estate: one walk over the inventory --------------------------------------

class CountingHostvars(dict):
    """hostvars that count how often each host's variables are read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads = {}

    def __getitem__(self, host):
        self.reads[host] = self.reads.get(host, 0) + 1
        return super().__getitem__(host)


# Every instance form: a default instance by default, by name and in lower
# case, a named instance with a static port, one with a dynamic port, one
# without TCP/IP, a listener, a Linux host, a host whose ports are not
# managed, a host named by its inventory name only, a host without instances.
ESTATE_HOSTVARS = {
    "sql1": dict(sqlauth_host_fqdn="sql1.corp.example.com", sqlauth_instances=[
        dict(service_account="CORP\\sqlsvc1", linked_servers=["sql2.corp.example.com\\SALES"]),
        dict(instance="SALES", port=1533, service_account="CORP\\sales", allow_spn_move=True),
        dict(instance="HR", port="dynamic", service_account="CORP\\hr"),
    ]),
    "sql2.corp.example.com": dict(sqlauth_instances=[
        dict(instance="mssqlserver", service_account="NT SERVICE\\MSSQLSERVER",
             listeners=[dict(name="ag1.corp.example.com", port=1433)]),
        dict(instance="SALES", port=1533, service_account="CORP\\sales2", allow_spn_move=True,
             linked_servers=["sql1.corp.example.com"]),
        dict(instance="PIPES", tcp_enabled=False, service_account="CORP\\pipes"),
    ]),
    "lnx1": dict(sqlauth_host_fqdn="lnx1.corp.example.com", sqlauth_platform="linux", sqlauth_instances=[
        dict(port=1533, service_account="CORP\\lnxsvc")]),
    "unmanaged": dict(sqlauth_host_fqdn="um.corp.example.com", sql_kerberos_manage_ports=False,
                      sqlauth_instances=[dict(instance="X", service_account="CORP\\x")]),
    "web1": dict(),
}


def test_the_estate_reads_each_host_once_and_derives_everything():
    hostvars = CountingHostvars(ESTATE_HOSTVARS)
    estate = read_estate(hostvars, list(hostvars))
    instances, links = estate.instances(), estate.links()
    assert hostvars.reads == {host: 1 for host in ESTATE_HOSTVARS}
    assert [(i["host"], i.get("instance")) for i in instances] == [
        ("sql1.corp.example.com", None), ("sql1.corp.example.com", "SALES"), ("sql1.corp.example.com", "HR"),
        ("sql2.corp.example.com", "mssqlserver"), ("sql2.corp.example.com", "SALES"),
        ("sql2.corp.example.com", "PIPES"), ("lnx1.corp.example.com", None), ("um.corp.example.com", "X")]
    # spn_facts takes the instance keys only: the estate's own keys stay out.
    assert not any("linked_servers" in i or "allow_spn_move" in i for i in instances)
    assert links == [dict(front="sql1.corp.example.com", back="sql2.corp.example.com\\SALES"),
                     dict(front="sql2.corp.example.com\\SALES", back="sql1.corp.example.com")]
    assert estate.moves_allowed() == ["sql1.corp.example.com\\SALES", "sql2.corp.example.com\\SALES"]
    # sql1's HR has a dynamic port, and the Linux host is pinned too.
    plan = estate.port_plan()
    assert plan["hosts"] == ["sql2.corp.example.com", "lnx1", "web1"]
    assert list(plan["problems"]) == ["sql1"] and "sql1.corp.example.com\\HR has no static port (port: dynamic)" \
        in plan["problems"]["sql1"][0]
    assert estate.port_checks()["um.corp.example.com"] == dict(managed=False, platform="windows", result=None)
    assert estate.port_checks()["lnx1.corp.example.com"]["platform"] == "linux"
    targets = delegation_targets(links, instances)
    assert [(t["account"], [p["account"] for p in t["principals"]], t["spns"]) for t in targets] == [
        ("CORP\\sqlsvc1", ["CORP\\sales2"], ["MSSQLSvc/sql1.corp.example.com:1433"]),
        ("CORP\\sales2", ["CORP\\sqlsvc1"], ["MSSQLSvc/sql2.corp.example.com:1533"])]


@pytest.mark.parametrize("variables, message", [
    (dict(sqlauth_instances="sql1"), "sqlauth_instances of h must be a list, got str"),
    (dict(sqlauth_instances=["sql1"]), "every item of sqlauth_instances of h needs a service_account"),
    (dict(sqlauth_instances=[dict(instance="A")]), "every item of sqlauth_instances of h needs a service_account"),
])
def test_the_estate_names_the_host_of_a_bad_inventory(variables, message):
    with pytest.raises(EstateError, match=message):
        read_estate({"h": variables}, ["h"]).instances()


def test_delegation_targets_name_unknown_ends():
    with pytest.raises(EstateError, match=r"nowhere.corp.example.com is not an instance of the inventory"):
        delegation_targets([dict(front="a.corp.example.com", back="nowhere.corp.example.com")],
                           [dict(host="a.corp.example.com", service_account="CORP\\a")])


def test_sql_estate_filter_is_the_estate_in_one_dict():
    hostvars = CountingHostvars(ESTATE_HOSTVARS)
    estate = sql_estate(hostvars, list(hostvars))
    assert hostvars.reads == {host: 1 for host in ESTATE_HOSTVARS}
    assert set(estate) == {"hosts", "instances", "links", "moves_allowed", "port_plan", "delegation_targets",
                           "callers"}
    assert estate["hosts"] == list(ESTATE_HOSTVARS) and len(estate["delegation_targets"]) == 2
    # Instances and links given replace the inventory's.
    given = sql_estate(hostvars, list(hostvars), [dict(host="a.corp.example.com", service_account="CORP\\a")], [])
    assert given["instances"] == [dict(host="a.corp.example.com", service_account="CORP\\a")]
    assert given["links"] == [] and given["delegation_targets"] == []
    with pytest.raises(AnsibleFilterError, match="must be a list, got str"):
        sql_estate(dict(h=dict(sqlauth_instances="x")), ["h"])
    assert FilterModule().filters() == {"sql_estate": sql_estate, "rbkcd_links": rbkcd_links,
                                        "unconstrained_delegation_accounts": unconstrained_delegation_accounts,
                                        "encryption_types_accounts": encryption_types_accounts,
                                        "winrm_connection": estate_filter.winrm_connection}


def audited(name, account, allowed=(), spns=()):
    """An instance report of spn_facts, as much of it as rbkcd_links reads."""
    return dict(name=name, service_account=dict(name=account, state=dict(allowed_to_delegate_to=list(allowed))),
                spns=[dict(spn=spn, form=form) for spn, form in spns])


def test_rbkcd_links_leave_out_classic_constrained_delegation():
    links = [dict(front="a.corp.example.com", back="b.corp.example.com"),
             dict(front="c.corp.example.com", back="b.corp.example.com")]
    audit = dict(instances=[
        audited("a.corp.example.com", "CORP\\a", allowed=["mssqlsvc/B.corp.example.com:1433"]),
        audited("c.corp.example.com", "CORP\\c", allowed=["MSSQLSvc/b:1433"]),  # a NetBIOS form: not what linked servers ask for
        audited("b.corp.example.com", "CORP\\b", spns=[("MSSQLSvc/b.corp.example.com:1433", "fqdn_port"),
                                                       ("MSSQLSvc/b:1433", "netbios_port")])])
    assert rbkcd_links(links, audit) == [links[1]]
    assert rbkcd_links(links, audit, True) == links
    # A sensitive front end can never delegate: no entry for it, classic or not.
    audit["instances"][1]["service_account"]["state"]["flags"] = ["not_delegated"]
    assert rbkcd_links(links, audit) == [] and rbkcd_links(links, audit, True) == [links[0]]
    with pytest.raises(AnsibleFilterError, match="needs the result of sqlauth.kerberos.spn_facts"):
        rbkcd_links(links, None)


def test_a_linked_server_may_name_its_callers():
    hostvars = {"a": dict(sqlauth_host_fqdn="a.corp.example.com", sqlauth_instances=[dict(
        service_account="CORP\\a", linked_servers=[
            "b.corp.example.com", dict(name="c.corp.example.com", callers=["CORP\\alice", "CORP\\Analysts"]),
            dict(name="d.corp.example.com", callers=["corp\\ALICE"])])])}
    estate = read_estate(hostvars, ["a"])
    assert estate.links() == [
        dict(front="a.corp.example.com", back="b.corp.example.com"),
        dict(front="a.corp.example.com", back="c.corp.example.com", callers=["CORP\\alice", "CORP\\Analysts"]),
        dict(front="a.corp.example.com", back="d.corp.example.com", callers=["corp\\ALICE"])]
    assert estate.callers() == ["CORP\\alice", "CORP\\Analysts"]


@pytest.mark.parametrize("item", [dict(name="b.corp.example.com", callers="CORP\\alice"),
                                  dict(name="", callers=[]), dict(back="b.corp.example.com"),
                                  dict(name="b.corp.example.com", callers=[""])])
def test_a_bad_linked_server_mapping_names_the_forms(item):
    hostvars = {"a": dict(sqlauth_host_fqdn="a.corp.example.com", sqlauth_instances=[dict(
        service_account="CORP\\a", linked_servers=[item])])}
    with pytest.raises(EstateError, match=r"or of \{name: instance, callers: \[users and groups\]\}"):
        read_estate(hostvars, ["a"]).links()


def test_unconstrained_delegation_accounts_leave_out_domain_controllers():
    def report(name, dn, *flags):
        return dict(service_account=dict(name=name, dn=dn, state=dict(flags=list(flags))))

    audit = dict(instances=[report("CORP\\SQL6$", "CN=SQL6", "trusted_for_delegation"),
                            report("CORP\\sql6$", "CN=SQL6", "trusted_for_delegation"),
                            report("CORP\\DC1$", "CN=DC1", "trusted_for_delegation", "domain_controller"),
                            report("CORP\\a", "CN=a", "trusted_to_auth_for_delegation"),
                            dict(service_account=dict(name="CORP\\old", dn="CN=old"))])
    assert unconstrained_delegation_accounts(audit) == ["CN=SQL6"]
    with pytest.raises(AnsibleFilterError, match="needs the result of sqlauth.kerberos.spn_facts"):
        unconstrained_delegation_accounts([])


def test_encryption_types_accounts_are_the_writable_ones_that_differ():
    def report(name, kind, value):
        state = dict(encryption_types=dict(value=value)) if kind else None
        return dict(service_account=dict(name=name, kind=kind, dn="CN=%s" % name, state=state))

    audit = dict(instances=[report("CORP\\b", "user", None), report("CORP\\a", "gmsa", 4),
                            report("CORP\\b", "user", None), report("CORP\\ok", "user", 24),
                            report("CORP\\SQL6$", "computer", None), report("CORP\\fast", "user", 0x10018)])
    assert encryption_types_accounts(audit) == ["CN=CORP\\a", "CN=CORP\\b"]
    # AES-only accounts are never given RC4 back.
    assert encryption_types_accounts(audit, "aes_rc4") == ["CN=CORP\\a", "CN=CORP\\b"]
    # A user whose AES keys may be missing is left to ENC003 for AES only, not for AES and RC4.
    for index in (0, 2):  # CORP\\b's two instances
        audit["instances"][index]["service_account"]["state"]["encryption_types"]["aes_keys_possibly_missing"] = True
    assert encryption_types_accounts(audit) == ["CN=CORP\\a"]
    assert encryption_types_accounts(audit, "aes_rc4") == ["CN=CORP\\a", "CN=CORP\\b"]
    with pytest.raises(AnsibleFilterError, match="encryption_types must be one of aes, aes_rc4"):
        encryption_types_accounts(audit, "rc4")
    with pytest.raises(AnsibleFilterError, match="needs the result of sqlauth.kerberos.spn_facts"):
        encryption_types_accounts({})


# -- the WinRM connection of a host: sqlauth_winrm > ansible_* > default ------

WINRM_HOST_VARIABLES = dict(
    ansible_connection="winrm", ansible_host="10.0.0.12", ansible_port=5986, ansible_user="CORP\\ansible",
    ansible_password="Inventory-pw", ansible_winrm_transport="ntlm", ansible_winrm_server_cert_validation="ignore",
    ansible_winrm_ca_trust_path="/etc/pki/corp-ca.pem", ansible_winrm_message_encryption="always",
)


def test_the_option_groups_cover_every_winrm_option_once():
    grouped = [option for group in WINRM_OPTION_GROUPS.values() for option in group]
    assert sorted(grouped + ["winrm_connection_timeout"]) == sorted(WINRM_CONNECTION_ARGUMENT_SPEC)


def test_winrm_connection_from_the_ansible_connection_variables():
    assert winrm_connection(WINRM_HOST_VARIABLES, {}, HOST) == dict(
        winrm_host="10.0.0.12", winrm_port=5986, winrm_scheme="https", winrm_transport="ntlm",
        winrm_username="CORP\\ansible", winrm_password="Inventory-pw", winrm_cert_validation="ignore",
        winrm_ca_cert="/etc/pki/corp-ca.pem", winrm_message_encryption="always")


def test_sqlauth_winrm_wins_over_the_ansible_connection_variables():
    """Group by group: sqlauth_winrm sets both here, so nothing comes from
    the variables (not their CA, port or message encryption)."""
    overrides = dict(winrm_host=HOST, winrm_username="CORP\\sqladmin", winrm_password="Override-pw",
                     winrm_transport="kerberos", winrm_cert_validation="validate", winrm_connection_timeout=60,
                     winrm_message_encryption=None)
    options = winrm_connection(WINRM_HOST_VARIABLES, overrides, "other.corp.example.com")
    assert options == dict(winrm_host=HOST, winrm_port=5986, winrm_scheme="https", winrm_transport="kerberos",
                           winrm_username="CORP\\sqladmin", winrm_password="Override-pw",
                           winrm_cert_validation="validate", winrm_connection_timeout=60)


def test_a_user_from_sqlauth_winrm_never_gets_the_inventorys_password():
    """The inventory's password is not sent for another account: a
    credential option in sqlauth_winrm takes the whole group from it."""
    options = winrm_connection(WINRM_HOST_VARIABLES, dict(winrm_username="CORP\\sqladmin"), HOST)
    assert {option: options[option] for option in WINRM_OPTION_GROUPS["credentials"] if option in options} == dict(
        winrm_username="CORP\\sqladmin")
    # The endpoint, which sqlauth_winrm does not touch, is still the inventory's.
    assert options["winrm_host"] == "10.0.0.12" and options["winrm_cert_validation"] == "ignore"


def test_another_host_from_sqlauth_winrm_gets_nothing_of_the_inventorys_connection():
    """Neither the inventory's account nor its cert_validation=ignore goes to
    a host sqlauth_winrm names: those are for the host Ansible connects to."""
    options = winrm_connection(WINRM_HOST_VARIABLES, dict(winrm_host="other.corp.example.com", winrm_scheme="https"),
                               HOST)
    assert options == dict(winrm_host="other.corp.example.com", winrm_scheme="https")


def test_the_inventorys_credentials_come_whole_or_not_at_all():
    """A password alone is still the group: the module then takes no
    SQLAUTH_WINRM_USERNAME to go with it (with_environment)."""
    variables = dict(ansible_connection="winrm", ansible_password="Inventory-pw")
    options = winrm_connection(variables, {}, HOST)
    assert {option: options[option] for option in WINRM_OPTION_GROUPS["credentials"] if option in options} == dict(
        winrm_password="Inventory-pw")
    assert with_environment(options, dict(SQLAUTH_WINRM_USERNAME="CORP\\env"))[0].get("winrm_username") is None


def test_winrm_connection_leaves_unset_groups_to_the_module():
    """A host not managed over WinRM that sets nothing: only the host, so
    that SQLAUTH_WINRM_* and the module's defaults apply."""
    assert winrm_connection({}, None, HOST) == dict(winrm_host=HOST)
    assert winrm_connection(dict(ansible_connection="ssh", ansible_port=22), {}, HOST) == dict(winrm_host=HOST)


@pytest.mark.parametrize("connection", ["winrm", "psrp", "ansible.builtin.winrm", "ansible.builtin.psrp"])
def test_a_winrm_host_without_scheme_or_port_gets_ansibles_https_on_5986(connection):
    """As Ansible's winrm and psrp connections: the host's endpoint is the one
    Ansible uses, so SQLAUTH_WINRM_* does not change it either."""
    assert winrm_connection(dict(ansible_connection=connection), {}, HOST) == dict(
        winrm_host=HOST, winrm_scheme="https", winrm_port=5986)
    options = winrm_connection(dict(ansible_connection=connection), dict(winrm_cert_validation="ignore"), HOST)
    assert (options["winrm_scheme"], options["winrm_port"]) == ("https", 5986)


def test_the_winrm_specific_variables_win_over_the_generic_ones_as_in_ansible():
    variables = dict(ansible_connection="ansible.builtin.winrm", ansible_host="a", ansible_winrm_host="b",
                     ansible_port=5985, ansible_winrm_port="15985", ansible_user="u1", ansible_winrm_user="u2",
                     ansible_password="p1", ansible_winrm_pass="p2", ansible_winrm_password="p3")
    assert winrm_connection(variables, {}, HOST) == dict(
        winrm_host="b", winrm_port=15985, winrm_scheme="https", winrm_username="u2", winrm_password="p3")


@pytest.mark.parametrize("variables, scheme", [
    (dict(ansible_port=5985), "http"),
    (dict(ansible_port="5985"), "http"),
    (dict(ansible_port=5986), "https"),
    (dict(ansible_port=5986, ansible_winrm_scheme="http"), "http"),
    (dict(ansible_winrm_scheme="https"), "https"),
])
def test_the_scheme_follows_an_inventory_port_as_in_ansible(variables, scheme):
    assert winrm_connection(dict(variables, ansible_connection="winrm"), {}, HOST)["winrm_scheme"] == scheme


def test_a_port_from_sqlauth_winrm_implies_no_scheme():
    """The module's own rule applies then (http unless winrm_scheme says)."""
    options = winrm_connection(dict(ansible_connection="winrm", ansible_port=5986), dict(winrm_port=15985), HOST)
    assert options["winrm_port"] == 15985 and "winrm_scheme" not in options


@pytest.mark.parametrize("connection", [None, "ssh", "local", "ansible.builtin.ssh"])
def test_generic_connection_variables_count_only_for_winrm_and_psrp(connection):
    """ansible_port 22 of an SSH-managed Windows host is no WinRM port."""
    variables = dict(ansible_connection=connection, ansible_host="10.0.0.12", ansible_port=22, ansible_user="admin",
                     ansible_password="ssh-pw", ansible_winrm_transport="kerberos")
    assert winrm_connection(variables, {}, HOST) == dict(winrm_host=HOST, winrm_transport="kerberos")


def test_psrp_hosts_share_the_generic_variables_but_not_their_own():
    variables = dict(ansible_connection="psrp", ansible_host="sql2.corp.example.com", ansible_port=5985,
                     ansible_user="CORP\\ansible", ansible_password="pw", ansible_psrp_auth="kerberos",
                     ansible_psrp_protocol="https", ansible_psrp_cert_validation="ignore")
    assert winrm_connection(variables, {}, HOST) == dict(
        winrm_host="sql2.corp.example.com", winrm_port=5985, winrm_scheme="http", winrm_username="CORP\\ansible",
        winrm_password="pw")


def test_certificate_transport_from_the_inventory():
    variables = dict(ansible_connection="winrm", ansible_winrm_transport="certificate",
                     ansible_winrm_cert_pem="/keys/ansible.pem", ansible_winrm_cert_key_pem="/keys/ansible.key")
    assert winrm_connection(variables, {}, HOST) == dict(
        winrm_host=HOST, winrm_scheme="https", winrm_port=5986, winrm_transport="certificate",
        winrm_cert_pem="/keys/ansible.pem", winrm_cert_key_pem="/keys/ansible.key")


@pytest.mark.parametrize("transport", [["kerberos"], "kerberos", " kerberos, "])
def test_one_transport_in_any_form_ansible_takes(transport):
    variables = dict(ansible_winrm_transport=transport)
    assert winrm_connection(variables, {}, HOST)["winrm_transport"] == "kerberos"


@pytest.mark.parametrize("variables, overrides, message", [
    (dict(ansible_winrm_transport=["kerberos", "ntlm"]), {},
     "ansible_winrm_transport of sql1.corp.example.com names kerberos, ntlm; sql_static_port connects with one "
     "transport: set sqlauth_winrm.winrm_transport"),
    (dict(ansible_winrm_transport="kerberos,ntlm"), {}, "names kerberos, ntlm"),
    (dict(ansible_connection="winrm", ansible_port="https"), {},
     "ansible_port of sql1.corp.example.com must be a TCP port number, got 'https'"),
    ({}, "winrm_transport=ntlm", "sqlauth_winrm of sql1.corp.example.com must be a dict of winrm_* options, got str"),
])
def test_bad_connection_variables_are_named(variables, overrides, message):
    with pytest.raises(EstateError, match=re.escape(message)):
        winrm_connection(variables, overrides, HOST)


def test_a_transport_list_is_fine_when_sqlauth_winrm_picks_one():
    variables = dict(ansible_winrm_transport=["kerberos", "ntlm"])
    assert winrm_connection(variables, dict(winrm_transport="ntlm"), HOST)["winrm_transport"] == "ntlm"


def test_the_winrm_connection_filter_names_the_problem():
    with pytest.raises(AnsibleFilterError, match="must be a TCP port number"):
        FilterModule().filters()["winrm_connection"](dict(ansible_connection="winrm", ansible_port="x"), {}, HOST)
