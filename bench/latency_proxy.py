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
"""

import argparse
import asyncio
import time

CHUNK = 65536


async def delayed_pump(reader, writer, delay):
    """Copy reader to writer, each chunk ``delay`` seconds after it arrived."""
    queue = asyncio.Queue()

    async def receive():
        while True:
            data = await reader.read(CHUNK)
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


async def pump(reader, writer):
    while True:
        data = await reader.read(CHUNK)
        if not data:
            writer.close()
            return
        writer.write(data)
        await writer.drain()


def relay(target_port, delay):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(delayed_pump(client_reader, server_writer, delay), pump(server_reader, client_writer))
        except (ConnectionError, OSError):
            client_writer.close()
            server_writer.close()

    return handle


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, required=True)
    parser.add_argument("--map", action="append", required=True, help="LISTEN_PORT:DC_PORT")
    options = parser.parse_args()
    servers = []
    for mapping in options.map:
        listen, target = (int(port) for port in mapping.split(":"))
        servers.append(await asyncio.start_server(relay(target, options.rtt_ms / 1000.0), "127.0.0.1", listen))
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main())
