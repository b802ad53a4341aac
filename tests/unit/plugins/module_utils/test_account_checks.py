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
                         expires="2026-01-01T00:00:00Z", must_change_password=True, password_last_set=None,
                         allowed_to_delegate_to=["HTTP/a.corp", "MSSQLSvc/b.corp:1433"],
                         encryption_types=dict(value=None, names=["rc4-hmac"], rc4_only=True, rc4=True, des=False,
                                               aes_keys_possibly_missing=None))
    assert account_state(0x1000 | 0x2000)["flags"] == ["domain_controller"]
    assert account_state(0x200, pwd_last_set="134116992000000000")["must_change_password"] is False
    # A password that never expires need not be changed (the KDC lets it log on).
    assert account_state(0x200 | 0x10000, pwd_last_set="0")["must_change_password"] is False


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
                               fail_on="warning")
    drift = [c for h in on_warnings["hosts"] for i in h["instances"] for c in i["checks"] if c["result"] == "drift"]
    assert on_warnings["verdict"]["failing"] == sum(c["severity"] != "info" for c in drift) > verdict["failing"]


def test_a_domain_controller_is_not_judged():
    report = build(inputs(SQL6=account_state(0x2000 | 0x80000)))
    assert statuses(report, SQL6, "delegation_risk") == ["skipped"]


# -- delegation as the KDC decides it -------------------------------------------------

def test_classic_constrained_delegation_is_ok():
    data = inputs(SQL1=account_state(0x200 | 0x1000000, allowed_to_delegate_to=[BACK_SPN.upper()]))
    # The KDC grants it only when the back end's SPN is on the back end's account.
    back = next(r for r in data["audit"]["instances"] if r["name"] == SALES)
    row = next(r for r in back["spns"] if r["spn"] == BACK_SPN)
    row["status"] = "ok"
    report = build(data)
    [pair] = checks_of(report, SQL1, "delegation")
    assert pair["status"] == "ok"
    assert pair["detail"] == ("CORP\\sqlsvc1 may delegate to %s by classic constrained delegation "
                              "(msDS-AllowedToDelegateTo, with protocol transition)" % BACK_SPN)
    # Not when the back end's SPN is not ok on its account: the KDC would refuse.
    row["status"] = "missing"
    assert statuses(build(data), SQL1, "delegation") == ["delegation_missing"]
    # Nor for a back end's NetBIOS SPN: a linked server asks for the FQDN.
    data["audit"]["instances"][0]["service_account"]["state"]["allowed_to_delegate_to"] = ["MSSQLSvc/sql2:1533"]
    row["status"] = "ok"
    assert statuses(build(data), SQL1, "delegation") == ["delegation_missing"]


def test_classic_constrained_delegation_without_protocol_transition_is_ok_too():
    """Kerberos-only classic KCD: the front end delegates the tickets its
    users bring (the lab proves this variant by LDAP only: S4U2Self, which
    kvno -U needs, requires protocol transition)."""
    data = inputs(SQL1=account_state(0x200, allowed_to_delegate_to=[BACK_SPN]))
    back = next(r for r in data["audit"]["instances"] if r["name"] == SALES)
    next(r for r in back["spns"] if r["spn"] == BACK_SPN)["status"] = "ok"
    [pair] = checks_of(build(data), SQL1, "delegation")
    assert pair["status"] == "ok" and pair["detail"].endswith("by classic constrained delegation "
                                                              "(msDS-AllowedToDelegateTo)")


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


def same_account_inputs():
    """The inputs with SALES running as sql1's account: one account on both
    ends of the sql1 -> SALES linked server. Returns (data, the account)."""
    data = inputs()
    back = next(r for r in data["audit"]["instances"] if r["name"] == SALES)
    front = next(r for r in data["audit"]["instances"] if r["name"] == SQL1)
    back["service_account"] = copy.deepcopy(front["service_account"])
    return data, front["service_account"]


def test_the_same_account_on_both_ends_needs_no_delegation():
    data, dummy = same_account_inputs()
    report = build(data)
    [pair] = checks_of(report, SQL1, "delegation")
    assert (pair["status"], pair["detail"]) == ("ok", "same account (CORP\\sqlsvc1) on both ends: no delegation needed")


def test_the_new_fixes_are_in_the_powershell_script():
    report = build(inputs(SALES=account_state(0x200 | 0x2 | 0x1000000)))
    script = to_powershell(report)
    assert "Enable-ADAccount -Identity 'CN=sqlsvc2," in script
    assert "Set-ADAccountControl -Identity 'CN=sqlsvc2," in script


# -- privileged service accounts (ACC005, account_privilege) ----------------------------

SQLSVC2_DN = "CN=sqlsvc2,CN=Users,DC=corp,DC=example,DC=test"
DOMAIN_ADMINS = dict(group="CORP\\Domain Admins", dn="CN=Domain Admins,CN=Users,DC=corp,DC=example,DC=test",
                     sid="S-1-5-21-2266110769-295493698-3870994567-512", via="member")
ADMINISTRATORS = dict(group="BUILTIN\\Administrators", dn="CN=Administrators,CN=Builtin,DC=corp,DC=example,DC=test",
                      sid="S-1-5-32-544", via="nested")


def privileged(data, name=None, memberships=(), kind=None):
    """spn_facts' privileged groups: none for every user account, null for
    computers, and ``memberships`` for the account of instance ``name``."""
    for report in data["audit"]["instances"]:
        account = report["service_account"]
        empty = None if account["kind"] == "computer" else []
        account.update(privileged_groups=empty, privileged_memberships=empty)
        if report["name"] == name:
            account.update(privileged_groups=[m["group"] for m in memberships],
                           privileged_memberships=[dict(m) for m in memberships], kind=kind or account["kind"])
    return data


def test_a_privileged_service_account_is_a_warning_naming_its_groups():
    report = build(privileged(inputs(), SALES, [ADMINISTRATORS, DOMAIN_ADMINS]))
    [check] = checks_of(report, SALES, "account_privilege")
    assert (check["status"], check["id"], check["severity"], check["result"]) == (
        "privileged_account", "ACC005", "warning", "drift")
    assert check["subject"] == check["account"] == "CORP\\sqlsvc2"
    assert check["detail"].startswith("CORP\\sqlsvc2 is a member of BUILTIN\\Administrators (nested), "
                                      "CORP\\Domain Admins: anyone in the domain can request a service ticket")
    assert "kerberoasting" in check["detail"]
    # Only the direct membership is removed: Administrators comes through Domain Admins.
    assert check["commands"] == ["Remove-ADGroupMember -Identity 'CN=Domain Admins,CN=Users,DC=corp,DC=example,"
                                 "DC=test' -Members '%s' -Confirm:$false" % SQLSVC2_DN]
    assert "a gMSA" in check["fix"] and "Or remove CORP\\sqlsvc2 from CORP\\Domain Admins." in check["fix"]
    assert "BUILTIN\\Administrators comes through other groups" in check["fix"]
    assert check["ldif"] == []
    # Listed right after the account's own checks.
    instance = next(i for host in report["hosts"] for i in host["instances"] if i["name"] == SALES)
    kinds = [c["check"] for c in instance["checks"]]
    assert kinds.index("account_privilege") == kinds.index("account") + 1
    # A warning: it fails a run that fails on warnings only.
    clean = build(privileged(inputs()))["verdict"]
    assert report["verdict"]["failing"] == clean["failing"]
    assert report["verdict"]["below_fail_on"] == clean["below_fail_on"] + 1
    assert "Remove-ADGroupMember -Identity 'CN=Domain Admins," in to_powershell(report)


def test_accounts_in_no_privileged_group_are_ok_and_computers_not_checked():
    report = build(privileged(inputs()))
    assert statuses(report, SQL1, "account_privilege") == ["ok"]
    assert statuses(report, SALES, "account_privilege") == ["ok"]
    assert statuses(report, SQL6, "account_privilege") == []  # a computer account: null


def test_a_report_without_privileged_groups_has_no_privilege_check():
    report = build(inputs())  # spn_facts before 0.3.0
    assert statuses(report, SQL1, "account_privilege") == [] and statuses(report, SALES, "account_privilege") == []


@pytest.mark.parametrize("kind, rid", [("user", 513), ("gmsa", 515)])
def test_a_privileged_primary_group_is_set_back_first(kind, rid):
    primary = dict(DOMAIN_ADMINS, via="primary_group")
    report = build(privileged(inputs(), SALES, [dict(ADMINISTRATORS), primary], kind=kind))
    [check] = checks_of(report, SALES, "account_privilege")
    assert "CORP\\Domain Admins (primary group)" in check["detail"]
    assert check["commands"] == [
        "Set-ADObject -Identity '%s' -Replace @{primaryGroupID=%d}" % (SQLSVC2_DN, rid),
        "Remove-ADGroupMember -Identity '%s' -Members '%s' -Confirm:$false" % (DOMAIN_ADMINS["dn"], SQLSVC2_DN)]
    assert "CORP\\Domain Admins is its primary group" in check["fix"]


def test_a_privileged_gmsa_is_named_for_what_it_risks():
    report = build(privileged(inputs(), SALES, [DOMAIN_ADMINS], kind="gmsa"))
    [check] = checks_of(report, SALES, "account_privilege")
    assert check["status"] == "privileged_account"
    assert "machine-made and cannot be cracked" in check["detail"] and "kerberoasting" not in check["detail"]


def test_nested_memberships_only_have_no_command():
    account_operators = dict(group="BUILTIN\\Account Operators", dn="CN=Account Operators,CN=Builtin,DC=corp,"
                             "DC=example,DC=test", sid="S-1-5-32-548", via="nested")
    report = build(privileged(inputs(), SALES, [account_operators]))
    [check] = checks_of(report, SALES, "account_privilege")
    assert check["result"] == "drift" and check["commands"] == []
    assert "Or remove" not in check["fix"] and "Get-ADPrincipalGroupMembership" in check["fix"]


def test_group_names_alone_are_enough():
    data = privileged(inputs(), SALES, [DOMAIN_ADMINS])
    report_in = next(r for r in data["audit"]["instances"] if r["name"] == SALES)
    del report_in["service_account"]["privileged_memberships"]
    [check] = checks_of(build(data), SALES, "account_privilege")
    assert check["commands"] == ["Remove-ADGroupMember -Identity 'Domain Admins' -Members '%s' -Confirm:$false"
                                 % SQLSVC2_DN]


# -- stale SPNs ----------------------------------------------------------------------

def test_a_stale_spn_is_a_warning_with_its_removal():
    data = inputs()
    report = next(r for r in data["audit"]["instances"] if r["name"] == SQL1)
    report["stale_spns"] = [dict(spn="MSSQLSvc/sql1.corp.example.test:1435",
                                 holders=[dict(name="CORP\\sqlsvc1", dn="CN=sqlsvc1,CN=Users,DC=corp,DC=example,DC=test",
                                               sid="S-1-5-21-1")])]
    built = build(data)
    [stale] = [c for c in checks_of(built, SQL1, "spn") if c["status"] == "stale"]
    assert (stale["id"], stale["severity"]) == ("SPN005", "warning")
    assert stale["subject"] == "MSSQLSvc/sql1.corp.example.test:1435"
    assert stale["commands"] == ["setspn -D 'MSSQLSvc/sql1.corp.example.test:1435' 'CORP\\sqlsvc1'"]
    assert "delete: servicePrincipalName" in stale["ldif"][0]


def test_an_old_self_entry_of_the_same_account_is_info():
    data, account = same_account_inputs()
    target = next(t for t in data["delegation"]["targets"] if t["account"]["name"] == "CORP\\sqlsvc1")
    target["principals_before"] = [dict(name="CORP\\sqlsvc1", sid=account["sid"])]
    [pair] = checks_of(build(data), SQL1, "delegation")
    assert (pair["status"], pair["id"], pair["severity"]) == ("self_entry", "DLG005", "info")
    assert "Where-Object { $_ -ne 'CN=sqlsvc1," in pair["commands"][0]


# -- gMSA password readers --------------------------------------------------------------

def test_a_host_that_may_not_retrieve_its_gmsa_password_is_an_error():
    data = inputs()
    report = next(r for r in data["audit"]["instances"] if r["name"] == SALES)
    report["service_account"]["managed_password"] = dict(host_account="CORP\\SQL2$", may_retrieve=False)
    [check] = checks_of(build(data), SALES, "account")
    assert (check["status"], check["id"], check["severity"]) == ("gmsa_password_unreadable", "ACC006", "error")
    assert check["detail"].startswith("CORP\\SQL2$ may not retrieve the managed password of CORP\\sqlsvc2")
    assert check["commands"][0].endswith("PrincipalsAllowedToRetrieveManagedPassword) + 'SQL2$')")
    report["service_account"]["managed_password"]["may_retrieve"] = True
    assert statuses(build(data), SALES, "account") == ["ok"]


def test_managed_password_readers_are_the_allow_entries():
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import (
        AccountStateError,
        managed_password_readers,
    )
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._rbkcd import build_descriptor
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import Ace
    value = build_descriptor([Ace.from_sddl("(A;;0xf01ff;;;S-1-5-21-1-2-3-1105)"),
                              Ace.from_sddl("(D;;0xf01ff;;;S-1-5-21-1-2-3-1106)"),
                              Ace.from_sddl("(A;;0xf01ff;;;S-1-5-21-1-2-3-1107)")])
    assert managed_password_readers(value, "CORP\\g$") == ["S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1107"]
    assert managed_password_readers(None, "CORP\\u") is None
    with pytest.raises(AccountStateError) as raised:
        managed_password_readers(b"\x01\x00garbage", "CORP\\g$")
    assert str(raised.value).startswith("msDS-GroupMSAMembership of CORP\\g$ is not a valid security descriptor")


# -- linked-server callers --------------------------------------------------------------

def test_callers_the_kdc_never_delegates_are_an_error_naming_them():
    data = inputs()
    data["links"][0]["callers"] = ["CORP\\alice", "CORP\\Analysts"]
    data["audit"]["callers"] = [
        dict(input="CORP\\alice", name="CORP\\alice", kind="user", blocked=[]),
        dict(input="CORP\\Analysts", name="CORP\\Analysts", kind="group", blocked=[
            dict(name="CORP\\bob", reasons=["sensitive"]), dict(name="CORP\\carol", reasons=["protected_users"])])]
    report = build(data)
    pair, callers = checks_of(report, SQL1, "delegation")
    assert callers["subject"] == pair["subject"] + ": callers"
    assert (callers["status"], callers["id"], callers["severity"]) == ("caller_not_delegable", "DLG006", "error")
    assert callers["detail"].endswith("CORP\\bob (marked sensitive); CORP\\carol (in Protected Users)")
    assert callers["commands"] == ["Set-ADAccountControl -Identity 'CORP\\bob' -AccountNotDelegated $false",
                                   "Remove-ADGroupMember -Identity 'Protected Users' -Members 'CORP\\carol' "
                                   "-Confirm:$false"]
    data["audit"]["callers"][1]["blocked"] = []
    [ok] = [c for c in checks_of(build(data), SQL1, "delegation") if c["subject"].endswith(": callers")]
    assert ok["status"] == "ok"
    del data["audit"]["callers"]
    [skipped] = [c for c in checks_of(build(data), SQL1, "delegation") if c["subject"].endswith(": callers")]
    assert skipped["status"] == "skipped"


def test_a_computer_or_gmsa_password_is_the_machine_s_business():
    """The bench's directory found this: computer accounts created with
    pwdLastSet = 0 were reported as due a password change (ACC004); the
    machine (or, for a gMSA, the domain) changes those passwords itself."""
    data = inputs(SQL6=account_state(0x1000, 0x800000, pwd_last_set="0"))
    assert statuses(build(data), SQL6, "account") == ["ok"]
