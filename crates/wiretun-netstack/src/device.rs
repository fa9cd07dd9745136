//! smoltcp's view of the tunnel: a device whose receive side is the queue of injected packets and whose
//! transmit side batches packets for the [`PacketSink`].

use std::collections::VecDeque;
use std::sync::Arc;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::sink::{PacketSink, PACKET_TAILROOM};
use crate::stats::Counters;

/// Packets handed to the sink in one call at most; also bounds how long emitted packets wait for it.
const TX_BATCH: usize = 64;
/// Spare packet buffers kept for reuse instead of freed.
const SPARE: usize = 512;

pub(crate) struct TunnelDevice {
    /// Injected packets, oldest first, moved here from the shared queue by the stack thread.
    pub rx: VecDeque<Vec<u8>>,
    /// Buffers of packets smoltcp has consumed, to be returned to the injection side.
    pub spent: Vec<Vec<u8>>,
    pub tx: TxQueue,
    mtu: usize,
}

pub(crate) struct TxQueue {
    out: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    sink: Arc<dyn PacketSink>,
    counters: Arc<Counters>,
}

impl TunnelDevice {
    pub fn new(mtu: usize, sink: Arc<dyn PacketSink>, counters: Arc<Counters>) -> TunnelDevice {
        TunnelDevice {
            rx: VecDeque::new(),
            spent: Vec::new(),
            tx: TxQueue {
                out: Vec::with_capacity(TX_BATCH),
                spare: Vec::new(),
                sink,
                counters,
            },
            mtu,
        }
    }
}

impl TxQueue {
    pub(crate) fn push(&mut self, len: usize, fill: impl FnOnce(&mut [u8])) {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        // Once per buffer: reused buffers already have the room.
        buf.reserve(len + PACKET_TAILROOM);
        buf.resize(len, 0);
        fill(&mut buf);
        self.out.push(buf);
        if self.out.len() >= TX_BATCH {
            self.flush();
        }
    }

    /// Hands everything emitted so far to the sink.
    pub fn flush(&mut self) {
        if self.out.is_empty() {
            return;
        }
        self.counters
            .add_tx(self.out.len(), self.out.iter().map(Vec::len).sum());
        self.sink.send(&mut self.out.iter_mut());
        let room = SPARE.saturating_sub(self.spare.len());
        self.spare.extend(self.out.drain(..).take(room));
        self.out.clear();
    }
}

impl Device for TunnelDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let buf = self.rx.pop_front()?;
        Some((
            RxToken {
                buf,
                spent: &mut self.spent,
            },
            TxToken {
                queue: &mut self.tx,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken {
            queue: &mut self.tx,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps.max_burst_size = None;
        caps
    }
}

pub(crate) struct RxToken<'a> {
    buf: Vec<u8>,
    spent: &'a mut Vec<Vec<u8>>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.buf);
        self.spent.push(self.buf);
        r
    }
}

pub(crate) struct TxToken<'a> {
    queue: &'a mut TxQueue,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut result = None;
        self.queue.push(len, |buf| result = Some(f(buf)));
        result.expect("fill ran")
    }
}
