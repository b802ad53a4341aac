# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters of the sql_static_port role: a host's sqlauth_instances into
the module's instances, and the module's result into the instances that
need a restart; and the sql_kerberos role's static_port_problems, every
managed host's unpinnable instances at once (from a plain dict standing in
for hostvars)."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.filter.static_ports import (
    FilterModule,
    static_port_instances,
    static_port_plan,
    static_port_problems,
    static_port_restarts,
)

HOST = "sql2.corp.example.com"


def test_inventory_items_become_module_instances():
    result = static_port_instances([
        dict(service_account="CORP\\a"),                                    # default instance: 1433
        dict(instance="sales", port="1533", service_account="CORP\\b", listeners=[]),
        dict(instance="HR", port=1633, tcp_enabled=False, service_account="CORP\\c"),
    ], HOST)
    assert result["instances"] == [dict(instance="MSSQLSERVER", port=1433, enable_tcp=True),
                                   dict(instance="SALES", port=1533, enable_tcp=True)]
    assert result["skipped"] == ["sql2.corp.example.com\\HR: TCP/IP is disabled in the inventory (tcp_enabled: false)"]
    assert result["problems"] == []


def test_every_instance_without_a_static_port_is_named():
    result = static_port_instances([
        dict(instance="SALES", service_account="x"),
        dict(instance="HR", port="dynamic", service_account="x"),
        dict(instance="OPS", port=70000, service_account="x"),
        dict(instance="A", port=1533), dict(instance="B", port=1533),
        dict(instance="bad name", port=1),
        "not a dict",
    ], HOST)
    assert result["instances"] == [dict(instance="A", port=1533, enable_tcp=True)]
    problems = result["problems"]
    assert problems[0].startswith("sql2.corp.example.com\\SALES has no static port (port: not set, dynamic for a named")
    assert problems[1].startswith("sql2.corp.example.com\\HR has no static port (port: dynamic): give it one")
    assert "OPS: port 70000 is not a TCP port number" in problems[2]
    assert "sql2.corp.example.com\\A and sql2.corp.example.com\\B both have port 1533" in problems[3]
    assert "'bad name' is not a valid SQL Server instance name" in problems[4]
    assert "must be a dict" in problems[5]
    assert static_port_instances("nope", HOST)["problems"] == [
        "sqlauth_instances of sql2.corp.example.com must be a list, got str"]


def test_linux_has_only_the_default_instance():
    result = static_port_instances([dict(port=1433), dict(instance="SALES", port=1533)], HOST, "linux")
    assert result["instances"] == [dict(instance="MSSQLSERVER", port=1433, enable_tcp=True)]
    assert result["problems"] == ["sql2.corp.example.com\\SALES: SQL Server on Linux has a single instance, "
                                  "MSSQLSERVER (sqlauth_platform is linux)"]


def test_restarts_named_as_clients_name_them():
    result = dict(instances=[dict(instance="MSSQLSERVER", restart_required=True),
                             dict(instance="SALES", restart_required=True),
                             dict(instance="HR", restart_required=False)])
    assert static_port_restarts(result, HOST) == [HOST, HOST + "\\SALES"]
    assert static_port_restarts(dict(skipped=True), HOST) == []
    assert set(FilterModule().filters()) == {"static_port_instances", "static_port_plan", "static_port_problems",
                                             "static_port_restarts"}


# -- static_port_problems ------------------------------------------------------

NO_PORT = ("%s has no static port (port: not set, dynamic for a named instance): give it one in sqlauth_instances, "
           "e.g. port: 1533, or leave it out of sql_static_port_instances")


def test_problems_per_managed_host_under_its_inventory_name():
    hostvars = {
        "sql1": dict(sqlauth_host_fqdn="sql1.corp.example.com", sqlauth_instances=[dict(service_account="x")]),
        "sql2": dict(sqlauth_host_fqdn=HOST, sqlauth_instances=[dict(instance="SALES", service_account="x"),
                                                                dict(instance="HR", port=1533)]),
        "sql3.corp.example.com": dict(sqlauth_instances=[dict(instance="OPS", port="dynamic")]),
        "lnx": dict(sqlauth_host_fqdn="lnx.corp.example.com", sqlauth_platform="linux",
                    sqlauth_instances=[dict(port=1433), dict(instance="SALES", port=1533)]),
    }
    assert static_port_problems(hostvars, list(hostvars)) == {
        # Problems name the host by its FQDN, as static_port_instances does.
        "sql2": [NO_PORT % (HOST + "\\SALES")],
        "sql3.corp.example.com": ["sql3.corp.example.com\\OPS has no static port (port: dynamic): give it one in "
                                  "sqlauth_instances, e.g. port: 1533, or leave it out of sql_static_port_instances"],
        "lnx": ["lnx.corp.example.com\\SALES: SQL Server on Linux has a single instance, MSSQLSERVER "
                "(sqlauth_platform is linux)"],
    }


def test_problems_match_static_port_instances():
    items = [dict(instance="SALES"), dict(instance="A", port=1533), dict(instance="B", port=1533), "not a dict"]
    hostvars = {"sql2": dict(sqlauth_host_fqdn=HOST, sqlauth_instances=items)}
    assert static_port_problems(hostvars, ["sql2"]) == {"sql2": static_port_instances(items, HOST)["problems"]}
    assert len(static_port_problems(hostvars, ["sql2"])["sql2"]) == 3


@pytest.mark.parametrize("managed", [False, "false", "no", "Off", "0"])
def test_unmanaged_hosts_are_left_out(managed):
    hostvars = {HOST: dict(sql_kerberos_manage_ports=managed, sqlauth_instances=[dict(instance="SALES")])}
    assert static_port_problems(hostvars, [HOST]) == {}


@pytest.mark.parametrize("managed", [True, "true", "yes"])
def test_managed_hosts_are_checked(managed):
    hostvars = {HOST: dict(sql_kerberos_manage_ports=managed, sqlauth_instances=[dict(instance="SALES")])}
    assert static_port_problems(hostvars, [HOST]) == {HOST: [NO_PORT % (HOST + "\\SALES")]}


def test_hosts_without_problems_or_instances_are_left_out():
    hostvars = {"a": dict(sqlauth_instances=[dict(port=1433), dict(instance="SALES", port=1533)]),
                "b": dict(sqlauth_instances=[dict(instance="HR", tcp_enabled=False)]),
                "c": dict(sqlauth_instances=None), "d": {}}
    assert static_port_problems(hostvars, list(hostvars)) == {}
    assert static_port_problems(hostvars, []) == {}


def test_instances_that_are_not_a_list_are_a_problem():
    assert static_port_problems({HOST: dict(sqlauth_instances="SALES")}, [HOST]) == {
        HOST: ["sqlauth_instances of sql2.corp.example.com must be a list, got str"]}


def test_only_the_listed_hosts_are_read():
    # An unlisted host's variables are never read (None would fail).
    hostvars = {HOST: dict(sqlauth_instances=[dict(instance="SALES")]), "other": None}
    assert list(static_port_problems(hostvars, [HOST])) == [HOST]


# -- static_port_plan -------------------------------------------------------------

def test_plan_names_the_hosts_to_pin_in_order_and_those_that_cannot_be():
    hostvars = {
        "c": dict(sqlauth_instances=[dict(port=1433)]),
        "a": dict(sqlauth_instances=[dict(instance="SALES")]),
        "b": dict(sql_kerberos_manage_ports="false", sqlauth_instances=[dict(port=1433)]),
        "d": dict(sqlauth_instances=[dict(instance="HR", tcp_enabled=False)]),
        "e": {},
    }
    plan = static_port_plan(hostvars, list(hostvars))
    # Managed hosts with nothing to pin (d: TCP off, e: no instance) still get their check.
    assert plan == dict(hosts=["c", "d", "e"], problems=dict(a=[NO_PORT % "a\\SALES"]))
    assert static_port_problems(hostvars, list(hostvars)) == plan["problems"]
    assert static_port_plan(hostvars, []) == dict(hosts=[], problems={})
