# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an account's own attributes say about whether a service can run as
it and how the KDC treats it: disabled, locked out, expired, password expired
or to be changed, and its delegation flags. Pure code: spn_facts reads the
attributes (ACCOUNT_STATE_ATTRIBUTES) with the accounts, in the same
searches, and reports this state; the drift report judges it."""
from __future__ import annotations

import datetime

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ad_time import filetime, iso
from ansible_collections.sqlauth.kerberos.plugins.module_utils._encryption_types import (
    ATTRIBUTE as ENCRYPTION_TYPES_ATTRIBUTE,
    encryption_state,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    SecurityDescriptor,
    SecurityDescriptorError,
)

# userAccountControl (MS-ADTS 2.2.16) and msDS-User-Account-Control-Computed
# bits the collection reads.
UF_ACCOUNTDISABLE = 0x2
UF_LOCKOUT = 0x10                      # computed
UF_SERVER_TRUST_ACCOUNT = 0x2000       # a domain controller
UF_DONT_EXPIRE_PASSWD = 0x10000
UF_TRUSTED_FOR_DELEGATION = 0x80000    # unconstrained delegation
UF_NOT_DELEGATED = 0x100000            # "Account is sensitive and cannot be delegated"
UF_PASSWORD_EXPIRED = 0x800000         # computed
UF_TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000  # protocol transition
UF_PARTIAL_SECRETS_ACCOUNT = 0x4000000  # a read-only domain controller

FLAG_NAMES = (
    (UF_ACCOUNTDISABLE, "disabled"),
    (UF_SERVER_TRUST_ACCOUNT, "domain_controller"),
    (UF_PARTIAL_SECRETS_ACCOUNT, "domain_controller"),
    (UF_TRUSTED_FOR_DELEGATION, "trusted_for_delegation"),
    (UF_TRUSTED_TO_AUTH_FOR_DELEGATION, "trusted_to_auth_for_delegation"),
    (UF_NOT_DELEGATED, "not_delegated"),
)
COMPUTED_FLAG_NAMES = ((UF_LOCKOUT, "locked_out"), (UF_PASSWORD_EXPIRED, "password_expired"))

# msDS-GroupMSAMembership: who may retrieve a gMSA's password (a security
# descriptor; absent on other accounts).
MANAGED_PASSWORD_READERS = "msDS-GroupMSAMembership"
ACCOUNT_STATE_ATTRIBUTES = ["msDS-User-Account-Control-Computed", "accountExpires", "pwdLastSet",
                            "msDS-AllowedToDelegateTo", MANAGED_PASSWORD_READERS, ENCRYPTION_TYPES_ATTRIBUTE]


def filetime_to_iso(value):
    """An AD FILETIME (100 ns since 1601, UTC) as ISO 8601, or None for never."""
    return iso(filetime(value))


def account_state(user_account_control, computed=0, account_expires=None, pwd_last_set=None,
                  allowed_to_delegate_to=(), supported_encryption_types=None):
    """The state spn_facts reports for an account: dict(flags, expires,
    must_change_password, password_last_set, allowed_to_delegate_to,
    encryption_types). ``flags`` names the bits set (FLAG_NAMES,
    COMPUTED_FLAG_NAMES); ``expires`` is accountExpires as ISO 8601 or None;
    ``must_change_password`` is pwdLastSet = 0; ``encryption_types`` is
    _encryption_types.encryption_state, with aes_keys_possibly_missing
    (None here: it needs the domain's AES date, which spn_facts reads)."""
    uac, computed = int(user_account_control or 0), int(computed or 0)
    flags = []
    for bit, name in FLAG_NAMES:
        if uac & bit and name not in flags:
            flags.append(name)
    for bit, name in COMPUTED_FLAG_NAMES:
        if computed & bit:
            flags.append(name)
    # pwdLastSet = 0: "User must change password at next logon", unless the
    # password never expires (DONT_EXPIRE_PASSWORD wins: the KDC lets such an
    # account log on, verified on the lab's).
    must_change = (pwd_last_set is not None and str(pwd_last_set).strip() == "0"
                   and not uac & UF_DONT_EXPIRE_PASSWD)
    return dict(flags=flags, expires=filetime_to_iso(account_expires), must_change_password=must_change,
                password_last_set=filetime_to_iso(pwd_last_set),
                allowed_to_delegate_to=sorted(allowed_to_delegate_to or [], key=str.lower),
                encryption_types=dict(encryption_state(supported_encryption_types, uac), aes_keys_possibly_missing=None))


def is_expired(state, now):
    """Whether the account's accountExpires has passed at ``now`` (an aware
    datetime)."""
    expires = (state or {}).get("expires")
    if not expires:
        return False
    return datetime.datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc) <= now


class AccountStateError(SqlAuthError):
    """An account attribute that cannot be read as what it should hold."""


def managed_password_readers(value, account_name):
    """The SIDs a gMSA's msDS-GroupMSAMembership allows to retrieve its
    password (allow entries that apply to the object itself), or None
    without the attribute. A value that is not a security descriptor is an
    error naming the account and the attribute."""
    if value is None:
        return None
    try:
        descriptor = SecurityDescriptor.from_bytes(value)
    except SecurityDescriptorError as error:
        raise AccountStateError("%s of %s is not a valid security descriptor (%s)"
                                % (MANAGED_PASSWORD_READERS, account_name, error)) from None
    return list(dict.fromkeys(ace.sid for ace in descriptor.dacl or () if ace.is_allow and not ace.is_inherit_only))
