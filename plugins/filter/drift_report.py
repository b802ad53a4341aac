# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that build the drift report from the read-only modules' results
and render it (the sql_kerberos role writes the files)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _drift_report


def drift_report(audit, links, delegation, hostvars, hosts, mode="report", generated=None):
    """The report; each host's port check is its sql_kerberos_port_check fact."""
    if not isinstance(audit, dict) or "instances" not in audit:
        raise AnsibleFilterError("drift_report needs the registered result of sqlauth.kerberos.spn_facts")
    ports = {}
    for host in hosts:
        variables = hostvars[host]
        check = variables.get("sql_kerberos_port_check")
        if check:
            ports[(variables.get("sqlauth_host_fqdn") or host).lower()] = check
    return _drift_report.build_report(audit, links or [], delegation if isinstance(delegation, dict) else None,
                                      ports, mode=mode, generated=generated)


class FilterModule:
    def filters(self):
        return {
            "drift_report": drift_report,
            "drift_report_lines": _drift_report.problem_lines,
            "drift_report_junit": _drift_report.to_junit,
            "drift_report_html": _drift_report.to_html,
            "drift_report_powershell": _drift_report.to_powershell,
            "drift_report_ldif": _drift_report.to_ldif,
        }
