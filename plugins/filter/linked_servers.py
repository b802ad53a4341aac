# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the inventory's linked servers into rbkcd_delegate's
input: which instance runs linked-server queries against which, and for each
back end the service accounts that must be allowed to delegate to it."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import EstateError, delegation_targets, read_estate


def linked_servers(hostvars, hosts):
    """The (front, back) pairs of the hosts' instances: each item of
    ``sqlauth_instances`` may list in ``linked_servers`` the instances it
    runs linked-server queries against, as SQL Server names them."""
    try:
        return read_estate(hostvars, hosts).links()
    except EstateError as error:
        raise AnsibleFilterError(str(error)) from None


def rbkcd_targets(links, instances):
    """rbkcd_delegate targets for linked-server pairs, per back-end instance
    (plugin_utils/_estate.delegation_targets)."""
    try:
        return delegation_targets(links, instances)
    except EstateError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    def filters(self):
        return {"linked_servers": linked_servers, "rbkcd_targets": rbkcd_targets}
