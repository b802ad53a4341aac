"""The linked_server_delegation role through playbooks/linked_server_delegation.yml
against the lab. The inventory is the seeded one (tests/lab/seed.py) with
the hosts of the seeds' first pair only, both ways: sql1 (sqlsvc1) ->
sql2\\SALES (sqlsvc2), and back (the other pairs are the site pipeline's:
classic constrained delegation, one account, a sensitive front end). The KDC judges
the double hop in both directions; samba-tool and Samba's own descriptor
library confirm the stored values; the rootDSE highestCommittedUSN confirms
what wrote nothing. Every test leaves the lab as it found it."""
import pytest
import yaml
from conftest import REPO, run_playbook
from delegation import (
    SQL1_SPN,
    SQL2_SPN,
    assert_granted,
    assert_refused,
    delegation_restored,
    delegation_show,
    grant_sddl,
    raw_value,
    samba_sddl,
    spn_added,
)

PLAYBOOK = REPO / "playbooks" / "linked_server_delegation.yml"
MODULE_TASK = "Let each front end's service account delegate to its back ends' in one call"


@pytest.fixture
def sql2_spn(lab):
    """sqlsvc2 with sql2\\SALES's SPN: the KDC delegates neither to nor from
    an account without one (the seed leaves it out for the audit)."""
    with spn_added(lab, SQL2_SPN, "sqlsvc2"):
        yield


@pytest.fixture
def restored(lab):
    with delegation_restored(lab, "sqlsvc1", "sqlsvc2"):
        yield


PAIR_HOSTS = ("sql1.corp.example.test", "sql2.corp.example.test")


def pair_inventory(lab):
    """The seeded inventory with the hosts of the first pair only."""
    seeded = yaml.safe_load((lab.dir / "inventory.yml").read_text())
    hosts = {name: variables for name, variables in seeded["sql_servers"]["hosts"].items() if name in PAIR_HOSTS}
    path = lab.dir / "inventory-linked-pair.yml"
    path.write_text(yaml.safe_dump({"sql_servers": {"hosts": hosts}}))
    return path


def play(lab, inventory=None, check=False, playbook=PLAYBOOK, env=None, **extra_vars):
    usn_before = lab.highest_committed_usn()
    run = run_playbook(playbook, inventory or pair_inventory(lab), check=check, diff=True,
                       extra_vars=extra_vars or None, env=env if env is not None else lab.ldap_env)
    run.usn_unchanged = lab.highest_committed_usn() == usn_before
    return run


def write_inventory(tmp_path, hosts):
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"sql_servers": {"hosts": hosts}}))
    return path


def test_check_apply_rerun_remove_both_ways_confirmed_by_the_kdc(lab, kdc, sql2_spn, restored):
    sqlsvc1, sqlsvc2 = lab.accounts["sqlsvc1"], lab.accounts["sqlsvc2"]
    assert_refused(lab, kdc, "sqlsvc1", SQL2_SPN)
    assert_refused(lab, kdc, "sqlsvc2", SQL1_SPN)

    check = play(lab, check=True)
    assert not check.failed and check.changed == 1 and check.usn_unchanged, check.output
    assert '"CORP\\\\sqlsvc1 (%s)"' % sqlsvc1["sid"] in check.output  # the diff names principals
    assert_refused(lab, kdc, "sqlsvc1", SQL2_SPN)

    applied = play(lab)
    assert not applied.failed and applied.changed == 1, applied.output
    assert "[WARNING]" not in applied.output, applied.output
    assert delegation_show(lab, "sqlsvc2") == [sqlsvc1["dn"]]
    assert delegation_show(lab, "sqlsvc1") == [sqlsvc2["dn"]]
    assert samba_sddl(raw_value(lab, "sqlsvc2")) == grant_sddl(sqlsvc1["sid"])
    assert_granted(lab, kdc, "sqlsvc1", SQL2_SPN)
    assert_granted(lab, kdc, "sqlsvc2", SQL1_SPN)

    rerun = play(lab)
    assert not rerun.failed and rerun.changed == 0 and rerun.usn_unchanged, rerun.output

    remove_check = play(lab, check=True, linked_server_delegation_state="absent")
    assert remove_check.changed == 1 and remove_check.usn_unchanged
    assert_granted(lab, kdc, "sqlsvc1", SQL2_SPN)

    removed = play(lab, linked_server_delegation_state="absent")
    assert not removed.failed and removed.changed == 1, removed.output
    assert raw_value(lab, "sqlsvc1") is None and raw_value(lab, "sqlsvc2") is None
    assert_refused(lab, kdc, "sqlsvc1", SQL2_SPN)
    assert_refused(lab, kdc, "sqlsvc2", SQL1_SPN)

    again = play(lab, linked_server_delegation_state="absent")
    assert again.changed == 0 and again.usn_unchanged


def test_a_back_end_without_its_spn_is_warned_about(lab, restored):
    run = play(lab, check=True)
    assert not run.failed and run.usn_unchanged
    assert ("[WARNING]: CORP\\sqlsvc2: the SPN %s is registered on no account" % SQL2_SPN) in run.output


def test_virtual_account_front_end_is_its_hosts_computer_account(lab, tmp_path, restored):
    inventory = write_inventory(tmp_path, {
        "sql1.corp.example.test": {"sqlauth_instances": [
            {"instance": "MSSQLSERVER", "port": 1433, "service_account": "CORP\\sqlsvc1"}]},
        "sql6.corp.example.test": {"sqlauth_instances": [
            {"instance": "MSSQLSERVER", "port": 1433, "service_account": "NT SERVICE\\MSSQLSERVER",
             "linked_servers": ["sql1.corp.example.test\\MSSQLSERVER"]}]},
    })
    applied = play(lab, inventory)
    assert not applied.failed and applied.changed == 1, applied.output
    assert delegation_show(lab, "sqlsvc1") == [lab.accounts["SQL6$"]["dn"]]
    assert play(lab, inventory).changed == 0


@pytest.mark.parametrize("hosts, expected", [
    ({"sql1.corp.example.test": {"sqlauth_instances": [
        {"service_account": "CORP\\sqlsvc1", "linked_servers": ["sql9.corp.example.test\\NOPE"]}]}},
     "linked server sql1.corp.example.test -> sql9.corp.example.test\\NOPE: sql9.corp.example.test\\NOPE is not "
     "an instance of the inventory"),
    ({"sql1.corp.example.test": {"sqlauth_instances": [
        {"service_account": "CORP\\sqlsvc1", "linked_servers": ["SQL1.corp.example.test"]}]}},
     "sql1.corp.example.test lists itself as a linked server"),
    ({"sql1.corp.example.test": {"sqlauth_instances": [{"service_account": "CORP\\sqlsvc1"}]}},
     "No linked server found"),
    ({"sql1.corp.example.test": {"sqlauth_instances": [
        {"service_account": "CORP\\sqlsvc1", "linked_servers": "sql2.corp.example.test"}]}},
     "linked_servers of sql1.corp.example.test must be a list"),
])
def test_bad_inventory_fails_before_connecting(lab, tmp_path, hosts, expected):
    run = play(lab, write_inventory(tmp_path, hosts), check=True)
    assert run.failed and run.usn_unchanged
    assert expected in run.output, run.output
    assert MODULE_TASK not in run.output  # validation failed first


def test_unknown_service_account_fails_and_writes_nothing(lab, tmp_path):
    inventory = write_inventory(tmp_path, {
        "sql1.corp.example.test": {"sqlauth_instances": [
            {"service_account": "CORP\\sqlsvc1", "linked_servers": ["sql2.corp.example.test"]}]},
        "sql2.corp.example.test": {"sqlauth_instances": [{"service_account": "CORP\\ghost"}]}})
    run = play(lab, inventory)
    assert run.failed and run.usn_unchanged
    assert "account 'CORP\\\\ghost' was not found" in run.output


def test_bad_state_is_refused_by_the_argument_spec(lab):
    run = play(lab, check=True, linked_server_delegation_state="sometimes")
    assert run.failed and "linked_server_delegation_state" in run.output and MODULE_TASK not in run.output


# The AD connection: a playbook's module_defaults for the action group, or
# sqlauth_ldap, with the SQLAUTH_LDAP_* fallbacks emptied so neither can hide.
NO_ENV_CONNECTION = dict(SQLAUTH_LDAP_SERVER="", SQLAUTH_LDAP_USERNAME="", SQLAUTH_LDAP_PASSWORD="",
                         SQLAUTH_LDAP_CA_CERT="")


def test_connection_from_a_playbooks_module_defaults(lab, tmp_path):
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Linked servers with the connection in module_defaults", "hosts": "sql_servers",
        "gather_facts": False, "module_defaults": {"group/sqlauth.kerberos.ldap": lab.connection},
        "roles": [{"role": "sqlauth.kerberos.linked_server_delegation"}]}]))
    run = play(lab, check=True, playbook=playbook, env=NO_ENV_CONNECTION)
    assert not run.failed and run.changed == 1 and run.usn_unchanged, run.output


def test_connection_from_sqlauth_ldap(lab):
    run = play(lab, check=True, env=NO_ENV_CONNECTION, sqlauth_ldap=lab.connection)
    assert not run.failed and run.changed == 1 and run.usn_unchanged, run.output
    assert lab.password not in run.output
