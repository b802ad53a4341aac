#!/usr/bin/env bash
# Checks the execution environment definition of the collection as installed
# in COLLECTIONS_PATH (from the built tarball), the two ways ansible-builder
# reads it, without a container engine:
#  - introspection, as when an EE lists sqlauth.kerberos among its galaxy
#    dependencies: the collection's Python and system requirements are found;
#  - `ansible-builder create` on meta/execution-environment.yml as a definition
#    of its own: the build context has a Containerfile and the requirements.
# Also checks that bindep selects the right packages for the EE's platform.
#
#   tests/sanity/check_execution_environment.sh COLLECTIONS_PATH [CONTEXT_DIR]
#
# With CONTEXT_DIR, the build context is kept there; build the image with
# `podman build -t sqlauth-ee CONTEXT_DIR` (or docker).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${SQLAUTH_VENV:-$repo/.venv}
collections=$(cd "$1" && pwd)
root=$collections/ansible_collections/sqlauth/kerberos
export PATH=$venv/bin:$PATH

if ! command -v ansible-builder >/dev/null; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        "$(grep -E '^ansible-builder' "$repo/tests/requirements.txt")"
fi

fail() { echo "execution environment: $*" >&2; exit 1; }

for file in meta/execution-environment.yml requirements.txt bindep.txt; do
    [ -s "$root/$file" ] || fail "$file is missing from the collection tarball"
done

# 1. Introspection finds the collection's requirements.
introspected=$(ansible-builder introspect "$collections")
for requirement in ldap3 gssapi cryptography krb5-devel krb5-workstation; do
    grep -q "^- '${requirement}[ >=[]" <<<"$introspected" \
        || fail "ansible-builder introspect does not list $requirement:"$'\n'"$introspected"
done
# pywinrm with the extras of its Kerberos and CredSSP transports.
grep -q "^- 'pywinrm\[kerberos,credssp\]>=" <<<"$introspected" \
    || fail "ansible-builder introspect does not list pywinrm[kerberos,credssp]:"$'\n'"$introspected"

# 2. The definition on its own: its files are relative to it, so it is staged
#    beside requirements.txt and bindep.txt, as in the collection root.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
context=${2:-$scratch/context}
mkdir -p "$scratch/definition"
cp "$root/meta/execution-environment.yml" "$root/requirements.txt" "$root/bindep.txt" "$scratch/definition/"
rm -rf "$context"
ansible-builder create --file "$scratch/definition/execution-environment.yml" --context "$context" \
    --output-filename Containerfile >/dev/null
[ -s "$context/Containerfile" ] || fail "ansible-builder create wrote no Containerfile"
cmp -s "$context/_build/requirements.txt" "$root/requirements.txt" || fail "requirements.txt is not in the build context"
cmp -s "$context/_build/bindep.txt" "$root/bindep.txt" || fail "bindep.txt is not in the build context"
base_image=$(sed -n 's/^ARG EE_BASE_IMAGE="\(.*\)"$/\1/p' "$context/Containerfile")
[ -n "$base_image" ] || fail "the Containerfile names no base image"
core=$(sed -n 's/^ARG ANSIBLE_INSTALL_REFS="\(.*\)"$/\1/p' "$context/Containerfile")
[[ $core == ansible-core* ]] || fail "the Containerfile installs no ansible-core"

# 3. bindep on the EE's platform (CentOS Stream 9, RHEL 9): the build stage
#    gets the compiler and the headers of the Python the EE runs, the final
#    image only the Kerberos client.
"$venv/bin/python" - "$root/bindep.txt" <<'PYTHON'
import sys

from bindep.depends import Depends

with open(sys.argv[1], encoding="utf-8") as handle:
    depends = Depends(handle.read())
platform = ["platform:centos", "platform:centos-9", "platform:redhat", "platform:rpm"]
expected = {
    "build": (platform + ["compile"], {"gcc", "krb5-devel", "krb5-workstation", "python3.11-devel"}),
    "run": (platform, {"krb5-workstation"}),
}
for stage, (profiles, packages) in expected.items():
    selected = {rule[0] for rule in depends.active_rules(profiles)}
    if selected != packages:
        sys.exit("execution environment: bindep selects %s for the %s stage on CentOS Stream 9, expected %s"
                 % (sorted(selected), stage, sorted(packages)))
PYTHON

echo "execution environment: build context from $base_image with $core," \
    "requirements found by introspection${2:+ (context kept in $context)}"
