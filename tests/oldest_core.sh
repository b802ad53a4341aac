#!/usr/bin/env bash
# Tests on the oldest ansible-core release the collection supports (the floor
# of requires_ansible in meta/runtime.yml), beside the full suite that runs on
# the release of the project's virtualenv:
#  - ansible-doc of every module, filter and role, as installed from the tarball;
#  - the unit tests, through that release's ansible-test;
#  - the spn_facts lab integration tests, through that release's
#    ansible-playbook, running the modules from the installed tarball.
# The release gets its own virtualenv, .cache/venv-coreX.Y (created on the
# first run; pip's cache spares rebuilding gssapi). The lab must be running.
#
#   tests/oldest_core.sh COLLECTIONS_PATH
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
collections=$(cd "$1" && pwd)
main_venv=${SQLAUTH_VENV:-$repo/.venv}
smoke_tests=(tests/integration_lab/test_spn_facts.py)

core=$(sed -n 's/^requires_ansible: *">=\([0-9][0-9]*\.[0-9][0-9]*\)\.[0-9][0-9]*".*/\1/p' "$repo/meta/runtime.yml")
if [ -z "$core" ]; then
    echo "meta/runtime.yml: requires_ansible is not of the form \">=X.Y.Z\"" >&2
    exit 1
fi
venv=$repo/.cache/venv-core$core

if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$repo/requirements.txt" "ansible-core~=$core.0"
version=$("$venv/bin/python" -c 'import ansible.release; print(ansible.release.__version__)')
python=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "ansible-core $version on Python $python in $venv"

PATH=$venv/bin:$PATH "$repo/tests/sanity/check_docs.sh" "$collections"

# ansible-test runs inside .../ansible_collections/NAMESPACE/NAME only, and
# --venv bootstraps pip with a script it downloads unless its cache has one:
# the offline stand-in serves, under the name this release looks for.
tree=${TMPDIR:-/tmp}/sqlauth-kerberos-ansible-test-core$core/ansible_collections/sqlauth/kerberos
rm -rf "$tree" && mkdir -p "$tree"
(cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$tree")
pip_version=$(grep -ohE "pip='[0-9.]+'" "$venv"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py \
    | head -1 | tr -dc '0-9.')
if [ -z "$pip_version" ]; then
    echo "cannot tell which pip bootstrap ansible-test $version looks for" >&2
    exit 1
fi
mkdir -p ~/.ansible/test/cache
cp "$repo/tests/sanity/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
log=$repo/.cache/units-core$core.log
if ! (cd "$tree" && "$venv/bin/ansible-test" units --venv --python "$python" --color no >"$log" 2>&1); then
    tail -30 "$log"
    exit 1
fi
echo "unit tests: $(grep -E '^=+ .*(passed|failed).* =+$' "$log" | tail -1 | tr -d '=' | xargs)"

(cd "$repo" && SQLAUTH_ANSIBLE_VENV=$venv ANSIBLE_COLLECTIONS_PATH=$collections \
    "$main_venv/bin/pytest" -q -p no:cacheprovider -p no:pytest-ansible -W ignore::DeprecationWarning \
    "${smoke_tests[@]}")
