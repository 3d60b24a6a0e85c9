//! TCP segments (RFC 9293 §3.1) and the options this stack speaks: MSS,
//! window scale and timestamps (RFC 7323), SACK (RFC 2018).

use core::cmp::Ordering;
use core::fmt;
use core::net::IpAddr;
use core::ops::{Add, AddAssign, BitAnd, BitOr, BitOrAssign, Sub, SubAssign};

use super::bytes::{clamp, clamp_mut, read_u16, read_u32, write_u16, write_u32};
use super::checksum;
use super::{IpProtocol, WireError, WireResult};

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// Room for options: the data offset is 4 bits of 32-bit words (60 bytes).
pub const MAX_OPTIONS_LEN: usize = 40;
/// Where the checksum field sits in the header (for a device that
/// completes it: `csum_offset` of the virtio-net header).
pub const CHECKSUM_OFFSET: usize = 16;
/// Largest window scale shift count (RFC 7323 §2.3).
pub const MAX_WINDOW_SCALE: u8 = 14;

mod field {
    use crate::wire::Field;

    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    /// Data offset (4 bits), reserved (4 bits), control bits (8 bits).
    pub const OFF_FLAGS: Field = 12..14;
    pub const WINDOW: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

mod option_kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// A sequence number: arithmetic and comparison modulo 2^32.
///
/// RFC 9293 §3.4: "It is essential to remember that the actual sequence
/// number space is finite, though very large. This space ranges from 0 to
/// 2^32 - 1. Since the space is finite, all arithmetic dealing with sequence
/// numbers must be performed modulo 2^32." `a < b` means `b` is less than
/// 2^31 ahead of `a`; two numbers exactly 2^31 apart compare as each less
/// than the other, which is why this is `PartialOrd` and not `Ord`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpSeqNumber(pub u32);

impl TcpSeqNumber {
    /// The later of two numbers (modulo 2^32).
    pub fn max(self, other: TcpSeqNumber) -> TcpSeqNumber {
        if self < other { other } else { self }
    }

    /// The earlier of two numbers (modulo 2^32).
    pub fn min(self, other: TcpSeqNumber) -> TcpSeqNumber {
        if self < other { self } else { other }
    }

    /// `self - earlier` as a signed distance in (-2^31, 2^31].
    pub fn signed_diff(self, earlier: TcpSeqNumber) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }
}

impl fmt::Display for TcpSeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl PartialOrd for TcpSeqNumber {
    fn partial_cmp(&self, other: &TcpSeqNumber) -> Option<Ordering> {
        Some(self.signed_diff(*other).cmp(&0))
    }
}

/// Advances by `rhs` bytes (modulo 2^32).
impl Add<usize> for TcpSeqNumber {
    type Output = TcpSeqNumber;
    fn add(self, rhs: usize) -> TcpSeqNumber {
        TcpSeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl Sub<usize> for TcpSeqNumber {
    type Output = TcpSeqNumber;
    fn sub(self, rhs: usize) -> TcpSeqNumber {
        TcpSeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}

impl AddAssign<usize> for TcpSeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl SubAssign<usize> for TcpSeqNumber {
    fn sub_assign(&mut self, rhs: usize) {
        *self = *self - rhs;
    }
}

/// The number of bytes from `rhs` up to `self`; 0 if `rhs` is after `self`
/// (never panics: use [`TcpSeqNumber::signed_diff`] when the order is not
/// known).
impl Sub for TcpSeqNumber {
    type Output = usize;
    fn sub(self, rhs: TcpSeqNumber) -> usize {
        let d = self.signed_diff(rhs);
        if d < 0 { 0 } else { d as usize }
    }
}

/// The control bits of a TCP header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x001);
    pub const SYN: TcpFlags = TcpFlags(0x002);
    pub const RST: TcpFlags = TcpFlags(0x004);
    pub const PSH: TcpFlags = TcpFlags(0x008);
    pub const ACK: TcpFlags = TcpFlags(0x010);
    pub const URG: TcpFlags = TcpFlags(0x020);
    pub const ECE: TcpFlags = TcpFlags(0x040);
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// The eight control bits RFC 9293 §3.1 defines.
    const ALL: u16 = 0x0ff;

    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    pub const fn bits(self) -> u16 {
        self.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    pub fn insert(&mut self, other: TcpFlags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: TcpFlags) {
        self.0 &= !other.0;
    }

    pub fn set(&mut self, other: TcpFlags, value: bool) {
        if value { self.insert(other) } else { self.remove(other) }
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(TcpFlags, &str); 8] = [
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::CWR, "CWR"),
        ];
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let other = self.0 & !TcpFlags::ALL;
        if other != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{other:#x}")?;
            first = false;
        }
        if first {
            f.write_str("(none)")?;
        }
        Ok(())
    }
}

/// A view of a TCP segment. The buffer is the whole segment (the IP
/// payload), which the checksum covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    pub fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// `Truncated` if the buffer is shorter than 20 bytes or than the data
    /// offset; `Malformed` if the data offset is below 5 words.
    pub fn new_checked(buffer: T) -> WireResult<TcpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> WireResult<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        // RFC 9293 §3.1: "Data Offset (DOffset): 4 bits. The number of 32-bit
        // words in the TCP header. This indicates where the data begins."
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if header_len > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    pub fn seq_number(&self) -> TcpSeqNumber {
        TcpSeqNumber(read_u32(self.buffer.as_ref(), field::SEQ_NUM))
    }

    /// The Acknowledgment Number field, meaningful only with ACK set.
    pub fn ack_number(&self) -> TcpSeqNumber {
        TcpSeqNumber(read_u32(self.buffer.as_ref(), field::ACK_NUM))
    }

    fn off_flags(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::OFF_FLAGS)
    }

    /// The header length in bytes (data offset × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.off_flags() >> 12) * 4
    }

    /// The eight control bits (the reserved bits are left out: RFC 9293
    /// §3.1 says they "must be ignored in received segments").
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.off_flags() & TcpFlags::ALL)
    }

    pub fn fin(&self) -> bool {
        self.flags().contains(TcpFlags::FIN)
    }

    pub fn syn(&self) -> bool {
        self.flags().contains(TcpFlags::SYN)
    }

    pub fn rst(&self) -> bool {
        self.flags().contains(TcpFlags::RST)
    }

    pub fn psh(&self) -> bool {
        self.flags().contains(TcpFlags::PSH)
    }

    pub fn ack(&self) -> bool {
        self.flags().contains(TcpFlags::ACK)
    }

    pub fn urg(&self) -> bool {
        self.flags().contains(TcpFlags::URG)
    }

    pub fn ece(&self) -> bool {
        self.flags().contains(TcpFlags::ECE)
    }

    pub fn cwr(&self) -> bool {
        self.flags().contains(TcpFlags::CWR)
    }

    /// The Window field, unscaled.
    pub fn window_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WINDOW)
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn urgent_at(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The option bytes (header bytes after the first 20), unparsed.
    pub fn options(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, self.header_len())
    }

    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        clamp(data, self.header_len(), data.len())
    }

    /// Sequence space the segment occupies: data, plus one each for SYN
    /// and FIN.
    pub fn segment_len(&self) -> usize {
        self.payload().len() + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// Whether the checksum is right for a segment between `src` and `dst`.
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        let data = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header(src, dst, IpProtocol::Tcp, data.len() as u32);
        checksum::fold(checksum::ones_sum(pseudo, data)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_src_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    pub fn set_seq_number(&mut self, seq: TcpSeqNumber) {
        write_u32(self.buffer.as_mut(), field::SEQ_NUM, seq.0);
    }

    pub fn set_ack_number(&mut self, ack: TcpSeqNumber) {
        write_u32(self.buffer.as_mut(), field::ACK_NUM, ack.0);
    }

    /// Sets the data offset from a length in bytes (a multiple of 4, at
    /// most 60).
    pub fn set_header_len(&mut self, len: usize) {
        let words = ((len / 4) as u16) & 0x0f;
        let v = (self.off_flags() & 0x0fff) | (words << 12);
        write_u16(self.buffer.as_mut(), field::OFF_FLAGS, v);
    }

    /// Sets the control bits; the reserved bits are cleared ("Must be zero
    /// in generated segments", RFC 9293 §3.1).
    pub fn set_flags(&mut self, flags: TcpFlags) {
        let v = (self.off_flags() & 0xf000) | (flags.0 & TcpFlags::ALL);
        write_u16(self.buffer.as_mut(), field::OFF_FLAGS, v);
    }

    pub fn set_window_len(&mut self, window: u16) {
        write_u16(self.buffer.as_mut(), field::WINDOW, window);
    }

    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    pub fn set_urgent_at(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::URGENT, value);
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, header_len)
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        let data = self.buffer.as_mut();
        let end = data.len();
        clamp_mut(data, header_len, end)
    }

    /// Computes the checksum over the pseudo-header and the whole buffer
    /// and writes it.
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        let len = self.buffer.as_ref().len();
        self.fill_checksum_of(len, src, dst);
    }

    /// The checksum of the first `len` bytes (the segment `emit` wrote).
    fn fill_checksum_of(&mut self, len: usize, src: &IpAddr, dst: &IpAddr) {
        // RFC 9293 §3.1: "The checksum field is the 16-bit ones' complement
        // of the ones' complement sum of all 16-bit words in the header and
        // text. [...] While computing the checksum, the checksum field itself
        // is replaced with zeros."
        self.set_checksum(0);
        let data = clamp(self.buffer.as_ref(), 0, len);
        let pseudo = checksum::pseudo_header(src, dst, IpProtocol::Tcp, data.len() as u32);
        let sum = !checksum::fold(checksum::ones_sum(pseudo, data));
        self.set_checksum(sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOperation,
    MaxSegmentSize(u16),
    /// The shift count as sent (not clamped).
    WindowScale(u8),
    SackPermitted,
    /// Left and right edges of up to four blocks, in order.
    SackRange([Option<(u32, u32)>; 4]),
    Timestamp {
        tsval: u32,
        tsecr: u32,
    },
    /// An option we do not implement, skipped by its length.
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Parses the option at the start of `buffer`; returns the bytes after
    /// it and the option. After `EndOfList` the rest is empty.
    ///
    /// RFC 9293 §3.1: "TCP implementations MUST be prepared to handle an
    /// illegal option length (e.g., zero); a suggested procedure is to reset
    /// the connection and log the error cause (MUST-7)." A length below 2,
    /// past the buffer, or wrong for a known kind is `Malformed`.
    pub fn parse(buffer: &'a [u8]) -> WireResult<(&'a [u8], TcpOption<'a>)> {
        let Some((&kind, after_kind)) = buffer.split_first() else {
            return Err(WireError::Truncated);
        };
        match kind {
            option_kind::END => return Ok((&[], TcpOption::EndOfList)),
            option_kind::NOP => return Ok((after_kind, TcpOption::NoOperation)),
            _ => {}
        }
        let Some(&len) = after_kind.first() else {
            return Err(WireError::Malformed);
        };
        let len = usize::from(len);
        if len < 2 || len > buffer.len() {
            return Err(WireError::Malformed);
        }
        let (option, rest) = buffer.split_at(len);
        let data = &option[2..];
        let parsed = match (kind, data) {
            (option_kind::MSS, &[a, b]) => TcpOption::MaxSegmentSize(u16::from_be_bytes([a, b])),
            (option_kind::WINDOW_SCALE, &[shift]) => TcpOption::WindowScale(shift),
            (option_kind::SACK_PERMITTED, &[]) => TcpOption::SackPermitted,
            (option_kind::TIMESTAMP, &[a, b, c, d, e, f, g, h]) => TcpOption::Timestamp {
                tsval: u32::from_be_bytes([a, b, c, d]),
                tsecr: u32::from_be_bytes([e, f, g, h]),
            },
            (option_kind::SACK, data) => {
                // RFC 2018 §3: "A SACK option that specifies n blocks will
                // have a length of 8*n+2 bytes, so the 40 bytes available for
                // TCP options can specify a maximum of 4 blocks."
                let (blocks, extra) = data.as_chunks::<8>();
                if !extra.is_empty() || blocks.is_empty() || blocks.len() > 4 {
                    return Err(WireError::Malformed);
                }
                let mut ranges = [None; 4];
                for (slot, &[a, b, c, d, e, f, g, h]) in ranges.iter_mut().zip(blocks) {
                    *slot = Some((u32::from_be_bytes([a, b, c, d]), u32::from_be_bytes([e, f, g, h])));
                }
                TcpOption::SackRange(ranges)
            }
            (option_kind::MSS | option_kind::WINDOW_SCALE | option_kind::SACK_PERMITTED | option_kind::TIMESTAMP, _) => {
                return Err(WireError::Malformed);
            }
            // RFC 9293 §3.1: "A TCP implementation MUST ignore without error
            // any TCP option it does not implement, assuming that the option
            // has a length field (MUST-6)."
            (kind, data) => TcpOption::Unknown { kind, data },
        };
        Ok((rest, parsed))
    }

    /// Bytes the option takes on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::SackRange(r) => 2 + 8 * r.iter().flatten().count(),
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `buffer`; returns the bytes
    /// written, or `Truncated` if `buffer` is shorter than `buffer_len()`
    /// (or an unknown option's data exceeds 253 bytes: `Malformed`).
    pub fn emit(&self, buffer: &mut [u8]) -> WireResult<usize> {
        let len = self.buffer_len();
        let out = buffer.get_mut(..len).ok_or(WireError::Truncated)?;
        let len_byte = u8::try_from(len).map_err(|_| WireError::Malformed)?;
        match *self {
            TcpOption::EndOfList => out[0] = option_kind::END,
            TcpOption::NoOperation => out[0] = option_kind::NOP,
            TcpOption::MaxSegmentSize(mss) => {
                out[..2].copy_from_slice(&[option_kind::MSS, len_byte]);
                out[2..].copy_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => out.copy_from_slice(&[option_kind::WINDOW_SCALE, len_byte, shift]),
            TcpOption::SackPermitted => out.copy_from_slice(&[option_kind::SACK_PERMITTED, len_byte]),
            TcpOption::SackRange(ranges) => {
                out[..2].copy_from_slice(&[option_kind::SACK, len_byte]);
                let (blocks, _) = out[2..].as_chunks_mut::<8>();
                for (block, (left, right)) in blocks.iter_mut().zip(ranges.iter().flatten()) {
                    block[..4].copy_from_slice(&left.to_be_bytes());
                    block[4..].copy_from_slice(&right.to_be_bytes());
                }
            }
            TcpOption::Timestamp { tsval, tsecr } => {
                out[..2].copy_from_slice(&[option_kind::TIMESTAMP, len_byte]);
                out[2..6].copy_from_slice(&tsval.to_be_bytes());
                out[6..].copy_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                out[..2].copy_from_slice(&[kind, len_byte]);
                out[2..].copy_from_slice(data);
            }
        }
        Ok(len)
    }
}

/// A parsed TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq_number: TcpSeqNumber,
    /// `Some` exactly when the ACK bit is set. On `emit` this decides the
    /// ACK bit, whatever `flags` says.
    pub ack_number: Option<TcpSeqNumber>,
    /// The control bits as received (ACK included).
    pub flags: TcpFlags,
    /// The Window field, unscaled.
    pub window_len: u16,
    pub urgent_ptr: u16,
    pub max_seg_size: Option<u16>,
    /// The shift count, clamped to [`MAX_WINDOW_SCALE`] on parse.
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// SACK blocks (left edge, right edge), in the order sent. `emit`
    /// writes the `Some` ones that fit in the option space.
    pub sack_ranges: [Option<(u32, u32)>; 4],
    /// (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// `Malformed` for port 0 or badly encoded options, `BadChecksum` if
    /// `verify_checksum` and the checksum is wrong. `src` and `dst` are the
    /// IP addresses of the segment (for the pseudo-header); the packet's
    /// buffer must be exactly the segment (the IP payload).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        src: &IpAddr,
        dst: &IpAddr,
        verify_checksum: bool,
    ) -> WireResult<TcpRepr<'a>> {
        packet.check_len()?;
        // Port 0 is reserved and names no connection.
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(WireError::Malformed);
        }
        if verify_checksum && !packet.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        // Borrow the data for 'a, not for the borrow of `packet`.
        let buffer: &'a [u8] = packet.buffer.as_ref();
        let header_len = packet.header_len();
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack().then(|| packet.ack_number()),
            flags: packet.flags(),
            window_len: packet.window_len(),
            urgent_ptr: packet.urgent_at(),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload: &buffer[header_len..],
        };
        let mut options = &buffer[HEADER_LEN..header_len];
        while !options.is_empty() {
            let (rest, option) = TcpOption::parse(options)?;
            match option {
                TcpOption::EndOfList => break,
                TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
                TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                TcpOption::WindowScale(shift) => {
                    // RFC 7323 §2.3: "If a Window Scale option is received
                    // with a shift.cnt value larger than 14, the TCP SHOULD
                    // log the error but MUST use 14 instead of the specified
                    // value."
                    repr.window_scale = Some(shift.min(MAX_WINDOW_SCALE));
                }
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::SackRange(ranges) => repr.sack_ranges = ranges,
                TcpOption::Timestamp { tsval, tsecr } => repr.timestamp = Some((tsval, tsecr)),
            }
            options = rest;
        }
        Ok(repr)
    }

    /// How many SACK blocks `emit` writes, and the options' length.
    fn options_layout(&self) -> (usize, usize) {
        let mut len = 0;
        if self.max_seg_size.is_some() {
            len += 4; // MSS
        }
        if self.timestamp.is_some() {
            len += 12; // NOP NOP TS, or SACK-permitted TS
        } else if self.sack_permitted {
            len += 4; // NOP NOP SACK-permitted
        }
        if self.window_scale.is_some() {
            len += 4; // NOP WS
        }
        // RFC 2018 §3: "It is expected that SACK will often be used in
        // conjunction with the Timestamp option used for RTTM [...], which
        // takes an additional 10 bytes (plus two bytes of padding); thus a
        // maximum of 3 SACK blocks will be allowed in this case."
        // The blocks that do not fit (NOP NOP kind len + 8 each) are left out.
        let room = MAX_OPTIONS_LEN.saturating_sub(len + 4) / 8;
        let blocks = self.sack_ranges.iter().flatten().count().min(room);
        if blocks > 0 {
            len += 4 + 8 * blocks;
        }
        (len, blocks)
    }

    /// The header length `emit` writes: 20 + options, a multiple of 4 and
    /// at most 60.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_layout().0
    }

    /// Header, options and payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Sequence space the segment occupies: data, plus one each for SYN
    /// and FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len() + usize::from(self.flags.contains(TcpFlags::SYN)) + usize::from(self.flags.contains(TcpFlags::FIN))
    }

    /// Writes header, options, payload and checksum into the first
    /// `buffer_len()` bytes; the checksum covers those bytes.
    ///
    /// Options are laid out on 32-bit boundaries with NOPs, in the order
    /// MSS, SACK-permitted/timestamp, window scale, SACK blocks.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut TcpPacket<&mut T>, src: &IpAddr, dst: &IpAddr) {
        let len = self.emit_unchecksummed(packet, true);
        packet.fill_checksum_of(len, src, dst);
    }

    /// [`TcpRepr::emit`] (or, `partial`, [`TcpRepr::emit_partial`]) into
    /// a buffer that already holds the payload: `payload.len()` bytes
    /// right after the header, placed there when the buffer was built
    /// (one copy, and no zeroing of what it would overwrite). Writes the
    /// header, options and checksum; the checksum covers the buffer's
    /// payload bytes.
    pub fn emit_around_payload<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut TcpPacket<&mut T>,
        src: &IpAddr,
        dst: &IpAddr,
        partial: bool,
    ) {
        let len = self.emit_unchecksummed(packet, false);
        if partial {
            let pseudo = checksum::pseudo_header(src, dst, IpProtocol::Tcp, len as u32);
            packet.set_checksum(checksum::fold(pseudo));
        } else {
            packet.fill_checksum_of(len, src, dst);
        }
    }

    /// Like [`TcpRepr::emit`], but the checksum field gets only the
    /// pseudo-header sum (not inverted), for a device that completes it
    /// (`VIRTIO_NET_HDR_F_NEEDS_CSUM`, virtio spec §5.1.6.2): the payload
    /// is not read twice.
    pub fn emit_partial<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut TcpPacket<&mut T>, src: &IpAddr, dst: &IpAddr) {
        let len = self.emit_unchecksummed(packet, true);
        let pseudo = checksum::pseudo_header(src, dst, IpProtocol::Tcp, len as u32);
        packet.set_checksum(checksum::fold(pseudo));
    }

    /// Everything but the checksum (and the payload unless
    /// `copy_payload`); returns the segment's length.
    fn emit_unchecksummed<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut TcpPacket<&mut T>, copy_payload: bool) -> usize {
        let TcpRepr {
            src_port,
            dst_port,
            seq_number,
            ack_number,
            mut flags,
            window_len,
            urgent_ptr,
            max_seg_size,
            window_scale,
            sack_permitted,
            sack_ranges,
            timestamp,
            payload,
        } = *self;
        let (options_len, sack_blocks) = self.options_layout();
        let header_len = HEADER_LEN + options_len;

        packet.set_src_port(src_port);
        packet.set_dst_port(dst_port);
        packet.set_seq_number(seq_number);
        packet.set_ack_number(ack_number.unwrap_or_default());
        packet.set_header_len(header_len);
        flags.set(TcpFlags::ACK, ack_number.is_some());
        packet.set_flags(flags);
        packet.set_window_len(window_len);
        packet.set_urgent_at(urgent_ptr);

        let options = packet.options_mut();
        let mut at = 0;
        let mut put = |option: TcpOption<'_>| {
            // The layout above sized the options: this cannot run short.
            at += option.emit(&mut options[at..]).unwrap_or(0);
        };
        if let Some(mss) = max_seg_size {
            put(TcpOption::MaxSegmentSize(mss));
        }
        match (timestamp, sack_permitted) {
            (Some((tsval, tsecr)), true) => {
                put(TcpOption::SackPermitted);
                put(TcpOption::Timestamp { tsval, tsecr });
            }
            (Some((tsval, tsecr)), false) => {
                put(TcpOption::NoOperation);
                put(TcpOption::NoOperation);
                put(TcpOption::Timestamp { tsval, tsecr });
            }
            (None, true) => {
                put(TcpOption::NoOperation);
                put(TcpOption::NoOperation);
                put(TcpOption::SackPermitted);
            }
            (None, false) => {}
        }
        if let Some(shift) = window_scale {
            put(TcpOption::NoOperation);
            put(TcpOption::WindowScale(shift));
        }
        if sack_blocks > 0 {
            let mut ranges = [None; 4];
            for (slot, range) in ranges.iter_mut().zip(sack_ranges.iter().flatten()).take(sack_blocks) {
                *slot = Some(*range);
            }
            put(TcpOption::NoOperation);
            put(TcpOption::NoOperation);
            put(TcpOption::SackRange(ranges));
        }

        if copy_payload {
            packet.payload_mut()[..payload.len()].copy_from_slice(payload);
        }
        header_len + payload.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_util::XorShift;
    use crate::wire::{IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr};
    use alloc::vec;
    use alloc::vec::Vec;
    use core::net::{Ipv4Addr, Ipv6Addr};

    // Captured from Linux: `socat - TCP4:10.9.1.2:8080` sending "GET / mnet"
    // from 10.9.1.1 to a `socat TCP4-LISTEN`, on a veth pair (transmit
    // checksum offload off). Ethernet frames.
    // SYN: MSS 1460, SACK permitted, TS, NOP, WS 10.
    const TCP4_SYN: [u8; 74] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x51, 0xb0, 0x40, 0x00,
        0x40, 0x06, 0xd2, 0xf7, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x01, 0x02, 0xb1, 0xe8, 0x1f, 0x90, 0xe0, 0x62, 0xe0, 0xfb, 0x00, 0x00,
        0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x4a, 0x97, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x2f, 0x13, 0x2a, 0x76,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];
    const TCP4_SYN_ACK: [u8; 74] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00,
        0x40, 0x06, 0x24, 0xa8, 0x0a, 0x09, 0x01, 0x02, 0x0a, 0x09, 0x01, 0x01, 0x1f, 0x90, 0xb1, 0xe8, 0xc8, 0xf3, 0xe3, 0x6b, 0xe0, 0x62,
        0xe0, 0xfc, 0xa0, 0x12, 0xfe, 0x88, 0x03, 0x54, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0xd9, 0x02, 0xbe, 0x37,
        0x2f, 0x13, 0x2a, 0x76, 0x01, 0x03, 0x03, 0x0a,
    ];
    // Data: NOP NOP TS, PSH|ACK, "GET / mnet".
    const TCP4_PSH: [u8; 76] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3e, 0x51, 0xb2, 0x40, 0x00,
        0x40, 0x06, 0xd2, 0xf3, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x01, 0x02, 0xb1, 0xe8, 0x1f, 0x90, 0xe0, 0x62, 0xe0, 0xfc, 0xc8, 0xf3,
        0xe3, 0x6c, 0x80, 0x18, 0x00, 0x3f, 0x92, 0xf2, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x2f, 0x13, 0x2a, 0x76, 0xd9, 0x02, 0xbe, 0x37,
        0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x6d, 0x6e, 0x65, 0x74,
    ];
    const TCP4_FIN: [u8; 66] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x34, 0x51, 0xb3, 0x40, 0x00,
        0x40, 0x06, 0xd2, 0xfc, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x01, 0x02, 0xb1, 0xe8, 0x1f, 0x90, 0xe0, 0x62, 0xe1, 0x06, 0xc8, 0xf3,
        0xe3, 0x6c, 0x80, 0x11, 0x00, 0x3f, 0x30, 0x62, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x2f, 0x13, 0x2a, 0x76, 0xd9, 0x02, 0xbe, 0x37,
    ];
    // A SYN to a closed port (8099) answered with RST|ACK.
    const TCP4_RST: [u8; 54] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00,
        0x40, 0x06, 0x24, 0xbc, 0x0a, 0x09, 0x01, 0x02, 0x0a, 0x09, 0x01, 0x01, 0x1f, 0xa3, 0xd9, 0x72, 0x00, 0x00, 0x00, 0x00, 0xb3, 0x61,
        0xb2, 0x66, 0x50, 0x14, 0x00, 0x00, 0x3a, 0xde, 0x00, 0x00,
    ];
    // The same over IPv6: fd00:1::1 port 49262 -> fd00:1::2 port 8081.
    const TCP6_SYN: [u8; 94] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x0b, 0x0b, 0xfa, 0x00, 0x28, 0x06, 0x40,
        0xfd, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, 0x6e, 0x1f, 0x91, 0x36, 0xa7, 0x89, 0x33, 0x00, 0x00, 0x00, 0x00,
        0xa0, 0x02, 0xfd, 0x20, 0x2d, 0xa4, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0x8e, 0x70, 0xf4, 0xfa, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];
    const TCP6_PSH: [u8; 97] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x0b, 0x0b, 0xfa, 0x00, 0x2b, 0x06, 0x40,
        0xfd, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, 0x6e, 0x1f, 0x91, 0x36, 0xa7, 0x89, 0x34, 0xe0, 0x6b, 0xb3, 0xdd,
        0x80, 0x18, 0x00, 0x40, 0xdc, 0x48, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x8e, 0x70, 0xf4, 0xfa, 0x3d, 0x9b, 0x9b, 0x0c, 0x74, 0x63,
        0x70, 0x20, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x76, 0x36,
    ];

    /// The segment and its addresses, through the real IP parsers.
    fn segment_of(frame: &[u8]) -> (IpAddr, IpAddr, &[u8]) {
        let ip = &frame[14..];
        if ip[0] >> 4 == 4 {
            let p = Ipv4Packet::new_checked(ip).unwrap();
            let r = Ipv4Repr::parse(&p, true).unwrap();
            assert_eq!(r.next_header, IpProtocol::Tcp);
            (r.src_addr.into(), r.dst_addr.into(), &ip[20..20 + r.payload_len])
        } else {
            let p = Ipv6Packet::new_checked(ip).unwrap();
            let r = Ipv6Repr::parse(&p).unwrap();
            assert_eq!(r.next_header, IpProtocol::Tcp);
            (r.src_addr.into(), r.dst_addr.into(), &ip[40..40 + r.payload_len])
        }
    }

    fn golden(frame: &[u8], want: TcpRepr<'_>) {
        let (src, dst, bytes) = segment_of(frame);
        let packet = TcpPacket::new_checked(bytes).unwrap();
        assert!(packet.verify_checksum(&src, &dst));
        let repr = TcpRepr::parse(&packet, &src, &dst, true).unwrap();
        assert_eq!(repr, want);
        assert_eq!(repr.header_len(), packet.header_len());
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut out = vec![0xa5u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), &src, &dst);
        assert_eq!(&out[..], bytes);
        // The payload placed first, garbage where the header goes: the
        // same bytes, the checksum taken over the payload in place.
        let mut around = vec![0x5au8; repr.header_len()];
        around.extend_from_slice(repr.payload);
        repr.emit_around_payload(&mut TcpPacket::new_unchecked(&mut around[..]), &src, &dst, false);
        assert_eq!(&around[..], bytes);
        let mut partial = vec![0u8; repr.buffer_len()];
        repr.emit_partial(&mut TcpPacket::new_unchecked(&mut partial[..]), &src, &dst);
        let mut around = vec![0x5au8; repr.header_len()];
        around.extend_from_slice(repr.payload);
        repr.emit_around_payload(&mut TcpPacket::new_unchecked(&mut around[..]), &src, &dst, true);
        assert_eq!(around, partial);
    }

    fn syn() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 45544,
            dst_port: 8080,
            seq_number: TcpSeqNumber(0xe062_e0fb),
            ack_number: None,
            flags: TcpFlags::SYN,
            window_len: 64240,
            urgent_ptr: 0,
            max_seg_size: Some(1460),
            window_scale: Some(10),
            sack_permitted: true,
            sack_ranges: [None; 4],
            timestamp: Some((0x2f13_2a76, 0)),
            payload: &[],
        }
    }

    /// An established segment from 10.9.1.1:45544: NOP NOP TS only.
    fn established(flags: TcpFlags, seq: u32, payload: &'static [u8]) -> TcpRepr<'static> {
        TcpRepr {
            seq_number: TcpSeqNumber(seq),
            ack_number: Some(TcpSeqNumber(0xc8f3_e36c)),
            flags,
            window_len: 63,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            timestamp: Some((0x2f13_2a76, 0xd902_be37)),
            payload,
            ..syn()
        }
    }

    #[test]
    fn golden_ipv4_handshake() {
        golden(&TCP4_SYN, syn());
        golden(
            &TCP4_SYN_ACK,
            TcpRepr {
                src_port: 8080,
                dst_port: 45544,
                seq_number: TcpSeqNumber(0xc8f3_e36b),
                ack_number: Some(TcpSeqNumber(0xe062_e0fc)),
                flags: TcpFlags::SYN | TcpFlags::ACK,
                window_len: 65160,
                timestamp: Some((0xd902_be37, 0x2f13_2a76)),
                ..syn()
            },
        );
    }

    #[test]
    fn golden_ipv4_data_and_fin() {
        golden(&TCP4_PSH, established(TcpFlags::PSH | TcpFlags::ACK, 0xe062_e0fc, b"GET / mnet"));
        golden(&TCP4_FIN, established(TcpFlags::FIN | TcpFlags::ACK, 0xe062_e106, b""));
        let (_, _, fin) = segment_of(&TCP4_FIN);
        let p = TcpPacket::new_checked(fin).unwrap();
        assert!(p.fin() && p.ack() && !p.syn() && !p.rst());
        assert_eq!(p.segment_len(), 1);
        assert_eq!(established(TcpFlags::FIN | TcpFlags::ACK, 0, b"").segment_len(), 1);
        assert_eq!(syn().segment_len(), 1);
    }

    #[test]
    fn golden_ipv4_rst() {
        golden(
            &TCP4_RST,
            TcpRepr {
                src_port: 8099,
                dst_port: 55666,
                seq_number: TcpSeqNumber(0),
                ack_number: Some(TcpSeqNumber(0xb361_b266)),
                flags: TcpFlags::RST | TcpFlags::ACK,
                window_len: 0,
                urgent_ptr: 0,
                max_seg_size: None,
                window_scale: None,
                sack_permitted: false,
                sack_ranges: [None; 4],
                timestamp: None,
                payload: &[],
            },
        );
    }

    #[test]
    fn golden_ipv6() {
        let syn6 = TcpRepr {
            src_port: 49262,
            dst_port: 8081,
            seq_number: TcpSeqNumber(0x36a7_8933),
            window_len: 64800,
            max_seg_size: Some(1440),
            timestamp: Some((0x8e70_f4fa, 0)),
            ..syn()
        };
        golden(&TCP6_SYN, syn6);
        golden(
            &TCP6_PSH,
            TcpRepr {
                seq_number: TcpSeqNumber(0x36a7_8934),
                ack_number: Some(TcpSeqNumber(0xe06b_b3dd)),
                flags: TcpFlags::PSH | TcpFlags::ACK,
                window_len: 64,
                max_seg_size: None,
                window_scale: None,
                sack_permitted: false,
                timestamp: Some((0x8e70_f4fa, 0x3d9b_9b0c)),
                payload: b"tcp over v6",
                ..syn6
            },
        );
    }

    #[test]
    fn seq_number_arithmetic_wraps() {
        let a = TcpSeqNumber(u32::MAX - 1);
        let b = a + 5;
        assert_eq!(b, TcpSeqNumber(3));
        assert!(a < b);
        assert!(b > a);
        assert_eq!(a.partial_cmp(&TcpSeqNumber(a.0)), Some(Ordering::Equal));
        assert_eq!(b - a, 5);
        assert_eq!(a - b, 0); // never panics, saturates
        assert_eq!(a.signed_diff(b), -5);
        assert_eq!(b - 5, a);
        assert_eq!(a.max(b), b);
        assert_eq!(b.min(a), a);
        let mut c = a;
        c += 2;
        assert_eq!(c, TcpSeqNumber(0));
        c -= 1;
        assert_eq!(c, TcpSeqNumber(u32::MAX));
        // Just under half the space ahead is "after"; past it is "before".
        let z = TcpSeqNumber(0);
        assert!(z < TcpSeqNumber(0x7fff_ffff));
        assert!(z > TcpSeqNumber(0x8000_0001));
        assert_eq!(z + (u32::MAX as usize + 1), z);
    }

    #[test]
    fn flags_set_operations() {
        let mut f = TcpFlags::SYN;
        f.insert(TcpFlags::ACK);
        assert!(f.contains(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!f.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert!(f.intersects(TcpFlags::SYN | TcpFlags::FIN));
        f.remove(TcpFlags::SYN);
        assert_eq!(f, TcpFlags::ACK);
        assert_eq!(alloc::format!("{:?}", TcpFlags::SYN | TcpFlags::ACK), "SYN|ACK");
        assert_eq!(alloc::format!("{:?}", TcpFlags::empty()), "(none)");
    }

    fn src_dst() -> (IpAddr, IpAddr) {
        (Ipv4Addr::new(10, 0, 0, 1).into(), Ipv4Addr::new(10, 0, 0, 2).into())
    }

    /// A segment with the given raw option bytes (padded with zeros).
    fn with_options(options: &[u8]) -> Vec<u8> {
        let header_len = HEADER_LEN + options.len().div_ceil(4) * 4;
        let mut b = vec![0u8; header_len];
        let repr = TcpRepr {
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            timestamp: None,
            ..syn()
        };
        let (s, d) = src_dst();
        repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &s, &d);
        b[HEADER_LEN..HEADER_LEN + options.len()].copy_from_slice(options);
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        p.set_header_len(header_len);
        p.fill_checksum(&s, &d);
        b
    }

    fn parse_options(options: &[u8]) -> WireResult<TcpRepr<'static>> {
        let b = with_options(options);
        let (s, d) = src_dst();
        let b: &'static [u8] = Vec::leak(b);
        TcpRepr::parse(&TcpPacket::new_checked(b).unwrap(), &s, &d, true)
    }

    #[test]
    fn malformed_option_lengths() {
        for bad in [
            &[2, 0, 0, 0][..],                      // length 0
            &[2, 1, 0, 0],                          // length 1
            &[2, 5, 5, 0],                          // past the end
            &[2, 3, 5, 0],                          // MSS of length 3
            &[3, 4, 10, 0],                         // WS of length 4
            &[4, 3, 0, 0],                          // SACK-permitted of length 3
            &[8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  // TS of length 9
            &[5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // SACK of 9 bytes
            &[5, 2, 0, 0],                          // SACK without a block
            &[1, 1, 1, 99],                         // a kind with no length byte at the end
            &[99, 0, 0, 0],                         // unknown kind, length 0
        ] {
            assert_eq!(parse_options(bad).err(), Some(WireError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn option_parsing_rules() {
        // Unknown kinds are skipped by their length.
        let r = parse_options(&[30, 4, 0xde, 0xad, 2, 4, 0x05, 0xb4]).unwrap();
        assert_eq!(r.max_seg_size, Some(1460));
        // End of list stops parsing: garbage after it is not read.
        let r = parse_options(&[2, 4, 0x02, 0x18, 0, 2, 0, 0]).unwrap();
        assert_eq!(r.max_seg_size, Some(536));
        // Window scale above 14 is used as 14.
        let r = parse_options(&[1, 3, 3, 15]).unwrap();
        assert_eq!(r.window_scale, Some(14));
        let r = parse_options(&[1, 3, 3, 255]).unwrap();
        assert_eq!(r.window_scale, Some(14));
        let r = parse_options(&[1, 3, 3, 14]).unwrap();
        assert_eq!(r.window_scale, Some(14));
        // SACK with one and four blocks.
        let mut one = vec![1, 1, 5, 10];
        one.extend_from_slice(&100u32.to_be_bytes());
        one.extend_from_slice(&200u32.to_be_bytes());
        let r = parse_options(&one).unwrap();
        assert_eq!(r.sack_ranges, [Some((100, 200)), None, None, None]);
        let mut four = vec![1, 1, 5, 34];
        for i in 0..8u32 {
            four.extend_from_slice(&(i * 10).to_be_bytes());
        }
        let r = parse_options(&four).unwrap();
        assert_eq!(r.sack_ranges, [Some((0, 10)), Some((20, 30)), Some((40, 50)), Some((60, 70))]);
        // The option API directly.
        assert_eq!(TcpOption::parse(&[]), Err(WireError::Truncated));
        assert_eq!(TcpOption::parse(&[1, 2]), Ok((&[2u8][..], TcpOption::NoOperation)));
        assert_eq!(TcpOption::parse(&[0, 2]), Ok((&[][..], TcpOption::EndOfList)));
        assert_eq!(
            TcpOption::parse(&[77, 3, 9, 1]),
            Ok((&[1u8][..], TcpOption::Unknown { kind: 77, data: &[9] }))
        );
        let mut out = [0u8; 3];
        assert_eq!(TcpOption::Unknown { kind: 77, data: &[9] }.emit(&mut out), Ok(3));
        assert_eq!(out, [77, 3, 9]);
        assert_eq!(
            TcpOption::Timestamp { tsval: 1, tsecr: 2 }.emit(&mut out),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn sack_blocks_round_trip_and_fit() {
        let (s, d) = src_dst();
        let ranges = [Some((1, 2)), Some((3, 4)), Some((5, 6)), Some((7, 8))];
        let base = TcpRepr {
            flags: TcpFlags::ACK,
            ack_number: Some(TcpSeqNumber(9)),
            sack_ranges: ranges,
            ..syn()
        };
        // Without timestamps and other options: all four blocks.
        let plain = TcpRepr {
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            timestamp: None,
            ..base
        };
        // With timestamps: three (RFC 2018 §3).
        let with_ts = TcpRepr {
            max_seg_size: None,
            window_scale: None,
            ..base
        };
        // With everything: two.
        for (repr, blocks) in [(plain, 4), (with_ts, 3), (base, 2)] {
            assert!(repr.header_len() <= 60 && repr.header_len() % 4 == 0);
            let mut b = vec![0u8; repr.buffer_len()];
            repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &s, &d);
            let p = TcpPacket::new_checked(&b[..]).unwrap();
            let back = TcpRepr::parse(&p, &s, &d, true).unwrap();
            let mut want = [None; 4];
            want[..blocks].copy_from_slice(&ranges[..blocks]);
            assert_eq!(back, TcpRepr { sack_ranges: want, ..repr }, "{blocks} blocks");
        }
        // Gaps in the array are skipped.
        let gappy = TcpRepr {
            sack_ranges: [None, Some((1, 2)), None, Some((3, 4))],
            ..plain
        };
        let mut b = vec![0u8; gappy.buffer_len()];
        gappy.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &s, &d);
        let back = TcpRepr::parse(&TcpPacket::new_checked(&b[..]).unwrap(), &s, &d, true).unwrap();
        assert_eq!(back.sack_ranges, [Some((1, 2)), Some((3, 4)), None, None]);
    }

    #[test]
    fn option_layouts_round_trip() {
        let (s, d) = src_dst();
        let mut rng = XorShift(5);
        for _ in 0..200 {
            let r = rng.next_u64();
            let repr = TcpRepr {
                max_seg_size: (r & 1 != 0).then_some(r as u16 >> 1),
                window_scale: (r & 2 != 0).then_some((r >> 8) as u8 % 15),
                sack_permitted: r & 4 != 0,
                timestamp: (r & 8 != 0).then_some((r as u32, (r >> 32) as u32)),
                sack_ranges: [(r & 16 != 0).then_some((1, 2)), None, None, None],
                ack_number: (r & 32 != 0).then_some(TcpSeqNumber(r as u32)),
                flags: if r & 32 != 0 { TcpFlags::ACK } else { TcpFlags::empty() },
                payload: b"xyz",
                ..syn()
            };
            let mut b = vec![0u8; repr.buffer_len()];
            repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &s, &d);
            let back = TcpRepr::parse(&TcpPacket::new_checked(&b[..]).unwrap(), &s, &d, true).unwrap();
            assert_eq!(back, repr);
        }
    }

    #[test]
    fn emit_sets_ack_bit_from_ack_number() {
        let (s, d) = src_dst();
        let repr = TcpRepr {
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ..syn()
        };
        let mut b = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &s, &d);
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert!(!p.ack());
        assert_eq!(p.ack_number(), TcpSeqNumber(0));
        // A larger buffer: the checksum covers buffer_len() bytes only.
        let mut big = vec![0u8; repr.buffer_len() + 6];
        repr.emit(&mut TcpPacket::new_unchecked(&mut big[..]), &s, &d);
        assert_eq!(&big[..b.len()], &b[..]);
    }

    #[test]
    fn rejections() {
        let (src, dst, bytes) = segment_of(&TCP4_PSH);
        // Shorter than the header: the view refuses.
        for len in 0..32 {
            assert_eq!(TcpPacket::new_checked(&bytes[..len]).err(), Some(WireError::Truncated), "len {len}");
        }
        // Cut in the payload: the checksum catches it.
        for len in 32..bytes.len() {
            let p = TcpPacket::new_checked(&bytes[..len]).unwrap();
            assert_eq!(TcpRepr::parse(&p, &src, &dst, true), Err(WireError::BadChecksum), "len {len}");
        }
        let with = |at: usize, value: u8| {
            let mut b = Vec::from(bytes);
            b[at] = value;
            b
        };
        // Data offset below 5 words, or past the buffer.
        for off in 0..5u8 {
            assert_eq!(TcpPacket::new_checked(&with(12, off << 4)[..]).err(), Some(WireError::Malformed));
        }
        assert_eq!(TcpPacket::new_checked(&with(12, 0xf0)[..]).err(), Some(WireError::Truncated));
        // Flipped bit, wrong addresses.
        let b = with(32, b'g');
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(TcpRepr::parse(&p, &src, &dst, true), Err(WireError::BadChecksum));
        assert_eq!(TcpRepr::parse(&p, &src, &dst, false).unwrap().payload, b"gET / mnet");
        let p = TcpPacket::new_checked(bytes).unwrap();
        // (Swapping source and destination cannot be detected: the sum
        // commutes.) Another destination can.
        let other: IpAddr = Ipv4Addr::new(10, 9, 1, 3).into();
        assert_eq!(TcpRepr::parse(&p, &dst, &src, true).map(|r| r.src_port), Ok(45544));
        assert_eq!(TcpRepr::parse(&p, &src, &other, true), Err(WireError::BadChecksum));
        let v6: IpAddr = "fd00::1".parse::<Ipv6Addr>().unwrap().into();
        assert_eq!(TcpRepr::parse(&p, &v6, &dst, true), Err(WireError::BadChecksum));
        // Port zero.
        let mut b = with(0, 0);
        b[1] = 0;
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(TcpRepr::parse(&p, &src, &dst, false), Err(WireError::Malformed));
        // Reserved bits are ignored on receive.
        let b = with(12, 0x8f);
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.flags(), TcpFlags::PSH | TcpFlags::ACK);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = XorShift(0xdead_beef);
        let (s, d) = src_dst();
        for _ in 0..5000 {
            let len = rng.below(80);
            let mut b = vec![0u8; len];
            rng.fill(&mut b);
            if len > 12 {
                b[12] = (b[12] & 0x0f) | ((5 + rng.below(11) as u8) << 4);
            }
            if let Ok(p) = TcpPacket::new_checked(&b[..]) {
                let _ = TcpRepr::parse(&p, &s, &d, false);
                let _ = (p.options(), p.payload(), p.segment_len());
            }
        }
    }
}
