//! The smoltcp side of mnet's benchmark (`bench/run`): one TCP connection
//! on a TAP device, served by smoltcp (from crates.io) with CUBIC and
//! large socket buffers, so the comparison with mnet is fair.
//!
//! ```text
//! smoltcp-peer TAP CIDR sink PORT          read to EOF, discard, close
//! smoltcp-peer TAP CIDR source PORT BYTES  write BYTES, close
//! smoltcp-peer TAP CIDR echo PORT          echo until EOF, close
//! ```
//!
//! Prints `listening on PORT` when ready and `done: N bytes in, M out`
//! when the connection is closed, then exits. The loop is smoltcp's own
//! example's: poll the interface, move data, wait on the fd until
//! `poll_at` (no busy polling). `SMOLTCP_PEER_DEBUG=1` prints the socket
//! state after every poll (to stderr).

use std::io::Write;
use std::os::unix::io::AsRawFd;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Medium, TunTapInterface, wait as phy_wait};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, IpCidr};

/// Receive and send buffer of the socket (window scaling follows).
const BUFFER: usize = 4 << 20;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Sink,
    Source(u64),
    Echo,
}

fn usage() -> ! {
    eprintln!("usage: smoltcp-peer TAP CIDR (sink PORT | source PORT BYTES | echo PORT)");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(tap), Some(cidr), Some(mode), Some(port)) = (args.first(), args.get(1), args.get(2), args.get(3)) else {
        usage()
    };
    let cidr: IpCidr = cidr.parse().unwrap_or_else(|_| usage());
    let port: u16 = port.parse().unwrap_or_else(|_| usage());
    let mode = match mode.as_str() {
        "sink" => Mode::Sink,
        "echo" => Mode::Echo,
        "source" => Mode::Source(args.get(4).and_then(|b| b.parse().ok()).unwrap_or_else(|| usage())),
        _ => usage(),
    };

    let mut device = TunTapInterface::new(tap, Medium::Ethernet).expect("open the tap");
    let fd = device.as_raw_fd();
    let mut config = Config::new(EthernetAddress([0x02, 0, 0, 0, 0, 0x03]).into());
    config.random_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut iface = Interface::new(config, &mut device, Instant::now());
    iface.update_ip_addrs(|a| a.push(cidr).expect("one address"));

    let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; BUFFER]), tcp::SocketBuffer::new(vec![0; BUFFER]));
    socket.set_congestion_control(tcp::CongestionControl::Cubic);
    socket.set_nagle_enabled(mode != Mode::Echo);
    socket.listen(port).expect("listen");
    let mut sockets = SocketSet::new(vec![]);
    let handle = sockets.add(socket);
    println!("listening on {port}");
    let _ = std::io::stdout().flush();

    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let mut connected = false;
    let mut closing = false;
    loop {
        let now = Instant::now();
        iface.poll(now, &mut device, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(handle);
        if s.is_active() {
            connected = true;
        }
        match mode {
            Mode::Sink => {
                while s.can_recv() {
                    bytes_in += s.recv(|b| (b.len(), b.len())).unwrap_or(0) as u64;
                }
            }
            Mode::Source(total) => {
                while s.can_send() && bytes_out < total {
                    let left = usize::try_from(total - bytes_out).unwrap_or(usize::MAX);
                    bytes_out += s
                        .send(|b| {
                            let n = b.len().min(left);
                            (n, n)
                        })
                        .unwrap_or(0) as u64;
                }
                if bytes_out >= total && !closing && connected {
                    s.close();
                    closing = true;
                }
            }
            Mode::Echo => {
                let mut tmp = [0u8; 65536];
                while s.can_recv() && s.can_send() {
                    let room = s.send_capacity() - s.send_queue();
                    let n = s.recv_slice(&mut tmp[..room.min(65536)]).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    bytes_in += n as u64;
                    bytes_out += s.send_slice(&tmp[..n]).unwrap_or(0) as u64;
                }
            }
        }
        // The peer's FIN: close our side once everything was read (and echoed).
        if !closing && !matches!(mode, Mode::Source(_)) && s.state() == tcp::State::CloseWait && !s.can_recv() {
            s.close();
            closing = true;
        }
        if std::env::var_os("SMOLTCP_PEER_DEBUG").is_some() {
            eprintln!("{:?} closing={closing}", s.state());
        }
        if connected && matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait) {
            break;
        }
        match iface.poll_at(now, &sockets) {
            Some(at) if now < at => phy_wait(fd, Some(at - now)).expect("wait"),
            Some(_) => {}
            None => phy_wait(fd, Some(Duration::from_millis(1000))).expect("wait"),
        }
    }
    // Let our last ACK/FIN leave.
    let now = Instant::now();
    iface.poll(now, &mut device, &mut sockets);
    println!("done: {bytes_in} bytes in, {bytes_out} out");
}
