//! One UAPI connection: bytes in, requests out, replies back, without blocking the server thread. A request
//! is its lines up to a blank line. A set is parsed as its lines arrive and applied at the blank line; a get
//! reply is written a few peers at a time, so neither a huge request nor a huge reply is ever held whole.

use super::get::{write_peer, DeviceState};
use super::set::{apply, summary, SetParser};
use super::values::{shown, UapiError, EINVAL};
use super::UapiDevice;
use crate::Event;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// No line is that long; a client that sends one is cut off.
const MAX_LINE: usize = 1 << 20;
/// Read at most this much per wake-up, so one busy client does not starve the others.
const READ_BUDGET: usize = 1 << 20;
/// Reply bytes formatted ahead of the socket.
const OUT_CHUNK: usize = 64 * 1024;
/// A set this large leaves megabytes of freed parse buffers in the allocator; they are handed back.
const LARGE_REQUEST_LINES: usize = 2000;

enum Request {
    Get {
        trailing: bool,
    },
    Set(SetParser),
    /// Unknown operation (its first characters, for the message); its lines are skipped.
    Other(String),
}

/// A get reply still being written: the snapshot and the next peer to format.
struct GetCursor {
    state: DeviceState,
    next: usize,
}

pub(super) struct Conn {
    stream: UnixStream,
    input: Vec<u8>,
    /// Start of the unprocessed part of `input`.
    pos: usize,
    request: Option<Request>,
    out: String,
    sent: usize,
    get: Option<GetCursor>,
    eof: bool,
    closed: bool,
}

impl Conn {
    pub fn new(stream: UnixStream) -> io::Result<Conn> {
        stream.set_nonblocking(true)?;
        no_sigpipe(&stream)?;
        Ok(Conn {
            stream,
            input: Vec::new(),
            pos: 0,
            request: None,
            out: String::new(),
            sent: 0,
            get: None,
            eof: false,
            closed: false,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn replying(&self) -> bool {
        self.sent < self.out.len() || self.get.is_some()
    }

    /// What to wait for: room to write while a reply is pending, else the next request.
    pub fn interest(&self) -> i16 {
        if self.replying() {
            libc::POLLOUT
        } else {
            libc::POLLIN
        }
    }

    pub fn ready(&mut self, revents: i16, dev: &dyn UapiDevice) {
        if revents & libc::POLLNVAL != 0 {
            self.closed = true;
            return;
        }
        if !self.replying() {
            self.read();
        }
        self.step(dev);
    }

    fn read(&mut self) {
        let mut buf = [0u8; 64 * 1024];
        let mut budget = READ_BUDGET;
        while budget > 0 && !self.eof {
            match (&self.stream).read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.input.extend_from_slice(&buf[..n]);
                    budget = budget.saturating_sub(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.closed = true;
                    break;
                }
            }
        }
    }

    /// Handles every complete line while no reply is pending, then ends the connection at end of input
    /// (an unfinished request is dropped unapplied).
    fn step(&mut self, dev: &dyn UapiDevice) {
        let mut partial = false;
        while !self.closed && self.flush() {
            let Some(nl) = self.input[self.pos..].iter().position(|&b| b == b'\n') else {
                partial = true;
                break;
            };
            let end = self.pos + nl;
            let line = String::from_utf8_lossy(&self.input[self.pos..end]).into_owned();
            self.pos = end + 1;
            self.line(&line, dev);
        }
        self.input.drain(..self.pos);
        self.pos = 0;
        if (partial && self.input.len() > MAX_LINE) || (self.eof && !self.replying()) {
            self.closed = true;
        }
    }

    fn line(&mut self, line: &str, dev: &dyn UapiDevice) {
        if line.is_empty() {
            return self.finish(dev);
        }
        match &mut self.request {
            None => {
                self.request = Some(match line {
                    "get=1" => Request::Get { trailing: false },
                    "set=1" => Request::Set(SetParser::new()),
                    op => Request::Other(op.chars().take(40).collect()),
                })
            }
            Some(Request::Get { trailing }) => *trailing = true,
            Some(Request::Set(parser)) => parser.line(line),
            Some(Request::Other(_)) => {}
        }
    }

    /// The blank line: answer the request.
    fn finish(&mut self, dev: &dyn UapiDevice) {
        match self.request.take() {
            // wireguard-go answers EINVAL when anything but the blank line follows get=1.
            Some(Request::Get { trailing: true }) => self.refuse(
                dev,
                "get=1",
                UapiError::new(EINVAL, "trailing data after get=1"),
            ),
            Some(Request::Get { trailing: false }) => {
                let state = DeviceState::read(dev);
                state.write_head(&mut self.out);
                self.get = Some(GetCursor { state, next: 0 });
            }
            Some(Request::Set(parser)) => {
                let large = parser.lines() > LARGE_REQUEST_LINES;
                let outcome = parser.finish().and_then(|change| {
                    apply(dev, &change)?;
                    Ok(summary(&change))
                });
                match outcome {
                    Ok(summary) => {
                        dev.report(Event::UapiSet { summary });
                        self.out.push_str("errno=0\n\n");
                    }
                    Err(e) => self.refuse(dev, "set=1", e),
                }
                if large {
                    give_back_freed_memory();
                }
            }
            // Like wireguard-go: an unknown operation ends the connection without a reply.
            other => {
                let op = match other {
                    Some(Request::Other(op)) => op,
                    _ => String::new(),
                };
                dev.report(Event::UapiError {
                    message: format!("UAPI: invalid operation {}", shown(&op, 40)),
                });
                self.closed = true;
            }
        }
    }

    fn refuse(&mut self, dev: &dyn UapiDevice, op: &str, e: UapiError) {
        dev.report(Event::UapiError {
            message: format!("UAPI {op}: {}", e.message),
        });
        self.out.push_str(&format!("errno={}\n\n", e.errno));
    }

    /// Writes what is pending, formatting more of a get reply as room appears. True once nothing is left.
    fn flush(&mut self) -> bool {
        loop {
            self.format_more();
            if self.sent == self.out.len() {
                self.out.clear();
                self.sent = 0;
                return true;
            }
            match send(self.fd(), &self.out.as_bytes()[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => {
                    self.closed = true;
                    return false;
                }
            }
        }
    }

    /// Tops the unsent part of a get reply up to OUT_CHUNK; the errno line goes after the last peer.
    fn format_more(&mut self) {
        let Some(cursor) = &mut self.get else {
            return;
        };
        if self.out.len() - self.sent >= OUT_CHUNK {
            return;
        }
        self.out.drain(..self.sent);
        self.sent = 0;
        let peers = &cursor.state.peers;
        while self.out.len() < OUT_CHUNK && cursor.next < peers.len() {
            write_peer(&peers[cursor.next], &mut self.out);
            cursor.next += 1;
        }
        if cursor.next == peers.len() {
            self.out.push_str("errno=0\n\n");
            self.get = None;
        }
    }
}

/// Writing to a client that went away must be an EPIPE, not a SIGPIPE for the whole process.
fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    #[cfg(not(target_vendor = "apple"))]
    let flags = libc::MSG_NOSIGNAL;
    #[cfg(target_vendor = "apple")]
    let flags = 0;
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(target_vendor = "apple")]
fn no_sigpipe(stream: &UnixStream) -> io::Result<()> {
    let one: libc::c_int = 1;
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NOSIGPIPE,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_vendor = "apple"))]
fn no_sigpipe(_stream: &UnixStream) -> io::Result<()> {
    Ok(())
}

/// glibc keeps freed memory in its arenas; malloc_trim hands whole free pages back to the system.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}
