# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the roles use to turn the inventory and spn_facts' plan into
module input: which accounts get the SPN write ACL, which SPNs to register,
and what may not be done without the inventory's permission."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import AccountError, parse_account_reference
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import short_host_name
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import instance_key_from_name
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import (
    EstateError,
    moves_allowed_keys,
    read_estate,
)


def spn_acl_targets(instances, include_computer_accounts=False, state="present"):
    """spn_acl targets, one per distinct service account of the instances.
    LocalSystem, NETWORK SERVICE and virtual accounts act as the computer
    account, which may already register its SPNs through the validated write
    every computer has; they are left out unless asked for."""
    targets = {}
    for instance in instances:
        try:
            reference = parse_account_reference(instance["service_account"], instance.get("host"))
        except AccountError as error:
            raise AnsibleFilterError(str(error)) from None
        if reference.kind == "host_computer":
            if not include_computer_accounts:
                continue
            name = short_host_name(reference.value).upper() + "$"
        else:
            name = instance["service_account"]
        targets.setdefault(name.lower(), dict(account=name, state=state))
    return list(targets.values())


def spn_registrations(audit, hostvars=None, hosts=None, allow_move=False, moves_allowed=None, remove_stale=False):
    """From spn_facts' result, the spn_register registrations that fix its
    SPN findings, and the readable reasons for what must not be done.

    Taking an SPN from another account (wrong account or duplicate) needs
    permission: ``allow_move`` for all, or ``allow_spn_move: true`` on the
    instance in the inventory: ``moves_allowed`` (the instance names, as the
    estate lists them), else read from ``hostvars`` of ``hosts``.
    ``remove_stale``: also remove the stale SPNs spn_facts found (state
    absent on their holders). Returns dict(registrations, blocked)."""
    if moves_allowed is None:
        try:
            moves_allowed = read_estate(hostvars or {}, hosts or []).moves_allowed()
        except EstateError as error:
            raise AnsibleFilterError(str(error)) from None
    allowed = moves_allowed_keys(moves_allowed)

    grouped, blocked = {}, []
    for step in audit.get("plan", []):
        if step["action"] == "add_spn":
            move = False
        elif step["action"] in ("move_spn", "remove_duplicate_spn"):
            refused = [name for name in step["instances"]
                       if not allow_move and instance_key_from_name(name) not in allowed]
            if refused:
                blocked.append("%s is held by %s but %s needs it on %s: allow the move with allow_spn_move: true "
                               "on %s in the inventory" % (step["spn"], ", ".join(step["remove_from"]),
                                                           ", ".join(step["instances"]), step["account"],
                                                           ", ".join(refused)))
                continue
            move = True
        else:
            continue
        grouped.setdefault((step["account"].lower(), move), dict(account=step["account"], spns=[], move=move))
        grouped[(step["account"].lower(), move)]["spns"].append(step["spn"])
    registrations = list(grouped.values())
    if remove_stale:
        stale = {}
        for instance in audit.get("instances", []):
            for row in instance.get("stale_spns") or []:
                for holder in row["holders"]:
                    stale.setdefault(holder["name"].lower(), dict(account=holder["name"], spns=[], state="absent"))[
                        "spns"].append(row["spn"])
        registrations.extend(stale[name] for name in sorted(stale))
    for instance in audit.get("instances", []):
        for row in instance["spns"]:
            if row.get("conflict"):
                blocked.append("%s is needed on %s for %s and on another account for %s: an SPN can be on one "
                               "account only (run those instances under one service account)"
                               % (row["spn"], instance["service_account"]["name"], instance["name"],
                                  ", ".join(row["conflict"])))
    return dict(registrations=registrations, blocked=sorted(set(blocked)))


class FilterModule:
    def filters(self):
        return {"spn_acl_targets": spn_acl_targets, "spn_registrations": spn_registrations}
