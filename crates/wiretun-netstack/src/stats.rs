//! Packet counters, written by the stack thread and the injecting threads, read by anyone.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a stack's packet counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackStats {
    /// Packets injected and queued for the stack.
    pub rx_packets: u64,
    /// Bytes of those packets.
    pub rx_bytes: u64,
    /// Injected packets dropped because the inbound queue was full or the stack had stopped.
    pub rx_dropped: u64,
    /// Packets the stack gave to the sink.
    pub tx_packets: u64,
    /// Bytes of those packets.
    pub tx_bytes: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_dropped: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
}

impl Counters {
    pub fn add_rx(&self, packets: usize, bytes: usize) {
        self.rx_packets.fetch_add(packets as u64, Relaxed);
        self.rx_bytes.fetch_add(bytes as u64, Relaxed);
    }

    pub fn add_dropped(&self, packets: usize) {
        self.rx_dropped.fetch_add(packets as u64, Relaxed);
    }

    pub fn add_tx(&self, packets: usize, bytes: usize) {
        self.tx_packets.fetch_add(packets as u64, Relaxed);
        self.tx_bytes.fetch_add(bytes as u64, Relaxed);
    }

    pub fn snapshot(&self) -> StackStats {
        StackStats {
            rx_packets: self.rx_packets.load(Relaxed),
            rx_bytes: self.rx_bytes.load(Relaxed),
            rx_dropped: self.rx_dropped.load(Relaxed),
            tx_packets: self.tx_packets.load(Relaxed),
            tx_bytes: self.tx_bytes.load(Relaxed),
        }
    }
}
