//! Our static key pair and the handshake rate limiter keyed by it; replaced as a whole on key change.

use crate::constants::HANDSHAKE_RATE_LIMIT;
use crate::keys::Key;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::Tunn;
use boringtun::x25519::{PublicKey, StaticSecret};
use std::sync::Arc;

pub(crate) struct Identity {
    pub private: StaticSecret,
    pub public: PublicKey,
    pub limiter: Arc<RateLimiter>,
}

impl Identity {
    pub fn new(private: Key) -> Identity {
        let private = StaticSecret::from(private);
        let public = PublicKey::from(&private);
        let limiter = Arc::new(RateLimiter::new(&public, HANDSHAKE_RATE_LIMIT));
        Identity {
            private,
            public,
            limiter,
        }
    }

    /// A fresh protocol state for one peer. Persistent keepalive is ours (see timers.rs), so a keepalive
    /// change never needs a new Tunn.
    pub fn tunn(&self, peer: &Key, psk: Option<Key>, index: u32) -> Tunn {
        Tunn::new(
            self.private.clone(),
            PublicKey::from(*peer),
            psk,
            None,
            index,
            Some(self.limiter.clone()),
        )
    }
}
