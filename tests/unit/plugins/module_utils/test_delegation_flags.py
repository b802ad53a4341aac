# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""delegation_flags (_delegation_flags): clearing unconstrained delegation
and protocol transition, over test_rbkcd's fake directory with AD's rules
for a single-valued attribute (deleting a value that is not stored fails):
check mode, apply, re-run, a concurrent change, and input errors."""

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
    """The fake, its modify generalised to any single-valued attribute."""

    def modify(self, dn, changes, controls=None):
        if self.before_modify:
            self.before_modify(self)
        self.modifies.append((dn, changes))
        for attribute, operations in changes.items():
            values = list(self.entries[dn][attribute])
            for operation, items in operations:
                encoded = [str(item).encode() for item in items]
                if operation == "MODIFY_DELETE":
                    if encoded != values:
                        raise LdapError("modifying %s failed: noSuchAttribute" % dn, result="noSuchAttribute")
                    values = []
                else:
                    values = encoded
            self.entries[dn][attribute] = values

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
    assert directory.modifies == [(dn, {UAC: [("MODIFY_DELETE", [str(NORMAL | UNCONSTRAINED | TRANSITION)]),
                                              ("MODIFY_ADD", [str(NORMAL | TRANSITION)])]})]
    again = run(directory)
    assert not again["changed"] and len(directory.modifies) == 1
    both = run(directory, clear=["unconstrained", "protocol_transition"])
    assert both["accounts"][0]["cleared"] == ["protocol_transition"] and directory.uac(dn) == NORMAL


def test_a_concurrent_change_is_kept():
    """An administrator disables the account between our read and our write:
    the write is refused, the flags are planned again, the account stays
    disabled."""
    directory = Directory()
    dn = directory.add("sqlsvc1", 1105, uac=NORMAL | UNCONSTRAINED)

    def disable(fake):
        fake.before_modify = None
        fake.entries[dn][UAC] = [str(NORMAL | UNCONSTRAINED | DISABLED).encode()]

    directory.before_modify = disable
    result = run(directory)
    assert result["changed"] and directory.uac(dn) == NORMAL | DISABLED
    assert len(directory.modifies) == 2


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
