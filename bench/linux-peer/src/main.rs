//! The Linux side of mnet's connection-rate benchmark (`bench/run`'s
//! `conns` test): kernel sockets driven by epoll, fast enough that the
//! server — mnet on a TAP, or Linux behind a veth — is what is measured.
//!
//! ```text
//! linux-peer client conns HOST PORT [--seconds S] [--concurrency N] [--threads T]
//!     open connections as fast as it can for S seconds (5): N non-blocking
//!     connects in flight (64), each closed (FIN) as soon as it completes,
//!     spread over T threads (1); prints one JSON line
//! linux-peer serve accept PORT
//!     accept and close connections until killed (Linux <-> Linux)
//! linux-peer client pingpong HOST PORT N
//!     N 1-byte round trips on one connection (TCP_NODELAY); prints
//!     {"round_trips": N, "seconds": S} (the clock runs from connect())
//! linux-peer serve echo PORT
//!     echo one connection byte for byte (TCP_NODELAY), then exit
//! ```
//!
//! The client's JSON line: `connections` (completed connects), `seconds`,
//! `failed` (errno name -> count), `pending` (connects still in flight at
//! the end, not counted), `slow` (connects that took 1 s or more: the
//! server dropped a SYN or an ACK and the kernel retransmitted),
//! `max_connect_ms`, and `per_second` (completed connects in each second,
//! to show whether the rate is sustained).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Completed connects slower than this count as `slow`.
const SLOW: Duration = Duration::from_secs(1);

fn usage() -> ! {
    eprintln!(
        "usage: linux-peer client conns HOST PORT [--seconds S] [--concurrency N] [--threads T]\n       linux-peer serve accept PORT\n       linux-peer client pingpong HOST PORT N\n       linux-peer serve echo PORT"
    );
    std::process::exit(2)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A short, stable name for an errno (the JSON keys).
fn errno_name(e: i32) -> String {
    match e {
        libc::ECONNREFUSED => "ECONNREFUSED".into(),
        libc::ECONNRESET => "ECONNRESET".into(),
        libc::ETIMEDOUT => "ETIMEDOUT".into(),
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL".into(),
        libc::EADDRINUSE => "EADDRINUSE".into(),
        libc::EHOSTUNREACH => "EHOSTUNREACH".into(),
        libc::ENETUNREACH => "ENETUNREACH".into(),
        libc::EMFILE => "EMFILE".into(),
        libc::ENOBUFS => "ENOBUFS".into(),
        libc::EAGAIN => "EAGAIN".into(),
        e => format!("errno {e}"),
    }
}

fn sockaddr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = port.to_be();
    sa.sin_addr = libc::in_addr {
        s_addr: u32::from(ip).to_be(),
    };
    sa
}

/// What one client thread counted.
#[derive(Default)]
struct Counts {
    connections: u64,
    failed: BTreeMap<String, u64>,
    pending: u64,
    slow: u64,
    max_connect: Duration,
    per_second: Vec<u64>,
}

impl Counts {
    fn merge(&mut self, o: Counts) {
        self.connections += o.connections;
        for (k, v) in o.failed {
            *self.failed.entry(k).or_insert(0) += v;
        }
        self.pending += o.pending;
        self.slow += o.slow;
        self.max_connect = self.max_connect.max(o.max_connect);
        if self.per_second.len() < o.per_second.len() {
            self.per_second.resize(o.per_second.len(), 0);
        }
        for (i, n) in o.per_second.into_iter().enumerate() {
            self.per_second[i] += n;
        }
    }

    fn fail(&mut self, e: i32) {
        *self.failed.entry(errno_name(e)).or_insert(0) += 1;
    }

    fn done(&mut self, t0: Instant, started: Instant, now: Instant) {
        self.connections += 1;
        let took = now - started;
        if took >= SLOW {
            self.slow += 1;
        }
        self.max_connect = self.max_connect.max(took);
        let sec = (now - t0).as_secs() as usize;
        if self.per_second.len() <= sec {
            self.per_second.resize(sec + 1, 0);
        }
        self.per_second[sec] += 1;
    }
}

/// One thread: `concurrency` connects in flight until `end`.
fn conns_thread(addr: libc::sockaddr_in, concurrency: usize, t0: Instant, end: Instant) -> Counts {
    let mut c = Counts::default();
    // SAFETY: plain system calls on descriptors this function owns.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        panic!("epoll_create1: {}", std::io::Error::last_os_error());
    }
    // When each in-flight descriptor started its connect (index: fd).
    let mut started: Vec<Option<Instant>> = Vec::new();
    let mut inflight = 0usize;
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Fill up to `concurrency`; an immediate failure (no port free,
        // no buffer) stops the filling until the next wait.
        while inflight < concurrency {
            // SAFETY: creating a socket; the result is checked.
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                c.fail(errno());
                break;
            }
            // SAFETY: `addr` is a valid sockaddr_in of the size given.
            let r = unsafe {
                libc::connect(
                    fd,
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            let e = if r == 0 { 0 } else { errno() };
            if r == 0 {
                c.done(t0, now, Instant::now());
                // SAFETY: fd is ours.
                unsafe { libc::close(fd) };
                continue;
            }
            if e != libc::EINPROGRESS {
                c.fail(e);
                // SAFETY: fd is ours.
                unsafe { libc::close(fd) };
                break;
            }
            let mut ev = libc::epoll_event {
                events: libc::EPOLLOUT as u32,
                u64: fd as u64,
            };
            // SAFETY: ep and fd are ours; ev is valid.
            if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
                panic!("epoll_ctl: {}", std::io::Error::last_os_error());
            }
            let i = fd as usize;
            if started.len() <= i {
                started.resize(i + 1, None);
            }
            started[i] = Some(now);
            inflight += 1;
        }
        let wait_ms = (end - now).as_millis().clamp(1, 10) as i32;
        // SAFETY: `events` has room for its length.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, wait_ms) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            panic!("epoll_wait: {}", std::io::Error::last_os_error());
        }
        let now = Instant::now();
        for ev in &events[..n as usize] {
            let fd = ev.u64 as i32;
            let mut err: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: err/len are valid for SO_ERROR.
            unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            let begun = started.get_mut(fd as usize).and_then(Option::take).unwrap_or(now);
            if err == 0 {
                c.done(t0, begun, now);
            } else {
                c.fail(err);
            }
            // SAFETY: fd is ours; closing also removes it from the epoll set.
            unsafe { libc::close(fd) };
            inflight -= 1;
        }
    }
    // Connects still in flight are not counted.
    for (fd, s) in started.iter().enumerate() {
        if s.is_some() {
            c.pending += 1;
            // SAFETY: fd is ours.
            unsafe { libc::close(fd as i32) };
        }
    }
    // SAFETY: ep is ours.
    unsafe { libc::close(ep) };
    c
}

fn client_conns(host: Ipv4Addr, port: u16, seconds: f64, concurrency: usize, threads: usize) {
    let addr = sockaddr(host, port);
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(seconds);
    let per = concurrency.div_ceil(threads).max(1);
    let mut total = Counts::default();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads).map(|_| s.spawn(move || conns_thread(addr, per, t0, end))).collect();
        for h in hs {
            total.merge(h.join().expect("client thread"));
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    let failed: Vec<String> = total.failed.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
    let per_second: Vec<String> = total.per_second.iter().map(u64::to_string).collect();
    println!(
        "{{\"connections\": {}, \"seconds\": {:.3}, \"failed\": {{{}}}, \"pending\": {}, \"slow\": {}, \"max_connect_ms\": {:.1}, \"per_second\": [{}]}}",
        total.connections,
        secs,
        failed.join(", "),
        total.pending,
        total.slow,
        total.max_connect.as_secs_f64() * 1e3,
        per_second.join(", ")
    );
}

fn serve_accept(port: u16) -> ! {
    // SAFETY: plain system calls on descriptors this function owns; every
    // pointer passed is to a live local of the size given.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let sa = sockaddr(Ipv4Addr::UNSPECIFIED, port);
        let r = libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert!(r == 0, "bind: {}", std::io::Error::last_os_error());
        // The same accept queue as mnet's servers (DEFAULT_BACKLOG).
        assert!(libc::listen(fd, 1024) == 0, "listen: {}", std::io::Error::last_os_error());
        println!("listening on {port}");
        std::io::stdout().flush().ok();
        loop {
            let c = libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC);
            if c >= 0 {
                libc::close(c);
            }
        }
    }
}

/// N 1-byte round trips: write one byte, read it back.
fn client_pingpong(host: Ipv4Addr, port: u16, n: u64) {
    use std::io::Read;
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect((host, port)).unwrap_or_else(|e| panic!("connect {host}:{port}: {e}"));
    s.set_nodelay(true).expect("TCP_NODELAY");
    let mut b = [0u8; 1];
    for i in 0..n {
        b[0] = i as u8;
        s.write_all(&b).expect("write");
        s.read_exact(&mut b).expect("read the echo");
        assert_eq!(b[0], i as u8, "echo of round trip {i}");
    }
    s.shutdown(std::net::Shutdown::Write).ok();
    println!("{{\"round_trips\": {n}, \"seconds\": {:.6}}}", t0.elapsed().as_secs_f64());
}

/// Echo one connection until its end, then exit.
fn serve_echo(port: u16) {
    use std::io::Read;
    let l = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).unwrap_or_else(|e| panic!("bind {port}: {e}"));
    println!("listening on {port}");
    std::io::stdout().flush().ok();
    let (mut s, _) = l.accept().expect("accept");
    s.set_nodelay(true).expect("TCP_NODELAY");
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(k) => s.write_all(&buf[..k]).expect("echo"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["client", "conns", host, port, rest @ ..] => {
            let host: Ipv4Addr = host.parse().unwrap_or_else(|_| usage());
            let port: u16 = port.parse().unwrap_or_else(|_| usage());
            let (mut seconds, mut concurrency, mut threads) = (5.0f64, 64usize, 1usize);
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                let v = it.next().unwrap_or_else(|| usage());
                match *flag {
                    "--seconds" => seconds = v.parse().unwrap_or_else(|_| usage()),
                    "--concurrency" => concurrency = v.parse().unwrap_or_else(|_| usage()),
                    "--threads" => threads = v.parse().unwrap_or_else(|_| usage()),
                    _ => usage(),
                }
            }
            client_conns(host, port, seconds, concurrency.max(1), threads.max(1));
        }
        ["serve", "accept", port] => serve_accept(port.parse().unwrap_or_else(|_| usage())),
        ["client", "pingpong", host, port, n] => client_pingpong(
            host.parse().unwrap_or_else(|_| usage()),
            port.parse().unwrap_or_else(|_| usage()),
            n.parse().unwrap_or_else(|_| usage()),
        ),
        ["serve", "echo", port] => serve_echo(port.parse().unwrap_or_else(|_| usage())),
        _ => usage(),
    }
}
