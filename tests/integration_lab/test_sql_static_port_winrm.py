"""sql_static_port's WinRM connection failures, run as Ansible runs it
(ansible-playbook against localhost) with the real pywinrm, on loopback
only. Needs nothing from the lab.

- refused: a closed port on 127.0.0.1;
- wrong credentials: a small HTTP endpoint on 127.0.0.1 that authenticates
  NTLM for real (pyspnego's NTLM acceptor with a one-user credential file),
  as the WinRM service does, and answers 401 to a wrong password. It speaks
  no WS-Management beyond that: it is SIMULATED up to the authentication
  (simulated_winrm.py).

The password never appears in the output, even at -vvv."""
import socket

import pytest
from simulated_winrm import SimulatedWinrm, ntlm_user_file

MODULE = "sqlauth.kerberos.sql_static_port"
USER = "CORP\\sqladmin"
PASSWORD = "Right-Pa55word"
WRONG = "Wrong-Pa55word-x"


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def ntlm_endpoint(tmp_path, monkeypatch):
    users = {USER: PASSWORD}
    monkeypatch.setenv("NTLM_USER_FILE", str(ntlm_user_file(tmp_path / "ntlm-users", users)))
    endpoint = SimulatedWinrm(users)
    yield endpoint
    endpoint.stop()


def winrm_args(port, **more):
    args = dict(winrm_host="127.0.0.1", winrm_port=port, winrm_transport="ntlm", winrm_username=USER,
                winrm_password=PASSWORD, winrm_connection_timeout=10,
                instances=[dict(instance="SALES", port=1533)])
    args.update(more)
    return args


def test_connection_refused_is_named(run_module):
    port = closed_port()
    result = run_module(MODULE, winrm_args(port), verbosity=3)
    assert result["failed"]
    assert result["msg"].startswith("cannot reach WinRM on http://127.0.0.1:%d/wsman: connection refused" % port)
    assert PASSWORD not in run_module.last_output


def test_wrong_credentials_are_named(run_module, ntlm_endpoint):
    port = ntlm_endpoint.port
    result = run_module(MODULE, winrm_args(port, winrm_password=WRONG), verbosity=3)
    assert result["failed"]
    assert result["msg"].startswith("WinRM on http://127.0.0.1:%d/wsman rejected the credentials of %s "
                                    "(transport ntlm, HTTP 401)" % (port, USER)), result["msg"]
    assert ntlm_endpoint.rejected >= 1 and ntlm_endpoint.accepted == 0
    assert WRONG not in run_module.last_output


def test_right_credentials_pass_authentication(run_module, ntlm_endpoint):
    """The same endpoint accepts the right password, which proves the 401
    above is about the password; it then answers 500, as it is no WinRM."""
    port = ntlm_endpoint.port
    result = run_module(MODULE, winrm_args(port), verbosity=3)
    assert result["failed"] and ntlm_endpoint.accepted >= 1, result
    assert "answered HTTP 500" in result["msg"], result["msg"]
    # Over HTTP, NTLM's session key encrypts the messages (winrm_message_encryption=auto).
    assert ntlm_endpoint.clients == [dict(scheme="http", transport="ntlm", user=USER, encrypted=True)]
    assert PASSWORD not in run_module.last_output


def test_password_from_the_environment_is_not_shown_either(run_module):
    port = closed_port()
    args = winrm_args(port)
    # The credentials come whole from the environment (none given as options).
    for option in ("winrm_username", "winrm_password", "winrm_transport"):
        del args[option]
    result = run_module(MODULE, args, verbosity=3, env=dict(
        SQLAUTH_WINRM_USERNAME=USER, SQLAUTH_WINRM_PASSWORD=PASSWORD, SQLAUTH_WINRM_TRANSPORT="ntlm"))
    assert result["failed"] and "connection refused" in result["msg"]
    assert PASSWORD not in run_module.last_output


def test_ntlm_needs_a_password(run_module):
    """Not the environment's either: it is the password of another account
    than the one given."""
    args = winrm_args(closed_port())
    del args["winrm_password"]
    result = run_module(MODULE, args, env=dict(SQLAUTH_WINRM_PASSWORD=PASSWORD))
    assert result["failed"] and "WinRM transport ntlm needs winrm_username and winrm_password" in result["msg"]
