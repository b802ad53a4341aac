# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""rbkcd_delegate's logic: the descriptor, checked against the value
``samba-tool delegation add-principal`` wrote on the lab DC
(fixtures/security_descriptors.json), change planning, input validation, and
the guarded write with its retries, over a small fake directory."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _guarded_write, _rbkcd
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import AccountError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import DirectoryEntry, LdapError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._rbkcd import (
    DELEGATION_MASK,
    RBCD_ATTRIBUTE,
    DelegationError,
    build_descriptor,
    delegating_sids,
    delegation_ace,
    guarded_modification,
    irregular_aces,
    needs_write,
    plan_aces,
    prepare_targets,
    rbkcd_delegate,
    read_descriptor,
    validate_rbkcd_delegate,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    ACCESS_ALLOWED_ACE_TYPE,
    GENERIC_ALL,
    Ace,
    SecurityDescriptor,
    sid_from_bytes,
    sid_to_bytes,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "security_descriptors.json").read_text())
SAMBA_VALUE = FIXTURES["descriptors"]["rbcd_allowed_to_act"]
SAMBA_BYTES = base64.b64decode(SAMBA_VALUE["base64"])
DOMAIN_SID = FIXTURES["domain_sid"]
SQLSVC1 = SAMBA_VALUE["principal_sid"]  # the principal samba-tool added
SQLSVC2 = DOMAIN_SID + "-1106"
SQLSVC3 = DOMAIN_SID + "-1107"
ORPHAN = DOMAIN_SID + "-4242"  # a deleted account's SID


def ace_of(sddl):
    return Ace.from_sddl(sddl)


# -- the descriptor --------------------------------------------------------------

def test_built_value_is_byte_identical_to_samba_tools():
    assert build_descriptor([delegation_ace(SQLSVC1)]) == SAMBA_BYTES


def test_samba_tools_value_reads_as_one_principal():
    aces = read_descriptor(SAMBA_BYTES)
    assert delegating_sids(aces) == [SQLSVC1]
    assert irregular_aces(aces) == []
    assert SecurityDescriptor.from_bytes(SAMBA_BYTES).to_sddl() == SAMBA_VALUE["samba_sddl"]


def test_the_standard_grant():
    ace = delegation_ace(SQLSVC1)
    assert (ace.ace_type, ace.flags, ace.mask) == (ACCESS_ALLOWED_ACE_TYPE, 0, 0xF01FF)
    assert ace.to_sddl() == "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;%s)" % SQLSVC1


def test_built_value_has_owner_administrators_and_no_group_or_sacl():
    descriptor = SecurityDescriptor.from_bytes(build_descriptor([delegation_ace(SQLSVC1), delegation_ace(SQLSVC2)]))
    assert descriptor.owner_sid == "S-1-5-32-544"
    assert descriptor.group_sid is None and descriptor.sacl_bytes is None
    assert [ace.sid for ace in descriptor.dacl] == [SQLSVC1, SQLSVC2]


def test_no_value_is_no_dacl():
    assert read_descriptor(None) is None


@pytest.mark.parametrize("value, expected", [
    (b"\x01\x00\x04", "is not a valid security descriptor"),
    (SecurityDescriptor(control=0x8004, owner_sid="S-1-5-32-544").to_bytes(), "NULL DACL"),
])
def test_unreadable_or_null_dacl_is_an_error(value, expected):
    with pytest.raises(DelegationError, match=expected):
        read_descriptor(value, "CORP\\sqlsvc2")


def test_irregular_entries_are_found():
    aces = [delegation_ace(SQLSVC1), ace_of("(A;;GA;;;%s)" % SQLSVC2), delegation_ace(SQLSVC1),
            ace_of("(D;;CR;;;%s)" % SQLSVC3), ace_of("(A;;CR;;;%s)" % SQLSVC3)]
    assert delegating_sids(aces) == [SQLSVC1]
    assert irregular_aces(aces) == aces[1:]


# -- planning ----------------------------------------------------------------------

def test_present_adds_to_nothing():
    assert plan_aces(None, [SQLSVC1], "present") == [delegation_ace(SQLSVC1)]


def test_present_keeps_order_and_appends():
    current = [delegation_ace(SQLSVC1)]
    planned = plan_aces(current, [SQLSVC2, SQLSVC1], "present")
    assert planned == [delegation_ace(SQLSVC1), delegation_ace(SQLSVC2)]
    assert needs_write(current, planned)


def test_present_when_already_there_writes_nothing():
    current = read_descriptor(SAMBA_BYTES)
    assert not needs_write(current, plan_aces(current, [SQLSVC1], "present"))


def test_present_replaces_a_generic_all_grant():
    current = [ace_of("(A;;GA;;;%s)" % SQLSVC1)]
    planned = plan_aces(current, [SQLSVC1], "present")
    assert planned == [delegation_ace(SQLSVC1)]
    assert needs_write(current, planned)


def test_present_keeps_other_entries_and_drops_repeats():
    deny = ace_of("(D;;CR;;;%s)" % SQLSVC3)
    generic = ace_of("(A;;GA;;;%s)" % SQLSVC2)
    current = [deny, delegation_ace(SQLSVC1), generic, delegation_ace(SQLSVC1)]
    planned = plan_aces(current, [SQLSVC1], "present")
    assert planned == [deny, delegation_ace(SQLSVC1), generic]


def test_absent_removes_one_of_two():
    current = [delegation_ace(SQLSVC1), delegation_ace(SQLSVC2)]
    assert plan_aces(current, [SQLSVC1], "absent") == [delegation_ace(SQLSVC2)]


def test_absent_of_the_last_removes_the_attribute():
    current = read_descriptor(SAMBA_BYTES)
    planned = plan_aces(current, [SQLSVC1], "absent")
    assert planned is None and needs_write(current, planned)
    assert guarded_modification(SAMBA_BYTES, None) == {RBCD_ATTRIBUTE: [("MODIFY_DELETE", [SAMBA_BYTES])]}


def test_absent_removes_every_grant_of_the_principal():
    current = [ace_of("(A;;GA;;;%s)" % SQLSVC1), delegation_ace(SQLSVC1), delegation_ace(SQLSVC2)]
    assert plan_aces(current, [SQLSVC1], "absent") == [delegation_ace(SQLSVC2)]


def test_absent_leaving_only_a_deny_removes_the_attribute():
    current = [ace_of("(D;;CR;;;%s)" % SQLSVC3), delegation_ace(SQLSVC1)]
    assert plan_aces(current, [SQLSVC1], "absent") is None


@pytest.mark.parametrize("current", [None, [], [delegation_ace(SQLSVC2)]])
def test_absent_of_someone_not_there_writes_nothing(current):
    assert not needs_write(current, plan_aces(current, [SQLSVC1], "absent"))


def test_an_empty_descriptor_counts_as_none():
    """samba-tool delegation del-principal leaves an empty DACL behind."""
    empty = read_descriptor(SecurityDescriptor(control=0x8004, owner_sid="S-1-5-32-544", dacl=[]).to_bytes())
    assert empty == []
    assert not needs_write(empty, plan_aces(empty, [SQLSVC1], "absent"))
    assert not needs_write(empty, plan_aces(empty, [], "exact"))
    assert plan_aces(empty, [SQLSVC1], "present") == [delegation_ace(SQLSVC1)]


def test_exact_replaces_everything_else():
    current = [ace_of("(D;;CR;;;%s)" % SQLSVC3), delegation_ace(SQLSVC2), ace_of("(A;;GA;;;%s)" % SQLSVC1)]
    assert plan_aces(current, [SQLSVC1, SQLSVC2], "exact") == [delegation_ace(SQLSVC2), delegation_ace(SQLSVC1)]


def test_exact_in_another_order_writes_nothing():
    current = [delegation_ace(SQLSVC2), delegation_ace(SQLSVC1)]
    assert not needs_write(current, plan_aces(current, [SQLSVC1, SQLSVC2], "exact"))


def test_exact_with_nobody_removes_the_attribute():
    assert plan_aces([delegation_ace(SQLSVC1)], [], "exact") is None


def test_guarded_modification_shapes():
    new = build_descriptor([delegation_ace(SQLSVC2)])
    assert guarded_modification(None, new) == {RBCD_ATTRIBUTE: [("MODIFY_ADD", [new])]}
    assert guarded_modification(SAMBA_BYTES, new) == {
        RBCD_ATTRIBUTE: [("MODIFY_DELETE", [SAMBA_BYTES]), ("MODIFY_ADD", [new])]}


# -- input -----------------------------------------------------------------------

def params(**overrides):
    values = dict(account=None, host=None, principals=None, spns=None, state="present", targets=None,
                  unknown_principals="fail")
    values.update(overrides)
    return values


def test_one_target_shorthand():
    (target,) = prepare_targets(params(account="CORP\\sqlsvc2", principals=["sqlsvc1"],
                                       spns=["mssqlsvc/sql2.corp.example.com:1533"]))
    assert target.reference.text == "CORP\\sqlsvc2" and target.state == "present"
    assert [p.text for p in target.principals] == ["sqlsvc1"]
    assert target.spns == ("MSSQLSvc/sql2.corp.example.com:1533",)


def test_principals_with_hosts_and_repeats():
    (target,) = prepare_targets(params(targets=[dict(
        account="NT SERVICE\\MSSQLSERVER", host="sql3.corp.example.com", state="exact", spns=[],
        principals=["sqlsvc1", "sqlsvc1", dict(account="NT SERVICE\\MSSQL$WEB", host="sql4.corp.example.com")])]))
    assert target.reference.kind == "host_computer" and target.state == "exact"
    assert [(p.kind, p.value) for p in target.principals] == [("sam", "sqlsvc1"),
                                                              ("host_computer", "sql4.corp.example.com")]


@pytest.mark.parametrize("item, error, expected", [
    (dict(account="sqlsvc2", principals=[]), DelegationError, "no principals given"),
    (dict(account="sqlsvc2", principals=[42]), DelegationError, "a principal is an account name or a dict"),
    (dict(account="sqlsvc2", principals=[dict(account="x", port=1)]), DelegationError, "or a dict"),
    (dict(account="sqlsvc2", principals=["NT SERVICE\\MSSQLSERVER"]), DelegationError,
     "target 'sqlsvc2': 'NT SERVICE\\\\\\\\MSSQLSERVER' is the host's computer account"),
    (dict(account="NT SERVICE\\MSSQLSERVER", principals=["sqlsvc1"]), AccountError, "FQDN is needed"),
    (dict(account="sqlsvc2", principals=["NT AUTHORITY\\LOCAL SERVICE"]), DelegationError, "anonymous"),
    (dict(account="sqlsvc2", principals=["sqlsvc1"], spns=["MSSQLSvc/sql 2:1433"]), SpnError,
     "target 'sqlsvc2': .*white space"),
])
def test_bad_input_is_named(item, error, expected):
    item = dict(dict(host=None, state=None, spns=[]), **item)
    with pytest.raises(error, match=expected):
        prepare_targets(params(targets=[item]))


def test_exact_may_list_nobody_with_remove_all():
    (target,) = prepare_targets(params(account="sqlsvc2", principals=[], state="exact", remove_all=True))
    assert target.principals == () and target.remove_all


def test_exact_with_nobody_needs_remove_all():
    with pytest.raises(DelegationError, match="state=exact with no principals would remove every principal; set "
                                              "remove_all=true if that is meant; nothing written"):
        prepare_targets(params(account="sqlsvc2", principals=[], state="exact"))


@pytest.mark.parametrize("overrides", [dict(principals=["sqlsvc1"], state="exact"),
                                       dict(principals=["sqlsvc1"], state="present"),
                                       dict(principals=[], state="present")])
def test_remove_all_goes_with_exact_and_nobody_only(overrides):
    with pytest.raises(DelegationError):
        prepare_targets(params(account="sqlsvc2", remove_all=True, **overrides))


def test_empty_targets_are_named():
    with pytest.raises(DelegationError, match="targets is empty"):
        prepare_targets(params(account=None, principals=None, targets=[]))


# -- a fake directory -------------------------------------------------------------

USER_CLASSES = [b"top", b"person", b"organizationalPerson", b"user"]
CORP = dict(dn="DC=corp,DC=example,DC=com", netbios="CORP", dns="corp.example.com")
_TERM = re.compile(r"\(([A-Za-z]+)=((?:[^()\\]|\\[0-9a-fA-F]{2})*)\)")


def _unescape(text):
    return re.sub(rb"\\([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))


class FakeDirectory:
    """What rbkcd_delegate asks of DirectoryClient, over a dict of entries:
    equality OR filters, base reads, and modify with AD's rules for a
    single-valued attribute (deleting a value that is not there fails, adding
    a second value fails). ``before_modify`` runs before each modify, to play
    a concurrent writer."""

    default_naming_context = CORP["dn"]

    def __init__(self):
        self.entries = {}
        self.modifies = []
        self.before_modify = None

    def add(self, sam, rid, uac=512, spns=(), value=None):
        dn = "CN=%s,OU=Service Accounts,%s" % (sam, CORP["dn"])
        self.entries[dn] = {"sAMAccountName": [sam.encode()], "objectSid": [sid_to_bytes("%s-%d" % (DOMAIN_SID, rid))],
                            "objectClass": list(USER_CLASSES), "userAccountControl": [str(uac).encode()],
                            "servicePrincipalName": [spn.encode() for spn in spns],
                            RBCD_ATTRIBUTE: [value] if value else []}
        return dn

    def value(self, dn):
        values = self.entries[dn][RBCD_ATTRIBUTE]
        return values[0] if values else None

    def own_domain(self):
        return CORP

    def domain_of(self, dn):
        return CORP

    def global_catalog(self):
        return self

    def search(self, base, ldap_filter, attributes, scope="subtree", controls=None, paged=True,
               global_catalog=False):
        if scope == "base":
            hits = [base] if base in self.entries else []
        else:
            wanted = {(name.lower(), _unescape(value).lower()) for name, value in _TERM.findall(ldap_filter)
                      if name.lower() != "objectclass"}
            hits = [dn for dn, raw in self.entries.items()
                    if any((name.lower(), bytes(v).lower()) in wanted for name, values in raw.items() for v in values)]
        return [DirectoryEntry(dn, {name: values for name, values in self.entries[dn].items()
                                    if name.lower() in {a.lower() for a in attributes} and values}) for dn in hits]

    def modify(self, dn, changes, controls=None):
        if self.before_modify:
            self.before_modify(self)
        self.modifies.append((dn, changes))
        values = list(self.entries[dn][RBCD_ATTRIBUTE])
        for operation, items in changes[RBCD_ATTRIBUTE]:
            if operation == "MODIFY_DELETE":
                if items != values:
                    raise LdapError("modifying %s failed: noSuchAttribute" % dn, result="noSuchAttribute")
                values = []
            else:
                if values:
                    raise LdapError("modifying %s failed: attributeOrValueExists" % dn,
                                    result="attributeOrValueExists")
                values = list(items)
        self.entries[dn][RBCD_ATTRIBUTE] = values


def sids_in(value):
    return delegating_sids(read_descriptor(value))


@pytest.fixture
def directory():
    fake = FakeDirectory()
    fake.add("sqlsvc1", 1105, spns=["MSSQLSvc/sql1.corp.example.com:1433"])
    fake.add("sqlsvc2", 1106, spns=["MSSQLSvc/sql2.corp.example.com:1533"])
    fake.add("sqlsvc3", 1107)
    fake.add("sensitive", 1108, uac=512 | 0x100000, spns=["MSSQLSvc/sql8.corp.example.com:1433"])
    return fake


def run(directory, check_mode=False, **overrides):
    return rbkcd_delegate(directory, validate_rbkcd_delegate(params(**overrides)), check_mode)


def dn_of(directory, sam):
    return next(dn for dn, raw in directory.entries.items() if raw["sAMAccountName"] == [sam.encode()])


# -- the operation ----------------------------------------------------------------

def test_apply_then_rerun_changes_nothing(directory):
    first = run(directory, account="sqlsvc2", principals=["CORP\\sqlsvc1"],
                spns=["MSSQLSvc/sql2.corp.example.com:1533"])
    assert first["changed"] is True
    (target,) = first["targets"]
    assert target["added"] == [dict(name="CORP\\sqlsvc1", sid=SQLSVC1)]
    assert first["diff"] == dict(before={"CORP\\sqlsvc2": []},
                                 after={"CORP\\sqlsvc2": ["CORP\\sqlsvc1 (%s)" % SQLSVC1]})
    assert directory.value(dn_of(directory, "sqlsvc2")) == SAMBA_BYTES  # same bytes as samba-tool
    assert first["warnings"] == []

    second = run(directory, account="sqlsvc2", principals=["sqlsvc1@corp.example.com"])
    assert second["changed"] is False and second["diff"] == dict(before={}, after={})
    assert len(directory.modifies) == 1


def test_check_mode_writes_nothing_and_reports_the_same(directory):
    result = run(directory, check_mode=True, account="sqlsvc2", principals=["sqlsvc1"])
    assert result["changed"] is True and result["targets"][0]["added"][0]["name"] == "CORP\\sqlsvc1"
    assert directory.modifies == []


def test_removing_the_last_principal_removes_the_attribute(directory):
    run(directory, account="sqlsvc2", principals=["sqlsvc1"])
    result = run(directory, account="sqlsvc2", principals=["sqlsvc1"], state="absent")
    assert result["targets"][0]["removed"] == [dict(name="CORP\\sqlsvc1", sid=SQLSVC1)]
    assert result["targets"][0]["attribute_present"] is False
    assert directory.value(dn_of(directory, "sqlsvc2")) is None


def test_many_targets_in_one_call_and_both_ways(directory):
    result = run(directory, targets=[dict(account="sqlsvc1", principals=["sqlsvc2"], host=None, state=None, spns=[]),
                                     dict(account="sqlsvc2", principals=["sqlsvc1"], host=None, state=None, spns=[])])
    assert [t["account"]["name"] for t in result["targets"]] == ["CORP\\sqlsvc1", "CORP\\sqlsvc2"]
    assert sids_in(directory.value(dn_of(directory, "sqlsvc1"))) == [SQLSVC2]
    assert sids_in(directory.value(dn_of(directory, "sqlsvc2"))) == [SQLSVC1]


def test_the_same_target_in_other_words_is_merged(directory):
    result = run(directory, targets=[
        dict(account="sqlsvc2", principals=["sqlsvc1"], host=None, state=None, spns=[]),
        dict(account="CORP\\SQLSVC2", principals=["sqlsvc3"], host=None, state=None, spns=[])])
    assert len(result["targets"]) == 1 and len(directory.modifies) == 1
    assert sids_in(directory.value(dn_of(directory, "sqlsvc2"))) == [SQLSVC1, SQLSVC3]


def test_the_same_target_with_two_states_is_refused(directory):
    with pytest.raises(DelegationError, match="different states"):
        run(directory, targets=[
            dict(account="sqlsvc2", principals=["sqlsvc1"], host=None, state="present", spns=[]),
            dict(account=SQLSVC2, principals=["sqlsvc3"], host=None, state="absent", spns=[])])
    assert directory.modifies == []


def test_unknown_principals_fail_by_default_naming_all(directory):
    with pytest.raises(DelegationError) as error:
        run(directory, account="sqlsvc2", principals=["ghost1", "sqlsvc1", "ghost2"])
    assert "'ghost1' was not found" in str(error.value) and "'ghost2' was not found" in str(error.value)
    assert "nothing written" in str(error.value)
    assert directory.modifies == []


@pytest.mark.parametrize("mode, warned", [("warn", True), ("ignore", False)])
def test_unknown_principals_may_be_skipped(directory, mode, warned):
    result = run(directory, account="sqlsvc2", principals=["ghost1", "sqlsvc1"], unknown_principals=mode)
    assert sids_in(directory.value(dn_of(directory, "sqlsvc2"))) == [SQLSVC1]
    assert any("'ghost1' was not found" in w for w in result["warnings"]) is warned


def test_an_unknown_target_is_always_an_error(directory):
    with pytest.raises(DelegationError, match="'ghost' was not found"):
        run(directory, account="ghost", principals=["sqlsvc1"], unknown_principals="ignore")


def test_an_orphaned_sid_can_be_removed(directory):
    dn = dn_of(directory, "sqlsvc2")
    directory.entries[dn][RBCD_ATTRIBUTE] = [build_descriptor([delegation_ace(ORPHAN), delegation_ace(SQLSVC1)])]
    before = run(directory, check_mode=True, account="sqlsvc2", principals=[ORPHAN], state="absent")
    assert before["targets"][0]["removed"] == [dict(name=None, sid=ORPHAN)]
    assert before["diff"]["before"]["CORP\\sqlsvc2"] == [ORPHAN, "CORP\\sqlsvc1 (%s)" % SQLSVC1]
    run(directory, account="sqlsvc2", principals=[ORPHAN], state="absent")
    assert sids_in(directory.value(dn)) == [SQLSVC1]
    with pytest.raises(DelegationError, match="was not found"):
        run(directory, account="sqlsvc2", principals=[ORPHAN])


def test_a_generic_all_grant_is_repaired_and_named(directory):
    dn = dn_of(directory, "sqlsvc2")
    directory.entries[dn][RBCD_ATTRIBUTE] = [build_descriptor([ace_of("(A;;GA;;;%s)" % SQLSVC1)])]
    check = run(directory, check_mode=True, account="sqlsvc3", principals=["sqlsvc1"])
    assert check["changed"]
    result = run(directory, account="sqlsvc2", principals=["sqlsvc1"])
    assert result["changed"] and result["targets"][0]["added"] == [dict(name="CORP\\sqlsvc1", sid=SQLSVC1)]
    assert result["diff"]["before"]["CORP\\sqlsvc2"] == [
        "CORP\\sqlsvc1 (%s): non-standard entry (A;;GA;;;%s)" % (SQLSVC1, SQLSVC1)]
    assert directory.value(dn) == SAMBA_BYTES


def test_the_same_account_on_both_ends_writes_nothing(directory):
    """A linked server whose front and back end run as one account needs no
    delegation: a service may always use tickets to its own SPNs."""
    dn = dn_of(directory, "sqlsvc3")
    result = run(directory, account="sqlsvc3", principals=["sqlsvc3"])
    assert not result["changed"] and result["targets"][0]["added"] == []
    assert RBCD_ATTRIBUTE not in directory.entries[dn] or not directory.entries[dn][RBCD_ATTRIBUTE]
    # With another principal, only that one is added.
    result = run(directory, account="sqlsvc3", principals=["sqlsvc1", "sqlsvc3"])
    assert [p["name"] for p in result["targets"][0]["added"]] == ["CORP\\sqlsvc1"]
    assert read_descriptor(directory.value(dn)) == [delegation_ace(SQLSVC1)]


def test_an_old_self_entry_is_named_and_removed_in_exact_mode_only(directory):
    dn = dn_of(directory, "sqlsvc3")
    directory.entries[dn][RBCD_ATTRIBUTE] = [build_descriptor([delegation_ace(SQLSVC3)])]
    result = run(directory, account="sqlsvc3", principals=["sqlsvc3"])
    assert not result["changed"]
    assert any("CORP\\sqlsvc3 is allowed to delegate to itself" in w and "state=exact removes" in w
               for w in result["warnings"])
    result = run(directory, account="sqlsvc3", principals=["sqlsvc1"], state="exact")
    assert result["changed"] and read_descriptor(directory.value(dn)) == [delegation_ace(SQLSVC1)]


def test_a_non_standard_entry_of_someone_else_is_kept_with_a_warning(directory):
    dn = dn_of(directory, "sqlsvc2")
    directory.entries[dn][RBCD_ATTRIBUTE] = [build_descriptor([ace_of("(A;;GA;;;%s)" % SQLSVC3)])]
    result = run(directory, account="sqlsvc2", principals=["sqlsvc1"])
    assert result["targets"][0]["non_standard_entries"] == [
        dict(name="CORP\\sqlsvc3", sid=SQLSVC3, sddl="(A;;GA;;;%s)" % SQLSVC3)]
    assert any("generic mask is not honoured" in w for w in result["warnings"])
    assert read_descriptor(directory.value(dn)) == [ace_of("(A;;GA;;;%s)" % SQLSVC3), delegation_ace(SQLSVC1)]


def test_warnings_name_what_defeats_delegation(directory):
    result = run(directory, check_mode=True, targets=[
        dict(account="sqlsvc1", principals=["sensitive"], host=None, state=None,
             spns=["MSSQLSvc/sql1.corp.example.com:1433"]),
        dict(account="sqlsvc2", principals=["sqlsvc1"], host=None, state=None,
             spns=["MSSQLSvc/sql2.corp.example.com:9999", "MSSQLSvc/sql1.corp.example.com:1433"]),
        dict(account="sqlsvc3", principals=["sqlsvc1", "sqlsvc3"], host=None, state=None, spns=[])])
    text = "\n".join(result["warnings"])
    assert "CORP\\sensitive is marked 'Account is sensitive and cannot be delegated'" in text
    assert "MSSQLSvc/sql2.corp.example.com:9999 is registered on no account" in text
    assert "MSSQLSvc/sql1.corp.example.com:1433 is held by CORP\\sqlsvc1, not by CORP\\sqlsvc2" in text
    assert "CORP\\sqlsvc3 has no SPN at all" in text
    # Both ends as one account: nothing to grant, nothing said (below).
    assert "delegate to itself" not in text
    assert result["targets"][1]["spns"] == [
        dict(spn="MSSQLSvc/sql2.corp.example.com:9999", status="missing", holders=[]),
        dict(spn="MSSQLSvc/sql1.corp.example.com:1433", status="wrong_account", holders=["CORP\\sqlsvc1"])]
    assert result["targets"][0]["spns"][0]["status"] == "ok"


def test_no_warning_for_what_is_removed(directory):
    result = run(directory, check_mode=True, account="sqlsvc1", principals=["sensitive"], state="absent")
    assert result["warnings"] == []


@pytest.mark.parametrize("mode", ["warn", "ignore", "fail"])
def test_exact_with_unknown_principals_fails_before_writing_in_any_mode(directory, mode):
    """Reliability issue item 2: exact over principals that all (or some)
    do not resolve used to empty the attribute."""
    dn = dn_of(directory, "sqlsvc2")
    directory.entries[dn][RBCD_ATTRIBUTE] = [SAMBA_BYTES]
    with pytest.raises(DelegationError, match="state=exact needs every principal to resolve"):
        run(directory, account="sqlsvc2", principals=["nosuchfe"], state="exact", unknown_principals=mode)
    assert directory.modifies == [] and directory.value(dn) == SAMBA_BYTES


# -- concurrency ------------------------------------------------------------------

def test_a_concurrent_write_is_merged_not_lost(directory, monkeypatch):
    """Between this run's read and its write, another run adds sqlsvc3."""
    monkeypatch.setattr(_guarded_write, "back_off", lambda attempt: None)
    dn = dn_of(directory, "sqlsvc2")

    def other_run(fake):
        fake.before_modify = None
        fake.entries[dn][RBCD_ATTRIBUTE] = [build_descriptor([delegation_ace(SQLSVC3)])]

    directory.before_modify = other_run
    result = run(directory, account="sqlsvc2", principals=["sqlsvc1"])
    assert sids_in(directory.value(dn)) == [SQLSVC3, SQLSVC1]
    assert len(directory.modifies) == 2  # the first failed on the guard
    assert result["targets"][0]["write_attempts"] == 2
    assert result["targets"][0]["principals_before"] == [dict(name="CORP\\sqlsvc3", sid=SQLSVC3)]


def test_a_concurrent_run_that_did_the_same_leaves_nothing_to_do(directory, monkeypatch):
    monkeypatch.setattr(_guarded_write, "back_off", lambda attempt: None)
    dn = dn_of(directory, "sqlsvc2")

    def other_run(fake):
        fake.before_modify = None
        fake.entries[dn][RBCD_ATTRIBUTE] = [SAMBA_BYTES]

    directory.before_modify = other_run
    result = run(directory, account="sqlsvc2", principals=["sqlsvc1"])
    assert result["changed"] is False and len(directory.modifies) == 1
    # Reliability issue item 7: changed only for this run's own write.
    assert result["targets"][0]["changed"] is False
    assert result["targets"][0]["added"] == [] and result["diff"] == dict(before={}, after={})


def test_sixteen_interleaved_runs_lose_no_principal(directory, monkeypatch):
    """Sixteen runs read the same value, then write one after the other:
    every write after the first hits the guard, re-reads and retries."""
    monkeypatch.setattr(_guarded_write, "back_off", lambda attempt: None)
    principals = ["p%02d" % n for n in range(16)]
    for n, name in enumerate(principals):
        directory.add(name, 2000 + n)
    dn = dn_of(directory, "sqlsvc2")
    plans = []
    for name in principals:
        request = validate_rbkcd_delegate(params(account="sqlsvc2", principals=[name]))
        accounts, problems = _rbkcd.find_accounts(directory, [request["targets"][0].reference,
                                                              *request["targets"][0].principals])
        sids, _warnings = _rbkcd.resolve_principals(request["targets"], accounts, problems, "fail")
        (plan,) = _rbkcd.merge_targets(request["targets"], accounts, sids)
        plan.replan(directory.value(dn))  # every run read the same (empty) value
        plans.append(plan)
    for plan in plans:
        _rbkcd.write_plan(directory, plan)
    assert sorted(sids_in(directory.value(dn))) == sorted("%s-%d" % (DOMAIN_SID, 2000 + n) for n in range(16))
    assert len(directory.modifies) == 16 + 15  # one failed attempt for each run but the first


def test_a_real_error_is_not_retried(directory):
    def refuse(fake):
        raise LdapError("modifying failed: insufficientAccessRights", result="insufficientAccessRights")

    directory.before_modify = refuse
    with pytest.raises(LdapError, match="insufficientAccessRights"):
        run(directory, account="sqlsvc2", principals=["sqlsvc1"])


def test_writers_that_never_stop_make_it_give_up(directory, monkeypatch):
    monkeypatch.setattr(_guarded_write, "back_off", lambda attempt: None)
    dn = dn_of(directory, "sqlsvc2")
    counter = iter(range(3000, 4000))

    def always_another(fake):
        fake.entries[dn][RBCD_ATTRIBUTE] = [build_descriptor([delegation_ace("%s-%d" % (DOMAIN_SID, next(counter)))])]

    directory.before_modify = always_another
    with pytest.raises(LdapError, match="kept changing under concurrent writers; gave up after 20 attempts"):
        run(directory, account="sqlsvc2", principals=["sqlsvc1"])


def test_mask_constant_matches_samba():
    ace = read_descriptor(SAMBA_BYTES)[0]
    assert ace.mask == DELEGATION_MASK and not ace.mask & GENERIC_ALL
    assert sid_from_bytes(sid_to_bytes(SQLSVC1))[0] == SQLSVC1
