# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift_report filters: the report built from the modules' results and
each host's sql_kerberos_port_check fact (from a plain dict standing in for
hostvars), its input check, and the renderers they expose. The results are
the lab captures of tests/unit/plugins/module_utils/fixtures/drift_report_inputs.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.filter.drift_report import FilterModule, drift_report
from ansible_collections.sqlauth.kerberos.plugins.module_utils import _drift_report

FIXTURE = json.loads((Path(__file__).parents[1] / "module_utils" / "fixtures" / "drift_report_inputs.json")
                     .read_text())
LNX = "sqllnx1.corp.example.test"
PORT_CHECK = FIXTURE["ports"][LNX]
WINDOWS_HOSTS = ["sql1.corp.example.test", "sql2.corp.example.test", "sql3.corp.example.test",
                 "sql4.corp.example.test", "sql6.corp.example.test"]


def report_of(hostvars, hosts, delegation=None, links=None, **kwargs):
    return drift_report(FIXTURE["audit"], FIXTURE["links"] if links is None else links,
                        FIXTURE["delegation"] if delegation is None else delegation, hostvars, hosts, **kwargs)


def static_port(report, name):
    return next(check for host in report["hosts"] for instance in host["instances"] if instance["name"] == name
                for check in instance["checks"] if check["check"] == "static_port")


def test_port_check_found_under_the_hosts_fqdn():
    hostvars = {"lnx": dict(sqlauth_host_fqdn="SQLLNX1.corp.example.test", sql_kerberos_port_check=PORT_CHECK)}
    hostvars.update({host: {} for host in WINDOWS_HOSTS})
    report = report_of(hostvars, ["lnx"] + WINDOWS_HOSTS)
    assert static_port(report, LNX)["status"] == "port_not_static"
    for host in WINDOWS_HOSTS[2:]:
        assert static_port(report, host)["status"] == "skipped"


def test_port_check_found_under_the_inventory_name():
    report = report_of({LNX: dict(sql_kerberos_port_check=PORT_CHECK)}, [LNX])
    assert static_port(report, LNX)["status"] == "port_not_static"


def test_fqdn_overrides_the_inventory_name():
    hostvars = {LNX: dict(sqlauth_host_fqdn="sqllnx2.corp.example.test", sql_kerberos_port_check=PORT_CHECK)}
    assert static_port(report_of(hostvars, [LNX]), LNX)["status"] == "skipped"


@pytest.mark.parametrize("check", [None, {}])
def test_an_empty_port_check_is_not_a_check(check):
    report = report_of({LNX: dict(sql_kerberos_port_check=check)}, [LNX])
    assert static_port(report, LNX)["status"] == "skipped"


def test_only_the_listed_hosts_are_read():
    hostvars = {LNX: dict(sql_kerberos_port_check=PORT_CHECK)}
    assert static_port(report_of(hostvars, []), LNX)["status"] == "skipped"


def test_filter_builds_the_same_report_as_the_module_util():
    hostvars = {"lnx": dict(sqlauth_host_fqdn=LNX, sql_kerberos_port_check=PORT_CHECK),
                "sql1.corp.example.test": dict(sqlauth_host_fqdn="sql1.corp.example.test")}
    report = report_of(hostvars, ["lnx", "sql1.corp.example.test"], mode="check", generated="2026-01-01T00:00:00Z")
    assert report == _drift_report.build_report(FIXTURE["audit"], FIXTURE["links"], FIXTURE["delegation"],
                                                {LNX: PORT_CHECK}, mode="check", generated="2026-01-01T00:00:00Z")
    assert (report["mode"], report["generated"]) == ("check", "2026-01-01T00:00:00Z")


@pytest.mark.parametrize("delegation", ["", [], "skipped"])
def test_delegation_that_is_not_a_result_is_unchecked(delegation):
    report = report_of({}, [], delegation=delegation)
    delegation_checks = [check for host in report["hosts"] for instance in host["instances"]
                         for check in instance["checks"] if check["check"] == "delegation"]
    assert len(delegation_checks) == len(FIXTURE["links"])
    assert {check["result"] for check in delegation_checks} == {"skipped"}


def test_no_links_no_delegation_checks():
    report = drift_report(FIXTURE["audit"], None, FIXTURE["delegation"], {}, [])
    assert not any(check["check"] == "delegation" for host in report["hosts"] for instance in host["instances"]
                   for check in instance["checks"])


@pytest.mark.parametrize("audit", [None, [], "spn_facts", {"changed": False}, {"skipped": True}])
def test_input_that_is_not_an_spn_facts_result_is_refused(audit):
    with pytest.raises(AnsibleFilterError, match="registered result of sqlauth.kerberos.spn_facts"):
        drift_report(audit, FIXTURE["links"], FIXTURE["delegation"], {}, [])


def test_filters_expose_the_report_and_its_renderers():
    filters = FilterModule().filters()
    assert filters == {
        "drift_report": drift_report,
        "drift_report_lines": _drift_report.problem_lines,
        "drift_report_junit": _drift_report.to_junit,
        "drift_report_html": _drift_report.to_html,
        "drift_report_powershell": _drift_report.to_powershell,
        "drift_report_ldif": _drift_report.to_ldif,
    }
    hostvars = {LNX: dict(sql_kerberos_port_check=copy.deepcopy(PORT_CHECK))}
    report = filters["drift_report"](FIXTURE["audit"], FIXTURE["links"], FIXTURE["delegation"], hostvars, [LNX])
    assert len(filters["drift_report_lines"](report)) == report["summary"]["drift"]
    assert filters["drift_report_junit"](report).startswith("<?xml")
    assert filters["drift_report_html"](report).startswith("<!DOCTYPE html>")
    assert "setspn -S" in filters["drift_report_powershell"](report)
    assert "changetype: modify" in filters["drift_report_ldif"](report)
