//! The stack thread's TCP table when `StackConfig::tcp_engine` is `Tcp2` (issue 21; the default):
//! connections of our own TCP core (`tcp2`) instead of smoltcp's sockets. TCP packets bypass
//! smoltcp: they are framed here (`tcp2::ip`), matched to a connection by 4-tuple, a listener takes a SYN
//! (up to its backlog), anything else gets an RST. Dials, listeners, splices and their completions work
//! as on the smoltcp path (the same `Endpoints`, `Phase` and `Splice`).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::Event;
use smoltcp::iface::Interface;

use crate::api::{Reply, SpliceDone, SpliceEnd, TcpConn};
use crate::config::StackConfig;
use crate::conn::{Pass, Phase, HANDSHAKE_TIMEOUT, LINGER};
use crate::device::TxQueue;
use crate::endpoints::{Endpoints, ListenerEntry};
use crate::error;
use crate::os::OsStream;
use crate::shared::Shared;
use crate::splice::{Splice, Step};
use crate::tcp2::cc::CongestionControl;
use crate::tcp2::{self, ip, Connection, Segment, State, RST};

/// TIME-WAIT here is smoltcp's 10 s, not RFC 9293's 2 MSL: a tunnel's stack reuses few 4-tuples.
const TIME_WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Ctx2<'a> {
    pub iface: &'a Interface,
    pub shared: &'a Arc<Shared>,
    pub tx: &'a mut TxQueue,
    pub now: Instant,
}

struct Entry {
    conn: Connection,
    local: SocketAddr,
    remote: SocketAddr,
    owns_port: bool,
    phase: Phase,
    /// Its counters were printed (`WIRETUN_TCP2_TRACE`).
    traced: bool,
}

fn trace(e: &Entry) {
    let s = e.conn.sender();
    eprintln!(
        "tcp2 {} -> {}: {:?}, srtt {:?}, cwnd {}, reset {}",
        e.local,
        e.remote,
        s.stats,
        s.rto.srtt(),
        s.cc.cwnd(),
        e.conn.reset
    );
}

pub(crate) struct Tcp2Table {
    /// Boxed: the map's spare slots (up to half its capacity) then cost a pointer each, not a connection.
    conns: HashMap<usize, Box<Entry>>,
    tuples: HashMap<(SocketAddr, SocketAddr), usize>,
    ep: Endpoints,
    template: tcp2::Config,
    mtu: usize,
    backlog: usize,
    /// Keyed hash of RFC 6528 (SipHash with a random key): ISS and timestamp offsets per 4-tuple.
    secret: std::collections::hash_map::RandomState,
    epoch: Instant,
    /// `WIRETUN_TCP2_TRACE`: each spliced connection's sender counters on stderr when its splice ends (to
    /// see why a transfer was slow: timeouts, probes, episodes), while tcp2 is being measured.
    trace: bool,
    payload: Vec<u8>,
    scratch: Vec<usize>,
}

fn synchronized(s: State) -> bool {
    !matches!(s, State::SynSent | State::SynReceived | State::Closed)
}

/// Writes `seg` from `local` to `remote` as an IP packet into the transmit queue.
fn emit(tx: &mut TxQueue, local: SocketAddr, remote: SocketAddr, seg: &Segment, payload: &[u8]) {
    tx.push(ip::packet_len(&local, seg, payload.len()), |buf| {
        ip::emit(local, remote, seg, payload, buf);
    });
}

impl Entry {
    /// Everything the connection sends now, into the transmit queue.
    fn transmit(&mut self, now: Instant, tx: &mut TxQueue, payload: &mut [u8]) {
        while let Some(seg) = self.conn.poll_transmit(now, payload) {
            emit(
                tx,
                self.local,
                self.remote,
                &seg,
                &payload[..seg.len as usize],
            );
        }
    }
}

impl Tcp2Table {
    pub fn new(cfg: &StackConfig, seed: u16) -> Tcp2Table {
        let mut template = tcp2::Config::new(1220, 0);
        template.rx_buffer = cfg.tcp_rx_buffer;
        template.tx_buffer = cfg.tcp_tx_buffer;
        template.keepalive = cfg.tcp_keepalive;
        template.time_wait = TIME_WAIT;
        Tcp2Table {
            conns: HashMap::new(),
            tuples: HashMap::new(),
            ep: Endpoints::new(seed),
            template,
            mtu: cfg.mtu,
            backlog: cfg.listen_backlog,
            secret: std::collections::hash_map::RandomState::new(),
            epoch: Instant::now(),
            trace: std::env::var_os("WIRETUN_TCP2_TRACE").is_some(),
            payload: vec![0; 64 << 10],
            scratch: Vec::new(),
        }
    }

    /// A connection's configuration: the MSS of the peer's IP version; the ISS as RFC 6528 has it, a keyed
    /// hash of the 4-tuple plus a 4 µs clock (unguessable off path, increasing for a reused 4-tuple), and a
    /// timestamp offset from the same hash (RFC 7323 5.4).
    fn config_for(&self, local: SocketAddr, remote: SocketAddr, now: Instant) -> tcp2::Config {
        use std::hash::BuildHasher;
        let headers = if remote.is_ipv4() { 40 } else { 60 };
        let mut cfg = self.template.clone();
        cfg.mss = (self.mtu - headers).min(usize::from(u16::MAX)) as u16;
        let h = self.secret.hash_one((local, remote));
        let ticks = (now.saturating_duration_since(self.epoch).as_micros() / 4) as u32;
        cfg.iss = (h as u32).wrapping_add(ticks);
        cfg.ts_offset = (h >> 32) as u32;
        cfg
    }

    pub fn dial(
        &mut self,
        cx: &mut Ctx2<'_>,
        remote: SocketAddr,
        timeout: Duration,
        reply: Reply<TcpConn>,
    ) {
        if remote.port() == 0 || remote.ip().is_unspecified() || remote.ip().is_multicast() {
            return reply(Err(error::invalid(format!(
                "connect {remote}: not a unicast address and port"
            ))));
        }
        if !cx.shared.sink.has_route(remote.ip()) {
            return reply(Err(error::no_route(remote.ip())));
        }
        let Some(src) = cx.iface.get_source_address(&remote.ip().into()) else {
            return reply(Err(error::no_source(remote.ip())));
        };
        let port = match self.ep.alloc_port() {
            Ok(p) => p,
            Err(e) => return reply(Err(e)),
        };
        let local = SocketAddr::new(src.into(), port);
        let cfg = self.config_for(local, remote, cx.now);
        let id = self.ep.id();
        let entry = Entry {
            conn: Connection::connect(cfg, cx.now),
            local,
            remote,
            owns_port: true,
            traced: false,
            phase: Phase::Dialing {
                reply,
                deadline: cx.now + timeout,
            },
        };
        self.tuples.insert((local, remote), id);
        self.conns.insert(id, Box::new(entry));
    }

    pub fn listen(
        &mut self,
        cx: &Ctx2<'_>,
        local: SocketAddr,
        deliver: Box<dyn FnMut(TcpConn) + Send>,
    ) -> io::Result<(usize, SocketAddr)> {
        self.ep
            .listen(|ip| cx.iface.has_ip_addr(ip), local, deliver)
    }

    pub fn unlisten(&mut self, cx: &mut Ctx2<'_>, id: usize) {
        if !self.ep.unlisten(id) {
            return;
        }
        for e in self.conns.values_mut() {
            if matches!(e.phase, Phase::Handshake { listener, .. } if listener == id) {
                e.conn.abort();
                e.phase = Phase::Closing {
                    deadline: cx.now + LINGER,
                };
            }
        }
    }

    pub fn abort(&mut self, cx: &mut Ctx2<'_>, id: usize) {
        if let Some(e) = self
            .conns
            .get_mut(&id)
            .filter(|e| matches!(e.phase, Phase::Owned))
        {
            e.conn.abort();
            e.phase = Phase::Closing {
                deadline: cx.now + LINGER,
            };
        }
    }

    pub fn splice(&mut self, cx: &mut Ctx2<'_>, id: usize, os: OsStream, done: SpliceDone) {
        let Some(e) = self
            .conns
            .get_mut(&id)
            .filter(|e| matches!(e.phase, Phase::Owned))
        else {
            return done(SpliceEnd {
                result: Err(error::aborted("no such connection")),
                to_stack: 0,
                to_os: 0,
            });
        };
        match Splice::new(os, id, done, &cx.shared.poller) {
            Ok(s) => e.phase = Phase::Spliced(Box::new(s)),
            Err((err, done)) => {
                e.conn.abort();
                e.phase = Phase::Closing {
                    deadline: cx.now + LINGER,
                };
                done(SpliceEnd {
                    result: Err(err),
                    to_stack: 0,
                    to_os: 0,
                });
            }
        }
    }

    pub fn on_event(&mut self, ev: &Event) {
        if let Some(Phase::Spliced(s)) = self.conns.get_mut(&ev.key).map(|e| &mut e.phase) {
            s.on_event(ev);
        }
    }

    /// An inbound TCP packet (IP header included).
    pub fn on_packet(&mut self, cx: &mut Ctx2<'_>, packet: &[u8]) {
        let Some((src, dst, seg, payload)) = ip::parse(packet) else {
            return;
        };
        if !cx.iface.has_ip_addr(dst.ip()) {
            return;
        }
        if let Some(e) = self
            .tuples
            .get(&(dst, src))
            .and_then(|id| self.conns.get_mut(id))
        {
            e.conn.on_segment(cx.now, &seg, payload);
            if let Some(ack) = e.conn.immediate_ack(cx.now) {
                emit(cx.tx, e.local, e.remote, &ack, &[]);
            }
            return;
        }
        if seg.has(RST) {
            return;
        }
        if seg.has(tcp2::SYN) && seg.ack.is_none() && self.accept(cx, src, dst, &seg) {
            return;
        }
        // Nothing here for it (RFC 9293 3.10.7.1): a reset the sender will believe.
        let mut rst = Segment {
            flags: RST,
            ..Segment::default()
        };
        match seg.ack {
            Some(ack) => rst.seq = ack,
            None => rst.ack = Some(seg.seq.plus(seg.seq_len())),
        }
        emit(cx.tx, dst, src, &rst, &[]);
    }

    /// A SYN for a listener, within its backlog: a new connection in handshake.
    fn accept(
        &mut self,
        cx: &mut Ctx2<'_>,
        src: SocketAddr,
        dst: SocketAddr,
        syn: &Segment,
    ) -> bool {
        let cfg = self.config_for(dst, src, cx.now);
        let backlog = self.backlog;
        let Some((lid, l)) = self
            .ep
            .listener_for(dst)
            .filter(|(_, l)| l.handshakes < backlog)
        else {
            return false;
        };
        let Some(conn) = Connection::accept(cfg, syn, cx.now) else {
            return false;
        };
        l.handshakes += 1;
        let id = self.ep.id();
        self.tuples.insert((dst, src), id);
        self.conns.insert(
            id,
            Box::new(Entry {
                conn,
                local: dst,
                remote: src,
                owns_port: false,
                traced: false,
                phase: Phase::Handshake {
                    listener: lid,
                    deadline: cx.now + HANDSHAKE_TIMEOUT,
                },
            }),
        );
        true
    }

    /// One pass: phases advance, splices move data, every connection sends what it has; closed ones leave.
    pub fn service(&mut self, cx: &mut Ctx2<'_>) -> Pass {
        let mut pass = Pass::default();
        let mut gone = std::mem::take(&mut self.scratch);
        for (&id, e) in self.conns.iter_mut() {
            let remove = step(id, e, cx, &mut self.ep.listeners, &mut pass);
            if self.trace && matches!(e.phase, Phase::Closing { .. }) && !e.traced {
                e.traced = true;
                trace(e);
            }
            e.transmit(cx.now, cx.tx, &mut self.payload);
            if let Some(at) = e.conn.poll_at() {
                pass.wake_at(at);
            }
            if remove {
                gone.push(id);
            }
        }
        for id in gone.drain(..) {
            self.remove(id);
        }
        self.scratch = gone;
        pass
    }

    fn remove(&mut self, id: usize) {
        let Some(e) = self.conns.remove(&id) else {
            return;
        };
        self.tuples.remove(&(e.local, e.remote));
        if e.owns_port {
            self.ep.ports.taken.remove(&e.local.port());
        }
    }

    /// Resets every connection (the RSTs go into the transmit queue now) and fails every wait.
    pub fn abort_all(&mut self, cx: &mut Ctx2<'_>) {
        for e in self.conns.values_mut() {
            e.conn.abort();
            e.transmit(cx.now, cx.tx, &mut self.payload);
            match std::mem::replace(&mut e.phase, Phase::Closing { deadline: cx.now }) {
                Phase::Dialing { reply, .. } => reply(Err(error::stopped())),
                Phase::Spliced(s) => s.abandon(&cx.shared.poller),
                _ => {}
            }
        }
        self.ep.listeners.clear();
        self.conns.clear();
        self.tuples.clear();
    }
}

/// Advances one connection's phase; true: remove it now.
fn step(
    id: usize,
    e: &mut Entry,
    cx: &mut Ctx2<'_>,
    listeners: &mut HashMap<usize, ListenerEntry>,
    pass: &mut Pass,
) -> bool {
    let (now, state) = (cx.now, e.conn.state());
    match &mut e.phase {
        Phase::Listening { .. } | Phase::Owned => false,
        Phase::Handshake { listener, deadline } => {
            let l = listeners.get_mut(listener);
            if synchronized(state) {
                e.phase = Phase::Owned;
                if let Some(l) = l {
                    l.handshakes -= 1;
                    (l.deliver)(TcpConn::new(cx.shared.clone(), id, e.local, e.remote));
                }
            } else if state == State::Closed || now >= *deadline {
                if let Some(l) = l {
                    l.handshakes -= 1;
                }
                e.conn.abort();
                e.phase = Phase::Closing {
                    deadline: now + LINGER,
                };
            } else {
                pass.wake_at(*deadline);
            }
            false
        }
        Phase::Dialing { deadline, .. } => {
            let deadline = *deadline;
            let failed = if synchronized(state) {
                None
            } else if state == State::Closed {
                Some(if e.conn.reset {
                    error::refused(e.remote)
                } else {
                    error::connect_timed_out(e.remote)
                })
            } else if now >= deadline {
                e.conn.abort();
                Some(error::connect_timed_out(e.remote))
            } else {
                pass.wake_at(deadline);
                return false;
            };
            let next = match failed {
                None => Phase::Owned,
                Some(_) => Phase::Closing {
                    deadline: now + LINGER,
                },
            };
            let Phase::Dialing { reply, .. } = std::mem::replace(&mut e.phase, next) else {
                unreachable!()
            };
            match failed {
                None => reply(Ok(TcpConn::new(cx.shared.clone(), id, e.local, e.remote))),
                Some(err) => reply(Err(err)),
            }
            false
        }
        Phase::Spliced(s) => {
            match s.service(&mut e.conn, &cx.shared.poller) {
                Step::Busy => pass.busy = true,
                Step::Idle => {}
                Step::Done(outcome) => {
                    let closing = Phase::Closing {
                        deadline: now + LINGER,
                    };
                    let Phase::Spliced(s) = std::mem::replace(&mut e.phase, closing) else {
                        unreachable!()
                    };
                    let reset = e.conn.reset;
                    s.finish(outcome, &mut e.conn, &cx.shared.poller, reset);
                }
            }
            false
        }
        Phase::Closing { deadline } => {
            if state == State::Closed {
                true
            } else if now >= *deadline {
                e.conn.abort();
                false
            } else {
                pass.wake_at(*deadline);
                false
            }
        }
    }
}
