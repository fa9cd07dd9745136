//! Listeners, local ports and connection ids: the bookkeeping a TCP table needs whichever TCP runs it
//! (smoltcp's, `tcp.rs`, or our own, `tcp2_table.rs`).

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::api::TcpConn;
use crate::error;

const EPHEMERAL: std::ops::RangeInclusive<u16> = 49152..=65535;

pub(crate) struct ListenerEntry {
    pub ip: Option<IpAddr>,
    pub port: u16,
    pub deliver: Box<dyn FnMut(TcpConn) + Send>,
    /// smoltcp only: the listening socket made for a SYN it has not taken yet.
    pub idle: Option<usize>,
    pub handshakes: usize,
}

/// Local ports of one protocol: those taken, and where the search for a free ephemeral one goes on.
pub(crate) struct Ports {
    pub taken: HashSet<u16>,
    next: u16,
}

impl Ports {
    pub fn new(seed: u16) -> Ports {
        Ports {
            taken: HashSet::new(),
            next: EPHEMERAL.start() + seed % 16384,
        }
    }

    /// A free ephemeral port, now taken.
    pub fn alloc(&mut self) -> io::Result<u16> {
        for _ in EPHEMERAL {
            let p = self.next;
            self.next = if p == *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                p + 1
            };
            if self.taken.insert(p) {
                return Ok(p);
            }
        }
        Err(error::no_ports())
    }
}

pub(crate) struct Endpoints {
    pub listeners: HashMap<usize, ListenerEntry>,
    pub ports: Ports,
    next_id: usize,
}

impl Endpoints {
    pub fn new(seed: u16) -> Endpoints {
        Endpoints {
            listeners: HashMap::new(),
            ports: Ports::new(seed),
            next_id: 1,
        }
    }

    /// A fresh id for a connection or listener.
    pub fn id(&mut self) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn alloc_port(&mut self) -> io::Result<u16> {
        self.ports.alloc()
    }

    /// Registers a listener; `local_ip` says whether an address is one of the stack's.
    pub fn listen(
        &mut self,
        local_ip: impl Fn(IpAddr) -> bool,
        local: SocketAddr,
        deliver: Box<dyn FnMut(TcpConn) + Send>,
    ) -> io::Result<(usize, SocketAddr)> {
        let ip = (!local.ip().is_unspecified()).then_some(local.ip());
        if ip.is_some_and(|ip| !local_ip(ip)) {
            return Err(error::not_local(local));
        }
        let port = if local.port() == 0 {
            self.alloc_port()?
        } else {
            local.port()
        };
        if local.port() != 0 && !self.ports.taken.insert(port) {
            return Err(error::in_use(local));
        }
        let id = self.id();
        self.listeners.insert(
            id,
            ListenerEntry {
                ip,
                port,
                deliver,
                idle: None,
                handshakes: 0,
            },
        );
        Ok((id, SocketAddr::new(local.ip(), port)))
    }

    /// Removes a listener and frees its port; false if there was none.
    pub fn unlisten(&mut self, id: usize) -> bool {
        let Some(l) = self.listeners.remove(&id) else {
            return false;
        };
        self.ports.taken.remove(&l.port);
        true
    }

    /// The listener a SYN to `dst` is for: one on its address before one on all addresses.
    pub fn listener_for(&mut self, dst: SocketAddr) -> Option<(usize, &mut ListenerEntry)> {
        self.listeners
            .iter_mut()
            .filter(|(_, l)| l.port == dst.port() && l.ip.is_none_or(|ip| ip == dst.ip()))
            .min_by_key(|(_, l)| l.ip.is_none())
            .map(|(&id, l)| (id, l))
    }
}
