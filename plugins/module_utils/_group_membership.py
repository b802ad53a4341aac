# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Group expansion, shared by every check that asks "is this account in
that group": which of some accounts are members of which groups, directly,
through their primary group or through nested groups. spn_facts asks it
about the privileged groups (the drift report's account_privilege check).

The cost is two searches, whatever the number of accounts asked about
(their cost grows with the size of the groups, never with the accounts):

1. ``find_groups``: one search resolves the groups by objectSid under the
   domain's naming context, with their member and memberOf values; groups
   that do not exist there are left out (Enterprise Admins and Schema
   Admins exist in the forest root domain only).
2. ``group_memberships``: one search returns the groups nested in them
   (objectClass=group ANDed with one LDAP_MATCHING_RULE_IN_CHAIN term,
   memberOf:1.2.840.113556.1.4.1941:=group DN, per group, which Windows
   and Samba both evaluate; objectClass is indexed, so the DC walks groups
   only). Every membership is then found locally, from the groups' member
   values (the accounts' DNs) and their memberOf values, and said to be
   direct (member), by primary group or nested. The primary group is not
   in member or memberOf: the callers read each account's primaryGroupID
   with the account and pass it in (Member), so that an account whose
   primary group is Domain Admins (512) is a member of it; searching for
   primaryGroupID instead would return every user for Domain Users.

Asking the other way round (the accounts, each ANDed with the in-chain
terms) made the DC walk every account's groups: 0.66 s for 1,000 accounts
on the bench directory, against 0.02 s for the groups nested in the
privileged ones. A group with more members than the DC returns at once
(Windows' MaxValRange, 1,500) is read to its end by ldap3's automatic
range retrieval, one more round trip per range.

Limits: groups of other domains are not seen (from a child domain, the
forest root's Enterprise Admins and Schema Admins), nor a primary group that
is itself nested in a group asked about (only the groups' own RIDs are
matched against primaryGroupID).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import normalize_dn
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_BYTES,
    MAX_FILTER_TERMS,
    batched_or_filters,
    escape_filter_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    sid_from_bytes,
    sid_to_bytes,
)

# LDAP_MATCHING_RULE_IN_CHAIN: the DC follows nested group memberships.
IN_CHAIN = "1.2.840.113556.1.4.1941"
GROUP_ATTRIBUTES = ["objectSid", "sAMAccountName", "memberOf", "member", "whenCreated"]

BUILTIN_ADMINISTRATORS = "S-1-5-32-544"
ACCOUNT_OPERATORS = "S-1-5-32-548"
DOMAIN_ADMINS_RID = 512
SCHEMA_ADMINS_RID = 518
ENTERPRISE_ADMINS_RID = 519
# The groups whose members administer the domain (or, for Account
# Operators, most of its accounts), by well-known RID in the domain.
PRIVILEGED_RIDS = (DOMAIN_ADMINS_RID, ENTERPRISE_ADMINS_RID, SCHEMA_ADMINS_RID)
PRIVILEGED_BUILTIN_SIDS = (BUILTIN_ADMINISTRATORS, ACCOUNT_OPERATORS)
# How an account is a member: in the group's member attribute, by its
# primaryGroupID, or through groups nested in the group.
VIA = ("member", "primary_group", "nested")

_DOMAIN_SID = re.compile(r"^(S-1-5-21(?:-\d+){3})-(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Group:
    """A group as read: ``name`` DOMAIN\\sAMAccountName (BUILTIN\\... for
    the builtin groups), ``member_of`` the DNs of its own groups,
    ``members`` the DNs of its members."""

    sid: str
    dn: str
    name: str
    member_of: tuple = ()
    members: tuple = ()
    created: str | None = None


@dataclass(frozen=True)
class Membership:
    """An account's membership of ``group``, ``via`` one of VIA."""

    group: Group
    via: str

    def summary(self):
        return dict(group=self.group.name, dn=self.group.dn, sid=self.group.sid, via=self.via)


def domain_sid(sid):
    """The domain part of an account's or group's SID (S-1-5-21-a-b-c), or
    None for a SID that is not a domain's (builtin, well-known)."""
    match = _DOMAIN_SID.match(sid or "")
    return match.group(1).upper() if match else None


def privileged_group_sids(domain_sids):
    """The SIDs of the privileged groups of the given domains: Domain Admins,
    Enterprise Admins, Schema Admins, then the builtin Administrators and
    Account Operators."""
    sids = ["%s-%d" % (domain, rid) for domain in domain_sids for rid in PRIVILEGED_RIDS]
    return sids + list(PRIVILEGED_BUILTIN_SIDS)


def sid_term(sid):
    """The filter term for an object by its SID."""
    return "(objectSid=%s)" % escape_filter_value(sid_to_bytes(sid))


def _in_chain_term(group):
    return "(memberOf:%s:=%s)" % (IN_CHAIN, escape_filter_value(group.dn))


def _group_name(sam, sid, domain_netbios):
    if sid.upper().startswith("S-1-5-32-"):
        return "BUILTIN\\%s" % sam
    return "%s\\%s" % (domain_netbios, sam) if domain_netbios else sam


def _read_group(entry, domain_netbios):
    sid = sid_from_bytes(entry.binary("objectSid"))[0]
    return Group(sid=sid, dn=entry.dn, name=_group_name(entry.value("sAMAccountName") or entry.dn, sid, domain_netbios),
                 member_of=tuple(entry.values("memberOf")), members=tuple(entry.values("member")),
                 created=entry.value("whenCreated"))


def find_groups(client, group_sids):
    """The groups of the connection's domain with these SIDs, {SID: Group}
    (SIDs as given); a SID no group has is left out. One search (per
    MAX_FILTER_TERMS SIDs)."""
    wanted = {sid.upper(): sid for sid in group_sids}
    if not wanted:
        return {}
    netbios = client.own_domain()["netbios"]
    groups = {}
    for ldap_filter in batched_or_filters(sorted({sid_term(sid) for sid in wanted.values()}),
                                          "(&(objectClass=group)%s)", max_terms=MAX_FILTER_TERMS):
        for entry in client.search(client.default_naming_context, ldap_filter, GROUP_ATTRIBUTES):
            group = _read_group(entry, netbios)
            if group.sid.upper() in wanted:
                groups[wanted[group.sid.upper()]] = group
    return groups


def _wrapped_filters(terms, prefix, suffix, max_terms):
    """``prefix (|terms...) suffix`` filters, batched within MAX_FILTER_BYTES."""
    room = max(MAX_FILTER_BYTES - len((prefix + suffix).encode("utf-8")), 1)
    for batch in batched_or_filters(sorted(terms), max_bytes=room, max_terms=max_terms):
        yield prefix + batch + suffix


def group_memberships(client, accounts, groups):
    """Which of ``groups`` (Group objects, e.g. find_groups' values) each
    account of ``accounts`` ({SID: _accounts.Member}) is a member of, transitively:
    {account SID: [Membership]} for every SID given, [] for none, sorted by
    group name. See the module's docstring for the search."""
    result = {sid: [] for sid in accounts}
    groups = list({group.sid.upper(): group for group in groups}.values())
    if not accounts or not groups:
        return result
    nodes = {normalize_dn(group.dn): group for group in groups}
    asked = set(nodes)
    by_sid = {group.sid.upper(): normalize_dn(group.dn) for group in groups}
    chain_terms = [_in_chain_term(group) for group in sorted(groups, key=lambda g: g.name.lower())]
    netbios = client.own_domain()["netbios"]
    for ldap_filter in _wrapped_filters(chain_terms, "(&(objectClass=group)", ")", MAX_FILTER_TERMS):
        for entry in client.search(client.default_naming_context, ldap_filter, GROUP_ATTRIBUTES):
            nodes.setdefault(normalize_dn(entry.dn), _read_group(entry, netbios))
    # The primary group, from the attribute read with each account: not from a
    # search, which for Domain Users or Domain Computers would return them all.
    primary_group = {}
    for sid, member in accounts.items():
        key = by_sid.get("%s-%s" % (domain_sid(sid), member.primary_group)) if member.primary_group else None
        if key:
            primary_group[sid.upper()] = key
    sid_of = {normalize_dn(member.dn): sid for sid, member in accounts.items()}
    direct = {}
    for key, group in nodes.items():
        for member in group.members:
            sid = sid_of.get(normalize_dn(member))
            if sid is not None:
                direct.setdefault(sid, set()).add(key)
    for sid in accounts:
        primary_key = primary_group.get(sid.upper())
        member_of = direct.get(sid, set())
        memberships = []
        for key in sorted(_reachable(nodes, member_of | ({primary_key} if primary_key else set())) & asked,
                          key=lambda k: nodes[k].name.lower()):
            via = "member" if key in member_of else "primary_group" if key == primary_key else "nested"
            memberships.append(Membership(nodes[key], via))
        result[sid] = memberships
    return result


def _reachable(nodes, start):
    """The known groups reachable from the normalized DNs ``start`` by
    their memberOf, the start included."""
    reached, stack = set(), [key for key in start if key in nodes]
    while stack:
        key = stack.pop()
        if key in reached:
            continue
        reached.add(key)
        stack.extend(parent for parent in map(normalize_dn, nodes[key].member_of) if parent in nodes)
    return reached


def members_of_groups(client, accounts, group_sids):
    """{account SID: [Membership]} of the groups with ``group_sids`` (those
    that exist in the connection's domain), for every account of
    ``accounts`` ({SID: Member})."""
    if not accounts:
        return {}
    return group_memberships(client, accounts, find_groups(client, group_sids).values())


def privileged_memberships(client, accounts):
    """{account SID: [Membership]} of the privileged groups (Domain Admins,
    Enterprise Admins, Schema Admins, Administrators, Account Operators)
    of the accounts' domain, for accounts ({SID: Member}) of the connection's
    domain."""
    return read_privileged(client, accounts)[0]


def read_privileged(client, accounts, also_read=None):
    """privileged_memberships, and further groups of the accounts' domains,
    ``also_read(domain SIDs) -> group SIDs``, read in the same search
    ({SID: Group}, not expanded): (memberships, groups)."""
    if not accounts:
        return {}, {}
    domains = sorted({domain_sid(sid) for sid in accounts} - {None})
    privileged = privileged_group_sids(domains)
    others = list(also_read(domains)) if also_read else []
    found = find_groups(client, privileged + others)
    memberships = group_memberships(client, accounts, [found[sid] for sid in privileged if sid in found])
    return memberships, {sid: found[sid] for sid in others if sid in found}
