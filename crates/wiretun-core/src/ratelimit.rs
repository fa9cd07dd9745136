//! Per-source handshake limiting. boringtun's RateLimiter only counts globally (and then demands cookies);
//! this token bucket per source address keeps one flooding source, even one that answers cookies, from
//! crowding out everyone else's handshakes. Owned by the receive thread, so no locking.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Handshake messages per second one source may send, and how many may come at once.
pub const PER_SOURCE_RATE: u32 = 20;
pub const PER_SOURCE_BURST: u32 = 5;
const NANOS_PER_TOKEN: u64 = 1_000_000_000 / PER_SOURCE_RATE as u64;
const MAX_TOKENS: u64 = NANOS_PER_TOKEN * PER_SOURCE_BURST as u64;
const SWEEP_EVERY: Duration = Duration::from_secs(1);

struct Bucket {
    tokens: u64,
    last: Instant,
}

pub(crate) struct SourceLimiter {
    buckets: HashMap<[u8; 8], Bucket>,
    last_sweep: Instant,
}

/// IPv6 sources are limited per /64: one host can pick any address in its prefix.
fn source_key(addr: IpAddr) -> [u8; 8] {
    let mut key = [0u8; 8];
    match addr {
        IpAddr::V4(a) => key[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => key.copy_from_slice(&a.octets()[..8]),
    }
    key
}

impl SourceLimiter {
    pub fn new() -> Self {
        SourceLimiter {
            buckets: HashMap::new(),
            last_sweep: Instant::now(),
        }
    }

    /// True when this source may have one more handshake processed now.
    pub fn allow(&mut self, addr: IpAddr, now: Instant) -> bool {
        self.sweep(now);
        let bucket = self.buckets.entry(source_key(addr)).or_insert(Bucket {
            tokens: MAX_TOKENS,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_nanos() as u64;
        bucket.tokens = (bucket.tokens + refill).min(MAX_TOKENS);
        bucket.last = now;
        if bucket.tokens >= NANOS_PER_TOKEN {
            bucket.tokens -= NANOS_PER_TOKEN;
            true
        } else {
            false
        }
    }

    /// Forget sources that have been quiet long enough to be full again, so memory follows live flooders.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < SWEEP_EVERY {
            return;
        }
        self.last_sweep = now;
        self.buckets
            .retain(|_, b| now.duration_since(b.last) < SWEEP_EVERY);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate_per_source() {
        let mut l = SourceLimiter::new();
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let allowed = (0..100).filter(|_| l.allow(a, t0)).count();
        assert_eq!(allowed, PER_SOURCE_BURST as usize);
        assert!(l.allow(b, t0), "another source is unaffected");
        let later = t0 + Duration::from_millis(1000 / PER_SOURCE_RATE as u64);
        assert!(l.allow(a, later), "one token refills after 1/rate seconds");
        assert!(!l.allow(a, later));
    }

    #[test]
    fn ipv6_sources_share_their_slash_64() {
        let mut l = SourceLimiter::new();
        let t0 = Instant::now();
        for i in 0..PER_SOURCE_BURST {
            assert!(l.allow(format!("2001:db8::{i}").parse().unwrap(), t0));
        }
        assert!(!l.allow("2001:db8::ffff".parse().unwrap(), t0));
        assert!(l.allow("2001:db8:1::1".parse().unwrap(), t0));
    }

    #[test]
    fn quiet_sources_are_forgotten() {
        let mut l = SourceLimiter::new();
        let t0 = Instant::now();
        l.allow("192.0.2.1".parse().unwrap(), t0);
        l.allow("192.0.2.9".parse().unwrap(), t0 + Duration::from_secs(2));
        assert_eq!(l.tracked(), 1);
    }
}
