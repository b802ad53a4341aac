"""The pipelines over the lab estate (playbooks/inventories/lab): the
check-mode drift report, site.yml, and generate mode, each confirmed through
an independent path:

- what the drift report must find comes from tests/lab/scenarios.yml (what
  the lab seeded), not from the collection;
- "wrote nothing": the rootDSE highestCommittedUSN and the bytes of
  mssql.conf;
- "fixed": the KDC (tickets for every SPN encrypted with the service
  account's key, the linked servers' double hop), and mssql.conf itself;
- the report files: JUnit read by an XML Schema validator and junitparser,
  the HTML page rendered by headless Chromium with its console watched;
- generate mode: its LDIF applied with OpenLDAP's ldapmodify.

The pipelines bind as the lab inventory does: as CORP\\svc-sqlauth, a plain
Domain User, after the lab's admin granted it its rights on the SQL OUs
(playbooks/automation_account.yml). What needs a Domain Admin is run as the
lab's admin, as an AD team would: site.yml for sql12 (its account is a member
of Domain Admins, outside the SQL OUs) and for sql6 (clearing unconstrained
delegation needs SeEnableDelegationPrivilege).

The lab's Linux SQL Server host is SIMULATED: an mssql.conf file on the
controller, no service running. The lab has no Windows hosts, so their port
checks are skipped (sql_kerberos_manage_ports: false in the inventory).
The tests change the seeded estate: the module re-seeds the lab before and
after itself."""
import html
import json
import os
import re
import subprocess
from pathlib import Path

import junitparser
import pytest
import xmlschema
import yaml
from conftest import REPO, run_playbook
from delegation import assert_granted, delegation_show
from powershell_grammar import syntax_problems

INVENTORY = REPO / "playbooks" / "inventories" / "lab"
SITE = REPO / "playbooks" / "site.yml"
DRIFT_REPORT = REPO / "playbooks" / "drift_report.yml"
AUTOMATION_ACCOUNT = REPO / "playbooks" / "automation_account.yml"
# Hosts whose fix needs a Domain Admin (see above), and what that run adds.
TIER0_HOSTS = "sql6.corp.example.test,sql12.corp.example.test"
TIER0_VARS = dict(sql_kerberos_clear_unconstrained_delegation=True)
JUNIT_SCHEMA = Path(__file__).with_name("junit.xsd")
LINUX_HOST = "sqllnx1.corp.example.test"
# Chromium reports a page's console messages (errors, uncaught exceptions,
# failed loads) in its log with this tag.
CONSOLE_TAG = ":CONSOLE"


def inventory_hosts():
    hosts = yaml.safe_load((INVENTORY / "hosts.yml").read_text())["sql_servers"]["children"]
    return {host for group in hosts.values() for host in group["hosts"]}


def instance_name(scenario):
    return scenario["host"] if scenario["instance"] == "MSSQLSERVER" else "%s\\%s" % (
        scenario["host"], scenario["instance"])


def inventory_scenarios(lab):
    """The scenarios of the instances in the inventory, by instance name."""
    hosts = inventory_hosts()
    return {instance_name(s): s for s in lab.scenarios["instances"] if s["host"] in hosts}


def granted_ous():
    """The OUs playbooks/automation_account.yml grants the automation account
    (and SELF its SPN rights) on, from the lab inventory."""
    variables = yaml.safe_load((INVENTORY / "group_vars" / "all" / "automation_account.yml").read_text())
    return variables["automation_account_organizational_units"]


def self_spn_rights_inherited(lab, account):
    """Whether the account sits below an OU where SELF was granted its SPN rights."""
    dn = lab.accounts[account.split("\\")[1]]["dn"].lower()
    return any(dn.endswith("," + ou.lower()) for ou in granted_ous())


def expected_drift(lab):
    """(instance, check, subject, status) of every seeded problem of the
    inventory's instances, from scenarios.yml."""
    expected = set()
    for instance, scenario in inventory_scenarios(lab).items():
        account = scenario["expect"]["account"]
        for spn, status in scenario["expect"]["spns"].items():
            if status != "ok":
                expected.add((instance, "spn", spn, status))
        if "spn_write_acl_missing" in scenario["expect"]["findings"] and not self_spn_rights_inherited(
                lab, account):
            expected.add((instance, "spn_write_acl", account, "acl_missing"))
        if "linux" in scenario and "tcpport = %d" % scenario["port"] not in scenario["linux"]["mssql_conf"]:
            expected.add((instance, "static_port", instance, "port_not_static"))
        expected.update((instance, item["check"], item["subject"], item["status"])
                        for item in scenario["expect"].get("report", []) if not item.get("waived"))
    # Encryption types of the user and gMSA accounts (scenarios.yml: supported_encryption_types,
    # absent on most): none has AES, so the KDC issues RC4 tickets for each.
    etypes = {user["name"]: user.get("supported_encryption_types") for user in lab.scenarios["users"]}
    for instance, scenario in inventory_scenarios(lab).items():
        sam = scenario["expect"]["account"].split("\\")[1]
        if lab.accounts[sam]["kind"] in ("user", "gmsa"):
            for status in ENCRYPTION_FINDINGS[etypes.get(sam)]:
                expected.add((instance, "encryption", scenario["expect"]["account"], status))
    # DNS (scenarios.yml, dns): the A-record alias's SPNs, and what the inventory does not waive.
    dns = lab.scenarios["dns"]["expect"]
    expected.update((instance, "spn", spn, "missing") for instance, spns in dns["alias_spns"].items() for spn in spns)
    expected.update((item["instance"], "dns", item["subject"], item["status"]) for item in dns["report"]
                    if not item.get("waived"))
    expected.update((item["instance"], "exposure", item["subject"], item["status"])
                    for item in lab.scenarios["exposure"]["expect"] if not item.get("waived"))
    for pair in lab.scenarios["linked_servers"]:
        # Other statuses are the front end's scenario's (expect: report).
        if pair.get("expect", "delegation_missing") == "delegation_missing":
            expected.add((pair["front"], "delegation", "%s -> %s" % (pair["front"], pair["back"]),
                          "delegation_missing"))
    return expected


# What the drift report finds for msDS-SupportedEncryptionTypes (absent, RC4, DES and RC4).
ENCRYPTION_FINDINGS = {None: ["rc4_only"], 4: ["rc4_only"], 7: ["des_enabled", "rc4_only"]}
# An SPN that is ok before site.yml of an account without AES in each way (scenarios.yml): the
# KDC issues RC4 tickets for them before, AES after.
RC4_BEFORE = (("sqlsvc1", "MSSQLSvc/sql1.corp.example.test:1433"),     # attribute absent
              ("sqlsvc15", "MSSQLSvc/sql12.corp.example.test:1433"),   # 4: RC4 only
              ("sqlsvc4", "MSSQLSvc/sql4.corp.example.test"))          # 7: DES and RC4 (no DES keys)


def expected_waived(lab):
    """(instance, check, subject, status) of every seeded problem the lab
    inventory waives (group_vars/sql_servers/waivers.yml)."""
    waived = {(instance, item["check"], item["subject"], item["status"])
              for instance, scenario in inventory_scenarios(lab).items()
              for item in scenario["expect"].get("report", []) if item.get("waived")}
    waived |= {(item["instance"], "exposure", item["subject"], item["status"])
               for item in lab.scenarios["exposure"]["expect"] if item.get("waived")}
    return waived | {(item["instance"], "dns", item["subject"], item["status"])
                     for item in lab.scenarios["dns"]["expect"]["report"] if item.get("waived")}


def drift_of(report, result="drift"):
    return {(instance["name"], check["check"], check["subject"], check["status"])
            for host in report["hosts"] for instance in host["instances"] for check in instance["checks"]
            if check["result"] == result}


def reseed_and_grant(lab):
    """The seeded estate, and the lab's admin granting the automation account
    its rights (a reseed deletes the OUs, and their ACEs with them)."""
    lab.reseed()
    granted = run_playbook(AUTOMATION_ACCOUNT, INVENTORY, env=lab.ldap_env)
    assert not granted.failed and granted.changed > 0, granted.output
    pipeline = lab.pipeline_env
    lab.first_logon(pipeline["SQLAUTH_PIPELINE_USERNAME"], pipeline["SQLAUTH_PIPELINE_PASSWORD"])


@pytest.fixture(scope="module")
def estate(lab, tmp_path_factory):
    reseed_and_grant(lab)
    yield dict(reports=tmp_path_factory.mktemp("reports"))
    lab.reseed()


def play(lab, estate, playbook, name, check=False, verbosity=0, diff=False, as_admin=False, limit=None,
         **extra_vars):
    """Run a pipeline playbook on the lab inventory, bound as the automation
    account (or as the lab's admin); its report goes to a folder of its own.
    Returns (run, report folder)."""
    folder = estate["reports"] / name
    env = dict(lab.pipeline_env, SQLAUTH_LAB_DIR=str(lab.dir))
    if as_admin:
        env.update(SQLAUTH_PIPELINE_USERNAME=lab.username, SQLAUTH_PIPELINE_PASSWORD=lab.password)
    run = run_playbook(playbook, INVENTORY, check=check, diff=diff, env=env, verbosity=verbosity, limit=limit,
                       extra_vars=dict(extra_vars, sql_kerberos_report_dir=str(folder)))
    return run, folder


def load_report(folder):
    return json.loads((folder / "drift-report.json").read_text())


def mssql_conf(lab):
    return (lab.dir / "hosts" / LINUX_HOST / "mssql.conf").read_bytes()


def render_in_chromium(page, screenshot, tmp_path):
    """Render a page in headless Chromium; returns its console messages."""
    completed = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
         "--v=0", "--user-data-dir=%s" % (tmp_path / "chromium"), "--window-size=1400,2400",
         "--screenshot=%s" % screenshot, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0 and screenshot.exists(), completed.stderr
    return [line for line in completed.stderr.splitlines() if CONSOLE_TAG in line]


def test_chromium_console_watch_catches_a_broken_page(tmp_path):
    """Control for the rendering test: a page with a script error is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>no_such_function();</script></body></html>")
    console = render_in_chromium(page, tmp_path / "broken.png", tmp_path)
    assert any("no_such_function" in line for line in console), console


def ok_as_delegate(kdc, spn):
    """Whether alice's service ticket for ``spn`` carries OK-AS-DELEGATE
    (klist -f flag O): the KDC marks tickets to accounts trusted for
    unconstrained delegation, and clients then forward their TGT."""
    kdc.kinit("alice")
    ok, output = kdc.kvno(spn)
    assert ok, output
    listing = kdc.run("klist", "-f").stdout
    block = listing.split(spn, 1)[1].split("\n\n", 1)[0]
    flags = re.search(r"Flags: (\S+)", block)
    return bool(flags) and "O" in flags.group(1)


UNCONSTRAINED_SPN = "MSSQLSvc/sql6.corp.example.test:1433"


def test_drift_report_finds_every_seeded_problem_and_writes_nothing(lab, estate):
    usn, conf = lab.highest_committed_usn(), mssql_conf(lab)
    run, folder = play(lab, estate, DRIFT_REPORT, "before")
    assert run.returncode != 0, run.output
    assert "found drift" in run.output
    assert lab.highest_committed_usn() == usn and mssql_conf(lab) == conf

    report = load_report(folder)
    assert report["drift"] is True
    assert drift_of(report) == expected_drift(lab)
    # What the lab seeds on purpose and its inventory waives: in the report, as waived.
    assert drift_of(report, "waived") == expected_waived(lab)
    waived = {(c["id"], c["severity"]) for h in report["hosts"] for i in h["instances"] for c in i["checks"]
              if c["result"] == "waived"}
    assert waived == {("ACC001", "error"), ("ACC002", "error"), ("ACC003", "error"), ("ACC004", "error"),
                      ("ACC005", "warning"), ("ACC006", "error"), ("DLG003", "warning"), ("DLG004", "error"),
                      ("DLG005", "info"), ("DLG006", "error"), ("ENC004", "info"), ("DNS002", "info"),
                      ("DNS003", "info"), ("DNS004", "warning"), ("DNS008", "info"), ("EXP001", "warning"),
                      ("EXP002", "warning"), ("EXP003", "info"), ("EXP004", "info"), ("EXP005", "info")}
    ids = {(c["status"], c["id"], c["severity"]) for h in report["hosts"] for i in h["instances"] for c in i["checks"]
           if c["check"] == "encryption" and c["result"] == "drift"}
    assert ids == {("rc4_only", "ENC001", "warning"), ("des_enabled", "ENC002", "error")}
    # The callers the KDC never delegates are named: bob (sensitive; the KDC refusal is proven after
    # site.yml) and carol, whose Protected Users membership Samba's KDC does not enforce for
    # S4U2Proxy (lab-notes): proven by LDAP, her memberOf read over LDAPS.
    [callers] = [c for h in report["hosts"] for i in h["instances"] for c in i["checks"]
                 if c["subject"].endswith(": callers")]
    assert "CORP\\bob (marked sensitive)" in callers["detail"] and "CORP\\carol (in Protected Users)" in callers["detail"]
    connection = lab.bind_admin()
    connection.search(lab.accounts["carol"]["dn"], "(objectClass=*)", "BASE", attributes=["memberOf"])
    assert any(dn.startswith("CN=Protected Users,") for dn in connection.entries[0].memberOf.values)
    # The lab has no Windows host to reach: their port checks say so.
    skipped = {(i["name"], c["check"]) for h in report["hosts"] for i in h["instances"] for c in i["checks"]
               if c["result"] == "skipped"}
    assert skipped == {(name, "static_port") for name, s in inventory_scenarios(lab).items() if "linux" not in s}


def test_before_site_the_kdc_issues_rc4_tickets_for_accounts_without_aes(lab, estate, kdc):
    kdc.kinit("alice")
    for account, spn in RC4_BEFORE:
        assert kdc.ticket_enctype(spn) == "arcfour-hmac", (account, spn)
        assert kdc.decrypts(spn, account), (account, spn)


def test_junit_report_is_valid_junit_with_a_failure_per_problem(lab, estate):
    folder = estate["reports"] / "before"
    xmlschema.XMLSchema(str(JUNIT_SCHEMA)).validate(str(folder / "drift-report.xml"))
    report = load_report(folder)
    xml = junitparser.JUnitXml.fromfile(str(folder / "drift-report.xml"))
    suites = list(xml)
    assert sorted(suite.name for suite in suites) == sorted(host["host"] for host in report["hosts"])
    failed = {(case.classname, case.name) for suite in suites for case in suite
              if case.result and isinstance(case.result[0], junitparser.Failure)}
    assert failed == {(name, "%s %s" % (check, subject)) for name, check, subject, dummy in drift_of(report)}
    assert sum(suite.tests for suite in suites) == report["summary"]["checks"]


def test_html_report_renders_in_chromium_without_console_errors(lab, estate, tmp_path):
    folder = estate["reports"] / "before"
    page = folder / "drift-report.html"
    text = page.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text
    screenshot = folder / "drift-report.png"
    assert render_in_chromium(page, screenshot, tmp_path) == []
    assert screenshot.stat().st_size > 20000  # a real page, not a blank one
    for name, check, subject, status in drift_of(load_report(folder)):
        assert html.escape(subject) in text and html.escape(name) in text
    print("screenshot: %s" % screenshot)


def test_site_in_check_mode_reports_the_same_drift_and_writes_nothing(lab, estate):
    usn, conf = lab.highest_committed_usn(), mssql_conf(lab)
    run, folder = play(lab, estate, SITE, "site-check", check=True, diff=True)
    assert run.returncode != 0, run.output
    assert run.changed > 0, run.output  # what the roles would change
    # Each stale SPN's removal is shown first (the lab inventory opts in to it).
    for instance, check, subject, status in expected_drift(lab):
        if status == "stale":
            assert re.search(r"^-\s.*%s" % re.escape(subject), run.output, re.MULTILINE), subject
    assert lab.highest_committed_usn() == usn and mssql_conf(lab) == conf
    assert drift_of(load_report(folder)) == expected_drift(lab)
    assert drift_of(load_report(folder), "waived") == expected_waived(lab)


def test_generate_mode_writes_commands_and_ldif_and_nothing_else(lab, estate):
    usn = lab.highest_committed_usn()
    run, folder = play(lab, estate, DRIFT_REPORT, "generate", sql_kerberos_mode="generate",
                       sql_kerberos_fail_on_drift=False)
    assert run.returncode == 0, run.output
    assert lab.highest_committed_usn() == usn
    script = (folder / "fix-ad.ps1").read_text()
    # Parsed with a real PowerShell grammar (tree-sitter-powershell): no ERROR or MISSING node.
    assert syntax_problems(script) == []
    for instance, check, subject, status in expected_drift(lab):
        if check == "spn" and status == "missing":
            assert "setspn -S '%s' " % subject in script
        if check == "spn_write_acl":
            assert "/G 'SELF:RPWP;servicePrincipalName'" in script
        if check == "delegation":
            assert "-PrincipalsAllowedToDelegateToAccount" in script
    assert "setspn -D 'MSSQLSvc/sql4.corp.example.test:1433' 'CORP\\sqlsvc4old'" in script
    assert "setspn -D 'MSSQLSvc/sql3.corp.example.test:1433' 'CORP\\SQL3$'" in script


def test_generated_ldif_applied_by_ldapmodify_fixes_spns_and_delegation(lab, estate, tmp_path):
    """An AD admin applies the LDIF with OpenLDAP's client, entry by entry;
    the next report keeps only what LDIF leaves to dsacls (ACLs), the host's
    port, and the legacy duplicate: Samba, unlike Windows, refuses to delete
    one value of a duplicated SPN (lab-notes; spn_register works around it)."""
    entries = [entry for entry in (estate["reports"] / "generate" / "fix-ad.ldif").read_text().split("\n\n")
               if "\ndn: " in "\n" + entry]
    password = tmp_path / "password"
    password.touch(mode=0o600)
    password.write_text(lab.password)
    refused = []
    for entry in entries:
        applied = subprocess.run(["ldapmodify", "-x", "-H", "ldaps://%s" % lab.server, "-D", lab.username, "-y",
                                  str(password)], input=entry, capture_output=True, text=True, check=False,
                                 env=dict(os.environ, LDAPTLS_CACERT=lab.ca_cert))
        if applied.returncode != 0:
            refused.append((entry.split("dn: ", 1)[1].split("\n")[0], applied.stderr.strip()))
    assert len(entries) > 10
    assert [dn for dn, dummy in refused] == [lab.accounts["sqlsvc4old"]["dn"]], refused
    assert "Constraint violation" in refused[0][1]
    run, folder = play(lab, estate, DRIFT_REPORT, "after-ldif")
    assert run.returncode != 0
    left = {(check, status) for dummy, check, dummy2, status in drift_of(load_report(folder))}
    # And the unconstrained delegation flag, which LDIF leaves to the PowerShell line.
    # (SPN write ACLs missing only outside the OUs where SELF was granted them.)
    acls_left = {(check, status) for dummy, check, dummy2, status in expected_drift(lab) if check == "spn_write_acl"}
    assert left == acls_left | {("static_port", "port_not_static"), ("spn", "duplicate"),
                                ("delegation_risk", "unconstrained_delegation")}
    reseed_and_grant(lab)


def hosts_with_task_results(output):
    """The hosts named by the task results of a run (``ok: [host -> localhost]`` ...)."""
    return set(re.findall(r"^(?:ok|changed|skipping|failed|fatal): \[([^\]\s]+)", output, re.MULTILINE))


def test_site_fixes_every_problem(lab, estate, kdc):
    assert ok_as_delegate(kdc, UNCONSTRAINED_SPN)  # the seeded SQL6$: trusted for unconstrained delegation
    # The Domain Admin's part first (what the automation account may not write).
    run, dummy = play(lab, estate, SITE, "site-tier0", as_admin=True, limit=TIER0_HOSTS, **TIER0_VARS)
    assert not run.failed, run.output
    run, folder = play(lab, estate, SITE, "site")
    assert not run.failed, run.output
    # Nothing the release running the test deprecates (./run test runs this
    # module on the oldest and the newest release too, tests/other_core.sh).
    assert "[DEPRECATION WARNING]" not in run.output, run.output
    assert run.changed > 0
    assert "No drift" in run.output
    assert b"tcpport = 1435" in mssql_conf(lab)
    # Only the host whose ports are managed ran tasks of its own; the rest
    # ran once, on the play's first host (sql_windows hosts: ports unmanaged).
    windows = list(yaml.safe_load((INVENTORY / "hosts.yml").read_text())["sql_servers"]["children"]["sql_windows"]
                   ["hosts"])
    assert hosts_with_task_results(run.output) == {windows[0], LINUX_HOST}, run.output

    report = load_report(folder)
    assert report["drift"] is False
    # SQL6$ is no longer trusted for unconstrained delegation: its tickets say so.
    assert not ok_as_delegate(kdc, UNCONSTRAINED_SPN)
    # The stale SPNs are gone from their holders, and nothing else was taken (ldapsearch).
    for scenario in inventory_scenarios(lab).values():
        for spn, holders in scenario["expect"].get("stale_spns", {}).items():
            for holder in holders:
                left = lab.spns_of(holder.split("\\")[1])
                assert spn not in left and left, (spn, holder, left)
    kdc.kinit("alice")
    spns = [(instance, check) for host in report["hosts"] for instance in host["instances"]
            for check in instance["checks"] if check["check"] == "spn"]
    alias_spns = lab.scenarios["dns"]["expect"]["alias_spns"]
    assert len(spns) == sum(len(s["expect"]["spns"]) for s in inventory_scenarios(lab).values()) + sum(
        len(spns) for spns in alias_spns.values())
    # The A-record alias's SPNs are on sql1's account (each ticket is checked below); the
    # CNAME alias added none, on any account (ldapsearch).
    assert set(alias_spns["sql1.corp.example.test"]) <= set(lab.spns_of("sqlsvc1"))
    assert lab.accounts_with_spn("MSSQLSvc/crm-db*") == []
    scenarios = inventory_scenarios(lab)
    for instance, check in spns:
        account = instance["service_account"].split("\\")[1]
        refused = scenarios[instance["name"]]["expect"].get("service_tickets_refused")
        # (alias SPNs, e.g. MSSQLSvc/sales-db...:1433, are checked as their instance's.)
        if refused:  # a locked-out account: the KDC issues no ticket for its SPNs
            ok, output = kdc.kvno(check["subject"])
            assert not ok and refused in output, output
            continue
        if lab.accounts[account].get("password"):
            assert kdc.decrypts(check["subject"], account), (check["subject"], account)
        else:  # a gMSA: its password is the DC's
            assert kdc.kvno(check["subject"])[0], check["subject"]
        if lab.accounts[account]["kind"] in ("user", "gmsa"):
            # site.yml set AES on the account: its tickets are AES now.
            assert kdc.ticket_enctype(check["subject"]) == "aes256-cts-hmac-sha1-96", (check["subject"], account)
    for account, spn in RC4_BEFORE:
        assert kdc.ticket_enctype(spn) == "aes256-cts-hmac-sha1-96" and kdc.decrypts(spn, account), (account, spn)
    rbkcd_on_sql1 = delegation_show(lab, "sqlsvc1")
    for pair in lab.scenarios["linked_servers"]:
        front, back = scenarios[pair["front"]], scenarios[pair["back"]]
        front_account = front["expect"]["account"].split("\\")[1]
        spn = "MSSQLSvc/%s:%d" % (back["host"], back["port"])
        after = pair.get("after_site", "granted")
        if after == "same_account":
            # Nothing written: the account's entries are those seeded (an old self-entry, kept
            # outside exact mode), none added.
            seeded = [lab.accounts[name]["dn"] for name in
                      next(u for u in lab.scenarios["users"] if u["name"] == front_account).get(
                          "allowed_to_act_on_behalf", [])]
            assert delegation_show(lab, front_account) == sorted(seeded), pair
        elif after == "refused":
            granted, output, dummy = kdc.double_hop(front_account, spn)
            assert not granted and "constrained delegation failed" in output, (pair, output)
        elif pair.get("expect") == "ok":
            # Classic constrained delegation: the KDC grants it, and site.yml
            # added no RBKCD entry for it.
            granted, output, dummy = kdc.double_hop(front_account, spn)
            assert granted and "%s@%s: kvno = " % (spn, lab.realm) in output, (pair, output)
            assert lab.accounts[front_account]["dn"] not in rbkcd_on_sql1, rbkcd_on_sql1
        else:
            assert_granted(lab, kdc, front_account, spn)
            # Callers the report named (DLG006): the KDC refuses to delegate them through the same pair.
            for user in pair.get("refused_callers", []):
                granted, output, dummy = kdc.double_hop(front_account, spn, user=user)
                assert not granted, (pair, user, output)


def test_second_site_run_changes_nothing(lab, estate):
    usn, conf = lab.highest_committed_usn(), mssql_conf(lab)
    run, dummy = play(lab, estate, SITE, "site-again")
    assert not run.failed, run.output
    assert run.changed == 0, run.output
    assert lab.highest_committed_usn() == usn and mssql_conf(lab) == conf


def test_second_drift_report_is_clean_and_exits_zero(lab, estate):
    run, folder = play(lab, estate, DRIFT_REPORT, "after", verbosity=3)
    assert run.returncode == 0, run.output
    report = load_report(folder)
    assert report["drift"] is False and report["summary"]["drift"] == 0
    xml = junitparser.JUnitXml.fromfile(str(folder / "drift-report.xml"))
    assert sum(suite.failures for suite in xml) == 0
    # -vvv shows module arguments and results: the AD password is in none of it.
    assert lab.password not in run.output
    for path in folder.iterdir():
        assert lab.password not in path.read_text(), path
