#!/usr/bin/env bash
# Installs the operating-system packages the lab and the test suite need on
# Debian 12 (run as root). Safe to re-run: it only adds what is missing.
set -euo pipefail

backports=/etc/apt/sources.list.d/bookworm-backports.list
# Samba 4.17 in bookworm lacks fixes the lab relies on; 4.22 from backports
# is the version the lab was verified with.
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$backports"
fi

export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/sqlauth-kerberos-update
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ] \
   || ! apt-cache policy samba-ad-dc 2>/dev/null | grep -q bpo; then
    apt-get update -qq
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi

apt-get install -y -qq -o Dpkg::Use-Pty=0 -t bookworm-backports \
    samba samba-ad-dc winbind ldb-tools krb5-user ldap-utils >/dev/null
# chromium: the test suite renders the HTML drift report, headless.
apt-get install -y -qq -o Dpkg::Use-Pty=0 \
    python3-venv python3-dev gcc libkrb5-dev git shellcheck chromium >/dev/null

# Samba's packaged services would hold the lab's ports; the lab runs its own DC.
for unit in samba-ad-dc smbd nmbd winbind; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
done
echo "packages: ok ($(samba --version))"
