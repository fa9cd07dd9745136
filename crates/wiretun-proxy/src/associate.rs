//! SOCKS5 UDP ASSOCIATE (RFC 1928 section 7): a host UDP port for one client whose datagrams, each with a
//! SOCKS header naming its destination, go through the tunnel; replies come back with the header naming their
//! source. The association lives as long as its TCP control connection. Only datagrams from the client's IP
//! (the control connection's peer) are taken, and from one port of it: the one the request named, or else the
//! first one heard from. Fragments (FRAG not 0) and bad headers are dropped, as the RFC allows.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::socks5::{self, reply, Host, Request};
use crate::Options;

/// Associations at once in this process (a thread and two sockets each); more are refused with reply 0x01.
pub const MAX_ASSOCIATIONS: usize = 512;
/// How often the relay thread looks at the control connection: the association ends this long after it.
const POLL: Duration = Duration::from_millis(200);
/// Resolved destination names kept per association (a DNS question per datagram would be slow), and how long.
const NAMES: usize = 64;
const NAME_TTL: Duration = Duration::from_secs(60);

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

struct Active;

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers an authenticated UDP ASSOCIATE on `client` and starts relaying on a thread of its own.
pub(crate) fn associate(opts: &Options, mut client: TcpStream, req: &Request) -> io::Result<()> {
    use std::io::Write;
    let fail = |client: &mut TcpStream, e: io::Error| {
        let _ = client.write_all(&socks5::encode_reply(reply::GENERAL_FAILURE, None));
        Err(io::Error::new(e.kind(), format!("UDP ASSOCIATE: {e}")))
    };
    if ACTIVE.fetch_add(1, Ordering::SeqCst) >= MAX_ASSOCIATIONS {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
        return fail(&mut client, io::Error::other("too many associations"));
    }
    let active = Active;
    let (local, peer) = (client.local_addr()?, client.peer_addr()?);
    // The relay port is on the address the client reached us at, so it can reach that too.
    let sock = match UdpSocket::bind(SocketAddr::new(local.ip().to_canonical(), 0)) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(&mut client, e),
    };
    // The request's address is where the client will send from; its IP must be the control connection's
    // anyway, so only a port it names counts.
    let fixed = (req.port != 0).then(|| SocketAddr::new(peer.ip().to_canonical(), req.port));
    let source = Arc::new(Mutex::new(fixed));
    let (back, to) = (sock.clone(), source.clone());
    let unspecified = SocketAddr::from(([0u16; 8], 0));
    let stack_sock = opts.stack.bind_udp_with(unspecified, move |d| {
        let Some(client) = *to.lock().expect("not poisoned") else {
            return;
        };
        let mut out = socks5::encode_udp_header(d.from);
        out.extend_from_slice(&d.data);
        if let Err(e) = back.send_to(&out, client) {
            log::debug!("socks5 udp: {} -> {client}: {e}", d.from);
        }
    });
    let stack_sock = match stack_sock {
        Ok(s) => s,
        Err(e) => return fail(&mut client, e),
    };
    let bound = sock.local_addr()?;
    client.write_all(&socks5::encode_reply(reply::SUCCEEDED, Some(bound)))?;
    let relay = Relay {
        opts: opts.clone(),
        client_ip: peer.ip().to_canonical(),
        source,
        names: HashMap::new(),
    };
    std::thread::Builder::new()
        .name(format!("socks5 udp {bound}"))
        .spawn(move || {
            let _active = active;
            relay.run(client, &sock, &stack_sock);
            log::debug!("socks5 udp {bound}: association with {peer} ended");
        })?;
    Ok(())
}

struct Relay {
    opts: Options,
    client_ip: IpAddr,
    /// The client's UDP address once known; replies go there.
    source: Arc<Mutex<Option<SocketAddr>>>,
    names: HashMap<String, (IpAddr, Instant)>,
}

impl Relay {
    fn run(
        mut self,
        mut control: TcpStream,
        sock: &UdpSocket,
        stack: &wiretun_netstack::UdpSocket,
    ) {
        if control.set_nonblocking(true).is_err() || sock.set_read_timeout(Some(POLL)).is_err() {
            return;
        }
        let mut buf = vec![0u8; 65536];
        while !closed(&mut control) {
            let (n, from) = match crate::udp::recv(sock, &mut buf) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    log::info!("socks5 udp: {e}");
                    return;
                }
            };
            if let Some((data, dst)) = self.take(&buf[..n], from) {
                if let Err(e) = stack.send_to(data, dst) {
                    log::debug!("socks5 udp: {from} -> {dst}: {e}");
                }
            }
        }
    }

    /// The payload and its destination, or `None` for a datagram to drop.
    fn take<'a>(&mut self, dgram: &'a [u8], from: SocketAddr) -> Option<(&'a [u8], SocketAddr)> {
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        if from.ip() != self.client_ip {
            return None;
        }
        {
            let mut source = self.source.lock().expect("not poisoned");
            match *source {
                Some(s) if s != from => return None,
                Some(_) => {}
                None => *source = Some(from),
            }
        }
        let h = match socks5::parse_udp_header(dgram) {
            Ok(h) if h.frag == 0 => h,
            Ok(_) => return None,
            Err(e) => {
                log::debug!("socks5 udp: {from}: {e}");
                return None;
            }
        };
        let ip = match &h.host {
            Host::Ip(ip) => ip.to_canonical(),
            Host::Name(name) => self.resolve(name)?,
        };
        Some((&dgram[h.data_at..], SocketAddr::new(ip, h.port)))
    }

    /// A destination name through the tunnel's DNS (never the host's), cached for a while.
    fn resolve(&mut self, name: &str) -> Option<IpAddr> {
        let now = Instant::now();
        if let Some((ip, at)) = self.names.get(name) {
            if now.duration_since(*at) < NAME_TTL {
                return Some(*ip);
            }
        }
        let ip = match crate::relay::resolve(&self.opts, name) {
            Ok(addrs) => addrs[0],
            Err(e) => {
                log::info!("socks5 udp: {name}: {e}");
                return None;
            }
        };
        if self.names.len() >= NAMES {
            self.names.clear();
        }
        self.names.insert(name.to_string(), (ip, now));
        Some(ip)
    }
}

/// Whether the client closed the control connection (bytes it sends there mean nothing and are dropped).
fn closed(control: &mut TcpStream) -> bool {
    let mut b = [0u8; 512];
    match control.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    }
}
