//! IPv6 across the simulated network: a TCP transfer over a lossy,
//! reordering link checked by SHA-256, fragmented UDP under loss (only
//! whole datagrams are delivered), and duplicate address detection among
//! three stacks on a hub.

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use common::*;
use mnet::config::{Config, Ipv6Config, Ipv6Mode};
use mnet::executor::Driver;
use mnet::ip::ipv6_addr::AddrState;
use mnet::socket::{Shutdown, timeout};
use mnet::wire::IpCidr;
use mnet::{Duration, Instant, Net};
use mnet_sim::{LinkConfig, Ratio};

/// Host `n` with IPv6 only: link-local from its MAC and fd00::n/64.
fn v6_config(n: u8) -> Config {
    let mut c = Config::new(mac(n), [n; 32]);
    c.ipv6 = Ipv6Config {
        mode: Ipv6Mode::Eui64,
        ..Ipv6Config::default()
    };
    c.address(IpCidr::new(IpAddr::V6(v6(n)), 64).expect("prefix"))
}

fn v6(n: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(n))
}

/// Wait until `net`'s duplicate address detection is over.
async fn dad_done(net: &Net) {
    while net.with(|s| s.ipv6_status().dad_pending) {
        net.sleep(Duration::from_millis(10)).await;
    }
}

fn lossy() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(5),
        loss: Ratio::from_percent(3),
        reorder: Ratio::from_percent(3),
        bandwidth_bps: Some(50_000_000),
        queue_frames: 200,
        ..LinkConfig::default()
    }
}

#[test]
fn tcp_over_ipv6_on_a_lossy_link() {
    const BYTES: u64 = 4_000_000;
    let mut sim = Sim::new(61);
    let (a_dev, b_dev) = sim.network.link(lossy());
    let (a, b) = (stack(v6_config(1)), stack(v6_config(2)));
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let listener = b
        .tcp_listen(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80), 4)
        .expect("listen");
    let received = std::rc::Rc::new(std::cell::RefCell::new(None));
    let out = received.clone();
    let bb = b.clone();
    sim.spawner().spawn(async move {
        let (mut s, peer) = listener.accept().await.expect("accept");
        let mut hash = Sha256::new();
        let mut n = 0u64;
        let mut buf = vec![0u8; 16384];
        loop {
            let k = s.read(&mut buf).await.expect("read");
            if k == 0 {
                break;
            }
            hash.update(&buf[..k]);
            n += k as u64;
        }
        s.close().await.expect("close");
        *out.borrow_mut() = Some((peer, n, hash.finish(), bb.now()));
    });
    let main = async {
        dad_done(&a).await;
        dad_done(&b).await;
        let mut s = a.tcp_connect(SocketAddr::new(IpAddr::V6(v6(2)), 80)).await.expect("connect");
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 16384];
        let mut off = 0u64;
        while off < BYTES {
            let k = (BYTES - off).min(buf.len() as u64) as usize;
            pattern_fill(7, off, &mut buf[..k]);
            hash.update(&buf[..k]);
            s.write_all(&buf[..k]).await.expect("write");
            off += k as u64;
        }
        s.shutdown(Shutdown::Write).await.expect("shutdown");
        let mut tail = [0u8; 8];
        assert_eq!(s.read(&mut tail).await.expect("read FIN"), 0);
        s.close().await.expect("close");
        hash.finish()
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut host_b];
    let sent = sim.run(drivers, Instant::from_secs(120), main);
    let (peer, n, got, at) = received.borrow_mut().take().expect("B finished");
    assert_eq!(peer.ip(), IpAddr::V6(v6(1)));
    assert_eq!(n, BYTES);
    assert_eq!(hex(&got), hex(&sent));
    // Under 3 % loss each way the transfer needs retransmissions, yet it
    // ends in bounded virtual time; no segment was fragmented.
    assert!(at < Instant::from_secs(60), "took until {at:?}");
    assert_eq!(a.stats().traffic.ipv6_frags_out, 0);
}

#[test]
fn fragmented_udp_under_loss_delivers_only_whole_datagrams() {
    let mut sim = Sim::new(62);
    let (a_dev, b_dev) = sim.network.link(LinkConfig {
        loss: Ratio::from_percent(10),
        ..LinkConfig::default()
    });
    let (a, b) = (stack(v6_config(1)), stack(v6_config(2)));
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let main = async {
        dad_done(&a).await;
        dad_done(&b).await;
        let rx = b.udp_bind(SocketAddr::new(IpAddr::V6(v6(2)), 9)).expect("bind");
        let tx = a.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).expect("bind");
        let pattern = |i: u32| -> Vec<u8> { (0..5000u32).map(|k| (k ^ i) as u8).collect() };
        let mut seen = std::collections::BTreeSet::new();
        let mut buf = vec![0u8; 6000];
        let mut check = |n: usize, buf: &[u8]| {
            // Datagrams may arrive late (held while the neighbour was
            // resolved again): identify each by its first byte.
            let i = u32::from(buf[0]);
            assert!(
                n == 5000 && buf[..n] == pattern(i)[..],
                "datagram {i} arrived corrupted ({n} bytes)"
            );
            assert!(seen.insert(i), "datagram {i} delivered twice");
        };
        for i in 0..100u32 {
            tx.send_to(&pattern(i), SocketAddr::new(IpAddr::V6(v6(2)), 9)).await.expect("send");
            while let Ok(Ok((n, _))) = timeout(&b, Duration::from_millis(50), rx.recv_from(&mut buf)).await {
                check(n, &buf);
            }
        }
        while let Ok(Ok((n, _))) = timeout(&b, Duration::from_secs(3), rx.recv_from(&mut buf)).await {
            check(n, &buf);
        }
        seen.len()
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut host_b];
    let whole = sim.run(drivers, Instant::from_secs(120), main);
    // Four fragments each at 10 % loss: about 0.9^4 = 66 % arrive whole
    // (first try of neighbour discovery may cost one too).
    assert!((40..=90).contains(&whole), "{whole} of 100 datagrams arrived");
    assert!(b.stats().traffic.ipv6_reassembled >= whole as u64);
}

#[test]
fn duplicate_address_detection_on_a_hub() {
    let mut sim = Sim::new(63);
    let ports = sim.network.hub(3, LinkConfig::default());
    // Hosts 1 and 2 both want fd00::7; host 3 already has it.
    let cfg = |n: u8| {
        let mut c = v6_config(n);
        c.addresses.push(IpCidr::new(IpAddr::V6(v6(7)), 64).expect("prefix"));
        c
    };
    let nets = [stack(cfg(3)), stack(v6_config(1)), stack(v6_config(2))];
    let mut hosts: Vec<_> = nets.iter().zip(ports).map(|(n, d)| Host::new(n, d)).collect();
    let main = async {
        dad_done(&nets[0]).await;
        for n in &nets[1..] {
            n.with(|s| s.add_address(s.now(), IpCidr::new(IpAddr::V6(v6(7)), 64).expect("prefix")))
                .expect("add");
        }
        for n in &nets {
            dad_done(n).await;
        }
    };
    let mut drivers: Vec<&mut dyn Driver> = hosts.iter_mut().map(|h| h as &mut dyn Driver).collect();
    sim.run(&mut drivers, Instant::from_secs(30), main);
    let state = |n: &Net| n.with(|s| s.ipv6_addresses().find(|e| e.addr == v6(7)).map(|e| e.state));
    assert_eq!(state(&nets[0]), Some(AddrState::Preferred));
    assert_eq!(state(&nets[1]), Some(AddrState::Duplicate));
    assert_eq!(state(&nets[2]), Some(AddrState::Duplicate));
}
