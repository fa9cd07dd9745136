//! The retransmission timeout (RFC 6298) with Linux's 200 ms floor instead of the RFC's 1 s: on a tunnel
//! the RTT is measured per segment, so the floor only has to cover delayed ACKs.

use std::time::Duration;

pub const MIN_RTO: Duration = Duration::from_millis(200);
pub const MAX_RTO: Duration = Duration::from_secs(120);
/// Before any sample (RFC 6298 2.1).
pub const INITIAL_RTO: Duration = Duration::from_secs(1);

pub struct Rto {
    srtt: Option<Duration>,
    rttvar: Duration,
    /// Smallest RTT seen (RACK's reordering window and BBR's model read it).
    pub min_rtt: Option<Duration>,
    backoff: u32,
}

impl Default for Rto {
    fn default() -> Rto {
        Rto::new()
    }
}

impl Rto {
    pub fn new() -> Rto {
        Rto {
            srtt: None,
            rttvar: Duration::ZERO,
            min_rtt: None,
            backoff: 0,
        }
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// A new RTT measurement (never from an ambiguous retransmission: Karn).
    pub fn sample(&mut self, rtt: Duration) {
        let rtt = rtt.max(Duration::from_micros(1));
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let err = srtt.abs_diff(rtt);
                self.rttvar = self.rttvar * 3 / 4 + err / 4;
                self.srtt = Some(srtt * 7 / 8 + rtt / 8);
            }
        }
        self.backoff = 0;
    }

    /// The current timeout, backed off.
    pub fn timeout(&self) -> Duration {
        let base = match self.srtt {
            None => INITIAL_RTO,
            Some(srtt) => (srtt + (self.rttvar * 4).max(Duration::from_millis(1))).max(MIN_RTO),
        };
        base.saturating_mul(1 << self.backoff.min(10)).min(MAX_RTO)
    }

    /// The timer expired: double it (RFC 6298 5.5).
    pub fn back_off(&mut self) {
        self.backoff += 1;
    }

    /// Consecutive expirations without progress.
    pub fn backoffs(&self) -> u32 {
        self.backoff
    }

    /// Progress without a fresh sample still ends the backoff (RFC 6298 5.7 keeps it, Linux resets it once
    /// an ACK advances; we follow Linux so one bad period does not stretch every later timeout).
    pub fn progress(&mut self) {
        self.backoff = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_200ms_and_backoff_doubles() {
        let mut r = Rto::new();
        assert_eq!(r.timeout(), INITIAL_RTO);
        for _ in 0..20 {
            r.sample(Duration::from_millis(10));
        }
        assert_eq!(r.timeout(), MIN_RTO);
        r.back_off();
        assert_eq!(r.timeout(), MIN_RTO * 2);
        r.sample(Duration::from_millis(100));
        assert!(
            r.timeout() > Duration::from_millis(100) && r.timeout() < Duration::from_millis(400)
        );
        assert_eq!(r.min_rtt, Some(Duration::from_millis(10)));
    }
}
