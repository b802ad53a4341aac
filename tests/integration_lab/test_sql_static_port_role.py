"""The sql_static_port role, run with ansible-playbook on a test inventory.
Needs nothing from the lab.

- SQL Server on Linux for real on a temporary mssql.conf, with the service
  SIMULATED by stand-ins (simulated_mssql.py): validation, check mode,
  apply, idempotence, the restart report, and restarts only when allowed.
- Windows hosts up to the WinRM connection: validation fails before any
  connection; the WinRM settings reach the module through module_defaults
  (a closed port on 127.0.0.1 shows it); no password in the output.
- The WinRM connection from the host's own Ansible connection variables
  (ansible_host, ansible_port, ansible_user, ansible_password,
  ansible_winrm_*), templated for the SQL host although the task runs on
  localhost, and sqlauth_winrm winning where both are set: read on the
  server's side of a SIMULATED WinRM endpoint (simulated_winrm.py: real NTLM,
  Basic, client certificates and TLS, no WS-Management), which records the
  scheme, transport, user and message encryption each client came with."""
import json

import pytest
import yaml
from conftest import REPO, run_playbook
from simulated_mssql import SimulatedSqlServer, free_port
from simulated_winrm import SimulatedWinrm, WinrmPki, ntlm_user_file

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


INVENTORY_USER = "CORP\\sqladmin"
OVERRIDE_USER = "CORP\\sqlops"
OVERRIDE_PASSWORD = "Override-Pa55word-hidden"
LOCAL_USER = "localadmin"
LOCAL_PASSWORD = "Local-Pa55word-hidden"


@pytest.fixture
def winrm_endpoints(tmp_path, monkeypatch):
    """Two simulated WinRM endpoints: HTTPS (a certificate for 127.0.0.1 from
    a test CA) and HTTP, with the same accounts."""
    users = {INVENTORY_USER: PASSWORD, OVERRIDE_USER: OVERRIDE_PASSWORD, LOCAL_USER: LOCAL_PASSWORD}
    monkeypatch.setenv("NTLM_USER_FILE", str(ntlm_user_file(tmp_path / "ntlm-users", users)))
    pki = WinrmPki(tmp_path / "pki", client_user="sqladmin")
    https, http = SimulatedWinrm(users, pki), SimulatedWinrm(users)
    yield dict(https=https, http=http, pki=pki)
    https.stop()
    http.stop()


def inventory_windows_host(**variables):
    """A Windows host managed over WinRM by Ansible, its connection in its
    own variables only; sqlauth_host_fqdn does not resolve, so a connection
    to 127.0.0.1 proves that ansible_host was used."""
    host = dict(ansible_connection="winrm", sqlauth_host_fqdn="sql2.corp.example.com",
                sqlauth_instances=[dict(instance="SALES", port=1533, service_account="CORP\\b")],
                loopback="127.0.0.1", ansible_host="{{ loopback }}")
    host.update(variables)
    return host


def run_windows_host(tmp_path, host, env=None):
    run = run_playbook(PLAYBOOK, write_inventory(tmp_path, {"sql2": host}), verbosity=3, env=env)
    assert run.failed, run.output
    for secret in (PASSWORD, OVERRIDE_PASSWORD, LOCAL_PASSWORD):
        assert secret not in run.output
    return run


def test_winrm_connection_from_the_hosts_ansible_variables(tmp_path, winrm_endpoints):
    """Templated values, the scheme implied by the port (https, not 5985),
    TLS validated with the inventory's CA, and encryption forced."""
    https = winrm_endpoints["https"]
    run = run_windows_host(tmp_path, inventory_windows_host(
        ansible_port=https.port, ansible_user="CORP\\{{ 'sqladmin' }}", ansible_password=PASSWORD,
        ansible_winrm_transport="ntlm", ansible_winrm_server_cert_validation="validate",
        ansible_winrm_ca_trust_path=str(winrm_endpoints["pki"].ca_cert), ansible_winrm_message_encryption="always"))
    assert "WinRM on https://127.0.0.1:%d/wsman answered HTTP 500" % https.port in run.output
    assert https.clients == [dict(scheme="https", transport="ntlm", user=INVENTORY_USER, encrypted=True)]
    assert winrm_endpoints["http"].clients == []


def test_sqlauth_winrm_wins_where_both_are_set(tmp_path, winrm_endpoints):
    """Each group whole: the endpoint is sqlauth_winrm's, its host too (not
    ansible_host, an address nothing answers on)."""
    https, http = winrm_endpoints["https"], winrm_endpoints["http"]
    run = run_windows_host(tmp_path, inventory_windows_host(
        ansible_host="192.0.2.1", ansible_port=https.port, ansible_user=INVENTORY_USER, ansible_password=PASSWORD,
        ansible_winrm_transport="basic", ansible_winrm_server_cert_validation="ignore",
        ansible_winrm_message_encryption="never",
        sqlauth_winrm=dict(winrm_host="{{ loopback }}", winrm_port=http.port, winrm_scheme="http",
                           winrm_transport="ntlm", winrm_username=OVERRIDE_USER, winrm_password=OVERRIDE_PASSWORD,
                           winrm_connection_timeout=10)))
    assert "WinRM on http://127.0.0.1:%d/wsman answered HTTP 500" % http.port in run.output
    assert http.clients == [dict(scheme="http", transport="ntlm", user=OVERRIDE_USER, encrypted=True)]
    assert https.clients == [] and https.rejected == 0


def test_basic_over_https_from_the_hosts_ansible_variables(tmp_path, winrm_endpoints):
    """The winrm-specific names win over the generic ones, as in Ansible;
    certificate validation off, as the inventory says."""
    https = winrm_endpoints["https"]
    run = run_windows_host(tmp_path, inventory_windows_host(
        ansible_port=5985, ansible_winrm_port=https.port, ansible_winrm_scheme="https", ansible_user="nobody",
        ansible_winrm_user=LOCAL_USER, ansible_password=PASSWORD, ansible_winrm_password=LOCAL_PASSWORD,
        ansible_winrm_transport="basic", ansible_winrm_server_cert_validation="ignore"))
    assert "WinRM on https://127.0.0.1:%d/wsman answered HTTP 500" % https.port in run.output
    assert https.clients == [dict(scheme="https", transport="basic", user=LOCAL_USER, encrypted=False)]


def test_certificate_transport_from_the_hosts_ansible_variables(tmp_path, winrm_endpoints):
    https, pki = winrm_endpoints["https"], winrm_endpoints["pki"]
    run = run_windows_host(tmp_path, inventory_windows_host(
        ansible_port=https.port, ansible_winrm_transport="certificate", ansible_winrm_cert_pem=str(pki.client_cert),
        ansible_winrm_cert_key_pem=str(pki.client_key), ansible_winrm_ca_trust_path=str(pki.ca_cert)))
    assert "WinRM on https://127.0.0.1:%d/wsman answered HTTP 500" % https.port in run.output
    assert https.clients == [dict(scheme="https", transport="certificate", user="sqladmin", encrypted=False)]


def test_an_untrusted_certificate_is_refused_by_default(tmp_path, winrm_endpoints):
    """Without the inventory's CA, validation (on by default) fails."""
    https = winrm_endpoints["https"]
    run = run_windows_host(tmp_path, inventory_windows_host(
        ansible_port=https.port, ansible_user=INVENTORY_USER, ansible_password=PASSWORD,
        ansible_winrm_transport="ntlm"))
    assert "TLS failed, the host's certificate is not trusted" in run.output
    assert https.clients == []


def test_a_user_from_sqlauth_winrm_gets_no_password_from_elsewhere(tmp_path, winrm_endpoints):
    """The inventory's password (another account's) is not sent for the user
    sqlauth_winrm names, nor SQLAUTH_WINRM_PASSWORD: nothing is sent."""
    https = winrm_endpoints["https"]
    run = run_windows_host(tmp_path, inventory_windows_host(
        ansible_port=https.port, ansible_user=INVENTORY_USER, ansible_password=PASSWORD,
        ansible_winrm_transport="ntlm", ansible_winrm_ca_trust_path=str(winrm_endpoints["pki"].ca_cert),
        sqlauth_winrm=dict(winrm_username=OVERRIDE_USER, winrm_transport="ntlm")),
        env=dict(SQLAUTH_WINRM_PASSWORD=LOCAL_PASSWORD))
    assert "WinRM transport ntlm needs winrm_username and winrm_password" in run.output
    assert https.clients == [] and https.rejected == 0 and https.accepted == 0


def test_another_host_from_sqlauth_winrm_gets_nothing_of_the_inventorys_connection(tmp_path, winrm_endpoints):
    """Neither the inventory's account nor its cert_validation=ignore goes to
    the host sqlauth_winrm names: validation is on, and nothing is sent."""
    https = winrm_endpoints["https"]
    run = run_windows_host(tmp_path, inventory_windows_host(
        ansible_host="192.0.2.1", ansible_user=INVENTORY_USER, ansible_password=PASSWORD,
        ansible_winrm_transport="ntlm", ansible_winrm_server_cert_validation="ignore",
        sqlauth_winrm=dict(winrm_host="{{ loopback }}", winrm_port=https.port, winrm_scheme="https",
                           winrm_connection_timeout=10)))
    assert "answered HTTP 500" not in run.output
    assert https.clients == [] and https.rejected == 0 and https.accepted == 0


def test_a_winrm_host_without_port_or_scheme_is_reached_over_https_on_5986(tmp_path):
    """As Ansible reaches it; and messages name the host by its FQDN, not by
    ansible_host's address (the module's host_fqdn)."""
    run = run_windows_host(tmp_path, inventory_windows_host(
        ansible_user=INVENTORY_USER, ansible_password=PASSWORD, ansible_winrm_transport="ntlm",
        sqlauth_winrm=dict(winrm_connection_timeout=5)))
    assert "WinRM on https://127.0.0.1:5986/wsman" in run.output, run.output
    assert '"host_fqdn": "sql2.corp.example.com"' in run.output and '"winrm_host": "127.0.0.1"' in run.output
