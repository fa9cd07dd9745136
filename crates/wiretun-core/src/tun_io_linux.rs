//! The TUN device on Linux: offloads (virtio-net header, TSO/USO) when the kernel has them, so one read
//! returns a TCP/UDP super-packet of up to 64 KiB that tun-rs splits into MTU-sized packets.
//!
//! One queue, not IFF_MULTI_QUEUE. Tried (2026-11-23: a second queue from `try_clone` and a second send
//! thread reading it): the second thread read no packet at all, in single-stream, 4-stream and UDP runs.
//! The kernel's automatic flow steering sends a flow out on the queue its reverse packets were last written
//! to, and the receive thread writes every flow on the first queue. A second queue would pay only if writes
//! were spread by flow as well, and then only across peers: encryption for one peer holds that peer's
//! `Tunn` lock. On the 2-core bench machine both cores were already 90-100% busy during TCP runs (iperf3
//! and the kernel's copies included), and `bench --quick` showed no gain (A→B 2.88/3.08 vs 3.20/3.29
//! Gb/s, 4 streams 3.04/3.07 vs 3.04/2.83, two alternating rounds of 3×5 s each).

use crate::constants::{DEFAULT_MTU, MAX_PACKET};
use crate::device::{DeviceConfig, Tun};
use crate::error::{Error, Result};
use crate::padding::pad;
use std::io;
use tun_rs::{DeviceBuilder, SyncDevice, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

/// Room in front of every packet for the virtio-net header.
const OFFSET: usize = VIRTIO_NET_HDR_LEN;

/// Packets the kernel may queue for us to read, up from the TUN default of 500: a burst that arrives while the
/// send thread is encrypting waits instead of being dropped. Measured with `bench --quick` on a loaded 2-core
/// machine: TCP single stream median 2.15 Gb/s (1000, 3 runs) vs 1.86 (500, 2 runs), loaded RTT 4.96 vs
/// 4.72 ms; noisy, but no run was worse by more than the noise.
const TX_QUEUE_LEN: u32 = 1000;

/// With offloads when the kernel has them, plain otherwise; non-blocking for interruptible reads.
pub(crate) fn build_tun(config: &DeviceConfig) -> Result<SyncDevice> {
    let build = |offload: bool| {
        DeviceBuilder::new()
            .name(&config.name)
            .mtu(config.mtu.unwrap_or(DEFAULT_MTU))
            .offload(offload)
            .tx_queue_len(TX_QUEUE_LEN)
            .build_sync()
    };
    let offload = std::env::var_os("WIRETUN_NO_OFFLOAD").is_none();
    let tun = match build(offload) {
        Err(e) if offload && e.raw_os_error() == Some(libc::EINVAL) => build(false),
        other => other,
    }
    .map_err(|e| tun_error(&config.name, &e))?;
    tun.set_nonblocking(true)
        .map_err(|e| Error::io("TUN non-blocking mode", &e))?;
    Ok(tun)
}

fn tun_error(name: &str, err: &io::Error) -> Error {
    let what = match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "creating a TUN device needs root or CAP_NET_ADMIN".into()
        }
        Some(libc::ENOENT) | Some(libc::ENODEV) => {
            "/dev/net/tun is missing (load the tun module)".into()
        }
        Some(libc::EBUSY) | Some(libc::EEXIST) => format!("interface {name} is already in use"),
        _ => format!("creating TUN interface {name}"),
    };
    Error::io(what, err)
}

/// Buffers for batched TUN reads, allocated once per thread.
pub(crate) struct TunReader {
    original: Vec<u8>,
    bufs: Vec<Vec<u8>>,
    sizes: Vec<usize>,
}

impl TunReader {
    pub fn new() -> Self {
        TunReader {
            original: vec![0u8; OFFSET + MAX_PACKET],
            bufs: (0..IDEAL_BATCH_SIZE)
                .map(|_| vec![0u8; OFFSET + MAX_PACKET])
                .collect(),
            sizes: vec![0usize; IDEAL_BATCH_SIZE],
        }
    }

    /// Waits for the next read (or the device's interrupt); returns how many packets it gave.
    #[inline]
    pub fn read(&mut self, tun: &Tun) -> io::Result<usize> {
        tun.dev.recv_multiple_intr(
            &mut self.original,
            &mut self.bufs,
            &mut self.sizes,
            OFFSET,
            &tun.interrupt,
        )
    }

    /// The first `n` packets of the last read, in the order the TUN gave them, each padded in its buffer
    /// (whose length is the largest packet, so the padding of any packet up to the MTU fits).
    #[inline]
    pub fn packets(&mut self, n: usize, mtu: usize) -> impl Iterator<Item = &[u8]> {
        self.bufs
            .iter_mut()
            .zip(&self.sizes)
            .take(n)
            .map(move |(buf, size)| pad(&mut buf[OFFSET..], *size, mtu))
    }
}
