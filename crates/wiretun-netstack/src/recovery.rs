//! Loss recovery smoltcp lacks, supplied from outside it by handing it acknowledgments it would have
//! reacted to, had they come.
//!
//! smoltcp 0.14 retransmits on three duplicate ACKs (one segment) and on its retransmission timer (at least
//! 1 s, doubling, then everything from the first hole). It has no SACK-based recovery, no NewReno partial-ACK
//! rule and no tail-loss probe, so on a lossy path a second loss in a window, or a loss near the end of a
//! burst (no later segments, so no duplicate ACKs), stalls the connection for a second or more. Measured on
//! the back-to-back test link, 2 MiB at 5 % loss took 77 s, nearly all of it waiting for timers.
//!
//! Both assists work by injecting pure ACKs that restate what the peer has already acknowledged, so smoltcp
//! counts them as duplicates and fast-retransmits the first unacknowledged segment. They carry no
//! information the peer did not send, and retransmitting the oldest unacknowledged segment is always safe.
//! smoltcp retransmits only when its duplicate count reaches exactly three, so a probe is four ACKs with the
//! window one unit smaller than the peer's last: the first reads as a window update (the count restarts),
//! the other three as duplicates. The peer's next segment restores the window.
//!
//! - SACK loss rule (RFC 6675's `IsLost`): a pure ACK whose SACK blocks report more than two segments'
//!   worth received above it means the segment at the ACK was lost. This covers a second loss in the same
//!   window (the partial ACK of RFC 6582) and duplicate ACKs smoltcp does not count because the receiver's
//!   window moved between them (it reads while the hole is open). One repair per ACK value.
//! - Stall probe (in the spirit of RFC 8985's tail-loss probe): data outstanding and no acknowledgment
//!   progress for a probe interval (at least 200 ms, and three handshake round trips), backing off by
//!   doubling; past smoltcp's own minimum timeout of 1 s, its timer is left to act alone.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::tcp::{self, State};
use smoltcp::wire::{IpProtocol, IpRepr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber};

use crate::peek::TcpPeek;

mod window;
pub(crate) use window::set_window;
use window::Window;

const PROBE_MIN: Duration = Duration::from_millis(200);
const PROBE_MAX: Duration = Duration::from_millis(800);

/// What a connection has heard from its peer, for the assists above.
pub(crate) struct PeerTrack {
    /// Highest acknowledgment number.
    ack: Option<u32>,
    /// The acknowledgment a SACK repair was last sent for.
    repaired: Option<u32>,
    /// The peer's next sequence number, as far as its segments show.
    next_seq: u32,
    /// The window field of its latest segment.
    window: u16,
    progress_at: Instant,
    probe: Duration,
    /// When this end sent its SYN or SYN-ACK, until the handshake completes.
    pub handshake_from: Option<Instant>,
    rtt: Duration,
    /// The congestion window this end sends under (smoltcp's own control is off: see `window`).
    cc: Window,
}

fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl PeerTrack {
    pub fn new(now: Instant, mss: u32) -> PeerTrack {
        PeerTrack {
            ack: None,
            repaired: None,
            next_seq: 0,
            window: 0,
            progress_at: now,
            probe: PROBE_MIN,
            handshake_from: Some(now),
            rtt: Duration::ZERO,
            cc: Window::new(mss),
        }
    }

    /// Records an inbound segment from the peer; returns the window field smoltcp should see in it (the
    /// congestion window applied) and the ACKs to hand smoltcp after it (a SACK repair). `local` and `remote`
    /// are this connection's ends.
    pub fn on_segment(
        &mut self,
        p: &TcpPeek,
        mss: u32,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        tx_empty: bool,
    ) -> Extra {
        let mut extra = Extra::default();
        let end = p.seq.wrapping_add(p.seq_len());
        if self.ack.is_none() || after(end, self.next_seq) {
            self.next_seq = end;
        }
        let mut field = self.cc.on_segment(p, now);
        // Nothing but (at most) a FIN unacknowledged: smoltcp must not count these ACKs as duplicates. Its
        // fast retransmit then has nothing to send and leaves the retransmission timer off, so a lost FIN
        // would never go again (transfers stalled in FIN-WAIT-1). A window one unit off reads as an update.
        if tx_empty && p.is_pure_ack() && field == self.window && field > 1 {
            field -= 1;
        }
        extra.window = (field != p.window).then_some(field);
        self.window = field;
        let Some(ack) = p.ack else { return extra };
        match self.ack {
            Some(last) if after(ack, last) => {
                self.ack = Some(ack);
                self.progress_at = now;
                self.probe = PROBE_MIN.max(self.rtt * 3);
            }
            None => self.ack = Some(ack),
            Some(_) => {}
        }
        let lost = p.is_pure_ack()
            && self.cc.sacked() > u64::from(2 * mss)
            && Some(ack) == self.ack
            && self.repaired != Some(ack);
        if lost {
            self.cc.on_loss(ack);
            self.repaired = Some(ack);
            extra.after = self.restatement(local, remote).unwrap_or_default();
        }
        extra
    }

    /// Four ACKs restating the latest one, the window one unit smaller: a window update, then three
    /// duplicates.
    fn restatement(&self, local: SocketAddr, remote: SocketAddr) -> Option<Vec<Vec<u8>>> {
        let ack = self.ack.filter(|_| self.window >= 2)?;
        Some(vec![
            pure_ack(
                remote,
                local,
                self.next_seq,
                ack,
                self.window - 1
            );
            4
        ])
    }

    /// A SYN that came before the connection had a 4-tuple to be found by.
    pub fn peer_syn(&mut self, p: &TcpPeek, now: Instant) {
        self.cc.on_segment(p, now);
    }

    /// When the peer last acknowledged something new (or this end last had nothing outstanding).
    pub fn progress_at(&self) -> Instant {
        self.progress_at
    }

    pub fn handshake_done(&mut self, now: Instant) {
        if let Some(from) = self.handshake_from.take() {
            self.rtt = now - from;
            self.cc.rtt_sample(self.rtt);
            self.probe = PROBE_MIN.max(self.rtt * 3);
            self.progress_at = now;
        }
    }

    /// A stall probe to inject now, if one is due; otherwise when the next one could be.
    pub fn probe(
        &mut self,
        sock: &tcp::Socket<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> Probe {
        let sending = matches!(
            sock.state(),
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::LastAck
                | State::Closing
        );
        // Nothing outstanding (or a closed window, which smoltcp probes itself): the clock restarts.
        if !sending || sock.send_queue() == 0 || self.window == 0 || self.probe > PROBE_MAX {
            if sock.send_queue() == 0 {
                self.progress_at = now;
                self.probe = PROBE_MIN.max(self.rtt * 3);
            }
            return Probe::None;
        }
        let due = self.progress_at + self.probe;
        if now < due {
            return Probe::At(due);
        }
        let Some(packets) = self.restatement(local, remote) else {
            return Probe::None;
        };
        self.progress_at = now;
        self.probe *= 2;
        if let Some(ack) = self.ack {
            self.cc.on_loss(ack);
        }
        Probe::Now(packets)
    }
}

/// What to do around an inbound segment: its window field rewritten, ACKs handed smoltcp after it.
#[derive(Default)]
pub(crate) struct Extra {
    pub window: Option<u16>,
    pub after: Vec<Vec<u8>>,
}

pub(crate) enum Probe {
    None,
    At(Instant),
    Now(Vec<Vec<u8>>),
}

/// A pure ACK from `src` to `dst`, as the peer would have sent it.
pub(crate) fn pure_ack(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    window: u16,
) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        control: TcpControl::None,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: Some(TcpSeqNumber(ack as i32)),
        window_len: window,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    let (s, d) = (src.ip().into(), dst.ip().into());
    let ip = IpRepr::new(s, d, IpProtocol::Tcp, tcp.header_len(), 64);
    let mut buf = vec![0u8; ip.header_len() + tcp.header_len()];
    let caps = ChecksumCapabilities::default();
    ip.emit(&mut buf[..], &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(&mut buf[ip.header_len()..]),
        &s,
        &d,
        &caps,
    );
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthesized_ack_reads_back() {
        let (src, dst) = (
            "10.0.0.2:80".parse().unwrap(),
            "10.0.0.1:50000".parse().unwrap(),
        );
        let p = crate::peek::tcp(&pure_ack(src, dst, 7, 1234, 512)).unwrap();
        assert_eq!(
            (p.src, p.dst, p.seq, p.ack, p.window),
            (src, dst, 7, Some(1234), 512)
        );
        assert!(p.is_pure_ack());
        let v6 = pure_ack(
            "[fd00::2]:80".parse().unwrap(),
            "[fd00::1]:5".parse().unwrap(),
            1,
            2,
            3,
        );
        assert!(crate::peek::tcp(&v6).unwrap().is_pure_ack());
        let v4 = pure_ack(src, dst, 7, 1234, 512);
        let ip = smoltcp::wire::Ipv4Packet::new_checked(&v4[..]).unwrap();
        assert!(ip.verify_checksum(), "IPv4 header checksum");
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert!(
            tcp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()),
            "TCP checksum"
        );
    }
}
