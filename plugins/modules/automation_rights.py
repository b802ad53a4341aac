#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: automation_rights
short_description: Grant the automation account exactly the rights the collection's writes need
version_added: 0.3.0
description:
  - Grants O(trustee), the account or group the collection's playbooks bind as, the rights of the permission model
    (the collection docsite's page Permissions) as inheritable object-specific ACEs on the OUs that hold the SQL
    service accounts, gMSAs and SQL host computer objects - one ACE per right and object class, so that it may
    write those attributes of those objects and nothing else, instead of being a Domain Admin.
  - Run once by an AD admin. O(state=absent) takes the ACEs back. The result's RV(dsacls) says the same as
    C(dsacls) lines, for AD teams that apply it by hand.
  - The DACL writes are those of M(sqlauth.kerberos.spn_acl) - only the DACL, new ACEs in canonical order,
    conditional on the DACL read (a concurrent change is planned again, not overwritten).
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports the ACEs it would add or remove, and writes nothing.
  diff_mode:
    support: full
    description: The DACL of every changed OU before and after, as SDDL ACEs.
options:
  trustee:
    description: The automation account or group, as C(DOMAIN\\name), a UPN, a DN or a SID.
    type: str
    required: true
  organizational_units:
    description: The distinguished names of the OUs (or containers) that hold the estate's accounts and computers.
    type: list
    elements: str
    required: true
  applies_to:
    description: The classes of objects below the OUs the ACEs are for.
    type: list
    elements: str
    choices: [user, gmsa, computer, msa]
    default: [user, gmsa, computer]
  permissions:
    description:
      - The permission-model entries to grant - V(PRM002) (servicePrincipalName), V(PRM004)
        (msDS-AllowedToActOnBehalfOfOtherIdentity), V(PRM005) (msDS-SupportedEncryptionTypes), V(PRM007)
        (extensionName, the guard of conditional writes), and V(PRM003) (WRITE_DAC, for spn_acl; better have an
        admin grant SELF the SPN rights once on the OUs with M(sqlauth.kerberos.spn_acl)).
      - V(PRM006) cannot be granted by an ACE (SeEnableDelegationPrivilege) and is refused.
    type: list
    elements: str
    default: [PRM002, PRM004, PRM005, PRM007]
  self_spn_rights:
    description:
      - Only for RV(dsacls) - add the lines that grant SELF the SPN rights below the OUs, which the role
        C(sqlauth.kerberos.automation_account) grants with M(sqlauth.kerberos.spn_acl). This module writes no SELF ACE.
    type: bool
    default: false
  state:
    description:
      - V(present) adds what is missing; V(absent) removes the ACEs this module adds.
      - RV(dsacls) for V(absent) is C(dsacls /R), which removes every explicit ACE of the trustee on the OUs.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: sqlauth.kerberos.spn_acl
"""

EXAMPLES = r"""
- name: Let the pipeline's account write what the collection writes, on the SQL OUs only
  sqlauth.kerberos.automation_rights:
    trustee: CORP\svc-sqlauth
    organizational_units:
      - OU=SQL Service Accounts,OU=Tier1,DC=corp,DC=example,DC=com
      - OU=SQL Servers,OU=Tier1,DC=corp,DC=example,DC=com
  delegate_to: localhost
"""

RETURN = r"""
targets:
  description: Per OU - C(target), C(dn), C(trustee), C(state), C(changed), C(added_aces) and C(removed_aces) (SDDL).
  returned: always
  type: list
  elements: dict
permissions:
  description: The permission-model entries granted or removed.
  returned: always
  type: list
  elements: str
dsacls:
  description: The same grants (or their removal) as C(dsacls) lines.
  returned: always
  type: list
  elements: str
  sample: ["dsacls 'OU=SQL,DC=corp,DC=example,DC=com' /I:S /G 'CORP\\svc-sqlauth:RPWP;servicePrincipalName;user'"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._automation_rights import (
    DEFAULT_PERMISSIONS,
    automation_rights,
    validate_automation_rights,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module


def main():
    module = AnsibleModule(
        argument_spec=ldap_argument_spec(
            trustee=dict(type="str", required=True),
            organizational_units=dict(type="list", elements="str", required=True),
            applies_to=dict(type="list", elements="str", choices=["user", "gmsa", "computer", "msa"],
                            default=["user", "gmsa", "computer"]),
            permissions=dict(type="list", elements="str", default=list(DEFAULT_PERMISSIONS)),
            self_spn_rights=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_automation_rights, automation_rights)


if __name__ == "__main__":
    main()
