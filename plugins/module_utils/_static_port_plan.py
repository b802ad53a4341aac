# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sql_static_port's request and plan, shared by both platforms: the
module's input checked without touching any host (validate_static_port ->
PortRequest), the InstancePlan both plan_windows and plan_linux return,
and the module result built from the plans."""
from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import (
    DEFAULT_INSTANCE,
    SpnError,
    validate_instance_name,
    validate_port,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import windows_service_name

INSTANCE_OPTIONS = dict(
    instance=dict(type="str", default=DEFAULT_INSTANCE),
    port=dict(type="int", required=True),
    enable_tcp=dict(type="bool", default=True),
)
PLATFORMS = ("windows", "linux")
DEFAULT_MSSQL_CONF = "/var/opt/mssql/mssql.conf"
LINUX_SERVICE = "mssql-server"
DEFAULT_RESTART_COMMAND = ["systemctl", "restart", LINUX_SERVICE]
NOTHING_WRITTEN = "nothing was changed"


class StaticPortError(SqlAuthError):
    """A request that cannot be carried out; ``partial_result`` holds what
    was done before the failure (for a failure after writing)."""


@dataclass(frozen=True)
class PortRequest:
    instance: str
    port: int
    enable_tcp: bool = True

    @property
    def service(self):
        return windows_service_name(self.instance)


def validate_static_port(params):
    """Check the module's input without touching any host; returns the
    request, or raises StaticPortError listing every problem."""
    problems = []
    wanted, by_port = {}, {}
    items = params.get("instances") or []
    if not items:
        problems.append("no instance given")
    for item in items:
        try:
            name = validate_instance_name(item.get("instance") or DEFAULT_INSTANCE)
        except SpnError as error:
            problems.append(str(error))
            continue
        try:
            port = validate_port(item.get("port"), "port %r of instance %s" % (item.get("port"), name))
        except SpnError:
            problems.append("instance %s: port %r is not a TCP port number (1-65535)" % (name, item.get("port")))
            continue
        if name in wanted:
            problems.append("instance %s is listed twice" % name)
            continue
        if port in by_port:
            problems.append("instances %s and %s both ask for port %d: each instance needs a port of its own"
                            % (by_port[port], name, port))
            continue
        by_port[port] = name
        enable_tcp = item.get("enable_tcp")
        wanted[name] = PortRequest(name, port, True if enable_tcp is None else bool(enable_tcp))
    platform = params.get("platform") or "windows"
    if platform == "linux":
        others = [name for name in wanted if name != DEFAULT_INSTANCE]
        if others:
            problems.append("SQL Server on Linux runs a single instance per host, %s; there is no instance %s there"
                            % (DEFAULT_INSTANCE, ", ".join(others)))
        if not params.get("restart_command"):
            problems.append("restart_command is empty")
        if not params.get("mssql_conf"):
            problems.append("mssql_conf is empty")
    elif not params.get("winrm_host"):
        problems.append("winrm_host is required with platform=windows: the Windows host to reach over WinRM "
                        "(the sqlauth.kerberos.sql_static_port role passes the inventory host)")
    timeout = params.get("restart_timeout")
    if timeout is None:
        timeout = 120
    if timeout < 1:
        problems.append("restart_timeout must be at least 1 second")
    if problems:
        raise StaticPortError("; ".join(problems) + "; " + NOTHING_WRITTEN)
    return dict(platform=platform, instances=list(wanted.values()), restart=bool(params.get("restart")),
                host_fqdn=params.get("host_fqdn") or params.get("winrm_host"),
                restart_timeout=timeout, mssql_conf=params.get("mssql_conf") or DEFAULT_MSSQL_CONF,
                restart_command=list(params.get("restart_command") or DEFAULT_RESTART_COMMAND))


@dataclass
class InstancePlan:
    """What to change on one instance, and whether to restart it. Windows
    fills ``writes`` (registry values); Linux the ``config_*`` fields
    (mssql.conf's [network] tcpport)."""
    request: PortRequest
    display_name: str
    instance_id: str = None         # Windows: the registry instance id
    writes: list = field(default_factory=list)  # Windows: RegistryWrite
    tcp_enabled: bool = True        # after the change
    service_state: str = None       # before the change; None: no such service
    listening: list = None          # ports the running service listens on, None: unknown
    dependents: list = field(default_factory=list)  # Windows: running dependent services to start again
    restart_required: bool = False
    restart: bool = False
    warnings: list = field(default_factory=list)
    config_change: bool = False     # Linux: tcpport is to be written
    config_before: str = None       # Linux: tcpport as the file has it, None: not set
    config_port: int = None         # Linux: the port that means, None: not a port number
    config_content: bytes = None    # Linux: the file's content after the change


def instance_result(plan, service, changes, restarted, service_state, listening):
    """One instance's entry in the module result; ``changes``: what was (or
    would be) written."""
    return dict(
        name=plan.display_name, instance=plan.request.instance, instance_id=plan.instance_id,
        service=service, port=plan.request.port, tcp_enabled=plan.tcp_enabled,
        changed=bool(changes) or restarted, changes=changes,
        restart_required=plan.restart_required and not restarted, restarted=restarted,
        service_state=service_state, listening_ports=listening)


def module_result(instances, before, after, warnings, host=None):
    """The module result from the instances' entries and the diff."""
    result = dict(changed=any(item["changed"] for item in instances))
    if host is not None:
        result["host"] = host
    result.update(instances=instances, restart_required=any(item["restart_required"] for item in instances),
                  diff=dict(before=before, after=after), warnings=warnings)
    return result
