# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that build the drift report from the read-only modules' results
and render it (the sql_kerberos role writes the files)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _drift_report
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils import _drift_report_html
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import read_estate


def drift_report(audit, links, delegation, hostvars, hosts, mode="report", generated=None, waivers=None,
                 severity_overrides=None, fail_on="error", encryption_types="aes", probe=None,
                 dns=None):
    """The report; each host's port check is its registered sql_static_port
    result, when the role manages its ports (plugin_utils/_estate.py).
    ``waivers``, ``severity_overrides`` and ``fail_on``: the inventory's
    accepted risks and the severity that fails the run (_catalogue.py);
    ``encryption_types`` what the service accounts' should be; ``probe``
    the registered result of kerberos_probe, when it ran; ``dns`` dns_facts'
    result (or its fact), when it ran."""
    if not isinstance(audit, dict) or "instances" not in audit:
        raise AnsibleFilterError("drift_report needs the registered result of sqlauth.kerberos.spn_facts")
    if isinstance(probe, dict) and "tickets" not in probe and "summary" in probe:
        raise AnsibleFilterError("drift_report needs kerberos_probe's whole result: with fact_name, pass that fact, "
                                 "not the registered result")
    if isinstance(dns, dict) and "names" not in dns and "summary" in dns:
        raise AnsibleFilterError("drift_report needs dns_facts' whole result: with fact_name, pass that fact, "
                                 "not the registered result")
    ports = read_estate(hostvars, hosts).port_checks()
    try:
        return _drift_report.build_report(audit, links or [], delegation if isinstance(delegation, dict) else None,
                                          ports, mode=mode, generated=generated, waivers=waivers,
                                          severity_overrides=severity_overrides, fail_on=fail_on,
                                          encryption_types=encryption_types,
                                          probe=probe if isinstance(probe, dict) and "tickets" in probe else None,
                                          dns=dns if isinstance(dns, dict) and "names" in dns else None)
    except SqlAuthError as error:
        raise AnsibleFilterError(str(error)) from None


def drift_report_render(report, file_format):
    """The report as the text of one file format."""
    try:
        return _drift_report_html.render(report, file_format)
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    def filters(self):
        return {
            "drift_report": drift_report,
            "drift_report_lines": _drift_report.problem_lines,
            "drift_report_verdict": _drift_report.verdict_lines,
            "drift_report_render": drift_report_render,
        }
