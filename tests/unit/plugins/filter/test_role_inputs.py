# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters that turn the inventory and spn_facts' result into spn_acl
and spn_register input: which accounts get the ACL, which SPNs to register,
and which moves the inventory does not allow."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.filter.role_inputs import (
    FilterModule,
    spn_acl_targets,
    spn_registrations,
)
from ansible_collections.sqlauth.kerberos.plugins.filter.sql_instances import sql_instances
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import Account
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import spn_key
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import (
    build_plan,
    flag_conflicts,
    instance_report,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import parse_instance

SQL01 = "sql01.corp.example.com"
SPN_PORT = "MSSQLSvc/sql01.corp.example.com:1433"
SPN_NAME = "MSSQLSvc/sql01.corp.example.com"
SPN_SALES = "MSSQLSvc/sql01.corp.example.com:SALES"


def test_the_filters_are_registered_by_name():
    assert FilterModule().filters() == {"spn_acl_targets": spn_acl_targets, "spn_registrations": spn_registrations}


# -- spn_acl_targets ---------------------------------------------------------------

def sql(service_account, host=SQL01, **options):
    return dict(host=host, service_account=service_account, **options)


def test_one_target_per_account_named_in_any_case():
    targets = spn_acl_targets([
        sql("CORP\\sqlsvc"),
        sql("corp\\SQLSVC", instance="SALES"),
        sql("CORP\\gmsa-sql02$", host="sql02.corp.example.com"),
        sql("CORP\\sqlsvc", host="sql03.corp.example.com"),
    ])
    assert targets == [dict(account="CORP\\sqlsvc", state="present"), dict(account="CORP\\gmsa-sql02$", state="present")]


def test_the_state_is_passed_on():
    assert spn_acl_targets([sql("CORP\\sqlsvc")], state="absent") == [dict(account="CORP\\sqlsvc", state="absent")]


COMPUTER_IDENTITIES = ["LocalSystem", "NT AUTHORITY\\SYSTEM", "NT SERVICE\\MSSQLSERVER", "NT SERVICE\\MSSQL$SALES",
                       "NETWORK SERVICE", "NT AUTHORITY\\NETWORK SERVICE"]


@pytest.mark.parametrize("identity", COMPUTER_IDENTITIES)
def test_identities_of_the_computer_account_are_left_out(identity):
    assert spn_acl_targets([sql(identity), sql("CORP\\sqlsvc")]) == [dict(account="CORP\\sqlsvc", state="present")]


@pytest.mark.parametrize("identity", COMPUTER_IDENTITIES)
def test_identities_of_the_computer_account_name_it_when_asked_for(identity):
    assert spn_acl_targets([sql(identity, host="sql6.corp.example.com")], include_computer_accounts=True) == [
        dict(account="SQL6$", state="present"),
    ]


def test_computer_accounts_count_once_per_host():
    targets = spn_acl_targets([
        sql("LocalSystem", host="sql6.corp.example.com"),
        sql("NT SERVICE\\MSSQL$SALES", host="SQL6.corp.example.com", instance="SALES"),
        sql("NETWORK SERVICE", host="sql7.corp.example.com"),
        sql("CORP\\sqlsvc", host="sql7.corp.example.com", instance="HR"),
    ], True, "absent")
    assert targets == [dict(account="SQL6$", state="absent"), dict(account="SQL7$", state="absent"),
                       dict(account="CORP\\sqlsvc", state="absent")]


@pytest.mark.parametrize("identity", ["LocalService", "NT AUTHORITY\\LOCAL SERVICE"])
def test_local_service_cannot_use_kerberos(identity):
    with pytest.raises(AnsibleFilterError, match="anonymous credentials"):
        spn_acl_targets([sql(identity)], include_computer_accounts=True)


def test_a_computer_identity_without_a_host_is_an_error():
    with pytest.raises(AnsibleFilterError, match="the host's FQDN is needed"):
        spn_acl_targets([dict(service_account="LocalSystem")])


def test_no_instances_no_targets():
    assert spn_acl_targets([]) == []


# -- spn_registrations ----------------------------------------------------------

def step(action, spn, account="CORP\\sqlsvc", instances=(SQL01,), remove_from=("CORP\\oldsvc",)):
    """A plan step as spn_facts writes it."""
    result = dict(action=action, spn=spn, account=account, instances=list(instances), module="spn_register",
                  description="%s %s" % (action, spn))
    if action in ("move_spn", "remove_duplicate_spn"):
        result["remove_from"] = list(remove_from)
    return result


def host(*instances, fqdn=None):
    variables = dict(sqlauth_instances=list(instances))
    if fqdn:
        variables["sqlauth_host_fqdn"] = fqdn
    return variables


def allowed(instance=None, **options):
    item = dict(service_account="CORP\\sqlsvc", allow_spn_move=True, **options)
    if instance is not None:
        item["instance"] = instance
    return item


def test_missing_spns_are_registered_without_move():
    audit = dict(plan=[step("add_spn", SPN_PORT), step("add_spn", SPN_NAME)])
    assert spn_registrations(audit, {SQL01: host()}, [SQL01]) == dict(
        registrations=[dict(account="CORP\\sqlsvc", spns=[SPN_PORT, SPN_NAME], move=False)], blocked=[])


@pytest.mark.parametrize("action", ["move_spn", "remove_duplicate_spn"])
def test_a_move_the_instance_allows_is_registered_with_move(action):
    audit = dict(plan=[step(action, SPN_PORT)])
    assert spn_registrations(audit, {SQL01: host(allowed())}, [SQL01]) == dict(
        registrations=[dict(account="CORP\\sqlsvc", spns=[SPN_PORT], move=True)], blocked=[])


@pytest.mark.parametrize("action", ["move_spn", "remove_duplicate_spn"])
def test_a_move_the_inventory_does_not_allow_is_blocked_with_the_reason(action):
    audit = dict(plan=[step(action, SPN_PORT, remove_from=["CORP\\oldsvc", "CORP\\SQL01$"]), step("add_spn", SPN_NAME)])
    result = spn_registrations(audit, {SQL01: host(dict(service_account="CORP\\sqlsvc"))}, [SQL01])
    assert result == dict(
        registrations=[dict(account="CORP\\sqlsvc", spns=[SPN_NAME], move=False)],
        blocked=["MSSQLSvc/sql01.corp.example.com:1433 is held by CORP\\oldsvc, CORP\\SQL01$ but sql01.corp.example.com "
                 "needs it on CORP\\sqlsvc: allow the move with allow_spn_move: true on sql01.corp.example.com in the "
                 "inventory"])


@pytest.mark.parametrize("inventory_name, variables, step_instance", [
    # The default instance is named by the host alone.
    (SQL01, host(allowed()), SQL01),
    (SQL01, host(allowed("MSSQLSERVER")), SQL01),
    (SQL01, host(allowed("mssqlserver")), SQL01),
    (SQL01, host(allowed(None)), SQL01),
    ("SQL01.Corp.Example.com", host(allowed()), SQL01),
    # The inventory name is no FQDN: sqlauth_host_fqdn is.
    ("sql01", host(allowed(), fqdn=SQL01), SQL01),
    ("sql01", host(allowed(), fqdn="SQL01.CORP.EXAMPLE.COM"), SQL01),
    # Named instances, their name in any case.
    (SQL01, host(allowed("SALES")), SQL01 + "\\SALES"),
    (SQL01, host(allowed("sales")), SQL01 + "\\SALES"),
    ("sql01", host(allowed("Sales"), fqdn=SQL01), SQL01 + "\\SALES"),
])
def test_where_allow_spn_move_is_found(inventory_name, variables, step_instance):
    audit = dict(plan=[step("move_spn", SPN_SALES, instances=[step_instance])])
    result = spn_registrations(audit, {inventory_name: variables}, [inventory_name])
    assert result == dict(registrations=[dict(account="CORP\\sqlsvc", spns=[SPN_SALES], move=True)], blocked=[])


@pytest.mark.parametrize("inventory_name, variables, step_instance", [
    (SQL01, host(dict(service_account="CORP\\sqlsvc")), SQL01),
    (SQL01, host(dict(service_account="CORP\\sqlsvc", allow_spn_move=False)), SQL01),
    (SQL01, host(), SQL01),
    (SQL01, dict(), SQL01),
    # Allowed on another instance of the host, or on the same name on another host.
    (SQL01, host(allowed("SALES")), SQL01),
    (SQL01, host(allowed()), SQL01 + "\\SALES"),
    ("sql02.corp.example.com", host(allowed("SALES")), SQL01 + "\\SALES"),
    # The inventory name alone does not name the FQDN the audit uses.
    ("sql01", host(allowed()), SQL01),
])
def test_where_a_move_is_not_allowed(inventory_name, variables, step_instance):
    audit = dict(plan=[step("move_spn", SPN_SALES, instances=[step_instance])])
    result = spn_registrations(audit, {inventory_name: variables}, [inventory_name])
    assert result["registrations"] == []
    assert len(result["blocked"]) == 1
    assert result["blocked"][0].endswith("on %s in the inventory" % step_instance)


def test_only_the_hosts_given_are_read():
    hostvars = {SQL01: host(allowed())}
    audit = dict(plan=[step("move_spn", SPN_PORT)])
    assert spn_registrations(audit, hostvars, [])["registrations"] == []
    assert spn_registrations(audit, hostvars, [SQL01])["registrations"] != []


def test_allow_move_allows_every_instance_of_the_inventory():
    hostvars = {"sql01": host(dict(service_account="CORP\\sqlsvc"), dict(service_account="CORP\\sqlsvc", instance="SALES"),
                              fqdn=SQL01)}
    audit = dict(plan=[step("move_spn", SPN_PORT), step("remove_duplicate_spn", SPN_SALES, instances=[SQL01 + "\\SALES"])])
    assert spn_registrations(audit, hostvars, ["sql01"], allow_move=True) == dict(
        registrations=[dict(account="CORP\\sqlsvc", spns=[SPN_PORT, SPN_SALES], move=True)], blocked=[])


def test_a_step_for_several_instances_names_those_not_allowed():
    hostvars = {"node1.corp.example.com": host(allowed()),
                "node2.corp.example.com": host(dict(service_account="CORP\\sqlsvc")),
                "node3.corp.example.com": host(dict(service_account="CORP\\sqlsvc"))}
    listener = "MSSQLSvc/ag1.corp.example.com:1433"
    audit = dict(plan=[step("move_spn", listener, instances=sorted(hostvars))])
    assert spn_registrations(audit, hostvars, list(hostvars)) == dict(registrations=[], blocked=[
        "MSSQLSvc/ag1.corp.example.com:1433 is held by CORP\\oldsvc but node1.corp.example.com, node2.corp.example.com, "
        "node3.corp.example.com needs it on CORP\\sqlsvc: allow the move with allow_spn_move: true on "
        "node2.corp.example.com, node3.corp.example.com in the inventory"])


@pytest.mark.parametrize("action", ["set_static_port", "enable_tcp", "grant_spn_write_acl", "something_new"])
def test_steps_for_other_modules_are_ignored(action):
    audit = dict(plan=[dict(action=action, instances=[SQL01], account="CORP\\sqlsvc", description="...")])
    assert spn_registrations(audit, {SQL01: host()}, [SQL01]) == dict(registrations=[], blocked=[])


def test_registrations_are_grouped_per_account_and_move():
    hostvars = {SQL01: host(allowed())}
    audit = dict(plan=[
        step("add_spn", SPN_NAME),
        step("move_spn", SPN_PORT),
        step("add_spn", "MSSQLSvc/sql01:1433", account="corp\\SQLSVC"),
        step("add_spn", "MSSQLSvc/sql02.corp.example.com:1433", account="CORP\\sqlsvc2", instances=["sql02.corp.example.com"]),
        step("remove_duplicate_spn", "MSSQLSvc/sql01", account="CORP\\SQLSVC"),
    ])
    assert spn_registrations(audit, hostvars, [SQL01])["registrations"] == [
        dict(account="CORP\\sqlsvc", spns=[SPN_NAME, "MSSQLSvc/sql01:1433"], move=False),
        dict(account="CORP\\sqlsvc", spns=[SPN_PORT, "MSSQLSvc/sql01"], move=True),
        dict(account="CORP\\sqlsvc2", spns=["MSSQLSvc/sql02.corp.example.com:1433"], move=False),
    ]


def report_with_conflicts(name, account, conflicts):
    """An instance of spn_facts' result whose SPNs flag_conflicts marked."""
    rows = [dict(spn=spn, status="ok", holders=[], conflict=others) for spn, others in conflicts.items()]
    rows.append(dict(spn="MSSQLSvc/%s" % name, status="ok", holders=[]))
    return dict(name=name, service_account=dict(name=account), spns=rows)


def test_spns_two_instances_need_on_different_accounts_are_blocked():
    listener = "MSSQLSvc/ag1.corp.example.com:1433"
    audit = dict(plan=[], instances=[
        report_with_conflicts("node1.corp.example.com", "CORP\\sqlsvc1", {listener: ["node2.corp.example.com"]}),
        report_with_conflicts("node2.corp.example.com", "CORP\\sqlsvc2", {listener: ["node1.corp.example.com"],
                                                                          "MSSQLSvc/ag1:1433": []}),
    ])
    assert spn_registrations(audit, {}, []) == dict(registrations=[], blocked=[
        "MSSQLSvc/ag1.corp.example.com:1433 is needed on CORP\\sqlsvc1 for node1.corp.example.com and on another "
        "account for node2.corp.example.com: an SPN can be on one account only (run those instances under one "
        "service account)",
        "MSSQLSvc/ag1.corp.example.com:1433 is needed on CORP\\sqlsvc2 for node2.corp.example.com and on another "
        "account for node1.corp.example.com: an SPN can be on one account only (run those instances under one "
        "service account)",
    ])


def test_the_same_reason_is_given_once_and_reasons_are_sorted():
    audit = dict(plan=[step("move_spn", SPN_PORT), step("move_spn", SPN_PORT), step("move_spn", SPN_NAME)])
    blocked = spn_registrations(audit, {SQL01: host()}, [SQL01])["blocked"]
    assert blocked == sorted(blocked)
    assert [reason.split(" ")[0] for reason in blocked] == [SPN_NAME, SPN_PORT]


def test_an_empty_audit_needs_nothing():
    assert spn_registrations({}, {}, []) == dict(registrations=[], blocked=[])
    assert spn_registrations(dict(plan=[], instances=[]), {SQL01: host()}, [SQL01]) == dict(registrations=[], blocked=[])


def test_spn_registrations_from_a_real_audit_of_the_inventory():
    """The inventory through sql_instances, spn_facts' report and plan, then this filter."""
    hostvars = {"sql01": dict(sqlauth_host_fqdn="SQL01.corp.example.com", sqlauth_instances=[
        dict(service_account="CORP\\sqlsvc", port=1433),
        dict(instance="Sales", port=1533, service_account="CORP\\sqlsvc", allow_spn_move=True),
    ])}
    sqlsvc = Account(dn="CN=sqlsvc,OU=SQL,DC=corp,DC=example,DC=com", sid="S-1-5-21-1-2-3-1105",
                     sam_account_name="sqlsvc", domain_netbios="CORP", object_classes=["top", "user"])
    oldsvc = Account(dn="CN=oldsvc,OU=SQL,DC=corp,DC=example,DC=com", sid="S-1-5-21-1-2-3-1107",
                     sam_account_name="oldsvc", domain_netbios="CORP", object_classes=["top", "user"])
    held = {spn_key(spn): [oldsvc] for spn in (SPN_PORT, "MSSQLSvc/sql01.corp.example.com:1533", "MSSQLSvc/sql01:1533")}
    instances = [parse_instance(options) for options in sql_instances(hostvars, ["sql01"])]
    reports = [instance_report(instance, instance.service_account, sqlsvc, instance.required_spns(), held, True)
               for instance in instances]
    flag_conflicts(reports)
    audit = dict(instances=reports, plan=build_plan(reports))

    assert spn_registrations(audit, hostvars, ["sql01"]) == dict(
        registrations=[
            dict(account="CORP\\sqlsvc", move=False, spns=[
                "MSSQLSvc/sql01.corp.example.com", "MSSQLSvc/sql01:1433", "MSSQLSvc/sql01",
                "MSSQLSvc/sql01.corp.example.com:SALES", "MSSQLSvc/sql01:SALES"]),
            dict(account="CORP\\sqlsvc", move=True, spns=[
                "MSSQLSvc/sql01.corp.example.com:1533", "MSSQLSvc/sql01:1533"]),
        ],
        blocked=["MSSQLSvc/sql01.corp.example.com:1433 is held by CORP\\oldsvc but sql01.corp.example.com needs it "
                 "on CORP\\sqlsvc: allow the move with allow_spn_move: true on sql01.corp.example.com in the "
                 "inventory"],
    )


def test_stale_spns_are_removed_only_when_asked():
    audit = dict(plan=[], instances=[dict(name=SQL01, spns=[], stale_spns=[
        dict(spn="MSSQLSvc/sql01.corp.example.com:1435", holders=[dict(name="CORP\\sqlsvc", dn="x", sid="s")]),
        dict(spn="MSSQLSvc/sql01.corp.example.com:OLD", holders=[dict(name="CORP\\old", dn="y", sid="t"),
                                                                 dict(name="CORP\\sqlsvc", dn="x", sid="s")])])])
    assert spn_registrations(audit, {}, [])["registrations"] == []
    assert spn_registrations(audit, {}, [], remove_stale=True)["registrations"] == [
        dict(account="CORP\\old", spns=["MSSQLSvc/sql01.corp.example.com:OLD"], state="absent"),
        dict(account="CORP\\sqlsvc", spns=["MSSQLSvc/sql01.corp.example.com:1435", "MSSQLSvc/sql01.corp.example.com:OLD"],
             state="absent")]
