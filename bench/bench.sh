#!/usr/bin/env bash
# Benchmark of the SPN audit (bench/README.md). Not part of ./run test.
#
#   bench/bench.sh [--quick] [--sizes 100,1000,5000] [--repeats N]
#                         install, start the bench lab, populate it once, measure
#   bench/bench.sh stop   stop the bench lab's DC
#
# The bench lab is its own Samba AD DC in the network namespace
# $SQLAUTH_BENCH_NETNS (default sqlauth-bench), in $SQLAUTH_BENCH_LAB_DIR
# (default /var/tmp/sqlauth-bench-lab), so it never clashes with the test lab.
# It is populated once per seed ($SQLAUTH_BENCH_SEED, default 6) and reused;
# another seed rebuilds it. The DNS records of the estate are a step of their
# own (populate.py, bench-dns.json), reseeded alone when their plan changes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${SQLAUTH_VENV:-$repo/.venv}
lab=${SQLAUTH_BENCH_LAB_DIR:-/var/tmp/sqlauth-bench-lab}
netns=${SQLAUTH_BENCH_NETNS:-sqlauth-bench}
seed=${SQLAUTH_BENCH_SEED:-6}
# Its own build and install path: ./run test rebuilds .cache/collections and
# may do so while a benchmark runs.
build=$repo/.cache/bench/build
collections=$repo/.cache/bench/collections
export SQLAUTH_VENV=$venv

step() { printf '\n== %s\n' "$*"; }

in_netns() {
    ip netns exec "$netns" env SQLAUTH_LAB_DIR="$lab" SQLAUTH_VENV="$venv" "$@"
}

ensure_netns() {
    if ! ip netns list | awk '{print $1}' | grep -qx "$netns"; then
        ip netns add "$netns"
    fi
    ip netns exec "$netns" ip link set lo up
}

setup() {
    step "installing system and Python packages"
    "$repo/tests/lab/install-packages.sh"
    "$repo/tests/lab/install-python.sh"
    # GNU time measures each process's peak memory.
    if [ ! -x /usr/bin/time ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
    fi
    step "building and installing the collection into $collections"
    rm -rf "$build" "$collections"
    (cd "$repo" && "$venv/bin/ansible-galaxy" collection build --force --output-path "$build" >/dev/null)
    ANSIBLE_COLLECTIONS_PATH=$collections "$venv/bin/ansible-galaxy" collection install --force \
        -p "$collections" "$build"/sqlauth-kerberos-*.tar.gz >/dev/null
    echo "installed: $(ls "$build")"
}

case "${1:-}" in
    stop)
        ensure_netns
        in_netns "$repo/tests/lab/lab.sh" stop
        exit 0
        ;;
    -h|--help|help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
esac

setup
step "starting the bench lab in network namespace $netns ($lab)"
ensure_netns
in_netns "$repo/tests/lab/lab.sh" up
step "populating the directory and DNS (once per seed; about 5-10 minutes the first time)"
status=0
in_netns "$venv/bin/python" "$repo/bench/populate.py" --lab "$lab" --seed "$seed" || status=$?
if [ "$status" -eq 3 ] && [ -f "$lab/etc/smb.conf" ]; then
    # Another seed or an interrupted population: start from a fresh lab.
    step "rebuilding the bench lab in $lab"
    in_netns "$repo/tests/lab/lab.sh" stop
    rm -rf "$lab"
    in_netns "$repo/tests/lab/lab.sh" up
    in_netns "$venv/bin/python" "$repo/bench/populate.py" --lab "$lab" --seed "$seed"
elif [ "$status" -ne 0 ]; then
    exit "$status"
fi
step "measuring"
in_netns env ANSIBLE_COLLECTIONS_PATH="$collections" PYTHONPATH="$collections" \
    "$venv/bin/python" "$repo/bench/measure.py" --lab "$lab" "$@"
quick=()
for argument in "$@"; do
    if [ "$argument" = "--quick" ]; then quick=(--quick); fi
done
# --quick stays under 10 minutes: the KDC probe and DNS benches (their own
# tables, bench/results/probe.md and dns.md) run in the full run only.
if [ "${#quick[@]}" -eq 0 ]; then
    step "the KDC probe over 1,000 instances, next to a loop of kvno processes"
    in_netns env ANSIBLE_COLLECTIONS_PATH="$collections" PYTHONPATH="$collections" \
        "$venv/bin/python" "$repo/bench/probe.py" --lab "$lab"
    step "dns_facts over 1,000 instances' names, next to bare DNS queries of the same names"
    in_netns env ANSIBLE_COLLECTIONS_PATH="$collections" PYTHONPATH="$collections" \
        "$venv/bin/python" "$repo/bench/dns_bench.py" --lab "$lab"
fi
step "the fix path (site.yml against one ldapmodify) and the whole drift report"
in_netns env ANSIBLE_COLLECTIONS_PATH="$collections" PYTHONPATH="$collections" PATH="$venv/bin:$PATH" \
    "$venv/bin/python" "$repo/bench/fixpath.py" --lab "$lab" "${quick[@]}"
