//! One TCP connection's life on the stack thread: its phases, and the step that advances it each pass.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};

use crate::api::{Reply, TcpConn};
use crate::endpoints::ListenerEntry;
use crate::error;
use crate::pages::Rings;
use crate::recovery::PeerTrack;
use crate::shared::Shared;
use crate::splice::{Splice, Step};

/// How long a handshake a listener started may take, and how long a connection nobody owns any more may go
/// without the peer acknowledging anything while it finishes closing (delivering what is still queued,
/// FIN retransmits) before it is reset.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const LINGER: Duration = Duration::from_secs(60);

pub(crate) enum Phase {
    /// A listening socket made for a SYN that smoltcp has not taken yet.
    Listening {
        listener: usize,
    },
    Handshake {
        listener: usize,
        deadline: Instant,
    },
    Dialing {
        reply: Reply<TcpConn>,
        deadline: Instant,
    },
    /// A `TcpConn` handle owns it.
    Owned,
    Spliced(Box<Splice>),
    /// Nobody owns it; it is removed once smoltcp is done with it (RST sent, or closed and out of TIME-WAIT).
    Closing {
        deadline: Instant,
    },
}

pub(crate) struct Conn {
    pub handle: SocketHandle,
    pub local: SocketAddr,
    /// Set once the 4-tuple is known (at dial, or once a SYN was taken).
    pub remote: Option<SocketAddr>,
    /// A dial's ephemeral port, freed with the connection; accepted connections share their listener's.
    pub owns_port: bool,
    pub rst_seen: bool,
    pub track: PeerTrack,
    pub phase: Phase,
    /// Dropped after the socket: see `TcpTable::remove`.
    pub _rings: Rings,
}

/// What a service pass found, for the stack thread's next sleep.
#[derive(Default)]
pub(crate) struct Pass {
    pub busy: bool,
    pub deadline: Option<Instant>,
}

impl Pass {
    pub fn wake_at(&mut self, t: Instant) {
        self.deadline = Some(self.deadline.map_or(t, |d| d.min(t)));
    }
}

/// Whether the handshake is behind this state. Not just ESTABLISHED: the handshake's last segment can come
/// with data and a FIN in one batch, so a pass may first see the connection already closing; it was still
/// made (and its data is there to read), as it would be on an OS stack's accept queue.
fn synchronized(state: State) -> bool {
    matches!(
        state,
        State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait
            | State::Closing
            | State::LastAck
            | State::TimeWait
    )
}

/// Advances one connection; true: remove it now.
pub(crate) fn step(
    id: usize,
    conn: &mut Conn,
    sock: &mut tcp::Socket<'static>,
    shared: &Arc<Shared>,
    listeners: &mut HashMap<usize, ListenerEntry>,
    now: Instant,
    pass: &mut Pass,
) -> bool {
    let state = sock.state();
    match &mut conn.phase {
        Phase::Listening { .. } | Phase::Owned => false,
        Phase::Handshake { listener, deadline } => {
            let lid = *listener;
            let l = listeners.get_mut(&lid);
            if synchronized(state) {
                let remote = conn.remote.expect("handshake has a tuple");
                conn.phase = Phase::Owned;
                conn.track.handshake_done(now);
                if let Some(l) = l {
                    l.handshakes -= 1;
                    (l.deliver)(TcpConn::new(shared.clone(), id, conn.local, remote));
                }
                false
            } else if matches!(state, State::Closed | State::Listen) || now >= *deadline {
                // An RST during the handshake sends smoltcp's socket back to LISTEN; it is not ours to keep.
                if let Some(l) = l {
                    l.handshakes -= 1;
                }
                sock.abort();
                conn.phase = Phase::Closing {
                    deadline: now + LINGER,
                };
                false
            } else {
                pass.wake_at(*deadline);
                false
            }
        }
        Phase::Dialing { deadline, .. } => {
            let deadline = *deadline;
            let failed = match state {
                s if synchronized(s) => None,
                State::Closed => Some(if conn.rst_seen || deadline > now {
                    error::refused(conn.remote.expect("dial has a tuple"))
                } else {
                    error::connect_timed_out(conn.remote.expect("dial has a tuple"))
                }),
                _ if now >= deadline => {
                    sock.abort();
                    Some(error::connect_timed_out(
                        conn.remote.expect("dial has a tuple"),
                    ))
                }
                _ => {
                    pass.wake_at(deadline);
                    return false;
                }
            };
            let closed = state == State::Closed;
            conn.track.handshake_done(now);
            let next = if failed.is_some() {
                Phase::Closing {
                    deadline: now + LINGER,
                }
            } else {
                Phase::Owned
            };
            let Phase::Dialing { reply, .. } = std::mem::replace(&mut conn.phase, next) else {
                unreachable!()
            };
            match failed {
                None => reply(Ok(TcpConn::new(
                    shared.clone(),
                    id,
                    conn.local,
                    conn.remote.expect("dial tuple"),
                ))),
                Some(e) => reply(Err(e)),
            }
            closed && sock.remote_endpoint().is_none()
        }
        Phase::Spliced(s) => match s.service(sock, &shared.poller) {
            Step::Busy => {
                pass.busy = true;
                false
            }
            Step::Idle => false,
            Step::Done(outcome) => {
                let Phase::Spliced(s) = std::mem::replace(
                    &mut conn.phase,
                    Phase::Closing {
                        deadline: now + LINGER,
                    },
                ) else {
                    unreachable!()
                };
                s.finish(outcome, sock, &shared.poller, conn.rst_seen);
                false
            }
        },
        Phase::Closing { deadline } => {
            // A clean end of a splice leaves data queued (up to the send buffer) that the stack still delivers:
            // only a peer that stopped acknowledging is given up on.
            let deadline = (*deadline).max(conn.track.progress_at() + LINGER);
            if state == State::Closed && sock.remote_endpoint().is_none() {
                true
            } else if now >= deadline {
                // Stuck closing (a peer that never acknowledges our FIN): reset it; the next pass, after the
                // RST went out, removes it.
                let already = state == State::Closed;
                sock.abort();
                already
            } else {
                pass.wake_at(deadline);
                false
            }
        }
    }
}
