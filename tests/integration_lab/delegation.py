"""What the delegation tests confirm rbkcd_delegate's effects with, each
independent of the collection's own code:

- the KDC: the double hop itself, S4U2Self + S4U2Proxy as the front end's
  service account (``kinit -f`` then ``kvno -U user -P SPN``), with the KDC's
  own verdict from its log;
- Samba's view: ``samba-tool delegation show``, and the raw attribute read
  over LDAP and rendered as SDDL by Samba's own Python library;
- writes the tests need to set up a state (an SPN, a descriptor as another
  tool writes it), made with samba-tool or raw LDAP, and undone afterwards.
"""
import base64
import subprocess
from contextlib import contextmanager

import ldap3

RBCD = "msDS-AllowedToActOnBehalfOfOtherIdentity"
SQL1_SPN = "MSSQLSvc/sql1.corp.example.test:1433"  # sqlsvc1 holds it in the seed
SQL2_SPN = "MSSQLSvc/sql2.corp.example.test:1533"  # missing in the seed (the audit's scenario)
GRANTED = "RBCD: Access granted for client[%s@"
REFUSED = "reason=Constrained delegation not allowed"
NOT_FORWARDABLE = "reason=Missing forwardable flag on ticket for constrained delegation"
# Samba's Python bindings live with the system interpreter, not in the venv.
SYSTEM_PYTHON = "/usr/bin/python3"


def assert_granted(lab, kdc, front, spn):
    granted, output, verdicts = kdc.double_hop(front, spn)
    assert granted, (output, verdicts)
    assert any(GRANTED % front in line for line in verdicts), verdicts
    assert "%s@%s: kvno = " % (spn, lab.realm) in output
    return verdicts


def assert_refused(lab, kdc, front, spn, reason=REFUSED):
    granted, output, verdicts = kdc.double_hop(front, spn)
    assert not granted, output
    assert "constrained delegation failed" in output, output
    assert any(reason in line for line in verdicts), verdicts
    return verdicts


def samba_tool(lab, *args):
    return subprocess.run(["samba-tool", *args, "-H", str(lab.dir / "private" / "sam.ldb")],
                          capture_output=True, text=True, check=True).stdout


def delegation_show(lab, sam_account_name):
    """DNs samba-tool lists as allowed to delegate to the account."""
    out = samba_tool(lab, "delegation", "show", sam_account_name)
    return sorted(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith(RBCD + ": "))


def raw_value(lab, sam_account_name):
    connection = lab.bind_admin()
    connection.search(lab.accounts[sam_account_name]["dn"], "(objectClass=*)", ldap3.BASE, attributes=[RBCD])
    values = connection.response[0]["raw_attributes"].get(RBCD) or []
    return bytes(values[0]) if values else None


def samba_sddl(value):
    """SDDL of a descriptor as Samba's own library renders it."""
    script = ("import base64,sys;from samba.dcerpc import security;from samba.ndr import ndr_unpack;"
              "print(ndr_unpack(security.descriptor, base64.b64decode(sys.argv[1])).as_sddl())")
    return subprocess.run([SYSTEM_PYTHON, "-c", script, base64.b64encode(value).decode()],
                          capture_output=True, text=True, check=True).stdout.strip()


def samba_descriptor(sddl):
    """The binary descriptor Samba's library builds from SDDL (full SIDs only)."""
    script = ("import base64,sys;from samba.dcerpc import security;from samba.ndr import ndr_pack;"
              "print(base64.b64encode(ndr_pack(security.descriptor.from_sddl(sys.argv[1], "
              "security.dom_sid('S-1-5-32')))).decode())")
    out = subprocess.run([SYSTEM_PYTHON, "-c", script, sddl], capture_output=True, text=True, check=True).stdout
    return base64.b64decode(out)


def write_raw(lab, sam_account_name, value):
    """Set (or with None clear) the attribute as any LDAP tool would."""
    connection = lab.bind_admin()
    change = [(ldap3.MODIFY_REPLACE, [value] if value is not None else [])]
    assert connection.modify(lab.accounts[sam_account_name]["dn"], {RBCD: change}), connection.result


def grant_sddl(*sids):
    return "O:BAD:" + "".join("(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;%s)" % sid for sid in sids)


@contextmanager
def delegation_restored(lab, *sam_account_names):
    """Put the accounts' attribute back as it was, whatever the test did."""
    saved = {name: raw_value(lab, name) for name in sam_account_names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if raw_value(lab, name) != value:
                write_raw(lab, name, value)


@contextmanager
def spn_added(lab, spn, sam_account_name):
    """An SPN the seed lacks, added with samba-tool and removed afterwards."""
    samba_tool(lab, "spn", "add", spn, sam_account_name)
    try:
        yield
    finally:
        samba_tool(lab, "spn", "delete", spn, sam_account_name)
