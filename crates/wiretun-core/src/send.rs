//! Outbound pipeline, one thread:
//!   1. read from the TUN (tun_io): on Linux with offloads one read returns a TCP/UDP super-packet (up
//!      to 64 KiB) that tun-rs splits into MTU-sized packets; elsewhere one packet per read;
//!   2. padding (padding.rs) written after each packet where it lies in the read buffer;
//!   3. cryptokey routing: longest-prefix match of each destination over every peer's allowed IPs;
//!   4. encrypt in place into one contiguous buffer (boringtun queues the packet and starts a handshake
//!      if there is no session);
//!   5. send runs of equal-sized datagrams to the same peer as one UDP_SEGMENT (GSO) sendmsg, from the
//!      local address the peer last reached us on.
//!
//! Packets leave in the order the TUN gave them. Buffers are allocated once per thread. A device without a
//! TUN runs steps 2-5 on its sink's thread instead, through inner.rs's `Outbound` and its own `GsoBatch`.

use crate::constants::MAX_DATAGRAM;
use crate::device::{Inner, Shared};
use crate::peer::Peer;
use crate::tun_io::TunReader;
use crate::udp::Sent;
use boringtun::noise::{Tunn, TunnResult};
use std::io::ErrorKind;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// UDP payload a GSO send may carry in all (the IPv4 length field caps it at 65507).
const GSO_MAX_BYTES: usize = 65000;
/// Growth of a packet when encrypted (header 16, tag 16), and room for the 15 bytes of padding at most
/// (which the callers of `push` have already added).
const OVERHEAD: usize = 48;
/// Consecutive failed TUN reads that mean the interface is gone rather than one packet being bad.
const TUN_FAILURES_TO_CLOSE: u32 = 16;
/// The first byte of a WireGuard transport data message.
const MESSAGE_DATA: u8 = 4;

pub(crate) fn run(shared: Arc<Shared>) {
    let Inner::Tun(tun) = &shared.inner else {
        return;
    };
    let mut reader = TunReader::new();
    let mut batch = GsoBatch::new();
    let mut failures = 0;
    while shared.is_running() {
        let n = match reader.read(tun) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {
                continue
            }
            // One bad super-packet is skipped; a deleted interface (`ip link del`) fails every read.
            Err(e) if failures < TUN_FAILURES_TO_CLOSE => {
                failures += 1;
                log::debug!("TUN read failed: {e}");
                continue;
            }
            Err(e) => {
                shared.shut_down(&format!("TUN read failed: {e}"));
                break;
            }
        };
        failures = 0;
        for packet in reader.packets(n, shared.mtu()) {
            batch.push(&shared, packet);
        }
        batch.flush(&shared);
    }
}

/// Encrypted datagrams for one peer, back to back, waiting for one GSO send. All have `segment` bytes
/// except possibly the last, as UDP_SEGMENT requires.
pub(crate) struct GsoBatch {
    buf: Vec<u8>,
    len: usize,
    segment: usize,
    count: usize,
    /// A shorter datagram ended the run; the next one starts a new send.
    closed: bool,
    /// Datagrams one GSO send to this run's endpoint may carry; looked up once per run, not per packet.
    max_segments: usize,
    peer: Option<Arc<Peer>>,
}

impl GsoBatch {
    pub(crate) fn new() -> Self {
        GsoBatch {
            buf: vec![0u8; MAX_DATAGRAM.max(GSO_MAX_BYTES) + OVERHEAD],
            len: 0,
            segment: 0,
            count: 0,
            closed: false,
            max_segments: 1,
            peer: None,
        }
    }

    /// Routes, encrypts and batches one packet, already padded.
    pub(crate) fn push(&mut self, shared: &Shared, packet: &[u8]) {
        let Some(dst) = Tunn::dst_address(packet) else {
            return;
        };
        let peer = match shared.peers.read().routes.lookup(dst) {
            Some(p) => p.clone(),
            None => return,
        };
        if !self.fits(&peer, packet.len()) {
            self.flush(shared);
        }
        let start = self.len;
        let n = {
            let mut tunn = peer.tunn(shared.identity.load().as_deref());
            let Some(t) = tunn.as_mut() else { return };
            match t.encapsulate(packet, &mut self.buf[start..]) {
                TunnResult::WriteToNetwork(out) => out.len(),
                _ => return,
            }
        };
        self.peer = Some(peer);
        self.append(shared, start, n);
    }

    fn fits(&self, peer: &Arc<Peer>, packet_len: usize) -> bool {
        let same_peer = self.peer.as_ref().is_some_and(|p| Arc::ptr_eq(p, peer));
        self.len == 0
            || (same_peer
                && !self.closed
                && self.count < self.max_segments
                && self.len + packet_len + OVERHEAD <= GSO_MAX_BYTES)
    }

    /// Starts a run with the `n`-byte datagram at the front of the buffer.
    fn start_run(&mut self, shared: &Shared, n: usize) {
        (self.len, self.segment, self.count, self.closed) = (n, n, 1, false);
        let endpoint = self.peer.as_ref().and_then(|p| p.endpoint().addr);
        self.max_segments = endpoint.map_or(1, |addr| shared.udp.load().max_segments(&addr));
    }

    /// Takes the `n` bytes boringtun just wrote at `start` into the run, or sends around them.
    fn append(&mut self, shared: &Shared, start: usize, n: usize) {
        if self.buf[start] != MESSAGE_DATA {
            // A handshake initiation (no session yet): it goes on its own, after what was batched.
            self.send(shared, 0, start, self.segment);
            self.send(shared, start, start + n, n);
            self.reset();
        } else if start == 0 {
            self.start_run(shared, n);
        } else if n <= self.segment {
            self.len += n;
            self.count += 1;
            self.closed = n < self.segment;
        } else {
            // Larger than the run's size: send the run, start a new one with this datagram.
            self.send(shared, 0, start, self.segment);
            self.buf.copy_within(start..start + n, 0);
            self.start_run(shared, n);
        }
    }

    pub(crate) fn flush(&mut self, shared: &Shared) {
        self.send(shared, 0, self.len, self.segment);
        self.reset();
    }

    fn send(&self, shared: &Shared, from: usize, to: usize, segment: usize) {
        if let Some(peer) = &self.peer {
            if to > from {
                send_segments(shared, peer, &self.buf[from..to], segment);
            }
        }
    }

    fn reset(&mut self) {
        (self.len, self.segment, self.count, self.closed) = (0, 0, 0, false);
        self.peer = None;
    }
}

/// Sends one datagram to the peer's current endpoint.
pub(crate) fn send_to_peer(shared: &Shared, peer: &Peer, data: &[u8]) {
    send_segments(shared, peer, data, data.len());
}

/// Sends datagrams of `segment` bytes to the peer's endpoint; forgets the sticky source address when it
/// has gone away.
fn send_segments(shared: &Shared, peer: &Peer, data: &[u8], segment: usize) {
    let endpoint = peer.endpoint();
    let Some(addr) = endpoint.addr else { return };
    match shared
        .udp
        .load()
        .send_segments(addr, endpoint.src, data, segment)
    {
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
