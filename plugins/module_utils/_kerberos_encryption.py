# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kerberos_encryption_types: make the KDC issue AES tickets for service
accounts by setting msDS-SupportedEncryptionTypes to AES (0x18), or AES
plus RC4 (0x1C) for old clients, keeping the attribute's other bits.

The attribute is single-valued and Samba, like Windows, refuses a delete of
a value that is not stored (verified on the lab DC): each write deletes the
value read and adds the new one in one modify (an add alone when the
attribute is absent, refused if a value appeared meanwhile), through the
one guarded write (_guarded_write.guarded_write), so concurrent writers
re-plan instead of overwriting each other.

Refused before anything is written: computer accounts (Windows rewrites
their attribute from the host's policy) and an AES-only setting for a user
whose password was last set before the domain could make AES keys (the
heuristic of _encryption_types.aes_keys_possibly_missing): its tickets
could not be decrypted until the password is reset."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    parse_account_items,
    resolve_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._encryption_types import (
    ATTRIBUTE,
    TARGETS,
    WRITABLE_KINDS,
    EncryptionTypesError,
    aes_keys_possibly_missing,
    aes_keys_since,
    attribute_value,
    encryption_state,
    etype_names,
    needs_setting,
    planned_value,
    rodc_group_sids,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import with_writes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._group_membership import domain_sid, find_groups
from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import guarded_write
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError


def validate_encryption_types(params):
    """The module's input, checked before connecting."""
    references, problems = parse_account_items(params.get("accounts"))
    target = params.get("encryption_types") or "aes"
    if target not in TARGETS:
        problems.append("encryption_types must be one of %s, got %r" % (", ".join(TARGETS), target))
    if problems:
        raise EncryptionTypesError("; ".join(problems) + "; nothing written")
    return dict(references=references, target=target)


def encryption_types_modification(old_value, new_value):
    """The modify that writes ``new_value`` only while ``old_value`` (None:
    absent) is what is stored. Also what generate mode's LDIF holds."""
    changes = [] if old_value is None else [("MODIFY_DELETE", [str(old_value)])]
    return {ATTRIBUTE: changes + [("MODIFY_ADD", [str(new_value)])]}


def read_aes_keys_since(client, accounts):
    """When the accounts' domain could first make AES keys, or None. One
    search, none without accounts."""
    domains = sorted({domain_sid(account.sid) for account in accounts} - {None})
    groups = find_groups(client, rodc_group_sids(domains)) if domains else {}
    return aes_keys_since(groups.values())


def _shown(value):
    if value is None:
        return "(not set: RC4)"
    return "0x%X (%s)" % (value, ", ".join(etype_names(value)) or "no encryption type: RC4")


def kerberos_encryption_types(client, request, check_mode=False):
    """Set the target encryption types on every account that lacks them."""
    references, target = request["references"], request["target"]
    accounts = resolve_accounts(client, references)
    problems = ["%s is a computer account: Windows sets its encryption types from the host's policy (Network "
                "security: Configure encryption types allowed for Kerberos); leave it out"
                % accounts[r].name for r in references if accounts[r].kind not in WRITABLE_KINDS]
    # Only users that would become AES-only matter: another setting leaves RC4 to fall back on.
    would_be_aes_only = [accounts[r] for r in references if accounts[r].kind == "user" and target == "aes"
                         and needs_setting(attribute_value(accounts[r].supported_encryption_types), target)]
    if would_be_aes_only:
        since = read_aes_keys_since(client, would_be_aes_only)
        problems += ["%s: its password was last set before the domain could make AES keys (a heuristic: before "
                     "%s, when the Read-only Domain Controllers group was created), so it may have none and an "
                     "AES-only setting would make its tickets undecryptable; reset its password first (then run "
                     "again), or use encryption_types=aes_rc4" % (accounts[r].name, since.strftime("%Y-%m-%d"))
                     for r in (ref for ref in references if accounts[ref] in would_be_aes_only)
                     if aes_keys_possibly_missing(accounts[r].pwd_last_set, since)]
    if problems:
        raise EncryptionTypesError("; ".join(dict.fromkeys(problems)) + "; nothing written")
    results, written, before, after = [], [], {}, {}
    seen = set()
    for reference in references:
        account = accounts[reference]
        if account.sid in seen:
            continue
        seen.add(account.sid)
        current = attribute_value(account.supported_encryption_types)

        def plan(value):
            return planned_value(value, target) if needs_setting(value, target) else None

        def read(account=account):
            entries = client.search(account.dn, "(objectClass=*)", [ATTRIBUTE], scope="base")
            if not entries:
                raise EncryptionTypesError("%s was deleted while its encryption types were being set" % account.name)
            return attribute_value(entries[0].value(ATTRIBUTE))

        planned = plan(current)
        if planned is not None and not check_mode:
            try:
                outcome = guarded_write(client, account.dn, current, plan, encryption_types_modification, read,
                                        "setting the encryption types of %s" % account.name)
            except LdapError as error:
                raise with_writes(EncryptionTypesError(str(error)), written,
                                  dict(changed=bool(written), accounts=results)) from None
            current, planned = outcome.current, outcome.planned
            if outcome.written:
                written.append("set the encryption types of %s to %s" % (account.name, _shown(planned)))
        changed = planned is not None
        final = planned if changed else current
        results.append(dict(account=account.summary(), before=current, after=final, changed=changed,
                            before_names=encryption_state(current)["names"], after_names=encryption_state(final)["names"]))
        if changed:
            before[account.name] = _shown(current)
            after[account.name] = _shown(planned)
    return dict(changed=any(r["changed"] for r in results), accounts=results, diff=dict(before=before, after=after),
                encryption_types=target)
