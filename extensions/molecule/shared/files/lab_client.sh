#!/usr/bin/env bash
# The lab's own clients, for the scenarios' verify steps: OpenLDAP's ldapsearch
# and ldapmodify against the lab's DC, MIT Kerberos (kinit, kvno, ktutil)
# against its KDC, and Samba's samba-tool; never the collection's code. The
# lab's connection.env must be loaded (SQLAUTH_LDAP_*, SQLAUTH_LAB_*,
# KRB5_CONFIG); the service accounts' passwords come in the environment too,
# never as arguments.
#
#   lab_client.sh spns ACCOUNT [SPN...]
#       ACCOUNT holds exactly these MSSQLSvc SPNs (ldapsearch over LDAPS as the
#       lab's administrator), and for each, the user alice ($CLIENT_PASSWORD)
#       gets a service ticket that ACCOUNT's key ($ACCOUNT_PASSWORD) decrypts:
#       what SQL Server running as ACCOUNT needs to accept alice's Kerberos login.
#   lab_client.sh writes-own-spn ACCOUNT DN
#       Bound as ACCOUNT ($ACCOUNT_PASSWORD), add then remove an SPN on its own
#       object DN: what SQL Server does at start-up.
#   lab_client.sh delegation ACCOUNT [DN...]
#       Exactly the accounts DN... may delegate to ACCOUNT (resource-based
#       constrained delegation, as samba-tool reads it from the DC's database).
#   lab_client.sh double-hop FRONT SPN
#       FRONT ($ACCOUNT_PASSWORD) gets a ticket to SPN on behalf of alice
#       (S4U2Self, then S4U2Proxy): a linked-server query under the caller's
#       identity.
#
# Prints a line per check; exits 1 if any check fails.
set -euo pipefail

realm=${SQLAUTH_LAB_REALM:?load the lab connection.env first}
lab=${SQLAUTH_LAB_DIR:?load the lab connection.env first}
: "${KRB5_CONFIG:?load the lab connection.env first}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A private ticket cache: nothing of the caller's is used or changed.
export KRB5CCNAME=FILE:$work/ccache LDAPTLS_CACERT=${SQLAUTH_LDAP_CA_CERT:?}
failed=0

ok() { echo "ok   $*"; }
not_ok() { echo "FAIL $*"; failed=1; }
lower_sorted() { sed '/^$/d' | tr '[:upper:]' '[:lower:]' | sort; }

# expect_set WHAT FOUND EXPECTED...: the lines of FOUND are the EXPECTED
# values, in any order and case (AD compares names and SPNs without case).
expect_set() {
    local what=$1 found=$2 shown
    shift 2
    if [ "$(lower_sorted <<<"$found")" = "$(printf '%s\n' "$@" | lower_sorted)" ]; then
        ok "$what:" "${@:-(none)}"
    else
        shown=${found//$'\n'/; }
        not_ok "$what: ${shown:-(none)} instead of" "${@:-(none)}"
    fi
}

kinit_as() {
    local principal=$1 password=$2
    shift 2
    printf '%s\n' "$password" | kinit "$@" "$principal" >/dev/null
}

spns() {
    local account=$1 out held number keytab spn salt enctype
    shift
    out=$(ldapsearch -LLL -o ldif-wrap=no -x -H "ldaps://${SQLAUTH_LDAP_SERVER:?}" -D "${SQLAUTH_LDAP_USERNAME:?}" \
        -y <(printf '%s' "${SQLAUTH_LDAP_PASSWORD:?}") -b "${SQLAUTH_LAB_BASE_DN:?}" \
        "(sAMAccountName=$account)" servicePrincipalName)
    if ! grep -q '^dn: ' <<<"$out"; then
        not_ok "$account: no such account"
        return
    fi
    held=$(sed -n 's/^servicePrincipalName: \(MSSQLSvc\/\)/\1/p' <<<"$out")
    expect_set "$account holds exactly these SQL Server SPNs" "$held" "$@"
    [ $# -gt 0 ] || return 0
    kinit_as alice "${CLIENT_PASSWORD:?}"
    for spn in "$@"; do
        if ! out=$(kvno "$spn" 2>&1); then
            not_ok "$spn: the KDC gives alice no ticket for it: $out"
            continue
        fi
        number=${out##*kvno = }
        number=${number%%[!0-9]*}
        keytab=$work/$number-$RANDOM.keytab
        # The account's RC4 key, and its AES keys with the salt Windows and Samba
        # use: REALM + sAMAccountName for users, REALM + host + name + . + domain
        # for computers (the site playbook sets AES on user service accounts).
        if [[ $account == *'$' ]]; then
            salt="${realm}host$(tr '[:upper:]' '[:lower:]' <<<"${account%\$}").$(tr '[:upper:]' '[:lower:]' <<<"$realm")"
        else
            salt="$realm$account"
        fi
        {
            printf 'addent -password -p %s@%s -k %s -e arcfour-hmac\n%s\n' "$spn" "$realm" "$number" "${ACCOUNT_PASSWORD:?}"
            for enctype in aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96; do
                printf 'addent -password -p %s@%s -k %s -e %s -s %s\n%s\n' "$spn" "$realm" "$number" "$enctype" \
                    "$salt" "$ACCOUNT_PASSWORD"
            done
            printf 'wkt %s\nquit\n' "$keytab"
        } | ktutil >/dev/null 2>&1 || true
        out=$(kvno -k "$keytab" "$spn" 2>&1) || true
        if [[ $out == *"keytab entry valid"* ]]; then
            ok "$spn: alice gets a ticket that $account's key decrypts"
        else
            not_ok "$spn: alice's ticket is not for $account's key: $out"
        fi
    done
}

writes_own_spn() {
    local account=$1 dn=$2 probe
    probe="MSSQLSvc/molecule-probe-${account,,}.corp.example.test:4242"
    if ldapmodify -x -H "ldaps://${SQLAUTH_LDAP_SERVER:?}" -D "$account@$realm" \
        -y <(printf '%s' "${ACCOUNT_PASSWORD:?}") >"$work/out" 2>&1 <<EOF
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
        ok "$account added and removed $probe on its own object"
    else
        not_ok "$account may not write its own SPNs: $(tr '\n' ' ' <"$work/out")"
    fi
}

delegation() {
    local account=$1 allowed
    shift
    allowed=$(samba-tool delegation show "$account" -H "$lab/private/sam.ldb" \
        | sed -n 's/^msDS-AllowedToActOnBehalfOfOtherIdentity: //p')
    expect_set "exactly these accounts may delegate to $account" "$allowed" "$@"
}

double_hop() {
    local front=$1 spn=$2 out
    kinit_as "$front" "${ACCOUNT_PASSWORD:?}" -f
    if out=$(kvno -U alice -P "$spn" 2>&1); then
        ok "$front gets a ticket to $spn for alice: $out"
    else
        not_ok "$front gets no ticket to $spn for alice: $out"
    fi
}

command=${1:-}
shift || true
case "$command" in
    spns) spns "$@" ;;
    writes-own-spn) writes_own_spn "$@" ;;
    delegation) delegation "$@" ;;
    double-hop) double_hop "$@" ;;
    *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
exit "$failed"
