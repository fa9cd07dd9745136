//! The stack thread's TCP bookkeeping: every connection from dial or SYN to removal, the listeners, and local
//! ports.
//!
//! smoltcp has no backlog: a listening socket becomes the connection its first SYN starts. So a listener owns
//! no socket until a SYN for it arrives; the packet is looked at first (see `peek`) and a fresh listening
//! socket is made for it right before smoltcp processes it. Between packets no socket of ours is in LISTEN,
//! so a retransmitted SYN or the handshake's ACK always finds the connection it belongs to, never a spare
//! listening socket that would start a duplicate.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::Event;
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, CongestionControl};
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

use crate::api::{Reply, SpliceDone, TcpConn};
use crate::conn::{step, Conn, Pass, Phase, HANDSHAKE_TIMEOUT, LINGER};
use crate::endpoints::Endpoints;
use crate::error;
use crate::os::OsStream;
use crate::pages::Rings;
use crate::peek::TcpPeek;
use crate::recovery::{Extra, PeerTrack, Probe};
use crate::shared::Shared;
use crate::splice::Splice;

pub(crate) struct TcpOpts {
    pub rx_buffer: usize,
    pub tx_buffer: usize,
    pub backlog: usize,
    pub keepalive: Option<Duration>,
    /// Smallest MSS of the stack's IP versions: three of them SACKed above a hole mean it was lost.
    pub mss: u32,
}

/// What to do with an inbound packet besides handing it to smoltcp.
pub(crate) enum Ingress {
    Plain,
    /// A SYN was given this listening socket: see whether it took it.
    Watch(usize),
    /// ACKs to hand smoltcp right before and right after this packet (see `recovery`).
    Acks(Extra),
}

pub(crate) struct TcpTable {
    conns: HashMap<usize, Conn>,
    tuples: HashMap<(SocketAddr, SocketAddr), usize>,
    ep: Endpoints,
    opts: TcpOpts,
    scratch: Vec<usize>,
    /// Packets to hand smoltcp as if they had arrived (see `recovery`).
    pub synthetic: Vec<Vec<u8>>,
}

pub(crate) struct Ctx<'a> {
    pub sockets: &'a mut SocketSet<'static>,
    pub iface: &'a mut Interface,
    pub shared: &'a Arc<Shared>,
    pub now: Instant,
}

fn endpoint_addr(ep: IpEndpoint) -> SocketAddr {
    SocketAddr::new(ep.addr.into(), ep.port)
}

impl TcpTable {
    pub fn new(opts: TcpOpts, seed: u16) -> TcpTable {
        TcpTable {
            conns: HashMap::new(),
            tuples: HashMap::new(),
            ep: Endpoints::new(seed),
            opts,
            scratch: Vec::new(),
            synthetic: Vec::new(),
        }
    }

    fn new_socket(
        &mut self,
        sockets: &mut SocketSet<'static>,
    ) -> io::Result<(usize, SocketHandle, Rings)> {
        let mut rings = Rings::new(self.opts.rx_buffer, self.opts.tx_buffer)?;
        // SAFETY: the socket holding these slices is removed from the set and dropped before `rings` (`remove`).
        let (rx, tx) = unsafe { rings.split() };
        let mut s = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
        // Congestion control is ours (recovery's window), applied through the window field smoltcp reads:
        // its CUBIC cuts the window once per lost segment, which on a lossy path starves the stream.
        s.set_congestion_control(CongestionControl::None);
        // Data comes from a splice in large reads; a small last write should not wait a round trip for an ACK.
        s.set_nagle_enabled(false);
        if let Some(k) = self.opts.keepalive {
            s.set_keep_alive(Some(k.into()));
            s.set_timeout(Some((k * 3).into()));
        }
        let id = self.ep.id();
        Ok((id, sockets.add(s), rings))
    }

    pub fn dial(
        &mut self,
        cx: &mut Ctx<'_>,
        remote: SocketAddr,
        timeout: Duration,
        reply: Reply<TcpConn>,
    ) {
        match self.try_dial(cx, remote) {
            Ok(id) => {
                let conn = self.conns.get_mut(&id).expect("just added");
                conn.phase = Phase::Dialing {
                    reply,
                    deadline: cx.now + timeout,
                };
            }
            Err(e) => reply(Err(e)),
        }
    }

    fn try_dial(&mut self, cx: &mut Ctx<'_>, remote: SocketAddr) -> io::Result<usize> {
        if remote.port() == 0 || remote.ip().is_unspecified() || remote.ip().is_multicast() {
            return Err(error::invalid(format!(
                "connect {remote}: not a unicast address and port"
            )));
        }
        if !cx.shared.sink.has_route(remote.ip()) {
            return Err(error::no_route(remote.ip()));
        }
        let src: IpAddr = cx
            .iface
            .get_source_address(&remote.ip().into())
            .ok_or(error::no_source(remote.ip()))?
            .into();
        let port = self.ep.alloc_port()?;
        let (id, handle, rings) = match self.new_socket(cx.sockets) {
            Ok(s) => s,
            Err(e) => {
                self.ep.ports.taken.remove(&port);
                return Err(e);
            }
        };
        let local = SocketAddr::new(src, port);
        let sock = cx.sockets.get_mut::<tcp::Socket>(handle);
        if let Err(e) = sock.connect(cx.iface.context(), remote, local) {
            cx.sockets.remove(handle);
            self.ep.ports.taken.remove(&port);
            return Err(error::invalid(format!("connect {remote}: {e}")));
        }
        self.tuples.insert((local, remote), id);
        let phase = Phase::Owned;
        let remote = Some(remote);
        let track = PeerTrack::new(cx.now, self.opts.mss);
        let conn = Conn {
            handle,
            local,
            remote,
            owns_port: true,
            rst_seen: false,
            track,
            phase,
            _rings: rings,
        };
        self.conns.insert(id, conn);
        Ok(id)
    }

    pub fn listen(
        &mut self,
        cx: &mut Ctx<'_>,
        local: SocketAddr,
        deliver: Box<dyn FnMut(TcpConn) + Send>,
    ) -> io::Result<(usize, SocketAddr)> {
        let iface = &*cx.iface;
        self.ep.listen(|ip| iface.has_ip_addr(ip), local, deliver)
    }

    pub fn unlisten(&mut self, cx: &mut Ctx<'_>, id: usize) {
        if !self.ep.unlisten(id) {
            return;
        }
        for conn in self.conns.values_mut() {
            match conn.phase {
                Phase::Listening { listener } | Phase::Handshake { listener, .. }
                    if listener == id =>
                {
                    cx.sockets.get_mut::<tcp::Socket>(conn.handle).abort();
                    conn.phase = Phase::Closing {
                        deadline: cx.now + LINGER,
                    };
                }
                _ => {}
            }
        }
    }

    /// Before smoltcp sees an inbound TCP packet: note resets, acknowledgments and losses the SACK blocks
    /// reveal (see `recovery`), and give a new connection's SYN a listening socket.
    pub fn before_ingress(&mut self, cx: &mut Ctx<'_>, p: &TcpPeek) -> Ingress {
        let key = (p.dst, p.src);
        if let Some(conn) = self.tuples.get(&key).and_then(|id| self.conns.get_mut(id)) {
            if p.is_rst() {
                conn.rst_seen = true;
                return Ingress::Plain;
            }
            let tx_empty = cx.sockets.get::<tcp::Socket>(conn.handle).send_queue() == 0;
            let extra = conn
                .track
                .on_segment(p, self.opts.mss, cx.now, p.dst, p.src, tx_empty);
            return if extra.window.is_none() && extra.after.is_empty() {
                Ingress::Plain
            } else {
                Ingress::Acks(extra)
            };
        }
        if !p.is_syn() {
            return Ingress::Plain;
        }
        self.prepare_listener(cx, p)
            .map_or(Ingress::Plain, Ingress::Watch)
    }

    fn prepare_listener(&mut self, cx: &mut Ctx<'_>, p: &TcpPeek) -> Option<usize> {
        let (lid, l) = self.ep.listener_for(p.dst)?;
        if let Some(idle) = l.idle {
            return Some(idle);
        }
        if l.handshakes >= self.opts.backlog {
            return None;
        }
        let (ip, port) = (l.ip, l.port);
        let (id, handle, rings) = self.new_socket(cx.sockets).ok()?;
        let sock = cx.sockets.get_mut::<tcp::Socket>(handle);
        sock.listen(IpListenEndpoint {
            addr: ip.map(Into::into),
            port,
        })
        .ok()?;
        let local = SocketAddr::new(p.dst.ip(), port);
        let phase = Phase::Listening { listener: lid };
        let mut track = PeerTrack::new(cx.now, self.opts.mss);
        // The SYN reaches no connection's `on_segment` (its 4-tuple is known only once smoltcp took it),
        // and it alone tells the peer's window scale.
        track.peer_syn(p, cx.now);
        let conn = Conn {
            handle,
            local,
            remote: None,
            owns_port: false,
            rst_seen: false,
            track,
            phase,
            _rings: rings,
        };
        self.conns.insert(id, conn);
        self.ep.listeners.get_mut(&lid).expect("found above").idle = Some(id);
        Some(id)
    }

    /// After the packet `before_ingress` prepared for: if the listening socket took the SYN, it is a
    /// handshake now, with a known 4-tuple.
    pub fn after_ingress(&mut self, cx: &mut Ctx<'_>, id: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let Phase::Listening { listener } = conn.phase else {
            return;
        };
        let sock = cx.sockets.get_mut::<tcp::Socket>(conn.handle);
        let (Some(local), Some(remote)) = (sock.local_endpoint(), sock.remote_endpoint()) else {
            return;
        };
        let (local, remote) = (endpoint_addr(local), endpoint_addr(remote));
        conn.local = local;
        conn.remote = Some(remote);
        conn.phase = Phase::Handshake {
            listener,
            deadline: cx.now + HANDSHAKE_TIMEOUT,
        };
        self.tuples.insert((local, remote), id);
        if let Some(l) = self.ep.listeners.get_mut(&listener) {
            l.idle = None;
            l.handshakes += 1;
        }
    }

    pub fn abort(&mut self, cx: &mut Ctx<'_>, id: usize) {
        if let Some(conn) = self.conns.get_mut(&id) {
            if matches!(conn.phase, Phase::Owned) {
                cx.sockets.get_mut::<tcp::Socket>(conn.handle).abort();
                conn.phase = Phase::Closing {
                    deadline: cx.now + LINGER,
                };
            }
        }
    }

    pub fn splice(&mut self, cx: &mut Ctx<'_>, id: usize, os: OsStream, done: SpliceDone) {
        let Some(conn) = self
            .conns
            .get_mut(&id)
            .filter(|c| matches!(c.phase, Phase::Owned))
        else {
            return done(crate::api::SpliceEnd {
                result: Err(error::aborted("no such connection")),
                to_stack: 0,
                to_os: 0,
            });
        };
        match Splice::new(os, id, done, &cx.shared.poller) {
            Ok(s) => conn.phase = Phase::Spliced(Box::new(s)),
            Err((e, done)) => {
                cx.sockets.get_mut::<tcp::Socket>(conn.handle).abort();
                conn.phase = Phase::Closing {
                    deadline: cx.now + LINGER,
                };
                done(crate::api::SpliceEnd {
                    result: Err(e),
                    to_stack: 0,
                    to_os: 0,
                });
            }
        }
    }

    pub fn on_event(&mut self, ev: &Event) {
        if let Some(Conn {
            phase: Phase::Spliced(s),
            ..
        }) = self.conns.get_mut(&ev.key)
        {
            s.on_event(ev);
        }
    }

    /// One pass over every connection: handshakes completing or failing, dials timing out, splices moving
    /// data, and finished connections leaving.
    pub fn service(&mut self, cx: &mut Ctx<'_>) -> Pass {
        let mut pass = Pass::default();
        let mut gone = std::mem::take(&mut self.scratch);
        for (&id, conn) in self.conns.iter_mut() {
            let sock = cx.sockets.get_mut::<tcp::Socket>(conn.handle);
            if step(
                id,
                conn,
                sock,
                cx.shared,
                &mut self.ep.listeners,
                cx.now,
                &mut pass,
            ) {
                gone.push(id);
            } else if let (Phase::Owned | Phase::Spliced(_) | Phase::Closing { .. }, Some(remote)) =
                (&conn.phase, conn.remote)
            {
                match conn.track.probe(sock, conn.local, remote, cx.now) {
                    Probe::None => {}
                    Probe::At(t) => pass.wake_at(t),
                    Probe::Now(packets) => self.synthetic.extend(packets),
                }
            }
        }
        for id in gone.drain(..) {
            self.remove(cx.sockets, id);
        }
        self.scratch = gone;
        pass
    }

    fn remove(&mut self, sockets: &mut SocketSet<'static>, id: usize) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        // The socket (holding slices of the rings) goes first; the rings are unmapped when `conn` drops.
        drop(sockets.remove(conn.handle));
        if let Some(remote) = conn.remote {
            self.tuples.remove(&(conn.local, remote));
        }
        if conn.owns_port {
            self.ep.ports.taken.remove(&conn.local.port());
        }
        if let Phase::Listening { listener } = conn.phase {
            if let Some(l) = self
                .ep
                .listeners
                .get_mut(&listener)
                .filter(|l| l.idle == Some(id))
            {
                l.idle = None;
            }
        }
    }

    /// Resets every connection and fails every wait, for a stopping stack. The caller polls egress once more
    /// (so the RSTs go out), then calls `clear`.
    pub fn abort_all(&mut self, cx: &mut Ctx<'_>) {
        for conn in self.conns.values_mut() {
            cx.sockets.get_mut::<tcp::Socket>(conn.handle).abort();
            match std::mem::replace(&mut conn.phase, Phase::Closing { deadline: cx.now }) {
                Phase::Dialing { reply, .. } => reply(Err(error::stopped())),
                Phase::Spliced(s) => s.abandon(&cx.shared.poller),
                _ => {}
            }
        }
        self.ep.listeners.clear();
    }

    pub fn clear(&mut self, sockets: &mut SocketSet<'static>) {
        let ids: Vec<usize> = self.conns.keys().copied().collect();
        for id in ids {
            self.remove(sockets, id);
        }
    }
}
