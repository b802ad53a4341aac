# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters that flatten the inventory into spn_facts' instances and turn
its report into lines a person reads."""

from __future__ import annotations

import copy

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.filter.sql_instances import (
    FilterModule,
    spn_audit_lines,
    sql_instances,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import parse_instance
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import INSTANCE_KEYS


def test_the_filters_are_registered_by_name():
    assert FilterModule().filters() == {"sql_instances": sql_instances, "spn_audit_lines": spn_audit_lines}


# -- sql_instances ---------------------------------------------------------------

HOSTVARS = {
    "sql01": dict(
        sqlauth_host_fqdn="sql01.corp.example.com",
        ansible_host="10.0.0.11",
        sqlauth_instances=[
            dict(service_account="CORP\\sqlsvc", port=1433, allow_spn_move=True, owner="dba team"),
            dict(instance="SALES", port="dynamic", tcp_enabled=False, service_account="CORP\\gmsa-sales$",
                 listeners=[dict(name="ag1.corp.example.com", port=1433)],
                 extra_spns=["MSSQLSvc/sales.corp.example.com:1433"]),
        ],
    ),
    "sql02.corp.example.com": dict(sqlauth_instances=[dict(instance="HR", service_account="NT SERVICE\\MSSQL$HR")]),
    "web01.corp.example.com": dict(),
    "web02.corp.example.com": dict(sqlauth_instances=None),
    "sql03.corp.example.com": dict(sqlauth_instances=[dict(service_account="CORP\\other")]),
}


def test_instances_of_every_host_are_flattened_with_their_host():
    flat = sql_instances(HOSTVARS, ["sql01", "sql02.corp.example.com", "web01.corp.example.com",
                                    "web02.corp.example.com"])
    assert flat == [
        dict(service_account="CORP\\sqlsvc", port=1433, host="sql01.corp.example.com"),
        dict(instance="SALES", port="dynamic", tcp_enabled=False, service_account="CORP\\gmsa-sales$",
             listeners=[dict(name="ag1.corp.example.com", port=1433)],
             extra_spns=["MSSQLSvc/sales.corp.example.com:1433"], host="sql01.corp.example.com"),
        dict(instance="HR", service_account="NT SERVICE\\MSSQL$HR", host="sql02.corp.example.com"),
    ]


def test_only_the_module_keys_are_kept_and_the_inventory_is_not_changed():
    before = copy.deepcopy(HOSTVARS)
    flat = sql_instances(HOSTVARS, list(HOSTVARS))
    assert all(set(entry) <= set(INSTANCE_KEYS) | {"host"} for entry in flat)
    assert HOSTVARS == before


def test_the_hosts_given_decide_which_and_in_what_order():
    flat = sql_instances(HOSTVARS, ["sql03.corp.example.com", "sql01"])
    assert [(entry["host"], entry.get("instance")) for entry in flat] == [
        ("sql03.corp.example.com", None), ("sql01.corp.example.com", None), ("sql01.corp.example.com", "SALES")]
    assert sql_instances(HOSTVARS, []) == []


def test_the_flattened_instances_are_valid_module_input():
    instances = [parse_instance(entry) for entry in sql_instances(HOSTVARS, list(HOSTVARS))]
    assert [instance.name for instance in instances] == [
        "sql01.corp.example.com", "sql01.corp.example.com\\SALES", "sql02.corp.example.com\\HR",
        "sql03.corp.example.com"]


@pytest.mark.parametrize("instances, message", [
    (dict(service_account="CORP\\sqlsvc"), "sqlauth_instances of sql09 must be a list, got dict"),
    ("CORP\\sqlsvc", "sqlauth_instances of sql09 must be a list, got str"),
    ([dict(instance="SALES")], "every item of sqlauth_instances of sql09 needs a service_account"),
    ([dict(service_account="")], "every item of sqlauth_instances of sql09 needs a service_account"),
    ([dict(service_account="CORP\\sqlsvc"), "CORP\\sqlsvc"],
     "every item of sqlauth_instances of sql09 needs a service_account"),
])
def test_a_malformed_inventory_is_an_error_naming_the_host(instances, message):
    with pytest.raises(AnsibleFilterError) as raised:
        sql_instances({"sql09": dict(sqlauth_instances=instances)}, ["sql09"])
    assert str(raised.value) == message


# -- spn_audit_lines ---------------------------------------------------------------

def row(spn, status, *holders):
    return dict(spn=spn, form="fqdn_port", status=status, holders=[dict(name=name) for name in holders])


REPORT = dict(
    summary=dict(instances=2, instances_with_drift=1, spns=dict(ok=2, missing=1, wrong_account=1, duplicate=1)),
    instances=[
        dict(name="sql01.corp.example.com", port=1433, status="ok", findings=[],
             service_account=dict(name="CORP\\sqlsvc", kind="user"),
             spns=[row("MSSQLSvc/sql01.corp.example.com:1433", "ok", "CORP\\sqlsvc"),
                   row("MSSQLSvc/sql01:1433", "ok", "CORP\\sqlsvc")]),
        dict(name="sql02.corp.example.com\\SALES", port="dynamic", status="drift",
             findings=["dynamic_port", "spn_write_acl_missing"],
             service_account=dict(name="CORP\\gmsa-sales$", kind="gmsa"),
             spns=[row("MSSQLSvc/sql02.corp.example.com:SALES", "missing"),
                   row("MSSQLSvc/sql02:SALES", "wrong_account", "CORP\\oldsvc"),
                   row("MSSQLSvc/sales.corp.example.com:1433", "duplicate", "CORP\\gmsa-sales$", "CORP\\SQL02$")]),
    ],
    plan=[dict(description="pin a static TCP port on sql02.corp.example.com\\SALES (dynamic ports break port SPNs)"),
          dict(description="register MSSQLSvc/sql02.corp.example.com:SALES on CORP\\gmsa-sales$")],
)


def test_spn_audit_lines():
    assert spn_audit_lines(REPORT) == [
        "2 instance(s), 1 with drift; SPNs: duplicate 1, missing 1, ok 2, wrong_account 1",
        "sql01.corp.example.com [1433] as CORP\\sqlsvc (user): OK",
        "  ok             MSSQLSvc/sql01.corp.example.com:1433",
        "  ok             MSSQLSvc/sql01:1433",
        "sql02.corp.example.com\\SALES [dynamic] as CORP\\gmsa-sales$ (gmsa): DRIFT; dynamic_port, spn_write_acl_missing",
        "  missing        MSSQLSvc/sql02.corp.example.com:SALES",
        "  wrong_account  MSSQLSvc/sql02:SALES  (held by CORP\\oldsvc)",
        "  duplicate      MSSQLSvc/sales.corp.example.com:1433  (held by CORP\\gmsa-sales$, CORP\\SQL02$)",
        "plan:",
        "  1. pin a static TCP port on sql02.corp.example.com\\SALES (dynamic ports break port SPNs)",
        "  2. register MSSQLSvc/sql02.corp.example.com:SALES on CORP\\gmsa-sales$",
    ]


def test_spn_audit_lines_without_a_plan_end_with_the_instances():
    report = dict(REPORT, plan=[], instances=REPORT["instances"][:1])
    lines = spn_audit_lines(report)
    assert lines[-1] == "  ok             MSSQLSvc/sql01:1433"
    assert "plan:" not in lines


def test_spn_audit_lines_of_an_empty_report():
    assert spn_audit_lines({}) == ["0 instance(s), 0 with drift; SPNs: "]
