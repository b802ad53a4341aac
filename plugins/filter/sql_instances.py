# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn a per-host inventory into one module call for the
whole estate, and reports into lines a person reads."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import EstateError, read_estate


def sql_instances(hostvars, hosts):
    """Flatten each host's ``sqlauth_instances`` into the ``instances`` list
    of spn_facts; the host is ``sqlauth_host_fqdn`` or the inventory name."""
    try:
        return read_estate(hostvars, hosts).instances()
    except EstateError as error:
        raise AnsibleFilterError(str(error)) from None


def spn_audit_lines(report):
    """spn_facts' result as lines: one block per instance, one line per SPN,
    then the plan."""
    lines = []
    summary = report.get("summary", {})
    lines.append("%d instance(s), %d with drift; SPNs: %s" % (
        summary.get("instances", 0), summary.get("instances_with_drift", 0),
        ", ".join("%s %d" % item for item in sorted(summary.get("spns", {}).items()))))
    for instance in report.get("instances", []):
        account = instance["service_account"]
        lines.append("%s [%s] as %s (%s): %s%s" % (
            instance["name"], instance["port"], account["name"], account["kind"], instance["status"].upper(),
            "; " + ", ".join(instance["findings"]) if instance["findings"] else ""))
        for row in instance["spns"]:
            holders = ", ".join(h["name"] for h in row["holders"])
            lines.append("  %-14s %s%s" % (row["status"], row["spn"], "  (held by %s)" % holders
                                           if row["status"] in ("wrong_account", "duplicate") else ""))
    if report.get("plan"):
        lines.append("plan:")
        lines.extend("  %d. %s" % (number, step["description"]) for number, step in enumerate(report["plan"], 1))
    return lines


class FilterModule:
    def filters(self):
        return {"sql_instances": sql_instances, "spn_audit_lines": spn_audit_lines}
