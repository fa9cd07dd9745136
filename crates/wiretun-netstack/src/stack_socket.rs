//! The stack side of a splice, as the splice sees it: smoltcp's TCP socket today, and the connection of
//! our own TCP core (`tcp2`, issue 21) once the engine can run it, so one splice serves either. The
//! methods are the few the splice uses; the state questions are asked by meaning, not by smoltcp's states.

use smoltcp::socket::tcp::{self, State};

use crate::tcp2;

pub(crate) trait StackSocket {
    /// The peer's FIN has arrived: nothing more will be received after what is buffered.
    fn peer_fin(&self) -> bool;
    /// The peer finished and this side has not yet (CLOSE-WAIT).
    fn close_wait(&self) -> bool;
    fn time_wait(&self) -> bool;
    fn closed(&self) -> bool;
    fn can_recv(&self) -> bool;
    fn can_send(&self) -> bool;
    /// Bytes queued to send and not yet acknowledged.
    fn send_queue(&self) -> usize;
    /// Offers received bytes to `f`, which says how many it took; `None` when nothing can be received.
    fn recv_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> Option<R>;
    /// Offers free send space to `f`, which says how many bytes it wrote; `None` when sending is over.
    fn send_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> Option<R>;
    /// A FIN after the queued data.
    fn close(&mut self);
    fn abort(&mut self);
}

impl StackSocket for tcp::Socket<'_> {
    fn peer_fin(&self) -> bool {
        matches!(
            self.state(),
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait
        )
    }

    fn close_wait(&self) -> bool {
        self.state() == State::CloseWait
    }

    fn time_wait(&self) -> bool {
        self.state() == State::TimeWait
    }

    fn closed(&self) -> bool {
        self.state() == State::Closed
    }

    fn can_recv(&self) -> bool {
        tcp::Socket::can_recv(self)
    }

    fn can_send(&self) -> bool {
        tcp::Socket::can_send(self)
    }

    fn send_queue(&self) -> usize {
        tcp::Socket::send_queue(self)
    }

    fn recv_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> Option<R> {
        self.recv(f).ok()
    }

    fn send_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> Option<R> {
        self.send(f).ok()
    }

    fn close(&mut self) {
        tcp::Socket::close(self)
    }

    fn abort(&mut self) {
        tcp::Socket::abort(self)
    }
}

impl StackSocket for tcp2::Connection {
    fn peer_fin(&self) -> bool {
        self.peer_finished()
    }

    fn close_wait(&self) -> bool {
        self.state() == tcp2::State::CloseWait
    }

    fn time_wait(&self) -> bool {
        self.state() == tcp2::State::TimeWait
    }

    fn closed(&self) -> bool {
        self.state() == tcp2::State::Closed
    }

    fn can_recv(&self) -> bool {
        self.receiver().readable() > 0
    }

    fn can_send(&self) -> bool {
        self.send_space() > 0
    }

    fn send_queue(&self) -> usize {
        self.sender().q.data.len()
    }

    fn recv_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> Option<R> {
        self.recv_in_place(f)
    }

    fn send_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> Option<R> {
        self.send_in_place(f)
    }

    fn close(&mut self) {
        tcp2::Connection::close(self)
    }

    fn abort(&mut self) {
        tcp2::Connection::abort(self)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use polling::{Events, Poller};

    use crate::splice::{Splice, Step};
    use crate::tcp2::{Config, Connection, Segment};

    /// A splice over a `tcp2` connection moves bytes both ways between a real socket and the connection's
    /// peer, half-closes included: the same splice code the smoltcp path runs.
    #[test]
    fn splice_runs_over_a_tcp2_connection() {
        let (up, down) = (300_000usize, 200_000usize);
        let (os, mut app) = UnixStream::pair().unwrap();
        let app_thread = std::thread::spawn(move || {
            let data: Vec<u8> = (0..up).map(|i| (i % 251) as u8).collect();
            app.write_all(&data).unwrap();
            app.shutdown(std::net::Shutdown::Write).unwrap();
            let mut back = Vec::new();
            app.read_to_end(&mut back).unwrap();
            back
        });
        let poller = Poller::new().unwrap();
        let ended = Arc::new(Mutex::new(None));
        let e = ended.clone();
        let done = Box::new(move |end: crate::SpliceEnd| *e.lock().unwrap() = Some(end));
        let mut splice = Some(
            Splice::new(os.into(), 1, done, &poller)
                .map_err(|(e, _)| e)
                .unwrap(),
        );
        let t0 = Instant::now();
        let mut cfg = Config::new(1380, 1);
        cfg.rx_buffer = 64 << 10;
        cfg.tx_buffer = 64 << 10;
        let mut a = Connection::connect(cfg.clone(), t0);
        let mut b: Option<Connection> = None;
        let (mut got, mut sent_back) = (Vec::new(), 0usize);
        let mut payload = vec![0u8; 2048];
        let mut events = Events::new();
        for step in 0..2_000_000u64 {
            let now = t0 + Duration::from_micros(step * 50);
            events.clear();
            poller.wait(&mut events, Some(Duration::ZERO)).unwrap();
            if let Some(s) = splice.as_mut() {
                for ev in events.iter() {
                    s.on_event(&ev);
                }
                if let Step::Done(outcome) = s.service(&mut a, &poller) {
                    splice
                        .take()
                        .unwrap()
                        .finish(outcome, &mut a, &poller, false);
                }
            }
            // The in-memory link, both ways, no loss.
            let mut to_b = Vec::new();
            while let Some(seg) = a.poll_transmit(now, &mut payload) {
                to_b.push((seg, payload[..seg.len as usize].to_vec()));
            }
            for (seg, data) in to_b {
                match b.as_mut() {
                    Some(b) => b.on_segment(now, &seg, &data),
                    None => {
                        b = Connection::accept(
                            Config {
                                iss: 9,
                                ..cfg.clone()
                            },
                            &seg,
                            now,
                        )
                    }
                }
            }
            let Some(peer) = b.as_mut() else { continue };
            let mut buf = [0u8; 16 << 10];
            loop {
                let n = peer.recv(&mut buf);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            if peer.at_eof() && sent_back < down {
                let chunk: Vec<u8> = (sent_back..down).map(|i| (i % 241) as u8).collect();
                sent_back += peer.send(&chunk);
                if sent_back == down {
                    peer.close();
                }
            }
            let mut to_a: Vec<(Segment, Vec<u8>)> = Vec::new();
            while let Some(seg) = peer.poll_transmit(now, &mut payload) {
                to_a.push((seg, payload[..seg.len as usize].to_vec()));
            }
            for (seg, data) in to_a {
                a.on_segment(now, &seg, &data);
            }
            if splice.is_none() {
                break;
            }
        }
        let end = ended.lock().unwrap().take().expect("the splice ended");
        end.result.expect("a clean end: both FINs");
        assert_eq!((end.to_stack, end.to_os), (up as u64, down as u64));
        assert_eq!(got, (0..up).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        let back = app_thread.join().unwrap();
        assert_eq!(back, (0..down).map(|i| (i % 241) as u8).collect::<Vec<_>>());
    }
}
