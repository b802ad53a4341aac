#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: spn_acl
short_description: Let SQL Server service accounts register their own SPNs
version_added: 0.1.0
description:
  - Grants (or revokes) on an account's own object the rights SQL Server needs to register its SPNs at start-up,
    read/write property C(servicePrincipalName) and the validated write to service principal name, to SELF or
    to a named trustee, as the SDDL ACEs C((OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)) and
    C((OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)).
  - Or grants them once on an organizational unit, inherited by every object of the chosen classes below it.
  - Reads and writes only the DACL (LDAP SD_FLAGS control). Rights already granted, also by an inherited or
    broader ACE, count as granted; new ACEs keep the DACL in canonical order. Writes are guarded against
    concurrent changes (delete-old-value + add-new-value in one modify). On a DC that cannot delete a descriptor
    value, such as Samba, the same modify replaces the descriptor and swaps a guard value
    C(sqlauth.kerberos:guard:...) in the object's C(extensionName), so that concurrent runs of the collection
    merge their changes; a change by another tool made at the same moment is reported as a warning naming the
    object. C(changed) is true only for objects this run's write changed.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports the ACEs it would add or remove and writes nothing.
  diff_mode:
    support: full
    description: The DACL of every changed object before and after, one ACE per line in SDDL.
options:
  account:
    description:
      - The account whose own object gets the ACEs, in any form account resolution takes.
      - Exactly one of O(account), O(organizational_unit) or O(targets).
    type: str
  organizational_unit:
    description:
      - The distinguished name of an OU (or container) that gets inheritable ACEs for the objects of the classes
        in O(applies_to) below it.
      - Any other object (a user, a computer) is refused, and so is the domain root unless
        O(allow_domain_root=true).
    type: str
  allow_domain_root:
    description:
      - Allows O(organizational_unit) to be the domain root, where the rights reach every account of the domain
        of the classes in O(applies_to). Rarely what is meant; name the OU of the service accounts instead.
    type: bool
    default: false
  applies_to:
    description:
      - With O(organizational_unit), the classes of objects below it the rights apply to.
      - When not set, V(user) and V(gmsa), the kinds of accounts SQL Server runs as.
    type: list
    elements: str
    choices: [user, computer, gmsa, msa]
  trustee:
    description:
      - Who gets the rights, V(SELF) (the object itself, what SQL Server needs) or an account name.
    type: str
    default: SELF
  state:
    description:
      - V(present) grants the rights unless already granted.
      - V(absent) removes the explicit ACEs this module grants, and warns when the rights remain granted through
        other ACEs.
    type: str
    choices: [present, absent]
    default: present
  targets:
    description:
      - Many objects in one call; each item takes O(account) or O(organizational_unit), and optionally
        O(applies_to), O(trustee) and O(state), which default to the top-level values.
    type: list
    elements: dict
    suboptions:
      account:
        description: As O(account).
        type: str
      organizational_unit:
        description: As O(organizational_unit).
        type: str
      applies_to:
        description: As O(applies_to).
        type: list
        elements: str
        choices: [user, computer, gmsa, msa]
      trustee:
        description: As O(trustee).
        type: str
      state:
        description: As O(state).
        type: str
        choices: [present, absent]
seealso:
  - module: sqlauth.kerberos.spn_facts
  - module: sqlauth.kerberos.spn_register
"""

EXAMPLES = r"""
- name: Let the SQL Server service account register its own SPNs
  sqlauth.kerberos.spn_acl:
    account: CORP\sqlsvc1
  delegate_to: localhost

- name: The same for every user and gMSA in the service accounts OU, now and later
  sqlauth.kerberos.spn_acl:
    organizational_unit: OU=Service Accounts,OU=Tier1,DC=corp,DC=example,DC=com
    applies_to: [user, gmsa]
  delegate_to: localhost

- name: Every service account of the inventory in one call
  sqlauth.kerberos.spn_acl:
    targets:
      - account: CORP\sqlsvc1
      - account: CORP\sqlsvc2
  delegate_to: localhost
"""

RETURN = r"""
targets:
  description: Per target, the C(target) name, C(dn), C(trustee), C(state), whether it C(changed), and the
    C(added_aces) and C(removed_aces) in SDDL.
  returned: success
  type: list
  elements: dict
  sample:
    - target: CORP\sqlsvc2
      dn: CN=sqlsvc2,CN=Users,DC=corp,DC=example,DC=com
      trustee: SELF
      state: present
      changed: true
      added_aces:
        - (OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)
        - (OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)
      removed_aces: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_acl import (
    OBJECT_CLASSES,
    TARGET_OPTIONS,
    spn_acl,
    validate_spn_acl,
)


def main():
    module = AnsibleModule(
        argument_spec=ldap_argument_spec(
            account=dict(type="str"),
            organizational_unit=dict(type="str"),
            applies_to=dict(type="list", elements="str", choices=list(OBJECT_CLASSES)),
            trustee=dict(type="str", default="SELF"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            targets=dict(type="list", elements="dict", options=TARGET_OPTIONS),
            allow_domain_root=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("account", "organizational_unit", "targets")],
        required_one_of=[("account", "organizational_unit", "targets")],
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_spn_acl, spn_acl)


if __name__ == "__main__":
    main()
