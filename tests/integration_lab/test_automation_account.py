"""The automation_account role against the lab DC, as an AD admin runs it:
check mode writes nothing (highestCommittedUSN) and lists the ACEs; applied,
the ACEs are on the OUs (samba-tool dsacl get) and the DC lets svc-sqlauth,
a plain Domain User, write what the collection writes on the accounts below
them - and refuses it elsewhere, the error naming the right; a second run
changes nothing; generate mode saves dsacls lines; absent takes the rights
back and the same write is refused again."""
import subprocess

import ldap3
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

    # As svc-sqlauth: an SPN on sqlsvc1 (below the OU) is written; on sqlreport2 (CN=Users) refused.
    done = run_module("sqlauth.kerberos.spn_register", dict(as_svc_sqlauth(lab), account="CORP\\sqlsvc1", spns=[SPN]))
    assert not done["failed"] and done["changed"], done
    assert SPN in lab.spns_of("sqlsvc1")
    before = lab.usn_changed("sqlreport2")
    refused = run_module("sqlauth.kerberos.spn_register", dict(as_svc_sqlauth(lab), account="CORP\\sqlreport2",
                                                               spns=[SPN + "0"]))
    assert refused["failed"] and "(permission PRM002" in refused["msg"], refused["msg"]
    assert lab.usn_changed("sqlreport2") == before

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


# -- negative proofs: what the automation account may not write, even granted -----------

# SE_DACL_PROTECTED (SECURITY_DESCRIPTOR control bit): the DACL inherits nothing.
SE_DACL_PROTECTED = 0x1000


@pytest.fixture
def protected_domain_admin(lab):
    """A member of Domain Admins inside the granted OU, as SDProp leaves it
    on Windows (SIMULATED: Samba runs no SDProp): adminCount 1 and
    AdminSDHolder's descriptor with its DACL protected, so that no ACE of the
    OU reaches it."""
    connection = lab.bind_admin()
    dn = "CN=sqlsvcda,%s,%s" % (SERVICE_ACCOUNTS_OU, lab.base_dn)
    sd_control = [("1.2.840.113556.1.4.801", True, b"\x30\x03\x02\x01\x04")]  # sd_flags: DACL only
    assert connection.add(dn, ["top", "person", "organizationalPerson", "user"],
                          {"sAMAccountName": "sqlsvcda"}), connection.result
    try:
        assert connection.modify("CN=Domain Admins,CN=Users,%s" % lab.base_dn,
                                 {"member": [(ldap3.MODIFY_ADD, [dn])]}), connection.result
        connection.search("CN=AdminSDHolder,CN=System,%s" % lab.base_dn, "(objectClass=*)", ldap3.BASE,
                          attributes=["nTSecurityDescriptor"], controls=sd_control)
        descriptor = bytearray(connection.entries[0].nTSecurityDescriptor.raw_values[0])
        control = int.from_bytes(descriptor[2:4], "little") | SE_DACL_PROTECTED
        descriptor[2:4] = control.to_bytes(2, "little")
        assert connection.modify(dn, {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [bytes(descriptor)])],
                                      "adminCount": [(ldap3.MODIFY_REPLACE, ["1"])]},
                                 controls=sd_control), connection.result
        yield "sqlsvcda", dn
    finally:
        connection.delete(dn)


def test_granted_the_automation_account_is_refused_outside_the_ous_and_on_domain_admins(
        lab, tmp_path, run_module, protected_domain_admin, clean_rights):
    """As svc-sqlauth, granted on both SQL OUs: an SPN write and an RBKCD write
    are refused on an account outside them (sqlreport2), on a member of
    Domain Admins outside them (sqlsvc15, through SQL Admins) and on one
    inside, protected as SDProp leaves it; each error names the account bound,
    the right and its permission entry; the DC wrote nothing."""
    run = play(lab, tmp_path, automation_account_organizational_units=[
        "%s,%s" % (SERVICE_ACCOUNTS_OU, lab.base_dn), "OU=SQL Servers,OU=Tier1,%s" % lab.base_dn])
    assert not run.failed, run.output
    connection = as_svc_sqlauth(lab)
    lab.first_logon(connection["username"], connection["password"])
    # The control: below the OU, the same writes are allowed.
    done = run_module("sqlauth.kerberos.rbkcd_delegate", dict(connection, account="CORP\\sqlsvc3",
                                                              principals=["CORP\\sqlsvc1"]))
    assert not done["failed"] and done["changed"], done
    dns = dict((name, lab.accounts[name]["dn"]) for name in ("sqlreport2", "sqlsvc15"))
    dns.update([protected_domain_admin])
    for account, dn in dns.items():
        usn, spns = lab.highest_committed_usn(), lab.spns_of(account)
        refused = run_module("sqlauth.kerberos.spn_register", dict(connection, account="CORP\\" + account,
                                                                   spns=[SPN]))
        assert refused["failed"], (account, refused)
        assert "The account bound (svc-sqlauth@%s) may not write servicePrincipalName of %s" % (
            lab.realm, dn) in refused["msg"], refused["msg"]
        assert "(dsacls RPWP;servicePrincipalName) (permission PRM002" in refused["msg"], refused["msg"]
        refused = run_module("sqlauth.kerberos.rbkcd_delegate", dict(connection, account="CORP\\" + account,
                                                                     principals=["CORP\\sqlsvc1"]))
        assert refused["failed"], (account, refused)
        assert "may not write msDS-AllowedToActOnBehalfOfOtherIdentity" in refused["msg"], refused["msg"]
        assert "(permission PRM004" in refused["msg"], refused["msg"]
        assert lab.highest_committed_usn() == usn and lab.spns_of(account) == spns, account


def test_clearing_unconstrained_delegation_needs_the_privilege_not_an_ace(lab, run_module):
    """PRM006: even with write access to SQL6$'s userAccountControl (an ACE
    set by hand; the role grants none, no ACE suffices), the DC refuses
    svc-sqlauth the change of TRUSTED_FOR_DELEGATION without
    SeEnableDelegationPrivilege, as Windows does; the error names the entry,
    and the one thing written before the refusal: the guard value of
    conditional writes (PRM007), on an object that had none."""
    lab.reseed()  # SQL6$ as seeded: no guard value yet
    sid, dn = lab.accounts["svc-sqlauth"]["sid"], lab.accounts["SQL6$"]["dn"]
    subprocess.run(["samba-tool", "dsacl", "set", "-H", str(lab.dir / "private" / "sam.ldb"), "--objectdn=" + dn,
                    "--sddl=(OA;;RPWP;bf967a68-0de6-11d0-a285-00aa003049e2;;%s)"
                    "(OA;;RPWP;bf967972-0de6-11d0-a285-00aa003049e2;;%s)" % (sid, sid)],
                   check=True, capture_output=True)
    try:
        connection = as_svc_sqlauth(lab)
        lab.first_logon(connection["username"], connection["password"])
        flags = lab.ldap_values("SQL6$", "userAccountControl")
        refused = run_module("sqlauth.kerberos.delegation_flags", dict(connection, accounts=[
            dict(account="CORP\\SQL6$")]))
        assert refused["failed"], refused
        assert "SeEnableDelegationPrivilege" in refused["msg"], refused["msg"]
        assert "(permission PRM006" in refused["msg"], refused["msg"]
        assert "written before the refusal: a guard value in extensionName of %s" % dn in refused["msg"]
        assert lab.ldap_values("SQL6$", "userAccountControl") == flags
        assert [value.split(":")[:2] for value in lab.ldap_values("SQL6$", "extensionName")] == [
            ["sqlauth.kerberos", "guard"]]
    finally:
        lab.reseed()
