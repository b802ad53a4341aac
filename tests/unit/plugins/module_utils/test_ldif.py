# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LDIF of modify requests (_ldif), read back with an RFC 2849 reader
written here: the records of an SPN add and delete and of a delegation add
are exactly the modify requests spn_register and rbkcd_delegate send (the
same DN, operations and values, taken from a client that records them),
binary values round-trip through base64, and every record of the drift
report's LDIF is one of those requests."""

from __future__ import annotations

import base64
import re

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _drift_report, _ldif
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import Account
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldif import LdifError, modify_record
from ansible_collections.sqlauth.kerberos.plugins.module_utils._rbkcd import (
    RBCD_ATTRIBUTE,
    TargetPlan,
    build_descriptor,
    delegation_ace,
    guarded_modification,
    write_plan,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import spn_key
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_register import (
    AccountChange,
    apply_changes,
    spn_modification,
)
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.module_utils.test_drift_report import build

DOMAIN_SID = "S-1-5-21-2266110769-295493698-3870994567"
SPN = "MSSQLSvc/sql1.corp.example.test:1433"
SPN_NAME = "MSSQLSvc/sql1.corp.example.test"
OLD_SPN = "MSSQLSvc/old.corp.example.test:1433"
_OPERATIONS = {"add": "MODIFY_ADD", "delete": "MODIFY_DELETE", "replace": "MODIFY_REPLACE"}


def account(sam, rid):
    return Account(dn="CN=%s,OU=Service Accounts,DC=corp,DC=example,DC=test" % sam, sid="%s-%d" % (DOMAIN_SID, rid),
                   sam_account_name=sam, domain_netbios="CORP")


class Recorder:
    """A client whose modifies all succeed, recorded as (dn, changes)."""

    def __init__(self):
        self.modifies = []

    def modify(self, dn, changes, controls=None):
        assert controls is None
        self.modifies.append((dn, changes))


# -- an RFC 2849 reader --------------------------------------------------------

def _attribute_value(line):
    """(name, value) of an LDIF line: text after ``:``, bytes after ``::``."""
    name, colon, rest = line.partition(":")
    assert colon and name and " " not in name, line
    if rest.startswith(":"):
        return name, base64.b64decode(rest[1:].lstrip(" "), validate=True)
    assert not rest.startswith("<"), "no URL values expected: %s" % line
    value = rest.lstrip(" ")
    # SAFE-STRING: ASCII, not starting with space, colon or '<'; anything else must be base64.
    assert value.isascii() and not value.endswith(" "), line
    return name, value


def parse_ldif(text):
    """The change records of an LDIF text as modify requests: [(dn,
    {attribute: [(operation, values)]})], values str when written as text
    and bytes when base64-encoded. Folded lines are joined and comments
    dropped; records are separated by empty lines; every record must be a
    ``changetype: modify`` whose changes each end with ``-``."""
    assert "\r" not in text
    lines = []
    for line in text.split("\n"):
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    blocks, block = [], []
    for line in lines + [""]:
        if line.startswith("#"):
            continue
        if line:
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    records = []
    for index, block in enumerate(blocks):
        if index == 0 and block[0].startswith("version:"):
            assert block.pop(0) == "version: 1"
            if not block:
                continue  # empty lines may follow the version line (RFC 2849: version-spec 1*(1*SEP record))
        name, dn = _attribute_value(block[0])
        assert name == "dn", block
        dn = dn.decode("utf-8") if isinstance(dn, bytes) else dn
        assert _attribute_value(block[1]) == ("changetype", "modify"), block
        changes, current = {}, None
        for line in block[2:]:
            if line == "-":
                assert current is not None, block
                changes.setdefault(current[0], []).append((current[1], current[2]))
                current = None
                continue
            name, value = _attribute_value(line)
            if current is None:
                assert name in _OPERATIONS, block
                current = (value, _OPERATIONS[name], [])
            else:
                assert name == current[0], block
                current[2].append(value)
        assert current is None, "a change not ended by '-': %s" % block
        records.append((dn, changes))
    return records


# -- the modules' requests, as LDIF ---------------------------------------------

def test_spn_register_modifies_read_back_from_their_ldif():
    sqlsvc, oldsvc = account("sqlsvc1", 1207), account("oldsvc", 1300)
    client = Recorder()
    apply_changes(client, [
        AccountChange(sqlsvc, add={spn_key(SPN): SPN, spn_key(SPN_NAME): SPN_NAME},
                      remove={spn_key(OLD_SPN): OLD_SPN}),
        AccountChange(oldsvc, remove={spn_key(SPN): SPN}),
    ])
    assert client.modifies == [
        (oldsvc.dn, {"servicePrincipalName": [("MODIFY_DELETE", [SPN])]}),
        (sqlsvc.dn, {"servicePrincipalName": [("MODIFY_DELETE", [OLD_SPN]), ("MODIFY_ADD", [SPN_NAME, SPN])]}),
    ]
    for dn, changes in client.modifies:
        assert parse_ldif(modify_record(dn, changes)) == [(dn, changes)]


@pytest.mark.parametrize("operation, change", [
    ("add", dict(add={spn_key(SPN): SPN})),
    ("delete", dict(remove={spn_key(SPN): SPN})),
])
def test_drift_report_spn_ldif_is_spn_registers_modify(operation, change):
    sqlsvc = account("sqlsvc1", 1207)
    client = Recorder()
    apply_changes(client, [AccountChange(sqlsvc, **change)])
    text = _drift_report._ldif_spn(sqlsvc.dn, operation, SPN)
    assert parse_ldif(text) == client.modifies
    assert text == ("dn: %s\nchangetype: modify\n%s: servicePrincipalName\nservicePrincipalName: %s\n-\n"
                    % (sqlsvc.dn, operation, SPN))


def test_drift_report_delegation_ldif_is_rbkcd_delegates_add():
    sqlsvc2, front = account("sqlsvc2", 1208), account("sqlsvc1", 1207)
    plan = TargetPlan(sqlsvc2, "present", [front.sid], [])
    plan.replan(None)  # the attribute is absent
    client = Recorder()
    write_plan(client, plan)
    value = build_descriptor([delegation_ace(front.sid)])
    assert client.modifies == [(sqlsvc2.dn, {RBCD_ATTRIBUTE: [("MODIFY_ADD", [value])]})]
    target = dict(account=dict(dn=sqlsvc2.dn, sid=sqlsvc2.sid, name=sqlsvc2.name), principals_before=[],
                  principals=[dict(name=front.name, sid=front.sid)], non_standard_entries=[])
    text = _drift_report._ldif_delegation(target)
    assert parse_ldif(text) == client.modifies
    assert "%s:: %s\n" % (RBCD_ATTRIBUTE, base64.b64encode(value).decode("ascii")) in text


def test_drift_report_ldif_holds_only_the_modules_requests():
    """Every record of the generated file is an SPN add or delete of one
    value or a delegation add, in the modules' own form; nothing replaces."""
    records = parse_ldif(_drift_report.to_ldif(build()))
    assert len(records) == 10 + 2 * 2 + 1 + 2
    for dummy, changes in records:
        ((attribute, [(operation, values)]),) = changes.items()
        if attribute == RBCD_ATTRIBUTE:
            assert changes == guarded_modification(None, values[0]) and isinstance(values[0], bytes)
        else:
            assert changes == spn_modification(**{operation.split("_")[1].lower(): values})
            assert len(values) == 1


# -- the LDIF itself ---------------------------------------------------------------

@pytest.mark.parametrize("old", [None, b"\x01\x00\x04\x80" + bytes(16)])
def test_binary_values_round_trip_through_base64(old):
    value = bytes(range(256)) * 2
    changes = guarded_modification(old, value)
    text = modify_record("CN=sqlsvc2,CN=Users,DC=corp,DC=example,DC=test", changes)
    assert parse_ldif(text) == [("CN=sqlsvc2,CN=Users,DC=corp,DC=example,DC=test", changes)]
    assert "%s:: %s\n" % (RBCD_ATTRIBUTE, base64.b64encode(value).decode("ascii")) in text
    # One line per value (not folded), LF line ends, no per-record version line.
    assert not re.search(r"^ ", text, re.MULTILINE) and "\r" not in text and "version:" not in text


def test_text_unsafe_as_ldif_is_base64_encoded():
    dn = "CN=Jürgen Groß,CN=Users,DC=corp,DC=example,DC=test"
    changes = spn_modification(add=["MSSQLSvc/sql1:1433", " leading-space", ":colon", "MSSQLSvc/größe:1433"])
    text = modify_record(dn, changes)
    assert text.startswith("dn:: %s\n" % base64.b64encode(dn.encode("utf-8")).decode("ascii"))
    assert "servicePrincipalName: MSSQLSvc/sql1:1433\n" in text
    [(parsed_dn, parsed)] = parse_ldif(text)
    assert parsed_dn == dn
    assert parsed == {"servicePrincipalName": [("MODIFY_ADD", [
        value if value == "MSSQLSvc/sql1:1433" else value.encode("utf-8")
        for value in changes["servicePrincipalName"][0][1]])]}


def test_records_join_into_one_file():
    first = modify_record("CN=a,DC=corp", spn_modification(add=[SPN]))
    second = modify_record("CN=b,DC=corp", spn_modification(delete=[SPN]))
    assert first.endswith("\n-\n")
    text = "version: 1\n# a comment\n\n" + "\n".join([first, "# between\n", second])
    assert parse_ldif(text) == [("CN=a,DC=corp", spn_modification(add=[SPN])),
                                ("CN=b,DC=corp", spn_modification(delete=[SPN]))]


def test_spn_modification_deletes_before_adding_sorted():
    assert spn_modification(add={"b", "a"}, delete=["d", "c"]) == {
        "servicePrincipalName": [("MODIFY_DELETE", ["c", "d"]), ("MODIFY_ADD", ["a", "b"])]}
    assert spn_modification(add=[SPN]) == {"servicePrincipalName": [("MODIFY_ADD", [SPN])]}
    assert spn_modification() == {"servicePrincipalName": []}


def test_without_ldap3_the_error_says_so(monkeypatch):
    monkeypatch.setattr(_ldif, "LDAP3_IMPORT_ERROR", "Traceback: No module named 'ldap3'")
    with pytest.raises(LdifError, match="needs the ldap3 Python package"):
        modify_record("CN=a,DC=corp", spn_modification(add=[SPN]))


def test_a_request_ldap3_refuses_is_an_ldif_error():
    with pytest.raises(LdifError, match="CN=a,DC=corp"):
        modify_record("CN=a,DC=corp", {"servicePrincipalName": [("MODIFY_NOTHING", [SPN])]})
