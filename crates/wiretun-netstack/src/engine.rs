//! The engine: the smoltcp interface, the sockets and our own TCP's table, behind one mutex.
//!
//! A turn takes the injected packets, feeds them to smoltcp one at a time (looking at each TCP header first,
//! see `TcpTable::before_ingress`; with our own TCP, its packets, reassembled if fragmented, go to `Tcp2Table`
//! instead), services every connection (dials, handshakes, splices), lets smoltcp transmit and flushes the
//! packets to the sink.
//!
//! The stack thread takes the queued commands, runs a turn and sleeps in the poller until an OS socket is
//! ready, someone queues work, or the next timer is due. A thread that injects packets while the stack
//! thread sleeps runs the turn itself (`inline`): the packets are answered without waking another thread,
//! as a kernel answers a packet in the context that delivered it. Through the proxy a download's ACKs
//! waited for the stack thread to be scheduled, on top of the decrypting thread; the sender, limited by
//! its window, slowed with them. The stack thread is woken only when the turn leaves work or an earlier
//! timer behind.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use polling::Events;
use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketSet};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use crate::config::{StackConfig, TcpEngine};
use crate::device::TunnelDevice;
use crate::error;
use crate::icmp::Pinger;
use crate::peek;
use crate::reassembly::{self, Reassembler};
use crate::recovery::{self, Extra};
use crate::shared::{Command, Shared};
use crate::tcp::{Ctx, Ingress, TcpOpts, TcpTable};
use crate::tcp2_table::{Ctx2, Tcp2Table};
use crate::udp::UdpTable;

/// Longest sleep with nothing scheduled: a safety net, not a timer anything depends on.
const IDLE_WAKE: Duration = Duration::from_secs(5);

pub(crate) struct Engine {
    // Field order is drop order: the socket set (whose TCP sockets borrow the rings that `tcp` owns) first.
    sockets: SocketSet<'static>,
    tcp: TcpTable,
    /// Our own TCP, when the configuration asks for it: then it carries every TCP connection.
    tcp2: Option<Tcp2Table>,
    /// Fragmented TCP datagrams on their way to `tcp2`.
    fragments: Reassembler,
    udp: UdpTable,
    pinger: Pinger,
    iface: Interface,
    device: TunnelDevice,
    shared: Arc<Shared>,
    epoch: Instant,
    commands: Vec<Command>,
    /// When the stack thread wakes by itself: an inline turn whose next timer is earlier wakes it.
    sleep_until: Instant,
    /// Set once `Stop` was carried out: the engine then does nothing more.
    stopped: bool,
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

impl Engine {
    pub fn new(cfg: &StackConfig, shared: Arc<Shared>) -> Engine {
        let mut device = TunnelDevice::new(cfg.mtu, shared.sink.clone(), shared.counters.clone());
        let epoch = Instant::now();
        let seed = seed();
        let mut iface_cfg = Config::new(HardwareAddress::Ip);
        iface_cfg.random_seed = seed;
        let mut iface = Interface::new(iface_cfg, &mut device, smoltcp::time::Instant::ZERO);
        iface.update_ip_addrs(|addrs| {
            for (ip, prefix) in &cfg.addresses {
                addrs
                    .push(IpCidr::new(IpAddress::from(*ip), *prefix))
                    .expect("validated: at most 8");
            }
        });
        // Everything off-prefix goes to the sink too. On an IP medium the gateway is never used as an address;
        // a route only has to exist, so it points at our own address of that version.
        for (ip, _) in &cfg.addresses {
            match ip {
                std::net::IpAddr::V4(a) => drop(iface.routes_mut().add_default_ipv4_route(*a)),
                std::net::IpAddr::V6(a) => drop(iface.routes_mut().add_default_ipv6_route(*a)),
            }
        }
        let mut sockets = SocketSet::new(Vec::new());
        let opts = TcpOpts {
            rx_buffer: cfg.tcp_rx_buffer,
            tx_buffer: cfg.tcp_tx_buffer,
            backlog: cfg.listen_backlog,
            keepalive: cfg.tcp_keepalive,
            mss: cfg.mtu as u32 - 60,
        };
        let pinger = Pinger::new(&mut sockets, (seed >> 16) as u16 | 1);
        Engine {
            sockets,
            tcp: TcpTable::new(opts, seed as u16),
            tcp2: (cfg.tcp_engine == TcpEngine::Tcp2).then(|| Tcp2Table::new(cfg, seed as u16)),
            fragments: Reassembler::default(),
            udp: UdpTable::new(cfg.udp_buffer, (seed >> 32) as u16),
            pinger,
            iface,
            device,
            shared,
            epoch,
            commands: Vec::new(),
            sleep_until: epoch,
            stopped: false,
        }
    }

    fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    /// The stack thread's loop, until `Stop`.
    pub fn run(engine: Arc<Mutex<Engine>>, shared: Arc<Shared>) {
        let mut events = Events::new();
        loop {
            let timeout = {
                let mut e = lock(&engine);
                for ev in events.iter() {
                    e.tcp.on_event(&ev);
                    if let Some(t2) = e.tcp2.as_mut() {
                        t2.on_event(&ev);
                    }
                }
                match e.step() {
                    Some(timeout) => {
                        e.sleep_until = Instant::now() + timeout;
                        timeout
                    }
                    None => return,
                }
            };
            events.clear();
            if let Err(e) = shared.poller.wait(&mut events, Some(timeout)) {
                log::warn!("netstack poller wait failed: {e}");
            }
        }
    }

    /// Packets were queued by `shared`'s owner: turns on the caller's thread if no one else is turning, else
    /// makes sure the stack thread turns again.
    pub fn after_inject(engine: &Mutex<Engine>, shared: &Shared) {
        match engine.try_lock() {
            Ok(mut e) => e.inline(),
            Err(TryLockError::WouldBlock | TryLockError::Poisoned(_)) => shared.wake(),
        }
    }

    /// The stack thread's turn: commands, then packets and connections. `None` once stopped.
    fn step(&mut self) -> Option<Duration> {
        self.shared.take(
            &mut self.commands,
            &mut self.device.rx,
            &mut self.device.spent,
        );
        let mut commands = std::mem::take(&mut self.commands);
        let mut stop = false;
        for cmd in commands.drain(..) {
            if stop {
                cmd.fail(error::stopped());
            } else {
                stop = self.handle(cmd);
            }
        }
        self.commands = commands;
        if stop {
            self.stop();
            return None;
        }
        Some(self.turn())
    }

    /// A turn on an injecting thread. Commands stay for the stack thread (`Stop` must end it), which is
    /// woken when this turn leaves work behind or needs a timer before the one it sleeps until.
    fn inline(&mut self) {
        if self.stopped {
            return;
        }
        self.shared
            .take_inbound(&mut self.device.rx, &mut self.device.spent);
        let timeout = self.turn();
        if timeout.is_zero() || Instant::now() + timeout < self.sleep_until {
            self.shared.wake();
        }
    }

    /// One round of packet processing; returns how long the thread may sleep.
    fn turn(&mut self) -> Duration {
        let now = self.now();
        self.iface.poll_maintenance(now);
        self.ingress(now);
        let wall = Instant::now();
        let mut cx = Ctx {
            sockets: &mut self.sockets,
            iface: &mut self.iface,
            shared: &self.shared,
            now: wall,
        };
        let pass = self.tcp.service(&mut cx);
        let pass2 = self
            .with_tcp2(wall, |t2, cx| t2.service(cx))
            .unwrap_or_default();
        self.device.rx.extend(self.tcp.synthetic.drain(..));
        self.udp.service(&mut self.sockets);
        let ping_deadline = self.pinger.service(&mut self.sockets);
        while self
            .iface
            .poll_egress(now, &mut self.device, &mut self.sockets)
            == PollResult::SocketStateChanged
        {}
        self.device.tx.flush();
        if pass.busy || pass2.busy || !self.device.rx.is_empty() {
            return Duration::ZERO;
        }
        let mut timeout = self
            .iface
            .poll_delay(self.now(), &self.sockets)
            .map_or(IDLE_WAKE, Duration::from);
        for deadline in [pass.deadline, pass2.deadline, ping_deadline]
            .into_iter()
            .flatten()
        {
            timeout = timeout.min(deadline.saturating_duration_since(Instant::now()));
        }
        timeout
    }

    fn ingress(&mut self, now: smoltcp::time::Instant) {
        let wall = Instant::now();
        while let Some(front) = self.device.rx.front() {
            // Fragments first: the first one of a datagram looks like a TCP packet to `peek`.
            if self.tcp2.is_some() && reassembly::tcp_fragment(front).is_some() {
                let packet = self.device.rx.pop_front().expect("front exists");
                let whole =
                    reassembly::tcp_fragment(&packet).and_then(|f| self.fragments.add(&f, wall));
                if let Some(whole) = whole {
                    self.with_tcp2(wall, |t2, cx| t2.on_packet(cx, &whole));
                }
                self.device.spent.push(packet);
                continue;
            }
            if self.tcp2.is_some() && peek::tcp(front).is_some() {
                let packet = self.device.rx.pop_front().expect("front exists");
                self.with_tcp2(wall, |t2, cx| t2.on_packet(cx, &packet));
                self.device.spent.push(packet);
                continue;
            }
            let what = match peek::tcp(front) {
                Some(p) => {
                    let mut cx = Ctx {
                        sockets: &mut self.sockets,
                        iface: &mut self.iface,
                        shared: &self.shared,
                        now: wall,
                    };
                    self.tcp.before_ingress(&mut cx, &p)
                }
                None => Ingress::Plain,
            };
            if let (
                Ingress::Acks(Extra {
                    window: Some(w), ..
                }),
                Some(front),
            ) = (&what, self.device.rx.front_mut())
            {
                recovery::set_window(front, *w);
            }
            if self
                .iface
                .poll_ingress_single(now, &mut self.device, &mut self.sockets)
                == PollIngressSingleResult::None
            {
                break;
            }
            match what {
                Ingress::Watch(id) => {
                    let mut cx = Ctx {
                        sockets: &mut self.sockets,
                        iface: &mut self.iface,
                        shared: &self.shared,
                        now: wall,
                    };
                    self.tcp.after_ingress(&mut cx, id);
                }
                Ingress::Acks(extra) => {
                    for ack in extra.after.into_iter().rev() {
                        self.device.rx.push_front(ack);
                    }
                }
                Ingress::Plain => {}
            }
        }
    }

    /// Carries out one command; true for `Stop`.
    fn handle(&mut self, cmd: Command) -> bool {
        if self.tcp2.is_some() {
            self.handle_tcp2(cmd)
        } else {
            self.handle_smoltcp(cmd)
        }
    }

    /// TCP commands go to our own TCP's table; the rest as with smoltcp.
    fn handle_tcp2(&mut self, cmd: Command) -> bool {
        let now = Instant::now();
        match cmd {
            Command::Dial {
                remote,
                timeout,
                reply,
            } => self.with_tcp2(now, |t2, cx| t2.dial(cx, remote, timeout, reply)),
            Command::Listen {
                local,
                deliver,
                reply,
            } => self.with_tcp2(now, |t2, cx| reply(t2.listen(cx, local, deliver))),
            Command::Unlisten(id) => self.with_tcp2(now, |t2, cx| t2.unlisten(cx, id)),
            Command::Abort(id) => self.with_tcp2(now, |t2, cx| t2.abort(cx, id)),
            Command::Splice { id, os, done } => {
                self.with_tcp2(now, |t2, cx| t2.splice(cx, id, os, done))
            }
            other => return self.handle_smoltcp(other),
        };
        false
    }

    /// Runs `f` on our own TCP's table (if this stack has it) with what it needs of the engine.
    fn with_tcp2<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Tcp2Table, &mut Ctx2<'_>) -> R,
    ) -> Option<R> {
        let t2 = self.tcp2.as_mut()?;
        let mut cx = Ctx2 {
            iface: &self.iface,
            shared: &self.shared,
            tx: &mut self.device.tx,
            now,
        };
        Some(f(t2, &mut cx))
    }

    fn handle_smoltcp(&mut self, cmd: Command) -> bool {
        let mut cx = Ctx {
            sockets: &mut self.sockets,
            iface: &mut self.iface,
            shared: &self.shared,
            now: Instant::now(),
        };
        match cmd {
            Command::Dial {
                remote,
                timeout,
                reply,
            } => self.tcp.dial(&mut cx, remote, timeout, reply),
            Command::Listen {
                local,
                deliver,
                reply,
            } => reply(self.tcp.listen(&mut cx, local, deliver)),
            Command::Unlisten(id) => self.tcp.unlisten(&mut cx, id),
            Command::Abort(id) => self.tcp.abort(&mut cx, id),
            Command::Splice { id, os, done } => self.tcp.splice(&mut cx, id, os, done),
            Command::UdpBind {
                local,
                deliver,
                reply,
            } => {
                let iface = &*cx.iface;
                reply(
                    self.udp
                        .bind(cx.sockets, |ip| iface.has_ip_addr(ip), local, deliver),
                )
            }
            Command::UdpSend { id, dst, data } => self.udp.send(cx.sockets, id, dst, &data),
            Command::UdpClose(id) => self.udp.close(cx.sockets, id),
            Command::Ping {
                dst,
                timeout,
                reply,
            } => self.pinger.ping(cx.sockets, cx.iface, dst, timeout, reply),
            Command::Stop => return true,
        }
        false
    }

    /// Resets every connection (the RSTs go out in one last transmit), fails everything still waiting, and
    /// refuses further work.
    fn stop(&mut self) {
        self.stopped = true;
        self.with_tcp2(Instant::now(), |t2, cx| t2.abort_all(cx));
        let mut cx = Ctx {
            sockets: &mut self.sockets,
            iface: &mut self.iface,
            shared: &self.shared,
            now: Instant::now(),
        };
        self.tcp.abort_all(&mut cx);
        let now = self.now();
        while self
            .iface
            .poll_egress(now, &mut self.device, &mut self.sockets)
            == PollResult::SocketStateChanged
        {}
        self.device.tx.flush();
        self.tcp.clear(&mut self.sockets);
        self.udp.clear(&mut self.sockets);
        self.pinger.fail_all();
        for cmd in self.shared.stop() {
            cmd.fail(error::stopped());
        }
        for cmd in self.commands.drain(..) {
            cmd.fail(error::stopped());
        }
    }
}

/// The engine, even if a callback panicked while a turn held it: its tables are still consistent enough to
/// stop.
fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|p| p.into_inner())
}
