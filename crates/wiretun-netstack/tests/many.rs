//! A thousand connections open at once, each carrying a request and a reply through its own splices.

mod common;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

const CONNS: usize = 1000;

#[cfg(unix)]
fn raise_fd_limit() {
    // 2 splices x 2 socketpair ends per connection: 4,000 descriptors, more than a default soft limit of 1024.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

#[test]
fn a_thousand_concurrent_connections() {
    #[cfg(unix)]
    raise_fd_limit();
    let p = pair_with(Link::default(), |c| c.listen_backlog = CONNS);
    let (accepted_tx, accepted) = mpsc::channel();
    let (ends_tx, ends) = mpsc::channel();
    let ends_b = ends_tx.clone();
    let _listener =
        p.b.listen_tcp_with(addr(B4, 443), move |conn| {
            let ends = ends_b.clone();
            let end = conn.splice_pair(move |e| drop(ends.send(e))).unwrap();
            accepted_tx.send(app(end)).unwrap();
        })
        .unwrap();
    // All dials at once: a burst of 1,000 SYNs, each needing its own listening socket.
    let dials: Vec<_> = (0..CONNS)
        .map(|_| p.a.dial_tcp_timeout(addr(B4, 443), Duration::from_secs(20)))
        .collect();
    let mut clients = Vec::new();
    for (i, d) in dials.into_iter().enumerate() {
        let conn = d.wait().unwrap_or_else(|e| panic!("dial {i}: {e}"));
        let ends = ends_tx.clone();
        let mut c = app(conn.splice_pair(move |e| drop(ends.send(e))).unwrap());
        c.set_timeout(Duration::from_secs(20));
        c.write_all(format!("{i:04}").as_bytes()).unwrap();
        clients.push(c);
    }
    // Every server end answers whatever index it was sent, so replies prove which connection is which.
    for _ in 0..CONNS {
        let mut s = accepted
            .recv_timeout(Duration::from_secs(20))
            .expect("all connections accepted");
        s.set_timeout(Duration::from_secs(20));
        let mut req = [0u8; 4];
        s.read_exact(&mut req).unwrap();
        s.write_all(b"ack:").unwrap();
        s.write_all(&req).unwrap();
        s.shut_write();
        drop(s);
    }
    for (i, mut c) in clients.into_iter().enumerate() {
        let mut reply = Vec::new();
        c.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, format!("ack:{i:04}").as_bytes());
    }
    for _ in 0..2 * CONNS {
        ends.recv_timeout(Duration::from_secs(20))
            .expect("every splice ends")
            .result
            .unwrap();
    }
}
