"""spn_register against the lab DC: triads (check mode, apply, re-run), each
confirmed by the KDC, samba-tool or the rootDSE USN.

The scratch accounts sqlreport1/sqlreport2 hold no scenario SPNs; every
test removes what it registers, so the seeded scenarios stay as they were."""
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import AnsibleRunner

MODULE = "sqlauth.kerberos.spn_register"
SCRATCH_SPN = "MSSQLSvc/scratch.corp.example.test:4100"
SCRATCH_SPNS = [SCRATCH_SPN, "MSSQLSvc/scratch.corp.example.test:SCRATCH"]


@pytest.fixture
def clean_scratch(lab):
    """Remove every scratch SPN from the scratch accounts before and after."""
    def clean():
        admin = lab.bind_admin()
        for account in ("sqlreport1", "sqlreport2"):
            scratch = [spn for spn in lab.spns_of(account) if "scratch" in spn.lower()]
            if scratch:
                admin.modify(lab.accounts[account]["dn"], {"servicePrincipalName": [("MODIFY_DELETE", scratch)]})
                if admin.result["description"] == "constraintViolation":  # a seeded duplicate: Samba wants a replace
                    remaining = [spn for spn in lab.spns_of(account) if "scratch" not in spn.lower()]
                    admin.modify(lab.accounts[account]["dn"], {"servicePrincipalName": [("MODIFY_REPLACE", remaining)]})
    clean()
    yield
    clean()


def register(run_module, lab, check=False, diff=False, **args):
    return run_module(MODULE, dict(lab.connection, **args), check=check, diff=diff)


def test_present_triad(lab, run_module, kdc, clean_scratch):
    kdc.kinit("alice")
    assert not kdc.kvno(SCRATCH_SPN)[0]

    usn = lab.highest_committed_usn()
    checked = register(run_module, lab, check=True, diff=True, account="CORP\\sqlreport1", spns=SCRATCH_SPNS)
    assert checked["changed"] and not checked["failed"], checked
    assert checked["added"] == sorted(SCRATCH_SPNS, key=str.lower)
    # --diff shows the account's SPNs before and after.
    assert '+        "%s"' % SCRATCH_SPN in run_module.last_output, run_module.last_output
    assert lab.highest_committed_usn() == usn
    assert lab.spns_of("sqlreport1") == []

    applied = register(run_module, lab, account="CORP\\sqlreport1", spns=SCRATCH_SPNS)
    assert applied["changed"] and not applied["failed"], applied
    assert lab.spns_of("sqlreport1") == sorted(SCRATCH_SPNS)
    assert kdc.decrypts(SCRATCH_SPN, "sqlreport1")

    usn = lab.highest_committed_usn()
    again = register(run_module, lab, account="sqlreport1@corp.example.test",
                     spns=[spn.upper() for spn in SCRATCH_SPNS])
    assert not again["changed"] and not again["failed"], again
    assert lab.highest_committed_usn() == usn


def test_absent_and_exact_triads(lab, run_module, kdc, clean_scratch):
    register(run_module, lab, account="sqlreport1", spns=SCRATCH_SPNS + ["HTTP/scratch.corp.example.test"])

    checked = register(run_module, lab, check=True, account="sqlreport1", spns=[SCRATCH_SPNS[0]], state="exact")
    assert checked["removed"] == [SCRATCH_SPNS[1]], checked
    exact = register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPNS[0]], state="exact")
    assert exact["changed"]
    # Exact manages the MSSQLSvc class it was given; the HTTP SPN stays.
    assert lab.spns_of("sqlreport1") == sorted([SCRATCH_SPNS[0], "HTTP/scratch.corp.example.test"])
    assert not register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPNS[0]], state="exact")["changed"]

    absent = register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPN], state="absent")
    assert absent["removed"] == [SCRATCH_SPN]
    kdc.kinit("alice")
    ok, output = kdc.kvno(SCRATCH_SPN)
    assert not ok and "Server not found in Kerberos database" in output
    assert not register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPN], state="absent")["changed"]


def test_spn_held_elsewhere_is_refused_unless_moved(lab, run_module, kdc, clean_scratch):
    register(run_module, lab, account="sqlreport2", spns=[SCRATCH_SPN])
    usn = lab.highest_committed_usn()
    refused = register(run_module, lab, account="sqlreport1", spns=SCRATCH_SPNS)
    assert refused["failed"]
    assert "%s is held by CORP\\sqlreport2" % SCRATCH_SPN in refused["msg"]
    assert "nothing written" in refused["msg"]
    assert lab.highest_committed_usn() == usn

    checked = register(run_module, lab, check=True, account="sqlreport1", spns=[SCRATCH_SPN], move=True)
    assert checked["moved_from"] == {SCRATCH_SPN: ["CORP\\sqlreport2"]}
    assert lab.highest_committed_usn() == usn

    moved = register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPN], move=True)
    assert moved["moved_from"] == {SCRATCH_SPN: ["CORP\\sqlreport2"]}, moved
    assert lab.spns_of("sqlreport2") == [] and lab.spns_of("sqlreport1") == [SCRATCH_SPN]
    kdc.kinit("alice")
    assert kdc.decrypts(SCRATCH_SPN, "sqlreport1") and not kdc.decrypts(SCRATCH_SPN, "sqlreport2")
    assert not register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPN], move=True)["changed"]


def test_legacy_duplicate_is_removed_from_the_other_holder(lab, run_module, kdc, clean_scratch):
    """Samba refuses deleting a duplicated value (Windows accepts it): the
    module's fallback must still leave exactly one holder."""
    register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPN])
    partition = lab.dir / "private" / "sam.ldb.d" / ("%s.ldb" % lab.base_dn.upper())
    ldif = "dn: %s\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: %s\n" % (
        lab.accounts["sqlreport2"]["dn"], SCRATCH_SPN)
    subprocess.run(["ldbmodify", "-H", str(partition)], input=ldif, text=True, check=True, capture_output=True)
    kdc.kinit("alice")
    ok, output = kdc.kvno(SCRATCH_SPN)
    assert not ok and "Server not found" in output

    refused = register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPN])
    assert refused["failed"] and "held by CORP\\sqlreport2 as well (a duplicate)" in refused["msg"]

    fixed = register(run_module, lab, account="sqlreport1", spns=[SCRATCH_SPN], move=True)
    assert not fixed["failed"], fixed
    assert fixed["removed"] == [SCRATCH_SPN] and fixed["moved_from"] == {SCRATCH_SPN: ["CORP\\sqlreport2"]}
    assert lab.spns_of("sqlreport2") == [] and lab.spns_of("sqlreport1") == [SCRATCH_SPN]
    assert kdc.decrypts(SCRATCH_SPN, "sqlreport1")


def test_many_accounts_in_one_call(lab, run_module, clean_scratch):
    result = register(run_module, lab, registrations=[
        dict(account="sqlreport1", spns=[SCRATCH_SPNS[0]]),
        dict(account="CORP\\sqlreport2", spns=[SCRATCH_SPNS[1]])])
    assert {r["account"] for r in result["accounts"]} == {"CORP\\sqlreport1", "CORP\\sqlreport2"}
    assert lab.spns_of("sqlreport1") == [SCRATCH_SPNS[0]] and lab.spns_of("sqlreport2") == [SCRATCH_SPNS[1]]


@pytest.mark.parametrize("args, expected", [
    (dict(account="sqlreport1", spns=["MSSQLSvc/scratch 1:1433"]), "contains white space"),
    (dict(account="sqlreport1", spns=["MSSQLSvc/scratch.corp.example.test:0"]), "is not a TCP port number"),
    (dict(account="nosuchaccount", spns=[SCRATCH_SPN]), "account 'nosuchaccount' was not found"),
    (dict(registrations=[dict(account="sqlreport1", spns=[SCRATCH_SPN]),
                         dict(account="sqlreport2", spns=[SCRATCH_SPN.upper()])]), "an SPN can be on one account only"),
])
def test_bad_input_writes_nothing(lab, run_module, clean_scratch, args, expected):
    usn = lab.highest_committed_usn()
    result = register(run_module, lab, **args)
    assert result["failed"] and expected in result["msg"], result
    assert lab.highest_committed_usn() == usn


def test_two_runs_racing_for_one_spn_leave_one_holder(lab, tmp_path, clean_scratch):
    runners = [AnsibleRunner(tmp_path / name) for name in ("one", "two")]
    for runner in runners:
        runner.tmp_path.mkdir()

    def run(pair):
        runner, account = pair
        return runner(MODULE, dict(lab.connection, account=account, spns=[SCRATCH_SPN]))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, zip(runners, ["sqlreport1", "sqlreport2"])))
    assert sorted(r["failed"] for r in results) == [False, True], results
    loser = next(r for r in results if r["failed"])
    assert "held by CORP\\sqlreport" in loser["msg"], loser["msg"]
    holders = [a for a in ("sqlreport1", "sqlreport2") if SCRATCH_SPN in lab.spns_of(a)]
    assert len(holders) == 1
