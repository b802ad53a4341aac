# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report (_drift_report): the checks of every instance and their
fixes, built from results captured on the Samba AD lab's seeded estate
(fixtures/drift_report_inputs.json: spn_facts as ``audit``, rbkcd_delegate
in check mode as ``delegation``, the linked servers as ``links`` and the
Linux host's sql_static_port check as ``ports``), then from copies of them
changed to a clean estate and to the states only the inventory declares
(dynamic port, TCP/IP off, SPN conflicts, unchecked ACLs) or only Windows
hosts report (registry changes); and its renderings: JUnit XML (read back
with ElementTree and junitparser), HTML, the PowerShell script and LDIF,
whose delegation value is decoded with _rbkcd, JSON, and render, which picks
one by its format name."""

from __future__ import annotations

import base64
import copy
import json
import re
import shlex
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _rbkcd
from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import (
    CHECK_ORDER,
    RESULTS,
    build_report,
    problem_lines,
    problems,
    to_json,
    to_junit,
    to_ldif,
    to_powershell,
)
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._drift_report_html import RENDERINGS, render, to_html
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import sid_from_bytes

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "drift_report_inputs.json").read_text())
GENERATED = "2026-01-01T00:00:00Z"

SQL1 = "sql1.corp.example.test"
SALES = "sql2.corp.example.test\\SALES"
SQL3 = "sql3.corp.example.test"
SQL4 = "sql4.corp.example.test"
SQL6 = "sql6.corp.example.test"
LNX = "sqllnx1.corp.example.test"
SQLSVC1_SID = "S-1-5-21-2266110769-295493698-3870994567-1207"
SQLSVC2_SID = "S-1-5-21-2266110769-295493698-3870994567-1208"
IPALL = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\MSSQL16.SALES\\MSSQLServer\\SuperSocketNetLib\\Tcp\\IPAll"
# The comment that opens each problem in the fix scripts: instance, check, subject, status.
HEADER = re.compile(r"^# (\S+): (\w+) .* \((\w+)\)$")
PS_PREAMBLE = ("#Requires -Modules ActiveDirectory", "$ErrorActionPreference = 'Stop'")


# -- helpers -------------------------------------------------------------------

def inputs():
    """A copy of the captured inputs, free to change."""
    return copy.deepcopy(FIXTURE)


def build(data=None):
    data = FIXTURE if data is None else data
    return build_report(data["audit"], data["links"], data["delegation"], data["ports"], mode="report",
                        generated=GENERATED)


def audit_report(data, name):
    return next(report for report in data["audit"]["instances"] if report["name"] == name)


def instances(report):
    return {instance["name"]: instance for host in report["hosts"] for instance in host["instances"]}


def checks_of(report, name, check=None):
    return [c for c in instances(report)[name]["checks"] if check is None or c["check"] == check]


def drift_findings(report, name):
    return Counter((c["check"], c["status"]) for c in checks_of(report, name) if c["result"] == "drift")


def clean_inputs():
    """The captured estate with every problem fixed."""
    data = inputs()
    for report in data["audit"]["instances"]:
        account = report["service_account"]
        report["can_register_own_spns"] = True
        for row in report["spns"]:
            row["status"] = "ok"
            row["holders"] = [dict(name=account["name"], dn=account["dn"], sid=account["sid"])]
    for target in data["delegation"]["targets"]:
        target["principals_before"] = copy.deepcopy(target["principals"])
    result = data["ports"][LNX]["result"]
    result["changed"] = False
    result["instances"][0].update(changed=False, changes=[], restart_required=False)
    return data


def windows_port_check(instance="SALES", changes=None, restart_required=True, service="MSSQL$SALES"):
    """A sql_static_port check-mode result for a Windows host, as its port check."""
    if changes is None:
        changes = [dict(key=IPALL, value="TcpPort", before="", after="1533"),
                   dict(key=IPALL, value="TcpDynamicPorts", before="0", after="")]
    live = dict(instance=instance, changed=bool(changes), changes=changes, restart_required=restart_required,
                service=service)
    return dict(managed=True, platform="windows", result=dict(changed=live["changed"], instances=[live]))


def ldif_records(text):
    """The change records of an LDIF text: dict(dn, changetype, op, attribute, values), comments dropped."""
    records = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        if not lines:
            continue
        record = dict(values=[])
        for line in lines:
            if line == "-":
                continue
            name, dummy, value = line.partition(":")
            if value.startswith(":"):
                record["values"].append(base64.b64decode(value[1:].strip()))
            elif name == "dn":
                record["dn"] = value.strip()
            elif name == "changetype":
                record["changetype"] = value.strip()
            elif name in ("add", "delete", "replace"):
                record.update(op=name, attribute=value.strip())
            else:
                assert name == record["attribute"], block
                record["values"].append(value.strip())
        records.append(record)
    return records


def spn_ldif(records):
    return sorted((r["dn"], r["op"], r["values"][0]) for r in records if r["attribute"] == "servicePrincipalName")


def delegation_value_sids(value):
    """The SIDs an msDS-AllowedToActOnBehalfOfOtherIdentity value lets delegate."""
    return _rbkcd.delegating_sids(_rbkcd.read_descriptor(value))


def script_commands(script):
    """The lines of a PowerShell script that do something."""
    return [line for line in script.splitlines() if line and not line.startswith("#") and line not in PS_PREAMBLE]


# -- the seeded estate ---------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    (SQL1, {("delegation", "delegation_missing"): 1}),
    (SALES, {("spn_write_acl", "acl_missing"): 1, ("spn", "missing"): 4, ("delegation", "delegation_missing"): 1}),
    (SQL3, {("spn_write_acl", "acl_missing"): 1, ("spn", "wrong_account"): 2, ("spn", "missing"): 2}),
    (SQL4, {("spn_write_acl", "acl_missing"): 1, ("spn", "duplicate"): 1}),
    (SQL6, {}),
    (LNX, {("static_port", "port_not_static"): 1, ("spn_write_acl", "acl_missing"): 1, ("spn", "missing"): 4}),
])
def test_seeded_estate_findings(name, expected):
    report = build()
    assert drift_findings(report, name) == Counter(expected)
    assert instances(report)[name]["result"] == ("drift" if expected else "ok")


def test_every_audited_instance_is_reported_once_under_its_host():
    report = build()
    assert sorted(instances(report)) == sorted(r["name"] for r in FIXTURE["audit"]["instances"])
    assert [host["host"] for host in report["hosts"]] == sorted(r["host"] for r in FIXTURE["audit"]["instances"])
    for host in report["hosts"]:
        for instance in host["instances"]:
            source = audit_report(FIXTURE, instance["name"])
            assert source["host"] == host["host"]
            assert (instance["instance"], instance["port"]) == (source["instance"], source["port"])
            assert instance["service_account"] == source["service_account"]["name"]
        assert host["result"] == ("drift" if any(i["result"] == "drift" for i in host["instances"]) else "ok")


def test_spn_checks_follow_the_audit_rows():
    report = build()
    for source in FIXTURE["audit"]["instances"]:
        spn_checks = checks_of(report, source["name"], "spn")
        assert [(c["subject"], c["status"]) for c in spn_checks] == [(r["spn"], r["status"]) for r in source["spns"]]
        assert {c["account"] for c in spn_checks} == {source["service_account"]["name"]}


def test_spn_write_acl_follows_can_register_own_spns():
    report = build()
    for source in FIXTURE["audit"]["instances"]:
        [check] = checks_of(report, source["name"], "spn_write_acl")
        assert check["subject"] == source["service_account"]["name"]
        assert check["status"] == ("ok" if source["can_register_own_spns"] else "acl_missing")


def test_duplicate_names_both_holders():
    [check] = [c for c in checks_of(build(), SQL4, "spn") if c["result"] == "drift"]
    assert check["subject"] == "MSSQLSvc/sql4.corp.example.test:1433"
    assert "CORP\\sqlsvc4, CORP\\sqlsvc4old" in check["detail"]
    assert check["fix"] == ("Remove MSSQLSvc/sql4.corp.example.test:1433 from CORP\\sqlsvc4old, keeping it on "
                            "CORP\\sqlsvc4.")


def test_windows_hosts_without_a_port_check_skip_the_static_port_check():
    report = build()
    for name in instances(report):
        [check] = checks_of(report, name, "static_port")
        assert check["subject"] == name
        if name == LNX:
            assert check["status"] == "port_not_static"
            assert check["detail"] == "not pinned to 1435 (tcpport (none) -> 1435)"
        else:
            assert audit_report(FIXTURE, name)["host"] not in FIXTURE["ports"]
            assert (check["result"], check["status"]) == ("skipped", "skipped")
            assert "fix" not in check


def test_delegation_checks_follow_the_links():
    report = build()
    assert [c["subject"] for c in checks_of(report, SQL1, "delegation")] == [SQL1 + " -> " + SALES]
    assert [c["subject"] for c in checks_of(report, SALES, "delegation")] == [SALES + " -> " + SQL1]
    for name in (SQL3, SQL4, SQL6, LNX):
        assert checks_of(report, name, "delegation") == []
    [to_sales] = checks_of(report, SQL1, "delegation")
    assert to_sales["account"] == "CORP\\sqlsvc2"
    assert to_sales["detail"].startswith("CORP\\sqlsvc1 may not delegate to CORP\\sqlsvc2")


def test_links_match_instance_names_however_written():
    data = inputs()
    data["links"] = [dict(front="SQL1.corp.example.test\\mssqlserver", back="sql2.CORP.example.test\\sales")]
    report = build(data)
    assert [c["status"] for c in checks_of(report, SQL1, "delegation")] == ["delegation_missing"]
    assert checks_of(report, SALES, "delegation") == []


def test_links_to_unaudited_instances_and_unchecked_delegation():
    data = inputs()
    data["links"].append(dict(front=SQL3, back="sql9.corp.example.test"))
    assert checks_of(build(data), SQL3, "delegation") == []
    data["delegation"] = None
    report = build(data)
    for name in (SQL1, SALES):
        [check] = checks_of(report, name, "delegation")
        assert (check["result"], check["detail"]) == ("skipped", "delegation was not checked")


def test_summary_counts_the_checks():
    report = build()
    every = [c for instance in instances(report).values() for c in instance["checks"]]
    counts = Counter(c["result"] for c in every)
    summary = report["summary"]
    assert set(counts) <= set(RESULTS)
    assert {result: summary[result] for result in RESULTS} == {result: counts[result] for result in RESULTS}
    assert summary["checks"] == len(every) == sum(counts.values())
    assert summary["hosts"] == len(report["hosts"]) == 6
    assert summary["instances"] == len(FIXTURE["audit"]["instances"]) == 6
    with_drift = [name for name, instance in instances(report).items() if instance["result"] == "drift"]
    assert summary["instances_with_drift"] == len(with_drift) == 5
    assert sorted(with_drift) == sorted([SQL1, SALES, SQL3, SQL4, LNX])
    # The seeded findings (test_seeded_estate_findings) of sql1, SALES, sql3, sql4, sql6 and sqllnx1; the
    # static ports of the five Windows instances are not checked.
    assert (summary["drift"], summary["skipped"]) == (1 + 6 + 5 + 2 + 0 + 6, 5)
    assert report["drift"] is True
    assert (report["mode"], report["generated"]) == ("report", GENERATED)


def test_checks_are_in_fix_order_and_only_problems_carry_fixes():
    for instance in instances(build()).values():
        order = [CHECK_ORDER.index(c["check"]) for c in instance["checks"]]
        assert order == sorted(order)
        for check in instance["checks"]:
            assert check["result"] in RESULTS
            if check["result"] == "drift":
                assert check["fix"] and isinstance(check["commands"], list) and isinstance(check["ldif"], list)
            else:
                assert not {"fix", "commands", "ldif"} & set(check)


def test_problems_are_the_drift_checks_in_report_order():
    report = build()
    found = problems(report)
    assert [check for dummy, dummy2, check in found] == [
        c for host in report["hosts"] for i in host["instances"] for c in i["checks"] if c["result"] == "drift"]
    assert all(instance["name"] in [i["name"] for i in host["instances"]] for host, instance, dummy in found)


# -- a clean estate --------------------------------------------------------------

def test_clean_estate_has_no_drift():
    report = build(clean_inputs())
    assert report["drift"] is False
    assert report["summary"]["drift"] == report["summary"]["instances_with_drift"] == 0
    assert problems(report) == [] and problem_lines(report) == []
    assert all(host["result"] == "ok" for host in report["hosts"])
    [port] = checks_of(report, LNX, "static_port")
    assert (port["status"], port["detail"]) == ("ok", "pinned to 1435")
    assert [c["status"] for c in checks_of(report, SQL1, "delegation")] == ["ok"]
    # Only the Windows hosts' static ports stay unchecked.
    assert report["summary"]["skipped"] == 5


def test_clean_estate_fix_scripts_have_no_commands():
    report = build(clean_inputs())
    script = to_powershell(report)
    assert script.startswith("# AD changes that fix the Kerberos drift of 0 SQL Server instance(s).\n")
    assert script_commands(script) == []
    ldif = to_ldif(report)
    assert [line for line in ldif.splitlines() if line and not line.startswith("#")] == []
    assert ldif_records(ldif) == []


# -- the fixes -----------------------------------------------------------------

def test_missing_spn_is_registered_on_the_account():
    source = audit_report(FIXTURE, SALES)
    dn = source["service_account"]["dn"]
    for check in checks_of(build(), SALES, "spn"):
        assert check["status"] == "missing"
        assert check["commands"] == ["setspn -S '%s' 'CORP\\sqlsvc2'" % check["subject"]]
        assert spn_ldif(ldif_records("\n".join(check["ldif"]))) == [(dn, "add", check["subject"])]


def test_wrong_account_spn_is_moved():
    source = audit_report(FIXTURE, SQL3)
    moved = [c for c in checks_of(build(), SQL3, "spn") if c["status"] == "wrong_account"]
    assert [c["subject"] for c in moved] == ["MSSQLSvc/sql3.corp.example.test:1433", "MSSQLSvc/sql3.corp.example.test"]
    for check in moved:
        spn = check["subject"]
        assert check["commands"] == ["setspn -D '%s' 'CORP\\SQL3$'" % spn, "setspn -S '%s' 'CORP\\sqlsvc3'" % spn]
        records = ldif_records("\n".join(check["ldif"]))
        assert [(r["dn"], r["op"], r["values"]) for r in records] == [
            ("CN=SQL3,CN=Computers,DC=corp,DC=example,DC=test", "delete", [spn]),
            (source["service_account"]["dn"], "add", [spn])]
        assert check["fix"] == "Move %s from CORP\\SQL3$ to CORP\\sqlsvc3." % spn


def test_duplicate_spn_is_only_removed_from_the_other_holder():
    [check] = [c for c in checks_of(build(), SQL4, "spn") if c["status"] == "duplicate"]
    spn = check["subject"]
    assert check["commands"] == ["setspn -D '%s' 'CORP\\sqlsvc4old'" % spn]
    assert spn_ldif(ldif_records("\n".join(check["ldif"]))) == [
        ("CN=sqlsvc4old,CN=Users,DC=corp,DC=example,DC=test", "delete", spn)]


def test_acl_missing_is_fixed_with_dsacls():
    report = build()
    for name in (SALES, SQL3, SQL4, LNX):
        [check] = checks_of(report, name, "spn_write_acl")
        dn = audit_report(FIXTURE, name)["service_account"]["dn"]
        assert check["commands"] == ["dsacls '%s' /G 'SELF:RPWP;servicePrincipalName'" % dn,
                                     "dsacls '%s' /G 'SELF:WS;Validated write to service principal name'" % dn]
        assert "read and write servicePrincipalName and validated write to SPNs" in check["fix"]
        assert [line for line in "".join(check["ldif"]).splitlines() if not line.startswith("#")] == []


def test_delegation_fix_keeps_existing_principals():
    [check] = checks_of(build(), SQL1, "delegation")
    sqlsvc2 = "'CN=sqlsvc2,CN=Users,DC=corp,DC=example,DC=test'"
    assert check["commands"] == [
        "Set-ADUser -Identity %s -PrincipalsAllowedToDelegateToAccount @(@((Get-ADUser -Identity %s -Properties "
        "PrincipalsAllowedToDelegateToAccount).PrincipalsAllowedToDelegateToAccount) + "
        "'CN=sqlsvc1,OU=Service Accounts,OU=Tier1,DC=corp,DC=example,DC=test')" % (sqlsvc2, sqlsvc2)]


@pytest.mark.parametrize("kind, noun", [("user", "ADUser"), ("computer", "ADComputer"),
                                        ("gmsa", "ADServiceAccount"), ("msa", "ADServiceAccount")])
def test_delegation_cmdlet_follows_the_back_end_account_kind(kind, noun):
    data = inputs()
    audit_report(data, SALES)["service_account"]["kind"] = kind
    [command] = checks_of(build(data), SQL1, "delegation")[0]["commands"]
    assert command.startswith("Set-%s -Identity 'CN=sqlsvc2," % noun)
    assert "(Get-%s -Identity 'CN=sqlsvc2," % noun in command
    # The other link's back end (sqlsvc1) is still a user.
    assert checks_of(build(data), SALES, "delegation")[0]["commands"][0].startswith("Set-ADUser ")


def test_delegation_command_quotes_a_dn_with_an_apostrophe():
    data = inputs()
    quoted_dn = "CN=O'Brien,CN=Users,DC=corp,DC=example,DC=test"
    audit_report(data, SALES)["service_account"]["dn"] = quoted_dn
    report = build(data)
    [as_back] = checks_of(report, SQL1, "delegation")[0]["commands"]
    assert as_back.count("'CN=O''Brien,CN=Users,DC=corp,DC=example,DC=test'") == 2
    [as_front] = checks_of(report, SALES, "delegation")[0]["commands"]
    assert as_front.endswith(" + 'CN=O''Brien,CN=Users,DC=corp,DC=example,DC=test')")
    for command in (as_back, as_front):
        # Outside the doubled quotes, single quotes pair up: each string is closed.
        assert command.replace("''", "").count("'") % 2 == 0
        assert "O'Brien" not in command.replace("''", "")


def test_linux_port_fix():
    [check] = checks_of(build(), LNX, "static_port")
    assert check["commands"] == ["sudo /opt/mssql/bin/mssql-conf set network.tcpport 1435",
                                 "sudo systemctl restart mssql-server"]
    assert check["ldif"] == []
    assert "Pin TCP port 1435 on sqllnx1.corp.example.test" in check["fix"]


def test_windows_port_fix_from_registry_changes():
    data = inputs()
    data["ports"]["sql2.corp.example.test"] = windows_port_check(instance="Sales")
    [check] = checks_of(build(data), SALES, "static_port")
    assert (check["result"], check["status"]) == ("drift", "port_not_static")
    assert check["detail"] == "not pinned to 1533 (TcpPort (none) -> 1533; TcpDynamicPorts 0 -> (none))"
    key = "'HKLM:" + IPALL[len("HKLM"):] + "'"
    assert check["commands"] == ["Set-ItemProperty -Path %s -Name 'TcpPort' -Value '1533'" % key,
                                 "Set-ItemProperty -Path %s -Name 'TcpDynamicPorts' -Value ''" % key,
                                 "Restart-Service -Name 'MSSQL$SALES' -Force"]


def test_windows_port_pinned_but_not_listening_needs_a_restart():
    data = inputs()
    data["ports"]["sql2.corp.example.test"] = windows_port_check(changes=[], restart_required=True)
    [check] = checks_of(build(data), SALES, "static_port")
    assert check["status"] == "restart_required"
    assert check["detail"] == "pinned to 1533, but the running instance does not listen on it yet"
    assert check["commands"] == ["Restart-Service -Name 'MSSQL$SALES' -Force"]


@pytest.mark.parametrize("port, detail", [
    (windows_port_check(changes=[], restart_required=False), "pinned to 1533"),
    (windows_port_check(instance="HR"), "not checked: the host's port check failed or did not run"),
    (dict(managed=True, platform="windows", result=None), "not checked: the host's port check failed or did not run"),
    (dict(managed=False, platform="windows"), "ports are not checked on this host"),
])
def test_windows_port_check_outcomes(port, detail):
    data = inputs()
    data["ports"]["sql2.corp.example.test"] = port
    [check] = checks_of(build(data), SALES, "static_port")
    assert check["detail"].startswith(detail)
    assert check["result"] == ("ok" if detail.startswith("pinned") else "skipped")


def test_port_checks_key_hosts_by_lower_case_fqdn():
    data = inputs()
    data["ports"] = {LNX.upper(): data["ports"][LNX]}
    assert checks_of(build(data), LNX, "static_port")[0]["status"] == "skipped"


# -- LDIF ----------------------------------------------------------------------

def test_ldif_spn_changes_per_entry():
    records = ldif_records(to_ldif(build()))
    assert all(r["changetype"] == "modify" and len(r["values"]) == 1 for r in records)
    expected = []
    for source in FIXTURE["audit"]["instances"]:
        account = source["service_account"]
        for row in source["spns"]:
            others = [h["dn"] for h in row["holders"] if h["sid"] != account["sid"]]
            expected.extend((dn, "delete", row["spn"]) for dn in others)
            if row["status"] in ("missing", "wrong_account"):
                expected.append((account["dn"], "add", row["spn"]))
    assert spn_ldif(records) == sorted(expected)
    assert len(expected) == 10 + 2 * 2 + 1


def test_ldif_delegation_adds_the_planned_value():
    records = [r for r in ldif_records(to_ldif(build())) if r["attribute"] == _rbkcd.RBCD_ATTRIBUTE]
    assert [(r["dn"], r["op"], delegation_value_sids(r["values"][0])) for r in records] == [
        ("CN=sqlsvc2,CN=Users,DC=corp,DC=example,DC=test", "add", [SQLSVC1_SID]),
        ("CN=sqlsvc1,OU=Service Accounts,OU=Tier1,DC=corp,DC=example,DC=test", "add", [SQLSVC2_SID])]
    value = records[0]["values"][0]
    assert _rbkcd.irregular_aces(_rbkcd.read_descriptor(value)) == []
    # Owner BUILTIN\Administrators, as Windows writes it.
    owner_offset = int.from_bytes(value[4:8], "little")
    assert sid_from_bytes(value, owner_offset)[0] == _rbkcd.BUILTIN_ADMINISTRATORS


def test_ldif_delegation_is_written_once_per_back_end():
    data = inputs()
    data["links"].append(dict(front=SQL3, back=SALES))
    target = next(t for t in data["delegation"]["targets"] if t["account"]["sid"] == SQLSVC2_SID)
    target["principals"].append(dict(name="CORP\\sqlsvc3", sid=audit_report(data, SQL3)["service_account"]["sid"]))
    report = build(data)
    assert [c["status"] for c in checks_of(report, SQL3, "delegation")] == ["delegation_missing"]
    records = [r for r in ldif_records(to_ldif(report)) if r["attribute"] == _rbkcd.RBCD_ATTRIBUTE]
    to_sales = [r for r in records if r["dn"] == target["account"]["dn"]]
    assert len(to_sales) == 1
    assert delegation_value_sids(to_sales[0]["values"][0]) == [SQLSVC1_SID, target["principals"][1]["sid"]]


@pytest.mark.parametrize("change", ["principals_before", "non_standard_entries"])
def test_ldif_delegation_never_replaces_a_value(change):
    data = inputs()
    other = dict(name="CORP\\webapp", sid="S-1-5-21-2266110769-295493698-3870994567-1300")
    for target in data["delegation"]["targets"]:
        target[change] = [dict(other, sddl="(A;;0x1;;;%s)" % other["sid"])] if change == "non_standard_entries" \
            else [other]
    report = build(data)
    [check] = checks_of(report, SQL1, "delegation")
    assert check["status"] == "delegation_missing"
    assert check["ldif"] == ["# CN=sqlsvc2,CN=Users,DC=corp,DC=example,DC=test: %s already has a value; use the "
                             "PowerShell line, which keeps its entries.\n" % _rbkcd.RBCD_ATTRIBUTE]
    ldif = to_ldif(report)
    assert [r for r in ldif_records(ldif) if r["attribute"] == _rbkcd.RBCD_ATTRIBUTE] == []
    assert "replace:" not in ldif
    assert all(r["op"] in ("add", "delete") for r in ldif_records(ldif))


def _positions(lines, predicate):
    return [index for index, line in enumerate(lines) if predicate(line)]


def test_powershell_lists_problems_in_fix_order():
    lines = to_powershell(build()).splitlines()
    acl = _positions(lines, lambda line: line.startswith("dsacls "))
    spn = _positions(lines, lambda line: line.startswith("setspn "))
    delegation = _positions(lines, lambda line: line.startswith("Set-AD"))
    assert (len(acl), len(spn), len(delegation)) == (8, 10 + 2 * 2 + 1, 2)
    assert max(acl) < min(spn) and max(spn) < min(delegation)
    commands = [line for line in lines if line.startswith(("dsacls ", "setspn ", "Set-AD"))]
    assert script_commands("\n".join(lines)) == commands


def test_ldif_lists_problems_in_fix_order():
    ldif = to_ldif(build())
    headers = [HEADER.match(line) for line in ldif.splitlines()]
    kinds = [CHECK_ORDER.index(header.group(2)) for header in headers if header]
    assert len(kinds) == 4 + (10 + 2 + 1) + 2  # every problem but the Linux port has an LDIF part
    assert kinds == sorted(kinds)
    assert [CHECK_ORDER[k] for k in dict.fromkeys(kinds)] == ["spn_write_acl", "spn", "delegation"]
    first_acl = ldif.index("spn_write_acl")
    assert first_acl < ldif.index("add: servicePrincipalName") < ldif.index("add: " + _rbkcd.RBCD_ATTRIBUTE)


def test_port_and_tcp_fixes_stay_out_of_the_ad_scripts():
    data = inputs()
    data["ports"]["sql2.corp.example.test"] = windows_port_check()
    audit_report(data, SQL6)["tcp_enabled"] = False
    report = build(data)
    statuses = {c["status"] for dummy, dummy2, c in problems(report)}
    assert {"port_not_static", "tcp_disabled"} <= statuses
    script = to_powershell(report)
    for text in ("static_port", "tcp_enabled", "Set-ItemProperty", "Restart-Service", "mssql-conf", "systemctl"):
        assert text not in script
    ldif = to_ldif(report)
    assert "static_port" not in ldif and "tcp_enabled" not in ldif


# -- states the inventory declares -----------------------------------------------

def test_dynamic_port_is_drift():
    data = inputs()
    audit_report(data, SQL6)["port"] = "dynamic"
    report = build(data)
    [check] = checks_of(report, SQL6, "static_port")
    assert (check["result"], check["status"]) == ("drift", "dynamic_port")
    assert check["commands"] == [] and "set it as port: in the inventory" in check["fix"]
    assert instances(report)[SQL6]["port"] == "dynamic"
    assert instances(report)[SQL6]["result"] == "drift"


def test_dynamic_port_wins_over_a_port_check():
    data = inputs()
    audit_report(data, LNX)["port"] = "dynamic"
    assert [c["status"] for c in checks_of(build(data), LNX, "static_port")] == ["dynamic_port"]


def test_tcp_disabled_replaces_the_static_port_check():
    data = inputs()
    audit_report(data, SQL6)["tcp_enabled"] = False
    report = build(data)
    assert checks_of(report, SQL6, "static_port") == []
    [check] = checks_of(report, SQL6, "tcp_enabled")
    assert (check["result"], check["status"], check["subject"]) == ("drift", "tcp_disabled", SQL6)
    assert check["commands"] == []
    assert instances(report)[SQL6]["checks"][0] is check


def test_spn_conflict():
    data = inputs()
    audit_report(data, SQL6)["spns"][0]["conflict"] = ["sql7.corp.example.test"]
    [check] = [c for c in checks_of(build(data), SQL6, "spn") if c["result"] == "drift"]
    assert check["status"] == "conflict"
    assert check["subject"] == "MSSQLSvc/sql6.corp.example.test:1433"
    assert "by sql7.corp.example.test" in check["detail"]
    assert check["commands"] == [] and check["ldif"] == []
    assert "single account" in check["fix"]


def test_unchecked_spn_write_acl_is_skipped():
    data = inputs()
    audit_report(data, SALES)["can_register_own_spns"] = None
    [check] = checks_of(build(data), SALES, "spn_write_acl")
    assert (check["result"], check["status"]) == ("skipped", "skipped")
    assert check["detail"] == "not checked for this kind of account (user)"


# -- JUnit ---------------------------------------------------------------------

def test_junit_has_a_suite_per_host_and_a_case_per_check():
    report = build()
    text = to_junit(report)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ElementTree.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == [host["host"] for host in report["hosts"]]
    for suite, host in zip(suites, report["hosts"]):
        checks = [c for instance in host["instances"] for c in instance["checks"]]
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases) == len(checks)
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure")) == \
            sum(c["result"] == "drift" for c in checks)
        assert int(suite.get("skipped")) == len(suite.findall("testcase/skipped")) == \
            sum(c["result"] == "skipped" for c in checks)
        assert suite.get("timestamp") == GENERATED
        assert [case.get("classname") for case in cases] == [i["name"] for i in host["instances"] for dummy in
                                                             i["checks"]]
    summary = report["summary"]
    assert (int(root.get("tests")), int(root.get("failures")), int(root.get("skipped")), root.get("errors")) == \
        (summary["checks"], summary["drift"], summary["skipped"], "0")


def test_junit_failure_carries_the_fix():
    root = ElementTree.fromstring(to_junit(build()).encode("utf-8"))
    case = root.find("testsuite/testcase[@name='spn MSSQLSvc/sql4.corp.example.test:1433']")
    failure = case.find("failure")
    assert case.get("classname") == SQL4
    assert failure.get("type") == "duplicate"
    assert failure.get("message").startswith("duplicate: held by CORP\\sqlsvc4, CORP\\sqlsvc4old")
    assert failure.text.splitlines()[-1] == "setspn -D 'MSSQLSvc/sql4.corp.example.test:1433' 'CORP\\sqlsvc4old'"


def test_junit_reads_the_same_in_junitparser():
    # In tests/requirements.txt; ansible-test's own unit venv lacks it.
    junitparser = pytest.importorskip("junitparser")
    report = build()
    xml = junitparser.JUnitXml.fromstring(to_junit(report).encode("utf-8"))
    summary = report["summary"]
    assert (xml.tests, xml.failures, xml.skipped, xml.errors) == (summary["checks"], summary["drift"],
                                                                  summary["skipped"], 0)
    suites = list(xml)
    assert [suite.name for suite in suites] == [host["host"] for host in report["hosts"]]
    for suite, host in zip(suites, report["hosts"]):
        checks = [c for instance in host["instances"] for c in instance["checks"]]
        results = [type(case.result[0]) if case.result else None for case in suite]
        assert (suite.tests, suite.failures, suite.skipped) == (len(checks), results.count(junitparser.Failure),
                                                                results.count(junitparser.Skipped))
        expected = {"drift": junitparser.Failure, "skipped": junitparser.Skipped, "ok": None}
        assert results == [expected[c["result"]] for c in checks]


def test_junit_of_a_clean_estate_has_no_failures():
    root = ElementTree.fromstring(to_junit(build(clean_inputs())).encode("utf-8"))
    assert root.get("failures") == "0" and root.findall(".//failure") == []


# -- HTML ----------------------------------------------------------------------

class PageParser(HTMLParser):
    """Collects the tags, the text and whether every table closes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes, self.text = Counter(), [], []
        self.open_tables = 0
        self.nested_tables = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self.attributes.extend(value or "" for dummy, value in attrs)
        if tag == "table":
            self.nested_tables = self.nested_tables or self.open_tables > 0
            self.open_tables += 1

    def handle_endtag(self, tag):
        self.tags["/" + tag] += 1
        if tag == "table":
            assert self.open_tables > 0, "</table> without <table>"
            self.open_tables -= 1

    def handle_data(self, data):
        self.text.append(data)


def parse_page(page):
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def test_html_is_well_formed_and_self_contained():
    report = build()
    page = to_html(report)
    parser = parse_page(page)
    assert parser.open_tables == 0 and not parser.nested_tables
    assert parser.tags["table"] == parser.tags["/table"] == report["summary"]["instances"]
    assert parser.tags["tr"] == parser.tags["/tr"] == report["summary"]["checks"] + report["summary"]["instances"]
    for tag in ("html", "head", "body", "style", "tbody", "thead", "pre", "h2", "h3"):
        assert parser.tags[tag] == parser.tags["/" + tag], tag
    assert "<script" not in page.lower() and parser.tags["script"] == 0
    assert "http://" not in page and "https://" not in page
    assert not any(tag in parser.tags for tag in ("link", "img", "iframe", "object"))
    assert "Kerberos drift report: drift found" in "".join(parser.text)


def test_html_names_every_instance_and_fix():
    report = build()
    text = "".join(parse_page(to_html(report)).text)
    for name in instances(report):
        assert name in text
    for dummy, dummy2, check in problems(report):
        for command in check["commands"]:
            assert command in text
    assert "2026-01-01T00:00:00Z" in text


def test_html_escapes_inventory_text():
    data = inputs()
    audit_report(data, SALES)["service_account"]["name"] = "CORP\\<b>sqlsvc2</b>"
    page = to_html(build(data))
    parser = parse_page(page)
    assert "<b>" not in page and parser.tags["b"] == 0
    assert "CORP\\&lt;b&gt;sqlsvc2&lt;/b&gt;" in page
    assert "CORP\\<b>sqlsvc2</b>" in "".join(parser.text)


# -- problem lines ---------------------------------------------------------------

def test_problem_lines_one_per_drift_check():
    report = build()
    lines = problem_lines(report)
    assert len(lines) == report["summary"]["drift"]
    assert lines == ["%s: %s %s: %s" % (instance["name"], check["check"], check["subject"], check["detail"])
                     for dummy, instance, check in problems(report)]
    assert ("sql4.corp.example.test: spn MSSQLSvc/sql4.corp.example.test:1433: held by CORP\\sqlsvc4, "
            "CORP\\sqlsvc4old: the KDC refuses tickets for a duplicate SPN") in lines
    per_instance = Counter(line.partition(": ")[0] for line in lines)
    for name in instances(report):
        assert per_instance[name] == sum(drift_findings(report, name).values())


# -- a duplicate the account does not hold; arguments PowerShell must not split ----

def test_duplicate_not_held_by_the_account_is_moved_to_it():
    data = inputs()
    row = audit_report(data, SQL4)["spns"][0]
    row["holders"] = [row["holders"][1], dict(name="CORP\\sqlsvc5", dn="CN=sqlsvc5,CN=Users,DC=corp,DC=example,DC=test",
                                              sid="S-1-5-21-2266110769-295493698-3870994567-1299")]
    [check] = [c for c in checks_of(build(data), SQL4, "spn") if c["status"] == "duplicate"]
    spn = check["subject"]
    assert check["commands"][:2] == ["setspn -D '%s' 'CORP\\sqlsvc4old'" % spn, "setspn -D '%s' 'CORP\\sqlsvc5'" % spn]
    assert "setspn -S '%s' 'CORP\\sqlsvc4'" % spn in check["commands"]
    assert ("CN=sqlsvc4,CN=Users,DC=corp,DC=example,DC=test", "add", spn) in spn_ldif(
        ldif_records("\n".join(check["ldif"])))


def test_setspn_quotes_an_account_name_with_a_space():
    data = inputs()
    audit_report(data, SALES)["service_account"]["name"] = "CORP\\SQL Service"
    check = checks_of(build(data), SALES, "spn")[0]
    lexer = shlex.shlex(check["commands"][0], posix=True)
    lexer.whitespace_split, lexer.escape = True, ""
    assert list(lexer) == ["setspn", "-S", check["subject"], "CORP\\SQL Service"]


# -- JSON and render -----------------------------------------------------------

def test_json_reads_back_as_the_report():
    report = build()
    text = to_json(report)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.loads(text) == report
    assert text.startswith('{\n  "drift": true,\n')
    # Nothing generated: null, not left out.
    unstamped = build_report(FIXTURE["audit"], FIXTURE["links"], FIXTURE["delegation"], FIXTURE["ports"])
    assert json.loads(to_json(unstamped))["generated"] is None


def test_json_keeps_inventory_text_as_is():
    data = inputs()
    audit_report(data, SALES)["service_account"]["name"] = "CORP\\<b>sqlsvc2</b> \"x\""
    report = build(data)
    assert json.loads(to_json(report)) == report
    assert instances(json.loads(to_json(report)))[SALES]["service_account"] == "CORP\\<b>sqlsvc2</b> \"x\""


@pytest.mark.parametrize("file_format, renderer", [("json", to_json), ("junit", to_junit), ("html", to_html),
                                                   ("powershell", to_powershell), ("ldif", to_ldif)])
def test_render_picks_the_format(file_format, renderer):
    report = build()
    assert RENDERINGS[file_format] is renderer
    assert render(report, file_format) == renderer(report)


def test_render_has_exactly_the_documented_formats():
    assert list(RENDERINGS) == ["json", "junit", "html", "powershell", "ldif"]


@pytest.mark.parametrize("file_format", ["xml", "JUnit", "yaml", "", None])
def test_render_refuses_an_unknown_format(file_format):
    with pytest.raises(ValueError) as error:
        render(build(), file_format)
    assert str(error.value) == "no drift report format %r (formats: json, junit, html, powershell, ldif)" % (
        file_format,)


def test_render_of_a_clean_estate():
    report = build(clean_inputs())
    assert json.loads(render(report, "json"))["drift"] is False
    assert ElementTree.fromstring(render(report, "junit").encode("utf-8")).get("failures") == "0"
    assert "Kerberos drift report: no drift" in render(report, "html")
    assert script_commands(render(report, "powershell")) == []
    assert ldif_records(render(report, "ldif")) == []


def test_the_generated_powershell_parses_with_a_powershell_grammar():
    """fix-ad.ps1 of the lab's drift (setspn, dsacls, Set-AD*), parsed by
    tree-sitter-powershell: no ERROR or MISSING node."""
    pytest.importorskip("tree_sitter_powershell")
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tests" / "lab"))
    from powershell_grammar import syntax_problems
    script = to_powershell(build())
    assert "Set-ADUser" in script and "setspn" in script and "dsacls" in script
    assert syntax_problems(script) == []
