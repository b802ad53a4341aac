# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters that turn the inventory's linked servers into rbkcd_delegate
targets: pairs from each instance's linked_servers, then per back end its
account, the front ends' accounts and the SPN a linked server asks for."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.filter.linked_servers import (
    FilterModule,
    linked_servers,
    rbkcd_targets,
)
from ansible_collections.sqlauth.kerberos.plugins.filter.sql_instances import sql_instances

HOSTVARS = {
    "sql1": {"sqlauth_host_fqdn": "sql1.corp.example.com", "sqlauth_instances": [
        {"instance": "MSSQLSERVER", "port": 1433, "service_account": "CORP\\sqlsvc1",
         "linked_servers": ["sql2.corp.example.com\\sales", "sql3.corp.example.com\\MSSQLSERVER"]}]},
    "sql2.corp.example.com": {"sqlauth_instances": [
        {"instance": "SALES", "port": 1533, "service_account": "CORP\\sqlsvc2",
         "linked_servers": ["SQL1.corp.example.com"]},
        {"instance": "HR", "port": "dynamic", "service_account": "NT SERVICE\\MSSQL$HR",
         "linked_servers": ["sql2.corp.example.com\\SALES"]}]},
    "sql3.corp.example.com": {"sqlauth_instances": [
        {"service_account": "NT SERVICE\\MSSQLSERVER", "linked_servers": ["sql2.corp.example.com\\HR"]}]},
}
HOSTS = list(HOSTVARS)


def targets(hostvars=None):
    hostvars = hostvars or HOSTVARS
    return rbkcd_targets(linked_servers(hostvars, list(hostvars)), sql_instances(hostvars, list(hostvars)))


def test_pairs_are_named_as_sql_server_names_instances():
    assert linked_servers(HOSTVARS, HOSTS) == [
        dict(front="sql1.corp.example.com", back="sql2.corp.example.com\\sales"),
        dict(front="sql1.corp.example.com", back="sql3.corp.example.com\\MSSQLSERVER"),
        dict(front="sql2.corp.example.com\\SALES", back="SQL1.corp.example.com"),
        dict(front="sql2.corp.example.com\\HR", back="sql2.corp.example.com\\SALES"),
        dict(front="sql3.corp.example.com", back="sql2.corp.example.com\\HR"),
    ]


def test_one_target_per_back_end_with_every_front_end():
    by_back = {t["host"] + "|" + t["account"]: t for t in targets()}
    sales = by_back["sql2.corp.example.com|CORP\\sqlsvc2"]
    assert sales["principals"] == [dict(account="CORP\\sqlsvc1", host="sql1.corp.example.com"),
                                   dict(account="NT SERVICE\\MSSQL$HR", host="sql2.corp.example.com")]
    assert sales["spns"] == ["MSSQLSvc/sql2.corp.example.com:1533"]
    assert by_back["sql1.corp.example.com|CORP\\sqlsvc1"]["principals"] == [
        dict(account="CORP\\sqlsvc2", host="sql2.corp.example.com")]
    # A back end without a static port is reached by its instance-name SPN.
    assert by_back["sql2.corp.example.com|NT SERVICE\\MSSQL$HR"]["spns"] == ["MSSQLSvc/sql2.corp.example.com:HR"]
    assert by_back["sql3.corp.example.com|NT SERVICE\\MSSQLSERVER"]["spns"] == [
        "MSSQLSvc/sql3.corp.example.com:1433"]
    assert len(by_back) == 4
    # Exactly the module's target options, nothing else.
    assert all(set(t) == {"account", "host", "principals", "spns"} for t in targets())


def test_the_same_front_end_twice_is_one_principal():
    hostvars = {"a.corp.example.com": {"sqlauth_instances": [
        {"service_account": "CORP\\a", "linked_servers": ["b.corp.example.com", "B.CORP.EXAMPLE.COM"]}]},
        "b.corp.example.com": {"sqlauth_instances": [{"service_account": "CORP\\b"}]}}
    (target,) = targets(hostvars)
    assert target["principals"] == [dict(account="CORP\\a", host="a.corp.example.com")]


@pytest.mark.parametrize("item, expected", [
    ({"service_account": "CORP\\a", "linked_servers": ["nowhere.corp.example.com"]},
     "nowhere.corp.example.com is not an instance of the inventory (known instances: a.corp.example.com)"),
    ({"service_account": "CORP\\a", "linked_servers": ["a.corp.example.com"]},
     "a.corp.example.com lists itself as a linked server"),
    ({"service_account": "CORP\\a", "linked_servers": "b.corp.example.com"}, "must be a list of instance names"),
    ({"service_account": "CORP\\a", "linked_servers": [""]}, "must be a list of instance names"),
    ({"service_account": "CORP\\a", "port": 99999, "linked_servers": []}, "is not a TCP port number"),
])
def test_bad_inventory_is_named(item, expected):
    with pytest.raises(AnsibleFilterError, match=expected.replace("(", "\\(").replace(")", "\\)")):
        targets({"a.corp.example.com": {"sqlauth_instances": [item]}})


def test_no_linked_servers_no_targets():
    hostvars = {"a.corp.example.com": {"sqlauth_instances": [{"service_account": "CORP\\a"}]}}
    assert linked_servers(hostvars, list(hostvars)) == [] and targets(hostvars) == []


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"linked_servers", "rbkcd_targets"}
