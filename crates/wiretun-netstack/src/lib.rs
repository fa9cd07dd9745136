//! A userspace TCP/IP stack for a tunnel with no TUN: the inner side of a rootless WireGuard device.
//!
//! A [`Stack`] is an IP endpoint with its own addresses. IP packets come in through [`Stack::inject`] (in
//! wiretun: decrypted packets from peers) and go out through a [`PacketSink`] (to be encrypted to peers). On
//! top it offers TCP dials and listeners, UDP sockets and ping, with TCP connections meant to be *spliced* to
//! OS stream sockets ([`TcpConn::splice`], [`TcpConn::splice_pair`]) so their bytes move in Rust and never
//! pass through the caller.
//!
//! The smoltcp interface and every socket sit behind one lock, taken by the stack's own thread and by a
//! thread that injects packets while the stack thread sleeps (it answers them itself); the handles here talk
//! to the stack through a queue and a waker. See README.md for the design, the buffer policy and what the
//! device must provide.

#![warn(missing_docs)]

mod api;
mod config;
mod conn;
mod device;
mod endpoints;
mod engine;
mod error;
mod icmp;
mod os;
mod pages;
mod peek;
mod reassembly;
mod recovery;
mod shared;
mod sink;
mod splice;
mod stack_socket;
mod stats;
mod tcp;
mod tcp2_table;
// The stack's own TCP connection core (issue 21), the default `StackConfig::tcp_engine`. Public for its script
// tests and fuzz target; its API is not a stable one.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod tcp2;
mod udp;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use api::{Listener, Pending, SpliceEnd, TcpConn};
pub use config::{StackConfig, TcpEngine, DEFAULT_MTU, DEFAULT_TCP_BUFFER};
pub use error::errno_name;
pub use os::{os_pair, LoopbackPair, OsStream};
pub use sink::{PacketSink, PACKET_TAILROOM};
pub use stats::StackStats;
pub use udp::{Datagram, UdpSocket};

use shared::{Command, Shared};

/// A running userspace IP stack. Its methods may be called from any thread except from inside a callback
/// the stack runs (a dial's or splice's completion, a listener's or UDP socket's delivery), where the
/// blocking ones would wait for the very thread they block. Callbacks run on the stack thread or on a
/// thread inside [`inject_batch`](Self::inject_batch), one at a time.
pub struct Stack {
    shared: Arc<Shared>,
    engine: Arc<Mutex<engine::Engine>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    connect_timeout: Duration,
    mtu: usize,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("mtu", &self.mtu)
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// Starts a stack thread with this configuration, emitting packets to `sink`.
    pub fn new(config: StackConfig, sink: Arc<dyn PacketSink>) -> io::Result<Stack> {
        config.validate()?;
        let shared = Arc::new(Shared::new(sink, config.inbound_queue)?);
        let engine = Arc::new(Mutex::new(engine::Engine::new(&config, shared.clone())));
        let (e, s) = (engine.clone(), shared.clone());
        let thread = std::thread::Builder::new()
            .name("wiretun-netstack".into())
            .spawn(move || engine::Engine::run(e, s))?;
        Ok(Stack {
            shared,
            engine,
            thread: Mutex::new(Some(thread)),
            connect_timeout: config.connect_timeout,
            mtu: config.mtu,
        })
    }

    /// Hands the stack one IP packet that arrived for it, as [`inject_batch`](Self::inject_batch) does.
    pub fn inject(&self, packet: &[u8]) {
        self.inject_batch(&mut std::iter::once(packet));
    }

    /// Hands the stack a batch of packets. Never waits for the stack thread: if it is asleep, the caller runs
    /// the turn that answers the packets (and sends what they cause through the sink, on this thread);
    /// otherwise the packets are queued for it, under one lock and one wake-up, and when the inbound queue
    /// is full they are dropped and counted.
    pub fn inject_batch(&self, packets: &mut dyn Iterator<Item = &[u8]>) {
        if self.shared.inject(packets) {
            engine::Engine::after_inject(&self.engine, &self.shared);
        }
    }

    /// Opens a TCP connection, with the configured connect timeout. Fails with `ECONNREFUSED` when the
    /// remote answers the SYN with an RST, `ETIMEDOUT` when nothing answers, `EHOSTUNREACH` when the sink has
    /// no route to it, `ENETUNREACH` when the stack has no address of its IP version.
    pub fn dial_tcp(&self, remote: SocketAddr) -> Pending<TcpConn> {
        self.dial_tcp_timeout(remote, self.connect_timeout)
    }

    /// [`dial_tcp`](Self::dial_tcp) with its own timeout.
    pub fn dial_tcp_timeout(&self, remote: SocketAddr, timeout: Duration) -> Pending<TcpConn> {
        let (pending, reply) = Pending::new();
        self.shared.command(Command::Dial {
            remote,
            timeout,
            reply,
        });
        pending
    }

    /// [`dial_tcp`](Self::dial_tcp) completing through a callback, run by the stack (see [`Stack`]).
    pub fn dial_tcp_with(
        &self,
        remote: SocketAddr,
        timeout: Duration,
        done: impl FnOnce(io::Result<TcpConn>) + Send + 'static,
    ) {
        self.shared.command(Command::Dial {
            remote,
            timeout,
            reply: Box::new(done),
        });
    }

    /// Listens on a TCP port; connections are taken with [`Listener::accept`]. Port 0 picks a free one; an
    /// unspecified address listens on all stack addresses. `EADDRINUSE` when the port is taken,
    /// `EADDRNOTAVAIL` when the address is not the stack's.
    pub fn listen_tcp(&self, local: SocketAddr) -> io::Result<Listener> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.listen(local, Box::new(move |c| drop(tx.send(c))), Some(rx))
    }

    /// Like [`listen_tcp`](Self::listen_tcp), handing each established connection to `on_conn`, run by the
    /// stack (see [`Stack`]).
    pub fn listen_tcp_with(
        &self,
        local: SocketAddr,
        on_conn: impl FnMut(TcpConn) + Send + 'static,
    ) -> io::Result<Listener> {
        self.listen(local, Box::new(on_conn), None)
    }

    fn listen(
        &self,
        local: SocketAddr,
        deliver: Box<dyn FnMut(TcpConn) + Send>,
        rx: Option<std::sync::mpsc::Receiver<TcpConn>>,
    ) -> io::Result<Listener> {
        let (pending, reply) = Pending::new();
        self.shared.command(Command::Listen {
            local,
            deliver,
            reply,
        });
        let (id, local) = pending.wait()?;
        Ok(Listener::new(self.shared.clone(), id, local, rx))
    }

    /// Binds a UDP socket whose datagrams are read with [`UdpSocket::recv_from`].
    pub fn bind_udp(&self, local: SocketAddr) -> io::Result<UdpSocket> {
        let (deliver, rx) = udp::channel();
        self.bind(local, deliver, Some(rx))
    }

    /// Binds a UDP socket handing each datagram to `on_datagram`, run by the stack (see [`Stack`]).
    pub fn bind_udp_with(
        &self,
        local: SocketAddr,
        on_datagram: impl FnMut(Datagram) + Send + 'static,
    ) -> io::Result<UdpSocket> {
        self.bind(local, Box::new(on_datagram), None)
    }

    fn bind(
        &self,
        local: SocketAddr,
        deliver: Box<dyn FnMut(Datagram) + Send>,
        rx: Option<std::sync::mpsc::Receiver<Datagram>>,
    ) -> io::Result<UdpSocket> {
        let (pending, reply) = Pending::new();
        self.shared.command(Command::UdpBind {
            local,
            deliver,
            reply,
        });
        let (id, local) = pending.wait()?;
        Ok(UdpSocket::new(self.shared.clone(), id, local, rx, self.mtu))
    }

    /// Sends an ICMP echo request and resolves to the round-trip time, or `ETIMEDOUT` after `timeout`.
    pub fn ping(&self, dst: IpAddr, timeout: Duration) -> Pending<Duration> {
        let (pending, reply) = Pending::new();
        if !self.shared.sink.has_route(dst) {
            reply(Err(error::no_route(dst)));
        } else {
            self.shared.command(Command::Ping {
                dst,
                timeout,
                reply,
            });
        }
        pending
    }

    /// Packet counters.
    pub fn stats(&self) -> StackStats {
        self.shared.counters.snapshot()
    }

    /// Stops the stack thread: every connection is reset, splices complete with `ECONNABORTED`, waits fail,
    /// and later calls fail with `ENOTCONN`. Also done on drop.
    pub fn shutdown(&self) {
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            self.shared.command(Command::Stop);
            let _ = t.join();
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown();
    }
}
