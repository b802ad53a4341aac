# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift_report filters: the report built from the modules' results and
each listed host's port settings (plugin_utils _estate.port_settings: whether the role
manages its ports, its platform, FQDN and registered
sql_static_port_<platform>_result, read from a plain dict standing in for
hostvars), its input check, and drift_report_render with every format. The
results are the lab captures of
tests/unit/plugins/module_utils/fixtures/drift_report_inputs.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.filter.drift_report import (
    FilterModule,
    drift_report,
    drift_report_render,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils import _drift_report
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils import _drift_report_html

FIXTURE = json.loads((Path(__file__).parents[1] / "module_utils" / "fixtures" / "drift_report_inputs.json")
                     .read_text())
LNX = "sqllnx1.corp.example.test"
PORT_CHECK = FIXTURE["ports"][LNX]
WINDOWS_HOSTS = ["sql1.corp.example.test", "sql2.corp.example.test", "sql3.corp.example.test",
                 "sql4.corp.example.test", "sql6.corp.example.test"]
NOT_MANAGED = "ports are not checked on this host"
NOT_RUN = "not checked: the host's port check failed or did not run"
FORMATS = dict(json=_drift_report.to_json, junit=_drift_report.to_junit, html=_drift_report_html.to_html,
               powershell=_drift_report.to_powershell, ldif=_drift_report.to_ldif)


def lnx_vars(**variables):
    """The Linux host's variables: its platform and its registered sql_static_port result (a copy)."""
    return dict(dict(sqlauth_platform="linux", sql_static_port_linux_result=copy.deepcopy(PORT_CHECK["result"])),
                **variables)


def report_of(hostvars, hosts, delegation=None, links=None, **kwargs):
    return drift_report(FIXTURE["audit"], FIXTURE["links"] if links is None else links,
                        FIXTURE["delegation"] if delegation is None else delegation, hostvars, hosts, **kwargs)


def static_port(report, name):
    return next(check for host in report["hosts"] for instance in host["instances"] if instance["name"] == name
                for check in instance["checks"] if check["check"] == "static_port")


def test_port_check_found_under_the_hosts_fqdn():
    hostvars = {"lnx": lnx_vars(sqlauth_host_fqdn="SQLLNX1.corp.example.test")}
    hostvars.update({host: {} for host in WINDOWS_HOSTS})
    report = report_of(hostvars, ["lnx"] + WINDOWS_HOSTS)
    assert static_port(report, LNX)["status"] == "port_not_static"
    for host in WINDOWS_HOSTS[2:]:
        # Managed by default, but nothing registered for them.
        assert static_port(report, host)["status"] == "skipped"
        assert static_port(report, host)["detail"].startswith(NOT_RUN)


def test_port_check_found_under_the_inventory_name():
    report = report_of({LNX: lnx_vars()}, [LNX])
    assert static_port(report, LNX)["status"] == "port_not_static"
    assert static_port(report, LNX)["commands"][0] == "sudo /opt/mssql/bin/mssql-conf set network.tcpport 1435"


def test_fqdn_overrides_the_inventory_name():
    hostvars = {LNX: lnx_vars(sqlauth_host_fqdn="sqllnx2.corp.example.test")}
    check = static_port(report_of(hostvars, [LNX]), LNX)
    assert check["status"] == "skipped" and check["detail"].startswith(NOT_MANAGED)


def test_result_is_read_for_the_hosts_platform():
    # A result registered under the other platform's name is not this host's check.
    variables = dict(sqlauth_platform="linux", sql_static_port_windows_result=copy.deepcopy(PORT_CHECK["result"]))
    check = static_port(report_of({LNX: variables}, [LNX]), LNX)
    assert check["status"] == "skipped" and check["detail"].startswith(NOT_RUN)
    # Without sqlauth_platform the host is a Windows host.
    variables = dict(sql_static_port_linux_result=copy.deepcopy(PORT_CHECK["result"]))
    assert static_port(report_of({LNX: variables}, [LNX]), LNX)["detail"].startswith(NOT_RUN)


@pytest.mark.parametrize("managed", [False, "false", "no", "No", "off", "0", ""])
def test_unmanaged_hosts_ports_are_not_checked(managed):
    check = static_port(report_of({LNX: lnx_vars(sql_kerberos_manage_ports=managed)}, [LNX]), LNX)
    assert (check["result"], check["status"]) == ("skipped", "skipped")
    assert check["detail"] == NOT_MANAGED + " (sql_kerberos_manage_ports: false)"


@pytest.mark.parametrize("managed", [True, "true", "yes", "True"])
def test_managed_hosts_ports_are_checked(managed):
    check = static_port(report_of({LNX: lnx_vars(sql_kerberos_manage_ports=managed)}, [LNX]), LNX)
    assert check["status"] == "port_not_static"


@pytest.mark.parametrize("result", [None, {}, "skipped", []])
def test_an_empty_port_check_is_not_a_check(result):
    report = report_of({LNX: lnx_vars(sql_static_port_linux_result=result)}, [LNX])
    check = static_port(report, LNX)
    assert check["status"] == "skipped" and check["detail"].startswith(NOT_RUN)


def test_only_the_listed_hosts_are_read():
    # An unlisted host's variables are never read (None would fail), and its instances get no port entry.
    hostvars = {LNX: lnx_vars(), "sql1.corp.example.test": None}
    report = report_of(hostvars, [LNX])
    assert static_port(report, LNX)["status"] == "port_not_static"
    assert static_port(report, "sql1.corp.example.test")["detail"].startswith(NOT_MANAGED)
    assert static_port(report_of(hostvars, []), LNX)["detail"].startswith(NOT_MANAGED)


def test_filter_builds_the_same_report_as_the_module_util():
    hostvars = {"lnx": lnx_vars(sqlauth_host_fqdn=LNX),
                "sql1.corp.example.test": dict(sqlauth_host_fqdn="sql1.corp.example.test"),
                "sql3": dict(sqlauth_host_fqdn="sql3.corp.example.test", sql_kerberos_manage_ports=False)}
    report = report_of(hostvars, ["lnx", "sql1.corp.example.test", "sql3"], mode="check",
                       generated="2026-01-01T00:00:00Z")
    ports = {LNX: PORT_CHECK,
             "sql1.corp.example.test": dict(managed=True, platform="windows", result=None),
             "sql3.corp.example.test": dict(managed=False, platform="windows", result=None)}
    assert report == _drift_report.build_report(FIXTURE["audit"], FIXTURE["links"], FIXTURE["delegation"], ports,
                                                mode="check", generated="2026-01-01T00:00:00Z")
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


# -- drift_report_render -------------------------------------------------------

@pytest.mark.parametrize("file_format", sorted(FORMATS))
def test_render_each_format(file_format):
    report = report_of({LNX: lnx_vars()}, [LNX])
    assert drift_report_render(report, file_format) == FORMATS[file_format](report)


def test_render_formats_read_back():
    report = report_of({LNX: lnx_vars()}, [LNX], generated="2026-01-01T00:00:00Z")
    assert json.loads(drift_report_render(report, "json")) == report
    assert drift_report_render(report, "junit").startswith("<?xml")
    assert drift_report_render(report, "html").startswith("<!DOCTYPE html>")
    assert "setspn -S" in drift_report_render(report, "powershell")
    assert "changetype: modify" in drift_report_render(report, "ldif")


@pytest.mark.parametrize("file_format", ["xml", "JSON", "", None, "drift_report_junit"])
def test_render_refuses_an_unknown_format(file_format):
    report = report_of({}, [])
    with pytest.raises(AnsibleFilterError, match=r"no drift report format .* \(formats: json, junit, html, "
                                                 r"powershell, ldif\)"):
        drift_report_render(report, file_format)


def test_filters_expose_the_report_its_lines_and_the_renderer():
    filters = FilterModule().filters()
    assert filters == {
        "drift_report": drift_report,
        "drift_report_lines": _drift_report.problem_lines,
        "drift_report_render": drift_report_render,
        "drift_report_verdict": _drift_report.verdict_lines,
    }
    hostvars = {LNX: lnx_vars()}
    report = filters["drift_report"](FIXTURE["audit"], FIXTURE["links"], FIXTURE["delegation"], hostvars, [LNX])
    assert len(filters["drift_report_lines"](report)) == report["summary"]["drift"]
    assert filters["drift_report_render"](report, "junit").startswith("<?xml")
    # The filter does not change the hosts' registered results.
    assert hostvars[LNX]["sql_static_port_linux_result"] == PORT_CHECK["result"]
