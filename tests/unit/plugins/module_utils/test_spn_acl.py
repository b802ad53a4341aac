# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spn_acl's logic: the ACEs, what they grant, input validation, planning on
descriptors captured from the lab DC (fixtures/security_descriptors.json),
and the guarded descriptor write against a fake DC that answers like Windows
or like Samba."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import AccountError, parse_account_reference
from ansible_collections.sqlauth.kerberos.plugins.module_utils import _guarded_write
from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import GUARD_PREFIX
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import DirectoryEntry, LdapError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    SELF_SID,
    SERVICE_PRINCIPAL_NAME_GUID,
    Ace,
    SecurityDescriptor,
    is_canonical,
    sid_to_bytes,
    with_aces_added,
)
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.guard_token import dns_named, guard_values_after
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_acl import (
    AclTarget,
    inherited_by,
    plan_target,
    prepare_targets,
    rights_granted,
    spn_acl,
    spn_write_aces,
    unit_refusal,
    validate_spn_acl,
    write_descriptor,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import CLASS_SCHEMA_GUIDS

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "security_descriptors.json").read_text())
DOMAIN_SID = FIXTURES["domain_sid"]
SQLADMINS_SID = DOMAIN_SID + "-1200"

SPN = SERVICE_PRINCIPAL_NAME_GUID
USER = CLASS_SCHEMA_GUIDS["user"]
COMPUTER = CLASS_SCHEMA_GUIDS["computer"]
GMSA = CLASS_SCHEMA_GUIDS["msds-groupmanagedserviceaccount"]
MSA = CLASS_SCHEMA_GUIDS["msds-managedserviceaccount"]

OBJECT_ACES = [
    "(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
    "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
]
USER_OU_ACES = [
    "(OA;CIIO;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;bf967aba-0de6-11d0-a285-00aa003049e2;PS)",
    "(OA;CIIO;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;bf967aba-0de6-11d0-a285-00aa003049e2;PS)",
]
GMSA_OU_ACES = [
    "(OA;CIIO;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;7b8b558a-93a5-4af7-adca-c017e67f1057;PS)",
    "(OA;CIIO;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;7b8b558a-93a5-4af7-adca-c017e67f1057;PS)",
]


def captured(name):
    """The bytes of a captured descriptor."""
    return base64.b64decode(FIXTURES["descriptors"][name]["base64"])


def dacl_of(data):
    return SecurityDescriptor.from_bytes(data).dacl


def aces(*sddl):
    return [Ace.from_sddl(text.format(spn=SPN, user=USER, gmsa=GMSA)) for text in sddl]


def sddl(ace_list):
    return [ace.to_sddl() for ace in ace_list]


def acl_params(**options):
    """spn_acl's parameters as AnsibleModule hands them over."""
    params = dict(account=None, organizational_unit=None, applies_to=None, trustee="SELF", state="present", targets=None)
    params.update(options)
    return params


def target_item(**options):
    """One targets item, every suboption there as AnsibleModule passes it."""
    item = dict(account=None, organizational_unit=None, applies_to=None, trustee=None, state=None)
    item.update(options)
    return item


def account_target(state="present", name="CORP\\sqlsvc"):
    return prepare_targets(acl_params(account=name, state=state))[0]


def unit_target(state="present", applies_to=None):
    return prepare_targets(acl_params(organizational_unit=FIXTURES["descriptors"]["organizational_unit"]["dn"],
                                      applies_to=applies_to, state=state))[0]


def first_inherited(dacl):
    return next(index for index, ace in enumerate(dacl) if ace.is_inherited)


# -- spn_write_aces -----------------------------------------------------------------

def test_the_object_form_is_read_write_property_and_validated_write():
    assert sddl(spn_write_aces(SELF_SID)) == OBJECT_ACES


def test_the_ou_form_is_inheritable_to_the_class_only():
    assert sddl(spn_write_aces(SELF_SID, USER)) == USER_OU_ACES
    assert sddl(spn_write_aces(SELF_SID, GMSA.upper())) == GMSA_OU_ACES


def test_a_named_trustee_is_written_as_its_sid():
    assert sddl(spn_write_aces(SQLADMINS_SID)) == [
        "(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;%s)" % SQLADMINS_SID,
        "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;%s)" % SQLADMINS_SID,
    ]


def test_spn_write_aces_equal_the_same_aces_read_from_sddl():
    assert spn_write_aces(SELF_SID) == aces(*OBJECT_ACES)
    assert spn_write_aces("PS", USER) == aces(*USER_OU_ACES)


# -- inherited_by ----------------------------------------------------------------

def test_inherited_by_keeps_what_a_child_of_the_class_would_inherit():
    dacl = aces(
        "(OA;CIIO;RPWP;{spn};{user};PS)",  # for users below
        "(OA;CIIO;SW;{spn};{gmsa};PS)",  # for gMSAs below
        "(OA;CI;SW;{spn};;PS)",  # for the OU itself and every child
        "(OA;;RPWP;{spn};;PS)",  # for the OU itself only
        "(A;CIID;LC;;;RU)",  # inherited by the OU, passed on
    )
    assert sddl(inherited_by(dacl, USER)) == [
        "(OA;ID;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
        "(OA;ID;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
        "(A;ID;LC;;;RU)",
    ]
    assert sddl(inherited_by(dacl, GMSA)) == [
        "(OA;ID;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
        "(OA;ID;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
        "(A;ID;LC;;;RU)",
    ]


def test_inherited_by_an_empty_or_missing_dacl_is_nothing():
    assert inherited_by([], USER) == []
    assert inherited_by(None, USER) == []


# -- rights_granted --------------------------------------------------------------

@pytest.mark.parametrize("dacl, granted", [
    (OBJECT_ACES, True),
    (OBJECT_ACES[:1], False),  # read/write without the validated write
    (OBJECT_ACES[1:], False),  # the validated write alone
    (["(OA;;RP;{spn};;PS)", "(OA;;WP;{spn};;PS)", "(OA;;SW;{spn};;PS)"], True),  # split over ACEs
    (["(A;;RPWPSW;;;PS)"], True),  # on every property
    (["(A;;GA;;;PS)"], True),  # full control
    (["(OA;;RPWPSW;{spn};{user};PS)"], True),  # for users, and this is one
    (["(OA;;RPWPSW;{spn};{gmsa};PS)"], False),  # for gMSAs only
    (["(OD;;WP;{spn};;PS)"] + OBJECT_ACES, False),  # a deny first wins
    (OBJECT_ACES + ["(OD;;WP;{spn};;PS)"], True),  # a deny after the grant does not
    (["(OA;;RPWPSW;{spn};;%s)" % SQLADMINS_SID], False),  # someone else's rights
    (USER_OU_ACES, False),  # inherit-only: for the children, not the object
])
def test_rights_granted_on_the_object(dacl, granted):
    assert rights_granted(aces(*dacl), SELF_SID, USER) is granted


@pytest.mark.parametrize("dacl, class_guid, granted", [
    (USER_OU_ACES, USER, True),
    (USER_OU_ACES, GMSA, False),
    (USER_OU_ACES + GMSA_OU_ACES, GMSA, True),
    (["(OA;CI;RPWPSW;{spn};;PS)"], GMSA, True),  # inheritable to every class
    (["(A;CI;GA;;;PS)"], COMPUTER, True),
    (OBJECT_ACES, USER, False),  # on the OU itself, not inherited
    (["(OD;CIIO;WP;{spn};{user};PS)"] + USER_OU_ACES, USER, False),  # an inheritable deny first
])
def test_rights_granted_for_children(dacl, class_guid, granted):
    assert rights_granted(aces(*dacl), SELF_SID, class_guid, for_children=True) is granted


@pytest.mark.parametrize("name, granted", [
    ("user_with_spn_write_aces", True),
    ("user_with_sacl", True),
    ("user_without_spn_write_aces", False),
    ("user_dacl_only", False),
])
def test_rights_granted_on_captured_users(name, granted):
    assert rights_granted(dacl_of(captured(name)), SELF_SID, USER) is granted


@pytest.mark.parametrize("name, class_guid", [("computer", COMPUTER), ("gmsa", GMSA)])
def test_computers_have_the_validated_write_only(name, class_guid):
    dacl = dacl_of(captured(name))
    assert rights_granted(dacl, SELF_SID, class_guid) is False
    assert rights_granted(dacl + aces(OBJECT_ACES[0]), SELF_SID, class_guid) is True


@pytest.mark.parametrize("class_guid", [USER, COMPUTER, GMSA, MSA])
def test_the_captured_ou_grants_nothing_to_its_children(class_guid):
    assert rights_granted(dacl_of(captured("organizational_unit")), SELF_SID, class_guid, for_children=True) is False


# -- prepare_targets ---------------------------------------------------------------

def test_an_account_target():
    assert prepare_targets(acl_params(account="CORP\\sqlsvc")) == [
        AclTarget("CORP\\sqlsvc", account=parse_account_reference("CORP\\sqlsvc"), trustee=None, state="present"),
    ]


def test_an_organizational_unit_target_applies_to_users_and_gmsas_by_default():
    unit = "OU=Service Accounts,OU=Tier1,DC=corp,DC=example,DC=com"
    assert prepare_targets(acl_params(organizational_unit=unit, state="absent")) == [
        AclTarget(unit, organizational_unit=unit, classes=("user", "gmsa"), trustee=None, state="absent"),
    ]


def test_targets_take_their_own_options_or_the_top_level_ones():
    unit = "OU=SQL,DC=corp,DC=example,DC=com"
    targets = prepare_targets(acl_params(trustee="CORP\\sqladmins", state="absent", applies_to=["computer"], targets=[
        target_item(account="sqlsvc1"),
        target_item(account="sqlsvc2", trustee="self", state="present"),
        target_item(organizational_unit=unit),
        target_item(organizational_unit=unit, applies_to=["msa", "gmsa"], trustee="NT AUTHORITY\\SELF"),
    ]))
    sqladmins = parse_account_reference("CORP\\sqladmins")
    assert [(t.text, t.trustee, t.state, t.classes) for t in targets] == [
        ("sqlsvc1", sqladmins, "absent", ()),
        ("sqlsvc2", None, "present", ()),
        (unit, sqladmins, "absent", ("computer",)),
        (unit, None, "absent", ("msa", "gmsa")),
    ]


@pytest.mark.parametrize("trustee", ["SELF", "self", "NT AUTHORITY\\SELF", "nt authority\\self", "S-1-5-10", None])
def test_self_is_the_default_trustee_in_its_spellings(trustee):
    assert prepare_targets(acl_params(account="sqlsvc", trustee=trustee))[0].trustee is None


def test_state_defaults_to_present_when_nothing_sets_it():
    assert prepare_targets(acl_params(account="sqlsvc", state=None))[0].state == "present"


@pytest.mark.parametrize("params, message", [
    (acl_params(targets=[target_item(account="sqlsvc", organizational_unit="OU=SQL,DC=corp,DC=example,DC=com")]),
     "each target needs exactly one of account and organizational_unit"),
    (acl_params(targets=[target_item(state="present")]),
     "each target needs exactly one of account and organizational_unit"),
    (acl_params(account="sqlsvc", applies_to=["user"]),
     "applies_to is for organizational_unit targets; 'sqlsvc' is an account"),
    (acl_params(organizational_unit="Service Accounts"),
     "organizational_unit 'Service Accounts' is not a distinguished name"),
    (acl_params(account="LocalService"), "presents anonymous credentials"),
    (acl_params(account="sqlsvc", trustee="sql/admins"), "contains characters a sAMAccountName cannot have"),
])
def test_prepare_targets_refuses(params, message):
    with pytest.raises(AccountError) as raised:
        prepare_targets(params)
    assert message in str(raised.value)


def test_empty_targets_are_named():
    with pytest.raises(AccountError, match="targets is empty: list at least one target"):
        prepare_targets(dict(targets=[], account=None, organizational_unit=None, applies_to=None, trustee="SELF",
                             state="present"))


@pytest.mark.parametrize("classes, allowed", [
    (["top", "organizationalUnit"], True),
    (["top", "container"], True),
    (["top", "person", "organizationalPerson", "user"], False),
    (["top", "person", "organizationalPerson", "user", "computer"], False),
    (["top", "domain", "domainDNS"], False),
])
def test_only_ous_and_containers_take_inheritable_aces(classes, allowed):
    refusal = unit_refusal("CN=x,DC=corp,DC=example,DC=com", classes, allow_domain_root=False)
    assert (refusal is None) is allowed
    if not allowed:
        assert "CN=x,DC=corp,DC=example,DC=com is" in refusal


def test_the_domain_root_only_when_asked():
    refusal = unit_refusal("DC=corp,DC=example,DC=com", ["top", "domain", "domainDNS"], allow_domain_root=False)
    assert "is the domain root: rights granted there reach every account of the domain" in refusal
    assert "allow_domain_root=true" in refusal
    assert unit_refusal("DC=corp,DC=example,DC=com", ["top", "domain", "domainDNS"], allow_domain_root=True) is None
    user = unit_refusal("CN=bob,CN=Users,DC=corp", ["top", "person", "organizationalPerson", "user"], False)
    assert user == ("CN=bob,CN=Users,DC=corp is a user, not an organizational unit or container: use account for a "
                    "single account, or name the OU that holds it")


# -- plan_target on captured descriptors ---------------------------------------------

def test_present_where_the_aces_are_already_is_no_change():
    assert plan_target(account_target(), captured("user_with_spn_write_aces"), SELF_SID, USER) == (None, [], [], True)


def test_present_adds_both_aces_after_the_explicit_allows():
    before = SecurityDescriptor.from_bytes(captured("user_without_spn_write_aces"))
    new, added, removed, still_granted = plan_target(account_target(), captured("user_without_spn_write_aces"),
                                                     SELF_SID, USER)
    assert sddl(added) == OBJECT_ACES
    assert (removed, still_granted) == ([], True)
    position = first_inherited(before.dacl)
    assert new.dacl == before.dacl[:position] + added + before.dacl[position:]
    assert is_canonical(new.dacl)
    assert (new.owner_sid, new.group_sid, new.control) == (before.owner_sid, before.group_sid, before.control)
    assert rights_granted(dacl_of(new.to_bytes()), SELF_SID, USER)


@pytest.mark.parametrize("name, class_guid", [("computer", COMPUTER), ("gmsa", GMSA)])
def test_present_on_a_computer_adds_only_what_it_lacks(name, class_guid):
    # Computers and gMSAs already carry SELF's validated SPN write.
    before = dacl_of(captured(name))
    new, added, removed, still_granted = plan_target(account_target(name="%s$" % name), captured(name), SELF_SID,
                                                     class_guid)
    assert sddl(added) == OBJECT_ACES[:1]
    assert len(new.dacl) == len(before) + 1
    assert rights_granted(new.dacl, SELF_SID, class_guid)


def test_present_writes_nothing_when_a_deny_blocks_aces_already_there():
    # The ACEs cannot be added twice; rewriting an unchanged descriptor on every run is no fix.
    data = with_aces_added(SecurityDescriptor.from_bytes(captured("user_with_spn_write_aces")),
                           aces("(OD;;WP;{spn};;PS)")).to_bytes()
    new, added, removed, still_granted = plan_target(account_target(), data, SELF_SID, USER)
    assert (new, added, removed) == (None, [], [])


def test_present_for_another_trustee():
    new, added, removed, still_granted = plan_target(account_target(), captured("user_with_spn_write_aces"),
                                                     SQLADMINS_SID, USER)
    assert [ace.sid for ace in added] == [SQLADMINS_SID, SQLADMINS_SID]
    assert rights_granted(new.dacl, SQLADMINS_SID, USER)


def test_absent_removes_both_aces_and_nothing_else():
    before = SecurityDescriptor.from_bytes(captured("user_with_spn_write_aces"))
    new, added, removed, still_granted = plan_target(account_target("absent"), captured("user_with_spn_write_aces"),
                                                     SELF_SID, USER)
    assert sddl(removed) == OBJECT_ACES
    assert (added, still_granted) == ([], False)
    assert new.dacl == [ace for ace in before.dacl if ace not in removed]
    assert len(new.dacl) == len(before.dacl) - 2


def test_absent_where_there_is_nothing_is_no_change():
    assert plan_target(account_target("absent"), captured("user_without_spn_write_aces"), SELF_SID, USER) \
        == (None, [], [], False)


def test_absent_reports_rights_other_aces_still_grant():
    data = with_aces_added(SecurityDescriptor.from_bytes(captured("user_with_spn_write_aces")),
                           aces("(A;;RPWPSW;;;PS)")).to_bytes()
    new, added, removed, still_granted = plan_target(account_target("absent"), data, SELF_SID, USER)
    assert sddl(removed) == OBJECT_ACES
    assert still_granted is True
    assert "(A;;SWRPWP;;;PS)" in sddl(new.dacl)


def test_present_on_the_ou_adds_inheritable_aces_for_users_and_gmsas():
    before = SecurityDescriptor.from_bytes(captured("organizational_unit"))
    new, added, removed, still_granted = plan_target(unit_target(), captured("organizational_unit"), SELF_SID)
    assert sddl(added) == USER_OU_ACES + GMSA_OU_ACES
    position = first_inherited(before.dacl)
    assert new.dacl == before.dacl[:position] + added + before.dacl[position:]
    for class_guid, granted in ((USER, True), (GMSA, True), (COMPUTER, False), (MSA, False)):
        assert rights_granted(new.dacl, SELF_SID, class_guid, for_children=True) is granted
    # Inherit-only: the OU itself gets no rights.
    assert not rights_granted(new.dacl, SELF_SID, USER)


def test_present_on_the_ou_for_the_classes_asked_for():
    new, added, removed, still_granted = plan_target(unit_target(applies_to=["computer"]),
                                                     captured("organizational_unit"), SELF_SID)
    assert {ace.inherited_object_type for ace in added} == {COMPUTER}
    assert rights_granted(new.dacl, SELF_SID, COMPUTER, for_children=True)


@pytest.mark.parametrize("name, make_target, class_guid", [
    ("user_without_spn_write_aces", account_target, USER),
    ("user_with_spn_write_aces", account_target, USER),
    ("user_with_sacl", account_target, USER),
    ("user_dacl_only", account_target, USER),
    ("computer", account_target, COMPUTER),
    ("gmsa", account_target, GMSA),
    ("organizational_unit", unit_target, None),
])
def test_planning_again_on_the_written_descriptor_changes_nothing(name, make_target, class_guid):
    present = make_target()
    new = plan_target(present, captured(name), SELF_SID, class_guid)[0]
    written = new.to_bytes() if new is not None else captured(name)
    assert plan_target(present, written, SELF_SID, class_guid)[:3] == (None, [], [])
    # And absent takes it back to a descriptor that is granted nothing by these ACEs.
    absent = make_target("absent")
    removed = plan_target(absent, written, SELF_SID, class_guid)[0]
    assert plan_target(absent, removed.to_bytes(), SELF_SID, class_guid) == (None, [], [], False)


def test_present_then_absent_on_the_ou_restores_its_bytes():
    added = plan_target(unit_target(), captured("organizational_unit"), SELF_SID)[0].to_bytes()
    restored = plan_target(unit_target("absent"), added, SELF_SID)[0].to_bytes()
    assert restored == captured("organizational_unit")


def test_absent_on_the_ou_leaves_a_class_it_does_not_name():
    both = plan_target(unit_target(), captured("organizational_unit"), SELF_SID)[0].to_bytes()
    new, added, removed, still_granted = plan_target(unit_target("absent", ["gmsa"]), both, SELF_SID)
    assert sddl(removed) == GMSA_OU_ACES
    assert still_granted is False
    assert rights_granted(new.dacl, SELF_SID, USER, for_children=True)


# -- write_descriptor ---------------------------------------------------------------

DN = FIXTURES["descriptors"]["user_without_spn_write_aces"]["dn"]
CONTROLS = [("1.2.840.113556.1.4.801", True, b"0\x03\x02\x01\x04")]


def concurrent_grant(sddl_text):
    """Another writer's change: one more ACE in the DACL."""
    def change(value):
        return with_aces_added(SecurityDescriptor.from_bytes(value), aces(sddl_text)).to_bytes()
    return change


class FakeDescriptorStore:
    """One object's nTSecurityDescriptor on a DC.

    Like Windows, a delete of the old value with an add of the new one is
    refused with noSuchAttribute when the old value is not the stored one; like
    Samba (``samba=True``), any delete of the value is unwillingToPerform, and
    the guard token in extensionName (deleted by value) makes the write
    conditional. Every write raises the descriptor's replication version.
    ``before_modify`` are other writers' changes, one made just before each
    modify arrives (a change that only touches the descriptor, as an
    administrator's does)."""

    def __init__(self, value, samba=False, before_modify=()):
        self.value = value
        self.samba = samba
        self.before_modify = list(before_modify)
        self.modifies = []
        self.reads = 0          # the object read alone (scope base)
        self.batched_reads = 0  # read by a batched search by DN
        self.guards = []
        self.version = 3
        self.descriptor_delete_refused = False  # as a DirectoryClient starts

    default_naming_context = "DC=corp,DC=example,DC=test"

    def dacl_controls(self):
        return CONTROLS

    def search(self, base, ldap_filter, attributes, scope="subtree", controls=None, paged=True):
        if scope == "base":
            assert (base, paged, controls) == (DN, False, CONTROLS)
            self.reads += 1
        else:
            # A batched read by DN (the guarded replace's).
            assert (base, dns_named(ldap_filter), controls) == (self.default_naming_context, [DN], CONTROLS)
            self.batched_reads += 1
        assert attributes[0] == "nTSecurityDescriptor"
        metadata = struct.pack("<IIII", 1, 0, 1, 0) + struct.pack("<II", 0x00020119, self.version) + bytes(40)
        return [DirectoryEntry(base, {"nTSecurityDescriptor": [self.value],
                                      "extensionName": [token.encode() for token in self.guards],
                                      "replPropertyMetaData": [metadata]})]

    def modify(self, dn, changes, controls=None):
        assert dn == DN
        if self.before_modify:
            self.value = self.before_modify.pop(0)(self.value)
            self.version += 1
        operations = changes.get("nTSecurityDescriptor", [])
        self.modifies.append([operation for operation, _values in operations])
        guards = guard_values_after(dn, self.guards, changes)
        if operations and operations[0][0] == "MODIFY_REPLACE":
            assert self.samba and controls == CONTROLS, "a plain replace is only sent with a guard, to Samba"
            assert "extensionName" in changes, "a replace of the descriptor always swaps the guard token"
            self.value = operations[0][1][0]
            self.version += 1
        elif operations:
            if self.samba:
                raise LdapError("modifying %s failed: unwillingToPerform" % dn, result="unwillingToPerform")
            (delete, (old,)), (add, (new,)) = operations
            assert (delete, add) == ("MODIFY_DELETE", "MODIFY_ADD")
            if old != self.value:
                raise LdapError("modifying %s failed: noSuchAttribute" % dn, result="noSuchAttribute")
            self.value = new
            self.version += 1
        self.guards = guards


def write(store, target=None):
    """Plan present on the captured user and write it the way spn_acl does."""
    target = target or account_target()
    old = captured("user_without_spn_write_aces")
    outcome, warnings = write_descriptor(store, DN, old, lambda current: plan_target(target, current, SELF_SID, USER)[0],
                                         "CORP\\sqlsvc")
    return outcome, warnings


def planned(old=None):
    return plan_target(account_target(), old or captured("user_without_spn_write_aces"), SELF_SID, USER)[0]


def test_write_descriptor_deletes_and_adds_in_one_modify():
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"))
    outcome, warnings = write(store)
    assert store.modifies == [["MODIFY_DELETE", "MODIFY_ADD"]]
    assert store.value == planned().to_bytes()
    assert store.reads == 0 and outcome.written and warnings == []


def test_write_descriptor_swaps_a_guard_token_on_a_dc_that_cannot_delete():
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"), samba=True)
    outcome, warnings = write(store)
    # The refused delete, the object's first guard token, then the replace with the token swapped.
    assert store.modifies == [["MODIFY_DELETE", "MODIFY_ADD"], [], ["MODIFY_REPLACE"]]
    assert store.value == planned().to_bytes()
    assert len(store.guards) == 1 and store.guards[0].startswith(GUARD_PREFIX)
    assert outcome.written and warnings == []


def test_a_dc_that_cannot_delete_is_remembered_for_the_next_object():
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"), samba=True)
    write(store)
    store.value = captured("user_without_spn_write_aces")
    store.modifies = []
    write(store)
    assert store.modifies == [["MODIFY_REPLACE"]]


@pytest.mark.parametrize("samba, modifies", [
    (False, [["MODIFY_DELETE", "MODIFY_ADD"]] * 2),
    (True, [["MODIFY_DELETE", "MODIFY_ADD"], [], ["MODIFY_REPLACE"], ["MODIFY_REPLACE"]]),
])
def test_write_descriptor_recomputes_from_a_descriptor_changed_meanwhile(samba, modifies):
    other = "(OA;;RP;bf967a7f-0de6-11d0-a285-00aa003049e2;;%s)" % SQLADMINS_SID

    store = FakeDescriptorStore(captured("user_without_spn_write_aces"), samba=samba)
    if samba:
        # Another run of the collection writes between the guard token and the replace.
        def guarded(value):
            store.guards = [GUARD_PREFIX + "other"]
            return concurrent_grant(other)(value)
        store.before_modify = [lambda value: value, lambda value: value, guarded]
        store.version -= 2  # the two no-op hooks above count no write
    else:
        store.before_modify = [concurrent_grant(other)]
    outcome, warnings = write(store)
    assert store.modifies == modifies
    # Both changes are in: the other writer's is not overwritten.
    written = sddl(dacl_of(store.value))
    assert other in written
    assert set(OBJECT_ACES) <= set(written)
    assert is_canonical(dacl_of(store.value))
    assert outcome.written and outcome.attempts == 2


def test_a_change_by_another_tool_during_a_guarded_write_is_reported():
    """Samba: an administrator's change cannot be stopped by the guard; the
    version shows it and the run says so."""
    other = "(OA;;RP;bf967a7f-0de6-11d0-a285-00aa003049e2;;%s)" % SQLADMINS_SID
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"), samba=True)
    store.before_modify = [lambda value: value, lambda value: value, concurrent_grant(other)]
    store.version -= 2
    outcome, warnings = write(store)
    assert outcome.written
    assert warnings == ["CORP\\sqlsvc: its DACL was also changed by a writer outside this collection while this "
                        "run wrote it; a change made between this run's read and its write is overwritten: check "
                        "the DACL of %s" % DN]


def test_write_descriptor_stops_when_the_change_is_no_longer_needed():
    # Someone else granted the same rights meanwhile.
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"),
                                before_modify=[concurrent_grant("(A;;RPWPSW;;;PS)")])
    outcome, _warnings = write(store)
    assert store.modifies == [["MODIFY_DELETE", "MODIFY_ADD"]]
    assert store.reads == 1
    assert "(A;;SWRPWP;;;PS)" in sddl(dacl_of(store.value))
    assert not set(OBJECT_ACES) & set(sddl(dacl_of(store.value)))
    assert outcome.written is False


def test_write_descriptor_gives_up_on_a_descriptor_that_keeps_changing(monkeypatch):
    monkeypatch.setattr(_guarded_write, "back_off", lambda attempt: None)
    writers = [concurrent_grant("(OA;;RP;bf967a7f-0de6-11d0-a285-00aa003049e2;;%s-%d)" % (DOMAIN_SID, 1300 + number))
               for number in range(25)]
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"), before_modify=writers)
    with pytest.raises(LdapError) as raised:
        write(store)
    assert str(raised.value) == ("writing the DACL of CORP\\sqlsvc: the value kept changing under concurrent "
                                 "writers; gave up after 20 attempts, nothing written")
    assert raised.value.result is None
    assert store.modifies == [["MODIFY_DELETE", "MODIFY_ADD"]] * 20
    assert store.reads == 20
    assert not set(OBJECT_ACES) & set(sddl(dacl_of(store.value)))


def test_write_descriptor_retries_after_a_constraint_violation_when_the_value_changed():
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"))
    calls = []
    original = store.modify

    def modify(dn, changes, controls=None):
        calls.append(changes)
        if len(calls) == 1:
            store.value = concurrent_grant("(OA;;RP;bf967a7f-0de6-11d0-a285-00aa003049e2;;%s)" % SQLADMINS_SID)(
                store.value)
            raise LdapError("modifying %s failed: constraintViolation" % dn, result="constraintViolation")
        return original(dn, changes, controls)

    store.modify = modify
    outcome, _warnings = write(store)
    assert len(calls) == 2 and outcome.written


def test_a_refusal_when_nobody_changed_the_value_is_an_error_not_a_retry():
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"))

    def modify(dn, changes, controls=None):
        raise LdapError("modifying %s failed: constraintViolation" % dn, result="constraintViolation")

    store.modify = modify
    with pytest.raises(LdapError, match="refused by the DC although nobody changed it meanwhile"):
        write(store)


def test_write_descriptor_passes_other_errors_on():
    store = FakeDescriptorStore(captured("user_without_spn_write_aces"))
    refused = LdapError("modifying %s failed: insufficientAccessRights" % DN, result="insufficientAccessRights")

    def modify(dn, changes, controls=None):
        raise refused

    store.modify = modify
    with pytest.raises(LdapError) as raised:
        write(store)
    assert raised.value is refused
    assert store.reads == 0


# -- spn_acl over many accounts: a constant number of searches ------------------------

BASE = "DC=corp,DC=example,DC=test"


class SambaAccounts:
    """User accounts with the captured descriptor on a DC that, like Samba,
    refuses any delete of a descriptor value; the guard token makes the
    replace conditional. Subtree searches answer a batched read by DN with
    the objects named, any other search (resolving names) with every
    account. ``refuse``: the DN whose descriptor write is refused."""

    default_naming_context = BASE

    def __init__(self, count):
        self.objects = {}
        for number in range(count):
            dn = "CN=sqlsvc%d,OU=SQL Servers,%s" % (number, BASE)
            self.objects[dn.lower()] = dict(dn=dn, sam="sqlsvc%d" % number, sid="%s-%d" % (DOMAIN_SID, 1500 + number),
                                            value=captured("user_without_spn_write_aces"), guards=[], version=3)
        self.searches, self.modifies = [], []
        self.refuse = None
        self.options, self.warnings = {}, []
        self.descriptor_delete_refused = False

    def own_domain(self):
        return dict(dn=BASE, netbios="CORP", dns="corp.example.test")

    def dacl_controls(self):
        return CONTROLS

    def entry(self, item):
        metadata = struct.pack("<IIII", 1, 0, 1, 0) + struct.pack("<II", 0x00020119, item["version"]) + bytes(40)
        return DirectoryEntry(item["dn"], {
            "sAMAccountName": [item["sam"].encode()], "objectSid": [sid_to_bytes(item["sid"])],
            "objectClass": [b"top", b"person", b"organizationalPerson", b"user"], "userAccountControl": [b"512"],
            "nTSecurityDescriptor": [item["value"]], "extensionName": [token.encode() for token in item["guards"]],
            "replPropertyMetaData": [metadata]})

    def search(self, base, ldap_filter, attributes, scope="subtree", controls=None, paged=True):
        self.searches.append(scope)
        if scope == "base":
            return [self.entry(self.objects[base.lower()])]
        named = dns_named(ldap_filter)
        if named:
            return [self.entry(self.objects[dn.lower()]) for dn in named]
        return [self.entry(item) for item in self.objects.values()]

    def modify(self, dn, changes, controls=None):
        item = self.objects[dn.lower()]
        self.modifies.append((dn, list(changes)))
        operations = changes.get("nTSecurityDescriptor", [])
        if operations and operations[0][0] == "MODIFY_DELETE":
            raise LdapError("modifying %s failed: unwillingToPerform" % dn, result="unwillingToPerform")
        if operations and dn == self.refuse:
            raise LdapError("modifying %s failed: insufficientAccessRights" % dn, result="insufficientAccessRights")
        guards = guard_values_after(dn, item["guards"], changes)
        if operations:
            assert "extensionName" in changes, "a replace of the descriptor always swaps the guard token"
            item["value"] = operations[0][1][0]
            item["version"] += 1
        item["guards"] = guards


def grant_all(directory):
    names = [item["sam"] for item in directory.objects.values()]
    return spn_acl(directory, validate_spn_acl(acl_params(targets=[target_item(account="CORP\\" + name)
                                                                   for name in names])))


@pytest.mark.parametrize("count", [2, 30])
def test_granting_many_accounts_sends_a_constant_number_of_searches(count):
    """The bench's finding (issue 19): two reads per DACL written. Now:
    the names resolved, one read of the objects to write, one read again
    after their first guard tokens, one read after the writes."""
    directory = SambaAccounts(count)
    result = grant_all(directory)
    assert directory.searches == ["subtree"] * 4
    assert result["changed"] and [target["changed"] for target in result["targets"]] == [True] * count
    assert all(set(OBJECT_ACES) <= set(sddl(dacl_of(item["value"]))) for item in directory.objects.values())
    assert result["warnings"] == []
    # The refused delete (once: remembered), a first token each, a replace each.
    assert len(directory.modifies) == 1 + 2 * count
    again = grant_all(directory)
    assert not again["changed"] and directory.searches[4:] == ["subtree"]


def test_a_refused_dacl_write_says_which_dacls_and_guard_values_were_written():
    directory = SambaAccounts(4)
    directory.refuse = "CN=sqlsvc2,OU=SQL Servers,%s" % BASE
    with pytest.raises(LdapError) as raised:
        grant_all(directory)
    message = str(raised.value)
    assert ("written before the refusal: a guard value in extensionName of each of 2 objects: "
            "CN=sqlsvc2,OU=SQL Servers,%s; CN=sqlsvc3,OU=SQL Servers,%s" % (BASE, BASE)) in message
    assert message.endswith("; this run wrote before failing: the DACL of CORP\\sqlsvc0; the DACL of CORP\\sqlsvc1")
    partial = raised.value.partial_result
    assert [target["target"] for target in partial["targets"]] == ["CORP\\sqlsvc0", "CORP\\sqlsvc1"]
    assert partial["changed"] is True
