//! One stack TCP connection spliced to one OS stream socket: bytes both ways with flow control, half-closes
//! forwarded as FIN / `shutdown(SHUT_WR)`, and a reset on either side turned into a reset on the other.
//!
//! Flow control falls out of the buffers: the OS socket is read straight into the free part of the stack
//! socket's send ring, and only while it has room, so a slow stack peer fills the ring and the OS socket's own
//! buffers, and the OS peer is throttled by its TCP window. The other way, the stack's receive ring is written
//! straight to the OS socket; while the OS socket refuses, the ring fills and the window the stack advertises
//! closes. One copy each way, no intermediate buffer.
//!
//! Readiness comes from the poller in oneshot mode: `readable`/`writable` record what the OS socket last said
//! (an event sets them, `WouldBlock` clears them), and interest is armed only for what is both unknown and
//! wanted, so a socket whose stack side is full costs no wake-ups.

use std::io::{self, ErrorKind};

use polling::{Event, Poller};

use crate::api::{SpliceDone, SpliceEnd};
use crate::error;
use crate::os::OsStream;
use crate::stack_socket::StackSocket;

/// Most bytes moved per direction in one pass, so one busy connection cannot starve the others or delay
/// ACK processing for long.
const BUDGET: usize = 256 << 10;

pub(crate) struct Splice {
    os: OsStream,
    key: usize,
    armed: (bool, bool),
    readable: bool,
    writable: bool,
    /// The OS side sent EOF; the stack side has been closed (FIN queued after the data), or will be once
    /// `fin_held` clears.
    os_eof: bool,
    /// The FIN is held back until the send queue drains (see `close_stack`).
    fin_held: bool,
    /// The stack peer's FIN has been seen.
    stack_fin: bool,
    /// The stack peer's FIN has been passed on: the OS socket is shut down for writing.
    os_shut: bool,
    /// Received data rescued from the stack socket when TIME-WAIT would discard it (see `rescue`).
    tail: Vec<u8>,
    to_stack: u64,
    to_os: u64,
    done: SpliceDone,
}

/// What a pass over a splice found.
pub(crate) enum Step {
    /// Moved a full budget: more may be waiting, poll again without sleeping.
    Busy,
    Idle,
    /// Both directions are finished or one side failed. The splice is over; `finish` reports it.
    Done(Outcome),
}

pub(crate) enum Outcome {
    /// Both directions ended with a FIN.
    Clean,
    /// The stack connection closed without a FIN exchange: an RST, or a keep-alive timeout.
    StackGone,
    /// Reading or writing the OS socket failed (its peer reset or vanished); the stack side gets an RST.
    Os(io::Error),
}

impl Splice {
    pub fn new(
        os: OsStream,
        key: usize,
        done: SpliceDone,
        poller: &Poller,
    ) -> Result<Splice, (io::Error, SpliceDone)> {
        if let Err(e) = os.prepare() {
            return Err((e, done));
        }
        // SAFETY: the socket stays registered only while `os` is owned here; `finish` deletes it first.
        if let Err(e) = unsafe { poller.add(&os, Event::none(key)) } {
            return Err((e, done));
        }
        Ok(Splice {
            os,
            key,
            armed: (false, false),
            readable: true,
            writable: true,
            os_eof: false,
            fin_held: false,
            stack_fin: false,
            os_shut: false,
            tail: Vec::new(),
            to_stack: 0,
            to_os: 0,
            done,
        })
    }

    /// A readiness event for this splice's OS socket. Oneshot: the registration is disarmed now.
    pub fn on_event(&mut self, ev: &Event) {
        self.armed = (false, false);
        self.readable |= ev.readable;
        self.writable |= ev.writable;
    }

    pub fn service(&mut self, sock: &mut impl StackSocket, poller: &Poller) -> Step {
        if sock.peer_fin() {
            self.stack_fin = true;
        }
        if sock.time_wait() {
            self.rescue(sock);
        }
        let mut busy = false;
        match self.stack_to_os(sock) {
            Ok(moved) => busy |= moved >= BUDGET,
            Err(e) => return Step::Done(Outcome::Os(e)),
        }
        if self.stack_fin && !self.os_shut && self.tail.is_empty() && !sock.can_recv() {
            // A failed shutdown means the OS peer is gone; the next read or write reports it.
            let _ = self.os.shutdown_write();
            self.os_shut = true;
        }
        if self.fin_held && (sock.send_queue() == 0 || !sock.close_wait()) {
            self.fin_held = false;
            sock.close();
        }
        if self.os_eof && self.os_shut && !self.fin_held {
            return Step::Done(Outcome::Clean);
        }
        // Closed without both FINs (an RST, a timeout), or with OS data still to send: nothing more can reach
        // the stack peer. Closed after both FINs only has received data left to drain.
        if sock.closed() && !(self.os_eof && self.stack_fin) {
            return Step::Done(Outcome::StackGone);
        }
        match self.os_to_stack(sock) {
            Ok(moved) => busy |= moved >= BUDGET,
            Err(e) => return Step::Done(Outcome::Os(e)),
        }
        self.arm(sock, poller);
        if busy {
            Step::Busy
        } else {
            Step::Idle
        }
    }

    /// TIME-WAIT ends with smoltcp resetting the socket, buffers included, after 10 s. Data still unread then
    /// (an OS peer reading slowly) would be lost, so it moves to the heap first.
    fn rescue(&mut self, sock: &mut impl StackSocket) {
        while sock.can_recv() {
            let tail = &mut self.tail;
            if sock
                .recv_with(|buf| (buf.len(), tail.extend_from_slice(buf)))
                .is_none()
            {
                break;
            }
        }
    }

    fn stack_to_os(&mut self, sock: &mut impl StackSocket) -> io::Result<usize> {
        let mut moved = 0;
        while self.writable && !self.tail.is_empty() && moved < BUDGET {
            match self.os.write(&self.tail) {
                Ok(n) => {
                    self.tail.drain(..n);
                    moved += n;
                }
                Err(e) => self.write_failed(e)?,
            }
        }
        while self.writable && self.tail.is_empty() && sock.can_recv() && moved < BUDGET {
            let os = &self.os;
            match sock.recv_with(|buf| match os.write(buf) {
                Ok(n) => (n, Ok(n)),
                Err(e) => (0, Err(e)),
            }) {
                Some(Ok(n)) => moved += n,
                Some(Err(e)) => self.write_failed(e)?,
                None => break,
            }
        }
        self.to_os += moved as u64;
        Ok(moved)
    }

    fn write_failed(&mut self, e: io::Error) -> io::Result<()> {
        match e.kind() {
            ErrorKind::WouldBlock => {
                self.writable = false;
                Ok(())
            }
            ErrorKind::Interrupted => Ok(()),
            _ => Err(e),
        }
    }

    fn os_to_stack(&mut self, sock: &mut impl StackSocket) -> io::Result<usize> {
        let mut moved = 0;
        while self.readable && !self.os_eof && sock.can_send() && moved < BUDGET {
            let os = &self.os;
            let read = sock.send_with(|buf| match os.read(buf) {
                Ok(n) => (n, Ok(n)),
                Err(e) => (0, Err(e)),
            });
            match read {
                Some(Ok(0)) => {
                    self.os_eof = true;
                    self.close_stack(sock);
                }
                Some(Ok(n)) => moved += n,
                Some(Err(e)) if e.kind() == ErrorKind::WouldBlock => self.readable = false,
                Some(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        self.to_stack += moved as u64;
        Ok(moved)
    }

    /// Sends the FIN after the data. Except when the peer has already sent its own FIN and data is still
    /// queued: closing would move smoltcp to LAST-ACK, where it answers duplicate ACKs with a challenge ACK
    /// instead of counting them, so no fast retransmit (and none of `recovery`'s help) would recover a loss
    /// among the queued data; each would cost a retransmission timeout. The FIN waits in CLOSE-WAIT until
    /// the queue has drained, at the cost of one round trip for the FIN.
    fn close_stack(&mut self, sock: &mut impl StackSocket) {
        if sock.close_wait() && sock.send_queue() > 0 {
            self.fin_held = true;
        } else {
            sock.close();
        }
    }

    /// Asks the poller about exactly what is unknown and would be acted on.
    fn arm(&mut self, sock: &impl StackSocket, poller: &Poller) {
        let want_read = !self.readable && !self.os_eof && sock.can_send();
        let want_write = !self.writable && (sock.can_recv() || !self.tail.is_empty());
        let (armed_read, armed_write) = self.armed;
        if (want_read && !armed_read) || (want_write && !armed_write) {
            let (r, w) = (want_read || armed_read, want_write || armed_write);
            let mut ev = Event::none(self.key);
            ev.readable = r;
            ev.writable = w;
            if poller.modify(&self.os, ev).is_ok() {
                self.armed = (r, w);
            }
        }
    }

    /// Ends the splice: the OS socket leaves the poller and is closed (with a reset if the stack side was
    /// reset), the stack socket is aborted if the OS side failed, and the completion is called.
    pub fn finish(
        self,
        outcome: Outcome,
        sock: &mut impl StackSocket,
        poller: &Poller,
        stack_reset: bool,
    ) {
        let _ = poller.delete(&self.os);
        let Splice {
            os,
            done,
            to_stack,
            to_os,
            ..
        } = self;
        let (result, reset_os) = match outcome {
            Outcome::Clean => (Ok(()), false),
            Outcome::StackGone => (
                Err(if stack_reset {
                    error::reset()
                } else {
                    error::timed_out("connection")
                }),
                true,
            ),
            Outcome::Os(e) => {
                sock.abort();
                (Err(e), false)
            }
        };
        // The completion first: a binding holding the other end of a socketpair learns the error before it
        // sees the end of file that closing produces.
        done(SpliceEnd {
            result,
            to_stack,
            to_os,
        });
        if reset_os {
            os.close_with_reset();
        }
    }

    /// Ends the splice because the stack is stopping.
    pub fn abandon(self, poller: &Poller) {
        let _ = poller.delete(&self.os);
        let Splice {
            os,
            done,
            to_stack,
            to_os,
            ..
        } = self;
        done(SpliceEnd {
            result: Err(error::aborted("the network stack stopped")),
            to_stack,
            to_os,
        });
        os.close_with_reset();
    }
}
