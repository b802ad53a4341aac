"""DNS records on a Samba AD DC, written in bulk as dnsNode objects over
LDAP (one add per name), not one samba-tool process per record: the lab
seeds a few dozen, the bench thousands. The dnsRecord values are packed by
Samba's own library (samba.dcerpc.dnsp), which the system Python has and the
virtualenv does not: one process packs them all. Reverse zones are created
with samba-tool (a zone needs its SOA and NS records and the DNS server's
notice), once each.

A spec (scenarios.yml ``dns``):
  reverse_zones: [0.20.10.in-addr.arpa, ...]
  hosts: {fqdn: address | [addresses] | {addresses: [...], ptr: other.fqdn}}
      A (or AAAA) records and, in the reverse zones, PTRs naming the host
      (or ``ptr``);
  records: [{name: fqdn, type: A|AAAA|CNAME|PTR, data: ...}]
"""

import base64
import ipaddress
import json
import subprocess

import ldap3
from ldap3.core.exceptions import LDAPNoSuchObjectResult

_PACK = """
import base64, json, sys
from samba.dcerpc import dnsp
from samba.ndr import ndr_pack
blobs = []
for kind, data in json.load(sys.stdin):
    record = dnsp.DnssrvRpcRecord()
    record.wType, record.rank, record.dwSerial, record.dwTtlSeconds = getattr(dnsp, "DNS_TYPE_" + kind), \
        dnsp.DNS_RANK_ZONE, 1, 300
    record.data = data
    blobs.append(base64.b64encode(ndr_pack(record)).decode())
json.dump(blobs, sys.stdout)
"""


def pack_records(records):
    """The dnsRecord values of [(type, data)], in order."""
    if not records:
        return []
    result = subprocess.run(["/usr/bin/python3", "-c", _PACK], input=json.dumps(records), capture_output=True,
                            text=True, check=True)
    return [base64.b64decode(blob) for blob in json.loads(result.stdout)]


def zones_dn(base_dn):
    return "CN=MicrosoftDNS,DC=DomainDnsZones,%s" % base_dn


def split_name(fqdn, zones):
    """(zone, relative name) of a name in the longest zone holding it."""
    fqdn = fqdn.rstrip(".").lower()
    for zone in sorted(zones, key=len, reverse=True):
        if fqdn == zone:
            return zone, "@"
        if fqdn.endswith("." + zone):
            return zone, fqdn[:-len(zone) - 1]
    raise ValueError("%s is in none of the zones %s" % (fqdn, ", ".join(zones)))


def nodes(spec, domain):
    """{(zone, relative name): [(type, data)]} of a spec."""
    zones = [domain.lower()] + [zone.lower() for zone in spec.get("reverse_zones") or []]
    found = {}

    def add(name, kind, data):
        found.setdefault(split_name(name, zones), []).append((kind, data))

    for host, value in (spec.get("hosts") or {}).items():
        if isinstance(value, dict):
            addresses, ptr = value.get("addresses") or [], value.get("ptr") or host
        else:
            addresses, ptr = (value if isinstance(value, list) else [value]), host
        for address in addresses:
            add(host, "AAAA" if ":" in address else "A", address)
            add(ipaddress.ip_address(address).reverse_pointer, "PTR", ptr)
    for record in spec.get("records") or []:
        add(record["name"], record["type"], record["data"])
    return found


def node_dn(zone, name, base_dn):
    return "DC=%s,DC=%s,%s" % (ldap3.utils.dn.escape_rdn(name), zone, zones_dn(base_dn))


def ensure_reverse_zones(connection, base_dn, zones, server, credentials):
    """Create the reverse zones the DC does not hold yet."""
    for zone in zones:
        try:
            connection.search("DC=%s,%s" % (zone, zones_dn(base_dn)), "(objectClass=dnsZone)",
                              search_scope=ldap3.BASE)
            if connection.entries:
                continue
        except LDAPNoSuchObjectResult:
            pass
        subprocess.run(["samba-tool", "dns", "zonecreate", server, zone, "-U", credentials], check=True,
                       capture_output=True)


def write_nodes(connection, base_dn, found):
    """Replace each name's records by the spec's: delete the node (a re-seed
    starts clean), add it with all its values in one request."""
    ordered = sorted(found.items())
    blobs = iter(pack_records([record for _key, records in ordered for record in records]))
    for (zone, name), records in ordered:
        dn = node_dn(zone, name, base_dn)
        try:
            connection.delete(dn)
        except LDAPNoSuchObjectResult:
            pass
        connection.add(dn, ["top", "dnsNode"], {"dnsRecord": [next(blobs) for _record in records]})


def seed(connection, base_dn, domain, spec, server, credentials):
    """Seed a spec: reverse zones, then every name's records."""
    ensure_reverse_zones(connection, base_dn, spec.get("reverse_zones") or [], server, credentials)
    write_nodes(connection, base_dn, nodes(spec, domain))
