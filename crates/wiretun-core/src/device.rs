//! The device: its inner side (a TUN, or an [`InnerSink`] in this process such as a userspace IP stack), the
//! UDP sockets and the peers, with the configuration calls that UAPI, the napi binding and Rust users share.
//! Packets move on three threads: send.rs (TUN → UDP; with a sink, the caller's thread through
//! [`Outbound`]), receive.rs (UDP → TUN or sink) and timers.rs.

use crate::constants::DEFAULT_MTU;
use crate::error::{Error, Result};
use crate::events::{Event, EventHandler};
use crate::identity::Identity;
use crate::inner::{InnerSink, Outbound};
use crate::keys::{self, Key};
use crate::peer::{Peer, PeerTable, SharedTable};
use crate::udp::UdpSet;
use crate::wake::Waker;
use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::{Mutex, RwLock};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use tun_rs::{InterruptEvent, SyncDevice};

pub use crate::config::{PeerInfo, PeerUpdate};

#[derive(Clone, Debug)]
pub struct DeviceConfig {
    pub name: String,
    pub mtu: Option<u16>,
}

/// A TUN interface and the event that interrupts a blocked read of it.
pub(crate) struct Tun {
    pub dev: SyncDevice,
    pub interrupt: InterruptEvent,
}

/// Where decrypted packets go and outgoing ones come from. The data-plane threads look at it once per
/// batch (receive) or once per thread (send), never per packet. One per device, so its size does not
/// matter, and boxing the TUN would add an indirection to every TUN read and write.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inner {
    Tun(Tun),
    Sink(Arc<dyn InnerSink>),
}

/// State every data-plane thread reads.
pub(crate) struct Shared {
    pub name: String,
    pub inner: Inner,
    pub udp: ArcSwap<UdpSet>,
    pub udp_waker: Waker,
    pub identity: ArcSwapOption<Identity>,
    pub peers: SharedTable,
    pub fwmark: AtomicU32,
    /// The inner MTU, which caps the padding of data messages (0: unknown, no cap). A TUN's is re-read on
    /// every timer tick (a few syscalls per 100 ms), so `ip link set mtu` (what wg-quick does right after
    /// creating the interface) takes effect before traffic does, without a syscall on the data path.
    pub mtu: AtomicU32,
    pub running: AtomicBool,
    closed_reported: AtomicBool,
    events: RwLock<Option<EventHandler>>,
    pub started: Instant,
}

impl Shared {
    pub fn emit(&self, event: Event) {
        if let Some(handler) = self.events.read().clone() {
            handler(event);
        }
    }

    /// Stops every thread; the first reason given is the one reported.
    pub fn shut_down(&self, reason: &str) {
        self.running.store(false, Ordering::SeqCst);
        if let Inner::Tun(tun) = &self.inner {
            let _ = tun.interrupt.trigger();
        }
        self.udp_waker.wake();
        if !self.closed_reported.swap(true, Ordering::SeqCst) {
            self.emit(Event::Closed {
                reason: reason.to_string(),
            });
        }
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The MTU that caps padding, for one batch of packets.
    #[inline]
    pub fn mtu(&self) -> usize {
        self.mtu.load(Ordering::Relaxed) as usize
    }

    /// Re-reads a TUN's MTU (a sink's is fixed).
    pub fn refresh_mtu(&self) {
        if let Inner::Tun(tun) = &self.inner {
            if let Ok(mtu) = tun.dev.mtu() {
                self.mtu.store(mtu.into(), Ordering::Relaxed);
            }
        }
    }
}

/// A running WireGuard device. Dropping it closes it.
pub struct Device {
    pub(crate) shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Configuration changes are applied one at a time.
    pub(crate) config_lock: Mutex<()>,
}

impl Device {
    /// Creates the TUN interface, binds a random UDP port and starts the data-plane threads.
    pub fn create(config: DeviceConfig) -> Result<Device> {
        validate_name(&config.name)?;
        let dev = crate::tun_io::build_tun(&config)?;
        let name = dev.name().unwrap_or_else(|_| config.name.clone());
        let mtu = dev.mtu().unwrap_or(config.mtu.unwrap_or(DEFAULT_MTU));
        let interrupt = InterruptEvent::new().map_err(|e| Error::io("interrupt event", &e))?;
        let device = Device::new(name, Inner::Tun(Tun { dev, interrupt }), mtu.into())?;
        device.spawn("wt-send", crate::send::run)?;
        device.spawn("wt-recv", crate::receive::run)?;
        device.spawn("wt-timers", crate::timers::run)?;
        Ok(device)
    }

    /// A device with no TUN: decrypted packets that passed the allowed-IPs check go to `sink`, one call per
    /// receive batch, and outgoing packets come in through [`Device::outbound`] on the caller's thread. Binds
    /// a random UDP port; needs no privilege. `config.name` names the device (in UAPI, logs) only, and
    /// `config.mtu` should be the largest packet the sink's side sends: it caps the padding of data
    /// messages (None: no cap).
    pub fn create_with_inner(config: DeviceConfig, sink: Arc<dyn InnerSink>) -> Result<Device> {
        validate_name(&config.name)?;
        let mtu = config.mtu.map_or(0, u32::from);
        let device = Device::new(config.name, Inner::Sink(sink), mtu)?;
        device.spawn("wt-recv", crate::receive::run)?;
        device.spawn("wt-timers", crate::timers::run)?;
        Ok(device)
    }

    fn new(name: String, inner: Inner, mtu: u32) -> Result<Device> {
        let udp = UdpSet::bind(0, 0).map_err(|e| Error::io("binding UDP", &e))?;
        let shared = Arc::new(Shared {
            name,
            inner,
            udp: ArcSwap::from_pointee(udp),
            udp_waker: Waker::new().map_err(|e| Error::io("eventfd", &e))?,
            identity: ArcSwapOption::empty(),
            peers: RwLock::new(PeerTable::default()),
            fwmark: AtomicU32::new(0),
            mtu: AtomicU32::new(mtu),
            running: AtomicBool::new(true),
            closed_reported: AtomicBool::new(false),
            events: RwLock::new(None),
            started: Instant::now(),
        });
        Ok(Device {
            shared,
            threads: Mutex::new(Vec::new()),
            config_lock: Mutex::new(()),
        })
    }

    /// A handle that sends packets into the tunnel on the caller's thread: cryptokey routing, encryption
    /// and batched UDP sends, as the TUN's send thread does. Each handle has its own buffers; a device with
    /// a sink gives one to whatever produces its outgoing packets.
    pub fn outbound(&self) -> Outbound {
        Outbound::new(self.shared.clone())
    }

    /// Whether some peer's allowed IPs cover `dst` (where a packet to it would be sent).
    pub fn has_route(&self, dst: IpAddr) -> bool {
        self.shared.peers.read().routes.lookup(dst).is_some()
    }

    fn spawn(&self, name: &str, body: fn(Arc<Shared>)) -> Result<()> {
        let shared = self.shared.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(shared))
            .map_err(|e| Error::io("spawning thread", &e))?;
        self.threads.lock().push(handle);
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn is_running(&self) -> bool {
        self.shared.is_running()
    }

    pub fn set_event_handler(&self, handler: Option<EventHandler>) {
        *self.shared.events.write() = handler;
    }

    pub fn private_key(&self) -> Option<Key> {
        self.shared
            .identity
            .load()
            .as_ref()
            .map(|i| i.private.to_bytes())
    }

    pub fn public_key(&self) -> Option<Key> {
        self.shared
            .identity
            .load()
            .as_ref()
            .map(|i| i.public.to_bytes())
    }

    /// Sets (or with None or all zeros clears) the private key, clamped as the kernel and wireguard-go
    /// store it. Every session restarts with a new handshake; a peer whose public key is our new one is
    /// removed, as wireguard-go does.
    pub fn set_private_key(&self, key: Option<Key>) {
        let _guard = self.config_lock.lock();
        let key = key.filter(|k| k != &[0u8; 32]).map(keys::clamp);
        if key == self.private_key() {
            return;
        }
        let identity = key.map(|k| Arc::new(Identity::new(k)));
        let mut table = self.shared.peers.write();
        if let Some(id) = &identity {
            table.remove(&id.public.to_bytes());
        }
        for peer in table.by_key.values() {
            *peer.tunn.lock() = None;
        }
        self.shared.identity.store(identity);
    }

    pub fn listen_port(&self) -> u16 {
        self.shared.udp.load().port
    }

    /// Rebinds both sockets; 0 picks a free port. Returns the port bound. On failure the old sockets stay.
    pub fn set_listen_port(&self, port: u16) -> Result<u16> {
        let _guard = self.config_lock.lock();
        if port != 0 && port == self.listen_port() {
            return Ok(port);
        }
        let fwmark = self.shared.fwmark.load(Ordering::Relaxed);
        let udp = UdpSet::bind(port, fwmark)
            .map_err(|e| Error::io(format!("binding UDP port {port}"), &e))?;
        let bound = udp.port;
        self.shared.udp.store(Arc::new(udp));
        self.shared.udp_waker.wake();
        Ok(bound)
    }

    pub fn fwmark(&self) -> u32 {
        self.shared.fwmark.load(Ordering::Relaxed)
    }

    pub fn set_fwmark(&self, mark: u32) -> Result<()> {
        let _guard = self.config_lock.lock();
        self.shared
            .udp
            .load()
            .set_fwmark(mark)
            .map_err(|e| Error::io("setting SO_MARK", &e))?;
        self.shared.fwmark.store(mark, Ordering::Relaxed);
        Ok(())
    }

    pub fn remove_peer(&self, key: &Key) -> bool {
        let _guard = self.config_lock.lock();
        self.shared.peers.write().remove(key).is_some()
    }

    pub fn clear_peers(&self) {
        let _guard = self.config_lock.lock();
        self.shared.peers.write().clear();
    }

    pub(crate) fn new_peer(&self, table: &PeerTable, key: Key) -> Arc<Peer> {
        Arc::new(Peer::new(key, table.free_index()))
    }

    /// Stops the threads and waits for them. The TUN interface goes away when the device is dropped.
    pub fn close(&self) {
        self.shared.shut_down("closed");
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.close();
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 15
        || name.contains(['/', ' ', '\t', '\n'])
        || name == "."
        || name == ".."
    {
        return Err(Error::invalid(format!(
            "invalid interface name {name:?}: 1 to 15 bytes, no '/' or whitespace"
        )));
    }
    Ok(())
}
