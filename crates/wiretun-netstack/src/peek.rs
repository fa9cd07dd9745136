//! A glance at an inbound packet before smoltcp takes it: the TCP 4-tuple, flags, acknowledgment and SACK
//! blocks; enough to give a SYN a listening socket, to notice which connections were reset, and to see a
//! partial acknowledgment that reveals a further loss (see `TcpTable::before_ingress`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const TCP: u8 = 6;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const SACK_KIND: u8 = 5;
const WSCALE_KIND: u8 = 3;

/// The TCP header fields the stack looks at, from the sender's point of view (`src` is the remote end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TcpPeek {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    flags: u8,
    pub seq: u32,
    /// The acknowledgment number, when the ACK flag is set.
    pub ack: Option<u32>,
    /// The window field as sent (unscaled).
    pub window: u16,
    /// Bytes of payload.
    pub payload: usize,
    /// Bytes the SACK blocks report received above the acknowledgment number.
    pub sacked_above: u32,
    /// Those blocks (left, right), up to the four an option can hold; unused ones are (0, 0).
    pub sack: [(u32, u32); 4],
    /// The window-scale option's shift, when present (only a SYN may carry it).
    pub wscale: Option<u8>,
}

impl TcpPeek {
    /// A connection request: SYN without ACK.
    pub fn is_syn(&self) -> bool {
        self.flags & (SYN | ACK | RST | FIN) == SYN
    }

    /// Any SYN (with or without ACK): its window field is never scaled.
    pub fn has_syn(&self) -> bool {
        self.flags & SYN != 0
    }

    pub fn is_rst(&self) -> bool {
        self.flags & RST != 0
    }

    /// Sequence space the segment occupies: its data, plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload as u32 + u32::from(self.flags & SYN != 0) + u32::from(self.flags & FIN != 0)
    }

    /// An acknowledgment carrying nothing else: no data, no SYN, FIN or RST.
    pub fn is_pure_ack(&self) -> bool {
        self.ack.is_some() && self.payload == 0 && self.flags & (SYN | FIN | RST) == 0
    }
}

/// Sum of the SACK blocks' lengths above `ack` (0 without an ACK) and the window-scale shift, from the TCP
/// options.
fn options(options: &[u8], ack: Option<u32>) -> (u32, [(u32, u32); 4], Option<u8>) {
    let mut sum = 0u32;
    let mut blocks = [(0, 0); 4];
    let mut n = 0;
    let mut wscale = None;
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&len) = options.get(i + 1) else {
                    break;
                };
                let len = usize::from(len);
                if len < 2 || i + len > options.len() {
                    break;
                }
                if kind == WSCALE_KIND && len == 3 {
                    wscale = Some(options[i + 2]);
                }
                if let (SACK_KIND, Some(ack)) = (kind, ack) {
                    for block in options[i + 2..i + len].chunks_exact(8) {
                        let left = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
                        let right = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
                        if (left.wrapping_sub(ack) as i32) > 0
                            && (right.wrapping_sub(left) as i32) > 0
                        {
                            sum = sum.saturating_add(right.wrapping_sub(left));
                            if n < blocks.len() {
                                blocks[n] = (left, right);
                                n += 1;
                            }
                        }
                    }
                }
                i += len;
            }
        }
    }
    (sum, blocks, wscale)
}

/// The TCP fields of an unfragmented (or first-fragment) IPv4 or IPv6 packet carrying TCP directly; `None` for
/// anything else. Nothing is validated beyond lengths: smoltcp checks the packet right after.
pub(crate) fn tcp(packet: &[u8]) -> Option<TcpPeek> {
    let (src, dst, l4, l4_len) = match packet.first()? >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let fragment_offset = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]) & 0x1fff;
            if packet.len() < 20 || ihl < 20 || packet[9] != TCP || fragment_offset != 0 {
                return None;
            }
            let src: [u8; 4] = packet[12..16].try_into().ok()?;
            let dst: [u8; 4] = packet[16..20].try_into().ok()?;
            let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
            let l4_len = total.checked_sub(ihl)?;
            (
                IpAddr::from(Ipv4Addr::from(src)),
                IpAddr::from(Ipv4Addr::from(dst)),
                packet.get(ihl..)?,
                l4_len,
            )
        }
        6 => {
            if packet.len() < 40 || packet[6] != TCP {
                return None;
            }
            let src: [u8; 16] = packet[8..24].try_into().ok()?;
            let dst: [u8; 16] = packet[24..40].try_into().ok()?;
            let l4_len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
            (
                IpAddr::from(Ipv6Addr::from(src)),
                IpAddr::from(Ipv6Addr::from(dst)),
                &packet[40..],
                l4_len,
            )
        }
        _ => return None,
    };
    let header = usize::from(l4.get(12)? >> 4) * 4;
    if header < 20 || l4.len() < header {
        return None;
    }
    let flags = l4[13];
    let ack = (flags & ACK != 0).then(|| u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]));
    let (sacked_above, sack, wscale) = options(&l4[20..header], ack);
    Some(TcpPeek {
        src: SocketAddr::new(src, u16::from_be_bytes([l4[0], l4[1]])),
        dst: SocketAddr::new(dst, u16::from_be_bytes([l4[2], l4[3]])),
        flags,
        seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
        ack,
        window: u16::from_be_bytes([l4[14], l4[15]]),
        payload: l4_len.saturating_sub(header),
        sacked_above,
        sack,
        wscale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_tcp(flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[3] = 40;
        p[32] = 5 << 4;
        p[9] = TCP;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p[20..22].copy_from_slice(&1234u16.to_be_bytes());
        p[22..24].copy_from_slice(&80u16.to_be_bytes());
        p[33] = flags;
        p
    }

    #[test]
    fn reads_v4_syn_and_rst() {
        let syn = tcp(&v4_tcp(SYN)).unwrap();
        assert!(syn.is_syn() && !syn.is_rst());
        assert_eq!(syn.src, "10.0.0.1:1234".parse().unwrap());
        assert_eq!(syn.dst, "10.0.0.2:80".parse().unwrap());
        assert!(!tcp(&v4_tcp(SYN | ACK)).unwrap().is_syn());
        assert!(tcp(&v4_tcp(RST | ACK)).unwrap().is_rst());
    }

    #[test]
    fn ignores_what_it_cannot_read() {
        assert_eq!(tcp(&[]), None);
        assert_eq!(tcp(&v4_tcp(SYN)[..30]), None);
        let mut frag = v4_tcp(SYN);
        frag[7] = 1;
        assert_eq!(tcp(&frag), None);
        let mut udp = v4_tcp(SYN);
        udp[9] = 17;
        assert_eq!(tcp(&udp), None);
        let mut v6 = vec![0u8; 60];
        v6[0] = 0x60;
        v6[5] = 20;
        v6[6] = TCP;
        v6[52] = 5 << 4;
        v6[53] = SYN;
        assert!(tcp(&v6).unwrap().is_syn());
    }

    #[test]
    fn reads_ack_payload_and_sack_blocks() {
        let mut tcp_part = vec![0u8; 20];
        tcp_part[8..12].copy_from_slice(&1000u32.to_be_bytes());
        tcp_part[12] = 10 << 4;
        tcp_part[13] = ACK;
        // NOP, NOP, SACK with two blocks: 2000..3000, and 500..900 below the ACK (ignored).
        tcp_part.extend_from_slice(&[1, 1, SACK_KIND, 18]);
        for edge in [2000u32, 3000, 500, 900] {
            tcp_part.extend_from_slice(&edge.to_be_bytes());
        }
        tcp_part.extend_from_slice(&[0u8; 10]);
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[9] = TCP;
        p.extend_from_slice(&tcp_part);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let t = tcp(&p).unwrap();
        assert_eq!((t.ack, t.payload, t.sacked_above), (Some(1000), 10, 1000));
        assert_eq!(
            t.sack,
            [(2000, 3000), (0, 0), (0, 0), (0, 0)],
            "the block below the ACK is left out"
        );
        assert!(!t.is_pure_ack(), "it carries data");
        assert_eq!(t.wscale, None);
    }

    #[test]
    fn reads_the_window_scale_of_a_syn() {
        let mut p = v4_tcp(SYN | ACK);
        p[32] = 6 << 4;
        p[3] = 44;
        // NOP, window scale 7.
        p.extend_from_slice(&[1, WSCALE_KIND, 3, 7]);
        let t = tcp(&p).unwrap();
        assert!(t.has_syn() && !t.is_syn());
        assert_eq!(t.wscale, Some(7));
    }
}
