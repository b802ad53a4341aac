# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WinRM to a Windows host, reduced to one small, generic primitive.

The remote side is REMOTE_SCRIPT (_windows_script.py), a fixed PowerShell script that takes
one JSON document, a batch of operations, and prints one JSON document, the
result of each. Operations are generic: read the values (and subkeys) of a
registry key under HKLM, write given values to an existing key, get a
service's state, restart or start a service and wait until it runs. Every
decision is made in Python; the script knows nothing of SQL Server.

The batch reaches the script only as a base64 string argument (its alphabet
cannot close the quotes around it), so no value is ever part of the script
text: an instance name like ``X'; Remove-Item C:\\ -Recurse; '`` is data.

pywinrm opens a shell per command and starts powershell.exe with the script
on its command line, so the script is small and each call carries a whole
batch: a module makes a few calls per host, not one per value.

Options follow the ``winrm_`` names of the ``sqlauth.kerberos.winrm_connection``
doc fragment; change both together.
"""
from __future__ import annotations

import base64
import json
import re
import traceback
from xml.sax.saxutils import unescape

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

try:
    import requests.exceptions
    from winrm import transport as winrm_transport
    from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError, WSManFaultError
    from winrm.protocol import Protocol
except ImportError:
    WINRM_IMPORT_ERROR = traceback.format_exc()
    Protocol = None
else:
    WINRM_IMPORT_ERROR = None

TRANSPORTS = ("ntlm", "kerberos", "credssp", "basic", "certificate")
# The transports whose authentication also encrypts the messages; the others
# rely on TLS alone, so they are refused over HTTP.
ENCRYPTING_TRANSPORTS = ("ntlm", "kerberos", "credssp")
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 5985, "https": 5986}

# The options that only make sense together: where to connect and how to
# trust it, and who logs on and how. Each group is taken whole from one
# source: the module reads a group's SQLAUTH_WINRM_* environment variables
# only when its options set none of the group (with_environment), and the
# filter sqlauth.kerberos.winrm_connection takes each group whole from
# sqlauth_winrm or the host's Ansible connection variables. So a password is
# never sent for another source's user, nor one source's certificate
# validation setting used for another source's host.
WINRM_OPTION_GROUPS = dict(
    endpoint=("winrm_host", "winrm_port", "winrm_scheme", "winrm_cert_validation", "winrm_ca_cert",
              "winrm_message_encryption"),
    credentials=("winrm_transport", "winrm_username", "winrm_password", "winrm_cert_pem", "winrm_cert_key_pem"),
)
# The environment variable of each option of a group; winrm_host has none,
# since it names one host (and so does not count as setting the endpoint).
WINRM_ENVIRONMENT = {option: "SQLAUTH_WINRM_" + option[len("winrm_"):].upper()
                     for group in WINRM_OPTION_GROUPS.values() for option in group if option != "winrm_host"}
# The groups in which the module reads those variables: the CA to trust
# stands alone there, since a CA file adds a trust anchor and weakens no
# check, so the job's CA (an AWX credential's) serves every host whose
# options name none.
WINRM_ENVIRONMENT_GROUPS = (
    tuple(option for option in WINRM_OPTION_GROUPS["endpoint"] if option in WINRM_ENVIRONMENT and option != "winrm_ca_cert"),
    ("winrm_ca_cert",),
    WINRM_OPTION_GROUPS["credentials"],
)

# The grouped options have no argument spec default (their defaults are
# applied in _validate_options and WindowsHost), so that an option left out
# is told from one given.
WINRM_CONNECTION_ARGUMENT_SPEC = dict(
    winrm_host=dict(type="str"),
    winrm_port=dict(type="int"),
    winrm_scheme=dict(type="str", choices=list(SCHEMES)),
    winrm_transport=dict(type="str", choices=list(TRANSPORTS)),
    winrm_message_encryption=dict(type="str", choices=["auto", "always", "never"]),
    winrm_cert_validation=dict(type="str", choices=["validate", "ignore"]),
    winrm_ca_cert=dict(type="path"),
    winrm_cert_pem=dict(type="path"),
    # A file name, not the key itself.
    winrm_cert_key_pem=dict(type="path", no_log=False),
    winrm_username=dict(type="str"),
    winrm_password=dict(type="str", no_log=True),
    winrm_connection_timeout=dict(type="int", default=30, fallback=(env_fallback, ["SQLAUTH_WINRM_CONNECTION_TIMEOUT"])),
)

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._windows_script import REMOTE_SCRIPT


# powershell.exe runs without cmd.exe (WINRS_SKIP_CMD_SHELL), so the command
# line may hold CreateProcess' 32767 characters; keep a margin.
MAX_COMMAND_LINE = 30000
POWERSHELL = "powershell.exe"
POWERSHELL_OPTIONS = ("-NoProfile", "-NonInteractive", "-EncodedCommand")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


class WinrmError(SqlAuthError):
    """A WinRM connection or a remote batch that failed, in terms an
    administrator can act on."""


def encode_batch(operations):
    """The batch as the base64 text the remote script takes."""
    return base64.b64encode(json.dumps({"operations": operations}, separators=(",", ":")).encode("utf-8")).decode("ascii")


# What is sent: the same script without indentation (PowerShell does not
# need it, and the command line is limited).
COMPACT_SCRIPT = "\n".join(line.strip() for line in REMOTE_SCRIPT.splitlines())


def powershell_script(batch_base64):
    """The script text sent: the fixed primitive invoked with the batch as
    its single-quoted argument. Only base64 characters are ever added."""
    if not _BASE64.match(batch_base64):
        raise ValueError("the batch must be base64 text")
    return "& {\n%s\n} '%s'" % (COMPACT_SCRIPT, batch_base64)


def powershell_arguments(operations):
    """The powershell.exe arguments that run a batch."""
    script = powershell_script(encode_batch(operations))
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    return list(POWERSHELL_OPTIONS) + [encoded]


def decode_output(stdout):
    """The results list from the script's output (base64 of JSON)."""
    text = stdout.decode("ascii", errors="replace").strip()
    document = json.loads(base64.b64decode(text.splitlines()[-1], validate=True).decode("utf-8"))
    return document["results"]


def clixml_message(stderr):
    """The error text of PowerShell's CLIXML error stream, or the raw text."""
    text = stderr.decode("utf-8", errors="replace")
    if "#< CLIXML" not in text:
        return text.strip()
    parts = re.findall(r'<S S="Error">(.*?)</S>', text, flags=re.DOTALL)
    message = "".join(unescape(part) for part in parts).replace("_x000D__x000A_", "\n")
    return re.sub(r"\s+\n", "\n", message).strip()


def is_set(value):
    """An empty option is unset (an AWX credential sets each of its
    SQLAUTH_WINRM_* variables, empty for a field left empty): pywinrm would
    take "" as a Kerberos principal or a CA file."""
    return value is not None and value != ""


def with_environment(params, environ):
    """The WinRM options: ``params``, and for each of
    WINRM_ENVIRONMENT_GROUPS of which ``params`` set no option, the group's
    SQLAUTH_WINRM_* variables in ``environ``, typed and checked as the
    options are. Returns the options and the secrets read (for no_log);
    raises WinrmError naming a variable with a bad value."""
    options = dict(params)
    secrets = []
    for group in WINRM_ENVIRONMENT_GROUPS:
        variables = {option: WINRM_ENVIRONMENT[option] for option in group}
        if any(is_set(params.get(option)) for option in variables):
            continue
        read = {option: environ[name] for option, name in variables.items() if is_set(environ.get(name))}
        if not read:
            continue
        result = ArgumentSpecValidator({option: WINRM_CONNECTION_ARGUMENT_SPEC[option] for option in read}).validate(read)
        if result.error_messages:
            raise WinrmError("the environment variables %s: %s" % (
                ", ".join(variables[option] for option in read), "; ".join(result.error_messages)))
        options.update(result.validated_parameters)
        secrets.extend(value for option, value in read.items() if WINRM_CONNECTION_ARGUMENT_SPEC[option].get("no_log"))
    return options, secrets


def _validate_options(options):
    host = options.get("winrm_host")
    if not host:
        raise WinrmError("no WinRM host given: set winrm_host to the Windows host's DNS name")
    if any(c.isspace() or c in "/@?#" for c in host):
        raise WinrmError("winrm_host %r is not a host name" % host)
    scheme = options.get("winrm_scheme") or "http"
    port = options.get("winrm_port") or DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        raise WinrmError("winrm_port %d is not a TCP port number (1-65535)" % port)
    transport = options.get("winrm_transport") or default_transport(options)
    if transport in ("ntlm", "credssp", "basic") and not (options.get("winrm_username") and options.get("winrm_password")):
        raise WinrmError("WinRM transport %s needs winrm_username and winrm_password (or SQLAUTH_WINRM_USERNAME and "
                         "SQLAUTH_WINRM_PASSWORD, read only when no option of the credentials is set: winrm_transport, "
                         "winrm_username, winrm_password, winrm_cert_pem, winrm_cert_key_pem)" % transport)
    if transport == "certificate" and not (options.get("winrm_cert_pem") and options.get("winrm_cert_key_pem")):
        raise WinrmError("WinRM transport certificate needs winrm_cert_pem and winrm_cert_key_pem, the client "
                         "certificate and its key (PEM files)")
    if transport not in ENCRYPTING_TRANSPORTS:
        if scheme != "https":
            raise WinrmError("WinRM transport %s does not encrypt the messages, and the password or certificate "
                             "would cross the network readable: use it with winrm_scheme=https" % transport)
        if options.get("winrm_message_encryption") == "always":
            raise WinrmError("WinRM transport %s cannot encrypt the messages (winrm_message_encryption=always): "
                             "set winrm_message_encryption to auto, TLS encrypts them" % transport)
    timeout = options.get("winrm_connection_timeout") or 30
    if timeout < 2:
        raise WinrmError("winrm_connection_timeout must be at least 2 seconds")
    address = "[%s]" % host if ":" in host else host
    return dict(host=host, scheme=scheme, port=port, transport=transport, timeout=timeout,
                url="%s://%s:%d/wsman" % (scheme, address, port))


def default_transport(options):
    """The transport when none is given: NTLM with a password, the client
    certificate when one is given, Kerberos from the ticket cache otherwise."""
    if options.get("winrm_password"):
        return "ntlm"
    if options.get("winrm_cert_pem"):
        return "certificate"
    return "kerberos"


class WindowsHost:
    """One Windows host reached over WinRM; ``run(operations)`` executes a
    batch with REMOTE_SCRIPT and returns one result per operation run.

    ``protocol_factory`` builds the pywinrm Protocol (tests pass a fake)."""

    def __init__(self, options, protocol_factory=None):
        options = {name: value for name, value in options.items() if is_set(value)}
        self.settings = _validate_options(options)
        self.name = self.settings["host"]
        self.url = self.settings["url"]
        self._options = options
        self._protocol_factory = protocol_factory
        if protocol_factory is None and WINRM_IMPORT_ERROR:
            raise WinrmError("the pywinrm Python package is required on the controller for WinRM")
        if protocol_factory is None:
            _check_transport_library(self.settings["transport"])

    def _protocol(self):
        settings = self.settings
        timeout = settings["timeout"]
        kwargs = dict(
            endpoint=settings["url"],
            transport=settings["transport"],
            username=self._options.get("winrm_username"),
            password=self._options.get("winrm_password"),
            server_cert_validation=self._options.get("winrm_cert_validation") or "validate",
            ca_trust_path=self._options.get("winrm_ca_cert"),
            cert_pem=self._options.get("winrm_cert_pem"),
            cert_key_pem=self._options.get("winrm_cert_key_pem"),
            message_encryption=self._options.get("winrm_message_encryption") or "auto",
            read_timeout_sec=timeout,
            operation_timeout_sec=max(1, min(timeout - 1, 20)),
            proxy=None,
        )
        factory = self._protocol_factory or Protocol
        return factory(**kwargs)

    def run(self, operations):
        """Run a batch; returns the results, the last one carrying ``error``
        when an operation failed (the rest of the batch did not run).

        A batch too large for one command line runs as consecutive calls,
        in order, stopping at the first failed operation."""
        arguments = powershell_arguments(operations)
        length = len(POWERSHELL) + sum(len(argument) + 1 for argument in arguments)
        if length > MAX_COMMAND_LINE:
            if len(operations) == 1:
                raise WinrmError("an operation for %s is too large for a PowerShell command line (%d characters)"
                                 % (self.name, length))
            middle = len(operations) // 2
            results = self.run(operations[:middle])
            if len(results) < middle or any("error" in result for result in results):
                return results
            return results + self.run(operations[middle:])
        return self._run_once(operations, arguments)

    def _run_once(self, operations, arguments):
        stdout, stderr, code = self._execute(arguments)
        try:
            results = decode_output(stdout)
        except (ValueError, KeyError, IndexError, TypeError):
            message = clixml_message(stderr) or stdout.decode("utf-8", errors="replace").strip() or "no output"
            raise WinrmError("the PowerShell command on %s failed (exit code %s): %s" % (self.name, code, message)) from None
        if not isinstance(results, list) or len(results) > len(operations):
            raise WinrmError("the PowerShell command on %s returned an unexpected result" % self.name)
        return results

    def _execute(self, arguments):
        where = "WinRM on %s" % self.url
        try:
            protocol = self._protocol()
            shell_id = protocol.open_shell(codepage=65001, noprofile=True)
            try:
                command_id = protocol.run_command(shell_id, POWERSHELL, arguments, skip_cmd_shell=True)
                try:
                    return protocol.get_command_output(shell_id, command_id)
                finally:
                    protocol.cleanup_command(shell_id, command_id)
            finally:
                protocol.close_shell(shell_id)
        except WinrmError:
            raise
        except Exception as error:  # pylint: disable=broad-exception-caught
            raise WinrmError(self._describe(where, error)) from None

    def _describe(self, where, error):
        """A sentence for what went wrong talking to WinRM (no secrets: the
        password is never part of any of these messages)."""
        settings = self.settings
        text = str(error)
        if WINRM_IMPORT_ERROR is None:
            if isinstance(error, InvalidCredentialsError) and "file not found" in text:
                # pywinrm reads the client certificate files before connecting.
                return "%s: %s; set winrm_cert_pem and winrm_cert_key_pem to readable PEM files on the controller" % (
                    where, _first_line(text))
            if isinstance(error, InvalidCredentialsError) and settings["transport"] == "certificate":
                return "%s rejected the client certificate %s (transport certificate, HTTP 401): check that the " \
                       "host maps it to an account (a WSMan ClientCertificate entry) that may use WinRM" % (
                           where, self._options.get("winrm_cert_pem"))
            if isinstance(error, InvalidCredentialsError):
                user = self._options.get("winrm_username")
                who = "the credentials of %s" % user if user else "the Kerberos credentials"
                return "%s rejected %s (transport %s, HTTP 401): check winrm_username and winrm_password, and that " \
                       "the account may use WinRM (member of Administrators or Remote Management Users)" % (
                           where, who, settings["transport"])
            if isinstance(error, requests.exceptions.SSLError):
                return "%s: TLS failed, the host's certificate is not trusted or does not name %s (%s); set " \
                       "winrm_ca_cert to the CA that issued it" % (where, settings["host"], _first_line(text))
            if isinstance(error, requests.exceptions.Timeout):
                return "%s did not answer within %d seconds (winrm_connection_timeout)" % (where, settings["timeout"])
            if isinstance(error, requests.exceptions.ConnectionError):
                if "refused" in text.lower():
                    return "cannot reach %s: connection refused (is the WinRM service listening on port %d? " \
                           "winrm quickconfig, or check winrm_port and winrm_scheme)" % (where, settings["port"])
                if any(marker in text for marker in ("Name or service not known", "NameResolution",
                                                     "nodename nor servname", "Temporary failure in name resolution",
                                                     "No address associated")):
                    return "cannot reach %s: the name %s does not resolve" % (where, settings["host"])
                return "cannot reach %s: %s" % (where, _first_line(text))
            if isinstance(error, WSManFaultError):
                return "%s refused the command: %s" % (where, error.reason)
            if isinstance(error, WinRMTransportError):
                return "%s answered HTTP %s; is it a WinRM endpoint? (%s)" % (where, error.code, settings["scheme"])
            if isinstance(error, WinRMError):
                return "%s: %s" % (where, text)
        return "%s failed: %s: %s" % (where, type(error).__name__, _first_line(text) or "no details")


def _check_transport_library(transport):
    """Fail early, naming the pywinrm extra, when the transport's library is
    missing: pywinrm would only say so once connecting."""
    needed = {"kerberos": (winrm_transport.HAVE_KERBEROS, "pykerberos"),
              "credssp": (winrm_transport.HAVE_CREDSSP, "requests-credssp")}
    available, package = needed.get(transport, (True, None))
    if not available:
        raise WinrmError("WinRM transport %s needs the %s Python package on the controller (pip install "
                         "'pywinrm[%s]')" % (transport, package, transport))


def _first_line(text):
    return text.strip().splitlines()[0] if text.strip() else ""


def check_results(host_name, operations, results, describe):
    """Raise WinrmError naming the first failed operation, described by
    ``describe(operation)``; returns the results otherwise."""
    for operation, result in zip(operations, results):
        if "error" in result:
            raise WinrmError("on %s, %s failed: %s" % (host_name, describe(operation), result["error"]))
    if len(results) < len(operations):
        raise WinrmError("on %s, %s did not run" % (host_name, describe(operations[len(results)])))
    return results
