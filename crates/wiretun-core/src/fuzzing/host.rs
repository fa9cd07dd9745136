//! Fakes of what the receive path writes to. Datagrams we send are recorded for the script to deliver to
//! its boringtun peers. TUN batches are checked against what those peers really encrypted, then merged by
//! tun-rs's GRO exactly as `SyncDevice::send_multiple` merges them before writing.

use super::packets::decrypted_form;
use crate::events::Event;
use crate::identity::Identity;
use crate::keys::Key;
use crate::peer::{Peer, SharedTable};
use crate::receive::Host;
use crate::tun_batch::TunSink;
use arc_swap::ArcSwapOption;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use tun_rs::GROTable;

/// Who a datagram we sent was for.
pub(crate) enum Dest {
    Peer(Key),
    /// A cookie reply, to whatever address the handshake came from.
    Addr(SocketAddr),
}

/// A TUN that only merges: the GRO step of a real batch write, failing loudly where the real device
/// would drop the whole batch.
pub(crate) struct GroSink {
    can_udp_gro: bool,
}

impl GroSink {
    pub fn new(can_udp_gro: bool) -> Self {
        GroSink { can_udp_gro }
    }
}

impl TunSink for GroSink {
    fn send_multiple(
        &self,
        gro: &mut GROTable,
        bufs: &mut [Vec<u8>],
        offset: usize,
    ) -> io::Result<usize> {
        // send_multiple returns this error before writing anything: every peer's packets in the batch are lost.
        if let Err(e) = gro.apply_gro(bufs, offset, self.can_udp_gro) {
            panic!(
                "GRO refused a batch of {} packets, so the TUN write would drop all of them: {e}",
                bufs.len()
            );
        }
        Ok(bufs.len())
    }
}

pub(crate) struct FakeHost {
    pub identity: ArcSwapOption<Identity>,
    pub peers: SharedTable,
    pub sent: RefCell<Vec<(Dest, Vec<u8>)>>,
    pub events: Cell<usize>,
    pub sink: GroSink,
    /// Every inner packet a remote encrypted, in the form boringtun decrypts it to, with bit r set when
    /// remote r sent it.
    pub authentic: RefCell<HashMap<Vec<u8>, u8>>,
    /// The remote behind each committed but unwritten TUN packet; `current` for the datagram in hand.
    pub origins: RefCell<Vec<Option<usize>>>,
    pub current: Cell<Option<usize>>,
    /// Remote r's public key: the peer it is, if configured.
    pub remote_keys: Vec<Key>,
    /// Packets that passed the checks and went to GRO.
    pub written: Cell<usize>,
}

impl FakeHost {
    /// What SECURITY.md promises of every packet that reaches the TUN: a configured peer sent it, inside
    /// its session (so it decrypted to exactly what that peer encrypted), from inside its allowed IPs.
    fn check_batch(&self, bufs: &[Vec<u8>], offset: usize) {
        let origins = self.origins.take();
        assert!(
            bufs.len() == origins.len() || bufs.len() == origins.len() + 1,
            "{} TUN packets for {} committed datagrams",
            bufs.len(),
            origins.len()
        );
        let table = self.peers.read();
        let authentic = self.authentic.borrow();
        for (i, buf) in bufs.iter().enumerate() {
            let packet = &buf[offset..];
            let origin = origins.get(i).copied().unwrap_or(self.current.get());
            let remote = origin.expect("an unauthenticated datagram put a packet on the TUN");
            let sent_by = authentic.get(packet).copied().unwrap_or(0);
            assert!(
                sent_by & (1 << remote) != 0,
                "a TUN packet remote {remote} never sent"
            );
            let Some((_, src)) = decrypted_form(packet) else {
                panic!(
                    "a {}-byte packet, shorter than its IP header, reached the TUN",
                    packet.len()
                );
            };
            let peer = table.by_key.get(&self.remote_keys[remote]);
            let peer = peer.expect("a packet of a peer that is not configured reached the TUN");
            assert!(
                table.owns(peer, src),
                "inner source {src} outside remote {remote}'s allowed IPs reached the TUN"
            );
        }
    }
}

impl TunSink for FakeHost {
    fn send_multiple(
        &self,
        gro: &mut GROTable,
        bufs: &mut [Vec<u8>],
        offset: usize,
    ) -> io::Result<usize> {
        self.check_batch(bufs, offset);
        self.written.set(self.written.get() + bufs.len());
        self.sink.send_multiple(gro, bufs, offset)
    }
}

impl Host for FakeHost {
    fn identity(&self) -> &ArcSwapOption<Identity> {
        &self.identity
    }

    fn peers(&self) -> &SharedTable {
        &self.peers
    }

    fn reply(&self, to: SocketAddr, _local: Option<IpAddr>, data: &[u8]) {
        self.sent.borrow_mut().push((Dest::Addr(to), data.to_vec()));
    }

    fn send_to_peer(&self, peer: &Peer, data: &[u8]) {
        // A cookie answers an unauthenticated handshake: it belongs to its sender, not the peer's endpoint.
        assert_ne!(
            data.first(),
            Some(&3),
            "a cookie reply went to a peer's endpoint"
        );
        // As send.rs: nothing goes out to a peer without an endpoint.
        if peer.endpoint().addr.is_some() {
            self.sent
                .borrow_mut()
                .push((Dest::Peer(peer.public_key), data.to_vec()));
        }
    }

    fn emit(&self, _event: Event) {
        self.events.set(self.events.get() + 1);
    }
}
