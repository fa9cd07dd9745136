//! What the stack thread shares with everyone else: a command queue, the queue of injected packets, and the
//! waker that ends the thread's sleep. (The engine itself has a lock of its own, `Stack::engine`: an
//! injecting thread that takes it turns instead of waking the stack thread.)
//!
//! Both queues sit behind one mutex that is held only to push or to swap contents out, never while anything
//! else runs. The waker is the poller's own `notify` (an eventfd or pipe on Unix, a completion packet on
//! Windows), so one wait covers OS socket readiness, new work and the next TCP timer. `notified` makes a burst
//! of pushes cost one notify: only the push that finds it clear notifies, and the stack thread clears it right
//! before taking the queues, so a push after the take always wakes the next wait.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use polling::Poller;

use crate::api::{Reply, SpliceDone, SpliceEnd, TcpConn};
use crate::error;
use crate::os::OsStream;
use crate::sink::PacketSink;
use crate::stats::Counters;
use crate::udp::Datagram;

/// Spare injection buffers kept between batches.
const SPARE: usize = 1024;

pub(crate) enum Command {
    Dial {
        remote: SocketAddr,
        timeout: Duration,
        reply: Reply<TcpConn>,
    },
    Listen {
        local: SocketAddr,
        deliver: Box<dyn FnMut(TcpConn) + Send>,
        reply: Reply<(usize, SocketAddr)>,
    },
    Unlisten(usize),
    Abort(usize),
    Splice {
        id: usize,
        os: OsStream,
        done: SpliceDone,
    },
    UdpBind {
        local: SocketAddr,
        deliver: Box<dyn FnMut(Datagram) + Send>,
        reply: Reply<(usize, SocketAddr)>,
    },
    UdpSend {
        id: usize,
        dst: SocketAddr,
        data: Vec<u8>,
    },
    UdpClose(usize),
    Ping {
        dst: IpAddr,
        timeout: Duration,
        reply: Reply<Duration>,
    },
    Stop,
}

impl Command {
    /// Completes whatever the command was waiting for with `err`.
    pub fn fail(self, err: std::io::Error) {
        match self {
            Command::Dial { reply, .. } => reply(Err(err)),
            Command::Listen { reply, .. } | Command::UdpBind { reply, .. } => reply(Err(err)),
            Command::Ping { reply, .. } => reply(Err(err)),
            Command::Splice { done, .. } => done(SpliceEnd {
                result: Err(err),
                to_stack: 0,
                to_os: 0,
            }),
            _ => {}
        }
    }
}

#[derive(Default)]
struct Queues {
    commands: Vec<Command>,
    inbound: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    stopped: bool,
}

impl Queues {
    /// Moves the injected packets to `inbound` (behind what it still holds) and keeps spent buffers as spares.
    fn hand_over(&mut self, inbound: &mut VecDeque<Vec<u8>>, spent: &mut Vec<Vec<u8>>) {
        if inbound.is_empty() {
            std::mem::swap(&mut self.inbound, inbound);
        } else {
            inbound.extend(self.inbound.drain(..));
        }
        let room = SPARE.saturating_sub(self.spare.len());
        self.spare.extend(spent.drain(..).take(room));
    }
}

pub(crate) struct Shared {
    pub poller: Poller,
    notified: AtomicBool,
    queues: Mutex<Queues>,
    pub sink: Arc<dyn PacketSink>,
    pub counters: Arc<Counters>,
    inbound_cap: usize,
}

impl Shared {
    pub fn new(sink: Arc<dyn PacketSink>, inbound_cap: usize) -> std::io::Result<Shared> {
        Ok(Shared {
            poller: Poller::new()?,
            notified: AtomicBool::new(false),
            queues: Mutex::default(),
            sink,
            counters: Arc::default(),
            inbound_cap,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        // A panic elsewhere while holding the lock leaves plain queues behind; they are still usable.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn wake(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            let _ = self.poller.notify();
        }
    }

    /// Queues a command for the stack thread; after it stopped, completes the command with an error instead.
    pub fn command(&self, cmd: Command) {
        let mut q = self.lock();
        if q.stopped {
            drop(q);
            cmd.fail(error::stopped());
            return;
        }
        q.commands.push(cmd);
        drop(q);
        self.wake();
    }

    /// Copies packets into the inbound queue, dropping what does not fit; true if any were queued. The
    /// caller sees that they are processed (`Engine::after_inject`).
    pub fn inject(&self, packets: &mut dyn Iterator<Item = &[u8]>) -> bool {
        let (mut queued, mut bytes, mut dropped) = (0, 0, 0);
        let mut q = self.lock();
        for p in packets {
            if q.stopped || q.inbound.len() >= self.inbound_cap || p.is_empty() {
                dropped += 1;
                continue;
            }
            let mut buf = q.spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(p);
            q.inbound.push_back(buf);
            queued += 1;
            bytes += p.len();
        }
        drop(q);
        self.counters.add_rx(queued, bytes);
        if dropped > 0 {
            self.counters.add_dropped(dropped);
        }
        queued > 0
    }

    /// The stack thread's side: takes all commands and injected packets, and gives back spent buffers.
    pub fn take(
        &self,
        commands: &mut Vec<Command>,
        inbound: &mut VecDeque<Vec<u8>>,
        spent: &mut Vec<Vec<u8>>,
    ) {
        self.notified.store(false, Ordering::Release);
        let mut q = self.lock();
        std::mem::swap(&mut q.commands, commands);
        q.hand_over(inbound, spent);
    }

    /// An inline turn's side: takes the injected packets only (commands are the stack thread's) and gives
    /// back spent buffers.
    pub fn take_inbound(&self, inbound: &mut VecDeque<Vec<u8>>, spent: &mut Vec<Vec<u8>>) {
        self.lock().hand_over(inbound, spent);
    }

    /// Refuses all further work and returns the commands that were still queued.
    pub fn stop(&self) -> Vec<Command> {
        let mut q = self.lock();
        q.stopped = true;
        q.inbound.clear();
        std::mem::take(&mut q.commands)
    }
}
