"""The sql_static_port role, run with ansible-playbook on a test inventory.
Needs nothing from the lab.

- SQL Server on Linux for real on a temporary mssql.conf, with the service
  SIMULATED by stand-ins (simulated_mssql.py): validation, check mode,
  apply, idempotence, the restart report, and restarts only when allowed.
- Windows hosts up to the WinRM connection: validation fails before any
  connection; the WinRM settings reach the module through module_defaults
  (a closed port on 127.0.0.1 shows it); no password in the output."""
import json

import pytest
import yaml
from conftest import REPO, run_playbook
from simulated_mssql import SimulatedSqlServer, free_port

PLAYBOOK = REPO / "tests" / "integration_lab" / "playbooks" / "sql_static_port.yml"
PASSWORD = "Role-Pa55word-hidden"


def write_inventory(tmp_path, hosts):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(dict(all=dict(children=dict(sql_servers=dict(hosts=hosts))))))
    return inventory


def restart_report(run):
    lines = [line for line in run.output.splitlines() if "restart required: " in line]
    assert lines, run.output
    return json.loads(lines[-1].split("restart required: ", 1)[1].rstrip('"').replace('\\"', '"'))


@pytest.fixture
def linux_estate(tmp_path):
    conf = tmp_path / "mssql.conf"
    old, new = free_port(), free_port()
    assert old != new
    conf.write_bytes(b"[EULA]\naccepteula = Y\n\n[network]\ntcpport = %d\n" % old)
    server = SimulatedSqlServer(tmp_path / "state", conf)
    server.start(old)
    host = dict(ansible_connection="local", sqlauth_platform="linux", sqlauth_host_fqdn="sqllinux.corp.example.com",
                sqlauth_instances=[dict(port=new, service_account="CORP\\sqlsvc-linux")],
                sql_static_port_mssql_conf=str(conf), sql_static_port_become=False,
                sql_static_port_restart_command=server.command, sql_static_port_restart_timeout=20)
    yield dict(inventory=write_inventory(tmp_path, {"sqllinux": host}), conf=conf, server=server, old=old, new=new)
    server.stop()


def test_linux_check_apply_report_and_restart_when_allowed(linux_estate):
    conf, server = linux_estate["conf"], linux_estate["server"]
    original = conf.read_bytes()

    run = run_playbook(PLAYBOOK, linux_estate["inventory"], check=True, diff=True)
    assert not run.failed and run.changed == 1, run.output
    assert conf.read_bytes() == original

    run = run_playbook(PLAYBOOK, linux_estate["inventory"])
    assert not run.failed and run.changed == 1, run.output
    assert conf.read_bytes() == original.replace(b"%d" % linux_estate["old"], b"%d" % linux_estate["new"])
    assert restart_report(run) == ["sqllinux.corp.example.com"]
    assert "sqllinux.corp.example.com must restart to listen on the static port" in run.output
    assert server.calls() == []

    run = run_playbook(PLAYBOOK, linux_estate["inventory"])
    assert not run.failed and run.changed == 0, run.output
    assert restart_report(run) == ["sqllinux.corp.example.com"]

    run = run_playbook(PLAYBOOK, linux_estate["inventory"], extra_vars=dict(sql_static_port_allow_restart=True))
    assert not run.failed and run.changed == 1, run.output
    assert restart_report(run) == [] and server.calls() == ['["restart", "mssql-server"]']

    run = run_playbook(PLAYBOOK, linux_estate["inventory"], extra_vars=dict(sql_static_port_allow_restart=True))
    assert not run.failed and run.changed == 0 and len(server.calls()) == 1, run.output


def windows_host(port, instances):
    return dict(ansible_connection="local", sqlauth_host_fqdn="127.0.0.1", sqlauth_instances=instances,
                sqlauth_winrm=dict(winrm_port=port, winrm_transport="ntlm", winrm_username="CORP\\sqladmin",
                                   winrm_password=PASSWORD, winrm_connection_timeout=5))


def test_instances_without_a_static_port_fail_before_any_connection(tmp_path):
    port = free_port()  # nothing listens there
    inventory = write_inventory(tmp_path, {"sql2": windows_host(port, [
        dict(service_account="CORP\\a"),
        dict(instance="SALES", port="dynamic", service_account="CORP\\b"),
        dict(instance="HR", service_account="CORP\\c"),
        dict(instance="OPS", tcp_enabled=False, service_account="CORP\\d"),
    ])})
    run = run_playbook(PLAYBOOK, inventory)
    assert run.failed
    assert "Cannot pin the TCP ports of sql2:" in run.output
    assert "127.0.0.1\\\\SALES has no static port (port: dynamic)" in run.output
    assert "127.0.0.1\\\\HR has no static port (port: not set" in run.output
    assert "OPS" not in run.output.split("Cannot pin", 1)[1].split("PLAY RECAP")[0]
    assert "connection refused" not in run.output


def test_winrm_settings_reach_the_module_and_the_password_stays_hidden(tmp_path):
    port = free_port()  # nothing listens there
    inventory = write_inventory(tmp_path, {"sql2": windows_host(port, [
        dict(instance="SALES", port=1533, service_account="CORP\\b"),
        dict(instance="OPS", tcp_enabled=False, service_account="CORP\\d"),
    ])})
    run = run_playbook(PLAYBOOK, inventory, verbosity=3)
    assert run.failed
    assert "cannot reach WinRM on http://127.0.0.1:%d/wsman: connection refused" % port in run.output
    assert "127.0.0.1\\\\OPS: TCP/IP is disabled in the inventory" in run.output
    assert PASSWORD not in run.output
