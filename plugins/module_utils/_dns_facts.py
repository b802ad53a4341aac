# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_facts' operation: resolve every name of the estate as its clients do
(_dns_lookup.py), read the hosts' computer accounts in batched searches,
and classify each name (_dns_names.py). Read-only in any mode."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.sqlauth.kerberos.plugins.module_utils._dns_lookup import (
    DNSPYTHON_IMPORT_ERROR,
    DnsError,
    Resolver,
    address_of,
    parse_server,
    run_all,
    server_label,
    system_servers,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._dns_names import (
    classify,
    estate_names,
    qualified_short_name,
    record_of,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_TERMS,
    batched_or_filters,
    escape_filter_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError, computer_account_name
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import validate_fact_name
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import parse_instance


def validate_dns_facts(params):
    """dns_facts' input, checked before connecting."""
    if DNSPYTHON_IMPORT_ERROR:
        raise DnsError("the dnspython Python package is required on the controller (pip install dnspython): %s"
                       % DNSPYTHON_IMPORT_ERROR)
    fact_name = validate_fact_name(params.get("fact_name"))
    instances = [parse_instance(options) for options in params.get("instances") or []]
    if not instances:
        raise SpnError("instances is empty")
    servers = [parse_server(text) for text in params.get("dns_servers") or []]
    timeout, concurrency = params.get("dns_timeout"), params.get("dns_concurrency")
    if not 0 < timeout <= 60:
        raise DnsError("dns_timeout must be more than 0 and at most 60 seconds, got %s" % timeout)
    if not 1 <= concurrency <= 256:
        raise DnsError("dns_concurrency must be between 1 and 256, got %s" % concurrency)
    return dict(instances=instances, servers=servers, timeout=timeout, concurrency=concurrency, fact_name=fact_name)


def domain_dns_servers(client, domain, timeout):
    """(servers, source): the DNS servers clients of the domain use, found
    as Windows clients find their DCs: the _ldap._tcp.dc._msdcs SRV records,
    asked of the controller's resolver; else the LDAP server's address."""
    system = system_servers()
    if system and domain:
        try:
            found = Resolver(system, timeout).domain_controllers(domain)
        except DnsError:
            found = []
        if found:
            return [(address, 53) for address in found], "srv"
    server = client.options["server"]
    found = address_of(server)
    if not found:
        raise DnsError("cannot find the DNS servers of %s: no _ldap._tcp.dc._msdcs SRV records by the controller's "
                       "resolver, and the LDAP server %s has no address; set dns_servers" % (domain, server))
    return [(address, 53) for address in found], "ldap_server"


def read_computers(client, hosts):
    """{host folded: dict(dn, dns_host_name)} of the hosts' computer
    accounts, by sAMAccountName in batched searches (dNSHostName is not
    indexed)."""
    wanted = {}
    for host in hosts:
        wanted.setdefault(computer_account_name(host), []).append(host)
    terms = ["(sAMAccountName=%s)" % escape_filter_value(sam) for sam in sorted(wanted)]
    found = {}
    for ldap_filter in batched_or_filters(terms, "(&(objectClass=computer)%s)", max_terms=MAX_FILTER_TERMS):
        for entry in client.search(client.default_naming_context, ldap_filter, ["sAMAccountName", "dNSHostName"]):
            for host in wanted.get((entry.value("sAMAccountName") or "").lower(), []):
                found[host.lower()] = dict(dn=entry.dn, dns_host_name=entry.value("dNSHostName"))
    return found


def dns_facts(client, request, check_mode=False, resolver=None):
    """Resolve and classify every name of the instances. ``resolver`` is for
    tests."""
    domain = client.own_domain().get("dns")
    if resolver is None:
        if request["servers"]:
            servers, source = request["servers"], "dns_servers"
        else:
            servers, source = domain_dns_servers(client, domain, request["timeout"])
        resolver = Resolver(servers, request["timeout"])
    else:
        source = "given"
    names = estate_names(request["instances"])
    shorts = {entry["name"].lower(): qualified_short_name(entry["name"], domain)
              for entry in names if entry["role"] != "alias"}
    concurrency = request["concurrency"]
    # The computer accounts are read while DNS answers (the LDAP connection is this thread's alone).
    computers_read = ThreadPoolExecutor(max_workers=1)
    computers_future = computers_read.submit(read_computers, client,
                                             [entry["name"] for entry in names if entry["role"] == "host"])
    computers_read.shutdown(wait=False)
    forwards = run_all(resolver.forward, [entry["name"] for entry in names] + [s for s in shorts.values() if s],
                       concurrency)
    by_name = {name.lower(): found for name, found in forwards.items()}
    addresses = [address for entry in names if entry["role"] != "alias"
                 for address in forwards[entry["name"]]["addresses"]]
    pointers = run_all(resolver.pointers, addresses, concurrency)
    computers = computers_future.result()
    rows = []
    for entry in names:
        forward = forwards[entry["name"]]
        short_name = shorts.get(entry["name"].lower())
        short = dict(by_name[short_name.lower()], name=short_name) if short_name else None
        computer = computers.get(entry["name"].lower()) if entry["role"] == "host" else None
        ptrs = {address: dict(names=pointers.get(address)) for address in forward["addresses"]}
        statuses = classify(entry, forward, ptrs, short, computer, lambda name: by_name.get(name.lower()))
        rows.append(dict(entry, record=record_of(forward), canonical=forward["canonical"], chain=forward["chain"],
                         # PTRs are a host's or listener's business: an alias shares their addresses.
                         addresses=[dict(address=a, ptr=None if entry["role"] == "alias" else ptrs[a]["names"])
                                    for a in forward["addresses"]],
                         rcode=forward["rcode"], short_name=short, computer=computer, statuses=statuses))
    _add_reverse_zones(resolver, rows, concurrency)
    summary = dict(names=len(rows), ok=sum(not row["statuses"] for row in rows))
    for row in rows:
        for status in row["statuses"]:
            summary[status["status"]] = summary.get(status["status"], 0) + 1
    report = dict(domain=domain, dns_servers=[server_label(server) for server in resolver.servers],
                  dns_servers_from=source, names=rows, summary=summary)
    result = dict(changed=False, dns_queries=resolver.queries, ldap_round_trips=client.round_trips)
    if request.get("fact_name"):
        result.update(summary=summary, ansible_facts={request["fact_name"]: report})
    else:
        result.update(report)
    return result


def _add_reverse_zones(resolver, rows, concurrency):
    """The reverse zone of each address whose PTR is wrong, for the fix's
    commands (None: no reverse zone holds it)."""
    wrong = [item for row in rows for status in row["statuses"] if status["status"] == "ptr_mismatch"
             for item in status["addresses"]]
    zones = run_all(resolver.reverse_zone, [item["address"] for item in wrong], concurrency)
    for item in wrong:
        item["zone"] = zones[item["address"]]
