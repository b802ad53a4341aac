"""Seed the lab domain with the named scenarios of scenarios.yml.

Re-running restores the scenarios exactly: every scenario object is deleted
and created again (new SIDs, new random passwords). Accounts are created over
LDAPS with ldap3; the pieces a real DC would refuse or that LDAP cannot express
simply use Samba's own tools: gMSAs and ACEs through samba-tool, legacy
duplicate values written straight into the partition file with ldbmodify.
"""

import argparse
import json
import os
import re
import secrets
import ssl
import string
import subprocess
import sys
import time

import ldap3
import yaml
from ldap3.core.exceptions import LDAPNoSuchObjectResult
from lab_env import read_env
import dns_records

TREE_DELETE_CONTROL = ("1.2.840.113556.1.4.805", True, None)
UF_NORMAL_ACCOUNT = 0x0200
UF_WORKSTATION_TRUST_ACCOUNT = 0x1000
COMPUTER_ENCRYPTION_TYPES = 0x1C
UF_DONT_EXPIRE_PASSWD = 0x10000
# userAccountControl flags a scenario user may carry (its `flags`).
USER_FLAGS = {
    "ACCOUNTDISABLE": 0x2,
    "TRUSTED_FOR_DELEGATION": 0x80000,
    "NOT_DELEGATED": 0x100000,
    "TRUSTED_TO_AUTH_FOR_DELEGATION": 0x1000000,
}
# A week in 100 ns units: how far ahead a locked-out account's lockoutTime is
# set, so that the domain's 30-minute lockout lasts through any test run.
LOCKOUT_AHEAD = 7 * 24 * 3600 * 10 ** 7
# Read/write servicePrincipalName and the validated SPN write, for SELF: what
# lets SQL Server register its own SPNs at start-up.
SPN_WRITE_ACES = ("(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)"
                  "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)")


def new_password():
    alphabet = string.ascii_letters + string.digits
    return "Svc-" + "".join(secrets.choice(alphabet) for _position in range(16)) + "-7x!"


def rbkcd_descriptor(sids):
    """msDS-AllowedToActOnBehalfOfOtherIdentity allowing these SIDs, as
    Windows writes it (owner BUILTIN\\Administrators, one allow ACE each),
    packed by Samba's own library: the system Python has it, the lab's
    virtualenv does not. (The domain SID from_sddl wants only resolves
    domain-relative aliases, which this SDDL has none of.)"""
    sddl = "O:BAD:" + "".join("(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;%s)" % sid for sid in sids)
    script = ("import sys;from samba.dcerpc import security;from samba.ndr import ndr_pack;"
              "sys.stdout.buffer.write(ndr_pack(security.descriptor.from_sddl(sys.argv[1], security.dom_sid('S-1-5-32'))))")
    return subprocess.run(["/usr/bin/python3", "-c", script, sddl], capture_output=True, check=True).stdout


# Account Operators' default full control, as the user, computer and gMSA
# classes' defaultSecurityDescriptor gives it to every new object.
ACCOUNT_OPERATORS_ACE = "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;AO)"
# Rewrites descriptors through Samba's own library on the lab's sam.ldb (the
# system Python has it): per object, ACEs deleted and added (SDDL), the owner,
# and ms-DS-CreatorSID.
_DESCRIPTOR_EDITS = """
import json, sys
import ldb
from samba.auth import system_session
from samba.ndr import ndr_pack
from samba.dcerpc import security
from samba.param import LoadParm
from samba.samdb import SamDB
from samba.sd_utils import SDUtils
lp = LoadParm()
lp.load(sys.argv[2])
samdb = SamDB(url=sys.argv[1], session_info=system_session(), lp=lp)
utils = SDUtils(samdb)
for edit in json.load(sys.stdin):
    if edit.get("delete"):
        utils.dacl_delete_aces(edit["dn"], edit["delete"])
    if edit.get("add"):
        utils.dacl_add_ace(edit["dn"], edit["add"])
    if edit.get("owner"):
        descriptor = utils.read_sd_on_dn(edit["dn"])
        descriptor.owner_sid = security.dom_sid(edit["owner"])
        utils.modify_sd_on_dn(edit["dn"], descriptor)
    if edit.get("creator"):
        # A system-only attribute: the relax control lets the system session write it.
        message = ldb.Message()
        message.dn = ldb.Dn(samdb, edit["dn"])
        message["mS-DS-CreatorSID"] = ldb.MessageElement(ndr_pack(security.dom_sid(edit["creator"])),
                                                         ldb.FLAG_MOD_REPLACE, "mS-DS-CreatorSID")
        samdb.modify(message, controls=["relax:0"])
"""


class Seeder:
    def __init__(self, lab, scenarios):
        self.lab = lab
        self.scenarios = scenarios
        self.env = read_env(os.path.join(lab, "connection.env"))
        self.base_dn = self.env["SQLAUTH_LAB_BASE_DN"]
        self.dns_domain = self.env["SQLAUTH_LAB_REALM"].lower()
        self.sam_ldb = os.path.join(lab, "private", "sam.ldb")
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.env["SQLAUTH_LDAP_CA_CERT"])
        server = ldap3.Server(self.env["SQLAUTH_LDAP_SERVER"], port=636, use_ssl=True, tls=tls)
        self.conn = ldap3.Connection(server, user=self.env["SQLAUTH_LDAP_USERNAME"],
                                     password=self.env["SQLAUTH_LDAP_PASSWORD"],
                                     auto_bind=True, raise_exceptions=True)
        self.accounts = {}

    def dn(self, relative):
        return "%s,%s" % (relative, self.base_dn) if relative else self.base_dn

    def find_dn(self, sam_account_name):
        self.conn.search(self.base_dn, "(sAMAccountName=%s)" % ldap3.utils.conv.escape_filter_chars(sam_account_name),
                         attributes=["distinguishedName"])
        return self.conn.entries[0].entry_dn if self.conn.entries else None

    def remove_previous(self):
        names = [u["name"] for u in self.scenarios.get("users", [])]
        names += [c["name"] + "$" for c in self.scenarios.get("computers", [])]
        names += [g["name"] + "$" for g in self.scenarios.get("group_managed_service_accounts", [])]
        names += [g["name"] for g in self.scenarios.get("groups", [])]
        for name in names:
            dn = self.find_dn(name)
            if dn:
                self.conn.delete(dn)
        for ou in sorted(self.scenarios.get("organizational_units", []), key=len):
            try:
                self.conn.delete(self.dn(ou), controls=[TREE_DELETE_CONTROL])
            except LDAPNoSuchObjectResult:
                pass

    def add_account(self, name, dn, object_class, attributes, kind):
        password = new_password()
        attributes = dict(attributes)
        attributes["unicodePwd"] = ('"%s"' % password).encode("utf-16-le")
        self.conn.add(dn, object_class, attributes)
        self.record(name, dn, kind, password)

    def record(self, sam_account_name, dn, kind, password=None):
        self.conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["objectSid"])
        self.accounts[sam_account_name] = {
            "dn": dn,
            "kind": kind,
            "sid": str(self.conn.entries[0].objectSid.value),
            "password": password,
        }

    def default_ou(self, kind):
        """Where an account of this kind goes unless its scenario names an OU
        (scenarios.yml: default_ous)."""
        return (self.scenarios.get("default_ous") or {}).get(kind, "CN=Computers" if kind == "computers" else "CN=Users")

    def create(self):
        for ou in sorted(self.scenarios.get("organizational_units", []), key=len):
            self.conn.add(self.dn(ou), "organizationalUnit")

        for user in self.scenarios.get("users", []):
            name = user["name"]
            dn = "CN=%s,%s" % (name, self.dn(user.get("ou", self.default_ou("users"))))
            attributes = {
                "sAMAccountName": name,
                "userPrincipalName": user.get("upn", "%s@%s" % (name, self.dns_domain)),
                "userAccountControl": UF_NORMAL_ACCOUNT | sum(USER_FLAGS[flag] for flag in user.get("flags", []))
                | (0 if user.get("password_expires") else UF_DONT_EXPIRE_PASSWD),
            }
            if user.get("spns"):
                attributes["servicePrincipalName"] = user["spns"]
            if user.get("allowed_to_delegate_to"):
                attributes["msDS-AllowedToDelegateTo"] = user["allowed_to_delegate_to"]
            if user.get("account_expires"):
                attributes["accountExpires"] = str(user["account_expires"])
            if user.get("supported_encryption_types") is not None:
                attributes["msDS-SupportedEncryptionTypes"] = str(user["supported_encryption_types"])
            self.add_account(name, dn, ["top", "person", "organizationalPerson", "user"], attributes, "user")
            self.seed_account_state(dn, user)

        for computer in self.scenarios.get("computers", []):
            name = computer["name"]
            fqdn = computer.get("dns_host_name") or "%s.%s" % (name.lower(), self.dns_domain)
            dn = "CN=%s,%s" % (name, self.dn(computer.get("ou", self.default_ou("computers"))))
            attributes = {
                "sAMAccountName": name + "$",
                "dNSHostName": fqdn,
                "userAccountControl": UF_WORKSTATION_TRUST_ACCOUNT | sum(
                    USER_FLAGS[flag] for flag in computer.get("flags", [])),
                "servicePrincipalName": ["HOST/%s" % fqdn, "HOST/%s" % name] + computer.get("spns", []),
            }
            # What a Windows host writes on its own account (AES and RC4), unless the scenario says otherwise.
            etypes = computer.get("supported_encryption_types", COMPUTER_ENCRYPTION_TYPES)
            if etypes is not None:
                attributes["msDS-SupportedEncryptionTypes"] = str(etypes)
            self.add_account(name + "$", dn, ["top", "person", "organizationalPerson", "user", "computer"],
                             attributes, "computer")

        for gmsa in self.scenarios.get("group_managed_service_accounts", []):
            self.ensure_kds_root_key()
            samba_tool("service-account", "create", "-H", self.sam_ldb, "--name=" + gmsa["name"],
                       "--dns-host-name=" + gmsa["dns_host_name"])
            dn = self.find_dn(gmsa["name"] + "$")
            # samba-tool creates it in CN=Managed Service Accounts; AD teams keep gMSAs with the other
            # service accounts.
            ou = self.dn(gmsa.get("ou", self.default_ou("group_managed_service_accounts")))
            if not self.conn.modify_dn(dn, "CN=%s" % gmsa["name"], new_superior=ou):
                raise SystemExit("moving %s to %s failed: %s" % (gmsa["name"], ou, self.conn.result))
            dn = "CN=%s,%s" % (gmsa["name"], ou)
            if gmsa.get("spns"):
                self.conn.modify(dn, {"servicePrincipalName": [(ldap3.MODIFY_ADD, gmsa["spns"])]})
            if gmsa.get("enabled"):
                # samba-tool creates gMSAs disabled (0x1022); Windows creates them enabled.
                self.conn.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(UF_WORKSTATION_TRUST_ACCOUNT)])]})
                if self.conn.result["result"] != 0:
                    raise SystemExit("enabling %s failed: %s" % (gmsa["name"], self.conn.result))
            self.record(gmsa["name"] + "$", dn, "gmsa")

        for group in self.scenarios.get("groups", []):
            dn = "CN=%s,%s" % (group["name"], self.dn("CN=Users"))
            self.conn.add(dn, ["top", "group"], {"sAMAccountName": group["name"]})
            for parent in group.get("member_of", []):
                samba_tool("group", "addmembers", "-H", self.sam_ldb, parent, group["name"])
        for user in self.scenarios.get("users", []):
            for group in user.get("groups", []):
                samba_tool("group", "addmembers", "-H", self.sam_ldb, group, user["name"])

        for user in self.scenarios.get("users", []):
            if user.get("allowed_to_act_on_behalf"):
                # RBKCD entries written as another tool would: a descriptor made by Samba's own library.
                sids = [self.accounts[name]["sid"] for name in user["allowed_to_act_on_behalf"]]
                self.conn.modify(self.accounts[user["name"]]["dn"], {
                    "msDS-AllowedToActOnBehalfOfOtherIdentity": [(ldap3.MODIFY_REPLACE, [rbkcd_descriptor(sids)])]})
                if self.conn.result["result"] != 0:
                    raise SystemExit("seeding the RBKCD entries of %s failed: %s" % (user["name"], self.conn.result))
            if user.get("spn_write_acl"):
                samba_tool("dsacl", "set", "-H", self.sam_ldb, "--objectdn=" + self.accounts[user["name"]]["dn"],
                           "--sddl=" + SPN_WRITE_ACES)

    def seed_account_state(self, dn, user):
        """States an account reaches over time, written as an administrator
        may: pwdLastSet = 0 ("must change password at next logon") and a
        lockoutTime (the DC computes LOCKOUT from it and the lockout
        duration)."""
        changes = {}
        if user.get("must_change_password"):
            changes["pwdLastSet"] = [(ldap3.MODIFY_REPLACE, ["0"])]
        if user.get("locked_out"):
            now = int((time.time() + 11644473600) * 10 ** 7)
            changes["lockoutTime"] = [(ldap3.MODIFY_REPLACE, [str(now + LOCKOUT_AHEAD)])]
        if changes:
            self.conn.modify(dn, changes)

    def ensure_kds_root_key(self):
        # A gMSA's password derives from a KDS root key; 2016-level
        # provisioning normally creates one, older labs may lack it.
        listing = samba_tool("domain", "kds", "root-key", "list", "-H", self.sam_ldb)
        found = re.match(r"\s*(\d+) root keys? found", listing)
        if not found or found.group(1) == "0":
            samba_tool("domain", "kds", "root-key", "create", "-H", self.sam_ldb)

    def seed_dns(self):
        dns_records.seed(self.conn, self.base_dn, self.dns_domain, self.scenarios.get("dns") or {}, "127.0.0.1",
                         "%s%%%s" % (self.env["SQLAUTH_LDAP_USERNAME"], self.env["SQLAUTH_LDAP_PASSWORD"]))

    def seed_exposure(self):
        """Account Operators' ACE off every seeded account but those kept,
        then the scenarios' ACEs and owners (scenarios.yml, exposure)."""
        spec = self.scenarios.get("exposure") or {}
        keep = set(spec.get("keep_account_operators") or [])
        edits = {name: dict(dn=entry["dn"]) for name, entry in self.accounts.items()
                 if entry["kind"] in ("user", "computer", "gmsa")}
        for name, edit in edits.items():
            if name not in keep:
                edit["delete"] = ACCOUNT_OPERATORS_ACE
        sids = {name: entry["sid"] for name, entry in self.accounts.items()}
        for group in self.scenarios.get("groups", []):
            sids[group["name"]] = self.sid_of(group["name"])
        for item in spec.get("aces") or []:
            edits[item["account"]]["add"] = item["sddl"].format(**sids)
        for item in spec.get("owners") or []:
            edits[item["account"]]["owner"] = sids[item["owner"]]
        for item in spec.get("creators") or []:
            edits[item["account"]]["creator"] = sids[item["creator"]]
        subprocess.run(["/usr/bin/python3", "-c", _DESCRIPTOR_EDITS, self.sam_ldb,
                        os.path.join(self.lab, "etc", "smb.conf")], input=json.dumps(list(edits.values())),
                       text=True, check=True, capture_output=True)

    def partition(self):
        return os.path.join(self.lab, "private", "sam.ldb.d", "%s.ldb" % self.base_dn.upper())

    def sid_of(self, sam_account_name):
        self.conn.search(self.base_dn, "(sAMAccountName=%s)" % ldap3.utils.conv.escape_filter_chars(sam_account_name),
                         attributes=["objectSid"])
        return str(self.conn.entries[0].objectSid.value)

    def seed_legacy_duplicates(self):
        """Write values the DC's uniqueness checks would refuse, straight into
        the domain partition file; the running DC sees them at once."""
        partition = self.partition()
        ldif = []
        for entry in self.scenarios.get("legacy_duplicates", []):
            dn = self.accounts[entry["account"]]["dn"]
            if "spn" in entry:
                ldif.append("dn: %s\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: %s\n"
                            % (dn, entry["spn"]))
            if "upn" in entry:
                ldif.append("dn: %s\nchangetype: modify\nreplace: userPrincipalName\nuserPrincipalName: %s\n"
                            % (dn, entry["upn"]))
        if ldif:
            subprocess.run(["ldbmodify", "-H", partition], input="\n".join(ldif), text=True, check=True,
                           stdout=subprocess.DEVNULL)

    def write_inventory(self):
        """The scenarios' SQL Server estate as an Ansible inventory, the way
        a DBA writes it: one host per SQL Server, its instances as variables."""
        hosts = {}
        linked = {}
        for pair in self.scenarios.get("linked_servers", []):
            back = dict(name=pair["back"], callers=pair["callers"]) if pair.get("callers") else pair["back"]
            linked.setdefault(pair["front"].lower(), []).append(back)
        for scenario in self.scenarios.get("instances", []):
            instance = {k: v for k, v in scenario.items() if k not in ("scenario", "expect", "host", "linux")}
            name = scenario["host"] if scenario.get("instance", "MSSQLSERVER") == "MSSQLSERVER" \
                else "%s\\%s" % (scenario["host"], scenario["instance"])
            if name.lower() in linked:
                instance["linked_servers"] = linked[name.lower()]
            hosts.setdefault(scenario["host"], {"sqlauth_instances": []})["sqlauth_instances"].append(instance)
        inventory = {"sql_servers": {"hosts": hosts}}
        with open(os.path.join(self.lab, "inventory.yml"), "w", encoding="utf-8") as handle:
            handle.write("# Generated by tests/lab/seed.py from tests/lab/scenarios.yml.\n")
            yaml.safe_dump(inventory, handle, sort_keys=False)

    def write_linux_hosts(self):
        """The SIMULATED Linux SQL Server hosts: each one's mssql.conf, as
        seeded, under <lab>/hosts/HOST/ (the lab inventory points there)."""
        for scenario in self.scenarios.get("instances", []):
            if "linux" not in scenario:
                continue
            folder = os.path.join(self.lab, "hosts", scenario["host"])
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "mssql.conf"), "w", encoding="utf-8") as handle:
                handle.write(scenario["linux"]["mssql_conf"])

    def write_accounts(self):
        path = os.path.join(self.lab, "accounts.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.accounts, handle, indent=2, sort_keys=True)
        # The account the pipelines bind as (scenarios.yml: pipeline_account), for the lab inventory.
        name = self.scenarios.get("pipeline_account")
        if name:
            path = os.path.join(self.lab, "pipeline.env")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("SQLAUTH_PIPELINE_USERNAME=%s@%s\nSQLAUTH_PIPELINE_PASSWORD=%s\n" % (
                    name, self.env["SQLAUTH_LAB_REALM"], self.accounts[name]["password"]))


def samba_tool(*args):
    result = subprocess.run(["samba-tool"] + list(args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit("samba-tool %s failed: %s" % (" ".join(args[:2]), result.stderr.strip()))
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--scenarios", required=True)
    options = parser.parse_args()
    with open(options.scenarios, encoding="utf-8") as handle:
        scenarios = yaml.safe_load(handle)
    seeder = Seeder(options.lab, scenarios)
    seeder.remove_previous()
    seeder.create()
    seeder.seed_legacy_duplicates()
    seeder.seed_exposure()
    seeder.seed_dns()
    seeder.write_accounts()
    seeder.write_inventory()
    seeder.write_linux_hosts()
    print("lab: seeded %d accounts" % len(seeder.accounts))


if __name__ == "__main__":
    main()
