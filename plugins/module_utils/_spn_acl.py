# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spn_acl: the rights SQL Server needs to register its own SPNs.

SQL Server tries at start-up to register its SPNs on its service account
and, when refused, logs the failure and runs without them. Granting the
account (SELF) read/write servicePrincipalName and the validated SPN write on
its own object, or once on an OU for every object of a class below it, lets
it keep its SPNs right itself.

Only the DACL is read and written (SD_FLAGS control). Rights already granted,
also by an inherited or broader ACE, count as granted; new ACEs go in
canonical order. The write is guarded (_guarded_write): delete-old-value +
add-new-value in one modify, so a concurrent change makes it fail and be
planned again instead of being overwritten. Samba does not implement
deleting a value of nTSecurityDescriptor; there, the same modify replaces
the descriptor and swaps the collection's guard token, and a write by
someone outside the collection in between is reported. Every target is
planned before the first write; the reads around the writes are batched
(guarded_replaces), a few searches per call whatever the number of DACLs.
"""
from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    AccountError,
    normalize_dn,
    parse_account_reference,
    resolve_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError, with_writes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import (
    GUARD_ATTRIBUTE,
    REPLICATION_METADATA,
    GuardedReplace,
    guarded_replaces,
    guarded_write,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError, read_by_dn
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    ACCESS_ALLOWED_OBJECT_ACE_TYPE,
    ADS_RIGHT_DS_READ_PROP,
    ADS_RIGHT_DS_SELF,
    ADS_RIGHT_DS_WRITE_PROP,
    INHERIT_ONLY_ACE,
    INHERITED_ACE,
    SELF_SID,
    SERVICE_PRINCIPAL_NAME_GUID,
    Ace,
    SecurityDescriptor,
    SecurityDescriptorError,
    is_granted,
    with_aces_added,
    with_aces_removed,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import (
    CLASS_SCHEMA_GUIDS,
    unreadable_descriptor,
)

CONTAINER_INHERIT_ACE = 0x02
READ_WRITE_PROPERTY = ADS_RIGHT_DS_READ_PROP | ADS_RIGHT_DS_WRITE_PROP
OBJECT_CLASSES = {"user": "user", "computer": "computer", "gmsa": "msds-groupmanagedserviceaccount",
                  "msa": "msds-managedserviceaccount"}
TARGET_OPTIONS = dict(
    account=dict(type="str"),
    organizational_unit=dict(type="str"),
    applies_to=dict(type="list", elements="str", choices=list(OBJECT_CLASSES)),
    trustee=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"]),
)
# What organizational_unit may name: the containers of accounts. The domain
# root too, but only when asked (allow_domain_root): it reaches every account.
_UNIT_CLASSES = ("organizationalunit", "container")
_DOMAIN_ROOT_CLASS = "domaindns"


@dataclass(frozen=True)
class AclTarget:
    """One object whose DACL to change: an account (for itself) or an OU
    (for the classes of objects below it)."""

    text: str
    account: object = None          # AccountReference
    organizational_unit: str = None
    classes: tuple = ()
    trustee: object = None          # AccountReference, or None for SELF
    state: str = "present"


# A right as (access mask, the attribute or validated write it is for, or
# None for the object itself). What spn_acl grants: read/write
# servicePrincipalName and the validated SPN write.
SPN_WRITE_RIGHTS = ((READ_WRITE_PROPERTY, SERVICE_PRINCIPAL_NAME_GUID), (ADS_RIGHT_DS_SELF, SERVICE_PRINCIPAL_NAME_GUID))


def grant_aces(trustee_sid, rights, class_guid=None):
    """One ACE per right; with a class, the inheritable form an OU carries
    for that class of objects below it."""
    flags = CONTAINER_INHERIT_ACE | INHERIT_ONLY_ACE if class_guid else 0
    return [Ace(ACCESS_ALLOWED_OBJECT_ACE_TYPE, flags, mask, trustee_sid, object_type, class_guid)
            for mask, object_type in rights]


def spn_write_aces(trustee_sid, class_guid=None):
    """The two SPN ACEs (SPN_WRITE_RIGHTS)."""
    return grant_aces(trustee_sid, SPN_WRITE_RIGHTS, class_guid)


def inherited_by(dacl, class_guid):
    """The ACEs a new child object of the class would inherit from ``dacl``."""
    return [Ace(ace.ace_type, INHERITED_ACE, ace.mask, ace.sid, ace.object_type, None)
            for ace in dacl or []
            if ace.flags & CONTAINER_INHERIT_ACE and ace.inherited_object_type in (None, class_guid)]


def rights_granted(dacl, trustee_sid, class_guid=None, for_children=False, rights=SPN_WRITE_RIGHTS):
    """Whether the trustee has all the rights: on the object itself, or (for
    an OU) on every future child of the class, whichever ACEs grant them."""
    effective = inherited_by(dacl, class_guid) if for_children else dacl
    return all(is_granted(effective, [trustee_sid], mask, object_type, class_guid) for mask, object_type in rights)


def prepare_targets(params):
    """Validate the module's input without I/O."""
    items = params.get("targets")
    if items is None:
        items = [{key: params.get(key) for key in TARGET_OPTIONS}]
    elif not items:
        raise AccountError("targets is empty: list at least one target (an item with account or "
                           "organizational_unit), or use account or organizational_unit instead")
    targets = []
    for item in items:
        state = item.get("state") or params.get("state") or "present"
        trustee_text = item.get("trustee") or params.get("trustee") or "SELF"
        trustee = None if trustee_text.upper() in ("SELF", "NT AUTHORITY\\SELF", SELF_SID) else \
            parse_account_reference(trustee_text)
        if bool(item.get("account")) == bool(item.get("organizational_unit")):
            raise AccountError("each target needs exactly one of account and organizational_unit")
        if item.get("account"):
            if item.get("applies_to"):
                raise AccountError("applies_to is for organizational_unit targets; %r is an account" % item["account"])
            targets.append(AclTarget(item["account"], account=parse_account_reference(item["account"]),
                                     trustee=trustee, state=state))
            continue
        unit = item["organizational_unit"]
        if "=" not in unit:
            raise AccountError("organizational_unit %r is not a distinguished name" % unit)
        classes = tuple(item.get("applies_to") or params.get("applies_to") or ["user", "gmsa"])
        targets.append(AclTarget(unit, organizational_unit=unit, classes=classes, trustee=trustee, state=state))
    return targets


def read_units(client, units, allow_domain_root=False):
    """{normalised dn: (dn, descriptor bytes)} for the OUs, in batched searches;
    raises AccountError naming every DN that is not an OU or container
    (or the domain root, unless allowed)."""
    found, refused = {}, []
    for key, entry in read_by_dn(client, units, ["nTSecurityDescriptor", "objectClass"],
                                 client.dacl_controls()).items():
        refusal = unit_refusal(entry.dn, entry.values("objectClass"), allow_domain_root)
        if refusal:
            refused.append(refusal)
        found[key] = (entry.dn, entry.binary("nTSecurityDescriptor"))
    missing = [unit for unit in units if normalize_dn(unit) not in found]
    problems = refused + (["organizational unit not found: %s" % "; ".join(missing)] if missing else [])
    if problems:
        raise AccountError("; ".join(problems) + "; nothing written")
    return found


def unit_refusal(dn, object_classes, allow_domain_root):
    """Why ``dn`` may not take inheritable SPN-write ACEs, or None."""
    classes = [c.lower() for c in object_classes]
    if any(c in _UNIT_CLASSES for c in classes):
        return None
    if _DOMAIN_ROOT_CLASS in classes:
        return None if allow_domain_root else (
            "%s is the domain root: rights granted there reach every account of the domain; name the OU of the "
            "service accounts, or set allow_domain_root=true if that is really meant" % dn)
    return ("%s is a %s, not an organizational unit or container: use account for a single account, or name the "
            "OU that holds it" % (dn, object_classes[-1] if object_classes else "object of unknown class"))


def plan_target(target, descriptor_bytes, trustee_sid, object_class_guid=None, rights=SPN_WRITE_RIGHTS):
    """(new descriptor or None, added ACEs, removed ACEs, still granted) for one target."""
    descriptor = SecurityDescriptor.from_bytes(descriptor_bytes)
    class_guids = [CLASS_SCHEMA_GUIDS[OBJECT_CLASSES[name]] for name in target.classes] or [object_class_guid]
    for_children = target.organizational_unit is not None
    wanted = [ace for class_guid in class_guids
              for ace in grant_aces(trustee_sid, rights, class_guid if for_children else None)]
    if target.state == "present":
        # Per right: only those not granted already, by whatever ACE (a computer has SELF's validated write).
        added = [ace for class_guid in class_guids for right in rights
                 if not rights_granted(descriptor.dacl, trustee_sid, class_guid, for_children, (right,))
                 for ace in grant_aces(trustee_sid, (right,), class_guid if for_children else None)
                 if ace not in (descriptor.dacl or [])]
        return (with_aces_added(descriptor, added) if added else None), added, [], True
    removed = [ace for ace in wanted if ace in (descriptor.dacl or [])]
    after = with_aces_removed(descriptor, removed) if removed else descriptor
    still = any(rights_granted(after.dacl, trustee_sid, class_guid, for_children, rights) for class_guid in class_guids)
    return (after if removed else None), [], removed, still


_GUARDED_ATTRIBUTES = ["nTSecurityDescriptor", GUARD_ATTRIBUTE, REPLICATION_METADATA]


@dataclass(frozen=True)
class DescriptorWrite:
    """One DACL to write: ``recompute(descriptor bytes)`` returns the new
    descriptor, or None when nothing needs writing; ``old_bytes`` is the
    descriptor it was planned on."""

    dn: str
    old_bytes: bytes
    recompute: object
    name: str

    @property
    def what(self):
        return "writing the DACL of %s" % self.name

    def plan(self, current_bytes):
        new = self.recompute(current_bytes)
        return new.to_bytes() if new is not None else None


def _read_entry(client, dn):
    entries = client.search(dn, "(objectClass=*)", _GUARDED_ATTRIBUTES, scope="base", paged=False,
                            controls=client.dacl_controls())
    if not entries:
        raise LdapError("%s disappeared while its DACL was being changed" % dn)
    return entries[0]


def write_descriptor(client, dn, old_bytes, recompute, name):
    """write_descriptors for one DACL: (GuardedOutcome, warnings)."""
    return write_descriptors(client, [DescriptorWrite(dn, old_bytes, recompute, name)])[0]


def write_descriptors(client, writes, results=None):
    """Write each DACL (DescriptorWrite) in turn, guarded against concurrent
    writers, reading the objects in a few batched searches whatever their
    number. Appends (GuardedOutcome, warnings) per write to ``results``
    (returned) as each is done: after an error it holds the writes done."""
    results = [] if results is None else results
    controls = client.dacl_controls()
    pending = list(writes)
    written = {}  # normalised dn: the descriptor this call wrote last
    while pending and not client.descriptor_delete_refused:
        write = pending[0]
        try:
            # The descriptor as planned (or as this call last wrote it) is the condition: no read
            # unless another writer changed it.
            outcome = guarded_write(
                client, write.dn, written.get(normalize_dn(write.dn), write.old_bytes), write.plan,
                lambda current, new: {"nTSecurityDescriptor": [("MODIFY_DELETE", [current]), ("MODIFY_ADD", [new])]},
                lambda dn=write.dn: _read_entry(client, dn).binary("nTSecurityDescriptor"), write.what, controls)
        except LdapError as error:
            if error.result != "unwillingToPerform":
                raise
            # This DC cannot delete a descriptor value (Samba): the guard token serves.
            client.descriptor_delete_refused = True
            break
        results.append((outcome, []))
        if outcome.written:
            written[normalize_dn(write.dn)] = outcome.planned
        pending.pop(0)
    if not pending:
        return results

    def plan_values(values, write):
        new = write.plan(values[0])
        return (new,) if new is not None else None

    replaces = [GuardedReplace(write.dn, lambda values, w=write: plan_values(values, w),
                               lambda dn=write.dn: _read_entry(client, dn), write.what,
                               still_holds=lambda values, w=write: w.recompute(values[0]) is None)
                for write in pending]
    done = []
    try:
        guarded_replaces(client, "nTSecurityDescriptor", replaces,
                         lambda dns: read_by_dn(client, dns, _GUARDED_ATTRIBUTES, controls), controls=controls,
                         results=done)
    finally:
        for write, result in zip(pending, done):
            outcome = result.outcome
            outcome.current = outcome.current[0]
            outcome.planned = outcome.planned[0] if outcome.planned else None
            results.append((outcome, [] if not result.lost else [
                "%s: its DACL was also changed by a writer outside this collection while this run wrote it; a change "
                "made between this run's read and its write is overwritten: check the DACL of %s"
                % (write.name, write.dn)]))
    return results


@dataclass(eq=False)
class _TargetPlan:
    """A target as planned: where, on which descriptor, and what changes."""

    target: AclTarget
    dn: str
    name: str
    trustee_name: str
    descriptor_bytes: bytes
    replan: object
    new_descriptor: object = None
    added: list = None
    removed: list = None
    still_granted: bool = False

    def plan(self, descriptor_bytes):
        self.descriptor_bytes = descriptor_bytes
        self.new_descriptor, self.added, self.removed, self.still_granted = self.replan(descriptor_bytes)


def validate_spn_acl(params):
    return dict(targets=prepare_targets(params), allow_domain_root=bool(params.get("allow_domain_root")))


def spn_acl(client, request, check_mode=False):
    """spn_acl's operation; with ``request["rights"]`` (automation_rights)
    other rights than the SPN write. Every target is planned before the
    first write (an unreadable descriptor fails the call with nothing
    written); the DACLs are then written in the targets' order."""
    targets = request["targets"]
    rights = request.get("rights") or SPN_WRITE_RIGHTS
    references = {t.account for t in targets if t.account} | {t.trustee for t in targets if t.trustee}
    accounts = resolve_accounts(client, sorted(references, key=lambda r: (r.text.lower(), r.kind)),
                                with_security_descriptor=True) if references else {}
    units = read_units(client, [t.organizational_unit for t in targets if t.organizational_unit],
                       request.get("allow_domain_root", False)) if any(t.organizational_unit for t in targets) else {}

    plans = []
    for target in targets:
        trustee_sid = accounts[target.trustee].sid if target.trustee else SELF_SID
        trustee_name = accounts[target.trustee].name if target.trustee else "SELF"
        if target.account:
            account = accounts[target.account]
            dn, name, descriptor_bytes = account.dn, account.name, account.security_descriptor
            class_guid = CLASS_SCHEMA_GUIDS.get((account.structural_class or "").lower())
        else:
            dn, descriptor_bytes = units[normalize_dn(target.organizational_unit)]
            name, class_guid = dn, None

        def replan(current, t=target, s=trustee_sid, c=class_guid, n=name, d=dn):
            try:
                return plan_target(t, current, s, c, rights)
            except SecurityDescriptorError as error:
                raise SecurityDescriptorError(unreadable_descriptor(n, d, error)) from None

        plan = _TargetPlan(target, dn, name, trustee_name, descriptor_bytes, replan)
        plan.plan(descriptor_bytes)
        plans.append(plan)

    to_write = [] if check_mode else [plan for plan in plans if plan.new_descriptor is not None]
    outcomes = []
    try:
        write_descriptors(client, [DescriptorWrite(plan.dn, plan.descriptor_bytes, lambda b, p=plan: p.replan(b)[0],
                                                   plan.name) for plan in to_write], outcomes)
    except SqlAuthError as error:
        # The targets before the first DACL not written, as they ended up.
        stop = next((index for index, plan in enumerate(plans) if plan in to_write[len(outcomes):]), len(plans))
        results, warnings, _diff = _report(plans[:stop], rights, dict(zip(map(id, to_write), outcomes)))
        written = ["the DACL of %s" % r["target"] for r in results if r["changed"]]
        raise with_writes(error, written, dict(changed=bool(written), targets=results, warnings=warnings))
    results, warnings, diff = _report(plans, rights, dict(zip(map(id, to_write), outcomes)))
    return dict(changed=any(r["changed"] for r in results), targets=results, warnings=warnings, diff=diff)


def _report(plans, rights, outcomes):
    """The module's targets, warnings and diff, from the plans and the
    outcomes of their writes ({id(plan): (GuardedOutcome, warnings)})."""
    results, warnings, before, after = [], [], {}, {}
    for plan in plans:
        if id(plan) in outcomes:
            outcome, write_warnings = outcomes[id(plan)]
            warnings.extend(write_warnings)
            if outcome.current != plan.descriptor_bytes:
                # Planned again on what another writer left: report what this run did.
                plan.plan(outcome.current)
            if not outcome.written:
                plan.new_descriptor, plan.added, plan.removed = None, [], []
        if plan.target.state == "absent" and plan.still_granted:
            warnings.append("%s: %s still has %s through other ACEs (inherited or broader) that "
                            "this module does not remove" % (plan.name, plan.trustee_name, "the SPN rights" if rights
                                                             is SPN_WRITE_RIGHTS else "the rights"))
        if plan.new_descriptor is not None:
            before[plan.name] = [ace.to_sddl() for ace in SecurityDescriptor.from_bytes(plan.descriptor_bytes).dacl
                                 or []]
            after[plan.name] = [ace.to_sddl() for ace in plan.new_descriptor.dacl or []]
        results.append(dict(target=plan.name, dn=plan.dn, trustee=plan.trustee_name, state=plan.target.state,
                            changed=plan.new_descriptor is not None,
                            added_aces=[ace.to_sddl() for ace in plan.added],
                            removed_aces=[ace.to_sddl() for ace in plan.removed]))
    return results, warnings, dict(before=before, after=after)
