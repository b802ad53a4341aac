#!/usr/bin/env bash
# Creates the project's virtualenv (.venv at the repository root, or
# $SQLAUTH_VENV) from Debian's python3 and installs the Python packages.
# Safe to re-run: pip skips what is already satisfied.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${SQLAUTH_VENV:-$repo/.venv}

if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$repo/requirements.txt" -r "$repo/tests/requirements.txt"
echo "python: ok ($("$venv/bin/python" --version), $("$venv/bin/ansible" --version | head -1))"
