//! The `inbound` target: a fuzz input is a script run against our receive path (receive.rs →
//! tun_batch.rs) with three configured boringtun peers and one stranger on the other side. Operations:
//! raw datagrams; a remote's handshake initiation, data packet (inner packet shaped by packets.rs) or
//! timer output; the remotes answering what we sent them; mutated and replayed copies of real datagrams;
//! roaming; and configuration changes (session reset, peer removal and re-adding, route moves, key
//! removal). After every datagram the invariants of SECURITY.md are checked (`check`), and every TUN batch
//! in host.rs.

mod config;
#[cfg(test)]
mod order;
mod setup;

use super::host::{Dest, FakeHost, GroSink};
use super::packets::{build, decrypted_form, Flows};
use super::Input;
use crate::constants::HANDSHAKE_RATE_LIMIT;
use crate::identity::Identity;
use crate::keys::Key;
use crate::peer::{Endpoint, Peer, PeerTable};
use crate::receive::{handle_datagram, Scratch};
use arc_swap::ArcSwapOption;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::StaticSecret;
use parking_lot::RwLock;
use setup::{
    inner_nets, keys, local_addr, message_id, outer, push_capped, remote_private, unmapped,
    CONFIGURED, HISTORY, MAX_OPS, OUR_IP, PSK, REMOTES,
};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

struct Remote {
    tunn: Tunn,
    addr: SocketAddr,
    local: Option<IpAddr>,
    /// What we sent it and it has not read yet.
    queue: Vec<Vec<u8>>,
}

/// What a datagram may change, compared before and after it.
#[derive(PartialEq)]
struct Snapshot {
    rx: u64,
    endpoints: Vec<(Key, Endpoint)>,
    events: usize,
}

struct World {
    host: FakeHost,
    scratch: Scratch,
    remotes: Vec<Remote>,
    identity: Arc<Identity>,
    /// Real datagrams the remotes produced, with the remote that made each.
    history: Vec<(usize, Vec<u8>)>,
    /// message_id of every datagram we accepted since the last session reset.
    accepted: HashSet<Vec<u8>>,
    flows: Flows,
    inner: Vec<u8>,
    buf: Vec<u8>,
    generation: u32,
}

thread_local! {
    /// The receive scratch (several MB of TUN batch) and the packet buffer, reused from input to input.
    static BUFFERS: RefCell<Option<(Scratch, Vec<u8>)>> = const { RefCell::new(None) };
}

/// Runs one script and returns how many packets reached the TUN. Panics (a fuzzer crash) when the receive
/// path breaks a promise or panics itself.
pub fn run(data: &[u8]) -> usize {
    let (scratch, buf) = BUFFERS
        .take()
        .unwrap_or_else(|| (Scratch::new(), vec![0u8; 65536 + 256]));
    let mut input = Input::new(data);
    let mut world = World::new(&mut input, scratch, buf);
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        world.step(&mut input);
    }
    world.scratch.tun.flush(&world.host);
    world.scratch.forget_sources();
    BUFFERS.set(Some((world.scratch, world.buf)));
    world.host.written.get()
}

impl World {
    fn new(input: &mut Input, scratch: Scratch, buf: Vec<u8>) -> World {
        let setup = input.u8();
        // One script in eight runs under handshake load, where mac1-valid handshakes get cookie replies.
        let limit = if setup & 7 == 0 {
            u64::from(setup >> 6)
        } else {
            HANDSHAKE_RATE_LIMIT
        };
        let keys = keys();
        let public = keys.our_public;
        let identity = Arc::new(Identity {
            private: keys.ours.clone(),
            public,
            limiter: Arc::new(RateLimiter::new(&public, limit)),
        });
        let remotes = (0..REMOTES)
            .map(|r| Remote {
                tunn: Tunn::new(
                    StaticSecret::from(remote_private(r)),
                    public,
                    (r == 1).then_some(PSK),
                    None,
                    0x100 + r as u32,
                    None,
                ),
                addr: outer(r as u8),
                local: None,
                queue: Vec::new(),
            })
            .collect();
        let mut world = World {
            host: FakeHost {
                identity: ArcSwapOption::from(Some(identity.clone())),
                peers: RwLock::new(PeerTable::default()),
                sent: RefCell::new(Vec::new()),
                events: Cell::new(0),
                sink: GroSink::new(setup & 8 != 0),
                authentic: RefCell::default(),
                origins: RefCell::default(),
                current: Cell::new(None),
                remote_keys: keys.remotes.clone(),
                written: Cell::new(0),
            },
            scratch,
            remotes,
            identity,
            history: Vec::new(),
            accepted: HashSet::new(),
            flows: Flows::default(),
            inner: Vec::new(),
            buf,
            generation: 0,
        };
        for r in 0..CONFIGURED {
            world.add_peer(r);
        }
        world
    }

    fn step(&mut self, input: &mut Input) {
        let op = input.u8();
        let r = input.u8() as usize % REMOTES;
        match op % 14 {
            0 => {
                let from = outer(input.u8());
                let local = local_addr(input.u8());
                let len = input.u16() % 2048;
                let data = input.bytes(len.into()).to_vec();
                self.deliver(None, from, local, &data);
            }
            1 => {
                let force = input.u8() & 1 == 1;
                let out = match self.remotes[r]
                    .tunn
                    .format_handshake_initiation(&mut self.buf, force)
                {
                    TunnResult::WriteToNetwork(out) => out.to_vec(),
                    _ => return,
                };
                self.deliver_real(r, out);
            }
            2 => self.remote_sends(r, input),
            3 => self.remote_reads(r),
            4 => self.we_initiate(r, input.u8() & 1 == 1),
            5 => self.mutated(input),
            6 => self.replayed(input),
            7 => {
                self.remotes[r].addr = outer(input.u8());
                self.remotes[r].local = local_addr(input.u8());
            }
            8 => self.scratch.tun.flush(&self.host),
            9 => self.reset_session(r),
            10 => self.toggle_peer(r),
            11 => self.move_route(r, input.u8()),
            12 => {
                if let TunnResult::WriteToNetwork(out) =
                    self.remotes[r].tunn.update_timers(&mut self.buf)
                {
                    let out = out.to_vec();
                    self.deliver_real(r, out);
                }
            }
            _ => self.toggle_identity(),
        }
    }

    fn is_member(&self, r: usize) -> bool {
        self.host
            .peers
            .read()
            .by_key
            .contains_key(&self.host.remote_keys[r])
    }

    fn our_peer(&self, r: usize) -> Option<Arc<Peer>> {
        self.host
            .peers
            .read()
            .by_key
            .get(&self.host.remote_keys[r])
            .cloned()
    }

    /// A datagram remote r really produced, sent from where it is now.
    fn deliver_real(&mut self, r: usize, data: Vec<u8>) {
        let (from, local) = (self.remotes[r].addr, self.remotes[r].local);
        self.deliver(Some(r), from, local, &data);
        if self.history.len() == HISTORY {
            self.history.remove(0);
        }
        self.history.push((r, data));
    }

    fn remote_sends(&mut self, r: usize, input: &mut Input) {
        let pick = input.u8();
        let v6 = pick & 1 == 1;
        let host = input.u8();
        let src = match (pick >> 1) % 5 {
            4 => {
                let raw = input.u32();
                if v6 {
                    Ipv6Addr::new(0xfd00, 0, 0, (raw >> 16) as u16, 0, 0, 0, raw as u16).into()
                } else {
                    Ipv4Addr::from(raw).into()
                }
            }
            owner => {
                let net = inner_nets(owner as usize)[usize::from(v6)];
                match net.network() {
                    IpAddr::V4(n) => Ipv4Addr::from(u32::from(n) | u32::from(host)).into(),
                    IpAddr::V6(n) => Ipv6Addr::from(u128::from(n) | u128::from(host)).into(),
                }
            }
        };
        let dst: IpAddr = if v6 {
            Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 1).into()
        } else {
            Ipv4Addr::new(10, 0, 9, 1).into()
        };
        build(input, src, dst, &mut self.flows, &mut self.inner);
        if let Some((form, _)) = decrypted_form(&self.inner) {
            *self
                .host
                .authentic
                .borrow_mut()
                .entry(form.to_vec())
                .or_default() |= 1 << r;
        }
        let out = match self.remotes[r].tunn.encapsulate(&self.inner, &mut self.buf) {
            TunnResult::WriteToNetwork(out) => out.to_vec(),
            _ => return,
        };
        self.deliver_real(r, out);
    }

    /// Remote r reads what we sent it and answers (handshake responses, keepalives, queued data).
    fn remote_reads(&mut self, r: usize) {
        let queue = std::mem::take(&mut self.remotes[r].queue);
        let mut answers = Vec::new();
        for datagram in queue {
            let tunn = &mut self.remotes[r].tunn;
            if let TunnResult::WriteToNetwork(out) =
                tunn.decapsulate(Some(OUR_IP), &datagram, &mut self.buf)
            {
                answers.push(out.to_vec());
                while let TunnResult::WriteToNetwork(out) =
                    tunn.decapsulate(None, &[], &mut self.buf)
                {
                    answers.push(out.to_vec());
                }
            }
        }
        for answer in answers {
            self.deliver_real(r, answer);
        }
    }

    /// Our side starts a handshake with remote r, as the send path or the timers would.
    fn we_initiate(&mut self, r: usize, force: bool) {
        let Some(peer) = self.our_peer(r) else { return };
        let identity = self.host.identity.load();
        let mut tunn = peer.tunn(identity.as_deref());
        let Some(tunn) = tunn.as_mut() else { return };
        if let TunnResult::WriteToNetwork(out) =
            tunn.format_handshake_initiation(&mut self.buf, force)
        {
            let out = out.to_vec();
            push_capped(&mut self.remotes[r].queue, out);
        }
    }

    fn mutated(&mut self, input: &mut Input) {
        if self.history.is_empty() {
            return;
        }
        let (r, mut data) = self.history[input.u8() as usize % self.history.len()].clone();
        for _ in 0..=input.u8() % 4 {
            let at = input.u16() as usize % data.len().max(1);
            match input.u8() % 4 {
                0 if !data.is_empty() => data[at] ^= input.u8() | 1,
                1 => data.truncate(at),
                2 => {
                    let n = input.u8() as usize;
                    data.extend_from_slice(input.bytes(n));
                }
                _ if !data.is_empty() => data[at] = input.u8(),
                _ => {}
            }
        }
        let (from, local) = (self.remotes[r].addr, self.remotes[r].local);
        self.deliver(Some(r), from, local, &data);
    }

    /// A copy of a real datagram, from where its sender is or from anywhere (an attacker replaying it).
    fn replayed(&mut self, input: &mut Input) {
        if self.history.is_empty() {
            return;
        }
        let (r, data) = self.history[input.u8() as usize % self.history.len()].clone();
        let pick = input.u8();
        let from = if pick & 1 == 0 {
            self.remotes[r].addr
        } else {
            outer(pick >> 1)
        };
        let local = local_addr(input.u8());
        self.deliver(Some(r), from, local, &data);
    }

    fn snapshot(&self) -> Snapshot {
        let table = self.host.peers.read();
        let mut endpoints: Vec<_> = table
            .by_key
            .values()
            .map(|p| (p.public_key, p.endpoint()))
            .collect();
        endpoints.sort_by_key(|(k, _)| *k);
        let rx = table
            .by_key
            .values()
            .map(|p| p.rx_bytes.load(std::sync::atomic::Ordering::Relaxed))
            .sum();
        Snapshot {
            rx,
            endpoints,
            events: self.host.events.get(),
        }
    }

    fn deliver(
        &mut self,
        origin: Option<usize>,
        from: SocketAddr,
        local: Option<IpAddr>,
        data: &[u8],
    ) {
        let before = self.snapshot();
        let pending = self.scratch.tun.pending();
        self.host.current.set(origin);
        handle_datagram(&self.host, from, local, data, &mut self.scratch);
        let now = self.scratch.tun.pending();
        // A commit that filled the batch was written (and checked) at once, with `current` as its origin.
        if now != pending && now != 0 {
            self.host.origins.borrow_mut().push(origin);
        }
        let after = self.snapshot();
        self.check(origin, data, &before, &after);
        self.route_sent();
    }

    /// The promises every single datagram must keep (the TUN ones are checked per batch, in host.rs).
    fn check(&mut self, origin: Option<usize>, data: &[u8], before: &Snapshot, after: &Snapshot) {
        let accepted = after.rx > before.rx;
        let sent = self.host.sent.borrow();
        let to_peers = sent
            .iter()
            .filter(|(d, _)| matches!(d, Dest::Peer(_)))
            .count();
        if origin.is_none() {
            assert!(
                before == after && sent.is_empty(),
                "a datagram no peer made changed state or got a reply"
            );
        }
        if !origin.is_some_and(|r| self.is_member(r)) {
            assert!(
                !accepted && to_peers == 0,
                "a datagram of no configured peer was accepted or answered"
            );
        }
        if before.endpoints != after.endpoints || before.events != after.events {
            assert!(
                accepted,
                "an endpoint moved on a datagram that was not accepted"
            );
        }
        if accepted {
            assert!(
                self.accepted.insert(message_id(data)),
                "a replayed datagram was accepted again"
            );
        }
    }

    /// Hands what we sent to the remotes it went to (a cookie reply to every remote at that address).
    fn route_sent(&mut self) {
        for (dest, data) in self.host.sent.take() {
            for (r, remote) in self.remotes.iter_mut().enumerate() {
                let to_it = match &dest {
                    Dest::Peer(key) => *key == self.host.remote_keys[r],
                    Dest::Addr(addr) => *addr == unmapped(remote.addr),
                };
                if to_it {
                    push_capped(&mut remote.queue, data.clone());
                }
            }
        }
    }
}
