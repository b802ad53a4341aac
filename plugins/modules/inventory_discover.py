#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: inventory_discover
short_description: Draft an inventory of the SQL Server estate from the SPNs in Active Directory
version_added: 0.3.0
description:
  - Reads every C(MSSQLSvc) service principal name (SPN) of the forest with one paged search, and SQL Server's
    service connection points (C(mS-SQL-SQLServer) and other serviceConnectionPoint objects naming SQL Server) where
    present, and returns the hosts, instances, ports and the accounts that hold their SPNs today, grouped as the
    collection's inventory describes the estate (C(sqlauth_instances) per host).
  - The result is a B(draft) for a person to review and commit, never the desired state as it stands - SPNs record
    what was registered, including mistakes. Every inference carries a comment starting with C(guess:), which the
    role C(sqlauth.kerberos.inventory_draft) (playbook C(playbooks/discover.yml)) writes into the inventory files.
  - "Grouping: a C(host:NAME) SPN names a named instance; a bare C(host) SPN is taken as the default instance (a
    guess); a C(host:port) SPN is paired with an instance name held by the same account (in order, default instance
    first, when one account holds several). A port SPN left over whose holders hold no instance name on the host
    gives the default instance its port, or makes the default instance when the host has none; the rest (an old
    port of a named instance, say) are listed as unassigned. A short-name SPN joins the host with that first label
    whose SPNs the same account holds, else the one in its holder's domain (a C(guess:) when several hosts have
    that label); with none known, C(name.<holder's domain>)."
  - "The service account is the account that holds most of the instance's SPNs: a user or gMSA is written by name;
    the host's own computer account becomes the instance's virtual account (C(NT SERVICE\\MSSQLSERVER) or
    C(NT SERVICE\\MSSQL$NAME)), with a comment that it may be LocalSystem, NETWORK SERVICE, or stale SPNs. Every
    holder of a duplicated SPN is named."
  - A service account a service connection point names is checked as an account name; one that is not (text, or a
    template, where a name belongs) leaves the instance without one, so the role writes it commented out.
  - A host without a computer account of its name is flagged as a possible availability group listener or DNS alias;
    a computer account found only by its name (no DNS host name, no C(HOST/) SPN of the host) is a C(guess:).
  - Read-only. The SPN search is a prefix search of servicePrincipalName, which no index serves; it runs once per
    discovery (0.16 s over 1,000 accounts on the lab's DC).
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.ldap_connection
  - sqlauth.kerberos.attributes.read_only
options:
  search_scope:
    description:
      - Where to read the SPNs. V(forest) searches the Global Catalog (the domain when the DC is not one, said in
        RV(search_scope)); V(domain) only the connected domain.
    type: str
    choices: [forest, domain]
    default: forest
  service_connection_points:
    description:
      - Also read SQL Server's service connection points in the connected domain. An instance found only there has
        no SPN holder, so its C(service_account) is what the point names, or none (the role writes it commented out).
    type: bool
    default: true
seealso:
  - name: The inventory format
    description: The collection's docsite guide, Describing the estate in the inventory.
    link: https://github.com/sqlauth/kerberos/blob/main/docs/docsite/rst/guide_inventory.rst
"""

EXAMPLES = r"""
- name: Draft the inventory from AD
  sqlauth.kerberos.inventory_discover:
    server: dc1.corp.example.com
    ca_cert: /etc/pki/corp-root-ca.pem
  delegate_to: localhost
  register: discovered

- name: Show the instances found
  ansible.builtin.debug:
    msg: "{{ discovered.hosts | map(attribute='fqdn') | list }}"
"""

RETURN = r"""
hosts:
  description: One entry per host, in name order.
  returned: success
  type: list
  elements: dict
  contains:
    fqdn:
      description: The host's FQDN, the inventory host name.
      type: str
      sample: sql1.corp.example.com
    computer_account:
      description: Its computer account (DOMAIN\name$), or null when none has its name.
      type: str
    comments:
      description: Notes and guesses about the host, each one line; guesses start with C(guess:).
      type: list
      elements: str
    unassigned_spns:
      description: Port SPNs of the host that name no instance found, each with its C(spn) and C(holders).
      type: list
      elements: dict
    instances:
      description:
        - The host's instances, the default instance first. C(instance), C(port) (a number or C(dynamic)) and
          C(service_account) are the values of an item of C(sqlauth_instances); C(service_account) is null when no
          account holds the instance's SPNs (C(enabled) is then false).
        - C(comments), the comments of each of those three values (C(instance), C(port), C(service_account)), lists
          of lines starting with C(guess:) for inferences; C(notes), further lines (duplicates, every holder).
        - C(holder), the account holding most of its SPNs; C(holders), every holder (C(name), C(kind), C(dn),
          C(sid), C(spns) the number of the instance's SPNs it holds); C(spns), its SPNs; C(duplicates), those held
          by more than one account.
      type: list
      elements: dict
      sample:
        - instance: MSSQLSERVER
          port: 1433
          service_account: CORP\sqlsvc1
          comments:
            instance: ["guess: a bare-host SPN (no port, no instance name) names the default instance"]
            port: ["guess: MSSQLSvc/sql1.corp.example.com:1433, MSSQLSvc/sql1:1433, on the account that holds the
                   instance's name SPN"]
            service_account: ["guess: holds the instance's SPNs today"]
          notes: []
          enabled: true
unparsed_spns:
  description: MSSQLSvc SPNs that are not valid SPNs, each with its C(spn), C(holder) and the C(problem).
  returned: success
  type: list
  elements: dict
service_connection_points:
  description: The service connection points read, each with C(dn) and what it says (C(host), C(instance),
    C(port), C(service_account), null when it does not say).
  returned: success
  type: list
  elements: dict
summary:
  description:
    - Counts of C(hosts), C(instances), distinct MSSQLSvc C(spns), C(duplicate_spns) (SPNs held by more than one
      account, unassigned port SPNs included) and C(service_connection_points).
  returned: success
  type: dict
  sample: {hosts: 12, instances: 17, spns: 58, duplicate_spns: 1, service_connection_points: 0}
search_scope:
  description: Where the SPNs were read, C(forest) (Global Catalog) or C(domain).
  returned: success
  type: str
ldap_round_trips:
  description: LDAP requests the module sent and waited for, binds excluded; each page of a paged search counts.
  returned: success
  type: int
ldap_binds:
  description: LDAP binds the module made.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._inventory_discovery import (
    discover,
    validate_discovery,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module


def main():
    module = AnsibleModule(
        argument_spec=ldap_argument_spec(
            search_scope=dict(type="str", choices=["forest", "domain"], default="forest"),
            service_connection_points=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_discovery, discover)


if __name__ == "__main__":
    main()
