# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sql_static_port's decisions on Windows, run for real against a SIMULATED
Windows host (tests/unit/plugins/simulated_windows.py: an in-memory
registry and service table behind a fake pywinrm Protocol, reached through
the real WinRM primitive); input validation; the Linux plan; how the
sql_kerberos role reads a host's port settings from its variables."""

from __future__ import annotations

import re

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_linux import plan_linux
from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_plan import (
    InstancePlan,
    PortRequest,
    StaticPortError,
    validate_static_port,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import windows_service_name
from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_windows import (
    SQL_SERVER_ROOTS,
    TcpLayout,
    static_port_windows,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import WindowsHost
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.simulated_windows import SimulatedWindows

HOST = "sql1.corp.example.com"
WOW_ROOT = SQL_SERVER_ROOTS[1]


def run(sim, instances, check_mode=False, restart=False):
    remote = WindowsHost(dict(winrm_host=sim.name, winrm_username="CORP\\sqladmin", winrm_password="secret"),
                         protocol_factory=sim.protocol_factory)
    request = validate_static_port(dict(platform="windows", winrm_host=sim.name, instances=instances,
                                        restart=restart, restart_timeout=60))
    return static_port_windows(remote, request, check_mode)


def by_name(result):
    return {item["instance"]: item for item in result["instances"]}


@pytest.fixture
def sim():
    """SIMULATED: a host with a default instance on 1433 and a named
    instance SALES on a dynamic port, both running, SALES with its Agent."""
    host = SimulatedWindows(HOST)
    host.add_instance("MSSQLSERVER", ipall=dict(TcpPort="1433", TcpDynamicPorts=""), dependents=["SQLSERVERAGENT"])
    host.add_instance("SALES", dependents=["SQLAgent$SALES"])
    return host


# -- input validation (no host involved) ------------------------------------------------

@pytest.mark.parametrize("instances, platform, problem", [
    ([dict(instance="SALES", port=70000)], "windows", "instance SALES: port 70000 is not a TCP port number (1-65535)"),
    ([dict(instance="SALES", port=0)], "windows", "port 0 is not a TCP port number"),
    ([dict(instance="bad name", port=1533)], "windows", "'bad name' is not a valid SQL Server instance name"),
    ([dict(instance="SALES", port=1533), dict(instance="sales", port=1534)], "windows", "instance SALES is listed twice"),
    ([dict(instance="A", port=1533), dict(instance="B", port=1533)], "windows",
     "instances A and B both ask for port 1533"),
    ([], "windows", "no instance given"),
    ([dict(instance="SALES", port=1533)], "linux",
     "SQL Server on Linux runs a single instance per host, MSSQLSERVER; there is no instance SALES there"),
])
def test_bad_input_is_named_and_nothing_is_written(instances, platform, problem):
    with pytest.raises(StaticPortError) as error:
        validate_static_port(dict(platform=platform, winrm_host=HOST, instances=instances,
                                  restart_command=["systemctl"], mssql_conf="/x"))
    assert problem in str(error.value)
    assert str(error.value).endswith("nothing was changed")


def test_windows_needs_a_host_and_every_problem_is_listed():
    with pytest.raises(StaticPortError) as error:
        validate_static_port(dict(platform="windows", instances=[dict(instance="A", port=99999),
                                                                 dict(instance="B", port=-1)]))
    message = str(error.value)
    assert "winrm_host is required" in message and "port 99999" in message and "port -1" in message


def test_valid_input():
    request = validate_static_port(dict(platform="windows", winrm_host=HOST, instances=[
        dict(instance="sales", port="1533"), dict(port=1433, enable_tcp=False)]))
    assert request["instances"] == [PortRequest("SALES", 1533, True), PortRequest("MSSQLSERVER", 1433, False)]
    assert request["restart"] is False and request["restart_timeout"] == 120
    assert windows_service_name("MSSQLSERVER") == "MSSQLSERVER" and windows_service_name("SALES") == "MSSQL$SALES"


# -- Windows, SIMULATED registry and services -------------------------------------------

def test_simulated_named_instance_dynamic_to_static(sim):
    before_agent = sim.services["sqlagent$sales"].status
    result = run(sim, [dict(instance="SALES", port=1533)])
    sales = by_name(result)["SALES"]
    assert result["changed"] and sales["changed"]
    assert sim.values(sim.tcp_key("SALES") + r"\IPAll") == dict(TcpPort="1533", TcpDynamicPorts="")
    assert [(c["value"], c["before"], c["after"]) for c in sales["changes"]] == [
        ("TcpPort", "", "1533"), ("TcpDynamicPorts", "49701", "")]
    assert sales["changes"][0]["key"] == "HKLM\\" + sim.tcp_key("SALES") + "\\IPAll"
    assert sales["instance_id"] == "MSSQL16.SALES" and sales["service"] == "MSSQL$SALES"
    # Running on its old dynamic port: it needs a restart, which was not allowed.
    assert sales["restart_required"] and not sales["restarted"] and result["restart_required"]
    assert sales["listening_ports"] == [49701] and sales["service_state"] == "Running"
    assert sim.services["mssql$sales"].restarts == 0 and sim.services["sqlagent$sales"].status == before_agent
    assert result["diff"] == dict(before={HOST + "\\SALES": {"Tcp\\IPAll\\TcpPort": "", "Tcp\\IPAll\\TcpDynamicPorts": "49701"}},
                                  after={HOST + "\\SALES": {"Tcp\\IPAll\\TcpPort": "1533", "Tcp\\IPAll\\TcpDynamicPorts": ""}})
    # Three WinRM calls: instance ids, settings and services, writes.
    assert len(sim.commands) == 3


def test_simulated_rerun_changes_nothing_but_still_asks_for_the_restart(sim):
    run(sim, [dict(instance="SALES", port=1533)])
    sim.commands.clear()
    result = run(sim, [dict(instance="SALES", port=1533)])
    sales = by_name(result)["SALES"]
    assert not result["changed"] and sales["changes"] == [] and result["diff"] == dict(before={}, after={})
    # Written earlier without a restart: it still listens on the dynamic port.
    assert sales["restart_required"]
    assert len(sim.commands) == 2  # reads only


def test_simulated_restart_when_allowed(sim):
    result = run(sim, [dict(instance="SALES", port=1533)], restart=True)
    sales = by_name(result)["SALES"]
    assert sales["restarted"] and not sales["restart_required"] and not result["restart_required"]
    assert sales["listening_ports"] == [1533] and sales["service_state"] == "Running"
    assert sim.services["mssql$sales"].restarts == 1
    # Its Agent, stopped by the restart, runs again; the other instance was left alone.
    assert sim.services["sqlagent$sales"].status == "Running"
    assert sim.services["mssqlserver"].restarts == 0
    rerun = run(sim, [dict(instance="SALES", port=1533)], restart=True)
    assert not rerun["changed"] and not by_name(rerun)["SALES"]["restarted"]
    assert sim.services["mssql$sales"].restarts == 1


def test_simulated_check_mode_writes_nothing_and_predicts(sim):
    registry_before = sim.values(sim.tcp_key("SALES") + r"\IPAll")
    result = run(sim, [dict(instance="SALES", port=1533), dict(port=1433)], check_mode=True, restart=True)
    assert sim.values(sim.tcp_key("SALES") + r"\IPAll") == registry_before
    assert sim.services["mssql$sales"].restarts == 0
    assert len(sim.commands) == 2  # no third call
    instances = by_name(result)
    assert result["changed"] and instances["SALES"]["changed"] and instances["SALES"]["restarted"]
    assert instances["SALES"]["changes"][0]["after"] == "1533"
    # The default instance is already right: not changed, not restarted, even in check mode.
    assert not instances["MSSQLSERVER"]["changed"] and not instances["MSSQLSERVER"]["restarted"]
    assert list(result["diff"]["after"]) == [HOST + "\\SALES"]


def test_simulated_check_mode_on_a_correct_host_reports_no_change(sim):
    result = run(sim, [dict(port=1433)], check_mode=True, restart=True)
    assert not result["changed"] and not result["restart_required"]
    assert by_name(result)["MSSQLSERVER"]["listening_ports"] == [1433]


def test_simulated_default_instance_already_correct(sim):
    result = run(sim, [dict(instance="MSSQLSERVER", port=1433)])
    default = by_name(result)["MSSQLSERVER"]
    assert not result["changed"] and default["changes"] == [] and not default["restart_required"]
    assert default["name"] == HOST and default["service"] == "MSSQLSERVER"
    assert len(sim.commands) == 2


def test_simulated_default_instance_moved_to_another_port(sim):
    result = run(sim, [dict(port=1435)], restart=True)
    default = by_name(result)["MSSQLSERVER"]
    assert [(c["value"], c["before"], c["after"]) for c in default["changes"]] == [("TcpPort", "1433", "1435")]
    assert default["restarted"] and default["listening_ports"] == [1435]
    assert sim.services["sqlserveragent"].status == "Running"


def test_simulated_tcp_disabled_is_enabled():
    sim = SimulatedWindows(HOST)
    sim.add_instance("SQLEXPRESS", enabled=0, ipall=dict(TcpPort="", TcpDynamicPorts="0"))
    result = run(sim, [dict(instance="SQLEXPRESS", port=1600)], restart=True)
    express = by_name(result)["SQLEXPRESS"]
    assert [(c["value"], c["before"], c["after"]) for c in express["changes"]] == [
        ("Enabled", 0, 1), ("TcpPort", "", "1600"), ("TcpDynamicPorts", "0", "")]
    assert sim.values(sim.tcp_key("SQLEXPRESS"))["Enabled"] == 1
    assert express["tcp_enabled"] and express["restarted"] and express["listening_ports"] == [1600]
    assert result["diff"]["before"][HOST + "\\SQLEXPRESS"]["Tcp\\Enabled"] == 0


def test_simulated_tcp_disabled_left_alone_when_asked():
    sim = SimulatedWindows(HOST)
    sim.add_instance("SQLEXPRESS", enabled=0, ipall=dict(TcpPort="", TcpDynamicPorts="0"))
    result = run(sim, [dict(instance="SQLEXPRESS", port=1600, enable_tcp=False)], restart=True)
    express = by_name(result)["SQLEXPRESS"]
    assert [c["value"] for c in express["changes"]] == ["TcpPort", "TcpDynamicPorts"]
    assert sim.values(sim.tcp_key("SQLEXPRESS"))["Enabled"] == 0
    # TCP/IP stays off: the port does not apply yet, so no restart.
    assert not express["tcp_enabled"] and not express["restart_required"] and not express["restarted"]


def test_simulated_per_ip_layout_sets_every_enabled_address():
    sim = SimulatedWindows(HOST)
    tcp = sim.add_instance("SALES", listen_all=0, ipall=dict(TcpPort="", TcpDynamicPorts="0"), ips=[
        dict(Enabled=1, Active=1, IpAddress="10.0.0.5", TcpPort="", TcpDynamicPorts="0"),
        dict(Enabled=0, Active=1, IpAddress="10.0.1.5", TcpPort="", TcpDynamicPorts="0"),
        dict(Enabled=1, Active=1, IpAddress="127.0.0.1", TcpPort="1533", TcpDynamicPorts=""),
    ])
    result = run(sim, [dict(instance="SALES", port=1533)], restart=True)
    sales = by_name(result)["SALES"]
    assert [c["key"].rsplit("\\", 1)[1] + "\\" + c["value"] for c in sales["changes"]] == [
        "IP1\\TcpPort", "IP1\\TcpDynamicPorts"]
    assert sim.values(tcp + r"\IP1")["TcpPort"] == "1533" and sim.values(tcp + r"\IP1")["TcpDynamicPorts"] == ""
    # Disabled addresses and IPAll (unused when Listen All is No) are left as they were.
    assert sim.values(tcp + r"\IP2")["TcpDynamicPorts"] == "0" and sim.values(tcp + r"\IPAll")["TcpDynamicPorts"] == "0"
    assert sales["listening_ports"] == [1533]


def test_simulated_per_ip_layout_with_no_enabled_address_is_refused():
    sim = SimulatedWindows(HOST)
    sim.add_instance("SALES", listen_all=0, ips=[dict(Enabled=0, IpAddress="10.0.0.5", TcpPort="", TcpDynamicPorts="0")])
    with pytest.raises(StaticPortError, match="Listen All is No and no IP address .IPn. is enabled"):
        run(sim, [dict(instance="SALES", port=1533)])
    assert len(sim.commands) == 2


def test_simulated_multiple_static_ports_become_one(sim):
    sim.set_key(sim.tcp_key("MSSQLSERVER") + r"\IPAll", TcpPort="1433,1434")
    result = run(sim, [dict(port=1433)])
    assert by_name(result)["MSSQLSERVER"]["changes"][0]["before"] == "1433,1434"
    assert sim.values(sim.tcp_key("MSSQLSERVER") + r"\IPAll")["TcpPort"] == "1433"


def test_simulated_missing_instance_is_named_and_nothing_is_written(sim):
    with pytest.raises(StaticPortError) as error:
        run(sim, [dict(instance="SALES", port=1533), dict(instance="HR", port=1633)])
    assert str(error.value) == ("no SQL Server instance HR on sql1.corp.example.com (it has MSSQLSERVER, SALES); "
                                "nothing was changed")
    assert len(sim.commands) == 1
    assert sim.values(sim.tcp_key("SALES") + r"\IPAll")["TcpPort"] == ""


def test_simulated_instances_are_named_by_host_fqdn_not_by_the_address_reached(sim):
    """winrm_host may be an IP address (ansible_host); results and messages
    name the instances as clients do."""
    remote = WindowsHost(dict(winrm_host="10.0.0.12", winrm_username="CORP\\sqladmin", winrm_password="secret"),
                         protocol_factory=sim.protocol_factory)
    request = validate_static_port(dict(platform="windows", winrm_host="10.0.0.12", host_fqdn=HOST,
                                        instances=[dict(instance="SALES", port=1533)], restart_timeout=60))
    result = static_port_windows(remote, request, True)
    assert result["host"] == HOST and by_name(result)["SALES"]["name"] == HOST + "\\SALES"
    assert list(result["diff"]["after"]) == [HOST + "\\SALES"]
    request = validate_static_port(dict(platform="windows", winrm_host="10.0.0.12", host_fqdn=HOST,
                                        instances=[dict(instance="HR", port=1633)], restart_timeout=60))
    with pytest.raises(StaticPortError, match=re.escape("no SQL Server instance HR on %s (" % HOST)):
        static_port_windows(remote, request, True)


def test_simulated_host_without_sql_server():
    with pytest.raises(StaticPortError, match="it has no Database Engine instance"):
        run(SimulatedWindows(HOST), [dict(port=1433)])


@pytest.mark.parametrize("port, used", [(1433, "IPAll TcpPort"), (49701, "IPAll TcpDynamicPorts, a dynamic port")])
def test_simulated_port_of_another_instance_is_refused(sim, port, used):
    with pytest.raises(StaticPortError) as error:
        run(sim, [dict(instance="SALES", port=port)] if port == 1433 else [dict(port=port)])
    owner = "MSSQLSERVER" if port == 1433 else "SALES"
    assert "is already used by instance %s on %s (%s)" % (owner, HOST, used) in str(error.value)
    assert len(sim.commands) == 2


def test_simulated_port_of_an_instance_with_tcp_disabled_is_refused_too(sim):
    sim.add_instance("HR", enabled=0, ipall=dict(TcpPort="1633", TcpDynamicPorts=""))
    with pytest.raises(StaticPortError, match=r"used by instance HR .* \(IPAll TcpPort; its TCP/IP is disabled"):
        run(sim, [dict(instance="SALES", port=1633)])


def test_simulated_swapping_ports_between_requested_instances_is_allowed(sim):
    run(sim, [dict(instance="SALES", port=1533)])
    result = run(sim, [dict(port=1533), dict(instance="SALES", port=1433)])
    assert by_name(result)["MSSQLSERVER"]["changes"][0]["after"] == "1533"


def test_simulated_stopped_instance_needs_no_restart():
    sim = SimulatedWindows(HOST)
    sim.add_instance("SALES", status="Stopped")
    result = run(sim, [dict(instance="SALES", port=1533)], restart=True)
    sales = by_name(result)["SALES"]
    assert sales["changed"] and not sales["restart_required"] and not sales["restarted"]
    assert sales["service_state"] == "Stopped" and sim.services["mssql$sales"].status == "Stopped"
    assert any("is Stopped; it listens on port 1533 when it next starts" in w for w in result["warnings"])


def test_simulated_instance_in_the_32_bit_registry_view():
    sim = SimulatedWindows(HOST)
    sim.add_instance("SQLEXPRESS", instance_id="MSSQL10_50.SQLEXPRESS", root=WOW_ROOT)
    result = run(sim, [dict(instance="SQLEXPRESS", port=1600)])
    express = by_name(result)["SQLEXPRESS"]
    assert express["instance_id"] == "MSSQL10_50.SQLEXPRESS"
    assert express["changes"][0]["key"].startswith("HKLM\\SOFTWARE\\WOW6432Node\\")


def test_simulated_failed_restart_reports_what_was_written():
    sim = SimulatedWindows(HOST)
    sim.add_instance("SALES", fails_to_start=True)
    with pytest.raises(StaticPortError) as error:
        run(sim, [dict(instance="SALES", port=1533)], restart=True)
    assert "restarting service MSSQL$SALES failed: Time out has expired" in str(error.value)
    assert "the registry values before it were written" in str(error.value)
    partial = error.value.partial_result
    assert partial["changed"] and by_name(partial)["SALES"]["changes"][0]["after"] == "1533"
    assert not by_name(partial)["SALES"]["restarted"]


def test_simulated_denied_write_stops_the_batch():
    sim = SimulatedWindows(HOST)
    sim.add_instance("SALES")
    sim.add_instance("HR")
    sim.read_only_keys.add((sim.tcp_key("HR") + r"\IPAll").lower())
    with pytest.raises(StaticPortError) as error:
        run(sim, [dict(instance="SALES", port=1533), dict(instance="HR", port=1633)], restart=True)
    assert "writing TcpDynamicPorts, TcpPort under HKLM\\%s\\IPAll failed: Requested registry access is not allowed" \
        % sim.tcp_key("HR") in str(error.value)
    partial = by_name(error.value.partial_result)
    assert partial["SALES"]["changed"] and not partial["HR"]["changed"]
    # Nothing after the failed write ran: no restart at all.
    assert sim.services["mssql$sales"].restarts == 0


def test_tcp_layout_reads_missing_values_with_sql_server_defaults():
    layout = TcpLayout("SALES", "K", dict(values={}, subkeys={"IPAll": dict(values={}), "IP10": None, "IP2": None}))
    assert not layout.enabled and layout.listen_all
    assert layout.ip_addresses() == ["IP2", "IP10"]
    assert [w.label for w in layout.plan(1533, True)] == ["Tcp\\Enabled", "Tcp\\IPAll\\TcpPort"]


# -- Linux plan (pure) ------------------------------------------------------------------

def linux_request(port=1533, restart=False):
    return validate_static_port(dict(platform="linux", instances=[dict(port=port)], restart=restart,
                                     restart_command=["systemctl", "restart", "mssql-server"], mssql_conf="/c"))


def no_owner(port):
    return None


@pytest.mark.parametrize("content, port, change", [
    (b"[network]\ntcpport = 1533\n", 1533, False),
    (b"[EULA]\naccepteula = Y\n", 1433, False),   # not set means 1433
    (b"[EULA]\naccepteula = Y\n", 1533, True),
    (None, 1433, False),
    (None, 1533, True),
    (b"[network]\ntcpport = oops\n", 1433, True),
])
def test_linux_plan_changes_only_what_differs(content, port, change):
    plan = plan_linux(linux_request(port), "/c", content, [], [], no_owner)
    assert isinstance(plan, InstancePlan)
    assert plan.config_change is change
    assert not plan.restart_required  # not running


@pytest.mark.parametrize("sql_ports, change, required", [
    ([1433], True, True),      # running, changed now
    ([1433], False, True),     # running on another port than the file says (changed earlier)
    ([1533], False, False),    # running on the port
    (None, False, False),      # cannot tell which port it listens on
])
def test_linux_plan_restart_decision(sql_ports, change, required):
    content = b"[network]\ntcpport = %s\n" % (b"1433" if change else b"1533")
    plan = plan_linux(linux_request(1533, restart=True), "/c", content, [4242], sql_ports, no_owner)
    assert plan.config_change is change and plan.restart_required is required and plan.restart is required


def test_linux_plan_refuses_a_port_another_process_listens_on():
    with pytest.raises(StaticPortError, match="port 1533 is already used on this host by nginx .pid 77.; nothing"):
        plan_linux(linux_request(1533), "/c", b"", [], [], lambda port: "nginx (pid 77)")
