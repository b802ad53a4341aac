# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters of the sql_static_port role: a host's sqlauth_instances into
the module's instances, and the module's result into the instances that
need a restart."""

from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.filter.static_ports import (
    FilterModule,
    static_port_instances,
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
    assert set(FilterModule().filters()) == {"static_port_instances", "static_port_restarts"}
