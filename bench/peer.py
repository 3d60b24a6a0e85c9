#!/usr/bin/env python3
"""The Linux side of mnet's benchmark (bench/run): plain kernel sockets.

  peer.py client send HOST PORT BYTES     write BYTES, half-close, read to EOF
  peer.py client recv HOST PORT           read to EOF
  peer.py client pingpong HOST PORT N     N round trips of 1 byte (TCP_NODELAY)
  peer.py client conns HOST PORT SECONDS  connect and close (FIN) as fast as it can
  peer.py client idle HOST PORT N         open N idle connections, print "open",
                                          close them all when stdin closes
  peer.py serve sink|source|echo PORT [BYTES]   one connection (Linux <-> Linux)
  peer.py serve accept PORT               accept and close connections forever

A client prints one JSON line: {"bytes": .., "seconds": ..} or
{"round_trips": .., "seconds": ..}; the clock runs from connect() to the
end of the stream (send: until the server's FIN, so every byte was read).
"""
import json
import socket
import sys
import time

CHUNK = 1 << 20


def client(kind, host, port, arg):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter()
    if kind == "send":
        total = int(arg)
        buf = memoryview(bytes(CHUNK))
        left = total
        while left > 0:
            n = s.send(buf[: min(left, CHUNK)])
            left -= n
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        out = {"bytes": total}
    elif kind == "recv":
        buf = bytearray(CHUNK)
        total = 0
        while True:
            n = s.recv_into(buf)
            if n == 0:
                break
            total += n
        out = {"bytes": total}
    elif kind == "conns":
        s.close()
        seconds = float(arg)
        count, failed = 1, {}
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            try:
                c = socket.create_connection((host, port))
            except OSError as e:
                # Counted, not fatal: a rate test must finish to say so.
                failed[e.strerror] = failed.get(e.strerror, 0) + 1
                if sum(failed.values()) >= 1000:
                    break
                continue
            c.close()
            count += 1
        print(json.dumps({"connections": count, "failed": failed, "seconds": time.perf_counter() - t0}), flush=True)
        return
    elif kind == "idle":
        import resource

        n = int(arg)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 100), max(hard, n + 100)))
        conns = [s]
        for _ in range(n - 1):
            conns.append(socket.create_connection((host, port)))
        print("open", flush=True)
        sys.stdin.read()
        for c in conns:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
        print(json.dumps({"connections": n, "seconds": time.perf_counter() - t0}), flush=True)
        return
    elif kind == "pingpong":
        count = int(arg)
        for _ in range(count):
            s.sendall(b"x")
            if not s.recv(1):
                raise SystemExit("the echo server closed early")
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        out = {"round_trips": count}
    else:
        raise SystemExit("unknown client mode " + kind)
    out["seconds"] = time.perf_counter() - t0
    s.close()
    print(json.dumps(out), flush=True)


def serve(kind, port, arg):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1024)
    print("listening on %d" % port, flush=True)
    if kind == "accept":
        while True:
            c, _ = ls.accept()
            c.close()
    s, _ = ls.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if kind == "sink":
        buf = bytearray(CHUNK)
        while s.recv_into(buf):
            pass
    elif kind == "source":
        buf = memoryview(bytes(CHUNK))
        left = int(arg)
        while left > 0:
            left -= s.send(buf[: min(left, CHUNK)])
    elif kind == "echo":
        while True:
            d = s.recv(65536)
            if not d:
                break
            s.sendall(d)
    s.close()


def main():
    a = sys.argv[1:]
    if len(a) >= 4 and a[0] == "client":
        client(a[1], a[2], int(a[3]), a[4] if len(a) > 4 else None)
    elif len(a) >= 3 and a[0] == "serve":
        serve(a[1], int(a[2]), a[3] if len(a) > 3 else None)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
