# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The argument spec these options document is LDAP_CONNECTION_ARGUMENT_SPEC in
# plugins/module_utils/_ldap_connection.py; change both together.
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  server:
    description:
      - DNS name of the domain controller to connect to.
      - Use the name in the DC's certificate; Kerberos also needs the DNS name, not an IP address.
      - The Global Catalog, searched for forest-wide SPN checks, is reached on the same host.
      - If not set, the environment variable E(SQLAUTH_LDAP_SERVER) is used.
    type: str
  port:
    description:
      - TCP port of the LDAP service.
      - Defaults to V(636) with O(tls_mode=ldaps) and V(389) with O(tls_mode=start_tls).
      - If not set, the environment variable E(SQLAUTH_LDAP_PORT) is used.
    type: int
  tls_mode:
    description:
      - How the connection is protected. Every bind runs over TLS; plain LDAP is not offered.
      - V(ldaps) connects with TLS from the start (port 636, Global Catalog 3269).
      - V(start_tls) connects in clear and upgrades with StartTLS before binding (port 389, Global Catalog 3268).
      - If not set, the environment variable E(SQLAUTH_LDAP_TLS_MODE) is used.
    type: str
    choices: [ldaps, start_tls]
    default: ldaps
  auth_protocol:
    description:
      - V(simple) binds with O(username) and O(password).
      - V(kerberos) binds with SASL/GSSAPI, from the current Kerberos ticket cache (C(kinit)), or with a ticket
        obtained in memory from O(username) and O(password) when both are set.
      - Defaults to V(simple) when O(password) is set and V(kerberos) otherwise.
      - If not set, the environment variable E(SQLAUTH_LDAP_AUTH_PROTOCOL) is used.
    type: str
    choices: [simple, kerberos]
  username:
    description:
      - The account to bind as, as a user principal name (V(admin@corp.example.com)) or, for simple binds,
        also as a distinguished name or V(DOMAIN\\name).
      - If not set, the environment variable E(SQLAUTH_LDAP_USERNAME) is used.
    type: str
  password:
    description:
      - The password of O(username). Never logged.
      - If not set, the environment variable E(SQLAUTH_LDAP_PASSWORD) is used.
    type: str
  cert_validation:
    description:
      - V(always) checks that the DC's certificate chains to a trusted CA and names O(server).
      - V(ignore_hostname) checks the chain but not the name.
      - V(ignore) checks nothing; only for a lab, as anyone on the path can read the password.
      - If not set, the environment variable E(SQLAUTH_LDAP_CERT_VALIDATION) is used.
    type: str
    choices: [always, ignore, ignore_hostname]
    default: always
  ca_cert:
    description:
      - A PEM file with the CA certificate(s) that issued the DC's certificate.
      - If not set, the system's trusted CA store is used.
      - If not set, the environment variable E(SQLAUTH_LDAP_CA_CERT) is used.
    type: path
  connection_timeout:
    description:
      - Seconds to wait for the DC while connecting, for the TCP connection and then for each answer during
        the TLS handshake and the bind (1 to 3600).
      - If not set, the environment variable E(SQLAUTH_LDAP_CONNECTION_TIMEOUT) is used.
    type: int
    default: 10
  operation_timeout:
    description:
      - Seconds to wait for the DC's answer to each LDAP operation (search page, modify) once connected
        (1 to 3600).
      - A module call against a DC that stops answering fails within O(connection_timeout) plus
        O(operation_timeout) plus a second, and its message says how long it waited. A modify that timed out
        may or may not have been applied; the message says so, and a re-run converges.
      - Not bounded by these options are the DNS lookup of O(server), bounded by the resolver's own timeouts,
        and, with O(auth_protocol=kerberos), the requests to the KDC, bounded by the Kerberos library's
        (C(krb5.conf)).
      - If not set, the environment variable E(SQLAUTH_LDAP_OPERATION_TIMEOUT) is used.
    type: int
    default: 30
  ambiguous_names:
    description:
      - What to do with a bare account name (V(sqlrpt01)) that names a user while a computer of the same name
        (V(SQLRPT01$)) exists too. The user is taken, as Windows does.
      - V(warn) says so in a warning naming both; V(fail) makes it an error before anything is written.
      - If not set, the environment variable E(SQLAUTH_AMBIGUOUS_NAMES) is used.
    type: str
    choices: [warn, fail]
    default: warn
notes:
  - The module talks LDAP from where it runs; run it on the controller with C(delegate_to) set to
    V(localhost), and set the connection once for all LDAP modules with C(module_defaults) and the
    action group C(group/sqlauth.kerberos.ldap).
  - Every write of a call goes to the one DC it connects to. Runs writing through different DCs at the same
    time meet Active Directory replication, where the last writer of an attribute wins.
  - The rights each module needs, on which objects, are on the collection docsite's page Permissions (a table
    generated from the collection's permission model); a write the DC refuses names the right and its entry.
requirements:
  - ldap3 >= 2.9.1
  - gssapi >= 1.8.0 (only for O(auth_protocol=kerberos))
"""
