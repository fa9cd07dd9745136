//! A TCP segment's header as the connection core sees it, and its conversion from and to wire bytes with
//! smoltcp's `wire` module. The core never touches bytes on the wire: it takes a `Segment` and its payload,
//! and hands back a `Segment` whose payload it copied into the caller's buffer.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, TcpTimestampRepr};

use super::seq::Seq;

/// Control flags the core acts on (URG is ignored, as Linux ignores URG's pointer).
pub const SYN: u8 = 1;
pub const FIN: u8 = 2;
pub const RST: u8 = 4;
/// PSH: nothing on input (data is readable as it arrives). Sent only on the segment that ends the
/// queued data, as Linux marks the end of a write: a receiver's GRO (the kernel's, a TUN's) merges the
/// segments before a PSH but never appends to one, so with PSH on every segment a peer behind a TUN took
/// each segment on its own and a lossless upload ran at half smoltcp's rate.
pub const PSH: u8 = 8;

/// Most SACK blocks in one segment: three fit beside the timestamp option.
pub const MAX_SACK: usize = 3;

/// One segment's header. `len` is the payload length (SYN and FIN not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub seq: Seq,
    pub ack: Option<Seq>,
    pub flags: u8,
    /// The window field as on the wire (unscaled).
    pub window: u16,
    pub len: u32,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// SACK blocks, `[start, end)`, the first `nsack` valid.
    pub sack: [(Seq, Seq); MAX_SACK],
    pub nsack: u8,
    /// (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
}

impl Segment {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Sequence space taken: payload plus one for SYN and one for FIN.
    pub fn seq_len(&self) -> u32 {
        self.len + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }

    pub fn sack_blocks(&self) -> &[(Seq, Seq)] {
        &self.sack[..usize::from(self.nsack).min(MAX_SACK)]
    }

    pub fn push_sack(&mut self, block: (Seq, Seq)) {
        if usize::from(self.nsack) < MAX_SACK {
            self.sack[usize::from(self.nsack)] = block;
            self.nsack += 1;
        }
    }

    /// Reads a TCP header and payload (checksum verified against the addresses when `verify`); `None` for
    /// anything malformed, including SYN with FIN or RST.
    pub fn parse(
        tcp: &[u8],
        src: IpAddress,
        dst: IpAddress,
        verify: bool,
    ) -> Option<(u16, u16, Segment, &[u8])> {
        let packet = TcpPacket::new_checked(tcp).ok()?;
        let mut caps = ChecksumCapabilities::default();
        if !verify {
            caps = ChecksumCapabilities::ignored();
        }
        let repr = TcpRepr::parse(&packet, &src, &dst, &caps).ok()?;
        let mut seg = Segment {
            seq: Seq(repr.seq_number.0 as u32),
            ack: repr.ack_number.map(|a| Seq(a.0 as u32)),
            window: repr.window_len,
            len: repr.payload.len() as u32,
            mss: repr.max_seg_size,
            wscale: repr.window_scale,
            sack_permitted: repr.sack_permitted,
            ts: repr.timestamp.map(|t| (t.tsval, t.tsecr)),
            ..Segment::default()
        };
        seg.flags = match repr.control {
            TcpControl::Syn => SYN,
            TcpControl::Fin => FIN,
            TcpControl::Rst => RST,
            TcpControl::Psh => PSH,
            TcpControl::None => 0,
        };
        for (s, e) in repr.sack_ranges.into_iter().flatten() {
            seg.push_sack((Seq(s), Seq(e)));
        }
        Some((repr.src_port, repr.dst_port, seg, repr.payload))
    }

    /// Bytes of the TCP header this segment emits as.
    pub fn header_len(&self) -> usize {
        self.repr(0, 0, &[]).header_len()
    }

    /// Writes header and payload into `out` (at least `header_len() + payload.len()` bytes), with the
    /// checksum over the addresses; returns the bytes written.
    pub fn emit(
        &self,
        ports: (u16, u16),
        addrs: (IpAddress, IpAddress),
        payload: &[u8],
        out: &mut [u8],
    ) -> usize {
        let repr = self.repr(ports.0, ports.1, payload);
        let n = repr.header_len() + payload.len();
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut out[..n]),
            &addrs.0,
            &addrs.1,
            &ChecksumCapabilities::default(),
        );
        n
    }

    fn repr<'a>(&self, src_port: u16, dst_port: u16, payload: &'a [u8]) -> TcpRepr<'a> {
        let control = if self.has(SYN) {
            TcpControl::Syn
        } else if self.has(RST) {
            TcpControl::Rst
        } else if self.has(FIN) {
            TcpControl::Fin
        } else if self.has(PSH) && self.len > 0 {
            TcpControl::Psh
        } else {
            TcpControl::None
        };
        let mut sack_ranges = [None; 3];
        for (slot, (s, e)) in sack_ranges.iter_mut().zip(self.sack_blocks()) {
            *slot = Some((s.0, e.0));
        }
        TcpRepr {
            src_port,
            dst_port,
            control,
            seq_number: TcpSeqNumber(self.seq.0 as i32),
            ack_number: self.ack.map(|a| TcpSeqNumber(a.0 as i32)),
            window_len: self.window,
            window_scale: self.wscale,
            max_seg_size: self.mss,
            sack_permitted: self.sack_permitted,
            sack_ranges,
            timestamp: self.ts.map(|(v, e)| TcpTimestampRepr::new(v, e)),
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_wire() {
        let mut seg = Segment {
            seq: Seq(100),
            ack: Some(Seq(7)),
            window: 512,
            len: 3,
            ts: Some((11, 22)),
            ..Segment::default()
        };
        seg.push_sack((Seq(10), Seq(20)));
        seg.push_sack((Seq(30), Seq(40)));
        let addrs = (IpAddress::v4(10, 0, 0, 1), IpAddress::v4(10, 0, 0, 2));
        let mut buf = [0u8; 128];
        let n = seg.emit((1000, 80), addrs, b"abc", &mut buf);
        assert_eq!(n, seg.header_len() + 3);
        let (sp, dp, back, payload) = Segment::parse(&buf[..n], addrs.0, addrs.1, true).unwrap();
        assert_eq!((sp, dp, payload), (1000, 80, &b"abc"[..]));
        assert_eq!(back, seg);
        buf[n - 1] ^= 1;
        assert!(
            Segment::parse(&buf[..n], addrs.0, addrs.1, true).is_none(),
            "checksum"
        );
    }
}
