//! Dialing a target through the stack and handing the client over to the stack's splice.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};

use wiretun_netstack::{OsStream, TcpConn};

use crate::socks5::Host;
use crate::Options;

/// Dials `host:port` through the stack, trying each address a name resolves to in turn.
pub(crate) fn dial(opts: &Options, host: &Host, port: u16) -> io::Result<TcpConn> {
    let addrs = match host {
        Host::Ip(ip) => vec![*ip],
        Host::Name(name) => resolve(opts, name)?,
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    for ip in addrs {
        match opts
            .stack
            .dial_tcp_timeout(SocketAddr::new(ip, port), opts.connect_timeout)
            .wait()
        {
            Ok(conn) => return Ok(conn),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A name (or an IP literal, maybe in brackets) through the tunnel's DNS; never empty on success.
pub(crate) fn resolve(opts: &Options, name: &str) -> io::Result<Vec<IpAddr>> {
    let literal = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let Some(resolver) = &opts.resolver else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "cannot resolve {name}: the tunnel has no DNS servers (set DNS = in [Interface])"
            ),
        ));
    };
    let mut addrs = resolver.resolve(name)?;
    addrs.retain(|ip| opts.strategy.allows(ip));
    if addrs.is_empty() {
        let only = match opts.strategy {
            crate::Strategy::Auto => "",
            crate::Strategy::Ipv4 => " IPv4 (ResolveStrategy = ipv4)",
            crate::Strategy::Ipv6 => " IPv6 (ResolveStrategy = ipv6)",
        };
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{name}: no{only} addresses"),
        ));
    }
    Ok(addrs)
}

/// Splices `client` to `conn`, sending `prefix` (a rewritten request head, bytes the client sent ahead of
/// the reply) first. With no prefix the stack splices the client socket itself; with one, the stack splices
/// a socketpair and two threads copy, which only plain-HTTP requests and eager clients need.
pub(crate) fn relay(
    conn: TcpConn,
    client: TcpStream,
    prefix: &[u8],
    what: String,
) -> io::Result<()> {
    client.set_read_timeout(None)?;
    let done = move |end: wiretun_netstack::SpliceEnd| {
        log::debug!(
            "{what}: closed ({} bytes up, {} down, {:?})",
            end.to_stack,
            end.to_os,
            end.result
        );
    };
    if prefix.is_empty() {
        conn.splice(client, done);
        return Ok(());
    }
    match conn.splice_pair(done)? {
        OsStream::Tcp(s) => pump(s, client, prefix),
        #[cfg(unix)]
        OsStream::Unix(s) => pump(s, client, prefix),
    }
}

/// A stream socket that can be duplicated and half-closed (both ends of an [`OsStream`]).
pub(crate) trait Duplex: Read + Write + Send + Sized + 'static {
    fn dup(&self) -> io::Result<Self>;
    fn close_write(&self);
}

impl Duplex for TcpStream {
    fn dup(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn close_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

#[cfg(unix)]
impl Duplex for std::os::unix::net::UnixStream {
    fn dup(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn close_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

fn pump<S: Duplex>(mut stack: S, client: TcpStream, prefix: &[u8]) -> io::Result<()> {
    stack.write_all(prefix)?;
    let (stack_r, client_w) = (stack.dup()?, client.try_clone()?);
    std::thread::spawn(move || copy(stack_r, client_w));
    std::thread::spawn(move || copy(client, stack));
    Ok(())
}

fn copy<R: Duplex, W: Duplex>(mut from: R, mut to: W) {
    let _ = io::copy(&mut from, &mut to);
    to.close_write();
}
