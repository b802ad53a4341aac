# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SPN audit: classification, reports, conflicts, plans and summaries
(pure), the SPN-write check on descriptors captured from the lab DC, and the
directory searches against an in-memory fake client that counts them."""

from __future__ import annotations

import base64
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _spn_audit
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    ACCOUNT_ATTRIBUTES,
    Account,
    AccountError,
    parse_account_reference,
    resolve_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._group_membership import Group, Membership
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_TERMS,
    DirectoryEntry,
    batched_or_filters,
    escape_filter_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    ADS_RIGHT_DS_SELF,
    ADS_RIGHT_DS_WRITE_PROP,
    SERVICE_PRINCIPAL_NAME_GUID,
    Ace,
    SecurityDescriptor,
    is_granted,
    sid_to_bytes,
    with_aces_added,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import spn_key
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import (
    HOLDER_ATTRIBUTES,
    STATUSES,
    audit,
    build_plan,
    can_register_own_spns,
    classify_spn,
    find_spn_holders,
    flag_conflicts,
    instance_report,
    prepare_audit,
    summarize,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import SPN_FORMS, parse_instance

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "security_descriptors.json").read_text())
DOMAIN_SID = FIXTURES["domain_sid"]
CAPTURED = FIXTURES["descriptors"]

USER_CLASSES = ("top", "person", "organizationalPerson", "user")
COMPUTER_CLASSES = USER_CLASSES + ("computer",)
GMSA_CLASSES = COMPUTER_CLASSES + ("msDS-GroupManagedServiceAccount",)
CLASSES = {"user": USER_CLASSES, "computer": COMPUTER_CLASSES, "msDS-GroupManagedServiceAccount": GMSA_CLASSES}

CORP = dict(dn="DC=corp,DC=example,DC=com", netbios="CORP", dns="corp.example.com")
EMEA = dict(dn="DC=emea,DC=corp,DC=example,DC=com", netbios="EMEA", dns="emea.corp.example.com")
EMEA_SID = "S-1-5-21-111-222-333"

# What spn_facts reports of an account whose attributes show nothing wrong.
NO_STATE = dict(flags=[], expires=None, must_change_password=False, password_last_set=None, allowed_to_delegate_to=[],
                encryption_types=dict(value=None, names=["rc4-hmac"], rc4_only=True, rc4=True, des=False,
                                      aes_keys_possibly_missing=None))


def make_account(sam, rid, classes=USER_CLASSES, domain_netbios="CORP", sid=None, security_descriptor=None):
    return Account(dn="CN=%s,OU=Service Accounts,DC=corp,DC=example,DC=com" % sam.rstrip("$"),
                   sid=sid or "%s-%d" % (DOMAIN_SID, rid), sam_account_name=sam, domain_netbios=domain_netbios,
                   object_classes=list(classes), security_descriptor=security_descriptor)


def captured_account(name):
    """An Account built from one captured descriptor: its SID, class and bytes."""
    captured = CAPTURED[name]
    return Account(dn=captured["dn"], sid=captured["object_sid"], sam_account_name=name, domain_netbios="CORP",
                   object_classes=list(CLASSES[captured["object_class"]]),
                   security_descriptor=base64.b64decode(captured["base64"]))


# -- can_register_own_spns on real descriptors -----------------------------------

@pytest.mark.parametrize("name, expected", [
    ("user_with_spn_write_aces", True),     # SELF has RPWP on servicePrincipalName
    ("user_with_sacl", True),               # the same user read with its SACL too
    ("user_without_spn_write_aces", False),  # the default DACL of a user
    ("user_dacl_only", False),              # the same read with DACL only
    ("computer", True),                     # SELF's validated SPN write
    ("gmsa", True),                         # likewise, a gMSA is a computer
])
def test_can_register_own_spns_on_captured_descriptors(name, expected):
    assert can_register_own_spns(captured_account(name)) is expected


@pytest.mark.parametrize("name", ["computer", "gmsa"])
def test_computers_and_gmsas_only_have_the_validated_write(name):
    account = captured_account(name)
    dacl = SecurityDescriptor.from_bytes(account.security_descriptor).dacl
    trustees = ["PS", account.sid, "WD", "AU"]
    assert not is_granted(dacl, trustees, ADS_RIGHT_DS_WRITE_PROP, SERVICE_PRINCIPAL_NAME_GUID)
    assert is_granted(dacl, trustees, ADS_RIGHT_DS_SELF, SERVICE_PRINCIPAL_NAME_GUID)
    # So a user object with the same DACL could not register its SPNs: the
    # validated write only applies to computers.
    account.object_classes = USER_CLASSES
    assert can_register_own_spns(account) is False


def test_can_register_own_spns_unknown_without_descriptor():
    assert can_register_own_spns(make_account("sqlsvc", 1105)) is None


def with_added(account, *sddl_aces):
    sd = SecurityDescriptor.from_bytes(account.security_descriptor)
    account.security_descriptor = with_aces_added(sd, [Ace.from_sddl(text) for text in sddl_aces]).to_bytes()
    return account


@pytest.mark.parametrize("ace, expected", [
    # Granted to the account's own SID, Everyone or Authenticated Users: counts.
    ("(OA;;WP;f3a64788-5306-11d1-a9c5-0000f80367c1;;{sid})", True),
    ("(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;WD)", True),
    ("(OA;;WP;f3a64788-5306-11d1-a9c5-0000f80367c1;;AU)", True),
    ("(OA;;WP;f3a64788-5306-11d1-a9c5-0000f80367c1;bf967aba-0de6-11d0-a285-00aa003049e2;PS)", True),
    # Granted to a group: memberships are not expanded.
    ("(OA;;WP;f3a64788-5306-11d1-a9c5-0000f80367c1;;S-1-5-21-1020015842-2994946861-1214793674-513)", False),
    # Another property, or inheritable to another class only.
    ("(OA;;WP;bf967a7f-0de6-11d0-a285-00aa003049e2;;PS)", False),
    ("(OA;;WP;f3a64788-5306-11d1-a9c5-0000f80367c1;bf967a86-0de6-11d0-a285-00aa003049e2;PS)", False),
    # The validated write alone does not do for a user.
    ("(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)", False),
])
def test_can_register_own_spns_trustees_and_rights(ace, expected):
    account = captured_account("user_without_spn_write_aces")
    assert can_register_own_spns(with_added(account, ace.format(sid=account.sid))) is expected


def test_a_deny_before_the_grant_wins():
    account = with_added(captured_account("user_with_spn_write_aces"),
                         "(OD;;WP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)")
    assert can_register_own_spns(account) is False


# -- classify_spn ----------------------------------------------------------------

SQLSVC = make_account("sqlsvc", 1105)
SQLSVC2 = make_account("sqlsvc2", 1106)
OLDSVC = make_account("oldsvc", 1107)
EMEA_SVC = make_account("svc", 1000, domain_netbios="EMEA", sid=EMEA_SID + "-1000")


@pytest.mark.parametrize("holders, status", [
    ([], "missing"),
    ([SQLSVC], "ok"),
    ([make_account("SQLSVC", 1105)], "ok"),  # the same SID is the same account
    ([OLDSVC], "wrong_account"),
    ([SQLSVC, OLDSVC], "duplicate"),
    ([OLDSVC, SQLSVC2], "duplicate"),
])
def test_classify_spn(holders, status):
    assert classify_spn(SQLSVC, holders) == status
    assert status in STATUSES


# -- instance_report -------------------------------------------------------------

def sql(host="sql01.corp.example.com", **options):
    options.setdefault("service_account", "CORP\\sqlsvc")
    return parse_instance(dict(host=host, **options))


def report(instance, account, holders=None, can_register=True, forms=SPN_FORMS, account_input=None):
    holders = {spn_key(spn): list(accounts) for spn, accounts in (holders or {}).items()}
    return instance_report(instance, account_input or account.name, account, instance.required_spns(forms),
                           holders, can_register)


def all_held(instance, account):
    return {required.spn: [account] for required in instance.required_spns()}


def test_instance_report_all_ok():
    instance = sql(port=1433)
    row = report(instance, SQLSVC, all_held(instance, SQLSVC), account_input="sqlsvc")
    assert row == dict(
        name="sql01.corp.example.com", host="sql01.corp.example.com", instance="MSSQLSERVER", port=1433,
        tcp_enabled=True,
        service_account=dict(name="CORP\\sqlsvc", dn=SQLSVC.dn, sid=SQLSVC.sid, kind="user", input="sqlsvc",
                             state=NO_STATE, privileged_groups=None, privileged_memberships=None),
        spns=[dict(spn=spn, form=form, status="ok", holders=[dict(name="CORP\\sqlsvc", dn=SQLSVC.dn, sid=SQLSVC.sid)])
              for spn, form in [("MSSQLSvc/sql01.corp.example.com:1433", "fqdn_port"),
                                ("MSSQLSvc/sql01.corp.example.com", "fqdn_instance"),
                                ("MSSQLSvc/sql01:1433", "netbios_port"),
                                ("MSSQLSvc/sql01", "netbios_instance")]],
        can_register_own_spns=True, findings=[], status="ok",
    )


def test_instance_report_names_privileged_groups():
    domain_admins = Group(sid=DOMAIN_SID + "-512", dn="CN=Domain Admins,CN=Users,DC=corp,DC=example,DC=com",
                          name="CORP\\Domain Admins")
    instance = sql(port=1433)
    row = instance_report(instance, "sqlsvc", SQLSVC, instance.required_spns(), {}, True,
                          [Membership(domain_admins, "primary_group")])
    assert row["service_account"]["privileged_groups"] == ["CORP\\Domain Admins"]
    assert row["service_account"]["privileged_memberships"] == [
        dict(group="CORP\\Domain Admins", dn=domain_admins.dn, sid=domain_admins.sid, via="primary_group")]
    assert instance_report(instance, "sqlsvc", SQLSVC, instance.required_spns(), {}, True,
                           [])["service_account"]["privileged_groups"] == []


def test_instance_report_statuses_per_spn():
    instance = sql(instance="SALES", port=1533)
    row = report(instance, SQLSVC, {
        "MSSQLSvc/sql01.corp.example.com:1533": [SQLSVC],
        "MSSQLSvc/sql01.corp.example.com:SALES": [OLDSVC],
        "MSSQLSvc/sql01:1533": [OLDSVC, SQLSVC],
    })
    assert [(r["spn"], r["status"]) for r in row["spns"]] == [
        ("MSSQLSvc/sql01.corp.example.com:1533", "ok"),
        ("MSSQLSvc/sql01.corp.example.com:SALES", "wrong_account"),
        ("MSSQLSvc/sql01:1533", "duplicate"),
        ("MSSQLSvc/sql01:SALES", "missing"),
    ]
    assert [h["name"] for h in row["spns"][2]["holders"]] == ["CORP\\oldsvc", "CORP\\sqlsvc"]
    assert row["spns"][3]["holders"] == []
    assert row["status"] == "drift"
    assert row["name"] == "sql01.corp.example.com\\SALES"


def test_instance_report_finds_holders_case_insensitively():
    instance = sql(port=1433)
    holders = {spn_key(r.spn): [SQLSVC] for r in instance.required_spns()}
    row = instance_report(instance, "sqlsvc", SQLSVC, instance.required_spns(), holders, True)
    assert row["status"] == "ok"


@pytest.mark.parametrize("options, can_register, findings", [
    (dict(port=1433), True, []),
    (dict(port=1433), None, []),  # unknown is not reported as missing
    (dict(port=1433), False, ["spn_write_acl_missing"]),
    (dict(instance="SALES"), True, ["dynamic_port"]),
    (dict(instance="SALES", tcp_enabled=False), True, ["tcp_disabled"]),
    (dict(instance="SALES"), False, ["dynamic_port", "spn_write_acl_missing"]),
])
def test_instance_report_findings(options, can_register, findings):
    instance = sql(**options)
    row = report(instance, SQLSVC, all_held(instance, SQLSVC), can_register=can_register)
    assert row["findings"] == findings
    assert row["can_register_own_spns"] is can_register
    # A finding alone is drift, even with every SPN in place.
    assert row["status"] == ("drift" if findings else "ok")


def test_instance_report_dynamic_port_summary():
    row = report(sql(instance="SALES"), SQLSVC)
    assert row["port"] == "dynamic"
    assert [r["form"] for r in row["spns"]] == ["fqdn_instance", "netbios_instance"]


# -- flag_conflicts --------------------------------------------------------------

LISTENER = [dict(name="ag1.corp.example.com", port=1433)]
AG_SPNS = ["MSSQLSvc/ag1.corp.example.com:1433", "MSSQLSvc/ag1:1433"]


def ag_replicas(second_account):
    node1 = sql("node1.corp.example.com", listeners=LISTENER)
    node2 = sql("node2.corp.example.com", listeners=LISTENER)
    return [report(node1, SQLSVC, all_held(node1, SQLSVC)), report(node2, second_account, all_held(node2, second_account))]


def test_flag_conflicts_same_spn_on_different_accounts():
    reports = ag_replicas(SQLSVC2)
    assert [r["status"] for r in reports] == ["ok", "ok"]
    flag_conflicts(reports)
    for this, other in ((reports[0], reports[1]), (reports[1], reports[0])):
        assert this["findings"] == ["spn_conflict"]
        assert this["status"] == "drift"
        conflicts = {row["spn"]: row.get("conflict") for row in this["spns"]}
        assert conflicts == {spn: ([other["name"]] if spn in AG_SPNS else None) for spn in conflicts}


def test_flag_conflicts_same_account_is_no_conflict():
    reports = ag_replicas(SQLSVC)
    flag_conflicts(reports)
    assert [r["status"] for r in reports] == ["ok", "ok"]
    assert all("conflict" not in row for r in reports for row in r["spns"])
    assert all(r["findings"] == [] for r in reports)


def test_flag_conflicts_lists_every_other_instance_and_flags_once():
    node3 = sql("node3.corp.example.com", listeners=LISTENER)
    reports = ag_replicas(SQLSVC2) + [report(node3, OLDSVC)]
    flag_conflicts(reports)
    node1_listener = next(row for row in reports[0]["spns"] if row["spn"] == AG_SPNS[0])
    assert node1_listener["conflict"] == ["node2.corp.example.com", "node3.corp.example.com"]
    assert reports[2]["findings"] == ["spn_conflict"]  # two conflicting SPNs, one finding


def test_flag_conflicts_is_case_insensitive():
    node1 = sql("node1.corp.example.com", extra_spns=["MSSQLSvc/Alias.corp.example.com:1433"])
    node2 = sql("node2.corp.example.com", extra_spns=["mssqlsvc/ALIAS.CORP.EXAMPLE.COM:1433"])
    reports = [report(node1, SQLSVC), report(node2, SQLSVC2)]
    flag_conflicts(reports)
    assert [r["findings"] for r in reports] == [["spn_conflict"], ["spn_conflict"]]


# -- build_plan ------------------------------------------------------------------

def actions(plan):
    return [(step["action"], step.get("spn")) for step in plan]


def test_build_plan_nothing_to_do():
    instance = sql(port=1433)
    assert build_plan([report(instance, SQLSVC, all_held(instance, SQLSVC))]) == []


def test_build_plan_ports_then_acls_then_spns():
    sales = sql(instance="SALES")  # dynamic port, nothing registered
    quiet = sql("sql02.corp.example.com", instance="QUIET", tcp_enabled=False)
    reports = [report(sales, SQLSVC, can_register=False), report(quiet, SQLSVC2, can_register=False)]
    plan = build_plan(reports)
    assert actions(plan) == [
        ("set_static_port", None),
        ("enable_tcp", None),
        ("grant_spn_write_acl", None),
        ("grant_spn_write_acl", None),
        ("add_spn", "MSSQLSvc/sql01.corp.example.com:SALES"),
        ("add_spn", "MSSQLSvc/sql01:SALES"),
        ("add_spn", "MSSQLSvc/sql02.corp.example.com:QUIET"),
        ("add_spn", "MSSQLSvc/sql02:QUIET"),
    ]
    assert plan[0] == dict(action="set_static_port", instances=["sql01.corp.example.com\\SALES"],
                           module="sql_static_port",
                           description="pin a static TCP port on sql01.corp.example.com\\SALES (dynamic ports "
                                       "break port SPNs)")
    assert plan[1]["instances"] == ["sql02.corp.example.com\\QUIET"]
    assert plan[1]["module"] == "sql_static_port"
    assert [(s["account"], s["instances"], s["module"]) for s in plan[2:4]] == [
        ("CORP\\sqlsvc", ["sql01.corp.example.com\\SALES"], "spn_acl"),
        ("CORP\\sqlsvc2", ["sql02.corp.example.com\\QUIET"], "spn_acl"),
    ]
    assert plan[4] == dict(action="add_spn", spn="MSSQLSvc/sql01.corp.example.com:SALES", account="CORP\\sqlsvc",
                           description="register MSSQLSvc/sql01.corp.example.com:SALES on CORP\\sqlsvc",
                           instances=["sql01.corp.example.com\\SALES"], module="spn_register")


def test_build_plan_one_step_per_spn_and_per_account():
    # Two instances on one account both need the listener SPNs (and the ACL).
    node1 = sql("node1.corp.example.com", listeners=LISTENER)
    node2 = sql("node2.corp.example.com", listeners=LISTENER)
    held1 = {spn: holders for spn, holders in all_held(node1, SQLSVC).items() if spn not in AG_SPNS}
    held2 = {spn: holders for spn, holders in all_held(node2, SQLSVC).items() if spn not in AG_SPNS}
    reports = [report(node1, SQLSVC, held1, can_register=False), report(node2, SQLSVC, held2, can_register=False)]
    flag_conflicts(reports)
    plan = build_plan(reports)
    assert actions(plan) == [("grant_spn_write_acl", None), ("add_spn", AG_SPNS[0]), ("add_spn", AG_SPNS[1])]
    for step in plan:
        assert step["instances"] == ["node1.corp.example.com", "node2.corp.example.com"]


@pytest.mark.parametrize("holders, action, remove_from, description", [
    ([OLDSVC], "move_spn", ["CORP\\oldsvc"],
     "move MSSQLSvc/sql01:1433 from CORP\\oldsvc to CORP\\sqlsvc"),
    ([OLDSVC, SQLSVC2], "move_spn", ["CORP\\oldsvc", "CORP\\sqlsvc2"],
     "move MSSQLSvc/sql01:1433 from CORP\\oldsvc, CORP\\sqlsvc2 to CORP\\sqlsvc"),
    ([OLDSVC, SQLSVC], "remove_duplicate_spn", ["CORP\\oldsvc"],
     "remove the duplicate MSSQLSvc/sql01:1433 from CORP\\oldsvc, keeping it on CORP\\sqlsvc"),
    ([EMEA_SVC, OLDSVC, SQLSVC], "remove_duplicate_spn", ["EMEA\\svc", "CORP\\oldsvc"],
     "remove the duplicate MSSQLSvc/sql01:1433 from EMEA\\svc, CORP\\oldsvc, keeping it on CORP\\sqlsvc"),
])
def test_build_plan_move_or_remove_duplicate(holders, action, remove_from, description):
    instance = sql(port=1433)
    held = all_held(instance, SQLSVC)
    held["MSSQLSvc/sql01:1433"] = holders
    plan = build_plan([report(instance, SQLSVC, held)])
    assert plan == [dict(action=action, spn="MSSQLSvc/sql01:1433", account="CORP\\sqlsvc", remove_from=remove_from,
                         description=description, instances=["sql01.corp.example.com"], module="spn_register")]


def test_build_plan_skips_conflicting_spns():
    reports = ag_replicas(SQLSVC2)
    # The listener SPNs are missing everywhere; the rest is in place.
    for r in reports:
        for row in r["spns"]:
            if row["spn"] in AG_SPNS:
                row.update(status="missing", holders=[])
    flag_conflicts(reports)
    assert build_plan(reports) == []
    assert summarize(reports)["instances_with_drift"] == 2


def test_build_plan_keeps_non_conflicting_steps_of_conflicted_instances():
    node1 = sql("node1.corp.example.com", listeners=LISTENER)
    node2 = sql("node2.corp.example.com", listeners=LISTENER)
    reports = [report(node1, SQLSVC), report(node2, SQLSVC2)]  # nothing registered at all
    flag_conflicts(reports)
    planned = {step["spn"] for step in build_plan(reports)}
    assert planned == {"MSSQLSvc/node1.corp.example.com:1433", "MSSQLSvc/node1.corp.example.com",
                       "MSSQLSvc/node1:1433", "MSSQLSvc/node1",
                       "MSSQLSvc/node2.corp.example.com:1433", "MSSQLSvc/node2.corp.example.com",
                       "MSSQLSvc/node2:1433", "MSSQLSvc/node2"}
    assert not planned & set(AG_SPNS)


# -- summarize -------------------------------------------------------------------

def test_summarize():
    good = sql(port=1433)
    bad = sql("sql02.corp.example.com", instance="SALES", port=1533)
    reports = [
        report(good, SQLSVC, all_held(good, SQLSVC)),
        report(bad, SQLSVC, {"MSSQLSvc/sql02.corp.example.com:1533": [SQLSVC],
                             "MSSQLSvc/sql02.corp.example.com:SALES": [OLDSVC],
                             "MSSQLSvc/sql02:1533": [SQLSVC, OLDSVC]}),
    ]
    assert summarize(reports) == dict(instances=2, instances_with_drift=1,
                                      spns=dict(ok=5, missing=1, wrong_account=1, duplicate=1))


def test_summarize_empty():
    assert summarize([]) == dict(instances=0, instances_with_drift=0,
                                 spns=dict(ok=0, missing=0, wrong_account=0, duplicate=0))


# -- the directory: an in-memory fake client -------------------------------------

DACL_CONTROLS = ("dacl-only-controls",)
OWNER_DACL_CONTROLS = ("owner-and-dacl-controls",)
_FILTER_ITEM = re.compile(
    r"\(([A-Za-z][A-Za-z0-9-]*)(:1\.2\.840\.113556\.1\.4\.(?:1941|803):)?=((?:[^()*\\]|\\[0-9a-f]{2})*)(\*)?\)")
_BINARY = {"objectsid", "ntsecuritydescriptor"}


def _unescape(value):
    out = bytearray()
    position = 0
    while position < len(value):
        if value[position] == "\\":
            out.append(int(value[position + 1:position + 3], 16))
            position += 3
        else:
            out += value[position].encode("utf-8")
            position += 1
    return bytes(out)


def _fold(attribute, value):
    return value if attribute in _BINARY else value.lower()


def parse_filter(text):
    """An LDAP filter as a tree: ("&" | "|" | "!", [children]), ("=", attribute,
    value), ("prefix", attribute, value) for value*, ("bit_and", attribute,
    number) for LDAP_MATCHING_RULE_BIT_AND, or ("in_chain", attribute, value)
    for LDAP_MATCHING_RULE_IN_CHAIN;
    AssertionError for anything else, a value not escaped included."""
    tree, end = _parse_at(text, 0)
    assert end == len(text), "badly formed filter %r" % text
    return tree


def _parse_at(text, position):
    assert text.startswith("(", position), "badly formed filter %r" % text
    operator = text[position + 1:position + 2]
    if operator in ("&", "|", "!"):
        position, children = position + 2, []
        while text.startswith("(", position):
            child, position = _parse_at(text, position)
            children.append(child)
        assert text.startswith(")", position) and children and (operator != "!" or len(children) == 1), (
            "badly formed filter %r" % text)
        return (operator, children), position + 1
    match = _FILTER_ITEM.match(text, position)
    assert match, "badly escaped filter %r" % text
    name = match.group(1).lower()
    if match.group(4):  # an initial substring: value*
        assert not match.group(2) and match.group(3), "badly formed filter %r" % text
        return ("prefix", name, _fold(name, _unescape(match.group(3)))), match.end()
    if match.group(2) and match.group(2).endswith("803:"):  # LDAP_MATCHING_RULE_BIT_AND
        return ("bit_and", name, int(match.group(3))), match.end()
    return ("in_chain" if match.group(2) else "=", name, _fold(name, _unescape(match.group(3)))), match.end()


@dataclass
class Search:
    base: str
    ldap_filter: str
    attributes: list
    controls: object
    global_catalog: bool


class FakeDirectory:
    """The part of DirectoryClient the audit uses, over a list of entries.

    ``search`` evaluates the filters the code builds (AND, OR, NOT, equality
    terms and memberOf:1.2.840.113556.1.4.1941:=DN, which follows the
    memberOf values of the entries, not primary groups, as a DC does),
    checks that every value is escaped, honours the base (a domain search
    sees one domain, the Global Catalog with base "" the forest), returns
    only the requested attributes, and records each call."""

    default_naming_context = CORP["dn"]

    def __init__(self, entries=(), is_global_catalog=True, one_domain=False):
        self.entries = list(entries)
        self.is_global_catalog = is_global_catalog
        # A forest of CORP alone: the Global Catalog is CORP's partition.
        self.one_domain = one_domain
        self.searches = []
        # The exposure audit's reads (_exposure_audit.py), kept apart: they come last, from its
        # first read of owners and DACLs on.
        self.exposure_searches = []

    def global_catalog(self):
        return self if self.is_global_catalog else None

    def global_catalog_is_domain(self):
        return self.is_global_catalog and self.one_domain

    def own_domain(self):
        return CORP

    def domain_of(self, dn):
        matches = [d for d in (CORP, EMEA) if dn.lower().endswith(d["dn"].lower())]
        return max(matches, key=lambda d: len(d["dn"])) if matches else None

    def dacl_controls(self):
        return DACL_CONTROLS

    def owner_and_dacl_controls(self):
        return OWNER_DACL_CONTROLS

    def search(self, base, ldap_filter, attributes, scope="subtree", controls=None, paged=True,
               global_catalog=False):
        search = Search(base, ldap_filter, list(attributes), controls, global_catalog)
        # The SPN audit's account searches read owners too when the exposure audit follows.
        if (controls == OWNER_DACL_CONTROLS and "servicePrincipalName" not in attributes) or self.exposure_searches:
            self.exposure_searches.append(search)
            if scope == "base":
                return [entry for entry in self.entries if entry.dn.lower() == base.lower()]
        else:
            self.searches.append(search)
        assert scope == "subtree" and paged
        if global_catalog:
            assert self.is_global_catalog and base == ""
        tree = parse_filter(ldap_filter)
        by_dn = {entry.dn.lower(): entry for entry in self.entries}
        requested = {name.lower() for name in attributes}
        # member is the forward link of memberOf: a DC keeps both.
        members = {}
        for entry in self.entries:
            for group in entry.raw.get("memberof", []):
                members.setdefault(group.lower(), []).append(entry.dn.encode("utf-8"))
        found = []
        for entry in self.entries:
            if global_catalog:
                pass  # the whole forest
            elif self.domain_of(entry.dn) != self.domain_of(base):
                continue
            values = {("distinguishedname", entry.dn.lower().encode("utf-8"))}
            values.update((name, _fold(name, bytes(value))) for name, items in entry.raw.items() for value in items)
            if self._matches(tree, entry, values, by_dn):
                raw = {name: items for name, items in entry.raw.items() if name in requested}
                if "member" in requested and entry.dn.lower().encode("utf-8") in members:
                    raw["member"] = members[entry.dn.lower().encode("utf-8")]
                found.append(DirectoryEntry(entry.dn, raw))
        return found

    def _matches(self, tree, entry, values, by_dn):
        if tree[0] in ("&", "|", "!"):
            results = [self._matches(child, entry, values, by_dn) for child in tree[1]]
            return all(results) if tree[0] == "&" else any(results) if tree[0] == "|" else not results[0]
        if tree[0] == "=":
            return (tree[1], tree[2]) in values
        if tree[0] == "bit_and":
            return any(name == tree[1] and int(value) & tree[2] == tree[2] for name, value in values)
        if tree[0] == "prefix":
            return any(name == tree[1] and value.startswith(tree[2]) for name, value in values)
        assert tree[1] == "memberof", tree
        return tree[2] in _groups_in_chain(entry, by_dn)


def _groups_in_chain(entry, by_dn):
    """The DNs (lower case, bytes) of every group ``entry`` is in, through its
    memberOf values and theirs."""
    reached, stack = set(), [value.lower() for value in entry.raw.get("memberof", [])]
    while stack:
        dn = stack.pop()
        if dn in reached:
            continue
        reached.add(dn)
        group = by_dn.get(dn.decode("utf-8"))
        if group is not None:
            stack.extend(value.lower() for value in group.raw.get("memberof", []))
    return reached


def directory_entry(dn, sam, sid, classes=USER_CLASSES, spns=(), upn=None, dns_host_name=None,
                    security_descriptor=None, member_of=(), primary_group_id=None):
    raw = {"sAMAccountName": [sam.encode()], "objectSid": [sid_to_bytes(sid)],
           "objectClass": [c.encode() for c in classes], "userAccountControl": [b"512"]}
    if member_of:
        raw["memberOf"] = [group.encode() for group in member_of]
    if primary_group_id is not None or "user" in classes:
        raw["primaryGroupID"] = [str(primary_group_id or (515 if "computer" in classes else 513)).encode()]
    if spns:
        raw["servicePrincipalName"] = [spn.encode() for spn in spns]
    if upn:
        raw["userPrincipalName"] = [upn.encode()]
    if dns_host_name:
        raw["dNSHostName"] = [dns_host_name.encode()]
    if security_descriptor:
        raw["nTSecurityDescriptor"] = [security_descriptor]
    return DirectoryEntry(dn, raw)


def corp_user(sam, rid, spns=(), **kwargs):
    return directory_entry("CN=%s,OU=Service Accounts,DC=corp,DC=example,DC=com" % sam, sam,
                           "%s-%d" % (DOMAIN_SID, rid), spns=spns, **kwargs)


GROUP_CLASSES = ("top", "group")
ADMINISTRATORS_DN = "CN=Administrators,CN=Builtin,DC=corp,DC=example,DC=com"
DOMAIN_ADMINS_DN = "CN=Domain Admins,CN=Users,DC=corp,DC=example,DC=com"
ACCOUNT_OPERATORS_DN = "CN=Account Operators,CN=Builtin,DC=corp,DC=example,DC=com"
DENIED_RODC_DN = "CN=Denied RODC Password Replication Group,CN=Users,DC=corp,DC=example,DC=com"


def group_entry(dn, sam, sid, member_of=()):
    return DirectoryEntry(dn, {"sAMAccountName": [sam.encode()], "objectSid": [sid_to_bytes(sid)],
                               "objectClass": [c.encode() for c in GROUP_CLASSES],
                               "memberOf": [group.encode() for group in member_of]})


def corp_groups():
    """The privileged groups of CORP as a child domain has them (no
    Enterprise or Schema Admins), nested as in a new domain."""
    return [
        group_entry(ADMINISTRATORS_DN, "Administrators", "S-1-5-32-544"),
        group_entry(ACCOUNT_OPERATORS_DN, "Account Operators", "S-1-5-32-548"),
        group_entry(DOMAIN_ADMINS_DN, "Domain Admins", "%s-512" % DOMAIN_SID,
                    member_of=[ADMINISTRATORS_DN, DENIED_RODC_DN]),
        group_entry(DENIED_RODC_DN, "Denied RODC Password Replication Group", "%s-572" % DOMAIN_SID),
    ]


def test_fake_directory_rejects_unescaped_values():
    with pytest.raises(AssertionError, match="badly escaped"):
        FakeDirectory().search("", "(|(cn=a*b))", ["cn"], global_catalog=True)


# -- find_spn_holders ------------------------------------------------------------

SQL01_SPNS = ["MSSQLSvc/sql01.corp.example.com:1433", "MSSQLSvc/sql01:1433"]


def holder_names(holders):
    return {key: [a.name for a in accounts] for key, accounts in holders.items()}


@pytest.fixture
def directory():
    return FakeDirectory([
        corp_user("sqlsvc", 1105, spns=["MSSQLSvc/SQL01.Corp.Example.com:1433", "HTTP/web.corp.example.com"]),
        corp_user("oldsvc", 1107, spns=["mssqlsvc/sql01:1433"]),
        corp_user("zsvc", 1108, spns=["MSSQLSvc/sql01:1433"]),
        corp_user("bystander", 1109, spns=["MSSQLSvc/sql09:1433"]),
        directory_entry("CN=svc,CN=Users,DC=emea,DC=corp,DC=example,DC=com", "svc", EMEA_SID + "-1000",
                        spns=["MSSQLSvc/sql01.corp.example.com:1433"]),
    ])


def test_find_spn_holders_searches_the_global_catalog(directory):
    holders, scope = find_spn_holders(directory, SQL01_SPNS)
    assert scope == "forest"
    (search,) = directory.searches
    assert (search.base, search.global_catalog, search.attributes) == ("", True, HOLDER_ATTRIBUTES)
    assert search.ldap_filter == ("(|(servicePrincipalName=mssqlsvc/sql01.corp.example.com:1433)"
                                  "(servicePrincipalName=mssqlsvc/sql01:1433))")
    # Keyed by spn_key, holders sorted by name, other domains' accounts named by their domain,
    # and an account listed only under the wanted SPNs it holds.
    assert holder_names(holders) == {
        "mssqlsvc/sql01.corp.example.com:1433": ["CORP\\sqlsvc", "EMEA\\svc"],
        "mssqlsvc/sql01:1433": ["CORP\\oldsvc", "CORP\\zsvc"],
    }
    emea = holders["mssqlsvc/sql01.corp.example.com:1433"][1]
    assert emea.sid == EMEA_SID + "-1000"


@pytest.mark.parametrize("forest, is_global_catalog", [(False, True), (True, False), (False, False)])
def test_find_spn_holders_in_the_domain(directory, forest, is_global_catalog):
    directory.is_global_catalog = is_global_catalog
    holders, scope = find_spn_holders(directory, SQL01_SPNS, forest=forest)
    assert scope == "domain"
    (search,) = directory.searches
    assert (search.base, search.global_catalog) == (CORP["dn"], False)
    # The other domain's holder is out of sight.
    assert holder_names(holders) == {
        "mssqlsvc/sql01.corp.example.com:1433": ["CORP\\sqlsvc"],
        "mssqlsvc/sql01:1433": ["CORP\\oldsvc", "CORP\\zsvc"],
    }


def test_find_spn_holders_asks_once_per_spn_whatever_the_spelling(directory):
    holders = find_spn_holders(directory, SQL01_SPNS + [spn.upper() for spn in SQL01_SPNS] + SQL01_SPNS)[0]
    (search,) = directory.searches
    assert search.ldap_filter.count("servicePrincipalName=") == 2
    assert len(holders) == 2


def test_find_spn_holders_nobody_holds_them(directory):
    holders, scope = find_spn_holders(directory, ["MSSQLSvc/nowhere.corp.example.com:1433"])
    assert (holders, scope) == ({}, "forest")
    assert len(directory.searches) == 1


def test_find_spn_holders_no_spns_no_search(directory):
    assert find_spn_holders(directory, []) == ({}, "forest")
    assert directory.searches == []


def test_find_spn_holders_escapes_values():
    directory = FakeDirectory([corp_user("odd", 1200, spns=["HTTP/web(1)*"])])
    holders = find_spn_holders(directory, ["HTTP/web(1)*"])[0]
    assert "(servicePrincipalName=http/web\\281\\29\\2a)" in directory.searches[0].ldap_filter
    assert holder_names(holders) == {"http/web(1)*": ["CORP\\odd"]}


def test_find_spn_holders_merges_batches(directory, monkeypatch):
    # With one term per filter, an account holding two wanted SPNs comes back
    # from two searches and is still listed once per SPN.
    monkeypatch.setattr(_spn_audit, "batched_or_filters", functools.partial(batched_or_filters, max_bytes=1))
    directory.entries.append(corp_user("both", 1300, spns=SQL01_SPNS + [SQL01_SPNS[0].upper()]))
    holders = find_spn_holders(directory, SQL01_SPNS)[0]
    assert len(directory.searches) == 2
    assert holder_names(holders) == {
        "mssqlsvc/sql01.corp.example.com:1433": ["CORP\\both", "CORP\\sqlsvc", "EMEA\\svc"],
        "mssqlsvc/sql01:1433": ["CORP\\both", "CORP\\oldsvc", "CORP\\zsvc"],
    }


# -- an estate of 500 instances: searches stay batched ---------------------------

ESTATE_SIZE = 500


def estate_options(count=ESTATE_SIZE):
    options = []
    for n in range(count):
        listeners = [dict(name="ag%03d.corp.example.com" % n, port=1600 + n)] if n % 10 == 0 else []
        options.append(dict(host="sqlnode%03d.datacenter-west.corp.example.com" % n, instance="SALES%03d" % n,
                            port=1500 + n, tcp_enabled=True, service_account="CORP\\sqlsvc%03d" % n,
                            listeners=listeners, extra_spns=[]))
    return options


def estate_directory(instances, hold_every=3):
    entries = corp_groups()
    for n, instance in enumerate(instances):
        held = [r.spn for r in instance.required_spns()][::hold_every]
        entries.append(corp_user("sqlsvc%03d" % n, 5000 + n, spns=held))
    return FakeDirectory(entries)


def is_privilege_search(search):
    """The searches of _group_membership: the groups, then the groups
    nested in them."""
    return search.ldap_filter.startswith("(&(objectClass=group)") or ":1.2.840.113556.1.4.1941:=" in search.ldap_filter


def expected_batches(terms, template="%s", **kwargs):
    # The audit also caps the terms per filter (Samba's cost is entries x terms).
    return len(list(batched_or_filters(sorted(set(terms)), template, max_terms=MAX_FILTER_TERMS, **kwargs)))


@pytest.mark.parametrize("max_bytes", [None, 20000])
def test_spn_holders_of_500_instances_in_a_handful_of_searches(max_bytes, monkeypatch):
    limit = {} if max_bytes is None else dict(max_bytes=max_bytes)
    if limit:  # a smaller filter limit, to see several batches
        monkeypatch.setattr(_spn_audit, "batched_or_filters", functools.partial(batched_or_filters, **limit))
    instances = [parse_instance(options) for options in estate_options()]
    spns = [r.spn for instance in instances for r in instance.required_spns()]
    assert len(spns) > 2000
    directory = estate_directory(instances)

    holders, scope = find_spn_holders(directory, spns)

    terms = ["(servicePrincipalName=%s)" % escape_filter_value(spn_key(spn)) for spn in spns]
    assert len(directory.searches) == expected_batches(terms, **limit) <= (5 if max_bytes is None else 10)
    assert len(directory.searches) > (0 if max_bytes is None else 1)
    assert all(s.base == "" and s.global_catalog for s in directory.searches)
    assert scope == "forest"
    # Every held SPN was found, with its holder.
    assert len(holders) == sum(len(e.values("servicePrincipalName")) for e in directory.entries)
    assert holders["mssqlsvc/sqlnode042.datacenter-west.corp.example.com:1542"][0].name == "CORP\\sqlsvc042"


def test_accounts_of_500_instances_in_a_handful_of_searches():
    references = [parse_account_reference("CORP\\sqlsvc%03d" % n) for n in range(ESTATE_SIZE)]
    directory = estate_directory([parse_instance(options) for options in estate_options()])

    accounts = resolve_accounts(directory, references)

    terms = [term for reference in references for term in reference.filter_terms()]
    assert len(directory.searches) == expected_batches(terms, "(&(objectClass=user)%s)") <= 5
    assert all(s.base == CORP["dn"] and not s.global_catalog for s in directory.searches)
    assert [accounts[r].name for r in references] == ["CORP\\sqlsvc%03d" % n for n in range(ESTATE_SIZE)]


def test_audit_of_500_instances_is_two_kinds_of_search():
    options = estate_options()
    directory = estate_directory([parse_instance(o) for o in options])

    result = audit(directory, prepare_audit(options), SPN_FORMS)

    account_searches = [s for s in directory.searches if s.ldap_filter.startswith("(&(objectClass=user)")]
    holder_searches = [s for s in directory.searches if s.global_catalog]
    privilege_searches = [s for s in directory.searches if is_privilege_search(s)]
    # One search per MAX_FILTER_TERMS terms: 1,000 account terms, some 2,200 SPN terms; then the
    # privileged groups' memberships: one search for the groups, one for the 500 accounts.
    assert len(privilege_searches) == 2
    assert len(account_searches) + len(holder_searches) + len(privilege_searches) == len(directory.searches) <= 10
    assert all(r["service_account"]["privileged_groups"] == [] for r in result["instances"])
    assert len(result["instances"]) == ESTATE_SIZE
    assert result["summary"]["instances"] == ESTATE_SIZE
    spn_count = sum(result["summary"]["spns"].values())
    assert spn_count > 2000
    assert result["summary"]["spns"]["ok"] == sum(len(e.values("servicePrincipalName")) for e in directory.entries)
    assert len([step for step in result["plan"] if step["action"] == "add_spn"]) == result["summary"]["spns"]["missing"]


# -- a forest of one domain: accounts and holders in one pass ---------------------

def corp_only(directory):
    """The directory without its EMEA entries, as a forest of CORP alone."""
    return FakeDirectory([e for e in directory.entries if directory.domain_of(e.dn) == CORP], one_domain=True)


def test_audit_of_500_instances_in_one_domain_is_one_pass():
    options = estate_options()
    two_domain = estate_directory([parse_instance(o) for o in options])
    one_domain = corp_only(two_domain)

    result = audit(one_domain, prepare_audit(options), SPN_FORMS)

    # Whole instances per filter (the account and its SPNs), 2,000 terms at most:
    # about 2,700 terms, two searches of the domain, each entry read once. Then two for the
    # privileged groups (_group_membership): the groups by SID, and the groups nested in
    # them, whatever the number of accounts. Stale SPNs cost no search: they are looked for
    # among the accounts already read.
    assert len(one_domain.searches) == 4
    assert all(s.base == CORP["dn"] and not s.global_catalog for s in one_domain.searches)
    assert all(s.attributes == ACCOUNT_ATTRIBUTES + ["nTSecurityDescriptor"] for s in one_domain.searches[:2])
    # With the owner, for the exposure audit (test_exposure_audit_reads_no_account_read_with_its_owner_again).
    assert all(s.controls == OWNER_DACL_CONTROLS for s in one_domain.searches[:2])
    assert [is_privilege_search(s) for s in one_domain.searches] == [False, False, True, True]
    assert result["search_scope"] == "forest"
    # The same report as the two-pass audit of a forest with more domains (which reads the
    # accounts' DACLs alone, and their owners again in the exposure audit).
    assert result == audit(two_domain, prepare_audit(options), SPN_FORMS)
    # Without the exposure audit, the DACL alone.
    without = corp_only(two_domain)
    audit(without, prepare_audit(options), SPN_FORMS, exposure=False)
    assert all(s.controls == DACL_CONTROLS for s in without.searches[:2])


@pytest.mark.parametrize("forest, one_domain, is_global_catalog, scope", [
    (True, True, True, "forest"), (False, False, True, "domain"), (True, False, False, "domain"),
])
def test_audit_in_one_pass_wherever_the_domain_holds_every_holder(accounts_directory, forest, one_domain,
                                                                  is_global_catalog, scope):
    directory = corp_only(accounts_directory)
    directory.one_domain, directory.is_global_catalog = one_domain, is_global_catalog
    directory.entries[1].raw["serviceprincipalname"] = [b"MSSQLSvc/sql01:1433"]
    prepared = prepare_audit([dict(host="sql01.corp.example.com", service_account="CORP\\sqlsvc"),
                              dict(host=HOST, service_account="LocalSystem")])

    result = audit(directory, prepared, SPN_FORMS, forest=forest)

    # One pass for the accounts and holders, then the privileged groups: the groups, and the
    # groups nested in them; the user account is checked, not the computer.
    search, groups, nested = directory.searches
    assert is_privilege_search(groups) and is_privilege_search(nested)
    assert [r["service_account"]["privileged_groups"] for r in result["instances"]] == [[], None]
    # The accounts' names first, then the SPNs (Samba stops at the first term an entry matches).
    assert search.ldap_filter.startswith("(|(sAMAccountName=sqlsvc)(servicePrincipalName=HOST/sql2.corp.example.com)"
                                         "(sAMAccountName=sql2$)(servicePrincipalName=mssqlsvc/sql01.corp")
    assert result["search_scope"] == scope
    assert [row["status"] for row in result["instances"][0]["spns"]] == ["missing", "missing", "wrong_account",
                                                                         "missing"]
    assert result["instances"][0]["spns"][2]["holders"][0]["name"] == "CORP\\sqlsvc2"
    assert result["instances"][1]["service_account"]["name"] == "CORP\\SQL2$"


def test_audit_in_one_pass_searches_name_fallbacks_only_when_missing(accounts_directory):
    directory = corp_only(accounts_directory)
    prepared = prepare_audit([dict(host="sql05.corp.example.com", service_account="gmsa-sql5"),
                              dict(host="sql01.corp.example.com", service_account="sqlsvc")])

    result = audit(directory, prepared, SPN_FORMS)

    # Then the privileged groups' two searches and the gMSA host's computer account (may it
    # retrieve the password?).
    first, fallback = directory.searches[:2]
    assert len(directory.searches) == 5
    assert "(sAMAccountName=gmsa-sql5)" in first.ldap_filter and "gmsa-sql5$" not in first.ldap_filter
    assert "sqlsvc$" not in first.ldap_filter
    # Only the name that was not found is searched again, with its name$ form.
    assert fallback.ldap_filter == "(&(objectClass=user)(|(sAMAccountName=gmsa-sql5$)(sAMAccountName=gmsa-sql5)))"
    assert [r["service_account"]["name"] for r in result["instances"]] == ["CORP\\gmsa-sql5$", "CORP\\sqlsvc"]


def test_audit_in_one_pass_reports_every_bad_name_at_once(accounts_directory):
    directory = corp_only(accounts_directory)
    prepared = prepare_audit([dict(host="sql01.corp.example.com", service_account=name)
                              for name in ("nobody", "sqlsvc", "twin@partner.example.org")])
    with pytest.raises(AccountError) as error:
        audit(directory, prepared, SPN_FORMS)
    assert str(error.value).split("; ") == [
        "account 'nobody' was not found in DC=corp,DC=example,DC=com",
        "account 'twin@partner.example.org' is ambiguous: it matches "
        "CN=twin-a,OU=Service Accounts,DC=corp,DC=example,DC=com, "
        "CN=twin-b,OU=Service Accounts,DC=corp,DC=example,DC=com",
    ]
    # nobody's fallback (nobody$) was searched too, once.
    assert len(directory.searches) == 2


def test_audit_in_one_pass_refuses_other_domains_before_searching(accounts_directory):
    directory = corp_only(accounts_directory)
    with pytest.raises(AccountError, match="is in domain EMEA"):
        audit(directory, prepare_audit([dict(host="sql01.corp.example.com", service_account="EMEA\\svc")]),
              SPN_FORMS)
    assert directory.searches == []


# -- resolve_accounts ------------------------------------------------------------

HOST = "sql2.corp.example.com"
SQL2_DN = "CN=SQL2,CN=Computers,DC=corp,DC=example,DC=com"  # the captured SQL2$, moved into this fake forest


@pytest.fixture
def accounts_directory():
    captured = CAPTURED["computer"]
    return FakeDirectory([
        corp_user("sqlsvc", 1105, upn="sqlsvc@corp.example.com",
                  security_descriptor=base64.b64decode(CAPTURED["user_with_spn_write_aces"]["base64"])),
        corp_user("sqlsvc2", 1106, member_of=[DOMAIN_ADMINS_DN]),
        corp_user("report", 1110, upn="reports@corp.example.com"),
        directory_entry("CN=gmsa-sql5,CN=Managed Service Accounts,DC=corp,DC=example,DC=com", "gmsa-sql5$",
                        "%s-1119" % DOMAIN_SID, GMSA_CLASSES, dns_host_name="gmsa-sql5.corp.example.com"),
        directory_entry(SQL2_DN, "SQL2$", captured["object_sid"], COMPUTER_CLASSES, dns_host_name=HOST,
                        security_descriptor=base64.b64decode(captured["base64"])),
        corp_user("twin-a", 1111, upn="twin@partner.example.org"),
        corp_user("twin-b", 1112, upn="twin@partner.example.org"),
        directory_entry("CN=svc,CN=Users,DC=emea,DC=corp,DC=example,DC=com", "sqlsvc", EMEA_SID + "-1000"),
    ] + corp_groups())


def test_resolve_accounts_every_form_in_one_search(accounts_directory):
    texts = {
        "sqlsvc": "CORP\\sqlsvc",
        "CORP\\SQLSVC2": "CORP\\sqlsvc2",
        "corp.example.com\\sqlsvc2": "CORP\\sqlsvc2",
        "sqlsvc@corp.example.com": "CORP\\sqlsvc",
        "reports@corp.example.com": "CORP\\report",
        "report@corp.example.com": "CORP\\report",  # implicit UPN
        "CN=sqlsvc2, OU=Service Accounts, DC=corp,DC=example,DC=com": "CORP\\sqlsvc2",
        DOMAIN_SID + "-1106": "CORP\\sqlsvc2",
        "CORP\\gmsa-sql5$": "CORP\\gmsa-sql5$",
        "gmsa-sql5": "CORP\\gmsa-sql5$",
        "NT SERVICE\\MSSQLSERVER": "CORP\\SQL2$",
        "LocalSystem": "CORP\\SQL2$",
    }
    references = [parse_account_reference(text, HOST) for text in texts]

    accounts = resolve_accounts(accounts_directory, references)

    assert {reference.text: accounts[reference].name for reference in references} == texts
    (search,) = accounts_directory.searches
    assert (search.base, search.global_catalog, search.controls) == (CORP["dn"], False, None)
    assert search.attributes == ACCOUNT_ATTRIBUTES
    assert search.ldap_filter.startswith("(&(objectClass=user)(|")
    # Without asking, no descriptor is read.
    assert all(account.security_descriptor is None for account in accounts.values())
    # The other domain's sqlsvc is not a candidate.
    assert accounts[references[0]].sid == DOMAIN_SID + "-1105"


def test_resolve_accounts_with_security_descriptors(accounts_directory):
    references = [parse_account_reference(text, HOST) for text in ("sqlsvc", "sqlsvc2", "LocalSystem")]
    accounts = resolve_accounts(accounts_directory, references, with_security_descriptor=True)
    (search,) = accounts_directory.searches
    assert search.attributes == ACCOUNT_ATTRIBUTES + ["nTSecurityDescriptor"]
    assert search.controls == DACL_CONTROLS
    assert [can_register_own_spns(accounts[r]) for r in references] == [True, None, True]


def test_resolve_accounts_other_domain_is_refused_before_searching(accounts_directory):
    references = [parse_account_reference(text) for text in ("EMEA\\svc", "sqlsvc", "OTHER\\x")]
    with pytest.raises(AccountError) as error:
        resolve_accounts(accounts_directory, references)
    message = str(error.value)
    assert "'EMEA\\\\svc' is in domain EMEA, but this connection is to CORP (DC=corp,DC=example,DC=com)" in message
    assert "'OTHER\\\\x' is in domain OTHER" in message
    assert accounts_directory.searches == []


def test_resolve_accounts_reports_every_problem_at_once(accounts_directory):
    references = [parse_account_reference(text) for text in
                  ("nobody", "sqlsvc", "twin@partner.example.org", "report@example.org")]
    with pytest.raises(AccountError) as error:
        resolve_accounts(accounts_directory, references)
    problems = str(error.value).split("; ")
    assert problems == [
        "account 'nobody' was not found in DC=corp,DC=example,DC=com",
        "account 'twin@partner.example.org' is ambiguous: it matches "
        "CN=twin-a,OU=Service Accounts,DC=corp,DC=example,DC=com, "
        "CN=twin-b,OU=Service Accounts,DC=corp,DC=example,DC=com",
        "account 'report@example.org' was not found in DC=corp,DC=example,DC=com",
    ]
    assert len(accounts_directory.searches) == 1


def test_resolve_accounts_nothing_to_resolve(accounts_directory):
    assert resolve_accounts(accounts_directory, []) == {}
    assert accounts_directory.searches == []


# -- audit end to end on a small estate ------------------------------------------

def test_audit_small_estate(accounts_directory):
    directory = accounts_directory
    # sqlsvc holds sql01's FQDN SPNs; sqlsvc2 wrongly holds its NetBIOS port SPN.
    directory.entries[0].raw["serviceprincipalname"] = [b"MSSQLSvc/sql01.corp.example.com:1433",
                                                        b"MSSQLSvc/sql01.corp.example.com"]
    directory.entries[1].raw["serviceprincipalname"] = [b"MSSQLSvc/sql01:1433"]
    prepared = prepare_audit([
        dict(host="sql01.corp.example.com", service_account="CORP\\sqlsvc"),
        dict(host=HOST, instance="SALES", tcp_enabled=False, service_account="NT SERVICE\\MSSQL$SALES"),
        dict(host="sql03.corp.example.com", instance="HR", service_account="sqlsvc2"),
    ])

    result = audit(directory, prepared, SPN_FORMS)

    # The accounts, the holders, then the privileged groups: the groups, and the groups
    # nested in them (sqlsvc2 is a Domain Admin: found from Domain Admins' members).
    assert len(directory.searches) == 4
    assert [is_privilege_search(s) for s in directory.searches] == [False, False, True, True]
    assert result["search_scope"] == "forest"
    assert [(r["name"], r["status"], r["findings"], r["can_register_own_spns"]) for r in result["instances"]] == [
        ("sql01.corp.example.com", "drift", [], True),
        ("sql2.corp.example.com\\SALES", "drift", ["tcp_disabled"], True),
        ("sql03.corp.example.com\\HR", "drift", ["dynamic_port"], None),
    ]
    assert [(row["spn"], row["status"]) for row in result["instances"][0]["spns"]] == [
        ("MSSQLSvc/sql01.corp.example.com:1433", "ok"),
        ("MSSQLSvc/sql01.corp.example.com", "ok"),
        ("MSSQLSvc/sql01:1433", "wrong_account"),
        ("MSSQLSvc/sql01", "missing"),
    ]
    assert result["instances"][1]["service_account"] == dict(
        name="CORP\\SQL2$", dn=SQL2_DN, sid=CAPTURED["computer"]["object_sid"], kind="computer",
        input="NT SERVICE\\MSSQL$SALES", state=NO_STATE, privileged_groups=None, privileged_memberships=None,
        managed_password=None,
        # The computer's DACL as the lab DC wrote it: Account Operators' default full control.
        writers=[dict(sid="S-1-5-32-548", name="BUILTIN\\Account Operators", kind="group", what=["everything"],
                      via=["ACE"], members=[], member_count=0)])
    assert [r["service_account"]["privileged_groups"] for r in result["instances"]] == [
        [], None, ["BUILTIN\\Administrators", "CORP\\Domain Admins"]]
    assert result["instances"][2]["service_account"]["privileged_memberships"] == [
        dict(group="BUILTIN\\Administrators", dn=ADMINISTRATORS_DN, sid="S-1-5-32-544", via="nested"),
        dict(group="CORP\\Domain Admins", dn=DOMAIN_ADMINS_DN, sid=DOMAIN_SID + "-512", via="member")]
    assert actions(result["plan"]) == [
        ("enable_tcp", None),
        ("set_static_port", None),
        ("move_spn", "MSSQLSvc/sql01:1433"),
        ("add_spn", "MSSQLSvc/sql01"),
        ("add_spn", "MSSQLSvc/sql2.corp.example.com:SALES"),
        ("add_spn", "MSSQLSvc/sql2:SALES"),
        ("add_spn", "MSSQLSvc/sql03.corp.example.com:HR"),
        ("add_spn", "MSSQLSvc/sql03:HR"),
    ]
    assert result["summary"] == dict(instances=3, instances_with_drift=3,
                                     spns=dict(ok=2, missing=5, wrong_account=1, duplicate=0))


def test_audit_without_exposure_reads_no_descriptor_and_reports_no_writers(accounts_directory):
    """exposure=False (spn_registration's audit): the exposure audit's reads
    are not made, and the reports carry no writers and no host computer,
    so that the drift report cannot mistake them for "not readable"."""
    prepared = prepare_audit([dict(host="sql01.corp.example.com", service_account="CORP\\sqlsvc"),
                              dict(host=HOST, instance="SALES", service_account="NT SERVICE\\MSSQL$SALES")])

    result = audit(accounts_directory, prepared, SPN_FORMS, exposure=False)

    assert accounts_directory.exposure_searches == []
    assert [("writers" in r["service_account"], "host_computer" in r) for r in result["instances"]] == [
        (False, False), (False, False)]
    assert set(result["domain"]) == {"aes_keys_since"}
    assert [r["status"] for r in result["instances"]] == [r["status"] for r in audit(
        accounts_directory, prepared, SPN_FORMS)["instances"]]


def account_rereads(directory):
    """The exposure audit's searches that read service accounts again by SID."""
    return [s for s in directory.exposure_searches if s.ldap_filter.startswith("(|(objectSid=")
            and "mS-DS-CreatorSID" in s.attributes]


def test_exposure_audit_reads_no_account_read_with_its_owner_again(accounts_directory):
    """In one pass (one domain) the accounts are read with their owners and
    DACLs, and the exposure audit uses those descriptors: no account is read
    again, and the writers are those the forest audit finds reading them
    again (lab descriptors, with owners)."""
    prepared = prepare_audit([dict(host="sql01.corp.example.com", service_account="CORP\\sqlsvc"),
                              dict(host=HOST, instance="SALES", service_account="NT SERVICE\\MSSQL$SALES")])
    one_domain = corp_only(accounts_directory)

    result = audit(one_domain, prepared, SPN_FORMS)
    forest = audit(accounts_directory, prepared, SPN_FORMS)

    assert account_rereads(one_domain) == []
    assert [r["service_account"]["writers"] for r in result["instances"]] == [
        r["service_account"]["writers"] for r in forest["instances"]]
    assert result["instances"][1]["service_account"]["writers"][0]["name"] == "BUILTIN\\Account Operators"
    # A descriptor read without its owner (a DC that left it out) is read again, by SID.
    dacl_only = corp_only(accounts_directory)
    dacl_only.entries[0].raw["ntsecuritydescriptor"] = [base64.b64decode(CAPTURED["user_dacl_only"]["base64"])]
    audit(dacl_only, prepared, SPN_FORMS)
    (reread,) = account_rereads(dacl_only)
    assert reread.ldap_filter.count("(objectSid=") == 1


def test_prepare_audit_validates_without_io():
    with pytest.raises(AccountError, match="presents anonymous credentials"):
        prepare_audit([dict(host="sql01.corp.example.com", service_account="NT AUTHORITY\\LOCAL SERVICE")])
    prepared = prepare_audit([dict(host="sql01.corp.example.com", service_account="LocalSystem")])
    ((instance, reference),) = prepared
    assert (instance.name, reference.kind, reference.value) == (
        "sql01.corp.example.com", "host_computer", "sql01.corp.example.com")


# -- stale SPNs ---------------------------------------------------------------------

def test_stale_spns_are_the_host_spns_no_instance_requires():
    """Among the accounts the audit reads (service accounts, holders of a
    required SPN): an old port and a removed instance are stale, whoever
    holds them; a dynamic-port instance's own host:port registration is not;
    an SPN of sql010 is not sql01's; an SPN an instance needs in any form is
    not stale, even when the audit asks for fewer forms. An account that
    holds only stale SPNs is not read (no unindexed search)."""
    directory = FakeDirectory([
        corp_user("sqlsvc", 1105, spns=["MSSQLSvc/sql01.corp.example.com:1433", "MSSQLSvc/sql01.corp.example.com:1435",
                                        "MSSQLSvc/sql01:1433"]),
        corp_user("oldsvc", 1106, spns=["MSSQLSvc/sql01.corp.example.com:RETIRED", "MSSQLSvc/sql010:1433",
                                        "MSSQLSvc/sql01.corp.example.com:1433"]),
        corp_user("hrsvc", 1107, spns=["MSSQLSvc/sql03.corp.example.com:49712", "MSSQLSvc/sql03.corp.example.com:HR"]),
        corp_user("other", 1108, spns=["MSSQLSvc/sql03.corp.example.com:50000", "MSSQLSvc/sql03.corp.example.com:HR"]),
        corp_user("unseen", 1109, spns=["MSSQLSvc/sql03.corp.example.com:60000"]),
    ], one_domain=True)
    prepared = prepare_audit([dict(host="sql01.corp.example.com", service_account="CORP\\sqlsvc"),
                              dict(host="sql03.corp.example.com", instance="HR", service_account="CORP\\hrsvc")])

    result = audit(directory, prepared, ["fqdn_port", "fqdn_instance"])

    stale = {report["name"]: [(row["spn"], [h["name"] for h in row["holders"]]) for row in report["stale_spns"]]
             for report in result["instances"]}
    assert stale == {
        "sql01.corp.example.com": [("MSSQLSvc/sql01.corp.example.com:1435", ["CORP\\sqlsvc"]),
                                   ("MSSQLSvc/sql01.corp.example.com:RETIRED", ["CORP\\oldsvc"])],
        # HR has a dynamic port: 49712 on its own account is SQL Server's own registration; 50000 on
        # another account is not.
        "sql03.corp.example.com\\HR": [("MSSQLSvc/sql03.corp.example.com:50000", ["CORP\\other"])]}


def test_stale_spns_go_on_the_first_instance_of_their_host_only():
    directory = FakeDirectory([corp_user("sqlsvc", 1105, spns=["MSSQLSvc/sql01.corp.example.com:1435"])],
                              one_domain=True)
    prepared = prepare_audit([dict(host="sql01.corp.example.com", service_account="CORP\\sqlsvc"),
                              dict(host="sql01.corp.example.com", instance="B", port=1533,
                                   service_account="CORP\\sqlsvc")])
    result = audit(directory, prepared, SPN_FORMS)
    assert [len(r["stale_spns"]) for r in result["instances"]] == [1, 0]


# -- a gMSA's password readers ---------------------------------------------------------

def gmsa_directory(readers_sddl):
    """sql05's gMSA (which, like any gMSA, is a computer object carrying the
    host's dNSHostName), the host's computer account, and a group it is in."""
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._rbkcd import build_descriptor
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import Ace
    gmsa = directory_entry("CN=gmsa-sql5,CN=Managed Service Accounts,DC=corp,DC=example,DC=com", "gmsa-sql5$",
                           "%s-1119" % DOMAIN_SID, GMSA_CLASSES, dns_host_name="sql05.corp.example.com")
    gmsa.raw["msds-groupmsamembership"] = [build_descriptor([Ace.from_sddl(sddl) for sddl in readers_sddl])]
    sql_hosts = "CN=SQL Hosts,CN=Users,DC=corp,DC=example,DC=com"
    computer = directory_entry("CN=SQL05,CN=Computers,DC=corp,DC=example,DC=com", "SQL05$", "%s-1120" % DOMAIN_SID,
                               COMPUTER_CLASSES, dns_host_name="sql05.corp.example.com", member_of=[sql_hosts])
    group = group_entry(sql_hosts, "SQL Hosts", "%s-1121" % DOMAIN_SID)
    return FakeDirectory([gmsa, computer, group] + corp_groups(), one_domain=True)


@pytest.mark.parametrize("readers, may_retrieve", [
    (["(A;;0xf01ff;;;%s-500)" % DOMAIN_SID], False),            # Administrator only, as samba-tool creates it
    (["(A;;0xf01ff;;;%s-1120)" % DOMAIN_SID], True),            # the host itself
    (["(A;;0xf01ff;;;%s-1121)" % DOMAIN_SID], True),            # a group the host is in
    (["(A;;0xf01ff;;;%s-1119)" % DOMAIN_SID], False),           # the gMSA itself: not the host
])
def test_the_gmsa_host_is_the_computer_account_not_the_gmsa(readers, may_retrieve):
    directory = gmsa_directory(readers)
    prepared = prepare_audit([dict(host="sql05.corp.example.com", instance="HR", port=1533,
                                   service_account="CORP\\gmsa-sql5$")])
    result = audit(directory, prepared, SPN_FORMS)
    managed = result["instances"][0]["service_account"]["managed_password"]
    assert managed == dict(host_account="CORP\\SQL05$", may_retrieve=may_retrieve)


# -- the exposure audit's writer groups ----------------------------------------------

def test_writer_group_members_follow_nesting_by_dn_one_search_per_level():
    """A writer group's members, nested ones included, as the in-chain search
    would name them, read by DN one level per search: never the in-chain
    term, which Samba answers by walking the whole domain (bench/README.md).
    A cycle ends; a member the domain does not hold keeps its DN."""
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._exposure_audit import _group_members

    helpdesk = "CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com"
    tier2 = "CN=Tier2,OU=Groups,DC=corp,DC=example,DC=com"
    loop = "CN=Loop,OU=Groups,DC=corp,DC=example,DC=com"
    foreign = "CN=bob,CN=Users,DC=emea,DC=corp,DC=example,DC=com"
    directory = FakeDirectory([
        group_entry(helpdesk, "Helpdesk", "%s-3001" % DOMAIN_SID, member_of=[loop]),
        group_entry(tier2, "Tier2", "%s-3002" % DOMAIN_SID, member_of=[helpdesk]),
        group_entry(loop, "Loop", "%s-3003" % DOMAIN_SID, member_of=[tier2]),
        corp_user("dave", 1201, member_of=[helpdesk]),
        corp_user("erin", 1202, member_of=[tier2]),
        corp_user("frank", 1203),
    ])
    # A member of another domain: in Helpdesk's member values only.
    original = directory.search

    def search(base, ldap_filter, attributes, **kwargs):
        found = original(base, ldap_filter, attributes, **kwargs)
        if "member" in [a.lower() for a in attributes]:
            for entry in found:
                if entry.dn == helpdesk:
                    entry.raw["member"] = list(entry.raw.get("member", [])) + [foreign.encode()]
        return found

    directory.search = search
    members = _group_members(directory, {"S-1": dict(dn=helpdesk), "S-2": dict(dn=tier2)}, "CORP")

    assert members == {
        "S-1": ["CN=bob,CN=Users,DC=emea,DC=corp,DC=example,DC=com", "CORP\\dave", "CORP\\erin", "CORP\\Loop",
                "CORP\\Tier2"],
        "S-2": ["CN=bob,CN=Users,DC=emea,DC=corp,DC=example,DC=com", "CORP\\dave", "CORP\\erin", "CORP\\Helpdesk",
                "CORP\\Loop"],
    }
    # Levels: the groups, their members (dave, Loop, erin, bob), nothing new after; no in-chain term.
    assert len(directory.searches) == 2
    assert not any(":1.2.840.113556.1.4.1941:" in s.ldap_filter for s in directory.searches)
    assert all(s.ldap_filter.startswith("(|(distinguishedName=") or s.ldap_filter.startswith("(distinguishedName=")
               for s in directory.searches)
