# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one guarded write: change an attribute read earlier only if nobody
changed it since, re-planning from a fresh read when somebody did.

An LDAP modify applies all its changes or none. Deleting the value read
and adding the new one in one modify therefore writes only if the value
read is still there; the DC refuses it otherwise (noSuchAttribute), and the
caller's plan runs again on what is stored now. Concurrent runs then merge
their changes instead of overwriting each other's.

Where the DC cannot delete the value itself (Samba refuses MOD_DELETE of
nTSecurityDescriptor and has no assertion control), the same modify
instead replaces the value and swaps a guard token in GUARD_ATTRIBUTE: it
deletes every token it read and adds a new one. Every guarded writer does
so, so of two writers that read the same tokens only the first succeeds.
Writers that do not take part (an administrator in ADUC) cannot be stopped
that way: after such a write the attribute's replication metadata (its
version, which every write raises by one) is read again, and a version
that rose by more than this run's one write is reported as a warning
naming the object.

All writes of a run go to the one DC it is connected to: writers on
different DCs meet replication's last-writer-wins, as any AD tool does.
"""
from __future__ import annotations

import binascii
import os
import random
import struct
import time
from dataclasses import dataclass

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import WRITTEN_BEFORE_REFUSAL, SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError, normalize_dn

# A multi-valued string attribute of the class top: present on users,
# computers, gMSAs and OUs alike, used by nothing else in AD (it names
# property-page extensions for the MMC, which ignores values it does not
# know). Only values starting with GUARD_PREFIX are the collection's.
GUARD_ATTRIBUTE = "extensionName"
GUARD_PREFIX = "sqlauth.kerberos:guard:"
# The DC's answers to a modify whose condition no longer holds.
CONFLICT_RESULTS = ("noSuchAttribute", "attributeOrValueExists", "constraintViolation")
MAX_WRITE_ATTEMPTS = 20
REPLICATION_METADATA = "replPropertyMetaData"
# Attribute IDs (attributeID in the prefix map every DC shares) whose
# version the writes below watch.
ATTRIBUTE_IDS = {"ntsecuritydescriptor": 0x00020119, "serviceprincipalname": 0x00090303,
                 "useraccountcontrol": 0x00090008}


class WriteConflict(LdapError):
    """A write that kept meeting other writers, or whose condition failed
    without anybody having changed the value."""


@dataclass
class GuardedOutcome:
    """What the guarded write did: ``written`` is True only when this run's
    modify took effect; ``attempts`` counts the modifies sent."""

    written: bool
    attempts: int
    current: object      # the state the last plan started from
    planned: object      # what was written (or would have been), None when nothing was needed


def back_off(attempt):
    # Random, growing pauses keep concurrent runs from colliding in lockstep.
    time.sleep(random.uniform(0.02, 0.1) * attempt)


def guarded_write(client, dn, current, plan, modification, read, what, controls=None):
    """Write ``plan(current)`` to ``dn`` with ``modification(current,
    planned)``, a modify that fails when ``current`` is no longer stored;
    on such a failure pause, ``read()`` the state again, plan again and
    retry. ``plan`` returns None when nothing needs writing. Any other error
    (refused access, lost connection) is raised as it is: nothing was
    written by this call, or (connection lost) the error says it may have
    been."""
    attempts = 0
    for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
        planned = plan(current)
        if planned is None:
            return GuardedOutcome(False, attempts, current, None)
        attempts = attempt
        try:
            client.modify(dn, modification(current, planned), controls=controls)
            return GuardedOutcome(True, attempts, current, planned)
        except LdapError as error:
            if error.result not in CONFLICT_RESULTS:
                raise
            # Pause before reading, not after: the plan must start from the freshest state.
            back_off(attempt)
            fresh = read()
            if fresh == current:
                # Nobody else wrote: the DC refused the change itself.
                raise WriteConflict("%s was refused by the DC although nobody changed it meanwhile (%s); nothing "
                                    "written" % (what, error), result=error.result) from None
            current = fresh
    if plan(current) is None:
        return GuardedOutcome(False, attempts, current, None)
    raise WriteConflict("%s: the value kept changing under concurrent writers; gave up after %d attempts, nothing "
                        "written" % (what, MAX_WRITE_ATTEMPTS))


# -- the guard token (DCs that cannot delete the value itself) ----------------

def guard_tokens(entry):
    """The collection's guard tokens on an entry, as a sorted tuple."""
    return tuple(sorted(value for value in entry.values(GUARD_ATTRIBUTE) if value.startswith(GUARD_PREFIX)))


def new_guard_token():
    return GUARD_PREFIX + binascii.hexlify(os.urandom(8)).decode("ascii")


def guard_swap(tokens, token):
    """The guard part of a modify: delete every token read, add a new one.
    Fails (noSuchAttribute) if another guarded writer swapped them since.
    Never called without tokens (guarded_replaces ensures one): an empty delete
    would remove every value of the attribute."""
    if not tokens:
        raise ValueError("a guard swap needs the tokens read")
    return [("MODIFY_DELETE", list(tokens)), ("MODIFY_ADD", [token])]


def ensure_guard(client, dn, entry):
    """Give an object its first guard token (add_guard) unless ``entry``
    shows one. Returns True when one was added and the entry must be read
    again."""
    if guard_tokens(entry):
        return False
    add_guard(client, dn)
    return True


def add_guard(client, dn):
    """Add a guard token to an object that had none when read (a plain add:
    tokens only accumulate until the next guarded write removes them all;
    another writer's token added meanwhile is no error)."""
    try:
        client.modify(dn, {GUARD_ATTRIBUTE: [("MODIFY_ADD", [new_guard_token()])]})
    except LdapError as error:
        if error.result not in CONFLICT_RESULTS:
            raise LdapError("%s; the collection keeps a guard value in %s of every object whose security descriptor "
                            "it writes, and needs the right to write it" % (error, GUARD_ATTRIBUTE),
                            result=error.result) from None


def foreign_write_before_ours(version_read, version_now, value_written, value_now):
    """Whether a writer outside the collection may have written between this
    run's read and its guarded write (so that its change is overwritten),
    from the attribute's replication version, which every write raises by
    one. One other write that left a value different from ours came after
    ours: nothing was lost. Unknown versions: only a value changed since."""
    if version_read is None or version_now is None:
        return value_now != value_written
    others = version_now - (version_read + 1)
    return others > 1 or (others == 1 and value_now == value_written)


@dataclass(frozen=True)
class GuardedState:
    """An attribute's values (a tuple), the guard tokens and the attribute's
    replication version, as read."""

    values: tuple
    tokens: tuple
    version: int | None


@dataclass
class GuardedReplace:
    """One object of guarded_replaces: ``plan(values read)`` returns the new
    values (a tuple), or None when nothing needs writing; ``read_entry()``
    reads the object alone (after a conflict), with the attribute,
    GUARD_ATTRIBUTE and REPLICATION_METADATA; ``still_holds(values now)``
    tells whether this run's change is still in place when other guarded
    writers followed it."""

    dn: str
    plan: object
    read_entry: object
    what: str
    still_holds: object = None


@dataclass
class ReplaceResult:
    """What guarded_replaces did to one object: ``outcome`` (current and
    planned as value tuples); for a write, ``lost`` (a writer outside the
    collection may have written between the read and the write: its change
    is overwritten, the caller warns) and ``values_after``, the attribute
    as read after all the writes."""

    replace: GuardedReplace
    outcome: GuardedOutcome
    written_over: GuardedState = None   # the state the write was conditional on
    lost: bool = False
    values_after: tuple = None


def guarded_replace(client, dn, attribute, read_entry, plan, what, still_holds=None, controls=None, text=False):
    """guarded_replaces for one object (``read_entry()`` reads it). Returns
    (GuardedOutcome with values for current and planned, lost)."""
    replace = GuardedReplace(dn, plan, read_entry, what, still_holds)
    result = guarded_replaces(client, attribute, [replace], lambda dns: {normalize_dn(dn): read_entry()},
                              controls=controls, text=text)[0]
    return result.outcome, result.lost


def guarded_replaces(client, attribute, replaces, read_entries, controls=None, text=False, results=None):
    """Replace ``attribute`` of each object of ``replaces`` (GuardedReplace)
    with what its plan returns for the values read, swapping the object's
    guard token in the same modify: for DCs that cannot delete the value
    itself (Samba's nTSecurityDescriptor, a legacy duplicate SPN). Values
    are bytes, or str with ``text``.

    The reads are batched, so that a call costs a few searches whatever the
    number of objects: ``read_entries(dns)`` returns {normalised dn: entry}
    with the attribute, GUARD_ATTRIBUTE and REPLICATION_METADATA (read_by_dn).
    1. One read of every object: the state each write is conditional on.
    2. A first guard token on each object to write that has none, then one
       read of those again: the tokens read, not the add, are the condition
       (two writers that each added a token to an object without one must
       not both write).
    3. Each write in turn, conditional on its object's state as read (or as
       this call's previous write of the same object left it); a conflict
       reads that object alone again and plans again (guarded_write).
    4. One read of the objects written: the replication version tells
       whether a writer outside the collection wrote between the read and
       the write (``lost``).

    Appends a ReplaceResult per object to ``results`` (returned) as each
    write is done: after an error it holds the writes done before it, with
    ``lost`` checked when the read of step 4 can still be made. The error
    then also names the guard tokens this call added to objects it did not
    write."""
    results = [] if results is None else results
    first = len(results)

    def state_of(entry):
        values = entry.values(attribute) if text else [bytes(value) for value in entry.raw.get(attribute.lower(), [])]
        return GuardedState(tuple(sorted(values)), guard_tokens(entry), attribute_version(entry, attribute))

    states = {}      # normalised dn: the state the next write of the object is conditional on
    seeded, seeded_keys, tokens = [], set(), {}
    checked = False

    def read_states(dns):
        entries, wanted = read_entries(dns), {normalize_dn(dn) for dn in dns}
        for replace in replaces:
            key = normalize_dn(replace.dn)
            if key in wanted:
                # Not found by the batch (deleted or moved since the plan): its own read says so.
                states[key] = state_of(entries[key] if key in entries else replace.read_entry())

    try:
        read_states(list(dict.fromkeys(replace.dn for replace in replaces)))
        for replace in replaces:
            key = normalize_dn(replace.dn)
            if not states[key].tokens and key not in seeded_keys and replace.plan(states[key].values) is not None:
                add_guard(client, replace.dn)
                seeded.append(replace.dn)
                seeded_keys.add(key)
        if seeded:
            read_states(seeded)
        for replace in replaces:
            key = normalize_dn(replace.dn)

            def read(replace=replace):
                return read_guarded(client, replace.dn, replace.read_entry, state_of, seeded)

            current = states[key]
            if not current.tokens and replace.plan(current.values) is not None:
                current = read()  # planned nothing at step 2 but something now: never write without a token

            def modification(current, planned, key=key):
                tokens[key] = new_guard_token()
                return {attribute: [("MODIFY_REPLACE", list(planned))], GUARD_ATTRIBUTE: guard_swap(current.tokens,
                                                                                                    tokens[key])}

            outcome = guarded_write(client, replace.dn, current, lambda state, r=replace: r.plan(state.values),
                                    modification, read, replace.what, controls)
            written_over = outcome.current
            outcome.current = written_over.values
            results.append(ReplaceResult(replace, outcome, written_over=written_over))
            states[key] = written_over if not outcome.written else GuardedState(
                tuple(sorted(outcome.planned)), (tokens[key],),
                None if written_over.version is None else written_over.version + 1)
        checked = True
        _check_written([result for result in results[first:] if result.outcome.written], read_entries, state_of,
                       tokens)
    except SqlAuthError as error:
        written = [result for result in results[first:] if result.outcome.written]
        if not checked:
            try:
                _check_written(written, read_entries, state_of, tokens)
            except SqlAuthError:
                pass  # the first error is the one to report; the writes done are named all the same
        _say_guards_written(error, seeded, written)
        raise
    return results


def _check_written(written, read_entries, state_of, tokens):
    """Step 4 of guarded_replaces: ``lost`` and ``values_after`` of each
    write, from one batched read."""
    if not written:
        return
    entries = read_entries(list(dict.fromkeys(result.replace.dn for result in written)))
    last = {normalize_dn(result.replace.dn): result for result in written}
    for result in written:
        key = normalize_dn(result.replace.dn)
        after = state_of(entries[key] if key in entries else result.replace.read_entry())
        result.values_after = after.values
        if after.tokens == (tokens[key],) and last[key] is result:
            # No guarded writer since ours: only our one write may have raised the version.
            result.lost = foreign_write_before_ours(result.written_over.version, after.version,
                                                    tuple(sorted(result.outcome.planned)), after.values)
        else:
            # Other guarded writers (or this call's next write of the object) followed and planned from ours.
            result.lost = result.replace.still_holds is not None and not result.replace.still_holds(after.values)


def _say_guards_written(error, seeded, written):
    """Name in ``error`` the guard tokens this call added to objects it
    then did not write (a failed run says what it wrote; the caller names
    the writes)."""
    done = {normalize_dn(result.replace.dn) for result in written}
    left = [dn for dn in seeded if normalize_dn(dn) not in done]
    if not left:
        return
    if len(left) == 1:
        note = "a guard value in %s of %s (it only makes later writes conditional)" % (GUARD_ATTRIBUTE, left[0])
    else:
        note = "a guard value in %s of each of %d objects: %s (they only make later writes conditional)" % (
            GUARD_ATTRIBUTE, len(left), "; ".join(left))
    error.args = ("%s; %s: %s" % (error, WRITTEN_BEFORE_REFUSAL, note),) + error.args[1:]


def read_guarded(client, dn, read_entry, state_of, seeded=None):
    """Read an object (``read_entry() -> entry``) and make sure it carries a
    guard token, reading it again after adding one (recorded in ``seeded``).
    Returns ``state_of(entry)``, whose tokens are never empty."""
    entry = read_entry()
    if ensure_guard(client, dn, entry):
        if seeded is not None:
            seeded.append(dn)
        entry = read_entry()
    return state_of(entry)


def attribute_version(entry, attribute):
    """The replication version of ``attribute`` on an entry (every write
    raises it by one), from replPropertyMetaData; None when unreadable."""
    blob = entry.binary(REPLICATION_METADATA)
    wanted = ATTRIBUTE_IDS[attribute.lower()]
    # PROPERTY_META_DATA_VECTOR version 1: version, reserved, count, reserved,
    # then per attribute 48 bytes: attid, version, time, invocation id, USNs.
    if not blob or len(blob) < 16 or struct.unpack_from("<I", blob, 0)[0] != 1:
        return None
    count = struct.unpack_from("<I", blob, 8)[0]
    for offset in range(16, min(len(blob), 16 + 48 * count), 48):
        if offset + 8 > len(blob):
            return None
        attid, version = struct.unpack_from("<II", blob, offset)
        if attid == wanted:
            return version
    return None
