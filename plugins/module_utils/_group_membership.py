# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Group expansion, shared by every check that asks "is this account in
that group": which of some accounts are members of which groups, directly,
through their primary group or through nested groups. spn_facts asks it
about the privileged groups (the drift report's account_privilege check).

The cost is a few batched searches, never one per account nor per group:

1. ``find_groups``: one search resolves the groups by objectSid under the
   domain's naming context; groups that do not exist there are left out
   (Enterprise Admins and Schema Admins exist in the forest root domain
   only).
2. ``group_memberships``: one search per MAX_ACCOUNTS_PER_SEARCH (1,000)
   accounts returns the accounts that are members of any of the groups: the
   batch's objectSid terms ANDed with one primaryGroupID term per group of
   the domain and one LDAP_MATCHING_RULE_IN_CHAIN term
   (memberOf:1.2.840.113556.1.4.1941:=group DN, which Windows and Samba
   both evaluate, following nested groups) per group. objectSid is indexed,
   so the DC evaluates the batch's accounts only. The primary group is
   not in memberOf, so the matching rule never sees it: an account whose
   primaryGroupID is the RID of a group (Domain Admins 512) is a member of
   it, and of what that group is nested in.
3. Only when some account matched: the groups on its way up to the groups
   asked about, from its memberOf, one search per level of nesting outside
   those groups (usually one), each restricted to groups that are in-chain
   members of them. Every membership is then attributed to its group, and
   said to be direct (member), by primary group or nested, locally.

spn_facts with 1,000 instances, whatever their number of distinct user and
gMSA accounts up to 1,000: 2 more round trips when no account is
privileged, 3 when some are, plus one per further level of nesting.
Accounts with no group to look for cost nothing.

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
# Accounts per membership search. Each account is one indexed objectSid
# term of ~96 bytes (100 KB a search, under MAX_FILTER_BYTES); the DC's
# cost is the batch's accounts times the group terms, the in-chain walk of
# each account's groups: at 1,000 a search, spn_facts' 1,000 instances cost
# one search (the budget is two round trips per 1,000 instances).
MAX_ACCOUNTS_PER_SEARCH = 1000
GROUP_ATTRIBUTES = ["objectSid", "sAMAccountName", "memberOf"]
MEMBER_ATTRIBUTES = ["objectSid", "memberOf", "primaryGroupID"]

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
    the builtin groups), ``member_of`` the DNs of its own groups."""

    sid: str
    dn: str
    name: str
    member_of: tuple = ()


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


def _sid_term(sid):
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
                 member_of=tuple(entry.values("memberOf")))


def find_groups(client, group_sids):
    """The groups of the connection's domain with these SIDs, {SID: Group}
    (SIDs as given); a SID no group has is left out. One search (per
    MAX_FILTER_TERMS SIDs)."""
    wanted = {sid.upper(): sid for sid in group_sids}
    if not wanted:
        return {}
    netbios = client.own_domain()["netbios"]
    groups = {}
    for ldap_filter in batched_or_filters(sorted({_sid_term(sid) for sid in wanted.values()}),
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


def group_memberships(client, account_sids, groups):
    """Which of ``groups`` (Group objects, e.g. find_groups' values) each
    account is a member of, transitively: {account SID: [Membership]} for
    every SID given, [] for none, sorted by group name. See the module's
    docstring for the searches."""
    sids = {sid.upper(): sid for sid in account_sids}
    result = {sid: [] for sid in sids.values()}
    groups = list({group.sid.upper(): group for group in groups}.values())
    if not sids or not groups:
        return result
    primary_terms = sorted({"(primaryGroupID=%s)" % _DOMAIN_SID.match(group.sid).group(2)
                            for group in groups if domain_sid(group.sid)})
    chain_terms = [_in_chain_term(group) for group in sorted(groups, key=lambda g: g.name.lower())]
    # Cheap indexed terms first: the DC stops at the first that matches.
    membership = "(|%s)" % "".join(primary_terms + chain_terms)
    matched = {}
    for ldap_filter in _wrapped_filters([_sid_term(sid) for sid in sids.values()], "(&", membership + ")",
                                        MAX_ACCOUNTS_PER_SEARCH):
        for entry in client.search(client.default_naming_context, ldap_filter, MEMBER_ATTRIBUTES):
            sid = sid_from_bytes(entry.binary("objectSid"))[0].upper()
            if sid in sids:
                matched[sid] = entry
    if not matched:
        return result
    nodes = {normalize_dn(group.dn): group for group in groups}
    by_sid = {group.sid.upper(): key for key, group in nodes.items()}
    primary = {sid: by_sid.get("%s-%s" % (domain_sid(sid), entry.value("primaryGroupID"))) if domain_sid(sid)
               else None for sid, entry in matched.items()}
    _walk_up(client, nodes, [dn for entry in matched.values() for dn in entry.values("memberOf")]
             + [nodes[key].dn for key in primary.values() if key], chain_terms)
    asked = set(by_sid.values())
    for sid, entry in matched.items():
        direct = {normalize_dn(dn) for dn in entry.values("memberOf")}
        primary_key = primary[sid]
        memberships = []
        for key in sorted(_reachable(nodes, direct | ({primary_key} if primary_key else set())) & asked,
                          key=lambda k: nodes[k].name.lower()):
            via = "member" if key in direct else "primary_group" if key == primary_key else "nested"
            memberships.append(Membership(nodes[key], via))
        result[sids[sid]] = memberships
    return result


def _walk_up(client, nodes, start, chain_terms):
    """Read into ``nodes`` ({normalized DN: Group}) the groups between the
    DNs of ``start`` and the groups asked about: level by level, one
    search per level (per MAX_FILTER_TERMS DNs), each returning only groups
    that are in-chain members of the groups asked about."""
    netbios = client.own_domain()["netbios"]
    pruned, seen = set(), set()
    pending = {normalize_dn(dn): dn for dn in start}
    while pending:
        unknown = {}
        stack = list(pending.items())
        while stack:
            key, dn = stack.pop()
            if key in seen or key in pruned:
                continue
            if key in nodes:
                seen.add(key)
                stack.extend((normalize_dn(parent), parent) for parent in nodes[key].member_of)
            else:
                unknown[key] = dn
        if not unknown:
            return
        terms = ["(distinguishedName=%s)" % escape_filter_value(dn) for dn in unknown.values()]
        for ldap_filter in _wrapped_filters(terms, "(&(objectClass=group)", "(|%s))" % "".join(chain_terms),
                                            MAX_FILTER_TERMS):
            for entry in client.search(client.default_naming_context, ldap_filter, GROUP_ATTRIBUTES):
                nodes[normalize_dn(entry.dn)] = _read_group(entry, netbios)
        pruned.update(key for key in unknown if key not in nodes)
        pending = unknown


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


def members_of_groups(client, account_sids, group_sids):
    """{account SID: [Membership]} of the groups with ``group_sids`` (those
    that exist in the connection's domain), for every account SID given."""
    account_sids = list(account_sids)
    if not account_sids:
        return {}
    return group_memberships(client, account_sids, find_groups(client, group_sids).values())


def privileged_memberships(client, account_sids):
    """{account SID: [Membership]} of the privileged groups (Domain Admins,
    Enterprise Admins, Schema Admins, Administrators, Account Operators)
    of the accounts' domain, for accounts of the connection's domain."""
    account_sids = list(account_sids)
    domains = sorted({domain_sid(sid) for sid in account_sids} - {None})
    return members_of_groups(client, account_sids, privileged_group_sids(domains))
