# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""automation_rights: permission IDs into rights, the inheritable ACEs they
become on an OU as the lab DC wrote it, and the same as dsacls lines."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import AccountError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._automation_rights import (
    dsacls_lines,
    rights_of,
    validate_automation_rights,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_acl import plan_target

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "security_descriptors.json").read_text())
OU = FIXTURES["descriptors"]["organizational_unit"]
OU_BYTES = base64.b64decode(OU["base64"])
TRUSTEE_SID = FIXTURES["domain_sid"] + "-4200"
USER = "bf967aba-0de6-11d0-a285-00aa003049e2"
COMPUTER = "bf967a86-0de6-11d0-a285-00aa003049e2"


def params(**overrides):
    base = dict(trustee="CORP\\svc-sqlauth", organizational_units=[OU["dn"]], applies_to=["user", "computer"],
                permissions=None, state="present")
    base.update(overrides)
    return base


def test_each_permission_is_one_read_write_right_on_its_attribute():
    assert rights_of("PRM002") == ((0x30, "f3a64788-5306-11d1-a9c5-0000f80367c1"),)
    assert rights_of("PRM004") == ((0x30, "3f78c3e5-f79a-46bd-a0b8-9d18116ddc79"),)
    assert rights_of("PRM003") == ((0x40000, None),)


@pytest.mark.parametrize("permission, message", [
    ("PRM006", "PRM006 .* is not granted by an ACE on the OUs"),
    ("PRM001", "PRM001 .* is not granted by an ACE"),
    ("PRM099", "no permission PRM099 in the permission model"),
])
def test_permissions_no_ace_grants_are_refused(permission, message):
    with pytest.raises(AccountError, match=message):
        validate_automation_rights(params(permissions=[permission]))


@pytest.mark.parametrize("overrides, message", [
    (dict(trustee="SELF"), "trustee must name the automation account"),
    (dict(organizational_units=[]), "organizational_units is empty"),
    (dict(organizational_units=["SQL Servers"]), "'SQL Servers' is not a distinguished name"),
])
def test_bad_input_is_named(overrides, message):
    with pytest.raises(AccountError, match=message):
        validate_automation_rights(params(**overrides))


def test_the_ous_get_one_inheritable_ace_per_right_and_class_then_nothing_more():
    request = validate_automation_rights(params())
    target = request["targets"][0]
    new, added, removed, _still = plan_target(target, OU_BYTES, TRUSTEE_SID, rights=request["rights"])
    assert len(added) == 4 * 2 and removed == []
    assert {(ace.object_type, ace.inherited_object_type, ace.mask, ace.flags) for ace in added} == {
        (right[1], class_guid, 0x30, 0x02 | 0x08) for right in request["rights"] for class_guid in (USER, COMPUTER)}
    # Granted: a second plan adds nothing; absent removes exactly those ACEs.
    assert plan_target(target, new.to_bytes(), TRUSTEE_SID, rights=request["rights"])[0] is None
    absent = validate_automation_rights(params(state="absent"))["targets"][0]
    after, _added, removed, still = plan_target(absent, new.to_bytes(), TRUSTEE_SID, rights=request["rights"])
    assert sorted(map(str, removed)) == sorted(map(str, added)) and still is False
    assert after.to_bytes() == OU_BYTES


def test_dsacls_lines_say_the_same():
    lines = dsacls_lines(validate_automation_rights(params(permissions=["PRM002", "PRM003"])))
    assert lines == [
        "dsacls '%s' /I:S /G 'CORP\\svc-sqlauth:RPWP;servicePrincipalName;user'" % OU["dn"],
        "dsacls '%s' /I:S /G 'CORP\\svc-sqlauth:WD;;user'" % OU["dn"],
        "dsacls '%s' /I:S /G 'CORP\\svc-sqlauth:RPWP;servicePrincipalName;computer'" % OU["dn"],
        "dsacls '%s' /I:S /G 'CORP\\svc-sqlauth:WD;;computer'" % OU["dn"]]
    assert dsacls_lines(validate_automation_rights(params(state="absent"))) == [
        "dsacls '%s' /R 'CORP\\svc-sqlauth'" % OU["dn"]]


def test_dsacls_lines_with_self_spn_rights():
    lines = dsacls_lines(validate_automation_rights(params(permissions=["PRM002"], applies_to=["user"],
                                                           self_spn_rights=True)))
    assert lines[1:] == ["dsacls '%s' /I:S /G 'SELF:RPWP;servicePrincipalName;user'" % OU["dn"],
                         "dsacls '%s' /I:S /G 'SELF:WS;Validated write to service principal name;user'" % OU["dn"]]
