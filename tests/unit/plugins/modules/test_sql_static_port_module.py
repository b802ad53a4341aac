# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sql_static_port module itself (argument spec, check and diff modes,
output, no_log), run in-process against a SIMULATED Windows host: pywinrm's
Protocol is replaced by SimulatedWindows' fake, everything else is real.
The Linux path and real WinRM connections are tested through
ansible-playbook in tests/integration_lab/test_sql_static_port*.py."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.parameters import PASS_VARS

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _host_module, _winrm
from ansible_collections.sqlauth.kerberos.plugins.modules import sql_static_port
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.simulated_windows import SimulatedWindows

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    from contextlib import contextmanager
    from unittest import mock

    @contextmanager
    def patch_module_args(args):
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps(dict(ANSIBLE_MODULE_ARGS=args)).encode()):
            yield

HOST = "sql1.corp.example.com"
# ansible-core 2.21 returns the module's arguments (invocation) only when asked;
# earlier releases always do, and refuse the option as unsupported.
INVOCATION = {"_ansible_inject_invocation": True} if "inject_invocation" in PASS_VARS else {}
PASSWORD = "Pa55-word-never-shown"


@pytest.fixture
def sim(monkeypatch):
    """SIMULATED Windows host with a named instance on a dynamic port."""
    host = SimulatedWindows(HOST)
    host.add_instance("MSSQLSERVER", ipall=dict(TcpPort="1433", TcpDynamicPorts=""))
    host.add_instance("SALES", dependents=["SQLAgent$SALES"])
    simulate(monkeypatch, host)
    return host


def simulate(monkeypatch, host):
    """Put the SIMULATED host where pywinrm's Protocol is (pywinrm itself
    is then not needed)."""
    monkeypatch.setattr(_winrm, "Protocol", host.protocol_factory)
    monkeypatch.setattr(_winrm, "WINRM_IMPORT_ERROR", None)
    monkeypatch.setattr(_host_module, "WINRM_IMPORT_ERROR", None)


def run_module(capsys, **args):
    args = dict(dict(winrm_host=HOST, winrm_username="CORP\\sqladmin", winrm_password=PASSWORD), **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            sql_static_port.main()
    output = capsys.readouterr().out
    assert PASSWORD not in output
    return json.loads(output)


def test_simulated_check_mode_diff_then_apply_then_idempotent(sim, capsys):
    instances = [dict(instance="SALES", port=1533), dict(port=1433)]
    checked = run_module(capsys, instances=instances, _ansible_check_mode=True, _ansible_diff=True, **INVOCATION)
    assert checked["changed"] and not checked.get("failed")
    assert checked["diff"]["after"] == {HOST + "\\SALES": {"Tcp\\IPAll\\TcpPort": "1533", "Tcp\\IPAll\\TcpDynamicPorts": ""}}
    assert sim.values(sim.tcp_key("SALES") + r"\IPAll")["TcpPort"] == ""
    assert checked["invocation"]["module_args"]["winrm_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

    applied = run_module(capsys, instances=instances)
    assert applied["changed"] and applied["restart_required"]
    assert sim.values(sim.tcp_key("SALES") + r"\IPAll")["TcpPort"] == "1533"
    assert [i["restart_required"] for i in applied["instances"]] == [True, False]

    again = run_module(capsys, instances=instances, _ansible_check_mode=True)
    assert not again["changed"] and again["restart_required"]

    restarted = run_module(capsys, instances=instances, restart=True)
    assert restarted["changed"] and not restarted["restart_required"]
    assert restarted["instances"][0]["restarted"] and restarted["instances"][0]["listening_ports"] == [1533]
    assert sim.services["sqlagent$sales"].status == "Running"

    final = run_module(capsys, instances=instances, restart=True)
    assert not final["changed"] and not final["restart_required"]


def test_simulated_errors_fail_the_module(sim, capsys):
    result = run_module(capsys, instances=[dict(instance="HR", port=1633)])
    assert result["failed"] and "no SQL Server instance HR" in result["msg"]
    result = run_module(capsys, instances=[dict(instance="SALES", port=1433)])
    assert result["failed"] and "already used by instance MSSQLSERVER" in result["msg"]
    result = run_module(capsys, instances=[dict(instance="SALES", port=65536)])
    assert result["failed"] and "port 65536 is not a TCP port number (1-65535)" in result["msg"]
    result = run_module(capsys, instances=[dict(instance="SALES", port=1533)], winrm_host=None)
    assert result["failed"] and "winrm_host is required" in result["msg"]
    assert sim.values(sim.tcp_key("SALES") + r"\IPAll")["TcpPort"] == ""


def test_simulated_restart_failure_reports_partial_changes(monkeypatch, capsys):
    host = SimulatedWindows(HOST)
    host.add_instance("SALES", fails_to_start=True)
    simulate(monkeypatch, host)
    result = run_module(capsys, instances=[dict(instance="SALES", port=1533)], restart=True)
    assert result["failed"] and result["changed"]
    assert "restarting service MSSQL$SALES failed" in result["msg"]
    assert result["instances"][0]["changes"][0]["after"] == "1533"


def test_simulated_instances_are_named_by_host_fqdn_when_winrm_host_is_an_address(sim, capsys):
    result = run_module(capsys, winrm_host="127.0.0.1", host_fqdn=HOST, instances=[dict(instance="SALES", port=1533)],
                        _ansible_check_mode=True, _ansible_diff=True)
    assert result["host"] == HOST and [item["name"] for item in result["instances"]] == [HOST + "\\SALES"]
    assert list(result["diff"]["after"]) == [HOST + "\\SALES"]
    assert sim.protocol_options[-1]["endpoint"] == "http://127.0.0.1:5985/wsman"
    failed = run_module(capsys, winrm_host="127.0.0.1", host_fqdn=HOST, instances=[dict(instance="HR", port=1633)])
    assert failed["failed"] and failed["msg"].startswith("no SQL Server instance HR on %s (" % HOST), failed["msg"]


def test_simulated_credentials_from_the_environment_come_whole_and_stay_hidden(sim, capsys, monkeypatch):
    monkeypatch.setenv("SQLAUTH_WINRM_USERNAME", "CORP\\env")
    monkeypatch.setenv("SQLAUTH_WINRM_PASSWORD", PASSWORD)
    with patch_module_args(dict(winrm_host=HOST, instances=[dict(instance="SALES", port=1533)],
                                _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            sql_static_port.main()
    output = capsys.readouterr().out
    assert not json.loads(output).get("failed") and PASSWORD not in output
    assert (sim.protocol_options[-1]["username"], sim.protocol_options[-1]["password"]) == ("CORP\\env", PASSWORD)
    # A user given takes no password from the environment: it is another account's.
    with patch_module_args(dict(winrm_host=HOST, winrm_username="CORP\\given", winrm_transport="ntlm",
                                instances=[dict(instance="SALES", port=1533)])):
        with pytest.raises(SystemExit):
            sql_static_port.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] and "WinRM transport ntlm needs winrm_username and winrm_password" in result["msg"]
