# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kerberos_probe (_kerberos_probe): per SPN the KDC's verdict as the probe
reports it, the key-version comparison on a ticket captured from the lab
KDC against a directory value, the clock check with a shifted clock, the
pacing, and input errors. The KDC is a stand-in here (SIMULATED: the real
one answers in tests/integration_lab/test_kerberos_probe.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._kerberos_probe import (
    OK_AS_DELEGATE,
    Pacer,
    ProbeError,
    TicketRefused,
    clock_check,
    kdc_error,
    kerberos_probe,
    validate_kerberos_probe,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._kerberos_token import ticket_info
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.module_utils.test_spn_audit import (
    FakeDirectory,
    corp_user,
)

TOKENS = json.loads((Path(__file__).parent / "fixtures" / "kerberos_tokens.json").read_text())
AES_TOKEN = base64.b64decode(TOKENS["aes_user"]["token_base64"])
RC4_TOKEN = base64.b64decode(TOKENS["rc4_computer"]["token_base64"])
# 2026-01-01T00:00:00Z
JAN_2026 = 1767225600.0


class StandInKerberos:
    """Answers per SPN from a table: a captured token (and flags) or a refusal."""

    client = "alice@CORP.EXAMPLE.COM"

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def ticket(self, spn):
        self.asked.append(spn)
        answer = self.answers.get(spn, "unknown")
        if answer == "unknown":
            raise TicketRefused(7, "unknown_principal", "no account holds this SPN for the KDC",
                                "Server not found in Kerberos database")
        token, flags = answer
        return ticket_info(token), flags


class Directory(FakeDirectory):
    dc_current_time = "20260101000000.0Z"
    dc_time_read_at = JAN_2026


def request(**params):
    return validate_kerberos_probe(dict(dict(instances=[dict(host="sql01.corp.example.com",
                                                             service_account="CORP\\sqlsvc")],
                                             spn_forms=["fqdn_port", "netbios_port"], rate_limit=0), **params))


def directory(kvno=1):
    holder = corp_user("sqlsvc", 1105, spns=["MSSQLSvc/sql01.corp.example.com:1433", "MSSQLSvc/sql01:1433"])
    holder.raw["msds-keyversionnumber"] = [str(kvno).encode()]
    return Directory([holder], one_domain=True)


def run(answers, kvno=1, clock=lambda: JAN_2026, **params):
    kerberos = StandInKerberos(answers)
    return kerberos_probe(directory(kvno), request(**params), kerberos=kerberos, clock=clock), kerberos


def test_issued_refused_rc4_and_delegation_flag():
    result, kerberos = run({"MSSQLSvc/sql01.corp.example.com:1433": (AES_TOKEN, 0x40a80000),
                            "MSSQLSvc/sql01:1433": (RC4_TOKEN, 0x40a80000 | OK_AS_DELEGATE)}, spn_forms=None)
    rows = {row["spn"]: row for row in result["tickets"]}
    aes, rc4 = rows["MSSQLSvc/sql01.corp.example.com:1433"], rows["MSSQLSvc/sql01:1433"]
    assert (aes["status"], aes["enctype"], aes["ticket_kvno"], aes["directory_kvno"], aes["ok_as_delegate"]) == (
        "ok", "aes256-cts-hmac-sha1-96", 1, 1, False)
    assert (rc4["status"], rc4["enctype"], rc4["rc4"], rc4["ok_as_delegate"]) == ("rc4", "arcfour-hmac", True, True)
    missing = rows["MSSQLSvc/sql01.corp.example.com"]
    assert missing["status"] == "refused" and missing["error"]["name"] == "unknown_principal"
    assert missing["holders"] == [] and missing["instances"] == ["sql01.corp.example.com"]
    assert result["summary"]["requested"] == len(kerberos.asked) == 4
    assert result["summary"]["issued"] == 2 and result["summary"]["refused"] == 2 and result["summary"]["rc4"] == 1


def test_key_version_compared_with_the_directory():
    # The captured ticket says kvno 1; the directory says 2: the KDC and the directory disagree.
    result, dummy = run({"MSSQLSvc/sql01.corp.example.com:1433": (AES_TOKEN, 0)}, kvno=2)
    row = next(r for r in result["tickets"] if r["spn"] == "MSSQLSvc/sql01.corp.example.com:1433")
    assert (row["ticket_kvno"], row["directory_kvno"], row["key_version_match"], row["status"]) == (
        1, 2, False, "key_version_mismatch")
    assert result["summary"]["key_version_mismatch"] == 1


def test_the_clock_against_the_dcs():
    assert clock_check("20260101000000.0Z", JAN_2026 + 299)["ok"] is True
    late = clock_check("20260101000000.0Z", JAN_2026 + 301)
    assert (late["ok"], late["skew_seconds"], late["controller"]) == (False, 301.0, "2026-01-01T00:05:01Z")
    assert clock_check("20260101000000.0Z", JAN_2026 - 400, max_skew=600)["ok"] is True
    assert clock_check(None, JAN_2026)["ok"] is None
    # The probe's notion of now shifted by six minutes, the machine's clock untouched.
    result, dummy = run({}, clock=lambda: JAN_2026 + 360 + (__import__("time").time() - JAN_2026))
    assert result["clock"]["ok"] is False and result["clock"]["skew_seconds"] == pytest.approx(360, abs=2)


def test_requests_are_paced():
    moments, slept = [0.0, 0.0, 0.05, 0.5], []

    def now():
        return moments.pop(0)

    pacer = Pacer(10, now=now, sleep=slept.append)
    for dummy in range(4):
        pacer.wait()
    # 10 a second: the second request waits 0.1 s, the third 0.05 s more, the fourth none.
    assert slept == [pytest.approx(0.1), pytest.approx(0.15)]
    assert Pacer(0, now=now, sleep=slept.append).wait() is None and len(slept) == 2


def test_kdc_errors_from_mit_minor_codes():
    assert kdc_error(2529638919) == 7            # Server not found in Kerberos database
    assert kdc_error(-1765328377) == 7
    assert kdc_error(-1765328228) is None        # Cannot contact any KDC: not the KDC's answer
    assert kdc_error(100001) is None


@pytest.mark.parametrize("params, message", [
    (dict(kerberos_password="x", kerberos_keytab="/k"), "give kerberos_password or kerberos_keytab, not both"),
    (dict(kerberos_password="x"), "kerberos_principal is needed with kerberos_password or kerberos_keytab"),
    (dict(rate_limit=-1), "rate_limit must be 0"),
    (dict(instances=[]), "instances is empty"),
])
def test_bad_input_fails_before_connecting(params, message):
    with pytest.raises(ProbeError, match=message):
        request(**params)


# -- in the drift report ----------------------------------------------------------------------

def test_the_drift_report_shows_the_kdcs_verdict():
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import build_report
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import audit

    probe, dummy = run({"MSSQLSvc/sql01.corp.example.com:1433": (AES_TOKEN, 0),
                        "MSSQLSvc/sql01:1433": (RC4_TOKEN, 0)}, spn_forms=None,
                       clock=lambda: JAN_2026 + 600 + (__import__("time").time() - JAN_2026))
    report_in = audit(directory(), request(spn_forms=None)["prepared"], request(spn_forms=None)["forms"])
    report = build_report(report_in, [], None, {}, probe=probe)
    checks = [c for h in report["hosts"] for i in h["instances"] for c in i["checks"] if c["check"].startswith("kdc")]
    found = {(c["check"], c["subject"], c["status"], c.get("id")) for c in checks}
    assert ("kdc", "MSSQLSvc/sql01.corp.example.com:1433", "ok", None) in found
    assert ("kdc", "MSSQLSvc/sql01:1433", "rc4_ticket", "KDC003") in found
    assert ("kdc", "MSSQLSvc/sql01.corp.example.com", "ticket_refused", "KDC001") in found
    assert ("kdc_clock", "controller clock", "clock_skew", "KDC004") in found
    # The clock's check is on one instance only, first among its checks.
    assert sum(c["check"] == "kdc_clock" for c in checks) == 1
    # Without the probe, no KDC check at all.
    plain = build_report(report_in, [], None, {})
    assert not [c for h in plain["hosts"] for i in h["instances"] for c in i["checks"] if c["check"].startswith("kdc")]


def test_an_aes_only_refusal_means_rc4_only():
    """Asked for AES session keys only, the KDC refuses an account that
    allows RC4 only (KDC_ERR_ETYPE_NOSUPP, seen on the lab KDC): reported
    as RC4, not as a missing SPN."""
    class Rc4Only(StandInKerberos):
        def ticket(self, spn):
            raise TicketRefused(14, "etype_not_supported", "no key of an allowed type",
                                "KDC has no support for encryption type")

    result = kerberos_probe(directory(), request(), kerberos=Rc4Only({}), clock=lambda: JAN_2026)
    assert {row["status"] for row in result["tickets"]} == {"rc4"}
    assert result["summary"]["refused"] == 0 and result["summary"]["rc4"] == 2
