# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Populate the bench lab's directory with the estate of estate.py, once.

Objects are added with ldbadd through the running DC's sam.ldb, that is
through Samba's own module stack (SIDs from the RID pool, default security
descriptors, the SPN uniqueness check: the same checks as an LDAP add, without
the LDAP round trip); about 250 objects/s against 160/s for LDAPS adds. The
legacy duplicate SPNs, which that stack refuses, are written straight into
the domain partition file afterwards, as tests/lab/seed.py does.

Accounts get no password: the audit never authenticates as them, and hashing
a password costs ~30 ms per account in Samba. An account without keys cannot
log on.

A marker file in the lab directory records the seed; a second run with the
same seed does nothing. A lab populated with another seed, or whose
population was interrupted, is not patched up (deleting 25,000 objects is
slower than creating them and leaves tombstones that every scan reads): the
script exits with NEEDS_FRESH_LAB and bench.sh rebuilds the lab.

Then the DNS of the first 1,000 instances (estate.dns_plan), a step of its
own with a marker of its own (bench-dns.json): about 2,200 dnsNode objects
written in bulk over LDAPS by tests/lab/dns_records.py, each name's records
in one add. Idempotent and cheap (about 20 s), so a change of the DNS plan
reseeds the DNS only, never the accounts.
"""

import argparse
import base64
import json
import os
import ssl
import subprocess
import sys
import time

import ldap3
from ldap3.core.exceptions import LDAPNoSuchObjectResult

import estate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "lab"))
import dns_records  # noqa: E402 (the lab's bulk dnsNode writer)
from lab_env import read_env  # noqa: E402 (the lab's connection.env reader)

MARKER = "bench-populated.json"
FORMAT_VERSION = 3  # bump when estate.py changes what it writes (2: health; 3: encryption types, passwords)
UF_ACCOUNTDISABLE = 0x0002
UF_NORMAL_ACCOUNT = 0x0200
UF_WORKSTATION_TRUST_ACCOUNT = 0x1000
UF_DONT_EXPIRE_PASSWD = 0x10000
UF_TRUSTED_FOR_DELEGATION = 0x80000
UF_TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000
# A week in 100 ns units: a locked-out account's lockoutTime is this far ahead,
# so the domain's lockout duration lasts through any run (as tests/lab/seed.py).
LOCKOUT_AHEAD = 7 * 24 * 3600 * 10 ** 7
FILETIME_EPOCH_OFFSET = 11644473600  # seconds from 1601-01-01 to 1970-01-01
PRIVILEGED_GROUP = "Bench SQL Admins"  # nested in Domain Admins
# Read/write servicePrincipalName and the validated SPN write, for SELF.
SPN_WRITE_ACES = ("(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)"
                  "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)")
CHUNK = 2500  # objects per ldbadd call (one transaction each), for progress
NEEDS_FRESH_LAB = 3
DNS_MARKER = "bench-dns.json"
DNS_FORMAT_VERSION = 1  # bump when estate.dns_plan changes what it seeds
# The DC's own DNS server, as samba-tool reaches it for the reverse zones.
DNS_SERVER = "127.0.0.1"


def ldb(lab, tool, *args, stdin=None):
    result = subprocess.run([tool, "-H", os.path.join(lab, "private", "sam.ldb")] + list(args), input=stdin,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit("%s failed: %s" % (tool, (result.stderr or result.stdout).strip()[-2000:]))
    return result.stdout


def unfolded_attribute(ldif, name):
    """One attribute's value from LDIF output (continuation lines joined)."""
    value, inside = [], False
    for line in ldif.splitlines():
        if line.startswith(name + ": "):
            value, inside = [line[len(name) + 2:]], True
        elif inside and line.startswith(" "):
            value.append(line[1:])
        else:
            inside = False
    return "".join(value)


def user_security_descriptor_with_spn_write(lab):
    """The schema's default DACL of a user plus the SPN write ACEs for SELF:
    given at creation, Samba adds the inherited ACEs as for any new object."""
    out = ldb(lab, "ldbsearch", "-b", "CN=User,CN=Schema,CN=Configuration,%s" % estate.BASE_DN, "-s", "base",
              "defaultSecurityDescriptor")
    default = unfolded_attribute(out, "defaultSecurityDescriptor")
    if not default.startswith("D:"):
        sys.exit("unexpected defaultSecurityDescriptor of the user class: %r" % default[:80])
    return default + SPN_WRITE_ACES


def entry(dn, attributes):
    lines = ["dn: %s" % dn]
    for name, values in attributes:
        for value in values if isinstance(values, list) else [values]:
            # A name ending in ":" (unicodePwd:) gives LDIF's base64 form, "name:: value".
            lines.append("%s: %s" % (name, value))
    return "\n".join(lines) + "\n"


def password(instance):
    """The password of an instance's accounts when it has one (estate.PASSWORD_INSTANCES): made from the seed's
    instance number, for a lab directory only."""
    return "Bench-%05d-Pw!x" % instance["index"] if instance["index"] <= estate.PASSWORD_INSTANCES else None


def unicode_pwd(text):
    """unicodePwd as LDIF wants it: the quoted password in UTF-16LE, base64 (the "::" form)."""
    return base64.b64encode(('"%s"' % text).encode("utf-16-le")).decode("ascii")


def user(cn, ou, sam, spns=(), upn=None, disabled=False, sddl=None, uac=None, extra=()):
    if uac is None:
        uac = UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD | (UF_ACCOUNTDISABLE if disabled else 0)
    attributes = [("objectClass", "user"), ("sAMAccountName", sam), ("userAccountControl", str(uac))]
    attributes += list(extra)
    if upn:
        attributes.append(("userPrincipalName", upn))
    if spns:
        attributes.append(("servicePrincipalName", list(spns)))
    if sddl:
        attributes.append(("nTSecurityDescriptor", sddl))
    return entry("CN=%s,%s,%s" % (cn, ou, estate.BASE_DN), attributes)


def computer(name, ou, spns=(), flags=0, extra=()):
    fqdn = "%s.%s" % (name.lower(), estate.DNS_DOMAIN)
    attributes = [("objectClass", "computer"), ("sAMAccountName", name + "$"),
                  ("userAccountControl", str(UF_WORKSTATION_TRUST_ACCOUNT | flags)), ("dNSHostName", fqdn),
                  ("servicePrincipalName", ["HOST/%s" % fqdn, "HOST/%s" % name] + list(spns))] + list(extra)
    return entry("CN=%s,%s,%s" % (name, ou, estate.BASE_DN), attributes)


def health_settings(instance, now):
    """userAccountControl and further attributes of a service account with
    the instance's health scenario (estate.HEALTH_RATES), and the LDIF that
    the add cannot carry (lockoutTime)."""
    health = instance["health"]
    uac = UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD
    extra, later = [], None
    etypes = {"rc4_only": None, "des": 0x7}.get(health, estate.USER_ENCRYPTION_TYPES)
    if etypes is not None:
        extra.append(("msDS-SupportedEncryptionTypes", str(etypes)))
    if password(instance):
        extra.append(("unicodePwd:", unicode_pwd(password(instance))))
    if health == "disabled":
        uac |= UF_ACCOUNTDISABLE
    elif health == "must_change_password":
        uac &= ~UF_DONT_EXPIRE_PASSWD
        later = "replace: pwdLastSet\npwdLastSet: 0\n"  # setting a password set it to now
    elif health == "expired":
        extra.append(("accountExpires", str((int(now) - 86400 + FILETIME_EPOCH_OFFSET) * 10 ** 7)))
    elif health == "unconstrained":
        uac |= UF_TRUSTED_FOR_DELEGATION
    elif health == "protocol_transition":
        uac |= UF_TRUSTED_TO_AUTH_FOR_DELEGATION
        extra.append(("msDS-AllowedToDelegateTo", "MSSQLSvc/sqlh00001.%s:1433" % estate.DNS_DOMAIN))
    elif health == "locked_out":
        later = "replace: lockoutTime\nlockoutTime: %d\n" % (
            (int(now) + FILETIME_EPOCH_OFFSET) * 10 ** 7 + LOCKOUT_AHEAD)
    return uac, extra, later


def directory_entries(instances, sddl, now=None):
    """LDIF records for the whole bench directory, OUs first; the LDIF that
    adds the legacy duplicates; and the LDIF of what an add cannot set
    (lockoutTime, Domain Admins' new member)."""
    now = time.time() if now is None else now
    records = [entry(dn, [("objectClass", "organizationalUnit")]) for dn in estate.ou_dns()]
    duplicates, later, privileged = [], [], []
    for instance in instances:
        ou = estate.estate_ou(instance["index"])
        registered = instance["registered"]
        flags = UF_TRUSTED_FOR_DELEGATION if instance["health"] == "unconstrained_host" else 0
        extra = [("msDS-SupportedEncryptionTypes", str(estate.COMPUTER_ENCRYPTION_TYPES))]
        if password(instance):
            extra.append(("unicodePwd:", unicode_pwd(password(instance))))
        records.append(computer(instance["short"].upper(), ou, registered["computer"], flags=flags, extra=extra))
        if not instance["virtual"]:
            uac, extra, modify = health_settings(instance, now)
            dn = "CN=%s,%s,%s" % (instance["sam"], ou, estate.BASE_DN)
            records.append(user(instance["sam"], ou, instance["sam"], registered["service"],
                                upn="%s@%s" % (instance["sam"], estate.DNS_DOMAIN),
                                sddl=sddl if instance["acl"] else None, uac=uac, extra=extra))
            if modify:
                later.append("dn: %s\nchangetype: modify\n%s" % (dn, modify))
            if instance["health"] == "privileged":
                privileged.append(dn)
        if registered["old"]:
            old = "svcold-%s" % instance["short"]
            records.append(user(old, ou, old))
            duplicates.append("dn: CN=%s,%s,%s\nchangetype: modify\nadd: servicePrincipalName\n%s\n" % (
                old, ou, estate.BASE_DN,
                "\n".join("servicePrincipalName: %s" % spn for spn in registered["old"])))
    for number in range(1, estate.STAFF_USERS + 1):
        name = "user%05d" % number
        records.append(user(name, "OU=Staff,OU=Bench", name, upn="%s@%s" % (name, estate.DNS_DOMAIN),
                            disabled=number % 7 == 0))
    for number in range(1, estate.WORKSTATIONS + 1):
        records.append(computer("WS%05d" % number, "OU=Workstations,OU=Bench"))
    for number in range(1, estate.APP_ACCOUNTS + 1):
        name = "svc-app%04d" % number
        records.append(user(name, "OU=Applications,OU=Bench", name,
                            spns=["HTTP/app%04d.%s" % (number, estate.DNS_DOMAIN), "HTTP/app%04d" % number]))
    group_dn = "CN=%s,OU=Bench,%s" % (PRIVILEGED_GROUP, estate.BASE_DN)
    records.append(entry(group_dn, [("objectClass", "group"), ("sAMAccountName", PRIVILEGED_GROUP)]
                         + ([("member", privileged)] if privileged else [])))
    later.append("dn: CN=Domain Admins,CN=Users,%s\nchangetype: modify\nadd: member\nmember: %s\n"
                 % (estate.BASE_DN, group_dn))
    return records, duplicates, later


def populated(lab):
    try:
        with open(os.path.join(lab, MARKER), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def bench_objects_exist(lab):
    found = subprocess.run(["ldbsearch", "-H", os.path.join(lab, "private", "sam.ldb"), "-b", estate.BENCH_OU,
                            "-s", "base", "dn"], capture_output=True, text=True, check=False)
    return found.returncode == 0 and "dn: " in found.stdout


def populate(lab, seed):
    marker = populated(lab)
    if marker and marker.get("seed") == seed and marker.get("format") == FORMAT_VERSION:
        print("populate: already populated with seed %s (%s), reusing it" % (seed, marker["summary"]))
        return marker
    if marker or bench_objects_exist(lab):
        print("populate: this lab holds another population (%s) or an interrupted one; it needs a fresh lab"
              % ("seed %s, format %s" % (marker.get("seed"), marker.get("format")) if marker else "no marker"))
        sys.exit(NEEDS_FRESH_LAB)
    started = time.monotonic()
    instances = estate.build(seed)
    records, duplicates, later = directory_entries(instances, user_security_descriptor_with_spn_write(lab))
    accounts = sum(1 for record in records if "objectClass: organizationalUnit" not in record)
    print("populate: adding %d objects (%d accounts) with ldbadd, %d per transaction"
          % (len(records), accounts, CHUNK), flush=True)
    for start in range(0, len(records), CHUNK):
        ldb(lab, "ldbadd", stdin="\n".join(records[start:start + CHUNK]))
        print("populate: %d/%d (%.0f s)" % (min(start + CHUNK, len(records)), len(records),
                                            time.monotonic() - started), flush=True)
    partition = "%s.ldb" % estate.BASE_DN.upper()
    result = subprocess.run(["ldbmodify", "-H", os.path.join(lab, "private", "sam.ldb.d", partition)],
                            input="\n".join(duplicates), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit("writing the legacy duplicates failed: %s" % result.stderr.strip())
    ldb(lab, "ldbmodify", stdin="\n".join(later))
    summary = {
        "accounts": accounts,
        "sql_instances": len(instances),
        "sql_service_accounts": sum(not i["virtual"] for i in instances),
        "legacy_duplicates": len(duplicates),
        "drift": {kind: sum(i["drift"] == kind for i in instances)
                  for kind in ("missing", "wrong_account", "duplicate")},
        "health": estate.health_counts(instances),
    }
    summary.update(estate.filler_counts())
    marker = {"seed": seed, "format": FORMAT_VERSION, "summary": summary,
              "seconds": round(time.monotonic() - started, 1)}
    with open(os.path.join(lab, MARKER), "w", encoding="utf-8") as handle:
        json.dump(marker, handle, indent=2, sort_keys=True)
    print("populate: done in %.0f s: %s" % (marker["seconds"], summary), flush=True)
    return marker


def read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, sort_keys=True)


def seed_dns(lab, seed):
    """Seed estate.dns_plan's records unless the lab holds them already:
    the reverse zones once (samba-tool), then every name's dnsNode replaced
    (deleted and added with all its records), and the names an earlier plan
    seeded and this one does not deleted."""
    path = os.path.join(lab, DNS_MARKER)
    previous = read_json(path) or {}
    plan = estate.dns_plan(estate.build(seed), seed)
    found = dns_records.nodes(plan["spec"], estate.DNS_DOMAIN)
    if previous.get("seed") == seed and previous.get("format") == DNS_FORMAT_VERSION:
        print("populate: DNS already seeded with seed %s (%s), reusing it" % (seed, previous["summary"]))
        return previous
    started = time.monotonic()
    stale = {tuple(node) for node in previous.get("nodes") or []} - set(found)
    # Before writing: an interrupted seeding still knows every name it may have left.
    write_json(path, {"seed": None, "format": None, "nodes": sorted(set(found) | stale)})
    env = read_env(os.path.join(lab, "connection.env"))
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=env["SQLAUTH_LDAP_CA_CERT"])
    # raise_exceptions: dns_records tells a missing node or zone by LDAPNoSuchObjectResult.
    connection = ldap3.Connection(ldap3.Server(env["SQLAUTH_LDAP_SERVER"], port=636, use_ssl=True, tls=tls),
                                  user=env["SQLAUTH_LDAP_USERNAME"], password=env["SQLAUTH_LDAP_PASSWORD"],
                                  auto_bind=True, raise_exceptions=True)
    try:
        dns_records.ensure_reverse_zones(connection, estate.BASE_DN, plan["spec"]["reverse_zones"], DNS_SERVER,
                                         "%s%%%s" % (env["SQLAUTH_LDAP_USERNAME"], env["SQLAUTH_LDAP_PASSWORD"]))
        for zone, name in sorted(stale):
            try:
                connection.delete(dns_records.node_dn(zone, name, estate.BASE_DN))
            except LDAPNoSuchObjectResult:
                pass
        print("populate: seeding DNS: %d names (%d records), %d stale names deleted"
              % (len(found), sum(len(records) for records in found.values()), len(stale)), flush=True)
        dns_records.write_nodes(connection, estate.BASE_DN, found)
    finally:
        connection.unbind()
    summary = dict(estate.dns_counts(plan), nodes=len(found), reverse_zones=plan["spec"]["reverse_zones"])
    marker = {"seed": seed, "format": DNS_FORMAT_VERSION, "summary": summary, "nodes": sorted(found),
              "seconds": round(time.monotonic() - started, 1)}
    write_json(path, marker)
    print("populate: DNS seeded in %.0f s: %s" % (marker["seconds"], summary), flush=True)
    return marker


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--seed", type=int, required=True)
    options = parser.parse_args()
    populate(options.lab, options.seed)
    seed_dns(options.lab, options.seed)


if __name__ == "__main__":
    main()
