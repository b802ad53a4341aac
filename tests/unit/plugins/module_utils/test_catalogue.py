# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue of checks (_catalogue) and what the drift report does with
it: every status the report can emit has one entry with a unique ID that is
never reused; waivers (active, expired, matching nothing), severity
overrides, fail_on, and the verdict a person reads. Reports are built from
the results captured on the lab (fixtures/drift_report_inputs.json)."""

from __future__ import annotations

import copy
import datetime
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ansible_collections.sqlauth.kerberos.tests.unit.plugins.generated_pages import rendered_and_committed
from ansible_collections.sqlauth.kerberos.plugins.module_utils._catalogue import (
    CATALOGUE,
    RETIRED_IDS,
    SEVERITIES,
    CatalogueError,
    finding_for,
    parse_waivers,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import (
    build_report,
    to_junit,
    verdict_lines,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import STATUSES
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._drift_report_html import to_html

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "drift_report_inputs.json").read_text())
TODAY = datetime.date(2026, 12, 6)
DUPLICATE = "MSSQLSvc/sql4.corp.example.test:1433"  # held by CORP\sqlsvc4 and CORP\sqlsvc4old in the fixture


def build(waivers=None, overrides=None, fail_on="error", data=None):
    data = data or FIXTURE
    return build_report(data["audit"], data["links"], data["delegation"], data["ports"], waivers=waivers,
                        severity_overrides=overrides, fail_on=fail_on, today=TODAY)


def checks(report):
    return [check for host in report["hosts"] for instance in host["instances"] for check in instance["checks"]]


def check_of(report, subject, status=None):
    return next(c for c in checks(report) if c["subject"] == subject and (status is None or c["status"] == status))


# -- the catalogue ------------------------------------------------------------------

def test_ids_are_unique_well_formed_and_never_reused():
    ids = [finding.id for finding in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Z]{3}\d{3}", finding_id) for finding_id in ids)
    assert not set(ids) & set(RETIRED_IDS)


def test_every_entry_is_complete():
    for finding in CATALOGUE:
        assert finding.severity in SEVERITIES
        assert all([finding.title, finding.symptom, finding.fix, finding.generate]), finding.id
    assert len({(f.check, f.status) for f in CATALOGUE}) == len(CATALOGUE)


# Every status the report's check functions emit besides ok and skipped; an
# entry missing here or in the catalogue fails one of the two tests below.
EMITTED = {("spn", status) for status in STATUSES if status != "ok"} | {
    ("spn", "conflict"), ("spn_write_acl", "acl_missing"), ("delegation", "delegation_missing"),
    ("static_port", "dynamic_port"), ("static_port", "port_not_static"), ("static_port", "restart_required"),
    ("tcp_enabled", "tcp_disabled"), ("delegation", "front_end_sensitive"),
    ("delegation_risk", "unconstrained_delegation"), ("delegation_risk", "protocol_transition"),
    ("account", "account_disabled"), ("account", "account_locked"), ("account", "account_expired"),
    ("account", "password_expired"), ("spn", "stale"), ("account", "gmsa_password_unreadable"),
    ("delegation", "self_entry"), ("delegation", "caller_not_delegable"), ("account_privilege", "privileged_account"),
    ("encryption", "rc4_only"), ("encryption", "des_enabled"), ("encryption", "aes_keys_possibly_missing"),
    ("encryption", "computer_weak_encryption"), ("encryption", "rc4_allowed"), ("kdc", "ticket_refused"),
    ("kdc", "key_version_mismatch"), ("kdc", "rc4_ticket"), ("kdc_clock", "clock_skew")} | {
    ("dns", status) for status in ("unresolved", "alias_cname", "alias_address", "ptr_mismatch",
                                   "host_name_mismatch", "short_name_mismatch", "name_elsewhere",
                                   "several_addresses")} | {
    ("exposure", status) for status in ("writable_by_others", "host_writable_by_others", "creator_recorded",
                                        "self_rbkcd", "machine_account_quota")}


def test_every_status_the_report_emits_has_an_entry():
    assert {key for key in EMITTED if finding_for(*key) is None} == set()
    assert {(f.check, f.status) for f in CATALOGUE} == EMITTED


def test_every_finding_of_the_lab_report_carries_its_catalogue_entry():
    report = build()
    drift = [c for c in checks(report) if c["result"] == "drift"]
    assert drift
    for check in drift:
        finding = finding_for(check["check"], check["status"])
        assert (check["id"], check["severity"], check["title"], check["symptom"]) == (
            finding.id, finding.severity, finding.title, finding.symptom)
    assert all("id" not in c for c in checks(report) if c["result"] in ("ok", "skipped"))


def test_the_catalogue_names_the_symptoms_users_search_for():
    symptoms = " ".join(f.symptom for f in CATALOGUE)
    assert "Cannot generate SSPI context" in symptoms
    assert "NT AUTHORITY\\ANONYMOUS LOGON" in symptoms
    assert "SQL Server cannot register its SPNs" in symptoms


# -- waivers ------------------------------------------------------------------------

def waiver(**overrides):
    item = dict(id="SPN002", subject=DUPLICATE.upper(), reason="legacy app pinned to sqlsvc4old until Q1",
                expires="2027-03-31", approved_by="CAB", ticket="CHG-1234")
    item.update(overrides)
    return item


def test_an_active_waiver_waives_the_finding_and_keeps_it_visible():
    report = build(waivers=[waiver()])
    check = check_of(report, DUPLICATE, "duplicate")
    assert check["result"] == "waived"
    assert check["waiver"] == dict(id="SPN002", subject=DUPLICATE.upper(), reason="legacy app pinned to sqlsvc4old "
                                   "until Q1", expires="2027-03-31", approved_by="CAB", ticket="CHG-1234")
    assert report["summary"]["waived"] == 1
    assert report["verdict"]["waived"] == 1 and report["verdict"]["active_waivers"][0]["id"] == "SPN002"
    xml = ElementTree.fromstring(to_junit(report))
    case = next(c for c in xml.iter("testcase") if c.get("name") == "spn %s" % DUPLICATE)
    assert case.find("failure") is None
    assert case.find("skipped").get("message") == ("waived (SPN002) until 2027-03-31: legacy app pinned to sqlsvc4old "
                                                   "until Q1; approved by: CAB; ticket: CHG-1234")
    assert "Waived</strong> until 2027-03-31: legacy app pinned" in to_html(report)


def test_a_run_whose_only_error_is_waived_passes():
    data = copy.deepcopy(FIXTURE)
    report = build(data=data)
    errors = [c for c in checks(report) if c["result"] == "drift" and c["severity"] == "error"]
    waivers = [waiver(id=c["id"], subject=c["subject"], approved_by=None, ticket=None) for c in errors]
    waived = build(waivers=waivers)
    assert report["verdict"]["fail"] and not waived["verdict"]["fail"]
    assert waived["verdict"]["failing"] == 0


def test_an_expired_waiver_fails_the_run_naming_it():
    report = build(waivers=[waiver(expires="2026-12-05")])
    check = check_of(report, DUPLICATE, "duplicate")
    assert check["result"] == "drift" and check["waiver_expired"]["expires"] == "2026-12-05"
    assert report["verdict"]["fail"] and report["verdict"]["expired_waivers"][0]["subject"] == DUPLICATE.upper()
    assert "Expired waiver (fails the run): SPN002 %s, expired 2026-12-05" % DUPLICATE.upper() in \
        "\n".join(verdict_lines(report))


def test_a_waiver_is_active_on_its_expiry_day():
    assert check_of(build(waivers=[waiver(expires="2026-12-06")]), DUPLICATE, "duplicate")["result"] == "waived"


def test_a_waiver_that_matches_nothing_is_reported():
    report = build(waivers=[waiver(subject="MSSQLSvc/nosuch.corp.example.test:1433")])
    assert report["verdict"]["unmatched_waivers"][0]["subject"] == "MSSQLSvc/nosuch.corp.example.test:1433"
    assert check_of(report, DUPLICATE, "duplicate")["result"] == "drift"


def test_a_waiver_matches_id_and_subject_exactly_no_patterns():
    report = build(waivers=[waiver(subject="MSSQLSvc/sql4.*")])
    assert check_of(report, DUPLICATE, "duplicate")["result"] == "drift"
    report = build(waivers=[waiver(id="SPN001")])
    assert check_of(report, DUPLICATE, "duplicate")["result"] == "drift"


@pytest.mark.parametrize("item, message", [
    (dict(id="XYZ999", subject="x", reason="r", expires="2027-01-01"), "names no check of the catalogue: 'XYZ999'"),
    (dict(id="SPN001", subject="x", reason="r", expires="31/12/2027"), "is not a date as YYYY-MM-DD"),
    (dict(id="SPN001", subject="x", expires="2027-01-01"), "waiver 1 lacks reason"),
    (dict(id="SPN001", subject="x", reason="r", expires="2027-01-01", owner="me"), "unknown keys owner"),
    ("SPN001", "is not a dict"),
])
def test_bad_waivers_are_named(item, message):
    with pytest.raises(CatalogueError, match=re.escape(message)):
        parse_waivers([item])


# -- severity and fail_on -------------------------------------------------------------

def test_fail_on_warning_makes_warnings_fail():
    data = copy.deepcopy(FIXTURE)
    report = build(data=data)
    warnings = [c for c in checks(report) if c["result"] == "drift" and c["severity"] == "warning"]
    assert warnings and report["verdict"]["below_fail_on"] == len(warnings)
    assert build(fail_on="warning")["verdict"]["failing"] == report["verdict"]["failing"] + len(warnings)


def test_a_severity_override_is_shown_as_overridden():
    report = build(overrides={"SPN002": "info"})
    check = check_of(report, DUPLICATE, "duplicate")
    assert (check["severity"], check["severity_overridden_from"]) == ("info", "error")
    assert "(info, overridden from error)" in to_html(report)


@pytest.mark.parametrize("overrides, fail_on, message", [
    ({"NOPE01": "info"}, "error", "no such check"),
    ({"SPN002": "fatal"}, "error", "'fatal' is not one of info, warning, error"),
    ({}, "critical", "fail_on must be one of info, warning, error"),
])
def test_bad_overrides_and_fail_on_are_named(overrides, fail_on, message):
    with pytest.raises(CatalogueError, match=re.escape(message)):
        build(overrides=overrides, fail_on=fail_on)


# -- the verdict ----------------------------------------------------------------------

def test_the_verdict_groups_findings_by_host_one_line_each():
    report = build(waivers=[waiver()])
    lines = verdict_lines(report, "/srv/reports/")
    assert lines[0].startswith("Kerberos drift FAILS the run: ")
    assert lines[-1] == "Reports: /srv/reports/drift-report.{json,xml,html}"
    hosts = [line for line in lines[1:-1] if not line.startswith("  ")]
    assert hosts == sorted(hosts)
    finding_lines = [line for line in lines if line.startswith("  ")]
    assert len(finding_lines) == report["summary"]["drift"] + report["summary"]["waived"]
    assert any(line.startswith("  SPN002 waived   %s: until 2027-03-31" % DUPLICATE) for line in finding_lines)
    assert all(re.match(r"  [A-Z]{3}\d{3} ", line) for line in finding_lines)


def test_the_verdict_of_a_clean_report():
    report = build(waivers=[])
    clean = copy.deepcopy(report)
    for host in clean["hosts"]:
        host["instances"] = []
    clean.update(drift=False, verdict=dict(report["verdict"], fail=False, failing=0, below_fail_on=0))
    assert verdict_lines(clean)[0].startswith("Kerberos no drift: ")


# -- the docsite page ------------------------------------------------------------------

def test_the_docsite_page_of_checks_is_generated_from_the_catalogue():
    """docs/docsite/rst/guide_checks.rst is what docs/catalogue_page.py
    renders from the catalogue: run it after changing the catalogue."""
    text, committed = rendered_and_committed("catalogue_page.py", "guide_checks.rst")
    assert committed == text
    for finding in CATALOGUE:
        assert "%s: %s" % (finding.id, finding.title) in text
