"""The lab KDC's verdict, with MIT Kerberos' own client tools (kinit, kvno,
ktutil) in a private ticket cache: whether a client gets a service ticket for
an SPN, whether that ticket is encrypted with a given account's key (what the
SQL Server running as that account needs), and the double hop (S4U2Self +
S4U2Proxy) a linked server makes. Shared by the integration tests and the
demo (prove.py); independent of the collection's code."""
import json
import os
import subprocess
from pathlib import Path

from lab_env import read_env


class LabFacts:
    """What the KDC helpers need to know of a lab, read from its folder."""

    def __init__(self, lab_dir):
        self.dir = Path(lab_dir)
        env = read_env(self.dir / "connection.env")
        self.password = env["SQLAUTH_LDAP_PASSWORD"]
        self.realm = env["SQLAUTH_LAB_REALM"]
        self.krb5_config = env["KRB5_CONFIG"]
        self.accounts = json.loads((self.dir / "accounts.json").read_text())


class Kdc:
    """Kerberos client commands against the lab KDC. ``lab`` has dir, realm,
    krb5_config, password (the administrator's) and accounts (per
    sAMAccountName, its password)."""

    def __init__(self, lab, work_dir):
        self.lab = lab
        self.work_dir = Path(work_dir)
        self.env = dict(os.environ, KRB5_CONFIG=lab.krb5_config, KRB5CCNAME="FILE:%s" % (self.work_dir / "ccache"))

    def run(self, *args, stdin=None):
        return subprocess.run(list(args), input=stdin, capture_output=True, text=True, env=self.env, check=False)

    def kinit(self, sam_account_name, forwardable=False):
        password = self.lab.accounts[sam_account_name]["password"] if sam_account_name in self.lab.accounts \
            else self.lab.password
        args = ["kinit"] + (["-f"] if forwardable else []) + [sam_account_name]
        result = self.run(*args, stdin=password + "\n")
        assert result.returncode == 0, result.stderr
        return self

    def kvno(self, spn):
        """(ok, output): whether the KDC issues a service ticket for the SPN."""
        result = self.run("kvno", spn)
        return result.returncode == 0, (result.stdout + result.stderr).strip()

    def salt(self, sam_account_name):
        """The AES salt of an account's keys, as Windows and Samba make it:
        REALM + sAMAccountName for users; REALM + "host" + the lower-case
        name without $ + "." + the lower-case DNS domain for computers."""
        if sam_account_name.endswith("$"):
            return "%shost%s.%s" % (self.lab.realm, sam_account_name[:-1].lower(), self.lab.realm.lower())
        return self.lab.realm + sam_account_name

    def decrypts(self, spn, sam_account_name):
        """Whether a service ticket for SPN is encrypted with the given
        account's key: the precise 'would SQL Server running as X accept it'
        test. Builds a keytab from the account's password with ktutil: its
        RC4 key and its AES keys (with the account's salt)."""
        ok, output = self.kvno(spn)
        assert ok, output
        kvno = output.rsplit("kvno = ", 1)[1].split()[0]
        keytab = self.work_dir / ("%s.keytab" % sam_account_name.replace("$", "_"))
        keytab.unlink(missing_ok=True)
        password = self.lab.accounts[sam_account_name]["password"]
        principal = "%s@%s" % (spn, self.lab.realm)
        script = "addent -password -p %s -k %s -e arcfour-hmac\n%s\n" % (principal, kvno, password)
        for enctype in ("aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96"):
            script += "addent -password -p %s -k %s -e %s -s %s\n%s\n" % (
                principal, kvno, enctype, self.salt(sam_account_name), password)
        result = self.run("ktutil", stdin=script + "wkt %s\nquit\n" % keytab)
        assert keytab.exists(), result.stderr
        check = self.run("kvno", "-k", str(keytab), spn)
        return check.returncode == 0 and "keytab entry valid" in check.stdout

    def ticket_enctype(self, spn):
        """The encryption type of the service ticket for SPN in the cache
        (klist -e: "Etype (skey, tkt): ..."), asking the KDC for it first."""
        ok, output = self.kvno(spn)
        assert ok, output
        listing = self.run("klist", "-e").stdout
        line = listing.split("%s@%s" % (spn, self.lab.realm), 1)[1].split("Etype (skey, tkt):", 1)[1].split("\n")[0]
        return line.split(",")[1].strip().replace("DEPRECATED:", "")

    def double_hop(self, front, spn, user="alice"):
        """The front end's service account impersonates ``user`` to ``spn``.
        Returns (granted, kvno's output, the KDC's log lines about it)."""
        log = self.lab.dir / "samba.log"
        start = log.stat().st_size
        self.kinit(front, forwardable=True)
        result = self.run("kvno", "-U", user, "-P", spn)
        with open(log, "rb") as handle:
            handle.seek(start)
            new = handle.read().decode("utf-8", "replace").splitlines()
        verdicts = [line for line in new if "RBCD:" in line or ("impersonatee=%s@" % user) in line]
        return result.returncode == 0, (result.stdout + result.stderr).strip(), verdicts
