#!/usr/bin/env bash
# The lab's own clients, for the scenarios' verify steps: MIT Kerberos (kinit,
# kvno, ktutil) against the lab's KDC and OpenLDAP's ldapmodify against its DC,
# never the collection's code. The lab's connection.env must be loaded
# (KRB5_CONFIG, SQLAUTH_LAB_REALM, SQLAUTH_LDAP_SERVER, SQLAUTH_LDAP_CA_CERT);
# passwords come in the environment, never as arguments.
#
#   lab_client.sh kdc-accepts ACCOUNT SPN...
#       As the user alice ($CLIENT_PASSWORD), get a service ticket for each SPN
#       and check that ACCOUNT's key ($ACCOUNT_PASSWORD) decrypts it: what SQL
#       Server running as ACCOUNT needs to accept alice's Kerberos login.
#   lab_client.sh writes-own-spn ACCOUNT DN
#       Bind as ACCOUNT ($ACCOUNT_PASSWORD) and add, then remove, an SPN on its
#       own object DN: what SQL Server does at start-up.
#   lab_client.sh double-hop FRONT SPN
#       As FRONT ($ACCOUNT_PASSWORD), get a ticket to SPN on behalf of alice
#       (S4U2Self, then S4U2Proxy): a linked-server query under the caller's
#       identity.
#
# Prints a line per check; exits 1 if any check fails.
set -euo pipefail

realm=${SQLAUTH_LAB_REALM:?load the lab connection.env first}
: "${KRB5_CONFIG:?load the lab connection.env first}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A private ticket cache: nothing of the caller's is used or changed.
export KRB5CCNAME=FILE:$work/ccache

kinit_as() {
    local principal=$1 password=$2
    shift 2
    printf '%s\n' "$password" | kinit "$@" "$principal" >/dev/null
}

kdc_accepts() {
    local account=$1 failed=0 spn out number keytab
    shift
    kinit_as alice "${CLIENT_PASSWORD:?}"
    for spn in "$@"; do
        if ! out=$(kvno "$spn" 2>&1); then
            echo "FAIL $spn: the KDC gives alice no ticket for it: $out"
            failed=1
            continue
        fi
        number=${out##*kvno = }
        number=${number%%[!0-9]*}
        keytab=$work/$number-$RANDOM.keytab
        printf 'addent -password -p %s@%s -k %s -e arcfour-hmac\n%s\nwkt %s\nquit\n' \
            "$spn" "$realm" "$number" "${ACCOUNT_PASSWORD:?}" "$keytab" | ktutil >/dev/null 2>&1 || true
        out=$(kvno -k "$keytab" "$spn" 2>&1) || true
        if [[ $out == *"keytab entry valid"* ]]; then
            echo "ok   $spn: alice gets a ticket that $account's key decrypts"
        else
            echo "FAIL $spn: alice's ticket is not for $account's key: $out"
            failed=1
        fi
    done
    return "$failed"
}

writes_own_spn() {
    local account=$1 dn=$2 probe
    probe="MSSQLSvc/molecule-probe-${account,,}.corp.example.test:4242"
    if LDAPTLS_CACERT=${SQLAUTH_LDAP_CA_CERT:?} ldapmodify -x -H "ldaps://${SQLAUTH_LDAP_SERVER:?}" \
        -D "$account@$realm" -y <(printf '%s' "${ACCOUNT_PASSWORD:?}") >"$work/out" 2>&1 <<EOF
dn: $dn
changetype: modify
add: servicePrincipalName
servicePrincipalName: $probe

dn: $dn
changetype: modify
delete: servicePrincipalName
servicePrincipalName: $probe
EOF
    then
        echo "ok   $account added and removed $probe on its own object"
    else
        echo "FAIL $account may not write its own SPNs: $(tr '\n' ' ' <"$work/out")"
        return 1
    fi
}

double_hop() {
    local front=$1 spn=$2 out
    kinit_as "$front" "${ACCOUNT_PASSWORD:?}" -f
    if out=$(kvno -U alice -P "$spn" 2>&1); then
        echo "ok   $front gets a ticket to $spn for alice: $out"
    else
        echo "FAIL $front gets no ticket to $spn for alice: $out"
        return 1
    fi
}

command=${1:-}
shift || true
case "$command" in
    kdc-accepts) kdc_accepts "$@" ;;
    writes-own-spn) writes_own_spn "$@" ;;
    double-hop) double_hop "$@" ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
