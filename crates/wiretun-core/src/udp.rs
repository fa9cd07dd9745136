//! The outer UDP sockets: one IPv4 and one IPv6 (v6-only) socket on the same port, batched receive through
//! quinn-udp (recvmmsg + GRO), and sends that can pick the local source address ("sticky" sources).

use crate::sock_sys::{self, errno, PollFd, RawSock};
use crate::udp_sys;
use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

const SOCKET_BUFFER: usize = 4 << 20;
const BIND_ATTEMPTS: usize = 16;

pub struct Udp {
    sock: UdpSocket,
    io: Io,
}

/// How a socket moves datagrams: batched through quinn-udp, or one per call through std where quinn-udp cannot
/// set the socket up. Its set-up queries options some Winsock providers refuse (wine answers WSAEOPNOTSUPP to
/// IPV6_V6ONLY on an IPv4 socket, and older Windows builds lack others); a slower tunnel beats none.
enum Io {
    Batched(UdpSocketState),
    Plain,
}

/// Both address families bound to one port. Replaced as a whole when the port changes.
pub struct UdpSet {
    pub port: u16,
    v4: Option<Udp>,
    v6: Option<Udp>,
}

impl Udp {
    fn bind(addr: SocketAddr, fwmark: u32) -> io::Result<Udp> {
        let domain = if addr.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        // socket2 makes it close-on-exec already (SOCK_CLOEXEC, or FD_CLOEXEC where that is missing).
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        if fwmark != 0 {
            udp_sys::set_mark(&socket, fwmark)?;
        }
        // Best effort: the kernel caps these at rmem_max/wmem_max.
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        socket.bind(&addr.into())?;
        let sock: UdpSocket = socket.into();
        let io = match UdpSocketState::new(UdpSockRef::from(&sock)) {
            Ok(state) => Io::Batched(state),
            Err(e) => {
                log::warn!("UDP {addr}: no batched I/O here ({e}); one datagram per call");
                sock.set_nonblocking(true)?;
                Io::Plain
            }
        };
        allow_fragmentation(&sock, addr.is_ipv6())?;
        Ok(Udp { sock, io })
    }

    pub fn fd(&self) -> RawSock {
        sock_sys::raw(&self.sock)
    }

    /// Receives a batch; with GRO one buffer may hold several datagrams of `meta.stride` bytes.
    pub fn recv(&self, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> io::Result<usize> {
        let Io::Batched(state) = &self.io else {
            let (len, addr) = self.sock.recv_from(&mut bufs[0])?;
            meta[0] = RecvMeta::default();
            (meta[0].addr, meta[0].len, meta[0].stride) = (addr, len, len);
            return Ok(1);
        };
        state.recv(UdpSockRef::from(&self.sock), bufs, meta)
    }

    fn max_gso_segments(&self) -> usize {
        match &self.io {
            Io::Batched(state) => state.max_gso_segments(),
            Io::Plain => 1,
        }
    }

    fn try_send(
        &self,
        dst: SocketAddr,
        src: Option<IpAddr>,
        data: &[u8],
        segment: usize,
    ) -> io::Result<()> {
        let transmit = Transmit {
            destination: dst,
            ecn: None,
            contents: data,
            // Several datagrams of `segment` bytes (the last may be shorter) in one UDP_SEGMENT send.
            segment_size: (data.len() > segment).then_some(segment),
            src_ip: src,
        };
        let Io::Batched(state) = &self.io else {
            return self.send_plain(dst, data, segment);
        };
        loop {
            match state.try_send(UdpSockRef::from(&self.sock), &transmit) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(self.fd())?,
                other => return other,
            }
        }
    }

    /// One datagram per call, from the source address the kernel picks.
    fn send_plain(&self, dst: SocketAddr, data: &[u8], segment: usize) -> io::Result<()> {
        for datagram in data.chunks(segment.max(1)) {
            loop {
                match self.sock.send_to(datagram, dst) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(self.fd())?,
                    other => break other.map(drop)?,
                }
            }
        }
        Ok(())
    }

    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        udp_sys::set_mark(&socket2::SockRef::from(&self.sock), mark)
    }
}

/// Lets the kernel fragment outer datagrams (the option differs per platform, see udp_sys).
fn allow_fragmentation(sock: &UdpSocket, v6: bool) -> io::Result<()> {
    let (level, name, value) = udp_sys::fragmentation_option(v6);
    sock_sys::set_int_option(sock, level, name, value)
}

/// The socket buffer is full: wait (bounded) instead of dropping, so a burst is paced rather than lost.
fn wait_writable(fd: RawSock) -> io::Result<()> {
    match sock_sys::poll(&mut [PollFd::writable(fd)], 100)? {
        0 => Err(io::Error::from(io::ErrorKind::WouldBlock)),
        _ => Ok(()),
    }
}

/// What a send did with the sticky source address.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Ok,
    /// The source address we answered from is gone; the datagram left from a kernel-chosen address and
    /// the caller should forget the old one.
    SourceCleared,
}

impl UdpSet {
    /// Binds IPv4 and IPv6 to `port`; port 0 picks one free in both families.
    pub fn bind(port: u16, fwmark: u32) -> io::Result<UdpSet> {
        let attempts = if port == 0 { BIND_ATTEMPTS } else { 1 };
        let mut last = io::Error::from(io::ErrorKind::AddrInUse);
        for _ in 0..attempts {
            match Self::bind_once(port, fwmark) {
                Ok(set) => return Ok(set),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn bind_once(port: u16, fwmark: u32) -> io::Result<UdpSet> {
        let v4 = Udp::bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), fwmark)?;
        let port = v4.sock.local_addr()?.port();
        let v6 = match Udp::bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), fwmark) {
            Ok(s) => Some(s),
            // IPv6 disabled in this namespace/kernel: run IPv4 only, as wireguard-go does.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(errno::AF_NOT_SUPPORTED | errno::ADDR_NOT_AVAILABLE)
                ) =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        Ok(UdpSet {
            port,
            v4: Some(v4),
            v6,
        })
    }

    pub fn sockets(&self) -> impl Iterator<Item = &Udp> {
        self.v4.iter().chain(self.v6.iter())
    }

    pub fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        self.sockets().try_for_each(|s| s.set_fwmark(mark))
    }

    /// Datagrams a single GSO send may carry to `dst` (1 when the kernel or device refuses GSO).
    pub fn max_segments(&self, dst: &SocketAddr) -> usize {
        self.socket_for(dst)
            .map_or(1, |(_, s)| s.max_gso_segments())
    }

    fn socket_for(&self, dst: &SocketAddr) -> Option<(SocketAddr, &Udp)> {
        match *dst {
            SocketAddr::V4(_) => Some((*dst, self.v4.as_ref()?)),
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => Some((SocketAddr::new(v4.into(), v6.port()), self.v4.as_ref()?)),
                None => Some((*dst, self.v6.as_ref()?)),
            },
        }
    }

    pub fn send(&self, dst: SocketAddr, src: Option<IpAddr>, data: &[u8]) -> io::Result<Sent> {
        self.send_segments(dst, src, data, data.len())
    }

    /// Sends `data` as datagrams of `segment` bytes each (GSO when it holds more than one). When the
    /// kernel refuses GSO (quinn-udp then turns it off for the socket) the datagrams go one by one.
    pub fn send_segments(
        &self,
        dst: SocketAddr,
        src: Option<IpAddr>,
        data: &[u8],
        segment: usize,
    ) -> io::Result<Sent> {
        match self.send_once(dst, src, data, segment) {
            Err(e) if data.len() > segment && e.raw_os_error() != Some(errno::WOULD_BLOCK) => {
                let mut outcome = Sent::Ok;
                for chunk in data.chunks(segment) {
                    if self.send_once(
                        dst,
                        src.filter(|_| outcome == Sent::Ok),
                        chunk,
                        chunk.len(),
                    )? != Sent::Ok
                    {
                        outcome = Sent::SourceCleared;
                    }
                }
                Ok(outcome)
            }
            other => other,
        }
    }

    fn send_once(
        &self,
        dst: SocketAddr,
        src: Option<IpAddr>,
        data: &[u8],
        segment: usize,
    ) -> io::Result<Sent> {
        let (dst, sock) = self
            .socket_for(&dst)
            .ok_or_else(|| io::Error::from_raw_os_error(errno::AF_NOT_SUPPORTED))?;
        let src = src.filter(|s| s.is_ipv4() == dst.is_ipv4());
        match sock.try_send(dst, src, data, segment) {
            Err(e) if src.is_some() && stale_source(&e) => sock
                .try_send(dst, None, data, segment)
                .map(|_| Sent::SourceCleared),
            other => other.map(|_| Sent::Ok),
        }
    }
}

fn stale_source(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(errno::INVALID | errno::ADDR_NOT_AVAILABLE | errno::NET_UNREACHABLE)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_binds_both_families_on_one_port() {
        let set = UdpSet::bind(0, 0).unwrap();
        assert_ne!(set.port, 0);
        for s in set.sockets() {
            assert_eq!(s.sock.local_addr().unwrap().port(), set.port);
        }
    }

    #[test]
    fn busy_port_is_addr_in_use() {
        let a = UdpSet::bind(0, 0).unwrap();
        let err = UdpSet::bind(a.port, 0).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn send_with_a_vanished_source_falls_back() {
        let a = UdpSet::bind(0, 0).unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let dst = b.local_addr().unwrap();
        // 192.0.2.1 is not ours: the kernel refuses it as a source, and the send must still go out.
        let gone = Some("192.0.2.1".parse().unwrap());
        assert_eq!(a.send(dst, gone, b"hello").unwrap(), Sent::SourceCleared);
        let mut buf = [0u8; 16];
        assert_eq!(b.recv(&mut buf).unwrap(), 5);
        let here = Some("127.0.0.1".parse().unwrap());
        assert_eq!(a.send(dst, here, b"again").unwrap(), Sent::Ok);
    }

    #[test]
    fn segmented_send_arrives_as_separate_datagrams() {
        let a = UdpSet::bind(0, 0).unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let dst = b.local_addr().unwrap();
        let data: Vec<u8> = (0..250u8).collect();
        a.send_segments(dst, None, &data, 100).unwrap();
        let mut buf = [0u8; 300];
        let sizes: Vec<usize> = (0..3).map(|_| b.recv(&mut buf).unwrap()).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        assert_eq!(&buf[..50], &data[200..]);
    }

    /// A socket that quinn-udp could not set up (as under wine): one datagram per call, both ways.
    #[test]
    fn plain_io_sends_segments_one_by_one_and_receives() {
        let plain = || {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.set_nonblocking(true).unwrap();
            Udp {
                sock,
                io: Io::Plain,
            }
        };
        let (a, b) = (plain(), plain());
        assert_eq!(a.max_gso_segments(), 1);
        let data: Vec<u8> = (0..250u8).collect();
        a.try_send(b.sock.local_addr().unwrap(), None, &data, 100)
            .unwrap();
        let mut store = [0u8; 300];
        let mut meta = [RecvMeta::default()];
        let mut got = vec![];
        while got.len() < 3 {
            sock_sys::poll(&mut [PollFd::readable(b.fd())], 1000).unwrap();
            let n = b
                .recv(&mut [IoSliceMut::new(&mut store)], &mut meta)
                .unwrap();
            assert_eq!((n, meta[0].addr), (1, a.sock.local_addr().unwrap()));
            assert_eq!(meta[0].stride, meta[0].len);
            got.push(store[..meta[0].len].to_vec());
        }
        assert_eq!(got.concat(), data);
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
    }
}
