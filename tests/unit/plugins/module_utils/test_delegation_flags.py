# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""delegation_flags (_delegation_flags): clearing unconstrained delegation
and protocol transition, over test_rbkcd's fake directory (deleting a value
that is not stored fails, so a guard token another writer took away makes
the write fail): check mode, apply, re-run, a concurrent change, and input
errors. Writers released together on the lab's DC: tests/fault."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._delegation_flags import (
    DelegationFlagsError,
    delegation_flags,
    validate_delegation_flags,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.module_utils.test_rbkcd import FakeDirectory

UAC = "userAccountControl"
NORMAL, UNCONSTRAINED, TRANSITION, DISABLED = 0x200, 0x80000, 0x1000000, 0x2


class Directory(FakeDirectory):
    """The fake, its modify generalised: replace, add, and delete of given
    values, which fails when one is not stored (a guard token another
    writer took away)."""

    def modify(self, dn, changes, controls=None):
        if self.before_modify:
            self.before_modify(self)
        self.modifies.append((dn, changes))
        entry = {name: list(values) for name, values in self.entries[dn].items()}
        for attribute, operations in changes.items():
            values = list(entry.get(attribute, []))
            for operation, items in operations:
                encoded = [str(item).encode() for item in items]
                if operation == "MODIFY_DELETE":
                    if any(item not in values for item in encoded):
                        raise LdapError("modifying %s failed: noSuchAttribute" % dn, result="noSuchAttribute")
                    values = [value for value in values if value not in encoded]
                elif operation == "MODIFY_ADD":
                    values += encoded
                else:
                    values = encoded
            entry[attribute] = values
        self.entries[dn] = entry

    def uac(self, dn):
        return int(self.entries[dn][UAC][0])


def run(directory, check_mode=False, **params):
    return delegation_flags(directory, validate_delegation_flags(dict(dict(accounts=["sqlsvc1"],
                                                                           clear=["unconstrained"]), **params)),
                            check_mode)


def test_check_apply_rerun():
    directory = Directory()
    dn = directory.add("sqlsvc1", 1105, uac=NORMAL | UNCONSTRAINED | TRANSITION)
    check = run(directory, check_mode=True)
    assert check["changed"] and check["accounts"][0]["cleared"] == ["unconstrained"]
    assert check["diff"] == dict(before={"CORP\\sqlsvc1": ["unconstrained"]}, after={"CORP\\sqlsvc1": []})
    assert directory.modifies == []
    applied = run(directory)
    assert applied["changed"] and directory.uac(dn) == NORMAL | TRANSITION  # only what was asked
    # The first guard token, then the write: the value replaced and the token swapped in one modify.
    first_token, write = directory.modifies
    assert write[1][UAC] == [("MODIFY_REPLACE", [str(NORMAL | TRANSITION)])]
    assert [operation for operation, dummy in write[1]["extensionName"]] == ["MODIFY_DELETE", "MODIFY_ADD"]
    again = run(directory)
    assert not again["changed"] and len(directory.modifies) == 2
    both = run(directory, clear=["unconstrained", "protocol_transition"])
    assert both["accounts"][0]["cleared"] == ["protocol_transition"] and directory.uac(dn) == NORMAL


def test_a_concurrent_change_is_kept():
    """An administrator disables the account between our read and our write:
    the write is refused, the flags are planned again, the account stays
    disabled."""
    directory = Directory()
    dn = directory.add("sqlsvc1", 1105, uac=NORMAL | UNCONSTRAINED)

    run(directory, accounts=["sqlsvc1"], clear=["protocol_transition"])  # nothing to clear: gives no token
    calls = []

    def other_collection_writer(fake):
        # Another guarded writer disables the account between our read and our write.
        calls.append(1)
        if len(calls) == 2:
            fake.entries[dn][UAC] = [str(NORMAL | UNCONSTRAINED | DISABLED).encode()]
            fake.entries[dn]["extensionName"] = [b"sqlauth.kerberos:guard:0000000000000000"]

    directory.before_modify = other_collection_writer
    result = run(directory)
    assert result["changed"] and directory.uac(dn) == NORMAL | DISABLED


def test_domain_controllers_are_refused_before_any_write():
    directory = Directory()
    directory.add("sqlsvc1", 1105, uac=NORMAL | UNCONSTRAINED)
    directory.add("DC1$", 1000, uac=0x2000 | UNCONSTRAINED)
    with pytest.raises(DelegationFlagsError, match=r"CORP\\DC1\$: a domain controller's .* nothing written"):
        run(directory, accounts=["sqlsvc1", "DC1$"])
    assert directory.modifies == []


@pytest.mark.parametrize("params, message", [
    (dict(accounts=[]), "accounts is empty"),
    (dict(clear=[]), "clear is empty"),
    (dict(accounts=["LocalSystem"]), "the host's FQDN is needed"),
])
def test_bad_input_fails_before_connecting(params, message):
    with pytest.raises(DelegationFlagsError, match=message):
        validate_delegation_flags(dict(dict(accounts=["sqlsvc1"], clear=["unconstrained"]), **params))
