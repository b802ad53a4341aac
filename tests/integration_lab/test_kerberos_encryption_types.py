"""kerberos_encryption_types against the lab DC: check mode, apply and an
idempotent re-run, each confirmed apart from the module: the value by
ldapsearch, "wrote nothing" by the rootDSE highestCommittedUSN, and the
effect by the KDC (klist -e: the ticket's encryption type; the service
account's AES key decrypts it)."""
import os
import subprocess

import pytest
from conftest import AnsibleRunner

MODULE = "sqlauth.kerberos.kerberos_encryption_types"
ATTRIBUTE = "msDS-SupportedEncryptionTypes"
# sqlsvc15 (scenarios.yml): RC4 only (4), holding sql12's SPNs.
ACCOUNT, SPN = "sqlsvc15", "MSSQLSvc/sql12.corp.example.test:1433"


def stored(lab, sam):
    """The attribute as OpenLDAP's ldapsearch reads it, or None."""
    out = subprocess.run(
        ["ldapsearch", "-LLL", "-x", "-H", "ldaps://%s" % lab.server, "-D", lab.username, "-y", "/dev/stdin",
         "-b", lab.accounts[sam]["dn"], "-s", "base", "(objectClass=*)", ATTRIBUTE],
        input=lab.password, capture_output=True, text=True, check=True,
        env=dict(os.environ, LDAPTLS_CACERT=lab.ca_cert)).stdout
    values = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith(ATTRIBUTE + ": ")]
    return int(values[0]) if values else None


@pytest.fixture
def rc4_account(lab):
    """sqlsvc15 as seeded (RC4 only), put back afterwards."""
    assert stored(lab, ACCOUNT) == 4
    yield ACCOUNT
    connection = lab.bind_admin()
    connection.modify(lab.accounts[ACCOUNT]["dn"], {ATTRIBUTE: [("MODIFY_REPLACE", ["4"])]})


def test_check_apply_rerun(lab, kdc, rc4_account, tmp_path):
    runner = AnsibleRunner(tmp_path)
    args = dict(lab.connection, accounts=["CORP\\%s" % rc4_account])
    kdc.kinit("alice")
    assert kdc.ticket_enctype(SPN) == "arcfour-hmac"

    usn = lab.highest_committed_usn()
    check = runner(MODULE, args, check=True, diff=True)
    assert not check["failed"] and check["changed"], check
    # The diff Ansible printed: the value before and after, in words.
    printed = [line.strip() for line in runner.last_output.splitlines() if line.startswith(("-", "+"))]
    assert '-    "CORP\\\\sqlsvc15": "0x4 (rc4-hmac)"' in printed, runner.last_output
    assert '+    "CORP\\\\sqlsvc15": "0x18 (aes128-cts-hmac-sha1-96, aes256-cts-hmac-sha1-96)"' in printed
    assert lab.highest_committed_usn() == usn and stored(lab, rc4_account) == 4

    applied = runner(MODULE, args, diff=True)
    assert not applied["failed"] and applied["changed"], applied
    assert stored(lab, rc4_account) == 0x18
    # The KDC's verdict: a fresh ticket is AES, and the account's AES key decrypts it.
    kdc.kinit("alice")
    assert kdc.ticket_enctype(SPN) == "aes256-cts-hmac-sha1-96"
    assert kdc.decrypts(SPN, rc4_account)

    usn = lab.highest_committed_usn()
    again = runner(MODULE, args)
    assert not again["failed"] and not again["changed"], again
    assert lab.highest_committed_usn() == usn

    # AES and RC4 for old clients: an AES-only account is not given RC4 back (nothing written).
    both = runner(MODULE, dict(args, encryption_types="aes_rc4"))
    assert not both["failed"] and not both["changed"] and stored(lab, rc4_account) == 0x18, both
    assert lab.highest_committed_usn() == usn


def test_aes_and_rc4_for_old_clients(lab, rc4_account, tmp_path):
    result = AnsibleRunner(tmp_path)(MODULE, dict(lab.connection, accounts=[rc4_account], encryption_types="aes_rc4"))
    assert not result["failed"] and result["changed"] and stored(lab, rc4_account) == 0x1C, result
    assert result["accounts"][0]["after_names"] == ["rc4-hmac", "aes128-cts-hmac-sha1-96", "aes256-cts-hmac-sha1-96"]


def test_a_computer_account_is_refused_and_nothing_written(lab, rc4_account, tmp_path):
    usn = lab.highest_committed_usn()
    result = AnsibleRunner(tmp_path)(MODULE, dict(lab.connection, accounts=["CORP\\%s" % rc4_account, "SQL6$"]))
    assert result["failed"]
    assert "CORP\\SQL6$ is a computer account: Windows sets its encryption types from the host's policy" in \
        result["msg"] and result["msg"].endswith("nothing written"), result["msg"]
    assert lab.highest_committed_usn() == usn and stored(lab, rc4_account) == 4
