//! Windows: no TUN yet. tun-rs can open wintun devices, but the TUN path around them (the send thread's
//! reads, routing set-up) is not ported, so `Device::create` fails with EOPNOTSUPP here. Everything else
//! runs (the UDP sockets, the receive and send pipelines, timers, UAPI's codec): a device created with
//! `Device::create_with_inner` is a working data plane on Windows.

pub(crate) mod tun_io {
    use crate::device::{DeviceConfig, Tun};
    use crate::error::{Error, Result};
    use std::io;
    use tun_rs::SyncDevice;

    pub(crate) fn build_tun(_config: &DeviceConfig) -> Result<SyncDevice> {
        Err(Error::unsupported(
            "wiretun cannot create a TUN device on Windows yet (Linux and macOS only); \
             a rootless tunnel (netstack) works here",
        ))
    }

    pub(crate) struct TunReader;

    impl TunReader {
        pub fn new() -> Self {
            TunReader
        }

        pub fn read(&mut self, _tun: &Tun) -> io::Result<usize> {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no TUN on Windows yet",
            ))
        }

        pub fn packets(&mut self, _n: usize, _mtu: usize) -> impl Iterator<Item = &[u8]> {
            std::iter::empty()
        }
    }
}
