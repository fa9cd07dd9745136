//! The UAPI under arbitrary input: the set parser (target `uapi`) and the socket server with a stand-in
//! device (target `uapi-server`).
//!
//! - The parser returns a change or an error with a negative errno whose message never holds the value of a
//!   `private_key=` or `preshared_key=` line; an accepted request, written back in canonical form, parses
//!   again to that same form.
//! - The server answers any byte stream with well-formed replies (`key=value` lines, then `errno=N` and a
//!   blank line) or closes the connection, within a few seconds, and keeps serving.

use crate::keys::Key;
use crate::uapi::{parse_set_request, Server, UapiDevice};
use crate::{Event, PeerInfo, PeerUpdate, Result};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_set_request(&text) {
        Ok(change) => {
            let canonical = change.to_string();
            let again = parse_set_request(&format!("set=1\n{canonical}\n")).unwrap_or_else(|e| {
                panic!("the canonical form of an accepted request is refused: {e}")
            });
            assert_eq!(
                again.to_string(),
                canonical,
                "the canonical form is not stable"
            );
        }
        Err(e) => {
            assert!(e.errno < 0, "errno {} is not negative", e.errno);
            for secret in secrets(&text) {
                assert!(
                    !e.message.contains(secret),
                    "a key value in the message: {}",
                    e.message
                );
            }
        }
    }
}

/// Key-like values (16 or more hex/base64 characters) of key lines that appear nowhere else in the input (a
/// message may quote a line the user pasted a key into; that line is not a key field). Other text in a key
/// line is no secret, and may well be words of our own messages (" set request starts with set").
fn secrets(text: &str) -> Vec<&str> {
    let is_key = |l: &&str| l.starts_with("private_key=") || l.starts_with("preshared_key=");
    let keyish = |v: &&str| {
        v.len() >= 16
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(&c))
    };
    let rest: Vec<&str> = text.split('\n').filter(|l| !is_key(l)).collect();
    text.split('\n')
        .filter(is_key)
        .filter_map(|l| l.split_once('=').map(|(_, v)| v))
        .filter(keyish)
        .filter(|v| !rest.iter().any(|l| l.contains(v)))
        .collect()
}

/// Accepts everything, changes nothing, reports one peer.
struct StandIn;

impl UapiDevice for StandIn {
    fn private_key(&self) -> Option<Key> {
        Some([7; 32])
    }
    fn listen_port(&self) -> u16 {
        51820
    }
    fn fwmark(&self) -> u32 {
        0
    }
    fn peers(&self) -> Vec<PeerInfo> {
        vec![PeerInfo {
            public_key: [9; 32],
            preshared_key: None,
            endpoint: Some("192.0.2.1:51820".parse().unwrap()),
            last_handshake: None,
            rx_bytes: 2,
            tx_bytes: 1,
            persistent_keepalive: 0,
            allowed_ips: vec!["10.0.0.0/24".parse().unwrap()],
        }]
    }
    fn set_private_key(&self, _key: Option<Key>) {}
    fn set_listen_port(&self, port: u16) -> Result<u16> {
        Ok(port)
    }
    fn set_fwmark(&self, _mark: u32) -> Result<()> {
        Ok(())
    }
    fn clear_peers(&self) {}
    fn remove_peer(&self, _key: &Key) -> bool {
        true
    }
    fn set_peer(&self, _key: Key, _update: PeerUpdate) -> Result<bool> {
        Ok(true)
    }
    fn report(&self, _event: Event) {}
}

fn server_path() -> &'static PathBuf {
    static SERVER: OnceLock<(Server, PathBuf)> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("wiretun-fuzz-{}", std::process::id()));
            let server =
                Server::start(dir.join("fz0.sock"), Arc::new(StandIn)).expect("UAPI server");
            let path = server.path().to_path_buf();
            (server, path)
        })
        .1
}

/// `(key=value\n)* errno=N\n\n`, repeated.
fn well_formed(reply: &str) -> bool {
    let mut lines = reply.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let Some((key, value)) = line.strip_suffix('\n').and_then(|l| l.split_once('=')) else {
            return false;
        };
        let key_ok = !key.is_empty() && key.bytes().all(|c| c.is_ascii_lowercase() || c == b'_');
        if !key_ok {
            return false;
        }
        if key == "errno" {
            let digits = value.strip_prefix('-').unwrap_or(value);
            if digits.is_empty()
                || !digits.bytes().all(|c| c.is_ascii_digit())
                || lines.next() != Some("\n")
            {
                return false;
            }
        }
    }
    reply.is_empty() || reply.ends_with("\n\n")
}

pub fn server(data: &[u8]) {
    let mut c = UnixStream::connect(server_path()).expect("the server stopped accepting");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server may close first (an unknown operation): what it said until then is checked.
    let _ = c
        .write_all(data)
        .and_then(|_| c.shutdown(std::net::Shutdown::Write));
    let mut reply = Vec::new();
    if let Err(e) = c.read_to_end(&mut reply) {
        assert!(
            e.kind() == std::io::ErrorKind::ConnectionReset,
            "no end of reply within 5 s: {e}"
        );
    }
    let reply = String::from_utf8(reply).expect("a reply that is not UTF-8");
    assert!(
        well_formed(&reply),
        "malformed reply {:?}",
        &reply[..reply.len().min(300)]
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUTS: [&str; 6] = [
        "set=1\nprivate_key=0707070707070707070707070707070707070707070707070707070707070707\nlisten_port=1\n\n",
        "set=1\nprivate_key=g707070707070707070707070707070707070707070707070707070707070707\n\n",
        "set=1\npublic_key=0909090909090909090909090909090909090909090909090909090909090909\nallowed_ip=-10.0.0.0/8\nendpoint=[::1.2.3.4]:9\n\n",
        "get=1\n\nget=1\nx\n\nset=1\nlisten_port=x\n\n",
        "frobnicate=1\n\nget=1\n\n",
        "\n",
    ];

    #[test]
    fn the_fuzz_properties_hold_on_hand_picked_inputs() {
        for input in INPUTS {
            run(input.as_bytes());
            server(input.as_bytes());
        }
    }

    // Found by `fuzz/run.sh 60 uapi`: words of one of our own messages in a key line were taken for a key.
    #[test]
    fn only_key_like_values_of_key_lines_count_as_secrets() {
        let input = "get=1\n\nprivate_key=aaaaaaaaaaaaaaaget=1\npreshared_key= set request starts with set\n";
        assert_eq!(secrets(input), ["aaaaaaaaaaaaaaaget=1"]);
        run(input.as_bytes());
        assert_eq!(
            secrets("set=1\nprivate_key=abcdefghijklmnop\n\n"),
            ["abcdefghijklmnop"]
        );
    }

    #[test]
    fn the_reply_check_refuses_what_it_must() {
        assert!(well_formed("listen_port=1\nerrno=0\n\nerrno=-22\n\n"));
        assert!(well_formed(""));
        for bad in [
            "errno=0\n",
            "errno=x\n\n",
            "Listen=1\nerrno=0\n\n",
            "errno=0\n\nx",
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }
}
