//! A UDP echo server (port 7) on a TAP device, with mnet's sockets used
//! from tokio tasks.
//!
//! ```text
//! ip tuntap add dev tap0 mode tap
//! ip addr add 10.0.0.1/24 dev tap0 && ip link set tap0 up
//! cargo run -p mnet-tap --example tokio_udp_echo --features tokio -- tap0 10.0.0.2/24
//! echo hello | socat - udp:10.0.0.2:7
//! ```

use std::io::Read;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(tap), Some(cidr)) = (args.next(), args.next()) else {
        eprintln!("usage: tokio_udp_echo TAPNAME ADDRESS/PREFIX   (e.g. tap0 10.0.0.2/24)");
        std::process::exit(2);
    };
    let cidr = cidr.parse().map_err(|e| std::io::Error::other(format!("address {cidr:?}: {e}")))?;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    let config = mnet::Config::new(mnet_tap::random_mac(), seed).address(cidr);

    // Open the device, get (net, runner), spawn the runner.
    let (net, runner) = mnet_tap::tokio_runner::open(mnet_tap::TapDevice::open(&tap)?, config)?;
    tokio::spawn(runner.run());

    // Use the sockets from any task.
    let sock = net.udp_bind("0.0.0.0:7".parse().unwrap())?;
    println!("echoing UDP port 7 on {cidr} over {tap}");
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = sock.recv_from(&mut buf).await?;
        sock.send_to(&buf[..n.min(buf.len())], peer).await?;
    }
}
