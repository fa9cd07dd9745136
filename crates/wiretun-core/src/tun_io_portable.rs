//! The TUN device where tun-rs has no offloads (macOS utun): one packet per read, so the send path
//! encrypts and sends packet by packet (GsoBatch still works, with runs of one).

use crate::constants::{DEFAULT_MTU, MAX_PACKET};
use crate::device::{DeviceConfig, Tun};
use crate::error::{Error, Result};
use crate::padding::pad;
use std::io;
use tun_rs::{DeviceBuilder, SyncDevice};

/// Non-blocking, as tun-rs wants for interruptible reads.
pub(crate) fn build_tun(config: &DeviceConfig) -> Result<SyncDevice> {
    let mut builder = DeviceBuilder::new().mtu(config.mtu.unwrap_or(DEFAULT_MTU));
    if let Some(name) = utun_name(&config.name)? {
        builder = builder.name(name);
    }
    let tun = builder
        .build_sync()
        .map_err(|e| tun_error(&config.name, &e))?;
    tun.set_nonblocking(true)
        .map_err(|e| Error::io("TUN non-blocking mode", &e))?;
    Ok(tun)
}

/// macOS names utun interfaces itself: "utun" lets the kernel pick the next free utunN (what wg-quick
/// asks wireguard-go for), "utunN" asks for that one. Anything else cannot exist, so say so up front.
fn utun_name(name: &str) -> Result<Option<&str>> {
    match name.strip_prefix("utun") {
        Some("") => Ok(None),
        Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(name)),
        _ => Err(Error::invalid(format!(
            "interface name {name:?} is not possible here: macOS names TUN interfaces utunN \
             (use \"utun\" for the next free one, or \"utunN\")"
        ))),
    }
}

fn tun_error(name: &str, err: &io::Error) -> Error {
    let what = match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => "creating a utun device needs root".into(),
        Some(libc::EBUSY) | Some(libc::EEXIST) => format!("interface {name} is already in use"),
        _ => format!("creating TUN interface {name}"),
    };
    Error::io(what, err)
}

/// One packet buffer, allocated once per thread.
pub(crate) struct TunReader {
    buf: Vec<u8>,
    len: usize,
}

impl TunReader {
    pub fn new() -> Self {
        TunReader {
            buf: vec![0u8; MAX_PACKET],
            len: 0,
        }
    }

    /// Waits for the next packet (or the device's interrupt); returns 1, the packets it read.
    pub fn read(&mut self, tun: &Tun) -> io::Result<usize> {
        self.len = tun.dev.recv_intr(&mut self.buf, &tun.interrupt)?;
        Ok(1)
    }

    /// The packet of the last read (`n` is at most 1), padded in its buffer.
    pub fn packets(&mut self, n: usize, mtu: usize) -> impl Iterator<Item = &[u8]> {
        std::iter::once(pad(&mut self.buf, self.len, mtu)).take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::utun_name;

    #[test]
    fn utun_names() {
        assert_eq!(utun_name("utun").unwrap(), None);
        assert_eq!(utun_name("utun7").unwrap(), Some("utun7"));
        for bad in ["wg0", "utunx", "utun-1", "tun0", "myutun3"] {
            let err = utun_name(bad).unwrap_err();
            assert_eq!(err.code, "EINVAL");
            assert!(err.message.contains("utunN"), "{bad}: {}", err.message);
        }
    }
}
