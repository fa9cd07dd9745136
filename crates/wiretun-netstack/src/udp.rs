//! UDP sockets of the stack: the handle users hold, and the stack thread's table of smoltcp sockets.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp;
use smoltcp::wire::IpListenEndpoint;

use crate::endpoints::Ports;
use crate::error;
use crate::shared::{Command, Shared};

/// Datagrams a socket's smoltcp buffers hold each way, and a channel-delivered socket queues for `recv_from`.
const QUEUED: usize = 256;

/// A received datagram.
#[derive(Debug)]
pub struct Datagram {
    /// The payload.
    pub data: Vec<u8>,
    /// The sender's address and port.
    pub from: SocketAddr,
}

/// A UDP socket of the stack. Dropping it closes it.
pub struct UdpSocket {
    shared: Arc<Shared>,
    id: usize,
    local: SocketAddr,
    rx: Option<mpsc::Receiver<Datagram>>,
    max_v6_payload: usize,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UdpSocket({})", self.local)
    }
}

impl UdpSocket {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: usize,
        local: SocketAddr,
        rx: Option<mpsc::Receiver<Datagram>>,
        mtu: usize,
    ) -> UdpSocket {
        UdpSocket {
            shared,
            id,
            local,
            rx,
            max_v6_payload: mtu - 48,
        }
    }

    /// The bound address (port 0 at bind time is replaced by the port chosen).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Queues one datagram. Fails at once for a destination without a route (`EHOSTUNREACH`) and for a
    /// datagram too large to send: IPv4 datagrams are fragmented up to 65,507 bytes; IPv6 ones must fit the
    /// MTU, as the stack does not fragment IPv6. Like any UDP send, success does not mean delivery: a full
    /// buffer drops it.
    pub fn send_to(&self, data: &[u8], dst: SocketAddr) -> io::Result<usize> {
        if dst.port() == 0 || dst.ip().is_unspecified() {
            return Err(error::invalid(format!(
                "send to {dst}: not an address and port"
            )));
        }
        let max = if dst.is_ipv4() {
            65507
        } else {
            self.max_v6_payload
        };
        if data.len() > max {
            return Err(error::invalid(format!(
                "send to {dst}: {} bytes, at most {max} (EMSGSIZE)",
                data.len()
            )));
        }
        if !self.shared.sink.has_route(dst.ip()) {
            return Err(error::no_route(dst.ip()));
        }
        self.shared.command(Command::UdpSend {
            id: self.id,
            dst,
            data: data.to_vec(),
        });
        Ok(data.len())
    }

    /// The next datagram, blocking; a datagram longer than `buf` is truncated, as with an OS socket. Only for
    /// sockets made by [`Stack::bind_udp`](crate::Stack::bind_udp).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let d = self.receiver()?.recv().map_err(|_| error::stopped())?;
        Ok(copy_out(d, buf))
    }

    /// Like [`recv_from`](Self::recv_from), giving up with `ETIMEDOUT` after `timeout`.
    pub fn recv_from_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> io::Result<(usize, SocketAddr)> {
        let d = self
            .receiver()?
            .recv_timeout(timeout)
            .map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => error::timed_out("recv"),
                mpsc::RecvTimeoutError::Disconnected => error::stopped(),
            })?;
        Ok(copy_out(d, buf))
    }

    fn receiver(&self) -> io::Result<&mpsc::Receiver<Datagram>> {
        self.rx
            .as_ref()
            .ok_or_else(|| error::invalid("this socket delivers to a callback"))
    }
}

fn copy_out(d: Datagram, buf: &mut [u8]) -> (usize, SocketAddr) {
    let n = d.data.len().min(buf.len());
    buf[..n].copy_from_slice(&d.data[..n]);
    (n, d.from)
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.shared.command(Command::UdpClose(self.id));
    }
}

/// A channel-backed delivery for [`UdpSocket::recv_from`]: drops datagrams when the reader falls behind.
pub(crate) fn channel() -> (Box<dyn FnMut(Datagram) + Send>, mpsc::Receiver<Datagram>) {
    let (tx, rx) = mpsc::sync_channel(QUEUED);
    (Box::new(move |d| drop(tx.try_send(d))), rx)
}

struct Entry {
    handle: SocketHandle,
    port: u16,
    deliver: Box<dyn FnMut(Datagram) + Send>,
}

pub(crate) struct UdpTable {
    socks: HashMap<usize, Entry>,
    /// Closed sockets whose queued datagrams have not gone out yet, with their ports (still taken): an OS
    /// socket sends what it queued before close, and `send(); close()` is a common pattern.
    closing: Vec<(SocketHandle, u16)>,
    ports: Ports,
    next_id: usize,
    buffer: usize,
}

impl UdpTable {
    pub fn new(buffer: usize, seed: u16) -> UdpTable {
        UdpTable {
            socks: HashMap::new(),
            closing: Vec::new(),
            ports: Ports::new(seed),
            next_id: 1,
            buffer,
        }
    }

    pub fn bind(
        &mut self,
        sockets: &mut SocketSet<'static>,
        local_ok: impl Fn(std::net::IpAddr) -> bool,
        local: SocketAddr,
        deliver: Box<dyn FnMut(Datagram) + Send>,
    ) -> io::Result<(usize, SocketAddr)> {
        let ip = (!local.ip().is_unspecified()).then_some(local.ip());
        if ip.is_some_and(|ip| !local_ok(ip)) {
            return Err(error::not_local(local));
        }
        // A port asked for again right after its socket closed is free at once, as with an OS socket.
        if let Some(i) = self.closing.iter().position(|(_, p)| *p == local.port()) {
            let (handle, port) = self.closing.swap_remove(i);
            sockets.remove(handle);
            self.ports.taken.remove(&port);
        }
        let port = if local.port() == 0 {
            self.ports.alloc()?
        } else {
            local.port()
        };
        if local.port() != 0 && !self.ports.taken.insert(port) {
            return Err(error::in_use(local));
        }
        let buf = || {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; QUEUED],
                vec![0u8; self.buffer],
            )
        };
        let mut sock = udp::Socket::new(buf(), buf());
        if let Err(e) = sock.bind(IpListenEndpoint {
            addr: ip.map(Into::into),
            port,
        }) {
            self.ports.taken.remove(&port);
            return Err(error::invalid(format!("bind {local}: {e}")));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.socks.insert(
            id,
            Entry {
                handle: sockets.add(sock),
                port,
                deliver,
            },
        );
        Ok((id, SocketAddr::new(local.ip(), port)))
    }

    /// Queues a datagram; a full send buffer drops it.
    pub fn send(
        &mut self,
        sockets: &mut SocketSet<'static>,
        id: usize,
        dst: SocketAddr,
        data: &[u8],
    ) {
        if let Some(e) = self.socks.get(&id) {
            let sock = sockets.get_mut::<udp::Socket>(e.handle);
            if let Err(err) = sock.send_slice(data, dst) {
                log::debug!("udp send to {dst} dropped: {err}");
            }
        }
    }

    /// Closes the socket; one with datagrams still queued lingers until they have been transmitted.
    pub fn close(&mut self, sockets: &mut SocketSet<'static>, id: usize) {
        if let Some(e) = self.socks.remove(&id) {
            if sockets.get::<udp::Socket>(e.handle).send_queue() > 0 {
                self.closing.push((e.handle, e.port));
            } else {
                sockets.remove(e.handle);
                self.ports.taken.remove(&e.port);
            }
        }
    }

    /// Hands every received datagram to its socket's delivery, and removes closed sockets that have
    /// nothing left to send.
    pub fn service(&mut self, sockets: &mut SocketSet<'static>) {
        let ports = &mut self.ports.taken;
        self.closing.retain(|(handle, port)| {
            let done = sockets.get::<udp::Socket>(*handle).send_queue() == 0;
            if done {
                sockets.remove(*handle);
                ports.remove(port);
            }
            !done
        });
        for e in self.socks.values_mut() {
            let sock = sockets.get_mut::<udp::Socket>(e.handle);
            while let Ok((data, meta)) = sock.recv() {
                let from = SocketAddr::new(meta.endpoint.addr.into(), meta.endpoint.port);
                (e.deliver)(Datagram {
                    data: data.to_vec(),
                    from,
                });
            }
        }
    }

    pub fn clear(&mut self, sockets: &mut SocketSet<'static>) {
        for (_, e) in self.socks.drain() {
            sockets.remove(e.handle);
        }
        for (handle, _) in self.closing.drain(..) {
            sockets.remove(handle);
        }
        self.ports.taken.clear();
    }
}
