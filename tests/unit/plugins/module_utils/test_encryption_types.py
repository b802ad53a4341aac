# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Encryption types (_encryption_types): what the KDC makes of
msDS-SupportedEncryptionTypes and USE_DES_KEY_ONLY, the value that gives
AES while keeping the other bits, and the AES-key heuristic."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ad_time import filetime, generalized_time
from ansible_collections.sqlauth.kerberos.plugins.module_utils._encryption_types import (
    EncryptionTypesError,
    aes_keys_possibly_missing,
    encryption_state,
    needs_setting,
    planned_value,
)

UTC = datetime.timezone.utc
AES_ONLY = ["aes128-cts-hmac-sha1-96", "aes256-cts-hmac-sha1-96"]


@pytest.mark.parametrize("value, uac, names, rc4_only, rc4, des", [
    # Absent: the KDC issues RC4 tickets (klist -e on the lab KDC: arcfour-hmac).
    (None, 0x200, ["rc4-hmac"], True, True, False),
    ("", 0x200, ["rc4-hmac"], True, True, False),
    # Only bits that are not encryption types (FAST, AES session keys): still RC4.
    (str(0x10000 | 0x20), 0x200, ["rc4-hmac"], True, True, False),
    ("4", 0x200, ["rc4-hmac"], True, True, False),
    ("24", 0x200, AES_ONLY, False, False, False),
    ("28", 0x200, ["rc4-hmac"] + AES_ONLY, False, True, False),
    ("16", 0x200, ["aes256-cts-hmac-sha1-96"], False, False, False),
    ("7", 0x200, ["des-cbc-crc", "des-cbc-md5", "rc4-hmac"], True, True, True),
    ("2", 0x200, ["des-cbc-md5"], True, False, True),
    # USE_DES_KEY_ONLY in userAccountControl: DES whatever the attribute says.
    ("24", 0x200 | 0x200000, AES_ONLY, False, False, True),
])
def test_encryption_state(value, uac, names, rc4_only, rc4, des):
    state = encryption_state(value, uac)
    assert state == dict(value=None if value in (None, "") else int(value), names=names, rc4_only=rc4_only, rc4=rc4,
                         des=des)


@pytest.mark.parametrize("value, target, planned", [
    (None, "aes", 0x18),
    (None, "aes_rc4", 0x1C),
    (0x4, "aes", 0x18),
    (0x7, "aes", 0x18),          # DES and RC4 gone
    (0x1C, "aes", 0x18),
    (0x18, "aes_rc4", 0x18),     # never weakened: an AES-only account is not given RC4 back
    (0x18, "aes", 0x18),         # already right: the same value
    (0x10, "aes", 0x10),         # AES256 only is AES: kept
    (0x14, "aes", 0x18),
    (0x1C, "aes_rc4", 0x1C),
    (0x13, "aes_rc4", 0x1C),     # DES removed
    (0x10024, "aes", 0x10038),   # FAST and AES session keys kept
])
def test_planned_value_keeps_the_other_bits(value, target, planned):
    assert planned_value(value, target) == planned
    assert needs_setting(value, target) is (planned != value)


def test_planned_value_refuses_an_unknown_target():
    with pytest.raises(EncryptionTypesError, match="encryption_types must be one of aes, aes_rc4, got 'des'"):
        planned_value(4, "des")


def test_dates():
    assert generalized_time("20240131120000.0Z") == datetime.datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
    assert generalized_time("not a date") is None and generalized_time(None) is None
    # 2026-01-01T00:00:00Z as a FILETIME.
    assert filetime("134116992000000000") == datetime.datetime(2026, 1, 1, tzinfo=UTC)
    assert filetime("0") is None and filetime(None) is None and filetime(str(0x7FFFFFFFFFFFFFFF)) is None


@pytest.mark.parametrize("pwd_last_set, since, missing", [
    ("134116992000000000", datetime.datetime(2027, 1, 1, tzinfo=UTC), True),
    ("134116992000000000", datetime.datetime(2025, 1, 1, tzinfo=UTC), False),
    ("134116992000000000", datetime.datetime(2026, 1, 1, tzinfo=UTC), False),
    # Never set, or no domain date: unknown.
    ("0", datetime.datetime(2025, 1, 1, tzinfo=UTC), None),
    ("134116992000000000", None, None),
])
def test_aes_keys_possibly_missing(pwd_last_set, since, missing):
    assert aes_keys_possibly_missing(pwd_last_set, since) is missing


# -- as spn_facts reports them ----------------------------------------------------------

def test_the_audit_reports_encryption_types_and_the_aes_heuristic_without_another_search():
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import audit, prepare_audit
    from ansible_collections.sqlauth.kerberos.tests.unit.plugins.module_utils.test_spn_audit import (
        DOMAIN_SID,
        SPN_FORMS,
        FakeDirectory,
        corp_groups,
        corp_user,
        group_entry,
    )

    rodc = group_entry("CN=Read-only Domain Controllers,CN=Users,DC=corp,DC=example,DC=com",
                       "Read-only Domain Controllers", "%s-521" % DOMAIN_SID)
    rodc.raw["whencreated"] = [b"20260101000000.0Z"]
    old, new, rc4 = (corp_user("sqlold", 2301), corp_user("sqlnew", 2302), corp_user("sqlrc4", 2303))
    old.raw["pwdlastset"] = [str(134116992000000000 - 10 ** 7 * 86400).encode()]  # 2025-12-31
    new.raw["pwdlastset"] = [b"134116992000000000"]
    new.raw["msds-supportedencryptiontypes"] = [b"24"]
    rc4.raw["msds-supportedencryptiontypes"] = [b"4"]
    directory = FakeDirectory(corp_groups() + [rodc, old, new, rc4], one_domain=True)
    prepared = prepare_audit([dict(host="sql%02d.corp.example.com" % n, service_account="CORP\\%s" % name)
                              for n, name in enumerate(("sqlold", "sqlnew", "sqlrc4"))])

    result = audit(directory, prepared, SPN_FORMS)

    assert result["domain"]["aes_keys_since"] == "2026-01-01T00:00:00Z"
    states = [r["service_account"]["state"]["encryption_types"] for r in result["instances"]]
    assert [(s["value"], s["rc4_only"], s["aes_keys_possibly_missing"]) for s in states] == [
        (None, True, True), (24, False, False), (4, True, None)]
    # Read with the privileged groups: the groups' search names the RODC group too.
    (groups,) = [s for s in directory.searches if s.ldap_filter.startswith("(&(objectClass=group)(|(objectSid=")]
    assert groups.ldap_filter.count("(objectSid=") == 6 and "whenCreated" in groups.attributes


# -- as the drift report judges them ------------------------------------------------------

def instance_report(kind="user", value=None, uac=0x200, missing=None, name="CORP\\sqlsvc"):
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import account_state
    state = account_state(uac, supported_encryption_types=value, pwd_last_set="134116992000000000")
    state["encryption_types"]["aes_keys_possibly_missing"] = missing
    return dict(host="sql1.corp.example.com", domain=dict(aes_keys_since="2027-01-01T00:00:00Z"),
                service_account=dict(name=name, kind=kind, dn="CN=sqlsvc,OU=SQL,DC=corp,DC=example,DC=com",
                                     state=state))


def statuses(checks):
    return [check["status"] for check in checks]


@pytest.mark.parametrize("kind, value, uac, missing, target, expected", [
    ("user", None, 0x200, None, "aes", ["rc4_only"]),
    ("gmsa", "4", 0x1000, None, "aes", ["rc4_only"]),
    ("user", "24", 0x200, None, "aes", ["ok"]),
    ("user", "28", 0x200, None, "aes", ["rc4_allowed"]),
    ("user", "28", 0x200, None, "aes_rc4", ["ok"]),
    ("user", "24", 0x200, None, "aes_rc4", ["ok"]),
    ("msa", None, 0x1000, None, "aes", ["rc4_only"]),
    ("user", "7", 0x200, None, "aes", ["des_enabled", "rc4_only"]),
    ("user", "24", 0x200 | 0x200000, None, "aes", ["des_enabled"]),
    ("user", "24", 0x200, True, "aes", ["aes_keys_possibly_missing"]),
    ("user", None, 0x200, True, "aes", ["rc4_only", "aes_keys_possibly_missing"]),
    ("computer", None, 0x1000, None, "aes", ["computer_weak_encryption"]),
    ("computer", "28", 0x1000, None, "aes", ["ok"]),
])
def test_encryption_checks(kind, value, uac, missing, target, expected):
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import encryption_checks
    assert statuses(encryption_checks(instance_report(kind, value, uac, missing), target)) == expected


def test_the_fix_is_the_modules_own_write_and_the_matching_cmdlet():
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import encryption_checks
    [absent] = encryption_checks(instance_report(value=None), "aes")
    assert absent["commands"] == [
        "Set-ADUser -Identity 'CN=sqlsvc,OU=SQL,DC=corp,DC=example,DC=com' -KerberosEncryptionType 'AES128','AES256'"]
    # Absent: an add alone (refused if a value appeared meanwhile); present: delete the value read, add the new.
    assert "add: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24" in absent["ldif"][0]
    assert "delete:" not in absent["ldif"][0]
    [present] = encryption_checks(instance_report(kind="gmsa", value=str(0x10004)), "aes_rc4")
    assert present["commands"][0].startswith("Set-ADServiceAccount ") and present["commands"][0].endswith(
        "-KerberosEncryptionType 'AES128','AES256','RC4'")
    assert "delete: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 65540\n-\n" \
           "add: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 65564" in present["ldif"][0]
    # DES by the userAccountControl flag: a person clears it; no LDIF (the attribute is already AES).
    [des] = encryption_checks(instance_report(value="24", uac=0x200 | 0x200000), "aes")
    assert "'Use only Kerberos DES encryption types' is set" in des["detail"] and des["ldif"] == []
    assert des["commands"] == ["Set-ADAccountControl -Identity 'CN=sqlsvc,OU=SQL,DC=corp,DC=example,DC=com' "
                               "-UseDESKeyOnly $false"]
    [keys] = encryption_checks(instance_report(value="24", missing=True), "aes")
    assert "2026-01-01T00:00:00Z" in keys["detail"] and "2027-01-01T00:00:00Z" in keys["detail"]
    assert keys["commands"] == ["Set-ADAccountPassword -Identity 'CN=sqlsvc,OU=SQL,DC=corp,DC=example,DC=com' -Reset"]


def test_the_report_refuses_an_unknown_target():
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._catalogue import CatalogueError
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import build_report
    with pytest.raises(CatalogueError, match="encryption_types must be one of aes, aes_rc4, got 'rc4'"):
        build_report(dict(instances=[]), [], None, {}, encryption_types="rc4")
