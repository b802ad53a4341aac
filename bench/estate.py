# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's synthetic SQL Server estate and directory, derived from a
seed and nothing else: populate.py writes it into the bench lab, measure.py
builds its inventories and checks spn_facts' counts against it. The DNS of
the first 1,000 instances (dns_plan) is seeded by populate.py too and
measured by dns_bench.py.

One SQL Server instance per host, 5,000 hosts. The estates of 100, 1,000 and
5,000 instances are the first N instances; their accounts live in nested OUs
(Estate100 inside Estate1000 inside Estate5000), so "every MSSQLSvc SPN of an
estate of N instances" is one subtree search, the floor the audit is compared
with. Around them, ordinary users, workstations and application service
accounts make the directory the size of a large company's.
"""

import random

SIZES = (100, 1000, 5000)
DNS_DOMAIN = "corp.example.test"
NETBIOS_DOMAIN = "CORP"
BASE_DN = "DC=corp,DC=example,DC=test"
BENCH_OU = "OU=Bench," + BASE_DN
STAFF_USERS = 12000
WORKSTATIONS = 3000
APP_ACCOUNTS = 500
NAMED_INSTANCES = ("SALES", "HR", "FINANCE", "REPORTING", "WAREHOUSE")

# Per-instance drift, a few percent each, the rest ok.
MISSING_RATE = 0.03        # the NetBIOS forms never registered (setspn by hand, FQDN only)
WRONG_ACCOUNT_RATE = 0.02  # an SPN left on the host's computer account (once ran as LocalSystem)
DUPLICATE_RATE = 0.01      # an SPN also on the previous service account (legacy duplicate)
NO_ACL_RATE = 0.10         # the account may not write its own SPNs
VIRTUAL_ACCOUNT_RATE = 0.05
UPN_REFERENCE_RATE = 0.15  # inventory names the account by UPN instead of DOMAIN\name
NAMED_INSTANCE_RATE = 0.25
DYNAMIC_PORT_RATE = 0.20   # of named instances
LISTENER_RATE = 0.08
UPPER_CASE_HOST_RATE = 0.10  # SPNs registered with an upper-case host name

# Service-account health and delegation risk, drawn with a random generator
# of their own so that the SPN drift above stays as it was for a seed. Each
# user service account gets at most one; the drift report finds each (the
# catalogue ID in the comment), spn_facts' SPN summary is unchanged by them.
HEALTH_RATES = (
    ("disabled", 0.01),               # ACC001
    ("locked_out", 0.01),             # ACC002: lockoutTime a week ahead
    ("expired", 0.01),                # ACC003: accountExpires in the past
    ("must_change_password", 0.01),   # ACC004 (password expired or must change): pwdLastSet 0 without DONT_EXPIRE_PASSWD
    ("privileged", 0.005),            # ACC005: in a group nested in Domain Admins
    ("unconstrained", 0.01),          # DLG002: TRUSTED_FOR_DELEGATION
    ("protocol_transition", 0.01),    # DLG003: TRUSTED_TO_AUTH_FOR_DELEGATION + a constrained target
    ("stale_spn", 0.02),              # SPN005: an old port's SPN left on the account
    ("rc4_only", 0.02),               # ENC001: no msDS-SupportedEncryptionTypes (the others have AES, 0x18)
    ("des", 0.005),                   # ENC002 and ENC001: DES and RC4 (0x7)
)
# msDS-SupportedEncryptionTypes of the other user accounts (AES) and of
# computer accounts (AES and RC4, as Windows hosts write it).
USER_ENCRYPTION_TYPES = 0x18
COMPUTER_ENCRYPTION_TYPES = 0x1C
# Accounts of the first PASSWORD_INSTANCES instances (service accounts and
# host computer accounts) get a password, so that the KDC can issue tickets
# for their SPNs (the KDC probe's benchmark); Samba spends ~30 ms on each.
PASSWORD_INSTANCES = 1000
# Virtual-account hosts whose computer account is trusted for unconstrained delegation.
UNCONSTRAINED_HOST_RATE = 0.10
STALE_PORT = 1999  # never drawn as an instance's port (1435-1933)

# DNS of the first DNS_INSTANCES instances' hosts and listeners, on the bench
# DC's own DNS server (dns_facts' benchmark, bench/dns_bench.py): A records
# and matching PTRs, but for a few percent of each scenario below, drawn per
# instance with a random generator of its own (the directory stays as it was
# for a seed). The status dns_facts must give in the comment.
DNS_INSTANCES = 1000
DNS_RATES = (
    ("unresolved", 0.02),       # DNS001 unresolved: the host has no record at all
    ("ptr_elsewhere", 0.02),    # DNS004 ptr_mismatch: its address's PTR names the next host
    ("alias_cname", 0.03),      # DNS002 alias_cname: an alias, CNAME of the host
    ("alias_address", 0.03),    # DNS003 alias_address: an alias with an A record of its own, the host's address
    ("alias_elsewhere", 0.005),  # DNS007 name_elsewhere: an alias, CNAME of another host
)
# Listeners with an address in a second subnet, as multi-subnet availability
# groups register them (DNS008 several_addresses, info).
MULTI_SUBNET_LISTENER_RATE = 0.25


def estate_ou(index):
    """The OU (relative to the domain) holding instance ``index``'s accounts."""
    path = []
    for size in sorted(SIZES, reverse=True):
        if index <= size:
            path.insert(0, "OU=Estate%d" % size)
    return ",".join(path + ["OU=Bench"])


def estate_base(size):
    return "%s,%s" % (estate_ou(size), BASE_DN)


def ou_dns():
    """Every OU the population needs, parents first."""
    ous = ["OU=Bench"]
    for size in sorted(SIZES, reverse=True):
        ous.append(estate_ou(size))
    ous += ["OU=Staff,OU=Bench", "OU=Workstations,OU=Bench", "OU=Applications,OU=Bench"]
    return ["%s,%s" % (ou, BASE_DN) for ou in ous]


def _spn(host, suffix=None):
    return "MSSQLSvc/%s%s" % (host, "" if suffix is None else ":%s" % suffix)


def build(seed, count=max(SIZES)):
    """The estate: a list of instance dicts (inventory fields plus what the
    directory holds for them and what the audit must report)."""
    rng = random.Random(seed)
    health_rng = random.Random("%s-health" % seed)
    instances = []
    for index in range(1, count + 1):
        short = "sqlh%05d" % index
        host = "%s.%s" % (short, DNS_DOMAIN)
        named = rng.random() < NAMED_INSTANCE_RATE
        instance = rng.choice(NAMED_INSTANCES) if named else "MSSQLSERVER"
        if named:
            port = "dynamic" if rng.random() < DYNAMIC_PORT_RATE else 1434 + rng.randrange(1, 500)
        else:
            port = 1433
        virtual = rng.random() < VIRTUAL_ACCOUNT_RATE
        sam = "svc-%s" % short
        if virtual:
            reference = "NT SERVICE\\%s" % ("MSSQLSERVER" if not named else "MSSQL$" + instance)
        elif rng.random() < UPN_REFERENCE_RATE:
            reference = "%s@%s" % (sam, DNS_DOMAIN)
        else:
            reference = "%s\\%s" % (NETBIOS_DOMAIN, sam)
        listeners = []
        if rng.random() < LISTENER_RATE:
            listeners.append({"name": "agl%05d.%s" % (index, DNS_DOMAIN), "port": 1433})

        # Required SPNs, (form, spn), as spn_facts builds them by default.
        required = []
        for name, port_form, instance_form in ((host, "fqdn_port", "fqdn_instance"),
                                               (short, "netbios_port", "netbios_instance")):
            if port != "dynamic":
                required.append((port_form, _spn(name, port)))
            required.append((instance_form, _spn(name, None if not named else instance)))
        for listener in listeners:
            required.append(("listener_fqdn", _spn(listener["name"], listener["port"])))
            required.append(("listener_netbios", _spn(listener["name"].split(".")[0], listener["port"])))

        draw = rng.random()
        if draw < MISSING_RATE:
            drift = "missing"
        elif draw < MISSING_RATE + WRONG_ACCOUNT_RATE and not virtual:
            drift = "wrong_account"
        elif draw < MISSING_RATE + WRONG_ACCOUNT_RATE + DUPLICATE_RATE and not virtual:
            drift = "duplicate"
        else:
            drift = "ok"
        acl = virtual or rng.random() >= NO_ACL_RATE
        upper = rng.random() < UPPER_CASE_HOST_RATE

        owner = "computer" if virtual else "service"
        registered = {"service": [], "computer": [], "old": []}
        statuses = {}
        victim = required[0][1]  # fqdn_port, or fqdn_instance with a dynamic port
        for form, spn in required:
            stored = spn.replace(host, host.upper()) if upper else spn
            if drift == "missing" and form.startswith("netbios"):
                statuses[spn] = "missing"
                continue
            if drift == "wrong_account" and spn == victim:
                registered["computer"].append(stored)
                statuses[spn] = "wrong_account"
                continue
            registered[owner].append(stored)
            if drift == "duplicate" and spn == victim:
                registered["old"].append(stored)
                statuses[spn] = "duplicate"
            else:
                statuses[spn] = "ok"
        findings = (["dynamic_port"] if port == "dynamic" else []) + ([] if acl else ["spn_write_acl_missing"])
        health = _draw_health(health_rng, virtual)
        if health == "stale_spn" and port == "dynamic":
            health = None  # SQL Server registers host:port for itself on a dynamic port: not stale
        if health == "stale_spn":
            registered["service"].append(_spn(host, STALE_PORT))
        instances.append({
            "index": index,
            "host": host,
            "short": short,
            "instance": instance,
            "port": port,
            "service_account": reference,
            "listeners": listeners,
            "virtual": virtual,
            "sam": sam,
            "acl": acl,
            "drift": drift,
            "registered": registered,
            "health": health,
            "expected": {"spns": statuses, "findings": findings},
        })
    return instances


def _draw_health(rng, virtual):
    draw = rng.random()
    if virtual:
        return "unconstrained_host" if draw < UNCONSTRAINED_HOST_RATE else None
    for scenario, rate in HEALTH_RATES:
        if draw < rate:
            return scenario
        draw -= rate
    return None


def inventory_entry(instance):
    """The host's ``sqlauth_instances`` entry, as a DBA writes it."""
    entry = {"instance": instance["instance"], "port": instance["port"],
             "service_account": instance["service_account"]}
    if instance["listeners"]:
        entry["listeners"] = instance["listeners"]
    return entry


# Linked servers: every LINK_EVERY-th instance queries the one before it,
# unless its account already delegates (classic constrained or unconstrained
# delegation, from HEALTH_RATES): 2.5 % of the instances are front ends.
LINK_EVERY = 40
LINK_SKIPPED_HEALTH = ("protocol_transition", "unconstrained", "unconstrained_host")


def sql_name(instance):
    """The instance as SQL Server (and a linked_servers entry) names it."""
    return instance["host"] if instance["instance"] == "MSSQLSERVER" else "%s\\%s" % (
        instance["host"], instance["instance"])


def linked_pairs(instances):
    """[(front, back)] of these instances: the linked servers of the fix bench."""
    by_index = {i["index"]: i for i in instances}
    pairs = []
    for front in instances:
        back = by_index.get(front["index"] - 1)
        if front["index"] % LINK_EVERY == 0 and back and front["health"] not in LINK_SKIPPED_HEALTH:
            pairs.append((front, back))
    return pairs


def module_instances(instances):
    """spn_facts' ``instances`` option for these instances."""
    return [dict(inventory_entry(i), host=i["host"]) for i in instances]


def expected_summary(instances):
    """What spn_facts' ``summary`` must say for these instances."""
    counts = {"ok": 0, "missing": 0, "wrong_account": 0, "duplicate": 0}
    drifted = 0
    for instance in instances:
        statuses = instance["expected"]["spns"].values()
        for status in statuses:
            counts[status] += 1
        if instance["expected"]["findings"] or any(s != "ok" for s in statuses):
            drifted += 1
    return {"instances": len(instances), "instances_with_drift": drifted, "spns": counts}


def expected_report_summary(instances):
    """What the drift report's summary must say: an instance drifts when
    spn_facts says so or its account has a health or delegation finding."""
    spn_drift = 0
    drifted = 0
    for instance in instances:
        spn = bool(instance["expected"]["findings"]) or \
            any(s != "ok" for s in instance["expected"]["spns"].values())
        spn_drift += spn
        drifted += spn or instance["health"] is not None
    return {"instances": len(instances), "instances_with_drift": drifted}


def host_address(index):
    """Instance ``index``'s host address: 10.100.0.1 for the first, 65,536 a /16 (a reverse zone each)."""
    return "10.%d.%d.%d" % (100 + index // 65536, index // 256 % 256, index % 256)


def listener_addresses(index, subnets=1):
    """The addresses of instance ``index``'s listener, one per subnet (10.120.x.y, then 10.121.x.y)."""
    return ["10.%d.%d.%d" % (120 + subnet, index // 256 % 256, index % 256) for subnet in range(subnets)]


def reverse_zone(address):
    """The /16 reverse zone of an IPv4 address (10.100.3.7 -> 100.10.in-addr.arpa)."""
    first, second = address.split(".")[:2]
    return "%s.%s.in-addr.arpa" % (second, first)


def dns_plan(instances, seed):
    """The DNS of the estate's first DNS_INSTANCES instances: the spec
    tests/lab/dns_records.py seeds (reverse_zones, hosts, records), the
    aliases of each instance ({index: [name]}, for the inventory), each
    name's expected dns_facts statuses ({name: [status]}, empty when all is
    well) and each instance's scenario ({index: scenario or None})."""
    rng = random.Random("%s-dns" % seed)
    chosen = [i for i in instances if i["index"] <= DNS_INSTANCES]
    scenarios = {}
    for instance in chosen:
        draw, scenarios[instance["index"]] = rng.random(), None
        for scenario, rate in DNS_RATES:
            if draw < rate:
                scenarios[instance["index"]] = scenario
                break
            draw -= rate
    resolvable = [i for i in chosen if scenarios[i["index"]] != "unresolved"]

    def next_resolvable(index):
        # Another host that has records (a CNAME to a host without any would be unresolved, not elsewhere).
        return next((i for i in resolvable if i["index"] > index), resolvable[0])["host"]

    hosts, records, aliases, expected = {}, [], {}, {}
    for instance in chosen:
        index, host, scenario = instance["index"], instance["host"], scenarios[instance["index"]]
        address = host_address(index)
        expected[host] = []
        if scenario == "unresolved":
            expected[host] = ["unresolved"]
        elif scenario == "ptr_elsewhere":
            hosts[host] = {"addresses": [address], "ptr": next_resolvable(index)}
            expected[host] = ["ptr_mismatch"]
        else:
            hosts[host] = address
        if scenario and scenario.startswith("alias_"):
            alias = "sqlalias%05d.%s" % (index, DNS_DOMAIN)
            aliases[index] = [alias]
            if scenario == "alias_address":
                records.append({"name": alias, "type": "A", "data": address})
                expected[alias] = ["alias_address"]
            else:
                target = host if scenario == "alias_cname" else next_resolvable(index)
                records.append({"name": alias, "type": "CNAME", "data": target})
                expected[alias] = ["alias_cname" if scenario == "alias_cname" else "name_elsewhere"]
        for listener in instance["listeners"]:
            subnets = 2 if rng.random() < MULTI_SUBNET_LISTENER_RATE else 1
            hosts[listener["name"]] = listener_addresses(index, subnets)
            expected[listener["name"]] = ["several_addresses"] if subnets > 1 else []
    addresses = [a for value in hosts.values()
                 for a in (value["addresses"] if isinstance(value, dict) else [value] if isinstance(value, str) else value)]
    spec = {"reverse_zones": sorted({reverse_zone(a) for a in addresses}), "hosts": hosts, "records": records}
    return {"spec": spec, "aliases": aliases, "expected": expected, "scenarios": scenarios}


def dns_counts(plan):
    """How many names of each expected dns_facts status (and ``ok``) a plan gives."""
    counts = {"names": len(plan["expected"]), "ok": 0}
    for statuses in plan["expected"].values():
        counts["ok"] += not statuses
        for status in statuses:
            counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def health_counts(instances):
    counts = {}
    for instance in instances:
        if instance["health"]:
            counts[instance["health"]] = counts.get(instance["health"], 0) + 1
    return dict(sorted(counts.items()))


def filler_counts():
    return {"staff_users": STAFF_USERS, "workstations": WORKSTATIONS, "application_accounts": APP_ACCOUNTS}
