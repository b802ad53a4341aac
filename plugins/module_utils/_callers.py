# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The people who query through a linked server (its ``callers``: users and
groups, groups expanded through nested groups and primary groups): which of
them the KDC will never delegate. A user marked "Account is sensitive and
cannot be delegated" (userAccountControl NOT_DELEGATED) or a member of
Protected Users gets no forwardable ticket, so the double hop fails for
them whatever the delegation allows.

Cost: one search resolves every caller name; the users named are checked
with _group_membership's searches for Protected Users; each caller group is
one search that returns only its blocked members (the DC applies the
in-chain membership and the flag); the lookup of Protected Users itself is
one more. Callers are few (the groups of people who use a linked server),
so this is a handful of round trips per run, not per instance."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import UF_NOT_DELEGATED
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    AccountError,
    account_from_entry,
    parse_account_reference,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._group_membership import (
    IN_CHAIN,
    domain_sid,
    find_groups,
    members_of_groups,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_TERMS,
    batched_or_filters,
    escape_filter_value,
)

PROTECTED_USERS_RID = 525
CALLER_ATTRIBUTES = ["sAMAccountName", "userPrincipalName", "objectSid", "objectClass", "userAccountControl",
                     "primaryGroupID"]
# The userAccountControl bit test (LDAP_MATCHING_RULE_BIT_AND).
_BIT_AND = "1.2.840.113556.1.4.803"


def parse_callers(names):
    """The caller names as AccountReferences; raises AccountError naming
    the bad ones."""
    references, problems = [], []
    for name in names or []:
        try:
            references.append(parse_account_reference(name))
        except AccountError as error:
            problems.append("caller %r: %s" % (name, error))
    if problems:
        raise AccountError("; ".join(problems))
    return references


def _blocked(reasons_by_name):
    return [dict(name=name, reasons=reasons) for name, reasons in sorted(reasons_by_name.items(),
                                                                         key=lambda item: item[0].lower())]


def check_callers(client, references):
    """[dict(input, name, kind, blocked)] per caller: ``blocked`` lists the
    users (the caller itself, or a group's members) the KDC will not
    delegate, each with its reasons (sensitive, protected_users). Raises
    AccountError for callers that match no user or group, or several."""
    if not references:
        return []
    domain = client.own_domain()
    terms = sorted({term for reference in references for term in reference.filter_terms()})
    candidates = {}
    for ldap_filter in batched_or_filters(terms, "(&(|(objectClass=user)(objectClass=group))%s)",
                                          max_terms=MAX_FILTER_TERMS):
        for entry in client.search(client.default_naming_context, ldap_filter, CALLER_ATTRIBUTES):
            candidates[entry.dn.lower()] = account_from_entry(entry, domain["netbios"])
    resolved, problems = {}, []
    for reference in references:
        matches = reference.pick(list(candidates.values()), (domain["dns"] or "").lower())
        if len(matches) != 1:
            found = ", ".join(sorted(a.name for a in matches)) if matches else \
                "no user or group of %s" % domain["netbios"]
            problems.append("caller %r matches %s" % (reference.text, found))
            continue
        resolved[reference] = matches[0]
    if problems:
        raise AccountError("; ".join(problems) + " (callers of linked servers: users or groups, as "
                           "DOMAIN\\name, name@domain, a DN or a SID)")
    domains = {domain_sid(account.sid) for account in resolved.values()} - {None}
    protected = find_groups(client, ["%s-%d" % (sid, PROTECTED_USERS_RID) for sid in sorted(domains)])
    users = [account for account in resolved.values() if account.kind != "group"]
    in_protected = members_of_groups(client, {a.sid: a.as_member() for a in users}, list(protected)) if protected else {}
    results = []
    for reference in references:
        account = resolved[reference]
        if account.kind == "group":
            blocked = _blocked_members(client, account, list(protected.values()))
        else:
            reasons = (["sensitive"] if account.user_account_control & UF_NOT_DELEGATED else []) + \
                (["protected_users"] if in_protected.get(account.sid) else [])
            blocked = _blocked({account.name: reasons}) if reasons else []
        results.append(dict(input=reference.text, name=account.name, kind=account.kind, blocked=blocked))
    return results


def _blocked_members(client, group, protected_groups):
    """The users in ``group`` (nested groups and primary group included)
    that are sensitive or in Protected Users: one search, which returns
    only those."""
    membership = "(|(memberOf:%s:=%s)(primaryGroupID=%s))" % (
        IN_CHAIN, escape_filter_value(group.dn), group.sid.rsplit("-", 1)[1])
    blockers = ["(userAccountControl:%s:=%d)" % (_BIT_AND, UF_NOT_DELEGATED)]
    blockers += ["(memberOf:%s:=%s)" % (IN_CHAIN, escape_filter_value(g.dn)) for g in protected_groups]
    ldap_filter = "(&(objectClass=user)%s(|%s))" % (membership, "".join(blockers))
    netbios = client.own_domain()["netbios"]
    protected_dns = {g.dn.lower() for g in protected_groups}
    reasons = {}
    for entry in client.search(client.default_naming_context, ldap_filter, CALLER_ATTRIBUTES + ["memberOf"]):
        account = account_from_entry(entry, netbios)
        found = ["sensitive"] if account.user_account_control & UF_NOT_DELEGATED else []
        # The filter matched one of the two; without the flag it is Protected
        # Users (directly or nested). A direct membership is also named
        # when the flag is set.
        if not found or protected_dns & {dn.lower() for dn in entry.values("memberOf")}:
            found.append("protected_users")
        reasons[account.name] = found
    return _blocked(reasons)
