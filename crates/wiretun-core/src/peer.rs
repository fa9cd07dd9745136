//! A peer's state and the table that finds peers by public key, by receiver index and by inner address.

use crate::allowed_ips::AllowedIps;
use crate::identity::Identity;
use crate::keys::Key;
use boringtun::noise::Tunn;
use ipnet::IpNet;
use parking_lot::{Mutex, MutexGuard, RwLock};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// Where a peer is and which of our addresses it talks to (we answer from that address).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: Option<SocketAddr>,
    pub src: Option<IpAddr>,
}

#[derive(Default)]
pub(crate) struct Handshake {
    pub last: Option<SystemTime>,
    pub stale_reported: bool,
}

pub struct Peer {
    pub public_key: Key,
    /// 24-bit index; boringtun puts it in the top bits of every receiver index it hands out.
    pub index: u32,
    /// Created on first use (a boringtun Tunn is ~11 KB, so idle peers go without); None also while the
    /// device has no private key. Dropping it resets the sessions: the next packet handshakes anew.
    pub(crate) tunn: Mutex<Option<Box<Tunn>>>,
    pub(crate) endpoint: Mutex<Endpoint>,
    pub(crate) preshared_key: Mutex<Option<Key>>,
    pub(crate) keepalive: AtomicU64,
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    /// Milliseconds since device start of the last datagram sent, for persistent keepalive.
    pub(crate) last_sent_ms: AtomicU64,
    pub(crate) handshake: Mutex<Handshake>,
}

impl Peer {
    pub(crate) fn new(public_key: Key, index: u32) -> Peer {
        Peer {
            public_key,
            index,
            tunn: Mutex::new(None),
            endpoint: Mutex::new(Endpoint::default()),
            preshared_key: Mutex::new(None),
            keepalive: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            last_sent_ms: AtomicU64::new(0),
            handshake: Mutex::new(Handshake::default()),
        }
    }

    /// The protocol state, created now if the device has a key and the peer has none yet.
    pub(crate) fn tunn(&self, identity: Option<&Identity>) -> MutexGuard<'_, Option<Box<Tunn>>> {
        let mut guard = self.tunn.lock();
        if guard.is_none() {
            if let Some(id) = identity {
                *guard = Some(Box::new(id.tunn(
                    &self.public_key,
                    *self.preshared_key.lock(),
                    self.index,
                )));
            }
        }
        guard
    }

    pub fn endpoint(&self) -> Endpoint {
        *self.endpoint.lock()
    }

    pub fn keepalive(&self) -> u16 {
        self.keepalive.load(Ordering::Relaxed) as u16
    }
}

/// All peers, indexed three ways. Lives behind one RwLock: the data path only reads.
#[derive(Default)]
pub(crate) struct PeerTable {
    pub by_key: HashMap<Key, Arc<Peer>>,
    pub by_index: HashMap<u32, Arc<Peer>>,
    pub routes: AllowedIps<Arc<Peer>>,
}

pub(crate) type SharedTable = RwLock<PeerTable>;

impl PeerTable {
    pub fn insert(&mut self, peer: Arc<Peer>) {
        self.by_index.insert(peer.index, peer.clone());
        self.by_key.insert(peer.public_key, peer);
    }

    pub fn remove(&mut self, key: &Key) -> Option<Arc<Peer>> {
        let peer = self.by_key.remove(key)?;
        self.by_index.remove(&peer.index);
        self.routes.retain(|_, p| !Arc::ptr_eq(p, &peer));
        Some(peer)
    }

    pub fn clear(&mut self) {
        *self = PeerTable::default();
    }

    /// A fresh 24-bit index not used by any peer.
    pub fn free_index(&self) -> u32 {
        loop {
            let i = rand_core::RngCore::next_u32(&mut rand_core::OsRng) >> 8;
            if !self.by_index.contains_key(&i) {
                return i;
            }
        }
    }

    /// Every peer's allowed IPs in one pass over the trie (a per-peer copy would be derivable state).
    pub fn allowed_ips_by_peer(&self) -> HashMap<u32, Vec<IpNet>> {
        let mut out: HashMap<u32, Vec<IpNet>> = HashMap::new();
        for (net, peer) in self.routes.iter() {
            out.entry(peer.index).or_default().push(net);
        }
        out
    }

    /// The peer owning `addr`, if it is `peer` (the check every decrypted packet's source must pass).
    pub fn owns(&self, peer: &Arc<Peer>, addr: IpAddr) -> bool {
        self.routes
            .lookup(addr)
            .is_some_and(|p| Arc::ptr_eq(p, peer))
    }
}
