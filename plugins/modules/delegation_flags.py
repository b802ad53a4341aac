#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: delegation_flags
short_description: Clear unconstrained delegation and protocol transition on service accounts
version_added: 0.3.0
description:
  - Clears, on each account given, the delegation flags that are a risk on a SQL Server service account -
    V(unconstrained) (I(Trust this account for delegation to any service), C(TRUSTED_FOR_DELEGATION)) and
    V(protocol_transition) (I(Use any authentication protocol), C(TRUSTED_TO_AUTH_FOR_DELEGATION)). It never sets
    them.
  - Linked servers keep working once resource-based constrained delegation is set for them
    (M(sqlauth.kerberos.rbkcd_delegate)); clear the flags only after that, as the C(sqlauth.kerberos.sql_kerberos)
    role does when asked.
  - Each change is one modify that deletes the C(userAccountControl) value read and adds the new one, so a
    concurrent change to the account makes it fail instead of being overwritten; the value is then read again and
    the change planned anew.
  - On Windows, clearing unconstrained delegation needs C(SeEnableDelegationPrivilege) (Domain Admins by default)
    besides the right to write C(userAccountControl).
  - Domain controllers are refused.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports which flags would be cleared and writes nothing.
  diff_mode:
    support: full
    description: The flags of every changed account before and after.
options:
  accounts:
    description:
      - The accounts, each an account name in any form account resolution takes, or a dict with C(account) and
        C(host) for a service identity of that host (V(NT SERVICE\\MSSQLSERVER) is the host's computer account).
    type: list
    elements: raw
    required: true
  clear:
    description: The flags to clear.
    type: list
    elements: str
    choices: [unconstrained, protocol_transition]
    default: [unconstrained]
seealso:
  - module: sqlauth.kerberos.rbkcd_delegate
"""

EXAMPLES = r"""
- name: Clear unconstrained delegation on a SQL host whose instance runs as a virtual account
  sqlauth.kerberos.delegation_flags:
    accounts:
      - account: NT SERVICE\MSSQLSERVER
        host: sql6.corp.example.com
  delegate_to: localhost
"""

RETURN = r"""
accounts:
  description: Per account, C(account) (name, dn, sid, kind), the flags C(cleared) (or that would be, in check mode)
    and C(changed).
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._delegation_flags import (
    FLAGS,
    delegation_flags,
    validate_delegation_flags,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module


def main():
    module = AnsibleModule(
        argument_spec=ldap_argument_spec(
            accounts=dict(type="list", elements="raw", required=True),
            clear=dict(type="list", elements="str", choices=list(FLAGS), default=["unconstrained"]),
        ),
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_delegation_flags, delegation_flags)


if __name__ == "__main__":
    main()
