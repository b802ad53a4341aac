"""sql_static_port on Linux, run as Ansible runs it (ansible-playbook against
localhost), for real on files in a temporary folder: check mode, apply,
idempotent re-run, every other byte of mssql.conf kept, malformed files
refused with nothing written. Needs nothing from the lab.

SQL Server itself is SIMULATED where a restart is tested: a stand-in
`systemctl` (standins/fake_systemctl.py) records its call and starts a
stand-in `sqlservr` process (standins/fake_sqlservr.py) listening on
127.0.0.1 on the port mssql.conf gives."""
import os
import socket
import sys

import pytest
from simulated_mssql import SimulatedSqlServer, free_port

MODULE = "sqlauth.kerberos.sql_static_port"

CONF = (b"# /var/opt/mssql/mssql.conf, kept by hand\n"
        b"[EULA]\naccepteula = Y\n\n"
        b"[network]\n; pinned for Kerberos\ntcpport = 1433\nforceencryption = 1\n"
        b"tlscert = /etc/ssl/certs/sql1.pem\n\n"
        b"[filelocation]\ndefaultdatadir = /data/\xc3\xa9t\xc3\xa9\n\n"
        b"[sqlagent]\r\nenabled = false\r\n")


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "mssql.conf"
    path.write_bytes(CONF)
    return path


def args(conf, port, **more):
    return dict(platform="linux", mssql_conf=str(conf), instances=[dict(port=port)], **more)


def test_check_mode_changes_nothing(run_module, conf):
    stat = conf.stat()
    result = run_module(MODULE, args(conf, 1533), check=True, diff=True)
    assert result["changed"] and not result["failed"], result
    assert conf.read_bytes() == CONF and conf.stat().st_mtime_ns == stat.st_mtime_ns
    # The diff, as --diff shows it: the setting before and after.
    label = "%s [network] tcpport" % conf
    assert '-        "%s": "1433"' % label in run_module.last_output
    assert '+        "%s": "1533"' % label in run_module.last_output


def test_apply_keeps_every_other_byte_and_rerun_changes_nothing(run_module, conf):
    result = run_module(MODULE, args(conf, 1533))
    assert result["changed"] and not result["failed"], result
    assert conf.read_bytes() == CONF.replace(b"tcpport = 1433", b"tcpport = 1533")
    item = result["instances"][0]
    assert item["changes"] == [dict(file=str(conf), section="network", option="tcpport", before="1433", after="1533")]
    assert item["service"] == "mssql-server" and not item["restarted"]

    stat = conf.stat()
    for check in (True, False):
        again = run_module(MODULE, args(conf, 1533), check=check)
        assert not again["changed"] and not again["failed"], again
    assert conf.stat().st_mtime_ns == stat.st_mtime_ns


def test_unset_port_means_1433(run_module, tmp_path):
    conf = tmp_path / "mssql.conf"
    conf.write_bytes(b"[EULA]\naccepteula = Y\n")
    assert not run_module(MODULE, args(conf, 1433))["changed"]
    result = run_module(MODULE, args(conf, 1533))
    assert result["changed"] and result["instances"][0]["changes"][0]["before"] is None
    assert conf.read_bytes() == b"[EULA]\naccepteula = Y\n\n[network]\ntcpport = 1533\n"


def test_missing_file_is_created_but_not_its_folder(run_module, tmp_path):
    conf = tmp_path / "mssql.conf"
    result = run_module(MODULE, args(conf, 1533))
    assert result["changed"] and conf.read_bytes() == b"[network]\ntcpport = 1533\n"
    assert oct(conf.stat().st_mode & 0o777) == "0o644"
    result = run_module(MODULE, args(tmp_path / "nowhere" / "mssql.conf", 1533))
    assert result["failed"] and "does not exist, nor does its folder: is SQL Server installed" in result["msg"]


@pytest.mark.parametrize("content, problem", [
    (b"tcpport = 1433\n[network]\n", "line 1: 'tcpport = 1433' comes before any [section] header"),
    (b"[network]\ntcpport 1533\n", "line 2: 'tcpport 1533' is neither a [section] header"),
])
def test_malformed_file_is_reported_and_left_alone(run_module, tmp_path, content, problem):
    conf = tmp_path / "mssql.conf"
    conf.write_bytes(content)
    result = run_module(MODULE, args(conf, 1533))
    assert result["failed"] and "%s %s" % (conf, problem) in result["msg"], result
    assert "nothing was changed" in result["msg"]
    assert conf.read_bytes() == content


@pytest.mark.parametrize("change, problem", [
    (dict(instances=[dict(instance="SALES", port=1533)]), "SQL Server on Linux runs a single instance per host"),
    (dict(instances=[dict(port=70000)]), "port 70000 is not a TCP port number (1-65535)"),
])
def test_bad_input_is_refused(run_module, conf, change, problem):
    result = run_module(MODULE, dict(args(conf, 1533), **change))
    assert result["failed"] and problem in result["msg"], result
    assert conf.read_bytes() == CONF


def test_port_another_process_listens_on_is_refused(run_module, conf):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        result = run_module(MODULE, args(conf, port))
    assert result["failed"] and "port %d is already used on this host by" % port in result["msg"], result
    assert "(pid %d)" % os.getpid() in result["msg"]
    assert conf.read_bytes() == CONF


@pytest.fixture
def sql_server(tmp_path, conf):
    server = SimulatedSqlServer(tmp_path / "state", conf)
    yield server
    server.stop()


def test_simulated_restart_only_when_asked_and_waits_for_the_new_port(run_module, conf, sql_server):
    old, new = free_port(), free_port()
    assert old != new
    conf.write_bytes(CONF.replace(b"1433", str(old).encode()))
    sql_server.start(old)
    common = dict(restart_command=sql_server.command, restart_timeout=20)

    result = run_module(MODULE, args(conf, new, **common))
    item = result["instances"][0]
    assert result["changed"] and result["restart_required"] and item["restart_required"], result
    assert not item["restarted"] and item["service_state"] == "running" and item["listening_ports"] == [old]
    assert sql_server.calls() == []

    # Written earlier, not restarted: still reported, nothing changes.
    result = run_module(MODULE, args(conf, new, **common))
    assert not result["changed"] and result["restart_required"], result

    checked = run_module(MODULE, args(conf, new, restart=True, **common), check=True)
    assert checked["changed"] and checked["instances"][0]["restarted"]
    assert sql_server.calls() == []

    result = run_module(MODULE, args(conf, new, restart=True, **common))
    item = result["instances"][0]
    assert result["changed"] and not result["restart_required"] and item["restarted"], result
    assert item["listening_ports"] == [new]
    assert sql_server.calls() == ['["restart", "mssql-server"]']

    result = run_module(MODULE, args(conf, new, restart=True, **common))
    assert not result["changed"] and not result["instances"][0]["restarted"]
    assert len(sql_server.calls()) == 1


def test_simulated_failed_restart_is_reported(run_module, conf, tmp_path):
    # SIMULATED: a running sqlservr stand-in; the restart command fails.
    port = free_port()
    server = SimulatedSqlServer(tmp_path / "state", conf)
    conf.write_bytes(b"[network]\ntcpport = %d\n" % port)
    server.start(port)
    try:
        result = run_module(MODULE, args(conf, free_port(), restart=True, restart_timeout=5,
                                         restart_command=[sys.executable, "-c", "import sys; sys.exit('unit failed')"]))
    finally:
        server.stop()
    assert result["failed"] and result["changed"], result
    assert "restarting SQL Server failed" in result["msg"] and "unit failed" in result["msg"]
    assert "mssql.conf was written" in result["msg"]
