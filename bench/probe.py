# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KDC probe over the bench estate: kerberos_probe asking for a ticket
to every SPN of the first 1,000 instances (about 4,000 SPNs), next to a loop
of kvno processes doing the same work, one process per SPN, as a script
around MIT's tools would. Both ask as the bench lab's Administrator; the
accounts of those instances have passwords (populate.py), so the KDC can
issue their tickets.

Each probe round and the kvno loop must agree SPN by SPN on what the KDC
issued; the missing and duplicate SPNs of the estate must be among the
refused. Writes bench/results/probe.md and probe.json.

Usage (inside the bench's network namespace, as bench.sh runs it):
    python bench/probe.py --lab DIR [--rounds N] [--kvno-rounds N]
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import estate
from measure import REPO, dc_cpu_seconds, read_env  # measure puts tests/lab (lab_env) on the path

SIZE = estate.PASSWORD_INSTANCES

_PROBE_MAIN = """
import json, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.sqlauth.kerberos.plugins.modules import kerberos_probe
with open(sys.argv[1], encoding="utf-8") as handle:
    arguments = json.load(handle)
with patch_module_args(arguments):
    kerberos_probe.main()
"""

_KVNO_LOOP = """
import subprocess, sys
issued = []
for spn in open(sys.argv[1], encoding="utf-8").read().split():
    if subprocess.run(["kvno", spn], capture_output=True).returncode == 0:
        issued.append(spn)
print("\\n".join(issued))
"""


def timed(argv, env, lab):
    cpu_before, started = dc_cpu_seconds(lab), time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=1800)
    seconds, cpu_after = time.perf_counter() - started, dc_cpu_seconds(lab)
    if result.returncode != 0:
        sys.exit("bench probe: %s failed:\n%s\n%s" % (argv[1][:40], result.stdout[-2000:], result.stderr[-2000:]))
    dc_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return result.stdout, seconds, dc_cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--rounds", type=int, default=3, help="probe runs (default 3)")
    parser.add_argument("--kvno-rounds", type=int, default=1, help="kvno loops (default 1: about a minute each)")
    parser.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    options = parser.parse_args()
    connection = read_env(os.path.join(options.lab, "connection.env"))
    with open(os.path.join(options.lab, "bench-populated.json"), encoding="utf-8") as handle:
        population = json.load(handle)
    instances = estate.build(population["seed"])[:SIZE]
    realm = connection["SQLAUTH_LAB_REALM"]
    spns = sorted({spn for instance in instances for spn in instance["expected"]["spns"]}, key=str.lower)
    not_issuable = {spn.lower() for instance in instances for spn, status in instance["expected"]["spns"].items()
                    if status in ("missing", "duplicate")}
    work = tempfile.mkdtemp(prefix="sqlauth-bench-probe-")
    env = dict(os.environ, KRB5_CONFIG=connection["KRB5_CONFIG"], KRB5CCNAME="FILE:%s/ccache" % work)
    admin = connection["SQLAUTH_LDAP_USERNAME"].split("\\")[-1].split("@")[0]
    subprocess.run(["kinit", "%s@%s" % (admin, realm)], input=connection["SQLAUTH_LDAP_PASSWORD"] + "\n", env=env,
                   capture_output=True, text=True, check=True)
    arguments = os.path.join(work, "probe-args.json")
    with open(arguments, "w", encoding="utf-8") as handle:
        json.dump(dict(instances=estate.module_instances(instances), rate_limit=0, kerberos_ccache=env["KRB5CCNAME"],
                       server=connection["SQLAUTH_LDAP_SERVER"], ca_cert=connection["SQLAUTH_LDAP_CA_CERT"],
                       username=connection["SQLAUTH_LDAP_USERNAME"], password=connection["SQLAUTH_LDAP_PASSWORD"]),
                  handle)
    spn_file = os.path.join(work, "spns.txt")
    with open(spn_file, "w", encoding="utf-8") as handle:
        handle.write("\n".join(spns))

    probe_runs, kvno_runs, issued_by_probe = [], [], None
    for dummy in range(options.rounds):
        output, seconds, dc_cpu = timed([sys.executable, "-c", _PROBE_MAIN, arguments], env, options.lab)
        result = json.loads(output)
        # Asked for AES session keys only, the KDC refuses an account without AES (DES and RC4, 0.5 %
        # of the estate) what kvno, offering RC4, gets: the same ticket for this comparison.
        issued = {row["spn"].lower() for row in result["tickets"]
                  if row["issued"] or (row["error"] or {}).get("name") == "etype_not_supported"}
        if issued_by_probe is not None and issued != issued_by_probe:
            sys.exit("bench probe: two probe runs disagree on %d SPNs" % len(issued ^ issued_by_probe))
        issued_by_probe = issued
        probe_runs.append(dict(seconds=seconds, dc_cpu_s=dc_cpu, requested=result["summary"]["requested"],
                               issued=len(issued)))
        print("  probe      %6.2f s  %4d tickets  %6.1f/s" % (seconds, len(issued), len(spns) / seconds), flush=True)
    for dummy in range(options.kvno_rounds):
        output, seconds, dc_cpu = timed([sys.executable, "-c", _KVNO_LOOP, spn_file], env, options.lab)
        issued = {spn.lower() for spn in output.split()}
        kvno_runs.append(dict(seconds=seconds, dc_cpu_s=dc_cpu, issued=len(issued)))
        print("  kvno loop  %6.2f s  %4d tickets  %6.1f/s" % (seconds, len(issued), len(spns) / seconds), flush=True)
        if issued != issued_by_probe:
            sys.exit("bench probe: the probe and kvno disagree on %s" % sorted(issued ^ issued_by_probe)[:10])
    if not_issuable & issued_by_probe:
        sys.exit("bench probe: the KDC issued tickets for missing or duplicate SPNs: %s"
                 % sorted(not_issuable & issued_by_probe)[:10])

    probe_s = statistics.median(run["seconds"] for run in probe_runs)
    kvno_s = statistics.median(run["seconds"] for run in kvno_runs)
    probe_cpu = statistics.median(run["dc_cpu_s"] or 0 for run in probe_runs)
    kvno_cpu = statistics.median(run["dc_cpu_s"] or 0 for run in kvno_runs)
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip()
    rows = [
        ("SPNs asked (the first %d instances)" % SIZE, "%d" % len(spns), "%d" % len(spns)),
        ("tickets issued (the same SPNs both ways)", "%d" % len(issued_by_probe), "%d" % kvno_runs[0]["issued"]),
        ("seconds (median of %d / %d runs)" % (len(probe_runs), len(kvno_runs)), "%.2f" % probe_s, "%.2f" % kvno_s),
        ("SPNs per second", "%.0f" % (len(spns) / probe_s), "%.0f" % (len(spns) / kvno_s)),
        ("DC (KDC) CPU seconds", "%.2f" % probe_cpu, "%.2f" % kvno_cpu),
        ("DC CPU share of the wall time", "%.0f %%" % (100 * probe_cpu / probe_s),
         "%.0f %%" % (100 * kvno_cpu / kvno_s)),
    ]
    ratio = kvno_s / probe_s
    table = ["| measure | kerberos_probe (one process, rate_limit 0) | kvno loop (a process per SPN) |",
             "|---|---|---|"] + ["| %s | %s | %s |" % row for row in rows]
    table += ["", "Ratio kvno loop / probe: **%.1fx** (target >= 10x%s)." % (
        ratio, "" if ratio >= 10 else "; not met: the KDC, one Samba process, is the limit when its CPU share of "
        "the probe's time is near 100 %"),
        "", "Run: %s UTC, commit %s, cpus %d, seed %s." % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), commit, os.cpu_count(),
            population["seed"])]
    text = "# KDC probe benchmark\n\nWritten by bench/probe.py; see bench/README.md.\n\n" + "\n".join(table) + "\n"
    print("\n" + text)
    os.makedirs(options.results, exist_ok=True)
    with open(os.path.join(options.results, "probe.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(os.path.join(options.results, "probe.json"), "w", encoding="utf-8") as handle:
        json.dump(dict(probe=probe_runs, kvno=kvno_runs, spns=len(spns), ratio=ratio, commit=commit), handle,
                  indent=2)


if __name__ == "__main__":
    main()
