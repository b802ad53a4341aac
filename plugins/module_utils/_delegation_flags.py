# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""delegation_flags: clear the delegation flags that are a risk on service
accounts, unconstrained delegation (TRUSTED_FOR_DELEGATION) and protocol
transition (TRUSTED_TO_AUTH_FOR_DELEGATION). The collection only ever
clears them: it never grants a delegation right broader than RBKCD.

userAccountControl is single-valued, and Samba does not refuse a delete of
a value that is no longer stored there: the write replaces it and swaps the
collection's guard token in the same modify (_guarded_write.guarded_replace),
so of concurrent collection writers only the first writes and the others
plan again from the fresh value; a writer outside the collection is
detected afterwards (replication version) and warned about. On Windows, changing TRUSTED_FOR_DELEGATION needs
SeEnableDelegationPrivilege (Domain Admins by default) besides the write
right: a refusal says so."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import (
    UF_SERVER_TRUST_ACCOUNT,
    UF_TRUSTED_FOR_DELEGATION,
    UF_TRUSTED_TO_AUTH_FOR_DELEGATION,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    parse_account_items,
    resolve_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError, with_writes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import (
    GUARD_ATTRIBUTE,
    REPLICATION_METADATA,
    GuardedReplace,
    guarded_replaces,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError, read_by_dn

FLAGS = {"unconstrained": UF_TRUSTED_FOR_DELEGATION, "protocol_transition": UF_TRUSTED_TO_AUTH_FOR_DELEGATION}
_ATTRIBUTE = "userAccountControl"
_GUARDED_ATTRIBUTES = [_ATTRIBUTE, GUARD_ATTRIBUTE, REPLICATION_METADATA]


class DelegationFlagsError(SqlAuthError):
    """A flag that cannot be cleared as asked."""


def validate_delegation_flags(params):
    """The module's input, checked before connecting."""
    references, problems = parse_account_items(params.get("accounts"))
    clear = params.get("clear") or []
    if not clear:
        problems.append("clear is empty: name the flags to clear (%s)" % ", ".join(FLAGS))
    if problems:
        raise DelegationFlagsError("; ".join(problems) + "; nothing written")
    return dict(references=references, mask=sum(FLAGS[flag] for flag in clear), clear=list(clear))


def _flag_names(value, mask):
    return [name for name, bit in FLAGS.items() if value & bit & mask]


def delegation_flags(client, request, check_mode=False):
    """Clear the requested flags on every account that has them."""
    accounts = resolve_accounts(client, request["references"])
    mask = request["mask"]
    controllers = sorted(a.name for a in accounts.values() if a.user_account_control & UF_SERVER_TRUST_ACCOUNT)
    if controllers:
        raise DelegationFlagsError("%s: a domain controller's delegation settings are the domain's own, not a SQL "
                                   "Server's; leave it out; nothing written" % ", ".join(controllers))

    def plan(values):
        current = int(values[0]) if values else 0
        return (str(current & ~mask),) if current & mask else None

    def read_entry(dn):
        entries = client.search(dn, "(objectClass=*)", _GUARDED_ATTRIBUTES, scope="base", paged=False)
        if not entries:
            raise LdapError("%s disappeared while its delegation flags were being cleared" % dn)
        return entries[0]

    # Each account once, however many names the request gives it.
    to_clear = [] if check_mode else list({id(accounts[r]): accounts[r] for r in request["references"]
                                           if _flag_names(accounts[r].user_account_control, mask)}.values())
    done = []
    try:
        # Samba does not make a delete of the userAccountControl value read
        # a condition (verified with concurrent writers): the guard token
        # swapped in the same modify makes it one. The reads are batched.
        guarded_replaces(client, _ATTRIBUTE, [
            GuardedReplace(account.dn, plan, lambda dn=account.dn: read_entry(dn), "clearing %s on %s" % (
                ", ".join(_flag_names(account.user_account_control, mask)), account.name)) for account in to_clear],
            lambda dns: read_by_dn(client, dns, _GUARDED_ATTRIBUTES), text=True, results=done)
    except LdapError as error:
        failed = to_clear[len(done)] if len(done) < len(to_clear) else None
        results, written, _diff, warnings = _report(request["references"], accounts, mask, to_clear, done,
                                                    stop=failed)
        hint = (" (on Windows, clearing unconstrained delegation needs SeEnableDelegationPrivilege, held by "
                "Domain Admins)" if error.result == "insufficientAccessRights" and failed is not None
                and "unconstrained" in _flag_names(failed.user_account_control, mask) else "")
        raise with_writes(DelegationFlagsError("%s%s" % (error, hint)), written,
                          dict(changed=bool(written), accounts=results)) from None
    results, _written, diff, warnings = _report(request["references"], accounts, mask, to_clear, done)
    return dict(changed=any(r["changed"] for r in results), accounts=results, diff=diff, warnings=warnings)


def _report(references, accounts, mask, to_clear, done, stop=None):
    """(accounts, written, diff, warnings) of the module's result, for the
    references before the account ``stop`` (all without one), from the
    guarded writes' results ``done`` (one per account of ``to_clear``, in
    order, as far as they went)."""
    outcomes = {id(account): result for account, result in zip(to_clear, done)}
    results, written, before, after, warnings, reported = [], [], {}, {}, [], set()
    for reference in references:
        account = accounts[reference]
        if account is stop:
            break
        current = account.user_account_control
        cleared = _flag_names(current, mask)
        result = outcomes.pop(id(account), None)
        if id(account) in reported:
            cleared = []  # named again: the first name reports the write
        elif result is not None:
            outcome = result.outcome
            cleared = _flag_names(int(outcome.current[0]) if outcome.current else 0, mask) if outcome.written else []
            if outcome.written:
                written.append("cleared %s on %s" % (", ".join(cleared), account.name))
            if result.lost:
                warnings.append("%s: another writer changed userAccountControl just before this run wrote it; check "
                                "the account's flags" % account.name)
        if result is not None:
            reported.add(id(account))
        results.append(dict(account=account.summary(), cleared=cleared, changed=bool(cleared)))
        if cleared:
            before[account.name] = sorted(_flag_names(current, mask))
            after[account.name] = []
    return results, written, dict(before=before, after=after), warnings
