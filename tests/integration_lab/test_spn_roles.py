"""The SPN roles over the lab's whole SQL Server estate (the inventory the
lab writes from scenarios.yml): spn_write_acl then spn_registration, in
triads, confirmed by the KDC and by binding as the service accounts.

The roles change the seeded estate, so this module re-seeds the lab before
and after itself."""
import pytest
from conftest import REPO, AnsibleRunner, run_playbook

PLAYBOOK = "tests/integration_lab/playbooks/spn_roles.yml"


@pytest.fixture(scope="module")
def estate(lab, tmp_path_factory):
    lab.reseed()
    yield dict(inventory=lab.dir / "inventory.yml", runner=AnsibleRunner(tmp_path_factory.mktemp("audit")))
    lab.reseed()


def audit(lab, estate):
    result = estate["runner"]("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=lab.instances()))
    assert not result["failed"], result
    return result


def run_roles(lab, estate, check=False):
    return run_playbook(REPO / PLAYBOOK, estate["inventory"], check=check, env=lab.ldap_env)


def required_spns(report):
    return [(instance, row) for instance in report["instances"] for row in instance["spns"]]


def test_before_the_roles_clients_get_no_ticket_and_accounts_cannot_register(lab, estate, kdc):
    report = audit(lab, estate)
    broken = [row["spn"] for _instance, row in required_spns(report) if row["status"] in ("missing", "duplicate")]
    assert broken
    kdc.kinit("alice")
    for spn in broken:
        assert not kdc.kvno(spn)[0], spn
    connection = lab.bind_as("sqlsvc2")
    assert not connection.modify(lab.accounts["sqlsvc2"]["dn"], {"servicePrincipalName": [
        ("MODIFY_ADD", ["MSSQLSvc/sql2.corp.example.test:4242"])]})
    assert connection.result["description"] == "insufficientAccessRights"


def test_check_mode_reports_changes_and_writes_nothing(lab, estate):
    usn = lab.highest_committed_usn()
    run = run_roles(lab, estate, check=True)
    assert not run.failed, run.output
    assert run.changed >= 2
    assert lab.highest_committed_usn() == usn


def test_apply_fixes_every_spn_and_lets_accounts_register(lab, estate, kdc):
    run = run_roles(lab, estate)
    assert not run.failed, run.output
    assert run.changed >= 2

    report = audit(lab, estate)
    statuses = {row["status"] for _instance, row in required_spns(report)}
    assert statuses == {"ok"}, report["instances"]
    kdc.kinit("alice")
    # A locked-out account's SPNs are registered, but the KDC issues no ticket for them.
    refused = {s["expect"]["account"]: s["expect"]["service_tickets_refused"] for s in lab.scenarios["instances"]
               if "service_tickets_refused" in s["expect"]}
    for instance, row in required_spns(report):
        account = instance["service_account"]["name"].split("\\")[1]
        ok, output = kdc.kvno(row["spn"])
        if instance["service_account"]["name"] in refused:
            assert not ok and refused[instance["service_account"]["name"]] in output, output
            continue
        assert ok, output
        if lab.accounts.get(account, {}).get("password"):
            assert kdc.decrypts(row["spn"], account), (row["spn"], account)
    # What is left is what these roles do not fix: ports (sql_static_port).
    leftover = {finding for instance in report["instances"] for finding in instance["findings"]}
    assert leftover == {"dynamic_port", "tcp_disabled"}

    for account in ("sqlsvc2", "sqlsvc3", "sqlsvc4"):
        connection = lab.bind_as(account)
        dn = lab.accounts[account]["dn"]
        spn = "MSSQLSvc/%s.corp.example.test:4242" % account.replace("sqlsvc", "sql")
        assert connection.modify(dn, {"servicePrincipalName": [("MODIFY_ADD", [spn])]}), connection.result
        assert connection.modify(dn, {"servicePrincipalName": [("MODIFY_DELETE", [spn])]}), connection.result


def test_second_run_changes_nothing(lab, estate):
    usn = lab.highest_committed_usn()
    run = run_roles(lab, estate)
    assert not run.failed, run.output
    assert run.changed == 0, run.output
    assert lab.highest_committed_usn() == usn


def test_moves_need_the_inventory_s_permission(lab, estate, tmp_path):
    """Without allow_spn_move the role registers what it may and fails with
    a summary naming each SPN it may not take."""
    lab.reseed()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(estate["inventory"].read_text().replace("allow_spn_move: true", "allow_spn_move: false"))
    run = run_playbook(REPO / PLAYBOOK, inventory, env=lab.ldap_env)
    assert run.failed
    assert "SPNs not registered:" in run.output
    assert "MSSQLSvc/sql3.corp.example.test:1433 is held by CORP\\\\SQL3$" in run.output
    assert "allow_spn_move: true on sql4.corp.example.test" in run.output
    assert "MSSQLSvc/sql2.corp.example.test:1533" in lab.spns_of("sqlsvc2")
