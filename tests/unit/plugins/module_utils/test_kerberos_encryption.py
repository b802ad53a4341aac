# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kerberos_encryption_types (_kerberos_encryption): check mode, apply,
re-run, a concurrent change, the refusals written before anything, over
test_delegation_flags' fake directory with AD's rule for a single-valued
attribute. Writers released together on the lab's DC: tests/fault."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._encryption_types import EncryptionTypesError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._kerberos_encryption import (
    encryption_types_modification,
    kerberos_encryption_types,
    validate_encryption_types,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import sid_to_bytes
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.module_utils.test_delegation_flags import Directory
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.module_utils.test_rbkcd import DOMAIN_SID

ETYPES = "msDS-SupportedEncryptionTypes"
JAN_2026 = "134116992000000000"


class SingleValued(Directory):
    """A second value of msDS-SupportedEncryptionTypes is refused, as a DC
    refuses it (attributeOrValueExists, verified on the lab's)."""

    def modify(self, dn, changes, controls=None):
        hook, self.before_modify = self.before_modify, None
        try:
            if hook:
                hook(self)
            before = list(self.entries[dn].get(ETYPES, []))
            super().modify(dn, changes, controls)
        finally:
            self.before_modify = hook
        if len(self.entries[dn].get(ETYPES, [])) > 1:
            self.entries[dn][ETYPES] = before
            raise LdapError("modifying %s failed: attributeOrValueExists" % dn, result="attributeOrValueExists")

    def value(self, dn):
        values = self.entries[dn].get(ETYPES) or []
        return int(values[0]) if values else None


def directory(value=None, pwd_last_set=JAN_2026, rodc_created=b"20200101000000.0Z"):
    fake = SingleValued()
    dn = fake.add("sqlsvc1", 1105)
    fake.entries[dn]["pwdLastSet"] = [pwd_last_set.encode()]
    if value is not None:
        fake.entries[dn][ETYPES] = [str(value).encode()]
    rodc = "CN=Read-only Domain Controllers,CN=Users,DC=corp,DC=example,DC=com"
    fake.entries[rodc] = {"sAMAccountName": [b"Read-only Domain Controllers"], "objectClass": [b"top", b"group"],
                          "objectSid": [sid_to_bytes("%s-521" % DOMAIN_SID)], "whenCreated": [rodc_created]}
    return fake, dn


def run(fake, check_mode=False, **params):
    return kerberos_encryption_types(fake, validate_encryption_types(dict(dict(accounts=["sqlsvc1"]), **params)),
                                     check_mode)


@pytest.mark.parametrize("value, target, planned", [(None, "aes", 24), (4, "aes", 24), (4, "aes_rc4", 28),
                                                    (0x10007, "aes", 0x10018)])
def test_check_apply_rerun(value, target, planned):
    fake, dn = directory(value)
    check = run(fake, check_mode=True, encryption_types=target)
    assert check["changed"] and check["accounts"][0]["before"] == value and check["accounts"][0]["after"] == planned
    assert list(check["diff"]["after"].values())[0].startswith("0x%X (" % planned)
    assert fake.modifies == [] and fake.value(dn) == value
    applied = run(fake, encryption_types=target)
    assert applied["changed"] and fake.value(dn) == planned
    assert fake.modifies == [(dn, encryption_types_modification(value, planned))]
    again = run(fake, encryption_types=target)
    assert not again["changed"] and len(fake.modifies) == 1 and again["diff"] == dict(before={}, after={})


def test_the_write_is_conditional_on_the_value_read():
    assert encryption_types_modification(None, 24) == {ETYPES: [("MODIFY_ADD", ["24"])]}
    assert encryption_types_modification(4, 24) == {ETYPES: [("MODIFY_DELETE", ["4"]), ("MODIFY_ADD", ["24"])]}


def test_a_concurrent_change_is_planned_again():
    """Another writer sets RC4 plus FAST between our read and our write: ours
    is refused, re-planned from the new value, and keeps its FAST bit."""
    fake, dn = directory(None)
    calls = []

    def other_writer(directory):
        calls.append(1)
        if len(calls) == 1:
            directory.entries[dn][ETYPES] = [str(0x10004).encode()]

    fake.before_modify = other_writer
    result = run(fake)
    assert result["changed"] and fake.value(dn) == 0x10018 and len(fake.modifies) == 2
    assert result["accounts"][0]["before"] == 0x10004


def test_aes_only_is_refused_where_aes_keys_may_be_missing():
    # Password set in 2026, the domain's RODC group created in 2027: no AES keys, maybe.
    fake, dn = directory(None, rodc_created=b"20270101000000.0Z")
    with pytest.raises(EncryptionTypesError, match=r"CORP\\sqlsvc1: its password was last set before the domain "
                                                   r"could make AES keys .* before 2027-01-01.* reset its password "
                                                   r"first .*nothing written"):
        run(fake)
    assert fake.modifies == []
    # AES beside RC4 is allowed: RC4 still works for it.
    assert run(fake, encryption_types="aes_rc4")["changed"] and fake.value(dn) == 28


def test_computers_are_refused_before_any_write():
    fake, dn = directory(None)
    computer = fake.add("SQL6$", 1200, uac=0x1000)
    fake.entries[computer]["objectClass"] = [b"top", b"person", b"organizationalPerson", b"user", b"computer"]
    with pytest.raises(EncryptionTypesError, match=r"CORP\\SQL6\$ is a computer account: Windows sets its "
                                                   r"encryption types from the host's policy.*nothing written"):
        run(fake, accounts=["sqlsvc1", "SQL6$"])
    assert fake.modifies == []


def test_a_refused_write_says_what_was_written():
    fake, dn = directory(None)
    other = fake.add("sqlsvc2", 1106)

    def refuse_second(directory):
        if len(directory.modifies) == 1:
            raise LdapError("modifying %s failed: insufficientAccessRights: 00002098" % other,
                            result="insufficientAccessRights")

    fake.before_modify = refuse_second
    with pytest.raises(EncryptionTypesError) as error:
        run(fake, accounts=["sqlsvc1", "sqlsvc2"])
    assert "insufficientAccessRights" in str(error.value)
    assert r"this run wrote before failing: set the encryption types of CORP\sqlsvc1 to 0x18" in str(error.value)
    assert fake.value(dn) == 24 and fake.value(other) is None


@pytest.mark.parametrize("params, message", [
    (dict(accounts=[]), "accounts is empty"),
    (dict(encryption_types="rc4"), "encryption_types must be one of aes, aes_rc4, got 'rc4'"),
    (dict(accounts=["LocalSystem"]), "the host's FQDN is needed"),
])
def test_bad_input_fails_before_connecting(params, message):
    with pytest.raises(EncryptionTypesError, match=message + ".*nothing written"):
        validate_encryption_types(dict(dict(accounts=["sqlsvc1"]), **params))
