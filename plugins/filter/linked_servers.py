# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the inventory's linked servers into rbkcd_delegate's
input: which instance runs linked-server queries against which, and for each
back end the service accounts that must be allowed to delegate to it."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import (
    display_name,
    instance_key_from_name,
    parse_instance,
)


def linked_servers(hostvars, hosts):
    """The (front, back) pairs of the hosts' instances: each item of
    ``sqlauth_instances`` may list in ``linked_servers`` the instances it
    runs linked-server queries against, as SQL Server names them."""
    pairs = []
    for host in hosts:
        variables = hostvars[host]
        fqdn = variables.get("sqlauth_host_fqdn") or host
        for item in variables.get("sqlauth_instances") or []:
            if not isinstance(item, dict):
                raise AnsibleFilterError("every item of sqlauth_instances of %s must be a dict" % host)
            front = display_name(fqdn, item.get("instance"))
            backs = item.get("linked_servers") or []
            if not isinstance(backs, list) or not all(isinstance(back, str) and back.strip() for back in backs):
                raise AnsibleFilterError("linked_servers of %s must be a list of instance names (host.fqdn or "
                                         "host.fqdn\\NAME), got %r" % (front, backs))
            pairs.extend(dict(front=front, back=back.strip()) for back in backs)
    return pairs


def rbkcd_targets(links, instances):
    """rbkcd_delegate targets for linked-server pairs: per back-end instance,
    its service account, the front ends' service accounts as principals (with
    their hosts, for service identities such as NT SERVICE\\MSSQLSERVER that
    act as the host's computer account), and the SPN a linked server asks
    for: host:port over TCP, host:INSTANCE without a static port."""
    known = {}
    for options in instances:
        try:
            instance = parse_instance(options)
        except SpnError as error:
            raise AnsibleFilterError(str(error)) from None
        known[instance_key_from_name(instance.name)] = instance
    problems, targets = [], {}
    for link in links:
        front, back = (known.get(instance_key_from_name(link.get(end) or "")) for end in ("front", "back"))
        for end, found in (("front", front), ("back", back)):
            if found is None:
                problems.append("linked server %s -> %s: %s is not an instance of the inventory"
                                % (link.get("front"), link.get("back"), link.get(end)))
        if front is None or back is None:
            continue
        if front is back:
            problems.append("%s lists itself as a linked server" % front.name)
            continue
        target = targets.get(back.name.lower())
        if target is None:
            forms = ["fqdn_port"] if back.tcp_enabled and back.port is not None else ["fqdn_instance"]
            target = targets[back.name.lower()] = dict(
                account=back.service_account, host=back.host, principals=[],
                spns=[required.spn for required in back.required_spns(forms)])
        principal = dict(account=front.service_account, host=front.host)
        if principal not in target["principals"]:
            target["principals"].append(principal)
    if problems:
        raise AnsibleFilterError("; ".join(problems) + " (known instances: %s)"
                                 % ", ".join(sorted(i.name for i in known.values())))
    return [targets[name] for name in sorted(targets)]


class FilterModule:
    def filters(self):
        return {"linked_servers": linked_servers, "rbkcd_targets": rbkcd_targets}
