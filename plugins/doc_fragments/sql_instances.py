# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The argument spec these options document is SQL_INSTANCE_OPTIONS in
# plugins/module_utils/_sql_instances.py; change both together.
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  instances:
    description:
      - The SQL Server instances to check, as many as the inventory has, in one call.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description:
          - Fully qualified DNS name of the host running the instance (for a failover cluster instance, its
            virtual network name).
        type: str
        required: true
      instance:
        description:
          - Instance name; V(MSSQLSERVER) is the default instance.
        type: str
        default: MSSQLSERVER
      port:
        description:
          - The static TCP port, or V(dynamic).
          - Defaults to V(1433) for the default instance and to V(dynamic) for a named instance, as SQL Server
            installs them.
        type: raw
      tcp_enabled:
        description:
          - Whether the TCP/IP protocol is enabled. Without it clients use named pipes and only the instance
            (or portless) SPNs apply.
        type: bool
        default: true
      service_account:
        description:
          - The account the SQL Server service runs as, in any of these forms, V(CORP\\sqlsvc),
            V(sqlsvc), V(sqlsvc@corp.example.com), a distinguished name, a SID, a gMSA V(CORP\\gmsa-sql$),
            or V(LocalSystem), V(NT AUTHORITY\\NETWORK SERVICE), V(NT SERVICE\\MSSQLSERVER),
            V(NT SERVICE\\MSSQL$NAME), which act on the network as the host's computer account.
        type: str
        required: true
      listeners:
        description:
          - Availability group listeners whose SPNs belong to this instance's service account.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Fully qualified DNS name of the listener.
            type: str
            required: true
          port:
            description: The listener's TCP port; defaults to the instance's port.
            type: int
      aliases:
        description:
          - Other fully qualified names users put in connection strings for this instance (DNS aliases).
          - Their SPNs follow DNS (O(name_resolution)) - an alias with an address record of its own needs the
            same SPN forms as the host, for its own name; a CNAME alias needs none, as clients build the SPN from
            the canonical name.
        type: list
        elements: str
        default: []
        version_added: 0.3.0
      extra_spns:
        description:
          - Further SPNs this instance's account must hold, as written (free-form; for DNS aliases use
            O(instances[].aliases)).
        type: list
        elements: str
        default: []
  name_resolution:
    description:
      - The RV(sqlauth.kerberos.dns_facts#module:names) of M(sqlauth.kerberos.dns_facts) for these instances - what
        DNS gives each alias.
      - An alias needs SPNs of its own unless DNS says it needs none - a CNAME alias, an alias that leads to another
        host, and one that does not resolve. An alias these results do not cover keeps its SPNs.
      - Without it (or empty) every alias is taken to need its SPNs.
    type: list
    elements: dict
    version_added: 0.3.0
  spn_forms:
    description:
      - The SPN forms to require. By default all of them, which is what clients really ask for.
      - V(fqdn_port) C(MSSQLSvc/host.fqdn:1433) and V(netbios_port) C(MSSQLSvc/host:1433), used over TCP.
      - V(fqdn_instance) C(MSSQLSvc/host.fqdn:NAME) and V(netbios_instance) C(MSSQLSvc/host:NAME), used over
        named pipes and shared memory; for the default instance these are the portless C(MSSQLSvc/host.fqdn)
        and C(MSSQLSvc/host).
      - V(listener_fqdn) and V(listener_netbios), the same for availability group listeners.
    type: list
    elements: str
    choices: [fqdn_port, fqdn_instance, netbios_port, netbios_instance, listener_fqdn, listener_netbios]
    default: [fqdn_port, fqdn_instance, netbios_port, netbios_instance, listener_fqdn, listener_netbios]
"""
