"""playbooks/discover.yml against the lab: the draft inventory it writes
from AD, and the drift report over that draft.

What discovery must find comes from tests/lab/scenarios.yml (the SPNs the
seed gives users, computers and gMSAs, and its legacy duplicates), not from
the collection. The test adds one SQL Server service connection point of its
own (an mS-SQL-SQLServer object under SQL7, which has no MSSQLSvc SPN) and
removes it afterwards. "Wrote nothing": the rootDSE highestCommittedUSN."""
import json
import re
import shutil

import pytest
import yaml
from conftest import REPO, AnsibleRunner, run_playbook

DISCOVER = REPO / "playbooks" / "discover.yml"
DRIFT_REPORT = REPO / "playbooks" / "drift_report.yml"
# What SQL Server's Active Directory helper publishes: a named instance of
# sql7 with its port, under the host's computer object.
SCP = {"host": "sql7.corp.example.test", "instance": "REPORTS", "port": 1533, "service_account": "CORP\\sqlsvc3"}


def seeded_spns(lab):
    """{MSSQLSvc SPN (lower case): {holder, as DOMAIN\\sAMAccountName}} as the seed writes them."""
    netbios = lab.env.get("SQLAUTH_LAB_NETBIOS", "CORP")
    holders = {}
    scenarios = lab.scenarios
    for section, suffix in (("users", ""), ("computers", "$"), ("group_managed_service_accounts", "$")):
        for item in scenarios.get(section, []):
            for spn in item.get("spns") or []:
                holders.setdefault(spn.lower(), set()).add("%s\\%s%s" % (netbios, item["name"], suffix))
    for duplicate in scenarios.get("legacy_duplicates", []):
        if duplicate.get("spn"):
            holders.setdefault(duplicate["spn"].lower(), set()).add("%s\\%s" % (netbios, duplicate["account"]))
    return {spn: names for spn, names in holders.items() if spn.startswith("mssqlsvc/")}


def spn_parts(spn):
    """(host, port or None, instance name or None) of an MSSQLSvc SPN, lower case."""
    host, _sep, suffix = spn.split("/", 1)[1].partition(":")
    if not suffix:
        return host, None, None
    return (host, int(suffix), None) if suffix.isdigit() else (host, None, suffix)


def fqdn_of(host, fqdns):
    return host if "." in host else next(f for f in fqdns if f.split(".")[0] == host)


@pytest.fixture(scope="module")
def reseeded(lab):
    """The seeded estate, whatever earlier tests left."""
    lab.reseed()


@pytest.fixture(scope="module")
def scp(lab, reseeded):
    """The service connection point, present for the module's tests (added
    after the reseed, which could not delete SQL7 with a child under it)."""
    computers = [line.split(": ", 1)[1] for line in lab._ldapsearch("(sAMAccountName=SQL7$)", ["dn"])
                 if line.startswith("dn: ")]
    assert len(computers) == 1, computers
    dn = "CN=SQL7-REPORTS,%s" % computers[0]
    connection = lab.bind_admin()
    connection.delete(dn)  # a leftover of an interrupted run
    assert connection.add(dn, ["mS-SQL-SQLServer"], {
        "serviceDNSName": SCP["host"], "serviceClassName": "MSSQLServer",
        "mS-SQL-Name": "SQL7\\%s" % SCP["instance"], "mS-SQL-TCPIP": str(SCP["port"]),
        "mS-SQL-ServiceAccount": SCP["service_account"]}), connection.result
    yield dn
    # The seed deletes SQL7 plainly: a child left under it would break the next seed.
    assert connection.delete(dn), connection.result
    connection.unbind()


@pytest.fixture(scope="module")
def discovered(lab, scp, tmp_path_factory):
    """The module's result and the playbook's draft directory, from one
    reseeded lab, with the USN before and after each run."""
    runner = AnsibleRunner(tmp_path_factory.mktemp("module"))
    before = lab.highest_committed_usn()
    result = runner("sqlauth.kerberos.inventory_discover", lab.connection, check=True)
    assert not result["failed"], runner.last_output
    output_dir = tmp_path_factory.mktemp("draft") / "inventory"
    run = run_playbook(DISCOVER, "localhost,", extra_vars={"inventory_draft_output_dir": str(output_dir)},
                       env=lab.ldap_env)
    assert run.returncode == 0 and run.changed, run.output
    return dict(result=result, dir=output_dir, run=run, usn=(before, lab.highest_committed_usn()))


def instances_of(result):
    return {(host["fqdn"], instance["instance"]): instance
            for host in result["hosts"] for instance in host["instances"]}


def test_discovery_writes_nothing(discovered):
    result = discovered["result"]
    assert result["changed"] is False
    before, after = discovered["usn"]
    assert before == after


def test_every_seeded_host_and_instance_is_found_with_its_holders(lab, discovered):
    result = discovered["result"]
    seeded = seeded_spns(lab)
    fqdns = sorted({host for host, _p, _i in map(spn_parts, seeded) if "." in host})
    assert {host["fqdn"] for host in result["hosts"]} == set(fqdns) | {SCP["host"]}
    found = instances_of(result)
    unassigned = {row["spn"].lower(): set(row["holders"]) for host in result["hosts"] for row in host["unassigned_spns"]}
    for spn, holders in seeded.items():
        host, port, name = spn_parts(spn)
        host = fqdn_of(host, fqdns)
        owners = [i for i in found.values() if spn in [s.lower() for s in i["spns"]]]
        if name is not None or port is None:
            # A named instance, or the bare host: the default instance.
            instance = found[(host, (name or "MSSQLSERVER").upper())]
            assert owners == [instance], spn
        else:
            assert owners or spn in unassigned, spn
            if not owners:
                assert unassigned[spn] == holders
                continue
            assert owners[0]["port"] == port, spn
        assert holders <= {holder["name"] for holder in owners[0]["holders"]}, spn
        if len(holders) > 1:
            # Duplicates list every holder.
            assert spn in [s.lower() for s in owners[0]["duplicates"]]
            note = next(note for note in owners[0]["notes"] if note.lower().startswith("duplicate: " + spn))
            assert all(holder in note for holder in holders), note
    assert result["summary"]["duplicate_spns"] == sum(1 for holders in seeded.values() if len(holders) > 1)


def test_guesses_are_marked(discovered):
    found = instances_of(discovered["result"])
    sql3 = found[("sql3.corp.example.test", "MSSQLSERVER")]
    # SPNs on the host's computer account: a virtual account, LocalSystem, or stale.
    assert sql3["service_account"] == "NT SERVICE\\MSSQLSERVER"
    assert "CORP\\SQL3$" in sql3["comments"]["service_account"][0]
    assert "stale" in sql3["comments"]["service_account"][0]
    for instance in found.values():
        assert instance["comments"]["service_account"][0].startswith(("guess: ", "no SPN holder"))
        assert all(line.startswith("guess: ") for line in instance["comments"]["instance"] + instance["comments"]["port"])


def test_the_service_connection_point_is_found(discovered):
    reports = instances_of(discovered["result"])[(SCP["host"], SCP["instance"])]
    assert (reports["port"], reports["service_account"], reports["enabled"]) == (
        SCP["port"], SCP["service_account"], True)
    assert reports["comments"]["instance"][0].startswith("guess: from a service connection point only")


def test_the_files_hold_the_draft_and_its_guesses(discovered):
    result, output_dir = discovered["result"], discovered["dir"]
    hosts = yaml.safe_load((output_dir / "hosts.yml").read_text())["sql_servers"]["hosts"]
    assert list(hosts) == [host["fqdn"] for host in result["hosts"]]
    for host in result["hosts"]:
        text = (output_dir / "host_vars" / ("%s.yml" % host["fqdn"])).read_text()
        items = yaml.safe_load(text)["sqlauth_instances"]
        assert items == [dict(instance=i["instance"], port=i["port"], service_account=i["service_account"])
                         for i in host["instances"] if i["enabled"]], host["fqdn"]
        guesses = [line for line in host["comments"] if line.startswith("guess: ")]
        guesses += [line for instance in host["instances"] for lines in instance["comments"].values()
                    for line in lines if line.startswith("guess: ")]
        assert len(re.findall(r"^\s*# guess: ", text, re.MULTILINE)) == len(guesses), text
    sql4 = (output_dir / "host_vars" / "sql4.corp.example.test.yml").read_text()
    assert re.search(r"# duplicate: MSSQLSvc/sql4\.corp\.example\.test:1433 is held by CORP\\sqlsvc4, "
                     r"CORP\\sqlsvc4old", sql4), sql4


def test_existing_files_are_kept_unless_forced(lab, discovered):
    output_dir = discovered["dir"]
    reviewed = output_dir / "host_vars" / "sql1.corp.example.test.yml"
    reviewed.write_text("---\n# reviewed by a DBA\nsqlauth_instances: []\n")
    run = run_playbook(DISCOVER, "localhost,", extra_vars={"inventory_draft_output_dir": str(output_dir)},
                       env=lab.ldap_env)
    assert run.returncode == 0 and run.changed == 0, run.output
    assert "reviewed by a DBA" in reviewed.read_text()
    assert "host_vars/sql1.corp.example.test.yml" in run.output
    run = run_playbook(DISCOVER, "localhost,", extra_vars={"inventory_draft_output_dir": str(output_dir),
                                                           "inventory_draft_force": True}, env=lab.ldap_env)
    assert run.returncode == 0 and run.changed, run.output
    assert "reviewed by a DBA" not in reviewed.read_text()


def test_a_new_hosts_file_is_not_written_while_hosts_yml_is_kept(lab, discovered, tmp_path):
    """A host_vars file of a host the kept hosts.yml does not list would
    never be read: it is listed instead of written."""
    output_dir = tmp_path / "inventory"
    shutil.copytree(discovered["dir"], output_dir)
    fqdn = discovered["result"]["hosts"][-1]["fqdn"]
    new_host = output_dir / "host_vars" / ("%s.yml" % fqdn)
    new_host.unlink()
    run = run_playbook(DISCOVER, "localhost,", extra_vars={"inventory_draft_output_dir": str(output_dir)},
                       env=lab.ldap_env)
    assert run.returncode == 0 and run.changed == 0, run.output
    assert not new_host.exists()
    assert re.search(r"the kept hosts.yml does not list them.*: host_vars/%s\.yml" % re.escape(fqdn), run.output), \
        run.output


def test_check_mode_writes_no_file(lab, tmp_path):
    run = run_playbook(DISCOVER, "localhost,", check=True,
                       extra_vars={"inventory_draft_output_dir": str(tmp_path / "draft")}, env=lab.ldap_env)
    assert run.returncode == 0, run.output
    assert not (tmp_path / "draft").exists()


def test_the_drift_report_runs_over_the_draft_and_writes_nothing(lab, discovered, tmp_path):
    """The draft is today's AD, mistakes included: the report finds drift
    (exit 2), but it must run over the draft as written."""
    before = lab.highest_committed_usn()
    # The lab has no Windows hosts to reach over WinRM: their port checks are skipped.
    run = run_playbook(DRIFT_REPORT, discovered["dir"], check=True, env=lab.ldap_env,
                       extra_vars={"sql_kerberos_report_dir": str(tmp_path), "sql_kerberos_manage_ports": False})
    assert run.returncode == 2, run.output
    assert lab.highest_committed_usn() == before
    report = json.loads((tmp_path / "drift-report.json").read_text())
    assert report["drift"] is True
    reported = {(host["host"], instance["instance"]) for host in report["hosts"] for instance in host["instances"]}
    assert reported == {key for key, instance in instances_of(discovered["result"]).items() if instance["enabled"]}
    assert (tmp_path / "drift-report.xml").exists() and (tmp_path / "drift-report.html").exists()
