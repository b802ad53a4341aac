"""The service accounts' health, proven by the KDC: an account the drift
report calls disabled, locked out, expired or due a password change is one
the KDC refuses a logon to (kinit with its right password), which is what
stops SQL Server from starting as it; a healthy account, the control, logs
on. What the report says of each is in test_site (scenarios.yml, expect:
report)."""
import pytest


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
