//! wireproxy's `[SNI]`: TLS pass-through. The client's ClientHello names the host; the connection goes to
//! that name's port 443 through the tunnel (resolved by the tunnel's DNS, as SOCKS5 and HTTP names are) and
//! every byte, the hello included, is passed on as it came: TLS is not terminated, nothing is decrypted.
//! No name, a hello that is malformed or too large, or a name that does not resolve or answer: the client's
//! connection is closed, and the reason logged by the accept loop.

use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::relay::{dial, relay};
use crate::server::read_msg;
use crate::sni::{self, Parsed};
use crate::socks5::Host;
use crate::Options;

const HTTPS: u16 = 443;

pub(crate) fn serve(opts: &Options, mut client: TcpStream) -> io::Result<()> {
    let (name, taken) = hello(opts, &mut client)?;
    let what = format!("sni {name}:{HTTPS}");
    let conn = dial(opts, &Host::Name(name), HTTPS)
        .map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))?;
    relay(conn, client, &taken, what)
}

fn refused(e: sni::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("sni: {e}"))
}

/// The name the client's hello asks for, and the bytes taken off the socket to find it (they go on first).
/// A hello that has all arrived by the first look is only peeked at: nothing is taken, and the stack then
/// splices the client's socket itself with no copying thread. One still arriving (split over TCP segments)
/// is read, within the same handshake timeout.
fn hello(opts: &Options, client: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let started = Instant::now();
    client.set_read_timeout(Some(opts.handshake_timeout))?;
    let mut peeked = vec![0u8; sni::MAX_INPUT];
    let n = loop {
        match client.peek(&mut peeked) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "sni: no TLS ClientHello in time",
                ));
            }
            Err(e) => return Err(e),
        }
    };
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "sni: client closed before its TLS ClientHello",
        ));
    }
    match sni::parse(&peeked[..n]) {
        Ok(Parsed::Done(name)) => return Ok((name, Vec::new())),
        Ok(Parsed::Need) => {}
        Err(e) => return Err(refused(e)),
    }
    let left = opts.handshake_timeout.saturating_sub(started.elapsed());
    client.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
    let mut taken = Vec::new();
    let name = read_msg(client, &mut taken, sni::MAX_INPUT, |b| {
        sni::parse(b).map(|p| match p {
            Parsed::Need => None,
            // Nothing is consumed: the whole hello stays in `taken`, to be passed on.
            Parsed::Done(name) => Some((name, 0)),
        })
    })?
    .map_err(refused)?;
    Ok((name, taken))
}
