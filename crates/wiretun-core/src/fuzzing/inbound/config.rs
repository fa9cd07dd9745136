//! Configuration changes a script makes while datagrams flow, as the device's configuration calls make them.

use super::setup::{inner_nets, movable_net, CONFIGURED, PSK};
use super::World;
use crate::peer::Peer;
use std::sync::Arc;

impl World {
    /// Drops our session with r, as a preshared-key or private-key change does.
    pub(super) fn reset_session(&mut self, r: usize) {
        if let Some(peer) = self.our_peer(r) {
            *peer.tunn.lock() = None;
            self.accepted.clear();
        }
    }

    /// Removes a configured remote's peer, or adds it back with a fresh index (`wg set ... remove`).
    pub(super) fn toggle_peer(&mut self, r: usize) {
        if r >= CONFIGURED {
            return;
        }
        self.scratch.tun.flush(&self.host);
        if self.is_member(r) {
            self.host.peers.write().remove(&self.host.remote_keys[r]);
        } else {
            self.add_peer(r);
        }
        self.accepted.clear();
    }

    pub(super) fn add_peer(&mut self, r: usize) {
        let index = (self.generation * CONFIGURED as u32 + r as u32) & 0xff_ffff;
        self.generation += 1;
        let peer = Arc::new(Peer::new(self.host.remote_keys[r], index));
        *peer.preshared_key.lock() = (r == 1).then_some(PSK);
        let mut table = self.host.peers.write();
        table.insert(peer.clone());
        for net in inner_nets(r) {
            table.add_route(net, &peer);
        }
    }

    /// Gives a prefix to remote r's peer; to the stranger means taking it from whoever has it.
    pub(super) fn move_route(&mut self, r: usize, which: u8) {
        self.scratch.tun.flush(&self.host);
        let net = movable_net(which);
        let target = self.our_peer(r);
        let mut table = self.host.peers.write();
        match target {
            Some(peer) => table.add_route(net, &peer),
            None => {
                if let Some(owner) = table.routes.get_exact(net.trunc()).cloned() {
                    table.remove_route(net, &owner);
                }
            }
        }
    }

    /// Clears our private key, or sets it again; every session restarts, as in Device::set_private_key.
    pub(super) fn toggle_identity(&mut self) {
        self.scratch.tun.flush(&self.host);
        let next = match self.host.identity.load().as_ref() {
            Some(_) => None,
            None => Some(self.identity.clone()),
        };
        for peer in self.host.peers.read().by_key.values() {
            *peer.tunn.lock() = None;
        }
        self.host.identity.store(next);
        self.accepted.clear();
    }
}
