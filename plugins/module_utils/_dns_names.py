# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate's names as its clients resolve them: which names to look up
(hosts, availability group listeners, aliases), and what the answers mean
for Kerberos. Pure code, no I/O: the lookups are _dns_lookup.py's.

A SQL Server client builds the SPN from the name DNS gives it: a CNAME
alias resolves to its canonical name, and the SPN is built for that; an
alias with an address record of its own keeps its name, so it needs SPNs of
its own. The checks' statuses are the catalogue's (check ``dns``)."""
from __future__ import annotations

import ipaddress

from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import short_host_name

NAME_ROLES = ("host", "listener", "alias")
# What a name's forward lookup found: its own address records, a CNAME chain
# to a name with addresses, or no address at all.
RECORDS = ("address", "cname", "none")
# The statuses that are not problems (the catalogue's info findings and ok).
INFO_STATUSES = ("alias_cname", "alias_address", "several_addresses")


def _fold(name):
    return name.rstrip(".").lower()


def estate_names(instances):
    """The names to resolve for SqlInstances, in inventory order, each once:
    [dict(name, role, instances, leads_to)], ``instances`` the display names
    of the instances that use the name, ``leads_to`` for an alias the names
    (host, listeners) it must lead to. A name both a host and something
    else keeps the first role met, host before listener before alias."""
    found = {}
    for instance in instances:
        named = [(instance.host, "host")] + [(listener["name"], "listener") for listener in instance.listeners]
        named += [(alias, "alias") for alias in instance.aliases]
        targets = [instance.host] + [listener["name"] for listener in instance.listeners]
        for name, role in named:
            entry = found.get(_fold(name))
            if entry is None:
                entry = found[_fold(name)] = dict(name=name, role=role, instances=[], leads_to=[])
            elif NAME_ROLES.index(role) < NAME_ROLES.index(entry["role"]):
                entry["role"] = role
            if instance.name not in entry["instances"]:
                entry["instances"].append(instance.name)
            if role == "alias":
                entry["leads_to"].extend(t for t in targets if _fold(t) not in map(_fold, entry["leads_to"]))
    for entry in found.values():
        if entry["role"] != "alias":
            entry["leads_to"] = []
    return list(found.values())


def qualified_short_name(name, domain):
    """The name a client gets for the host's short name under the domain's
    DNS suffix, or None when that is the name itself."""
    if not domain:
        return None
    qualified = "%s.%s" % (short_host_name(name), _fold(domain))
    return None if qualified == _fold(name) else qualified


def reverse_pointer(address):
    """The PTR owner name of an address (10.0.0.5 -> 5.0.0.10.in-addr.arpa)."""
    return ipaddress.ip_address(address).reverse_pointer


def record_of(forward):
    """What a forward lookup found (RECORDS)."""
    if not forward.get("addresses"):
        return "none"
    return "cname" if forward.get("chain") else "address"


def classify(entry, forward, ptrs, short=None, computer=None, forward_of=None):
    """The dns statuses of one name, [dict(status, ...details)], with no
    ``ok`` (no status is ok).

    ``forward``: dict(addresses, chain, canonical, nxdomain) of the name;
    ``ptrs``: {address: dict(names, zone)} for its addresses; ``short``: the
    forward lookup of qualified_short_name, or None; ``computer``: dict(dn,
    dns_host_name) of a host's computer account, or None; ``forward_of``:
    name -> forward lookup of another name of the estate (an alias's hosts)."""
    record = record_of(forward)
    if record == "none":
        return [dict(status="unresolved", nxdomain=bool(forward.get("nxdomain")), chain=list(forward.get("chain") or []))]
    statuses = []
    canonical = forward.get("canonical") or entry["name"]
    addresses = list(forward["addresses"])
    if entry["role"] == "alias":
        statuses.append(_alias_status(entry, record, canonical, addresses, forward_of))
        return statuses
    if record == "cname":
        statuses.append(dict(status="name_elsewhere", canonical=canonical,
                             reason="%s is a CNAME of %s: clients build the SPNs for %s" % (
                                 entry["name"], canonical, canonical)))
    if len(addresses) > 1:
        statuses.append(dict(status="several_addresses", addresses=addresses))
    wrong = []
    for address in addresses:
        ptr = ptrs.get(address) or {}
        if "names" in ptr and ptr["names"] is None:
            continue  # the server could not say (SERVFAIL): unknown, not wrong
        names = [_fold(name) for name in ptr.get("names") or []]
        if _fold(canonical) not in names:
            wrong.append(dict(address=address, names=list(ptr.get("names") or []), zone=ptr.get("zone"),
                              pointer=reverse_pointer(address)))
    if wrong:
        statuses.append(dict(status="ptr_mismatch", canonical=canonical, addresses=wrong))
    if short is not None:
        short_addresses = set((short or {}).get("addresses") or [])
        if short_addresses != set(addresses):
            statuses.append(dict(status="short_name_mismatch", short_name=short["name"],
                                 short_addresses=sorted(short_addresses), addresses=addresses))
    if computer and computer.get("dns_host_name") and _fold(computer["dns_host_name"]) != _fold(entry["name"]):
        statuses.append(dict(status="host_name_mismatch", computer=computer["dn"],
                             dns_host_name=computer["dns_host_name"]))
    return statuses


def _alias_status(entry, record, canonical, addresses, forward_of):
    """An alias leads to the instance's host or one of its listeners: by
    CNAME, its canonical name is one of them; by address record, it shares
    an address with one of them (unknown when none of them resolves)."""
    targets = [_fold(name) for name in entry["leads_to"]]
    if record == "cname":
        if _fold(canonical) in targets:
            return dict(status="alias_cname", canonical=canonical)
        return dict(status="name_elsewhere", canonical=canonical,
                    reason="%s is a CNAME of %s, not of %s" % (entry["name"], canonical, " or ".join(entry["leads_to"])))
    target_addresses = set()
    for name in entry["leads_to"]:
        target_addresses.update(((forward_of or (lambda _name: {}))(name) or {}).get("addresses") or [])
    if target_addresses and not target_addresses & set(addresses):
        return dict(status="name_elsewhere", canonical=entry["name"],
                    reason="%s has the addresses %s, none of them %s's (%s)" % (
                        entry["name"], ", ".join(addresses), " or ".join(entry["leads_to"]),
                        ", ".join(sorted(target_addresses))))
    return dict(status="alias_address", addresses=addresses)


# What DNS says of an alias that needs no SPN of its own: a CNAME (the SPNs
# are the canonical host's), one leading to another host (that host's
# business), one no client can resolve.
_NO_SPN_STATUSES = ("alias_cname", "name_elsewhere", "unresolved")


def aliases_without_spns(names):
    """The lower-case names of the aliases that need no SPN of their own,
    from dns_facts' ``names``. An alias the results do not cover (an older
    run, part of the estate) is not among them: it keeps its SPNs."""
    return {_fold(entry["name"]) for entry in names or []
            if entry.get("role") == "alias" and any(s["status"] in _NO_SPN_STATUSES for s in entry.get("statuses") or [])}
