"""rbkcd_delegate against the lab DC. The double hop is judged by the KDC
(S4U2Self + S4U2Proxy as the front end's account), the stored value by
samba-tool and Samba's own descriptor library, "wrote nothing" by the
rootDSE highestCommittedUSN. Every test leaves the lab as it found it."""
import json
import os
import subprocess

import ldap3
import pytest
import yaml
from conftest import ANSIBLE_PLAYBOOK, REPO
from delegation import (
    NOT_FORWARDABLE,
    SQL1_SPN,
    SQL2_SPN,
    assert_granted,
    assert_refused,
    delegation_restored,
    delegation_show,
    grant_sddl,
    raw_value,
    samba_descriptor,
    samba_sddl,
    samba_tool,
    spn_added,
    write_raw,
)

MODULE = "sqlauth.kerberos.rbkcd_delegate"


@pytest.fixture
def sql2_spn(lab):
    """sqlsvc2 with the SPN of sql2\\SALES: the KDC only delegates to (and
    from) an account that is a service, i.e. holds an SPN."""
    with spn_added(lab, SQL2_SPN, "sqlsvc2"):
        yield


@pytest.fixture
def restored(lab):
    with delegation_restored(lab, "sqlsvc1", "sqlsvc2", "SQL6$"):
        yield


def run(lab, run_module, check=False, **args):
    """Run the module with --diff; the result also gets ``diff`` and
    ``warnings`` as the task printed them (the tree callback keeps neither),
    and whether the rootDSE highestCommittedUSN stayed the same."""
    usn_before = lab.highest_committed_usn()
    result = run_module(MODULE, dict(lab.connection, **args), check=check, diff=True)
    result["usn_unchanged"] = lab.highest_committed_usn() == usn_before
    result["diff"] = printed_diff(run_module.last_output)
    result["warnings"] = [line.split(": ", 1)[1] for line in run_module.last_output.splitlines()
                          if line.startswith("[WARNING]: ") and "deprecation_warnings=False" not in line]
    return result


def printed_diff(output):
    """The changed lines of the diff Ansible printed, as (sign, text) with
    JSON's escaping undone: ("+", 'CORP\\sqlsvc1 (S-1-5-21-...)')."""
    lines = []
    for line in output.splitlines():
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            lines.append((line[0], line[1:].strip().rstrip(",").strip('"').replace("\\\\", "\\")))
    return lines


def principal_names(target):
    return [p["name"] for p in target["principals"]]


# -- the double hop, granted and taken away ------------------------------------------

def test_grant_check_apply_rerun_confirmed_by_the_kdc(lab, kdc, run_module, sql2_spn, restored):
    sqlsvc1 = lab.accounts["sqlsvc1"]
    assert_refused(lab, kdc, "sqlsvc1", SQL2_SPN)

    check = run(lab, run_module, check=True, account="CORP\\sqlsvc2", principals=["sqlsvc1"], spns=[SQL2_SPN])
    assert not check["failed"] and check["changed"] is True and check["usn_unchanged"]
    assert ("-", 'CORP\\sqlsvc2": []') in check["diff"]
    assert ("+", "CORP\\sqlsvc1 (%s)" % sqlsvc1["sid"]) in check["diff"]
    assert raw_value(lab, "sqlsvc2") is None
    assert_refused(lab, kdc, "sqlsvc1", SQL2_SPN)

    applied = run(lab, run_module, account="CORP\\sqlsvc2", principals=["sqlsvc1"], spns=[SQL2_SPN])
    assert applied["changed"] is True and not applied["usn_unchanged"]
    (target,) = applied["targets"]
    assert target["added"] == [dict(name="CORP\\sqlsvc1", sid=sqlsvc1["sid"])]
    assert target["spns"] == [dict(spn=SQL2_SPN, status="ok", holders=["CORP\\sqlsvc2"])]
    assert applied["warnings"] == []
    assert delegation_show(lab, "sqlsvc2") == [sqlsvc1["dn"]]
    assert samba_sddl(raw_value(lab, "sqlsvc2")) == grant_sddl(sqlsvc1["sid"])
    assert_granted(lab, kdc, "sqlsvc1", SQL2_SPN)

    rerun = run(lab, run_module, account="sqlsvc2@corp.example.test", principals=[sqlsvc1["sid"]])
    assert rerun["changed"] is False and rerun["usn_unchanged"]
    assert rerun["diff"] == []


def test_remove_check_apply_rerun_confirmed_by_the_kdc(lab, kdc, run_module, sql2_spn, restored):
    samba_tool(lab, "delegation", "add-principal", "sqlsvc2", "sqlsvc1")
    assert_granted(lab, kdc, "sqlsvc1", SQL2_SPN)

    check = run(lab, run_module, check=True, account="sqlsvc2", principals=["CORP\\sqlsvc1"], state="absent")
    assert check["changed"] is True and check["usn_unchanged"]
    assert ("-", "CORP\\sqlsvc1 (%s)" % lab.accounts["sqlsvc1"]["sid"]) in check["diff"]
    assert ("+", 'CORP\\sqlsvc2": []') in check["diff"]
    assert_granted(lab, kdc, "sqlsvc1", SQL2_SPN)

    applied = run(lab, run_module, account="sqlsvc2", principals=["CORP\\sqlsvc1"], state="absent")
    assert applied["changed"] is True and applied["targets"][0]["attribute_present"] is False
    # The last principal removed: no empty descriptor left behind.
    assert raw_value(lab, "sqlsvc2") is None
    assert delegation_show(lab, "sqlsvc2") == []
    assert_refused(lab, kdc, "sqlsvc1", SQL2_SPN)

    rerun = run(lab, run_module, account="sqlsvc2", principals=["CORP\\sqlsvc1"], state="absent")
    assert rerun["changed"] is False and rerun["usn_unchanged"]


def test_both_ways_in_one_call(lab, kdc, run_module, sql2_spn, restored):
    targets = [dict(account="CORP\\sqlsvc1", principals=["CORP\\sqlsvc2"], spns=[SQL1_SPN]),
               dict(account="CORP\\sqlsvc2", principals=["CORP\\sqlsvc1"], spns=[SQL2_SPN])]
    check = run(lab, run_module, check=True, targets=targets)
    assert check["changed"] and check["usn_unchanged"] and len(check["targets"]) == 2
    assert_refused(lab, kdc, "sqlsvc2", SQL1_SPN)

    applied = run(lab, run_module, targets=targets)
    assert [t["changed"] for t in applied["targets"]] == [True, True]
    assert_granted(lab, kdc, "sqlsvc1", SQL2_SPN)
    assert_granted(lab, kdc, "sqlsvc2", SQL1_SPN)

    rerun = run(lab, run_module, targets=targets)
    assert rerun["changed"] is False and rerun["usn_unchanged"]

    # Emptying the attribute takes an explicit remove_all (state=exact alone refuses it).
    exact_nobody = [dict(account=t["account"], principals=[], state="exact", remove_all=True) for t in targets]
    cleared = run(lab, run_module, targets=exact_nobody)
    assert cleared["changed"] and raw_value(lab, "sqlsvc1") is None and raw_value(lab, "sqlsvc2") is None
    assert_refused(lab, kdc, "sqlsvc2", SQL1_SPN)


def test_exact_keeps_only_the_listed(lab, run_module, restored):
    samba_tool(lab, "delegation", "add-principal", "sqlsvc1", "sqlsvc3")
    samba_tool(lab, "delegation", "add-principal", "sqlsvc1", "sqlsvc2")
    applied = run(lab, run_module, account="sqlsvc1", principals=["sqlsvc2", "sqlsvc4"], state="exact")
    (target,) = applied["targets"]
    assert [p["name"] for p in target["removed"]] == ["CORP\\sqlsvc3"]
    assert [p["name"] for p in target["added"]] == ["CORP\\sqlsvc4"]
    assert delegation_show(lab, "sqlsvc1") == sorted([lab.accounts["sqlsvc2"]["dn"], lab.accounts["sqlsvc4"]["dn"]])
    rerun = run(lab, run_module, account="sqlsvc1", principals=["sqlsvc4", "sqlsvc2"], state="exact")
    assert rerun["changed"] is False and rerun["usn_unchanged"]


# -- the same bytes as samba-tool, read the same way by both -------------------------

def test_values_written_by_either_tool_read_the_same_in_both(lab, run_module, restored):
    sqlsvc3 = lab.accounts["sqlsvc3"]
    # samba-tool writes; the module reads the same principal and has nothing to do.
    samba_tool(lab, "delegation", "add-principal", "sqlsvc1", "sqlsvc3")
    by_samba = raw_value(lab, "sqlsvc1")
    read = run(lab, run_module, check=True, account="sqlsvc1", principals=["sqlsvc3"])
    assert read["changed"] is False and principal_names(read["targets"][0]) == ["CORP\\sqlsvc3"]
    assert read["targets"][0]["non_standard_entries"] == []

    # The module writes the same principal on another account: byte for byte samba-tool's value.
    run(lab, run_module, account="sqlsvc2", principals=["sqlsvc3"])
    assert raw_value(lab, "sqlsvc2") == by_samba
    assert delegation_show(lab, "sqlsvc2") == [sqlsvc3["dn"]]

    # And each tool removes what the other wrote.
    samba_tool(lab, "delegation", "del-principal", "sqlsvc2", "sqlsvc3")
    assert delegation_show(lab, "sqlsvc2") == []
    emptied = run(lab, run_module, check=True, account="sqlsvc2", principals=["sqlsvc3"], state="absent")
    assert emptied["changed"] is False  # samba-tool leaves an empty descriptor: nobody is allowed
    removed = run(lab, run_module, account="sqlsvc1", principals=["sqlsvc3"], state="absent")
    assert removed["changed"] and raw_value(lab, "sqlsvc1") is None and delegation_show(lab, "sqlsvc1") == []


def test_a_generic_all_grant_is_refused_by_the_kdc_and_repaired(lab, kdc, run_module, sql2_spn, restored):
    sid = lab.accounts["sqlsvc1"]["sid"]
    write_raw(lab, "sqlsvc2", samba_descriptor("O:BAD:(A;;GA;;;%s)" % sid))
    assert delegation_show(lab, "sqlsvc2") == [lab.accounts["sqlsvc1"]["dn"]]  # samba-tool lists it ...
    assert_refused(lab, kdc, "sqlsvc1", SQL2_SPN)  # ... the KDC does not honour it

    check = run(lab, run_module, check=True, account="sqlsvc2", principals=["sqlsvc1"])
    assert check["changed"] and check["usn_unchanged"]
    assert check["diff"] == [("-", "CORP\\sqlsvc1 (%s): non-standard entry (A;;GA;;;%s)" % (sid, sid)),
                             ("+", "CORP\\sqlsvc1 (%s)" % sid)]
    applied = run(lab, run_module, account="sqlsvc2", principals=["sqlsvc1"])
    assert applied["changed"] and samba_sddl(raw_value(lab, "sqlsvc2")) == grant_sddl(sid)
    assert_granted(lab, kdc, "sqlsvc1", SQL2_SPN)


def test_other_principals_non_standard_entries_are_kept_and_named(lab, run_module, restored):
    sqlsvc3 = lab.accounts["sqlsvc3"]["sid"]
    write_raw(lab, "sqlsvc1", samba_descriptor("O:BAD:(A;;GA;;;%s)" % sqlsvc3))
    applied = run(lab, run_module, account="sqlsvc1", principals=["sqlsvc4"])
    assert applied["targets"][0]["non_standard_entries"] == [
        dict(name="CORP\\sqlsvc3", sid=sqlsvc3, sddl="(A;;GA;;;%s)" % sqlsvc3)]
    assert any("generic mask is not honoured" in w for w in applied["warnings"])
    assert samba_sddl(raw_value(lab, "sqlsvc1")) == "O:BAD:(A;;GA;;;%s)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;%s)" % (
        sqlsvc3, lab.accounts["sqlsvc4"]["sid"])


# -- computer accounts, gMSAs, service identities --------------------------------------

def test_computer_and_gmsa_and_virtual_account(lab, run_module, restored):
    args = dict(account="NT SERVICE\\MSSQLSERVER", host="sql6.corp.example.test",
                principals=["CORP\\gmsa-sql5$", dict(account="NT AUTHORITY\\NETWORK SERVICE",
                                                     host="sql7.corp.example.test")],
                spns=["MSSQLSvc/sql6.corp.example.test:1433"])
    applied = run(lab, run_module, **args)
    (target,) = applied["targets"]
    assert target["account"]["name"] == "CORP\\SQL6$" and target["account"]["kind"] == "computer"
    assert principal_names(target) == ["CORP\\gmsa-sql5$", "CORP\\SQL7$"]
    assert target["spns"][0]["status"] == "ok" and applied["warnings"] == []
    assert delegation_show(lab, "SQL6$") == sorted([lab.accounts["gmsa-sql5$"]["dn"], lab.accounts["SQL7$"]["dn"]])
    assert run(lab, run_module, **args)["changed"] is False
    run(lab, run_module, **dict(args, state="absent"))
    assert raw_value(lab, "SQL6$") is None


# -- what silently defeats delegation ------------------------------------------------

def test_a_sensitive_front_end_is_warned_about_and_refused_by_the_kdc(lab, kdc, run_module, restored):
    applied = run(lab, run_module, account="sqlsvc1", principals=["sqlsvc8"], spns=[SQL1_SPN])
    assert applied["changed"]
    assert any("CORP\\sqlsvc8 is marked 'Account is sensitive and cannot be delegated'" in w
               for w in applied["warnings"]), applied["warnings"]
    assert "Account is sensitive" in run_module.last_output  # shown as an Ansible warning
    assert delegation_show(lab, "sqlsvc1") == [lab.accounts["sqlsvc8"]["dn"]]
    # Listed, yet refused: its tickets are never forwardable.
    assert_refused(lab, kdc, "sqlsvc8", SQL1_SPN, reason=NOT_FORWARDABLE)


def test_a_back_end_without_the_linked_servers_spn_is_warned_about(lab, kdc, run_module, restored):
    """In the seed sqlsvc2 lacks MSSQLSvc/sql2...:1533; the KDC then has no
    ticket to give, delegation or not."""
    result = run(lab, run_module, check=True, account="sqlsvc2", principals=["sqlsvc1"], spns=[SQL2_SPN])
    assert result["targets"][0]["spns"] == [dict(spn=SQL2_SPN, status="missing", holders=[])]
    assert any("the SPN %s is registered on no account" % SQL2_SPN in w for w in result["warnings"])
    assert any("CORP\\sqlsvc2 has no SPN" in w for w in
               run(lab, run_module, check=True, account="sqlsvc2", principals=["sqlsvc1"])["warnings"])
    wrong = run(lab, run_module, check=True, account="sqlsvc2", principals=["sqlsvc1"], spns=[SQL1_SPN])
    assert any("is held by CORP\\sqlsvc1, not by CORP\\sqlsvc2" in w for w in wrong["warnings"])
    kdc.kinit("alice")
    ok, output = kdc.kvno(SQL2_SPN)
    assert not ok and "Server not found in Kerberos database" in output


# -- bad input: a clear error and nothing written ---------------------------------------

@pytest.mark.parametrize("args, expected", [
    (dict(account="sqlsvc2", principals=["sqlsvc1", "ghost1", "CORP\\ghost2"]),
     ["account 'ghost1' was not found", "account 'CORP\\\\ghost2' was not found", "nothing written"]),
    (dict(account="ghost", principals=["sqlsvc1"]), ["account 'ghost' was not found"]),
    (dict(account="sqlsvc2", principals=["sqlreport@corp.example.test"]), ["is ambiguous"]),
    (dict(account="sqlsvc2", principals=["NT SERVICE\\MSSQLSERVER"]), ["the host's FQDN is needed"]),
    (dict(account="sqlsvc2", principals=[]), ["no principals given"]),
    (dict(account="sqlsvc2", principals=["OTHER\\sqlsvc1"]), ["is in domain OTHER"]),
    (dict(targets=[dict(account="sqlsvc2", principals=["sqlsvc1"]),
                   dict(account="CORP\\sqlsvc2", principals=["sqlsvc3"], state="absent")]), ["different states"]),
])
def test_bad_input_is_named_and_nothing_is_written(lab, run_module, args, expected):
    result = run(lab, run_module, **args)
    assert result["failed"] and result["usn_unchanged"], result
    for text in expected:
        assert text in result["msg"], result["msg"]
    assert raw_value(lab, "sqlsvc2") is None


def test_unknown_principals_can_be_skipped_with_a_warning(lab, run_module, restored):
    result = run(lab, run_module, account="sqlsvc2", principals=["ghost", "sqlsvc1"], unknown_principals="warn")
    assert result["changed"] and principal_names(result["targets"][0]) == ["CORP\\sqlsvc1"]
    assert any("skipped: account 'ghost' was not found" in w for w in result["warnings"])


def test_the_password_never_shows(lab, run_module):
    run_module(MODULE, dict(lab.connection, account="sqlsvc2", principals=["sqlsvc1"]), check=True, verbosity=3)
    assert lab.password not in run_module.last_output


# -- concurrency -----------------------------------------------------------------------

@pytest.fixture
def sixteen_principals(lab):
    connection = lab.bind_admin()
    names = ["rbkcd%02d" % n for n in range(16)]
    dns = ["CN=%s,CN=Users,%s" % (name, lab.base_dn) for name in names]
    for name, dn in zip(names, dns):
        assert connection.add(dn, ["top", "person", "organizationalPerson", "user"],
                              {"sAMAccountName": name}), connection.result
    try:
        yield names
    finally:
        for dn in dns:
            connection.delete(dn)


def test_sixteen_concurrent_runs_lose_no_principal(lab, tmp_path, sixteen_principals, restored):
    """Sixteen ansible-playbook runs started together, each adding a
    different principal to sqlsvc2."""
    runs = []
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree",
               ANSIBLE_PYTHON_INTERPRETER=str(REPO / ".venv" / "bin" / "python"), **lab.ldap_env)
    for name in sixteen_principals:
        directory = tmp_path / name
        directory.mkdir()
        playbook = directory / "playbook.yml"
        playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Add %s" % name, MODULE: dict(account="sqlsvc2", principals=[name])}]}]))
        runs.append((directory, subprocess.Popen(
            [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=dict(env, ANSIBLE_CALLBACK_TREE_DIR=str(directory / "tree")))))
    # Every run ends before anything is checked: none may write after the cleanup.
    outputs = [process.communicate(timeout=600)[0] for _directory, process in runs]
    for (directory, process), output in zip(runs, outputs):
        assert process.returncode == 0, output
    attempts = [json.loads((directory / "tree" / "localhost").read_text())["targets"][0]["write_attempts"]
                for directory, _process in runs]

    connection = lab.bind_admin()
    connection.search(lab.base_dn, "(sAMAccountName=rbkcd*)", attributes=["distinguishedName"])
    expected = sorted(entry.entry_dn for entry in connection.entries)
    assert len(expected) == 16
    assert delegation_show(lab, "sqlsvc2") == expected
    print("write attempts per run: %s" % attempts)  # more than one: the guard caught a concurrent write
    assert all(1 <= count <= 20 for count in attempts)


def test_the_guard_refuses_a_stale_value_on_the_real_dc(lab, restored):
    """What the module's modify relies on, shown directly: deleting a value
    that is no longer the stored one fails, and nothing is written."""
    sids = [lab.accounts[name]["sid"] for name in ("sqlsvc1", "sqlsvc3")]
    stale, current = samba_descriptor(grant_sddl(sids[0])), samba_descriptor(grant_sddl(sids[1]))
    write_raw(lab, "sqlsvc2", current)
    connection = lab.bind_admin()
    usn_before = lab.highest_committed_usn()
    ok = connection.modify(lab.accounts["sqlsvc2"]["dn"], {"msDS-AllowedToActOnBehalfOfOtherIdentity": [
        (ldap3.MODIFY_DELETE, [stale]), (ldap3.MODIFY_ADD, [samba_descriptor(grant_sddl(*sids))])]})
    assert not ok and connection.result["description"] == "noSuchAttribute"
    assert raw_value(lab, "sqlsvc2") == current and lab.highest_committed_usn() == usn_before
