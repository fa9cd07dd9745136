//! Handles given to users of the stack: connections, listeners, and results still to come.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use crate::error;
use crate::os::{os_pair, OsStream};
use crate::shared::{Command, Shared};

pub(crate) type Reply<T> = Box<dyn FnOnce(io::Result<T>) + Send>;
pub(crate) type SpliceDone = Box<dyn FnOnce(SpliceEnd) + Send>;

/// A result the stack thread will produce (a dial, a ping). Dropping it does not cancel the operation.
#[derive(Debug)]
pub struct Pending<T> {
    rx: mpsc::Receiver<io::Result<T>>,
}

impl<T: Send + 'static> Pending<T> {
    pub(crate) fn new() -> (Pending<T>, Reply<T>) {
        let (tx, rx) = mpsc::sync_channel(1);
        (Pending { rx }, Box::new(move |r| drop(tx.send(r))))
    }

    /// Blocks until the result is there. Never call it from a callback the stack runs: the result could
    /// never be produced.
    pub fn wait(self) -> io::Result<T> {
        self.rx.recv().unwrap_or_else(|_| Err(error::stopped()))
    }

    /// The result if it is already there.
    pub fn try_get(&self) -> Option<io::Result<T>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(error::stopped())),
        }
    }
}

/// How a splice ended, passed to its completion.
#[derive(Debug)]
pub struct SpliceEnd {
    /// `Ok` when both directions ended with a FIN; otherwise the error of the side that failed:
    /// `ECONNRESET` when the stack peer reset, `ETIMEDOUT` when it timed out, or the OS socket's error (the
    /// stack peer then got an RST).
    pub result: io::Result<()>,
    /// Bytes read from the OS socket and queued to the stack peer.
    pub to_stack: u64,
    /// Bytes received from the stack peer and written to the OS socket.
    pub to_os: u64,
}

/// An established TCP connection of the stack, not yet spliced. Dropping it resets the connection.
pub struct TcpConn {
    shared: Arc<Shared>,
    id: usize,
    local: SocketAddr,
    remote: SocketAddr,
    live: bool,
}

impl std::fmt::Debug for TcpConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TcpConn({} -> {})", self.local, self.remote)
    }
}

impl TcpConn {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: usize,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> TcpConn {
        TcpConn {
            shared,
            id,
            local,
            remote,
            live: true,
        }
    }

    /// This end's address (a stack address).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The other end's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.remote
    }

    /// Moves bytes between this connection and `os` in both directions until both have closed or one fails,
    /// then calls `done` (run by the stack, see [`Stack`](crate::Stack): keep it short). Data the stack peer
    /// sent before the splice is delivered first.
    pub fn splice(
        mut self,
        os: impl Into<OsStream>,
        done: impl FnOnce(SpliceEnd) + Send + 'static,
    ) {
        self.live = false;
        self.shared.command(Command::Splice {
            id: self.id,
            os: os.into(),
            done: Box::new(done),
        });
    }

    /// Splices this connection to one end of a new socketpair (a loopback TCP pair on Windows) and returns the
    /// other end: a real socket any runtime can wrap, e.g. as a Node `net.Socket` from its descriptor.
    pub fn splice_pair(
        self,
        done: impl FnOnce(SpliceEnd) + Send + 'static,
    ) -> io::Result<OsStream> {
        let (ours, theirs) = os_pair()?;
        self.splice(ours, done);
        Ok(theirs)
    }

    /// Resets the connection (sends an RST).
    pub fn abort(self) {}
}

impl Drop for TcpConn {
    fn drop(&mut self) {
        if self.live {
            self.shared.command(Command::Abort(self.id));
        }
    }
}

/// A listening TCP port of the stack. Dropping it stops listening; connections already accepted live on.
pub struct Listener {
    shared: Arc<Shared>,
    id: usize,
    local: SocketAddr,
    accepted: Option<mpsc::Receiver<TcpConn>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Listener({})", self.local)
    }
}

impl Listener {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: usize,
        local: SocketAddr,
        accepted: Option<mpsc::Receiver<TcpConn>>,
    ) -> Listener {
        Listener {
            shared,
            id,
            local,
            accepted,
        }
    }

    /// The address listened on (an unspecified address listens on every stack address of both versions).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next established connection, blocking. Only for listeners made by
    /// [`Stack::listen_tcp`](crate::Stack::listen_tcp); one with a callback delivers there instead.
    pub fn accept(&self) -> io::Result<TcpConn> {
        let rx = self
            .accepted
            .as_ref()
            .ok_or_else(|| error::invalid("this listener delivers to a callback"))?;
        rx.recv().map_err(|_| error::stopped())
    }

    /// Like [`accept`](Self::accept), giving up with `ETIMEDOUT` after `timeout`.
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<TcpConn> {
        let rx = self
            .accepted
            .as_ref()
            .ok_or_else(|| error::invalid("this listener delivers to a callback"))?;
        rx.recv_timeout(timeout).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => error::timed_out("accept"),
            mpsc::RecvTimeoutError::Disconnected => error::stopped(),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shared.command(Command::Unlisten(self.id));
    }
}
