"""Bad input and broken connections: a clear error naming the problem, and
nothing written (rootDSE highestCommittedUSN unchanged)."""
import subprocess

import pytest
from conftest import REPO

MODULE = "sqlauth.kerberos.spn_facts"
LAB_SCRIPT = REPO / "tests" / "lab" / "lab.sh"


def run_failing(lab, run_module, args):
    usn_before = lab.highest_committed_usn()
    result = run_module(MODULE, args)
    assert result.get("failed"), result
    assert lab.highest_committed_usn() == usn_before
    return result["msg"]


@pytest.mark.parametrize("change, expected", [
    (dict(password="not-the-password"), "invalid credentials"),
    (dict(ca_cert=None), "is not trusted"),
    (dict(server="127.0.0.1"), "does not name '127.0.0.1'"),
    (dict(port=6399), "connection refused"),
    (dict(server=None), "no LDAP server given"),
])
def test_connection_problems_are_named(lab, run_module, change, expected):
    args = dict(lab.connection, instances=lab.instances("all_spns_ok"))
    args.update(change)
    args = {k: v for k, v in args.items() if v is not None}
    assert expected in run_failing(lab, run_module, args)


@pytest.mark.parametrize("instance, expected", [
    (dict(host="sql1.corp.example.test", service_account="sqlsvc1", extra_spns=["MSSQLSvc/sql 1:1433"]),
     "contains white space"),
    (dict(host="sql1.corp.example.test", service_account="sqlsvc1", extra_spns=["MSSQLSvc/sql1:99999"]),
     "is not a TCP port number"),
    (dict(host="sql1.corp.example.test", service_account="sqlsvc1", extra_spns=["MSSQLSvc/sqlé:1433"]),
     "non-ASCII"),
    (dict(host="sql1", service_account="sqlsvc1"), "must be the fully qualified DNS name"),
    (dict(host="sql1.corp.example.test", port=70000, service_account="sqlsvc1"), "is not a TCP port number"),
    (dict(host="sql1.corp.example.test", instance="bad name", service_account="sqlsvc1"),
     "not a valid SQL Server instance name"),
    (dict(host="sql1.corp.example.test", service_account="CORP\\nosuchaccount"),
     "account 'CORP\\\\nosuchaccount' was not found"),
    (dict(host="sql1.corp.example.test", service_account="sqlreport@corp.example.test"), "is ambiguous"),
    (dict(host="sql1.corp.example.test", service_account="OTHERDOM\\sqlsvc1"), "is in domain OTHERDOM"),
    (dict(host="sql1.corp.example.test", service_account="NT AUTHORITY\\LOCAL SERVICE"),
     "anonymous credentials"),
    (dict(host="sql1.corp.example.test", service_account=".\\sqladmin"), "local account"),
])
def test_bad_input_is_named(lab, run_module, instance, expected):
    message = run_failing(lab, run_module, dict(lab.connection, instances=[instance]))
    assert expected in message.replace("\\\\", "\\\\\\\\") or expected in message, message


def test_every_unknown_account_is_named_at_once(lab, run_module):
    instances = [dict(host="sql1.corp.example.test", service_account=name) for name in ("ghost1", "ghost2")]
    message = run_failing(lab, run_module, dict(lab.connection, instances=instances))
    assert "'ghost1' was not found" in message and "'ghost2' was not found" in message


def test_stopped_dc(lab, run_module):
    """The real thing: stop the lab DC, run, start it again."""
    subprocess.run(["bash", str(LAB_SCRIPT), "stop"], check=True, capture_output=True)
    try:
        result = run_module(MODULE, dict(lab.connection, instances=lab.instances("all_spns_ok")))
    finally:
        subprocess.run(["bash", str(LAB_SCRIPT), "start"], check=True, capture_output=True)
    assert result.get("failed")
    assert "cannot reach the LDAP server dc1.corp.example.test:636: connection refused" in result["msg"]
