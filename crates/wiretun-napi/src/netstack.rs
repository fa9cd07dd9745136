//! Rootless tunnels: a device whose inner side is the userspace stack (crates/wiretun-rootless), and the
//! stack's TCP, UDP and ping for JS. Conversions only. A TCP connection reaches JS as the descriptor of a
//! socketpair end whose other end the stack splices in Rust, so its bytes never pass through JS; UDP
//! datagrams reach JS one Buffer each (they are messages, as with dgram). Errors cross as `CODE: message`.

// Under `cargo test` napi-derive registers nothing, so items only its exports use look dead.
#![cfg_attr(test, allow(dead_code))]

use crate::invalid;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsDeferred};
use napi_derive::napi;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiretun_netstack::{
    errno_name, os_pair, Datagram, Listener, LoopbackPair, OsStream, Stack, StackConfig, TcpConn,
    UdpSocket,
};
use wiretun_rootless::Rootless;

/// Datagrams queued for JS per socket before more are dropped, as a full socket buffer drops them.
const UDP_QUEUE: usize = 1024;

/// How long an accepted connection handed out by loopback port waits for JS to connect and adopt it.
const ADOPT_WITHIN: Duration = Duration::from_secs(30);

fn io_err(err: &io::Error) -> napi::Error {
    napi::Error::from_reason(format!("{}: {err}", errno_name(err)))
}

fn stopped() -> napi::Error {
    napi::Error::from_reason("EBADF: the tunnel is closed")
}

#[napi(object, js_name = "NativeNetstackOptions")]
pub struct JsNetstackOptions {
    /// The stack's own addresses, `ip` or `ip/prefix` (a wg-quick Address list), at most 8.
    pub addresses: Vec<String>,
    /// Largest packet the tunnel carries; default 1420.
    pub mtu: Option<u32>,
    /// Milliseconds a TCP connect waits for the handshake; default 30,000.
    pub connect_timeout_ms: Option<u32>,
    /// `"tcp2"` or `"smoltcp"`; absent: `WIRETUN_TCP_ENGINE`, else the stack's default.
    pub tcp_engine: Option<String>,
}

/// A TCP connection handed to JS: a socket descriptor (a socketpair end), or with `loopbackPort` a loopback
/// port JS connects to and then adopts (`adoptAccepted`); and the connection's addresses in the tunnel.
#[napi(object, js_name = "NativeConnection")]
pub struct JsConnection {
    /// -1 when handed out by loopback port.
    pub fd: i64,
    pub loopback_port: Option<u32>,
    pub local_address: String,
    pub local_port: u32,
    pub remote_address: String,
    pub remote_port: u32,
}

/// How a dial ended: `error` (`CODE: message`) or the connection's addresses.
#[napi(object, js_name = "NativeDialResult")]
pub struct JsDialResult {
    pub error: Option<String>,
    pub local_address: Option<String>,
    pub local_port: Option<u32>,
}

#[napi(object, js_name = "NativeDatagram")]
pub struct JsDatagram {
    pub data: Buffer,
    pub address: String,
    pub port: u32,
}

#[napi(object, js_name = "NativeNetstackStats")]
pub struct JsNetstackStats {
    /// Packets from peers handed to the stack, and their bytes.
    pub rx_packets: f64,
    pub rx_bytes: f64,
    /// Packets from peers the stack dropped (its queue was full).
    pub rx_dropped: f64,
    /// Packets the stack sent into the tunnel, and their bytes.
    pub tx_packets: f64,
    pub tx_bytes: f64,
}

/// `ip` or `ip/prefix`; a plain `Result` so the unit tests need no napi runtime.
fn parse_address(s: &str) -> std::result::Result<(IpAddr, u8), String> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = ip
        .trim()
        .parse()
        .map_err(|_| format!("addresses: {s:?} is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("addresses: {s:?} has a bad prefix length"))?,
    };
    Ok((ip, prefix))
}

fn socket_addr(ip: &str, port: u32) -> Result<SocketAddr> {
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| invalid(format!("{ip:?} is not an IP address")))?;
    let port = u16::try_from(port).map_err(|_| invalid(format!("port {port} out of range")))?;
    Ok(SocketAddr::new(ip, port))
}

fn stack_config(opts: &JsNetstackOptions) -> Result<StackConfig> {
    let addresses = opts
        .addresses
        .iter()
        .map(|a| parse_address(a).map_err(invalid))
        .collect::<Result<_>>()?;
    let mut config = StackConfig::new(addresses);
    if let Some(mtu) = opts.mtu {
        config.mtu = mtu as usize;
    }
    if let Some(ms) = opts.connect_timeout_ms {
        config.connect_timeout = Duration::from_millis(ms as u64);
    }
    // The option wins over the environment, which wins over the default. Nothing is said on stderr
    // (`--stdio` keeps it clean); WIRETUN_TCP2_TRACE makes tcp2 report itself.
    let engine = opts.tcp_engine.clone().or_else(|| {
        std::env::var("WIRETUN_TCP_ENGINE")
            .ok()
            .filter(|v| !v.is_empty())
    });
    if let Some(name) = engine {
        config.tcp_engine = wiretun_netstack::TcpEngine::parse(&name)
            .map_err(|e| napi::Error::from_reason(format!("EINVAL: {e}")))?;
    }
    config
        .validate()
        .map_err(|e| napi::Error::from_reason(format!("EINVAL: {e}")))?;
    Ok(config)
}

/// Splices the connection to a new socketpair and gives up the other end's descriptor.
fn hand_out(conn: TcpConn) -> io::Result<JsConnection> {
    let (local, remote) = (conn.local_addr(), conn.peer_addr());
    // How the splice ends is the JS socket's to see (end of file); a reset has no other way through a
    // socketpair.
    let os = conn.splice_pair(log_end)?;
    Ok(JsConnection {
        fd: raw_descriptor(os),
        loopback_port: None,
        local_address: local.ip().to_string(),
        local_port: local.port() as u32,
        remote_address: remote.ip().to_string(),
        remote_port: remote.port() as u32,
    })
}

fn log_end(end: wiretun_netstack::SpliceEnd) {
    if let Err(e) = end.result {
        log::debug!("netstack connection ended: {e}");
    }
}

/// Accepted connections waiting for JS to connect to their loopback port, by that port.
type Adoptable = Arc<Mutex<HashMap<u16, (Instant, LoopbackPair, TcpConn)>>>;

/// Parks the connection behind a loopback listener of its own (see [`LoopbackPair`]); ones JS never
/// adopted are dropped (reset) after [`ADOPT_WITHIN`].
fn hand_out_loopback(conn: TcpConn, adoptable: &Adoptable) -> io::Result<JsConnection> {
    let (local, remote) = (conn.local_addr(), conn.peer_addr());
    let pair = LoopbackPair::new()?;
    let port = pair.port()?;
    let mut waiting = adoptable.lock();
    waiting.retain(|_, (since, _, _)| since.elapsed() < ADOPT_WITHIN);
    waiting.insert(port, (Instant::now(), pair, conn));
    Ok(JsConnection {
        fd: -1,
        loopback_port: Some(port as u32),
        local_address: local.ip().to_string(),
        local_port: local.port() as u32,
        remote_address: remote.ip().to_string(),
        remote_port: remote.port() as u32,
    })
}

fn port_arg(port: u32) -> Result<u16> {
    u16::try_from(port).map_err(|_| invalid(format!("port {port} out of range")))
}

#[cfg(unix)]
fn raw_descriptor(os: OsStream) -> i64 {
    os.into_raw_fd() as i64
}

#[cfg(windows)]
fn raw_descriptor(os: OsStream) -> i64 {
    os.into_raw_socket() as i64
}

/// A device with no TUN: its inner side is a userspace TCP/IP stack with these addresses.
pub(crate) fn create(name: &str, options: &JsNetstackOptions) -> Result<Arc<Rootless>> {
    let config = stack_config(options)?;
    Ok(Arc::new(
        Rootless::create(name, config).map_err(crate::to_napi)?,
    ))
}

pub(crate) fn binding(rootless: Option<&Arc<Rootless>>) -> Result<BindingNetstack> {
    let stack = rootless.map(|r| r.stack().clone()).ok_or_else(|| {
        napi::Error::from_reason("EINVAL: this tunnel has no network stack (it has a TUN)")
    })?;
    Ok(BindingNetstack {
        stack,
        adoptable: Adoptable::default(),
    })
}

type DialFn = ThreadsafeFunction<JsDialResult, (), JsDialResult, Status, false>;
type ConnectionFn = ThreadsafeFunction<JsConnection, (), JsConnection, Status, false, true>;
type DatagramFn = ThreadsafeFunction<JsDatagram, (), JsDatagram, Status, false, true, UDP_QUEUE>;

/// TCP, UDP and ping through a rootless tunnel.
#[napi]
pub struct BindingNetstack {
    stack: Arc<Stack>,
    adoptable: Adoptable,
}

impl BindingNetstack {
    /// For the proxies (src/proxy.rs), which run in front of the same stack.
    pub(crate) fn stack(&self) -> &Arc<Stack> {
        &self.stack
    }
}

#[napi]
impl BindingNetstack {
    /// A socketpair for a TCP connection still to be dialled: JS wraps `fd` at once (as a connecting
    /// socket) while it resolves the host name, then calls `dial`. With `loopback`, no pair but a loopback
    /// port JS connects to and then names its end of (`adopt`) before dialling.
    #[napi]
    pub fn open_stream(&self, loopback: Option<bool>) -> Result<BindingStream> {
        let (fd, ours, pair) = if loopback.unwrap_or(false) {
            let pair = LoopbackPair::new().map_err(|e| io_err(&e))?;
            (-1, None, Some(pair))
        } else {
            let (ours, theirs) = os_pair().map_err(|e| io_err(&e))?;
            (raw_descriptor(theirs), Some(ours), None)
        };
        Ok(BindingStream {
            stack: self.stack.clone(),
            fd,
            ours: Mutex::new(ours),
            pair: Mutex::new(pair),
        })
    }

    /// Splices an accepted connection handed out by loopback port to JS's connection to that port, made
    /// from `peerPort`.
    #[napi]
    pub fn adopt_accepted(&self, loopback_port: u32, peer_port: u32) -> Result<()> {
        let (_, pair, conn) = self
            .adoptable
            .lock()
            .remove(&port_arg(loopback_port)?)
            .ok_or_else(|| {
                invalid(format!(
                    "no connection waits on loopback port {loopback_port}"
                ))
            })?;
        let os = pair.adopt(port_arg(peer_port)?).map_err(|e| io_err(&e))?;
        conn.splice(os, log_end);
        Ok(())
    }

    /// Accepts TCP connections on `ip:port` (an unspecified address: every stack address; port 0: a free
    /// one), handing each to `onConnection`. The callback does not keep the event loop alive.
    /// With `loopback`, each is handed out by loopback port (see `adoptAccepted`).
    #[napi(
        ts_args_type = "ip: string, port: number, onConnection: (conn: NativeConnection) => void, loopback?: boolean"
    )]
    pub fn listen(
        &self,
        ip: String,
        port: u32,
        on_connection: Function<JsConnection, ()>,
        loopback: Option<bool>,
    ) -> Result<BindingTcpListener> {
        let adoptable = loopback.unwrap_or(false).then(|| self.adoptable.clone());
        let local = socket_addr(&ip, port)?;
        let tsfn: ConnectionFn = on_connection
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        let listener = self
            .stack
            .listen_tcp_with(local, move |conn| {
                match match &adoptable {
                    Some(a) => hand_out_loopback(conn, a),
                    None => hand_out(conn),
                } {
                    Ok(c) => {
                        tsfn.call(c, ThreadsafeFunctionCallMode::NonBlocking);
                    }
                    Err(e) => {
                        log::debug!("netstack: could not hand out an accepted connection: {e}")
                    }
                }
            })
            .map_err(|e| io_err(&e))?;
        let local = listener.local_addr();
        Ok(BindingTcpListener {
            local,
            listener: Mutex::new(Some(listener)),
        })
    }

    /// Binds a UDP socket; each datagram goes to `onMessage` (dropped when JS falls 1024 behind).
    #[napi(ts_args_type = "ip: string, port: number, onMessage: (msg: NativeDatagram) => void")]
    pub fn bind_udp(
        &self,
        ip: String,
        port: u32,
        on_message: Function<JsDatagram, ()>,
    ) -> Result<BindingUdpSocket> {
        let local = socket_addr(&ip, port)?;
        let tsfn: DatagramFn = on_message
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .max_queue_size::<UDP_QUEUE>()
            .build()?;
        let socket = self
            .stack
            .bind_udp_with(local, move |d: Datagram| {
                let msg = JsDatagram {
                    data: d.data.into(),
                    address: d.from.ip().to_string(),
                    port: d.from.port() as u32,
                };
                tsfn.call(msg, ThreadsafeFunctionCallMode::NonBlocking);
            })
            .map_err(|e| io_err(&e))?;
        Ok(BindingUdpSocket {
            local: socket.local_addr(),
            socket: Mutex::new(Some(socket)),
        })
    }

    /// Sends an ICMP echo request; resolves to the round-trip time in milliseconds. Rejects with ETIMEDOUT
    /// or EHOSTUNREACH.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn ping<'env>(&self, env: &'env Env, ip: String, timeout_ms: u32) -> Result<Object<'env>> {
        let dst: IpAddr = ip
            .parse()
            .map_err(|_| invalid(format!("{ip:?} is not an IP address")))?;
        let (deferred, promise): (JsDeferred<f64, _>, _) = env.create_deferred()?;
        let pending = self
            .stack
            .ping(dst, Duration::from_millis(timeout_ms.max(1) as u64));
        // The stack has no callback form of ping: wait on a thread of our own, not on a libuv worker.
        std::thread::spawn(move || match pending.wait() {
            Ok(rtt) => deferred.resolve(move |_| Ok(rtt.as_secs_f64() * 1000.0)),
            Err(e) => deferred.reject(io_err(&e)),
        });
        Ok(promise)
    }

    /// The stack's packet counters.
    #[napi]
    pub fn stats(&self) -> JsNetstackStats {
        let s = self.stack.stats();
        JsNetstackStats {
            rx_packets: s.rx_packets as f64,
            rx_bytes: s.rx_bytes as f64,
            rx_dropped: s.rx_dropped as f64,
            tx_packets: s.tx_packets as f64,
            tx_bytes: s.tx_bytes as f64,
        }
    }
}

/// One end of a socketpair handed to JS, the other kept here until a dial splices it to a connection.
#[napi]
pub struct BindingStream {
    stack: Arc<Stack>,
    fd: i64,
    ours: Mutex<Option<OsStream>>,
    /// Opened with `loopback`: the listener JS connects to, until `adopt`.
    pair: Mutex<Option<LoopbackPair>>,
}

#[napi]
impl BindingStream {
    /// JS's end of the pair, for `new net.Socket({ fd })`.
    #[napi(getter)]
    pub fn fd(&self) -> i64 {
        self.fd
    }

    /// Opened with `loopback`: the port JS connects to (then `adopt`).
    #[napi(getter)]
    pub fn loopback_port(&self) -> Option<u32> {
        let pair = self.pair.lock();
        pair.as_ref().and_then(|p| p.port().ok()).map(u32::from)
    }

    /// Takes JS's connection to the loopback port, made from `peerPort`, as this stream's end to splice.
    #[napi]
    pub fn adopt(&self, peer_port: u32) -> Result<()> {
        let pair = self
            .pair
            .lock()
            .take()
            .ok_or_else(|| invalid("this stream has no loopback port to adopt from".into()))?;
        let os = pair.adopt(port_arg(peer_port)?).map_err(|e| io_err(&e))?;
        *self.ours.lock() = Some(os);
        Ok(())
    }

    /// Dials `ip:port` and, once established, splices the connection to this pair; `onDone` is called once
    /// either way. On failure our end closes, so JS's end sees end of file. Rejects (through onDone) with
    /// ECONNREFUSED (the remote answered RST), ETIMEDOUT, EHOSTUNREACH (no peer's allowed IPs cover it) or
    /// ENETUNREACH (no stack address of that IP version).
    #[napi(
        ts_args_type = "ip: string, port: number, timeoutMs: number, onDone: (result: NativeDialResult) => void"
    )]
    pub fn dial(
        &self,
        ip: String,
        port: u32,
        timeout_ms: u32,
        on_done: Function<JsDialResult, ()>,
    ) -> Result<()> {
        let remote = socket_addr(&ip, port)?;
        let ours = self
            .ours
            .lock()
            .take()
            .ok_or_else(|| invalid("this stream was dialled already".into()))?;
        let tsfn: DialFn = on_done
            .build_threadsafe_function()
            .callee_handled::<false>()
            .build()?;
        let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
        self.stack.dial_tcp_with(remote, timeout, move |result| {
            let outcome = match result {
                Ok(conn) => {
                    let local = conn.local_addr();
                    conn.splice(ours, log_end);
                    JsDialResult {
                        error: None,
                        local_address: Some(local.ip().to_string()),
                        local_port: Some(local.port() as u32),
                    }
                }
                Err(e) => JsDialResult {
                    error: Some(format!("{}: {e}", errno_name(&e))),
                    local_address: None,
                    local_port: None,
                },
            };
            tsfn.call(outcome, ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(())
    }

    /// Gives up before dialling (the host name did not resolve): JS's end sees end of file.
    #[napi]
    pub fn close(&self) {
        self.ours.lock().take();
        self.pair.lock().take();
    }
}

#[napi]
pub struct BindingTcpListener {
    local: SocketAddr,
    listener: Mutex<Option<Listener>>,
}

#[napi]
impl BindingTcpListener {
    #[napi(getter)]
    pub fn local_address(&self) -> String {
        self.local.ip().to_string()
    }

    #[napi(getter)]
    pub fn local_port(&self) -> u32 {
        self.local.port() as u32
    }

    /// Stops listening; connections already accepted live on. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.listener.lock().take();
    }
}

#[napi]
pub struct BindingUdpSocket {
    local: SocketAddr,
    socket: Mutex<Option<UdpSocket>>,
}

#[napi]
impl BindingUdpSocket {
    #[napi(getter)]
    pub fn local_address(&self) -> String {
        self.local.ip().to_string()
    }

    #[napi(getter)]
    pub fn local_port(&self) -> u32 {
        self.local.port() as u32
    }

    /// Queues one datagram. Throws EHOSTUNREACH, EMSGSIZE (too large) or EBADF (closed).
    #[napi]
    pub fn send(&self, data: Buffer, ip: String, port: u32) -> Result<u32> {
        let dst = socket_addr(&ip, port)?;
        let guard = self.socket.lock();
        let socket = guard.as_ref().ok_or_else(stopped)?;
        let n = socket.send_to(&data, dst).map_err(|e| io_err(&e))?;
        Ok(n as u32)
    }

    /// Closes the socket. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.socket.lock().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_and_without_prefix() {
        assert_eq!(
            parse_address("10.0.0.2/24").unwrap(),
            ("10.0.0.2".parse().unwrap(), 24)
        );
        assert_eq!(parse_address("10.0.0.2").unwrap().1, 32);
        assert_eq!(parse_address("fd00::2").unwrap().1, 128);
        assert!(parse_address("10.0.0.2/33").is_err());
        assert!(parse_address("nope/24").is_err());
    }
}
