# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service accounts' own state (_account_state) and what the drift
report makes of it: account health (disabled, locked out, expired, password
expired), the delegation flags that are a risk (unconstrained delegation,
protocol transition), and delegation read the way the KDC decides it (same
account, sensitive front end, classic constrained delegation). Built on the
drift report's captured lab inputs (fixtures/drift_report_inputs.json), with
each account's state set as spn_facts reports it."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import (
    account_state,
    filetime_to_iso,
    is_expired,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._catalogue import finding_for
from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import build_report, to_powershell

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "drift_report_inputs.json").read_text())
TODAY = datetime.date(2026, 12, 6)
SQL1 = "sql1.corp.example.test"
SALES = "sql2.corp.example.test\\SALES"
SQL6 = "sql6.corp.example.test"
BACK_SPN = "MSSQLSvc/sql2.corp.example.test:1533"
# 2026-01-01T00:00:00Z as an AD FILETIME.
JAN_2026 = 134116992000000000


def inputs(**states):
    """The captured inputs, every account in a healthy state, then the
    accounts of the instances named (keyword: SQL1 ...) given ``states``."""
    data = copy.deepcopy(FIXTURE)
    for report in data["audit"]["instances"]:
        report["service_account"]["state"] = account_state(0x200)
    for name, state in states.items():
        target = {"SQL1": SQL1, "SALES": SALES, "SQL6": SQL6}[name]
        report = next(r for r in data["audit"]["instances"] if r["name"] == target)
        report["service_account"]["state"] = state
    return data


def build(data):
    return build_report(data["audit"], data["links"], data["delegation"], data["ports"], today=TODAY)


def checks_of(report, name, check):
    instance = next(i for host in report["hosts"] for i in host["instances"] if i["name"] == name)
    return [c for c in instance["checks"] if c["check"] == check]


def statuses(report, name, check):
    return [c["status"] for c in checks_of(report, name, check)]


# -- the state spn_facts reports ----------------------------------------------------

def test_filetime_to_iso():
    assert filetime_to_iso(str(JAN_2026)) == "2026-01-01T00:00:00Z"
    # 0 and the largest value both mean "never"; junk is none too.
    assert filetime_to_iso("0") is None and filetime_to_iso(str(0x7FFFFFFFFFFFFFFF)) is None
    assert filetime_to_iso(None) is None and filetime_to_iso("x") is None


def test_account_state_names_the_flags():
    state = account_state(0x200 | 0x2 | 0x80000 | 0x1000000 | 0x100000, 0x10 | 0x800000, str(JAN_2026), "0",
                          ["MSSQLSvc/b.corp:1433", "HTTP/a.corp"])
    assert state == dict(flags=["disabled", "trusted_for_delegation", "trusted_to_auth_for_delegation",
                                "not_delegated", "locked_out", "password_expired"],
                         expires="2026-01-01T00:00:00Z", must_change_password=True,
                         allowed_to_delegate_to=["HTTP/a.corp", "MSSQLSvc/b.corp:1433"])
    assert account_state(0x1000 | 0x2000)["flags"] == ["domain_controller"]
    assert account_state(0x200, pwd_last_set="134116992000000000")["must_change_password"] is False


def test_is_expired():
    state = dict(expires="2026-01-01T00:00:00Z")
    assert is_expired(state, datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    assert not is_expired(state, datetime.datetime(2025, 12, 31, 23, 59, tzinfo=datetime.timezone.utc))
    assert not is_expired(dict(expires=None), datetime.datetime.now(datetime.timezone.utc))


# -- account health -----------------------------------------------------------------

@pytest.mark.parametrize("state, expected", [
    (account_state(0x200 | 0x2), ["account_disabled"]),
    (account_state(0x200, 0x10), ["account_locked"]),
    (account_state(0x200, account_expires=str(JAN_2026)), ["account_expired"]),
    (account_state(0x200, 0x800000), ["password_expired"]),
    (account_state(0x200, pwd_last_set="0"), ["password_expired"]),
    (account_state(0x200 | 0x2, 0x10, str(JAN_2026), "0"),
     ["account_disabled", "account_locked", "account_expired", "password_expired"]),
])
def test_account_problems_are_errors_with_their_fix(state, expected):
    report = build(inputs(SALES=state))
    assert statuses(report, SALES, "account") == expected
    for check in checks_of(report, SALES, "account"):
        finding = finding_for("account", check["status"])
        assert (check["id"], check["severity"], check["result"]) == (finding.id, "error", "drift")
        assert check["subject"] == "CORP\\sqlsvc2" and check["commands"] and check["fix"]
    assert report["verdict"]["fail"]
    assert statuses(report, SQL1, "account") == ["ok"]


def test_an_expiry_in_the_future_is_fine():
    report = build(inputs(SALES=account_state(0x200, account_expires=str(JAN_2026 + 10 ** 15))))
    assert statuses(report, SALES, "account") == ["ok"]


def test_a_report_without_account_state_has_no_account_checks():
    data = copy.deepcopy(FIXTURE)
    report = build(data)
    assert statuses(report, SQL1, "account") == [] and statuses(report, SQL1, "delegation_risk") == []


# -- delegation flags that are a risk ------------------------------------------------

def test_unconstrained_delegation_and_protocol_transition_are_warnings():
    report = build(inputs(SQL6=account_state(0x1000 | 0x80000), SALES=account_state(0x200 | 0x1000000)))
    assert statuses(report, SQL6, "delegation_risk") == ["unconstrained_delegation"]
    assert statuses(report, SALES, "delegation_risk") == ["protocol_transition"]
    assert statuses(report, SQL1, "delegation_risk") == ["ok"]
    [unconstrained] = checks_of(report, SQL6, "delegation_risk")
    assert unconstrained["id"] == "DLG002" and unconstrained["severity"] == "warning"
    assert "-TrustedForDelegation $false" in unconstrained["commands"][0]
    [transition] = checks_of(report, SALES, "delegation_risk")
    assert transition["id"] == "DLG003" and "-TrustedToAuthForDelegation $false" in transition["commands"][0]
    # Warnings do not fail a run that fails on errors; they do one that fails on warnings.
    data = inputs(SQL6=account_state(0x1000 | 0x80000))
    base, verdict = build(inputs())["verdict"], build(data)["verdict"]
    assert verdict["failing"] == base["failing"] and verdict["below_fail_on"] == base["below_fail_on"] + 1
    on_warnings = build_report(data["audit"], data["links"], data["delegation"], data["ports"], today=TODAY,
                               fail_on="warning")["verdict"]
    assert on_warnings["failing"] == verdict["failing"] + verdict["below_fail_on"]


def test_a_domain_controller_is_not_judged():
    report = build(inputs(SQL6=account_state(0x2000 | 0x80000)))
    assert statuses(report, SQL6, "delegation_risk") == ["skipped"]


# -- delegation as the KDC decides it -------------------------------------------------

def test_classic_constrained_delegation_is_ok():
    data = inputs(SQL1=account_state(0x200 | 0x1000000, allowed_to_delegate_to=[BACK_SPN.upper()]))
    # The KDC grants it only when the back end's SPN is on the back end's account.
    target = next(t for t in data["delegation"]["targets"] if t["account"]["name"] == "CORP\\sqlsvc2")
    target["spns"] = [dict(spn=BACK_SPN, status="ok", holders=["CORP\\sqlsvc2"])]
    report = build(data)
    [pair] = checks_of(report, SQL1, "delegation")
    assert pair["status"] == "ok"
    assert pair["detail"] == ("CORP\\sqlsvc1 may delegate to %s by classic constrained delegation "
                              "(msDS-AllowedToDelegateTo, with protocol transition)" % BACK_SPN)
    # Not when the back end's SPN is not ok on its account: the KDC would refuse.
    target["spns"][0]["status"] = "missing"
    assert statuses(build(data), SQL1, "delegation") == ["delegation_missing"]


def test_unconstrained_front_end_delegates_but_is_named_a_risk():
    report = build(inputs(SQL1=account_state(0x200 | 0x80000)))
    [pair] = checks_of(report, SQL1, "delegation")
    assert pair["status"] == "ok" and "unconstrained delegation (a risk" in pair["detail"]
    assert statuses(report, SQL1, "delegation_risk") == ["unconstrained_delegation"]


def test_a_sensitive_front_end_is_an_error():
    report = build(inputs(SQL1=account_state(0x200 | 0x100000)))
    [pair] = checks_of(report, SQL1, "delegation")
    assert (pair["status"], pair["id"], pair["severity"]) == ("front_end_sensitive", "DLG004", "error")
    assert "-AccountNotDelegated $false" in pair["commands"][0]


def test_the_same_account_on_both_ends_needs_no_delegation():
    data = inputs()
    back = next(r for r in data["audit"]["instances"] if r["name"] == SALES)
    front = next(r for r in data["audit"]["instances"] if r["name"] == SQL1)
    back["service_account"] = copy.deepcopy(front["service_account"])
    report = build(data)
    [pair] = checks_of(report, SQL1, "delegation")
    assert (pair["status"], pair["detail"]) == ("ok", "same account (CORP\\sqlsvc1) on both ends: no delegation needed")


def test_the_new_fixes_are_in_the_powershell_script():
    report = build(inputs(SALES=account_state(0x200 | 0x2 | 0x1000000)))
    script = to_powershell(report)
    assert "Enable-ADAccount -Identity 'CN=sqlsvc2," in script
    assert "Set-ADAccountControl -Identity 'CN=sqlsvc2," in script
