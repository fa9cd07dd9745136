//! Outbound pipeline, one thread:
//!   1. read an IP packet from the TUN (up to 64 KiB);
//!   2. cryptokey routing: longest-prefix match of the destination over every peer's allowed IPs;
//!   3. encrypt with the peer's session (boringtun queues the packet and starts a handshake if none);
//!   4. send the datagram to the peer's endpoint, from the local address the peer last reached us on.
//!
//! Buffers are allocated once per thread; nothing on this path allocates.

use crate::constants::{MAX_DATAGRAM, MAX_PACKET};
use crate::device::Shared;
use crate::peer::Peer;
use crate::udp::Sent;
use boringtun::noise::{Tunn, TunnResult};
use std::io::ErrorKind;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(crate) fn run(shared: Arc<Shared>) {
    let mut packet = vec![0u8; MAX_PACKET];
    let mut datagram = vec![0u8; MAX_DATAGRAM];
    while shared.is_running() {
        let n = match shared.tun.recv_intr(&mut packet, &shared.tun_interrupt) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {
                continue
            }
            Err(e) => {
                // EBADFD and friends: the interface was deleted under us (`ip link del`).
                shared.shut_down(&format!("TUN read failed: {e}"));
                break;
            }
        };
        encrypt_and_send(&shared, &packet[..n], &mut datagram);
    }
}

fn encrypt_and_send(shared: &Shared, packet: &[u8], datagram: &mut [u8]) {
    let Some(dst) = Tunn::dst_address(packet) else {
        return;
    };
    let peer = match shared.peers.read().routes.lookup(dst) {
        Some(p) => p.clone(),
        None => return,
    };
    let mut tunn = peer.tunn.lock();
    let Some(t) = tunn.as_mut() else { return };
    if let TunnResult::WriteToNetwork(out) = t.encapsulate(packet, datagram) {
        drop(tunn);
        send_to_peer(shared, &peer, out);
    }
}

/// Sends to the peer's current endpoint; forgets the sticky source address when it has gone away.
pub(crate) fn send_to_peer(shared: &Shared, peer: &Peer, data: &[u8]) {
    let endpoint = peer.endpoint();
    let Some(addr) = endpoint.addr else { return };
    match shared.udp.load().send(addr, endpoint.src, data) {
        Ok(sent) => {
            if sent == Sent::SourceCleared {
                let mut ep = peer.endpoint.lock();
                if ep.addr == Some(addr) {
                    ep.src = None;
                }
            }
            peer.tx_bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            peer.last_sent_ms.store(shared.now_ms(), Ordering::Relaxed);
        }
        Err(e) => log::debug!("send to {addr} failed: {e}"),
    }
}
