# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who may write what makes a SQL service account or host an attack path:
its servicePrincipalName (kerberoasting, or a broken SPN), its
msDS-AllowedToActOnBehalfOfOtherIdentity (impersonate any user to it), its
msDS-KeyCredentialLink (shadow credentials: log on as it), its
userAccountControl (delegation flags), a gMSA's msDS-GroupMSAMembership
(who may read its password), its password (the reset extended right), its
DACL or owner. Read from the
DACL and owner of nTSecurityDescriptor. Pure code, no I/O.

The rights are the ones the DC enforces on writes: an allow ACE that applies
to the object itself (not inherit-only, no other object class), for
GenericAll, GenericWrite, WriteDacl, WriteOwner, or WriteProperty on all
properties, the attribute, or the property set holding it; and the owner,
who may always rewrite the DACL. Deny ACEs are not subtracted: a grant
denied elsewhere is still named (it is one edit away)."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    ADS_RIGHT_DS_WRITE_PROP,
    GENERIC_ALL,
    GENERIC_WRITE,
    SELF_SID,
)

WRITE_DAC = 0x40000
WRITE_OWNER = 0x80000
_ALL_DS_RIGHTS = 0xF01FF
EVERYTHING = "everything"
# attribute: (its schemaIDGUID, the property set it belongs to). The GUIDs are
# the same in every forest; the property sets as the lab DC's schema has them.
WATCHED_ATTRIBUTES = {
    "servicePrincipalName": ("f3a64788-5306-11d1-a9c5-0000f80367c1", "e48d0154-bcf8-11d1-8702-00c04fb96050"),
    "msDS-AllowedToActOnBehalfOfOtherIdentity": ("3f78c3e5-f79a-46bd-a0b8-9d18116ddc79",
                                                 "4c164200-20c0-11d0-a768-00aa006e0529"),
    "msDS-KeyCredentialLink": ("5b47d60f-6090-40b2-9f37-2a4de88f3063", "9b026da6-0d3c-465c-8bee-5199d7165cba"),
    "userAccountControl": ("bf967a68-0de6-11d0-a285-00aa003049e2", "4c164200-20c0-11d0-a768-00aa006e0529"),
    # A gMSA's: who may retrieve its password (in no property set).
    "msDS-GroupMSAMembership": ("888eedd6-ce04-df40-b462-b8a50e41ba38",),
}
# Extended rights that take an account over: reset its password without knowing
# it (User-Force-Change-Password), or every extended right at once.
RESET_PASSWORD = "its password (reset)"
_FORCE_CHANGE_PASSWORD = "00299570-246d-11d0-a768-00aa006e0529"
_CONTROL_ACCESS = 0x100
RBKCD_ATTRIBUTE = "msDS-AllowedToActOnBehalfOfOtherIdentity"
# Of the watched attributes, those the permission model grants the automation
# account (PRM002, PRM004): its other rights are reported like anyone's.
AUTOMATION_DECLARED = ("servicePrincipalName", RBKCD_ATTRIBUTE)
# Well-known SIDs whose control of an account is by design (tier 0): SYSTEM,
# BUILTIN\Administrators, Enterprise Domain Controllers.
_TIER0_SIDS = ("S-1-5-18", "S-1-5-32-544", "S-1-5-9")
# Domain-relative RIDs of the same: Domain Admins, Domain Controllers, Enterprise
# Read-only Domain Controllers, Schema Admins, Enterprise Admins, and Key Admins
# and Enterprise Key Admins, which the DC creates to manage msDS-KeyCredentialLink.
_TIER0_RIDS = (512, 516, 498, 518, 519, 526, 527)
# The placeholder of inheritable ACEs for whoever creates an object.
_CREATOR_OWNER = "S-1-3-0"
_INHERITED_ACE = 0x10


def is_tier0(sid, domain_sids=()):
    """Whether ``sid`` is a tier-0 principal whose control is by design;
    domain-relative RIDs count in the given domains (any, when none given)."""
    if sid in _TIER0_SIDS:
        return True
    prefix, _dash, rid = sid.rpartition("-")
    return rid.isdigit() and int(rid) in _TIER0_RIDS and prefix.startswith("S-1-5-21-") and (
        not domain_sids or prefix in domain_sids)


def writers(descriptor, object_class=None):
    """{sid: dict(what=[...], via=[...])} from a parsed SecurityDescriptor:
    ``what`` the watched attributes by name, "the DACL", "the owner", or
    EVERYTHING (GenericAll or full control) alone; ``via`` how: "ACE",
    "inherited ACE", "owner"."""
    found = {}

    def grant(sid, what, via):
        entry = found.setdefault(sid, dict(what=[], via=[]))
        for item, values in ((what, entry["what"]), (via, entry["via"])):
            if item not in values:
                values.append(item)

    for ace in descriptor.dacl or []:
        if not ace.is_allow or ace.is_inherit_only or ace.sid == _CREATOR_OWNER:
            continue
        if ace.inherited_object_type not in (None, object_class):
            continue
        via = "inherited ACE" if ace.flags & _INHERITED_ACE else "ACE"
        mask = ace.mask
        if mask & GENERIC_ALL or (mask & _ALL_DS_RIGHTS) == _ALL_DS_RIGHTS:
            grant(ace.sid, EVERYTHING, via)
            continue
        if mask & WRITE_DAC:
            grant(ace.sid, "the DACL", via)
        if mask & WRITE_OWNER:
            grant(ace.sid, "the owner", via)
        if mask & _CONTROL_ACCESS and ace.object_type in (None, _FORCE_CHANGE_PASSWORD):
            grant(ace.sid, RESET_PASSWORD, via)
        if mask & GENERIC_WRITE or (mask & ADS_RIGHT_DS_WRITE_PROP and ace.object_type is None):
            for name in WATCHED_ATTRIBUTES:
                grant(ace.sid, name, via)
        elif mask & ADS_RIGHT_DS_WRITE_PROP:
            for name, guids in WATCHED_ATTRIBUTES.items():
                if ace.object_type in guids:
                    grant(ace.sid, name, via)
    if descriptor.owner_sid:
        # The owner may rewrite the DACL, whatever the ACEs say.
        grant(descriptor.owner_sid, "the DACL", "owner")
    for entry in found.values():
        if EVERYTHING in entry["what"]:
            entry["what"] = [EVERYTHING]
    return found


def others_who_may_write(descriptor, own_sid, object_class=None, domain_sids=(), exempt_sids=()):
    """{sid: dict(what, via)}: the principals that may write what makes the
    object an attack path, but tier 0, the object itself (SELF or its own
    SID: the collection grants SELF its SPNs) and ``exempt_sids`` (the
    declared automation accounts)."""
    return {sid: entry for sid, entry in writers(descriptor, object_class).items()
            if sid not in (SELF_SID, own_sid) and not is_tier0(sid, domain_sids) and sid not in exempt_sids}


def self_may_write_rbkcd(descriptor, object_class=None):
    """Whether an inheritable ACE of ``descriptor`` (the domain root's) lets
    every object below write its own msDS-AllowedToActOnBehalfOfOtherIdentity
    (SELF), as Windows Server 2012 and later and Samba set it."""
    rbkcd = WATCHED_ATTRIBUTES[RBKCD_ATTRIBUTE]
    for ace in descriptor.dacl or []:
        if (ace.is_allow and ace.sid == SELF_SID and ace.flags & 0x02 and ace.mask & ADS_RIGHT_DS_WRITE_PROP
                and ace.object_type in (None,) + rbkcd and ace.inherited_object_type in (None, object_class)):
            return True
    return False
