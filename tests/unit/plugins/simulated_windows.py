# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIMULATED Windows host for unit tests: no Windows, no WinRM, no PowerShell.

It stands where pywinrm's Protocol stands. Everything on the Python side is
the real code (building the powershell.exe command, the batch, decoding the
output, every decision). What is simulated is what powershell.exe would do
with the command: SimulatedWindows decodes it exactly as PowerShell would
(-EncodedCommand is base64 of UTF-16LE), checks that the script is the
fixed REMOTE_SCRIPT with nothing but a base64 argument added, and carries
out the batch's operations on an in-memory HKLM registry and service table,
with the semantics REMOTE_SCRIPT implements; then it answers with the output
REMOTE_SCRIPT prints (base64 of UTF-8 JSON).

A simulated SQL Server service, when (re)started, listens on the ports its
registry settings give, as the real one does; so "the instance listens on
the new port after the restart" is a consequence, not a scripted answer.
"""
from __future__ import annotations

import base64
import itertools
import json
import re

from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import (
    COMPACT_SCRIPT,
    POWERSHELL,
    POWERSHELL_OPTIONS,
)

SQL_ROOT = r"SOFTWARE\Microsoft\Microsoft SQL Server"
TIMEOUT_MESSAGE = "Time out has expired and the operation has not been completed."
_SCRIPT = re.compile(r"\A& \{\n(?P<body>.*)\n\} '(?P<batch>[A-Za-z0-9+/]*={0,2})'\Z", re.DOTALL)


class SimulatedService:
    def __init__(self, name, status="Running", dependents=(), instance_key=None, fails_to_start=False):
        self.name = name
        self.status = status
        self.dependents = list(dependents)   # names of services depending on this one
        self.instance_key = instance_key     # the Tcp key a SQL Server service reads at start
        self.fails_to_start = fails_to_start
        self.listening = []
        self.restarts = 0


class SimulatedWindows:
    """An in-memory HKLM and service table behind a fake pywinrm Protocol."""

    def __init__(self, name="sql1.corp.example.com"):
        self.name = name
        self._keys = {}          # lower-case path -> (path, {value name: {"kind", "data"}})
        self.services = {}       # lower-case name -> SimulatedService
        self.commands = []       # every command received: dict(command, arguments, script, batch, skip_cmd_shell)
        self.protocol_options = []
        self.read_only_keys = set()  # lower-case paths whose writes are denied
        self._dynamic = itertools.count(49701)

    # -- building the host ------------------------------------------------------

    def set_key(self, path, **values):
        """Create a key (and its parents) with values given as name=data;
        int data is a DWord, str data a String."""
        parts = path.split("\\")
        for depth in range(1, len(parts) + 1):
            partial = "\\".join(parts[:depth])
            self._keys.setdefault(partial.lower(), (partial, {}))
        stored = self._keys[path.lower()][1]
        for name, data in values.items():
            stored[name] = dict(kind="DWord" if isinstance(data, int) else "String", data=data)
        return path

    def values(self, path):
        return {name: value["data"] for name, value in self._keys[path.lower()][1].items()}

    def add_instance(self, name, instance_id=None, enabled=1, listen_all=1, ipall=None, ips=None, status="Running",
                     dependents=(), root=SQL_ROOT, fails_to_start=False):
        """A Database Engine instance as SQL Server setup leaves it. ``ipall``
        and each of ``ips`` (IP1, IP2, ...) are dicts of TcpPort,
        TcpDynamicPorts, Enabled, IpAddress, Active."""
        instance_id = instance_id or "MSSQL16.%s" % name
        self.set_key(root + r"\Instance Names\SQL", **{name: instance_id})
        tcp = self.set_key(r"%s\%s\MSSQLServer\SuperSocketNetLib\Tcp" % (root, instance_id),
                           Enabled=enabled, ListenOnAllIPs=listen_all, KeepAlive=30000)
        self.set_key(tcp + r"\IPAll", **(ipall if ipall is not None else dict(TcpPort="", TcpDynamicPorts="0")))
        for number, settings in enumerate(ips or [], 1):
            self.set_key(tcp + r"\IP%d" % number, **settings)
        service_name = "MSSQLSERVER" if name == "MSSQLSERVER" else "MSSQL$%s" % name
        service = SimulatedService(service_name, status, dependents, tcp, fails_to_start)
        self.services[service_name.lower()] = service
        for dependent in dependents:
            self.services.setdefault(dependent.lower(), SimulatedService(dependent, status))
        if status == "Running":
            self._listen(service)
        return tcp

    def tcp_key(self, name, root=SQL_ROOT):
        instance_id = self.values(root + r"\Instance Names\SQL")[name]
        return r"%s\%s\MSSQLServer\SuperSocketNetLib\Tcp" % (root, instance_id)

    def _listen(self, service):
        """What SQL Server listens on at start, from its registry settings."""
        if service.instance_key is None:
            return
        tcp = self.values(service.instance_key)
        service.listening = []
        if not tcp.get("Enabled"):
            return
        names = ["IPAll"] if tcp.get("ListenOnAllIPs", 1) else sorted(
            path.rsplit("\\", 1)[1] for path, dummy in self._keys.values()
            if path.lower().startswith(service.instance_key.lower() + "\\ip") and not path.lower().endswith("ipall"))
        ports = set()
        for name in names:
            values = self.values(service.instance_key + "\\" + name)
            if name != "IPAll" and not values.get("Enabled"):
                continue
            ports.update(int(p) for p in str(values.get("TcpPort", "")).split(",") if p.strip().isdigit())
            dynamic = str(values.get("TcpDynamicPorts", "")).strip()
            if dynamic == "0":
                assigned = next(self._dynamic)
                # SQL Server records the dynamic port it was given.
                self._keys[(service.instance_key + "\\" + name).lower()][1]["TcpDynamicPorts"]["data"] = str(assigned)
                ports.add(assigned)
            elif dynamic.isdigit():
                ports.add(int(dynamic))
        service.listening = sorted(ports)

    # -- the fake pywinrm Protocol ---------------------------------------------------

    def protocol_factory(self, **options):
        self.protocol_options.append(options)
        return _FakeProtocol(self)

    def receive(self, command, arguments, skip_cmd_shell):
        """What powershell.exe would do with the command line; returns stdout."""
        assert command == POWERSHELL, command
        assert skip_cmd_shell is True
        assert list(arguments[:-1]) == list(POWERSHELL_OPTIONS), arguments
        script = base64.b64decode(arguments[-1]).decode("utf-16-le")
        match = _SCRIPT.match(script)
        assert match, "the script is not the fixed primitive with a base64 argument"
        assert match.group("body") == COMPACT_SCRIPT, "the script text differs from REMOTE_SCRIPT"
        batch = json.loads(base64.b64decode(match.group("batch")).decode("utf-8"))
        self.commands.append(dict(command=command, arguments=list(arguments), script=script, batch=batch))
        results = []
        for operation in batch["operations"]:
            try:
                result = getattr(self, "_op_" + operation["op"])(operation)
            except _OperationFailed as error:
                results.append(dict(error=str(error)))
                break
            results.append(result)
        output = json.dumps(dict(results=results)).encode("utf-8")
        return base64.b64encode(output)

    # -- REMOTE_SCRIPT's operations, simulated ------------------------------------------

    def _read(self, path, depth):
        stored = self._keys.get(path.lower())
        if stored is None:
            return dict(exists=False)
        prefix = path.lower() + "\\"
        children = sorted({full[len(prefix):].split("\\")[0] for full in self._keys if full.startswith(prefix)})
        subkeys = {}
        for child in children:
            child_path = self._keys[(prefix + child).lower()][0]
            subkeys[child_path.rsplit("\\", 1)[1]] = self._read(child_path, depth - 1) if depth > 0 else None
        return dict(exists=True, values={name: dict(value) for name, value in stored[1].items()}, subkeys=subkeys)

    def _op_read(self, operation):
        return self._read(operation["key"], min(int(operation.get("depth") or 0), 2))

    def _op_write(self, operation):
        stored = self._keys.get(operation["key"].lower())
        if stored is None:
            raise _OperationFailed("registry key not found")
        if operation["key"].lower() in self.read_only_keys:
            raise _OperationFailed("Requested registry access is not allowed.")
        for name, value in operation["values"].items():
            if value["kind"] not in ("DWord", "String"):
                raise _OperationFailed("unsupported value kind")
            data = int(value["data"]) if value["kind"] == "DWord" else str(value["data"])
            stored[1][name] = dict(kind=value["kind"], data=data)
        return dict(written=True)

    def _state(self, service):
        return dict(exists=True, status=service.status, listening=list(service.listening) if service.status == "Running"
                    else None,
                    dependents=[dict(name=self.services[d.lower()].name, status=self.services[d.lower()].status)
                                for d in service.dependents])

    def _op_service(self, operation):
        service = self.services.get(operation["name"].lower())
        return self._state(service) if service else dict(exists=False)

    def _op_restart(self, operation):
        service = self.services.get(operation["name"].lower())
        if service is None:
            raise _OperationFailed("service not found")
        for dependent in service.dependents:   # ServiceController.Stop stops dependents first
            self.services[dependent.lower()].status = "Stopped"
        service.status = "Stopped"
        service.listening = []
        return self._op_start(operation)

    def _op_start(self, operation):
        service = self.services.get(operation["name"].lower())
        if service is None:
            raise _OperationFailed("service not found")
        if service.status != "Running":
            if service.fails_to_start:
                service.status = "StartPending"
                raise _OperationFailed(TIMEOUT_MESSAGE)
            service.status = "Running"
            service.restarts += 1
            self._listen(service)
        return self._state(service)


class _OperationFailed(Exception):
    pass


class _FakeProtocol:
    """pywinrm's Protocol surface that _winrm.WindowsHost uses."""

    def __init__(self, host):
        self.host = host
        self._output = {}

    def open_shell(self, codepage=437, noprofile=False):
        assert codepage == 65001 and noprofile
        return "shell-1"

    def run_command(self, shell_id, command, arguments=(), console_mode_stdin=True, skip_cmd_shell=False):
        self._output["command-1"] = self.host.receive(command, list(arguments), skip_cmd_shell)
        return "command-1"

    def get_command_output(self, shell_id, command_id):
        return self._output[command_id], b"", 0

    def cleanup_command(self, shell_id, command_id):
        self._output.pop(command_id, None)

    def close_shell(self, shell_id, close_session=True):
        return None
