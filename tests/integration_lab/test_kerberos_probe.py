"""kerberos_probe against the lab KDC, every verdict checked against MIT's
own tools run apart from the collection: kvno (issued or refused), klist -e
(the ticket's encryption type) and klist -f (OK-AS-DELEGATE); the
operator's ticket cache is left as it was (klist); nothing is written
(highestCommittedUSN)."""
import re

import pytest
from conftest import AnsibleRunner

MODULE = "sqlauth.kerberos.kerberos_probe"


def scenario_instance_names(scenario):
    return scenario["host"] if scenario.get("instance", "MSSQLSERVER") == "MSSQLSERVER" \
        else "%s\\%s" % (scenario["host"], scenario["instance"])


def expected_refusals(lab):
    """SPNs scenarios.yml says the KDC refuses: missing and duplicate ones,
    and every SPN of a locked-out account."""
    refused = set()
    for scenario in lab.scenarios["instances"]:
        for spn, status in scenario["expect"]["spns"].items():
            if status in ("missing", "duplicate") or scenario["expect"].get("service_tickets_refused"):
                refused.add(spn.lower())
    return refused


@pytest.fixture(scope="module")
def probe(lab, tmp_path_factory):
    runner = AnsibleRunner(tmp_path_factory.mktemp("probe"))
    usn = lab.highest_committed_usn()
    result = runner(MODULE, dict(lab.connection, instances=lab.instances(), kerberos_principal="alice@%s" % lab.realm,
                                 kerberos_password=lab.accounts["alice"]["password"], rate_limit=0),
                    check=True, env=dict(KRB5_CONFIG=lab.krb5_config))
    assert not result["failed"], result
    assert lab.highest_committed_usn() == usn
    return result


def test_the_probe_agrees_with_kvno_and_klist_for_every_spn(lab, kdc, probe):
    kdc.kinit("alice")
    refused = expected_refusals(lab)
    assert probe["summary"]["requested"] == len(probe["tickets"]) > 40
    for row in probe["tickets"]:
        issued, output = kdc.kvno(row["spn"])
        assert (row["spn"].lower() in refused) is not issued, row
        if row["status"] == "rc4" and not row["issued"]:
            # AES session keys only: refused for an account allowing RC4 only (sqlsvc15, 4), which
            # kvno, offering RC4, gets an RC4 ticket for.
            assert row["error"]["name"] == "etype_not_supported" and issued, row
            assert kdc.ticket_enctype(row["spn"]) == "arcfour-hmac"
            continue
        assert row["issued"] is issued, (row, output)
        if issued:
            assert row["enctype"] == kdc.ticket_enctype(row["spn"]), row
            assert row["ticket_kvno"] == int(output.rsplit("kvno = ", 1)[1]), row
            assert row["key_version_match"] in (True, None), row
        else:
            assert row["error"]["words"] and row["status"] == "refused", row


def test_missing_and_duplicate_spns_are_refused_in_words(probe):
    rows = {row["spn"]: row for row in probe["tickets"]}
    missing = rows["MSSQLSvc/sql2.corp.example.test:1533"]      # scenarios.yml: missing
    duplicate = rows["MSSQLSvc/sql4.corp.example.test:1433"]    # legacy duplicate on sqlsvc4 and sqlsvc4old
    for row in (missing, duplicate):
        assert row["error"]["name"] == "unknown_principal" and "Server not found" in row["error"]["kdc"], row
    assert sorted(duplicate["holders"]) == ["CORP\\sqlsvc4", "CORP\\sqlsvc4old"]


def test_ok_as_delegate_as_klist_shows_it(lab, kdc, probe):
    """SQL6$ is trusted for unconstrained delegation (scenarios.yml): the
    KDC marks its tickets OK-AS-DELEGATE (klist -f flag O), and no other."""
    kdc.kinit("alice")
    for row in probe["tickets"]:
        if not row["issued"] or not row["spn"].lower().startswith(("mssqlsvc/sql6", "mssqlsvc/sql1.")):
            continue
        kdc.kvno(row["spn"])
        listing = kdc.run("klist", "-f").stdout
        block = listing.split("%s@%s" % (row["spn"], lab.realm), 1)[1].split("Flags:", 1)[1].split("\n")[0]
        assert row["ok_as_delegate"] is ("O" in block), (row, block)
        assert row["ok_as_delegate"] is row["spn"].lower().startswith("mssqlsvc/sql6"), row


def test_the_clock_is_checked(probe):
    assert probe["clock"]["ok"] is True and abs(probe["clock"]["skew_seconds"]) < 5


def test_the_operators_cache_gets_no_ticket(lab, kdc, tmp_path):
    """With the operator's ticket cache: its TGT is used, and the service
    tickets stay in the probe's private cache (klist lists the TGT only)."""
    kdc.kinit("alice")
    before = kdc.run("klist").stdout
    result = AnsibleRunner(tmp_path)(MODULE, dict(lab.connection, instances=lab.instances("all_spns_ok"),
                                                  kerberos_ccache=kdc.env["KRB5CCNAME"], rate_limit=0),
                                     env=dict(KRB5_CONFIG=lab.krb5_config))
    assert not result["failed"] and result["summary"]["issued"] > 0 and result["client"].startswith("alice@"), result
    after = kdc.run("klist").stdout
    assert after == before and len(re.findall(r"MSSQLSvc/", after)) == 0, after


@pytest.mark.parametrize("options, message", [
    (dict(kerberos_ccache="FILE:/nonexistent/ccache"), r"no Kerberos credentials from the ticket cache "
                                                       r"FILE:/nonexistent/ccache: .*run kinit"),
    (dict(kerberos_principal="alice@CORP.EXAMPLE.TEST", kerberos_keytab="/nonexistent.keytab"),
     r"no Kerberos credentials from the keytab /nonexistent.keytab"),
    (dict(kerberos_principal="alice@NO.SUCH.REALM", kerberos_password="x"),
     r"no Kerberos credentials from the password of alice@NO.SUCH.REALM: .*(realm|KDC)"),
])
def test_bad_credentials_are_clear_errors(lab, tmp_path, options, message):
    usn = lab.highest_committed_usn()
    result = AnsibleRunner(tmp_path)(MODULE, dict(lab.connection, instances=lab.instances("all_spns_ok"),
                                                  **options), env=dict(KRB5_CONFIG=lab.krb5_config))
    assert result["failed"] and re.search(message, result["msg"]), result["msg"]
    assert "x" not in re.findall(r"\bx\b", result["msg"])
    assert lab.highest_committed_usn() == usn
