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
    /// device has no private key, and always for a key of low order. Dropping it resets the sessions: the
    /// next packet handshakes anew.
    pub(crate) tunn: Mutex<Option<Box<Tunn>>>,
    /// A public key of small order: every shared secret with it is all zeros, so anyone could complete a
    /// handshake as this peer. Such a peer is listed, as in the kernel and wireguard-go, but gets no protocol
    /// state, so nothing is ever sent to it and nothing it sends is accepted. boringtun does not check.
    low_order: bool,
    pub(crate) endpoint: Mutex<Endpoint>,
    pub(crate) preshared_key: Mutex<Option<Key>>,
    pub(crate) keepalive: AtomicU64,
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    /// Milliseconds since device start of the last datagram sent, for persistent keepalive.
    pub(crate) last_sent_ms: AtomicU64,
    pub(crate) handshake: Mutex<Handshake>,
    /// The prefixes this peer owns in the routing trie, so replacing or removing them is O(own), not
    /// O(every route): `wg addconf` sends replace_allowed_ips for every peer.
    pub(crate) allowed_ips: Mutex<Vec<IpNet>>,
}

impl Peer {
    pub(crate) fn new(public_key: Key, index: u32) -> Peer {
        Peer {
            public_key,
            index,
            tunn: Mutex::new(None),
            low_order: crate::keys::is_low_order(&public_key),
            endpoint: Mutex::new(Endpoint::default()),
            preshared_key: Mutex::new(None),
            keepalive: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            last_sent_ms: AtomicU64::new(0),
            handshake: Mutex::new(Handshake::default()),
            allowed_ips: Mutex::new(Vec::new()),
        }
    }

    /// The protocol state, created now if the device has a key and the peer has none yet.
    pub(crate) fn tunn(&self, identity: Option<&Identity>) -> MutexGuard<'_, Option<Box<Tunn>>> {
        let mut guard = self.tunn.lock();
        if guard.is_none() && !self.low_order {
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
        self.clear_routes(&peer);
        Some(peer)
    }

    /// Routes `net` to `peer`, taking it from whichever peer had it.
    pub fn add_route(&mut self, net: IpNet, peer: &Arc<Peer>) {
        let net = net.trunc();
        match self.routes.insert(net, peer.clone()) {
            Some(old) if Arc::ptr_eq(&old, peer) => return,
            Some(old) => old.allowed_ips.lock().retain(|n| *n != net),
            None => {}
        }
        peer.allowed_ips.lock().push(net);
    }

    pub fn remove_route(&mut self, net: IpNet, peer: &Arc<Peer>) {
        let net = net.trunc();
        if self
            .routes
            .get_exact(net)
            .is_some_and(|p| Arc::ptr_eq(p, peer))
        {
            self.routes.remove(net);
            peer.allowed_ips.lock().retain(|n| *n != net);
        }
    }

    pub fn clear_routes(&mut self, peer: &Arc<Peer>) {
        for net in std::mem::take(&mut *peer.allowed_ips.lock()) {
            self.routes.remove(net);
        }
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

    /// The peer owning `addr`, if it is `peer` (the check every decrypted packet's source must pass).
    pub fn owns(&self, peer: &Arc<Peer>, addr: IpAddr) -> bool {
        self.routes
            .lookup(addr)
            .is_some_and(|p| Arc::ptr_eq(p, peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn a_prefix_moves_between_peers_and_each_peer_knows_its_own() {
        let mut t = PeerTable::default();
        let a = Arc::new(Peer::new([1; 32], 1));
        let b = Arc::new(Peer::new([2; 32], 2));
        t.insert(a.clone());
        t.insert(b.clone());
        t.add_route(net("10.0.0.7/24"), &a);
        t.add_route(net("10.0.1.0/24"), &a);
        t.add_route(net("10.0.0.0/24"), &b); // same prefix once masked: it moves to b
        assert_eq!(*a.allowed_ips.lock(), vec![net("10.0.1.0/24")]);
        assert_eq!(*b.allowed_ips.lock(), vec![net("10.0.0.0/24")]);
        assert!(t.owns(&b, "10.0.0.9".parse().unwrap()));

        t.remove_route(net("10.0.0.0/24"), &a); // not a's: nothing happens
        assert!(t.owns(&b, "10.0.0.9".parse().unwrap()));
        t.clear_routes(&b);
        assert!(b.allowed_ips.lock().is_empty());
        assert!(t.routes.lookup("10.0.0.9".parse().unwrap()).is_none());
        t.remove(&[1; 32]);
        assert!(t.routes.lookup("10.0.1.1".parse().unwrap()).is_none());
    }
}
