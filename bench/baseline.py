# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-SPN baseline: one search per required SPN, what ``setspn -Q`` and
dbatools' Test-DbaSpn do.

Deliberately the cheapest form of it, so that the ratio to spn_facts is a
lower bound: one process, one LDAPS bind to the Global Catalog, one
``(servicePrincipalName=SPN)`` search per distinct required SPN, no account
resolution and no ACL check (spn_facts does both). The required SPNs come
from the collection's own code, so both sides look for exactly the same set.

Usage: python baseline.py VARS_FILE (the JSON vars file with bench_instances);
the connection comes from the SQLAUTH_LDAP_* environment variables, the
Global Catalog's port from SQLAUTH_BENCH_GC_PORT (default 3269; the
latency relay's port when measuring through it). Prints a JSON summary.
"""

import json
import os
import ssl
import sys

import ldap3

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import escape_filter_value
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import SPN_FORMS, parse_instance

GLOBAL_CATALOG_LDAPS_PORT = 3269
ATTRIBUTES = ["sAMAccountName", "objectSid", "objectClass", "servicePrincipalName"]


def required_spns(instances):
    seen = {}
    for options in instances:
        for required in parse_instance(options).required_spns(SPN_FORMS):
            seen.setdefault(required.spn.lower(), required.spn)
    return list(seen.values())


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        instances = json.load(handle)["bench_instances"]
    spns = required_spns(instances)
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=os.environ["SQLAUTH_LDAP_CA_CERT"])
    port = int(os.environ.get("SQLAUTH_BENCH_GC_PORT") or GLOBAL_CATALOG_LDAPS_PORT)
    server = ldap3.Server(os.environ["SQLAUTH_LDAP_SERVER"], port=port, use_ssl=True,
                          tls=tls, get_info=ldap3.NONE)
    connection = ldap3.Connection(server, user=os.environ["SQLAUTH_LDAP_USERNAME"],
                                  password=os.environ["SQLAUTH_LDAP_PASSWORD"], auto_bind=True,
                                  raise_exceptions=True, receive_timeout=60)
    statuses = {"unregistered": 0, "one_holder": 0, "several_holders": 0}
    for spn in spns:
        connection.search("", "(servicePrincipalName=%s)" % escape_filter_value(spn), ldap3.SUBTREE,
                          attributes=ATTRIBUTES)
        holders = sum(1 for item in connection.response if item.get("type") == "searchResEntry")
        statuses["unregistered" if holders == 0 else "one_holder" if holders == 1 else "several_holders"] += 1
    connection.unbind()
    print(json.dumps({"instances": len(instances), "searches": len(spns), "spns": statuses}))


if __name__ == "__main__":
    main()
