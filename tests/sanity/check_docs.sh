#!/usr/bin/env bash
# ansible-doc for every module, filter and role of the collection as installed
# in COLLECTIONS_PATH (from the built tarball): fails on any error or warning.
set -euo pipefail
collections=$1
export ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_NOCOLOR=1
root=$collections/ansible_collections/sqlauth/kerberos
checked=0
# ansible-core 2.21's ansible-doc -t role warns about its own internal
# collection, whatever the role (ansible/ansible#85689): not ours, dropped.
core_warning="^\[WARNING\]: Collection at '[^']*/ansible/_internal/ansible_collections/ansible/_protomatter' does not have a MANIFEST.json file"
check() {
    local output
    if ! output=$(ansible-doc "$@" 2>&1); then
        echo "ansible-doc $* failed:"; echo "$output"; exit 1
    fi
    output=$(grep -vE "$core_warning" <<<"$output" || true)
    if grep -qE '^\[?(WARNING|DEPRECATION|ERROR)' <<<"$output"; then
        echo "ansible-doc $* warned:"; grep -E '^\[?(WARNING|DEPRECATION|ERROR)' <<<"$output"; exit 1
    fi
    checked=$((checked + 1))
}
for file in "$root"/plugins/modules/*.py; do
    check "sqlauth.kerberos.$(basename "$file" .py)"
done
for file in "$root"/plugins/filter/*.yml; do
    check -t filter "sqlauth.kerberos.$(basename "$file" .yml)"
done
for role in "$root"/roles/*/; do
    [ -d "$role" ] || continue
    check -t role "sqlauth.kerberos.$(basename "$role")"
done
echo "$checked plugin and role documentation pages render without warnings"
