//! What the data plane tells its owner. Delivered from data-plane threads; handlers must not block.

use crate::keys::Key;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A handshake with this peer completed (initiated by either side).
    Handshake { public_key: Key },
    /// No handshake with this peer for REJECT_AFTER_TIME; its session is unusable.
    Stale { public_key: Key },
    /// The peer was heard from a new outer address (roaming).
    EndpointChanged {
        public_key: Key,
        endpoint: SocketAddr,
    },
    /// The device stopped: `close()` was called, its interface was deleted, or the TUN failed.
    Closed { reason: String },
    /// A UAPI request was refused (its client got the errno): one line saying why, never key material.
    UapiError { message: String },
    /// A UAPI set request was applied: which fields and how many peers, never values.
    UapiSet { summary: String },
}

pub type EventHandler = Arc<dyn Fn(Event) + Send + Sync>;
