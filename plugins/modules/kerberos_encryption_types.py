#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kerberos_encryption_types
short_description: Make the KDC issue AES tickets for SQL Server service accounts
version_added: 0.3.0
description:
  - Sets C(msDS-SupportedEncryptionTypes) of each user or group managed service account given to AES
    (C(0x18), AES128 and AES256) or, with O(encryption_types=aes_rc4), AES and RC4 (C(0x1C)) for clients that
    still need RC4. The attribute's other bits (AES session keys, FAST, claims) are kept; DES is removed.
  - Without the attribute, a domain's KDC issues RC4 tickets for a user account - what offline attacks on service
    account passwords feed on, and what Microsoft is removing from Kerberos defaults.
  - Refuses, before writing anything, a computer account (Windows sets its attribute from the host's policy) and an
    AES-only setting for a user account whose password was last set before the domain could make AES keys (a
    heuristic - before its Read-only Domain Controllers group was created); reset that password first.
  - Each change is one modify that deletes the value read and adds the new one (an add alone where the attribute is
    absent), so a concurrent change makes it fail instead of being overwritten; the value is then read again and the
    change planned anew.
  - Clients get AES tickets once their RC4 tickets expire (at most 10 hours by default) or after C(klist purge).
  - SQL Server on Linux decrypts tickets with a keytab - it must hold the account's AES keys (C(adutil keytab create)
    or C(ktpass) with AES256) before the account is set to AES only, or Kerberos logins to it fail.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: The value of every changed account before and after.
options:
  accounts:
    description:
      - The service accounts, each an account name in any form account resolution takes (V(CORP\\sqlsvc),
        V(sqlsvc@corp.example.com), a DN, a SID, a gMSA V(CORP\\gmsa-sql$)).
    type: list
    elements: raw
    required: true
  encryption_types:
    description:
      - V(aes) - AES128 and AES256 only.
      - V(aes_rc4) - AES and RC4, while clients that only speak RC4 remain.
    type: str
    choices: [aes, aes_rc4]
    default: aes
seealso:
  - module: sqlauth.kerberos.spn_facts
    description: Reports each service account's encryption types (C(state.encryption_types)).
"""

EXAMPLES = r"""
- name: AES tickets for the SQL Server service accounts
  sqlauth.kerberos.kerberos_encryption_types:
    accounts:
      - CORP\sqlsvc1
      - CORP\gmsa-sql5$
  delegate_to: localhost
  run_once: true

- name: Keep RC4 for old clients for now
  sqlauth.kerberos.kerberos_encryption_types:
    accounts: [CORP\sqlsvc2]
    encryption_types: aes_rc4
  delegate_to: localhost
"""

RETURN = r"""
accounts:
  description: Per account, C(account) (name, dn, sid, kind), C(before) and C(after) (the attribute's value, null
    when absent), C(before_names) and C(after_names) (the encryption types the KDC may use) and C(changed).
  returned: success
  type: list
  elements: dict
encryption_types:
  description: The setting applied, V(aes) or V(aes_rc4).
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._encryption_types import TARGETS
from ansible_collections.sqlauth.kerberos.plugins.module_utils._kerberos_encryption import (
    kerberos_encryption_types,
    validate_encryption_types,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module


def main():
    module = AnsibleModule(
        argument_spec=ldap_argument_spec(
            accounts=dict(type="list", elements="raw", required=True),
            encryption_types=dict(type="str", choices=list(TARGETS), default="aes"),
        ),
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_encryption_types, kerberos_encryption_types)


if __name__ == "__main__":
    main()
