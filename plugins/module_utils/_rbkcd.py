# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rbkcd_delegate: resource-based Kerberos constrained delegation (RBKCD).

A target account (the resource, e.g. a back-end SQL Server's service account)
lists in msDS-AllowedToActOnBehalfOfOtherIdentity the accounts allowed to
impersonate users to it (S4U2Proxy). The value is a binary security
descriptor: owner BUILTIN\\Administrators and a DACL of one ACCESS_ALLOWED
ACE with mask 0xF01FF per principal, the form Windows' own tools and
``samba-tool delegation add-principal`` write.

Reading and building the descriptor and planning a change are pure. The I/O
resolves every name in one batched search, reads every target's value in
another, and writes one modify per changed target through the guarded write
(_guarded_write): delete-old-value plus add-new-value, so that a concurrent
writer makes the modify fail instead of being overwritten; the value is then
read again and the change planned anew.

``state=exact`` never empties the attribute by accident: every principal
must resolve, and an empty list needs ``remove_all``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import UF_NOT_DELEGATED
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    AccountError,
    account_from_entry,
    find_accounts,
    parse_account_reference,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError, with_writes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import guarded_write
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    LdapError,
    batched_or_filters,
    escape_filter_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    ACCESS_ALLOWED_ACE_TYPE,
    GENERIC_ALL,
    SE_DACL_PRESENT,
    SE_SELF_RELATIVE,
    Ace,
    SecurityDescriptor,
    SecurityDescriptorError,
    sid_from_bytes,
    sid_to_bytes,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError, parse_spn, spn_key
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import find_spn_holders

RBCD_ATTRIBUTE = "msDS-AllowedToActOnBehalfOfOtherIdentity"
# Full control over the object in directory-service rights. The KDC's access
# check does not map generic rights, so GENERIC_ALL grants nothing there.
DELEGATION_MASK = 0xF01FF
BUILTIN_ADMINISTRATORS = "S-1-5-32-544"
STATES = ("present", "absent", "exact")
UNKNOWN_PRINCIPAL_MODES = ("fail", "warn", "ignore")
# Owner first, DACL last, as samba-tool lays them out: our values are then byte-identical to its.
_PART_ORDER = ("owner", "group", "sacl", "dacl")

TARGET_OPTIONS = dict(
    account=dict(type="str", required=True),
    host=dict(type="str"),
    principals=dict(type="list", elements="raw", required=True),
    state=dict(type="str", choices=list(STATES)),
    spns=dict(type="list", elements="str", default=[]),
    remove_all=dict(type="bool"),
)


class DelegationError(SqlAuthError):
    """A delegation request that cannot be carried out as asked."""


# -- the descriptor (pure) -----------------------------------------------------

def delegation_ace(sid):
    """The ACE that lets ``sid`` delegate to the target."""
    return Ace(ACCESS_ALLOWED_ACE_TYPE, 0, DELEGATION_MASK, sid)


def is_delegation_ace(ace):
    return ace == delegation_ace(ace.sid)


def build_descriptor(aces):
    """The attribute value for a DACL: self-relative, owner BUILTIN\\Administrators, no group, no SACL."""
    return SecurityDescriptor(control=SE_SELF_RELATIVE | SE_DACL_PRESENT, owner_sid=BUILTIN_ADMINISTRATORS,
                              dacl=list(aces), part_order=_PART_ORDER).to_bytes()


def read_descriptor(value, target_name="the target"):
    """The DACL of an attribute value: None when there is no value, a list
    of ACEs otherwise. A NULL DACL (every account may delegate) and
    unreadable bytes are errors: editing either would guess at intent."""
    if value is None:
        return None
    try:
        descriptor = SecurityDescriptor.from_bytes(value)
    except SecurityDescriptorError as error:
        raise DelegationError("%s of %s is not a valid security descriptor (%s); nothing written"
                              % (RBCD_ATTRIBUTE, target_name, error)) from None
    if descriptor.dacl is None:
        raise DelegationError("%s of %s has a NULL DACL, which lets every account delegate to it; clear the "
                              "attribute or use state=exact to replace it" % (RBCD_ATTRIBUTE, target_name))
    return descriptor.dacl


def delegating_sids(aces):
    """SIDs allowed to delegate by a standard ACE, in order, each once."""
    return list(dict.fromkeys(ace.sid for ace in aces or () if is_delegation_ace(ace)))


def irregular_aces(aces):
    """ACEs other than the standard grant: denies, other masks (a generic
    mask the KDC does not honour), flags, object ACEs, and repeats."""
    seen, irregular = set(), []
    for ace in aces or ():
        if not is_delegation_ace(ace) or ace in seen:
            irregular.append(ace)
        seen.add(ace)
    return irregular


def _grants(aces):
    """An ACE list with at least one allow ACE, else None: a descriptor that
    allows nobody is the same as no attribute."""
    return list(aces) if aces and any(ace.is_allow for ace in aces) else None


def plan_aces(current, sids, state):
    """The DACL to store given the current one (None: no attribute), the
    principals' SIDs and the state; None means no attribute at all, as
    removing the last principal removes the attribute."""
    wanted = list(dict.fromkeys(delegation_ace(sid).sid for sid in sids))
    current = list(current or ())
    if state == "exact":
        # Current principals first, so that re-planning keeps their order.
        order = list(dict.fromkeys([sid for sid in delegating_sids(current) if sid in wanted] + wanted))
        return _grants([delegation_ace(sid) for sid in order])
    wanted_set = set(wanted)
    aces = []
    for ace in current:
        if ace in aces:
            continue  # a repeated ACE adds nothing
        if ace.is_allow and ace.sid in wanted_set and (state == "absent" or not is_delegation_ace(ace)):
            continue  # absent: every grant goes; present: a non-standard grant is replaced
        aces.append(ace)
    if state == "present":
        aces.extend(delegation_ace(sid) for sid in wanted if delegation_ace(sid) not in aces)
    return _grants(aces)


def needs_write(current, planned):
    return _grants(current) != planned


def guarded_modification(old_value, new_value):
    """One modify that deletes the value read and adds the new one: if
    anyone changed the value in between, the delete fails and nothing is
    written. With no value read (``old_value`` None) it is the add of the
    whole new value, which fails if another writer set one meanwhile. The
    one form of a delegation write: write_plan sends it, and the drift
    report's LDIF for an absent attribute is made from it."""
    changes = []
    if old_value is not None:
        changes.append(("MODIFY_DELETE", [old_value]))
    if new_value is not None:
        changes.append(("MODIFY_ADD", [new_value]))
    return {RBCD_ATTRIBUTE: changes}


# -- input (pure) --------------------------------------------------------------

@dataclass(frozen=True)
class DelegationTarget:
    reference: object
    principals: tuple
    state: str
    spns: tuple
    remove_all: bool = False


def _principal_reference(item):
    """A principal is an account name, or a dict with the name and the host
    whose computer account a service identity (NT SERVICE\\...) stands for."""
    if isinstance(item, str):
        return parse_account_reference(item)
    if (isinstance(item, dict) and isinstance(item.get("account"), str) and set(item) <= {"account", "host"}
            and isinstance(item.get("host"), (str, type(None)))):
        return parse_account_reference(item["account"], item.get("host"))
    raise DelegationError("a principal is an account name or a dict with account (and host), got %r" % (item,))


def prepare_targets(params):
    """Validate the module's input without I/O: a list of DelegationTargets."""
    items = params.get("targets")
    if items is None:
        items = [dict(account=params["account"], host=params.get("host"), principals=params["principals"],
                      spns=params.get("spns") or [])]
    elif not items:
        raise DelegationError("targets is empty: list at least one target (an item with account and principals), "
                              "or use account and principals instead")
    targets = []
    for item in items:
        text = item["account"]
        state = item.get("state") or params["state"]
        reference = parse_account_reference(text, item.get("host"))
        try:
            principals = tuple(dict.fromkeys(_principal_reference(p) for p in item["principals"] or ()))
        except AccountError as error:
            raise DelegationError("target %r: %s" % (text, error)) from None
        remove_all = bool(params.get("remove_all") if item.get("remove_all") is None else item["remove_all"])
        if not principals and state != "exact":
            raise DelegationError("target %r: no principals given (state=exact with an empty list and "
                                  "remove_all=true removes them all)" % text)
        if not principals and not remove_all:
            raise DelegationError("target %r: state=exact with no principals would remove every principal; set "
                                  "remove_all=true if that is meant; nothing written" % text)
        if principals and remove_all:
            raise DelegationError("target %r: remove_all=true goes with state=exact and an empty principals list "
                                  "only" % text)
        spns = []
        for spn in item.get("spns") or ():
            try:
                spns.append(str(parse_spn(spn)))
            except SpnError as error:
                raise SpnError("target %r: %s" % (text, error)) from None
        targets.append(DelegationTarget(reference, principals, state, tuple(dict.fromkeys(spns)), remove_all))
    return targets


def validate_rbkcd_delegate(params):
    return dict(targets=prepare_targets(params), unknown_principals=params["unknown_principals"])


# -- planning over the directory ---------------------------------------------------

@dataclass
class TargetPlan:
    """What one target has and will have; ``sids`` are the principals' SIDs."""

    account: object
    state: str
    sids: list
    spns: list
    value: bytes | None = None
    current: list | None = None  # the DACL last read, which the write replaces
    planned: list | None = None
    write_attempts: int = 0  # modify operations sent; more than one means concurrent writers
    written: bool = False  # this run's modify took effect
    names: list = field(default_factory=list)  # the inputs that named this target

    def replan(self, value):
        self.value = value
        self.current = read_descriptor(value, self.account.name)
        self.planned = plan_aces(self.current, self.sids, self.state)

    @property
    def changed(self):
        return needs_write(self.current, self.planned)

    def new_value(self):
        return build_descriptor(self.planned) if self.planned is not None else None


def merge_targets(targets, accounts, sids_per_target):
    """One TargetPlan per target account: items naming the same account (in
    different words) are merged when they agree on the state."""
    plans = {}
    for target, sids in zip(targets, sids_per_target):
        account = accounts[target.reference]
        if target.state != "absent":
            # Both ends of a linked server as one account: a service may
            # always use tickets to its own SPNs, so there is nothing to grant
            # (and exact drops an old self-entry).
            sids = [sid for sid in sids if sid != account.sid]
        plan = plans.get(account.sid)
        if plan is None:
            plans[account.sid] = TargetPlan(account, target.state, sids, list(target.spns),
                                            names=[target.reference.text])
            continue
        if plan.state != target.state:
            raise DelegationError("%s is named by several targets (%s) with different states (%s, %s); nothing "
                                  "written" % (account.name, ", ".join(plan.names + [target.reference.text]),
                                               plan.state, target.state))
        plan.names.append(target.reference.text)
        plan.sids.extend(sid for sid in sids if sid not in plan.sids)
        plan.spns.extend(spn for spn in target.spns if spn not in plan.spns)
    return list(plans.values())


def resolve_principals(targets, accounts, problems, mode):
    """The principals' SIDs, one list per target, and the warnings; raises
    one DelegationError naming every unknown principal when mode is fail.

    A SID that matches no account can still be removed (an orphan left by a
    deleted account); it cannot be granted."""
    sids_per_target, unknown, exact_unknown = [], [], []
    for target in targets:
        sids = []
        for reference in target.principals:
            if reference in accounts:
                sids.append(accounts[reference].sid)
            elif reference.kind == "sid" and target.state == "absent":
                sids.append(reference.value)
            else:
                unknown.append("%s (principal of target %r)" % (problems[reference], target.reference.text))
                if target.state == "exact":
                    exact_unknown.append(unknown[-1])
        sids_per_target.append(sids)
    if exact_unknown:
        # Skipping them would make exact remove what the list meant to keep.
        raise DelegationError("; ".join(exact_unknown) + "; state=exact needs every principal to resolve, whatever "
                              "unknown_principals says; nothing written")
    if unknown and mode == "fail":
        raise DelegationError("; ".join(unknown) + "; nothing written (set unknown_principals=warn to skip them)")
    warnings = ["skipped: %s" % text for text in unknown] if mode == "warn" else []
    return sids_per_target, warnings


def read_values(client, accounts):
    """{sid: attribute value or None} for the target accounts, in batched searches."""
    terms = sorted("(objectSid=%s)" % escape_filter_value(sid_to_bytes(a.sid)) for a in accounts)
    values = {}
    for ldap_filter in batched_or_filters(terms):
        for entry in client.search(client.default_naming_context, ldap_filter, ["objectSid", RBCD_ATTRIBUTE]):
            values[sid_from_bytes(entry.binary("objectSid"))[0]] = entry.binary(RBCD_ATTRIBUTE)
    return values


def read_value(client, dn):
    entries = client.search(dn, "(objectClass=*)", [RBCD_ATTRIBUTE], scope="base", paged=False)
    if not entries:
        raise LdapError("%s disappeared while its delegation was being changed" % dn)
    return entries[0].binary(RBCD_ATTRIBUTE)


def name_sids(client, sids, known):
    """{sid: DOMAIN\\name} for SIDs in descriptors that are not among the
    resolved accounts (any object class: a group can be a principal too).
    SIDs of deleted objects stay unnamed."""
    names = {account.sid: account.name for account in known}
    missing = sorted({sid for sid in sids if sid not in names})
    terms = ["(objectSid=%s)" % escape_filter_value(sid_to_bytes(sid)) for sid in missing]
    netbios = client.own_domain()["netbios"]
    for ldap_filter in batched_or_filters(terms):
        for entry in client.search(client.default_naming_context, ldap_filter, ["objectSid", "sAMAccountName"]):
            if entry.value("sAMAccountName"):
                account = account_from_entry(entry, netbios)
                names[account.sid] = account.name
    return names


# -- writing -------------------------------------------------------------------

def write_plan(client, plan):
    """Write one target's planned value, guarded; on a conflict the value is
    read again and planned again (_guarded_write)."""
    def replan(value):
        plan.replan(value)
        # Wrapped: a planned "no attribute" (None) is still a write.
        return (plan.new_value(),) if plan.changed else None

    outcome = guarded_write(client, plan.account.dn, plan.value, replan,
                            lambda current, planned: guarded_modification(current, planned[0]),
                            lambda: read_value(client, plan.account.dn),
                            "writing %s of %s" % (RBCD_ATTRIBUTE, plan.account.name))
    plan.write_attempts, plan.written = outcome.attempts, outcome.written


# -- warnings (pure) ------------------------------------------------------------

def spn_findings(plan, holders):
    """Each SPN the linked server uses, and whether the target holds it."""
    rows = []
    for spn in plan.spns:
        spn_holders = holders.get(spn_key(spn), [])
        if not spn_holders:
            status = "missing"
        elif any(h.sid == plan.account.sid for h in spn_holders):
            status = "ok" if len(spn_holders) == 1 else "duplicate"
        else:
            status = "wrong_account"
        rows.append(dict(spn=spn, status=status, holders=[h.name for h in spn_holders]))
    return rows


def plan_warnings(plan, principals_by_sid, spn_rows):
    """What would silently defeat the delegation this target ends up with."""
    name = plan.account.name
    warnings = []
    granted = set(delegating_sids(plan.planned))
    for sid in plan.sids:
        principal = principals_by_sid.get(sid)
        if principal is None or sid not in granted:
            continue
        if principal.user_account_control & UF_NOT_DELEGATED:
            warnings.append("%s is marked 'Account is sensitive and cannot be delegated': the KDC refuses its "
                            "S4U2Proxy requests, so it cannot delegate to %s" % (principal.name, name))
    if plan.account.sid in granted:
        warnings.append("%s is allowed to delegate to itself: not needed, a service may always use tickets "
                        "to its own SPNs (state=exact removes the entry)" % name)
    for row in spn_rows:
        if row["status"] == "missing":
            warnings.append("%s: the SPN %s is registered on no account, so clients cannot get a Kerberos ticket "
                            "for it and delegation to it fails" % (name, row["spn"]))
        elif row["status"] == "wrong_account":
            warnings.append("%s: the SPN %s is held by %s, not by %s; S4U2Proxy to it is judged by that "
                            "account's delegation setting" % (name, row["spn"], ", ".join(row["holders"]), name))
        elif row["status"] == "duplicate":
            warnings.append("%s: the SPN %s is also held by %s; the KDC issues no ticket for a duplicate SPN"
                            % (name, row["spn"], ", ".join(h for h in row["holders"] if h != name)))
    if not plan.spns and granted and not plan.account.spns:
        warnings.append("%s has no SPN at all: no Kerberos ticket can be issued for it, so delegation to it "
                        "cannot be used" % name)
    for ace in irregular_aces(plan.planned):
        warnings.append("%s: the entry %s in %s is not a standard grant (allow, mask 0x%X)%s" % (
            name, ace.to_sddl(), RBCD_ATTRIBUTE, DELEGATION_MASK,
            "; a generic mask is not honoured by the KDC" if ace.mask & GENERIC_ALL else ""))
    return warnings


# -- the module's operation ----------------------------------------------------

def _named(sid, names):
    return dict(name=names.get(sid), sid=sid)


def _label(sid, names):
    return "%s (%s)" % (names[sid], sid) if names.get(sid) else sid


def _diff_lines(aces, names):
    lines = [_label(sid, names) for sid in delegating_sids(aces)]
    lines.extend("%s: non-standard entry %s" % (_label(ace.sid, names), ace.to_sddl()) for ace in irregular_aces(aces))
    return lines


def rbkcd_delegate(client, request, check_mode=False):
    """rbkcd_delegate's operation: resolve, plan, write unless in check mode, report."""
    targets = request["targets"]
    references = list(dict.fromkeys([t.reference for t in targets] + [p for t in targets for p in t.principals]))
    accounts, problems = find_accounts(client, references)
    unknown_targets = [problems[t.reference] for t in targets if t.reference in problems]
    if unknown_targets:
        raise DelegationError("; ".join(dict.fromkeys(unknown_targets)) + "; nothing written")
    sids_per_target, warnings = resolve_principals(targets, accounts, problems, request["unknown_principals"])
    plans = merge_targets(targets, accounts, sids_per_target)

    values = read_values(client, [plan.account for plan in plans])
    for plan in plans:
        plan.replan(values.get(plan.account.sid))
    spns = [spn for plan in plans for spn in plan.spns]
    holders = find_spn_holders(client, spns)[0] if spns else {}
    if not check_mode:
        for plan in plans:
            if not plan.changed:
                continue
            try:
                write_plan(client, plan)
            except SqlAuthError as error:
                written = ["%s of %s" % (RBCD_ATTRIBUTE, p.account.name) for p in plans if p.written]
                raise with_writes(error, written, dict(changed=bool(written), warnings=warnings))

    all_sids = {ace.sid for plan in plans for aces in (plan.current, plan.planned) for ace in aces or ()}
    names = name_sids(client, all_sids | {sid for plan in plans for sid in plan.sids}, accounts.values())
    principals_by_sid = {account.sid: account for account in accounts.values()}
    results, diff_before, diff_after = [], {}, {}
    for plan in plans:
        spn_rows = spn_findings(plan, holders)
        warnings.extend(plan_warnings(plan, principals_by_sid, spn_rows))
        old, new = delegating_sids(plan.current), delegating_sids(plan.planned)
        results.append(dict(
            account=plan.account.summary(),
            state=plan.state,
            changed=plan.changed if check_mode else plan.written,
            principals_before=[_named(sid, names) for sid in old],
            principals=[_named(sid, names) for sid in new],
            added=[_named(sid, names) for sid in new if sid not in old],
            removed=[_named(sid, names) for sid in old if sid not in new],
            non_standard_entries=[dict(_named(ace.sid, names), sddl=ace.to_sddl())
                                  for ace in irregular_aces(plan.planned)],
            spns=spn_rows,
            attribute_present=plan.planned is not None,
            write_attempts=plan.write_attempts,
        ))
        if plan.changed:
            diff_before[plan.account.name] = _diff_lines(plan.current, names)
            diff_after[plan.account.name] = _diff_lines(plan.planned, names)
    return dict(changed=any(r["changed"] for r in results), targets=results, warnings=warnings,
                diff=dict(before=diff_before, after=diff_after))
