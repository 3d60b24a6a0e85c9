//! `mnet iperf3-server [--port 5201] [--once]`: answers the stock
//! `iperf3 -c` (see `mnet_apps::iperf3`).
//!
//! Output (tests parse it; one fact a line, on stdout):
//!
//! ```text
//! iperf3-server: listening on 0.0.0.0:5201
//! iperf3-server: test 1 from 10.0.0.1:40000: tcp, 2 streams, mnet receives, 10 s, block 131072, client 3.12
//! iperf3-server: test 1 stream 1 from 10.0.0.1:40002: received 1048576 bytes in 1.000 s (8.4 Mbit/s)
//! iperf3-server: test 1 stream 3 from 10.0.0.1:40004: received 1048576 bytes in 1.000 s (8.4 Mbit/s)
//! iperf3-server: test 1: received 2097152 bytes in 1.000 s (16.8 Mbit/s)
//! iperf3-server: done: 1 tests, 0 failed
//! ```
//!
//! Reverse tests say `sent` and add `retransmits N` to each stream line;
//! UDP tests add `packets N lost M out-of-order K jitter J ms` (reverse
//! ones `packets N`, the datagrams sent);
//! a failed test prints `iperf3-server: test 1 error: <what>`. With
//! `--once` the command exits after one test: 0 when it succeeded.

use mnet::Duration;
use mnet_apps::iperf3::{Iperf3Config, Iperf3Event, TestParams, TestReport, iperf3_server};

use crate::args::{Cli, Iperf3Args};
use crate::host::{random_seed, run_on_tap_with_spawner};
use crate::tcp_cmds::mbit_per_s;

const NAME: &str = "iperf3-server";

/// User and system CPU time of this process, from /proc/self/stat
/// (fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn cpu_time() -> (Duration, Duration) {
    let ticks = |t: u64| Duration::from_millis(t.saturating_mul(10));
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (Duration::ZERO, Duration::ZERO);
    };
    // The command name (field 2) may hold spaces: count after its ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    let get = |n: usize| fields.get(n - 3).copied().unwrap_or(0);
    (ticks(get(14)), ticks(get(15)))
}

fn describe_params(p: &TestParams) -> String {
    let mut parts = vec![
        if p.udp { "udp" } else { "tcp" }.to_owned(),
        format!("{} streams", p.parallel),
        if p.reverse { "mnet sends" } else { "mnet receives" }.to_owned(),
    ];
    if p.bytes > 0 {
        parts.push(format!("{} bytes", p.bytes));
    } else if p.blocks > 0 {
        parts.push(format!("{} blocks", p.blocks));
    } else {
        parts.push(format!("{} s", p.time));
    }
    if p.omit > 0 {
        parts.push(format!("omit {} s", p.omit));
    }
    parts.push(format!("block {}", p.len));
    if let Some(v) = &p.client_version {
        parts.push(format!("client {v}"));
    }
    parts.join(", ")
}

/// The lines printed for a finished test.
fn report_lines(r: &TestReport) -> Vec<String> {
    let mut lines = Vec::new();
    let verb = if r.params.reverse { "sent" } else { "received" };
    let secs = r.duration.as_secs_f64();
    for s in &r.streams {
        let mut line = format!(
            "{NAME}: test {} stream {} from {}: {verb} {} bytes in {secs:.3} s ({:.1} Mbit/s)",
            r.id,
            s.id,
            s.peer,
            s.bytes,
            mbit_per_s(s.bytes, r.duration)
        );
        if let Some(n) = s.retransmits {
            line.push_str(&format!(" retransmits {n}"));
        }
        if let Some(u) = s.udp.as_ref().filter(|_| r.params.reverse) {
            line.push_str(&format!(" packets {}", u.packets));
        } else if let Some(u) = &s.udp {
            line.push_str(&format!(
                " packets {} lost {} out-of-order {} jitter {:.3} ms",
                u.packets,
                u.lost,
                u.out_of_order,
                u.jitter * 1000.0
            ));
        }
        if let Some(e) = s.error {
            line.push_str(&format!(" (ended early: {e})"));
        }
        lines.push(line);
    }
    match &r.error {
        Some(e) => lines.push(format!("{NAME}: test {} error: {e}", r.id)),
        None => lines.push(format!(
            "{NAME}: test {}: {verb} {} bytes in {secs:.3} s ({:.1} Mbit/s)",
            r.id,
            r.total_bytes(),
            mbit_per_s(r.total_bytes(), r.duration)
        )),
    }
    lines
}

/// `mnet iperf3-server [--port P] [--once]`.
pub fn run(cli: &Cli, args: &Iperf3Args) -> u8 {
    let mut cfg = Iperf3Config::new(args.port).once(args.once);
    cfg.seed = random_seed();
    cfg.cpu_time = Some(cpu_time);
    run_on_tap_with_spawner(
        cli,
        move |net, spawner| async move {
            let events = |ev: &Iperf3Event| match ev {
                Iperf3Event::Listening(addr) => println!("{NAME}: listening on {addr}"),
                Iperf3Event::Started { id, peer, params } => {
                    println!("{NAME}: test {id} from {peer}: {}", describe_params(params))
                }
                Iperf3Event::Finished(report) => {
                    for line in report_lines(report) {
                        println!("{line}");
                    }
                }
                Iperf3Event::Denied { peer } => println!("{NAME}: denied {peer}: a test is running"),
            };
            match iperf3_server(&net, &spawner, cfg, events).await {
                Ok(s) => {
                    println!("{NAME}: done: {} tests, {} failed", s.tests, s.failed);
                    u8::from(s.failed > 0)
                }
                Err(e) => {
                    eprintln!("mnet: {NAME}: {e}");
                    1
                }
            }
        },
        || 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mnet_apps::iperf3::StreamReport;

    #[test]
    fn cpu_time_reads_this_process() {
        // Burn a little CPU so the count cannot stay at zero by accident.
        let t0 = std::time::Instant::now();
        let mut x = 0u64;
        while t0.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        let (user, sys) = cpu_time();
        assert!(user + sys >= Duration::from_millis(10), "{user:?} {sys:?}");
    }

    #[test]
    fn lines_for_a_reverse_test() {
        let peer = "10.0.0.1:40000".parse().unwrap();
        let r = TestReport {
            id: 2,
            peer,
            params: TestParams {
                reverse: true,
                parallel: 2,
                time: 1,
                len: 131072,
                ..TestParams::default()
            },
            streams: vec![
                StreamReport {
                    id: 1,
                    peer,
                    bytes: 1_000_000,
                    retransmits: Some(3),
                    error: None,
                    udp: None,
                },
                StreamReport {
                    id: 3,
                    peer,
                    bytes: 500_000,
                    retransmits: Some(0),
                    error: None,
                    udp: None,
                },
            ],
            duration: Duration::from_secs(1),
            error: None,
        };
        assert_eq!(
            report_lines(&r),
            [
                "iperf3-server: test 2 stream 1 from 10.0.0.1:40000: sent 1000000 bytes in 1.000 s (8.0 Mbit/s) retransmits 3",
                "iperf3-server: test 2 stream 3 from 10.0.0.1:40000: sent 500000 bytes in 1.000 s (4.0 Mbit/s) retransmits 0",
                "iperf3-server: test 2: sent 1500000 bytes in 1.000 s (12.0 Mbit/s)",
            ]
        );
        assert_eq!(describe_params(&r.params), "tcp, 2 streams, mnet sends, 1 s, block 131072");
    }
}
