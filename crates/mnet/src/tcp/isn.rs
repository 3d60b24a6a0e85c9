//! Initial sequence numbers (RFC 6528) and timestamp offsets.
//!
//! RFC 6528 §3: "ISN = M + F(localip, localport, remoteip, remoteport,
//! secretkey)" where "M is the 4 microsecond timer, and F() is a
//! pseudorandom function (PRF) of the connection-id. F() MUST NOT be
//! computable from the outside". F here is SipHash-2-4 keyed with a 128-bit
//! secret the stack draws from its CSPRNG at construction.
//!
//! ```
//! use mnet::tcp::isn::initial_sequence_number;
//! use mnet::Instant;
//! let (a, b) = ("10.0.0.1:80".parse().unwrap(), "10.0.0.2:5000".parse().unwrap());
//! let secret = [7u8; 16];
//! let t = Instant::from_secs(10);
//! let x = initial_sequence_number(&secret, &a, &b, t);
//! // 4 µs later, one more.
//! let y = initial_sequence_number(&secret, &a, &b, t + core::time::Duration::from_micros(4));
//! assert_eq!(y.0, x.0.wrapping_add(1));
//! ```

use core::hash::Hasher;
use core::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher24;

use crate::time::Instant;
use crate::wire::TcpSeqNumber;

fn write_ip(h: &mut SipHasher24, ip: &IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            h.write_u8(4);
            h.write(&a.octets());
        }
        IpAddr::V6(a) => {
            h.write_u8(6);
            h.write(&a.octets());
        }
    }
}

/// SipHash-2-4 of the connection identifier and `extra`, keyed by `secret`.
pub(crate) fn tuple_hash(secret: &[u8; 16], local: &SocketAddr, remote: &SocketAddr, extra: &[u8]) -> u64 {
    let mut h = SipHasher24::new_with_key(secret);
    write_ip(&mut h, &local.ip());
    h.write_u16(local.port());
    write_ip(&mut h, &remote.ip());
    h.write_u16(remote.port());
    h.write(extra);
    h.finish()
}

/// The ISN for a connection from `local` to `remote` at `now` (RFC 6528).
pub fn initial_sequence_number(secret: &[u8; 16], local: &SocketAddr, remote: &SocketAddr, now: Instant) -> TcpSeqNumber {
    // "M is the 4 microsecond timer": wraps every 4.77 hours, as RFC 793's
    // ISN clock did.
    let m = (now.total_micros() / 4) as u32;
    let f = tuple_hash(secret, local, remote, b"isn") as u32;
    TcpSeqNumber(m.wrapping_add(f))
}

/// A per-address-pair offset for TSval (RFC 7323 §7.1: "a random offset
/// per connection" hides the host clock; keyed by the address pair, as
/// Linux does, timestamps stay monotonic across incarnations of a
/// connection, which the TIME-WAIT reuse rules of RFC 6191 rely on).
pub fn timestamp_offset(secret: &[u8; 16], local: IpAddr, remote: IpAddr) -> u32 {
    let mut h = SipHasher24::new_with_key(secret);
    write_ip(&mut h, &local);
    write_ip(&mut h, &remote);
    h.write(b"tsoff");
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn addrs() -> (SocketAddr, SocketAddr) {
        ("10.0.0.1:80".parse().unwrap(), "10.0.0.2:5000".parse().unwrap())
    }

    #[test]
    fn keyed_and_tuple_dependent() {
        let (a, b) = addrs();
        let t = Instant::from_secs(1);
        let x = initial_sequence_number(&[1; 16], &a, &b, t);
        assert_ne!(x, initial_sequence_number(&[2; 16], &a, &b, t), "secret matters");
        let c: SocketAddr = "10.0.0.2:5001".parse().unwrap();
        assert_ne!(x, initial_sequence_number(&[1; 16], &a, &c, t), "port matters");
        let v6: SocketAddr = "[fd00::2]:5000".parse().unwrap();
        assert_ne!(x, initial_sequence_number(&[1; 16], &a, &v6, t));
    }

    #[test]
    fn advances_with_the_4us_clock() {
        let (a, b) = addrs();
        let t = Instant::from_secs(100);
        let x = initial_sequence_number(&[1; 16], &a, &b, t);
        let y = initial_sequence_number(&[1; 16], &a, &b, t + Duration::from_secs(1));
        assert_eq!(y.0.wrapping_sub(x.0), 250_000);
    }

    #[test]
    fn timestamp_offset_is_per_address_pair() {
        let (a, b) = addrs();
        let o = timestamp_offset(&[1; 16], a.ip(), b.ip());
        assert_eq!(o, timestamp_offset(&[1; 16], a.ip(), b.ip()));
        assert_ne!(o, timestamp_offset(&[1; 16], b.ip(), a.ip()));
    }
}
