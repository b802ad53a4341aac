# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sql_static_port on Linux: the setting is [network] tcpport of
mssql.conf. Holds plan_linux, and static_port_linux, which reads the file
and /proc, writes the file and restarts SQL Server on the host the module
runs on."""
from __future__ import annotations

import os

from ansible_collections.sqlauth.kerberos.plugins.module_utils._mssql_conf import (
    DEFAULT_TCP_PORT,
    NETWORK_SECTION,
    TCP_PORT_OPTION,
    MssqlConf,
    read_tcp_port,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import DEFAULT_INSTANCE
from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_plan import (
    LINUX_SERVICE,
    NOTHING_WRITTEN,
    InstancePlan,
    StaticPortError,
    instance_result,
    module_result,
)

LINUX_PROCESS = "sqlservr"


def plan_linux(request, path, content, sql_pids, sql_ports, port_owner):
    """Decide for SQL Server on Linux. ``content``: mssql.conf's bytes (None:
    the file does not exist); ``sql_pids``: the running sqlservr processes;
    ``sql_ports``: the ports they listen on (None: unknown);
    ``port_owner(port)``: who else listens on a port, or None."""
    wanted = request["instances"][0]
    conf = MssqlConf(content or b"", path)
    raw, current = read_tcp_port(conf)
    change = current != wanted.port
    new_content = conf.set(NETWORK_SECTION, TCP_PORT_OPTION, str(wanted.port)) if change else content
    if change:
        owner = port_owner(wanted.port)
        if owner:
            raise StaticPortError("port %d is already used on this host by %s; %s" % (wanted.port, owner, NOTHING_WRITTEN))
    running = bool(sql_pids)
    stale = running and sql_ports is not None and wanted.port not in sql_ports
    restart_required = running and (change or stale)
    plan = InstancePlan(wanted, DEFAULT_INSTANCE, service_state="running" if running else "stopped",
                        listening=sql_ports, restart_required=restart_required,
                        restart=restart_required and request["restart"], config_change=change,
                        config_before=raw, config_port=current, config_content=new_content)
    if current is None:
        plan.warnings.append("%s: [network] tcpport was %r, not a port number" % (path, raw))
    return plan


def static_port_linux(host, request, check_mode):
    """Read mssql.conf and /proc, decide, and (unless in check mode) write
    the file and restart SQL Server."""
    path = request["mssql_conf"]
    content = host.read_file(path)
    if content is None and not host.folder_exists(os.path.dirname(path) or "."):
        raise StaticPortError("%s does not exist, nor does its folder: is SQL Server installed on this host? "
                              "(set mssql_conf if it lives elsewhere); %s" % (path, NOTHING_WRITTEN))
    sql_pids = host.processes(LINUX_PROCESS)
    plan = plan_linux(request, path, content, sql_pids, _sql_ports(host, sql_pids), lambda port: _port_owner(host, port))
    wanted = plan.request
    restarted = False
    state = plan.service_state
    listening = plan.listening
    if not check_mode:
        if plan.config_change:
            host.write_file(path, plan.config_content)
        if plan.restart:
            rc, out, err = host.run(request["restart_command"])
            if rc != 0:
                detail = (err or out or "").strip().splitlines()
                raise StaticPortError("restarting SQL Server failed (%s exited with %d%s)%s" % (
                    " ".join(request["restart_command"]), rc, ": " + detail[-1] if detail else "",
                    "; mssql.conf was written" if plan.config_change else ""),
                    partial_result=_linux_result(path, plan, False, "unknown", None))
            if not host.wait(lambda: wanted.port in (_sql_ports(host, host.processes(LINUX_PROCESS), strict=False) or []),
                             request["restart_timeout"]):
                raise StaticPortError("SQL Server did not listen on port %d within %d seconds of the restart; see "
                                      "journalctl -u %s" % (wanted.port, request["restart_timeout"], LINUX_SERVICE),
                                      partial_result=_linux_result(path, plan, True, "unknown", None))
            restarted = True
            pids = host.processes(LINUX_PROCESS)
            state = "running" if pids else "stopped"
            listening = _sql_ports(host, pids)
    elif plan.restart:
        restarted = True
        listening = None
    return _linux_result(path, plan, restarted, state, listening)


def _sql_ports(host, pids, strict=True):
    """The ports the sqlservr processes listen on; None when their file
    descriptors cannot be read (not root). With ``strict=False``, fall back
    to every listening port of the host."""
    if not pids:
        return []
    listeners = host.listeners()
    owners, unreadable = host.socket_owners(pids)
    if unreadable:
        return None if strict else sorted({port for port, dummy in listeners})
    return sorted({port for port, inode in listeners if inode in owners})


def _port_owner(host, port):
    """A readable name for a process other than sqlservr listening on
    ``port``, or None."""
    inodes = {inode for listened, inode in host.listeners() if listened == port}
    if not inodes:
        return None
    owners, dummy = host.socket_owners()
    for inode in inodes:
        pid = owners.get(inode)
        if pid is None:
            return "a process that cannot be identified (run as root to see which)"
        name = host.command_name(pid)
        if name != LINUX_PROCESS:
            return "%s (pid %d)" % (name, pid)
    return None


def _linux_result(path, plan, restarted, state, listening):
    wanted = plan.request
    written = plan.config_change
    label = "%s [%s] %s" % (path, NETWORK_SECTION, TCP_PORT_OPTION)
    changes = [dict(file=path, section=NETWORK_SECTION, option=TCP_PORT_OPTION, before=plan.config_before,
                    after=str(wanted.port))] if written else []
    instance = instance_result(plan, LINUX_SERVICE, changes, restarted, state, listening)
    before = {DEFAULT_INSTANCE: {label: plan.config_before if plan.config_before is not None else
                                 "(not set: %d)" % DEFAULT_TCP_PORT}} if written else {}
    after = {DEFAULT_INSTANCE: {label: str(wanted.port)}} if written else {}
    return module_result([instance], before, after, list(plan.warnings))
