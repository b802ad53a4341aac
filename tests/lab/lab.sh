#!/usr/bin/env bash
# The project's test lab: a Samba Active Directory domain controller bound to
# loopback, in a private directory, with seeded SQL Server scenarios.
#
#   lab.sh up        install what is missing, provision, start, seed (idempotent)
#   lab.sh reset     wipe the lab and build it anew (deterministic state for tests)
#   lab.sh start     start the DC if it is not running, wait until LDAP answers
#   lab.sh stop      stop the DC (by the PID samba itself wrote)
#   lab.sh seed      (re)create the scenario accounts and SPNs
#   lab.sh status    print whether the DC runs and where the lab is
#   lab.sh env       print shell exports for the connection details
#
# Every command is safe to re-run. The lab directory is $SQLAUTH_LAB_DIR
# (default /var/tmp/sqlauth-kerberos-lab); unix socket paths must stay short,
# which is why it does not live inside the checkout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lab=${SQLAUTH_LAB_DIR:-/var/tmp/sqlauth-kerberos-lab}
venv=${SQLAUTH_VENV:-$repo/.venv}

realm=CORP.EXAMPLE.TEST
netbios=CORP
dc_host=dc1
dc_fqdn=dc1.corp.example.test
base_dn=DC=corp,DC=example,DC=test
conf=$lab/etc/smb.conf
pidfile=$lab/run/samba.pid

log() { echo "lab: $*" >&2; }

is_running() {
    [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

ensure_hosts_entry() {
    # Kerberos and TLS need the DC's name to resolve to loopback.
    if ! grep -qE "^127\.0\.0\.1[[:space:]].*\b$dc_fqdn\b" /etc/hosts; then
        echo "127.0.0.1 $dc_fqdn $dc_host" >>/etc/hosts
    fi
}

write_krb5_conf() {
    cat >"$lab/krb5.conf" <<EOF
[libdefaults]
    default_realm = $realm
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    forwardable = true

[realms]
    $realm = {
        kdc = 127.0.0.1
        admin_server = 127.0.0.1
    }

[domain_realm]
    .corp.example.test = $realm
    corp.example.test = $realm
EOF
}

provision() {
    if [ -f "$conf" ]; then
        return 0
    fi
    mkdir -p "$lab/run" "$lab/etc"
    local admin_password
    # A fresh random password per lab; letters, digits and symbols satisfy
    # the default AD complexity policy.
    admin_password="Lab-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')-9a!"
    log "provisioning $realm in $lab"
    # Own pid/ncalrpc/winbindd directories: the defaults under /run/samba are
    # shared with any other Samba on the machine and block a second DC.
    samba-tool domain provision --realm="$realm" --domain="$netbios" \
        --server-role=dc --dns-backend=SAMBA_INTERNAL \
        --adminpass="$admin_password" --targetdir="$lab" \
        --host-name="$dc_host" --host-ip=127.0.0.1 \
        --function-level=2016 \
        --option="interfaces=lo" --option="bind interfaces only=yes" \
        --option="pid directory=$lab/run" \
        --option="ncalrpc dir=$lab/run/ncalrpc" \
        --option="winbindd socket directory=$lab/run/winbindd" \
        --option="server services=-nbt -wrepl" \
        --option="ad dc functional level=2016" \
        --option="log level=1 auth_audit:3 kerberos:3" \
        --option="dns update command=/bin/true" \
        >"$lab/provision.log" 2>&1 || { cat "$lab/provision.log" >&2; exit 1; }
    # Lab passwords must not expire between sessions that reuse the lab.
    samba-tool domain passwordsettings set -H "$lab/private/sam.ldb" \
        --max-pwd-age=0 >/dev/null
    umask 077
    cat >"$lab/connection.env" <<EOF
SQLAUTH_LDAP_SERVER=$dc_fqdn
SQLAUTH_LDAP_CA_CERT=$lab/private/tls/ca.pem
SQLAUTH_LDAP_USERNAME=Administrator@$realm
SQLAUTH_LDAP_PASSWORD=$admin_password
SQLAUTH_LAB_REALM=$realm
SQLAUTH_LAB_NETBIOS=$netbios
SQLAUTH_LAB_BASE_DN=$base_dn
SQLAUTH_LAB_DIR=$lab
KRB5_CONFIG=$lab/krb5.conf
EOF
    umask 022
    write_krb5_conf
    apply_schema_fix
}

apply_schema_fix() {
    # Windows lets Domain Admins write msDS-AllowedToActOnBehalfOfOtherIdentity
    # (RBKCD); Samba marks it systemOnly. Match Windows, with the DC stopped.
    local schema_ldb="$lab/private/sam.ldb.d/CN=SCHEMA,CN=CONFIGURATION,DC=CORP,DC=EXAMPLE,DC=TEST.ldb"
    local attr_dn="CN=ms-DS-Allowed-To-Act-On-Behalf-Of-Other-Identity,CN=Schema,CN=Configuration,$base_dn"
    ldbmodify -H "$schema_ldb" >/dev/null <<EOF
dn: $attr_dn
changetype: modify
replace: systemOnly
systemOnly: FALSE
EOF
    local value
    value=$(ldbsearch -H "$schema_ldb" -b "$attr_dn" -s base systemOnly | awk '/^systemOnly:/ {print $2}')
    [ "$value" = "FALSE" ] || { log "schema fix did not apply (systemOnly=$value)"; exit 1; }
}

start() {
    [ -f "$conf" ] || { log "not provisioned; run: $0 up"; exit 1; }
    ensure_hosts_entry
    if ! is_running; then
        rm -f "$pidfile"
        # Foreground single-process samba, detached from our terminal and
        # stdio so that callers (CI) never wait on it.
        setsid samba -i -M single -s "$conf" --debug-stdout \
            >>"$lab/samba.log" 2>&1 </dev/null &
        disown || true
    fi
    wait_for_ldap
    log "DC running (pid $(cat "$pidfile")), LDAPS on $dc_fqdn:636"
}

wait_for_ldap() {
    local tries=0
    until [ -s "$pidfile" ] && ldapsearch -LLL -x -H ldap://127.0.0.1 -b '' -s base \
            highestCommittedUSN >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ $tries -gt 300 ]; then
            log "LDAP did not answer within 60 s; last lines of $lab/samba.log:"
            tail -n 30 "$lab/samba.log" >&2
            exit 1
        fi
        sleep 0.2
    done
}

stop() {
    if is_running; then
        local pid
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        log "DC stopped"
    fi
    rm -f "$pidfile"
}

seed() {
    is_running || start
    [ -x "$venv/bin/python" ] || "$here/install-python.sh"
    "$venv/bin/python" "$here/seed.py" --lab "$lab" --scenarios "$here/scenarios.yml"
    touch "$lab/seeded"
}

install() {
    if ! command -v samba >/dev/null || ! command -v kvno >/dev/null \
       || ! command -v ldbmodify >/dev/null || ! command -v ldapsearch >/dev/null; then
        "$here/install-packages.sh"
    fi
    [ -x "$venv/bin/python" ] || "$here/install-python.sh"
}

case "${1:-}" in
    up)
        install
        provision
        start
        [ -f "$lab/seeded" ] || seed
        ;;
    reset)
        install
        stop
        rm -rf "$lab"
        provision
        start
        seed
        ;;
    start) start ;;
    stop) stop ;;
    seed) seed ;;
    status)
        if is_running; then echo "running (pid $(cat "$pidfile")) in $lab"; else echo "stopped ($lab)"; fi
        ;;
    env)
        [ -f "$lab/connection.env" ] || { log "not provisioned"; exit 1; }
        sed 's/^/export /' "$lab/connection.env"
        # The automation account the lab inventory binds as (written by the seed).
        if [ -f "$lab/pipeline.env" ]; then sed 's/^/export /' "$lab/pipeline.env"; fi
        ;;
    *)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
