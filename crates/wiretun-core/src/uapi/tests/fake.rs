//! A device that records what it is told and fails like the real one on chosen values.

use crate::keys::Key;
use crate::uapi::UapiDevice;
use crate::{Error, Event, PeerInfo, PeerUpdate, Result};
use parking_lot::Mutex;

/// Listen ports the fake refuses: 1 as busy (EADDRINUSE), 3 with an errno name nobody knows.
pub const BUSY_PORT: u16 = 1;
pub const ODD_PORT: u16 = 3;

#[derive(Default)]
pub struct Fake {
    /// Every configuration call, spelled as Debug output so tests compare them as text.
    pub calls: Mutex<Vec<String>>,
    pub events: Mutex<Vec<Event>>,
    pub port: Mutex<u16>,
    pub peers: Mutex<Vec<PeerInfo>>,
}

impl Fake {
    pub fn new() -> Self {
        let f = Fake::default();
        *f.port.lock() = 1234;
        f
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().clone()
    }

    fn record(&self, call: String) {
        self.calls.lock().push(call);
    }

    pub fn messages(&self) -> Vec<String> {
        self.events
            .lock()
            .iter()
            .map(|e| match e {
                Event::UapiError { message } => format!("error: {message}"),
                Event::UapiSet { summary } => format!("set: {summary}"),
                other => format!("{other:?}"),
            })
            .collect()
    }
}

pub fn peer(key: Key, allowed: &[&str]) -> PeerInfo {
    PeerInfo {
        public_key: key,
        preshared_key: None,
        endpoint: None,
        last_handshake: None,
        rx_bytes: 0,
        tx_bytes: 0,
        persistent_keepalive: 0,
        allowed_ips: allowed.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

impl UapiDevice for Fake {
    fn private_key(&self) -> Option<Key> {
        None
    }
    fn listen_port(&self) -> u16 {
        *self.port.lock()
    }
    fn fwmark(&self) -> u32 {
        0
    }
    fn peers(&self) -> Vec<PeerInfo> {
        self.peers.lock().clone()
    }
    fn set_private_key(&self, key: Option<Key>) {
        self.record(format!("set_private_key({:?})", key.map(|k| k[0])));
    }
    fn set_listen_port(&self, port: u16) -> Result<u16> {
        self.record(format!("set_listen_port({port})"));
        match port {
            BUSY_PORT => Err(Error::new("EADDRINUSE", "binding UDP port 1: in use")),
            ODD_PORT => Err(Error::new("EWHATEVER", "odd")),
            _ => {
                *self.port.lock() = port;
                Ok(port)
            }
        }
    }
    fn set_fwmark(&self, mark: u32) -> Result<()> {
        self.record(format!("set_fwmark({mark})"));
        Ok(())
    }
    fn clear_peers(&self) {
        self.record("clear_peers".into());
    }
    fn remove_peer(&self, key: &Key) -> bool {
        self.record(format!("remove_peer({:02x})", key[0]));
        true
    }
    fn set_peer(&self, key: Key, update: PeerUpdate) -> Result<bool> {
        self.record(format!("set_peer({:02x}, {update:?})", key[0]));
        Ok(true)
    }
    fn report(&self, event: Event) {
        self.events.lock().push(event);
    }
}
