#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: drift_report_files
short_description: Build the Kerberos drift report of a SQL Server estate and write its files on the controller
version_added: 0.3.0
description:
  - Builds the drift report from the results of the read-only checks (as the
    P(sqlauth.kerberos.drift_report#filter) filter does) and writes it, in each of O(formats), to O(path) on the
    controller; returns the verdict only, not the report.
  - Each file is replaced whole (a temporary file renamed over it), mode C(0644); O(path) is made, mode C(0755), if
    missing. In check mode the files are rendered and compared, not written; the
    R(sqlauth.kerberos.sql_kerberos,ansible_collections.sqlauth.kerberos.sql_kerberos_role) role runs it with
    C(check_mode=false), as the report is the product of a check run too.
  - An action plugin that runs on the controller whatever the host; C(delegate_to=localhost) and C(run_once=true)
    say so in a play over the SQL Server hosts.
author:
  - sqlauth.kerberos contributors (@sqlauth)
attributes:
  check_mode:
    support: full
    description: Renders the files and says which would change, writes nothing.
  diff_mode:
    support: none
  facts:
    support: full
    description: With O(fact_name), the verdict is set as that fact instead of being returned.
  platform:
    platforms: posix
    description: Runs on the controller.
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.facts
options:
  audit:
    description:
      - The report of M(sqlauth.kerberos.spn_facts) for the estate (its registered result, or the fact named by its
        O(sqlauth.kerberos.spn_facts#module:fact_name)), or the name of the variable that holds it.
      - By name, the result is read as it is, not templated; at 5,000 instances templating it took longer than
        building the report. The same holds for O(delegation), O(probe) and O(dns).
    type: raw
    required: true
  delegation:
    description: The registered check-mode result of M(sqlauth.kerberos.rbkcd_delegate) for O(links) (or the name of
      its variable), or null.
    type: raw
  probe:
    description: The result of M(sqlauth.kerberos.kerberos_probe) (or its fact, or the name of its variable), or null
      when it did not run.
    type: raw
  dns:
    description: The result of M(sqlauth.kerberos.dns_facts) (or its fact, or the name of its variable), or null when
      it did not run.
    type: raw
  links:
    description: The linked servers, as the P(sqlauth.kerberos.linked_servers#filter) filter gives them.
    type: list
    elements: dict
    default: []
  hosts:
    description: The hosts of the estate; for each whose ports the role manages (C(sql_kerberos_manage_ports)), the
      port check is its registered M(sqlauth.kerberos.sql_static_port) result, read from C(hostvars).
    type: list
    elements: str
    default: []
  mode:
    description: The run's mode, as the report names it.
    type: str
    default: report
  waivers:
    description: The accepted risks (docsite page Waivers), as C(sql_kerberos_waivers).
    type: list
    elements: raw
    default: []
  severity_overrides:
    description: Per check ID, a severity replacing the catalogue's.
    type: dict
    default: {}
  fail_on:
    description: The lowest severity that fails the run (C(fail) in RV(verdict)).
    type: str
    choices: [info, warning, error]
    default: error
  encryption_types:
    description: What the service accounts' Kerberos encryption types should be.
    type: str
    choices: [aes, aes_rc4]
    default: aes
  path:
    description: The report folder, on the controller.
    type: path
    required: true
  formats:
    description:
      - The files to write - C(json) (C(drift-report.json), for scripts), C(junit) (C(drift-report.xml), for CI
        systems), C(html) (C(drift-report.html), for people), C(powershell) (C(fix-ad.ps1)) and C(ldif)
        (C(fix-ad.ldif)), the AD fixes of generate mode.
    type: list
    elements: str
    choices: [json, junit, html, powershell, ldif]
    default: [json, junit, html]
  fact_name:
    description: The name of a fact to set the verdict as, instead of returning it.
    type: str
seealso:
  - module: sqlauth.kerberos.spn_facts
  - plugin: sqlauth.kerberos.drift_report
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Audit the estate's SPNs
  sqlauth.kerberos.spn_facts:
    instances: "{{ sql_instances }}"
  delegate_to: localhost
  run_once: true
  register: kerberos_audit

- name: Write the drift report and keep its verdict on the controller
  sqlauth.kerberos.drift_report_files:
    # By name: a large result is read as it is, not templated.
    audit: kerberos_audit
    hosts: "{{ ansible_play_hosts_all }}"
    path: "{{ playbook_dir }}/kerberos-report"
  check_mode: false
  delegate_to: localhost
  run_once: true
  register: kerberos_verdict

- name: Show what to fix
  ansible.builtin.debug:
    msg: "{{ kerberos_verdict.lines }}"
  run_once: true
  when: kerberos_verdict.drift
"""

RETURN = r"""
drift:
  description: Whether any check found drift. Absent with O(fact_name) (in the fact).
  returned: success, without O(fact_name)
  type: bool
summary:
  description: The report's counts - C(hosts), C(instances), C(checks), one per result (C(ok), C(drift), C(skipped),
    C(waived)), C(instances_with_drift).
  returned: success
  type: dict
verdict:
  description: C(fail) (drift at or above O(fail_on), or an expired waiver), C(fail_on), C(failing),
    C(below_fail_on), C(waived), C(active_waivers), C(expired_waivers), C(unmatched_waivers).
  returned: success, without O(fact_name)
  type: dict
lines:
  description: What a person reads - the verdict, then per host one line per finding (ID, severity, subject, what
    it breaks, the fix), waivers that expired or match nothing, and where the files are.
  returned: success, without O(fact_name)
  type: list
  elements: str
files:
  description: Per format, C(format), C(path) and C(changed) (the content differs from the file there before).
  returned: success, without O(fact_name)
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import (
    DRIFT_REPORT_FILES_OPTIONS,
    DRIFT_REPORT_FILES_RESULTS,
)


def main():
    # The work is the action plugin's, on the controller; this runs only if the action is missing.
    module = AnsibleModule(argument_spec=dict(DRIFT_REPORT_FILES_OPTIONS, **DRIFT_REPORT_FILES_RESULTS),
                           supports_check_mode=True)
    module.fail_json(msg="drift_report_files runs on the controller as an action plugin; install the collection "
                     "with its plugins/action folder")


if __name__ == "__main__":
    main()
