//! Peer configuration and the read-back of every peer's state (what UAPI `get` reports).

use crate::device::Device;
use crate::error::Result;
use crate::keys::Key;
use crate::peer::Peer;
use crate::timers::refresh_handshake;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

/// A change to one peer; `None`/empty fields leave that part as it is.
#[derive(Clone, Debug, Default)]
pub struct PeerUpdate {
    /// Change the peer only if it exists.
    pub update_only: bool,
    /// All zeros removes the preshared key.
    pub preshared_key: Option<Key>,
    pub endpoint: Option<SocketAddr>,
    /// Seconds; 0 turns it off.
    pub persistent_keepalive: Option<u16>,
    pub replace_allowed_ips: bool,
    pub allowed_ips: Vec<IpNet>,
    pub remove_allowed_ips: Vec<IpNet>,
}

#[derive(Clone, Debug)]
pub struct PeerInfo {
    pub public_key: Key,
    pub preshared_key: Option<Key>,
    pub endpoint: Option<SocketAddr>,
    pub last_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub persistent_keepalive: u16,
    pub allowed_ips: Vec<IpNet>,
}

impl Device {
    /// Creates or updates a peer. Ok(false): ignored (update_only on a missing peer, or our own key). A
    /// public key of low order is accepted and listed, as the kernel and wireguard-go accept it, but such a
    /// peer never handshakes (see `Peer::tunn`).
    pub fn set_peer(&self, key: Key, update: PeerUpdate) -> Result<bool> {
        let _guard = self.config_lock.lock();
        if self.public_key() == Some(key) {
            return Ok(false);
        }
        let mut table = self.shared.peers.write();
        let peer = match table.by_key.get(&key) {
            Some(p) => p.clone(),
            None if update.update_only => return Ok(false),
            None => {
                let p = self.new_peer(&table, key);
                table.insert(p.clone());
                p
            }
        };
        if let Some(psk) = update.preshared_key {
            self.set_preshared_key(&peer, psk);
        }
        if let Some(addr) = update.endpoint {
            *peer.endpoint.lock() = crate::peer::Endpoint {
                addr: Some(addr),
                src: None,
            };
        }
        if update.replace_allowed_ips {
            table.clear_routes(&peer);
        }
        for net in &update.remove_allowed_ips {
            table.remove_route(*net, &peer);
        }
        for net in &update.allowed_ips {
            table.add_route(*net, &peer);
        }
        drop(table);
        if let Some(secs) = update.persistent_keepalive {
            let was = peer.keepalive.swap(secs as u64, Ordering::Relaxed);
            if secs > 0 && was == 0 {
                // As wireguard-go: turning keepalive on sends one at once, so a NAT opens without waiting.
                crate::timers::send_keepalive(&self.shared, &peer);
            }
        }
        Ok(true)
    }

    fn set_preshared_key(&self, peer: &Arc<Peer>, psk: Key) {
        let psk = Some(psk).filter(|k| k != &[0u8; 32]);
        let mut current = peer.preshared_key.lock();
        if *current == psk {
            return;
        }
        *current = psk;
        // boringtun takes the PSK only at construction: the next Tunn, and so a new handshake, uses it.
        *peer.tunn.lock() = None;
    }

    pub fn peers(&self) -> Vec<PeerInfo> {
        let table = self.shared.peers.read();
        let mut out: Vec<PeerInfo> = table
            .by_key
            .values()
            .map(|p| {
                refresh_handshake(&self.shared, p);
                PeerInfo {
                    public_key: p.public_key,
                    preshared_key: *p.preshared_key.lock(),
                    endpoint: p.endpoint().addr,
                    last_handshake: p.handshake.lock().last,
                    rx_bytes: p.rx_bytes.load(Ordering::Relaxed),
                    tx_bytes: p.tx_bytes.load(Ordering::Relaxed),
                    persistent_keepalive: p.keepalive(),
                    allowed_ips: p.allowed_ips.lock().clone(),
                }
            })
            .collect();
        // A stable order (by key) so `wg show` output does not shuffle between calls.
        out.sort_by_key(|p| p.public_key);
        out
    }
}
