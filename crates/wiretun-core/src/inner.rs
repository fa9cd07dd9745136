//! The inner side of a device that has no TUN: a sink in this process (a userspace IP stack, say) that
//! takes decrypted packets, and the [`Outbound`] handle through which it sends packets into the tunnel.
//!
//! The receive thread hands the sink a whole receive batch per call (tun_batch.rs), so the sink's dynamic
//! call, and whatever lock it takes, is paid per batch. `Outbound` runs send.rs's pipeline on the caller's
//! thread: no send thread, no queue, no copy between the sink's producer and the encryption.

use crate::device::Shared;
use crate::padding::{padded_len, MULTIPLE};
use crate::send::GsoBatch;
use parking_lot::Mutex;
use std::net::IpAddr;
use std::sync::Arc;

/// The most padding [`Outbound::send`] appends to a packet: the spare capacity a packet buffer needs for it.
pub const PADDING_ROOM: usize = MULTIPLE - 1;

/// Where a device without a TUN delivers what it decrypts.
pub trait InnerSink: Send + Sync + 'static {
    /// IP packets from peers that authenticated and passed the allowed-IPs check on their source, in the
    /// order they arrived, at least 20 bytes each. Called on the receive thread once per receive batch (or
    /// more often when a batch is larger than the device's packet batch); the slices are valid only during
    /// the call. Return quickly: the receive thread waits, so queue the packets and drop what does not fit.
    fn deliver(&self, packets: &mut dyn Iterator<Item = &[u8]>);
}

/// Sends IP packets into the tunnel from the caller's thread: each goes to the peer whose allowed IPs
/// cover its destination (packets no peer covers are dropped), encrypted, and runs of datagrams to one
/// peer leave as one GSO send. A packet to a peer without a session starts a handshake and waits in that
/// peer's queue. When the UDP socket's buffer is full a send waits for it, up to 100 ms.
pub struct Outbound {
    shared: Arc<Shared>,
    /// Locked once per call of `send`: the handle may be shared, but one thread at a time uses it (the one
    /// running the stack's turn).
    batch: Mutex<GsoBatch>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Outbound({})", self.shared.name)
    }
}

impl Outbound {
    pub(crate) fn new(shared: Arc<Shared>) -> Outbound {
        Outbound {
            shared,
            batch: Mutex::new(GsoBatch::new()),
        }
    }

    /// Routes, encrypts and sends a batch of IP packets. Does nothing once the device is closed.
    ///
    /// Each packet is padded in its own buffer while it is encrypted (up to [`PADDING_ROOM`] zero bytes
    /// appended, then cut off again: the packets come back as they went in). A buffer with that much spare
    /// capacity is never reallocated, so the padding costs no copy.
    pub fn send(&self, packets: &mut dyn Iterator<Item = &mut Vec<u8>>) {
        if !self.shared.is_running() {
            return;
        }
        let mtu = self.shared.mtu();
        let mut batch = self.batch.lock();
        for packet in packets {
            let len = packet.len();
            packet.resize(padded_len(len, mtu), 0);
            batch.push(&self.shared, packet);
            packet.truncate(len);
        }
        batch.flush(&self.shared);
    }

    /// Whether some peer's allowed IPs cover `dst`.
    pub fn has_route(&self, dst: IpAddr) -> bool {
        self.shared.peers.read().routes.lookup(dst).is_some()
    }

    /// Whether the device still runs.
    pub fn is_running(&self) -> bool {
        self.shared.is_running()
    }
}
