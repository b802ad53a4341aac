"""The exposure audit of spn_facts against the lab's seeded scenarios
(scenarios.yml, exposure): who else may write the service accounts and the
SQL hosts' computer objects. Each finding is confirmed by the DC itself:
bound as dave, the writes the audit says he may make succeed, and the same
writes elsewhere are refused. The audit writes nothing (highestCommittedUSN)."""
import ssl

import ldap3
import pytest
from ldap3.protocol.microsoft import security_descriptor_control

RBKCD = "msDS-AllowedToActOnBehalfOfOtherIdentity"


@pytest.fixture(scope="module")
def audit(lab, tmp_path_factory):
    from conftest import AnsibleRunner
    runner = AnsibleRunner(tmp_path_factory.mktemp("exposure"))
    usn = lab.highest_committed_usn()
    result = runner("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=lab.instances()), check=True)
    assert not result["failed"], result
    assert lab.highest_committed_usn() == usn
    return result


def writers_of(audit, account):
    reports = [r for r in audit["instances"] if r["service_account"]["name"] == account]
    return {w["name"]: w for w in reports[0]["service_account"]["writers"]}


def test_each_seeded_exposure_is_found_with_the_principals_named(lab, audit):
    helpdesk = writers_of(audit, "CORP\\sqlsvc2")
    assert list(helpdesk) == ["CORP\\Helpdesk"]
    assert helpdesk["CORP\\Helpdesk"]["what"] == [RBKCD] and helpdesk["CORP\\Helpdesk"]["members"] == ["CORP\\dave"]
    operators = writers_of(audit, "CORP\\sqlsvc3")
    assert operators["BUILTIN\\Account Operators"]["what"] == ["everything"]
    [sql2] = [r["host_computer"] for r in audit["instances"] if (r.get("host_computer") or {}).get("name") == "CORP\\SQL2$"]
    assert sql2["writers"] == [dict(sid=lab.accounts["dave"]["sid"], name="CORP\\dave", kind="user", what=["the DACL"],
                                    via=["owner"], members=None, member_count=None)]
    assert sql2["creator"] == dict(sid=lab.accounts["dave"]["sid"], name="CORP\\dave")
    # Every other account and host of the lab: only tier 0 and itself (Account Operators' ACE taken off).
    others = [r for r in audit["instances"] if r["service_account"]["name"] not in ("CORP\\sqlsvc2", "CORP\\sqlsvc3")]
    assert all(r["service_account"]["writers"] == [] for r in others)
    assert all(r["host_computer"]["writers"] == [] for r in audit["instances"]
               if r.get("host_computer") and r["host_computer"]["name"] != "CORP\\SQL2$")
    assert audit["domain"]["machine_account_quota"] == 10 and audit["domain"]["self_may_write_rbkcd"] is True


def bind_dave(lab):
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=lab.ca_cert)
    server = ldap3.Server(lab.server, port=636, use_ssl=True, tls=tls)
    return ldap3.Connection(server, user="dave@%s" % lab.realm, password=lab.accounts["dave"]["password"],
                            auto_bind=True)


def test_the_dc_lets_dave_write_what_the_audit_says_and_nothing_else(lab):
    """dave (Helpdesk) may set sqlsvc2's RBKCD, and not sqlsvc1's; as SQL2's
    owner he may rewrite its DACL, and not SQL3's."""
    dave, admin = bind_dave(lab), lab.bind_admin()
    admin.search(lab.accounts["sqlsvc2"]["dn"], "(objectClass=*)", "BASE", attributes=["nTSecurityDescriptor"])
    some_descriptor = admin.entries[0].nTSecurityDescriptor.raw_values[0]
    try:
        assert dave.modify(lab.accounts["sqlsvc2"]["dn"], {RBKCD: [(ldap3.MODIFY_REPLACE, [some_descriptor])]}), \
            dave.result
        assert not dave.modify(lab.accounts["sqlsvc1"]["dn"], {RBKCD: [(ldap3.MODIFY_REPLACE, [some_descriptor])]})
        assert dave.result["description"] == "insufficientAccessRights"
    finally:
        admin.modify(lab.accounts["sqlsvc2"]["dn"], {RBKCD: [(ldap3.MODIFY_DELETE, [])]})
    controls = security_descriptor_control(sdflags=0x4)
    for computer, allowed in (("SQL2$", True), ("SQL3$", False)):
        dave.search(lab.accounts[computer]["dn"], "(objectClass=*)", "BASE", attributes=["nTSecurityDescriptor"],
                    controls=controls)
        dacl = dave.entries[0].nTSecurityDescriptor.raw_values[0]
        written = dave.modify(lab.accounts[computer]["dn"], {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [dacl])]},
                              controls=controls)
        assert written is allowed, (computer, dave.result)


def test_the_declared_automation_account_is_left_out(lab, run_module):
    result = run_module("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=lab.instances(
        "named_instance_missing_spns"), automation_accounts=["CORP\\Helpdesk"]), check=True)
    assert result["instances"][0]["service_account"]["writers"] == []
