# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spn_register: make sets of SPNs present, absent or exact on accounts.

What ``setspn -S`` does, for a whole inventory in one call, plus the move
ActiveDirectoryDsc offers: every requested SPN is looked up forest-wide first
(one batched search), an SPN held by another account is an error unless
``move`` allows taking it from there. Values are added and deleted one by
one in a single modify per account, never by replacing the attribute, so
concurrent writers of other SPNs are not overwritten; the DC's own uniqueness
check settles a race for the same SPN.

Planning (``plan_changes``) is pure; ``apply_changes`` does the writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    parse_account_reference,
    resolve_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError, parse_spn, spn_key
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import find_spn_holders

STATES = ("present", "absent", "exact")
REGISTRATION_OPTIONS = dict(
    account=dict(type="str", required=True),
    spns=dict(type="list", elements="str", required=True),
    state=dict(type="str", choices=list(STATES)),
    move=dict(type="bool"),
)
_ATTRIBUTE = "servicePrincipalName"


@dataclass(frozen=True)
class Registration:
    reference: object
    spns: tuple
    state: str
    move: bool


@dataclass
class AccountChange:
    """The SPN values to add to and delete from one account."""

    account: object
    add: dict = field(default_factory=dict)      # spn_key -> spelling to write
    remove: dict = field(default_factory=dict)   # spn_key -> value as stored
    moved_from: dict = field(default_factory=dict)  # spn -> [holder names]

    @property
    def empty(self):
        return not self.add and not self.remove

    def after(self):
        kept = [spn for spn in self.account.spns if spn_key(spn) not in self.remove]
        return sorted(kept + list(self.add.values()), key=str.lower)


def prepare_registrations(params):
    """Validate the module's input without I/O: a list of Registrations."""
    items = params.get("registrations") or [dict(account=params["account"], spns=params["spns"])]
    registrations = []
    for item in items:
        state = item.get("state") or params["state"]
        move = params["move"] if item.get("move") is None else item["move"]
        spns = []
        for text in item["spns"]:
            try:
                spns.append(str(parse_spn(text)))
            except SpnError as error:
                raise SpnError("account %r: %s" % (item["account"], error)) from None
        if not spns and state != "exact":
            raise SpnError("account %r: no SPNs given" % item["account"])
        unique = list({spn_key(spn): spn for spn in spns}.values())
        registrations.append(Registration(parse_account_reference(item["account"]), tuple(unique), state, move))

    wanted_on = {}
    for registration in registrations:
        if registration.state == "absent":
            continue
        for spn in registration.spns:
            # Account names compare case-insensitively, as AD does.
            names = wanted_on.setdefault(spn_key(spn), {})
            names.setdefault(registration.reference.text.lower(), registration.reference.text)
    clashes = ["%s (wanted on %s)" % (key, " and ".join(sorted(names.values())))
               for key, names in sorted(wanted_on.items()) if len(names) > 1]
    if clashes:
        raise SpnError("an SPN can be on one account only: " + "; ".join(clashes))
    return registrations


def plan_changes(registrations, accounts, holders):
    """Per-account changes for the registrations, given the resolved
    accounts and every holder of the requested SPNs. Raises SpnError naming
    every SPN held elsewhere that may not be moved, before anything is written."""
    changes = {}
    unmoved = []

    def change_for(account):
        return changes.setdefault(account.dn.lower(), AccountChange(account))

    for registration in registrations:
        account = accounts[registration.reference]
        change = change_for(account)
        current = {spn_key(spn): spn for spn in account.spns}
        wanted = {spn_key(spn): spn for spn in registration.spns}
        if registration.state == "absent":
            change.remove.update({key: current[key] for key in wanted if key in current})
            continue
        if registration.state == "exact":
            # Exact manages the service classes named in the list only: a
            # computer's HOST/ SPNs are not the SQL inventory's business.
            classes = {key.split("/", 1)[0] for key in wanted}
            change.remove.update({key: value for key, value in current.items()
                                  if key.split("/", 1)[0] in classes and key not in wanted})
        for key, spn in wanted.items():
            if key not in current:
                change.add[key] = spn
            others = [h for h in holders.get(key, []) if h.sid != account.sid]
            if not others:
                continue
            if not registration.move:
                unmoved.append((spn, key, others, key in current))
                continue
            change.moved_from[spn] = [h.name for h in others]
            for holder in others:
                holder_values = {spn_key(value): value for value in holder.spns}
                change_for(holder).remove[key] = holder_values.get(key, spn)
    # A holder this call removes the SPN from anyway (absent, or exact on it)
    # does not block it: removals are written before adds.
    blocked = []
    for spn, key, others, duplicate in unmoved:
        keeping = [h for h in others if h.dn.lower() not in changes or key not in changes[h.dn.lower()].remove]
        if keeping:
            blocked.append("%s is held by %s%s" % (spn, ", ".join(h.name for h in keeping),
                                                   " as well (a duplicate)" if duplicate else ""))
    contradictions = []
    for dn in sorted({accounts[r.reference].dn.lower() for r in registrations}):
        mine = [r for r in registrations if accounts[r.reference].dn.lower() == dn]
        kept = {spn_key(spn) for r in mine if r.state != "absent" for spn in r.spns}
        contradictions += ["%s (%s)" % (spn, changes[dn].account.name)
                           for r in mine if r.state == "absent" for spn in r.spns if spn_key(spn) in kept]
    if contradictions:
        raise SpnError("the registrations both add and remove: %s" % "; ".join(contradictions))
    if blocked:
        raise SpnError("not registered, nothing written: %s; set move: true to take them from there"
                       % "; ".join(blocked))
    return [change for change in changes.values() if not change.empty or change.moved_from]


def apply_changes(client, changes):
    """Write the changes: removals from other holders first, so a moved SPN
    is free before it is added; one modify per account. Removal-only changes
    go first, then those that free an SPN another change adds, then the rest."""
    added = {key for change in changes for key in change.add}
    for change in sorted(changes, key=lambda c: (bool(c.add), not added.intersection(c.remove))):
        if change.empty:
            continue
        modifications = []
        if change.remove:
            modifications.append(("MODIFY_DELETE", sorted(change.remove.values())))
        if change.add:
            modifications.append(("MODIFY_ADD", sorted(change.add.values())))
        try:
            client.modify(change.account.dn, {_ATTRIBUTE: modifications})
        except LdapError as error:
            if error.result != "constraintViolation":
                raise
            # Either a removal Samba refuses (a legacy duplicate) or an SPN
            # someone registered elsewhere since the check: take them apart.
            if change.remove:
                _remove_values(client, change)
            if change.add:
                try:
                    client.modify(change.account.dn, {_ATTRIBUTE: [("MODIFY_ADD", sorted(change.add.values()))]})
                except LdapError as add_error:
                    if add_error.result != "constraintViolation":
                        raise
                    raise LdapError(_explain_conflict(client, change, add_error)) from None


def _explain_conflict(client, change, error):
    holders = find_spn_holders(client, list(change.add.values()))[0]
    taken = ["%s is now held by %s" % (spn, ", ".join(h.name for h in holders[key]))
             for key, spn in sorted(change.add.items()) if holders.get(key)]
    if taken:
        return "SPN conflict on %s: %s (another change registered it after this run checked)" % (
            change.account.name, "; ".join(taken))
    return str(error)


def _remove_values(client, change):
    """Delete this change's values on their own; if the DC refuses because
    another account holds the same value (a legacy duplicate: Samba refuses
    what Windows allows), fall back to a replace with the remaining values,
    read again just before, so only what this change removes goes away. The
    fallback runs only for values that really are duplicated."""
    try:
        client.modify(change.account.dn, {_ATTRIBUTE: [("MODIFY_DELETE", sorted(change.remove.values()))]})
        return
    except LdapError as error:
        if error.result != "constraintViolation":
            raise
        holders = find_spn_holders(client, list(change.remove.values()))[0]
        if not any(h.sid != change.account.sid for key in change.remove for h in holders.get(key, [])):
            raise
    entry = client.search(change.account.dn, "(objectClass=*)", [_ATTRIBUTE], scope="base", paged=False)[0]
    remaining = [spn for spn in entry.values(_ATTRIBUTE) if spn_key(spn) not in change.remove]
    client.modify(change.account.dn, {_ATTRIBUTE: [("MODIFY_REPLACE", remaining)]})


def validate_spn_register(params):
    return dict(registrations=prepare_registrations(params))


def spn_register(client, request, check_mode=False):
    """spn_register's operation: plan, write unless in check mode, report."""
    registrations = request["registrations"]
    references = sorted({r.reference for r in registrations}, key=lambda r: (r.text.lower(), r.kind))
    accounts = resolve_accounts(client, references)
    requested = [spn for r in registrations if r.state != "absent" for spn in r.spns]
    holders = find_spn_holders(client, requested)[0] if requested else {}
    changes = plan_changes(registrations, accounts, holders)
    if not check_mode:
        apply_changes(client, changes)

    by_account = {}
    for change in changes:
        by_account[change.account.name] = dict(
            account=change.account.name, dn=change.account.dn,
            added=sorted(change.add.values(), key=str.lower),
            removed=sorted(change.remove.values(), key=str.lower),
            moved_from=change.moved_from)
    results = list(by_account.values())
    return dict(
        changed=any(not change.empty for change in changes),
        accounts=results,
        added=sorted({spn for r in results for spn in r["added"]}, key=str.lower),
        removed=sorted({spn for r in results for spn in r["removed"]}, key=str.lower),
        moved_from={spn: names for r in results for spn, names in r["moved_from"].items()},
        diff=dict(before={c.account.name: sorted(c.account.spns, key=str.lower) for c in changes},
                  after={c.account.name: c.after() for c in changes}),
    )
