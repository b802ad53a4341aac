# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kerberos encryption types of a service account, as the KDC chooses
them from msDS-SupportedEncryptionTypes (MS-KILE 2.2.7) and
userAccountControl, and the value that makes its tickets AES. Pure code:
spn_facts reads the attributes with the accounts, the drift report judges
them, kerberos_encryption_types writes the planned value."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ad_time import filetime, generalized_time
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError

ATTRIBUTE = "msDS-SupportedEncryptionTypes"
DES_CBC_CRC = 0x1
DES_CBC_MD5 = 0x2
RC4_HMAC = 0x4
AES128 = 0x8
AES256 = 0x10
# The encryption-type bits; higher bits (AES session keys, FAST, claims,
# compound identity) are other settings, kept as they are by every write.
ETYPE_BITS = DES_CBC_CRC | DES_CBC_MD5 | RC4_HMAC | AES128 | AES256
AES = AES128 | AES256
DES = DES_CBC_CRC | DES_CBC_MD5
UF_USE_DES_KEY_ONLY = 0x200000
NAMES = ((DES_CBC_CRC, "des-cbc-crc"), (DES_CBC_MD5, "des-cbc-md5"), (RC4_HMAC, "rc4-hmac"),
         (AES128, "aes128-cts-hmac-sha1-96"), (AES256, "aes256-cts-hmac-sha1-96"))
# What kerberos_encryption_types sets, by the name its option and the role use.
TARGETS = {"aes": AES, "aes_rc4": AES | RC4_HMAC}
# Kinds whose attribute the collection writes (users, group and standalone
# managed service accounts); a computer's is rewritten by Windows from the
# host's policy, so it is reported only.
WRITABLE_KINDS = ("user", "gmsa", "msa")
# "Read-only Domain Controllers": Windows creates it when the domain reaches
# the 2008 functional level, the first to make AES keys.
RODC_GROUP_RID = 521


class EncryptionTypesError(SqlAuthError, ValueError):
    """A setting that cannot be applied as asked."""


def etype_names(bits):
    return [name for bit, name in NAMES if bits & bit]


def attribute_value(raw):
    """msDS-SupportedEncryptionTypes as read (a string, or None/"" when
    absent) as an int, or None when absent."""
    return None if raw in (None, "") else int(raw)


def needs_setting(value, target):
    """Whether an account's msDS-SupportedEncryptionTypes (``value``, an
    int or None) falls short of ``target``: no AES, or DES allowed, or
    (target aes) RC4 still allowed. An AES-only account is never given RC4
    back, nor AES256-only given AES128: the collection never weakens."""
    if target not in TARGETS:
        raise EncryptionTypesError("encryption_types must be one of %s, got %r" % (", ".join(TARGETS), target))
    bits = (value or 0) & ETYPE_BITS
    return not bits & AES or bool(bits & DES) or (target == "aes" and bool(bits & RC4_HMAC))


def encryption_state(value, user_account_control=0):
    """What the KDC makes of an account's settings: dict(value, names,
    rc4_only, rc4, des). ``value`` is msDS-SupportedEncryptionTypes or None
    when absent; absent (or without any encryption-type bit), a domain's KDC
    issues RC4 tickets for the account (verified on the lab KDC: klist -e
    shows arcfour-hmac)."""
    configured = attribute_value(value)
    bits = (configured or 0) & ETYPE_BITS
    effective = bits or RC4_HMAC
    des = bool(bits & (DES_CBC_CRC | DES_CBC_MD5)) or bool(int(user_account_control or 0) & UF_USE_DES_KEY_ONLY)
    return dict(value=configured, names=etype_names(effective), rc4_only=not effective & AES,
                rc4=bool(effective & RC4_HMAC), des=des)


def planned_value(value, target):
    """The msDS-SupportedEncryptionTypes value ``target`` (a key of
    TARGETS) leaves: ``value`` itself when it needs no setting
    (needs_setting), else the target's encryption types with every other
    bit of ``value`` kept."""
    if not needs_setting(value, target):
        return value
    return (int(value or 0) & ~ETYPE_BITS) | TARGETS[target]


def rodc_group_sids(domain_sids):
    """The SIDs of the domains' Read-only Domain Controllers groups."""
    return ["%s-%d" % (domain, RODC_GROUP_RID) for domain in domain_sids]


def aes_keys_since(rodc_groups):
    """When the domain could first make AES keys: the creation
    (whenCreated) of its Read-only Domain Controllers group, from Group
    objects (_group_membership), or None."""
    return min(filter(None, (generalized_time(group.created) for group in rodc_groups)), default=None)


def aes_keys_possibly_missing(pwd_last_set, aes_keys_since):
    """Whether the password was last set before the domain could make AES
    keys: ``aes_keys_since`` is when the domain's "Read-only Domain
    Controllers" group was created (the usual heuristic; see
    RODC_GROUP_RID). None when either date is unknown (a password never set has no
    keys at all, which is another problem)."""
    set_at, since = filetime(pwd_last_set), aes_keys_since
    if set_at is None or since is None:
        return None
    return set_at < since
