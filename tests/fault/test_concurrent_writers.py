"""Sixteen writers released at the same instant (harness.run_together),
three rounds each: no run loses another's change, a conflict has a single
winner, and every run's report matches what it did. The final state is read
with samba-tool on the DC's database and with ldapsearch, not with the
collection.

Before the guarded write, 16 spn_acl grants of different trustees left 4 to
12 ACEs; identical spn_register moves failed with the DC's raw result codes;
runs reported writes they had not made."""
import os
import re
import subprocess

import ldap3
import pytest
from delegation import delegation_show, samba_tool
from fault_lab import create_users, delete_users
from harness import run_together, start_skew

WRITERS = 16
ROUNDS = 3
SPN_GUID = "f3a64788-5306-11d1-a9c5-0000f80367c1"
MOVED_SPN = "MSSQLSvc/faultmove.corp.example.test:1433"
# The DC's raw answer passed on as the message: "modifying DN failed: noSuchAttribute: ...".
RAW_RESULT = re.compile(r"^modifying .* failed: (noSuchAttribute|attributeOrValueExists|constraintViolation)")
FOREIGN_WRITER = "writer outside this collection"


@pytest.fixture(scope="module")
def accounts(lab):
    """fault00..fault15, the target faultsvc and the holder faultold, as
    {name: dict(dn, sid)}; deleted afterwards."""
    created = create_users(lab, ["fault%02d" % n for n in range(WRITERS)] + ["faultsvc", "faultold"])
    yield created
    delete_users(lab, created)


def dacl_sddl(lab, dn):
    out = samba_tool(lab, "dsacl", "get", "--objectdn=%s" % dn)
    return out.splitlines()[1]


def holders_of(lab, spn):
    """sAMAccountNames holding the SPN, by OpenLDAP's ldapsearch over LDAPS."""
    out = subprocess.run(
        ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", "ldaps://%s" % lab.server, "-D", lab.username,
         "-y", "/dev/stdin", "-b", lab.base_dn, "(servicePrincipalName=%s)" % spn, "sAMAccountName"],
        input=lab.password, capture_output=True, text=True, check=True,
        env=dict(os.environ, LDAPTLS_CACERT=lab.ca_cert)).stdout
    return sorted(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("sAMAccountName: "))


def released_together(runs):
    skew = start_skew(runs)
    print("released within %.1f ms of each other" % (skew * 1000))
    assert skew < 0.5


def assert_no_run_failed(runs):
    failures = [run.message for run in runs if run.failed]
    assert not failures, failures


# -- spn_acl: 16 trustees on one account ------------------------------------------------------

@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_spn_acl_sixteen_trustees_lose_no_ace(lab, accounts, round_number):
    trustees = ["fault%02d" % n for n in range(WRITERS)]
    runs = run_together("spn_acl", [dict(lab.connection, account="faultsvc", trustee=t) for t in trustees])
    try:
        released_together(runs)
        assert_no_run_failed(runs)
        sddl = dacl_sddl(lab, accounts["faultsvc"]["dn"])
        for trustee, run in zip(trustees, runs):
            sid = accounts[trustee]["sid"]
            for right in ("RPWP", "SW"):
                assert "(OA;;%s;%s;;%s)" % (right, SPN_GUID, sid) in sddl, (trustee, round_number)
            # Each trustee was new: each run wrote, and says so; the runs are all the collection's,
            # so none may take another for a writer outside it.
            assert run.result["changed"] is True
            assert not any(FOREIGN_WRITER in warning for warning in run.warnings), run.warnings
            assert run.result["targets"][0]["added_aces"] == [
                "(OA;;RPWP;%s;;%s)" % (SPN_GUID, sid), "(OA;;SW;%s;;%s)" % (SPN_GUID, sid)]
        # The guard token: one value of the collection's, whatever the number of writers.
        connection = lab.bind_admin()
        connection.search(accounts["faultsvc"]["dn"], "(objectClass=*)", ldap3.BASE, attributes=["extensionName"])
        tokens = [v for v in connection.entries[0].extensionName.values if v.startswith("sqlauth.kerberos:guard:")]
        assert len(tokens) == 1
    finally:
        removed = run_together("spn_acl", [dict(lab.connection, targets=[
            dict(account="faultsvc", trustee=t, state="absent") for t in trustees])])[0]
        assert not removed.failed, removed.message
    assert not any(accounts[t]["sid"] in dacl_sddl(lab, accounts["faultsvc"]["dn"]) for t in trustees)


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_spn_acl_sixteen_identical_grants_report_one_write(lab, accounts, round_number):
    """changed is true only for the run whose write took effect."""
    runs = run_together("spn_acl", [dict(lab.connection, account="faultsvc", trustee="fault00")] * WRITERS)
    try:
        released_together(runs)
        assert_no_run_failed(runs)
        assert sum(run.result["changed"] for run in runs) == 1
    finally:
        run_together("spn_acl", [dict(lab.connection, account="faultsvc", trustee="fault00", state="absent")])


# -- rbkcd_delegate: adds, and adds mixed with removals --------------------------------------

def allowed(lab, accounts):
    names = {account["dn"]: name for name, account in accounts.items()}
    return sorted(names[dn] for dn in delegation_show(lab, "faultsvc"))


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_rbkcd_sixteen_adds_lose_no_principal(lab, accounts, round_number):
    principals = ["fault%02d" % n for n in range(WRITERS)]
    runs = run_together("rbkcd_delegate", [dict(lab.connection, account="faultsvc", principals=[p])
                                           for p in principals])
    try:
        released_together(runs)
        assert_no_run_failed(runs)
        assert allowed(lab, accounts) == principals
        assert all(run.result["changed"] for run in runs)
        print("write attempts: %s" % [run.result["targets"][0]["write_attempts"] for run in runs])
    finally:
        cleared = run_together("rbkcd_delegate", [dict(lab.connection, account="faultsvc", principals=[],
                                                       state="exact", remove_all=True)])[0]
        assert not cleared.failed, cleared.message


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_rbkcd_adds_and_removals_together(lab, accounts, round_number):
    half = WRITERS // 2
    removed = ["fault%02d" % n for n in range(half)]
    added = ["fault%02d" % n for n in range(half, WRITERS)]
    setup = run_together("rbkcd_delegate", [dict(lab.connection, account="faultsvc", principals=removed)])[0]
    assert not setup.failed and allowed(lab, accounts) == removed
    runs = run_together("rbkcd_delegate",
                        [dict(lab.connection, account="faultsvc", principals=[p], state="absent") for p in removed]
                        + [dict(lab.connection, account="faultsvc", principals=[p]) for p in added])
    try:
        released_together(runs)
        assert_no_run_failed(runs)
        assert allowed(lab, accounts) == added
        assert all(run.result["changed"] for run in runs)
    finally:
        run_together("rbkcd_delegate", [dict(lab.connection, account="faultsvc", principals=[], state="exact",
                                             remove_all=True)])


# -- spn_register: identical moves, and moves to different accounts ---------------------------

def put_spn_on(lab, account):
    run = run_together("spn_register", [dict(lab.connection, account=account, spns=[MOVED_SPN], move=True)])[0]
    assert not run.failed, run.message
    assert holders_of(lab, MOVED_SPN) == [account]


def all_moved_to_faultsvc(lab, runs):
    """Identical moves to faultsvc: released together, none failed, the SPN
    on faultsvc alone; returns the writes the runs report."""
    released_together(runs)
    assert_no_run_failed(runs)
    assert holders_of(lab, MOVED_SPN) == ["faultsvc"]
    return [write for run in runs for write in written_by(run)]


def written_by(run):
    """(action, account) of MOVED_SPN this run reports having written: from
    its result, or from a failed run's message."""
    if not run.failed:
        return ([("add", a["account"].split("\\")[1]) for a in run.result["accounts"] if MOVED_SPN in a["added"]]
                + [("remove", a["account"].split("\\")[1]) for a in run.result["accounts"]
                   if MOVED_SPN in a["removed"]])
    writes = run.message.partition("this run wrote before failing: ")[2]
    return [("add" if action == "added" else "remove", account)
            for action, account in re.findall(r"(added|removed) %s (?:to|from) CORP\\(\S+?)(?:;|$)"
                                              % re.escape(MOVED_SPN), writes)]


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_spn_register_sixteen_identical_moves(lab, accounts, round_number):
    put_spn_on(lab, "faultold")
    runs = run_together("spn_register", [dict(lab.connection, account="faultsvc", spns=[MOVED_SPN], move=True)]
                        * WRITERS)
    try:
        writes = all_moved_to_faultsvc(lab, runs)
        # One removal and one add took effect: exactly one report of each, and changed only with a write.
        assert sorted(writes) == [("add", "faultsvc"), ("remove", "faultold")]
        assert sum(run.result["changed"] for run in runs) == len({id(run) for run in runs if written_by(run)})
    finally:
        put_spn_on(lab, "faultold")


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_spn_register_moves_to_different_accounts_have_one_winner(lab, accounts, round_number):
    put_spn_on(lab, "faultold")
    targets = ["fault%02d" % n for n in range(WRITERS)]
    runs = run_together("spn_register", [dict(lab.connection, account=t, spns=[MOVED_SPN], move=True)
                                         for t in targets])
    try:
        released_together(runs)
        holders = holders_of(lab, MOVED_SPN)
        assert len(holders) == 1 and holders[0] in targets, holders
        winner = runs[targets.index(holders[0])]
        assert not winner.failed and ("add", holders[0]) in written_by(winner)
        for run in runs:
            if run.failed:
                assert ("by another writer" in run.message or "is held by" in run.message
                        or "is now held by" in run.message), run.message
                assert not RAW_RESULT.search(run.message), run.message
        writes = [write for run in runs for write in written_by(run)]
        # The SPN went from one account to one account: as many adds as removals reported, and the
        # reports replay to the final holder.
        adds = [account for action, account in writes if action == "add"]
        removes = [account for action, account in writes if action == "remove"]
        assert len(adds) == len(removes) >= 1, writes
        assert sorted(["faultold"] + adds) == sorted(removes + holders), writes
        print("winner %s; %d runs failed" % (holders[0], sum(run.failed for run in runs)))
    finally:
        put_spn_on(lab, "faultold")
        run_together("spn_register", [dict(lab.connection, account="faultold", spns=[MOVED_SPN],
                                           state="absent")])


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_spn_register_sixteen_removals_of_one_legacy_duplicate_report_one(lab, accounts, round_number):
    """The SPN on faultsvc and, written into the partition file as older DCs
    let it in, on faultold too. Samba refuses to delete the duplicated value,
    so each run takes the guarded replace: one removal happens, and exactly
    one run reports it."""
    put_spn_on(lab, "faultsvc")
    partition = lab.dir / "private" / "sam.ldb.d" / ("%s.ldb" % lab.base_dn.upper())
    ldif = "dn: %s\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: %s\n" % (
        accounts["faultold"]["dn"], MOVED_SPN)
    subprocess.run(["ldbmodify", "-H", str(partition)], input=ldif, text=True, check=True, capture_output=True)
    assert holders_of(lab, MOVED_SPN) == ["faultold", "faultsvc"]
    runs = run_together("spn_register", [dict(lab.connection, account="faultsvc", spns=[MOVED_SPN], move=True)]
                        * WRITERS)
    try:
        writes = all_moved_to_faultsvc(lab, runs)
        assert writes == [("remove", "faultold")]
        assert sum(run.result["changed"] for run in runs) == 1
    finally:
        run_together("spn_register", [dict(lab.connection, account="faultsvc", spns=[MOVED_SPN], state="absent")])


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_delegation_flags_sixteen_writers_lose_no_clear_and_report_one_each(lab, accounts, round_number):
    """Eight writers clear unconstrained delegation and eight protocol
    transition on one account, released together: both flags end cleared,
    every other bit of userAccountControl stays (an update of the single
    value lost nothing), and exactly one writer per flag says it cleared it."""
    dn = accounts["faultsvc"]["dn"]
    connection = lab.bind_admin()

    def uac():
        connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["userAccountControl"])
        return int(connection.entries[0].userAccountControl.value)

    before = uac()
    assert connection.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(before | 0x80000 | 0x1000000)])]})
    flags = ["unconstrained"] * (WRITERS // 2) + ["protocol_transition"] * (WRITERS // 2)
    runs = run_together("delegation_flags", [dict(lab.connection, accounts=["faultsvc"], clear=[flag])
                                             for flag in flags])
    try:
        released_together(runs)
        assert_no_run_failed(runs)
        assert uac() == before & ~0x80000 & ~0x1000000, round_number
        for flag in ("unconstrained", "protocol_transition"):
            said = [run.result["accounts"][0]["cleared"] for run, asked in zip(runs, flags) if asked == flag]
            assert said.count([flag]) == 1 and said.count([]) == len(said) - 1, (flag, said)
    finally:
        connection.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(before)])]})


# -- kerberos_encryption_types: 16 writers on one account ------------------------------------------

@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_kerberos_encryption_types_sixteen_writers_one_write_other_bits_kept(lab, accounts, round_number):
    """Sixteen writers set AES on one account whose attribute holds RC4 and
    the AES-session-key bit (0x20), released together: the value ends AES
    with the bit kept (read by ldapsearch), exactly one writer says it
    changed it, and none fails: the others' conditional writes were refused
    and re-planned from the fresh value."""
    dn = accounts["faultsvc"]["dn"]
    connection = lab.bind_admin()
    attribute = "msDS-SupportedEncryptionTypes"
    assert connection.modify(dn, {attribute: [(ldap3.MODIFY_REPLACE, [str(0x24)])]})
    runs = run_together("kerberos_encryption_types", [dict(lab.connection, accounts=["faultsvc"])] * WRITERS)
    try:
        released_together(runs)
        assert_no_run_failed(runs)
        out = subprocess.run(
            ["ldapsearch", "-LLL", "-x", "-H", "ldaps://%s" % lab.server, "-D", lab.username, "-y", "/dev/stdin",
             "-b", dn, "-s", "base", "(objectClass=*)", attribute],
            input=lab.password, capture_output=True, text=True, check=True,
            env=dict(os.environ, LDAPTLS_CACERT=lab.ca_cert)).stdout
        assert "%s: %d" % (attribute, 0x38) in out, out
        assert [run.result["changed"] for run in runs].count(True) == 1, [run.result for run in runs]
    finally:
        connection.modify(dn, {attribute: [(ldap3.MODIFY_DELETE, [])]})
