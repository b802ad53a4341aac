# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sql_static_port: pin SQL Server instances to a static TCP port.

Kerberos SPNs name the port (MSSQLSvc/host.fqdn:1533); a dynamic port
changes at restart and leaves the SPN pointing nowhere. Microsoft's advice:
enable TCP/IP, clear "TCP Dynamic Ports", set "TCP Port" (in IPAll, or in
each enabled IPn when "Listen All" is No), restart the service.

This is what the sql_static_port module uses; _host_module.run_host_module
validates the input and then runs the platform's entry point:

- _static_port_plan.py: the input checked without touching any host
  (validate_static_port -> PortRequest), the InstancePlan both platforms
  decide, and the module result built from it;
- _static_port_windows.py: the registry layout (TcpLayout, RegistryWrite),
  plan_windows and static_port_windows, over WinRM (the remote PowerShell
  is _windows_script.py);
- _static_port_linux.py: mssql.conf's [network] tcpport, plan_linux and
  static_port_linux.

Nothing is written when any requested instance has a problem (missing,
port taken by another instance, no address to listen on)."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_linux import static_port_linux
from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_plan import (
    DEFAULT_MSSQL_CONF,
    DEFAULT_RESTART_COMMAND,
    INSTANCE_OPTIONS,
    StaticPortError,
    validate_static_port,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_windows import static_port_windows

__all__ = [
    "DEFAULT_MSSQL_CONF",
    "DEFAULT_RESTART_COMMAND",
    "INSTANCE_OPTIONS",
    "StaticPortError",
    "static_port_linux",
    "static_port_windows",
    "validate_static_port",
]
