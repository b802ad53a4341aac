# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""drift_report_files: the drift report built from the checks' results and
written to its files on the controller, in one step, returning only the
verdict. Setting the report of a large estate as a fact and passing it to
ansible.builtin.copy once per file (a stat and a copy module each, the
report templated each time) took most of the drift report's run at 1,000
hosts (bench/README.md). The rules are module_utils/_drift_report.py's and
the renderings plugin_utils/_drift_report_html.py's."""
from __future__ import annotations

import datetime
from collections.abc import Mapping

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _drift_report
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils import _drift_report_html
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import read_estate


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        results = {name: args.pop(name, None) for name in _drift_report.DRIFT_REPORT_FILES_RESULTS}
        validation = ArgumentSpecValidator(_drift_report.DRIFT_REPORT_FILES_OPTIONS).validate(args)
        problems = [str(error) for error in validation.errors]
        problems += _read_variables(results, task_vars or {})
        problems += _results_problems(results)
        if problems:
            result.update(failed=True, msg="drift_report_files: %s; no report file written" % "; ".join(problems))
            return result
        options = validation.validated_parameters
        try:
            ports = read_estate((task_vars or {}).get("hostvars") or {}, options["hosts"]).port_checks()
            report = _drift_report.build_report(
                results["audit"], options["links"], results["delegation"] if isinstance(results["delegation"], Mapping)
                else None, ports, mode=options["mode"], generated=datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%dT%H:%M:%SZ"), waivers=options["waivers"],
                severity_overrides=options["severity_overrides"], fail_on=options["fail_on"],
                encryption_types=options["encryption_types"], probe=results["probe"], dns=results["dns"])
        except SqlAuthError as error:
            result.update(failed=True, msg="drift_report_files: %s; no report file written" % error)
            return result
        try:
            files = _drift_report_html.write_files(report, options["path"], options["formats"],
                                                   write=not self._task.check_mode)
        except OSError as error:
            result.update(failed=True, msg="drift_report_files: %s" % error)
            return result
        verdict = dict(drift=report["drift"], summary=report["summary"], verdict=report["verdict"],
                       lines=_drift_report.verdict_lines(report, options["path"]), files=files)
        # Writing the report changes nothing in the estate; a file whose content changed is said in files.
        result["changed"] = False
        if options["fact_name"]:
            result.update(summary=report["summary"], ansible_facts={options["fact_name"]: verdict})
        else:
            result.update(verdict)
        return result


def _read_variables(results, task_vars):
    """Replace each result given as a variable's name by the variable's
    value, read as it is: templating a result of megabytes took longer than
    building the report (12 s at 5,000 instances, bench/README.md)."""
    problems = []
    for name, value in results.items():
        if not isinstance(value, str):
            continue
        if not value and name != "audit":
            results[name] = None
        elif value not in task_vars:
            problems.append("%s names the variable %r, which is not defined" % (name, value))
        elif not isinstance(task_vars[value], Mapping):
            problems.append("%s names the variable %r, which holds no module result (a %s): register the module's "
                            "result in it, or pass the result itself" % (name, value, type(task_vars[value]).__name__))
        else:
            results[name] = task_vars[value]
    for name in ("delegation", "probe", "dns"):
        if isinstance(results[name], Mapping) and results[name].get("skipped"):
            # The registered result of a step that did not run: as if none was given.
            results[name] = None
    return problems


def _results_problems(results):
    """The checks' results: the registered results (or facts) of spn_facts,
    rbkcd_delegate, kerberos_probe and dns_facts, or null for those that did
    not run."""
    problems = []
    audit = results["audit"]
    if not isinstance(audit, Mapping) or "instances" not in audit:
        problems.append("audit must be the report of sqlauth.kerberos.spn_facts (its result, or the fact named by "
                        "its fact_name)")
    for name in ("delegation", "probe", "dns"):
        if results[name] is not None and not isinstance(results[name], (Mapping, str)):
            problems.append("%s must be a module's result or null, got %s" % (name, type(results[name]).__name__))
    for name, key in (("probe", "tickets"), ("dns", "names")):
        if isinstance(results[name], Mapping) and key not in results[name]:
            problems.append("%s needs the module's whole result: with its fact_name, pass that fact, not the "
                            "registered result" % name)
    return problems
