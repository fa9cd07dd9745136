//! The wireproxy extras over two rootless devices in this process (WireGuard over 127.0.0.1 UDP): the HTTP
//! proxy behind TLS (a certificate openssl makes for the test), the stdio pump with its half-close, and
//! ResolveStrategy's family filter. Device B (10.0.0.2 / fd00::2) runs an echo server on its port 80.

use std::io::{self, Cursor, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use wiretun_netstack::OsStream;
use wiretun_proxy::socks5::Host;
use wiretun_proxy::{Options, Resolve, Server, Strategy};

mod common;

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

#[test]
fn stdio_pump_moves_both_ways_and_half_closes() {
    let (a, _b, _echo) = common::linked_with_echo("xstdio");
    let conn = a
        .stack()
        .dial_tcp_timeout("10.0.0.2:80".parse().unwrap(), Duration::from_secs(5))
        .wait()
        .unwrap();
    let sent = data(2 << 20);
    let mut out = Vec::new();
    // The input's end is a FIN; the echo server then closes, which ends the pump.
    let n = wiretun_proxy::stdio::pump(conn, Cursor::new(sent.clone()), &mut out).unwrap();
    assert_eq!(n as usize, sent.len());
    assert!(out == sent, "the echoed stream differs");
}

/// A self-signed certificate for 127.0.0.1, or None (the test says so) without openssl.
fn cert(dir: &std::path::Path) -> Option<(PathBuf, PathBuf)> {
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args([
            "-subj",
            "/CN=wiretun test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-days",
            "1",
        ])
        // An end-entity certificate: webpki refuses a CA one as the server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&k)
        .arg("-out")
        .arg(&c)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some((c, k))
}

#[test]
fn https_proxy_connect_through_tls() {
    let dir = std::env::temp_dir().join(format!("wiretun-https-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some((cert_file, key_file)) = cert(&dir) else {
        eprintln!("SKIPPED https_proxy_connect_through_tls: no openssl to make a certificate");
        return;
    };
    let (a, _b, _echo) = common::linked_with_echo("xhttps");
    let tls = wiretun_proxy::tls::server_config(&cert_file, &key_file).unwrap();
    let mut opts = Options::new(a.stack().clone());
    opts.connect_timeout = Duration::from_secs(5);
    let server = Server::https(opts, "127.0.0.1:0".parse().unwrap(), None, tls).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert_file).unwrap();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(server.local_addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    s.write_all(b"CONNECT 10.0.0.2:80 HTTP/1.1\r\nHost: 10.0.0.2:80\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    // Small enough to write all before reading: the echo fits in the buffers on the way.
    let sent = data(200_000);
    s.write_all(&sent).unwrap();
    let mut got = vec![0u8; sent.len()];
    s.read_exact(&mut got).unwrap();
    assert!(got == sent, "the echo through TLS differs");
    // A plaintext client gets no proxy: the TLS handshake fails and the connection closes.
    let mut plain = TcpStream::connect(server.local_addr()).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"CONNECT 10.0.0.2:80 HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let _ = plain.read_to_end(&mut reply);
    assert!(!reply.starts_with(b"HTTP/1.1 200"));
    std::fs::remove_dir_all(&dir).unwrap();
}

struct Both;

impl Resolve for Both {
    fn resolve(&self, _name: &str) -> io::Result<Vec<IpAddr>> {
        Ok(vec![
            "fd00::2".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
        ])
    }
}

#[test]
fn resolve_strategy_picks_the_family() {
    let (a, b, _echo) = common::linked_with_echo("xstrategy");
    // B's port 81 answers with the address the connection came from, which tells the family dialed.
    let _who = b
        .stack()
        .listen_tcp_with("[::]:81".parse().unwrap(), |conn| {
            let from = conn.peer_addr().ip().to_string();
            match conn.splice_pair(|_| {}).unwrap() {
                #[cfg(unix)]
                OsStream::Unix(mut s) => {
                    let _ = s.write_all(from.as_bytes());
                }
                OsStream::Tcp(mut s) => {
                    let _ = s.write_all(from.as_bytes());
                }
            }
        })
        .unwrap();
    for (strategy, want) in [
        (Strategy::Ipv4, "10.0.0.1"),
        (Strategy::Ipv6, "fd00::1"),
        (Strategy::Auto, "fd00::1"),
    ] {
        let mut opts = Options::new(a.stack().clone());
        opts.resolver = Some(Arc::new(Both));
        opts.strategy = strategy;
        let host = Host::Name("server.test".into());
        let server = Server::forward(opts, "127.0.0.1:0".parse().unwrap(), host, 81).unwrap();
        let mut s = TcpStream::connect(server.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert_eq!(got, want, "{strategy:?}");
    }
}
