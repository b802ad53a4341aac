# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WinRM primitive: what is sent (the fixed script, data only as a
base64 JSON argument), how pywinrm is set up, and how failures read.
pywinrm's Protocol is replaced by fakes (SIMULATED Windows where a host is
needed); real connections are tested in tests/integration_lab. Only the
error translation needs pywinrm itself (skipped without it)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _winrm
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_static_port import (
    StaticPortError,
    static_port_windows,
    validate_static_port,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import (
    COMPACT_SCRIPT,
    REMOTE_SCRIPT,
    WindowsHost,
    WinrmError,
    clixml_message,
    powershell_arguments,
    powershell_script,
    with_environment,
)
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.simulated_windows import SimulatedWindows

HOST = "sql1.corp.example.com"
EVIL = "X'; Remove-Item C:\\ -Recurse; '"
CONNECTION = dict(winrm_host=HOST, winrm_username="CORP\\sqladmin", winrm_password="S3cret!pw")


def sent_script(arguments):
    return base64.b64decode(arguments[-1]).decode("utf-16-le")


def test_data_reaches_the_script_only_as_base64_json():
    operations = [dict(op="read", key="SOFTWARE\\" + EVIL, depth=1), dict(op="service", name=EVIL)]
    arguments = powershell_arguments(operations)
    assert arguments[:-1] == ["-NoProfile", "-NonInteractive", "-EncodedCommand"]
    script = sent_script(arguments)
    match = re.match(r"\A& \{\n(.*)\n\} '([A-Za-z0-9+/]*={0,2})'\Z", script, re.DOTALL)
    assert match and match.group(1) == COMPACT_SCRIPT
    assert EVIL not in script and "Remove-Item" not in script
    assert json.loads(base64.b64decode(match.group(2)))["operations"] == operations
    with pytest.raises(ValueError):
        powershell_script("abc'; calc; '")


def test_simulated_host_data_flowing_back_is_still_only_json():
    """SIMULATED: the remote registry names an instance id with quotes and
    a command; the next batch carries it as JSON, never as script text."""
    sim = SimulatedWindows(HOST)
    sim.add_instance("SALES", instance_id="MSSQL16.SALES" + EVIL)
    request = validate_static_port(dict(platform="windows", winrm_host=HOST, instances=[dict(instance="SALES", port=1533)]))
    result = static_port_windows(WindowsHost(CONNECTION, sim.protocol_factory), request, check_mode=False)
    assert result["instances"][0]["instance_id"] == "MSSQL16.SALES" + EVIL
    assert len(sim.commands) == 3
    for command in sim.commands:
        assert EVIL not in command["script"]
        assert command["script"].startswith("& {\n" + COMPACT_SCRIPT + "\n} '")
    assert any(EVIL in operation.get("key", "") for command in sim.commands[1:]
               for operation in command["batch"]["operations"])


def powershell_grammar():
    """tests/lab/powershell_grammar.py, where tree-sitter-powershell is
    installed (the project's virtualenv; ansible-test's unit venv lacks it)."""
    pytest.importorskip("tree_sitter_powershell")
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tests" / "lab"))
    import powershell_grammar as grammar
    return grammar


def test_the_script_has_no_placeholder_and_parses_with_a_powershell_grammar():
    assert "{" + "0}" not in REMOTE_SCRIPT and "%s" not in REMOTE_SCRIPT
    grammar = powershell_grammar()
    for text in (REMOTE_SCRIPT, powershell_script(base64.b64encode(b'{"operations":[]}').decode())):
        assert grammar.syntax_problems(text) == []


def test_the_grammar_check_catches_a_broken_script():
    """Control: tree-sitter never raises, so the check must see ERROR and MISSING nodes."""
    grammar = powershell_grammar()
    broken = REMOTE_SCRIPT.replace("function Read-Key($Key, [int]$Depth) {", "function Read-Key($Key, [int]$Depth {", 1)
    assert broken != REMOTE_SCRIPT
    assert grammar.syntax_problems(broken)


def test_protocol_settings():
    seen = []
    host = WindowsHost(dict(CONNECTION, winrm_scheme="https", winrm_ca_cert="/ca.pem", winrm_connection_timeout=60),
                       protocol_factory=lambda **options: seen.append(options))
    with pytest.raises(WinrmError):
        host.run([])  # the fake returns None: the call fails, after building the protocol
    options = seen[0]
    assert options["endpoint"] == "https://sql1.corp.example.com:5986/wsman"
    assert options["transport"] == "ntlm" and options["username"] == "CORP\\sqladmin"
    assert options["server_cert_validation"] == "validate" and options["ca_trust_path"] == "/ca.pem"
    assert options["message_encryption"] == "auto" and options["proxy"] is None
    assert options["read_timeout_sec"] == 60 and options["operation_timeout_sec"] == 20
    assert options["cert_pem"] is None and options["cert_key_pem"] is None


def test_protocol_settings_of_the_certificate_transport():
    seen = []
    host = WindowsHost(dict(winrm_host=HOST, winrm_scheme="https", winrm_cert_pem="/keys/a.pem",
                            winrm_cert_key_pem="/keys/a.key"),
                       protocol_factory=lambda **options: seen.append(options))
    with pytest.raises(WinrmError):
        host.run([])
    assert seen[0]["transport"] == "certificate"
    assert (seen[0]["cert_pem"], seen[0]["cert_key_pem"]) == ("/keys/a.pem", "/keys/a.key")
    assert seen[0]["username"] is None and seen[0]["password"] is None


def test_an_empty_option_is_unset():
    """An AWX credential sets each of its SQLAUTH_WINRM_* variables, empty
    when its field is: an empty user must not name a Kerberos principal, an
    empty CA file must not replace the trusted CA store."""
    seen = []
    host = WindowsHost(dict(winrm_host=HOST, winrm_scheme="https", winrm_transport="kerberos", winrm_username="",
                            winrm_password="", winrm_ca_cert="", winrm_cert_pem="", winrm_cert_key_pem=""),
                       protocol_factory=lambda **options: seen.append(options))
    with pytest.raises(WinrmError):
        host.run([])
    assert seen[0]["transport"] == "kerberos" and seen[0]["server_cert_validation"] == "validate"
    assert [seen[0][name] for name in ("username", "password", "ca_trust_path", "cert_pem", "cert_key_pem")] == [None] * 5


@pytest.mark.parametrize("options, expected", [
    (dict(winrm_host=HOST), ("kerberos", "http://sql1.corp.example.com:5985/wsman")),
    (dict(winrm_host="fe80::1", winrm_port=15985, winrm_transport="kerberos"), ("kerberos", "http://[fe80::1]:15985/wsman")),
    (dict(CONNECTION, winrm_transport="credssp"), ("credssp", "http://sql1.corp.example.com:5985/wsman")),
    (dict(CONNECTION, winrm_transport="basic", winrm_scheme="https"), ("basic", "https://sql1.corp.example.com:5986/wsman")),
    (dict(winrm_host=HOST, winrm_scheme="https", winrm_cert_pem="/a.pem", winrm_cert_key_pem="/a.key"),
     ("certificate", "https://sql1.corp.example.com:5986/wsman")),
])
def test_transport_and_url(options, expected):
    host = WindowsHost(options, protocol_factory=object)
    assert (host.settings["transport"], host.url) == expected


@pytest.mark.parametrize("options, message", [
    (dict(), "no WinRM host given"),
    (dict(winrm_host="sql1/wsman"), "is not a host name"),
    (dict(winrm_host=HOST, winrm_transport="ntlm", winrm_username="CORP\\a"), "needs winrm_username and winrm_password"),
    (dict(CONNECTION, winrm_connection_timeout=1), "at least 2 seconds"),
    (dict(CONNECTION, winrm_port=70000), "is not a TCP port number"),
    (dict(winrm_host=HOST, winrm_transport="basic", winrm_scheme="https", winrm_username="a"),
     "WinRM transport basic needs winrm_username and winrm_password"),
    (dict(CONNECTION, winrm_transport="basic"),
     "WinRM transport basic does not encrypt the messages, and the password or certificate would cross the network "
     "readable: use it with winrm_scheme=https"),
    (dict(winrm_host=HOST, winrm_transport="certificate", winrm_scheme="https", winrm_cert_pem="/a.pem"),
     "WinRM transport certificate needs winrm_cert_pem and winrm_cert_key_pem"),
    (dict(winrm_host=HOST, winrm_cert_pem="/a.pem", winrm_cert_key_pem="/a.key"),
     "WinRM transport certificate does not encrypt the messages"),
    (dict(CONNECTION, winrm_transport="basic", winrm_scheme="https", winrm_message_encryption="always"),
     "WinRM transport basic cannot encrypt the messages \\(winrm_message_encryption=always\\)"),
])
def test_bad_options(options, message):
    with pytest.raises(WinrmError, match=message):
        WindowsHost(options, protocol_factory=object)


class RaisingProtocol:
    def __init__(self, error):
        self.error = error

    def __call__(self, **options):
        return self

    def open_shell(self, **kwargs):
        raise self.error


def pywinrm_error(name, *args):
    """An exception of pywinrm or requests, by name."""
    pytest.importorskip("winrm")
    import requests.exceptions  # pylint: disable=import-outside-toplevel
    from winrm import exceptions  # pylint: disable=import-outside-toplevel
    error_class = getattr(exceptions, name, None) or getattr(requests.exceptions, name)
    return error_class(*args)


@pytest.mark.parametrize("error, message", [
    (("InvalidCredentialsError", "the specified credentials were rejected by the server"),
     "WinRM on http://sql1.corp.example.com:5985/wsman rejected the credentials of CORP\\sqladmin (transport ntlm, "
     "HTTP 401)"),
    (("ConnectionError", "HTTPConnectionPool: Max retries exceeded ([Errno 111] Connection refused)"),
     "cannot reach WinRM on http://sql1.corp.example.com:5985/wsman: connection refused"),
    (("ConnectionError", "Failed to resolve 'sql1' ([Errno -2] Name or service not known)"),
     "the name sql1.corp.example.com does not resolve"),
    (("SSLError", "certificate verify failed: unable to get local issuer certificate"),
     "TLS failed, the host's certificate is not trusted"),
    (("ReadTimeout", "read timed out"), "did not answer within 30 seconds"),
    (("WinRMTransportError", "http", 500, ""), "answered HTTP 500"),
])
def test_connection_failures_read_clearly_without_the_password(error, message):
    host = WindowsHost(CONNECTION, protocol_factory=RaisingProtocol(pywinrm_error(*error)))
    with pytest.raises(WinrmError) as raised:
        host.run([dict(op="service", name="MSSQLSERVER")])
    assert message in str(raised.value)
    assert "S3cret!pw" not in str(raised.value)


CERTIFICATE = dict(winrm_host=HOST, winrm_scheme="https", winrm_cert_pem="/keys/a.pem", winrm_cert_key_pem="/keys/a.key")


@pytest.mark.parametrize("error, message", [
    (("InvalidCredentialsError", "the specified credentials were rejected by the server"),
     "WinRM on https://sql1.corp.example.com:5986/wsman rejected the client certificate /keys/a.pem (transport "
     "certificate, HTTP 401): check that the host maps it to an account"),
    (("InvalidCredentialsError", "cert_pem file not found (/keys/a.pem)"),
     "WinRM on https://sql1.corp.example.com:5986/wsman: cert_pem file not found (/keys/a.pem); set winrm_cert_pem "
     "and winrm_cert_key_pem to readable PEM files on the controller"),
])
def test_certificate_failures_read_clearly(error, message):
    host = WindowsHost(CERTIFICATE, protocol_factory=RaisingProtocol(pywinrm_error(*error)))
    with pytest.raises(WinrmError) as raised:
        host.run([dict(op="service", name="MSSQLSERVER")])
    assert message in str(raised.value)


@pytest.mark.parametrize("transport, flag, package", [
    ("kerberos", "HAVE_KERBEROS", "pykerberos"),
    ("credssp", "HAVE_CREDSSP", "requests-credssp"),
])
def test_a_missing_transport_library_names_the_pywinrm_extra(monkeypatch, transport, flag, package):
    pytest.importorskip("winrm")
    monkeypatch.setattr(_winrm.winrm_transport, flag, False)
    with pytest.raises(WinrmError, match=re.escape("WinRM transport %s needs the %s Python package on the "
                                                   "controller (pip install 'pywinrm[%s]')" % (transport, package,
                                                                                               transport))):
        WindowsHost(dict(CONNECTION, winrm_transport=transport))


def test_unexpected_failures_name_their_type():
    host = WindowsHost(CONNECTION, protocol_factory=RaisingProtocol(RuntimeError("boom")))
    with pytest.raises(WinrmError, match="failed: RuntimeError: boom"):
        host.run([dict(op="service", name="MSSQLSERVER")])


class OutputProtocol:
    def __init__(self, stdout, stderr=b"", code=0):
        self.output = (stdout, stderr, code)

    def __call__(self, **options):
        return self

    def open_shell(self, **kwargs):
        return "s"

    def run_command(self, *args, **kwargs):
        return "c"

    def get_command_output(self, shell_id, command_id):
        return self.output

    def cleanup_command(self, *args):
        return None

    def close_shell(self, *args):
        return None


def test_powershell_failure_shows_its_error_text():
    clixml = (b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
              b'<S S="Error">Access is denied. &lt;here&gt;_x000D__x000A_</S>'
              b'<S S="Error">At line:1 char:1_x000D__x000A_</S></Objs>')
    host = WindowsHost(CONNECTION, protocol_factory=OutputProtocol(b"", clixml, 1))
    with pytest.raises(WinrmError) as raised:
        host.run([dict(op="service", name="MSSQLSERVER")])
    assert str(raised.value) == ("the PowerShell command on sql1.corp.example.com failed (exit code 1): "
                                 "Access is denied. <here>\nAt line:1 char:1")
    assert clixml_message(b"plain text\n") == "plain text"


def test_large_batches_are_split_in_order(monkeypatch):
    sim = SimulatedWindows(HOST)
    sim.set_key("SOFTWARE\\Test", Value="x")
    monkeypatch.setattr(_winrm, "MAX_COMMAND_LINE", 13000)
    operations = [dict(op="read", key="SOFTWARE\\Test", depth=0)] * 40
    results = WindowsHost(CONNECTION, sim.protocol_factory).run(operations)
    assert len(results) == 40 and all(r["values"]["Value"]["data"] == "x" for r in results)
    assert len(sim.commands) > 1
    # A failed operation ends the batch: later parts are not sent.
    sim.commands.clear()
    failing = [dict(op="write", key="SOFTWARE\\Missing", values={"a": dict(kind="String", data="b")})] + operations
    results = WindowsHost(CONNECTION, sim.protocol_factory).run(failing)
    assert results == [dict(error="registry key not found")] and len(sim.commands) == 1


def test_errors_after_reading_name_the_operation():
    sim = SimulatedWindows(HOST)
    sim.add_instance("SALES")
    del sim.services["mssql$sales"]
    request = validate_static_port(dict(platform="windows", winrm_host=HOST, restart=True,
                                        instances=[dict(instance="SALES", port=1533)]))
    result = static_port_windows(WindowsHost(CONNECTION, sim.protocol_factory), request, check_mode=False)
    assert any("service MSSQL$SALES not found" in warning for warning in result["warnings"])
    assert not result["instances"][0]["restarted"]
    with pytest.raises(StaticPortError):
        validate_static_port(dict(platform="windows", instances=[dict(port=1)]))


# -- SQLAUTH_WINRM_* by group -------------------------------------------------------------

ENVIRONMENT = dict(SQLAUTH_WINRM_USERNAME="CORP\\env", SQLAUTH_WINRM_PASSWORD="env-pw", SQLAUTH_WINRM_TRANSPORT="ntlm",
                   SQLAUTH_WINRM_PORT="15986", SQLAUTH_WINRM_SCHEME="https", SQLAUTH_WINRM_CERT_VALIDATION="ignore",
                   SQLAUTH_WINRM_CA_CERT="/etc/pki/env-ca.pem")


def test_the_environment_fills_the_groups_no_option_sets():
    options, secrets = with_environment(dict(winrm_host=HOST), ENVIRONMENT)
    assert options == dict(winrm_host=HOST, winrm_username="CORP\\env", winrm_password="env-pw", winrm_transport="ntlm",
                           winrm_port=15986, winrm_scheme="https", winrm_cert_validation="ignore",
                           winrm_ca_cert="/etc/pki/env-ca.pem")
    assert secrets == ["env-pw"]


def test_a_user_given_takes_no_password_from_the_environment():
    """The environment's password belongs to the environment's user."""
    options, secrets = with_environment(dict(winrm_host=HOST, winrm_username="CORP\\given", winrm_password=None),
                                        ENVIRONMENT)
    assert options["winrm_username"] == "CORP\\given" and options["winrm_password"] is None
    assert "winrm_transport" not in options and secrets == []
    with pytest.raises(WinrmError, match="WinRM transport ntlm needs winrm_username and winrm_password .*read only "
                                         "when no option of the credentials is set"):
        WindowsHost(dict(options, winrm_transport="ntlm"), protocol_factory=object)


def test_an_endpoint_given_takes_no_scheme_nor_validation_from_the_environment_but_the_ca():
    """cert_validation=ignore from the environment never reaches an
    endpoint given; the CA, which weakens no check, does."""
    options, _secrets = with_environment(dict(winrm_host=HOST, winrm_port=5985, winrm_transport="kerberos"),
                                         ENVIRONMENT)
    assert options == dict(winrm_host=HOST, winrm_port=5985, winrm_transport="kerberos",
                           winrm_ca_cert="/etc/pki/env-ca.pem")
    options, _secrets = with_environment(dict(winrm_host=HOST, winrm_ca_cert="/own.pem"), ENVIRONMENT)
    assert options["winrm_ca_cert"] == "/own.pem" and options["winrm_cert_validation"] == "ignore"


def test_empty_environment_variables_are_unset_and_bad_ones_named():
    options, _secrets = with_environment(dict(winrm_host=HOST), dict(SQLAUTH_WINRM_USERNAME="", SQLAUTH_WINRM_PORT=""))
    assert options == dict(winrm_host=HOST)
    with pytest.raises(WinrmError, match="the environment variables SQLAUTH_WINRM_PORT, SQLAUTH_WINRM_SCHEME: .*winrm_scheme "
                                         "must be one of: http, https, got: ftp"):
        with_environment(dict(winrm_host=HOST), dict(SQLAUTH_WINRM_PORT="1", SQLAUTH_WINRM_SCHEME="ftp"))
