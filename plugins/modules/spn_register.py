#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: spn_register
short_description: Register, remove or move service principal names on Active Directory accounts
version_added: 0.1.0
description:
  - Makes a list of SPNs present on an account, absent from it, or the exact set of SPNs of those service
    classes, comparing case-insensitively as AD and the KDC do.
  - Before adding, looks each SPN up forest-wide through the Global Catalog. An SPN another account holds is an
    error naming the holder, unless O(move=true), which removes it from the other holder(s) first. This is
    C(setspn -S) plus a safe move.
  - Adds and deletes single values, one modify per account; the whole attribute is never replaced, except to
    remove a legacy duplicate on a DC that refuses deleting that single value (Samba; Windows accepts the
    delete).
  - Takes one account, or a list of them for a whole inventory in one call; nothing is written when any
    requested SPN may not be registered.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports what would be added, removed and moved, and writes nothing.
  diff_mode:
    support: full
    description: The SPNs of every changed account before and after.
options:
  account:
    description:
      - The account, in any form account resolution takes (V(CORP\\sqlsvc), V(sqlsvc), UPN, distinguished name,
        SID, gMSA or computer V(name$)).
      - Mutually exclusive with O(registrations).
    type: str
  spns:
    description:
      - The SPNs of O(account), for example V(MSSQLSvc/sql1.corp.example.com:1433).
      - Required with O(account).
    type: list
    elements: str
  state:
    description:
      - V(present) adds the SPNs that are missing.
      - V(absent) removes the listed SPNs from the account.
      - V(exact) also removes every other SPN of the same service classes from the account (for V(MSSQLSvc/...)
        SPNs, the account's other MSSQLSvc SPNs; its HOST SPNs are kept).
      - The default for items of O(registrations) that do not set their own.
    type: str
    choices: [present, absent, exact]
    default: present
  move:
    description:
      - Take SPNs that other accounts hold (wrong account or duplicate) from them, reporting them in
        RV(moved_from).
      - The default for items of O(registrations) that do not set their own.
    type: bool
    default: false
  registrations:
    description:
      - Several accounts and their SPNs in one call.
      - Mutually exclusive with O(account).
    type: list
    elements: dict
    suboptions:
      account:
        description: The account, as for O(account).
        type: str
        required: true
      spns:
        description: Its SPNs.
        type: list
        elements: str
        required: true
      state:
        description: As O(state); defaults to O(state).
        type: str
        choices: [present, absent, exact]
      move:
        description: As O(move); defaults to O(move).
        type: bool
seealso:
  - module: sqlauth.kerberos.spn_facts
  - module: sqlauth.kerberos.spn_acl
"""

EXAMPLES = r"""
- name: Register the SPNs of a named instance
  sqlauth.kerberos.spn_register:
    account: CORP\sqlsvc2
    spns:
      - MSSQLSvc/sql2.corp.example.com:1533
      - MSSQLSvc/sql2.corp.example.com:SALES
  delegate_to: localhost

- name: Take the SPN from the computer account SQL Server used to run as
  sqlauth.kerberos.spn_register:
    account: CORP\sqlsvc3
    spns: [MSSQLSvc/sql3.corp.example.com:1433]
    move: true
  delegate_to: localhost

- name: Several accounts in one call
  sqlauth.kerberos.spn_register:
    registrations:
      - account: CORP\sqlsvc1
        spns: [MSSQLSvc/sql1.corp.example.com:1433, MSSQLSvc/sql1.corp.example.com]
        state: exact
      - account: CORP\sqlsvc-old
        spns: [MSSQLSvc/sql1.corp.example.com:1433]
        state: absent
  delegate_to: localhost
"""

RETURN = r"""
accounts:
  description: Per changed account, its C(account) name, C(dn), the SPNs C(added) and C(removed), and
    C(moved_from), the accounts each moved SPN was taken from.
  returned: success
  type: list
  elements: dict
added:
  description: Every SPN added, over all accounts.
  returned: success
  type: list
  elements: str
  sample: [MSSQLSvc/sql2.corp.example.com:1533]
removed:
  description: Every SPN value removed, from the accounts named and from the holders moved SPNs were taken from.
  returned: success
  type: list
  elements: str
moved_from:
  description: For each moved SPN, the accounts that held it.
  returned: success
  type: dict
  sample: {"MSSQLSvc/sql3.corp.example.com:1433": ["CORP\\SQL3$"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_register import (
    REGISTRATION_OPTIONS,
    STATES,
    spn_register,
    validate_spn_register,
)


def main():
    module = AnsibleModule(
        argument_spec=ldap_argument_spec(
            account=dict(type="str"),
            spns=dict(type="list", elements="str"),
            state=dict(type="str", choices=list(STATES), default="present"),
            move=dict(type="bool", default=False),
            registrations=dict(type="list", elements="dict", options=REGISTRATION_OPTIONS),
        ),
        mutually_exclusive=[("account", "registrations")],
        required_one_of=[("account", "registrations")],
        required_together=[("account", "spns")],
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_spn_register, spn_register)


if __name__ == "__main__":
    main()
