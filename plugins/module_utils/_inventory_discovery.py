# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A starter inventory from Active Directory: the SQL Server hosts and
instances that AD knows of through their MSSQLSvc SPNs (and SQL Server's
service connection points, where present), each with the account that
holds its SPNs today.

The inventory is the desired state, so this is a DRAFT for a person to
review and commit: every inference is returned with a "guess:" comment
(a bare-host SPN taken as the default instance, a port paired with an
instance because one account holds both, SPNs on a computer account that
may be stale), and every holder of a duplicated SPN is named.

I/O is three searches whatever the estate's size: every MSSQLSvc SPN
holder (one paged search, forest-wide in the Global Catalog), the
service connection points, and the hosts' computer accounts (batched).
Grouping (``draft_inventory``) is pure.
"""
from __future__ import annotations

import re

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    ACCOUNT_ATTRIBUTES,
    AccountError,
    parse_account_reference,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_TERMS,
    batched_or_filters,
    domain_of_dn,
    escape_filter_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import (
    DEFAULT_INSTANCE,
    MSSQL_SERVICE_CLASS,
    SpnError,
    computer_account_name,
    parse_spn,
    short_host_name,
    validate_hostname,
    validate_instance_name,
    validate_port,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import HOLDER_ATTRIBUTES, search_holders
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import (
    DEFAULT_PORT,
    DYNAMIC_PORT,
    instance_key_from_name,
    static_port,
    virtual_account,
)

# One search for every holder of an MSSQLSvc SPN. A prefix search of
# servicePrincipalName is not indexed, which the audit avoids; discovery runs
# once, and the lab notes measured 0.16 s over 1,000 accounts.
MSSQL_SPN_FILTER = "(servicePrincipalName=%s/*)" % MSSQL_SERVICE_CLASS
# SQL Server's own class (mS-SQL-SQLServer, a serviceConnectionPoint), and
# service connection points other tools publish for SQL Server.
SCP_FILTER = ("(&(objectClass=serviceConnectionPoint)(|(objectClass=mS-SQL-SQLServer)(serviceClassName=MSSQLServer)"
              "(serviceClassName=MSSQLSvc)(keywords=MSSQLServer)(keywords=SQL Server)))")
SCP_ATTRIBUTES = ["objectClass", "serviceDNSName", "serviceClassName", "mS-SQL-Name", "mS-SQL-TCPIP",
                  "mS-SQL-ServiceAccount"]
DISCOVERY_ATTRIBUTES = HOLDER_ATTRIBUTES + ["dNSHostName"]
# Ports from 49152 on are Windows' dynamic range, where a dynamic port lands.
DYNAMIC_RANGE_START = 49152
_ACCOUNT_KINDS = ("user", "gmsa", "msa")
_PORT_AT_END = re.compile(r"(?:^|[,:\s])([0-9]{1,5})$")


def discover(client, request, _check_mode=False):
    """The module's run: read, then group (draft_inventory)."""
    holders, scope = search_holders(client, [MSSQL_SPN_FILTER], request["search_scope"] == "forest",
                                    DISCOVERY_ATTRIBUTES)
    scps = read_service_connection_points(client) if request["service_connection_points"] else []
    domain = client.own_domain()
    domains = client.domains()
    hosts = spn_hosts(holders, scps, domain.get("dns"), domains)
    computers = find_computers(client, hosts, request["search_scope"] == "forest") if hosts else []
    draft = draft_inventory(holders, scps, computers, domain.get("dns"), domains)
    draft.update(search_scope=scope, ldap_round_trips=client.round_trips, ldap_binds=client.binds)
    return draft


def validate_discovery(params):
    return dict(search_scope=params["search_scope"], service_connection_points=params["service_connection_points"])


def read_service_connection_points(client):
    """SQL Server's service connection points in the connected domain, as
    dicts of the attributes read (lists of strings) and the DN."""
    entries = client.search(client.default_naming_context, SCP_FILTER, SCP_ATTRIBUTES)
    return [dict(dn=entry.dn, **{name: entry.values(name) for name in SCP_ATTRIBUTES}) for entry in entries]


def find_computers(client, hosts, forest=True):
    """The computer accounts of ``hosts`` (FQDNs): one batched search of
    indexed terms, the host's HOST/ SPN and its sAMAccountName."""
    terms = set()
    for host in hosts:
        terms.add("(servicePrincipalName=HOST/%s)" % escape_filter_value(host))
        terms.add("(sAMAccountName=%s)" % escape_filter_value(computer_account_name(host)))
    filters = batched_or_filters(sorted(terms), "(&(objectClass=computer)%s)", max_terms=MAX_FILTER_TERMS)
    return search_holders(client, filters, forest, sorted(set(ACCOUNT_ATTRIBUTES)))[0]


# -- pure: from what was read to the draft ----------------------------------

def mssql_spns(accounts):
    """Every MSSQLSvc SPN among the accounts' SPNs: ([(ServicePrincipalName,
    Account)], [dict(spn, holder)] for those that do not parse)."""
    parsed, unparsed = [], []
    for account in accounts:
        for spn in account.spns:
            if not spn.lower().startswith(MSSQL_SERVICE_CLASS.lower() + "/"):
                continue
            try:
                parsed.append((parse_spn(spn), account))
            except SpnError as error:
                unparsed.append(dict(spn=spn, holder=account.name, problem=str(error)))
    return parsed, unparsed


def scp_instance(scp):
    """What a service connection point says: dict(host, instance, port,
    service_account, dn); any of them None when it does not say."""
    name = _first(scp.get("mS-SQL-Name"))
    host_part, instance = instance_key_from_name(name) if name else (None, None)
    host = _first(scp.get("serviceDNSName")) or host_part or None
    try:
        host = validate_hostname(host) if host else None
    except SpnError:
        host = None
    try:
        instance = validate_instance_name(instance) if instance else None
    except SpnError:
        instance = None
    port = None
    match = _PORT_AT_END.search((_first(scp.get("mS-SQL-TCPIP")) or "").strip())
    if match:
        try:
            port = validate_port(match.group(1))
        except SpnError:
            port = None
    return dict(dn=scp["dn"], host=host, instance=instance, port=port,
                service_account=_first(scp.get("mS-SQL-ServiceAccount")))


def spn_hosts(accounts, scps, domain_dns, domains=()):
    """The host FQDNs the SPNs and service connection points name (short
    names resolved as draft_inventory does); what find_computers looks for."""
    spns, _unparsed = mssql_spns(accounts)
    scp_instances = [scp_instance(scp) for scp in scps]
    names = _HostNames(spns, scp_instances, domain_dns, domains)
    found = {names.resolve(spn.host, account.dn, account.sid)[0] for spn, account in spns}
    found.update(names.resolve(i["host"], i["dn"])[0] for i in scp_instances if i["host"])
    return sorted(found)


class _HostNames:
    """The FQDN a host name in an SPN or a service connection point stands
    for. A short name (sql1) stands for a known FQDN with that first label:
    the one whose FQDN SPNs the same account holds, else the one in the
    holder's own domain (by its DN), else the first; with none known, for
    name.<the holder's domain>. The same short name may be a host of each
    domain, and one holder's SPNs are one host's more often than not."""

    def __init__(self, spns, scp_instances, domain_dns, domains=()):
        self.domain_dns = domain_dns
        self.domains = list(domains)
        self.by_short = {}
        for fqdn in sorted({spn.host for spn, _a in spns if "." in spn.host}
                           | {i["host"] for i in scp_instances if i["host"] and "." in i["host"]}):
            self.by_short.setdefault(short_host_name(fqdn), []).append(fqdn)
        self.held = {}
        for spn, account in spns:
            if "." in spn.host:
                self.held.setdefault(account.sid, set()).add(spn.host)

    def resolve(self, name, dn, sid=None):
        """(FQDN, guess or None) for ``name`` named by the object ``dn``
        (an SPN's holder, or a service connection point)."""
        if "." in name:
            return name, None
        domain = domain_of_dn(self.domains, dn) if dn else None
        domain_dns = (domain or {}).get("dns") or self.domain_dns
        known = self.by_short.get(name)
        if not known:
            return ("%s.%s" % (name, domain_dns) if domain_dns else name), None
        held = [fqdn for fqdn in known if fqdn in self.held.get(sid, ())]
        in_domain = [fqdn for fqdn in known if domain_dns and fqdn.endswith("." + domain_dns)]
        fqdn = ([f for f in held if f in in_domain] or held or in_domain or known)[0]
        if len(known) == 1:
            return fqdn, None
        why = ("the same account holds SPNs of this host" if fqdn in held else
               "this host is in its domain" if fqdn in in_domain else "the first in order")
        return fqdn, "%s is the first label of %s; placed here as %s" % (name, ", ".join(known), why)


class _Host:
    """One host's SPNs as read: names {INSTANCE: SpnGroup}, ports {int: SpnGroup}."""

    def __init__(self, fqdn):
        self.fqdn = fqdn
        self.names = {}
        self.ports = {}
        self.comments = []
        self.short_only = True
        # What names this host by a short name that several hosts share:
        # {(" on HOLDER" or "", why it was placed here): {SPN or SCP}}.
        self.placed = {}


class _SpnGroup:
    """The SPNs of one instance name or port on one host, in every form
    (FQDN, short name, bare host), and who holds each."""

    def __init__(self):
        self.spns = {}  # spn text -> {sid: Account}
        self.bare = False
        self.explicit = False

    def add(self, spn, account):
        self.spns.setdefault(str(spn), {})[account.sid] = account

    def holders(self):
        found = {}
        for by_sid in self.spns.values():
            found.update(by_sid)
        return found


def draft_inventory(accounts, scps, computers, domain_dns, domains=()):
    """The draft inventory: dict(hosts, unparsed_spns, service_connection_points, summary).
    ``accounts``: the holders of MSSQLSvc SPNs (Account, _accounts.py);
    ``scps``: read_service_connection_points' dicts; ``computers``: the
    hosts' computer accounts (Account); ``domain_dns``: the connected
    domain, and ``domains`` the forest's (LdapClient.domains), for the FQDN
    of a host named only by short-name SPNs (_HostNames)."""
    spns, unparsed = mssql_spns(accounts)
    scp_instances = [scp_instance(scp) for scp in scps]
    names = _HostNames(spns, scp_instances, domain_dns, domains)
    hosts = {}
    for spn, account in spns:
        fqdn, why = names.resolve(spn.host, account.dn, account.sid)
        host = hosts.setdefault(fqdn, _Host(fqdn))
        if "." in spn.host:
            host.short_only = False
        if why:
            host.placed.setdefault((" on " + account.name, why), set()).add(str(spn))
        if spn.port is not None:
            host.ports.setdefault(spn.port, _SpnGroup()).add(spn, account)
        else:
            group = host.names.setdefault(spn.instance or DEFAULT_INSTANCE, _SpnGroup())
            group.add(spn, account)
            if spn.instance is None:
                group.bare = True
            else:
                group.explicit = True
    scps_by_host = {}
    for info in scp_instances:
        if info["host"]:
            fqdn, why = names.resolve(info["host"], info["dn"])
            scps_by_host.setdefault(fqdn, []).append(info)
            hosts.setdefault(fqdn, _Host(fqdn)).short_only = False
            if why:
                hosts[fqdn].placed.setdefault(("", why), set()).add("the service connection point " + info["dn"])
    by_holder_hosts = {}
    for host in hosts.values():
        for group in list(host.names.values()) + list(host.ports.values()):
            for sid in group.holders():
                by_holder_hosts.setdefault(sid, set()).add(host.fqdn)
    drafted = []
    for fqdn in sorted(hosts, key=_host_order):
        host = hosts[fqdn]
        computer, by_name_only = _computer_of(fqdn, computers + [a for _s, a in spns if a.kind == "computer"])
        instances, unassigned = _pair(host)
        for info in scps_by_host.get(fqdn, ()):
            _merge_scp(instances, info)
        drafted.append(_host_draft(host, computer, by_name_only, instances, unassigned, by_holder_hosts, hosts))
    duplicates = {spn for host in drafted for instance in host["instances"] for spn in instance["duplicates"]}
    duplicates.update(row["spn"] for host in drafted for row in host["unassigned_spns"] if len(row["holders"]) > 1)
    return dict(
        hosts=drafted,
        unparsed_spns=unparsed,
        service_connection_points=scp_instances,
        # SPNs, not (SPN, holder) pairs: a duplicated SPN counts once.
        summary=dict(hosts=len(drafted), instances=sum(len(h["instances"]) for h in drafted),
                     spns=len({str(spn) for spn, _a in spns}), duplicate_spns=len(duplicates),
                     service_connection_points=len(scp_instances)),
    )


def _host_order(fqdn):
    """sql2 before sql10: digits compared as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", fqdn)]


def _instance_order(name):
    return (name != DEFAULT_INSTANCE, name)


def _pair(host):
    """The host's instances: each instance name with the port its holder
    also holds. Per holder (most SPNs first), its names not yet placed and
    its ports not yet placed are paired in order, the default instance
    first and ports ascending. A port left over whose holders hold no
    instance name of this host (a port SPN names no instance) gives the
    default instance its port, or makes it when the host has none, 1433
    first; the rest (an old port of a named instance, ...) are returned as
    unassigned. Returns ([instance dict], [port])."""
    holders = {}
    for group in list(host.names.values()) + list(host.ports.values()):
        holders.update(group.holders())

    def held(sid, groups):
        return [key for key, group in groups.items() if sid in group.holders()]

    def spn_count(account):
        return sum(1 for group in list(host.names.values()) + list(host.ports.values())
                   for by_sid in group.spns.values() if account.sid in by_sid)

    instances, paired_ports = {}, set()
    for account in sorted(holders.values(), key=lambda a: (-spn_count(a), a.name.lower())):
        names = sorted((n for n in held(account.sid, host.names) if n not in instances), key=_instance_order)
        ports = sorted(p for p in held(account.sid, host.ports) if p not in paired_ports)
        ambiguous = max(len(names), len(ports)) > 1
        for name, port in zip(names, ports):
            instances[name] = dict(name=name, port=port, port_spn=True, port_from=account.name, ambiguous=ambiguous,
                                   names_held=names, ports_held=ports)
            paired_ports.add(port)
        for name in names[len(ports):]:
            instances[name] = dict(name=name, port=None, port_from=None, ambiguous=False)
    leftover = sorted(set(host.ports) - paired_ports)
    named_holders = {sid for name, group in host.names.items() if name != DEFAULT_INSTANCE
                     for sid in group.holders()}
    free = sorted((port for port in leftover if not named_holders & set(host.ports[port].holders())),
                  key=lambda port: (port != DEFAULT_PORT, port))
    default = instances.get(DEFAULT_INSTANCE)
    if free and default is None:
        instances[DEFAULT_INSTANCE] = dict(name=DEFAULT_INSTANCE, port=free[0], port_spn=True, port_from=None,
                                           ambiguous=False, from_port_only=True)
        leftover.remove(free[0])
    elif free and default["port"] is None:
        default.update(port=free[0], port_spn=True, leftover_port=True)
        leftover.remove(free[0])
    return [instances[name] for name in sorted(instances, key=_instance_order)], leftover


def _merge_scp(instances, info):
    name = info["instance"] or DEFAULT_INSTANCE
    found = next((i for i in instances if i["name"] == name), None)
    if found is None:
        found = dict(name=name, port=info["port"], port_from=None, ambiguous=False, scp_only=True)
        instances.append(found)
        instances.sort(key=lambda i: _instance_order(i["name"]))
    elif found["port"] is None and info["port"] is not None:
        found["port"] = info["port"]
        found["port_from_scp"] = True
    found.setdefault("scps", []).append(info)


def _computer_of(fqdn, computers):
    """(the host's own computer account among ``computers`` or None, whether
    only its name matched): by dNSHostName, by its HOST/ SPN, else by the
    account name find_computers also searched (the host's short name and
    $), when its dNSHostName names no other host."""
    computers = [account for account in computers if account.kind == "computer"]
    for account in computers:
        if (account.dns_host_name or "").lower() == fqdn:
            return account, False
    for account in computers:
        if ("host/%s" % fqdn) in [spn.lower() for spn in account.spns]:
            return account, False
    for account in computers:
        if account.sam_account_name.lower() == computer_account_name(fqdn) and not account.dns_host_name:
            return account, True
    return None, False


def _host_draft(host, computer, by_name_only, instances, unassigned, by_holder_hosts, hosts):
    comments = ["guess: %s%s: %s" % (", ".join(sorted(named)), holder, why)
                for (holder, why), named in sorted(host.placed.items())]
    if host.short_only:
        comments.append("guess: only short-name SPNs name this host; its FQDN is a guess (the domain's suffix)")
    if by_name_only:
        comments.append("guess: the computer account %s has this host's short name but no DNS host name nor a HOST/ "
                        "SPN of %s: that it is this host, and so this FQDN, is a guess" % (computer.name, host.fqdn))
    if computer is None:
        others = sorted({other for group in list(host.names.values()) + list(host.ports.values())
                         for sid in group.holders() for other in by_holder_hosts.get(sid, ())
                         if other != host.fqdn and other in hosts})
        comments.append(
            "guess: no computer account has this name: an availability group listener, a DNS alias or a retired "
            "host? A listener goes under its instance's listeners, an alias under its aliases, on the host that "
            "serves it%s" % (" (the same accounts hold SPNs of %s)" % ", ".join(others) if others else ""))
    drafted = [_instance_draft(host, computer, instance) for instance in instances]
    unassigned_spns = []
    for port in unassigned:
        group = host.ports[port]
        for spn, by_sid in sorted(group.spns.items()):
            unassigned_spns.append(dict(spn=spn, holders=_names(by_sid)))
    if unassigned_spns:
        comments.append("port SPNs that name no instance found here (an old port, or an instance whose name has "
                        "no SPN; remove stale ones after review): %s"
                        % "; ".join("%s on %s" % (row["spn"], ", ".join(row["holders"])) for row in unassigned_spns))
    return dict(fqdn=host.fqdn, computer_account=computer.name if computer else None, comments=comments,
                instances=drafted, unassigned_spns=unassigned_spns)


def _instance_draft(host, computer, found):
    name = found["name"]
    groups = [group for group in (host.names.get(name), host.ports.get(found["port"]) if found.get("port_spn")
                                  else None) if group is not None]
    spns = {}
    for group in groups:
        for spn, by_sid in group.spns.items():
            spns.setdefault(spn, {}).update(by_sid)
    counts = {}
    accounts = {}
    for by_sid in spns.values():
        for sid, account in by_sid.items():
            counts[sid] = counts.get(sid, 0) + 1
            accounts[sid] = account
    comments = dict(instance=[], port=[], service_account=[])
    notes = []
    name_group = host.names.get(name)
    if found.get("from_port_only"):
        comments["instance"].append("guess: port SPNs without an instance name; taken as the default instance")
    elif name_group is not None and name_group.bare and not name_group.explicit:
        comments["instance"].append("guess: a bare-host SPN (no port, no instance name) names the default instance")
    if found.get("scp_only"):
        comments["instance"].append("guess: from a service connection point only (%s), no SPN: may be stale"
                                    % ", ".join(scp["dn"] for scp in found["scps"]))
    elif found.get("scps"):
        notes.append("also published as a service connection point: %s"
                     % ", ".join(scp["dn"] for scp in found["scps"]))
    port = found["port"]
    if port is None:
        port = static_port(name, None)
        if port is not None:
            comments["port"].append("guess: no port SPN; %d is the default instance's default port" % port)
        else:
            port = DYNAMIC_PORT
            comments["port"].append("guess: no port SPN; write the instance's static TCP port, or leave %s"
                                    % DYNAMIC_PORT)
    elif found.get("port_from_scp"):
        comments["port"].append("guess: no port SPN; the port of its service connection point")
    elif found.get("scp_only"):
        comments["port"].append("guess: the port of its service connection point")
    elif found.get("from_port_only"):
        comments["port"].append("guess: from %s" % _spn_list(host.ports[port].spns))
    elif found.get("leftover_port"):
        comments["port"].append(
            "guess: from %s on %s, which holds no instance name of this host; the default instance has no port SPN "
            "of its own" % (_spn_list(host.ports[port].spns), ", ".join(_names(host.ports[port].holders()))))
    elif found["ambiguous"]:
        comments["port"].append(
            "guess: %s holds ports %s and instances %s of this host, paired in order: check the instance's port "
            "in SQL Server Configuration Manager" % (found["port_from"], ", ".join(map(str, found["ports_held"])),
                                                     ", ".join(found["names_held"])))
    else:
        comments["port"].append("guess: %s, on the account that holds the instance's name SPN"
                                % _spn_list(host.ports[port].spns))
    if isinstance(port, int) and port >= DYNAMIC_RANGE_START:
        comments["port"].append("guess: in the dynamic range (%d-65535): probably a dynamic port SQL Server "
                                "registered at start-up; pin a static port, or write dynamic" % DYNAMIC_RANGE_START)
    service_account, holder = _service_account(host.fqdn, computer, name, counts, accounts, found, comments)
    duplicates = sorted(spn for spn, by_sid in spns.items() if len(by_sid) > 1)
    for spn in duplicates:
        notes.append("duplicate: %s is held by %s; the KDC issues no ticket for it: keep it on the service account "
                     "only" % (spn, ", ".join(_names(spns[spn]))))
    if len(counts) > 1:
        notes.append("its SPNs are held by %s" % ", ".join(
            "%s (%d)" % (accounts[sid].name, counts[sid])
            for sid in sorted(counts, key=lambda s: (-counts[s], accounts[s].name.lower()))))
    return dict(instance=name, port=port, service_account=service_account,
                holder=holder, comments=comments, notes=notes, spns=sorted(spns),
                holders=[dict(name=accounts[sid].name, kind=accounts[sid].kind, dn=accounts[sid].dn, sid=sid,
                              spns=counts[sid]) for sid in sorted(counts, key=lambda s: accounts[s].name.lower())],
                duplicates=duplicates, enabled=service_account is not None)


def _service_account(fqdn, computer, name, counts, accounts, found, comments):
    """(the service_account to write, the holder's name): the holder of
    most of the instance's SPNs (a service account before a computer on a
    tie); None when no account holds any."""
    if not counts:
        from_scp = next((scp["service_account"] for scp in found.get("scps", []) if scp["service_account"]), None)
        if from_scp:
            try:
                parse_account_reference(from_scp, fqdn)
            except AccountError as error:
                comments["service_account"].append(
                    "its service connection point names no usable service account (%s): write the instance's "
                    "service account, then uncomment" % error)
                return None, None
            comments["service_account"].append("guess: as its service connection point says")
            return from_scp, None
        comments["service_account"].append("no SPN holder: write the instance's service account, then uncomment")
        return None, None
    sid = sorted(counts, key=lambda s: (-counts[s], accounts[s].kind not in _ACCOUNT_KINDS,
                                        accounts[s].name.lower()))[0]
    holder = accounts[sid]
    if holder.kind in _ACCOUNT_KINDS:
        comments["service_account"].append("guess: holds the instance's SPNs today")
        return holder.name, holder.name
    if holder.kind == "computer" and computer is not None and holder.sid == computer.sid:
        virtual = virtual_account(name)
        comments["service_account"].append(
            "guess: the SPNs are on the host's computer account %s: SQL Server runs as a virtual account (%s, the "
            "installer's default), LocalSystem or NETWORK SERVICE, or these SPNs are stale, from when it did: write "
            "the real service account" % (holder.name, virtual))
        return virtual, holder.name
    comments["service_account"].append(
        "guess: the SPNs are on %s, a %s but not this host's computer account (a failover cluster's network "
        "name?): write the real service account" % (holder.name, holder.kind))
    return holder.name, holder.name


def _names(by_sid):
    return sorted((account.name for account in by_sid.values()), key=str.lower)


def _spn_list(spns):
    return ", ".join(sorted(spns))


def _first(values):
    return values[0] if values else None
