"""spn_acl against the lab DC. Confirmed the way SQL Server finds out at
start-up: binding as the service account and adding an SPN to its own object
is refused before the grant and accepted after; samba-tool shows the ACEs;
check mode leaves highestCommittedUSN unchanged."""
import subprocess

import pytest

MODULE = "sqlauth.kerberos.spn_acl"
SPN_ACES = ("(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
            "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)")
UNIT = "OU=Service Accounts,OU=Tier1,DC=corp,DC=example,DC=test"


def can_add_own_spn(lab, account, spn):
    """Bind as the account and add an SPN to itself (removed again)."""
    connection = lab.bind_as(account)
    dn = lab.accounts[account]["dn"]
    added = connection.modify(dn, {"servicePrincipalName": [("MODIFY_ADD", [spn])]})
    if added:
        connection.modify(dn, {"servicePrincipalName": [("MODIFY_DELETE", [spn])]})
    else:
        assert connection.result["description"] == "insufficientAccessRights", connection.result
    return added


def dacl_sddl(lab, dn):
    return subprocess.run(["samba-tool", "dsacl", "get", "-H", str(lab.dir / "private" / "sam.ldb"),
                           "--objectdn=" + dn], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def sqlsvc3_without_grant(lab, run_module):
    """sqlsvc3 as seeded: no SPN write ACEs; restored afterwards."""
    yield "sqlsvc3"
    run_module(MODULE, dict(lab.connection, account="sqlsvc3", state="absent"))


def test_grant_on_the_account_triad(lab, run_module, sqlsvc3_without_grant):
    spn = "MSSQLSvc/sql3.corp.example.test:4343"
    assert not can_add_own_spn(lab, "sqlsvc3", spn)

    usn = lab.highest_committed_usn()
    checked = run_module(MODULE, dict(lab.connection, account="CORP\\sqlsvc3"), check=True, diff=True)
    assert checked["changed"] and checked["targets"][0]["added_aces"] == list(SPN_ACES), checked
    assert "+" in run_module.last_output and SPN_ACES[0] in run_module.last_output
    assert lab.highest_committed_usn() == usn
    assert not can_add_own_spn(lab, "sqlsvc3", spn)

    applied = run_module(MODULE, dict(lab.connection, account="CORP\\sqlsvc3"))
    assert applied["changed"] and not applied["failed"], applied
    sddl = dacl_sddl(lab, lab.accounts["sqlsvc3"]["dn"]).upper()
    assert all(ace.upper() in sddl for ace in SPN_ACES)
    assert can_add_own_spn(lab, "sqlsvc3", spn)

    usn = lab.highest_committed_usn()
    again = run_module(MODULE, dict(lab.connection, account="sqlsvc3"))
    assert not again["changed"] and not again["failed"], again
    assert lab.highest_committed_usn() == usn

    revoked = run_module(MODULE, dict(lab.connection, account="sqlsvc3", state="absent"))
    assert revoked["changed"] and revoked["targets"][0]["removed_aces"] == list(SPN_ACES)
    assert not can_add_own_spn(lab, "sqlsvc3", spn)
    assert not run_module(MODULE, dict(lab.connection, account="sqlsvc3", state="absent"))["changed"]


def test_rights_already_granted_are_recognised(lab, run_module):
    """sqlsvc1 was seeded with the ACEs (by samba-tool dsacl): nothing to do."""
    usn = lab.highest_committed_usn()
    result = run_module(MODULE, dict(lab.connection, account="sqlsvc1"))
    assert not result["changed"] and not result["failed"], result
    assert lab.highest_committed_usn() == usn


def test_grant_on_an_ou_is_inherited_by_new_accounts(lab, run_module):
    """Granted once on the OU, inherited by a user created below it later."""
    sam = lab.dir / "private" / "sam.ldb"
    subprocess.run(["samba-tool", "user", "delete", "sqlsvcnew", "-H", str(sam)], capture_output=True, check=False)
    try:
        checked = run_module(MODULE, dict(lab.connection, organizational_unit=UNIT, applies_to=["user"]), check=True)
        assert checked["changed"], checked
        applied = run_module(MODULE, dict(lab.connection, organizational_unit=UNIT, applies_to=["user"]))
        assert applied["changed"] and not applied["failed"], applied
        assert not run_module(MODULE, dict(lab.connection, organizational_unit=UNIT, applies_to=["user"]))["changed"]

        password = "New-Svc-Pass-4242!"
        subprocess.run(["samba-tool", "user", "add", "sqlsvcnew", password, "--userou=OU=Service Accounts,OU=Tier1",
                        "-H", str(sam)], capture_output=True, check=True)
        lab.accounts["sqlsvcnew"] = dict(dn="CN=sqlsvcnew,%s" % UNIT, password=password)
        assert can_add_own_spn(lab, "sqlsvcnew", "MSSQLSvc/sqlnew.corp.example.test:1433")
    finally:
        subprocess.run(["samba-tool", "user", "delete", "sqlsvcnew", "-H", str(sam)], capture_output=True, check=False)
        lab.accounts.pop("sqlsvcnew", None)
        run_module(MODULE, dict(lab.connection, organizational_unit=UNIT, applies_to=["user"], state="absent"))
    sddl = dacl_sddl(lab, UNIT).upper()
    assert "F3A64788-5306-11D1-A9C5-0000F80367C1;BF967ABA" not in sddl


@pytest.mark.parametrize("args, expected", [
    (dict(account="nosuchaccount"), "account 'nosuchaccount' was not found"),
    (dict(organizational_unit="OU=Nowhere,DC=corp,DC=example,DC=test"), "organizational unit not found"),
    (dict(account="sqlsvc3", trustee="CORP\\ghost"), "account 'CORP\\\\ghost' was not found"),
])
def test_bad_input_writes_nothing(lab, run_module, args, expected):
    usn = lab.highest_committed_usn()
    result = run_module(MODULE, dict(lab.connection, **args))
    assert result["failed"], result
    assert expected in result["msg"] or expected.replace("\\\\", "\\") in result["msg"], result["msg"]
    assert lab.highest_committed_usn() == usn
