//! `-L [BIND:]PORT:HOST:PORT/udp`: a host UDP port whose datagrams go to one target through the tunnel. Each
//! client address gets a stack socket of its own, so replies find their way back. A target name is resolved
//! when a new client comes (through the resolver's TTL cache), so the forward may start before the tunnel's
//! DNS answers, and a name that fails drops that client's datagram only; a client with no datagram
//! either way for the inactivity timeout ([`IDLE`] unless told, wireproxy's `InactivityTimeout`) loses its
//! socket, and at most [`MAX_CLIENTS`] are kept.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wiretun_netstack::Datagram;

use crate::socks5::Host;
use crate::Options;

/// The inactivity timeout when none is given.
pub const IDLE: Duration = Duration::from_secs(120);
pub const MAX_CLIENTS: usize = 1024;
const POLL: Duration = Duration::from_millis(500);

/// A running UDP forward; dropping it closes the host socket and every client's stack socket.
pub struct UdpForward {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpForward {
    pub fn start(opts: &Options, bind: SocketAddr, target: SocketAddr) -> io::Result<UdpForward> {
        UdpForward::start_with(opts, bind, target, Some(IDLE))
    }

    /// With a client inactivity timeout of `idle`; `None` keeps clients until the forward closes (a new
    /// client is then turned away once [`MAX_CLIENTS`] are held).
    pub fn start_with(
        opts: &Options,
        bind: SocketAddr,
        target: SocketAddr,
        idle: Option<Duration>,
    ) -> io::Result<UdpForward> {
        UdpForward::start_to(opts, bind, Host::Ip(target.ip()), target.port(), idle)
    }

    /// To `host:port`, where a name is resolved by `opts`' resolver for each new client.
    pub fn start_to(
        opts: &Options,
        bind: SocketAddr,
        host: Host,
        port: u16,
        idle: Option<Duration>,
    ) -> io::Result<UdpForward> {
        let sock = UdpSocket::bind(bind)
            .map_err(|e| io::Error::new(e.kind(), format!("listening on {bind}/udp: {e}")))?;
        // Short enough that a small inactivity timeout is honoured to within a fraction of a second.
        let tick = idle.map_or(POLL, |i| (i / 4).clamp(Duration::from_millis(20), POLL));
        sock.set_read_timeout(Some(tick))?;
        let addr = sock.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, opts) = (stop.clone(), opts.clone());
        let thread = std::thread::Builder::new()
            .name(format!("proxy {addr}/udp"))
            .spawn(move || run(sock, opts, (host, port), idle, flag))?;
        Ok(UdpForward {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for UdpForward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One client's tunnel socket, its target (resolved when it came) and its last activity.
struct Client {
    sock: wiretun_netstack::UdpSocket,
    target: SocketAddr,
    seen: Arc<AtomicU64>,
}

fn run(
    sock: UdpSocket,
    opts: Options,
    (host, port): (Host, u16),
    idle: Option<Duration>,
    stop: Arc<AtomicBool>,
) {
    let sock = Arc::new(sock);
    // Each client's last activity, either way (a reply counts, as in wireproxy), in ms since `start`.
    let start = Instant::now();
    let since = move || start.elapsed().as_millis() as u64;
    let mut clients: HashMap<SocketAddr, Client> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        if let Some(idle) = idle {
            let now = since();
            let idle = idle.as_millis() as u64;
            clients.retain(|_, c| now.saturating_sub(c.seen.load(Ordering::Relaxed)) < idle);
        }
        let (n, from) = match recv(&sock, &mut buf) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                log::warn!("proxy udp: {e}");
                continue;
            }
        };
        if !clients.contains_key(&from) {
            if clients.len() >= MAX_CLIENTS {
                continue;
            }
            let (back, seen) = (sock.clone(), Arc::new(AtomicU64::new(since())));
            match new_client(&opts, &host, port, back, seen, from, since) {
                Ok(c) => {
                    clients.insert(from, c);
                }
                Err(e) => {
                    log::info!("udp client {from}: {e}");
                    continue;
                }
            }
        }
        let c = clients.get_mut(&from).expect("inserted");
        c.seen.store(since(), Ordering::Relaxed);
        if let Err(e) = c.sock.send_to(&buf[..n], c.target) {
            log::debug!("proxy udp: {from} -> {}: {e}", c.target);
        }
    }
}

/// Resolves the target for a new client and binds its tunnel socket, whose replies go back to `from`.
fn new_client(
    opts: &Options,
    host: &Host,
    port: u16,
    back: Arc<UdpSocket>,
    seen: Arc<AtomicU64>,
    from: SocketAddr,
    since: impl Fn() -> u64 + Send + Sync + 'static,
) -> io::Result<Client> {
    let ip = match host {
        Host::Ip(ip) => *ip,
        Host::Name(name) => crate::relay::resolve(opts, name)
            .map_err(|e| io::Error::new(e.kind(), format!("target {name}:{port}: {e}")))?[0],
    };
    let target = SocketAddr::new(ip, port);
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => ([0u16; 8], 0).into(),
    };
    let replied = seen.clone();
    let sock = opts.stack.bind_udp_with(local, move |d: Datagram| {
        if d.from == target {
            replied.store(since(), Ordering::Relaxed);
            let _ = back.send_to(&d.data, from);
        }
    })?;
    Ok(Client { sock, target, seen })
}

/// A datagram from a socket with a read timeout; `None` when the timeout passed first, or a signal came
/// (a read with a timeout is not restarted after one, and the sandbox signals every thread).
pub(crate) fn recv(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
    match sock.recv_from(buf) {
        Ok(r) => Ok(Some(r)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
