//! The socket over a temporary directory with the fake device: framing, replies in order, refusals that
//! change nothing, the socket's mode, stale and live sockets, close with clients connected.

use super::fake::{peer, Fake};
use crate::uapi::{format_get, DeviceState, Server};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const K2: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wtuapi-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn sock(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}.sock"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(dir: &TempDir) -> (Arc<Fake>, Server) {
    let fake = Arc::new(Fake::new());
    let server = Server::start(dir.sock("wt0"), fake.clone()).unwrap();
    (fake, server)
}

/// Sends `text` in pieces and reads until `replies` errno lines have arrived or the server closes.
fn converse_in(path: &Path, pieces: &[&str], replies: usize) -> String {
    let mut c = UnixStream::connect(path).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for p in pieces {
        c.write_all(p.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let text = String::from_utf8_lossy(&got);
        if text.matches("errno=").count() == replies && text.ends_with("\n\n") {
            break;
        }
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no reply within 10 s ({e}); got {text:?}"),
        }
    }
    String::from_utf8(got).unwrap()
}

fn converse(path: &Path, text: &str, replies: usize) -> String {
    converse_in(path, &[text], replies)
}

#[test]
fn answers_several_requests_on_one_connection_in_order_each_with_its_errno() {
    let dir = TempDir::new();
    let (fake, server) = start(&dir);
    let reply = converse(
        server.path(),
        "get=1\n\nset=1\nlisten_port=5\n\nset=1\nlisten_port=1\n\nset=1\nlisten_port=3\n\nget=1\n\n",
        5,
    );
    assert_eq!(reply, "listen_port=1234\nerrno=0\n\nerrno=0\n\nerrno=-98\n\nerrno=-55\n\nlisten_port=5\nerrno=0\n\n");
    assert_eq!(
        fake.messages(),
        [
            "set: UAPI set: listen port 5",
            "error: UAPI set=1: binding UDP port 1: in use",
            "error: UAPI set=1: odd",
        ]
    );
}

#[test]
fn handles_requests_split_across_writes_and_several_in_one_write() {
    let dir = TempDir::new();
    let (_fake, server) = start(&dir);
    let reply = converse_in(
        server.path(),
        &["se", "t=1\nlisten", "_port=9\n", "\nget=1", "\n\n"],
        2,
    );
    assert_eq!(reply, "errno=0\n\nlisten_port=9\nerrno=0\n\n");
}

#[test]
fn applies_nothing_from_a_malformed_set_and_keeps_serving_the_connection() {
    let dir = TempDir::new();
    let (fake, server) = start(&dir);
    let bad = [
        "set=1\nlisten_port=7\npublic_key=zz\n\n".to_string(),
        format!("set=1\nlisten_port=7\npublic_key={K2}\nallowed_ip=10.0.0.0/33\n\n"),
        "set=1\nlisten_port=7\nbogus=1\n\n".into(),
        "set=1\nlisten_port=7\nno-equals\n\n".into(),
    ];
    let reply = converse(server.path(), &format!("{}get=1\n\n", bad.concat()), 5);
    assert_eq!(
        reply,
        "errno=-22\n\nerrno=-22\n\nerrno=-22\n\nerrno=-71\n\nlisten_port=1234\nerrno=0\n\n"
    );
    assert!(fake.calls().is_empty());
    assert_eq!(fake.messages().len(), 4);
}

#[test]
fn applies_nothing_when_the_connection_ends_before_the_blank_line() {
    let dir = TempDir::new();
    let (fake, server) = start(&dir);
    let mut c = UnixStream::connect(server.path()).unwrap();
    c.write_all(b"set=1\nlisten_port=7\n").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = String::new();
    c.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "");
    assert!(fake.calls().is_empty());
}

#[test]
fn answers_einval_to_a_get_with_trailing_data_and_closes_on_an_unknown_operation() {
    let dir = TempDir::new();
    let (fake, server) = start(&dir);
    assert_eq!(
        converse(server.path(), "get=1\nx=1\n\n", 1),
        "errno=-22\n\n"
    );
    assert_eq!(converse(server.path(), "frobnicate=1\n\nget=1\n\n", 99), "");
    assert_eq!(converse(server.path(), "\nget=1\n\n", 99), "");
    assert_eq!(
        fake.messages(),
        [
            "error: UAPI get=1: trailing data after get=1",
            "error: UAPI: invalid operation \"frobnicate=1\"",
            "error: UAPI: invalid operation \"\"",
        ]
    );
}

#[test]
fn answers_what_was_sent_before_the_client_stopped_writing() {
    let dir = TempDir::new();
    let (_fake, server) = start(&dir);
    let mut c = UnixStream::connect(server.path()).unwrap();
    c.write_all(b"set=1\nlisten_port=8\n\nget=1\n\n").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "errno=0\n\nlisten_port=8\nerrno=0\n\n");
}

#[test]
fn cuts_off_a_client_sending_a_line_longer_than_a_mebibyte() {
    let dir = TempDir::new();
    let (fake, server) = start(&dir);
    let mut c = UnixStream::connect(server.path()).unwrap();
    let long = format!("set=1\nlisten_port={}", "1".repeat(3 << 20));
    // The server may close while we are still writing: that is the point.
    let _ = c.write_all(long.as_bytes());
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert!(fake.calls().is_empty());
}

#[test]
fn passes_a_parsed_update_with_every_field_to_the_device() {
    let dir = TempDir::new();
    let (fake, server) = start(&dir);
    let set =
        format!("set=1\nfwmark=3\nreplace_peers=true\npublic_key={K2}\nendpoint=1.2.3.4:5\n\n");
    assert_eq!(converse(server.path(), &set, 1), "errno=0\n\n");
    let calls = fake.calls();
    assert_eq!(calls[..2], ["set_fwmark(3)", "clear_peers"]);
    assert!(
        calls[2].starts_with("set_peer(bb, ") && calls[2].contains("endpoint: Some(1.2.3.4:5)")
    );
}

#[test]
fn writes_a_large_get_reply_in_pieces_identical_to_the_whole() {
    let dir = TempDir::new();
    let (fake, server) = start(&dir);
    for i in 0..3000u32 {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&(i + 1).to_be_bytes());
        let net = format!("10.{}.{}.0/24", i >> 8, i & 255);
        fake.peers.lock().push(peer(key, &[&net]));
    }
    let want = format_get(&DeviceState {
        private_key: None,
        listen_port: 1234,
        fwmark: 0,
        peers: fake.peers.lock().clone(),
    });
    assert!(want.len() > 500_000);
    assert_eq!(
        converse(server.path(), "get=1\n\n", 1),
        format!("{want}errno=0\n\n")
    );
}

#[test]
fn creates_a_root_only_socket_in_a_0755_directory() {
    let dir = TempDir::new();
    let sub = dir.0.join("run").join("wireguard");
    let old = unsafe { libc::umask(0o077) };
    let server = Server::start(sub.join("wt0.sock"), Arc::new(Fake::new()));
    unsafe { libc::umask(old) };
    let server = server.unwrap();
    assert_eq!(
        std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let meta = std::fs::symlink_metadata(server.path()).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o077, 0);
    // The process's own umask is back afterwards. Another test's server may hold 077 for the instant of
    // its bind (umask is per process and tests run in parallel), so wait that out, within a second.
    // Read from /proc, which does not set it as umask(2) does.
    let umask = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while umask() != 0o022 {
        assert!(
            std::time::Instant::now() < deadline,
            "umask left at {:o}",
            umask()
        );
        std::thread::yield_now();
    }
}

#[test]
fn refuses_a_socket_another_server_is_serving() {
    let dir = TempDir::new();
    let (_fake, _server) = start(&dir);
    let e = Server::start(dir.sock("wt0"), Arc::new(Fake::new()))
        .err()
        .unwrap();
    assert_eq!(e.code, "EADDRINUSE");
    assert!(e.message.contains("wt0 is in use"), "{}", e.message);
}

#[test]
fn replaces_a_stale_socket_and_a_regular_file_in_the_way() {
    let dir = TempDir::new();
    // A crashed daemon leaves its socket behind: bound, then never served.
    let stale = dir.sock("wt1");
    drop(UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let server = Server::start(&stale, Arc::new(Fake::new())).unwrap();
    assert_eq!(
        converse(server.path(), "get=1\n\n", 1),
        "listen_port=1234\nerrno=0\n\n"
    );
    std::fs::write(dir.sock("wt2"), "not a socket").unwrap();
    let server = Server::start(dir.sock("wt2"), Arc::new(Fake::new())).unwrap();
    assert!(std::fs::symlink_metadata(server.path())
        .unwrap()
        .file_type()
        .is_socket());
}

#[test]
fn removes_its_socket_on_close_even_with_a_client_connected_but_not_a_successor() {
    let dir = TempDir::new();
    let (_fake, mut server) = start(&dir);
    let mut idle = UnixStream::connect(server.path()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // One answered request first, so the connection is the server's and not still in the backlog.
    idle.write_all(b"get=1\n\n").unwrap();
    let mut reply = Vec::new();
    while !reply.ends_with(b"errno=0\n\n") {
        let mut buf = [0u8; 64];
        let n = idle.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the reply");
        reply.extend_from_slice(&buf[..n]);
    }
    server.close().unwrap();
    assert!(!server.path().exists());
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap(), 0);
    // Closing again changes nothing, and a socket someone else put there since is left alone.
    let other = UnixListener::bind(server.path()).unwrap();
    server.close().unwrap();
    assert!(server.path().exists());
    drop(other);
}

#[test]
fn runs_work_on_its_own_thread_until_closed() {
    let dir = TempDir::new();
    let (_fake, mut server) = start(&dir);
    let name = server.run_on_thread(|| std::thread::current().name().map(String::from));
    assert_eq!(name, Some(Some("wt-uapi".to_string())));
    server.close().unwrap();
    assert_eq!(server.run_on_thread(|| 1), None);
}
