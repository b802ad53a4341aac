# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure the SPN audit against the populated bench lab, side by side.

Every measurement is a separate process, timed wall-clock, with its peak RSS
from GNU time (the largest single process of its tree) and the DC's CPU time
over the same interval. Within one repetition the kinds run back to back in
a shuffled order, and ratios are taken per repetition (paired), so that a
noisy machine slows both sides of a ratio alike. Results: a table on stdout,
and bench/results/latest.json and latest.md.

Runs inside the bench lab's network namespace (bench/bench.sh does that).
"""

import argparse
import datetime
import glob
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import types

import estate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "lab"))
from lab_env import read_env  # noqa: E402 (the lab's connection.env reader)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# The check-mode drift report (the sql_kerberos role in report mode); another
# playbook with the same report files: --drift-playbook.
DRIFT_REPORT_PLAYBOOK = "playbooks/drift_report.yml"
DEFAULT_SIZES = (100, 1000, 5000)
DEFAULT_REPEATS = {100: 5, 1000: 5, 5000: 2}
# --quick: 2 rounds, and no relayed kinds unless --rtt-ms is given (the
# baseline through the relay alone takes 50 s a round): bench.sh --quick,
# with fixpath.py's quick run, stays under 10 minutes.
QUICK_REPEATS = {100: 2, 1000: 2}
TIMEOUT = 900  # seconds for any one measurement
# For the latency model: each LDAP request and response crosses the network
# once; loopback hides that cost, which is what batching saves.
MODEL_RTTS_MS = (1, 20)
# And measured: at the target size, the floor, spn_facts and the baseline also
# run through bench/latency_proxy.py, which delays every request by this
# round-trip time (a DC in another site); --rtt-ms 0 leaves them out.
DEFAULT_RTT_MS = 10
RELAY_PORTS = {636: 10636, 3269: 13269}
TARGET_SIZE = 1000
KINDS = ("floor", "spn_facts", "python_entry", "baseline", "drift_report")
# --before REV: the Python entry point of the collection at commit REV, at the
# target size, in the same rounds: a change's cost as a paired ratio.
BEFORE_KIND = "python_entry_before"
# The kinds measured through the relay, named after their loopback twin.
WAN_KINDS = ("floor_directory_wan", "spn_facts_wan", "baseline_wan")
MSSQL_FILTER = "(servicePrincipalName=MSSQLSvc/*)"
# Drift report checks left out of the instances compared with the estate's
# (estate.expected_report_summary): see Bench.check.
UNCOUNTED_CHECKS = ("exposure", "dns")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

LABELS = {
    "floor_directory": "floor: ldapsearch dump of every MSSQLSvc SPN in the directory, s",
    "floor": "floor: ldapsearch dump of the estate's MSSQLSvc SPNs, s",
    "spn_facts": "spn_facts, AnsiballZ as Ansible runs it, s",
    "python_entry": "spn_facts, Python entry point (no AnsiballZ), s",
    BEFORE_KIND: "spn_facts, Python entry point, collection at %s, s",
    "baseline": "per-SPN baseline (one search per SPN), s",
    "drift_report": "drift report playbook, end to end, s",
    "floor_directory_wan": "floor (directory), DC %g ms away (measured), s",
    "spn_facts_wan": "spn_facts, AnsiballZ, DC %g ms away (measured), s",
    "baseline_wan": "per-SPN baseline, DC %g ms away (measured), s",
}


def loopback_kind(kind):
    return kind[:-len("_wan")] if kind.endswith("_wan") else kind


class Failure(Exception):
    pass


def dc_cpu_seconds(lab):
    """User+system CPU seconds the lab's samba process has used so far."""
    try:
        with open(os.path.join(lab, "run", "samba.pid"), encoding="utf-8") as handle:
            pid = handle.read().strip()
        with open("/proc/%s/stat" % pid, encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def open_session(lab, work_name):
    """What every bench runner starts from: its working folder under the lab
    (emptied), the lab's connection, the population and its estate, the
    admin password in a 0600 file (for ldapsearch/ldapmodify -y), and the
    environment its commands run in."""
    work = os.path.join(lab, work_name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, mode=0o700)
    connection = read_env(os.path.join(lab, "connection.env"))
    with open(os.path.join(lab, "bench-populated.json"), encoding="utf-8") as handle:
        population = json.load(handle)
    password_file = os.path.join(work, "ldap-password")
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(connection["SQLAUTH_LDAP_PASSWORD"])
    env = dict(os.environ)
    env.update({key: value for key, value in connection.items() if key.startswith("SQLAUTH_LDAP_")})
    env.update(KRB5_CONFIG=connection["KRB5_CONFIG"], LDAPTLS_CACERT=connection["SQLAUTH_LDAP_CA_CERT"],
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=os.path.join(work, "ansible-local"),
               ANSIBLE_REMOTE_TMP=os.path.join(work, "ansible-remote"),
               ANSIBLE_RETRY_FILES_ENABLED="0", PYTHONDONTWRITEBYTECODE="1")
    return types.SimpleNamespace(work=work, connection=connection, population=population,
                                 instances=estate.build(population["seed"]), password_file=password_file, env=env)


class Bench:
    def __init__(self, options):
        self.options = options
        self.lab = options.lab
        session = open_session(self.lab, "bench-work")
        self.work, self.connection, self.population = session.work, session.connection, session.population
        self.instances, self.password_file, self.env = session.instances, session.password_file, session.env
        self.python = sys.executable
        self.drift_playbook = os.path.join(REPO, options.drift_playbook)
        self.prepared = {}
        self.rtt_ms = options.rtt_ms
        self.relay = None
        self.before = options.before
        self.before_collections = None

    def build_before(self):
        """The collection at commit ``before``, built from ``git archive`` and
        installed into the work directory (the checkout is not touched)."""
        if not self.before:
            return
        source = os.path.join(self.work, "before-src")
        os.makedirs(source)
        archive = subprocess.run(["git", "-C", REPO, "archive", self.before], capture_output=True, check=False)
        if archive.returncode != 0:
            raise Failure("git archive %s failed: %s" % (self.before, archive.stderr.decode(errors="replace")))
        subprocess.run(["tar", "-x", "-C", source], input=archive.stdout, check=True)
        build = os.path.join(self.work, "before-build")
        self.before_collections = os.path.join(self.work, "before-collections")
        subprocess.run([self.tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", build, source],
                       capture_output=True, check=True, cwd=source)
        tarball = glob.glob(os.path.join(build, "*.tar.gz"))[0]
        subprocess.run([self.tool("ansible-galaxy"), "collection", "install", "--force", "-p",
                        self.before_collections, tarball], capture_output=True, check=True,
                       env=dict(self.env, ANSIBLE_COLLECTIONS_PATH=self.before_collections))

    def start_relay(self):
        """The latency relay in front of the DC (bench/latency_proxy.py)."""
        if not self.rtt_ms:
            return
        arguments = ["--rtt-ms", str(self.rtt_ms)]
        for dc_port, relay_port in RELAY_PORTS.items():
            arguments += ["--map", "%d:%d" % (relay_port, dc_port)]
        self.relay = launch_relay(self.python, arguments, "the latency relay")

    def stop_relay(self):
        self.relay = stop_relay(self.relay)

    # -- preparation -------------------------------------------------------

    def prepare(self, size):
        """Inventory, module arguments and the AnsiballZ payload for one size."""
        chosen = self.instances[:size]
        hosts = {i["host"]: {"sqlauth_instances": [estate.inventory_entry(i)]} for i in chosen}
        inventory = os.path.join(self.work, "inventory-%d.json" % size)
        # The bench estate has no SQL Server hosts to reach: ports are not checked.
        write_json(inventory, {"sql_servers": {"hosts": hosts, "vars": {"sql_kerberos_manage_ports": False}}})
        variables = os.path.join(self.work, "vars-%d.json" % size)
        write_json(variables, {"bench_instances": estate.module_instances(chosen)})
        arguments = os.path.join(self.work, "args-%d.json" % size)
        write_json(arguments, {"instances": estate.module_instances(chosen)})

        remote = os.path.join(self.work, "ansiballz-%d" % size)
        env = dict(self.env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=remote)
        result = subprocess.run([self.tool("ansible-playbook"), "-i", "localhost,", "-c", "local",
                                 os.path.join(HERE, "spn_facts_task.yml"), "-e", "@" + variables],
                                env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise Failure("spn_facts over %d instances failed:\n%s" % (size, result.stdout[-3000:]))
        payloads = glob.glob(os.path.join(remote, "**", "AnsiballZ_spn_facts.py"), recursive=True)
        if len(payloads) != 1:
            raise Failure("expected one kept AnsiballZ_spn_facts.py under %s, found %s" % (remote, payloads))
        self.prepared[size] = dict(inventory=inventory, variables=variables, arguments=arguments,
                                   ansiballz=payloads[0], expected=estate.expected_summary(chosen),
                                   expected_report=estate.expected_report_summary(chosen),
                                   base=estate.estate_base(size))

    def report_dir(self, size):
        return os.path.join(self.work, "drift-report-%d" % size)

    def tool(self, name):
        return os.path.join(os.path.dirname(sys.executable), name)

    # -- one measurement ---------------------------------------------------

    def run(self, kind, size):
        prepared = self.prepared.get(size)
        env = self.env
        if kind.endswith("_wan"):
            env = dict(env, SQLAUTH_LDAP_PORT=str(RELAY_PORTS[636]), SQLAUTH_BENCH_GC_PORT=str(RELAY_PORTS[3269]))
        port = ":%s" % env["SQLAUTH_LDAP_PORT"] if env.get("SQLAUTH_LDAP_PORT") else ""
        if loopback_kind(kind) in ("floor", "floor_directory"):
            base = estate.BASE_DN if loopback_kind(kind) == "floor_directory" else prepared["base"]
            argv = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-E", "pr=1000/noprompt",
                    "-H", "ldaps://%s%s" % (self.connection["SQLAUTH_LDAP_SERVER"], port), "-x",
                    "-D", self.connection["SQLAUTH_LDAP_USERNAME"], "-y", self.password_file,
                    "-b", base, MSSQL_FILTER, "servicePrincipalName"]
        elif loopback_kind(kind) == "spn_facts":
            argv = [self.python, prepared["ansiballz"]]
        elif kind in ("python_entry", BEFORE_KIND):
            argv = [self.python, os.path.join(HERE, "entry.py"), prepared["arguments"]]
            if kind == BEFORE_KIND:
                env = dict(env, PYTHONPATH=self.before_collections, ANSIBLE_COLLECTIONS_PATH=self.before_collections)
        elif loopback_kind(kind) == "baseline":
            argv = [self.python, os.path.join(HERE, "baseline.py"), prepared["variables"]]
        elif kind == "drift_report":
            argv = [self.tool("ansible-playbook"), "-i", prepared["inventory"], self.drift_playbook,
                    "-e", "sql_kerberos_fail_on_drift=false", "-e", "sql_kerberos_report_dir=%s" % self.report_dir(size)]
        else:
            raise ValueError(kind)
        out_path = os.path.join(self.work, "last-%s-%s.out" % (kind, size))
        # GNU time reports the peak RSS of the command (the largest process
        # of its tree). Not wait4() from here: a child forked from this
        # Python process would count this process's memory as its own.
        rusage_path = out_path + ".rusage"
        argv = ["/usr/bin/time", "-f", "%M %U %S", "-o", rusage_path] + argv
        with open(out_path, "wb") as out, open(out_path + ".err", "wb") as err:
            cpu_before = dc_cpu_seconds(self.lab)
            started = time.perf_counter()
            try:
                returncode = subprocess.run(argv, stdout=out, stderr=err, env=env, cwd=self.work,
                                            timeout=TIMEOUT, check=False).returncode
            except subprocess.TimeoutExpired:
                raise Failure("%s (%s) took longer than %d s" % (kind, size, TIMEOUT)) from None
            seconds = time.perf_counter() - started
            cpu_after = dc_cpu_seconds(self.lab)
        with open(out_path, encoding="utf-8", errors="replace") as handle:
            output = handle.read()
        with open(out_path + ".err", encoding="utf-8", errors="replace") as handle:
            errors = handle.read()
        if returncode != 0:
            raise Failure("%s (%s) exited %d:\n%s\n%s" % (kind, size, returncode, output[-3000:], errors[-3000:]))
        with open(rusage_path, encoding="utf-8") as handle:
            max_rss_kb, user_s, system_s = handle.read().split()[-3:]
        sample = {"seconds": seconds, "max_rss_mb": int(max_rss_kb) / 1024.0,
                  "client_cpu_s": float(user_s) + float(system_s),
                  "dc_cpu_s": None if cpu_before is None or cpu_after is None else cpu_after - cpu_before}
        sample.update(self.check("python_entry" if kind == BEFORE_KIND else loopback_kind(kind), size, output, errors))
        return sample

    def check(self, kind, size, output, errors):
        """Make sure each run did the real work; return what it reports."""
        if kind in ("floor", "floor_directory"):
            return {"entries": output.count("\ndn: ") + output.startswith("dn: "),
                    "spn_values": sum(1 for line in output.splitlines()
                                      if line.lower().startswith("serviceprincipalname: mssqlsvc/"))}
        expected = self.prepared[size]["expected"]
        if kind in ("spn_facts", "python_entry"):
            result = json.loads(output)
            if result.get("failed") or result.get("summary") != expected:
                raise Failure("%s over %d instances reported %s, expected %s (%s)" % (
                    kind, size, result.get("summary"), expected, result.get("msg")))
            found = {"round_trips": result.get("ldap_round_trips"), "binds": result.get("ldap_binds")}
            for line in errors.splitlines():
                if line.startswith("ldap3-usage "):
                    found["ldap3_usage"] = json.loads(line[len("ldap3-usage "):])
            return found
        if kind == "baseline":
            result = json.loads(output)
            wanted = sum(expected["spns"].values())
            if result["searches"] != wanted:
                raise Failure("baseline searched %d SPNs, spn_facts requires %d" % (result["searches"], wanted))
            return {"searches": result["searches"]}
        if kind == "drift_report":
            with open(os.path.join(self.report_dir(size), "drift-report.json"), encoding="utf-8") as handle:
                report = json.load(handle)
            # Not the summary's count: the exposure check finds every account
            # writable by Account Operators (AD's default descriptors, which the
            # bench keeps), and the DNS findings follow estate.dns_plan, which
            # dns_bench.py checks name by name.
            found = {"instances": report["summary"]["instances"], "instances_with_drift": sum(
                any(check["result"] == "drift" and check["check"] not in UNCOUNTED_CHECKS
                    for check in instance["checks"])
                for host in report["hosts"] for instance in host["instances"])}
            wanted = self.prepared[size]["expected_report"]
            if found != wanted or " failed=0 " not in output:
                raise Failure("the drift report over %d hosts reported %s, expected %s:\n%s"
                              % (size, found, wanted, output[-2000:]))
            return {}
        return {}

    # -- the whole run -----------------------------------------------------

    def measure(self, sizes, repeats):
        samples = {}
        order = random.Random(self.population["seed"])
        rounds = max(repeats[size] for size in sizes)
        for repetition in range(rounds):
            print("round %d/%d" % (repetition + 1, rounds), flush=True)
            plan = [("floor_directory", None)]
            for size in sizes:
                if repetition < repeats[size]:
                    # The Python entry point only where it is compared: at the target size.
                    plan += [(kind, size) for kind in KINDS if kind != "python_entry" or size == TARGET_SIZE]
                    if size == TARGET_SIZE and self.before:
                        plan.append((BEFORE_KIND, size))
                    if size == TARGET_SIZE and self.rtt_ms:
                        plan += [(kind, None if kind == "floor_directory_wan" else size) for kind in WAN_KINDS]
            order.shuffle(plan)
            for kind, size in plan:
                sample = self.run(kind, size)
                sample["round"] = repetition
                samples.setdefault((kind, size), []).append(sample)
                print("  %-16s %5s %8.2f s  %7.1f MB%s" % (
                    kind, size or "", sample["seconds"], sample["max_rss_mb"],
                    "  round trips %s" % sample["round_trips"] if sample.get("round_trips") is not None else ""),
                    flush=True)
        return samples


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def describe(values):
    values = sorted(values)
    median = statistics.median(values)
    return {"median": median, "min": values[0], "max": values[-1], "n": len(values),
            "spread_pct": 100.0 * (values[-1] - values[0]) / median if median else 0.0}


def paired_ratios(samples, numerator, denominator, size, denominator_size="same"):
    """Per-round ratios numerator/denominator from samples of the same round."""
    top = {s["round"]: s["seconds"] for s in samples.get((numerator, size), [])}
    bottom_size = size if denominator_size == "same" else denominator_size
    bottom = {s["round"]: s["seconds"] for s in samples.get((denominator, bottom_size), [])}
    ratios = [top[r] / bottom[r] for r in top if r in bottom and bottom[r] > 0]
    return describe(ratios) if ratios else None


def modelled_ratios(samples, size, rtt_ms):
    """baseline/spn_facts per round if every round trip (and bind) also
    crossed a network with this round-trip time: measured seconds plus
    round trips x RTT. A model, not a measurement (loopback has no RTT)."""
    facts = {s["round"]: s for s in samples.get(("spn_facts", size), [])}
    base = {s["round"]: s for s in samples.get(("baseline", size), [])}
    ratios = []
    for number, fact in facts.items():
        if number in base and fact.get("round_trips") is not None:
            baseline = base[number]["seconds"] + (base[number]["searches"] + 1) * rtt_ms / 1000.0
            audit = fact["seconds"] + (fact["round_trips"] + fact["binds"]) * rtt_ms / 1000.0
            ratios.append(baseline / audit)
    return describe(ratios) if ratios else None


def effective_rtt(samples, size):
    """The relay's real round-trip time in ms, per round: what the baseline's
    searches (and bind) lost through it, each one round trip. asyncio's
    timers overshoot by up to a millisecond, so it is a bit over --rtt-ms."""
    direct = {s["round"]: s for s in samples.get(("baseline", size), [])}
    relayed = {s["round"]: s for s in samples.get(("baseline_wan", size), [])}
    values = [1000.0 * (relayed[r]["seconds"] - direct[r]["seconds"]) / (relayed[r]["searches"] + 1)
              for r in relayed if r in direct]
    return describe(values) if values else None


def summarize(samples, sizes, rtt_ms):
    results = {"sizes": list(sizes), "measurements": {}, "ratios": {}, "round_trips": {}, "peak_rss_mb": {},
               "rtt_ms": rtt_ms}
    for (kind, size), items in sorted(samples.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
        key = "%s@%s" % (kind, size if size else "directory")
        results["measurements"][key] = {
            "seconds": describe([s["seconds"] for s in items]),
            "max_rss_mb": describe([s["max_rss_mb"] for s in items]),
            "dc_cpu_s": describe([s["dc_cpu_s"] for s in items]) if all(
                s["dc_cpu_s"] is not None for s in items) else None,
            "client_cpu_s": describe([s["client_cpu_s"] for s in items]),
            "samples": items,
        }
    for size in sizes:
        results["ratios"][str(size)] = {
            "spn_facts/floor": paired_ratios(samples, "spn_facts", "floor", size),
            "spn_facts/floor_directory": paired_ratios(samples, "spn_facts", "floor_directory", size, None),
            "baseline/spn_facts": paired_ratios(samples, "baseline", "spn_facts", size),
            "spn_facts/python_entry": paired_ratios(samples, "spn_facts", "python_entry", size),
            "python_entry/before": paired_ratios(samples, "python_entry", BEFORE_KIND, size),
        }
        for rtt in MODEL_RTTS_MS:
            results["ratios"][str(size)]["baseline/spn_facts@%dms" % rtt] = modelled_ratios(samples, size, rtt)
        results["ratios"][str(size)].update({
            "spn_facts/floor_directory@wan": paired_ratios(samples, "spn_facts_wan", "floor_directory_wan", size, None),
            "baseline/spn_facts@wan": paired_ratios(samples, "baseline_wan", "spn_facts_wan", size),
        })
        results["effective_rtt_ms"] = effective_rtt(samples, size) or results.get("effective_rtt_ms")
        facts = samples.get(("spn_facts", size), [])
        trips = sorted({s["round_trips"] for s in facts})
        binds = sorted({s["binds"] for s in facts})
        usage = [s["ldap3_usage"] for s in samples.get(("python_entry", size), []) if "ldap3_usage" in s]
        results["round_trips"][str(size)] = {
            "round_trips": trips, "binds": binds,
            "per_200_instances": [200.0 * t / size for t in trips if t is not None],
            "ldap3_searches": sorted({u["searches"] for u in usage}),
            "ldap3_binds": sorted({u["binds"] for u in usage}),
        }
        results["peak_rss_mb"][str(size)] = {
            kind: max(s["max_rss_mb"] for s in samples[(kind, size)]) for kind in KINDS if (kind, size) in samples}
    results["peak_rss_mb"]["directory"] = {
        "floor_directory": max(s["max_rss_mb"] for s in samples.get(("floor_directory", None), [{"max_rss_mb": 0}]))}
    return results


def targets(results):
    """The issue's targets, at 1,000 instances."""
    size = str(TARGET_SIZE)
    if size not in results["ratios"]:
        return []
    ratios = results["ratios"][size]
    trips = results["round_trips"][size]
    drift = results["measurements"].get("drift_report@%s" % size)
    checks = []

    def add(name, value, limit, met):
        checks.append({"target": name, "value": value, "limit": limit, "met": bool(met)})

    for key, label in (("spn_facts/floor", "estate"), ("spn_facts/floor_directory", "directory")):
        if ratios.get(key):
            value = ratios[key]["median"]
            add("spn_facts <= 1.5x the floor (%s dump)" % label, round(value, 2), 1.5, value <= 1.5)
    if ratios.get("baseline/spn_facts"):
        value = ratios["baseline/spn_facts"]["median"]
        add(">= 20x faster than the per-SPN baseline (loopback)", round(value, 2), 20, value >= 20)
    if ratios.get("baseline/spn_facts@wan"):
        value = ratios["baseline/spn_facts@wan"]["median"]
        add(">= 20x faster than the per-SPN baseline, DC %g ms away (measured)" % results["rtt_ms"], round(value, 2),
            20, value >= 20)
    if ratios.get("spn_facts/floor_directory@wan"):
        value = ratios["spn_facts/floor_directory@wan"]["median"]
        add("spn_facts <= 1.5x the floor (directory dump), DC %g ms away (measured)" % results["rtt_ms"],
            round(value, 2), 1.5, value <= 1.5)
    if trips["round_trips"]:
        value = max(trips["round_trips"])
        add("<= 1 LDAP round trip per 200 instances, plus the bind", "%s (+%s bind)" % (value, max(trips["binds"])),
            TARGET_SIZE // 200, value <= TARGET_SIZE // 200 and max(trips["binds"]) <= 1)
    if drift:
        value = drift["seconds"]["median"]
        add("drift report over 1,000 hosts < 60 s on %d cores" % os.cpu_count(), round(value, 1), 60,
            value < 60 and drift["seconds"]["max"] < 60)
    if ratios.get("python_entry/before"):
        value = ratios["python_entry/before"]["median"]
        add("spn_facts <= 1.3x its time at %s (Python entry points, paired)" % results["before"], round(value, 2),
            1.3, value <= 1.3)
    return checks


def launch_relay(python, arguments, what):
    """bench/latency_proxy.py with ``arguments``, once it says it is ready."""
    relay = subprocess.Popen([python, os.path.join(HERE, "latency_proxy.py")] + arguments, stdout=subprocess.PIPE,
                             text=True)
    if relay.stdout.readline().strip() != "ready":
        raise Failure("%s did not start" % what)
    return relay


def stop_relay(relay):
    """Stop a relay of launch_relay (None: none running); returns None."""
    if relay is not None:
        relay.terminate()
        relay.wait()


def fmt(stat, digits=2):
    if not stat:
        return "-"
    return "%.*f (%.*f-%.*f)" % (digits, stat["median"], digits, stat["min"], digits, stat["max"])


def markdown(results, checks, context):
    sizes = results["sizes"]
    lines = ["| measure | " + " | ".join("%s instances" % format(size, ",") for size in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    directory = results["measurements"].get("floor_directory@directory")
    if directory:
        lines.append("| %s | %s |" % (LABELS["floor_directory"], " | ".join(
            [fmt(directory["seconds"])] + ["same"] * (len(sizes) - 1))))
    for kind in KINDS + ((BEFORE_KIND,) if results.get("before") else ()):
        cells = [fmt(results["measurements"].get("%s@%s" % (kind, size), {}).get("seconds")) for size in sizes]
        label = LABELS[kind] % results["before"] if kind == BEFORE_KIND else LABELS[kind]
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    if results.get("rtt_ms"):
        for kind in WAN_KINDS:
            size_key = "directory" if kind == "floor_directory_wan" else TARGET_SIZE
            stat = results["measurements"].get("%s@%s" % (kind, size_key), {}).get("seconds")
            cells = [fmt(stat) if size == TARGET_SIZE else "-" for size in sizes]
            lines.append("| %s | %s |" % (LABELS[kind] % results["rtt_ms"], " | ".join(cells)))
        lines.append("| round-trip time through the relay, effective, ms (from the baseline) | %s |" % " | ".join(
            fmt(results.get("effective_rtt_ms"), 1) if size == TARGET_SIZE else "-" for size in sizes))
    wan = () if not results.get("rtt_ms") else (
        ("spn_facts/floor_directory@wan", "ratio spn_facts / floor (directory), DC %g ms away" % results["rtt_ms"]),
        ("baseline/spn_facts@wan", "ratio baseline / spn_facts, DC %g ms away (measured)" % results["rtt_ms"]))
    loopback = (("spn_facts/floor", "ratio spn_facts / floor (estate)"),
                ("spn_facts/floor_directory", "ratio spn_facts / floor (directory)"),
                ("baseline/spn_facts", "ratio baseline / spn_facts"),
                ("spn_facts/python_entry", "ratio AnsiballZ / Python entry")) + (
                    (("python_entry/before", "ratio Python entry / Python entry at %s" % results["before"]),)
                    if results.get("before") else ())
    for key, label in wan + loopback + tuple(
            ("baseline/spn_facts@%dms" % rtt, "ratio baseline / spn_facts, model: + %d ms per round trip" % rtt)
            for rtt in MODEL_RTTS_MS):
        lines.append("| %s | %s |" % (label, " | ".join(fmt(results["ratios"][str(s)].get(key)) for s in sizes)))
    lines.append("| LDAP round trips per run (+ binds) | %s |" % " | ".join(
        "%s (+%s)" % ("/".join(map(str, results["round_trips"][str(s)]["round_trips"])),
                      "/".join(map(str, results["round_trips"][str(s)]["binds"]))) for s in sizes))
    lines.append("| LDAP round trips per 200 instances | %s |" % " | ".join(
        "/".join("%.2f" % v for v in results["round_trips"][str(s)]["per_200_instances"]) for s in sizes))
    lines.append("| ldap3's own count: searches (+ binds) | %s |" % " | ".join(
        "%s (+%s)" % ("/".join(map(str, results["round_trips"][str(s)]["ldap3_searches"])),
                      "/".join(map(str, results["round_trips"][str(s)]["ldap3_binds"])))
        if results["round_trips"][str(s)]["ldap3_searches"] else "-" for s in sizes))
    for kind in ("floor",) + KINDS[1:]:
        lines.append("| peak RSS, %s, MB | %s |" % (kind, " | ".join(
            "%.0f" % results["peak_rss_mb"][str(s)][kind] if kind in results["peak_rss_mb"][str(s)] else "-"
            for s in sizes)))
    for kind in ("floor", "spn_facts", "baseline"):
        cells = []
        for size in sizes:
            stat = results["measurements"].get("%s@%s" % (kind, size), {}).get("dc_cpu_s")
            cells.append("%.2f" % stat["median"] if stat else "-")
        lines.append("| DC CPU during %s, s (median) | %s |" % (kind, " | ".join(cells)))
    lines.append("")
    lines.append("Seconds are wall-clock medians with (min-max) over the rounds; ratios are medians of "
                 "per-round ratios.")
    if checks:
        lines += ["", "| target at 1,000 instances | measured | met |", "|---|---|---|"]
        lines += ["| %s | %s | %s |" % (c["target"], c["value"], "yes" if c["met"] else "**no**") for c in checks]
    lines += ["", "Run: %s" % ", ".join("%s %s" % item for item in context.items())]
    return "\n".join(lines) + "\n"


def context_info(bench, started, load_before):
    def command(*argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    dirty = command("git", "-C", REPO, "status", "--porcelain", "--", "plugins")
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": command("git", "-C", REPO, "rev-parse", "--short", "HEAD") + (" + local changes" if dirty else ""),
        "cpus": os.cpu_count(),
        "load_before": "%.1f" % load_before,
        "load_after": "%.1f" % os.getloadavg()[0],
        "samba": command("samba", "--version").replace("Version ", ""),
        "python": platform.python_version(),
        "ansible_core": command(bench.tool("ansible"), "--version").splitlines()[0].split("[core ")[-1].rstrip("]"),
        "directory": "%(accounts)d accounts, %(sql_instances)d SQL instances" % bench.population["summary"],
        "seed": bench.population["seed"],
        "drift_report": os.path.relpath(bench.drift_playbook, REPO),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="inventory sizes among %s" % (DEFAULT_SIZES,))
    parser.add_argument("--repeats", type=int, help="rounds for every size (default: 5, 5, 2)")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 instances, 2 rounds each, no relay")
    parser.add_argument("--drift-playbook", default=DRIFT_REPORT_PLAYBOOK)
    parser.add_argument("--rtt-ms", type=float, default=None,
                        help="round-trip time of the relayed measurements at 1,000 instances; 0: none")
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument("--before", metavar="REV",
                        help="also time the Python entry point of the collection at commit REV (1,000 instances)")
    options = parser.parse_args()
    if options.rtt_ms is None:
        options.rtt_ms = 0 if options.quick else DEFAULT_RTT_MS
    sizes = sorted(QUICK_REPEATS) if options.quick else [int(size) for size in options.sizes.split(",")]
    if any(size not in estate.SIZES for size in sizes):
        parser.error("sizes must be among %s (the populated estates)" % (estate.SIZES,))
    defaults = QUICK_REPEATS if options.quick else DEFAULT_REPEATS
    repeats = {size: options.repeats or defaults[size] for size in sizes}

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()[0]
    bench = Bench(options)
    try:
        for size in sizes:
            print("preparing %d instances (inventory, module arguments, AnsiballZ payload)" % size, flush=True)
            bench.prepare(size)
        bench.build_before()
        bench.start_relay()
        samples = bench.measure(sizes, repeats)
    except Failure as error:
        sys.exit("bench: %s" % error)
    finally:
        bench.stop_relay()
    results = summarize(samples, sizes, bench.rtt_ms if TARGET_SIZE in sizes else 0)
    results["before"] = options.before if options.before and TARGET_SIZE in sizes else None
    checks = targets(results)
    context = context_info(bench, started, load_before)
    table = markdown(results, checks, context)
    print()
    print(table)
    os.makedirs(options.results, exist_ok=True)
    with open(os.path.join(options.results, "latest.md"), "w", encoding="utf-8") as handle:
        handle.write("# Latest benchmark run\n\nWritten by bench/measure.py; see bench/README.md.\n\n" + table)
    results.update(targets=checks, context=context, population=bench.population)
    with open(os.path.join(options.results, "latest.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
        handle.write("\n")
    shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    main()
