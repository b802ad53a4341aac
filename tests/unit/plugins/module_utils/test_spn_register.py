# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spn_register's logic: input validation, change planning (pure), and the
writes against a small in-memory directory that behaves like a DC where it
matters (atomic modifies, SPN uniqueness, Samba's refusal to delete one value
of a duplicated SPN)."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    Account,
    AccountError,
    parse_account_reference,
)
import struct

from ansible_collections.sqlauth.kerberos.plugins.module_utils._guarded_write import GUARD_PREFIX
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import DirectoryEntry, LdapError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import sid_to_bytes
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError, spn_key
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.guard_token import dns_named, guard_values_after
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_register import (
    AccountChange,
    Registration,
    apply_changes,
    plan_changes,
    prepare_registrations,
    spn_register,
    validate_spn_register,
)

DOMAIN = dict(dn="DC=corp,DC=example,DC=com", netbios="CORP", dns="corp.example.com")
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"
USER_CLASSES = ("top", "person", "organizationalPerson", "user")
COMPUTER_CLASSES = USER_CLASSES + ("computer",)

SQL01_PORT = "MSSQLSvc/sql01.corp.example.com:1433"
SQL01 = "MSSQLSvc/sql01.corp.example.com"
SQL01_NETBIOS_PORT = "MSSQLSvc/sql01:1433"
SQL01_NETBIOS = "MSSQLSvc/sql01"
SQL02_PORT = "MSSQLSvc/sql02.corp.example.com:1433"


def make_account(sam, rid, *spns, classes=USER_CLASSES):
    return Account(dn="CN=%s,OU=SQL,DC=corp,DC=example,DC=com" % sam.rstrip("$"), sid="%s-%d" % (DOMAIN_SID, rid),
                   sam_account_name=sam, domain_netbios="CORP", object_classes=list(classes), spns=list(spns))


def module_params(**options):
    """The parameters as AnsibleModule hands them over: every option there,
    the defaults of state and move applied."""
    params = dict(account=None, spns=None, registrations=None, state="present", move=False)
    params.update(options)
    return params


def holders_of(directory):
    """{spn_key: [Account]} over every SPN of the accounts, as find_spn_holders returns it."""
    holders = {}
    for account in sorted(directory, key=lambda a: a.name.lower()):
        for spn in account.spns:
            holders.setdefault(spn_key(spn), []).append(account)
    return holders


def plan(directory, *items, move=False):
    """plan_changes for registration items over a few accounts; an item's
    account names a sAMAccountName of one of them."""
    registrations = prepare_registrations(module_params(registrations=list(items), move=move))
    by_sam = {account.sam_account_name.lower(): account for account in directory}
    accounts = {r.reference: by_sam[r.reference.value.lower()] for r in registrations}
    return plan_changes(registrations, accounts, holders_of(directory))


def summary(changes):
    return {change.account.name: dict(add=change.add, remove=change.remove, moved_from=change.moved_from)
            for change in changes}


# -- prepare_registrations --------------------------------------------------------

def test_single_account_form():
    registrations = prepare_registrations(module_params(account="CORP\\sqlsvc",
                                                        spns=["mssqlsvc/SQL01.Corp.Example.COM:1433"]))
    assert registrations == [Registration(parse_account_reference("CORP\\sqlsvc"), (SQL01_PORT,), "present", False)]


def test_single_account_form_takes_state_and_move():
    registrations = prepare_registrations(module_params(account="sqlsvc", spns=[SQL01_PORT], state="exact", move=True))
    assert [(r.state, r.move) for r in registrations] == [("exact", True)]


def test_registrations_default_state_and_move_from_the_top_level():
    registrations = prepare_registrations(module_params(state="exact", move=True, registrations=[
        dict(account="sqlsvc1", spns=[SQL01_PORT]),
        dict(account="sqlsvc2", spns=[SQL02_PORT], state=None, move=None),  # unset suboptions arrive as None
        dict(account="sqlsvc3", spns=["MSSQLSvc/sql03.corp.example.com:1433"], state="absent", move=False),
        dict(account="sqlsvc4", spns=["MSSQLSvc/sql04.corp.example.com:1433"], state="present", move=True),
    ]))
    assert [(r.reference.text, r.state, r.move) for r in registrations] == [
        ("sqlsvc1", "exact", True),
        ("sqlsvc2", "exact", True),
        ("sqlsvc3", "absent", False),  # an explicit false is not overridden
        ("sqlsvc4", "present", True),
    ]


def test_registrations_keep_their_order_and_parse_every_account_form():
    registrations = prepare_registrations(module_params(registrations=[
        dict(account="CORP\\sqlsvc", spns=[SQL01_PORT]),
        dict(account="gmsa-sql02$", spns=[SQL02_PORT]),
        dict(account="sqlsvc3@corp.example.com", spns=["MSSQLSvc/sql03.corp.example.com:1433"]),
        dict(account="CN=sqlsvc4,OU=SQL,DC=corp,DC=example,DC=com", spns=["MSSQLSvc/sql04.corp.example.com:1433"]),
    ]))
    assert [(r.reference.kind, r.reference.value) for r in registrations] == [
        ("sam", "sqlsvc"), ("sam", "gmsa-sql02$"), ("upn", "sqlsvc3@corp.example.com"),
        ("dn", "CN=sqlsvc4,OU=SQL,DC=corp,DC=example,DC=com"),
    ]


@pytest.mark.parametrize("given, canonical", [
    ("mssqlsvc/SQL01.corp.example.com:1433", SQL01_PORT),
    ("MSSQLSVC/sql01:sales", "MSSQLSvc/sql01:SALES"),
    ("MSSQLSvc/SQL01.Corp.Example.com.", SQL01),  # the root's trailing dot goes
    ("HTTP/Web01.Corp.Example.com", "HTTP/web01.corp.example.com"),  # other classes keep their spelling
    ("http/web01.corp.example.com:8080/App", "http/web01.corp.example.com:8080/App"),
])
def test_spns_are_canonicalised(given, canonical):
    registration = prepare_registrations(module_params(account="sqlsvc", spns=[given]))[0]
    assert registration.spns == (canonical,)


def test_spns_given_twice_count_once():
    registration = prepare_registrations(module_params(account="sqlsvc", spns=[
        SQL01_PORT, SQL01, "mssqlsvc/SQL01.CORP.EXAMPLE.COM:1433"]))[0]
    assert registration.spns == (SQL01_PORT, SQL01)


@pytest.mark.parametrize("spn, problem", [
    ("", "SPN is empty"),
    ("MSSQLSvc", "is not of the form serviceclass/host[:port][/servicename]"),
    ("MSSQLSvc/sql01 .corp.example.com", "contains white space"),
    ("MSSQLSvc/sql01:1433/extra", "must not have a service name part"),
    ("MSSQLSvc/10.0.0.5:1433", "is an IP address"),
    ("MSSQLSvc/sql01:70000", "is not a TCP port number"),
    ("MSSQLSvc/sql01:NAME_LONGER_THAN_16", "is not a valid SQL Server instance name"),
    ("HTTP/web01:abc", "is not a number"),
    ("1HTTP/web01", "has an invalid service class"),
])
def test_malformed_spns_are_refused_naming_the_account(spn, problem):
    with pytest.raises(SpnError) as raised:
        prepare_registrations(module_params(registrations=[
            dict(account="sqlsvc1", spns=[SQL01_PORT]),
            dict(account="sqlsvc2", spns=[SQL02_PORT, spn]),
        ]))
    message = str(raised.value)
    assert message.startswith("account 'sqlsvc2': ")
    assert problem in message


@pytest.mark.parametrize("state", ["present", "absent"])
def test_an_empty_list_is_refused_unless_exact(state):
    with pytest.raises(SpnError, match=r"^account 'sqlsvc': no SPNs given$"):
        prepare_registrations(module_params(account="sqlsvc", spns=[], state=state))


def test_exact_accepts_an_empty_list():
    registration = prepare_registrations(module_params(account="sqlsvc", spns=[], state="exact"))[0]
    assert registration.spns == ()


@pytest.mark.parametrize("account", ["LocalService", "LocalSystem", "CORP\\", "sql/svc"])
def test_account_names_that_cannot_be_resolved_are_refused(account):
    with pytest.raises(AccountError):
        prepare_registrations(module_params(account=account, spns=[SQL01_PORT]))


def test_the_same_spn_wanted_on_two_accounts_is_refused():
    with pytest.raises(SpnError) as raised:
        prepare_registrations(module_params(registrations=[
            dict(account="sqlsvc1", spns=[SQL01_PORT, SQL01, SQL02_PORT]),
            dict(account="sqlsvc2", spns=["mssqlsvc/SQL01.corp.example.com:1433"], state="exact"),
            dict(account="sqlsvc3", spns=[SQL02_PORT], move=True),
        ]))
    assert str(raised.value) == (
        "an SPN can be on one account only: "
        "mssqlsvc/sql01.corp.example.com:1433 (wanted on sqlsvc1 and sqlsvc2); "
        "mssqlsvc/sql02.corp.example.com:1433 (wanted on sqlsvc1 and sqlsvc3)")


def test_absent_registrations_do_not_clash():
    registrations = prepare_registrations(module_params(registrations=[
        dict(account="sqlsvc", spns=[SQL01_PORT]),
        dict(account="oldsvc", spns=[SQL01_PORT], state="absent"),
        dict(account="othersvc", spns=[SQL01_PORT], state="absent"),
    ]))
    assert len(registrations) == 3


@pytest.mark.parametrize("second", ["CORP\\sqlsvc", "corp\\SQLSVC"])
def test_one_account_named_twice_does_not_clash(second):
    registrations = prepare_registrations(module_params(registrations=[
        dict(account="CORP\\sqlsvc", spns=[SQL01_PORT]),
        dict(account=second, spns=[SQL01_PORT, SQL01], state="exact"),
    ]))
    assert [r.state for r in registrations] == ["present", "exact"]


def test_validate_spn_register_wraps_the_registrations():
    request = validate_spn_register(module_params(account="sqlsvc", spns=[SQL01_PORT]))
    assert list(request) == ["registrations"]
    assert request["registrations"][0].spns == (SQL01_PORT,)


# -- plan_changes: present, absent, exact ----------------------------------------

def test_present_adds_only_what_is_missing_comparing_case_insensitively():
    sqlsvc = make_account("sqlsvc", 1105, "mssqlsvc/SQL01.corp.example.com:1433", "HOST/elsewhere")
    changes = plan([sqlsvc], dict(account="CORP\\sqlsvc", spns=[SQL01_PORT, SQL01_NETBIOS_PORT]))
    assert summary(changes) == {
        "CORP\\sqlsvc": dict(add={"mssqlsvc/sql01:1433": SQL01_NETBIOS_PORT}, remove={}, moved_from={}),
    }


def test_present_with_everything_registered_plans_nothing():
    sqlsvc = make_account("sqlsvc", 1105, "MSSQLSVC/SQL01.CORP.EXAMPLE.COM:1433", SQL01)
    assert plan([sqlsvc], dict(account="sqlsvc", spns=[SQL01_PORT, SQL01])) == []


def test_absent_removes_the_value_as_stored():
    sqlsvc = make_account("sqlsvc", 1105, "mssqlsvc/SQL01.Corp.Example.com:1433", SQL01)
    changes = plan([sqlsvc], dict(account="sqlsvc", spns=[SQL01_PORT, SQL01_NETBIOS_PORT], state="absent"))
    assert summary(changes) == {
        "CORP\\sqlsvc": dict(add={}, remove={spn_key(SQL01_PORT): "mssqlsvc/SQL01.Corp.Example.com:1433"},
                             moved_from={}),
    }


def test_absent_leaves_other_holders_alone():
    sqlsvc = make_account("sqlsvc", 1105, SQL01)
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT)
    assert plan([oldsvc, sqlsvc], dict(account="sqlsvc", spns=[SQL01_PORT], state="absent")) == []


def test_exact_removes_other_spns_of_the_same_service_class_only():
    sqlsvc = make_account("sqlsvc", 1105, "HOST/sql01", "HOST/sql01.corp.example.com", "HTTP/sql01.corp.example.com",
                          "MSSQLSvc/old.corp.example.com:1433", "mssqlsvc/SQL01.corp.example.com:1433")
    changes = plan([sqlsvc], dict(account="sqlsvc", spns=[SQL01_PORT, SQL01_NETBIOS_PORT], state="exact"))
    assert summary(changes) == {
        "CORP\\sqlsvc": dict(add={spn_key(SQL01_NETBIOS_PORT): SQL01_NETBIOS_PORT},
                             remove={"mssqlsvc/old.corp.example.com:1433": "MSSQLSvc/old.corp.example.com:1433"},
                             moved_from={}),
    }
    assert changes[0].after() == ["HOST/sql01", "HOST/sql01.corp.example.com", "HTTP/sql01.corp.example.com",
                                  "mssqlsvc/SQL01.corp.example.com:1433", SQL01_NETBIOS_PORT]


def test_exact_manages_every_service_class_it_names():
    sqlsvc = make_account("sqlsvc", 1105, "HOST/sql01", "HTTP/old.corp.example.com", "MSSQLSvc/old.corp.example.com")
    changes = plan([sqlsvc], dict(account="sqlsvc", spns=[SQL01, "http/web.corp.example.com"], state="exact"))
    assert sorted(changes[0].remove.values()) == ["HTTP/old.corp.example.com", "MSSQLSvc/old.corp.example.com"]
    assert sorted(changes[0].add.values()) == [SQL01, "http/web.corp.example.com"]


def test_exact_with_an_empty_list_names_no_service_class_and_removes_nothing():
    sqlsvc = make_account("sqlsvc", 1105, "HOST/sql01", SQL01_PORT)
    assert plan([sqlsvc], dict(account="sqlsvc", spns=[], state="exact")) == []


def test_the_account_itself_found_as_a_holder_is_no_other_holder():
    sqlsvc = make_account("sqlsvc", 1105)
    # The Global Catalog returns its own copy of the account, DN spelled its way.
    same_from_gc = make_account("SQLSVC", 1105, SQL01_PORT)
    same_from_gc.dn = same_from_gc.dn.upper()
    registrations = prepare_registrations(module_params(account="sqlsvc", spns=[SQL01_PORT]))
    changes = plan_changes(registrations, {registrations[0].reference: sqlsvc}, holders_of([same_from_gc]))
    assert summary(changes) == {
        "CORP\\sqlsvc": dict(add={spn_key(SQL01_PORT): SQL01_PORT}, remove={}, moved_from={}),
    }


# -- plan_changes: SPNs other accounts hold ----------------------------------------

def test_an_spn_held_elsewhere_blocks_everything_without_move():
    sqlsvc = make_account("sqlsvc", 1105, SQL01_NETBIOS_PORT)
    oldsvc = make_account("oldsvc", 1107, "mssqlsvc/SQL01.corp.example.com:1433", SQL01_NETBIOS_PORT)
    othersvc = make_account("othersvc", 1108, SQL01_NETBIOS_PORT, SQL01)
    with pytest.raises(SpnError) as raised:
        plan([sqlsvc, oldsvc, othersvc],
             dict(account="sqlsvc", spns=[SQL01_PORT, SQL01_NETBIOS_PORT, SQL01, SQL01_NETBIOS]))
    assert str(raised.value) == (
        "not registered, nothing written: "
        "MSSQLSvc/sql01.corp.example.com:1433 is held by CORP\\oldsvc; "
        "MSSQLSvc/sql01:1433 is held by CORP\\oldsvc, CORP\\othersvc as well (a duplicate); "
        "MSSQLSvc/sql01.corp.example.com is held by CORP\\othersvc; "
        "set move: true to take them from there")


def test_blocked_spns_of_every_registration_are_listed_together():
    sqlsvc1 = make_account("sqlsvc1", 1105)
    sqlsvc2 = make_account("sqlsvc2", 1106)
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT, SQL02_PORT)
    with pytest.raises(SpnError) as raised:
        plan([sqlsvc1, sqlsvc2, oldsvc], dict(account="sqlsvc1", spns=[SQL01_PORT, SQL01]),
             dict(account="sqlsvc2", spns=[SQL02_PORT]))
    assert str(raised.value) == (
        "not registered, nothing written: %s is held by CORP\\oldsvc; %s is held by CORP\\oldsvc; "
        "set move: true to take them from there" % (SQL01_PORT, SQL02_PORT))


def test_move_removes_the_spn_from_every_other_holder_as_stored():
    sqlsvc = make_account("sqlsvc", 1105)
    oldsvc = make_account("oldsvc", 1107, "mssqlsvc/SQL01.corp.example.com:1433", SQL01)
    othersvc = make_account("othersvc", 1108, "MSSQLSvc/sql01.CORP.example.com:1433")
    changes = plan([sqlsvc, oldsvc, othersvc], dict(account="sqlsvc", spns=[SQL01_PORT], move=True))
    key = spn_key(SQL01_PORT)
    assert summary(changes) == {
        "CORP\\sqlsvc": dict(add={key: SQL01_PORT}, remove={},
                             moved_from={SQL01_PORT: ["CORP\\oldsvc", "CORP\\othersvc"]}),
        "CORP\\oldsvc": dict(add={}, remove={key: "mssqlsvc/SQL01.corp.example.com:1433"}, moved_from={}),
        "CORP\\othersvc": dict(add={}, remove={key: "MSSQLSvc/sql01.CORP.example.com:1433"}, moved_from={}),
    }


def test_move_from_the_top_level_applies_to_every_registration():
    sqlsvc = make_account("sqlsvc", 1105)
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT)
    changes = plan([sqlsvc, oldsvc], dict(account="sqlsvc", spns=[SQL01_PORT]), move=True)
    assert summary(changes)["CORP\\sqlsvc"]["moved_from"] == {SQL01_PORT: ["CORP\\oldsvc"]}


def test_a_keeper_of_a_duplicate_gets_no_add_but_a_moved_from():
    sqlsvc = make_account("sqlsvc", 1105, SQL01_PORT)
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT)
    changes = plan([sqlsvc, oldsvc], dict(account="sqlsvc", spns=[SQL01_PORT], move=True))
    assert summary(changes) == {
        "CORP\\sqlsvc": dict(add={}, remove={}, moved_from={SQL01_PORT: ["CORP\\oldsvc"]}),
        "CORP\\oldsvc": dict(add={}, remove={spn_key(SQL01_PORT): SQL01_PORT}, moved_from={}),
    }
    # Nothing to write on the keeper, but it is reported.
    assert changes[0].empty


def test_changes_for_one_account_from_several_registrations_merge():
    sqlsvc = make_account("sqlsvc", 1105, "MSSQLSvc/retired.corp.example.com:1433")
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT, "MSSQLSvc/old.corp.example.com:1433")
    changes = plan([sqlsvc, oldsvc],
                   dict(account="sqlsvc", spns=[SQL01_PORT], move=True),
                   dict(account="CORP\\sqlsvc", spns=["MSSQLSvc/retired.corp.example.com:1433"], state="absent"),
                   dict(account="oldsvc", spns=["MSSQLSvc/old.corp.example.com:1433"], state="absent"))
    assert summary(changes) == {
        "CORP\\sqlsvc": dict(add={spn_key(SQL01_PORT): SQL01_PORT},
                             remove={"mssqlsvc/retired.corp.example.com:1433": "MSSQLSvc/retired.corp.example.com:1433"},
                             moved_from={SQL01_PORT: ["CORP\\oldsvc"]}),
        "CORP\\oldsvc": dict(add={}, remove={spn_key(SQL01_PORT): SQL01_PORT,
                                             "mssqlsvc/old.corp.example.com:1433": "MSSQLSvc/old.corp.example.com:1433"},
                             moved_from={}),
    }


def test_an_spn_the_same_call_removes_from_its_holder_is_not_blocked():
    # The module's documented example: exact on the new account, absent on the old one.
    sqlsvc1 = make_account("sqlsvc1", 1105)
    old = make_account("sqlsvc-old", 1107, SQL01_PORT, "HOST/keep")
    changes = plan([sqlsvc1, old], dict(account="CORP\\sqlsvc1", spns=[SQL01_PORT, SQL01], state="exact"),
                   dict(account="CORP\\sqlsvc-old", spns=[SQL01_PORT], state="absent"))
    assert summary(changes) == {
        "CORP\\sqlsvc1": dict(add={spn_key(SQL01_PORT): SQL01_PORT, spn_key(SQL01): SQL01}, remove={}, moved_from={}),
        "CORP\\sqlsvc-old": dict(add={}, remove={spn_key(SQL01_PORT): SQL01_PORT}, moved_from={}),
    }


def test_an_spn_the_holders_own_exact_registration_drops_is_not_blocked():
    sqlsvc = make_account("sqlsvc", 1105)
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT)
    changes = plan([sqlsvc, oldsvc], dict(account="oldsvc", spns=[SQL02_PORT], state="exact"),
                   dict(account="sqlsvc", spns=[SQL01_PORT]))
    assert summary(changes) == {
        "CORP\\oldsvc": dict(add={spn_key(SQL02_PORT): SQL02_PORT}, remove={spn_key(SQL01_PORT): SQL01_PORT},
                             moved_from={}),
        "CORP\\sqlsvc": dict(add={spn_key(SQL01_PORT): SQL01_PORT}, remove={}, moved_from={}),
    }


def test_a_holder_the_call_leaves_alone_still_blocks():
    sqlsvc = make_account("sqlsvc", 1105)
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT)
    othersvc = make_account("othersvc", 1108, SQL01_PORT)
    with pytest.raises(SpnError, match=r"^not registered, nothing written: MSSQLSvc/sql01\.corp\.example\.com:1433 "
                                       r"is held by CORP\\othersvc; set move"):
        plan([sqlsvc, oldsvc, othersvc], dict(account="sqlsvc", spns=[SQL01_PORT]),
             dict(account="oldsvc", spns=[SQL01_PORT], state="absent"))


# -- AccountChange ---------------------------------------------------------------

def test_after_keeps_applies_and_sorts_case_insensitively():
    account = make_account("sqlsvc", 1105, "MSSQLSvc/b.corp.example.com:1433", "HOST/sql01", "mssqlsvc/OLD:1433")
    change = AccountChange(account, add={"mssqlsvc/a.corp.example.com:1433": "MSSQLSvc/a.corp.example.com:1433"},
                           remove={"mssqlsvc/old:1433": "mssqlsvc/OLD:1433"})
    assert change.after() == ["HOST/sql01", "MSSQLSvc/a.corp.example.com:1433", "MSSQLSvc/b.corp.example.com:1433"]
    # The account as read is not touched.
    assert account.spns == ["MSSQLSvc/b.corp.example.com:1433", "HOST/sql01", "mssqlsvc/OLD:1433"]


def test_an_account_change_is_empty_without_add_and_remove():
    account = make_account("sqlsvc", 1105, SQL01_PORT)
    assert AccountChange(account).empty
    assert AccountChange(account, moved_from={SQL01_PORT: ["CORP\\oldsvc"]}).empty
    assert not AccountChange(account, add={spn_key(SQL01): SQL01}).empty
    assert not AccountChange(account, remove={spn_key(SQL01_PORT): SQL01_PORT}).empty
    assert AccountChange(account).after() == [SQL01_PORT]


# -- a directory to write to ---------------------------------------------------------

def constraint_violation(dn):
    return LdapError("modifying %s failed: constraintViolation: SPN not unique" % dn, result="constraintViolation")


def entry_of(account, attributes=None):
    raw = {
        "sAMAccountName": [account.sam_account_name.encode()],
        "objectSid": [sid_to_bytes(account.sid)],
        "objectClass": [name.encode() for name in account.object_classes],
        "servicePrincipalName": [spn.encode() for spn in account.spns],
        "userAccountControl": [b"512"],
    }
    if attributes is not None:
        wanted = {name.lower() for name in attributes}
        raw = {name: values for name, values in raw.items() if name.lower() in wanted}
    return DirectoryEntry(account.dn, raw)


class FakeDirectory:
    """The part of DirectoryClient spn_register uses, over Account objects.

    Subtree searches return every account: the code picks what it asked for.
    ``modify`` is atomic and checks what a DC checks: deleting a value the
    account lacks is noSuchAttribute, adding an SPN another account holds is a
    constraintViolation (the uniqueness check), and with
    ``refuse_duplicate_delete`` so is deleting one value of an SPN another
    account also holds (Samba). ``fail_next`` errors are raised by the next
    modifies, in order, before anything else."""

    default_naming_context = DOMAIN["dn"]

    def __init__(self, *accounts, refuse_duplicate_delete=False):
        self.accounts = {account.dn.lower(): account for account in accounts}
        self.refuse_duplicate_delete = refuse_duplicate_delete
        self.fail_next = []
        self.modifications = []
        self.searches = 0
        self.reads = []          # objects read alone (scope base)
        self.batched_reads = []  # the DNs of each batched read by DN
        self.guards = {}      # dn folded: extensionName values
        self.versions = {}    # dn folded: servicePrincipalName's replication version
        self.before_modify = []  # other writers' changes, one made just before each modify arrives

    def own_domain(self):
        return DOMAIN

    def domain_of(self, dn):
        return DOMAIN if dn.lower().endswith(DOMAIN["dn"].lower()) else None

    def global_catalog(self):
        return self

    def search(self, base, ldap_filter, attributes, scope="subtree", controls=None, paged=True, global_catalog=False):
        self.searches += 1
        if scope == "base":
            self.reads.append(base)
            return [self.guarded_entry(base, attributes)]
        named = dns_named(ldap_filter)
        if named:
            # A batched read by DN (the guarded replace's): one search for them all.
            self.batched_reads.append(named)
            return [self.guarded_entry(dn, attributes) for dn in named if dn.lower() in self.accounts]
        return [entry_of(account, attributes) for account in self.accounts.values()]

    def guarded_entry(self, dn, attributes):
        entry = entry_of(self.accounts[dn.lower()], attributes)
        entry.raw["extensionname"] = [v.encode() for v in self.guards.get(dn.lower(), [])]
        # One attribute in a PROPERTY_META_DATA_VECTOR: servicePrincipalName's version.
        entry.raw["replpropertymetadata"] = [struct.pack("<IIII", 1, 0, 1, 0) + struct.pack(
            "<II", 0x00090303, self.versions.get(dn.lower(), 1)) + bytes(40)]
        return entry

    def add(self, account):
        self.accounts[account.dn.lower()] = account

    def account(self, sam):
        return next(a for a in self.accounts.values() if a.sam_account_name == sam)

    def spns(self, sam):
        return self.account(sam).spns

    def modify(self, dn, changes, controls=None):
        self.modifications.append((dn, changes))
        if self.fail_next:
            raise self.fail_next.pop(0)
        if self.before_modify:
            self.before_modify.pop(0)(self)
        guards = guard_values_after(dn, self.guards.get(dn.lower(), []), changes)
        account = self.accounts[dn.lower()]
        values = list(account.spns)
        for operation, spns in changes.get("servicePrincipalName", []):
            if operation == "MODIFY_REPLACE":
                values = list(spns)
                continue
            for spn in spns:
                held = [value for value in values if spn_key(value) == spn_key(spn)]
                elsewhere = [other for other in self.accounts.values()
                             if other is not account and spn_key(spn) in {spn_key(value) for value in other.spns}]
                if operation == "MODIFY_DELETE":
                    if not held:
                        raise LdapError("modifying %s failed: noSuchAttribute" % dn, result="noSuchAttribute")
                    if elsewhere and self.refuse_duplicate_delete:
                        raise constraint_violation(dn)
                    values.remove(held[0])
                else:
                    assert operation == "MODIFY_ADD"
                    if held:
                        raise LdapError("modifying %s failed: attributeOrValueExists" % dn,
                                        result="attributeOrValueExists")
                    if elsewhere:
                        raise constraint_violation(dn)
                    values.append(spn)
        if "servicePrincipalName" in changes:
            account.spns = values
            self.bump(dn)
        self.guards[dn.lower()] = guards

    def bump(self, dn):
        self.versions[dn.lower()] = self.versions.get(dn.lower(), 1) + 1


def operations(directory):
    """The modifies of servicePrincipalName made, as (sAMAccountName, [(operation, values)])."""
    names = {account.dn: account.sam_account_name for account in directory.accounts.values()}
    return [(names[dn], changes["servicePrincipalName"]) for dn, changes in directory.modifications
            if "servicePrincipalName" in changes]


def guard_operations(directory):
    """The modifies' changes of the guard token, as operation names."""
    return [[operation for operation, _values in changes["extensionName"]]
            for _dn, changes in directory.modifications if "extensionName" in changes]


# -- apply_changes ---------------------------------------------------------------

def test_removal_only_changes_are_written_first_one_modify_per_account():
    sqlsvc = make_account("sqlsvc", 1105, "MSSQLSvc/old.corp.example.com:1433")
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT, SQL01)
    othersvc = make_account("othersvc", 1108, SQL01_NETBIOS_PORT)
    newsvc = make_account("newsvc", 1109)
    directory = FakeDirectory(sqlsvc, oldsvc, othersvc, newsvc)
    changes = [
        AccountChange(sqlsvc, add={spn_key(SQL01): SQL01, spn_key(SQL01_PORT): SQL01_PORT},
                      remove={"mssqlsvc/old.corp.example.com:1433": "MSSQLSvc/old.corp.example.com:1433"}),
        AccountChange(oldsvc, remove={spn_key(SQL01_PORT): SQL01_PORT, spn_key(SQL01): SQL01}),
        AccountChange(newsvc, add={spn_key(SQL01_NETBIOS_PORT): SQL01_NETBIOS_PORT}),
        AccountChange(othersvc, remove={spn_key(SQL01_NETBIOS_PORT): SQL01_NETBIOS_PORT}),
    ]
    apply_changes(directory, changes)
    assert operations(directory) == [
        ("oldsvc", [("MODIFY_DELETE", [SQL01, SQL01_PORT])]),
        ("othersvc", [("MODIFY_DELETE", [SQL01_NETBIOS_PORT])]),
        ("sqlsvc", [("MODIFY_DELETE", ["MSSQLSvc/old.corp.example.com:1433"]),
                    ("MODIFY_ADD", [SQL01, SQL01_PORT])]),
        ("newsvc", [("MODIFY_ADD", [SQL01_NETBIOS_PORT])]),
    ]
    assert directory.spns("sqlsvc") == [SQL01, SQL01_PORT]
    assert directory.spns("oldsvc") == directory.spns("othersvc") == []
    assert directory.spns("newsvc") == [SQL01_NETBIOS_PORT]
    assert directory.reads == []


def test_a_change_that_frees_an_spn_goes_before_the_change_adding_it():
    # oldsvc gives SQL01_PORT up and takes another SPN in the same modify.
    sqlsvc = make_account("sqlsvc", 1105)
    othersvc = make_account("othersvc", 1108, "MSSQLSvc/stale.corp.example.com:1433")
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT)
    directory = FakeDirectory(sqlsvc, othersvc, oldsvc)
    apply_changes(directory, [
        AccountChange(sqlsvc, add={spn_key(SQL01_PORT): SQL01_PORT}),
        AccountChange(othersvc, add={spn_key(SQL01): SQL01},
                      remove={"mssqlsvc/stale.corp.example.com:1433": "MSSQLSvc/stale.corp.example.com:1433"}),
        AccountChange(oldsvc, add={spn_key(SQL02_PORT): SQL02_PORT}, remove={spn_key(SQL01_PORT): SQL01_PORT}),
    ])
    assert [name for name, _operations in operations(directory)] == ["oldsvc", "sqlsvc", "othersvc"]
    assert directory.spns("sqlsvc") == [SQL01_PORT]
    assert directory.spns("oldsvc") == [SQL02_PORT]
    assert directory.spns("othersvc") == [SQL01]


def test_changes_with_nothing_to_write_make_no_modify():
    sqlsvc = make_account("sqlsvc", 1105, SQL01_PORT)
    directory = FakeDirectory(sqlsvc)
    apply_changes(directory, [AccountChange(sqlsvc, moved_from={SQL01_PORT: ["CORP\\oldsvc"]})])
    apply_changes(directory, [])
    assert directory.modifications == []


def test_a_refused_removal_of_a_duplicate_is_replaced_with_the_values_read_again():
    sqlsvc = make_account("sqlsvc", 1105, SQL01_PORT)
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT, "HOST/old")
    directory = FakeDirectory(sqlsvc, oldsvc, refuse_duplicate_delete=True)
    change = AccountChange(oldsvc, remove={spn_key(SQL01_PORT): SQL01_PORT})
    # Someone registers another SPN on oldsvc after the plan was made: it must survive.
    oldsvc.spns = oldsvc.spns + ["HTTP/old.corp.example.com"]
    written, warnings = [], []
    apply_changes(directory, [change], written, warnings)
    # The delete is refused, tried again on its own to tell a duplicate from
    # a conflict, then replaced with the values read again, guarded: the
    # object gets its first guard token, and the replace swaps it.
    assert operations(directory) == [
        ("oldsvc", [("MODIFY_DELETE", [SQL01_PORT])]),
        ("oldsvc", [("MODIFY_DELETE", [SQL01_PORT])]),
        ("oldsvc", [("MODIFY_REPLACE", ["HOST/old", "HTTP/old.corp.example.com"])]),
    ]
    assert guard_operations(directory) == [["MODIFY_ADD"], ["MODIFY_DELETE", "MODIFY_ADD"]]
    assert len(directory.guards[oldsvc.dn.lower()]) == 1
    assert directory.guards[oldsvc.dn.lower()][0].startswith(GUARD_PREFIX)
    assert directory.spns("oldsvc") == ["HOST/old", "HTTP/old.corp.example.com"]
    assert directory.spns("sqlsvc") == [SQL01_PORT]
    assert [str(w) for w in written] == ["removed %s from CORP\\oldsvc" % SQL01_PORT]
    assert warnings == []


def test_a_refused_removal_with_an_add_replaces_then_adds():
    sqlsvc = make_account("sqlsvc", 1105, SQL01_PORT)
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT, "HOST/old")
    directory = FakeDirectory(sqlsvc, oldsvc, refuse_duplicate_delete=True)
    change = AccountChange(oldsvc, add={spn_key(SQL02_PORT): SQL02_PORT}, remove={spn_key(SQL01_PORT): SQL01_PORT})
    apply_changes(directory, [change])
    assert operations(directory) == [
        ("oldsvc", [("MODIFY_DELETE", [SQL01_PORT]), ("MODIFY_ADD", [SQL02_PORT])]),
        ("oldsvc", [("MODIFY_DELETE", [SQL01_PORT])]),
        ("oldsvc", [("MODIFY_REPLACE", ["HOST/old"])]),
        ("oldsvc", [("MODIFY_ADD", [SQL02_PORT])]),
    ]
    assert directory.spns("oldsvc") == ["HOST/old", SQL02_PORT]


def guarded_duplicate():
    """SQL01_PORT on sqlsvc and, a legacy duplicate, on oldsvc, which has a
    guard token already; Samba's refusal to delete the duplicated value."""
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT, "HOST/old")
    directory = FakeDirectory(make_account("sqlsvc", 1105, SQL01_PORT), oldsvc, refuse_duplicate_delete=True)
    directory.guards[oldsvc.dn.lower()] = [GUARD_PREFIX + "0"]
    return oldsvc, directory


def test_the_duplicate_replace_is_planned_again_after_another_guarded_writer():
    """Item 10 of the reliability issue: the replace must not drop what a
    concurrent run of the collection wrote between the read and the write."""
    oldsvc, directory = guarded_duplicate()

    def other_run(fake):
        # Another guarded writer: adds an SPN and swaps the token, in one step.
        oldsvc.spns = oldsvc.spns + ["HTTP/other"]
        fake.guards[oldsvc.dn.lower()] = [GUARD_PREFIX + "other"]
        fake.bump(oldsvc.dn)

    # Before the third modify (the guarded replace) the other run writes.
    directory.before_modify = [lambda fake: None, lambda fake: None, other_run]
    written, warnings = [], []
    apply_changes(directory, [AccountChange(oldsvc, remove={spn_key(SQL01_PORT): SQL01_PORT})], written, warnings)
    assert directory.spns("oldsvc") == ["HOST/old", "HTTP/other"]
    assert [changes[0][0] for _name, changes in operations(directory)] == [
        "MODIFY_DELETE", "MODIFY_DELETE", "MODIFY_REPLACE", "MODIFY_REPLACE"]
    assert warnings == []


def test_a_foreign_write_during_the_duplicate_replace_is_reported():
    """A writer outside the collection (SQL Server registering an SPN)
    cannot be stopped by the guard; its write shows in the version."""
    oldsvc, directory = guarded_duplicate()

    def sql_server(fake):
        oldsvc.spns = oldsvc.spns + ["MSSQLSvc/new.corp.example.com:1433"]
        fake.bump(oldsvc.dn)

    directory.before_modify = [lambda fake: None, lambda fake: None, sql_server]
    warnings = []
    apply_changes(directory, [AccountChange(oldsvc, remove={spn_key(SQL01_PORT): SQL01_PORT})], [], warnings)
    assert len(warnings) == 1
    assert warnings[0].startswith("CORP\\oldsvc: servicePrincipalName was also changed by another writer (SQL "
                                  "Server registering its SPNs, or another run)")
    assert "it now holds HOST/old" in warnings[0]


@pytest.mark.parametrize("count", [1, 3, 12])
def test_legacy_duplicates_of_many_accounts_go_in_a_constant_number_of_searches(count):
    """The bench's finding (issue 19): searches per SPN moved. Each
    oldsvcN shares an SPN with sqlsvcN (a legacy duplicate Samba refuses to
    delete by value); the move takes them all away with the names resolved,
    the holders looked up, the refused values' holders looked up once, then
    the guarded replaces' three batched reads, whatever their number."""
    accounts = []
    for number in range(count):
        spn = "MSSQLSvc/sql%02d.corp.example.com:1433" % number
        accounts += [make_account("sqlsvc%d" % number, 1200 + number, spn),
                     make_account("oldsvc%d" % number, 1300 + number, spn, "HOST/old%d" % number)]
    directory = FakeDirectory(*accounts, refuse_duplicate_delete=True)
    result = register(directory, registrations=[
        dict(account="sqlsvc%d" % number, spns=["MSSQLSvc/sql%02d.corp.example.com:1433" % number])
        for number in range(count)], move=True)
    assert directory.searches == 6 and directory.reads == []
    assert [len(dns) for dns in directory.batched_reads] == [count] * 3
    assert all(directory.spns("oldsvc%d" % number) == ["HOST/old%d" % number] for number in range(count))
    assert sorted(result["removed"]) == sorted("MSSQLSvc/sql%02d.corp.example.com:1433" % n for n in range(count))
    assert "warnings" not in result


def test_a_refused_duplicate_replace_names_the_guard_values_and_the_values_written():
    accounts = [make_account("sqlsvc", 1105, SQL01_PORT, SQL02_PORT), make_account("oldsvc", 1107, SQL01_PORT),
                make_account("oldsvc2", 1108, SQL02_PORT)]
    directory = FakeDirectory(*accounts, refuse_duplicate_delete=True)
    refused = LdapError("modifying x failed: insufficientAccessRights", result="insufficientAccessRights")
    original = directory.modify

    def modify(dn, changes, controls=None):
        if dn == accounts[2].dn and any(op == "MODIFY_REPLACE" for op, _v in changes.get("servicePrincipalName", [])):
            raise refused
        return original(dn, changes, controls)

    directory.modify = modify
    with pytest.raises(LdapError) as raised:
        register(directory, account="sqlsvc", spns=[SQL01_PORT, SQL02_PORT], move=True)
    assert str(raised.value) == (
        "modifying x failed: insufficientAccessRights; written before the refusal: a guard value in extensionName of "
        "%s (it only makes later writes conditional); this run wrote before failing: removed %s from CORP\\oldsvc"
        % (accounts[2].dn, SQL01_PORT))
    assert directory.spns("oldsvc") == [] and directory.spns("oldsvc2") == [SQL02_PORT]


def test_an_spn_registered_elsewhere_since_the_check_names_its_new_holder():
    sqlsvc = make_account("sqlsvc", 1105)
    directory = FakeDirectory(sqlsvc)
    change = AccountChange(sqlsvc, add={spn_key(SQL01_PORT): SQL01_PORT, spn_key(SQL01): SQL01})
    # Registered by another change after this run looked the SPNs up.
    directory.add(make_account("othersvc", 1108, "mssqlsvc/SQL01.corp.example.com:1433"))
    with pytest.raises(LdapError) as raised:
        apply_changes(directory, [change])
    assert str(raised.value) == (
        "SPN conflict on CORP\\sqlsvc: MSSQLSvc/sql01.corp.example.com:1433 is now held by CORP\\othersvc "
        "(another change registered it after this run checked)")
    assert operations(directory) == [("sqlsvc", [("MODIFY_ADD", [SQL01, SQL01_PORT])])] * 2
    assert directory.spns("sqlsvc") == []


def test_a_constraint_violation_no_holder_explains_is_passed_on():
    sqlsvc = make_account("sqlsvc", 1105)
    directory = FakeDirectory(sqlsvc)
    directory.fail_next = [constraint_violation(sqlsvc.dn), constraint_violation(sqlsvc.dn)]
    with pytest.raises(LdapError) as raised:
        apply_changes(directory, [AccountChange(sqlsvc, add={spn_key(SQL01): SQL01})])
    # A sentence around the DC's answer (reliability issue: no raw result code alone).
    assert str(raised.value).startswith("the DC refused to add %s to CORP\\sqlsvc as a duplicate (modifying %s "
                                        "failed: constraintViolation: SPN not unique), but no other holder can be "
                                        "seen" % (SQL01, sqlsvc.dn))
    assert len(directory.modifications) == 2


def test_other_errors_stop_the_writes_unchanged():
    oldsvc = make_account("oldsvc", 1107, SQL01_PORT)
    sqlsvc = make_account("sqlsvc", 1105)
    directory = FakeDirectory(sqlsvc, oldsvc)
    refused = LdapError("modifying %s failed: insufficientAccessRights" % oldsvc.dn, result="insufficientAccessRights")
    directory.fail_next = [refused]
    with pytest.raises(LdapError) as raised:
        apply_changes(directory, [AccountChange(sqlsvc, add={spn_key(SQL01_PORT): SQL01_PORT}),
                                  AccountChange(oldsvc, remove={spn_key(SQL01_PORT): SQL01_PORT})])
    assert raised.value is refused
    assert operations(directory) == [("oldsvc", [("MODIFY_DELETE", [SQL01_PORT])])]
    assert directory.reads == []


def test_an_error_of_the_retried_add_other_than_a_conflict_is_passed_on():
    sqlsvc = make_account("sqlsvc", 1105)
    directory = FakeDirectory(sqlsvc)
    busy = LdapError("modifying %s failed: busy" % sqlsvc.dn, result="busy")
    directory.fail_next = [constraint_violation(sqlsvc.dn), busy]
    with pytest.raises(LdapError) as raised:
        apply_changes(directory, [AccountChange(sqlsvc, add={spn_key(SQL01): SQL01})])
    assert raised.value is busy


# -- spn_register ------------------------------------------------------------------

def estate():
    """sqlsvc has one of its SPNs; oldsvc, the account SQL Server ran as
    before, holds another; sql01's computer account holds its HOST SPNs."""
    return FakeDirectory(
        make_account("sqlsvc", 1105, "mssqlsvc/SQL01.corp.example.com:1433"),
        make_account("oldsvc", 1107, SQL01_NETBIOS_PORT, "MSSQLSvc/retired.corp.example.com:1433"),
        make_account("SQL01$", 1110, "HOST/sql01", "HOST/sql01.corp.example.com", classes=COMPUTER_CLASSES),
    )


def register(directory, check_mode=False, **options):
    return spn_register(directory, validate_spn_register(module_params(**options)), check_mode=check_mode)


def test_spn_register_in_check_mode_reports_and_writes_nothing():
    directory = estate()
    before = {dn: list(account.spns) for dn, account in directory.accounts.items()}
    result = register(directory, check_mode=True, account="CORP\\sqlsvc",
                      spns=[SQL01_PORT, SQL01_NETBIOS_PORT, SQL01], move=True)
    assert directory.modifications == []
    assert {dn: account.spns for dn, account in directory.accounts.items()} == before
    sqlsvc, oldsvc = directory.account("sqlsvc"), directory.account("oldsvc")
    assert result == dict(
        changed=True,
        accounts=[
            dict(account="CORP\\sqlsvc", dn=sqlsvc.dn, added=[SQL01, SQL01_NETBIOS_PORT], removed=[],
                 moved_from={SQL01_NETBIOS_PORT: ["CORP\\oldsvc"]}),
            dict(account="CORP\\oldsvc", dn=oldsvc.dn, added=[], removed=[SQL01_NETBIOS_PORT], moved_from={}),
        ],
        added=[SQL01, SQL01_NETBIOS_PORT],
        removed=[SQL01_NETBIOS_PORT],
        moved_from={SQL01_NETBIOS_PORT: ["CORP\\oldsvc"]},
        diff=dict(
            before={"CORP\\sqlsvc": ["mssqlsvc/SQL01.corp.example.com:1433"],
                    "CORP\\oldsvc": ["MSSQLSvc/retired.corp.example.com:1433", SQL01_NETBIOS_PORT]},
            after={"CORP\\sqlsvc": [SQL01, "mssqlsvc/SQL01.corp.example.com:1433", SQL01_NETBIOS_PORT],
                   "CORP\\oldsvc": ["MSSQLSvc/retired.corp.example.com:1433"]},
        ),
    )


def test_spn_register_writes_what_check_mode_reported_and_then_has_nothing_to_do():
    options = dict(registrations=[dict(account="CORP\\sqlsvc", spns=[SQL01_PORT, SQL01_NETBIOS_PORT], move=True),
                                  dict(account="oldsvc", spns=["MSSQLSvc/retired.corp.example.com:1433"],
                                       state="absent")])
    predicted = register(estate(), check_mode=True, **options)
    directory = estate()
    result = register(directory, **options)
    assert result == predicted
    for name, spns in result["diff"]["after"].items():
        assert sorted(directory.account(name.split("\\")[1]).spns, key=str.lower) == spns
    assert directory.spns("SQL01$") == ["HOST/sql01", "HOST/sql01.corp.example.com"]

    again = register(directory, **options)
    assert again == dict(changed=False, accounts=[], added=[], removed=[], moved_from={},
                         diff=dict(before={}, after={}))


def test_spn_register_moves_an_spn_by_an_absent_registration_in_the_same_call():
    # The module's example: the old account gives the SPN up, the new one takes it.
    directory = FakeDirectory(make_account("sqlsvc1", 1105), make_account("sqlsvc-old", 1107, SQL01_PORT, "HOST/keep"))
    result = register(directory, registrations=[
        dict(account="CORP\\sqlsvc1", spns=[SQL01_PORT, SQL01], state="exact"),
        dict(account="CORP\\sqlsvc-old", spns=[SQL01_PORT], state="absent"),
    ])
    assert operations(directory) == [
        ("sqlsvc-old", [("MODIFY_DELETE", [SQL01_PORT])]),
        ("sqlsvc1", [("MODIFY_ADD", [SQL01, SQL01_PORT])]),
    ]
    assert (result["added"], result["removed"], result["moved_from"]) == ([SQL01, SQL01_PORT], [SQL01_PORT], {})
    assert directory.spns("sqlsvc1") == [SQL01, SQL01_PORT]
    assert directory.spns("sqlsvc-old") == ["HOST/keep"]


@pytest.mark.parametrize("holder_registration", [
    dict(account="oldsvc", spns=[SQL02_PORT]),  # the holder also gets an SPN of its own
    dict(account="oldsvc", spns=[SQL02_PORT], state="exact", move=False),  # which drops the one taken
])
def test_spn_register_takes_an_spn_from_a_holder_that_changes_too(holder_registration):
    directory = FakeDirectory(make_account("sqlsvc", 1105), make_account("oldsvc", 1107, SQL01_PORT))
    result = register(directory, registrations=[dict(account="sqlsvc", spns=[SQL01_PORT], move=True),
                                                holder_registration])
    assert result["added"] == [SQL01_PORT, SQL02_PORT]
    assert directory.spns("sqlsvc") == [SQL01_PORT]
    assert directory.spns("oldsvc") == [SQL02_PORT]


def test_spn_register_refuses_before_writing_anything():
    directory = estate()
    with pytest.raises(SpnError, match="nothing written"):
        register(directory, account="sqlsvc", spns=[SQL01, SQL01_NETBIOS_PORT])
    assert directory.modifications == []


def test_spn_register_with_only_absent_registrations_looks_no_holder_up():
    directory = estate()
    searches = []
    original = directory.search

    def search(base, ldap_filter, attributes, **kwargs):
        searches.append(ldap_filter)
        return original(base, ldap_filter, attributes, **kwargs)

    directory.search = search
    result = register(directory, account="oldsvc", spns=["MSSQLSvc/retired.corp.example.com:1433"], state="absent")
    assert result["removed"] == ["MSSQLSvc/retired.corp.example.com:1433"]
    assert not any("servicePrincipalName" in ldap_filter for ldap_filter in searches)
    assert directory.spns("oldsvc") == [SQL01_NETBIOS_PORT]


def test_registrations_that_both_add_and_remove_an_spn_are_refused():
    sqlsvc = make_account("sqlsvc", 1105)
    with pytest.raises(SpnError, match=r"both add and remove: MSSQLSvc/sql01.corp.example.com:1433 \(CORP\\sqlsvc\)"):
        plan([sqlsvc], dict(account="sqlsvc", spns=[SQL01_PORT], state="present"),
             dict(account="sqlsvc", spns=[SQL01_PORT], state="absent"))


# -- spn_register under concurrent writers ------------------------------------------

def test_a_move_another_run_finished_meanwhile_is_ok_and_unchanged():
    """Identical move runs: the other run took the SPN from oldsvc and gave
    it to sqlsvc between this run's plan and its write."""
    directory = FakeDirectory(make_account("sqlsvc", 1105), make_account("oldsvc", 1107, SQL01_PORT))

    def other_run(fake):
        fake.account("oldsvc").spns = []
        fake.account("sqlsvc").spns = [SQL01_PORT]

    directory.before_modify = [other_run]
    result = register(directory, account="sqlsvc", spns=[SQL01_PORT], move=True)
    assert result["changed"] is False and result["accounts"] == [] and "warnings" not in result
    assert directory.spns("sqlsvc") == [SQL01_PORT] and directory.spns("oldsvc") == []


def test_a_move_half_done_by_another_run_is_finished_and_reported_as_this_runs_write():
    directory = FakeDirectory(make_account("sqlsvc", 1105), make_account("oldsvc", 1107, SQL01_PORT))

    def other_run_removed_only(fake):
        fake.account("oldsvc").spns = []

    directory.before_modify = [other_run_removed_only]
    result = register(directory, account="sqlsvc", spns=[SQL01_PORT], move=True)
    assert result["changed"] is True
    assert (result["added"], result["removed"], result["moved_from"]) == ([SQL01_PORT], [], {})
    assert directory.spns("sqlsvc") == [SQL01_PORT]


def test_an_spn_another_run_put_on_a_third_account_is_not_taken_and_the_error_says_what_was_written():
    """Conflicting targets: this run moves SQL01_PORT from oldsvc to sqlsvc,
    another run moves it to othersvc first."""
    directory = FakeDirectory(make_account("sqlsvc", 1105), make_account("oldsvc", 1107, SQL01_PORT),
                              make_account("othersvc", 1108))

    def other_run(fake):
        fake.account("oldsvc").spns = []
        fake.account("othersvc").spns = [SQL01_PORT]

    directory.before_modify = [other_run]
    with pytest.raises(SpnError) as raised:
        register(directory, account="sqlsvc", spns=[SQL01_PORT], move=True)
    assert str(raised.value) == (
        "%s was registered on CORP\\othersvc by another writer while this run was putting it on CORP\\sqlsvc; not "
        "taken from there (two runs want it on different accounts: one of them has the wrong inventory); nothing "
        "written" % SQL01_PORT)
    assert directory.spns("othersvc") == [SQL01_PORT] and directory.spns("sqlsvc") == []


def test_a_failed_run_lists_what_it_wrote():
    """The removal went through, then the SPN was taken by a third account
    before this run's add."""
    directory = FakeDirectory(make_account("sqlsvc", 1105), make_account("oldsvc", 1107, SQL01_PORT),
                              make_account("othersvc", 1108))

    def other_run(fake):
        fake.account("othersvc").spns = [SQL01_PORT]

    directory.before_modify = [lambda fake: None, other_run]
    with pytest.raises(SpnError) as raised:
        register(directory, account="sqlsvc", spns=[SQL01_PORT], move=True)
    assert str(raised.value).endswith(
        "not taken from there (two runs want it on different accounts: one of them has the wrong inventory); "
        "this run wrote before failing: removed %s from CORP\\oldsvc" % SQL01_PORT)


def test_a_refusal_that_is_no_conflict_says_what_was_written():
    directory = FakeDirectory(make_account("sqlsvc", 1105), make_account("oldsvc", 1107, SQL01_PORT))
    refused = LdapError("modifying x failed: insufficientAccessRights", result="insufficientAccessRights")
    directory.fail_next = []
    directory.before_modify = [lambda fake: None, lambda fake: fake.fail_next.append(refused)]
    original = directory.modify

    def modify(dn, changes, controls=None):
        if len(directory.modifications) == 1:
            directory.modifications.append((dn, changes))
            raise refused
        return original(dn, changes, controls)

    directory.modify = modify
    with pytest.raises(LdapError) as raised:
        register(directory, account="sqlsvc", spns=[SQL01_PORT], move=True)
    assert str(raised.value) == ("modifying x failed: insufficientAccessRights; this run wrote before failing: "
                                 "removed %s from CORP\\oldsvc" % SQL01_PORT)


def test_a_refusal_no_re_read_explains_is_raised_at_once_not_retried(monkeypatch):
    """The DC's uniqueness check refuses an add because of a holder this run
    cannot see (a DC that is no Global Catalog): the fresh plan is the same,
    so the DC's own words are raised, with what was written, without
    twenty retries."""
    from ansible_collections.sqlauth.kerberos.plugins.module_utils import _guarded_write
    pauses = []
    monkeypatch.setattr(_guarded_write, "back_off", pauses.append)
    from ansible_collections.sqlauth.kerberos.plugins.module_utils import _spn_register
    monkeypatch.setattr(_spn_register, "back_off", pauses.append)
    directory = FakeDirectory(make_account("sqlsvc", 1105))
    dn = directory.account("sqlsvc").dn
    directory.fail_next = [constraint_violation(dn)] * 8
    with pytest.raises(LdapError) as raised:
        register(directory, account="sqlsvc", spns=[SQL01_PORT])
    assert str(raised.value) == (
        "the DC refused to add %s to CORP\\sqlsvc as a duplicate (modifying %s failed: constraintViolation: SPN not "
        "unique), but no other holder can be seen from this connection: another writer may have taken it and let it "
        "go again, or it is held in a domain or by an object this account cannot search; nothing written"
        % (SQL01_PORT, dn))
    assert raised.value.result == "constraintViolation"
    # Three plans refused over an unchanged directory (two modifies each), not twenty.
    assert len(pauses) == 3 and len(directory.modifications) == 6
