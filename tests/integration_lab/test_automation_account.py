"""The automation_account role against the lab DC, as an AD admin runs it:
check mode writes nothing (highestCommittedUSN) and lists the ACEs; applied,
the ACEs are on the OUs (samba-tool dsacl get) and the DC lets svc-sqlauth,
a plain Domain User, write what the collection writes on the accounts below
them - and refuses it elsewhere, the error naming the right; a second run
changes nothing; generate mode saves dsacls lines; absent takes the rights
back and the same write is refused again."""
import subprocess

import pytest
import yaml

from conftest import run_playbook

SERVICE_ACCOUNTS_OU = "OU=Service Accounts,OU=Tier1"
SPN = "MSSQLSvc/autotest.corp.example.test:1433"


def play(lab, tmp_path, check=False, **variables):
    playbook = tmp_path / "automation.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Grant the automation account its rights", "hosts": "localhost", "connection": "local",
        "gather_facts": False,
        "roles": [{"role": "sqlauth.kerberos.automation_account"}]}]))
    variables = dict(dict(automation_account_trustee="CORP\\svc-sqlauth",
                          automation_account_organizational_units=["%s,%s" % (SERVICE_ACCOUNTS_OU, lab.base_dn)],
                          automation_account_ldap=lab.connection), **variables)
    return run_playbook(playbook, "localhost,", check=check, diff=True, extra_vars=variables)


def dsacl(lab):
    return subprocess.run(["samba-tool", "dsacl", "get", "--objectdn=%s,%s" % (SERVICE_ACCOUNTS_OU, lab.base_dn),
                           "-H", str(lab.dir / "private" / "sam.ldb")], capture_output=True, text=True,
                          check=True).stdout


def as_svc_sqlauth(lab):
    return dict(server=lab.server, ca_cert=lab.ca_cert, username="svc-sqlauth@%s" % lab.realm,
                password=lab.accounts["svc-sqlauth"]["password"])


@pytest.fixture
def clean_rights(lab, tmp_path):
    yield
    play(lab, tmp_path, automation_account_state="absent")
    lab.reseed()


def test_the_role_grants_exactly_what_the_writes_need(lab, tmp_path, run_module, clean_rights):
    sid = lab.accounts["svc-sqlauth"]["sid"]
    usn = lab.highest_committed_usn()
    run = play(lab, tmp_path, check=True)
    assert not run.failed and run.changed > 0, run.output
    assert lab.highest_committed_usn() == usn and sid not in dsacl(lab)

    run = play(lab, tmp_path)
    assert not run.failed and run.changed > 0, run.output
    acl = dsacl(lab)
    for guid in ("f3a64788-5306-11d1-a9c5-0000f80367c1", "3f78c3e5-f79a-46bd-a0b8-9d18116ddc79",
                 "20119867-1d04-4ab7-9371-cfc3d5df0afd", "bf967972-0de6-11d0-a285-00aa003049e2"):
        assert "(OA;CIIO;RPWP;%s;bf967aba-0de6-11d0-a285-00aa003049e2;%s)" % (guid, sid) in acl, guid
    usn = lab.highest_committed_usn()
    again = play(lab, tmp_path)
    assert not again.failed and again.changed == 0, again.output
    assert lab.highest_committed_usn() == usn

    # As svc-sqlauth: an SPN on sqlsvc1 (below the OU) is written; on sqlsvc2 (CN=Users) refused.
    done = run_module("sqlauth.kerberos.spn_register", dict(as_svc_sqlauth(lab), account="CORP\\sqlsvc1", spns=[SPN]))
    assert not done["failed"] and done["changed"], done
    assert SPN in lab.spns_of("sqlsvc1")
    before = lab.usn_changed("sqlsvc2")
    refused = run_module("sqlauth.kerberos.spn_register", dict(as_svc_sqlauth(lab), account="CORP\\sqlsvc2",
                                                               spns=[SPN + "0"]))
    assert refused["failed"] and "(permission PRM002" in refused["msg"], refused["msg"]
    assert lab.usn_changed("sqlsvc2") == before

    # absent: the same write on sqlsvc1 is refused again.
    run = play(lab, tmp_path, automation_account_state="absent")
    assert not run.failed and run.changed > 0, run.output
    assert sid not in dsacl(lab)
    refused = run_module("sqlauth.kerberos.spn_register", dict(as_svc_sqlauth(lab), account="CORP\\sqlsvc1",
                                                               spns=[SPN + "1"]))
    assert refused["failed"] and "insufficientAccessRights" in refused["msg"], refused["msg"]


def test_generate_mode_saves_the_dsacls_lines_and_writes_nothing(lab, tmp_path):
    usn, commands = lab.highest_committed_usn(), tmp_path / "rights.txt"
    run = play(lab, tmp_path, automation_account_mode="generate", automation_account_commands_file=str(commands))
    assert not run.failed, run.output
    assert lab.highest_committed_usn() == usn
    lines = commands.read_text().splitlines()
    assert "dsacls '%s,%s' /I:S /G 'CORP\\svc-sqlauth:RPWP;servicePrincipalName;user'" % (
        SERVICE_ACCOUNTS_OU, lab.base_dn) in lines
    # Four permissions and SELF's two SPN rights, for each of the three classes.
    assert len(lines) == (4 + 2) * 3
    assert "dsacls '%s,%s' /I:S /G 'SELF:RPWP;servicePrincipalName;computer'" % (SERVICE_ACCOUNTS_OU, lab.base_dn) in lines
