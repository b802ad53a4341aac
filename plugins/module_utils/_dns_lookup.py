# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS lookups for dns_facts, with dnspython: the resolvers clients use,
forward lookups with their CNAME chain, PTRs, reverse zones. Concurrent
and bounded: at most ``concurrency`` queries in flight, each given
``timeout`` seconds; the first server that does not answer stops the run
with an error naming it (the queries in flight end within the timeout)."""
from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError

try:
    import dns.exception
    import dns.message
    import dns.nameserver
    import dns.rcode
    import dns.rdatatype
    import dns.resolver
    DNSPYTHON_IMPORT_ERROR = None
except ImportError as error:  # reported by the module, with missing_required_lib
    DNSPYTHON_IMPORT_ERROR = error

DEFAULT_TIMEOUT = 5.0
DEFAULT_CONCURRENCY = 32
DNS_PORT = 53
_REVERSE_ROOTS = ("in-addr.arpa", "ip6.arpa")


class DnsError(SqlAuthError):
    """A DNS server did not answer, or the servers cannot be found."""


def parse_server(text):
    """(address, port) of a dns_servers item: an address, address:port, or
    [IPv6]:port. Raises DnsError naming the item."""
    value = (text or "").strip()
    host, port = value, DNS_PORT
    if value.startswith("["):
        host, _sep, rest = value[1:].partition("]")
        if rest:
            port = rest.lstrip(":")
    elif value.count(":") == 1:
        host, port = value.split(":")
    try:
        ipaddress.ip_address(host)
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError(port)
    except ValueError:
        raise DnsError("dns_servers item %r is not an IP address, address:port or [IPv6]:port" % text) from None
    return host, port


def server_label(server):
    address, port = server
    shown = "[%s]" % address if ":" in address else address
    return shown if port == DNS_PORT else "%s:%d" % (shown, port)


class Resolver:
    """Queries to fixed DNS servers, without cache or search list (clients
    of the estate ask for fully qualified names)."""

    def __init__(self, servers, timeout=DEFAULT_TIMEOUT):
        if DNSPYTHON_IMPORT_ERROR:
            raise DnsError("the dnspython Python package is required on the controller")
        if not servers:
            raise DnsError("no DNS server to ask")
        self.servers = list(servers)
        self.timeout = timeout
        self.queries = 0
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port) for address, port in self.servers]
        self._resolver.cache = None
        # Each server gets ``timeout``; a silent one hands over to the next.
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout * len(self.servers)

    @property
    def labels(self):
        return ", ".join(server_label(server) for server in self.servers)

    def query(self, name, rdtype):
        """(rrset or None, response or None, rcode name): the answer to one
        question; NXDOMAIN and a server's refusal are answers. Raises
        DnsError when no server answers."""
        self.queries += 1
        try:
            answer = self._resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as error:
            responses = list(error.responses().values())
            return None, (responses[0] if responses else None), "NXDOMAIN"
        except dns.exception.Timeout:
            raise DnsError("DNS server %s did not answer within %g s (asked for %s %s): check that it runs and that "
                           "port 53 is open from the controller, or set dns_servers"
                           % (self.labels, self.timeout, rdtype, name)) from None
        except dns.resolver.NoNameservers as error:
            answered = [entry for entry in error.kwargs.get("errors") or [] if entry[4] is not None]
            if answered:
                code = dns.rcode.to_text(answered[0][4].rcode())
                if code == "REFUSED":
                    raise DnsError("DNS server %s refused to answer %s %s: let the controller query it (its "
                                   "recursion or zone-transfer settings), or set dns_servers" % (
                                       self.labels, rdtype, name)) from None
                return None, answered[0][4], code
            reasons = "; ".join("%s: %s" % (entry[0], entry[3]) for entry in error.kwargs.get("errors") or [])
            raise DnsError("DNS server %s cannot be reached (asked for %s %s): %s" % (
                self.labels, rdtype, name, reasons or error)) from None
        except dns.exception.DNSException as error:
            raise DnsError("DNS query %s %s to %s failed: %s" % (rdtype, name, self.labels, error)) from None
        return answer.rrset, answer.response, "NOERROR"

    def forward(self, name):
        """dict(name, addresses, chain, canonical, nxdomain, rcode): the A and
        AAAA records of a name, through its CNAME chain."""
        addresses, chain, nxdomain, rcode = [], [], False, "NOERROR"
        for rdtype in ("A", "AAAA"):
            rrset, response, code = self.query(name, rdtype)
            if code == "NXDOMAIN":
                nxdomain = True
            elif code != "NOERROR":
                rcode = code
            for cname in _cnames(response, name):
                if cname not in chain:
                    chain.append(cname)
            if rrset is not None:
                addresses.extend(item.address for item in rrset if item.address not in addresses)
        nxdomain = nxdomain and not addresses
        return dict(name=name, addresses=addresses, chain=chain, canonical=chain[-1] if chain else name,
                    nxdomain=nxdomain, rcode="NXDOMAIN" if nxdomain and rcode == "NOERROR" else rcode)

    def pointers(self, address):
        """The names the PTR records of an address give, or None when the
        server could not say (SERVFAIL): unknown, not missing."""
        rrset, _response, code = self.query(ipaddress.ip_address(address).reverse_pointer, "PTR")
        if code not in ("NOERROR", "NXDOMAIN"):
            return None
        return [item.target.to_text().rstrip(".") for item in rrset or []]

    def reverse_zone(self, address):
        """The zone holding an address's PTR (its SOA's owner), or None when
        the servers hold no reverse zone for it."""
        rrset, response, code = self.query(ipaddress.ip_address(address).reverse_pointer, "SOA")
        if code not in ("NOERROR", "NXDOMAIN"):
            return None
        if rrset is not None:
            return rrset.name.to_text().rstrip(".")
        for section in (response.authority if response is not None else []):
            if section.rdtype == dns.rdatatype.SOA:
                zone = section.name.to_text().rstrip(".")
                return zone if zone.lower() not in _REVERSE_ROOTS else None
        return None

    def domain_controllers(self, domain):
        """The addresses of the domain's DCs from the SRV records of
        _ldap._tcp.dc._msdcs.DOMAIN (and the targets' address records)."""
        rrset, _response, _code = self.query("_ldap._tcp.dc._msdcs.%s" % domain, "SRV")
        found = []
        for item in sorted(rrset or [], key=lambda record: (record.priority, -record.weight)):
            for address in self.forward(item.target.to_text().rstrip("."))["addresses"]:
                if address not in found:
                    found.append(address)
        return found


def _cnames(response, name):
    """The CNAME chain from ``name`` in a response's answer section."""
    if response is None:
        return []
    targets = {rrset.name.to_text().rstrip(".").lower(): rrset[0].target.to_text().rstrip(".")
               for rrset in response.answer if rrset.rdtype == dns.rdatatype.CNAME}
    chain, current = [], name.rstrip(".").lower()
    while current in targets and len(chain) < 16:
        chain.append(targets[current])
        current = targets[current].lower()
    return chain


def run_all(function, items, concurrency=DEFAULT_CONCURRENCY):
    """{item: function(item)} for distinct items, at most ``concurrency`` at a
    time; the first DnsError cancels what has not started and is raised."""
    items = list(dict.fromkeys(items))
    if not items:
        return {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items))))
    try:
        futures = {pool.submit(function, item): item for item in items}
        done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if future.exception() is not None:
                raise future.exception()
        return {futures[future]: future.result() for future in futures}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def system_servers():
    """The controller's own resolvers (/etc/resolv.conf), as (address, port)."""
    try:
        configured = dns.resolver.Resolver().nameservers
    except (dns.exception.DNSException, OSError):
        return []
    return [(server, DNS_PORT) if isinstance(server, str) else (server.address, server.port) for server in configured]


def address_of(host):
    """The addresses of a host name by the controller's resolver (the LDAP
    server's name, as the LDAP connection found it)."""
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))
