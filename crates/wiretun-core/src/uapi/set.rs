//! `set=1` requests: parsed line by line into a [`SetChange`] (every line validated before anything is
//! applied, so a bad request changes nothing), then applied in wireguard-go's order: private key, listen
//! port, fwmark, replace_peers, then each peer block in order.

use super::values::{self, invalid, shown, Parsed, UapiError, EPROTO};
use super::UapiDevice;
use crate::keys::Key;
use crate::PeerUpdate;
use ipnet::IpNet;
use std::fmt;
use std::net::SocketAddr;

const ZERO_KEY: Key = [0; 32];

/// One peer block. Its allowed IPs live in the change's shared list (`ips`), so a request of 100,000 peers
/// is two large allocations, not hundreds of thousands of small ones left scattered in the heap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerChange {
    pub public_key: Key,
    pub remove: bool,
    pub update_only: bool,
    /// `Some(None)` clears the preshared key (all zeros on the wire).
    pub preshared_key: Option<Option<Key>>,
    pub endpoint: Option<SocketAddr>,
    pub persistent_keepalive: Option<u16>,
    pub replace_allowed_ips: bool,
    ips: (u32, u32),
}

/// What a `set=1` request asks for. Absent fields leave that part as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetChange {
    /// `Some(None)` clears the private key.
    pub private_key: Option<Option<Key>>,
    pub listen_port: Option<u16>,
    pub fwmark: Option<u32>,
    pub replace_peers: bool,
    pub peers: Vec<PeerChange>,
    /// Every peer's `allowed_ip` lines in order; `true` marks `allowed_ip=-CIDR` (a removal).
    ips: Vec<(IpNet, bool)>,
}

impl SetChange {
    /// A peer's prefixes to add and to remove, in request order.
    pub fn allowed_ips(&self, peer: &PeerChange) -> (Vec<IpNet>, Vec<IpNet>) {
        let own = &self.ips[peer.ips.0 as usize..peer.ips.1 as usize];
        let pick = |removal: bool| {
            own.iter()
                .filter(|(_, r)| *r == removal)
                .map(|(n, _)| *n)
                .collect()
        };
        (pick(false), pick(true))
    }

    fn peer_update(&self, p: &PeerChange) -> PeerUpdate {
        let (allowed_ips, remove_allowed_ips) = self.allowed_ips(p);
        PeerUpdate {
            update_only: p.update_only,
            // The device takes all zeros for "no preshared key".
            preshared_key: p.preshared_key.map(|k| k.unwrap_or(ZERO_KEY)),
            endpoint: p.endpoint,
            persistent_keepalive: p.persistent_keepalive,
            replace_allowed_ips: p.replace_allowed_ips,
            allowed_ips,
            remove_allowed_ips,
        }
    }
}

/// Reads the `key=value` lines of one set request, one at a time, keeping the first error. Device keys come
/// first; each `public_key` starts a peer block, after which only peer keys are valid (as in wireguard-go).
#[derive(Default)]
pub struct SetParser {
    change: SetChange,
    error: Option<UapiError>,
    lines: usize,
}

impl SetParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Lines read so far.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Reads one line (without its newline). After an error the rest of the request is only counted.
    pub fn line(&mut self, line: &str) {
        self.lines += 1;
        if self.error.is_none() {
            if let Err(e) = self.read(line) {
                self.error = Some(e);
                // Nothing of a refused request is ever applied: let its memory go now.
                self.change = SetChange::default();
            }
        }
    }

    pub fn finish(self) -> Result<SetChange, UapiError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.change),
        }
    }

    fn read(&mut self, line: &str) -> Parsed<()> {
        // No `=` is a framing error (EPROTO); `=value` is an empty, hence unknown, key (EINVAL), as in
        // wireguard-go.
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| UapiError::new(EPROTO, format!("malformed line {}", shown(line, 80))))?;
        let c = &mut self.change;
        if key == "public_key" {
            let at = c.ips.len() as u32;
            c.peers.push(PeerChange {
                public_key: values::hex_key(key, value)?,
                remove: false,
                update_only: false,
                preshared_key: None,
                endpoint: None,
                persistent_keepalive: None,
                replace_allowed_ips: false,
                ips: (at, at),
            });
            return Ok(());
        }
        match c.peers.last_mut() {
            Some(p) => peer_key(p, &mut c.ips, key, value),
            None => device_key(c, key, value),
        }
    }
}

fn cleared(k: Key) -> Option<Key> {
    (k != ZERO_KEY).then_some(k)
}

fn device_key(c: &mut SetChange, key: &str, value: &str) -> Parsed<()> {
    match key {
        "private_key" => c.private_key = Some(cleared(values::hex_key(key, value)?)),
        "listen_port" => c.listen_port = Some(values::uint(key, value, 0xffff)? as u16),
        "fwmark" => c.fwmark = Some(values::uint(key, value, 0xffff_ffff)? as u32),
        "replace_peers" => c.replace_peers = values::flag(key, value).map(|_| true)?,
        _ => return Err(invalid(format!("unknown device key {}", shown(key, 40)))),
    }
    Ok(())
}

fn peer_key(
    p: &mut PeerChange,
    ips: &mut Vec<(IpNet, bool)>,
    key: &str,
    value: &str,
) -> Parsed<()> {
    match key {
        "remove" => p.remove = values::flag(key, value).map(|_| true)?,
        "update_only" => p.update_only = values::flag(key, value).map(|_| true)?,
        "preshared_key" => p.preshared_key = Some(cleared(values::hex_key(key, value)?)),
        "endpoint" => p.endpoint = Some(values::endpoint(value)?),
        "persistent_keepalive_interval" => {
            p.persistent_keepalive = Some(values::uint(key, value, 0xffff)? as u16)
        }
        "replace_allowed_ips" => p.replace_allowed_ips = values::flag(key, value).map(|_| true)?,
        "allowed_ip" => {
            let entry = match value.strip_prefix('-') {
                Some(net) => (values::allowed_ip(net)?, true),
                None => (values::allowed_ip(value)?, false),
            };
            ips.push(entry);
            p.ips.1 = ips.len() as u32;
        }
        "protocol_version" if value == "1" => {}
        "protocol_version" => return Err(invalid("protocol_version: only 1 is supported")),
        _ => return Err(invalid(format!("unknown peer key {}", shown(key, 40)))),
    }
    Ok(())
}

/// Parses a whole set request, `set=1\n` + lines + `\n`, refusing anything not framed exactly so (what the
/// tests and the fuzzer call; the server feeds [`SetParser`] line by line as the bytes arrive).
pub fn parse_set_request(text: &str) -> Result<SetChange, UapiError> {
    let framing = |m: &str| UapiError::new(EPROTO, m);
    let body = text
        .strip_prefix("set=1\n")
        .ok_or_else(|| framing("a set request starts with set=1"))?;
    let body = body
        .strip_suffix('\n')
        .filter(|b| b.is_empty() || b.ends_with('\n'))
        .ok_or_else(|| framing("a request ends with a blank line"))?;
    if body.split_terminator('\n').any(str::is_empty) {
        return Err(framing("a blank line inside a set request"));
    }
    let mut parser = SetParser::new();
    body.split_terminator('\n')
        .for_each(|line| parser.line(line));
    parser.finish()
}

/// Applies a parsed change. A device failure (a busy port) stops it where it happened, as in wireguard-go.
/// Peer keys of low order are accepted, as the kernel and wireguard-go accept them (the device keeps such a
/// peer silent).
pub fn apply(dev: &dyn UapiDevice, c: &SetChange) -> Result<(), UapiError> {
    if let Some(k) = c.private_key {
        dev.set_private_key(k);
    }
    if let Some(port) = c.listen_port {
        dev.set_listen_port(port)?;
    }
    if let Some(mark) = c.fwmark {
        dev.set_fwmark(mark)?;
    }
    if c.replace_peers {
        dev.clear_peers();
    }
    for p in &c.peers {
        if p.remove {
            dev.remove_peer(&p.public_key);
        } else {
            dev.set_peer(p.public_key, c.peer_update(p))?;
        }
    }
    Ok(())
}

/// One line saying what a set changed, for the daemon's verbose log: fields and counts, never values (a key
/// must not reach a log, and the rest is what `wg show` is for).
pub fn summary(c: &SetChange) -> String {
    let mut parts: Vec<String> = Vec::new();
    match c.private_key {
        Some(Some(_)) => parts.push("private key".into()),
        Some(None) => parts.push("private key cleared".into()),
        None => {}
    }
    if let Some(port) = c.listen_port {
        parts.push(format!("listen port {port}"));
    }
    if let Some(mark) = c.fwmark {
        parts.push(format!("fwmark {mark}"));
    }
    if c.replace_peers {
        parts.push("replace peers".into());
    }
    let removed = c.peers.iter().filter(|p| p.remove).count();
    if c.peers.len() > removed {
        parts.push(format!("{} peer(s) set", c.peers.len() - removed));
    }
    if removed > 0 {
        parts.push(format!("{removed} peer(s) removed"));
    }
    if parts.is_empty() {
        return "UAPI set: nothing".into();
    }
    format!("UAPI set: {}", parts.join(", "))
}

/// The change written back as set lines in wireguard-tools' order, each value in its one canonical spelling
/// (what TypeScript's formatSet writes for the same change), nothing after `remove=true`. The property tests
/// and the fuzzer check that an accepted request reads back the same through it.
impl fmt::Display for SetChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |k: &Option<Key>| {
            let mut s = String::new();
            values::write_hex(&mut s, &k.unwrap_or(ZERO_KEY));
            s
        };
        if let Some(k) = &self.private_key {
            writeln!(f, "private_key={}", hex(k))?;
        }
        if let Some(port) = self.listen_port {
            writeln!(f, "listen_port={port}")?;
        }
        if let Some(mark) = self.fwmark {
            writeln!(f, "fwmark={mark}")?;
        }
        if self.replace_peers {
            writeln!(f, "replace_peers=true")?;
        }
        for p in &self.peers {
            writeln!(f, "public_key={}", hex(&Some(p.public_key)))?;
            if p.remove {
                writeln!(f, "remove=true")?;
                continue;
            }
            if p.update_only {
                writeln!(f, "update_only=true")?;
            }
            if let Some(k) = &p.preshared_key {
                writeln!(f, "preshared_key={}", hex(k))?;
            }
            if let Some(e) = &p.endpoint {
                writeln!(f, "endpoint={}", values::fmt_endpoint(e))?;
            }
            if let Some(k) = p.persistent_keepalive {
                writeln!(f, "persistent_keepalive_interval={k}")?;
            }
            if p.replace_allowed_ips {
                writeln!(f, "replace_allowed_ips=true")?;
            }
            let (add, remove) = self.allowed_ips(p);
            for n in &add {
                writeln!(f, "allowed_ip={}", values::fmt_net(n))?;
            }
            for n in &remove {
                writeln!(f, "allowed_ip=-{}", values::fmt_net(n))?;
            }
        }
        Ok(())
    }
}
