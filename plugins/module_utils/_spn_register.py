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

A modify the DC refuses because another writer got there first (the value
already added or already gone, the SPN taken meanwhile) makes the run read
the accounts again and plan again: work another run did is then done, and
an SPN another run put on a third account is not taken from it (two runs
want it in different places). A failed run says exactly what it wrote.

The one replace left, removing a legacy duplicate Samba refuses to delete
by value, goes through the guarded write (_guarded_write), so a concurrent
change is planned again or reported, never silently dropped.

Planning (``plan_changes``) is pure; ``apply_changes`` does the writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    AccountError,
    parse_account_reference,
    resolve_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import with_writes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import (
    CONFLICT_RESULTS,
    GUARD_ATTRIBUTE,
    MAX_WRITE_ATTEMPTS,
    REPLICATION_METADATA,
    GuardedReplace,
    back_off,
    guarded_replaces,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError, read_by_dn
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
# A plan refused this many times over an unchanged directory is refused for
# good (not by concurrent writers, who change what the next read sees).
_SAME_PLAN_LIMIT = 3


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


def spn_modification(add=(), delete=()):
    """The modify request (ldap3's ``changes``) that deletes then adds
    servicePrincipalName values one by one, each list sorted; never a
    replace, so other writers' SPNs stay. The one form of an SPN write:
    apply_changes sends it and the drift report's LDIF is made from it."""
    modifications = []
    for operation, values in (("MODIFY_DELETE", delete), ("MODIFY_ADD", add)):
        values = sorted(values)
        if values:
            modifications.append((operation, values))
    return {_ATTRIBUTE: modifications}


class SpnConflict(LdapError):
    """Another writer changed an SPN this run was writing: read and plan again."""


@dataclass(frozen=True)
class Write:
    """One value this run wrote: ``action`` is add or remove."""

    account: object
    action: str
    spn: str

    def __str__(self):
        return "%s %s %s %s" % ("added" if self.action == "add" else "removed", self.spn,
                                "to" if self.action == "add" else "from", self.account.name)


def apply_changes(client, changes, written=None, warnings=None):
    """Write the changes: removals from other holders first, so a moved SPN
    is free before it is added; one modify per account. Removal-only changes
    go first, then those that free an SPN another change adds, then the rest.
    Each value written is appended to ``written``; a modify another writer
    made fail raises SpnConflict.

    Modifies the DC refuses as a constraint violation are taken apart after
    the other changes of the same step (a step of the order above), all
    together: the searches they need are batched, a few per call whatever
    the number of accounts."""
    written = [] if written is None else written
    warnings = [] if warnings is None else warnings
    added = {key for change in changes for key in change.add}

    def step(change):
        return bool(change.add), not added.intersection(change.remove)

    for _step, group in groupby(sorted((c for c in changes if not c.empty), key=step), key=step):
        refused = []
        for change in group:
            if _modify_unless_refused(client, change, spn_modification(add=change.add.values(),
                                                                       delete=change.remove.values())):
                refused.append(change)
            else:
                written.extend(_writes(change, change.remove.values(), change.add.values()))
        if refused:
            _take_apart(client, refused, written, warnings)
    return written


def _take_apart(client, refused, written, warnings):
    """The changes whose modify was a constraint violation: either a
    removal Samba refuses (a legacy duplicate) or an SPN someone registered
    elsewhere since the check. Removals first, then the adds, one modify
    each."""
    _remove_values(client, [change for change in refused if change.remove], written, warnings)
    for change in refused:
        if not change.add:
            continue
        try:
            client.modify(change.account.dn, spn_modification(add=change.add.values()))
        except LdapError as add_error:
            if add_error.result == "constraintViolation":
                raise SpnConflict(_explain_conflict(client, change, add_error), result=add_error.result) from None
            if add_error.result in CONFLICT_RESULTS:
                raise SpnConflict("the SPNs of %s changed while this run wrote them (%s)"
                                  % (change.account.name, add_error.result), result=add_error.result) from None
            raise
        written.extend(_writes(change, (), change.add.values()))


def _modify_unless_refused(client, change, modification):
    """Send one change's modify. Returns None when written, the DC's error
    when it refused the modify as a constraint violation (the caller takes
    the change apart); a value changed meanwhile raises SpnConflict."""
    try:
        client.modify(change.account.dn, modification)
        return None
    except LdapError as error:
        if error.result in ("noSuchAttribute", "attributeOrValueExists"):
            raise SpnConflict("the SPNs of %s changed while this run wrote them (%s)"
                              % (change.account.name, error.result), result=error.result) from None
        if error.result != "constraintViolation":
            raise
        return error


def _writes(change, removed, added):
    return ([Write(change.account, "remove", spn) for spn in sorted(removed)]
            + [Write(change.account, "add", spn) for spn in sorted(added)])


def _explain_conflict(client, change, error):
    holders = find_spn_holders(client, list(change.add.values()))[0]
    taken = ["%s is now held by %s" % (spn, ", ".join(h.name for h in holders[key]))
             for key, spn in sorted(change.add.items()) if holders.get(key)]
    if taken:
        return "SPN conflict on %s: %s (another change registered it after this run checked)" % (
            change.account.name, "; ".join(taken))
    return ("the DC refused to add %s to %s as a duplicate (%s), but no other holder can be seen from this connection: "
            "another writer may have taken it and let it go again, or it is held in a domain or by an object this "
            "account cannot search" % (", ".join(sorted(change.add.values())), change.account.name, error))


def _remove_values(client, changes, written, warnings):
    """Delete each change's values on their own; those the DC refuses
    because another account holds the same value (a legacy duplicate:
    Samba refuses what Windows allows) go by a guarded replace with the
    values read again, so only what the change removes goes away. The
    fallback runs only for values that really are duplicated: one search
    for the holders of all the refused values."""
    refused = []
    for change in changes:
        error = _modify_unless_refused(client, change, spn_modification(delete=change.remove.values()))
        if error:
            refused.append((change, error))
        else:
            written.extend(_writes(change, change.remove.values(), ()))
    if not refused:
        return
    holders = find_spn_holders(client, [spn for change, _error in refused for spn in change.remove.values()])[0]
    duplicates, moving = [], None
    for change, error in refused:
        if any({h.sid == change.account.sid for h in holders.get(key, [])} == {True, False} for key in change.remove):
            duplicates.append(change)
        elif moving is None:
            # Not a legacy duplicate (any more): another writer is moving the value; plan again.
            moving = SpnConflict("the DC refused to remove %s from %s (%s) while another writer was moving it"
                                 % (", ".join(sorted(change.remove.values())), change.account.name, error),
                                 result=error.result)
    _replace_without(client, duplicates, written, warnings)
    if moving is not None:
        raise moving


_GUARDED_ATTRIBUTES = [_ATTRIBUTE, GUARD_ATTRIBUTE, REPLICATION_METADATA]


def _read_spn_entry(client, dn):
    entries = client.search(dn, "(objectClass=*)", _GUARDED_ATTRIBUTES, scope="base", paged=False)
    if not entries:
        raise LdapError("%s disappeared while its SPNs were being changed" % dn)
    return entries[0]


def _replace_without(client, changes, written, warnings):
    """servicePrincipalName of each change's account replaced by its values
    read again minus the change's, with the guard token swapped in the same
    modify (guarded_replaces: the reads batched). Samba checks every value a
    modify names against the other accounts, so a legacy duplicate can only
    go by a replace; a writer that does not swap the guard (SQL Server
    registering an SPN, another run's value-level write) is seen afterwards
    in the attribute's version, and reported."""
    if not changes:
        return

    def plan(values, change):
        remaining = tuple(value for value in values if spn_key(value) not in change.remove)
        return remaining if len(remaining) < len(values) else None

    replaces = [GuardedReplace(change.account.dn, lambda values, c=change: plan(values, c),
                               lambda dn=change.account.dn: _read_spn_entry(client, dn),
                               "removing the duplicate SPNs %s from %s" % (", ".join(sorted(change.remove.values())),
                                                                           change.account.name))
                for change in changes]
    done = []
    try:
        guarded_replaces(client, _ATTRIBUTE, replaces, lambda dns: read_by_dn(client, dns, _GUARDED_ATTRIBUTES),
                         text=True, results=done)
    finally:
        for change, result in zip(changes, done):
            outcome = result.outcome
            if not outcome.written:
                continue
            written.extend(_writes(change, [value for value in outcome.current if value not in outcome.planned], ()))
            if result.lost:
                warnings.append("%s: servicePrincipalName was also changed by another writer (SQL Server registering "
                                "its SPNs, or another run) while this run replaced it to remove a legacy duplicate; an "
                                "SPN added just before the replace is lost: it now holds %s"
                                % (change.account.name, ", ".join(sorted(result.values_after)) or "nothing"))


def validate_spn_register(params):
    return dict(registrations=prepare_registrations(params))


def read_and_plan(client, registrations, references, move_sources=None):
    """Resolve the accounts, look up every holder of the requested SPNs and
    plan. With ``move_sources`` ({spn_key: holder SIDs seen by the first
    plan}), a re-plan refuses to take an SPN from a holder that got it since:
    another run wants it there."""
    accounts = resolve_accounts(client, references)
    requested = [spn for r in registrations if r.state != "absent" for spn in r.spns]
    holders = find_spn_holders(client, requested)[0] if requested else {}
    if move_sources is not None:
        for registration in registrations:
            if registration.state == "absent":
                continue
            target = accounts[registration.reference]
            for spn in registration.spns:
                newcomers = [h for h in holders.get(spn_key(spn), [])
                             if h.sid != target.sid and h.sid not in move_sources.get(spn_key(spn), ())]
                if newcomers:
                    raise SpnError("%s was registered on %s by another writer while this run was putting it on %s; "
                                   "not taken from there (two runs want it on different accounts: one of them has "
                                   "the wrong inventory)" % (spn, ", ".join(h.name for h in newcomers), target.name))
    return accounts, holders, plan_changes(registrations, accounts, holders)


def spn_register(client, request, check_mode=False):
    """spn_register's operation: plan, write unless in check mode, report
    what was written (or in check mode, would be)."""
    registrations = request["registrations"]
    references = sorted({r.reference for r in registrations}, key=lambda r: (r.text.lower(), r.kind))
    _accounts, holders, changes = read_and_plan(client, registrations, references)
    if check_mode:
        return _report(changes)

    move_sources = {key: {h.sid for h in found} for key, found in holders.items()}
    plans, written, warnings = [changes], [], []
    unchanged, refused = 0, None
    for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
        try:
            apply_changes(client, changes, written, warnings)
            break
        except SpnConflict as conflict:
            back_off(attempt)
            refused = conflict
        except (LdapError, SpnError, AccountError) as error:
            raise with_writes(error, written) from None
        try:
            _accounts, _holders, changes = read_and_plan(client, registrations, references, move_sources)
        except (LdapError, SpnError, AccountError) as error:
            raise with_writes(error, written) from None
        unchanged = unchanged + 1 if _signature(changes) == _signature(plans[-1]) else 0
        if unchanged >= _SAME_PLAN_LIMIT:
            # The same plan refused again and again: the DC refuses it for another reason than a
            # concurrent writer (its uniqueness check sees a holder this run cannot see, a
            # validated write): say so instead of retrying twenty times.
            raise with_writes(refused, written) from None
        plans.append(changes)
    else:
        if any(not change.empty for change in changes):
            raise with_writes(LdapError("the SPNs kept changing under concurrent writers; gave up after %d attempts"
                                        % MAX_WRITE_ATTEMPTS), written)
    result = _report(changes_written(plans, written))
    if warnings:
        result["warnings"] = warnings
    return result


def changes_written(plans, written):
    """AccountChanges of what was really written, in the first plan's order,
    with the accounts as first read (for the diff's before). An SPN counts
    as moved from the holders a plan meant to take it from and this run
    removed it from."""
    changes = {change.account.sid: AccountChange(change.account) for change in plans[0]}
    for write in written:
        change = changes.setdefault(write.account.sid, AccountChange(write.account))
        (change.add if write.action == "add" else change.remove)[spn_key(write.spn)] = write.spn
    removed_from = {}
    for write in written:
        if write.action == "remove":
            removed_from.setdefault(spn_key(write.spn), set()).add(write.account.name)
    for plan in plans:
        for planned in plan:
            for spn, names in planned.moved_from.items():
                sources = sorted((set(names) & removed_from.get(spn_key(spn), set())) - {planned.account.name},
                                 key=str.lower)
                if sources:
                    change = changes.setdefault(planned.account.sid, AccountChange(planned.account))
                    change.moved_from.setdefault(spn, sources)
    return [change for change in changes.values() if not change.empty or change.moved_from]


def _signature(changes):
    return sorted((change.account.sid, sorted(change.add), sorted(change.remove)) for change in changes
                  if not change.empty)


def _report(changes):
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
