//! IP framing for the stack's side of the boundary: an inbound IPv4 or IPv6 packet to the 4-tuple and the
//! `Segment` the core takes, and an outbound `Segment` to a whole IP packet. Fragments and IPv6 extension
//! headers are not taken here (the engine reassembles fragments first, `reassembly.rs`; TCP sets DF and
//! never sends them).

use std::net::SocketAddr;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, IpProtocol, IpRepr, Ipv4Packet, Ipv6Packet};

use super::segment::Segment;

/// Hop limit of what the stack sends.
const HOP_LIMIT: u8 = 64;

/// `(source, destination, segment, payload)` of an inbound TCP packet with valid checksums.
pub fn parse(packet: &[u8]) -> Option<(SocketAddr, SocketAddr, Segment, &[u8])> {
    let (src, dst, tcp): (IpAddress, IpAddress, &[u8]) = match packet.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(packet).ok()?;
            let whole = !ip.more_frags() && ip.frag_offset() == 0;
            if !ip.verify_checksum() || ip.next_header() != IpProtocol::Tcp || !whole {
                return None;
            }
            let len = usize::from(ip.total_len()).min(packet.len());
            let hl = usize::from(ip.header_len());
            (
                ip.src_addr().into(),
                ip.dst_addr().into(),
                packet.get(hl..len)?,
            )
        }
        6 => {
            let ip = Ipv6Packet::new_checked(packet).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            let end = (40 + usize::from(ip.payload_len())).min(packet.len());
            (
                ip.src_addr().into(),
                ip.dst_addr().into(),
                packet.get(40..end)?,
            )
        }
        _ => return None,
    };
    let (sport, dport, seg, payload) = Segment::parse(tcp, src, dst, true)?;
    Some((
        SocketAddr::new(src.into(), sport),
        SocketAddr::new(dst.into(), dport),
        seg,
        payload,
    ))
}

/// Length of the IP packet `emit` writes for this segment and payload length.
pub fn packet_len(src: &SocketAddr, seg: &Segment, payload: usize) -> usize {
    let ip = if src.is_ipv4() { 20 } else { 40 };
    ip + seg.header_len() + payload
}

/// Writes the IP packet carrying `seg` from `src` to `dst` into `out` (at least `packet_len` bytes);
/// returns its length.
pub fn emit(
    src: SocketAddr,
    dst: SocketAddr,
    seg: &Segment,
    payload: &[u8],
    out: &mut [u8],
) -> usize {
    let (s, d): (IpAddress, IpAddress) = (src.ip().into(), dst.ip().into());
    let tcp_len = seg.header_len() + payload.len();
    let ip = IpRepr::new(s, d, IpProtocol::Tcp, tcp_len, HOP_LIMIT);
    let hl = ip.header_len();
    ip.emit(&mut out[..hl + tcp_len], &ChecksumCapabilities::default());
    hl + seg.emit((src.port(), dst.port()), (s, d), payload, &mut out[hl..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp2::Seq;

    #[test]
    fn round_trips_both_versions() {
        let seg = Segment {
            seq: Seq(5),
            ack: Some(Seq(9)),
            window: 100,
            len: 4,
            ts: Some((1, 2)),
            ..Segment::default()
        };
        for (a, b) in [
            ("10.0.0.1:1000", "10.0.0.2:80"),
            ("[fd00::1]:1000", "[fd00::2]:80"),
        ] {
            let (a, b): (SocketAddr, SocketAddr) = (a.parse().unwrap(), b.parse().unwrap());
            let mut buf = [0u8; 256];
            let n = emit(a, b, &seg, b"data", &mut buf);
            assert_eq!(n, packet_len(&a, &seg, 4));
            let (src, dst, back, payload) = parse(&buf[..n]).unwrap();
            assert_eq!((src, dst, back, payload), (a, b, seg, &b"data"[..]));
            // The same packet as smoltcp's peek sees it: the framing agrees with the rest of the stack.
            let p = crate::peek::tcp(&buf[..n]).unwrap();
            assert_eq!((p.src, p.dst, p.seq, p.payload), (a, b, 5, 4));
            buf[n - 1] ^= 0x40;
            assert!(parse(&buf[..n]).is_none(), "TCP checksum");
        }
    }

    #[test]
    fn fragments_are_not_taken() {
        let seg = Segment::default();
        let (a, b): (SocketAddr, SocketAddr) =
            ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap());
        let mut buf = [0u8; 128];
        let n = emit(a, b, &seg, &[], &mut buf);
        let mut ip = Ipv4Packet::new_unchecked(&mut buf[..n]);
        ip.set_more_frags(true);
        ip.fill_checksum();
        assert!(parse(&buf[..n]).is_none());
    }
}
