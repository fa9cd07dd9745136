//! Windows: the crate builds (keys, configuration, the napi binding) but there is no data plane yet.
//! tun-rs can open wintun devices; what is not ported is the I/O around them (polling the sockets, a
//! waker, the UDP socket options). `Device::create` fails with EOPNOTSUPP in `tun_io::build_tun`, before
//! anything else here is reached: these stand-ins only give the shared code (device.rs, send.rs,
//! timers.rs) the types it names.

use std::io;

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the wiretun data plane does not run on Windows yet",
    )
}

pub(crate) mod tun_io {
    use crate::device::{DeviceConfig, Tun};
    use crate::error::{Error, Result};
    use std::io;
    use tun_rs::SyncDevice;

    pub(crate) fn build_tun(_config: &DeviceConfig) -> Result<SyncDevice> {
        Err(Error::unsupported(
            "wiretun cannot create a device on Windows yet (Linux and macOS only)",
        ))
    }

    pub(crate) struct TunReader;

    impl TunReader {
        pub fn new() -> Self {
            TunReader
        }

        pub fn read(&mut self, _tun: &Tun) -> io::Result<usize> {
            Err(super::unsupported())
        }

        pub fn packets(&self, _n: usize) -> impl Iterator<Item = &[u8]> {
            std::iter::empty()
        }
    }
}

pub(crate) mod udp {
    use std::io;
    use std::net::{IpAddr, SocketAddr};

    #[derive(Debug, PartialEq, Eq)]
    pub enum Sent {
        Ok,
        SourceCleared,
    }

    pub struct UdpSet {
        pub port: u16,
    }

    impl UdpSet {
        pub fn bind(_port: u16, _fwmark: u32) -> io::Result<UdpSet> {
            Err(super::unsupported())
        }

        pub fn set_fwmark(&self, _mark: u32) -> io::Result<()> {
            Err(super::unsupported())
        }

        pub fn max_segments(&self, _dst: &SocketAddr) -> usize {
            1
        }

        pub fn send_segments(
            &self,
            _dst: SocketAddr,
            _src: Option<IpAddr>,
            _data: &[u8],
            _segment: usize,
        ) -> io::Result<Sent> {
            Err(super::unsupported())
        }
    }
}

pub(crate) mod wake {
    use std::io;

    pub(crate) struct Waker;

    impl Waker {
        pub fn new() -> io::Result<Waker> {
            Err(super::unsupported())
        }

        pub fn wake(&self) {}
    }
}

pub(crate) mod receive {
    use crate::device::Shared;
    use std::sync::Arc;

    pub(crate) fn run(_shared: Arc<Shared>) {}
}
