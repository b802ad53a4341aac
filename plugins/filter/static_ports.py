# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters the sql_static_port role uses to turn one host's
sqlauth_instances into sql_static_port's ``instances``, naming every
instance that has no static port to pin, and the sql_kerberos role uses to
check every host's ports at once."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import display_name
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import port_requests, read_estate


def static_port_instances(instances, host, platform="windows"):
    """dict(instances, skipped, problems): the module's ``instances`` for
    the host's inventory items with TCP/IP, the items left out (TCP/IP
    disabled in the inventory) with the reason, and one sentence per item
    that cannot be pinned (no static port, bad port or name)."""
    return port_requests(instances, host, platform)


def static_port_plan(hostvars, hosts):
    """dict(hosts, problems): the hosts whose ports the sql_kerberos role
    pins or checks (managed, and every instance can be pinned), and per
    managed host that cannot be, its problems (static_port_instances').
    Reads each host's variables once, for the whole play."""
    return read_estate(hostvars, hosts).port_plan()


def static_port_problems(hostvars, hosts):
    """Per host whose ports the sql_kerberos role manages, the instances it
    cannot pin (static_port_instances' problems); hosts without any are left
    out. Reads each host's variables once, for the whole play."""
    return static_port_plan(hostvars, hosts)["problems"]


def static_port_restarts(result, host):
    """The names (``host`` or ``host\\NAME``) of the instances that
    sql_static_port's result says still need a restart."""
    names = []
    for item in (result or {}).get("instances") or []:
        if item.get("restart_required"):
            names.append(display_name(host, item.get("instance")))
    return names


class FilterModule:
    def filters(self):
        return {"static_port_instances": static_port_instances, "static_port_plan": static_port_plan,
                "static_port_problems": static_port_problems,
                "static_port_restarts": static_port_restarts}
