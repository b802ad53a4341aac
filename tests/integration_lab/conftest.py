"""Fixtures for tests against the lab domain controller (tests/lab).

Modules run the way Ansible runs them: ansible-playbook against localhost,
with the collection as installed from its built tarball (the test command
puts it on ANSIBLE_COLLECTIONS_PATH). Every effect is then confirmed through
an independent path: the KDC (kinit/kvno), samba-tool, raw ldapsearch, or the
rootDSE highestCommittedUSN.
"""
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import ldap3
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lab"))
# The collection as installed (what ansible-playbook runs), for the tests that
# call its Python directly.
COLLECTIONS = Path(os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":")[0] or REPO / ".cache" / "collections")
sys.path.insert(0, str(COLLECTIONS))
from kdc import Kdc  # noqa: E402 (the lab's helpers, shared with the demo)
from lab_env import read_env  # noqa: E402

LAB_DIR = Path(os.environ.get("SQLAUTH_LAB_DIR", "/var/tmp/sqlauth-kerberos-lab"))
# The keys of a spn_facts `instances` item; scenarios carry more (expectations, role settings).
INSTANCE_OPTIONS = ("host", "instance", "port", "tcp_enabled", "service_account", "listeners", "extra_spns")
# The virtualenv whose ansible-core runs the modules; SQLAUTH_ANSIBLE_VENV picks another
# release's (./run test runs a smoke subset that way), and must then hold ansible-playbook.
ANSIBLE_VENV = Path(os.environ.get("SQLAUTH_ANSIBLE_VENV") or REPO / ".venv")
ANSIBLE_PLAYBOOK = (str(ANSIBLE_VENV / "bin" / "ansible-playbook") if os.environ.get("SQLAUTH_ANSIBLE_VENV")
                    else shutil.which("ansible-playbook", path=str(ANSIBLE_VENV / "bin")) or "ansible-playbook")


class Lab:
    """The running lab: connection details, seeded accounts, scenarios."""

    def __init__(self):
        env_file = LAB_DIR / "connection.env"
        if not env_file.exists():
            pytest.exit("the lab is not provisioned: run tests/lab/lab.sh up", returncode=3)
        self.env = read_env(env_file)
        self.dir = LAB_DIR
        self.server = self.env["SQLAUTH_LDAP_SERVER"]
        self.ca_cert = self.env["SQLAUTH_LDAP_CA_CERT"]
        self.username = self.env["SQLAUTH_LDAP_USERNAME"]
        self.password = self.env["SQLAUTH_LDAP_PASSWORD"]
        self.realm = self.env["SQLAUTH_LAB_REALM"]
        self.base_dn = self.env["SQLAUTH_LAB_BASE_DN"]
        self.krb5_config = self.env["KRB5_CONFIG"]
        self.accounts = json.loads((LAB_DIR / "accounts.json").read_text())
        self.scenarios = yaml.safe_load((REPO / "tests" / "lab" / "scenarios.yml").read_text())

    @property
    def connection(self):
        """Module options for an LDAPS simple bind as the lab administrator."""
        return dict(server=self.server, ca_cert=self.ca_cert, username=self.username, password=self.password)

    @property
    def ldap_env(self):
        """The same connection as environment variables (the modules' fallbacks)."""
        return dict(SQLAUTH_LDAP_SERVER=self.server, SQLAUTH_LDAP_CA_CERT=self.ca_cert,
                    SQLAUTH_LDAP_USERNAME=self.username, SQLAUTH_LDAP_PASSWORD=self.password,
                    KRB5_CONFIG=self.krb5_config)

    @property
    def pipeline_env(self):
        """ldap_env, and the automation account the lab inventory's
        pipelines bind as (<lab>/pipeline.env, written by the seed)."""
        return dict(self.ldap_env, **read_env(self.dir / "pipeline.env"))

    @property
    def admin_pipeline_env(self):
        """ldap_env, with the lab inventory's pipelines bound as the lab's
        admin: for tests of a role's or a report's behaviour, not of rights."""
        return dict(self.ldap_env, SQLAUTH_PIPELINE_USERNAME=self.username, SQLAUTH_PIPELINE_PASSWORD=self.password)

    def first_logon(self, username, password):
        """Bind once: a user's first logon writes lastLogonTimestamp (and so
        raises highestCommittedUSN), which a later "wrote nothing" must not
        count. Later binds within the update interval write nothing."""
        subprocess.run(["ldapsearch", "-LLL", "-x", "-H", "ldaps://%s" % self.server, "-D", username, "-y",
                        "/dev/stdin", "-b", "", "-s", "base", "dn"], input=password, capture_output=True,
                       text=True, check=True, env=dict(os.environ, LDAPTLS_CACERT=self.ca_cert))

    def instances(self, *scenario_names):
        """Inventory entries (module `instances` items) of the named scenarios, or all."""
        chosen = [s for s in self.scenarios["instances"] if not scenario_names or s["scenario"] in scenario_names]
        return [{k: v for k, v in s.items() if k in INSTANCE_OPTIONS} for s in chosen]

    def reseed(self):
        """Restore the seeded scenarios (new accounts, SIDs and passwords)."""
        subprocess.run(["bash", str(REPO / "tests" / "lab" / "lab.sh"), "seed"], check=True, capture_output=True)
        self.accounts = json.loads((LAB_DIR / "accounts.json").read_text())

    def highest_committed_usn(self):
        """Read anonymously from rootDSE with OpenLDAP's client: rises on every write."""
        out = subprocess.run(["ldapsearch", "-LLL", "-x", "-H", "ldap://127.0.0.1", "-b", "", "-s", "base",
                              "highestCommittedUSN"], capture_output=True, text=True, check=True).stdout
        return int(out.split("highestCommittedUSN:")[1].split()[0])

    def _ldapsearch(self, ldap_filter, attributes):
        """LDIF lines of a search with OpenLDAP's ldapsearch over LDAPS (an
        independent client)."""
        return subprocess.run(
            ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", "ldaps://%s" % self.server, "-D", self.username,
             "-y", "/dev/stdin", "-b", self.base_dn, ldap_filter] + list(attributes),
            input=self.password, capture_output=True, text=True, check=True,
            env=dict(os.environ, LDAPTLS_CACERT=self.ca_cert)).stdout.splitlines()

    def ldap_values(self, sam_account_name, attribute):
        """The (text) values of one attribute of an account, read with ldapsearch."""
        return sorted(line.split(": ", 1)[1] for line in self._ldapsearch(
            "(sAMAccountName=%s)" % sam_account_name, [attribute]) if line.startswith(attribute + ": "))

    def spns_of(self, sam_account_name):
        """servicePrincipalName values of an account, read with ldapsearch."""
        return self.ldap_values(sam_account_name, "servicePrincipalName")

    def usn_changed(self, sam_account_name):
        """uSNChanged of an account (ldapsearch): rises on any write to it.
        For runs that bind as another account, whose own logon the DC may
        record (highestCommittedUSN then rises)."""
        line = next(line for line in self._ldapsearch("(sAMAccountName=%s)" % sam_account_name, ["uSNChanged"])
                    if line.startswith("uSNChanged: "))
        return int(line.split(": ", 1)[1])

    def accounts_with_spn(self, pattern):
        """The sAMAccountNames of the accounts holding an SPN matching an LDAP
        substring pattern (e.g. MSSQLSvc/crm-db*), read with ldapsearch."""
        return sorted(line.split(": ", 1)[1] for line in self._ldapsearch(
            "(servicePrincipalName=%s)" % pattern, ["sAMAccountName"]) if line.startswith("sAMAccountName: "))

    def bind_as(self, sam_account_name):
        """An ldap3 connection bound over LDAPS as a seeded account."""
        return self._bind("%s@%s" % (sam_account_name, self.realm), self.accounts[sam_account_name]["password"])

    def bind_admin(self):
        return self._bind(self.username, self.password)

    def _bind(self, user, password):
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.ca_cert)
        server = ldap3.Server(self.server, port=636, use_ssl=True, tls=tls)
        return ldap3.Connection(server, user=user, password=password, auto_bind=True)


class AnsibleRunner:
    """Runs one module task with ansible-playbook and returns its result."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.last_output = ""

    def __call__(self, module, args, check=False, diff=False, verbosity=0, env=None):
        # The tree callback saves the task result as JSON: no extra task needed.
        tree = self.tmp_path / "tree"
        shutil.rmtree(tree, ignore_errors=True)
        playbook = [{
            "name": "Module under test",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [{"name": "Run %s" % module, module: args}],
        }]
        playbook_file = self.tmp_path / "playbook.yml"
        playbook_file.write_text(yaml.safe_dump(playbook))
        command = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook_file)]
        command += (["--check"] if check else []) + (["--diff"] if diff else [])
        command += ["-" + "v" * verbosity] if verbosity else []
        # Only what a test passes may reach the module through the environment.
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("SQLAUTH_LDAP_")}
        run_env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
                       ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree", ANSIBLE_CALLBACK_TREE_DIR=str(tree),
                       ANSIBLE_PYTHON_INTERPRETER=str(ANSIBLE_VENV / "bin" / "python"))
        run_env.update(env or {})
        completed = subprocess.run(command, capture_output=True, text=True, env=run_env, check=False)
        self.last_output = completed.stdout + completed.stderr
        result_file = tree / "localhost"
        assert result_file.exists(), self.last_output
        result = json.loads(result_file.read_text())
        # The tree callback drops the 'failed' flag; the exit code keeps it.
        result["failed"] = completed.returncode != 0
        return result


class PlaybookRun:
    """The outcome of one ansible-playbook run: exit code, output, and the
    PLAY RECAP counters per host."""

    RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                       r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.MULTILINE)

    def __init__(self, completed):
        self.returncode = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.recap = {match.group(1): dict(zip(("ok", "changed", "unreachable", "failed", "skipped", "rescued",
                                                "ignored"), map(int, match.groups()[1:])))
                      for match in self.RECAP.finditer(completed.stdout)}

    @property
    def changed(self):
        return sum(host["changed"] for host in self.recap.values())

    @property
    def failed(self):
        return self.returncode != 0 or any(host["failed"] for host in self.recap.values())


def run_playbook(playbook, inventory, check=False, diff=False, extra_vars=None, env=None, verbosity=0, limit=None):
    """ansible-playbook PLAYBOOK -i INVENTORY with the lab's Kerberos config;
    the AD connection is passed as SQLAUTH_LDAP_* unless env overrides it."""
    command = [ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook)]
    command += (["--check"] if check else []) + (["--diff"] if diff else [])
    command += ["-" + "v" * verbosity] if verbosity else []
    command += ["--limit", limit] if limit else []
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    run_env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_PYTHON_INTERPRETER=str(ANSIBLE_VENV / "bin" / "python"))
    run_env.update(env or {})
    return PlaybookRun(subprocess.run(command, capture_output=True, text=True, env=run_env, check=False))


@pytest.fixture(scope="session")
def lab():
    return Lab()


@pytest.fixture
def kdc(lab, tmp_path):
    return Kdc(lab, tmp_path)


@pytest.fixture
def run_module(tmp_path):
    return AnsibleRunner(tmp_path)
