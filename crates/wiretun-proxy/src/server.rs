//! The OS listeners: one accept thread each, a thread per client for its handshake and dial.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use wiretun_netstack::{Listener, TcpConn};

use crate::http;
use crate::relay::{dial, relay};
use crate::socks5::{self, reply, Host, Parsed};
use crate::{Credentials, Options};

/// A running OS listener. [`close`](Server::close) (or drop) stops accepting; connections already handed to
/// the stack live on until they end.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

enum Kind {
    Forward(Host, u16),
    Socks5(Option<Credentials>),
    Http(Option<String>),
    Https(Option<String>, Arc<rustls::ServerConfig>),
    Sni,
}

impl Server {
    /// `-L`: every connection to `bind` goes to `host:port` through the stack.
    pub fn forward(opts: Options, bind: SocketAddr, host: Host, port: u16) -> io::Result<Server> {
        Server::start(opts, bind, Kind::Forward(host, port))
    }

    /// A SOCKS5 server on `bind`; with credentials, only RFC 1929 clients that present them get in.
    pub fn socks5(
        opts: Options,
        bind: SocketAddr,
        auth: Option<Credentials>,
    ) -> io::Result<Server> {
        Server::start(opts, bind, Kind::Socks5(auth))
    }

    /// An HTTP proxy on `bind`; with credentials, requests need a matching Basic Proxy-Authorization.
    pub fn http(opts: Options, bind: SocketAddr, auth: Option<Credentials>) -> io::Result<Server> {
        let expected = auth.map(|c| http::basic_credentials(&c.user, &c.pass));
        Server::start(opts, bind, Kind::Http(expected))
    }

    /// The HTTP proxy behind TLS (wireproxy's `[http]` with CertFile/KeyFile): clients speak HTTPS to it.
    pub fn https(
        opts: Options,
        bind: SocketAddr,
        auth: Option<Credentials>,
        tls: Arc<rustls::ServerConfig>,
    ) -> io::Result<Server> {
        let expected = auth.map(|c| http::basic_credentials(&c.user, &c.pass));
        Server::start(opts, bind, Kind::Https(expected, tls))
    }

    /// wireproxy's `[SNI]`: each client's TLS ClientHello names the host it goes to (port 443), and its
    /// bytes go there untouched (no TLS termination).
    pub fn sni(opts: Options, bind: SocketAddr) -> io::Result<Server> {
        Server::start(opts, bind, Kind::Sni)
    }

    fn start(opts: Options, bind: SocketAddr, kind: Kind) -> io::Result<Server> {
        let listener = listen(bind)
            .map_err(|e| io::Error::new(e.kind(), format!("listening on {bind}: {e}")))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let kind = Arc::new(kind);
        let thread = std::thread::Builder::new()
            .name(format!("proxy {addr}"))
            .spawn(move || accept_loop(listener, opts, kind, flag))?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address bound (with the port picked when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes the listening socket. Idempotent.
    pub fn close(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            // The accept thread blocks in accept(); one connection wakes it to see the flag.
            let mut wake = self.addr;
            if wake.ip().is_unspecified() {
                wake.set_ip(match wake {
                    SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
                });
            }
            let _ = TcpStream::connect_timeout(&wake, std::time::Duration::from_secs(1));
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}

/// What std's `TcpListener::bind` does, with a backlog of 1024 instead of 128: clients beyond the handshake
/// slots wait in it, and when it overflows (a burst of 1,000, or this process stalled) Linux answers with
/// SYN cookies and resets the connections it then cannot take.
fn listen(bind: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(bind), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    socket.bind(&bind.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// One client's place among the listener's handshakes, given back when its thread ends (the splice then runs
/// in the stack's turns).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(listener: TcpListener, opts: Options, kind: Arc<Kind>, stop: Arc<AtomicBool>) {
    let busy = Arc::new(AtomicUsize::new(0));
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                log::warn!("accept: {e}");
                continue;
            }
        };
        // At the limit, wait for a slot instead of closing the client: a burst of real clients (1,000
        // connecting at once) then queues in the listen backlog and is served in turn, and an idle flood holds
        // the slots only until the handshake timeout.
        while busy.load(Ordering::SeqCst) >= opts.max_handshakes {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        busy.fetch_add(1, Ordering::SeqCst);
        let (opts, kind, slot) = (opts.clone(), kind.clone(), Slot(busy.clone()));
        let _ = std::thread::Builder::new()
            .name("proxy client".into())
            .spawn(move || {
                let _slot = slot;
                let peer = client
                    .peer_addr()
                    .map_or_else(|_| "?".to_string(), |a| a.to_string());
                if let Err(e) = serve(&opts, &kind, client) {
                    log::info!("client {peer}: {e}");
                }
            });
    }
}

fn serve(opts: &Options, kind: &Kind, client: TcpStream) -> io::Result<()> {
    let _ = client.set_nodelay(true);
    match kind {
        Kind::Forward(host, port) => {
            // The target is resolved here, per connection: a name that fails fails this client only.
            let conn = dial(opts, host, *port).map_err(|e| {
                let target = match host {
                    Host::Ip(ip) => SocketAddr::new(*ip, *port).to_string(),
                    Host::Name(name) => format!("{name}:{port}"),
                };
                io::Error::new(e.kind(), format!("forward to {target}: {e}"))
            })?;
            relay(conn, client, &[], format!("forward to {port}"))
        }
        Kind::Socks5(auth) => serve_socks5(opts, auth.as_ref(), client),
        Kind::Http(expected) => serve_http(opts, expected.as_deref(), client),
        Kind::Https(expected, tls) => {
            let plain = crate::tls::accept(tls, client, opts.handshake_timeout)?;
            serve_http(opts, expected.as_deref(), plain)
        }
        Kind::Sni => crate::passthrough::serve(opts, client),
    }
}

/// Reads until `parse` has a value; returns it and removes the bytes it took from `buf`. `Ok(None)` on EOF.
pub(crate) fn read_msg<T, E: std::fmt::Display>(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    cap: usize,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, E>,
) -> io::Result<Result<T, E>> {
    // The read timeout bounds the whole message, not each read: a client dripping a byte at a time must not
    // hold its thread and slot for ever. What is left carries over to the next message of the handshake.
    let deadline = client
        .read_timeout()?
        .map(|t| std::time::Instant::now() + t);
    loop {
        match parse(buf) {
            Ok(Some((value, used))) => {
                buf.drain(..used);
                return Ok(Ok(value));
            }
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
        if buf.len() >= cap {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "handshake too large",
            ));
        }
        let mut chunk = [0u8; 4096];
        let want = (cap - buf.len()).min(chunk.len());
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "handshake not sent in time",
                ));
            }
            client.set_read_timeout(Some(left))?;
        }
        let n = match client.read(&mut chunk[..want]) {
            Ok(n) => n,
            // A read with a timeout is not restarted after a signal (SIGSTOP/SIGCONT, or one Node handles):
            // that is no reason to drop the client.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "client closed during the handshake",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn socks<T>(r: Result<Parsed<T>, socks5::Error>) -> Result<Option<(T, usize)>, socks5::Error> {
    r.map(|p| match p {
        Parsed::Need => None,
        Parsed::Done(v, n) => Some((v, n)),
    })
}

fn serve_socks5(
    opts: &Options,
    auth: Option<&Credentials>,
    mut client: TcpStream,
) -> io::Result<()> {
    client.set_read_timeout(Some(opts.handshake_timeout))?;
    let mut buf = Vec::new();
    let methods = read_msg(&mut client, &mut buf, 512, |b| {
        socks(socks5::parse_greeting(b))
    })?
    .map_err(io::Error::other)?;
    let method = if auth.is_some() {
        socks5::METHOD_USERPASS
    } else {
        socks5::METHOD_NONE
    };
    if !methods.contains(&method) {
        client.write_all(&[socks5::VERSION, socks5::METHOD_REFUSED])?;
        return Err(io::Error::other(format!(
            "no acceptable method (offered {methods:?}, need {method})"
        )));
    }
    client.write_all(&[socks5::VERSION, method])?;
    if let Some(want) = auth {
        let (user, pass) = read_msg(&mut client, &mut buf, 1024, |b| {
            socks(socks5::parse_userpass(b))
        })?
        .map_err(io::Error::other)?;
        let ok = user == want.user.as_bytes() && same(&pass, want.pass.as_bytes());
        // RFC 1929: a status other than 0 and the server closes.
        client.write_all(&[1, if ok { 0 } else { 1 }])?;
        if !ok {
            return Err(io::Error::other(format!(
                "authentication failed for user {:?}",
                String::from_utf8_lossy(&user)
            )));
        }
    }
    let request = match read_msg(&mut client, &mut buf, 1024, |b| {
        socks(socks5::parse_request(b))
    })? {
        Ok(v) => v,
        Err(e) => {
            let code = match e {
                socks5::Error::Command(_) => reply::COMMAND_NOT_SUPPORTED,
                socks5::Error::AddressType(_) => reply::ADDRESS_TYPE_NOT_SUPPORTED,
                _ => reply::GENERAL_FAILURE,
            };
            client.write_all(&socks5::encode_reply(code, None))?;
            return Err(io::Error::other(e.to_string()));
        }
    };
    if request.command == socks5::CMD_UDP_ASSOCIATE {
        return crate::associate::associate(opts, client, &request);
    }
    let (host, port) = (request.host, request.port);
    let conn = match dial(opts, &host, port) {
        Ok(c) => c,
        Err(e) => {
            client.write_all(&socks5::encode_reply(socks5::reply_for(&e), None))?;
            return Err(io::Error::new(
                e.kind(),
                format!("CONNECT {host:?}:{port}: {e}"),
            ));
        }
    };
    client.write_all(&socks5::encode_reply(
        reply::SUCCEEDED,
        Some(conn.local_addr()),
    ))?;
    relay(conn, client, &buf, format!("socks5 {host:?}:{port}"))
}

/// Compares without stopping at the first difference, so timing tells nothing about the password.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn serve_http(opts: &Options, expected: Option<&str>, mut client: TcpStream) -> io::Result<()> {
    client.set_read_timeout(Some(opts.handshake_timeout))?;
    let mut buf = Vec::new();
    let parsed = read_msg(&mut client, &mut buf, http::MAX_HEAD + 1, |b| {
        http::parse_head(b).map(|p| match p {
            http::Parsed::Need => None,
            http::Parsed::Done(h, n) => Some((h, n)),
        })
    });
    let head = match parsed {
        Ok(Ok(head)) => head,
        Ok(Err(e)) => {
            let (code, reason) = e.status();
            client.write_all(&http::response(code, reason, ""))?;
            return Err(io::Error::other(e.to_string()));
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            let _ = client.write_all(&http::response(408, "Request Timeout", ""));
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request head not sent in time",
            ));
        }
        Err(e) => return Err(e),
    };
    if let Some(expected) = expected {
        if !http::auth_matches(head.auth.as_deref(), expected) {
            let challenge = "Proxy-Authenticate: Basic realm=\"wiretun\"\r\n";
            client.write_all(&http::response(
                407,
                "Proxy Authentication Required",
                challenge,
            ))?;
            return Err(io::Error::other("proxy authentication missing or wrong"));
        }
    }
    let host = match head.host.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(head.host.clone()),
    };
    let what = format!("http {}:{}", head.host, head.port);
    let conn = match dial(opts, &host, head.port) {
        Ok(c) => c,
        Err(e) => {
            let (code, reason) = match e.kind() {
                io::ErrorKind::TimedOut => (504, "Gateway Timeout"),
                _ => (502, "Bad Gateway"),
            };
            client.write_all(&http::response(code, reason, ""))?;
            return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
        }
    };
    if head.connect {
        client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
        relay(conn, client, &buf, what)
    } else {
        let mut prefix = head.forward;
        prefix.extend_from_slice(&buf);
        relay(conn, client, &prefix, what)
    }
}

/// `-R`: a listening port of the stack whose connections go to an address on the host. Dropping it stops
/// listening.
pub struct Reverse {
    _listener: Listener,
}

impl Reverse {
    /// Listens on the stack's `port` (all its addresses) and connects each client to `target` on the host.
    pub fn start(opts: &Options, port: u16, target: String) -> io::Result<Reverse> {
        let timeout = opts.connect_timeout;
        let local = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
        let listener = opts.stack.listen_tcp_with(local, move |conn: TcpConn| {
            let target = target.clone();
            let _ = std::thread::Builder::new()
                .name("proxy reverse".into())
                .spawn(move || {
                    if let Err(e) = reverse_one(conn, &target, timeout) {
                        log::info!("-R to {target}: {e}");
                    }
                });
        })?;
        Ok(Reverse {
            _listener: listener,
        })
    }
}

fn reverse_one(conn: TcpConn, target: &str, timeout: std::time::Duration) -> io::Result<()> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{target}: no addresses"));
    for addr in target.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return relay(conn, s, &[], format!("reverse to {target}"));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}
