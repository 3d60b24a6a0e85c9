//! `mnet ping HOST [-c COUNT] [-s SIZE] [-i SECONDS]`, printed like ping(8).

use std::cell::RefCell;
use std::rc::Rc;

use mnet::Duration;
use mnet_apps::ping::{PingConfig, PingEvent, PingStats, ping};

use crate::args::{Cli, PingArgs};
use crate::host::run_on_tap;

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// One line per event, as ping(8) prints it.
pub fn event_line(ev: &PingEvent) -> String {
    match ev {
        PingEvent::Reply { from, seq, bytes, rtt } => format!("{bytes} bytes from {from}: icmp_seq={seq} time={} ms", ms(*rtt)),
        PingEvent::Corrupt { from, seq } => format!("From {from} icmp_seq={seq} wrong data in reply"),
        PingEvent::Error { from, seq, error } => {
            let what = match error {
                mnet::Error::HostUnreachable => "Destination Host Unreachable".to_string(),
                mnet::Error::NetworkUnreachable => "Destination Net Unreachable".to_string(),
                mnet::Error::ConnectionRefused => "Destination Port Unreachable".to_string(),
                e => e.to_string(),
            };
            format!("From {from} icmp_seq={seq} {what}")
        }
        PingEvent::SendFailed { seq, error } => format!("ping: sendmsg (icmp_seq={seq}): {error}"),
    }
}

/// The ping(8) summary.
pub fn summary(host: &str, s: &PingStats, elapsed: Duration) -> String {
    let mut out = format!("--- {host} ping statistics ---\n");
    out += &format!("{} packets transmitted, {} received", s.transmitted, s.received);
    if s.errors > 0 {
        out += &format!(", +{} errors", s.errors);
    }
    out += &format!(", {}% packet loss, time {}ms\n", s.loss_percent(), elapsed.as_millis());
    if let Some((min, avg, max, mdev)) = s.rtt() {
        out += &format!("rtt min/avg/max/mdev = {}/{}/{}/{} ms\n", ms(min), ms(avg), ms(max), ms(mdev));
    }
    out
}

/// Run the ping with its counters in `stats`. The borrow is held across
/// the awaits on purpose: when an interrupt drops this future, the counters
/// stay behind for the summary (one task, so nothing else borrows them).
#[allow(clippy::await_holding_refcell_ref)]
async fn ping_into(net: mnet::Net, cfg: PingConfig, stats: Rc<RefCell<PingStats>>) -> u8 {
    crate::host::wait_for_ipv6(&net, cfg.dst).await;
    // IP header + 8 bytes of ICMP header, like ping(8).
    let overhead = if cfg.dst.is_ipv6() { 48 } else { 28 };
    println!(
        "PING {} ({}) {}({}) bytes of data.",
        cfg.dst,
        cfg.dst,
        cfg.size,
        cfg.size + overhead
    );
    let mut st = stats.borrow_mut();
    let r = ping(&net, &cfg, &mut st, |ev| println!("{}", event_line(ev))).await;
    match r {
        Ok(()) if st.all_answered() => 0,
        Ok(()) => 1,
        Err(e) => {
            eprintln!("mnet: ping: {e}");
            2
        }
    }
}

pub fn run(cli: &Cli, args: &PingArgs) -> u8 {
    let mut cfg = PingConfig::new(args.host);
    cfg.count = args.count;
    cfg.size = usize::from(args.size);
    cfg.interval = Duration::from_secs_f64(args.interval);
    cfg.wait = Duration::from_secs_f64(args.wait);
    let stats = Rc::new(RefCell::new(PingStats::default()));
    let host = args.host.to_string();
    let started = std::time::Instant::now();
    let app_stats = stats.clone();
    let end_stats = stats.clone();
    let code = run_on_tap(
        cli,
        |net| ping_into(net, cfg, app_stats),
        move || if end_stats.borrow().all_answered() { 0 } else { 1 },
    );
    print!(
        "\n{}",
        summary(&host, &stats.borrow(), Duration::from_millis(started.elapsed().as_millis() as u64))
    );
    code
}
