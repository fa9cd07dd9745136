//! One TCP connection: the state machine of RFC 9293 around the sending and receiving halves, with
//! timestamps and PAWS (RFC 7323), RST handling with in-window checks (RFC 5961's spirit: a SYN or an
//! off-sequence RST only draws an ACK), TIME-WAIT, keep-alive and zero-window probes.
//!
//! Segments in: `on_segment`. Segments out: `poll_transmit` (output.rs). Nothing here reads a clock.

use std::time::Instant;

use super::handshake::{self, Negotiated};
use super::receiver::Receiver;
use super::segment::{Segment, FIN, RST, SYN};
use super::sender::Sender;
use super::seq::Seq;
use super::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
}

pub struct Connection {
    pub(super) cfg: Config,
    pub(super) state: State,
    /// Time zero of the timestamp clock.
    pub(super) epoch: Instant,
    pub(super) iss: Seq,
    pub(super) snd: Sender,
    pub(super) rcv: Receiver,
    pub(super) opts: Negotiated,
    /// Latest timestamp from the peer to echo (RFC 7323 4.3), and the ACK last sent.
    pub(super) ts_recent: u32,
    pub(super) last_ack_sent: Seq,
    /// The SYN (or SYN-ACK): when it was first sent, when next to send it, how often it went.
    pub(super) syn_first: Option<Instant>,
    pub(super) syn_at: Option<Instant>,
    pub(super) syn_sends: u32,
    /// An ACK is owed now / by this time.
    pub(super) ack_now: bool,
    /// The owed ACK answers data out of order, duplicated or filling a hole: it goes before the next
    /// segment is taken (`immediate_ack`), so the sender sees every change of the SACK blocks.
    pub(super) ack_immediately: bool,
    pub(super) ack_deadline: Option<Instant>,
    pub(super) unacked_segments: u32,
    /// Window last advertised, to tell when a read opened it enough to say so.
    pub(super) last_wnd: u32,
    /// The application closed its side: a FIN follows the data.
    pub(super) fin_queued: bool,
    pub(super) fin_received: bool,
    /// Where the peer's FIN is, once seen: it takes effect when the data before it is all in.
    pub(super) peer_fin: Option<Seq>,
    /// The segment that last updated the send window (RFC 9293 SND.WL1, SND.WL2): an older one, reordered,
    /// must not shrink it again.
    pub(super) snd_wl1: Seq,
    pub(super) snd_wl2: Seq,
    pub(super) time_wait_until: Option<Instant>,
    pub(super) rst_pending: bool,
    /// The connection ended by a reset (received, or ours).
    pub reset: bool,
    pub(super) last_heard: Instant,
    /// Keep-alive or zero-window probe: when next, and how many went unanswered.
    pub(super) probe_at: Option<Instant>,
    pub(super) probes: u32,
}

impl Connection {
    fn new(cfg: Config, now: Instant, state: State) -> Connection {
        let iss = Seq(cfg.iss);
        let snd = Sender::new(&cfg, iss.plus(1), u32::from(cfg.mss), now);
        let rcv = Receiver::new(cfg.rx_buffer, Seq(0), 0);
        Connection {
            state,
            epoch: now,
            iss,
            snd,
            rcv,
            opts: Negotiated::default(),
            ts_recent: 0,
            last_ack_sent: Seq(0),
            syn_first: None,
            syn_at: Some(now),
            syn_sends: 0,
            ack_now: false,
            ack_immediately: false,
            ack_deadline: None,
            unacked_segments: 0,
            last_wnd: 0,
            fin_queued: false,
            fin_received: false,
            peer_fin: None,
            snd_wl1: Seq(0),
            snd_wl2: iss,
            time_wait_until: None,
            rst_pending: false,
            reset: false,
            last_heard: now,
            probe_at: None,
            probes: 0,
            cfg,
        }
    }

    /// An active open: the first `poll_transmit` sends the SYN.
    pub fn connect(cfg: Config, now: Instant) -> Connection {
        Connection::new(cfg, now, State::SynSent)
    }

    /// A passive open from a peer's SYN: the first `poll_transmit` sends the SYN-ACK. `None` when the
    /// segment is not a plain SYN.
    pub fn accept(cfg: Config, syn: &Segment, now: Instant) -> Option<Connection> {
        if !syn.has(SYN) || syn.has(RST) || syn.ack.is_some() {
            return None;
        }
        let mut c = Connection::new(cfg, now, State::SynReceived);
        c.synchronize(syn);
        Some(c)
    }

    /// Takes the peer's SYN (or SYN-ACK): its sequence numbers and options.
    fn synchronize(&mut self, syn: &Segment) {
        self.opts = handshake::negotiate(syn, self.cfg.mss, self.cfg.rx_buffer);
        self.rcv.nxt = syn.seq.plus(1);
        self.rcv.wscale = self.opts.rcv_shift;
        self.last_ack_sent = self.rcv.nxt;
        if let Some((tsval, _)) = syn.ts.filter(|_| self.opts.ts) {
            self.ts_recent = tsval;
        }
        // The MSS the peer offered counts payload and options together (RFC 6691): every segment carries
        // timestamps, so they come off it. Sending the whole MSS besides them made full segments 12 bytes
        // longer than the tunnel's MTU.
        self.snd.set_mss(self.opts.mss - self.ts_option_len());
        self.snd.wnd = u32::from(syn.window);
        self.snd_wl1 = syn.seq;
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The sending half's counters and state (tests, stats).
    pub fn sender(&self) -> &Sender {
        &self.snd
    }

    pub fn receiver(&self) -> &Receiver {
        &self.rcv
    }

    /// Queues bytes to send; returns how many fit. Nothing before the handshake completes or after close.
    pub fn send(&mut self, data: &[u8]) -> usize {
        if !matches!(self.state, State::Established | State::CloseWait) || self.fin_queued {
            return 0;
        }
        self.snd.q.data.push(data)
    }

    /// Bytes `send` would take now.
    pub fn send_space(&self) -> usize {
        if matches!(self.state, State::Established | State::CloseWait) && !self.fin_queued {
            self.snd.q.data.free()
        } else {
            0
        }
    }

    /// Reads received bytes. A read that opens the window by half the buffer (or from under two segments)
    /// announces it at once, so a sender that was held by it resumes.
    pub fn recv(&mut self, out: &mut [u8]) -> usize {
        let n = self.rcv.read(out);
        self.after_read(n);
        n
    }

    /// Offers readable bytes in place to `f`, which returns how many it took; `None` when none are
    /// readable (a splice writes them straight to its OS socket: no copy in between).
    pub fn recv_in_place<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> Option<R> {
        if self.rcv.readable() == 0 {
            return None;
        }
        let (n, r) = self.rcv.read_with(f);
        self.after_read(n);
        Some(r)
    }

    /// Offers free send space in place to `f`, which returns how many bytes it wrote; `None` when this
    /// side cannot send (before the handshake, after close).
    pub fn send_in_place<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> Option<R> {
        if !matches!(self.state, State::Established | State::CloseWait) || self.fin_queued {
            return None;
        }
        let ring = &mut self.snd.q.data;
        let (n, r) = f(ring.free_mut());
        ring.extend(n);
        Some(r)
    }

    /// The peer's FIN arrived (its stream ended after what is buffered).
    pub fn peer_finished(&self) -> bool {
        self.fin_received
    }

    fn after_read(&mut self, n: usize) {
        let wnd = self.rcv.window();
        let mss = self.opts.mss.max(1);
        if n > 0
            && (wnd - self.last_wnd.min(wnd) >= self.cfg.rx_buffer as u32 / 2
                || self.last_wnd < 2 * mss)
        {
            self.ack_now = true;
        }
    }

    /// The peer sent its FIN and every byte before it was read.
    pub fn at_eof(&self) -> bool {
        self.fin_received && self.rcv.readable() == 0
    }

    /// Closes this end's sending side: a FIN after the queued data.
    pub fn close(&mut self) {
        match self.state {
            State::SynSent => self.state = State::Closed,
            State::SynReceived | State::Established | State::CloseWait => self.fin_queued = true,
            _ => {}
        }
    }

    /// Resets the connection: one RST, then closed.
    pub fn abort(&mut self) {
        if !matches!(self.state, State::Closed | State::TimeWait | State::SynSent) {
            self.rst_pending = true;
        }
        self.state = State::Closed;
        self.reset = true;
    }

    /// Bytes of TCP options the timestamps take in every segment (10, padded to 12), 0 without them.
    pub(super) fn ts_option_len(&self) -> u32 {
        if self.opts.ts {
            12
        } else {
            0
        }
    }

    /// The timestamp clock now.
    pub(super) fn tsval(&self, now: Instant) -> u32 {
        (now.saturating_duration_since(self.epoch).as_millis() as u32)
            .wrapping_add(self.cfg.ts_offset)
    }

    /// Takes one segment from the peer with its payload.
    pub fn on_segment(&mut self, now: Instant, seg: &Segment, payload: &[u8]) {
        match self.state {
            State::Closed => {}
            State::SynSent => self.on_syn_sent(now, seg),
            _ => self.on_synchronized(now, seg, payload),
        }
    }

    fn on_syn_sent(&mut self, now: Instant, seg: &Segment) {
        let our_syn_acked = seg.ack == Some(self.iss.plus(1));
        if seg.has(RST) {
            if our_syn_acked {
                self.state = State::Closed;
                self.reset = true;
            }
            return;
        }
        if !seg.has(SYN) || !our_syn_acked {
            return;
        }
        self.synchronize(seg);
        self.snd.wnd = u32::from(seg.window) << self.opts.snd_shift;
        self.handshake_rtt(now);
        self.state = State::Established;
        self.ack_now = true;
    }

    /// An RTT sample from the handshake, unless the SYN was sent more than once (Karn).
    fn handshake_rtt(&mut self, now: Instant) {
        if let (Some(first), 1) = (self.syn_first, self.syn_sends) {
            self.snd.rto.sample(now - first);
        }
        self.syn_at = None;
    }

    /// Is the segment's sequence range acceptable (RFC 9293 3.10.7.4)?
    /// A pure duplicate ACK at the expected sequence number: harmless to take with an old timestamp.
    fn disordered_ack(&self, seg: &Segment) -> bool {
        seg.len == 0
            && !seg.has(SYN | FIN | RST)
            && seg.seq == self.rcv.nxt
            && seg.ack == Some(self.snd.q.una)
    }

    fn acceptable(&self, seg: &Segment) -> bool {
        let (nxt, wnd) = (self.rcv.nxt, self.rcv.window());
        let in_wnd = |s: Seq| s.at_or_after(nxt) && s.before(nxt.plus(wnd));
        match (seg.seq_len(), wnd) {
            (0, 0) => seg.seq == nxt,
            (0, _) => in_wnd(seg.seq),
            (_, 0) => false,
            (len, _) => in_wnd(seg.seq) || in_wnd(seg.seq.plus(len - 1)),
        }
    }

    fn on_synchronized(&mut self, now: Instant, seg: &Segment, payload: &[u8]) {
        if seg.has(RST) {
            // Only an RST at exactly the next expected sequence resets; one elsewhere in the window draws
            // an ACK (RFC 5961 3.2), one outside it nothing.
            if seg.seq == self.rcv.nxt {
                self.state = State::Closed;
                self.reset = true;
            } else if self.acceptable(seg) {
                self.ack_now = true;
            }
            return;
        }
        if seg.has(SYN) {
            if self.state == State::SynReceived && seg.seq.plus(1) == self.rcv.nxt {
                // The peer's SYN again: our SYN-ACK was lost, so it goes again now, not at its timer.
                self.syn_at = Some(now);
            } else {
                // A retransmitted SYN-ACK (our ACK was lost) or a stray SYN: restate where we are.
                self.ack_now = true;
            }
            return;
        }
        if self.opts.ts {
            match seg.ts {
                // PAWS (RFC 7323 5.3): an older timestamp than the last one echoed is an old duplicate,
                // unless it is a duplicate ACK the path reordered (Linux's tcp_disordered_ack): its SACK
                // blocks are news, and answering each such ACK with one of ours only adds traffic.
                Some((tsval, _))
                    if Seq(tsval).before(Seq(self.ts_recent)) && !self.disordered_ack(seg) =>
                {
                    self.ack_now = true;
                    return;
                }
                Some((tsval, _)) if seg.seq.at_or_before(self.last_ack_sent) => {
                    self.ts_recent = tsval
                }
                _ => {}
            }
        }
        if !self.acceptable(seg) {
            if seg.len > 0 && seg.seq.plus(seg.len).at_or_before(self.rcv.nxt) {
                self.rcv.on_data(seg.seq, payload); // a duplicate: the next ACK carries its D-SACK
                self.ack_immediately = true;
            }
            self.ack_now = true;
            return;
        }
        self.last_heard = now;
        self.probes = 0;
        let Some(ack) = seg.ack else { return };
        if !self.on_ack(now, seg, ack) {
            return;
        }
        self.on_data(now, seg, payload);
    }

    /// The ACK field; false when the segment must go no further.
    fn on_ack(&mut self, now: Instant, seg: &Segment, ack: Seq) -> bool {
        if self.state == State::SynReceived {
            if ack != self.iss.plus(1) {
                self.rst_pending = true;
                return false;
            }
            self.handshake_rtt(now);
            self.state = State::Established;
        }
        if ack.after(self.snd.q.nxt) {
            self.ack_now = true;
            return false;
        }
        if ack.at_or_after(self.snd.q.una) {
            let newer = self.snd_wl1.before(seg.seq)
                || (self.snd_wl1 == seg.seq && self.snd_wl2.at_or_before(ack));
            if newer {
                self.snd.wnd = u32::from(seg.window) << self.opts.snd_shift;
                (self.snd_wl1, self.snd_wl2) = (seg.seq, ack);
            }
            self.snd.on_ack(now, seg, ack);
        }
        let fin_acked = self.snd.q.fin_sent && self.snd.q.una == self.snd.q.nxt;
        match self.state {
            State::FinWait1 if fin_acked => self.state = State::FinWait2,
            State::Closing if fin_acked => self.enter_time_wait(now),
            State::LastAck if fin_acked => {
                self.state = State::Closed;
                return false;
            }
            _ => {}
        }
        true
    }

    fn on_data(&mut self, now: Instant, seg: &Segment, payload: &[u8]) {
        let receiving = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );
        if receiving && !payload.is_empty() {
            let out = self.rcv.on_data(seg.seq, payload);
            self.unacked_segments += 1;
            self.ack_immediately |= out.ack_now;
            if out.ack_now || self.unacked_segments >= 2 || self.cfg.delayed_ack.is_none() {
                self.ack_now = true;
            } else if self.ack_deadline.is_none() {
                self.ack_deadline = self.cfg.delayed_ack.map(|d| now + d);
            }
        }
        if seg.has(FIN) && !self.fin_received {
            self.peer_fin = Some(seg.seq.plus(seg.len));
        }
        let fin_now = !self.fin_received && self.peer_fin == Some(self.rcv.nxt);
        if !seg.has(FIN) && !fin_now {
            return;
        }
        if fin_now {
            self.fin_received = true;
            self.rcv.nxt = self.rcv.nxt.plus(1);
            self.state = match self.state {
                State::Established => State::CloseWait,
                State::FinWait1 => State::Closing,
                other => other,
            };
            if self.state == State::FinWait2 {
                self.enter_time_wait(now);
            }
        } else if self.state == State::TimeWait {
            self.enter_time_wait(now); // the peer did not get our ACK of its FIN: restart the wait
        }
        self.ack_now = true;
    }

    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        self.time_wait_until = Some(now + self.cfg.time_wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retransmitted_syn_gets_the_syn_ack_again_at_once() {
        let t0 = Instant::now();
        let syn = Segment {
            seq: Seq(99),
            flags: SYN,
            window: 1000,
            ..Segment::default()
        };
        let mut c = Connection::accept(Config::new(1000, 5), &syn, t0).unwrap();
        let mut buf = [0u8; 64];
        let first = c.poll_transmit(t0, &mut buf).unwrap();
        assert!(first.has(SYN) && first.ack == Some(Seq(100)));
        assert!(c.poll_transmit(t0, &mut buf).is_none());
        let later = t0 + std::time::Duration::from_millis(300);
        c.on_segment(later, &syn, &[]);
        let again = c
            .poll_transmit(later, &mut buf)
            .expect("SYN-ACK again, before its 1 s timer");
        assert_eq!(
            (again.seq, again.ack, again.flags),
            (first.seq, first.ack, first.flags)
        );
    }

    /// The peer's SYN, from sequence 100, offering SACK.
    fn sack_syn(window: u16, mss: Option<u16>, ts: Option<(u32, u32)>) -> Segment {
        Segment {
            seq: Seq(99),
            flags: SYN,
            window,
            mss,
            sack_permitted: true,
            ts,
            ..Segment::default()
        }
    }

    /// A connection that accepted `syn` (ISS 5, offering `mss`) and sent its SYN-ACK.
    fn accepted(t0: Instant, syn: &Segment, mss: u16) -> Connection {
        let mut c = Connection::accept(Config::new(mss, 5), syn, t0).unwrap();
        c.poll_transmit(t0, &mut [0u8; 128]).expect("SYN-ACK");
        c
    }

    /// 100 bytes of the peer's data at `seq`, acknowledging the SYN-ACK.
    fn data(seq: u32, window: u16, ts: Option<(u32, u32)>) -> Segment {
        Segment {
            seq: Seq(seq),
            ack: Some(Seq(6)),
            window,
            len: 100,
            ts,
            ..Segment::default()
        }
    }

    /// A batch taken without `poll_transmit` in between: each out-of-order segment, the duplicate and
    /// the hole's repair get their own ACK at once, with that moment's SACK blocks; in-order data waits.
    #[test]
    fn out_of_order_data_is_acknowledged_segment_by_segment() {
        let t0 = Instant::now();
        let mut c = accepted(t0, &sack_syn(1000, None, None), 1000);
        let data = |seq| data(seq, 1000, None);
        c.on_segment(t0, &data(100), &[1; 100]);
        assert_eq!(c.state(), State::Established);
        assert!(c.immediate_ack(t0).is_none(), "in order: no ACK of its own");
        let mut acks = Vec::new();
        for seq in [300, 500, 500, 200] {
            c.on_segment(t0, &data(seq), &[1; 100]);
            let ack = c.immediate_ack(t0).expect("an ACK for each");
            acks.push((
                ack.ack.unwrap().0,
                ack.sack_blocks().first().map(|b| (b.0 .0, b.1 .0)),
            ));
        }
        assert_eq!(
            acks,
            [
                (200, Some((300, 400))),
                (200, Some((500, 600))),
                (200, Some((500, 600))), // the D-SACK
                (400, Some((500, 600))),
            ]
        );
        assert!(
            c.poll_transmit(t0, &mut [0u8; 64]).is_none(),
            "nothing more owed"
        );
    }

    /// Data sent while out-of-order data is held: the MSS offered counts options and payload together, so
    /// full segments are the MSS less the timestamps and carry no SACK blocks; a shorter one carries them.
    #[test]
    fn segments_fit_the_offered_mss_with_their_options() {
        let t0 = Instant::now();
        let mut c = accepted(t0, &sack_syn(65535, Some(1012), Some((1, 0))), 1012);
        let data = |seq| data(seq, 65535, Some((2, 0)));
        c.on_segment(t0, &data(100), &[1; 100]);
        c.on_segment(t0, &data(300), &[1; 100]);
        assert!(c.immediate_ack(t0).is_some_and(|a| a.nsack == 1));
        assert_eq!(c.send(&[7; 2500]), 2500);
        let mut buf = vec![0u8; 2048];
        let mut sent = Vec::new();
        while let Some(seg) = c.poll_transmit(t0, &mut buf) {
            assert!(seg.header_len() - 20 + seg.len as usize <= 1012, "{seg:?}");
            sent.push((seg.len, seg.nsack));
        }
        assert_eq!(sent, [(1000, 0), (1000, 0), (500, 1)]);
    }
}
