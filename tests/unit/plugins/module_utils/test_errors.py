# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One exception base (_errors.SqlAuthError) for every error users can act
on, and messages that say what a failed run wrote; a corrupted security
descriptor read from the DC is such an error, naming the account and the
attribute, never a traceback."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import Account, AccountError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._catalogue import CatalogueError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError, with_writes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._mssql_conf import MssqlConfError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._rbkcd import DelegationError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import SecurityDescriptorError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import can_register_own_spns
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_static_port import StaticPortError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import WinrmError

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "security_descriptors.json").read_text())


@pytest.mark.parametrize("error_type", [AccountError, CatalogueError, LdapError, MssqlConfError, DelegationError,
                                        SecurityDescriptorError, SpnError, StaticPortError, WinrmError])
def test_every_engine_error_has_the_one_base(error_type):
    assert issubclass(error_type, SqlAuthError)


def test_value_errors_stay_value_errors():
    assert issubclass(AccountError, ValueError) and issubclass(SpnError, ValueError)


def test_with_writes_names_what_was_written():
    error = with_writes(LdapError("modifying X failed: busy", result="busy"), ["added A to B", "removed C from D"])
    assert str(error) == "modifying X failed: busy; this run wrote before failing: added A to B; removed C from D"
    assert error.result == "busy"


def test_with_writes_says_nothing_was_written_unless_a_write_may_have_been_applied():
    assert str(with_writes(SpnError("refused"), [])) == "refused; nothing written"
    assert str(with_writes(SpnError("refused, nothing written"), [])) == "refused, nothing written"
    lost = LdapError("the connection was lost while modifying X (the DC may or may not have applied it)")
    lost.uncertain = True
    assert str(with_writes(lost, [])).endswith("(the DC may or may not have applied it)")


def test_with_writes_keeps_a_partial_result():
    error = with_writes(DelegationError("x"), ["y"], dict(changed=True))
    assert error.partial_result == dict(changed=True)


def corrupted(value):
    """The captured descriptor with its DACL offset pointing past the end."""
    data = bytearray(value)
    data[16:20] = (len(data) + 100).to_bytes(4, "little")
    return bytes(data)


def test_a_corrupted_descriptor_read_from_the_dc_names_the_account_and_attribute():
    entry = FIXTURES["descriptors"]["user_without_spn_write_aces"]
    value = base64.b64decode(entry["value"] if "value" in entry else entry["base64"])
    account = Account(dn="CN=sqlsvc9,OU=SQL,DC=corp,DC=example,DC=com", sid="S-1-5-21-1-2-3-1109",
                      sam_account_name="sqlsvc9", domain_netbios="CORP",
                      object_classes=["top", "person", "organizationalPerson", "user"],
                      security_descriptor=corrupted(value))
    with pytest.raises(SecurityDescriptorError) as raised:
        can_register_own_spns(account)
    message = str(raised.value)
    assert message.startswith("the nTSecurityDescriptor of CORP\\sqlsvc9 (CN=sqlsvc9,OU=SQL,DC=corp,DC=example,"
                              "DC=com) read from the DC is not a valid security descriptor (")
    assert message.endswith("; nothing written: check the object's permissions with ADUC or dsacls")
    assert isinstance(raised.value, SqlAuthError)


# -- a writer outside the collection (the guard cannot stop it; the version tells) ------------

@pytest.mark.parametrize("read, now, written, value, lost", [
    (3, 4, b"ours", b"ours", False),     # only our write
    (3, 5, b"ours", b"ours", True),      # one more write, our value stands: it came before ours
    (3, 5, b"ours", b"theirs", False),   # one more write, after ours: visible, nothing lost
    (3, 6, b"ours", b"theirs", True),    # two more: one may have come before ours
    (None, 9, b"ours", b"ours", False),  # no version to read: only a changed value tells
    (None, None, b"ours", b"theirs", True),
])
def test_foreign_write_before_ours(read, now, written, value, lost):
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import foreign_write_before_ours
    assert foreign_write_before_ours(read, now, written, value) is lost
