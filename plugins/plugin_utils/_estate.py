# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller reads of the inventory's hosts for the estate (host
variables and the results the roles registered there). Controller-side:
module_utils code never reads role variables; the variables read here are
named literally, so that grep joins each reader to its writer."""
from __future__ import annotations

# The registered results of roles/sql_static_port/tasks/pin.yml, per platform.
PORT_RESULT_VARIABLES = {"windows": "sql_static_port_windows_result", "linux": "sql_static_port_linux_result"}
_FALSE = ("false", "no", "off", "0", "n", "f", "")


def port_settings(variables, host):
    """How the sql_kerberos role treats one inventory host's ports, from its
    variables: dict(fqdn, platform, managed, result) where result is the
    host's registered sql_static_port result for its platform, or None."""
    managed = variables.get("sql_kerberos_manage_ports", True)
    if isinstance(managed, str):
        managed = managed.strip().lower() not in _FALSE
    platform = variables.get("sqlauth_platform") or "windows"
    result = variables.get(PORT_RESULT_VARIABLES.get(platform, PORT_RESULT_VARIABLES["windows"])) if managed else None
    return dict(fqdn=variables.get("sqlauth_host_fqdn") or host, platform=platform, managed=bool(managed),
                result=result if isinstance(result, dict) else None)
