# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure the fix path: playbooks/site.yml fixing the bench estate's drift,
next to the floor, the same changes as one LDIF applied by one ldapmodify.

For each size and round the directory is reset to the same drift first (the
recorded values of the changed entries written back into the domain
partition file, as populate.py wrote the legacy duplicates), then each kind
runs once, in a shuffled order, each after a reset:

- site: ``ansible-playbook playbooks/site.yml`` end to end (apply mode), its
  write phase (the apply steps) timed from the task clock
  (callback_plugins/bench_timing.py);
- floor: ``ldapmodify -c`` of the LDIF generate mode writes, completed with
  what it leaves out (said in the results);

each on loopback and through the counting relay (latency_proxy.py --count,
the DC --rtt-ms away), which counts the LDAP requests that reach the DC:
searches, modifies, failed writes and repeated writes (retries), per task.
Also per run: the DC's CPU and the highestCommittedUSN delta. Results:
bench/results/fixpath.json and fixpath.md.

Runs inside the bench lab's network namespace (bench/bench.sh does that).
"""

import argparse
import base64
import datetime
import json
import os
import random
import subprocess
import sys
import time

import estate
from measure import (REPO, HERE, Failure, dc_cpu_seconds, describe, fmt, launch_relay, open_session, stop_relay,
                     write_json)

SIZES = (100, 1000)
DEFAULT_REPEATS = {100: 3, 1000: 3}
QUICK_REPEATS = {100: 1, 1000: 1}
# --quick: the fix path at 100 instances and the drift report at 1,000, one round each.
QUICK_SIZES = "100"
QUICK_AUDIT_SIZES = "1000"
RTT_MS = 10
RELAY_PORT = 10637
TIMEOUT = 1800
# The attributes the fix path writes; the state compared and reset.
ATTRIBUTES = ("servicePrincipalName", "nTSecurityDescriptor", "msDS-SupportedEncryptionTypes",
              "msDS-AllowedToActOnBehalfOfOtherIdentity", "msDS-AllowedToDelegateTo", "userAccountControl")
# The task files of the write phase (sql_kerberos' apply.yml and the roles it runs).
WRITE_PHASE_FILES = ("sql_kerberos/tasks/apply.yml", "spn_write_acl/tasks/", "spn_registration/tasks/",
                     "linked_server_delegation/tasks/")
KINDS = ("site", "floor")


DRIFT_RECORD = "bench-fixpath-drift.json"


def partition_file(lab):
    return os.path.join(lab, "private", "sam.ldb.d", "%s.ldb" % estate.BASE_DN.upper())


def parse_ldif(text):
    """{dn (lower case): {attribute (lower case): sorted [bytes]}} of ldbsearch's output."""
    entries = {}
    for block in text.replace("\n ", "").split("\n\n"):
        dn, values = None, {}
        for line in block.splitlines():
            if not line or line.startswith("#") or ":" not in line:
                continue
            name, dummy, rest = line.partition(":")
            value = base64.b64decode(rest[2:]) if rest.startswith(":") else rest[1:].encode("utf-8")
            if name.lower() == "dn":
                dn = value.decode("utf-8")
            else:
                values.setdefault(name.lower(), []).append(value)
        if dn:
            entries[dn.lower()] = {"dn": dn, "values": {k: sorted(v) for k, v in values.items()}}
    return entries


class FixBench:
    def __init__(self, options):
        self.options = options
        self.lab = options.lab
        session = open_session(self.lab, "fixpath-work")
        self.work, self.connection, self.population = session.work, session.connection, session.population
        self.instances, self.password_file, self.env = session.instances, session.password_file, session.env
        self.env.update(ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
                        ANSIBLE_CALLBACKS_ENABLED="bench_timing", PYTHONWARNINGS="ignore:DSA is deprecated")
        self.pre = None
        self.relay = None
        self.counts_file = os.path.join(self.work, "relay-counts.jsonl")
        self.prepared = {}
        self.notes = []

    def tool(self, name):
        return os.path.join(os.path.dirname(sys.executable), name)

    # -- the directory's state, and its reset ------------------------------------

    def dump(self, ldb_filter="(objectClass=*)"):
        result = subprocess.run(["ldbsearch", "-H", partition_file(self.lab), "-b", estate.BENCH_OU.upper(),
                                 "-s", "sub", ldb_filter] + list(ATTRIBUTES),
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise Failure("ldbsearch failed: %s" % result.stderr[-2000:])
        return parse_ldif(result.stdout)

    def load_drift(self):
        """The drift every run starts from: the bench OU's entries as the
        population left them, recorded in the lab directory on the first run
        (before any fix) with the USN then; returns that USN."""
        path = os.path.join(self.lab, DRIFT_RECORD)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
            if record["population"] == self.population:
                self.pre = {key: {"dn": entry["dn"], "values": {
                    attribute: [base64.b64decode(v) for v in values] for attribute, values in entry["values"].items()}}
                    for key, entry in record["entries"].items()}
                return record["usn"]
        print("fixpath: recording the drift (the bench OU's entries, once)", flush=True)
        usn = self.usn()
        self.pre = self.dump()
        record = {"population": self.population, "usn": usn, "entries": {
            key: {"dn": entry["dn"], "values": {attribute: [base64.b64encode(v).decode("ascii") for v in values]
                                                for attribute, values in entry["values"].items()}}
            for key, entry in self.pre.items()}}
        write_json(path, record)
        return usn

    def usn(self):
        result = subprocess.run(["ldapsearch", "-LLL", "-x", "-H", "ldap://%s" % self.connection["SQLAUTH_LDAP_SERVER"],
                                 "-b", "", "-s", "base", "highestCommittedUSN"],
                                capture_output=True, text=True, env=self.env, check=False)
        for line in result.stdout.splitlines():
            if line.startswith("highestCommittedUSN:"):
                return int(line.split(":")[1])
        raise Failure("rootDSE: no highestCommittedUSN: %s" % result.stderr)

    def changed_since(self, usn):
        return self.dump("(uSNChanged>=%d)" % (usn + 1))

    def differences(self, now):
        """{(dn lower, attribute lower): (before, after)} where ``now`` differs from the recorded drift."""
        changes = {}
        for key, entry in now.items():
            before = self.pre.get(key, {"values": {}})["values"]
            for attribute in {a.lower() for a in ATTRIBUTES}:
                if before.get(attribute, []) != entry["values"].get(attribute, []):
                    changes[(key, attribute)] = (before.get(attribute, []), entry["values"].get(attribute, []))
        return changes

    def reset(self, since_usn):
        """Write the recorded drift back into every entry changed since ``since_usn``."""
        started = time.perf_counter()
        now = self.changed_since(since_usn)
        unknown = sorted(key for key in now if key not in self.pre)
        if unknown:
            raise Failure("entries changed outside the recorded drift, not reset: %s" % unknown[:5])
        changes = self.differences(now)
        records = {}
        for (key, attribute), (before, dummy) in sorted(changes.items()):
            name = next(a for a in ATTRIBUTES if a.lower() == attribute)
            lines = ["%s: %s" % ("replace" if before else "delete", name)]
            lines += ["%s:: %s" % (name, base64.b64encode(value).decode("ascii")) for value in before]
            records.setdefault(key, []).append("\n".join(lines) + "\n-")
        ldif = "".join("dn: %s\nchangetype: modify\n%s\n\n" % (now[key]["dn"], "\n".join(parts))
                       for key, parts in records.items())
        if ldif:
            result = subprocess.run(["ldbmodify", "-H", partition_file(self.lab)], input=ldif,
                                    capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise Failure("reset failed: %s" % (result.stderr or result.stdout)[-2000:])
        left = self.differences(self.changed_since(since_usn))
        if left:
            raise Failure("reset left %d differences, e.g. %s" % (len(left), sorted(left)[:3]))
        return {"seconds": time.perf_counter() - started, "attributes": len(changes), "entries": len(records)}

    # -- preparation ----------------------------------------------------------------

    def prepare(self, size):
        chosen = self.instances[:size]
        pairs = estate.linked_pairs(chosen)
        links = {}
        for front, back in pairs:
            links.setdefault(front["index"], []).append(estate.sql_name(back))
        hosts = {}
        for instance in chosen:
            entry = dict(estate.inventory_entry(instance), allow_spn_move=True)
            if instance["index"] in links:
                entry["linked_servers"] = links[instance["index"]]
            hosts[instance["host"]] = {"sqlauth_instances": [entry]}
        inventory = os.path.join(self.work, "inventory-%d.json" % size)
        write_json(inventory, {"sql_servers": {"hosts": hosts, "vars": {
            "sql_kerberos_manage_ports": False,
            "sql_kerberos_remove_stale_spns": True,
            "sql_kerberos_dns_options": {"dns_servers": ["127.0.0.1"]},
        }}})
        self.prepared[size] = {"inventory": inventory, "pairs": len(pairs)}

    def relay_env(self, wan):
        return dict(self.env, SQLAUTH_LDAP_PORT=str(RELAY_PORT)) if wan else self.env

    def start_relay(self, rtt_ms):
        tls = os.path.join(self.lab, "private", "tls")
        arguments = ["--rtt-ms", str(rtt_ms), "--map", "%d:636" % RELAY_PORT, "--count", self.counts_file,
                     "--tls-cert", os.path.join(tls, "cert.pem"), "--tls-key", os.path.join(tls, "key.pem"),
                     "--ca", os.path.join(tls, "ca.pem"), "--server-name", self.connection["SQLAUTH_LDAP_SERVER"]]
        self.relay = launch_relay(sys.executable, arguments, "the counting relay")

    def stop_relay(self):
        self.relay = stop_relay(self.relay)

    def generate_floor(self, size, base_usn):
        """The floor's LDIF: generate mode's, completed with what site.yml
        changes and it leaves out, less what site.yml does not change."""
        inventory = self.prepared[size]["inventory"]
        report_dir = os.path.join(self.work, "generate-%d" % size)
        self.ansible(["ansible-playbook", "-i", inventory, os.path.join(REPO, "playbooks", "drift_report.yml"),
                      "-e", "sql_kerberos_mode=generate", "-e", "sql_kerberos_fail_on_drift=false",
                      "-e", "sql_kerberos_report_dir=%s" % report_dir], self.env, "generate-%d" % size)
        with open(os.path.join(report_dir, "fix-ad.ldif"), encoding="utf-8") as handle:
            generated = handle.read()
        # What site.yml changes, from one run.
        self.reset(base_usn)
        sample = self.run_site(size, wan=False)
        site_changes = self.differences(self.changed_since(base_usn))
        dacls = self.read_dacls([self.pre.get(key, {"dn": key})["dn"] for key, attribute in site_changes
                                 if attribute == "ntsecuritydescriptor"])
        self.reset(base_usn)
        # What generate mode's LDIF changes.
        floor_path = os.path.join(self.work, "floor-generated-%d.ldif" % size)
        with open(floor_path, "w", encoding="utf-8") as handle:
            handle.write(generated)
        self.run_floor(floor_path, wan=False, check=False)
        generated_changes = self.differences(self.changed_since(base_usn))
        self.reset(base_usn)
        # Keep generate mode's records whose changes came out as site.yml's;
        # replace the others (refused or different) and add what it left out.
        same = {k for k, (dummy, after) in site_changes.items() if generated_changes.get(k, (None, None))[1] == after}
        kept, dropped = [], []
        for block in generated.split("\n\n"):
            lines = [line for line in block.splitlines() if line and not line.startswith("#")]
            if not lines:
                continue
            dn = lines[0].split(":", 1)[1].strip().lower()
            touched = {line.split(":", 1)[1].strip().lower() for line in lines
                       if line.split(":", 1)[0] in ("add", "delete", "replace")}
            if all((dn, attribute) in same for attribute in touched):
                kept.append("\n".join(lines) + "\n")
            else:
                dropped.append((dn, sorted(touched)))
        added = [k for k in sorted(site_changes) if k not in same]
        for key, attribute in added:
            dn = self.pre.get(key, {"dn": key})["dn"]
            name = next(a for a in ATTRIBUTES if a.lower() == attribute)
            record = ["dn: %s" % dn]
            if attribute == "ntsecuritydescriptor":
                # As spn_acl writes it: the DACL only (LDAP_SERVER_SD_FLAGS_OID, DACL_SECURITY_INFORMATION).
                record += ["control: 1.2.840.113556.1.4.801 true:: MAMCAQQ=", "changetype: modify",
                           "replace: %s" % name, "%s:: %s" % (name, base64.b64encode(dacls[dn.lower()]).decode())]
            else:
                after = site_changes[(key, attribute)][1]
                record += ["changetype: modify", "replace: %s" % name]
                record += ["%s:: %s" % (name, base64.b64encode(value).decode("ascii")) for value in after]
            kept.append("\n".join(record + ["-"]) + "\n")
        path = os.path.join(self.work, "floor-%d.ldif" % size)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(kept))
        by_attribute = {}
        for dummy, attribute in added:
            by_attribute[attribute] = by_attribute.get(attribute, 0) + 1
        self.prepared[size].update(floor=path, site_changes=len(site_changes),
                                   site_changed_entries=len({key for key, dummy in site_changes}),
                                   site_changes_by_attribute=count_by_attribute(site_changes),
                                   generated_records=sum(1 for b in generated.split("\n\n") if "changetype:" in b),
                                   floor_added=by_attribute, floor_dropped=dropped[:20],
                                   floor_dropped_count=len(dropped), floor_records=len(kept),
                                   first_site=sample)
        # The completed floor makes exactly site.yml's changes.
        self.run_floor(path, wan=False)
        floor_changes = self.differences(self.changed_since(base_usn))
        self.reset(base_usn)
        mismatch = {k for k in set(floor_changes) | set(site_changes)
                    if floor_changes.get(k, (None, None))[1] != site_changes.get(k, (None, None))[1]}
        self.prepared[size]["floor_mismatch"] = sorted("%s %s" % k for k in mismatch)[:20]
        if mismatch:
            self.notes.append("%d: the floor's changes differ from site.yml's on %d attributes, e.g. %s"
                              % (size, len(mismatch), sorted(mismatch)[:3]))

    def read_dacls(self, dns):
        """{dn lower: the DACL-only security descriptor} as LDAP returns it (read after site.yml's run)."""
        import ldap3
        from ldap3.protocol.microsoft import security_descriptor_control
        if not dns:
            return {}
        tls = ldap3.Tls(ca_certs_file=self.connection["SQLAUTH_LDAP_CA_CERT"])
        server = ldap3.Server(self.connection["SQLAUTH_LDAP_SERVER"], port=636, use_ssl=True, tls=tls)
        connection = ldap3.Connection(server, self.connection["SQLAUTH_LDAP_USERNAME"],
                                      self.connection["SQLAUTH_LDAP_PASSWORD"], auto_bind=True)
        found = {}
        for dn in dns:
            connection.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["nTSecurityDescriptor"],
                              controls=security_descriptor_control(sdflags=4))
            found[dn.lower()] = connection.response[0]["raw_attributes"]["nTSecurityDescriptor"][0]
        connection.unbind()
        return found

    # -- runs -------------------------------------------------------------------------

    def ansible(self, argv, env, label, timing=None):
        out = os.path.join(self.work, "last-%s.out" % label)
        env = dict(env, SQLAUTH_BENCH_TIMING=timing) if timing else env
        with open(out, "wb") as handle:
            result = subprocess.run([self.tool(argv[0])] + argv[1:], stdout=handle, stderr=subprocess.STDOUT,
                                    env=env, cwd=self.work, timeout=TIMEOUT, check=False)
        with open(out, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if result.returncode != 0:
            raise Failure("%s exited %d:\n%s" % (label, result.returncode, text[-4000:]))
        return text

    def measured(self, function):
        """Run ``function``; seconds, DC CPU, USN delta and the relay's counts."""
        if os.path.exists(self.counts_file):
            os.remove(self.counts_file)
        usn_before = self.usn()
        cpu_before = dc_cpu_seconds(self.lab)
        started = time.perf_counter()
        wall_started = time.time()
        extra = function() or {}
        seconds = time.perf_counter() - started
        cpu_after = dc_cpu_seconds(self.lab)
        time.sleep(0.2)  # the relay writes a connection's line when it closes
        connections = []
        if os.path.exists(self.counts_file):
            with open(self.counts_file, encoding="utf-8") as handle:
                connections = [json.loads(line) for line in handle if line.strip()]
        sample = {"seconds": seconds, "dc_cpu_s": cpu_after - cpu_before, "usn_delta": self.usn() - usn_before,
                  "started": wall_started}
        sample.update(extra)
        if connections:
            sample["ldap"] = ldap_counts(connections)
            sample["connections"] = connections
        return sample

    def run_site(self, size, wan):
        timing = os.path.join(self.work, "timing.jsonl")
        if os.path.exists(timing):
            os.remove(timing)
        report_dir = os.path.join(self.work, "site-report-%d" % size)
        argv = ["ansible-playbook", "-i", self.prepared[size]["inventory"], os.path.join(REPO, "playbooks", "site.yml"),
                "-e", "sql_kerberos_fail_on_drift=false", "-e", "sql_kerberos_report_dir=%s" % report_dir]

        def run():
            output = self.ansible(argv, self.relay_env(wan), "site-%d" % size, timing)
            if " failed=0 " not in output:
                raise Failure("site.yml over %d instances failed:\n%s" % (size, output[-3000:]))
            with open(timing, encoding="utf-8") as handle:
                return {"tasks": [json.loads(line) for line in handle]}

        sample = self.measured(run)
        tasks = sample.pop("tasks")
        sample["write_phase_s"], sample["write_phase_tasks"] = write_phase(tasks)
        sample["slowest_tasks"] = task_durations(tasks)[:8]
        if "connections" in sample:
            sample["per_task"] = per_task(tasks, sample.pop("connections"))
        return sample

    def run_floor(self, path, wan, check=True):
        port = ":%d" % RELAY_PORT if wan else ""
        argv = ["ldapmodify", "-c", "-H", "ldaps://%s%s" % (self.connection["SQLAUTH_LDAP_SERVER"], port), "-x",
                "-D", self.connection["SQLAUTH_LDAP_USERNAME"], "-y", self.password_file, "-f", path]

        def run():
            result = subprocess.run(argv, capture_output=True, text=True, env=self.env, check=False)
            if check and result.returncode != 0:
                raise Failure("ldapmodify of %s exited %d: %s" % (path, result.returncode, result.stderr[-2000:]))
            return {"ldapmodify_errors": result.stderr.count("ldap_modify:")}

        sample = self.measured(run)
        sample.pop("connections", None)
        return sample

    def run_audit(self, kind, size, wan):
        """The drift report (every check it runs, in report mode) or the
        empty play over the same inventory; peak RSS from GNU time."""
        timing = os.path.join(self.work, "timing.jsonl")
        if os.path.exists(timing):
            os.remove(timing)
        report_dir = os.path.join(self.work, "audit-report-%d" % size)
        rusage = os.path.join(self.work, "rusage")
        playbook = os.path.join(REPO, "playbooks", "drift_report.yml") if kind == "drift_report" else \
            os.path.join(HERE, "empty_play.yml")
        argv = ["/usr/bin/time", "-f", "%M", "-o", rusage, self.tool("ansible-playbook"), "-i",
                self.prepared[size]["inventory"], playbook, "-e", "sql_kerberos_fail_on_drift=false",
                "-e", "sql_kerberos_report_dir=%s" % report_dir]

        def run():
            out = os.path.join(self.work, "last-%s-%d.out" % (kind, size))
            with open(out, "wb") as handle:
                result = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, cwd=self.work, timeout=TIMEOUT,
                                        env=dict(self.relay_env(wan), SQLAUTH_BENCH_TIMING=timing), check=False)
            if result.returncode != 0:
                with open(out, encoding="utf-8", errors="replace") as handle:
                    raise Failure("%s over %d hosts exited %d:\n%s"
                                  % (kind, size, result.returncode, handle.read()[-3000:]))
            with open(rusage, encoding="utf-8") as handle:
                extra = {"max_rss_mb": int(handle.read().split()[-1]) / 1024.0}
            if kind == "drift_report":
                with open(os.path.join(report_dir, "drift-report.json"), encoding="utf-8") as handle:
                    summary = json.load(handle)["summary"]
                if summary["instances"] != size:
                    raise Failure("the drift report over %d hosts covered %s instances" % (size, summary["instances"]))
                extra["instances_with_drift"] = summary["instances_with_drift"]
            with open(timing, encoding="utf-8") as handle:
                extra["tasks"] = [json.loads(line) for line in handle]
            return extra

        sample = self.measured(run)
        tasks = sample.pop("tasks")
        sample["slowest_tasks"] = task_durations(tasks)[:6]
        if "connections" in sample:
            sample["per_task"] = per_task(tasks, sample.pop("connections"))
        return sample

    def measure_audit(self, sizes, repeats):
        samples = {}
        order = random.Random(self.population["seed"])
        for repetition in range(max(repeats.values())):
            plan = [(kind, size, False) for size in sizes if repetition < repeats[size]
                    for kind in ("drift_report", "empty_play")]
            if repetition == 0:
                plan += [("drift_report", size, True) for size in sizes]
            order.shuffle(plan)
            print("audit round %d/%d" % (repetition + 1, max(repeats.values())), flush=True)
            for kind, size, wan in plan:
                sample = self.run_audit(kind, size, wan)
                sample["round"] = repetition
                samples.setdefault("%s@%d%s" % (kind, size, "@wan" if wan else ""), []).append(sample)
                print("  %-12s %5d %-8s %7.2f s  %6.0f MB  DC CPU %.2f s  USN +%d%s" % (
                    kind, size, "relay" if wan else "loopback", sample["seconds"], sample["max_rss_mb"],
                    sample["dc_cpu_s"], sample["usn_delta"],
                    "  %s" % json.dumps(sample["ldap"]["totals"]) if "ldap" in sample else ""), flush=True)
        return samples

    def measure(self, sizes, repeats, base_usn):
        samples = {}
        order = random.Random(self.population["seed"])
        resets = []
        for repetition in range(max(repeats.values())):
            plan = [(kind, size, wan) for size in sizes if repetition < repeats[size]
                    for kind in KINDS for wan in (False, True)]
            order.shuffle(plan)
            print("round %d/%d" % (repetition + 1, max(repeats.values())), flush=True)
            for kind, size, wan in plan:
                resets.append(self.reset(base_usn))
                if kind == "site":
                    sample = self.run_site(size, wan)
                else:
                    sample = self.run_floor(self.prepared[size]["floor"], wan)
                sample["round"] = repetition
                samples.setdefault("%s@%d%s" % (kind, size, "@wan" if wan else ""), []).append(sample)
                print("  %-5s %5d %-8s %7.2f s%s  DC CPU %.2f s  USN +%d%s" % (
                    kind, size, "relay" if wan else "loopback", sample["seconds"],
                    "  (write phase %.2f s)" % sample["write_phase_s"] if kind == "site" else "",
                    sample["dc_cpu_s"], sample["usn_delta"],
                    "  %s" % json.dumps(sample["ldap"]["totals"]) if "ldap" in sample else ""), flush=True)
        self.reset(base_usn)
        return samples, resets


def count_by_attribute(changes):
    counts = {}
    for dummy, attribute in changes:
        counts[attribute] = counts.get(attribute, 0) + 1
    return counts


def ldap_counts(connections):
    """Totals of the relay's connections: requests by operation, modifies,
    failed writes, retries (a modify of an entry's attribute whose last
    modify in the run failed) and repeats (one that an earlier, successful
    modify of the run already wrote: a second write of the same value set)."""
    totals = {"connections": len(connections), "binds": 0, "searches": 0, "modifies": 0, "other": 0,
              "failed_writes": 0, "retries": 0, "repeats": 0}
    last = {}
    for connection in sorted(connections, key=lambda c: c["opened"]):
        for name, count in connection["requests"].items():
            key = {"bind": "binds", "search": "searches", "modify": "modifies"}.get(name)
            if key:
                totals[key] += count
            elif name != "unbind":
                totals["other"] += count
        totals["failed_writes"] += sum(1 for code in connection["write_results"] if code != 0)
        for (dn, attributes), code in zip(connection["modifies"], connection["write_results"]):
            if code != 0 and len(totals.setdefault("failed_examples", [])) < 5:
                totals["failed_examples"].append([dn, [a for dummy, a in attributes], code])
        codes = connection["write_results"] + [None] * len(connection["modifies"])
        for (dn, attributes), code in zip(connection["modifies"], codes):
            keys = {(dn.lower(), attribute.lower()) for dummy, attribute in attributes}
            before = [last[key] for key in keys if key in last]
            if any(result != 0 for result in before):
                totals["retries"] += 1
            elif before:
                totals["repeats"] += 1
            for key in keys:
                last[key] = code
    return {"totals": totals}


def write_phase(tasks):
    """Seconds from the first task of the apply steps to the first task after them."""
    start = end = None
    names = []
    for number, task in enumerate(tasks):
        if any(part in task.get("path", "") for part in WRITE_PHASE_FILES):
            if start is None:
                start = task["time"]
            names.append(task["name"])
            end = tasks[number + 1]["time"] if number + 1 < len(tasks) else task["time"]
    return (end - start if start is not None else None), names


def task_durations(tasks):
    """[(seconds, task name)] of a run, slowest first."""
    spans = [(tasks[n + 1]["time"] - t["time"], t["name"]) for n, t in enumerate(tasks[:-1]) if t.get("event") == "task"]
    return sorted(spans, reverse=True)


def per_task(tasks, connections):
    """Each relay connection given to the task that was running when it opened."""
    result = []
    for number, task in enumerate(tasks):
        if task.get("event") != "task":
            continue
        until = tasks[number + 1]["time"] if number + 1 < len(tasks) else float("inf")
        mine = [c for c in connections if task["time"] <= c["opened"] < until]
        if mine:
            counts = ldap_counts(mine)["totals"]
            counts.update(task=task["name"], action=task.get("action"))
            result.append(counts)
    return result


def summarize(samples, sizes, prepared):
    results = {"sizes": list(sizes), "kinds": {}, "ratios": {}, "prepared": prepared}
    for key, items in samples.items():
        results["kinds"][key] = {
            "seconds": describe([s["seconds"] for s in items]),
            "write_phase_s": describe([s["write_phase_s"] for s in items]) if "write_phase_s" in items[0] else None,
            "dc_cpu_s": describe([s["dc_cpu_s"] for s in items]),
            "usn_delta": sorted({s["usn_delta"] for s in items}),
            "ldap": items[-1].get("ldap"), "per_task": items[-1].get("per_task"),
            "slowest_tasks": items[-1].get("slowest_tasks"),
            "ldap_all_rounds": sorted({json.dumps(s["ldap"]["totals"], sort_keys=True) for s in items if "ldap" in s}),
            "samples": items,
        }
    for size in sizes:
        for wan in ("", "@wan"):
            site = {s["round"]: s for s in samples.get("site@%d%s" % (size, wan), [])}
            floor = {s["round"]: s for s in samples.get("floor@%d%s" % (size, wan), [])}
            both = [r for r in site if r in floor]
            results["ratios"]["%d%s" % (size, wan)] = {
                "write_phase/floor": describe([site[r]["write_phase_s"] / floor[r]["seconds"] for r in both])
                if both else None,
                "site/floor": describe([site[r]["seconds"] / floor[r]["seconds"] for r in both]) if both else None,
            }
    return results


def targets(results):
    checks = []
    size = 1000
    if "site@%d@wan" % size not in results["kinds"]:
        return checks
    prepared = results["prepared"][size]
    ratio = results["ratios"]["%d@wan" % size]["write_phase/floor"]
    if ratio:
        checks.append({"target": "write phase <= 3x the floor, DC 10 ms away (1,000 instances)",
                       "value": "%.2fx" % ratio["median"], "met": ratio["median"] <= 3})
    ldap = results["kinds"]["site@%d@wan" % size]["ldap"]["totals"]
    modifies = ldap["modifies"] - ldap["retries"]
    checks.append({"target": "modifies <= one per changed account and attribute (retries apart)",
                   "value": "%d modifies (+%d retries, %d failed writes) for %d changed attributes of %d entries"
                            % (modifies, ldap["retries"], ldap["failed_writes"], prepared["site_changes"],
                               prepared["site_changed_entries"]),
                   "met": modifies <= prepared["site_changes"]})
    worst = []
    for task in results["kinds"]["site@%d@wan" % size]["per_task"] or []:
        small = next((t for t in results["kinds"].get("site@100@wan", {}).get("per_task") or []
                      if t["task"] == task["task"]), None)
        # searches = a + b * instances: from 100 and 1,000 instances, b per 200 instances.
        if small:
            per_200 = 200.0 * (task["searches"] - small["searches"]) / 900
            worst.append((per_200, task["task"], small["searches"], task["searches"]))
    if worst:
        per_200, name, small, large = max(worst)
        checks.append({"target": "searches of each module call <= 1 per 200 instances plus a constant",
                       "value": "largest growth %.2f per 200 instances (%s: %d at 100, %d at 1,000); %d searches "
                                "per site.yml run at 1,000" % (per_200, name, small, large, ldap["searches"]),
                       "met": per_200 <= 1.0})
    return checks


def markdown(results, checks, context, resets):
    lines = []
    sizes = results["sizes"]
    head = "| measure | " + " | ".join("%s instances" % format(s, ",") for s in sizes) + " |"
    lines += [head, "|---|" + "---|" * len(sizes)]

    def row(label, cell):
        lines.append("| %s | %s |" % (label, " | ".join(cell(s) for s in sizes)))

    def kind(key):
        return results["kinds"].get(key) or {}

    row("changes to make: attributes (entries)", lambda s: "%d (%d)" % (
        results["prepared"][s]["site_changes"], results["prepared"][s]["site_changed_entries"]))
    row("changes by attribute", lambda s: ", ".join("%s %d" % item for item in sorted(
        results["prepared"][s]["site_changes_by_attribute"].items())))
    row("linked-server pairs", lambda s: str(results["prepared"][s]["pairs"]))
    row("floor LDIF: records (generate mode's records; added by the bench; dropped)", lambda s: "%d (%d; %s; %d)" % (
        results["prepared"][s]["floor_records"], results["prepared"][s]["generated_records"],
        ", ".join("%s %d" % i for i in sorted(results["prepared"][s]["floor_added"].items())) or "none",
        results["prepared"][s]["floor_dropped_count"]))
    for wan, where in (("", "loopback"), ("@wan", "DC %d ms away" % RTT_MS)):
        row("site.yml end to end, %s, s" % where, lambda s: fmt(kind("site@%d%s" % (s, wan)).get("seconds")))
        row("site.yml write phase, %s, s" % where, lambda s: fmt(kind("site@%d%s" % (s, wan)).get("write_phase_s")))
        row("floor: ldapmodify of one LDIF, %s, s" % where, lambda s: fmt(kind("floor@%d%s" % (s, wan)).get("seconds")))
        row("ratio write phase / floor, %s" % where,
            lambda s: fmt(results["ratios"]["%d%s" % (s, wan)]["write_phase/floor"]))
        row("ratio site.yml / floor, %s" % where, lambda s: fmt(results["ratios"]["%d%s" % (s, wan)]["site/floor"]))
    for name in ("site", "floor"):
        row("%s: DC CPU, s (loopback)" % name, lambda s: fmt(kind("%s@%d" % (name, s)).get("dc_cpu_s")))
        row("%s: highestCommittedUSN delta" % name,
            lambda s: "/".join(map(str, kind("%s@%d" % (name, s)).get("usn_delta") or [])))
        for field in ("searches", "modifies", "retries", "repeats", "failed_writes", "binds", "connections"):
            row("%s: LDAP %s (relay count)" % (name, field.replace("_", " ")),
                lambda s: str(((kind("%s@%d@wan" % (name, s)).get("ldap") or {}).get("totals") or {}).get(field, "-")))
    row("site.yml's slowest tasks, DC %d ms away, s" % RTT_MS, lambda s: "; ".join(
        "%s %.1f" % (n.split(" : ")[-1], t) for t, n in (kind("site@%d@wan" % s).get("slowest_tasks") or [])[:5]))
    lines.append("")
    lines.append("Per module call (relay count, DC %d ms away; searches / modifies / retries):" % RTT_MS)
    lines.append("")
    lines += ["| task | " + " | ".join("%s instances" % format(s, ",") for s in sizes) + " |",
              "|---|" + "---|" * len(sizes)]
    names = []
    for s in sizes:
        for task in kind("site@%d@wan" % s).get("per_task") or []:
            if task["task"] not in names:
                names.append(task["task"])
    for name in names:
        cells = []
        for s in sizes:
            task = next((t for t in kind("site@%d@wan" % s).get("per_task") or [] if t["task"] == name), None)
            cells.append("%d / %d / %d" % (task["searches"], task["modifies"], task["retries"]) if task else "-")
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    if checks:
        lines += ["", "| target at 1,000 instances | measured | met |", "|---|---|---|"]
        lines += ["| %s | %s | %s |" % (c["target"], c["value"], "yes" if c["met"] else "**no**") for c in checks]
    if resets:
        lines += ["", "Reset to the drift before each run: %s s median (%d attributes of %d entries at most)." % (
            "%.2f" % describe([r["seconds"] for r in resets])["median"], max(r["attributes"] for r in resets),
            max(r["entries"] for r in resets))]
    for note in results.get("notes") or []:
        lines.append("Note: %s" % note)
    lines += ["", "Run: %s" % ", ".join("%s %s" % item for item in context.items())]
    return "\n".join(lines) + "\n"


def summarize_audit(samples, sizes):
    results = {"sizes": list(sizes), "kinds": {}, "ratios": {}}
    for key, items in samples.items():
        results["kinds"][key] = {
            "seconds": describe([s["seconds"] for s in items]),
            "max_rss_mb": max(s["max_rss_mb"] for s in items),
            "dc_cpu_s": describe([s["dc_cpu_s"] for s in items]),
            "usn_delta": sorted({s["usn_delta"] for s in items}),
            "ldap": items[-1].get("ldap"), "per_task": items[-1].get("per_task"),
            "slowest_tasks": items[-1].get("slowest_tasks"), "samples": items,
        }
    for size in sizes:
        drift = {s["round"]: s for s in samples.get("drift_report@%d" % size, [])}
        empty = {s["round"]: s for s in samples.get("empty_play@%d" % size, [])}
        both = [r for r in drift if r in empty]
        results["ratios"][str(size)] = describe([drift[r]["seconds"] / empty[r]["seconds"] for r in both]) \
            if both else None
    return results


def round_trips(task):
    return task["searches"] + task["modifies"] + task["other"]


def audit_targets(audit):
    checks = []
    kinds = audit["kinds"]
    if not audit["sizes"]:
        return checks
    small, large = min(audit["sizes"]), max(audit["sizes"])
    tasks_small = {t["task"]: t for t in (kinds.get("drift_report@%d@wan" % small) or {}).get("per_task") or []}
    tasks_large = (kinds.get("drift_report@%d@wan" % large) or {}).get("per_task") or []
    if small != large and tasks_large:
        slopes = [(200.0 * (round_trips(t) - round_trips(tasks_small[t["task"]])) / (large - small), t["task"],
                   round_trips(tasks_small[t["task"]]), round_trips(t)) for t in tasks_large if t["task"] in tasks_small]
        total = [round_trips(kinds["drift_report@%d@wan" % n]["ldap"]["totals"]) for n in (small, large)]
        slope, name, at_small, at_large = max(slopes)
        checks.append({"target": "audit: LDAP round trips <= 1 per 200 instances plus a constant (each module call)",
                       "value": "largest growth %.2f per 200 instances (%s: %d at %s, %d at %s); all calls %d at %s, "
                                "%d at %s (%.2f per 200 instances)" % (
                                    slope, name, at_small, format(small, ","), at_large, format(large, ","),
                                    total[0], format(small, ","), total[1], format(large, ","),
                                    200.0 * (total[1] - total[0]) / (large - small)),
                       "met": slope <= 1.0})
    for size, limit in ((1000, 10), (5000, 30)):
        stat = (kinds.get("drift_report@%d" % size) or {}).get("seconds")
        if stat:
            checks.append({"target": "drift report over %s hosts <= %d s on %d cores" % (
                format(size, ","), limit, os.cpu_count()),
                "value": "%.1f s (%.1f-%.1f); %.1fx the empty play" % (
                    stat["median"], stat["min"], stat["max"], (audit["ratios"].get(str(size)) or {"median": 0})["median"]),
                "met": stat["median"] <= limit})
    if "drift_report@5000" in kinds:
        rss = kinds["drift_report@5000"]["max_rss_mb"]
        checks.append({"target": "drift report over 5,000 hosts: peak memory < 1 GiB",
                       "value": "%.0f MB (the largest process)" % rss, "met": rss < 1024})
    return checks


def audit_markdown(audit, checks):
    sizes = audit["sizes"]
    kinds = audit["kinds"]
    lines = ["| measure | " + " | ".join("%s hosts" % format(s, ",") for s in sizes) + " |",
             "|---|" + "---|" * len(sizes)]

    def row(label, cell):
        lines.append("| %s | %s |" % (label, " | ".join(cell(s) for s in sizes)))

    row("drift report, end to end, loopback, s", lambda s: fmt((kinds.get("drift_report@%d" % s) or {}).get("seconds")))
    row("empty play over the same inventory, s", lambda s: fmt((kinds.get("empty_play@%d" % s) or {}).get("seconds")))
    row("ratio drift report / empty play", lambda s: fmt(audit["ratios"].get(str(s))))
    row("drift report, DC %d ms away (one run), s" % RTT_MS,
        lambda s: fmt((kinds.get("drift_report@%d@wan" % s) or {}).get("seconds")))
    row("peak RSS, drift report, MB", lambda s: "%.0f" % (kinds.get("drift_report@%d" % s) or {"max_rss_mb": 0})["max_rss_mb"])
    row("peak RSS, empty play, MB", lambda s: "%.0f" % (kinds.get("empty_play@%d" % s) or {"max_rss_mb": 0})["max_rss_mb"])
    row("DC CPU, drift report, s", lambda s: fmt((kinds.get("drift_report@%d" % s) or {}).get("dc_cpu_s")))
    row("highestCommittedUSN delta", lambda s: "/".join(map(str, (kinds.get("drift_report@%d" % s) or {}).get(
        "usn_delta") or [])))
    row("LDAP round trips, all calls (+ binds), relay count", lambda s: "%d (+%d)" % (
        round_trips(kinds["drift_report@%d@wan" % s]["ldap"]["totals"]),
        kinds["drift_report@%d@wan" % s]["ldap"]["totals"]["binds"]) if "drift_report@%d@wan" % s in kinds else "-")
    names = []
    for s in sizes:
        for task in (kinds.get("drift_report@%d@wan" % s) or {}).get("per_task") or []:
            if task["task"] not in names:
                names.append(task["task"])
    for name in names:
        def cell(s, name=name):
            task = next((t for t in (kinds.get("drift_report@%d@wan" % s) or {}).get("per_task") or []
                         if t["task"] == name), None)
            return "%d" % round_trips(task) if task else "-"
        row("round trips: %s" % name, cell)
    row("slowest tasks, s", lambda s: "; ".join("%s %.1f" % (n.split(" : ")[-1], t) for t, n in (
        (kinds.get("drift_report@%d" % s) or {}).get("slowest_tasks") or [])[:4]))
    if checks:
        lines += ["", "| target (the audit) | measured | met |", "|---|---|---|"]
        lines += ["| %s | %s | %s |" % (c["target"], c["value"], "yes" if c["met"] else "**no**") for c in checks]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--sizes", help="fix path sizes among %s (default: all)" % (SIZES,))
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--audit-sizes", help="drift report sizes (default 1000,5000); empty: none")
    parser.add_argument("--audit-repeats", type=int)
    parser.add_argument("--skip-fix", action="store_true", help="only the audit")
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    options = parser.parse_args()
    if options.sizes is None:
        options.sizes = QUICK_SIZES if options.quick else ",".join(map(str, SIZES))
    if options.audit_sizes is None:
        options.audit_sizes = QUICK_AUDIT_SIZES if options.quick else "1000,5000"
    audit_sizes = [int(s) for s in options.audit_sizes.split(",") if s]
    audit_repeats = {s: options.audit_repeats or (1 if options.quick else 3 if s < 5000 else 2) for s in audit_sizes}
    sizes = [] if options.skip_fix else [int(s) for s in options.sizes.split(",") if s]
    if any(size not in SIZES for size in sizes):
        parser.error("sizes must be among %s" % (SIZES,))
    repeats = {s: options.repeats or (QUICK_REPEATS if options.quick else DEFAULT_REPEATS)[s] for s in sizes}
    started = datetime.datetime.now(datetime.timezone.utc)
    bench = FixBench(options)
    base_usn = None
    try:
        base_usn = bench.load_drift()
        for size in sizes:
            print("fixpath: preparing %d instances (inventory, generate mode's LDIF, site.yml once, the floor)"
                  % size, flush=True)
            bench.prepare(size)
            bench.generate_floor(size, base_usn)
            shown = {k: v for k, v in bench.prepared[size].items() if k not in ("first_site", "floor_dropped")}
            print("fixpath: %d: %s" % (size, json.dumps(shown)), flush=True)
        for size in audit_sizes:
            if size not in bench.prepared:
                bench.prepare(size)
        bench.start_relay(RTT_MS)
        samples, resets = bench.measure(sizes, repeats, base_usn) if sizes else ({}, [])
        audit_samples = bench.measure_audit(audit_sizes, audit_repeats) if audit_sizes else {}
    except Failure as error:
        bench.stop_relay()
        if bench.pre is not None:
            bench.reset(base_usn)
        sys.exit("fixpath: %s" % error)
    bench.stop_relay()
    results = summarize(samples, sizes, {s: v for s, v in bench.prepared.items() if s in sizes})
    results["notes"] = bench.notes
    checks = targets(results)
    audit = summarize_audit(audit_samples, audit_sizes)
    audit_checks = audit_targets(audit)
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    context = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "commit": commit, "cpus": os.cpu_count(),
               "load_after": "%.1f" % os.getloadavg()[0], "rounds": repeats}
    table = (markdown(results, checks, context, resets) if sizes else "") + "\n## The audit: the drift report\n\n" + \
        audit_markdown(audit, audit_checks) + ("" if sizes else "\nRun: %s\n" % ", ".join(
            "%s %s" % item for item in context.items()))
    print()
    print(table)
    os.makedirs(options.results, exist_ok=True)
    with open(os.path.join(options.results, "fixpath.md"), "w", encoding="utf-8") as handle:
        handle.write("# The fix path\n\nWritten by bench/fixpath.py; see bench/README.md.\n\n" + table)
    results.update(targets=checks, context=context, resets=resets, audit=audit, audit_targets=audit_checks)
    for kind in list(results["kinds"].values()) + list(audit["kinds"].values()):
        for sample in kind["samples"]:
            sample.pop("connections", None)
    with open(os.path.join(options.results, "fixpath.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1, sort_keys=True, default=str)
        handle.write("\n")


if __name__ == "__main__":
    main()
