#!/usr/bin/env bash
# Runs the collection's Molecule scenarios (extensions/molecule/*/), one per
# role, each against the lab: reseed, apply the role, apply it again (nothing
# may change), verify with the lab's own clients, reseed.
#
#   tests/molecule.sh [COLLECTIONS_PATH [SCENARIO...]]
#
# COLLECTIONS_PATH: where the collection is installed from its built tarball
# (default: .cache/collections); the scenarios test that copy and no other.
# SCENARIO: run only these (default: all). The lab must be running at
# $SQLAUTH_LAB_DIR (default /var/tmp/sqlauth-kerberos-lab): tests/lab/lab.sh up.
# molecule must be on PATH (.venv/bin). Each scenario's log is kept in
# .cache/molecule/SCENARIO.log; a failed one is also printed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
collections=$(realpath -m "${1:-$repo/.cache/collections}")
shift || true
lab=${SQLAUTH_LAB_DIR:-/var/tmp/sqlauth-kerberos-lab}
logs=$repo/.cache/molecule

fail() { echo "molecule: $*" >&2; exit 2; }

command -v molecule >/dev/null || fail "molecule is not on PATH (it is in tests/requirements.txt)"
[ -f "$collections/ansible_collections/sqlauth/kerberos/MANIFEST.json" ] \
    || fail "no collection installed from a tarball in $collections"
[ -f "$lab/connection.env" ] || fail "no lab at $lab (tests/lab/lab.sh up)"

if [ $# -gt 0 ]; then
    scenarios=("$@")
else
    scenarios=()
    for file in "$repo"/extensions/molecule/*/molecule.yml; do
        if [ -f "$file" ]; then scenarios+=("$(basename "$(dirname "$file")")"); fi
    done
    [ ${#scenarios[@]} -gt 0 ] || fail "no scenario in $repo/extensions/molecule"
fi

# The lab's connection (SQLAUTH_LDAP_*, SQLAUTH_LAB_DIR, KRB5_CONFIG) for the
# modules, the lab inventory and the verify steps.
set -a
# shellcheck disable=SC1091
. "$lab/connection.env"
set +a
# The scenarios test the roles' behaviour, not the automation account's
# rights (tests/integration_lab/test_site.py does): the lab inventory's
# pipelines bind as the lab's admin here.
export SQLAUTH_PIPELINE_USERNAME=$SQLAUTH_LDAP_USERNAME SQLAUTH_PIPELINE_PASSWORD=$SQLAUTH_LDAP_PASSWORD
export ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_NOCOLOR=1 NO_COLOR=1

# A fresh Molecule state per scenario and run: a run that was killed cannot
# leave a scenario marked as prepared.
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$logs"

passed=() failed=()
start=$SECONDS
for scenario in "${scenarios[@]}"; do
    began=$SECONDS
    log=$logs/$scenario.log
    if (cd "$repo" && MOLECULE_EPHEMERAL_DIRECTORY=$state/$scenario \
            molecule --base-config extensions/molecule/config.yml test --scenario-name "$scenario") >"$log" 2>&1; then
        passed+=("$scenario $((SECONDS - began))s")
    else
        failed+=("$scenario")
        echo "== molecule scenario $scenario failed; its log ($log):"
        cat "$log"
    fi
done

summary="${#passed[@]}/${#scenarios[@]} scenarios passed in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "molecule: $summary; FAILED: ${failed[*]} (logs in $logs)"
    exit 1
fi
passed_list=$(printf ', %s' "${passed[@]}")
echo "molecule: $summary (${passed_list:2})"
