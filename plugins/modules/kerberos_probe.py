#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: kerberos_probe
short_description: Ask the KDC for a service ticket to every SPN the SQL Server estate needs
version_added: 0.3.0
description:
  - For every SPN the instances need (as M(sqlauth.kerberos.spn_facts) computes them), requests a service ticket from
    the KDC, as a SQL Server client does, and reports per SPN whether it was issued or the KDC's reason in words
    (unknown principal - the SPN is missing or held by more than one account), the ticket's encryption type, its key
    version against the holder's C(msDS-KeyVersionNumber) (a mismatch means the KDC and the directory disagree about
    the account's keys), and the OK-AS-DELEGATE flag (tickets to accounts trusted for unconstrained delegation).
  - Compares the controller's clock with the domain controller's (rootDSE C(currentTime)); Kerberos tolerates
    O(max_clock_skew) seconds.
  - Runs on the controller with the operator's Kerberos credentials - the ticket cache, or O(kerberos_keytab) or
    O(kerberos_password) for O(kerberos_principal). Tickets are kept in a private in-memory cache, never in the
    operator's cache.
  - Thousands of service-ticket requests look like kerberoasting to a SIEM - tell its owners before a first run.
    Requests offer AES session keys only by default (O(aes_only)), and O(rate_limit) spaces them.
  - Read-only - it writes nothing to the directory, in any mode. Needs python-gssapi on the controller.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.attributes.read_only
  - sqlauth.kerberos.ldap_connection
  - sqlauth.kerberos.sql_instances
options:
  kerberos_principal:
    description:
      - The Kerberos name to log on as with O(kerberos_password) or O(kerberos_keytab), e.g.
        V(sqlprobe@CORP.EXAMPLE.COM).
      - Without O(kerberos_password) and O(kerberos_keytab), the operator's ticket cache is used (C(kinit) first).
    type: str
  kerberos_password:
    description: The password of O(kerberos_principal). (O(password) is the LDAP bind's.)
    type: str
  kerberos_keytab:
    description: A keytab holding the keys of O(kerberos_principal).
    type: path
  kerberos_ccache:
    description:
      - The ticket cache to copy the credentials from when neither O(kerberos_password) nor O(kerberos_keytab) is
        given, e.g. V(FILE:/tmp/krb5cc_probe); by default the operator's default cache (C(KRB5CCNAME)).
    type: str
  aes_only:
    description:
      - Offer AES session keys only. The ticket's own encryption is the service account's - an RC4 ticket is still
        reported.
    type: bool
    default: true
  rate_limit:
    description: At most this many ticket requests per second; V(0) for no limit.
    type: float
    default: 50
  max_clock_skew:
    description: The clock difference between the controller and the DC tolerated, in seconds.
    type: int
    default: 300
  fact_name:
    description:
      - The name of a fact to set the result as, instead of returning it (the result then carries only RV(summary)
        and RV(clock)), as M(sqlauth.kerberos.spn_facts) does.
    type: str
seealso:
  - module: sqlauth.kerberos.spn_facts
"""

EXAMPLES = r"""
- name: The KDC's verdict for every SPN of the estate, with the operator's ticket
  sqlauth.kerberos.kerberos_probe:
    instances: "{{ sql_estate.instances }}"
  delegate_to: localhost
  run_once: true
  register: kdc_probe

- name: With a probe account's keytab, 20 requests a second
  sqlauth.kerberos.kerberos_probe:
    instances: "{{ sql_estate.instances }}"
    kerberos_principal: sqlprobe@CORP.EXAMPLE.COM
    kerberos_keytab: /etc/sqlauth/sqlprobe.keytab
    rate_limit: 20
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
tickets:
  returned: success, when O(fact_name) is not set
  description:
    - Per SPN - C(spn), the C(instances) that need it, its C(holders) in the directory, C(issued), C(error) when
      refused (C(code), C(name) such as V(unknown_principal), C(words), and the C(kdc)'s message), C(enctype) (as
      C(klist -e) names it), C(rc4), C(ticket_kvno), C(directory_kvno) (the single holder's msDS-KeyVersionNumber),
      C(key_version_match), C(ok_as_delegate), and C(status) - V(ok), V(refused), V(key_version_mismatch) or V(rc4).
  type: list
  elements: dict
clock:
  description: C(dc) and C(controller) times, C(skew_seconds) (controller minus DC), C(max_skew) and C(ok).
  returned: success
  type: dict
summary:
  description: Counts - C(requested), C(issued), C(refused), C(rc4), C(key_version_mismatch), C(ok_as_delegate) - and
    C(seconds) and C(tickets_per_second).
  returned: success
  type: dict
realm:
  description: The realm asked, the connected domain's DNS name in upper case.
  returned: success, when O(fact_name) is not set
  type: str
client:
  description: The Kerberos name the tickets were asked as.
  returned: success, when O(fact_name) is not set
  type: str
ansible_facts:
  description: The result (RV(tickets), RV(clock), RV(summary), RV(realm), RV(client)) under the name O(fact_name).
  returned: when O(fact_name) is set
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._kerberos_probe import (
    DEFAULT_MAX_CLOCK_SKEW,
    kerberos_probe,
    validate_kerberos_probe,
)
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
            kerberos_principal=dict(type="str"),
            kerberos_password=dict(type="str", no_log=True),
            kerberos_keytab=dict(type="path"),
            kerberos_ccache=dict(type="str"),
            aes_only=dict(type="bool", default=True),
            rate_limit=dict(type="float", default=50),
            max_clock_skew=dict(type="int", default=DEFAULT_MAX_CLOCK_SKEW),
            fact_name=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    run_ldap_module(module, validate_kerberos_probe, kerberos_probe)


if __name__ == "__main__":
    main()
