#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rbkcd_delegate
short_description: Allow accounts to delegate to a service with resource-based Kerberos constrained delegation
version_added: 0.1.0
description:
  - Fixes the double hop of linked servers, a linked-server query that runs as C(NT AUTHORITY\ANONYMOUS LOGON)
    instead of the caller. On a target account, the resource such as a back-end SQL Server's service account, a
    computer account or a gMSA, makes a list of principals (the front ends) present in, absent from, or exactly
    the set of, C(msDS-AllowedToActOnBehalfOfOtherIdentity). This is what
    C(Set-ADUser -PrincipalsAllowedToDelegateToAccount) sets.
  - The attribute is written as Windows writes it, a security descriptor owned by C(BUILTIN\Administrators)
    with one allow entry of mask C(0xF01FF) per principal. An entry for a listed principal with another mask
    (for example C(GENERIC_ALL), which the KDC does not honour) is replaced; other entries are kept, except with
    O(state=exact). Removing the last principal removes the attribute.
  - Each change is one modify that deletes the value read and adds the new one, so a concurrent change makes it
    fail instead of being overwritten; the module then reads the value again and retries. Concurrent runs never
    lose each other's principals, and C(changed) is true only for targets this run's write changed.
  - Warns about what silently defeats delegation, a principal marked I(Account is sensitive and cannot be
    delegated), and a target that does not hold the SPNs in O(spns) (or no SPN at all).
  - One call handles any number of targets, for a whole inventory.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports what would be added and removed and writes nothing.
  diff_mode:
    support: full
    description: The principals of every changed target before and after, as C(DOMAIN\name (SID)).
options:
  account:
    description:
      - The target account, in any form account resolution takes (V(CORP\\sqlsvc2), V(sqlsvc2), UPN,
        distinguished name, SID, gMSA or computer V(name$), or a service identity such as
        V(NT SERVICE\\MSSQLSERVER) together with O(host)).
      - Mutually exclusive with O(targets).
    type: str
  host:
    description:
      - FQDN of the host whose computer account O(account) stands for when it is a service identity
        (V(LocalSystem), V(NT AUTHORITY\\NETWORK SERVICE), V(NT SERVICE\\...)).
    type: str
  principals:
    description:
      - The accounts that may delegate to O(account), usually the front-end SQL Server service accounts.
      - Each is an account name in any form account resolution takes, or a dict with C(account) and C(host) for a
        service identity of that host.
      - A SID that matches no account (left behind by a deleted account) can be removed with O(state=absent).
      - Required with O(account).
    type: list
    elements: raw
  spns:
    description:
      - The SPNs clients, such as the linked server, use for O(account), for example
        V(MSSQLSvc/sql2.corp.example.com:1533). The module warns when O(account) does not hold one of them, as
        S4U2Proxy to it then fails.
    type: list
    elements: str
  state:
    description:
      - V(present) allows the principals to delegate, keeping the others.
      - V(absent) removes them.
      - V(exact) makes them the only ones, dropping every other entry. Every principal must then resolve to an
        account (whatever O(unknown_principals) says), and an empty O(principals) list needs O(remove_all=true),
        so that the attribute is never emptied by accident.
      - The default for items of O(targets) that do not set their own.
    type: str
    choices: [present, absent, exact]
    default: present
  remove_all:
    description:
      - With O(state=exact) and an empty O(principals) list, confirms that every principal is removed (the
        attribute is cleared). Refused in any other combination.
      - The default for items of O(targets) that do not set their own.
    type: bool
    default: false
  targets:
    description:
      - Several targets in one call. Items naming the same account (in any form) are merged when their states
        agree, and are an error otherwise.
      - Mutually exclusive with O(account).
    type: list
    elements: dict
    suboptions:
      account:
        description: The target, as for O(account).
        type: str
        required: true
      host:
        description: As O(host).
        type: str
      principals:
        description: As O(principals).
        type: list
        elements: raw
        required: true
      state:
        description: As O(state); defaults to O(state).
        type: str
        choices: [present, absent, exact]
      spns:
        description: As O(spns).
        type: list
        elements: str
        default: []
      remove_all:
        description: As O(remove_all); defaults to O(remove_all).
        type: bool
  unknown_principals:
    description:
      - What to do with a principal that matches no account.
      - V(fail) fails naming every unknown principal, before anything is written.
      - V(warn) skips it with a warning; V(ignore) skips it silently. Neither applies to targets with
        O(state=exact), which fail on an unknown principal before anything is written.
    type: str
    choices: [fail, warn, ignore]
    default: fail
notes:
  - S4U2Proxy also needs a forwardable ticket of the user; users marked sensitive, or members of Protected
    Users, are never delegated, whatever this attribute says.
  - The front end and the back end running as the same account need no delegation entry.
seealso:
  - module: sqlauth.kerberos.spn_facts
  - name: Kerberos constrained delegation overview
    description: Resource-based constrained delegation and how the KDC checks it.
    link: https://learn.microsoft.com/windows-server/security/kerberos/kerberos-constrained-delegation-overview
"""

EXAMPLES = r"""
- name: Let the front end's linked server forward the caller's identity to the back end
  sqlauth.kerberos.rbkcd_delegate:
    account: CORP\sqlsvc-sales              # the back end's service account
    principals: [CORP\sqlsvc-web]           # the front end's service account
    spns: [MSSQLSvc/sql2.corp.example.com:1533]
  delegate_to: localhost

- name: Both ways, as in a pair of SQL Servers querying each other
  sqlauth.kerberos.rbkcd_delegate:
    targets:
      - account: CORP\sqlsvc1
        principals: [CORP\sqlsvc2]
      - account: CORP\sqlsvc2
        principals: [CORP\sqlsvc1]
  delegate_to: localhost

- name: A back end running as a virtual account is its host's computer account
  sqlauth.kerberos.rbkcd_delegate:
    account: NT SERVICE\MSSQLSERVER
    host: sql3.corp.example.com
    principals:
      - account: NT SERVICE\MSSQL$WEB
        host: sql4.corp.example.com
  delegate_to: localhost

- name: Make the front ends the only ones allowed
  sqlauth.kerberos.rbkcd_delegate:
    account: CORP\gmsa-sql5$
    principals: [CORP\sqlsvc1, CORP\sqlsvc2]
    state: exact
  delegate_to: localhost
"""

RETURN = r"""
targets:
  description: One result per target account, in the order first named.
  returned: success
  type: list
  elements: dict
  contains:
    account:
      description: The target (C(name) as DOMAIN\sAMAccountName, C(dn), C(sid), C(kind)).
      type: dict
    state:
      description: The state applied.
      type: str
    changed:
      description: Whether the target's attribute was (or in check mode would be) written.
      type: bool
    principals_before:
      description: The principals allowed before, each with C(name) (null for a SID no account has) and C(sid).
      type: list
      elements: dict
    principals:
      description: The principals allowed after the change.
      type: list
      elements: dict
      sample: [{name: CORP\sqlsvc1, sid: S-1-5-21-1-2-3-1105}]
    added:
      description: The principals added.
      type: list
      elements: dict
    removed:
      description: The principals removed.
      type: list
      elements: dict
    non_standard_entries:
      description: Entries kept that are not a standard grant (a deny, another mask, a repeated entry), with
        C(name), C(sid) and C(sddl).
      type: list
      elements: dict
    spns:
      description: For each SPN of O(spns), its C(status) (ok, missing, wrong_account, duplicate) and C(holders).
      type: list
      elements: dict
    attribute_present:
      description: Whether the target has the attribute after the change.
      type: bool
    write_attempts:
      description: The modify operations sent for this target; more than one means that other writers changed
        the value meanwhile and the change was planned again on the new value.
      type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_module import ldap_argument_spec, run_ldap_module
from ansible_collections.sqlauth.kerberos.plugins.module_utils._rbkcd import (
    STATES,
    TARGET_OPTIONS,
    UNKNOWN_PRINCIPAL_MODES,
    rbkcd_delegate,
    validate_rbkcd_delegate,
)


def main():
    module = AnsibleModule(
        argument_spec=ldap_argument_spec(
            account=dict(type="str"),
            host=dict(type="str"),
            principals=dict(type="list", elements="raw"),
            spns=dict(type="list", elements="str"),
            state=dict(type="str", choices=list(STATES), default="present"),
            targets=dict(type="list", elements="dict", options=TARGET_OPTIONS),
            unknown_principals=dict(type="str", choices=list(UNKNOWN_PRINCIPAL_MODES), default="fail"),
            remove_all=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("account", "targets"), ("host", "targets"), ("principals", "targets"),
                            ("spns", "targets")],
        required_one_of=[("account", "targets")],
        required_together=[("account", "principals")],
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_rbkcd_delegate, rbkcd_delegate)


if __name__ == "__main__":
    main()
