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
    guarded_replace,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError

FLAGS = {"unconstrained": UF_TRUSTED_FOR_DELEGATION, "protocol_transition": UF_TRUSTED_TO_AUTH_FOR_DELEGATION}
_ATTRIBUTE = "userAccountControl"


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
    results, written, before, after, warnings = [], [], {}, {}, []
    for reference in request["references"]:
        account = accounts[reference]

        def plan(values):
            current = int(values[0]) if values else 0
            return (str(current & ~mask),) if current & mask else None

        def read_entry(account=account):
            return client.search(account.dn, "(objectClass=*)", [_ATTRIBUTE, GUARD_ATTRIBUTE, REPLICATION_METADATA],
                                 scope="base")[0]

        current = account.user_account_control
        cleared = _flag_names(current, mask)
        if not check_mode and cleared:
            try:
                # Samba does not make a delete of the userAccountControl value
                # read a condition (verified with concurrent writers): the
                # guard token swapped in the same modify makes it one.
                outcome, lost = guarded_replace(client, account.dn, _ATTRIBUTE, read_entry, plan,
                                                "clearing %s on %s" % (", ".join(cleared), account.name), text=True)
            except LdapError as error:
                hint = (" (on Windows, clearing unconstrained delegation needs SeEnableDelegationPrivilege, held by "
                        "Domain Admins)" if error.result == "insufficientAccessRights" and "unconstrained" in cleared
                        else "")
                raise with_writes(DelegationFlagsError("%s%s" % (error, hint)), written,
                                  dict(changed=bool(written), accounts=results)) from None
            cleared = _flag_names(int(outcome.current[0]) if outcome.current else 0, mask) if outcome.written else []
            if outcome.written:
                written.append("cleared %s on %s" % (", ".join(cleared), account.name))
            if lost:
                warnings.append("%s: another writer changed userAccountControl just before this run wrote it; check "
                                "the account's flags" % account.name)
        results.append(dict(account=account.summary(), cleared=cleared, changed=bool(cleared)))
        if cleared:
            before[account.name] = sorted(_flag_names(current, mask))
            after[account.name] = []
    return dict(changed=any(r["changed"] for r in results), accounts=results, diff=dict(before=before, after=after),
                warnings=warnings)
