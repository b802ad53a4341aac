# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A TCP relay that adds network latency in front of the bench lab's DC.

Loopback has no latency and this kernel has no netem, so the benchmark
measures "a DC on the far side of a WAN" through this relay: every byte
from a client reaches the DC ``--rtt-ms`` milliseconds after it was sent (the
whole round-trip time on the way in, none on the way back). Bytes keep their
order and the delay does not limit throughput: each chunk is forwarded at
its own arrival time plus the delay. TLS passes through untouched, so the
client still checks the DC's certificate.

Usage: python latency_proxy.py --rtt-ms 20 --map 10636:636 --map 13269:3269
(listen ports on 127.0.0.1, which the lab's DC name resolves to). Runs until
killed; prints "ready" once listening.

Counting (``--count FILE --tls-cert CERT --tls-key KEY --ca CA``): the relay
ends TLS itself, with the DC's own certificate and key (the client still
checks the name and the CA), opens its own TLS connection to the DC, and
reads the LDAP messages that pass: each client request by operation
(searchRequest, modifyRequest, ...), the DN and attributes of each modify,
and each modify's result code. One JSON line per connection is appended to
FILE when it closes. An independent count of what reaches the DC, not the
modules' own counters. The TLS handshake with the client is not delayed, so
each connection waits one round trip before it is opened to the DC.
"""

import argparse
import asyncio
import json
import ssl
import time

CHUNK = 65536


# LDAP protocolOp tags ([APPLICATION n], RFC 4511 section 4.2 ff.)
REQUESTS = {0x60: "bind", 0x42: "unbind", 0x63: "search", 0x66: "modify", 0x68: "add", 0x4A: "delete",
            0x6C: "modify_dn", 0x6E: "compare", 0x50: "abandon", 0x77: "extended"}
RESPONSES = {0x61: "bind", 0x64: "search_entry", 0x65: "search_done", 0x73: "search_reference",
             0x67: "modify", 0x69: "add", 0x6B: "delete", 0x6D: "modify_dn", 0x6F: "compare", 0x78: "extended"}


def ber_tlv(data, offset):
    """(tag, value start, value end) of the BER element at ``offset``, or None when incomplete."""
    if offset + 2 > len(data):
        return None
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if first & 0x80:
        count = first & 0x7F
        if start + count > len(data):
            return None
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    else:
        length = first
    if start + length > len(data):
        return None
    return tag, start, start + length


def ber_children(data, start, end):
    children = []
    while start < end:
        tag, value_start, value_end = ber_tlv(data, start)
        children.append((tag, value_start, value_end))
        start = value_end
    return children


class LdapCounter:
    """Splits one direction's byte stream into LDAP messages and counts them."""

    def __init__(self, record, requests):
        self.buffer = bytearray()
        self.record = record
        self.requests = requests

    def feed(self, data):
        self.buffer += data
        while True:
            element = ber_tlv(self.buffer, 0)
            if element is None:
                return
            dummy, start, end = element
            message = bytes(self.buffer[:end])
            del self.buffer[:end]
            children = ber_children(message, start, end)
            if len(children) >= 2:
                self.count(message, children[1])

    def count(self, message, operation):
        tag, start, end = operation
        names = REQUESTS if self.requests else RESPONSES
        name = names.get(tag, "other_0x%02x" % tag)
        key = ("requests" if self.requests else "responses")
        self.record[key][name] = self.record[key].get(name, 0) + 1
        if self.requests and tag == 0x66:
            parts = ber_children(message, start, end)
            dn = message[parts[0][1]:parts[0][2]].decode("utf-8", "replace")
            attributes = []
            for dummy, change_start, change_end in ber_children(message, parts[1][1], parts[1][2]):
                operation_part, modification = ber_children(message, change_start, change_end)[:2]
                attribute = ber_children(message, modification[1], modification[2])[0]
                attributes.append([message[operation_part[1]], message[attribute[1]:attribute[2]].decode(
                    "utf-8", "replace")])
            self.record["modifies"].append([dn, attributes])
        elif not self.requests and tag in (0x67, 0x69, 0x6B):
            result = ber_children(message, start, end)[0]
            code = int.from_bytes(message[result[1]:result[2]], "big")
            self.record["write_results"].append(code)


async def delayed_pump(reader, writer, delay, counter=None):
    """Copy reader to writer, each chunk ``delay`` seconds after it arrived."""
    queue = asyncio.Queue()

    async def receive():
        while True:
            data = await reader.read(CHUNK)
            if counter is not None and data:
                counter.feed(data)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(receive(), send())


async def pump(reader, writer, counter=None):
    while True:
        data = await reader.read(CHUNK)
        if counter is not None and data:
            counter.feed(data)
        if not data:
            writer.close()
            return
        writer.write(data)
        await writer.drain()


def relay(target_port, delay, counting=None):
    async def handle(client_reader, client_writer):
        record = counters = None
        upstream = {}
        if counting is not None:
            # One round trip for the connection, as the client's TLS handshake would have crossed the WAN.
            record = {"port": target_port, "opened": time.time(), "requests": {}, "responses": {},
                      "modifies": [], "write_results": []}
            counters = (LdapCounter(record, True), LdapCounter(record, False))
            await asyncio.sleep(delay)
            upstream = {"ssl": counting["client_context"], "server_hostname": counting["server_name"]}
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port, **upstream)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(delayed_pump(client_reader, server_writer, delay, counters and counters[0]),
                                 pump(server_reader, client_writer, counters and counters[1]))
        except (ConnectionError, OSError, ssl.SSLError):
            client_writer.close()
            server_writer.close()
        if record is not None:
            record["closed"] = time.time()
            with open(counting["file"], "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    return handle


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, required=True)
    parser.add_argument("--map", action="append", required=True, help="LISTEN_PORT:DC_PORT")
    parser.add_argument("--count", metavar="FILE", help="end TLS and count LDAP operations into FILE")
    parser.add_argument("--tls-cert", help="the DC's certificate (with --count)")
    parser.add_argument("--tls-key", help="the DC's private key (with --count)")
    parser.add_argument("--ca", help="the DC's CA (with --count)")
    parser.add_argument("--server-name", default="dc1.corp.example.test", help="the DC's name in its certificate")
    options = parser.parse_args()
    counting = server_context = None
    if options.count:
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(options.tls_cert, options.tls_key)
        client_context = ssl.create_default_context(cafile=options.ca)
        counting = {"file": options.count, "client_context": client_context, "server_name": options.server_name}
    servers = []
    for mapping in options.map:
        listen, target = (int(port) for port in mapping.split(":"))
        servers.append(await asyncio.start_server(relay(target, options.rtt_ms / 1000.0, counting), "127.0.0.1",
                                                  listen, ssl=server_context))
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main())
