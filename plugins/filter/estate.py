# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate of a play, read from the inventory once (plugin_utils/_estate.py)
for the sql_kerberos role to hand to the steps that need it."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import (
    EstateError,
    delegation_targets,
    link_callers,
    links_needing_rbkcd,
    read_estate,
    unconstrained_accounts,
)
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import (
    winrm_connection as _winrm_connection,
)
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import (
    encryption_types_accounts as _encryption_types_accounts,
)


def sql_estate(hostvars, hosts, instances=None, links=None):
    """dict(hosts, instances, links, moves_allowed, port_plan,
    delegation_targets, callers) of the play's ``hosts``; ``instances`` and ``links``
    replace what the inventory says when given."""
    try:
        estate = read_estate(hostvars, hosts)
        instances = estate.instances() if instances is None else instances
        links = estate.links() if links is None else links
        return dict(hosts=list(hosts), instances=instances, links=links, moves_allowed=estate.moves_allowed(),
                    port_plan=estate.port_plan(), delegation_targets=delegation_targets(links, instances),
                    callers=link_callers(links))
    except EstateError as error:
        raise AnsibleFilterError(str(error)) from None


def rbkcd_links(links, audit, over_classic=False):
    """The linked servers that need RBKCD: those whose front end does not
    already delegate to the back end by classic constrained delegation
    (plugin_utils/_estate.links_needing_rbkcd)."""
    if not isinstance(audit, dict) or "instances" not in audit:
        raise AnsibleFilterError("rbkcd_links needs the result of sqlauth.kerberos.spn_facts for the estate")
    return links_needing_rbkcd(links or [], audit, over_classic)


def unconstrained_delegation_accounts(audit):
    """The DNs of the estate's service accounts trusted for unconstrained
    delegation (plugin_utils/_estate.unconstrained_accounts)."""
    if not isinstance(audit, dict) or "instances" not in audit:
        raise AnsibleFilterError("unconstrained_delegation_accounts needs the result of sqlauth.kerberos.spn_facts")
    return unconstrained_accounts(audit)


def encryption_types_accounts(audit, encryption_types="aes"):
    """The DNs of the estate's user and gMSA service accounts whose
    encryption types differ from ``encryption_types``
    (plugin_utils/_estate.encryption_types_accounts)."""
    if not isinstance(audit, dict) or "instances" not in audit:
        raise AnsibleFilterError("encryption_types_accounts needs the result of sqlauth.kerberos.spn_facts")
    try:
        return _encryption_types_accounts(audit, encryption_types)
    except SqlAuthError as error:
        raise AnsibleFilterError(str(error)) from None


def winrm_connection(variables, overrides=None, host=None):
    """The WinRM options of one host: sqlauth_winrm where set, else the
    host's Ansible connection variables (plugin_utils/_estate.winrm_connection)."""
    try:
        return _winrm_connection(variables, overrides, host)
    except EstateError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    def filters(self):
        return {"sql_estate": sql_estate, "rbkcd_links": rbkcd_links,
                "unconstrained_delegation_accounts": unconstrained_delegation_accounts,
                "encryption_types_accounts": encryption_types_accounts, "winrm_connection": winrm_connection}
