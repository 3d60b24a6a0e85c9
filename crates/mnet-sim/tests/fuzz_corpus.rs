//! The fuzz corpus as ordinary tests.
//!
//! - `replay_corpus`: every file of `fuzz/corpus/engine/` (seeds and what
//!   the fuzzer kept) runs through `mnet_sim::fuzz::run`, twice, with the
//!   same result.
//! - `seeds_reach_their_paths`: each seed below is a named script meant to
//!   exercise one path; it runs and the counters prove it got there.
//! - `seed_files_are_current`: each seed's file holds its encoding. After
//!   changing a seed or the encoding, rewrite them with
//!   `MNET_WRITE_SEEDS=1 cargo test -p mnet-sim --test fuzz_corpus seed_files`.
//! - `mutate_corpus` (ignored): a small mutation fuzzer on stable Rust for
//!   machines without cargo-fuzz. `MNET_FUZZ_SECS=300 cargo test --release
//!   -p mnet-sim --test fuzz_corpus mutate_corpus -- --ignored --nocapture`;
//!   crashing inputs are written to `fuzz/crashes/`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mnet::stats::Drop;
use mnet_sim::SimRng;
use mnet_sim::fuzz::{
    self, Action, Arp, ArpOp, BindAddr, Body, Close, Damage, Dest, Fragments, Frame, Ident, Ip, Ipv4Fields, Mac, Meta, Order, Outcome,
    Payload, Port, Quote, RawType, Respond, Twist, UdpChecksum, Unit,
};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/engine")
}

fn crashes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/crashes")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("fuzz/corpus/engine exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (name, std::fs::read(&p).expect("readable corpus file"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn replay_corpus() {
    let files = corpus();
    assert!(files.len() >= 20, "the corpus has only {} files", files.len());
    for (name, data) in &files {
        let first = fuzz::execute(data);
        let second = fuzz::execute(data);
        assert_eq!(first.digest, second.digest, "{name}: two runs of one input differ");
    }
}

/// The crashes the fuzzer found in `fuzz/crashes/`, all fixed: they stay
/// as regression tests. A new crash goes there with `#[ignore]` added back
/// until it is fixed. `MNET_FUZZ_REPLAY=<file>` replays one file.
#[test]
fn replay_crashes() {
    let mut files: Vec<PathBuf> = match std::env::var_os("MNET_FUZZ_REPLAY") {
        Some(one) => vec![PathBuf::from(one)],
        None => std::fs::read_dir(crashes_dir())
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && p.extension().is_none())
                    .collect()
            })
            .unwrap_or_default(),
    };
    files.sort();
    let failing: Vec<String> = files
        .iter()
        .filter(|p| {
            let data = std::fs::read(p).unwrap_or_default();
            std::panic::catch_unwind(|| fuzz::run(&data)).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(failing.is_empty(), "still failing: {failing:#?}");
}

// ---- the seeds ---------------------------------------------------------------------

const DRAIN: Action = Action::Transmit { accept: 0 };

fn frame(body: Body) -> Frame {
    Frame {
        eth_dst: Mac::Natural,
        eth_src: Mac::Natural,
        meta: Meta::Plain,
        body,
        damage: Damage::None,
    }
}

fn ipv4(src: Ip, dst: Ip, payload: Payload) -> Action {
    Action::Receive(frame(Body::Ipv4(Ipv4Fields::new(src, dst), payload)))
}

fn with(a: Action, f: impl FnOnce(&mut Frame)) -> Action {
    match a {
        Action::Receive(mut fr) => {
            f(&mut fr);
            Action::Receive(fr)
        }
        other => other,
    }
}

fn damaged(a: Action, damage: Damage) -> Action {
    with(a, |f| f.damage = damage)
}

fn echo(len: u16) -> Payload {
    Payload::EchoRequest { ident: 0x77, seq: 1, len }
}

fn udp(dst_port: Port, len: u16) -> Payload {
    Payload::Udp {
        src_port: Port::Raw(5353),
        dst_port,
        len,
        checksum: UdpChecksum::Valid,
    }
}

fn arp(op: ArpOp, spa: Ip, tpa: Ip) -> Action {
    Action::Receive(frame(Body::Arp(Arp {
        op,
        sha: Mac::Natural,
        spa,
        tha: Mac::Natural,
        tpa,
    })))
}

/// The peer (10.0.0.3) tells us its MAC.
fn peer_known() -> Action {
    arp(ArpOp::Reply, Ip::Peer, Ip::Ours)
}

fn train(payload: Payload, size: u16, order: Order, twist: Twist) -> Action {
    Action::Fragments(Fragments {
        ip: Ipv4Fields {
            ident: 0x1234,
            ..Ipv4Fields::new(Ip::Peer, Ip::Ours)
        },
        payload,
        size,
        order,
        twist,
    })
}

fn error(msg_type: u8, code: u8, rest: u16) -> Action {
    Action::Respond(Respond::Error {
        msg_type,
        code,
        rest,
        back: 0,
        cut: 8,
    })
}

fn bind(port: Port) -> Action {
    Action::UdpBind { addr: BindAddr::Any, port }
}

fn send_udp(dst: Ip, port: Port, len: u16) -> Action {
    Action::UdpSend {
        socket: 0,
        to: Some((Dest::V4(dst), port)),
        len,
    }
}

const UDP_RECV: Action = Action::UdpRecv { socket: 0, buf: 65535 };
const ECHO_RECV: Action = Action::EchoRecv { socket: 0, buf: 65535 };

fn ping(dst: Ip, len: u16) -> Vec<Action> {
    vec![
        Action::EchoOpen { ident: Some(0x4d4e) },
        Action::EchoSend {
            socket: 0,
            dst: Dest::V4(dst),
            seq: 1,
            len,
        },
    ]
}

/// A SYN from the peer's port 5000.
fn syn(dst_port: Port) -> Payload {
    syn_from_to(5000, dst_port)
}

fn syn_from(src_port: u16) -> Payload {
    syn_from_to(src_port, Port::Listener(0))
}

fn syn_from_to(src_port: u16, dst_port: Port) -> Payload {
    Payload::Tcp {
        src_port: Port::Raw(src_port),
        dst_port,
        seq: 0x0100_0000,
        ack: 0,
        flags: 0x02,
        window: 65535,
        options: 1 | 2 | 4,
        len: 0,
    }
}

fn tcp(flags: u8, seq_delta: i8, ack_delta: i8, len: u16) -> Action {
    Action::Respond(Respond::Tcp {
        flags,
        seq_delta,
        ack_delta,
        len,
    })
}

/// A listener on port 80 accepts a connection from the peer, then `more`.
fn tcp_accepted(more: Vec<Action>) -> Vec<Action> {
    cat(vec![
        vec![
            peer_known(),
            Action::TcpListen {
                port: Port::Raw(80),
                backlog: 4,
            },
            ipv4(Ip::Peer, Ip::Ours, syn(Port::Listener(0))),
            DRAIN,
            tcp(0x10, 0, 0, 0),
            Action::TcpAccept { listener: 0 },
        ],
        more,
    ])
}

fn secs(n: u16) -> Action {
    Action::Advance {
        unit: Unit::Secs,
        amount: n,
    }
}

struct Seed {
    name: &'static str,
    actions: Vec<Action>,
    expect: fn(&Outcome),
}

fn seed(name: &'static str, actions: Vec<Action>, expect: fn(&Outcome)) -> Seed {
    Seed { name, actions, expect }
}

fn cat(parts: Vec<Vec<Action>>) -> Vec<Action> {
    parts.into_iter().flatten().collect()
}

fn drops(o: &Outcome, d: Drop) -> u64 {
    o.stats.drops(d)
}

fn seeds() -> Vec<Seed> {
    let echo_3000 = echo(3000);
    vec![
        // ---- ARP
        seed("arp-request-for-us", vec![arp(ArpOp::Request, Ip::Peer, Ip::Ours), DRAIN], |o| {
            assert_eq!(o.sent.arp_replies, 1)
        }),
        seed(
            "arp-request-not-for-us",
            vec![arp(ArpOp::Request, Ip::Peer, Ip::Silent), DRAIN],
            |o| assert_eq!((o.sent.arp_replies, drops(o, Drop::ArpNotForUs)), (0, 1)),
        ),
        seed(
            "arp-conflict-is-defended",
            vec![
                with(arp(ArpOp::Request, Ip::Ours, Ip::Ours), |f| {
                    if let Body::Arp(a) = &mut f.body {
                        a.sha = Mac::Other;
                    }
                }),
                DRAIN,
            ],
            |o| assert_eq!((drops(o, Drop::ArpConflict), o.sent.arp_requests), (1, 1)),
        ),
        seed(
            "arp-unsolicited-reply-fills-cache",
            cat(vec![vec![peer_known()], ping(Ip::Peer, 8), vec![DRAIN]]),
            |o| assert_eq!((o.sent.echo_requests, o.sent.arp_requests), (1, 0)),
        ),
        seed(
            "arp-malformed",
            vec![Action::ReceiveRaw {
                ethertype: RawType::Arp,
                bytes: vec![0, 1, 8, 0, 6, 4, 0],
            }],
            |o| assert_eq!(drops(o, Drop::ArpMalformed), 1),
        ),
        seed(
            "arp-resolution-gives-up",
            cat(vec![ping(Ip::Silent, 8), vec![Action::Step; 6], vec![ECHO_RECV]]),
            |o| assert_eq!((o.echo_errors, drops(o, Drop::ArpUnresolved)), (1, 1)),
        ),
        seed("arp-announcements-over-time", vec![Action::Step; 4], |o| {
            assert_eq!(o.sent.arp_requests, 2)
        }),
        // ---- ICMP echo server
        seed(
            "echo-request-resolves-sender",
            vec![
                ipv4(Ip::Peer, Ip::Ours, echo(56)),
                DRAIN,
                Action::Respond(Respond::ArpReply),
                Action::Step,
            ],
            |o| assert_eq!((o.sent.arp_requests, o.sent.echo_replies), (2, 1)),
        ),
        seed("echo-request", vec![peer_known(), ipv4(Ip::Peer, Ip::Ours, echo(56)), DRAIN], |o| {
            assert_eq!(o.sent.echo_replies, 1)
        }),
        seed(
            "echo-request-to-broadcast",
            vec![
                peer_known(),
                with(ipv4(Ip::Peer, Ip::SubnetBroadcast, echo(8)), |f| f.eth_dst = Mac::Broadcast),
                DRAIN,
            ],
            |o| assert_eq!((o.sent.echo_replies, drops(o, Drop::Icmpv4ErrorNotSent)), (0, 1)),
        ),
        seed(
            "echo-request-bad-checksum",
            vec![
                peer_known(),
                damaged(ipv4(Ip::Peer, Ip::Ours, echo(8)), Damage::TransportChecksum),
                DRAIN,
            ],
            |o| assert_eq!((o.sent.echo_replies, drops(o, Drop::Icmpv4BadChecksum)), (0, 1)),
        ),
        seed(
            "echo-request-checksum-offloaded",
            vec![
                peer_known(),
                with(damaged(ipv4(Ip::Peer, Ip::Ours, echo(8)), Damage::TransportChecksum), |f| {
                    f.meta = Meta::DataValid
                }),
                DRAIN,
            ],
            |o| assert_eq!(o.sent.echo_replies, 1),
        ),
        seed(
            "echo-request-offload-not-enabled",
            vec![
                with(ipv4(Ip::Peer, Ip::Ours, echo(8)), |f| f.meta = Meta::NeedsCsum),
                with(ipv4(Ip::Peer, Ip::Ours, echo(8)), |f| f.meta = Meta::Gso),
            ],
            |o| assert_eq!(drops(o, Drop::EthBadOffload), 2),
        ),
        seed(
            "echo-request-ip-options",
            vec![
                peer_known(),
                with(ipv4(Ip::Peer, Ip::Ours, echo(32)), |f| {
                    if let Body::Ipv4(ip, _) = &mut f.body {
                        ip.options = 10;
                    }
                }),
                DRAIN,
            ],
            |o| assert_eq!(o.sent.echo_replies, 1),
        ),
        seed(
            "echo-request-jumbo-reply-fragmented",
            vec![peer_known(), ipv4(Ip::Peer, Ip::Ours, echo(8000)), DRAIN],
            |o| assert_eq!((o.sent.echo_replies, o.sent.fragments), (1, 6)),
        ),
        seed(
            "echo-request-padded",
            vec![peer_known(), damaged(ipv4(Ip::Peer, Ip::Ours, echo(8)), Damage::Pad(30)), DRAIN],
            |o| assert_eq!(o.sent.echo_replies, 1),
        ),
        // ---- reassembly
        seed(
            "frag-echo-in-order",
            vec![peer_known(), train(echo_3000.clone(), 1480, Order::InOrder, Twist::None), DRAIN],
            |o| assert_eq!((o.stats.traffic.ipv4_reassembled, o.sent.echo_replies), (1, 1)),
        ),
        seed(
            "frag-echo-reversed",
            vec![peer_known(), train(echo_3000.clone(), 1480, Order::Reversed, Twist::None), DRAIN],
            |o| assert_eq!((o.stats.traffic.ipv4_reassembled, o.sent.echo_replies), (1, 1)),
        ),
        seed(
            "frag-echo-last-first",
            vec![peer_known(), train(echo_3000.clone(), 512, Order::LastFirst, Twist::None), DRAIN],
            |o| assert_eq!((o.stats.traffic.ipv4_reassembled, o.sent.echo_replies), (1, 1)),
        ),
        seed(
            "frag-echo-shuffled",
            vec![peer_known(), train(echo_3000.clone(), 256, Order::Shuffle(7), Twist::None), DRAIN],
            |o| assert_eq!((o.stats.traffic.ipv4_reassembled, o.sent.echo_replies), (1, 1)),
        ),
        seed(
            "frag-echo-overlap",
            vec![
                peer_known(),
                train(echo_3000.clone(), 1000, Order::InOrder, Twist::Overlap(1)),
                DRAIN,
            ],
            |o| assert_eq!((drops(o, Drop::FragOverlap), o.stats.traffic.ipv4_reassembled), (1, 0)),
        ),
        seed(
            "frag-echo-duplicate",
            vec![
                peer_known(),
                train(echo_3000.clone(), 1000, Order::InOrder, Twist::Duplicate(0)),
                DRAIN,
            ],
            |o| assert_eq!((drops(o, Drop::FragDuplicate), o.stats.traffic.ipv4_reassembled), (1, 1)),
        ),
        seed(
            "frag-echo-hole-times-out",
            vec![
                train(echo_3000.clone(), 1000, Order::InOrder, Twist::Hole(1)),
                secs(61),
                Action::Poll,
            ],
            |o| assert_eq!((drops(o, Drop::FragTimeout), o.stats.traffic.ipv4_reassembled), (1, 0)),
        ),
        seed(
            "frag-past-the-end",
            vec![train(echo_3000.clone(), 1000, Order::Reversed, Twist::PastEnd)],
            |o| assert_eq!(drops(o, Drop::FragInconsistent), 1),
        ),
        seed(
            "frag-last-keeps-more",
            vec![
                train(echo_3000.clone(), 1000, Order::InOrder, Twist::LastKeepsMore),
                Action::Step,
                Action::Step,
                Action::Step,
            ],
            |o| assert_eq!((drops(o, Drop::FragTimeout), o.stats.traffic.ipv4_reassembled), (1, 0)),
        ),
        seed(
            "frag-short-middle-fragment",
            vec![train(echo_3000.clone(), 1000, Order::InOrder, Twist::Shrink(0))],
            |o| assert_eq!((drops(o, Drop::FragMalformed), o.stats.traffic.ipv4_reassembled), (1, 0)),
        ),
        seed(
            "frag-ping-of-death",
            vec![train(echo(1000), 1480, Order::InOrder, Twist::BeyondMax)],
            |o| assert_eq!(drops(o, Drop::FragTooBig), 1),
        ),
        seed(
            "frag-too-many-fragments",
            vec![train(echo(1200), 8, Order::InOrder, Twist::None)],
            |o| assert_eq!(drops(o, Drop::FragTooMany), 1),
        ),
        seed(
            "frag-largest-datagram",
            vec![peer_known(), train(echo(65507), 1480, Order::InOrder, Twist::None), DRAIN],
            |o| {
                assert_eq!(
                    (o.stats.traffic.ipv4_reassembled, o.sent.echo_replies, o.sent.fragments),
                    (1, 1, 45)
                )
            },
        ),
        seed(
            "frag-udp-to-socket",
            vec![
                bind(Port::Echo),
                train(udp(Port::Socket(0), 4000), 1480, Order::Reversed, Twist::None),
                UDP_RECV,
            ],
            |o| assert_eq!(o.udp_received, 1),
        ),
        seed(
            "frag-single-stray",
            vec![with(ipv4(Ip::Peer, Ip::Ours, echo(64)), |f| {
                if let Body::Ipv4(ip, _) = &mut f.body {
                    ip.flags = 2;
                    ip.frag_offset = 100;
                }
            })],
            |o| assert_eq!(o.stats.traffic.ipv4_frags_in, 1),
        ),
        // ---- UDP
        seed(
            "udp-to-closed-port",
            vec![peer_known(), ipv4(Ip::Peer, Ip::Ours, udp(Port::Discard, 10)), DRAIN],
            |o| assert_eq!((drops(o, Drop::UdpNoPort), o.sent.dst_unreachable), (1, 1)),
        ),
        seed(
            "udp-to-closed-port-broadcast",
            vec![
                peer_known(),
                with(ipv4(Ip::Peer, Ip::SubnetBroadcast, udp(Port::Discard, 10)), |f| {
                    f.eth_dst = Mac::Broadcast
                }),
                DRAIN,
            ],
            |o| assert_eq!((drops(o, Drop::UdpNoPort), o.sent.dst_unreachable), (1, 0)),
        ),
        seed(
            "udp-to-bound-socket",
            vec![bind(Port::Echo), ipv4(Ip::Peer, Ip::Ours, udp(Port::Socket(0), 100)), UDP_RECV],
            |o| assert_eq!(o.udp_received, 1),
        ),
        seed(
            "udp-zero-checksum",
            vec![
                bind(Port::Echo),
                ipv4(
                    Ip::Peer,
                    Ip::Ours,
                    Payload::Udp {
                        src_port: Port::Raw(5353),
                        dst_port: Port::Socket(0),
                        len: 20,
                        checksum: UdpChecksum::Zero,
                    },
                ),
                UDP_RECV,
            ],
            |o| assert_eq!(o.udp_received, 1),
        ),
        seed(
            "udp-bad-checksum",
            vec![
                bind(Port::Echo),
                ipv4(
                    Ip::Peer,
                    Ip::Ours,
                    Payload::Udp {
                        src_port: Port::Raw(5353),
                        dst_port: Port::Socket(0),
                        len: 20,
                        checksum: UdpChecksum::Bad,
                    },
                ),
                UDP_RECV,
            ],
            |o| assert_eq!((o.udp_received, drops(o, Drop::UdpBadChecksum)), (0, 1)),
        ),
        seed(
            "udp-recv-truncates",
            vec![
                bind(Port::Echo),
                ipv4(Ip::Peer, Ip::Ours, udp(Port::Socket(0), 100)),
                Action::UdpRecv { socket: 0, buf: 4 },
            ],
            |o| assert_eq!(o.udp_received, 1),
        ),
        seed(
            "udp-receive-queue-full",
            cat(vec![
                vec![bind(Port::Echo)],
                vec![ipv4(Ip::Peer, Ip::Ours, udp(Port::Socket(0), 1)); 260],
            ]),
            |o| assert_eq!(drops(o, Drop::UdpRecvQueueFull), 4),
        ),
        seed(
            "udp-send-resolves-arp",
            vec![
                bind(Port::Zero),
                send_udp(Ip::Peer, Port::Discard, 32),
                DRAIN,
                Action::Respond(Respond::ArpReply),
                Action::Step,
            ],
            |o| assert_eq!((o.sent.arp_requests, o.sent.udp), (2, 1)),
        ),
        seed(
            "udp-send-off-link-via-gateway",
            vec![
                bind(Port::Zero),
                send_udp(Ip::OffLink, Port::Echo, 32),
                DRAIN,
                Action::Respond(Respond::ArpReply),
                DRAIN,
            ],
            |o| assert_eq!((o.sent.arp_requests, o.sent.udp), (1, 1)),
        ),
        seed(
            "udp-send-fragmented",
            vec![peer_known(), bind(Port::Zero), send_udp(Ip::Peer, Port::Echo, 4000), DRAIN],
            |o| assert_eq!((o.sent.udp, o.sent.fragments), (1, 3)),
        ),
        seed(
            "udp-send-errors",
            vec![
                bind(Port::Zero),
                send_udp(Ip::Peer, Port::Echo, 65535),
                Action::UdpSend {
                    socket: 0,
                    to: Some((Dest::V6, Port::Echo)),
                    len: 1,
                },
                Action::UdpSend {
                    socket: 0,
                    to: None,
                    len: 1,
                },
                send_udp(Ip::Multicast, Port::Echo, 1),
            ],
            |o| assert_eq!(o.udp_errors, 4),
        ),
        seed(
            "udp-loopback",
            vec![
                Action::UdpBind {
                    addr: BindAddr::Ours,
                    port: Port::Echo,
                },
                send_udp(Ip::Ours, Port::Echo, 50),
                UDP_RECV,
            ],
            |o| assert_eq!((o.udp_received, o.sent.udp), (1, 0)),
        ),
        seed(
            "udp-stale-handle",
            vec![
                bind(Port::Echo),
                Action::UdpClose { socket: 0 },
                send_udp(Ip::Peer, Port::Echo, 5),
                UDP_RECV,
            ],
            |o| assert_eq!(o.udp_errors, 2),
        ),
        // ---- ICMP errors to sockets
        seed(
            "icmp-port-unreachable-about-our-datagram",
            vec![
                peer_known(),
                bind(Port::Zero),
                Action::UdpConnect {
                    socket: 0,
                    dst: Dest::V4(Ip::Peer),
                    port: Port::Discard,
                },
                Action::UdpSend {
                    socket: 0,
                    to: None,
                    len: 8,
                },
                DRAIN,
                error(3, 3, 0),
                UDP_RECV,
            ],
            |o| assert_eq!((o.sent.udp, o.udp_errors), (1, 1)),
        ),
        seed(
            "icmp-frag-needed-lowers-path-mtu",
            vec![
                peer_known(),
                bind(Port::Zero),
                send_udp(Ip::Peer, Port::Echo, 1400),
                DRAIN,
                error(3, 4, 1000),
                send_udp(Ip::Peer, Port::Echo, 1400),
                DRAIN,
            ],
            |o| assert_eq!((o.sent.udp, o.sent.fragments), (2, 2)),
        ),
        seed(
            "icmp-frag-needed-old-router",
            vec![
                peer_known(),
                bind(Port::Zero),
                send_udp(Ip::Peer, Port::Echo, 1400),
                DRAIN,
                error(3, 4, 0),
                send_udp(Ip::Peer, Port::Echo, 1400),
                DRAIN,
            ],
            |o| assert_eq!((o.sent.udp, o.sent.fragments), (2, 2)),
        ),
        seed(
            "icmp-time-exceeded-about-ping",
            cat(vec![
                vec![peer_known()],
                ping(Ip::Peer, 16),
                vec![DRAIN, error(11, 0, 0), ECHO_RECV],
            ]),
            |o| assert_eq!(o.echo_errors, 1),
        ),
        seed(
            "icmp-param-problem-about-ping",
            cat(vec![
                vec![peer_known()],
                ping(Ip::Peer, 16),
                vec![DRAIN, error(12, 0, 20), ECHO_RECV],
            ]),
            |o| assert_eq!(o.echo_errors, 1),
        ),
        seed(
            "icmp-host-unreachable-synthetic-quote",
            vec![
                bind(Port::Zero),
                Action::UdpConnect {
                    socket: 0,
                    dst: Dest::V4(Ip::OffLink),
                    port: Port::Echo,
                },
                ipv4(
                    Ip::Gateway,
                    Ip::Ours,
                    Payload::Error {
                        msg_type: 3,
                        code: 1,
                        rest: 0,
                        quote: Quote::Udp {
                            src: Ip::Ours,
                            dst: Ip::OffLink,
                            src_port: Port::Socket(0),
                            dst_port: Port::Echo,
                            cut: 8,
                        },
                    },
                ),
                UDP_RECV,
            ],
            |o| assert_eq!(o.udp_errors, 1),
        ),
        seed(
            "icmp-error-quote-cut-short",
            vec![
                Action::EchoOpen { ident: Some(9) },
                ipv4(
                    Ip::Gateway,
                    Ip::Ours,
                    Payload::Error {
                        msg_type: 11,
                        code: 0,
                        rest: 0,
                        quote: Quote::Echo {
                            src: Ip::Ours,
                            dst: Ip::OffLink,
                            ident: Ident::Socket(0),
                            seq: 3,
                            cut: 4,
                        },
                    },
                ),
                ECHO_RECV,
            ],
            |o| assert_eq!((o.echo_errors, o.stats.traffic.icmpv4_in), (0, 1)),
        ),
        seed(
            "icmp-error-about-nothing-of-ours",
            vec![ipv4(
                Ip::Gateway,
                Ip::Ours,
                Payload::Error {
                    msg_type: 3,
                    code: 3,
                    rest: 0,
                    quote: Quote::Raw(vec![
                        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 3, 0, 1, 0, 2, 0, 8, 0, 0,
                    ]),
                },
            )],
            |o| assert_eq!(drops(o, Drop::Icmpv4NoSocket), 1),
        ),
        seed(
            "icmp-echo-reply-to-socket",
            vec![
                Action::EchoOpen { ident: None },
                ipv4(
                    Ip::Peer,
                    Ip::Ours,
                    Payload::EchoReply {
                        ident: Ident::Socket(0),
                        seq: 5,
                        len: 40,
                    },
                ),
                ECHO_RECV,
            ],
            |o| assert_eq!(o.echo_replies, 1),
        ),
        seed(
            "ping-answered",
            cat(vec![
                ping(Ip::Peer, 100),
                vec![
                    DRAIN,
                    Action::Respond(Respond::ArpReply),
                    DRAIN,
                    Action::Respond(Respond::EchoReply),
                    ECHO_RECV,
                ],
            ]),
            |o| assert_eq!((o.sent.echo_requests, o.echo_replies), (1, 1)),
        ),
        seed(
            "ping-large-answered-in-fragments",
            cat(vec![
                vec![peer_known()],
                ping(Ip::Peer, 5000),
                vec![DRAIN, Action::Respond(Respond::EchoReply), ECHO_RECV],
            ]),
            |o| assert_eq!((o.sent.fragments, o.stats.traffic.ipv4_reassembled, o.echo_replies), (4, 1, 1)),
        ),
        seed(
            "udp-reply-to-our-datagram",
            vec![
                peer_known(),
                bind(Port::Zero),
                send_udp(Ip::Peer, Port::Echo, 10),
                DRAIN,
                Action::Respond(Respond::UdpReply { len: 10 }),
                UDP_RECV,
            ],
            |o| assert_eq!(o.udp_received, 1),
        ),
        seed(
            "icmp-unsupported-types",
            vec![
                ipv4(
                    Ip::Peer,
                    Ip::Ours,
                    Payload::Icmp {
                        msg_type: 13,
                        code: 0,
                        len: 12,
                    },
                ),
                ipv4(
                    Ip::Peer,
                    Ip::Ours,
                    Payload::Icmp {
                        msg_type: 5,
                        code: 1,
                        len: 28,
                    },
                ),
            ],
            |o| assert_eq!(drops(o, Drop::Icmpv4Unsupported), 2),
        ),
        // ---- other protocols, bad headers
        seed(
            "protocol-unreachable",
            vec![
                peer_known(),
                ipv4(Ip::Peer, Ip::Ours, Payload::Other { protocol: 200, len: 30 }),
                DRAIN,
            ],
            |o| assert_eq!((drops(o, Drop::Ipv4UnknownProtocol), o.sent.dst_unreachable), (1, 1)),
        ),
        seed(
            "tcp-garbage-segment",
            vec![ipv4(Ip::Peer, Ip::Ours, Payload::Other { protocol: 6, len: 20 })],
            |o| assert_eq!(drops(o, Drop::TcpMalformed) + drops(o, Drop::TcpBadChecksum), 1),
        ),
        seed(
            "ipv4-bad-headers",
            vec![
                damaged(ipv4(Ip::Peer, Ip::Ours, echo(8)), Damage::IpChecksum),
                damaged(ipv4(Ip::Peer, Ip::Ours, echo(8)), Damage::Version(6)),
                damaged(ipv4(Ip::Peer, Ip::Ours, echo(8)), Damage::TotalLen(40)),
                damaged(ipv4(Ip::Peer, Ip::Ours, echo(8)), Damage::HeaderLen(4)),
                damaged(ipv4(Ip::Peer, Ip::Ours, echo(8)), Damage::Truncate(30)),
            ],
            |o| {
                assert_eq!(drops(o, Drop::Ipv4BadChecksum), 1);
                assert_eq!(drops(o, Drop::Ipv4BadVersion) + drops(o, Drop::Ipv4Malformed), 4);
            },
        ),
        seed(
            "ipv4-bad-addresses",
            vec![
                ipv4(Ip::Broadcast, Ip::Ours, echo(8)),
                ipv4(Ip::Multicast, Ip::Ours, echo(8)),
                ipv4(Ip::Peer, Ip::OffLink, echo(8)),
                with(ipv4(Ip::Peer, Ip::Ours, echo(8)), |f| f.eth_dst = Mac::Broadcast),
            ],
            |o| assert_eq!((drops(o, Drop::Ipv4BadSource), drops(o, Drop::Ipv4NotForUs)), (2, 2)),
        ),
        seed(
            "ethernet-odd-frames",
            vec![
                Action::ReceiveRaw {
                    ethertype: RawType::Ipv6,
                    bytes: vec![0x60; 40],
                },
                Action::ReceiveRaw {
                    ethertype: RawType::Other(0x88cc),
                    bytes: vec![1; 20],
                },
                with(ipv4(Ip::Peer, Ip::Ours, echo(8)), |f| f.eth_dst = Mac::Other),
                Action::ReceiveRaw {
                    ethertype: RawType::Frame,
                    bytes: vec![2; 9],
                },
            ],
            |o| {
                assert_eq!(drops(o, Drop::Ipv6Unsupported), 1);
                assert_eq!(drops(o, Drop::EthUnknownType), 1);
                assert_eq!(drops(o, Drop::EthNotForUs), 1);
                assert_eq!(drops(o, Drop::EthTruncated), 1);
            },
        ),
        seed(
            "garbage",
            vec![Action::ReceiveRaw {
                ethertype: RawType::Frame,
                bytes: (0..200u32).map(|i| (i * 37 % 251) as u8).collect(),
            }],
            |o| assert_eq!(o.stats.traffic.frames_in, 1),
        ),
        // ---- TCP
        seed(
            "tcp-syn-to-closed-port",
            vec![peer_known(), ipv4(Ip::Peer, Ip::Ours, syn(Port::Raw(81))), DRAIN],
            |o| assert_eq!((o.sent.tcp_resets, drops(o, Drop::TcpNoListener)), (1, 1)),
        ),
        seed(
            "tcp-accept-and-receive",
            tcp_accepted(vec![tcp(0x18, 0, 0, 100), Action::TcpRecv { conn: 0, buf: 2048 }, DRAIN]),
            |o| assert_eq!((o.tcp_accepted, o.tcp_received, o.tcp_errors), (1, 100, 0)),
        ),
        seed(
            "tcp-out-of-order-then-hole-filled",
            tcp_accepted(vec![
                tcp(0x18, 100, 0, 50),
                DRAIN,
                tcp(0x18, 0, 0, 100),
                Action::TcpRecv { conn: 0, buf: 2048 },
            ]),
            |o| assert_eq!((o.tcp_received, o.tcp_errors), (150, 0)),
        ),
        seed(
            "tcp-reset-by-peer",
            tcp_accepted(vec![tcp(0x04, 0, 0, 0), Action::TcpRecv { conn: 0, buf: 2048 }]),
            |o| assert_eq!((o.tcp_accepted, o.tcp_errors), (1, 1)),
        ),
        seed(
            "tcp-connect-send-close",
            vec![
                peer_known(),
                Action::TcpConnect {
                    dst: Dest::V4(Ip::Peer),
                    port: Port::Raw(80),
                },
                DRAIN,
                tcp(0x12, 0, 0, 0),
                DRAIN,
                Action::TcpSend { conn: 0, len: 3000 },
                DRAIN,
                tcp(0x10, 0, 0, 0),
                Action::TcpClose {
                    conn: 0,
                    how: Close::Close,
                },
                DRAIN,
                tcp(0x11, 0, 0, 0),
                DRAIN,
            ],
            |o| assert_eq!((o.sent.tcp, o.tcp_errors, o.sent.tcp_resets), (7, 0, 0)),
        ),
        seed(
            "tcp-connect-refused",
            vec![
                peer_known(),
                Action::TcpConnect {
                    dst: Dest::V4(Ip::Peer),
                    port: Port::Raw(80),
                },
                DRAIN,
                tcp(0x14, 0, 0, 0),
                Action::TcpRecv { conn: 0, buf: 64 },
            ],
            |o| assert_eq!(o.tcp_errors, 1),
        ),
        seed(
            "tcp-connect-unanswered",
            cat(vec![
                vec![
                    peer_known(),
                    Action::TcpConnect {
                        dst: Dest::V4(Ip::Peer),
                        port: Port::Raw(80),
                    },
                ],
                vec![Action::Step; 12],
                vec![Action::TcpRecv { conn: 0, buf: 64 }],
            ]),
            |o| assert!(o.sent.tcp >= 4, "{:?}", o.sent),
        ),
        seed(
            "tcp-syn-flood",
            cat(vec![
                vec![
                    peer_known(),
                    Action::TcpListen {
                        port: Port::Raw(80),
                        backlog: 1,
                    },
                ],
                (0..40).map(|i| ipv4(Ip::Peer, Ip::Ours, syn_from(5000 + i))).collect(),
                vec![DRAIN],
            ]),
            |o| assert_eq!(o.sent.tcp, 40),
        ),
        seed(
            // Found by the fuzzer (a listener's SYN-ACK looped back to itself
            // forever): a spoofed SYN from our own address under a SYN flood.
            "tcp-syn-from-our-own-address",
            vec![
                peer_known(),
                Action::TcpListen {
                    port: Port::Raw(80),
                    backlog: 1,
                },
                ipv4(Ip::Peer, Ip::Ours, syn_from(5000)),
                ipv4(Ip::Peer, Ip::Ours, syn_from(5001)),
                ipv4(Ip::Ours, Ip::Ours, syn_from_to(80, Port::Listener(0))),
                Action::Poll,
            ],
            |o| {
                let t = &o.stats.traffic;
                // A datagram from the wire with our own source address is
                // a martian: dropped before TCP (it once made the listener
                // answer its own looped-back SYN-ACK forever).
                assert_eq!(
                    (
                        drops(o, Drop::Ipv4Martian),
                        drops(o, Drop::TcpSynQueueFull),
                        drops(o, Drop::TcpNoListener),
                        t.loopback
                    ),
                    (1, 0, 0, 0)
                )
            },
        ),
        // ---- driver, device and configuration
        seed(
            "transmit-back-pressure",
            vec![
                peer_known(),
                bind(Port::Zero),
                send_udp(Ip::Peer, Port::Echo, 20000),
                Action::Transmit { accept: 3 },
                Action::Transmit { accept: 1 },
                DRAIN,
            ],
            |o| assert_eq!((o.sent.udp, o.sent.fragments), (1, 14)),
        ),
        seed(
            "small-mtu",
            vec![
                Action::SetMtu { mtu: 576 },
                peer_known(),
                ipv4(Ip::Peer, Ip::Ours, echo(1400)),
                DRAIN,
            ],
            |o| assert_eq!((o.sent.echo_replies, o.sent.fragments), (1, 3)),
        ),
        seed(
            "live-addresses-and-gateway",
            vec![
                Action::AddAddress {
                    ip: Ip::Second,
                    prefix: 24,
                },
                Action::Poll,
                DRAIN,
                arp(ArpOp::Request, Ip::Raw(std::net::Ipv4Addr::new(10, 0, 1, 9)), Ip::Second),
                Action::RemoveAddress { ip: Ip::Second },
                Action::SetGateway { gw: None },
                bind(Port::Zero),
                send_udp(Ip::OffLink, Port::Echo, 8),
                DRAIN,
            ],
            |o| assert_eq!((o.sent.arp_requests, o.sent.arp_replies, o.udp_errors), (2, 1, 1)),
        ),
    ]
}

#[test]
fn seeds_reach_their_paths() {
    let seeds = seeds();
    assert!(seeds.len() >= 50, "{} seeds", seeds.len());
    let mut names = HashSet::new();
    let mut missed = Vec::new();
    for s in &seeds {
        assert!(names.insert(s.name), "two seeds named {}", s.name);
        let bytes = fuzz::encode(&s.actions);
        assert_eq!(fuzz::decode(&bytes), s.actions, "{}: encoding does not round-trip", s.name);
        let outcome = fuzz::execute(&bytes);
        if std::panic::catch_unwind(|| (s.expect)(&outcome)).is_err() {
            eprintln!("seed {} missed its path: {:?}\n{}", s.name, outcome.sent, outcome.stats);
            missed.push(s.name);
        }
    }
    assert!(missed.is_empty(), "seeds that missed their path: {missed:?}");
}

/// The reported failures (see `fuzz/crashes/README.md`), as scripts: each
/// fails a check of the harness until the engine is fixed.
fn crashes() -> Vec<(&'static str, Vec<Action>)> {
    vec![
        (
            "arp-sender-claims-our-mac",
            vec![
                with(arp(ArpOp::Request, Ip::Peer, Ip::Ours), |f| {
                    if let Body::Arp(a) = &mut f.body {
                        a.sha = Mac::Ours;
                    }
                }),
                DRAIN,
            ],
        ),
        (
            "arp-sender-ip-is-loopback",
            vec![arp(ArpOp::Request, Ip::Loopback, Ip::Ours), DRAIN],
        ),
        (
            "loopback-address-accepted-as-source",
            vec![
                peer_known(),
                Action::AddAddress {
                    ip: Ip::Loopback,
                    prefix: 8,
                },
                Action::RemoveAddress { ip: Ip::Ours },
                bind(Port::Zero),
                send_udp(Ip::Peer, Port::Echo, 8),
                DRAIN,
            ],
        ),
        (
            "icmp-error-to-class-e-source",
            vec![
                arp(ArpOp::Reply, Ip::Gateway, Ip::Ours),
                ipv4(Ip::ClassE, Ip::Ours, udp(Port::Discard, 8)),
                DRAIN,
            ],
        ),
        (
            "time-exceeded-about-icmp-error",
            vec![
                peer_known(),
                train(
                    Payload::Error {
                        msg_type: 3,
                        code: 3,
                        rest: 0,
                        quote: Quote::Echo {
                            src: Ip::Ours,
                            dst: Ip::Peer,
                            ident: Ident::Raw(1),
                            seq: 1,
                            cut: 8,
                        },
                    },
                    16,
                    Order::InOrder,
                    Twist::LastKeepsMore,
                ),
                secs(61),
                Action::Poll,
                DRAIN,
            ],
        ),
    ]
}

#[test]
fn seed_files_are_current() {
    let write = std::env::var_os("MNET_WRITE_SEEDS").is_some();
    let seeds = seeds()
        .into_iter()
        .map(|s| (corpus_dir().join(format!("seed-{}", s.name)), s.actions));
    let crashes = crashes().into_iter().map(|(name, actions)| (crashes_dir().join(name), actions));
    for (path, actions) in seeds.chain(crashes) {
        let bytes = fuzz::encode(&actions);
        if write {
            std::fs::write(&path, &bytes).expect("corpus directory is writable");
        } else {
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert!(on_disk == bytes, "{} is stale: rerun with MNET_WRITE_SEEDS=1", path.display());
        }
    }
}

// ---- a mutation fuzzer on stable Rust ------------------------------------------------------

/// Values that often sit at an edge.
const INTERESTING: [u16; 12] = [0, 1, 7, 8, 0x7f, 0x80, 0xff, 576, 1480, 0x7fff, 0xfff8, 0xffff];

fn mutate(rng: &mut SimRng, pool: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = v.len() as u64;
        let at = |rng: &mut SimRng| rng.below(len.max(1)) as usize;
        match rng.below(8) {
            0 if !v.is_empty() => {
                let i = at(rng);
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = at(rng);
                v[i] = rng.next_u64() as u8;
            }
            2 if v.len() >= 2 => {
                let i = at(rng).min(v.len() - 2);
                let x = INTERESTING[rng.below(INTERESTING.len() as u64) as usize];
                v[i..i + 2].copy_from_slice(&x.to_be_bytes());
            }
            3 => {
                let i = at(rng).min(v.len());
                let n = 1 + rng.below(8) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                v.splice(i..i, bytes);
            }
            4 if !v.is_empty() => {
                let i = at(rng);
                let n = (1 + rng.below(16) as usize).min(v.len() - i);
                v.drain(i..i + n);
            }
            5 if !v.is_empty() => {
                let i = at(rng);
                let n = (1 + rng.below(32) as usize).min(v.len() - i);
                let copy = v[i..i + n].to_vec();
                let j = at(rng).min(v.len());
                v.splice(j..j, copy);
            }
            6 if !pool.is_empty() => {
                // Splice: the head of this input, the tail of another.
                let other = &pool[rng.below(pool.len() as u64) as usize];
                let i = at(rng).min(v.len());
                let j = rng.below(other.len() as u64 + 1) as usize;
                v.truncate(i);
                v.extend_from_slice(&other[j.min(other.len())..]);
            }
            _ => {
                // Append a whole action of another input.
                if let Some(other) = pool.get(rng.below(pool.len().max(1) as u64) as usize) {
                    let actions = fuzz::decode(other);
                    if let Some(a) = actions.get(rng.below(actions.len().max(1) as u64) as usize) {
                        v.extend_from_slice(&fuzz::encode(std::slice::from_ref(a)));
                    }
                }
            }
        }
    }
    v.truncate(4096);
    v
}

/// Which paths a run took, coarsely: the drop reasons that happened and
/// the traffic counters that moved (0, 1, 2-3, 4 or more). New signatures
/// join the pool.
fn signature(o: &Outcome) -> Vec<u8> {
    let bucket = |n: u64| (64 - n.leading_zeros()).min(3) as u8;
    let t = &o.stats.traffic;
    let mut sig: Vec<u8> = Drop::ALL.iter().map(|d| u8::from(o.stats.drops(*d) > 0)).collect();
    for n in [t.ipv4_reassembled, t.ipv4_frags_out, t.icmpv4_out, t.udp_out, t.arp_out, t.loopback] {
        sig.push(bucket(n));
    }
    for n in [o.udp_received, o.udp_errors, o.echo_replies, o.echo_errors, o.sent.dst_unreachable] {
        sig.push(bucket(n as u64));
    }
    sig
}

static PANIC_MESSAGE: Mutex<String> = Mutex::new(String::new());

#[test]
#[ignore = "a fuzzer run: MNET_FUZZ_SECS=300 ... -- --ignored --nocapture"]
fn mutate_corpus() {
    let secs: u64 = std::env::var("MNET_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = std::env::var("MNET_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = SimRng::new(seed);
    let mut pool: Vec<Vec<u8>> = corpus().into_iter().map(|(_, d)| d).collect();
    assert!(!pool.is_empty());
    let mut seen: HashSet<Vec<u8>> = pool.iter().map(|d| signature(&fuzz::execute(d))).collect();
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut m) = PANIC_MESSAGE.lock() {
            *m = info.to_string();
        }
    }));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut crashes) = (0u64, Vec::new());
    while Instant::now() < deadline && crashes.len() < 10 {
        let parent = &pool[rng.below(pool.len() as u64) as usize];
        let input = mutate(&mut rng, &pool, parent);
        runs += 1;
        match std::panic::catch_unwind(|| fuzz::execute(&input)) {
            Ok(o) => {
                if seen.insert(signature(&o)) && pool.len() < 5000 {
                    pool.push(input);
                }
            }
            Err(_) => {
                let msg = PANIC_MESSAGE.lock().map(|m| m.clone()).unwrap_or_default();
                let hash = input
                    .iter()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
                let dir = crashes_dir();
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("crash-{hash:016x}"));
                let _ = std::fs::write(&path, &input);
                eprintln!("CRASH {} : {msg}", path.display());
                crashes.push(msg);
            }
        }
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "{runs} runs, pool {} inputs, {} signatures, {} crashes",
        pool.len(),
        seen.len(),
        crashes.len()
    );
    assert!(crashes.is_empty(), "crashes: {crashes:#?}");
}
