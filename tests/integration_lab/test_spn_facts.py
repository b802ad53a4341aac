"""spn_facts against the lab DC, every status confirmed by the KDC."""
import os
import subprocess

import pytest
from conftest import AnsibleRunner

MODULE = "sqlauth.kerberos.spn_facts"


@pytest.fixture(scope="module")
def audit(lab, tmp_path_factory):
    """One spn_facts call over every seeded instance, in check mode, with the
    highestCommittedUSN read before and after it."""
    runner = AnsibleRunner(tmp_path_factory.mktemp("audit"))
    usn_before = lab.highest_committed_usn()
    result = runner(MODULE, dict(lab.connection, instances=lab.instances()), check=True)
    usn_after = lab.highest_committed_usn()
    assert not result.get("failed"), result
    return dict(result=result, usn_before=usn_before, usn_after=usn_after,
                reports={r["name"]: r for r in result["instances"]})


def scenario_reports(lab, audit):
    for scenario in lab.scenarios["instances"]:
        name = scenario["host"] if scenario.get("instance", "MSSQLSERVER") == "MSSQLSERVER" \
            else "%s\\%s" % (scenario["host"], scenario["instance"])
        yield scenario, audit["reports"][name]


def test_every_scenario_gets_its_expected_statuses(lab, audit):
    for scenario, report in scenario_reports(lab, audit):
        expect = scenario["expect"]
        assert report["service_account"]["name"] == expect["account"], scenario["scenario"]
        assert {row["spn"]: row["status"] for row in report["spns"]} == expect["spns"], scenario["scenario"]
        assert sorted(report["findings"]) == sorted(expect["findings"]), scenario["scenario"]
        if "can_register_own_spns" in expect:
            assert report["can_register_own_spns"] is expect["can_register_own_spns"], scenario["scenario"]
        # The account's state, as the DC reports it (what the scenario seeded).
        state = report["service_account"]["state"]
        for key, value in expect.get("state", {}).items():
            assert state[key] == value, (scenario["scenario"], key, state)
        if "state" not in expect:
            assert state["flags"] == [] and state["expires"] is None and not state["must_change_password"], (
                scenario["scenario"], state)
        if report["service_account"]["kind"] != "computer":
            assert sorted(report["service_account"]["privileged_groups"]) == sorted(
                expect.get("privileged_groups", [])), scenario["scenario"]
        assert report["service_account"]["managed_password"] == expect.get("managed_password"), scenario["scenario"]
        assert {row["spn"]: [h["name"] for h in row["holders"]] for row in report["stale_spns"]} == expect.get(
            "stale_spns", {}), scenario["scenario"]
        for spn, holders in expect.get("holders", {}).items():
            row = next(r for r in report["spns"] if r["spn"] == spn)
            assert sorted(h["name"] for h in row["holders"]) == holders


def test_the_audit_wrote_nothing_and_changed_nothing(audit):
    assert audit["result"]["changed"] is False
    assert audit["usn_after"] == audit["usn_before"]


def test_the_report_is_returned_once(lab, audit, tmp_path):
    # Without fact_name: in the result, and no fact.
    assert "ansible_facts" not in audit["result"] and audit["result"]["search_scope"] == "forest"
    # With fact_name: the fact, and only its summary in the result.
    result = AnsibleRunner(tmp_path)(MODULE, dict(lab.connection, instances=lab.instances()[:2], fact_name="audit"),
                                     check=True)
    report = result["ansible_facts"]["audit"]
    assert len(report["instances"]) == 2 and report["summary"] == result["summary"]
    assert "instances" not in result and "plan" not in result and result["search_scope"] == "forest"


def test_ok_spns_get_a_ticket_the_service_account_can_decrypt(lab, audit, kdc):
    kdc.kinit("alice")
    for scenario, report in scenario_reports(lab, audit):
        account = report["service_account"]["name"].split("\\")[1]
        refused = scenario["expect"].get("service_tickets_refused")
        for row in report["spns"]:
            if row["status"] != "ok":
                continue
            ok, output = kdc.kvno(row["spn"])
            if refused:
                assert not ok and refused in output, (row["spn"], output)
                continue
            assert ok, output
            if account in lab.accounts and lab.accounts[account]["password"]:
                assert kdc.decrypts(row["spn"], account), (row["spn"], account)


def test_missing_and_duplicate_spns_get_no_ticket(lab, audit, kdc):
    kdc.kinit("alice")
    checked = set()
    for _scenario, report in scenario_reports(lab, audit):
        for row in report["spns"]:
            if row["status"] in ("missing", "duplicate"):
                ok, output = kdc.kvno(row["spn"])
                assert not ok and "Server not found in Kerberos database" in output, (row, output)
                checked.add(row["status"])
    assert checked == {"missing", "duplicate"}


def test_wrong_account_spns_are_tickets_the_service_account_cannot_decrypt(lab, audit, kdc):
    kdc.kinit("alice")
    rows = [(report, row) for _scenario, report in scenario_reports(lab, audit)
            for row in report["spns"] if row["status"] == "wrong_account"]
    assert rows
    for report, row in rows:
        service_account = report["service_account"]["name"].split("\\")[1]
        holder = row["holders"][0]["name"].split("\\")[1]
        assert not kdc.decrypts(row["spn"], service_account), row
        assert kdc.decrypts(row["spn"], holder), row


def test_encryption_types_and_the_aes_date_as_ldapsearch_reads_them(lab, audit):
    """Each account's msDS-SupportedEncryptionTypes and the domain's AES date
    (whenCreated of Read-only Domain Controllers, RID 521) as OpenLDAP's
    ldapsearch reads them; every lab password was set after it, so no
    account may lack AES keys (the heuristic's other side is unit-tested:
    Samba always makes AES keys)."""
    def ldapsearch(base, ldap_filter, attribute):
        out = subprocess.run(
            ["ldapsearch", "-LLL", "-x", "-H", "ldaps://%s" % lab.server, "-D", lab.username, "-y", "/dev/stdin",
             "-b", base, ldap_filter, attribute], input=lab.password, capture_output=True, text=True, check=True,
            env=dict(os.environ, LDAPTLS_CACERT=lab.ca_cert)).stdout
        return [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith(attribute + ": ")]

    domain_sid = lab.accounts["alice"]["sid"].rsplit("-", 1)[0]
    [created] = ldapsearch(lab.base_dn, "(objectSid=%s-521)" % domain_sid, "whenCreated")
    assert audit["result"]["domain"]["aes_keys_since"] == "%s-%s-%sT%s:%s:%sZ" % (
        created[0:4], created[4:6], created[6:8], created[8:10], created[10:12], created[12:14])
    for _scenario, report in scenario_reports(lab, audit):
        account = report["service_account"]
        stored = ldapsearch(account["dn"], "(objectClass=*)", "msDS-SupportedEncryptionTypes")
        encryption = account["state"]["encryption_types"]
        assert encryption["value"] == (int(stored[0]) if stored else None), account["name"]
        # None where unknown: not a user, or pwdLastSet 0 (sqlsvc12 must change its password).
        known = account["kind"] == "user" and account["state"]["password_last_set"] is not None
        assert encryption["aes_keys_possibly_missing"] is (False if known else None), (account["name"], encryption)


def test_plan_fixes_each_finding(audit, lab):
    plan = audit["result"]["plan"]
    by_action = {}
    for step in plan:
        by_action.setdefault(step["action"], []).append(step)
    assert {s["spn"] for s in by_action["add_spn"]} >= {"MSSQLSvc/sql2.corp.example.test:1533",
                                                        "MSSQLSvc/sql3:1433"}
    move = next(s for s in by_action["move_spn"] if s["spn"] == "MSSQLSvc/sql3.corp.example.test:1433")
    assert move["remove_from"] == ["CORP\\SQL3$"] and move["account"] == "CORP\\sqlsvc3"
    duplicate = by_action["remove_duplicate_spn"][0]
    assert duplicate["remove_from"] == ["CORP\\sqlsvc4old"] and duplicate["account"] == "CORP\\sqlsvc4"
    acl_missing = [s for s in lab.scenarios["instances"] if "spn_write_acl_missing" in s["expect"]["findings"]]
    assert {s["account"] for s in by_action["grant_spn_write_acl"]} == {s["expect"]["account"] for s in acl_missing}
    assert [s["instances"] for s in by_action["set_static_port"]] == [["sql5.corp.example.test\\HR"]]
    assert [a["action"] for a in plan[:2]] in (["set_static_port", "enable_tcp"], ["enable_tcp", "set_static_port"])


# Computers register through the validated SPN write, which Samba checks more
# strictly than Windows: it refuses any SPN with a port or instance part
# (Windows accepts MSSQLSvc/host:1433), so the computer case adds a portless SPN.
@pytest.mark.parametrize("account, can_register, spn_template", [
    ("sqlsvc1", True, "MSSQLSvc/%s:4242"), ("sqlsvc2", False, "MSSQLSvc/%s:4242"), ("SQL6$", True, "HTTP/%s")])
def test_can_register_own_spns_matches_what_the_dc_allows(lab, audit, account, can_register, spn_template):
    """Confirmed the way SQL Server finds out at start-up: bind as the service
    account and add an SPN to its own object (removed again afterwards)."""
    report = next(r for r in audit["reports"].values() if r["service_account"]["name"] == "CORP\\" + account)
    assert report["can_register_own_spns"] is can_register
    spn = spn_template % report["host"]
    connection = lab.bind_as(account)
    dn = lab.accounts[account]["dn"]
    added = connection.modify(dn, {"servicePrincipalName": [("MODIFY_ADD", [spn])]})
    try:
        assert added is can_register, connection.result
        if not can_register:
            assert connection.result["description"] == "insufficientAccessRights"
    finally:
        if added:
            lab.bind_admin().modify(dn, {"servicePrincipalName": [("MODIFY_DELETE", [spn])]})
    assert spn not in lab.spns_of(account)


def test_domain_scope_searches_only_the_domain(lab, run_module):
    result = run_module(MODULE, dict(lab.connection, instances=lab.instances("legacy_duplicate_spn"),
                                     search_scope="domain"))
    assert result["search_scope"] == "domain"
    assert result["instances"][0]["spns"][0]["status"] == "duplicate"


def test_spn_forms_narrow_the_required_spns(lab, run_module):
    result = run_module(MODULE, dict(lab.connection, instances=lab.instances("named_instance_missing_spns"),
                                     spn_forms=["fqdn_port"]))
    assert [row["spn"] for row in result["instances"][0]["spns"]] == ["MSSQLSvc/sql2.corp.example.test:1533"]


def test_every_account_name_form_resolves(lab, run_module):
    sqlsvc1 = lab.accounts["sqlsvc1"]
    forms = ["CORP\\sqlsvc1", "sqlsvc1", "SQLSVC1", "sqlsvc1@corp.example.test", "sqlsvc1@CORP.EXAMPLE.TEST",
             sqlsvc1["dn"], sqlsvc1["dn"].replace(",", ", "), sqlsvc1["sid"]]
    instances = [dict(host="sql1.corp.example.test", port=1433, service_account=form) for form in forms]
    instances += [dict(host="sql5.corp.example.test", instance="HR", service_account="gmsa-sql5$"),
                  dict(host="sql6.corp.example.test", service_account="LocalSystem"),
                  dict(host="sql6.corp.example.test", service_account="NT SERVICE\\MSSQL$SALES")]
    result = run_module(MODULE, dict(lab.connection, instances=instances))
    assert not result.get("failed"), result
    names = [r["service_account"]["name"] for r in result["instances"]]
    assert names == ["CORP\\sqlsvc1"] * len(forms) + ["CORP\\gmsa-sql5$", "CORP\\SQL6$", "CORP\\SQL6$"]
    assert result["instances"][-3]["service_account"]["kind"] == "gmsa"


def test_kerberos_bind_from_the_ticket_cache(lab, run_module, kdc):
    kdc.kinit("Administrator")
    result = run_module(MODULE, dict(server=lab.server, ca_cert=lab.ca_cert, auth_protocol="kerberos",
                                     instances=lab.instances("all_spns_ok")), env=kdc.env)
    assert not result.get("failed"), result
    assert result["instances"][0]["status"] == "ok"


def test_kerberos_bind_with_a_password_over_start_tls(lab, run_module, tmp_path):
    env = dict(KRB5_CONFIG=lab.krb5_config, KRB5CCNAME="FILE:%s" % (tmp_path / "empty-ccache"))
    result = run_module(MODULE, dict(lab.connection, auth_protocol="kerberos", tls_mode="start_tls",
                                     instances=lab.instances("all_spns_ok")), env=env)
    assert not result.get("failed"), result
    assert not (tmp_path / "empty-ccache").exists()


def test_simple_bind_over_start_tls(lab, run_module):
    result = run_module(MODULE, dict(lab.connection, tls_mode="start_tls", instances=lab.instances("all_spns_ok")))
    assert not result.get("failed"), result
    assert result["search_scope"] == "forest"


def test_connection_from_environment_variables(lab, run_module):
    env = dict(SQLAUTH_LDAP_SERVER=lab.server, SQLAUTH_LDAP_CA_CERT=lab.ca_cert,
               SQLAUTH_LDAP_USERNAME=lab.username, SQLAUTH_LDAP_PASSWORD=lab.password)
    result = run_module(MODULE, dict(instances=lab.instances("all_spns_ok")), env=env)
    assert not result.get("failed"), result


def test_password_never_appears_in_output_at_vvv(lab, run_module):
    # ansible-core 2.21 puts the module's arguments in its result only when asked
    # (INJECT_INVOCATION); earlier releases always do. Without them, the check below proves nothing.
    result = run_module(MODULE, dict(lab.connection, instances=lab.instances("all_spns_ok")), verbosity=3,
                        env=dict(ANSIBLE_INJECT_INVOCATION="true"))
    assert not result.get("failed"), result
    assert "module_args" in run_module.last_output
    assert lab.password not in run_module.last_output
