#!/usr/bin/env bash
# Builds the collection's docsite offline: antsibull-docs turns the
# documentation of every module, filter and role, and the guides of
# docs/docsite/, into Sphinx sources, and Sphinx renders them to HTML in
# .cache/docs/html (open index.html). Fails on any documentation error and on
# any Sphinx warning, broken references included.
#
#   docs/build.sh                    builds and installs the collection from this checkout first
#   docs/build.sh COLLECTIONS_PATH   documents sqlauth.kerberos as installed there (./run does this)
#
# Runs in the project's virtualenv (.venv, or $SQLAUTH_VENV), into which it
# installs docs/requirements.txt; needs no network once those are installed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${SQLAUTH_VENV:-$repo/.venv}
work=$repo/.cache/docs
site=$work/site
export PATH=$venv/bin:$PATH ANSIBLE_NOCOLOR=1

# Runs a command, printing its output only if it fails (antsibull-docs
# reports documentation errors on stdout).
quietly() {
    local output
    if ! output=$("$@" 2>&1); then
        printf '%s\n' "$output" >&2
        return 1
    fi
}

"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$repo/docs/requirements.txt"

if [ $# -ge 1 ]; then
    collections=$(cd "$1" && pwd)
else
    collections=$work/collections
    rm -rf "$work/tarball" "$collections"
    (cd "$repo" && ansible-galaxy collection build --force --output-path "$work/tarball" >/dev/null)
    ANSIBLE_COLLECTIONS_PATH=$collections ansible-galaxy collection install --force -p "$collections" \
        "$work"/tarball/sqlauth-kerberos-*.tar.gz >/dev/null
fi
root=$collections/ansible_collections/sqlauth/kerberos
if [ ! -f "$root/MANIFEST.json" ]; then
    echo "sqlauth.kerberos is not installed in $collections" >&2
    exit 1
fi
export ANSIBLE_COLLECTIONS_PATH=$collections

# The guides' labels and toctree, and links.yml, as the Ansible docsite wants them.
antsibull-docs lint-collection-docs --no-plugin-docs "$root"

rm -rf "$site" "$work/html" "$work/doctrees"
mkdir -p "$site"
quietly antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir "$site" \
    --project sqlauth.kerberos --title sqlauth.kerberos --copyright "sqlauth.kerberos contributors" \
    sqlauth.kerberos
cp "$repo/docs/antsibull-docs.cfg" "$site/antsibull-docs.cfg"

# Offline references: the generated conf.py would download the inventories of
# docs.python.org and docs.ansible.com. Instead, the few labels of the Ansible
# documentation that the pages use come from a local inventory.
"$venv/bin/python" - "$repo/docs/intersphinx/ansible_devel.txt" "$site/ansible_devel.inv" <<'PYTHON'
import sys
import zlib

source, target = sys.argv[1:]
entries = []
with open(source, encoding="utf-8") as lines:
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            label, uri, title = (part.strip() for part in line.split("|"))
            entries.append("%s std:label -1 %s %s\n" % (label, uri, title))
header = ("# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
          "# The remainder of this file is compressed using zlib.\n")
with open(target, "wb") as inventory:
    inventory.write(header.encode("utf-8") + zlib.compress("".join(entries).encode("utf-8")))
PYTHON
cat >>"$site/conf.py" <<PYTHON

# Added by docs/build.sh: nothing is downloaded while building.
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '$site/ansible_devel.inv'),
}
PYTHON

chmod og-w "$site/rst"  # antsibull-docs wants its output directory writable by its owner only
quietly antsibull-docs --config-file "$site/antsibull-docs.cfg" collection --use-current --squash-hierarchy \
    --fail-on-error --cleanup everything --dest-dir "$site/rst" sqlauth.kerberos
sphinx-build -q -b html -W --keep-going -c "$site" -d "$work/doctrees" "$site/rst" "$work/html"
echo "docsite built: $work/html/index.html ($(find "$work/html" -name '*.html' | wc -l) pages)"
