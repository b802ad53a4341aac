"""Inputs that used to write too much or say too little (items 2, 5, 8 and
9 of the reliability issue), each run through ansible-playbook against the
lab; "wrote nothing" is the rootDSE highestCommittedUSN, what was kept is
read back with samba-tool."""
import ldap3
import pytest
from delegation import delegation_show, samba_tool
from fault_lab import create_users, delete_users

SPN = "MSSQLSvc/faultamb.corp.example.test:1433"


@pytest.fixture
def backend(lab):
    """faultback, which lets faultfront1 delegate to it."""
    users = create_users(lab, ["faultback", "faultfront1"])
    samba_tool(lab, "delegation", "add-principal", "faultback", "faultfront1")
    yield "faultback"
    delete_users(lab, users)


@pytest.mark.parametrize("mode", ["ignore", "warn", "fail"])
def test_item2_exact_with_unknown_principals_writes_nothing(lab, run_module, backend, mode):
    before = delegation_show(lab, backend)
    usn = lab.highest_committed_usn()
    result = run_module("sqlauth.kerberos.rbkcd_delegate", dict(
        lab.connection, account=backend, principals=["nosuchfe"], state="exact", unknown_principals=mode))
    assert result["failed"]
    assert "state=exact needs every principal to resolve" in result["msg"] and "nothing written" in result["msg"]
    assert lab.highest_committed_usn() == usn and delegation_show(lab, backend) == before != []


def test_item2_exact_with_nobody_needs_remove_all(lab, run_module, backend):
    usn = lab.highest_committed_usn()
    refused = run_module("sqlauth.kerberos.rbkcd_delegate", dict(lab.connection, account=backend, principals=[],
                                                                 state="exact"))
    assert refused["failed"] and "set remove_all=true if that is meant" in refused["msg"]
    assert lab.highest_committed_usn() == usn and delegation_show(lab, backend) != []
    cleared = run_module("sqlauth.kerberos.rbkcd_delegate", dict(lab.connection, account=backend, principals=[],
                                                                 state="exact", remove_all=True))
    assert cleared["changed"] and delegation_show(lab, backend) == []


@pytest.mark.parametrize("unit, expected", [
    ("CN=Administrator,CN=Users,{base}", "is a user, not an organizational unit or container"),
    ("{base}", "is the domain root: rights granted there reach every account of the domain"),
])
def test_item5_organizational_unit_must_be_an_ou(lab, run_module, unit, expected):
    usn = lab.highest_committed_usn()
    result = run_module("sqlauth.kerberos.spn_acl", dict(lab.connection, organizational_unit=unit.format(
        base=lab.base_dn)))
    assert result["failed"] and expected in result["msg"] and "nothing written" in result["msg"], result
    assert lab.highest_committed_usn() == usn


def test_item5_the_domain_root_with_allow_domain_root_in_check_mode(lab, run_module):
    usn = lab.highest_committed_usn()
    result = run_module("sqlauth.kerberos.spn_acl", dict(lab.connection, organizational_unit=lab.base_dn,
                                                         allow_domain_root=True), check=True)
    assert not result["failed"] and result["changed"], result
    assert lab.highest_committed_usn() == usn


def test_item9_empty_targets_say_so(lab, run_module):
    usn = lab.highest_committed_usn()
    result = run_module("sqlauth.kerberos.spn_acl", dict(lab.connection, targets=[]))
    assert result["failed"] and result["msg"].startswith("targets is empty: list at least one target")
    assert lab.highest_committed_usn() == usn


@pytest.fixture
def user_and_computer(lab):
    """A user faultamb next to a computer FAULTAMB$ that holds the SPN."""
    connection = lab.bind_admin()
    user = "CN=faultamb,CN=Users,%s" % lab.base_dn
    computer = "CN=FAULTAMB,CN=Computers,%s" % lab.base_dn
    for dn in (user, computer):
        connection.delete(dn)
    assert connection.add(user, ["top", "person", "organizationalPerson", "user"], {"sAMAccountName": "faultamb"})
    assert connection.add(computer, ["top", "person", "organizationalPerson", "user", "computer"], {
        "sAMAccountName": "FAULTAMB$", "userAccountControl": "4096",
        "dNSHostName": "faultamb.corp.example.test"}), connection.result
    assert connection.modify(computer, {"servicePrincipalName": [(ldap3.MODIFY_ADD, [SPN])]}), connection.result
    yield
    for dn in (user, computer):
        connection.delete(dn)


def test_item8_a_user_next_to_a_computer_of_the_same_name_is_named(lab, run_module, user_and_computer):
    instance = dict(host="faultamb.corp.example.test", instance="MSSQLSERVER", port=1433, service_account="faultamb")
    result = run_module("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=[instance]))
    assert not result["failed"], result
    # Ansible shows module warnings as [WARNING] lines (the tree callback's JSON leaves them out).
    output = " ".join(run_module.last_output.split())
    assert ("account name 'faultamb' matches both the user CORP\\faultamb and the computer CORP\\FAULTAMB$"
            in output), run_module.last_output
    strict = run_module("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=[instance],
                                                           ambiguous_names="fail"))
    assert strict["failed"] and "(ambiguous_names=fail)" in strict["msg"]
    usn = lab.highest_committed_usn()
    refused = run_module("sqlauth.kerberos.spn_register", dict(lab.connection, account="faultamb", spns=[SPN],
                                                               move=True, ambiguous_names="fail"))
    assert refused["failed"] and "matches both the user" in refused["msg"]
    assert lab.highest_committed_usn() == usn and lab.spns_of("FAULTAMB$") == [SPN]
