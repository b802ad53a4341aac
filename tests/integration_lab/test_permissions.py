"""Writes the DC refuses to an account without the rights: the error names
the bound account, the attribute, the right and the permission-model entry
(docs: Permissions), and nothing is written to the account (its uSNChanged
and values read with ldapsearch; the DC records alice's own logon, so the
domain's highestCommittedUSN may rise)."""

import pytest

SPN = "MSSQLSvc/permtest.corp.example.test:1433"


@pytest.fixture
def as_alice(lab):
    """Module options binding as alice, a plain domain user (simple bind over LDAPS)."""
    return dict(server=lab.server, ca_cert=lab.ca_cert, username="alice@%s" % lab.realm,
                password=lab.accounts["alice"]["password"])


def test_a_refused_spn_write_names_the_right_missing(lab, run_module, as_alice):
    usn, before = lab.usn_changed("sqlsvc2"), lab.spns_of("sqlsvc2")
    result = run_module("sqlauth.kerberos.spn_register", dict(as_alice, account="CORP\\sqlsvc2", spns=[SPN]))
    assert result["failed"]
    message = result["msg"]
    assert "insufficientAccessRights" in message, message
    assert "The account bound (alice@%s) may not write servicePrincipalName of %s" % (
        lab.realm, lab.accounts["sqlsvc2"]["dn"]) in message, message
    assert "read and write servicePrincipalName (dsacls RPWP;servicePrincipalName) (permission PRM002" in message
    assert lab.usn_changed("sqlsvc2") == usn and lab.spns_of("sqlsvc2") == before


def test_a_refused_rbkcd_write_names_the_right_missing(lab, run_module, as_alice):
    usn = lab.usn_changed("sqlsvc2")
    result = run_module("sqlauth.kerberos.rbkcd_delegate", dict(as_alice, account="CORP\\sqlsvc2",
                                                                principals=["CORP\\sqlsvc1"]))
    assert result["failed"]
    assert "may not write msDS-AllowedToActOnBehalfOfOtherIdentity" in result["msg"], result["msg"]
    assert "(permission PRM004" in result["msg"], result["msg"]
    assert lab.usn_changed("sqlsvc2") == usn
