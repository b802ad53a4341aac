#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: spn_facts
short_description: Audit the Kerberos SPNs of SQL Server instances in Active Directory
version_added: 0.1.0
description:
  - For every SQL Server instance given, works out the service principal names (SPNs) its clients ask the KDC
    for, and reports each one in the terms of Microsoft's Kerberos Configuration Manager for SQL Server
    (KCM), V(ok), V(missing), V(wrong_account) (held by another account) or V(duplicate) (held by more than
    one account, searched forest-wide through the Global Catalog).
  - Also reports per instance a dynamic TCP port, TCP/IP disabled, and a service account that cannot register
    its own SPNs, and returns the plan of changes that would fix every finding.
  - Reports what the service account's attributes say about it, and the privileged groups a user or gMSA
    service account is a member of, for the drift report's checks.
  - Read-only. One call handles a whole inventory with a handful of batched LDAP searches.
  - The report is returned, or, with O(fact_name), set as that fact (the result then carries only RV(summary),
    RV(search_scope) and the counters) - never both, so that a large estate's report is encoded once.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.ldap_connection
  - sqlauth.kerberos.attributes.read_only
  - sqlauth.kerberos.sql_instances
attributes:
  facts:
    support: full
    description: With O(fact_name), the report is set as that fact instead of being returned.
options:
  callers:
    description:
      - Users and groups who run queries through linked servers (the C(callers) of C(linked_servers) in the
        inventory), as C(DOMAIN\name), C(name@domain), a DN or a SID.
      - Each is checked for what makes the KDC refuse to delegate it, whatever the delegation allows - marked
        "Account is sensitive and cannot be delegated", or a member of Protected Users; groups are expanded
        through nested groups and primary groups. The result is in RV(callers).
    type: list
    elements: str
    default: []
    version_added: 0.3.0
  fact_name:
    description:
      - The name of a fact to set the report as, instead of returning it.
      - Two steps of one play that audit the estate keep their reports apart with a name each. A fact of
        localhost is deep-copied by Ansible each time it reads that host's variables (every task delegated to it);
        for a large estate, registering the result is cheaper (the collection's roles do so).
      - Before 0.3.0 the report was always returned and also set as the fact C(sqlauth_spn_facts); set
        O(fact_name=sqlauth_spn_facts) for that fact.
      - Read it as C(ansible_facts.NAME), or C(hostvars['localhost'].ansible_facts.NAME) with C(delegate_facts),
        since ansible-core 2.21 deprecates reading facts as top-level variables.
    type: str
    version_added: 0.3.0
  automation_accounts:
    description:
      - The accounts or groups the collection's playbooks bind as (C(DOMAIN\\name) or a SID), whose rights on the
        service accounts and SQL host computer objects are the declared ones (docsite page Permissions).
      - The exposure audit (C(service_account.writers) and RV(instances[].host_computer)) names every
        principal that may write what makes them an attack path, but tier 0 (SYSTEM, Domain Admins, Enterprise
        Admins, Administrators, the domain controllers, Key Admins); for these accounts only rights beyond the
        declared ones (servicePrincipalName, msDS-AllowedToActOnBehalfOfOtherIdentity) are named.
    type: list
    elements: str
    default: []
    version_added: 0.3.0
  exposure_audit:
    description:
      - Whether to read who else may write each service account and SQL host computer object
        (C(service_account.writers), RV(instances[].host_computer); the drift report's exposure checks).
      - V(false) leaves both out of the report; on a large estate that is about half of the module's time. The
        spn_registration role turns it off, as it acts on the SPNs only, and the drift report audits again.
    type: bool
    default: true
    version_added: 0.3.0
  search_scope:
    description:
      - Where to look for the accounts that hold each SPN.
      - V(forest) searches the Global Catalog, which finds duplicates in other domains as the KDC would; if the
        DC is not a Global Catalog, it falls back to the domain and says so in RV(search_scope). In a forest of
        a single domain, it searches that domain over the same connection, which holds the same accounts.
      - V(domain) searches only the connected domain.
    type: str
    choices: [forest, domain]
    default: forest
seealso:
  - name: Register a Service Principal Name for Kerberos Connections
    description: Which SPNs SQL Server needs and how it registers them.
    link: https://learn.microsoft.com/sql/database-engine/configure-windows/register-a-service-principal-name-for-kerberos-connections
"""

EXAMPLES = r"""
- name: Audit the SPNs of every SQL Server instance in the inventory
  sqlauth.kerberos.spn_facts:
    server: dc1.corp.example.com
    ca_cert: /etc/pki/corp-root-ca.pem
    instances:
      - host: sql1.corp.example.com
        port: 1433
        service_account: CORP\sqlsvc1
        listeners:
          - name: aglisten1.corp.example.com
      - host: sql2.corp.example.com
        instance: SALES
        port: 1533
        service_account: NT SERVICE\MSSQL$SALES
  delegate_to: localhost
  register: spn_audit

- name: Fail when an SPN is not as clients need it
  ansible.builtin.assert:
    that: spn_audit.summary.instances_with_drift == 0
    fail_msg: "{{ spn_audit.plan | map(attribute='description') | list }}"
"""

RETURN = r"""
instances:
  description: One report per instance, in the order given.
  returned: success, when O(fact_name) is not set
  type: list
  elements: dict
  contains:
    name:
      description: The instance as SQL Server names it, C(host) or C(host\NAME).
      type: str
      sample: sql2.corp.example.com\SALES
    port:
      description: The TCP port, or C(dynamic).
      type: raw
      sample: 1533
    service_account:
      description:
        - The resolved service account (C(name) as DOMAIN\sAMAccountName, C(dn), C(sid), C(kind) one of
          user, computer, gmsa, msa) and the C(input) it was named by.
        - C(state), what its attributes say (added in 0.3.0) - C(flags), any of disabled, locked_out,
          password_expired, trusted_for_delegation (unconstrained delegation), trusted_to_auth_for_delegation
          (protocol transition), not_delegated (sensitive), domain_controller; C(expires), accountExpires as ISO 8601
          or null for never; C(must_change_password), pwdLastSet is 0; C(password_last_set), pwdLastSet as ISO 8601
          or null; C(allowed_to_delegate_to), its classic constrained delegation targets (msDS-AllowedToDelegateTo).
        - C(state.encryption_types) (added in 0.3.0) - C(value), msDS-SupportedEncryptionTypes or null when absent;
          C(names), the encryption types the KDC may use for its tickets (rc4-hmac when the attribute is absent);
          C(rc4_only), no AES; C(rc4); C(des), DES bits or USE_DES_KEY_ONLY; C(aes_keys_possibly_missing), for a
          user account, whether its password was last set before the domain could make AES keys (a heuristic, see
          RV(domain)), null when unknown or not a user.
        - C(privileged_groups), the privileged groups of its domain it is a member of, directly, by its primary
          group or through nested groups (added in 0.3.0) - Domain Admins, Enterprise Admins and Schema Admins (in
          the forest root domain only), Administrators and Account Operators, as names such as
          C(CORP\Domain Admins) or C(BUILTIN\Administrators); V([]) for none, null for a computer account, whose
          password is machine-made. C(privileged_memberships) says how, one entry per group with C(group) (the
          name), C(dn), C(sid) and C(via), one of V(member), V(primary_group), V(nested).
        - C(writers), the principals that may write what makes the account an attack path (added in 0.3.0) - its
          servicePrincipalName, msDS-AllowedToActOnBehalfOfOtherIdentity, msDS-KeyCredentialLink,
          userAccountControl, DACL or owner - but tier 0, the account itself and O(automation_accounts); each with
          C(sid), C(name), C(kind), C(what) (those attributes, C(the DACL), C(the owner) or C(everything)), C(via)
          (C(ACE), C(inherited ACE), C(owner)), and for a group its C(members) (nested, the first 10) and
          C(member_count). Absent with O(exposure_audit=false).
      type: dict
    host_computer:
      description:
        - On the first instance of each host, the host's computer object - C(name), C(dn), C(writers) (as the
          service account's) and C(creator), the account ms-DS-CreatorSID names (C(sid), C(name)) when a user
          created it, null otherwise. Null on the other instances, and when the host has no computer object;
          absent with O(exposure_audit=false).
      type: dict
      version_added: 0.3.0
    spns:
      description: Each required SPN with its C(form), C(status) (ok, missing, wrong_account, duplicate) and the
        C(holders) (name, dn, sid) that have it; C(conflict) lists other instances that need the same SPN on
        a different account.
      type: list
      elements: dict
      sample:
        - spn: MSSQLSvc/sql2.corp.example.com:1533
          form: fqdn_port
          status: wrong_account
          holders: [{name: CORP\SQL2$, dn: "CN=SQL2,CN=Computers,DC=corp,DC=example,DC=com", sid: S-1-5-21-1-2-3-1105}]
    can_register_own_spns:
      description: Whether the service account may write its own SPNs, as SQL Server tries at start-up.
      type: bool
    findings:
      description: Instance-level findings, among C(dynamic_port), C(tcp_disabled), C(spn_write_acl_missing),
        C(spn_conflict).
      type: list
      elements: str
    status:
      description: C(ok) when every SPN is ok and there is no finding, C(drift) otherwise.
      type: str
plan:
  description: The changes that fix every finding, each once, ports first, then ACLs, then SPNs. Each has
    C(action) (set_static_port, enable_tcp, grant_spn_write_acl, add_spn, move_spn, remove_duplicate_spn), the
    C(module) that performs it, the C(spn), C(account) and C(remove_from) it concerns, the C(instances) that
    need it, and a C(description).
  returned: success, when O(fact_name) is not set
  type: list
  elements: dict
summary:
  description: Counts, C(instances), C(instances_with_drift), and C(spns) per status.
  returned: success
  type: dict
  sample: {instances: 2, instances_with_drift: 1, spns: {ok: 6, missing: 2, wrong_account: 0, duplicate: 0}}
search_scope:
  description: Where SPN holders were searched, C(forest) (Global Catalog) or C(domain).
  returned: success
  type: str
ldap_round_trips:
  description: LDAP requests the module sent and waited for, binds excluded; each page of a paged search
    counts. What the audit costs the domain controller in requests, for capacity planning.
  returned: success
  type: int
  sample: 5
ldap_binds:
  description: LDAP binds the module made (one per connection).
  returned: success
  type: int
  sample: 1
callers:
  description:
    - Per caller given in O(callers) - C(input), C(name) (DOMAIN\name), C(kind) (user or group), and C(blocked),
      the users the KDC will not delegate, each with its C(reasons) (sensitive, protected_users).
  returned: success, when O(fact_name) is not set
  type: list
  elements: dict
  version_added: 0.3.0
domain:
  description:
    - C(aes_keys_since), when the domain could first make AES keys (ISO 8601), from the creation of its Read-only
      Domain Controllers group (Windows creates it at the 2008 functional level, the first with AES keys) - the
      heuristic behind C(aes_keys_possibly_missing). Null when not read (no user or gMSA account in the audit).
    - C(machine_account_quota), ms-DS-MachineAccountQuota - how many computer accounts any user may create.
    - C(self_may_write_rbkcd), whether an inheritable ACE at the domain root lets every account write its own
      msDS-AllowedToActOnBehalfOfOtherIdentity.
    - C(name), the domain's DNS name.
    - C(machine_account_quota), C(self_may_write_rbkcd) and C(name) are absent with O(exposure_audit=false).
  returned: success, when O(fact_name) is not set
  type: dict
  version_added: 0.3.0
ansible_facts:
  description: The report, under the name O(fact_name).
  returned: when O(fact_name) is set
  type: complex
  contains:
    FACT_NAME:
      description: RV(instances), RV(plan), RV(summary), RV(search_scope), RV(callers) and RV(domain) as above.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import spn_facts, validate_spn_facts
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
            automation_accounts=dict(type="list", elements="str", default=[]),
            exposure_audit=dict(type="bool", default=True),
            search_scope=dict(type="str", choices=["forest", "domain"], default="forest"),
            fact_name=dict(type="str"),
            callers=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_spn_facts, spn_facts)


if __name__ == "__main__":
    main()
