# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sql_static_port on Windows: the TCP/IP settings of an instance live in
the registry under HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\<InstanceId>\\
MSSQLServer\\SuperSocketNetLib\\Tcp; the instance id comes from
...\\Instance Names\\SQL. Holds the registry layout (TcpLayout, RegistryWrite),
plan_windows, and static_port_windows, which reads, writes and restarts
through the generic remote primitive of _winrm.py: every decision is made
here, the remote side only reads, writes the values decided here, and
restarts services."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import display_name
from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_plan import (
    NOTHING_WRITTEN,
    InstancePlan,
    StaticPortError,
    instance_result,
    module_result,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import WinrmError, check_results

# Both registry views: 32-bit instances on 64-bit Windows live under WOW6432Node.
SQL_SERVER_ROOTS = (r"SOFTWARE\Microsoft\Microsoft SQL Server", r"SOFTWARE\WOW6432Node\Microsoft\Microsoft SQL Server")
INSTANCE_NAMES_KEY = r"Instance Names\SQL"
TCP_SUBKEY = r"MSSQLServer\SuperSocketNetLib\Tcp"
IPALL = "IPAll"
_IP_KEY = re.compile(r"^IP(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class RegistryWrite:
    key: str       # below HKLM
    name: str
    kind: str      # String or DWord
    before: object  # None when the value does not exist
    after: object
    label: str     # e.g. Tcp\IPAll\TcpPort

    @property
    def path(self):
        return "HKLM\\%s\\%s" % (self.key, self.name)


def _data(values, name):
    value = values.get(name)
    return None if value is None else value.get("data")


def _kind(values, name):
    value = values.get(name)
    return None if value is None else value.get("kind")


def _flag(values, name, default):
    data = _data(values, name)
    try:
        return default if data is None else int(data) != 0
    except (TypeError, ValueError):
        return default


def _ports(text):
    """Port numbers of a TcpPort or TcpDynamicPorts value ("1433", "1433,1533",
    "0" = dynamic, not yet assigned, "" = none)."""
    ports = []
    for part in str(text or "").split(","):
        part = part.strip()
        if part.isdigit() and 0 < int(part) <= 65535:
            ports.append(int(part))
    return ports


class TcpLayout:
    """One instance's TCP/IP settings: the values of its Tcp key and of its
    subkeys (IPAll, IP1, IP2, ...), as a depth-1 registry read returns them."""

    def __init__(self, instance, key, read):
        self.instance = instance
        self.key = key
        self.values = read.get("values") or {}
        self.addresses = {name: (sub or {}).get("values") or {} for name, sub in (read.get("subkeys") or {}).items()}

    @property
    def enabled(self):
        return _flag(self.values, "Enabled", False)

    @property
    def listen_all(self):
        return _flag(self.values, "ListenOnAllIPs", True)

    @property
    def ipall(self):
        """IPAll's subkey name as the registry spells it, or None."""
        return next((name for name in self.addresses if name.lower() == IPALL.lower()), None)

    def ip_addresses(self):
        """The IPn subkeys in numeric order."""
        numbered = [(int(match.group(1)), name) for name, match in
                    ((name, _IP_KEY.match(name)) for name in self.addresses) if match]
        return [name for dummy, name in sorted(numbered)]

    def applicable(self):
        """The subkeys whose port settings SQL Server uses: IPAll when Listen
        All is Yes, otherwise every enabled IPn."""
        if self.listen_all:
            return [self.ipall] if self.ipall else []
        return [name for name in self.ip_addresses() if _flag(self.addresses[name], "Enabled", False)]

    def ports_in_use(self):
        """{port: where} this instance listens on, or is configured for:
        its static ports, and the dynamic port it was given while TCP/IP is
        enabled."""
        used = {}
        for name in self.applicable():
            values = self.addresses[name]
            for port in _ports(_data(values, "TcpPort")):
                used.setdefault(port, "%s TcpPort" % name)
            if self.enabled:
                for port in _ports(_data(values, "TcpDynamicPorts")):
                    used.setdefault(port, "%s TcpDynamicPorts, a dynamic port" % name)
        return used

    def label(self, *parts):
        return "\\".join(("Tcp",) + parts)

    def plan(self, port, enable_tcp):
        """The values to write for a static ``port``; raises StaticPortError
        when the layout leaves nowhere to set it."""
        writes = []
        if enable_tcp and not self.enabled:
            writes.append(RegistryWrite(self.key, "Enabled", "DWord", _data(self.values, "Enabled"), 1,
                                        self.label("Enabled")))
        targets = self.applicable()
        if not targets:
            if self.listen_all:
                raise StaticPortError("instance %s: the registry key %s has no IPAll subkey" % (self.instance, self.key))
            raise StaticPortError(
                "instance %s: Listen All is No and no IP address (IPn) is enabled, so TCP/IP listens nowhere; "
                "enable an address or set Listen All to Yes in SQL Server Configuration Manager" % self.instance)
        wanted = str(port)
        for name in targets:
            values = self.addresses[name]
            key = "%s\\%s" % (self.key, name)
            if _data(values, "TcpPort") != wanted or _kind(values, "TcpPort") != "String":
                writes.append(RegistryWrite(key, "TcpPort", "String", _data(values, "TcpPort"), wanted,
                                            self.label(name, "TcpPort")))
            dynamic = _data(values, "TcpDynamicPorts")
            if dynamic not in (None, ""):
                writes.append(RegistryWrite(key, "TcpDynamicPorts", "String", dynamic, "",
                                            self.label(name, "TcpDynamicPorts")))
        return writes


def require_installed(host, wanted, installed):
    """Raise StaticPortError naming the requested instances the host lacks."""
    missing = [request.instance for request in wanted if request.instance not in installed]
    if missing:
        raise StaticPortError("no SQL Server instance %s on %s (it has %s); %s" % (
            ", ".join(missing), host, ", ".join(sorted(installed)) or "no Database Engine instance",
            NOTHING_WRITTEN))


def plan_windows(host, wanted, installed, layouts, services, allow_restart):
    """Decide, for every requested instance, what to write and whether to
    restart. ``installed``: {NAME: instance id}; ``layouts``: {NAME: TcpLayout}
    for every instance of the host; ``services``: {NAME: service read}.
    Raises StaticPortError listing every problem."""
    problems = []
    require_installed(host, wanted, installed)
    requested = {request.instance for request in wanted}
    plans = []
    for request in wanted:
        plan = InstancePlan(request, display_name(host, request.instance), installed[request.instance])
        layout = layouts.get(request.instance)
        if layout is None:
            problems.append("instance %s has no TCP/IP settings in the registry (%s\\%s missing)"
                            % (request.instance, installed[request.instance], TCP_SUBKEY))
            continue
        try:
            plan.writes = layout.plan(request.port, request.enable_tcp)
        except StaticPortError as error:
            problems.append(str(error))
            continue
        for other, other_layout in sorted(layouts.items()):
            if other in requested:
                continue  # its new port was checked against this one already
            where = other_layout.ports_in_use().get(request.port)
            if where:
                problems.append("port %d of instance %s is already used by instance %s on %s (%s%s)" % (
                    request.port, request.instance, other, host, where,
                    "" if other_layout.enabled else "; its TCP/IP is disabled for now"))
        plan.tcp_enabled = layout.enabled or request.enable_tcp
        service = services.get(request.instance) or {}
        if service.get("exists"):
            plan.service_state = service.get("status")
            plan.listening = service.get("listening")
            plan.dependents = [d["name"] for d in service.get("dependents") or [] if d.get("status") == "Running"]
        _decide_restart(plan, allow_restart)
        plans.append(plan)
    if problems:
        raise StaticPortError("%s: %s; %s" % (host, "; ".join(problems), NOTHING_WRITTEN))
    return plans


def _decide_restart(plan, allow_restart):
    """A running instance needs a restart when its TCP/IP settings change,
    or when it does not listen on the port the registry already says (set
    earlier without a restart). A stopped one takes them when it starts."""
    request = plan.request
    if not plan.tcp_enabled:
        return
    if plan.service_state is None:
        plan.warnings.append("%s: service %s not found; the settings take effect when it runs"
                             % (plan.display_name, request.service))
        return
    if plan.service_state != "Running":
        if plan.writes:
            plan.warnings.append("%s: service %s is %s; it listens on port %d when it next starts"
                                 % (plan.display_name, request.service, plan.service_state, request.port))
        return
    stale = plan.listening is not None and request.port not in plan.listening
    plan.restart_required = bool(plan.writes) or stale
    plan.restart = plan.restart_required and allow_restart


def _grouped_writes(plans):
    operations = []
    for plan in plans:
        by_key = {}
        for write in plan.writes:
            by_key.setdefault(write.key, {})[write.name] = dict(kind=write.kind, data=write.after)
        operations.extend(dict(op="write", key=key, values=values) for key, values in by_key.items())
    return operations


def _describe_operation(operation):
    if operation["op"] == "write":
        return "writing %s under HKLM\\%s" % (", ".join(sorted(operation["values"])), operation["key"])
    if operation["op"] == "read":
        return "reading HKLM\\%s" % operation["key"]
    verbs = dict(restart="restarting service", start="starting service", service="reading the state of service")
    return "%s %s" % (verbs[operation["op"]], operation["name"])


def static_port_windows(remote, request, check_mode):
    """Read, decide, and (unless in check mode) write and restart, in three
    WinRM calls at most: instance ids; TCP settings of every instance and the
    services; then the writes and restarts."""
    # Messages name the instances as clients do, not by the address reached.
    host = request.get("host_fqdn") or remote.name
    wanted = request["instances"]
    timeout = request["restart_timeout"]

    operations = [dict(op="read", key="%s\\%s" % (root, INSTANCE_NAMES_KEY), depth=0) for root in SQL_SERVER_ROOTS]
    results = check_results(host, operations, remote.run(operations), _describe_operation)
    installed, roots = {}, {}
    for root, result in zip(SQL_SERVER_ROOTS, results):
        for name, value in (result.get("values") or {}).items() if result.get("exists") else ():
            if name.upper() not in installed:
                installed[name.upper()] = str(value.get("data"))
                roots[name.upper()] = root
    require_installed(host, wanted, installed)

    names = sorted(installed)
    keys = {name: "%s\\%s\\%s" % (roots[name], installed[name], TCP_SUBKEY) for name in names}
    operations = [dict(op="read", key=keys[name], depth=1) for name in names]
    operations += [dict(op="service", name=item.service) for item in wanted]
    results = check_results(host, operations, remote.run(operations), _describe_operation)
    layouts = {name: TcpLayout(name, keys[name], result)
               for name, result in zip(names, results) if result.get("exists")}
    services = {item.instance: result for item, result in zip(wanted, results[len(names):])}
    plans = plan_windows(host, wanted, installed, layouts, services, request["restart"])

    final_states = {}
    operations = _grouped_writes(plans)
    for plan in plans:
        if plan.restart:
            operations.append(dict(op="restart", name=plan.request.service, timeout=timeout))
            operations.extend(dict(op="start", name=name, timeout=timeout) for name in plan.dependents)
            operations.append(dict(op="service", name=plan.request.service))
    if operations and not check_mode:
        results = remote.run(operations)
        failed = next((index for index, result in enumerate(results) if "error" in result), None)
        if failed is not None or len(results) < len(operations):
            done = results if failed is None else results[:failed]
            partial = _windows_result(host, plans, check_mode, done_operations=operations[:len(done)])
            try:
                check_results(host, operations, results, _describe_operation)
            except WinrmError as error:
                written = [op for op in operations[:len(done)] if op["op"] == "write"]
                raise StaticPortError("%s%s" % (error, "; the registry values before it were written, see changes"
                                                if written else "; " + NOTHING_WRITTEN), partial_result=partial) from None
        for operation, result in zip(operations, results):
            if operation["op"] == "service":
                final_states[operation["name"]] = result
    return _windows_result(host, plans, check_mode, final_states=final_states)


def _windows_result(host, plans, check_mode, final_states=None, done_operations=None):
    """The module result; ``done_operations`` limits it to what a failed
    batch did."""
    written_keys = None
    restarted_services = None
    if done_operations is not None:
        written_keys = {(op["key"], name) for op in done_operations if op["op"] == "write" for name in op["values"]}
        restarted_services = {op["name"] for op in done_operations if op["op"] == "restart"}
    instances, before, after, warnings = [], {}, {}, []
    for plan in plans:
        writes = plan.writes if written_keys is None else [
            write for write in plan.writes if (write.key, write.name) in written_keys]
        restarted = plan.restart if restarted_services is None else plan.request.service in restarted_services
        state = (final_states or {}).get(plan.request.service)
        service_state, listening = plan.service_state, plan.listening
        if state and restarted and not check_mode:
            service_state, listening = state.get("status"), state.get("listening")
            if listening is not None and plan.request.port not in listening:
                warnings.append("%s was restarted but does not listen on port %d (it listens on %s)" % (
                    plan.display_name, plan.request.port, ", ".join(str(p) for p in listening) or "no port"))
        elif restarted and check_mode:
            listening = None
        warnings.extend(plan.warnings)
        if writes:
            before[plan.display_name] = {write.label: write.before for write in writes}
            after[plan.display_name] = {write.label: write.after for write in writes}
        changes = [dict(key="HKLM\\" + write.key, value=write.name, before=write.before, after=write.after)
                   for write in writes]
        instances.append(instance_result(plan, plan.request.service, changes, restarted, service_state, listening))
    return module_result(instances, before, after, warnings, host=host)
