# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""delegation_flags: clear the delegation flags that are a risk on service
accounts, unconstrained delegation (TRUSTED_FOR_DELEGATION) and protocol
transition (TRUSTED_TO_AUTH_FOR_DELEGATION). The collection only ever
clears them: it never grants a delegation right broader than RBKCD.

userAccountControl is single-valued: the write deletes the value read and
adds the new one in one modify (_guarded_write), so a concurrent change to
the account (an administrator disabling it) makes the DC refuse it, and the
flags are planned again from the fresh value instead of writing back a
stale one. On Windows, changing TRUSTED_FOR_DELEGATION needs
SeEnableDelegationPrivilege (Domain Admins by default) besides the write
right: a refusal says so."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import (
    UF_SERVER_TRUST_ACCOUNT,
    UF_TRUSTED_FOR_DELEGATION,
    UF_TRUSTED_TO_AUTH_FOR_DELEGATION,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    AccountError,
    parse_account_reference,
    resolve_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError, with_writes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import guarded_write
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError

FLAGS = {"unconstrained": UF_TRUSTED_FOR_DELEGATION, "protocol_transition": UF_TRUSTED_TO_AUTH_FOR_DELEGATION}
_ATTRIBUTE = "userAccountControl"


class DelegationFlagsError(SqlAuthError):
    """A flag that cannot be cleared as asked."""


def validate_delegation_flags(params):
    """The module's input, checked before connecting."""
    problems, references = [], []
    for item in params.get("accounts") or []:
        name, host = (item.get("account"), item.get("host")) if isinstance(item, dict) else (item, None)
        try:
            references.append(parse_account_reference(name, host))
        except AccountError as error:
            problems.append(str(error))
    if not references and not problems:
        problems.append("accounts is empty")
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
    results, written, before, after = [], [], {}, {}
    for reference in request["references"]:
        account = accounts[reference]

        def plan(current):
            return current & ~mask if current & mask else None

        def read(account=account):
            entries = client.search(account.dn, "(objectClass=*)", [_ATTRIBUTE], scope="base")
            return int(entries[0].value(_ATTRIBUTE) or 0) if entries else 0

        current = account.user_account_control
        cleared = _flag_names(current, mask)
        if check_mode or not cleared:
            outcome_written = False
        else:
            try:
                outcome = guarded_write(
                    client, account.dn, current, plan,
                    lambda old, new: {_ATTRIBUTE: [("MODIFY_DELETE", [str(old)]), ("MODIFY_ADD", [str(new)])]},
                    read, "clearing %s on %s" % (", ".join(cleared), account.name))
            except LdapError as error:
                hint = (" (on Windows, clearing unconstrained delegation needs SeEnableDelegationPrivilege, held by "
                        "Domain Admins)" if error.result == "insufficientAccessRights" and "unconstrained" in cleared
                        else "")
                raise with_writes(DelegationFlagsError("%s%s" % (error, hint)), written,
                                  dict(changed=bool(written), accounts=results)) from None
            outcome_written = outcome.written
            cleared = _flag_names(outcome.current, mask) if outcome.written else []
            if outcome_written:
                written.append("cleared %s on %s" % (", ".join(cleared), account.name))
        results.append(dict(account=account.summary(), cleared=cleared, changed=bool(cleared)))
        if cleared:
            before[account.name] = sorted(_flag_names(current, mask))
            after[account.name] = []
    return dict(changed=any(r["changed"] for r in results), accounts=results, diff=dict(before=before, after=after))
