//! Per-source handshake limiting. boringtun's RateLimiter only counts globally (and then demands cookies);
//! this token bucket per source address keeps one flooding source, even one that answers cookies, from
//! crowding out everyone else's handshakes. Owned by the receive thread, so no locking.
//!
//! As in wireguard-go, the buckets apply only under load. Below it nobody has proven their source address
//! (boringtun asks for mac2 only under load), so a bucket charged then would be anyone's to drain: an
//! off-path sender spoofing a peer's address at a few dozen initiations per second would lock that peer out.
//! Load is counted here, over the handshake messages that reach us: each of them was counted by boringtun's
//! RateLimiter too (which counts more: cookie-answered messages, and handshakes twice), so once our count is
//! past the device's limit, boringtun's is as well and it has been checking mac2. Our one-second window is
//! not boringtun's (the timer thread resets that one), so right after its reset some unproven messages may
//! still be charged. The fix: two boringtun limiters per identity (one that only checks mac1, given to every
//! Tunn; one that always demands mac2), the receive path choosing by our own load count, and the bucket
//! charged only after mac2 passed; then timers.rs would stop resetting boringtun's count.

use crate::constants::HANDSHAKE_RATE_LIMIT;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Handshake messages per second one source may send, and how many may come at once.
pub const PER_SOURCE_RATE: u32 = 20;
pub const PER_SOURCE_BURST: u32 = 5;
const NANOS_PER_TOKEN: u64 = 1_000_000_000 / PER_SOURCE_RATE as u64;
const MAX_TOKENS: u64 = NANOS_PER_TOKEN * PER_SOURCE_BURST as u64;
const SWEEP_EVERY: Duration = Duration::from_secs(1);
const LOAD_WINDOW: Duration = Duration::from_secs(1);

struct Bucket {
    tokens: u64,
    last: Instant,
}

pub(crate) struct SourceLimiter {
    buckets: HashMap<[u8; 8], Bucket>,
    last_sweep: Instant,
    /// Handshake messages seen since `window_start`.
    seen: u64,
    window_start: Instant,
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
            seen: 0,
            window_start: Instant::now(),
        }
    }

    /// True when this source may have one more handshake processed now.
    pub fn allow(&mut self, addr: IpAddr, now: Instant) -> bool {
        if !self.under_load(now) {
            return true;
        }
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

    /// Counts this message; true once this second's messages exceed the device's handshake limit.
    fn under_load(&mut self, now: Instant) -> bool {
        if now.duration_since(self.window_start) >= LOAD_WINDOW {
            self.window_start = now;
            self.seen = 0;
        }
        self.seen += 1;
        self.seen > HANDSHAKE_RATE_LIMIT
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

    /// A limiter that has already seen a second's worth of handshakes at `t0`.
    fn loaded(t0: Instant) -> SourceLimiter {
        let mut l = SourceLimiter::new();
        l.window_start = t0;
        l.seen = HANDSHAKE_RATE_LIMIT;
        l
    }

    #[test]
    fn below_the_load_threshold_no_source_is_charged() {
        let mut l = SourceLimiter::new();
        let t0 = Instant::now();
        let victim: IpAddr = "192.0.2.1".parse().unwrap();
        // A spoofer sending in the victim's name, as fast as the device allows without cookies.
        let spoofed = (0..HANDSHAKE_RATE_LIMIT - 1)
            .filter(|_| l.allow(victim, t0))
            .count();
        assert_eq!(spoofed as u64, HANDSHAKE_RATE_LIMIT - 1);
        assert!(
            l.allow(victim, t0),
            "the victim's own handshake still gets through"
        );
        assert_eq!(l.tracked(), 0, "no bucket was charged");
    }

    #[test]
    fn the_load_window_restarts_every_second() {
        let t0 = Instant::now();
        let mut l = loaded(t0);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            (0..100).filter(|_| l.allow(a, t0)).count(),
            PER_SOURCE_BURST as usize
        );
        let next = t0 + LOAD_WINDOW;
        assert!(
            (0..100).all(|_| l.allow(a, next)),
            "a new second starts below the threshold"
        );
    }

    #[test]
    fn burst_then_steady_rate_per_source() {
        let t0 = Instant::now();
        let mut l = loaded(t0);
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
        let t0 = Instant::now();
        let mut l = loaded(t0);
        for i in 0..PER_SOURCE_BURST {
            assert!(l.allow(format!("2001:db8::{i}").parse().unwrap(), t0));
        }
        assert!(!l.allow("2001:db8::ffff".parse().unwrap(), t0));
        assert!(l.allow("2001:db8:1::1".parse().unwrap(), t0));
    }

    #[test]
    fn quiet_sources_are_forgotten() {
        let t0 = Instant::now();
        let mut l = loaded(t0);
        l.allow("192.0.2.1".parse().unwrap(), t0);
        let later = t0 + Duration::from_secs(2);
        l.window_start = later;
        l.seen = HANDSHAKE_RATE_LIMIT;
        l.allow("192.0.2.9".parse().unwrap(), later);
        assert_eq!(l.tracked(), 1);
    }
}
