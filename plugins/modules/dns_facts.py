#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: dns_facts
short_description: Resolve the SQL Server estate's names as its clients do, for Kerberos
version_added: 0.3.0
description:
  - A SQL Server client builds the SPN from the name DNS gives it. For every host, availability group listener and
    alias of the instances, asks the DNS servers the domain's clients use - forward (A and AAAA records, or the CNAME
    chain to the canonical name), reverse (the PTR of each address), the host's short name under the domain's DNS
    suffix - and reads the host's computer account (C(dNSHostName)) in batched LDAP searches.
  - Classifies each name with the statuses of the drift report's C(dns) checks (DNS001-DNS008) - C(unresolved),
    C(alias_cname), C(alias_address), C(ptr_mismatch), C(host_name_mismatch), C(short_name_mismatch),
    C(name_elsewhere), C(several_addresses).
  - Its RV(names) are what M(sqlauth.kerberos.spn_facts) and M(sqlauth.kerberos.kerberos_probe) (and the role
    C(sqlauth.kerberos.spn_registration), as C(spn_registration_name_resolution)) take as
    O(sqlauth.kerberos.spn_facts#module:name_resolution) - an alias with an address record of its own needs SPNs of
    its own, a CNAME alias none.
  - Lookups run concurrently, at most O(dns_concurrency) at a time. Each server gets O(dns_timeout) to answer a
    query, then the next is asked; when none answers, the module fails naming them, within twice O(dns_timeout)
    times the number of servers. A server that refuses the controller's queries (REFUSED) fails it too; one that
    cannot answer a reverse lookup (SERVFAIL) leaves that address's PTR unknown, not wrong.
  - Read-only, in any mode. Needs dnspython on the controller.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.attributes.read_only
  - sqlauth.kerberos.ldap_connection
  - sqlauth.kerberos.sql_instances
options:
  dns_servers:
    description:
      - The DNS servers to ask, as addresses, C(address:port) or C([IPv6]:port).
      - By default those of the domain, as its Windows clients find them - the targets of the
        C(_ldap._tcp.dc._msdcs.DOMAIN) SRV records, asked of the controller's resolver - or, when it has none, the
        address of the LDAP connection's O(server).
    type: list
    elements: str
    default: []
  dns_timeout:
    description: Seconds a DNS server has to answer one query.
    type: float
    default: 5
  dns_concurrency:
    description: The most queries in flight at once.
    type: int
    default: 32
  fact_name:
    description: The name of a fact to set the result as (RV(names), RV(summary), RV(dns_servers)), instead of
      returning it, as M(sqlauth.kerberos.spn_facts) does.
    type: str
notes:
  - O(sqlauth.kerberos.spn_facts#module:spn_forms) and O(sqlauth.kerberos.spn_facts#module:name_resolution) are not
    used.
seealso:
  - name: Cannot generate SSPI context
    description: Microsoft's troubleshooting of Kerberos connections to SQL Server, DNS first.
    link: https://learn.microsoft.com/troubleshoot/sql/database-engine/connect/cannot-generate-sspi-context-error
"""

EXAMPLES = r"""
- name: Resolve the estate's names as clients do
  sqlauth.kerberos.dns_facts:
    server: dc1.corp.example.com
    ca_cert: /etc/pki/corp-root-ca.pem
    instances:
      - host: sql1.corp.example.com
        service_account: CORP\sqlsvc1
        aliases: [sales-db.corp.example.com]
    fact_name: estate_dns
  delegate_to: localhost

- name: Audit the SPNs clients build from those names
  sqlauth.kerberos.spn_facts:
    instances:
      - host: sql1.corp.example.com
        service_account: CORP\sqlsvc1
        aliases: [sales-db.corp.example.com]
    name_resolution: "{{ ansible_facts.estate_dns.names }}"
  delegate_to: localhost
"""

RETURN = r"""
names:
  description: Per name of the estate, in inventory order, what its clients get.
  returned: success, when O(fact_name) is not set
  type: list
  elements: dict
  contains:
    name:
      description: The name as the inventory writes it.
      type: str
      sample: sales-db.corp.example.com
    role:
      description: C(host), C(listener) or C(alias).
      type: str
    instances:
      description: The instances that use the name.
      type: list
      elements: str
    record:
      description: C(address) (its own A or AAAA records), C(cname) (a CNAME chain to them) or C(none).
      type: str
    canonical:
      description: The name at the end of the CNAME chain, the name itself without one.
      type: str
    chain:
      description: The CNAME chain from the name, in order (empty without one).
      type: list
      elements: str
    rcode:
      description: How the server answered, C(NOERROR), C(NXDOMAIN) (the name does not exist), or its error (e.g.
        C(SERVFAIL)).
      type: str
    leads_to:
      description: For an alias, the names it must lead to (its instances' hosts and listeners).
      type: list
      elements: str
    short_name:
      description: For a host or listener outside the domain's DNS suffix, the forward lookup of its short name
        under that suffix (C(name), C(addresses), ...); null otherwise.
      type: dict
    addresses:
      description: Each address (C(address)) with the names its PTR records give (C(ptr); null for an alias, whose
        addresses are its host's, and when the server could not say).
      type: list
      elements: dict
    statuses:
      description:
        - The name's findings, each with C(status) (as the drift report's C(dns) checks) and its details; empty
          when all is well.
      type: list
      elements: dict
    computer:
      description: A host's computer account, C(dn) and C(dns_host_name), or null when there is none by its name.
      type: dict
summary:
  description: How many names (C(names), C(ok)) and how many of each status.
  returned: success
  type: dict
dns_servers:
  description: The DNS servers asked.
  returned: success, when O(fact_name) is not set
  type: list
  elements: str
dns_servers_from:
  description: How they were found, C(dns_servers), C(srv) or C(ldap_server).
  returned: success, when O(fact_name) is not set
  type: str
dns_queries:
  description: How many DNS queries were made.
  returned: success
  type: int
ansible_facts:
  description: The result (RV(names), RV(summary), RV(dns_servers), RV(dns_servers_from), C(domain)) under the name
    O(fact_name).
  returned: when O(fact_name) is set
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._dns_facts import dns_facts, validate_dns_facts
from ansible_collections.sqlauth.kerberos.plugins.module_utils._dns_lookup import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import (
    NAME_RESOLUTION_ARGUMENT_SPEC,
    SPN_FORMS_ARGUMENT_SPEC,
    SQL_INSTANCE_OPTIONS,
)


def main():
    module = AnsibleModule(
        argument_spec=ldap_argument_spec(
            instances=dict(type="list", elements="dict", required=True, options=SQL_INSTANCE_OPTIONS),
            spn_forms=SPN_FORMS_ARGUMENT_SPEC,
            name_resolution=NAME_RESOLUTION_ARGUMENT_SPEC,
            dns_servers=dict(type="list", elements="str", default=[]),
            dns_timeout=dict(type="float", default=DEFAULT_TIMEOUT),
            dns_concurrency=dict(type="int", default=DEFAULT_CONCURRENCY),
            fact_name=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_dns_facts, dns_facts)


if __name__ == "__main__":
    main()
