# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action drift_report_files: the report it writes is the filter's
(the same module_utils), each file replaced whole, nothing written in check
mode or on bad input, and a failure names what was written before it."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.sqlauth.kerberos.plugins.action.drift_report_files import ActionModule
from ansible_collections.sqlauth.kerberos.plugins.module_utils import _drift_report
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils import _drift_report_html

FIXTURE = json.loads((Path(__file__).parents[1] / "module_utils" / "fixtures" / "drift_report_inputs.json")
                     .read_text())
HOSTS = ["sql1.corp.example.test"]
HOSTVARS = {"sql1.corp.example.test": dict(sqlauth_host_fqdn="sql1.corp.example.test",
                                           sql_kerberos_manage_ports=False)}


def run_action(args, check_mode=False):
    task = mock.MagicMock()
    task.args = args
    task.check_mode = check_mode
    task.async_val = 0
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    return action.run(task_vars=dict(hostvars=HOSTVARS))


def args_for(path, **extra):
    return dict(dict(audit=FIXTURE["audit"], links=FIXTURE["links"], delegation=FIXTURE["delegation"],
                     hosts=HOSTS, path=str(path)), **extra)


def test_writes_the_filters_report_in_each_format_and_returns_the_verdict(tmp_path):
    folder = tmp_path / "kerberos-report"
    result = run_action(args_for(folder, formats=["json", "junit", "html", "ldif"]))

    assert not result.get("failed"), result
    written = json.loads((folder / "drift-report.json").read_text())
    expected = _drift_report.build_report(
        FIXTURE["audit"], FIXTURE["links"], FIXTURE["delegation"],
        {"sql1.corp.example.test": dict(managed=False, platform="windows", result=None)},
        mode="report", generated=written["generated"])
    assert written == json.loads(_drift_report.to_json(expected))
    assert sorted(p.name for p in folder.iterdir()) == [
        "drift-report.html", "drift-report.json", "drift-report.xml", "fix-ad.ldif"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in folder.iterdir())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert (result["changed"], result["drift"], result["verdict"]) == (False, expected["drift"], expected["verdict"])
    assert result["lines"] == _drift_report.verdict_lines(expected, str(folder))
    assert [(f["format"], f["changed"]) for f in result["files"]] == [
        ("json", True), ("junit", True), ("html", True), ("ldif", True)]
    assert "hosts" not in result


def test_fact_name_sets_the_verdict_as_a_fact(tmp_path):
    result = run_action(args_for(tmp_path, fact_name="kerberos_verdict"))
    assert set(result["ansible_facts"]["kerberos_verdict"]) == {"drift", "summary", "verdict", "lines", "files"}
    assert "lines" not in result and result["summary"]["instances"] == len(FIXTURE["audit"]["instances"])


def test_check_mode_renders_and_compares_but_writes_nothing(tmp_path):
    result = run_action(args_for(tmp_path / "new"), check_mode=True)
    assert not result.get("failed") and not (tmp_path / "new").exists()
    assert all(f["changed"] for f in result["files"])


@pytest.mark.parametrize("bad, message", [
    (dict(audit={"summary": {}}), "audit must be the report of sqlauth.kerberos.spn_facts"),
    (dict(dns={"summary": {}}), "dns needs the module's whole result"),
    (dict(formats=["pdf"]), "formats"),
    (dict(fail_on="fatal"), "fail_on"),
])
def test_bad_input_is_refused_and_nothing_written(tmp_path, bad, message):
    result = run_action(dict(args_for(tmp_path / "out"), **bad))
    assert result["failed"] and message in result["msg"] and "no report file written" in result["msg"]
    assert not (tmp_path / "out").exists()


def test_a_file_that_cannot_be_written_names_those_written_before_it(tmp_path):
    # drift-report.xml is a folder: it cannot be replaced by a file.
    (tmp_path / "drift-report.xml").mkdir()
    result = run_action(args_for(tmp_path))
    assert result["failed"]
    assert "could not write %s" % os.path.join(str(tmp_path), "drift-report.xml") in result["msg"]
    assert "written before it: %s" % os.path.join(str(tmp_path), "drift-report.json") in result["msg"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_unchanged_file_is_not_rewritten(tmp_path):
    report = _drift_report.build_report(FIXTURE["audit"], [], None, {}, generated="2026-01-01T00:00:00Z")
    first = _drift_report_html.write_files(report, str(tmp_path), ["json"])
    before = (tmp_path / "drift-report.json").stat().st_mtime_ns
    os.utime(tmp_path / "drift-report.json", ns=(before - 10**9, before - 10**9))
    again = _drift_report_html.write_files(report, str(tmp_path), ["json"])
    assert (first[0]["changed"], again[0]["changed"]) == (True, False)
    assert (tmp_path / "drift-report.json").stat().st_mtime_ns == before - 10**9


def test_results_by_variable_name_are_read_as_they_are(tmp_path):
    task_vars = dict(hostvars=HOSTVARS, kerberos_audit=FIXTURE["audit"], kerberos_dns="not a result")
    task = mock.MagicMock()
    task.args, task.check_mode, task.async_val = args_for(tmp_path, audit="kerberos_audit"), False, 0
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    by_name = action.run(task_vars=task_vars)
    assert not by_name.get("failed"), by_name
    assert by_name["summary"] == run_action(args_for(tmp_path / "by-value"))["summary"]

    task.args = args_for(tmp_path, audit="kerberos_audits", dns="kerberos_dns")
    refused = action.run(task_vars=task_vars)
    assert refused["failed"]
    assert "audit names the variable 'kerberos_audits', which is not defined" in refused["msg"]
    assert "dns names the variable 'kerberos_dns', which holds no module result (a str)" in refused["msg"]


def test_a_skipped_or_empty_result_is_no_result(tmp_path):
    """The registered result of a step that did not run (when: false), or
    ansible-core 2.17's rendering of a lone none (''), is as if none was given."""
    task_vars = dict(hostvars=HOSTVARS, kerberos_probe=dict(skipped=True, changed=False))
    task = mock.MagicMock()
    task.args, task.check_mode, task.async_val = args_for(tmp_path, probe="kerberos_probe", dns=""), False, 0
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    result = action.run(task_vars=task_vars)
    assert not result.get("failed"), result
    assert result["summary"] == run_action(args_for(tmp_path / "none"))["summary"]


def test_a_rendering_that_fails_writes_nothing(tmp_path, monkeypatch):
    def broken(report):
        raise OSError("no space left")

    monkeypatch.setitem(_drift_report_html.RENDERINGS, "html", broken)
    with pytest.raises(OSError):
        _drift_report_html.write_files({"hosts": []}, str(tmp_path / "out"), ["json", "html"])
    assert not (tmp_path / "out").exists()
