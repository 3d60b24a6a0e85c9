#!/usr/bin/python3
"""A raw TCP peer for e2e_tcp_raw.rs: segments Linux never sends.

Run inside the test's network namespace with Debian's python3-scapy,
against `mnet echo-server --port PORT` on the tap:

    /usr/bin/python3 tcp_raw_peer.py --iface TAP --peer-mac 02:00:00:00:00:09 \
        --peer-ip 10.1.2.9 --mnet-mac 02:00:00:00:00:02 --mnet-ip 10.1.2.2 \
        --port 7000 --scenario rst_in_window

The peer is a host of its own on the tap's subnet (PEER_IP, PEER_MAC), that
the kernel does not know: frames go out through one AF_PACKET socket bound
to the tap, and the same socket reads what mnet sends back (the kernel drops
those frames, which are not addressed to its MAC, so it never answers them).
The peer answers mnet's ARP requests for PEER_IP itself, and announces
itself first with an ARP request to mnet.

Each scenario prints what it saw, one fact a line, ends with
`PASS <scenario>` or `FAIL <scenario>: <why>`, and exits 0 or 1.
Scenarios: rst_in_window, syn_in_window, paws, zero_window, syn_flood,
out_of_window (see each function's docstring for the RFC rule).
"""

import argparse
import os
import random
import socket
import sys
import time

import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import ARP, IP, TCP, Ether, Raw  # noqa: E402

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MSS = 1460
# Payload per segment: the MSS less the timestamp option (RFC 6691).
SEG = MSS - 12
WSCALE = 7


class Fail(Exception):
    pass


def seq_add(a, b):
    return (a + b) & 0xFFFFFFFF


def seq_lt(a, b):
    return ((a - b) & 0xFFFFFFFF) > 0x7FFFFFFF


def opt(seg, name):
    for o in seg.options:
        if o[0] == name:
            return o[1]
    return None


def flags(seg):
    return str(seg.flags)


class Conn:
    """One connection's sequence space, from the peer's point of view."""

    def __init__(self, sport, snd_nxt, rcv_nxt, ts_recent, ts_ok, mnet_wnd, wscale):
        self.sport = sport
        self.snd_nxt = snd_nxt
        self.rcv_nxt = rcv_nxt
        self.ts_recent = ts_recent  # mnet's last TSval
        self.ts_ok = ts_ok
        self.mnet_wnd = mnet_wnd  # in bytes, scaled
        self.wscale = wscale  # mnet's shift


class Peer:
    def __init__(self, a):
        self.a = a
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((a.iface, 0))
        # Root may exceed rmem_max: the SYN flood's answers arrive at once.
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
        self.t0 = time.monotonic()
        self.backlog = []  # segments read but not yet consumed

    # -- time stamps -------------------------------------------------------
    def tsval(self):
        return (int((time.monotonic() - self.t0) * 1000) + 1_000_000) & 0xFFFFFFFF

    # -- link --------------------------------------------------------------
    def send_frame(self, pkt):
        self.sock.send(bytes(Ether(src=self.a.peer_mac, dst=self.a.mnet_mac) / pkt))

    def announce(self):
        """An ARP request to mnet: RFC 826 has the target learn our mapping."""
        arp = Ether(src=self.a.peer_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=self.a.peer_mac, psrc=self.a.peer_ip, hwdst="00:00:00:00:00:00", pdst=self.a.mnet_ip
        )
        self.sock.send(bytes(arp))

    def _answer_arp(self, eth):
        arp = eth[ARP]
        if arp.op == 1 and arp.pdst == self.a.peer_ip:
            reply = Ether(src=self.a.peer_mac, dst=arp.hwsrc) / ARP(
                op=2, hwsrc=self.a.peer_mac, psrc=self.a.peer_ip, hwdst=arp.hwsrc, pdst=arp.psrc
            )
            self.sock.send(bytes(reply))

    def _read_one(self, deadline):
        """The next TCP segment from mnet to us (an IP packet), or None."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            if addr[2] == PACKET_OUTGOING:
                continue
            eth = Ether(data)
            if eth.src.lower() != self.a.mnet_mac.lower():
                continue
            if ARP in eth:
                self._answer_arp(eth)
                continue
            if IP in eth and TCP in eth and eth[IP].dst == self.a.peer_ip:
                return eth[IP]

    def recv(self, timeout, sport=None, pred=None):
        """The first segment (from the backlog, then the wire) for `sport`
        that satisfies `pred`; others for `sport` stay in the backlog."""
        deadline = time.monotonic() + timeout
        for i, ip in enumerate(self.backlog):
            if (sport is None or ip[TCP].dport == sport) and (pred is None or pred(ip[TCP])):
                del self.backlog[i]
                return ip
        while True:
            ip = self._read_one(deadline)
            if ip is None:
                return None
            if (sport is None or ip[TCP].dport == sport) and (pred is None or pred(ip[TCP])):
                return ip
            self.backlog.append(ip)
            del self.backlog[:-4096]

    def drain(self, sport, quiet):
        """Segments for `sport` until none came for `quiet` seconds."""
        out = []
        while True:
            ip = self.recv(quiet, sport)
            if ip is None:
                return out
            out.append(ip)

    # -- TCP ---------------------------------------------------------------
    def segment(self, c, fl, seq=None, ack=None, payload=b"", window=None, tsval=None, extra_opts=None):
        opts = list(extra_opts or [])
        if c.ts_ok:
            opts.append(("Timestamp", (self.tsval() if tsval is None else tsval, c.ts_recent)))
        t = TCP(
            sport=c.sport,
            dport=self.a.port,
            flags=fl,
            seq=c.snd_nxt if seq is None else seq,
            ack=c.rcv_nxt if ack is None else ack,
            window=(65535 if window is None else window),
            options=opts,
        )
        pkt = IP(src=self.a.peer_ip, dst=self.a.mnet_ip, ttl=64) / t
        if payload:
            pkt = pkt / Raw(payload)
        self.send_frame(pkt)

    def connect(self, sport=None, window=65535, wscale=True, ts=True, sack=True):
        sport = sport or random.randint(20000, 30000)
        isn = random.getrandbits(32)
        opts = [("MSS", MSS)]
        if sack:
            opts.append(("SAckOK", b""))
        if ts:
            opts.append(("Timestamp", (self.tsval(), 0)))
        if wscale:
            opts += [("NOP", None), ("WScale", WSCALE)]
        syn = IP(src=self.a.peer_ip, dst=self.a.mnet_ip) / TCP(
            sport=sport, dport=self.a.port, flags="S", seq=isn, window=min(window, 65535), options=opts
        )
        self.send_frame(syn)
        ip = self.recv(3.0, sport, lambda t: (t.flags & 0x12) == 0x12)
        if ip is None:
            raise Fail("no SYN-ACK to our SYN from port %d" % sport)
        sa = ip[TCP]
        if sa.ack != seq_add(isn, 1):
            raise Fail("SYN-ACK acks %d, expected %d" % (sa.ack, seq_add(isn, 1)))
        their_ts = opt(sa, "Timestamp")
        their_ws = opt(sa, "WScale")
        shift = their_ws if (wscale and their_ws is not None) else 0
        c = Conn(
            sport,
            seq_add(isn, 1),
            seq_add(sa.seq, 1),
            their_ts[0] if their_ts else 0,
            bool(ts and their_ts),
            sa.window,  # a SYN's window is never scaled
            shift,
        )
        self.segment(c, "A", window=window if not wscale else min(65535, window >> WSCALE))
        print("connected sport=%d mss=%s wscale=%s ts=%s sackok=%s" % (
            sport, opt(sa, "MSS"), their_ws, their_ts is not None, opt(sa, "SAckOK") is not None))
        return c

    def note_segment(self, c, t):
        ts = opt(t, "Timestamp")
        if ts and c.ts_ok:
            c.ts_recent = ts[0]
        c.mnet_wnd = t.window << c.wscale

    def exchange(self, c, data, timeout=3.0):
        """Send `data` (in MSS pieces) and read the echo; ACK what arrives.
        Returns the bytes echoed (stops at len(data) or after `timeout`)."""
        for i in range(0, len(data), SEG):
            piece = data[i : i + SEG]
            self.segment(c, "PA", payload=piece)
            c.snd_nxt = seq_add(c.snd_nxt, len(piece))
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < len(data):
            ip = self.recv(max(0.0, deadline - time.monotonic()), c.sport)
            if ip is None:
                break
            t = ip[TCP]
            if t.flags & 0x04:
                raise Fail("RST from mnet while exchanging data: %r" % t)
            self.note_segment(c, t)
            payload = bytes(t.payload)
            if payload and t.seq == c.rcv_nxt:
                got += payload
                c.rcv_nxt = seq_add(c.rcv_nxt, len(payload))
                self.segment(c, "A")
        return got

    def echo_check(self, c, data):
        got = self.exchange(c, data)
        if got != data:
            raise Fail("echo of %d bytes came back as %d bytes %r..." % (len(data), len(got), got[:40]))
        print("echo ok (%d bytes)" % len(data))

    def settle(self, c, quiet=0.3):
        """Let stray segments (window updates, delayed ACKs) pass before a
        provocation, so the answer to it is the next segment."""
        for ip in self.drain(c.sport, quiet):
            self.note_segment(c, ip[TCP])

    def expect_ack(self, c, what, timeout=1.0):
        """The next segment from mnet must be a pure ACK at (rcv_nxt, snd_nxt)."""
        ip = self.recv(timeout, c.sport)
        if ip is None:
            raise Fail("%s: no ACK from mnet within %.1f s" % (what, timeout))
        t = ip[TCP]
        if t.flags & 0x04:
            raise Fail("%s: mnet answered with a RST (flags %s)" % (what, flags(t)))
        if not (t.flags & 0x10):
            raise Fail("%s: answer without ACK flag (flags %s)" % (what, flags(t)))
        if t.ack != c.snd_nxt:
            raise Fail("%s: ACK acknowledges %d, expected %d (our SND.NXT)" % (what, t.ack, c.snd_nxt))
        if t.seq != c.rcv_nxt:
            raise Fail("%s: ACK has seq %d, expected %d" % (what, t.seq, c.rcv_nxt))
        if len(bytes(t.payload)) != 0:
            raise Fail("%s: the ACK carries %d bytes of data" % (what, len(bytes(t.payload))))
        self.note_segment(c, t)
        print("%s: ACK seq=%d ack=%d win=%d" % (what, t.seq, t.ack, t.window))
        return t

    def expect_silence(self, c, what, quiet=0.5):
        """No data from mnet for `quiet` seconds (pure ACKs are allowed)."""
        for ip in self.drain(c.sport, quiet):
            t = ip[TCP]
            if len(bytes(t.payload)) or t.flags & 0x05:
                raise Fail("%s: mnet sent %s with %d bytes" % (what, flags(t), len(bytes(t.payload))))

    def close(self, c):
        self.segment(c, "FA")
        c.snd_nxt = seq_add(c.snd_nxt, 1)
        ip = self.recv(2.0, c.sport, lambda t: bool(t.flags & 0x01))
        if ip is not None:
            t = ip[TCP]
            c.rcv_nxt = seq_add(t.seq, 1 + len(bytes(t.payload)))
            self.segment(c, "A")


# ---------------------------------------------------------------------------
# Scenarios


def rst_in_window(p):
    """RFC 5961 3.2: "If the RST bit is set and the sequence number is
    outside the current receive window, silently drop the segment. ...
    If the RST bit is set and the sequence number exactly matches the next
    expected sequence number (RCV.NXT), then TCP MUST reset the connection.
    If the RST bit is set and the sequence number does not exactly match
    the next expected sequence value, yet is within the current receive
    window, TCP MUST send an acknowledgment (challenge ACK)"."""
    c = p.connect()
    p.echo_check(c, b"before the RST")
    off = max(1, min(1000, c.mnet_wnd // 2))
    p.settle(c)
    p.segment(c, "R", seq=seq_add(c.snd_nxt, off), ack=0)
    p.expect_ack(c, "RST at RCV.NXT+%d (in window)" % off)
    p.echo_check(c, b"still connected after the in-window RST")
    # A RST outside the window: silently dropped (no answer at all).
    p.segment(c, "R", seq=seq_add(c.snd_nxt, 0x40000000), ack=0)
    if p.recv(0.5, c.sport) is not None:
        raise Fail("mnet answered a RST far outside the window")
    print("out-of-window RST: silently dropped")
    p.echo_check(c, b"still connected after the out-of-window RST")
    # The exact RST resets: mnet then answers our data with a RST.
    p.segment(c, "R", seq=c.snd_nxt, ack=0)
    time.sleep(0.2)
    p.segment(c, "PA", payload=b"anyone?")
    ip = p.recv(1.0, c.sport)
    if ip is None or not (ip[TCP].flags & 0x04):
        raise Fail("after a RST at exactly RCV.NXT mnet did not answer data with a RST: %r" % (ip and ip[TCP]))
    print("RST at RCV.NXT reset the connection")


def syn_in_window(p):
    """RFC 5961 4.2: "If the SYN bit is set, irrespective of the sequence
    number, TCP MUST send an ACK (also referred to as challenge ACK) to the
    remote peer ... After sending the acknowledgment, TCP MUST drop the
    unacceptable segment and stop processing further"."""
    c = p.connect()
    p.echo_check(c, b"before the SYN")
    off = max(1, min(100, c.mnet_wnd // 2))
    p.settle(c)
    p.segment(c, "S", seq=seq_add(c.snd_nxt, off), ack=0)
    p.expect_ack(c, "SYN at RCV.NXT+%d (in window)" % off)
    p.echo_check(c, b"still connected after the SYN")
    p.close(c)


def paws(p):
    """RFC 7323 5.3: "R1) If there is a Timestamps option in the arriving
    segment, SEG.TSval < TS.Recent, and if TS.Recent is valid (see later
    discussion), then treat the arriving segment as not acceptable: Send an
    acknowledgment in reply as specified in RFC 793 page 69 and drop the
    segment"."""
    c = p.connect()
    if not c.ts_ok:
        raise Fail("mnet did not agree to timestamps")
    p.echo_check(c, b"fresh timestamps")
    p.settle(c)
    old = (p.tsval() - 100_000) & 0xFFFFFFFF
    p.segment(c, "PA", payload=b"stale!", tsval=old)
    p.expect_ack(c, "segment with TSval %d (older than TS.Recent)" % old)
    p.expect_silence(c, "after the stale segment")
    # The same sequence numbers with a fresh TSval: accepted and echoed.
    p.echo_check(c, b"fresh!")
    p.close(c)


def zero_window(p):
    """RFC 9293 3.8.6.1: "The sending TCP must regularly transmit at least
    one octet of new data (if available), or retransmit to the receiving
    TCP even if the send window is zero, in order to "probe" the window."
    RFC 1122 4.2.2.17: "The transmitting host SHOULD send the first
    zero-window probe when a zero window has existed for the retransmission
    timeout period ... and SHOULD increase exponentially the interval
    between successive probes"."""
    # Two whole segments: the sender's silly-window avoidance (RFC 9293
    # 3.8.6.2.1) may hold back a partial one.
    first = 2 * SEG
    c = p.connect(window=first, wscale=False)
    data = os.urandom(6000)
    for i in range(0, len(data), SEG):
        piece = data[i : i + SEG]
        p.segment(c, "PA", payload=piece, window=first)
        c.snd_nxt = seq_add(c.snd_nxt, len(piece))
    got = b""
    deadline = time.monotonic() + 3.0
    while len(got) < first and time.monotonic() < deadline:
        ip = p.recv(deadline - time.monotonic(), c.sport)
        if ip is None:
            break
        t = ip[TCP]
        p.note_segment(c, t)
        payload = bytes(t.payload)
        if payload and t.seq == c.rcv_nxt:
            got += payload
            c.rcv_nxt = seq_add(c.rcv_nxt, len(payload))
    if len(got) != first:
        raise Fail("expected exactly our window (%d bytes) of echo before the zero window, got %d" % (first, len(got)))
    # Acknowledge it all and close the window.
    p.segment(c, "A", window=0)
    zero_at = time.monotonic()
    probes = []
    while time.monotonic() - zero_at < 8.0:
        ip = p.recv(zero_at + 8.0 - time.monotonic(), c.sport)
        if ip is None:
            break
        t = ip[TCP]
        if t.flags & 0x04:
            raise Fail("RST during the zero window")
        n = len(bytes(t.payload))
        at = time.monotonic() - zero_at
        # A probe carries new data beyond the window (seq = RCV.NXT), or no
        # data at RCV.NXT - 1 (an already acknowledged sequence number). A
        # pure ACK at RCV.NXT, or a retransmission of data we already have
        # (a tail loss probe, RFC 8985 7), is not one.
        rel = (t.seq - c.rcv_nxt) & 0xFFFFFFFF
        zero_probe = n == 0 and rel == 0xFFFFFFFF
        data_probe = n > 0 and rel == 0
        if not (zero_probe or data_probe):
            print("not a probe at %.3f s: flags %s seq RCV.NXT%+d len %d" % (at, flags(t), rel - (1 << 32) if rel > 0x7FFFFFFF else rel, n))
            if n:
                p.segment(c, "A", window=0)
            continue
        probes.append((at, n, t.seq))
        # A zero-window receiver drops the probe's byte and ACKs, window 0.
        p.segment(c, "A", window=0)
    for at, n, seq in probes:
        print("probe at %.3f s: %d bytes, seq %d" % (at, n, seq))
    if len(probes) < 3:
        raise Fail("%d window probes in 8 s of zero window (want >= 3)" % len(probes))
    if probes[0][0] < 0.1:
        raise Fail("first probe after %.3f s: sooner than any retransmission timeout" % probes[0][0])
    gaps = [b[0] - a[0] for a, b in zip(probes, probes[1:])]
    print("gaps between probes: %s" % ", ".join("%.3f" % g for g in gaps))
    for g1, g2 in zip(gaps, gaps[1:]):
        if g2 < g1 * 0.8:
            raise Fail("probe interval shrank from %.3f to %.3f s (no backoff)" % (g1, g2))
    if gaps[-1] < 1.6 * gaps[0]:
        raise Fail("probe intervals did not grow: %s" % gaps)
    # Open the window: the rest of the echo must follow, intact.
    p.segment(c, "A", window=65535)
    deadline = time.monotonic() + 5.0
    while len(got) < len(data) and time.monotonic() < deadline:
        ip = p.recv(deadline - time.monotonic(), c.sport)
        if ip is None:
            break
        t = ip[TCP]
        payload = bytes(t.payload)
        if payload and t.seq == c.rcv_nxt:
            got += payload
            c.rcv_nxt = seq_add(c.rcv_nxt, len(payload))
            p.segment(c, "A", window=65535)
        elif payload and seq_lt(t.seq, c.rcv_nxt):
            # A probe byte we dropped may come again, overlapping.
            skip = (c.rcv_nxt - t.seq) & 0xFFFFFFFF
            if skip < len(payload):
                got += payload[skip:]
                c.rcv_nxt = seq_add(c.rcv_nxt, len(payload) - skip)
            p.segment(c, "A", window=65535)
    if got != data:
        raise Fail("after the window opened: %d of %d bytes, equal prefix %s" % (len(got), len(data), got == data[: len(got)]))
    print("window reopened: all %d bytes echoed intact" % len(data))
    p.close(c)


def syn_flood(p):
    """RFC 4987 3.6 (SYN cookies): a listener whose SYN queue is full still
    answers each SYN, statelessly, and a returning ACK completes the
    handshake; a flood of 2,000 SYNs from random ports must leave the
    stack answering, and a real (Linux) connection must still succeed."""
    n = p.a.flood
    base = random.randint(0, 1 << 16)
    ports = random.sample(range(1024, 65536), n)
    isns = {}
    t0 = time.monotonic()
    for sport in ports:
        isn = random.getrandbits(32)
        isns[sport] = isn
        syn = IP(src=p.a.peer_ip, dst=p.a.mnet_ip) / TCP(
            sport=sport, dport=p.a.port, flags="S", seq=isn, window=64240,
            options=[("MSS", MSS), ("SAckOK", b""), ("Timestamp", (base + sport, 0)), ("NOP", None), ("WScale", WSCALE)],
        )
        p.send_frame(syn)
    print("sent %d SYNs in %.3f s" % (n, time.monotonic() - t0))
    # Collect SYN-ACKs for a moment (mnet answers each SYN, from its queue or with a cookie).
    synacks = {}
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        ip = p.recv(deadline - time.monotonic(), None, lambda t: (t.flags & 0x12) == 0x12)
        if ip is None:
            break
        t = ip[TCP]
        if t.dport in isns and t.ack == seq_add(isns[t.dport], 1):
            synacks[t.dport] = t
    print("SYN-ACKs received: %d" % len(synacks))
    # A real connection from the Linux kernel, during the aftermath.
    t1 = time.monotonic()
    s = socket.create_connection((p.a.mnet_ip, p.a.port), timeout=10)
    s.settimeout(10)
    took = time.monotonic() - t1
    msg = os.urandom(3000)
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    print("linux connection: connected in %.3f s, echo %s" % (took, "ok" if got == msg else "WRONG"))
    if got != msg:
        raise Fail("the Linux connection's echo differs (%d of %d bytes)" % (len(got), len(msg)))
    if took > 3.0:
        raise Fail("the Linux connection took %.3f s to establish" % took)
    if not synacks:
        raise Fail("no SYN-ACK at all for the flood's SYNs")
    # Complete the handshake of the last SYN answered (most likely by a
    # cookie) and use the connection.
    sport, sa = list(synacks.items())[-1]
    their_ts = opt(sa, "Timestamp")
    c = Conn(sport, seq_add(isns[sport], 1), seq_add(sa.seq, 1), their_ts[0] if their_ts else 0,
             their_ts is not None, sa.window, opt(sa, "WScale") or 0)
    p.segment(c, "A", window=65535 >> WSCALE if opt(sa, "WScale") is not None else 65535,
              tsval=(base + sport + 1) & 0xFFFFFFFF)
    time.sleep(0.05)
    p.echo_check(c, b"handshake completed with the answer to a flood SYN")
    p.close(c)


def out_of_window(p):
    """RFC 9293 3.10.7.4: "If a segment's contents straddle the boundary
    between old and new, only the new parts are processed. ... If an
    incoming segment is not acceptable, an acknowledgment should be sent in
    reply (unless the RST bit is set, if so drop the segment and return)"."""
    c = p.connect()
    p.echo_check(c, b"in window")
    p.settle(c)
    far = seq_add(c.snd_nxt, 10_000_000)
    p.segment(c, "PA", seq=far, payload=b"FUTURE")
    p.expect_ack(c, "data 10 MB beyond RCV.NXT")
    past = (c.snd_nxt - 5000) & 0xFFFFFFFF
    p.segment(c, "PA", seq=past, payload=b"PAST!")
    p.expect_ack(c, "data entirely before RCV.NXT")
    p.expect_silence(c, "after the out-of-window data")
    # Straddling: 4 old bytes then new ones; only the new part is echoed.
    old_part = b"OLD!"
    new_part = b"new part"
    p.segment(c, "PA", seq=(c.snd_nxt - len(old_part)) & 0xFFFFFFFF, payload=old_part + new_part)
    c.snd_nxt = seq_add(c.snd_nxt, len(new_part))
    got = b""
    deadline = time.monotonic() + 2.0
    while len(got) < len(new_part) and time.monotonic() < deadline:
        ip = p.recv(deadline - time.monotonic(), c.sport)
        if ip is None:
            break
        t = ip[TCP]
        payload = bytes(t.payload)
        if payload and t.seq == c.rcv_nxt:
            got += payload
            c.rcv_nxt = seq_add(c.rcv_nxt, len(payload))
            p.segment(c, "A")
    if got != new_part:
        raise Fail("straddling segment: echo %r, expected only the new part %r" % (got, new_part))
    print("straddling segment: only the new part was taken")
    p.echo_check(c, b"still fine")
    p.close(c)


SCENARIOS = {
    f.__name__: f for f in [rst_in_window, syn_in_window, paws, zero_window, syn_flood, out_of_window]
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--peer-mac", required=True)
    ap.add_argument("--peer-ip", required=True)
    ap.add_argument("--mnet-mac", required=True)
    ap.add_argument("--mnet-ip", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--flood", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    random.seed(a.seed)
    p = Peer(a)
    p.announce()
    time.sleep(0.05)
    try:
        SCENARIOS[a.scenario](p)
    except Fail as e:
        print("FAIL %s: %s" % (a.scenario, e))
        sys.stdout.flush()
        sys.exit(1)
    print("PASS %s" % a.scenario)


if __name__ == "__main__":
    main()
