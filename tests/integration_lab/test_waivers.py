"""Waivers in a real pipeline: the lab estate fixed by site.yml, then one SPN
removed with OpenLDAP's ldapmodify (an independent writer), so that the drift
report's only error is that SPN001 finding. With a waiver for it the drift
report exits 0 and the JUnit file marks the case skipped with the reason;
with the waiver expired it exits 2 and names the waiver. The lab is
re-seeded before and after."""
import json
import os
import subprocess
from xml.etree import ElementTree

import pytest
import yaml
from conftest import REPO, run_playbook

INVENTORY = REPO / "playbooks" / "inventories" / "lab"
SITE = REPO / "playbooks" / "site.yml"
DRIFT_REPORT = REPO / "playbooks" / "drift_report.yml"
# The NetBIOS port form: only clients that connect by short name ask for it,
# so removing it breaks one check (the FQDN form is also the classic-KCD
# back end of sql10).
REMOVED_SPN = "MSSQLSvc/sql1:1433"
# The lab inventory's own waivers (the findings it seeds on purpose): a run's
# sql_kerberos_waivers replaces them, so the tests pass them on too.
LAB_WAIVERS = yaml.safe_load((INVENTORY / "group_vars" / "sql_servers" / "waivers.yml").read_text())[
    "sql_kerberos_waivers"]


@pytest.fixture(scope="module")
def one_error(lab, tmp_path_factory):
    lab.reseed()
    fixed = run_playbook(SITE, INVENTORY, env=dict(lab.admin_pipeline_env, SQLAUTH_LAB_DIR=str(lab.dir)),
                         # Bound as the lab's admin, it may also clear unconstrained delegation.
                         extra_vars=dict(sql_kerberos_report_dir=str(tmp_path_factory.mktemp("site")),
                                         sql_kerberos_clear_unconstrained_delegation=True))
    assert not fixed.failed, fixed.output[-3000:]
    ldif = "dn: %s\nchangetype: modify\ndelete: servicePrincipalName\nservicePrincipalName: %s\n" % (
        lab.accounts["sqlsvc1"]["dn"], REMOVED_SPN)
    subprocess.run(["ldapmodify", "-x", "-H", "ldaps://%s" % lab.server, "-D", lab.username, "-w", lab.password],
                   input=ldif, text=True, check=True, capture_output=True,
                   env=dict(os.environ, LDAPTLS_CACERT=lab.ca_cert))
    assert REMOVED_SPN not in lab.spns_of("sqlsvc1")
    yield
    lab.reseed()


def drift_report(lab, tmp_path, **extra_vars):
    run = run_playbook(DRIFT_REPORT, INVENTORY, env=dict(lab.admin_pipeline_env, SQLAUTH_LAB_DIR=str(lab.dir)),
                       extra_vars=dict(sql_kerberos_report_dir=str(tmp_path), **extra_vars))
    report = json.loads((tmp_path / "drift-report.json").read_text())
    return run, report


def waiver(expires):
    return dict(id="SPN001", subject=REMOVED_SPN.lower(), reason="sql1 is being decommissioned", expires=expires,
                approved_by="change board", ticket="CHG-42")


def test_without_a_waiver_the_one_error_fails_the_report(lab, one_error, tmp_path):
    run, report = drift_report(lab, tmp_path)
    assert run.returncode == 2
    assert report["verdict"]["failing"] == 1
    finding = [c for h in report["hosts"] for i in h["instances"] for c in i["checks"] if c["result"] == "drift"]
    assert [(c["id"], c["subject"], c["severity"]) for c in finding] == [("SPN001", REMOVED_SPN, "error")]
    # The verdict: the finding on one line with its ID, then where the reports are.
    assert "SPN001 error   %s (sql1.corp.example.test): SPN not registered, breaks Kerberos logins" % REMOVED_SPN in run.output
    assert "Reports: %s/drift-report.{json,xml,html}" % tmp_path in run.output


def test_a_waived_only_error_passes_and_junit_skips_it_with_the_reason(lab, one_error, tmp_path):
    run, report = drift_report(lab, tmp_path, sql_kerberos_waivers=LAB_WAIVERS + [waiver("2099-12-31")])
    assert run.returncode == 0, run.output[-3000:]
    assert report["verdict"]["fail"] is False and report["summary"]["waived"] == len(LAB_WAIVERS) + 1
    xml = ElementTree.parse(str(tmp_path / "drift-report.xml")).getroot()
    case = next(c for c in xml.iter("testcase") if c.get("name") == "spn %s" % REMOVED_SPN)
    assert case.find("failure") is None
    assert case.find("skipped").get("message") == ("waived (SPN001) until 2099-12-31: sql1 is being decommissioned; "
                                                   "approved by: change board; ticket: CHG-42")


def test_an_expired_waiver_fails_the_report_naming_it(lab, one_error, tmp_path):
    run, report = drift_report(lab, tmp_path, sql_kerberos_waivers=LAB_WAIVERS + [waiver("2020-01-31")])
    assert run.returncode == 2
    assert report["verdict"]["expired_waivers"][0]["expires"] == "2020-01-31"
    assert "Expired waiver (fails the run): SPN001 %s, expired 2020-01-31" % REMOVED_SPN.lower() in run.output


def test_a_waiver_that_matches_nothing_is_reported(lab, one_error, tmp_path):
    stray = dict(waiver("2099-12-31"), subject="MSSQLSvc/gone.corp.example.test:1433")
    run, report = drift_report(lab, tmp_path, sql_kerberos_waivers=LAB_WAIVERS + [waiver("2099-12-31"), stray])
    assert run.returncode == 0
    assert [w["subject"] for w in report["verdict"]["unmatched_waivers"]] == [stray["subject"]]
    assert "Waiver that matches no finding: SPN001 MSSQLSvc/gone.corp.example.test:1433" in run.output


def test_waivers_from_a_file(lab, one_error, tmp_path):
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(yaml.safe_dump([waiver("2099-12-31")]))
    run, report = drift_report(lab, tmp_path / "report", sql_kerberos_waivers_file=str(waivers))
    assert run.returncode == 0, run.output[-3000:]
    assert [w["ticket"] for w in report["verdict"]["active_waivers"] if w["id"] == "SPN001"] == ["CHG-42"]
