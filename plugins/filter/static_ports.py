# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters the sql_static_port role uses to turn one host's
sqlauth_instances into sql_static_port's ``instances``, naming every
instance that has no static port to pin, and the sql_kerberos role uses to
check every host's ports at once."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import (
    DEFAULT_INSTANCE,
    SpnError,
    validate_instance_name,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import display_name, static_port
from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import port_settings


def static_port_instances(instances, host, platform="windows"):
    """dict(instances, skipped, problems): the module's ``instances`` for
    the host's inventory items with TCP/IP, the items left out (TCP/IP
    disabled in the inventory) with the reason, and one sentence per item
    that cannot be pinned (no static port, bad port or name)."""
    result = dict(instances=[], skipped=[], problems=[])
    if not isinstance(instances, list):
        result["problems"].append("sqlauth_instances of %s must be a list, got %s" % (host, type(instances).__name__))
        return result
    ports = {}
    for item in instances:
        if not isinstance(item, dict):
            result["problems"].append("every item of sqlauth_instances of %s must be a dict, got %r" % (host, item))
            continue
        raw_name = item.get("instance") or DEFAULT_INSTANCE
        try:
            name = validate_instance_name(raw_name)
        except SpnError as error:
            result["problems"].append("%s: %s" % (host, error))
            continue
        label = display_name(host, name)
        if platform == "linux" and name != DEFAULT_INSTANCE:
            result["problems"].append("%s: SQL Server on Linux has a single instance, %s (sqlauth_platform is linux)"
                                      % (label, DEFAULT_INSTANCE))
            continue
        if item.get("tcp_enabled") is False:
            result["skipped"].append("%s: TCP/IP is disabled in the inventory (tcp_enabled: false)" % label)
            continue
        try:
            port = static_port(name, item.get("port"))
        except SpnError as error:
            result["problems"].append("%s: %s" % (label, error))
            continue
        if port is None:
            result["problems"].append(
                "%s has no static port (port: %s): give it one in sqlauth_instances, e.g. port: 1533, or leave it "
                "out of sql_static_port_instances" % (label, "dynamic" if item.get("port") else "not set, dynamic "
                                                      "for a named instance"))
            continue
        if port in ports:
            result["problems"].append("%s and %s both have port %d: each instance needs a port of its own"
                                      % (ports[port], label, port))
            continue
        ports[port] = label
        result["instances"].append(dict(instance=name, port=port, enable_tcp=True))
    return result


def static_port_plan(hostvars, hosts):
    """dict(hosts, problems): the hosts whose ports the sql_kerberos role
    pins or checks (managed, and every instance can be pinned), and per
    managed host that cannot be, its problems (static_port_instances').
    Reads each host's variables once, for the whole play."""
    plan = dict(hosts=[], problems={})
    for host in hosts:
        variables = hostvars[host]
        settings = port_settings(variables, host)
        if not settings["managed"]:
            continue
        found = static_port_instances(variables.get("sqlauth_instances") or [], settings["fqdn"],
                                      settings["platform"])["problems"]
        if found:
            plan["problems"][host] = found
        else:
            plan["hosts"].append(host)
    return plan


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
