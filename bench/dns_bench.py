# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_facts over the bench estate: the names of the first 1,000 instances
(hosts, listeners, aliases; estate.dns_plan, seeded by populate.py) resolved
on the bench DC's own DNS server (Samba's, 127.0.0.1:53 in the bench's
namespace), next to floors measured in the same rounds: the cheapest
resolution of the same names, one A query per name from a bare loop of
dnspython queries, sequential and with 32 threads; and the module's own
questions (A and AAAA of each name, the PTR of each address, the SOA of each
address whose PTR is wrong) from 32 bare threads, which leaves the module's
own cost apart from its queries'.

Each measurement is one process; in each round the kinds run in a shuffled
order and the ratios are per round (paired). The module's result is checked
name by name against the plan's statuses, and the floor's against the names
that have records. Writes bench/results/dns.md and dns.json.

Named dns_bench.py, not dns.py: a dns.py next to the bench's scripts would
hide dnspython's ``dns`` package from any of them that imports it.

Usage (inside the bench's network namespace, as bench.sh runs it):
    python bench/dns_bench.py --lab DIR [--rounds N]
"""

import argparse
import atexit
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import estate
from measure import REPO, dc_cpu_seconds, describe, read_env, write_json  # measure puts tests/lab on the path

SIZE = estate.DNS_INSTANCES
DNS_SERVER = "127.0.0.1"
THREADS = 32  # the module's default dns_concurrency: the concurrent floors use as many threads
KINDS = ("dns_facts", "floor_a", "floor_a_threads", "same_questions")
LABELS = {
    "dns_facts": "dns_facts, Python entry point (one process)",
    "floor_a": "floor: one A query per name, sequential bare loop",
    "floor_a_threads": "floor: one A query per name, %d bare threads" % THREADS,
    "same_questions": "the module's questions, %d bare threads" % THREADS,
}

# The module's entry point as probe.py runs kerberos_probe's; the time from
# after the imports to exit_json goes to stderr (what the process spends
# starting Python and importing Ansible is the rest of the wall clock).
_MODULE_MAIN = """
import json, sys, time
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sqlauth.kerberos.plugins.modules import dns_facts
with open(sys.argv[1], encoding="utf-8") as handle:
    arguments = json.load(handle)
started = time.perf_counter()
try:
    with patch_module_args(arguments):
        dns_facts.main()
finally:
    sys.stderr.write("in-process %.6f\\n" % (time.perf_counter() - started))
"""

# The floors: each question ([name, type]) one UDP query with dnspython's
# lowest level (no resolver object, no retries, no search list), a socket
# per thread reused for every query. Prints, per question, how many records
# of the asked type came back.
_BARE_QUERIES = """
import json, socket, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
import dns.message, dns.query, dns.rdatatype
with open(sys.argv[1], encoding="utf-8") as handle:
    questions = json.load(handle)
server, threads = sys.argv[2], int(sys.argv[3])
local = threading.local()

def ask(question):
    name, rdtype = question
    if not hasattr(local, "sock"):
        local.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    response = dns.query.udp(dns.message.make_query(name, rdtype), server, timeout=5, sock=local.sock,
                             ignore_unexpected=True)
    wanted = dns.rdatatype.from_text(rdtype)
    return sum(len(rrset) for rrset in response.answer if rrset.rdtype == wanted)

started = time.perf_counter()
if threads == 1:
    answers = [ask(question) for question in questions]
else:
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(ask, questions))
sys.stderr.write("in-process %.6f\\n" % (time.perf_counter() - started))
json.dump(answers, sys.stdout)
"""


def timed(kind, argv, env, lab, cwd):
    cpu_before, started = dc_cpu_seconds(lab), time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=900, cwd=cwd)
    seconds, cpu_after = time.perf_counter() - started, dc_cpu_seconds(lab)
    if result.returncode != 0:
        sys.exit("bench dns: %s failed:\n%s\n%s" % (kind, result.stdout[-3000:], result.stderr[-3000:]))
    inside = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("in-process ")]
    return dict(seconds=seconds, in_process_s=float(inside[-1]) if inside else None,
                dc_cpu_s=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before), result.stdout


def module_instances(instances, aliases):
    """dns_facts' ``instances``: the inventory's, with the aliases the plan seeded."""
    found = []
    for instance, options in zip(instances, estate.module_instances(instances)):
        if aliases.get(instance["index"]):
            options["aliases"] = aliases[instance["index"]]
        found.append(options)
    return found


def questions(plan):
    """The questions dns_facts asks for the plan's names, in its order:
    A and AAAA of each name; the PTR of each address of a host or listener
    (an alias's are its target's); the SOA of each address whose PTR names
    another host (the reverse zone for the fix)."""
    names = list(plan["expected"])
    asked = [[name, rdtype] for name in names for rdtype in ("A", "AAAA")]
    addresses, wrong = [], []
    for host, value in plan["spec"]["hosts"].items():
        found = value["addresses"] if isinstance(value, dict) else [value] if isinstance(value, str) else value
        addresses += [address for address in found if address not in addresses]
        if isinstance(value, dict) and value.get("ptr") and value["ptr"].lower() != host.lower():
            wrong += found
    reverse = [".".join(reversed(address.split("."))) + ".in-addr.arpa" for address in addresses]
    return asked + [[name, "PTR"] for name in reverse] + \
        [[".".join(reversed(address.split("."))) + ".in-addr.arpa", "SOA"] for address in wrong]


def check_module(result, plan):
    """Differences between dns_facts' result and the plan: [text]."""
    problems = []
    expected = {name.lower(): sorted(statuses) for name, statuses in plan["expected"].items()}
    got = {row["name"].lower(): sorted(status["status"] for status in row["statuses"]) for row in result["names"]}
    for name in sorted(set(expected) | set(got)):
        if expected.get(name) != got.get(name):
            problems.append("%s: expected %s, got %s" % (name, expected.get(name), got.get(name)))
    counts = estate.dns_counts(plan)
    if result["summary"] != counts:
        problems.append("summary %s, expected %s" % (result["summary"], counts))
    return problems


def paired(rounds, numerator, denominator, field="seconds"):
    values = [r[numerator][field] / r[denominator][field] for r in rounds
              if r[numerator].get(field) and r[denominator].get(field)]
    return describe(values) if values else None


def fmt(stat, digits=2):
    if not stat:
        return "-"
    return "%.*f (%.*f-%.*f)" % (digits, stat["median"], digits, stat["min"], digits, stat["max"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every kind (default 5)")
    parser.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    options = parser.parse_args()
    connection = read_env(os.path.join(options.lab, "connection.env"))
    with open(os.path.join(options.lab, "bench-populated.json"), encoding="utf-8") as handle:
        population = json.load(handle)
    try:
        with open(os.path.join(options.lab, "bench-dns.json"), encoding="utf-8") as handle:
            seeded = json.load(handle)
    except OSError:
        seeded = {}
    if seeded.get("seed") != population["seed"]:
        sys.exit("bench dns: the lab's DNS is not seeded for seed %s (bench-dns.json); run bench/populate.py"
                 % population["seed"])
    instances = estate.build(population["seed"])
    plan = estate.dns_plan(instances, population["seed"])
    chosen = instances[:SIZE]
    names = list(plan["expected"])
    resolvable = {name.lower() for name, statuses in plan["expected"].items() if "unresolved" not in statuses}
    module_questions = questions(plan)

    # Its own directory as the working directory of every process: no dns.py may hide dnspython.
    work = tempfile.mkdtemp(prefix="sqlauth-bench-dns-")
    atexit.register(shutil.rmtree, work, True)  # it holds the lab's Administrator password
    env = dict(os.environ, KRB5_CONFIG=connection["KRB5_CONFIG"])
    arguments = os.path.join(work, "dns-facts-args.json")
    write_json(arguments, dict(instances=module_instances(chosen, plan["aliases"]), dns_servers=[DNS_SERVER],
                               server=connection["SQLAUTH_LDAP_SERVER"], ca_cert=connection["SQLAUTH_LDAP_CA_CERT"],
                               username=connection["SQLAUTH_LDAP_USERNAME"],
                               password=connection["SQLAUTH_LDAP_PASSWORD"]))
    a_questions, same_questions = os.path.join(work, "a.json"), os.path.join(work, "same.json")
    write_json(a_questions, [[name, "A"] for name in names])
    write_json(same_questions, module_questions)
    argv = {
        "dns_facts": [sys.executable, "-c", _MODULE_MAIN, arguments],
        "floor_a": [sys.executable, "-c", _BARE_QUERIES, a_questions, DNS_SERVER, "1"],
        "floor_a_threads": [sys.executable, "-c", _BARE_QUERIES, a_questions, DNS_SERVER, str(THREADS)],
        "same_questions": [sys.executable, "-c", _BARE_QUERIES, same_questions, DNS_SERVER, str(THREADS)],
    }
    queries = {"floor_a": len(names), "floor_a_threads": len(names), "same_questions": len(module_questions)}

    # One untimed run of each first: the DC's DNS records and the page cache warm.
    for kind in KINDS:
        timed(kind, argv[kind], env, options.lab, work)
    rounds, order, module_result = [], random.Random(0), None
    for number in range(options.rounds):
        plan_of_round, samples = list(KINDS), {}
        order.shuffle(plan_of_round)
        for kind in plan_of_round:
            sample, output = timed(kind, argv[kind], env, options.lab, work)
            if kind == "dns_facts":
                result = json.loads(output)
                problems = check_module(result, plan)
                if problems:
                    sys.exit("bench dns: dns_facts' result differs from the seeded DNS (%d):\n  %s"
                             % (len(problems), "\n  ".join(problems[:20])))
                sample.update(queries=result["dns_queries"], ldap_round_trips=result.get("ldap_round_trips"))
                module_result = result
            else:
                answers = json.loads(output)
                sample.update(queries=queries[kind])
                if kind != "same_questions":
                    found = {name.lower() for name, count in zip(names, answers) if count}
                    if found != resolvable:
                        sys.exit("bench dns: %s resolved %d names, the plan %d (differing: %s)" % (
                            kind, len(found), len(resolvable), sorted(found ^ resolvable)[:10]))
            samples[kind] = sample
            print("  round %d  %-16s %6.2f s (in-process %5.2f s)  %5d queries" % (
                number + 1, kind, sample["seconds"], sample["in_process_s"] or 0, sample["queries"]), flush=True)
        rounds.append(samples)

    stats = {kind: {field: describe([r[kind][field] for r in rounds if r[kind].get(field) is not None])
                    for field in ("seconds", "in_process_s", "dc_cpu_s")} for kind in KINDS}
    ratios = {"dns_facts/%s" % floor: {field: paired(rounds, "dns_facts", floor, field)
                                       for field in ("seconds", "in_process_s")}
              for floor in ("floor_a", "floor_a_threads", "same_questions")}
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip()
    # The collection bench.sh installs is the working tree's, which may be ahead of the commit.
    if subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "plugins"], capture_output=True, text=True,
                      check=False).stdout.strip():
        commit += " with uncommitted changes in plugins/"
    module_queries = rounds[-1]["dns_facts"]["queries"]
    summary = module_result["summary"]
    counts = ", ".join("%s %d" % (status, count) for status, count in sorted(summary.items())
                       if status not in ("names", "ok"))

    rows = ["| measure | %s |" % " | ".join(LABELS[kind] for kind in KINDS), "|---|" + "---|" * len(KINDS)]
    rows.append("| DNS queries | %s |" % " | ".join(
        "%d" % (module_queries if kind == "dns_facts" else queries[kind]) for kind in KINDS))
    rows.append("| seconds, process wall clock | %s |" % " | ".join(fmt(stats[k]["seconds"]) for k in KINDS))
    rows.append("| seconds, in the process (after imports) | %s |" % " | ".join(
        fmt(stats[k]["in_process_s"]) for k in KINDS))
    rows.append("| queries per second (in the process) | %s |" % " | ".join(
        "%.0f" % ((module_queries if k == "dns_facts" else queries[k]) / stats[k]["in_process_s"]["median"])
        for k in KINDS))
    rows.append("| DC CPU seconds | %s |" % " | ".join(fmt(stats[k]["dc_cpu_s"]) for k in KINDS))
    rows.append("| ratio dns_facts / this, wall clock | - | %s |" % " | ".join(
        fmt(ratios["dns_facts/%s" % k]["seconds"]) for k in KINDS[1:]))
    rows.append("| ratio dns_facts / this, in the process | - | %s |" % " | ".join(
        fmt(ratios["dns_facts/%s" % k]["in_process_s"]) for k in KINDS[1:]))
    primary = ratios["dns_facts/floor_a"]["seconds"]["median"]
    text = "\n".join([
        "# dns_facts benchmark", "",
        "Written by bench/dns_bench.py; see bench/README.md (DNS).", "",
        "%d instances (the first of the estate), %d names: %d hosts, %d listeners, %d aliases; asked of the bench "
        "DC's DNS server (Samba's internal DNS, %s:53). Seconds are medians with (min-max) over %d rounds; ratios are "
        "medians of per-round ratios." % (
            SIZE, len(names), SIZE, sum(len(i["listeners"]) for i in chosen), len(plan["aliases"]), DNS_SERVER,
            len(rounds)), "",
    ] + rows + [
        "",
        "dns_facts resolved the %d names in %.2f s (in the process %.2f s, %d DNS queries, %s LDAP round trips "
        "for the computer accounts), **%.1fx** the floor of one bare A query per name (%.2f s)." % (
            len(names), stats["dns_facts"]["seconds"]["median"], stats["dns_facts"]["in_process_s"]["median"],
            module_queries, rounds[-1]["dns_facts"]["ldap_round_trips"], primary,
            stats["floor_a"]["seconds"]["median"]), "",
        "Classified as seeded, name by name, in every round: %d ok; %s." % (summary["ok"], counts), "",
        "Run: %s UTC, commit %s, cpus %d, load %.2f, seed %s." % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), commit, os.cpu_count(),
            os.getloadavg()[0], population["seed"]),
    ]) + "\n"
    print("\n" + text)
    os.makedirs(options.results, exist_ok=True)
    with open(os.path.join(options.results, "dns.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(os.path.join(options.results, "dns.json"), "w", encoding="utf-8") as handle:
        json.dump(dict(rounds=rounds, stats=stats, ratios=ratios, names=len(names), instances=SIZE,
                       module_queries=module_queries, queries=queries, summary=summary,
                       expected=estate.dns_counts(plan), commit=commit, seed=population["seed"]), handle, indent=2)


if __name__ == "__main__":
    main()
