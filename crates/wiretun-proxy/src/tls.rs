//! TLS in front of the HTTP proxy (wireproxy's `[http]` CertFile/KeyFile): the client speaks HTTPS to the
//! proxy, and behind the TLS termination the same proxy logic runs on the plaintext.
//!
//! After the handshake a loopback TCP pair stands between the TLS connection and the plain proxy code, so
//! that code (and the stack's splice) keeps taking an ordinary `TcpStream`; two threads move the bytes
//! across TLS, all in Rust. rustls's connection state is single-owner, so both threads share it under a
//! lock; the ciphertext is written under a second lock taken before the first is let go, which keeps TLS
//! records in order while the other direction goes on decrypting.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

/// A server config from a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1). The error
/// names the file and what is wrong with it; it never contains key material.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let cert_pem = read(cert_file)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate: {e:?}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", cert_file.display()));
    }
    let key_pem = read(key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| format!("{}: no PEM private key in it", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map(Arc::new)
        .map_err(|e| format!("{} and {}: {e}", cert_file.display(), key_file.display()))
}

/// Completes the TLS handshake with `client` (within `timeout`) and returns a plain stream carrying the
/// decrypted bytes both ways, with end of stream passed on in each direction.
pub(crate) fn accept(
    config: &Arc<ServerConfig>,
    mut client: TcpStream,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let mut conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
    client.set_write_timeout(Some(timeout))?;
    let until = std::time::Instant::now() + timeout;
    while conn.is_handshaking() {
        // The whole handshake is bounded, not each read: a client dripping bytes does not hold a slot.
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake: timed out",
            ));
        }
        client.set_read_timeout(Some(left))?;
        match conn.complete_io(&mut client) {
            Ok(_) => {}
            // A signal (a job-control stop, say) interrupts a read with a timeout, and Linux does not
            // restart it: that is no reason to drop the client (the deadline above still applies).
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("TLS handshake: {e}"))),
        }
    }
    client.set_read_timeout(None)?;
    client.set_write_timeout(None)?;
    let (ours, theirs) = loopback_pair()?;
    let shared = Arc::new(Tls {
        conn: Mutex::new(conn),
        out: Mutex::new(client.try_clone()?),
    });
    let (s2, ours2) = (shared.clone(), ours.try_clone()?);
    std::thread::Builder::new()
        .name("proxy tls in".into())
        .spawn(move || shared.inbound(client, ours))?;
    std::thread::Builder::new()
        .name("proxy tls out".into())
        .spawn(move || s2.outbound(ours2))?;
    Ok(theirs)
}

struct Tls {
    conn: Mutex<ServerConnection>,
    /// The client socket's write side; held from before `conn` is unlocked until the records are written.
    out: Mutex<TcpStream>,
}

impl Tls {
    /// Ciphertext from the client, plaintext to `plain`.
    fn inbound(&self, mut client: TcpStream, mut plain: TcpStream) {
        let mut raw = vec![0u8; 32 * 1024];
        let mut clear = Vec::new();
        let result = (|| -> io::Result<()> {
            // The handshake may have read the first request along with the client's Finished.
            let early = {
                let mut conn = self.conn.lock().unwrap();
                let state = conn.process_new_packets().map_err(io::Error::other)?;
                let mut early = vec![0u8; state.plaintext_bytes_to_read()];
                conn.reader().read_exact(&mut early)?;
                early
            };
            plain.write_all(&early)?;
            loop {
                let n = client.read(&mut raw)?;
                clear.clear();
                let (eof, out) = {
                    let mut conn = self.conn.lock().unwrap();
                    let mut rest = &raw[..n];
                    let mut closed = false;
                    // read_tls takes what fits its buffer: feed it until the chunk is used up (an empty
                    // chunk once, which tells it the end of the stream).
                    loop {
                        conn.read_tls(&mut rest)?;
                        let state = conn.process_new_packets().map_err(io::Error::other)?;
                        let start = clear.len();
                        clear.resize(start + state.plaintext_bytes_to_read(), 0);
                        conn.reader().read_exact(&mut clear[start..])?;
                        closed |= state.peer_has_closed();
                        if rest.is_empty() {
                            break;
                        }
                    }
                    (n == 0 || closed, self.take_tls(conn)?)
                };
                out.flush()?;
                plain.write_all(&clear)?;
                if eof {
                    return Ok(());
                }
            }
        })();
        if let Err(e) = result {
            log::info!("https client: {e}");
            let _ = client.shutdown(Shutdown::Both);
            let _ = plain.shutdown(Shutdown::Both);
            return;
        }
        let _ = plain.shutdown(Shutdown::Write);
    }

    /// Plaintext from `plain`, encrypted to the client; its end becomes a close_notify and a FIN.
    fn outbound(&self, mut plain: TcpStream) {
        let mut buf = vec![0u8; 16 * 1024];
        let result = (|| -> io::Result<()> {
            loop {
                let n = plain.read(&mut buf)?;
                let out = {
                    let mut conn = self.conn.lock().unwrap();
                    if n == 0 {
                        conn.send_close_notify();
                    } else {
                        conn.writer().write_all(&buf[..n])?;
                    }
                    self.take_tls(conn)?
                };
                out.flush()?;
                if n == 0 {
                    let _ = self.out.lock().unwrap().shutdown(Shutdown::Write);
                    return Ok(());
                }
            }
        })();
        if let Err(e) = result {
            log::info!("https client: {e}");
            let _ = self.out.lock().unwrap().shutdown(Shutdown::Both);
        }
    }

    /// Takes the records `conn` has ready; they are written by [`Pending::flush`] after `conn` is unlocked.
    /// With none, the write lock is not taken, so a direction blocked on a slow client does not stall the
    /// other one.
    fn take_tls(
        &self,
        mut conn: std::sync::MutexGuard<'_, ServerConnection>,
    ) -> io::Result<Pending<'_>> {
        let mut bytes = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut bytes)?;
        }
        if bytes.is_empty() {
            return Ok(Pending(None));
        }
        let out = self.out.lock().unwrap();
        drop(conn);
        Ok(Pending(Some((out, bytes))))
    }
}

struct Pending<'a>(Option<(std::sync::MutexGuard<'a, TcpStream>, Vec<u8>)>);

impl Pending<'_> {
    fn flush(self) -> io::Result<()> {
        match self.0 {
            Some((mut out, bytes)) => out.write_all(&bytes),
            None => Ok(()),
        }
    }
}

/// Two connected loopback TCP sockets. The listener takes only the connection from our own connecting
/// socket's address, so another local process that races to the port cannot take its place.
fn loopback_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let a = TcpStream::connect(listener.local_addr()?)?;
    let want = a.local_addr()?;
    loop {
        let (b, from) = listener.accept()?;
        if from == want {
            let _ = a.set_nodelay(true);
            let _ = b.set_nodelay(true);
            return Ok((a, b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("wiretun-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not pem\n").unwrap();
        let missing = dir.join("missing.pem");
        let e = server_config(&missing, &junk).err().unwrap();
        assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");
        let e = server_config(&junk, &junk).err().unwrap();
        assert!(e.contains("no PEM certificate"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
