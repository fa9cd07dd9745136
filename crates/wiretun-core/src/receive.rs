//! Inbound pipeline, one thread polling the IPv4 and IPv6 sockets:
//!   1. batched receive (recvmmsg, GRO) with the local address each datagram arrived on;
//!   2. check mac1 and, under load, answer with a cookie instead of doing any DH (shared RateLimiter);
//!      then a per-source token bucket for handshake messages (ratelimit.rs);
//!   3. find the peer: by the static key inside a handshake initiation, else by receiver index;
//!   4. decrypt / run the handshake in the peer's Tunn: a quick replay check of the counter, then
//!      authentication (AEAD tag, or the handshake's own), marking the counter, boringtun's timers;
//!   5. once authenticated, in the kernel's order (receive.c): roaming (the endpoint moves to where the
//!      datagram came from), the receive counter, then what waits to be sent: a handshake's answer and
//!      packets boringtun queued for want of a session;
//!   6. only then the checks on what a data packet carries: too short to be IP, or a source outside the
//!      peer's allowed IPs, and it is dropped; the rest is batched for the TUN (tun_batch.rs: GRO-merged
//!      writes at the end of every receive batch).
//!
//! Unauthenticated datagrams get no reply and change nothing. SECURITY.md ("Receive order") lists where
//! this differs from the kernel and wireguard-go.
//!
//! Steps 2-6 reach the device only through `Host`, so the fuzzer (fuzzing/) can drive them with fakes.

use crate::constants::MAX_DATAGRAM;
use crate::device::Shared;
use crate::events::Event;
use crate::identity::Identity;
use crate::peer::{Endpoint, Peer, SharedTable};
use crate::ratelimit::SourceLimiter;
use crate::sock_sys::{self, PollFd};
use crate::tun_batch::{TunBatch, TunSink};
use crate::udp::Udp;
use arc_swap::ArcSwapOption;
use boringtun::noise::errors::WireGuardError;
use boringtun::noise::handshake::parse_handshake_anon;
use boringtun::noise::{Packet, Tunn, TunnResult};
use quinn_udp::{RecvMeta, BATCH_SIZE};
use std::io::{ErrorKind, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const RECV_BUF: usize = 65536;

/// The smallest packet written to the TUN: an IPv4 header. boringtun trims a decrypted IPv4 packet to its
/// length field without checking that the field covers the header, so a peer can send "packets" of 0-19
/// bytes; an empty one made tun-rs's GRO refuse the whole batch, dropping every peer's packets in it
/// (found by the `inbound` fuzzer). IPv6 packets are never shorter than their 40-byte header.
pub(crate) const MIN_TUN_PACKET: usize = 20;

/// The first byte of a WireGuard cookie reply.
const MESSAGE_COOKIE_REPLY: u8 = 3;

/// What the per-datagram steps need from the device. `Shared` in the daemon; the fuzzer's fakes record
/// instead of sending. Used as a generic bound, so the real path is monomorphised: no dynamic dispatch.
pub(crate) trait Host: TunSink {
    fn identity(&self) -> &ArcSwapOption<Identity>;
    fn peers(&self) -> &SharedTable;
    /// A datagram to a sender we have no session with (a cookie reply), from the address it reached.
    fn reply(&self, to: SocketAddr, local: Option<IpAddr>, data: &[u8]);
    fn send_to_peer(&self, peer: &Peer, data: &[u8]);
    fn emit(&self, event: Event);
}

impl Host for Shared {
    #[inline]
    fn identity(&self) -> &ArcSwapOption<Identity> {
        &self.identity
    }

    #[inline]
    fn peers(&self) -> &SharedTable {
        &self.peers
    }

    #[inline]
    fn reply(&self, to: SocketAddr, local: Option<IpAddr>, data: &[u8]) {
        let _ = self.udp.load().send(to, local, data);
    }

    #[inline]
    fn send_to_peer(&self, peer: &Peer, data: &[u8]) {
        crate::send::send_to_peer(self, peer, data);
    }

    #[inline]
    fn emit(&self, event: Event) {
        Shared::emit(self, event);
    }
}

struct Buffers {
    recv: Vec<Vec<u8>>,
    meta: Vec<RecvMeta>,
    scratch: Scratch,
}

/// Per-datagram working state, apart from the receive buffers so both can be borrowed at once.
pub(crate) struct Scratch {
    plain: Vec<u8>,
    limiter: SourceLimiter,
    pub tun: TunBatch,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            plain: vec![0u8; MAX_DATAGRAM],
            limiter: SourceLimiter::new(),
            tun: TunBatch::new(),
        }
    }

    /// Ready for the next fuzz input, keeping the (large) buffers.
    #[cfg(all(target_os = "linux", any(test, feature = "fuzzing")))]
    pub fn forget_sources(&mut self) {
        self.limiter = SourceLimiter::new();
    }
}

pub(crate) fn run(shared: Arc<Shared>) {
    let mut bufs = Buffers {
        recv: vec![vec![0u8; RECV_BUF]; BATCH_SIZE],
        meta: vec![RecvMeta::default(); BATCH_SIZE],
        scratch: Scratch::new(),
    };
    while shared.is_running() {
        // Reloaded every round: a listen-port change swaps the sockets and wakes us.
        let udp = shared.udp.load_full();
        let mut socks: [Option<&Udp>; 2] = [None, None];
        let mut fds = [PollFd::readable(shared.udp_waker.fd()); 3];
        let mut count = 1;
        for sock in udp.sockets() {
            socks[count - 1] = Some(sock);
            fds[count] = PollFd::readable(sock.fd());
            count += 1;
        }
        if !matches!(sock_sys::poll(&mut fds[..count], 1000), Ok(n) if n > 0) {
            continue;
        }
        if fds[0].ready() {
            shared.udp_waker.drain();
        }
        for (sock, pfd) in socks.iter().flatten().zip(&fds[1..count]) {
            if pfd.ready() {
                drain_socket(&shared, sock, &mut bufs);
            }
        }
    }
}

fn drain_socket(shared: &Shared, sock: &Udp, bufs: &mut Buffers) {
    loop {
        let n = {
            let mut recv = bufs.recv.iter_mut();
            let mut slices: [IoSliceMut; BATCH_SIZE] =
                std::array::from_fn(|_| IoSliceMut::new(recv.next().expect("BATCH_SIZE buffers")));
            match sock.recv(&mut slices, &mut bufs.meta) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!("UDP receive failed: {e}");
                    return;
                }
            }
        };
        for i in 0..n {
            let meta = bufs.meta[i];
            let stride = meta.stride.max(1);
            for segment in bufs.recv[i][..meta.len].chunks(stride) {
                handle_datagram(shared, meta.addr, meta.dst_ip, segment, &mut bufs.scratch);
            }
        }
        bufs.scratch.tun.flush(shared);
    }
}

/// One datagram (one GRO segment) through steps 2-6. The caller flushes `scratch.tun` after each batch.
pub(crate) fn handle_datagram<H: Host>(
    host: &H,
    from: SocketAddr,
    local: Option<IpAddr>,
    data: &[u8],
    scratch: &mut Scratch,
) {
    let from = unmap(from);
    let identity = host.identity().load();
    let Some(identity) = identity.as_deref() else {
        return;
    };
    let packet = match identity
        .limiter
        .verify_packet(Some(from.ip()), data, &mut scratch.plain)
    {
        Ok(p) => p,
        Err(TunnResult::WriteToNetwork(cookie)) => {
            host.reply(from, local, cookie);
            return;
        }
        Err(_) => return,
    };
    let is_data = matches!(packet, Packet::PacketData(_));
    let is_handshake = matches!(
        packet,
        Packet::HandshakeInit(_) | Packet::HandshakeResponse(_)
    );
    if is_handshake && !scratch.limiter.allow(from.ip(), std::time::Instant::now()) {
        return;
    }
    let peer = {
        let table = host.peers().read();
        match &packet {
            Packet::HandshakeInit(p) => {
                parse_handshake_anon(&identity.private, &identity.public, p)
                    .ok()
                    .and_then(|hh| table.by_key.get(&hh.peer_static_public).cloned())
            }
            Packet::HandshakeResponse(p) => table.by_index.get(&(p.receiver_idx >> 8)).cloned(),
            Packet::PacketCookieReply(p) => table.by_index.get(&(p.receiver_idx >> 8)).cloned(),
            Packet::PacketData(p) => table.by_index.get(&(p.receiver_idx >> 8)).cloned(),
        }
    };
    let Some(peer) = peer else { return };
    decrypt(host, identity, &peer, from, local, data, is_data, scratch);
}

#[allow(clippy::too_many_arguments)]
fn decrypt<H: Host>(
    host: &H,
    identity: &Identity,
    peer: &Arc<Peer>,
    from: SocketAddr,
    local: Option<IpAddr>,
    data: &[u8],
    is_data: bool,
    scratch: &mut Scratch,
) {
    let mut guard = peer.tunn(Some(identity));
    let Some(tunn) = guard.as_mut() else { return };
    // Decrypt straight into the TUN batch; handshake replies need 148 bytes at most.
    let slot = scratch.tun.slot(data.len().max(148));
    let inner = match tunn.decapsulate(Some(from.ip()), data, slot) {
        // Under load boringtun counts the handshake a second time and may answer with a cookie before
        // authenticating anything (the datagram could be anyone's, even one naming this peer's key): like
        // the pre-check's cookie it goes back to the sender, and the peer's endpoint and counters stay.
        // Roaming on it let a stranger move a peer's endpoint (found by the `inbound` fuzzer).
        TunnResult::WriteToNetwork(reply) if reply.first() == Some(&MESSAGE_COOKIE_REPLY) => {
            host.reply(from, local, reply);
            return;
        }
        // An authenticated initiation (answered with a response) or response (with a keepalive).
        TunnResult::WriteToNetwork(reply) => {
            authenticated(host, peer, from, local, data.len());
            host.send_to_peer(peer, reply);
            send_queued(host, peer, tunn, &mut scratch.plain);
            return;
        }
        // A keepalive.
        TunnResult::Done if is_data => None,
        // A cookie reply from the peer, which the kernel does not count either; or nothing to do.
        TunnResult::Done => return,
        // boringtun checks the IP header only after decrypting and marking the counter, so for a data
        // packet this error means authenticated but not an IP packet: still the peer's, like the rest.
        TunnResult::Err(WireGuardError::InvalidPacket) if is_data => None,
        TunnResult::Err(_) => return,
        TunnResult::WriteToTunnelV4(packet, src) => Some((IpAddr::V4(src), packet.len())),
        TunnResult::WriteToTunnelV6(packet, src) => Some((IpAddr::V6(src), packet.len())),
    };
    // The peer proved itself and the counter was fresh: what the packet carries no longer matters to
    // roaming, counting or the session (as in the kernel and wireguard-go).
    authenticated(host, peer, from, local, data.len());
    send_queued(host, peer, tunn, &mut scratch.plain);
    drop(guard);
    let Some((src, len)) = inner else { return };
    // Cryptokey routing on the way in: only sources inside the peer's allowed IPs reach the TUN.
    if len >= MIN_TUN_PACKET && host.peers().read().owns(peer, src) {
        scratch.tun.commit(host, len);
    }
}

/// What every authenticated datagram does, whatever it carries: moves the endpoint and counts the whole
/// datagram, as wireguard-go counts (the kernel leaves out data packets it then drops).
fn authenticated<H: Host>(
    host: &H,
    peer: &Peer,
    from: SocketAddr,
    local: Option<IpAddr>,
    len: usize,
) {
    roam(host, peer, from, local);
    peer.rx_bytes.fetch_add(len as u64, Ordering::Relaxed);
}

/// Sends what boringtun queued while it had no session. boringtun hands its queue out only on calls with
/// an empty datagram; the kernel sends its staged packets as soon as data arrives on a new session, so we
/// ask after every authenticated datagram (an empty queue costs one check).
fn send_queued<H: Host>(host: &H, peer: &Peer, tunn: &mut Tunn, buf: &mut [u8]) {
    while let TunnResult::WriteToNetwork(queued) = tunn.decapsulate(None, &[], buf) {
        host.send_to_peer(peer, queued);
    }
}

fn roam<H: Host>(host: &H, peer: &Peer, from: SocketAddr, local: Option<IpAddr>) {
    let new = Endpoint {
        addr: Some(from),
        src: local,
    };
    let mut ep = peer.endpoint.lock();
    if *ep == new {
        return;
    }
    let moved = ep.addr != Some(from);
    *ep = new;
    drop(ep);
    if moved {
        host.emit(Event::EndpointChanged {
            public_key: peer.public_key,
            endpoint: from,
        });
    }
}

fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}
