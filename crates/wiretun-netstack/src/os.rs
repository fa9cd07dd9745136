//! The OS side of a splice: a stream socket of the host (TCP, or a Unix socketpair end), and the pair helper
//! that gives an in-process user a real socket whose other end the stack drives.

use std::io::{self, Read};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use socket2::SockRef;

/// A host stream socket a stack connection can be spliced to.
#[derive(Debug)]
pub enum OsStream {
    /// A TCP connection (a proxy's client, a local port forward).
    Tcp(TcpStream),
    /// One end of a Unix socketpair (what [`os_pair`] makes on Unix).
    #[cfg(unix)]
    Unix(UnixStream),
}

impl From<TcpStream> for OsStream {
    fn from(s: TcpStream) -> OsStream {
        OsStream::Tcp(s)
    }
}

#[cfg(unix)]
impl From<UnixStream> for OsStream {
    fn from(s: UnixStream) -> OsStream {
        OsStream::Unix(s)
    }
}

/// Linux and Android raise SIGPIPE on a write to a closed socket unless told not to per call; Apple has a
/// socket option instead (set in `prepare`).
#[cfg(any(target_os = "linux", target_os = "android"))]
const NO_SIGPIPE: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const NO_SIGPIPE: libc::c_int = 0;

impl OsStream {
    fn sock(&self) -> SockRef<'_> {
        match self {
            OsStream::Tcp(s) => SockRef::from(s),
            #[cfg(unix)]
            OsStream::Unix(s) => SockRef::from(s),
        }
    }

    /// Non-blocking, and never a SIGPIPE.
    pub(crate) fn prepare(&self) -> io::Result<()> {
        let sock = self.sock();
        sock.set_nonblocking(true)?;
        #[cfg(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "tvos",
            target_os = "watchos"
        ))]
        sock.set_nosigpipe(true)?;
        // On Windows TCP is the only variant.
        #[allow(irrefutable_let_patterns)]
        if let OsStream::Tcp(s) = self {
            s.set_nodelay(true)?;
        }
        Ok(())
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            OsStream::Tcp(s) => (&*s).read(buf),
            #[cfg(unix)]
            OsStream::Unix(s) => (&*s).read(buf),
        }
    }

    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(unix)]
        return self.sock().send_with_flags(buf, NO_SIGPIPE);
        #[cfg(not(unix))]
        return self.sock().send(buf);
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            OsStream::Tcp(s) => s.shutdown(Shutdown::Write),
            #[cfg(unix)]
            OsStream::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    /// Closes the socket so its peer sees a reset: a TCP peer gets an RST (linger 0). A Unix stream has no
    /// reset; its peer sees end of file, and the splice's completion carries the error instead.
    pub(crate) fn close_with_reset(self) {
        #[allow(irrefutable_let_patterns)]
        if let OsStream::Tcp(s) = &self {
            let _ = SockRef::from(s).set_linger(Some(std::time::Duration::ZERO));
        }
    }

    /// Gives up ownership of the descriptor (the caller closes it), e.g. to hand it to Node as a `net.Socket`.
    #[cfg(unix)]
    pub fn into_raw_fd(self) -> std::os::fd::RawFd {
        use std::os::fd::IntoRawFd;
        match self {
            OsStream::Tcp(s) => s.into_raw_fd(),
            OsStream::Unix(s) => s.into_raw_fd(),
        }
    }

    /// Gives up ownership of the socket handle (the caller closes it).
    #[cfg(windows)]
    pub fn into_raw_socket(self) -> std::os::windows::io::RawSocket {
        use std::os::windows::io::IntoRawSocket;
        match self {
            OsStream::Tcp(s) => s.into_raw_socket(),
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for OsStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            OsStream::Tcp(s) => s.as_fd(),
            OsStream::Unix(s) => s.as_fd(),
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for OsStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.as_fd().as_raw_fd()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsRawSocket for OsStream {
    fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
        use std::os::windows::io::AsSocket;
        self.as_socket().as_raw_socket()
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsSocket for OsStream {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        match self {
            OsStream::Tcp(s) => s.as_socket(),
        }
    }
}

/// Two connected stream sockets: one to splice, one to hand out. A Unix socketpair where there is one; on
/// Windows a loopback TCP connection (checked to be between the two sockets made here, not a stranger that
/// raced to the listener).
pub fn os_pair() -> io::Result<(OsStream, OsStream)> {
    #[cfg(unix)]
    {
        let (a, b) = UnixStream::pair()?;
        Ok((a.into(), b.into()))
    }
    #[cfg(not(unix))]
    {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let a = TcpStream::connect(listener.local_addr()?)?;
        loop {
            let (b, from) = listener.accept()?;
            if from == a.local_addr()? {
                return Ok((a.into(), b.into()));
            }
        }
    }
}

/// How long [`LoopbackPair::adopt`] waits for the connection its caller says it has made.
const ADOPT_WAIT: Duration = Duration::from_secs(2);

/// The other way to hand out a socket, for where a descriptor cannot be handed over (Node on Windows wraps
/// only CRT descriptors): a loopback TCP listener the in-process user connects to itself, which then names
/// the local port it connected from. Only that connection is adopted; anything else that reaches the
/// listener first is closed, so another local process cannot take the stream's place.
#[derive(Debug)]
pub struct LoopbackPair {
    listener: TcpListener,
}

impl LoopbackPair {
    /// A listener on 127.0.0.1, on a free port.
    pub fn new() -> io::Result<LoopbackPair> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        Ok(LoopbackPair { listener })
    }

    /// The port to connect to.
    pub fn port(&self) -> io::Result<u16> {
        Ok(self.listener.local_addr()?.port())
    }

    /// The accepted end of the connection from `127.0.0.1:peer_port`. The caller's connect has completed,
    /// so the connection is queued already; the wait only covers a slow accept queue.
    pub fn adopt(&self, peer_port: u16) -> io::Result<OsStream> {
        let until = Instant::now() + ADOPT_WAIT;
        while Instant::now() < until {
            match self.listener.accept() {
                Ok((s, from)) if from.ip().is_loopback() && from.port() == peer_port => {
                    return Ok(s.into())
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no connection from loopback port {peer_port}"),
        ))
    }
}
