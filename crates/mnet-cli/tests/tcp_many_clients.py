#!/usr/bin/env python3
"""Many concurrent TCP echo clients (asyncio), for e2e_tcp.rs.

    python3 tcp_many_clients.py HOST PORT CONNECTIONS [--min-bytes N] [--max-bytes N] [--timeout S]

Opens CONNECTIONS connections to the echo server, waits until every one is
established (so all of them are open at the same time), then each sends
its own random bytes, reads the echo, checks it, half-closes and waits for
the server's end of stream. Prints one summary line per failure and

    connected N in S s
    echoed N of N connections correctly, B bytes, in S s

and exits 0 only when every echo was correct.
"""

import argparse
import asyncio
import os
import resource
import sys
import time


async def open_one(host, port, i, timeout):
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except Exception as e:  # noqa: BLE001 - reported, counted as failure
        print("connection %d: connect failed: %r" % (i, e))
        return None


async def echo_one(i, conn, size, timeout):
    reader, writer = conn
    data = os.urandom(size)
    try:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), timeout)
        writer.write_eof()
        got = await asyncio.wait_for(reader.readexactly(len(data)), timeout)
        tail = await asyncio.wait_for(reader.read(), timeout)  # the server's end of stream
        writer.close()
        if got != data:
            print("connection %d: echo differs" % i)
            return False
        if tail:
            print("connection %d: %d extra bytes after the echo" % (i, len(tail)))
            return False
        return True
    except Exception as e:  # noqa: BLE001
        print("connection %d: %r" % (i, e))
        writer.close()
        return False


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("connections", type=int)
    ap.add_argument("--min-bytes", type=int, default=1)
    ap.add_argument("--max-bytes", type=int, default=20000)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.connections + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    t0 = time.monotonic()
    conns = await asyncio.gather(*(open_one(a.host, a.port, i, a.timeout) for i in range(a.connections)))
    up = [c for c in conns if c is not None]
    print("connected %d in %.3f s" % (len(up), time.monotonic() - t0))
    sys.stdout.flush()
    t1 = time.monotonic()
    sizes = [a.min_bytes + (i * 7919) % max(1, a.max_bytes - a.min_bytes + 1) for i in range(len(conns))]
    results = await asyncio.gather(
        *(echo_one(i, c, sizes[i], a.timeout) for i, c in enumerate(conns) if c is not None)
    )
    ok = sum(1 for r in results if r)
    total = sum(sizes[i] for i, c in enumerate(conns) if c is not None)
    print("echoed %d of %d connections correctly, %d bytes, in %.3f s" % (ok, a.connections, total, time.monotonic() - t1))
    sys.exit(0 if ok == a.connections else 1)


asyncio.run(main())
