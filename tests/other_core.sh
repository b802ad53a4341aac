#!/usr/bin/env bash
# Tests on an ansible-core release other than the project virtualenv's (where
# the full suite runs), on a given Python:
#  - ansible-doc of every module, filter and role, as installed from the tarball;
#  - the unit tests, through that release's ansible-test, on PYTHON and on
#    each UNIT_PYTHON given after the collections path;
#  - the lab integration smoke tests (spn_facts, and site.yml end to end)
#    through that release's ansible-playbook, the modules from the installed
#    tarball running on PYTHON.
# The release gets its own virtualenv, .cache/venv-coreX.Y, made from PYTHON
# (on the first run; pip's cache spares rebuilding gssapi). The lab must be
# running, freshly seeded (the site.yml tests re-seed it after themselves).
#
# A Python this machine lacks is no error, and never silent: what needed it
# is reported as NOT tested, on the output and, when SQLAUTH_TEST_SUMMARY
# names a file, in that file (one line per result, for `run test`'s summary).
# Pythons are looked for as /usr/bin/pythonX.Y, on PATH, then among pyenv's
# versions.
#
#   tests/other_core.sh CORE PYTHON COLLECTIONS_PATH [UNIT_PYTHON...]
#   e.g. tests/other_core.sh 2.21 3.12 .cache/collections 3.13
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n 's/^#   //p' "$0" >&2
    exit 2
fi
core=$1 python=$2
collections=$(cd "$3" && pwd)
unit_pythons=("$python" "${@:4}")
repo=$(cd "$(dirname "$0")/.." && pwd)
main_venv=${SQLAUTH_VENV:-$repo/.venv}
smoke_tests=(tests/integration_lab/test_spn_facts.py tests/integration_lab/test_site.py)
venv=$repo/.cache/venv-core$core
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

report() {
    # report tested|"NOT tested" CORE PYTHON WHAT
    echo "$1: ansible-core $2 on Python $3: $4"
    if [ -n "${SQLAUTH_TEST_SUMMARY:-}" ]; then
        printf '%s\t%s\t%s\t%s\n' "$@" >>"$SQLAUTH_TEST_SUMMARY"
    fi
}

find_python() {
    # The path of a working pythonX.Y that can make virtualenvs, or nothing.
    # (A pyenv shim of a version pyenv has not selected exists but fails.)
    local version=$1 candidate
    for candidate in "/usr/bin/python$version" "$(command -v "python$version" || true)" \
        $(printf '%s\n' "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".*/bin/"python$version" | sort -rV); do
        [ -x "$candidate" ] || continue
        if "$candidate" -c 'import ensurepip, ssl, venv' >/dev/null 2>&1; then
            "$candidate" -c 'import sys; print(sys.executable)'
            return
        fi
    done
}

interpreter=$(find_python "$python")
if [ -z "$interpreter" ]; then
    report "NOT tested" "$core" "$python" "no python$python on this machine"
    for unit_python in "${unit_pythons[@]:1}"; do
        report "NOT tested" "$core" "$unit_python" "unit tests: no python$python for ansible-core $core"
    done
    exit 0
fi

if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c "import sys; sys.exit(sys.version[:len('$python') + 1] != '$python.')"; then
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    "$interpreter" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$repo/requirements.txt" "ansible-core~=$core.0"
version=$("$venv/bin/python" -c 'import ansible.release; print(ansible.release.__version__)')
echo "ansible-core $version on Python $python in $venv"

PATH=$venv/bin:$PATH "$repo/tests/sanity/check_docs.sh" "$collections"

# ansible-test runs inside .../ansible_collections/NAMESPACE/NAME only, and
# --venv bootstraps pip with a script it downloads unless its cache has one:
# the offline stand-in serves, under the name this release looks for.
tree=$scratch/ansible_collections/sqlauth/kerberos
mkdir -p "$tree"
(cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$tree")
pip_version=$(grep -ohE "pip='[0-9.]+'" "$venv"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py \
    | head -1 | tr -dc '0-9.')
if [ -z "$pip_version" ]; then
    echo "cannot tell which pip bootstrap ansible-test $version looks for" >&2
    exit 1
fi
mkdir -p ~/.ansible/test/cache
cp "$repo/tests/sanity/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
# ansible-test finds other Pythons as pythonX.Y on PATH: each found one is
# linked there (pyenv's shims would fail for the versions it has not selected).
mkdir -p "$scratch/bin"
reports=()
for unit_python in "${unit_pythons[@]}"; do
    unit_interpreter=$(find_python "$unit_python")
    if [ -z "$unit_interpreter" ]; then
        reports+=("NOT tested|$unit_python|unit tests: no python$unit_python on this machine")
        continue
    fi
    ln -sf "$unit_interpreter" "$scratch/bin/python$unit_python"
    log=$repo/.cache/units-core$core-py$unit_python.log
    if ! (cd "$tree" && PATH=$scratch/bin:$PATH \
        "$venv/bin/ansible-test" units --venv --python "$unit_python" --color no >"$log" 2>&1); then
        tail -30 "$log"
        exit 1
    fi
    echo "unit tests on Python $unit_python: $(grep -E '^=+ .*(passed|failed).* =+$' "$log" | tail -1 | tr -d '=' | xargs)"
    [ "$unit_python" = "$python" ] || reports+=("tested|$unit_python|unit tests")
done

(cd "$repo" && SQLAUTH_ANSIBLE_VENV=$venv ANSIBLE_COLLECTIONS_PATH=$collections \
    "$main_venv/bin/pytest" -q -p no:cacheprovider -p no:pytest-ansible -W ignore::DeprecationWarning \
    "${smoke_tests[@]}")
report tested "$version" "$python" "ansible-doc, unit tests, spn_facts and site.yml lab tests"
for entry in "${reports[@]}"; do
    IFS='|' read -r status unit_python what <<<"$entry"
    report "$status" "$version" "$unit_python" "$what"
done
