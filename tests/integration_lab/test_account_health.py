"""The service accounts' health, proven by the KDC and the DC: an account
the drift report calls disabled, locked out, expired or due a password
change is one the KDC refuses a logon to (kinit with its right password),
which is what stops SQL Server from starting as it; a healthy account, the
control, logs on. A Domain Admin service account gets tickets any user may
ask for (kerberoasting); a gMSA's host reads its password only once allowed.
What the report says of each is in test_site (scenarios.yml, expect:
report)."""
import subprocess

import pytest
from conftest import AnsibleRunner


def health_scenarios(lab):
    return [s for s in lab.scenarios["instances"] if "kinit_refused" in s["expect"]]


def logon(lab, kdc, sam_account_name):
    password = lab.accounts[sam_account_name]["password"]
    result = kdc.run("kinit", sam_account_name, stdin=password + "\n")
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def test_the_control_account_logs_on(lab, kdc):
    lab.reseed()
    assert logon(lab, kdc, "sqlsvc1") == (True, "Password for sqlsvc1@%s:" % lab.realm)


@pytest.mark.parametrize("scenario", ["disabled_service_account", "locked_out_service_account",
                                      "expired_service_account", "service_account_must_change_password"])
def test_the_kdc_refuses_the_logon_of_an_unhealthy_account(lab, kdc, scenario):
    chosen = next(s for s in health_scenarios(lab) if s["scenario"] == scenario)
    account = chosen["expect"]["account"].split("\\")[1]
    ok, output = logon(lab, kdc, account)
    assert not ok and chosen["expect"]["kinit_refused"] in output, output


def test_a_privileged_service_account_is_kerberoastable(lab, kdc):
    """What ACC005 warns of: any user of the domain (alice) gets a service
    ticket encrypted with the Domain Admin service account's key, which is
    what an offline password attack needs; samba-tool confirms the
    membership (through the nested group SQL Admins)."""
    chosen = next(s for s in lab.scenarios["instances"] if s["scenario"] == "privileged_service_account")
    account = chosen["expect"]["account"].split("\\")[1]

    def members(group):
        return kdc.run("samba-tool", "group", "listmembers", group, "-H",
                       str(lab.dir / "private" / "sam.ldb")).stdout.splitlines()

    assert "SQL Admins" in members("Domain Admins") and account in members("SQL Admins")
    kdc.kinit("alice")
    assert kdc.decrypts("MSSQLSvc/%s:%d" % (chosen["host"], chosen["port"]), account)


def managed_password_of(lab, computer, gmsa):
    """msDS-ManagedPassword of the gMSA as the computer account reads it
    (bound as the computer): what the host's SQL Server service would get."""
    connection = lab.bind_as(computer)
    connection.search(lab.accounts[gmsa]["dn"], "(objectClass=*)", "BASE", attributes=["msDS-ManagedPassword"])
    return connection.response[0]["raw_attributes"].get("msDS-ManagedPassword") if connection.response else None


def test_a_host_that_may_not_retrieve_its_gmsa_password(lab, tmp_path):
    """ACC006 as spn_facts sees it and as the DC enforces it: SQL5$ reads no
    password of gmsa-sql5$ until it is allowed to (samba-tool), and then
    spn_facts says it may."""
    lab.reseed()
    chosen = next(s for s in lab.scenarios["instances"] if s["scenario"] == "gmsa_dynamic_port")
    options = {k: chosen[k] for k in ("host", "instance", "port", "service_account")}
    runner = AnsibleRunner(tmp_path)
    before = runner("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=[options]))
    managed = before["instances"][0]["service_account"]["managed_password"]
    assert managed == dict(host_account="CORP\\SQL5$", may_retrieve=False)
    assert not managed_password_of(lab, "SQL5$", "gmsa-sql5$")
    subprocess.run(["samba-tool", "service-account", "group-msa-membership", "add", "--name=gmsa-sql5$",
                    "--principal=SQL5$", "-H", str(lab.dir / "private" / "sam.ldb")], check=True, capture_output=True)
    try:
        after = runner("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=[options]))
        assert after["instances"][0]["service_account"]["managed_password"]["may_retrieve"] is True
        assert managed_password_of(lab, "SQL5$", "gmsa-sql5$")
    finally:
        lab.reseed()
