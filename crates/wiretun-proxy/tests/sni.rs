//! The `[SNI]` pass-through over two rootless devices in this process (WireGuard over 127.0.0.1 UDP): a real
//! ClientHello (rustls's) names the host, the proxy dials its port 443 through the tunnel and every byte
//! comes back from B's echo server exactly as sent, the hello included. Connections without a usable name
//! are closed with nothing passed on, and the listener goes on serving.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use wiretun_proxy::{Options, Resolve, Server};

mod common;

/// The tunnel's DNS, as far as these tests go: one name.
struct Names;

impl Resolve for Names {
    fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        match name {
            "echo.test" => Ok(vec!["10.0.0.2".parse().unwrap()]),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name}: no such name"),
            )),
        }
    }
}

/// The first flight of a rustls client for `name` (None: SNI turned off).
fn client_hello(name: Option<&str>) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.enable_sni = name.is_some();
    let server =
        rustls::pki_types::ServerName::try_from(name.unwrap_or("no-sni.test").to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 253) as u8).collect()
}

fn start(a: &wiretun_rootless::Rootless) -> Server {
    let mut opts = Options::new(a.stack().clone());
    opts.resolver = Some(Arc::new(Names));
    opts.connect_timeout = Duration::from_secs(5);
    opts.handshake_timeout = Duration::from_secs(5);
    Server::sni(opts, "127.0.0.1:0".parse().unwrap()).unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Sends `pieces` (a pause between them, so they arrive as separate reads when they can), then `tail`, and
/// returns everything the far side echoed.
fn round_trip(addr: SocketAddr, pieces: &[&[u8]], tail: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        s.write_all(p).unwrap();
    }
    s.write_all(tail).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    got
}

/// What a refused client sees: the connection closed (or reset) with no byte from the far side.
fn closed_without_reply(addr: SocketAddr, input: &[u8]) {
    let mut s = connect(addr);
    let _ = s.write_all(input);
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => assert!(got.is_empty(), "got {} bytes", got.len()),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
    }
}

#[test]
fn passes_a_real_hello_and_everything_after_it_untouched() {
    let (a, b, _echo) = common::linked_with_echo("sni");
    let _echo443 = common::echo_on(&b, "[::]:443");
    let server = start(&a);
    let hello = client_hello(Some("Echo.Test"));
    let tail = data(1 << 20);
    let mut want = hello.clone();
    want.extend_from_slice(&tail);
    let got = round_trip(server.local_addr(), &[&hello], &tail);
    assert!(got == want, "{} bytes back of {}", got.len(), want.len());
    // The hello cut into three TCP sends: found once whole, and passed on from its first byte.
    let (one, rest) = hello.split_at(3);
    let (two, three) = rest.split_at(rest.len() / 2);
    let got = round_trip(server.local_addr(), &[one, two, three], &tail);
    assert!(
        got == want,
        "split: {} bytes back of {}",
        got.len(),
        want.len()
    );
}

#[test]
fn closes_connections_without_a_usable_name_and_keeps_serving() {
    let (a, b, _echo) = common::linked_with_echo("sni-bad");
    let _echo443 = common::echo_on(&b, "[::]:443");
    let server = start(&a);
    let addr = server.local_addr();
    closed_without_reply(addr, &client_hello(None));
    closed_without_reply(addr, &client_hello(Some("nowhere.test")));
    closed_without_reply(addr, b"GET / HTTP/1.1\r\nHost: echo.test\r\n\r\n");
    // Said to be 64 KiB: refused from its header, before any of it is waited for.
    closed_without_reply(addr, &[22, 3, 1, 0, 4, 1, 1, 0, 0]);
    // A hello cut short, then the client's half-close.
    let hello = client_hello(Some("echo.test"));
    let mut s = connect(addr);
    s.write_all(&hello[..hello.len() - 1]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.is_empty());
    // Still serving.
    assert_eq!(
        round_trip(addr, &[&hello], b"after"),
        [&hello[..], b"after"].concat()
    );
}

/// The fuzz target's seeds are hellos real clients sent (captured from curl, Node and OpenSSL): the parser
/// reads them as those clients meant.
#[test]
fn reads_the_hellos_of_real_clients() {
    use wiretun_proxy::sni::{parse, Error, Parsed};
    let seed = |name: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/sni");
        std::fs::read(dir.join(name)).unwrap()
    };
    let done = |name: &str| Ok(Parsed::Done(name.to_string()));
    assert_eq!(parse(&seed("curl")), done("service.example"));
    assert_eq!(parse(&seed("node")), done("node.example"));
    assert_eq!(parse(&seed("node-split-records")), done("node.example"));
    assert_eq!(parse(&seed("openssl-no-sni")), Err(Error::NoName));
}
