//! The three-way handshake's option negotiation (RFC 7323 window scaling and timestamps, RFC 2018's SACK
//! permission, the MSS) and the SYN / SYN-ACK this end sends.

use super::segment::{Segment, SYN};
use super::seq::Seq;

/// What both ends agreed on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Negotiated {
    pub sack: bool,
    pub ts: bool,
    /// Both sent a window scale option.
    pub scaled: bool,
    /// Shift applied to the peer's window field.
    pub snd_shift: u8,
    /// Shift this end's window field is sent with.
    pub rcv_shift: u8,
    /// Payload size this end sends.
    pub mss: u32,
}

/// Smallest shift that lets the window field describe a buffer this big (at most 14, RFC 7323 2.3).
pub fn shift_for(buffer: usize) -> u8 {
    let mut s = 0;
    while s < 14 && (buffer >> s) > usize::from(u16::MAX) {
        s += 1;
    }
    s
}

/// This end's SYN or SYN-ACK options: everything offered (a SYN-ACK answers only what the SYN offered).
pub fn syn(
    iss: Seq,
    ack: Option<Seq>,
    mss: u16,
    rx_buffer: usize,
    offer: Option<&Negotiated>,
) -> Segment {
    let all = Negotiated {
        sack: true,
        ts: true,
        scaled: true,
        snd_shift: 0,
        rcv_shift: shift_for(rx_buffer),
        mss: 0,
    };
    let offer = offer.copied().unwrap_or(all);
    Segment {
        seq: iss,
        ack,
        flags: SYN,
        // The window of a SYN is never scaled (RFC 7323 2.2).
        window: rx_buffer.min(usize::from(u16::MAX)) as u16,
        mss: Some(mss),
        wscale: offer.scaled.then_some(offer.rcv_shift),
        sack_permitted: offer.sack,
        ..Segment::default()
    }
}

/// Agreement from the peer's SYN (or SYN-ACK) and this end's configuration. An option counts only if both
/// sent it; the peer's MSS defaults to 536 (RFC 9293 3.7.1).
pub fn negotiate(peer: &Segment, mss: u16, rx_buffer: usize) -> Negotiated {
    let scaled = peer.wscale.is_some();
    Negotiated {
        sack: peer.sack_permitted,
        ts: peer.ts.is_some(),
        scaled,
        snd_shift: if scaled {
            peer.wscale.unwrap_or(0).min(14)
        } else {
            0
        },
        rcv_shift: if scaled { shift_for(rx_buffer) } else { 0 },
        mss: u32::from(peer.mss.unwrap_or(536).clamp(64, mss)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_need_both_ends() {
        assert_eq!(shift_for(65535), 0);
        assert_eq!(shift_for(4 << 20), 7);
        let mut peer = syn(Seq(9), None, 1380, 1 << 20, None);
        peer.ts = Some((5, 0));
        let n = negotiate(&peer, 1400, 4 << 20);
        assert!(n.sack && n.ts);
        assert_eq!((n.snd_shift, n.rcv_shift, n.mss), (5, 7, 1380));
        let bare = Segment {
            flags: SYN,
            ..Segment::default()
        };
        let n = negotiate(&bare, 1400, 4 << 20);
        assert!(!n.sack && !n.ts);
        assert_eq!((n.snd_shift, n.rcv_shift, n.mss), (0, 0, 536));
    }
}
