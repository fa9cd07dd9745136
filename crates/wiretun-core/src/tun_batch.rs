//! Decrypted packets waiting to be written to the TUN together. With offloads on, tun-rs's GRO table
//! merges consecutive segments of one TCP/UDP flow into a single large write, so the kernel stack runs
//! once per flow per batch instead of once per packet. Order within a flow is kept. A device with a sink
//! instead of a TUN gets the same batch in one call, unmerged.

use crate::constants::MAX_PACKET;
use crate::device::{Inner, Shared};
use std::io;
use tun_rs::{GROTable, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

/// Where a batch goes: the device's TUN, or a fake under fuzzing that runs the same GRO step.
pub(crate) trait TunSink {
    fn send_multiple(
        &self,
        gro: &mut GROTable,
        bufs: &mut [Vec<u8>],
        offset: usize,
    ) -> io::Result<usize>;
}

impl TunSink for Shared {
    #[inline]
    fn send_multiple(
        &self,
        gro: &mut GROTable,
        bufs: &mut [Vec<u8>],
        offset: usize,
    ) -> io::Result<usize> {
        match &self.inner {
            Inner::Tun(tun) => tun.dev.send_multiple(gro, bufs, offset),
            Inner::Sink(sink) => {
                sink.deliver(&mut bufs.iter().map(|b| &b[offset..]));
                Ok(bufs.len())
            }
        }
    }
}

/// Room in front of every packet for the virtio-net header tun-rs fills in.
const OFFSET: usize = VIRTIO_NET_HDR_LEN;

pub(crate) struct TunBatch {
    bufs: Vec<Vec<u8>>,
    pending: usize,
    gro: GROTable,
}

impl TunBatch {
    pub fn new() -> Self {
        TunBatch {
            // Capacity for the largest packet up front; lengths follow each packet so nothing is
            // zeroed twice and GRO can grow a buffer in place.
            bufs: (0..IDEAL_BATCH_SIZE)
                .map(|_| Vec::with_capacity(OFFSET + MAX_PACKET))
                .collect(),
            pending: 0,
            gro: GROTable::new(),
        }
    }

    /// The next free packet buffer, at least `len` bytes long.
    pub fn slot(&mut self, len: usize) -> &mut [u8] {
        let buf = &mut self.bufs[self.pending];
        buf.resize(OFFSET + len, 0);
        &mut buf[OFFSET..]
    }

    /// Keeps the first `len` bytes of the current slot as a packet; writes the batch out when full.
    pub fn commit<T: TunSink>(&mut self, tun: &T, len: usize) {
        self.bufs[self.pending].truncate(OFFSET + len);
        self.pending += 1;
        if self.pending == self.bufs.len() {
            self.flush(tun);
        }
    }

    /// Packets committed and not yet written (the fuzzer ties each to the datagram it came from).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn pending(&self) -> usize {
        self.pending
    }

    pub fn flush<T: TunSink>(&mut self, tun: &T) {
        if self.pending == 0 {
            return;
        }
        if let Err(e) = tun.send_multiple(&mut self.gro, &mut self.bufs[..self.pending], OFFSET) {
            log::debug!("TUN write failed: {e}");
        }
        self.pending = 0;
    }
}
