//! Timer thread: every TIMER_TICK it runs each peer's boringtun timers (rekey, handshake retry, passive
//! keepalive, session expiry), our persistent keepalive, the rate limiter's per-second reset and the TUN's
//! MTU (for padding), and turns handshake state changes into events.

use crate::constants::{REJECT_AFTER_TIME, TIMER_TICK};
use crate::device::Shared;
use crate::events::Event;
use crate::peer::Peer;
use crate::send::send_to_peer;
use boringtun::noise::TunnResult;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub(crate) fn run(shared: Arc<Shared>) {
    let mut buf = vec![0u8; 256];
    let mut last_reset = Instant::now();
    while shared.is_running() {
        std::thread::sleep(TIMER_TICK);
        if last_reset.elapsed() >= Duration::from_secs(1) {
            if let Some(id) = shared.identity.load().as_ref() {
                id.limiter.reset_count();
            }
            last_reset = Instant::now();
        }
        shared.refresh_mtu();
        let peers: Vec<Arc<Peer>> = shared.peers.read().by_key.values().cloned().collect();
        for peer in &peers {
            tick(&shared, peer, &mut buf);
        }
    }
}

fn tick(shared: &Shared, peer: &Peer, buf: &mut [u8]) {
    {
        let mut guard = peer.tunn.lock();
        let Some(tunn) = guard.as_mut() else { return };
        if let TunnResult::WriteToNetwork(packet) = tunn.update_timers(buf) {
            drop(guard);
            send_to_peer(shared, peer, packet);
        }
    }
    let keepalive = peer.keepalive.load(Ordering::Relaxed);
    if keepalive > 0 {
        let idle_ms = shared
            .now_ms()
            .saturating_sub(peer.last_sent_ms.load(Ordering::Relaxed));
        if idle_ms >= keepalive * 1000 {
            send_keepalive(shared, peer);
        }
    }
    refresh_handshake(shared, peer);
}

/// An empty data packet; with no session boringtun queues it and starts a handshake instead.
pub(crate) fn send_keepalive(shared: &Shared, peer: &Peer) {
    let mut buf = [0u8; 256];
    let mut guard = peer.tunn(shared.identity.load().as_deref());
    let Some(tunn) = guard.as_mut() else { return };
    if let TunnResult::WriteToNetwork(packet) = tunn.encapsulate(&[], &mut buf) {
        drop(guard);
        send_to_peer(shared, peer, packet);
    }
}

/// Brings the peer's absolute last-handshake time up to date and reports a new handshake or staleness.
pub(crate) fn refresh_handshake(shared: &Shared, peer: &Peer) {
    let since = match peer.tunn.lock().as_ref() {
        Some(t) => t.time_since_last_handshake(),
        None => return,
    };
    let now = SystemTime::now();
    let event = {
        let mut hs = peer.handshake.lock();
        match (since.and_then(|d| now.checked_sub(d)), hs.last) {
            // boringtun only knows "time since"; one second of slack keeps the absolute time stable.
            (Some(at), last) if last.is_none_or(|l| at > l + Duration::from_secs(1)) => {
                hs.last = Some(at);
                hs.stale_reported = false;
                Some(Event::Handshake {
                    public_key: peer.public_key,
                })
            }
            (_, Some(last))
                if !hs.stale_reported
                    && now.duration_since(last).unwrap_or_default() >= REJECT_AFTER_TIME =>
            {
                hs.stale_reported = true;
                Some(Event::Stale {
                    public_key: peer.public_key,
                })
            }
            _ => None,
        }
    };
    if let Some(e) = event {
        shared.emit(e);
    }
}
