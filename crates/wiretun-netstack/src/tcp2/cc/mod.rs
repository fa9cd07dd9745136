//! Congestion control behind a small interface. The sender tells a controller what each ACK delivered and
//! when a loss episode begins (once per episode: however many holes one window has, it is one event), and
//! asks it for a window and, optionally, a pacing rate. Recovery mechanics (which segment to resend, PRR's
//! per-ACK budget) stay in the sender; the controller only sets the targets.

use std::time::{Duration, Instant};

use super::rate::RateSample;

pub mod ack_aggregation;
pub mod bbr;
pub mod cubic;

/// What one ACK did, for a controller.
#[derive(Clone, Copy, Debug)]
pub struct Ack {
    pub now: Instant,
    /// Bytes newly delivered (cumulatively or by SACK).
    pub delivered: u32,
    /// Bytes in flight after it.
    pub in_flight: u32,
    /// Bytes it had marked lost (RACK), newly.
    pub lost: u32,
    pub rate: Option<RateSample>,
    /// This ACK's RTT sample: from the latest-sent segment it delivered that was sent only once (Karn: a
    /// retransmission's ACK may be the original's, so its time says nothing).
    pub rtt: Option<Duration>,
    pub min_rtt: Option<Duration>,
    pub srtt: Option<Duration>,
    /// The sender is in loss recovery (a controller that grows by ACKs holds still).
    pub in_recovery: bool,
}

pub trait CongestionControl: Send {
    fn name(&self) -> &'static str;
    fn on_ack(&mut self, ack: &Ack);
    /// A loss episode begins with `in_flight` bytes in the network: the one reduction for it.
    fn on_loss_episode(&mut self, now: Instant, in_flight: u32);
    /// The retransmission timer expired.
    fn on_rto(&mut self, now: Instant);
    /// The episode (or timeout) was spurious: go back to before it.
    fn undo(&mut self);
    /// Loss recovery ended.
    fn on_recovery_end(&mut self) {}
    /// Whether PRR paces the repair toward `ssthresh` (loss-based controllers); a controller that sets
    /// its own window through recovery says no, and the sender then keeps to `cwnd` alone.
    fn uses_prr(&self) -> bool {
        true
    }
    /// Bytes that may be in flight.
    fn cwnd(&self) -> u32;
    /// Where in-flight data should settle during recovery (PRR's target).
    fn ssthresh(&self) -> u32;
    /// Bytes per second to pace at, if this controller paces; `srtt` stands in for a model not built yet.
    fn pacing_rate(&self, srtt: Option<Duration>) -> Option<u64>;
}

/// Which controller a connection uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Rate-based (a simple BBR, `bbr.rs`): holds its rate under random loss. The default, for the proxy's
    /// long transfers over lossy paths.
    #[default]
    Bbr,
    /// CUBIC (RFC 9438): the loss-based controller most hosts run.
    Cubic,
}

/// Initial window: 10 segments (RFC 6928).
pub const INITIAL_SEGMENTS: u32 = 10;

/// One of the controllers, held inline in the sender (no allocation of its own per connection). BBR, the
/// default, is the larger: boxing it would add an allocation to nearly every connection to save CUBIC's few.
#[allow(clippy::large_enum_variant)]
pub enum Controller {
    Bbr(bbr::Bbr),
    Cubic(cubic::Cubic),
}

pub fn new(kind: Kind, mss: u32, now: Instant) -> Controller {
    match kind {
        Kind::Bbr => Controller::Bbr(bbr::Bbr::new(mss, now)),
        Kind::Cubic => Controller::Cubic(cubic::Cubic::new(mss)),
    }
}

impl Controller {
    fn get(&self) -> &dyn CongestionControl {
        match self {
            Controller::Bbr(c) => c,
            Controller::Cubic(c) => c,
        }
    }

    fn get_mut(&mut self) -> &mut dyn CongestionControl {
        match self {
            Controller::Bbr(c) => c,
            Controller::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Controller {
    fn name(&self) -> &'static str {
        self.get().name()
    }
    fn on_ack(&mut self, ack: &Ack) {
        self.get_mut().on_ack(ack)
    }
    fn on_loss_episode(&mut self, now: Instant, in_flight: u32) {
        self.get_mut().on_loss_episode(now, in_flight)
    }
    fn on_rto(&mut self, now: Instant) {
        self.get_mut().on_rto(now)
    }
    fn undo(&mut self) {
        self.get_mut().undo()
    }
    fn on_recovery_end(&mut self) {
        self.get_mut().on_recovery_end()
    }
    fn uses_prr(&self) -> bool {
        self.get().uses_prr()
    }
    fn cwnd(&self) -> u32 {
        self.get().cwnd()
    }
    fn ssthresh(&self) -> u32 {
        self.get().ssthresh()
    }
    fn pacing_rate(&self, srtt: Option<Duration>) -> Option<u64> {
        self.get().pacing_rate(srtt)
    }
}
