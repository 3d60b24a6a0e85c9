#!/usr/bin/python3
"""Writes malformed frames into a tap from the Linux side, for e2e_malformed.rs.

Run inside the test's network namespace with Debian's python3-scapy:

    /usr/bin/python3 malformed.py --iface TAP --mnet-mac 02:00:00:00:00:02 \
        --mnet-ip 10.1.2.2 --linux-mac 02:00:00:00:00:01 --linux-ip 10.1.2.1 \
        --count 10000 --seed 1

Frames are built with scapy (well-formed first, then broken on purpose) and
sent through one raw AF_PACKET socket bound to the tap, so the kernel hands
them to the process reading the tap (mnet) unchanged. The kernel refuses to
send frames shorter than the 14-byte Ethernet header or longer than MTU + 14,
so those two shapes cannot be tested from here.

Output (stdout), one fact a line, for the Rust test to parse:

    category NAME FRAMES MIN_DROPS   # per category
    sent N                            # frames the socket accepted
    send_errors N

IPv4 shapes go to mnet's MAC so that each reaches the check it breaks;
link-level junk and ARP go to mnet's MAC or to broadcast, and
`ipv4_l2_broadcast` sends broken IPv4 shapes in broadcast frames.

MIN_DROPS is how many drops a correct stack must count for the category
right away: 1 per frame (or per group of fragments) that is bad for us, 0
where dropping is not immediate (a stray fragment waits for its reassembly
timeout) or not required (unknown IP options are ignored, RFC 1122 3.2.1.8).

Safety: every frame carries 10.x addresses and goes only to the tap given,
inside the test's own namespace. ARP frames never name the Linux side's
address as their sender, so a lax parser cannot poison mnet's ARP cache.
"""

import argparse
import errno
import random
import socket
import struct
import sys
import time

import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import ARP, ICMP, IP, UDP, Ether, Raw  # noqa: E402

BCAST = "ff:ff:ff:ff:ff:ff"
ECHO_PORT = 7  # mnet udp-echo listens here
CLOSED_PORT = 9999


def csum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def wrong_checksum(rng, good: int) -> int:
    """A checksum value that fails verification. 0x0000 and 0xffff are the
    same number in one's complement (and 0 means "none" for UDP), so both
    are avoided along with the correct value."""
    while True:
        bad = rng.randrange(1, 0xFFFF)
        if bad != good and not (good in (0, 0xFFFF) and bad in (0, 0xFFFF)):
            return bad


class Builder:
    def __init__(self, args, rng):
        self.a = args
        self.rng = rng
        prefix = args.mnet_ip.rsplit(".", 1)[0]
        self.prefix = prefix
        self.other_ip = prefix + ".77"  # on the subnet, not mnet's
        self.ident = rng.randrange(0, 0x10000)
        # Set while building an `ipv4_l2_broadcast` frame.
        self.force_dst = None

    # --- helpers -------------------------------------------------------
    def next_id(self):
        self.ident = (self.ident + 1) & 0xFFFF
        return self.ident

    def dst_mac(self):
        """IP frames go to mnet's MAC, so that each category reaches the
        check it breaks: a unicast datagram in a link-layer broadcast is
        dropped before that (RFC 1122 3.3.6) and has its own category."""
        return self.force_dst or self.a.mnet_mac

    def mixed_dst(self):
        """Link-level junk goes to mnet's MAC or to broadcast."""
        return self.a.mnet_mac if self.rng.random() < 0.5 else BCAST

    def eth(self, etype, dst=None):
        return Ether(dst=dst or self.dst_mac(), src=self.a.linux_mac, type=etype)

    def payload(self, lo=0, hi=64):
        return self.rng.randbytes(self.rng.randrange(lo, hi + 1))

    def ip(self, **kw):
        kw.setdefault("src", self.a.linux_ip)
        kw.setdefault("dst", self.a.mnet_ip)
        kw.setdefault("id", self.next_id())
        return IP(**kw)

    def echo_request_ip(self, **kw):
        """bytes of a valid IPv4 ICMP echo request to mnet."""
        icmp = ICMP(type=8, id=self.rng.randrange(0x10000), seq=self.rng.randrange(0x10000))
        return bytearray(bytes(self.ip(**kw) / icmp / Raw(self.payload(0, 64))))

    def frame(self, ip_bytes, etype=0x0800, dst=None):
        return bytes(self.eth(etype, dst)) + bytes(ip_bytes)

    @staticmethod
    def fix_ip_checksum(b, ihl_bytes=20):
        b[10:12] = b"\0\0"
        b[10:12] = struct.pack("!H", csum(bytes(b[:ihl_bytes])))

    # --- Ethernet ------------------------------------------------------
    def eth_header_only(self):
        return [bytes(self.eth(self.rng.choice([0x0800, 0x0806]), self.mixed_dst()))], 1

    def eth_unknown_type(self):
        while True:
            t = self.rng.randrange(0x10000)
            if t not in (0x0800, 0x0806, 0x86DD):
                break
        return [bytes(self.eth(t, self.mixed_dst())) + self.payload(0, 100)], 1

    def eth_not_for_us(self):
        # A valid echo request, but to somebody else's unicast MAC.
        mac = bytes([0x02]) + self.rng.randbytes(5)
        dst = ":".join("%02x" % x for x in mac)
        if dst == self.a.mnet_mac:
            dst = "02:11:22:33:44:55"
        return [self.frame(self.echo_request_ip(), dst=dst)], 1

    def random_bytes(self):
        t = self.rng.choice([0x0800, 0x0806, self.rng.randrange(0x10000)])
        return [bytes(self.eth(t, self.mixed_dst())) + self.payload(0, 1486)], 1

    def ipv4_l2_broadcast(self):
        # RFC 1122 3.3.6: "A host SHOULD silently discard a datagram that is
        # received via a link-layer broadcast ... but does not specify an IP
        # multicast or broadcast destination address." Any of the broken
        # single-frame IPv4 shapes, in a broadcast frame: dropped for one
        # reason or another.
        name = self.rng.choice(L2_BROADCAST_SHAPES)
        self.force_dst = BCAST
        try:
            return getattr(self, name)()
        finally:
            self.force_dst = None

    # --- IPv4 ----------------------------------------------------------
    def ipv4_truncated_header(self):
        b = self.echo_request_ip()
        return [self.frame(b[: self.rng.randrange(1, 20)])], 1

    def ipv4_bad_version(self):
        b = self.echo_request_ip()
        v = self.rng.choice([0, 1, 2, 3, 5, 6, 7, 15])
        b[0] = (v << 4) | (b[0] & 0x0F)
        self.fix_ip_checksum(b)
        return [self.frame(b)], 1

    def ipv4_bad_ihl(self):
        b = self.echo_request_ip()
        total = len(b)
        ihl = self.rng.choice([0, 1, 2, 3, 4, 15])
        b[0] = 0x40 | ihl
        # IHL < 5 is below the minimum header; IHL 15 claims a 60-byte
        # header, longer than the packet or than the total length we set.
        if ihl == 15 and total >= 60:
            b[2:4] = struct.pack("!H", 40)
            self.fix_ip_checksum(b, 60)
        return [self.frame(b)], 1

    def ipv4_bad_total_length(self):
        b = self.echo_request_ip()
        n = len(b)
        bogus = self.rng.choice([0, 1, 19, n + 1, n + 100, 0xFFFF])
        b[2:4] = struct.pack("!H", bogus)
        self.fix_ip_checksum(b)
        return [self.frame(b)], 1

    def ipv4_bad_checksum(self):
        b = self.echo_request_ip()
        good = struct.unpack("!H", b[10:12])[0]
        b[10:12] = struct.pack("!H", wrong_checksum(self.rng, good))
        return [self.frame(b)], 1

    def ipv4_bad_source(self):
        # RFC 1122 3.2.1.3: broadcast, multicast and loopback sources are
        # invalid, and such datagrams MUST be silently discarded.
        src = self.rng.choice(["255.255.255.255", "224.0.0.1", "239.1.2.3", "127.0.0.1", self.prefix + ".255"])
        return [self.frame(self.echo_request_ip(src=src))], 1

    def ipv4_not_for_us(self):
        # To mnet's MAC but another host's IP: a host does not forward.
        return [self.frame(self.echo_request_ip(dst=self.other_ip), dst=self.a.mnet_mac)], 1

    def ipv4_unknown_protocol(self):
        b = bytes(self.ip(proto=self.rng.choice([253, 254, 143, 200])) / Raw(self.payload(0, 64)))
        return [self.frame(b)], 1

    def ip_garbage_options(self):
        # Unknown or broken options after a valid header (checksum right):
        # to be ignored or dropped, never to crash.
        opts = self.rng.randbytes(self.rng.choice([4, 8, 12, 20, 40]))
        icmp = bytes(ICMP(type=8, id=1, seq=self.rng.randrange(0x10000)) / Raw(self.payload(0, 32)))
        ihl = 5 + len(opts) // 4
        hdr = bytearray(bytes(self.ip(proto=1))[:20])
        hdr[0] = 0x40 | ihl
        hdr[2:4] = struct.pack("!H", ihl * 4 + len(icmp))
        b = hdr + opts + icmp
        self.fix_ip_checksum(b, ihl * 4)
        return [self.frame(b)], 0

    # --- ICMP ----------------------------------------------------------
    def icmp_truncated(self):
        n = self.rng.randrange(0, 8)
        body = bytearray(bytes(ICMP(type=8, id=7, seq=7))[:n])
        if n >= 4:
            body[2:4] = b"\0\0"
            body[2:4] = struct.pack("!H", csum(bytes(body)))
        return [self.frame(bytes(self.ip(proto=1) / Raw(bytes(body))))], 1

    def icmp_bad_checksum(self):
        b = self.echo_request_ip()
        good = struct.unpack("!H", b[22:24])[0]
        b[22:24] = struct.pack("!H", wrong_checksum(self.rng, good))
        return [self.frame(b)], 1

    def icmp_unknown_type(self):
        t = self.rng.randrange(100, 200)  # unassigned (IANA ICMP types)
        return [self.frame(bytes(self.ip() / ICMP(type=t, code=0) / Raw(self.payload(4, 32))))], 1

    def icmp_stray_echo_reply(self):
        icmp = ICMP(type=0, id=self.rng.randrange(0x10000), seq=1)
        return [self.frame(bytes(self.ip() / icmp / Raw(self.payload(0, 32))))], 1

    def icmp_error_garbage(self):
        # Destination unreachable quoting garbage: malformed, or for no
        # socket; dropped either way, but the reason may vary: not counted.
        code = self.rng.choice([0, 1, 3, 4])
        quoted = self.payload(0, 48)
        return [self.frame(bytes(self.ip() / ICMP(type=3, code=code) / Raw(quoted)))], 0

    # --- UDP -----------------------------------------------------------
    def udp_bytes(self, dport, data, **ipkw):
        return bytearray(bytes(self.ip(**ipkw) / UDP(sport=self.rng.randrange(1024, 65536), dport=dport) / Raw(data)))

    def udp_truncated(self):
        n = self.rng.randrange(0, 8)
        hdr = struct.pack("!HHHH", 40000, ECHO_PORT, 8, 0)[:n]
        return [self.frame(bytes(self.ip(proto=17) / Raw(hdr)))], 1

    def udp_bad_length(self):
        b = self.udp_bytes(ECHO_PORT, self.payload(8, 64))
        payload_len = len(b) - 20
        bogus = self.rng.choice([0, 1, 7, payload_len + 1, payload_len + 500, 0xFFFF])
        b[24:26] = struct.pack("!H", bogus)
        b[26:28] = b"\0\0"  # no checksum: only the length is wrong
        return [self.frame(b)], 1

    def udp_bad_checksum(self):
        b = self.udp_bytes(ECHO_PORT, self.payload(1, 64))
        good = struct.unpack("!H", b[26:28])[0]
        b[26:28] = struct.pack("!H", wrong_checksum(self.rng, good))
        return [self.frame(b)], 1

    def udp_closed_port(self):
        return [self.frame(self.udp_bytes(CLOSED_PORT, self.payload(1, 64)))], 1

    # --- fragments -----------------------------------------------------
    def frag(self, ident, offset_bytes, mf, data, proto=17, **kw):
        assert offset_bytes % 8 == 0
        flags = "MF" if mf else 0
        return bytearray(bytes(self.ip(id=ident, flags=flags, frag=offset_bytes // 8, proto=proto, **kw) / Raw(data)))

    def frag_overlap(self):
        ident = self.next_id()
        a = self.frag(ident, 0, True, self.payload(64, 64))
        b = self.frag(ident, 32, False, self.payload(64, 64))  # covers 32..96
        return [self.frame(a), self.frame(b)], 1

    def frag_duplicate(self):
        ident = self.next_id()
        a = self.frag(ident, 0, True, self.payload(64, 64))
        return [self.frame(a), self.frame(a)], 1

    def frag_too_big(self):
        # RFC 791: the datagram may not exceed 65535 octets; this fragment
        # ends beyond that (offset 65528 + 100 bytes, or similar).
        offset = self.rng.choice([65528, 65520, 65480])
        data = self.payload(100, 600)  # 20 + 65480 + 100 > 65535
        return [self.frame(self.frag(self.next_id(), offset, self.rng.random() < 0.5, data))], 1

    def frag_not_multiple_of_8(self):
        # RFC 791: every fragment but the last carries a multiple of 8 octets.
        n = self.rng.choice([1, 7, 9, 63, 101])
        return [self.frame(self.frag(self.next_id(), self.rng.choice([0, 8, 800]), True, self.payload(n, n)))], 1

    def frag_bad_checksum(self):
        b = self.frag(self.next_id(), 0, True, self.payload(64, 64))
        good = struct.unpack("!H", b[10:12])[0]
        b[10:12] = struct.pack("!H", wrong_checksum(self.rng, good))
        return [self.frame(b)], 1

    def frag_reassembled_bad_udp(self):
        # Two valid fragments of a UDP datagram to the echo port whose UDP
        # checksum is wrong: caught only after reassembly.
        data = self.payload(100, 200)
        udp = bytearray(bytes(UDP(sport=40001, dport=ECHO_PORT) / Raw(data)))
        # Compute the right checksum over the pseudo-header, then break it.
        src = socket.inet_aton(self.a.linux_ip)
        dst = socket.inet_aton(self.a.mnet_ip)
        udp[6:8] = b"\0\0"
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
        good = csum(pseudo + bytes(udp)) or 0xFFFF
        udp[6:8] = struct.pack("!H", wrong_checksum(self.rng, good))
        ident = self.next_id()
        first, rest = bytes(udp[:64]), bytes(udp[64:])
        return [self.frame(self.frag(ident, 0, True, first)), self.frame(self.frag(ident, 64, False, rest))], 1

    def frag_stray(self):
        # A middle or last fragment whose first never comes: held until the
        # reassembly timeout or eviction, so not an immediate drop.
        offset = self.rng.randrange(1, 1000) * 8
        return [self.frame(self.frag(self.next_id(), offset, self.rng.random() < 0.5, self.payload(8, 8 * 20)))], 0

    # --- ARP -----------------------------------------------------------
    def arp_sender_ip(self):
        # Never the Linux side's address (see the module docstring).
        return "%s.%d" % (self.prefix, self.rng.randrange(200, 250))

    def arp_bytes(self, **kw):
        kw.setdefault("op", 1)
        kw.setdefault("hwsrc", self.a.linux_mac)
        kw.setdefault("psrc", self.arp_sender_ip())
        kw.setdefault("pdst", self.a.mnet_ip)
        return bytearray(bytes(ARP(**kw)))

    def arp_frame(self, body):
        return bytes(self.eth(0x0806, dst=BCAST if self.rng.random() < 0.5 else self.a.mnet_mac)) + bytes(body)

    def arp_bad_lengths(self):
        b = self.arp_bytes()
        if self.rng.random() < 0.5:
            b[4] = self.rng.choice([0, 1, 5, 7, 16, 255])  # hardware length
        else:
            b[5] = self.rng.choice([0, 1, 3, 6, 16, 255])  # protocol length
        return [self.arp_frame(b)], 1

    def arp_truncated(self):
        b = self.arp_bytes()
        return [self.arp_frame(b[: self.rng.randrange(0, 28)])], 1

    def arp_wrong_type(self):
        b = self.arp_bytes()
        if self.rng.random() < 0.5:
            b[0:2] = struct.pack("!H", self.rng.choice([0, 6, 0x0300, 0xFFFF]))  # htype
        else:
            b[2:4] = struct.pack("!H", self.rng.choice([0, 0x86DD, 0x0806, 0xFFFF]))  # ptype
        return [self.arp_frame(b)], 1

    def arp_bad_op(self):
        b = self.arp_bytes(op=self.rng.choice([0, 3, 4, 8, 0xFFFF]))
        return [self.arp_frame(b)], 1

    def arp_not_for_us(self):
        b = self.arp_bytes(pdst=self.prefix + ".99")
        return [bytes(self.eth(0x0806, dst=BCAST)) + bytes(b)], 1


# Single-frame IPv4 categories that ipv4_l2_broadcast reuses.
L2_BROADCAST_SHAPES = [
    "ipv4_truncated_header",
    "ipv4_bad_ihl",
    "ipv4_bad_total_length",
    "ipv4_bad_checksum",
    "icmp_bad_checksum",
    "icmp_truncated",
    "udp_bad_checksum",
    "udp_truncated",
    "udp_closed_port",
    "frag_too_big",
]

# (name, weight, phase). Phase 2 runs last: its fragments stay in the
# reassembly table, and must not crowd out the pairs of phase 1.
CATEGORIES = [
    ("eth_header_only", 2, 1),
    ("eth_unknown_type", 3, 1),
    ("eth_not_for_us", 3, 1),
    ("random_bytes", 5, 1),
    ("ipv4_l2_broadcast", 4, 1),
    ("ipv4_truncated_header", 4, 1),
    ("ipv4_bad_version", 3, 1),
    ("ipv4_bad_ihl", 4, 1),
    ("ipv4_bad_total_length", 4, 1),
    ("ipv4_bad_checksum", 5, 1),
    ("ipv4_bad_source", 2, 1),
    ("ipv4_not_for_us", 2, 1),
    ("ipv4_unknown_protocol", 2, 1),
    ("ip_garbage_options", 2, 1),
    ("icmp_truncated", 3, 1),
    ("icmp_bad_checksum", 4, 1),
    ("icmp_unknown_type", 2, 1),
    ("icmp_stray_echo_reply", 2, 1),
    ("icmp_error_garbage", 2, 1),
    ("udp_truncated", 3, 1),
    ("udp_bad_length", 3, 1),
    ("udp_bad_checksum", 5, 1),
    ("udp_closed_port", 2, 1),
    ("frag_overlap", 4, 1),
    ("frag_too_big", 3, 1),
    ("frag_not_multiple_of_8", 2, 1),
    ("frag_bad_checksum", 3, 1),
    ("frag_reassembled_bad_udp", 3, 1),
    ("arp_bad_lengths", 3, 1),
    ("arp_truncated", 3, 1),
    ("arp_wrong_type", 2, 1),
    ("arp_bad_op", 2, 1),
    ("arp_not_for_us", 2, 1),
    ("frag_duplicate", 2, 2),
    ("frag_stray", 3, 2),
]


def build(args):
    rng = random.Random(args.seed)
    b = Builder(args, rng)
    stats = {name: [0, 0] for name, _, _ in CATEGORIES}
    phases = {1: [], 2: []}
    total_weight = sum(w for _, w, _ in CATEGORIES)
    frames = 0
    # Every category gets its share of the count; groups stay together.
    for name, weight, phase in CATEGORIES:
        share = args.count * weight // total_weight
        made = 0
        while made < share:
            group, min_drops = getattr(b, name)()
            phases[phase].append((name, group, min_drops))
            made += len(group)
        frames += made
    # Top up (or trim) with single random-byte frames to hit the count.
    while frames < args.count:
        group, min_drops = b.random_bytes()
        phases[1].append(("random_bytes", group, min_drops))
        frames += 1
    while frames > args.count:
        for i, (name, group, _) in enumerate(phases[1]):
            if name == "random_bytes":
                del phases[1][i]
                frames -= 1
                break
        else:
            break
    for phase in (1, 2):
        rng.shuffle(phases[phase])
    ordered = phases[1] + phases[2]
    for name, group, min_drops in ordered:
        stats[name][0] += len(group)
        stats[name][1] += min_drops
    return ordered, stats


def send_all(iface, ordered, chunk, pause):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent = errors = 0
    n = 0
    for _name, group, _ in ordered:
        for frame in group:
            for _attempt in range(50):
                try:
                    s.send(frame)
                    sent += 1
                    break
                except OSError as e:
                    if e.errno in (errno.ENOBUFS, errno.EAGAIN):
                        time.sleep(0.002)
                        continue
                    errors += 1
                    print("send error %s for %d-byte frame" % (e, len(frame)), file=sys.stderr)
                    break
            else:
                errors += 1
            n += 1
            if n % chunk == 0:
                time.sleep(pause)
    return sent, errors


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iface", required=True)
    p.add_argument("--mnet-mac", required=True)
    p.add_argument("--mnet-ip", required=True)
    p.add_argument("--linux-mac", required=True)
    p.add_argument("--linux-ip", required=True)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chunk", type=int, default=250, help="frames between pauses")
    p.add_argument("--pause", type=float, default=0.01, help="seconds")
    args = p.parse_args()
    args.mnet_mac = args.mnet_mac.lower()
    ordered, stats = build(args)
    sent, errors = send_all(args.iface, ordered, args.chunk, args.pause)
    for name, (frames, min_drops) in stats.items():
        print("category %s %d %d" % (name, frames, min_drops))
    print("sent %d" % sent)
    print("send_errors %d" % errors)


if __name__ == "__main__":
    main()
