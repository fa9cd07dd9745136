//! A packetdrill-style harness for the sans-I/O TCP core: a script of timed lines drives one connection
//! (the stack's side) against a scripted peer. Every segment crosses the wire format both ways (emitted to
//! bytes and parsed back with checksums), so the scripts exercise the packet boundary too.
//!
//! Units keep scripts short: the MSS is 1000 bytes, both initial sequence numbers are 0, and a segment
//! number `n` means sequence `1 + 1000 n` of that direction. Times are milliseconds.
//!
//! ```text
//! +50      < ack 3 sack 4..10           peer ACKs segment 3's start, SACKs segments 4 to 9
//! +0       > r3                         expect a retransmission of segment 3, now
//! +0       > 10..12                     expect new segments 10 and 11
//! +0       > 12..14 push 13             ... of which only 13 carries PSH (`push none`: neither)
//! @200     > r9 at 150                  at t=200 expect segment 9 resent, sent at t=150
//! +0       > none                       nothing else was sent
//! +0       expect episodes == 1         a sender counter (or cwnd in segments, in_flight, state...)
//! ```
//!
//! Lines: `connect rtt=R [cc=bbr|cubic] [pacing] [wscale=N]` (handshake with a peer R ms away),
//! `write N` (N segments of data), `close`, `< ack A [sack a..b,c..d] [win N] [ecr=first:K] [fin]`,
//! `< data K [fin]` (peer data segment K), `< [seq P] [rst] [tsval=V]`, `> ...` (expected output, oldest
//! first; `> ack A [sack ...] [probe]` for a pure ACK, `> fin`), `expect NAME OP VALUE`, `expect state S`.
//! A point `n+k` is k bytes past segment n's start (a FIN after n segments is at `n+0`, acknowledged by
//! `n+1`). Between lines the clock runs through every timer
//! the connection asks for, collecting what it sends.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use smoltcp::wire::IpAddress;
use wiretun_netstack::tcp2::cc::{self, CongestionControl};
use wiretun_netstack::tcp2::{Config, Connection, Segment, Seq, FIN, PSH, RST, SYN};

pub const MSS: u32 = 1000;
/// Bytes of TCP options the timestamps take in every segment.
const TS_LEN: u32 = 12;
const PORTS: (u16, u16) = (40000, 80);

fn addrs() -> (IpAddress, IpAddress) {
    (IpAddress::v4(10, 0, 0, 2), IpAddress::v4(10, 0, 0, 1))
}

/// One segment the connection sent, parsed back from its bytes.
#[derive(Debug, Clone)]
pub struct Out {
    pub at: u64,
    pub seg: Segment,
    pub payload_len: usize,
}

pub struct Script {
    t0: Instant,
    now: u64,
    pub conn: Option<Connection>,
    out: VecDeque<Out>,
    /// TSval of each transmission of our segment number n, in order.
    tsvals: HashMap<u32, Vec<u32>>,
    /// Highest of our segment numbers sent so far (for telling a retransmission).
    sent_max: Option<u32>,
    /// The latest TSval the connection sent (the peer echoes it by default).
    last_tsval: u32,
    buf: Vec<u8>,
    line: usize,
    /// Values kept by `remember NAME`, compared with `expect NAME OP $`.
    remembered: HashMap<String, u64>,
}

fn seq_of(n: u32) -> Seq {
    Seq(1 + n * MSS)
}

/// `n` (segment n's start) or `n+k` (k bytes further: a FIN's sequence number is `n+1` after n segments).
fn point(s: &str) -> Seq {
    match s.split_once('+') {
        Some((n, k)) => seq_of(n.parse().unwrap()).plus(k.parse().unwrap()),
        None => seq_of(s.parse().unwrap()),
    }
}

fn num_of(seq: Seq) -> u32 {
    (seq.0 - 1) / MSS
}

/// `a..b` (segments a to b-1) or `a` (just a).
fn range(s: &str) -> (u32, u32) {
    match s.split_once("..") {
        Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
        None => {
            let a: u32 = s.parse().unwrap();
            (a, a + 1)
        }
    }
}

fn sack_blocks(s: &str) -> Vec<(Seq, Seq)> {
    s.split(',')
        .map(|r| {
            let (a, b) = range(r);
            (seq_of(a), seq_of(b))
        })
        .collect()
}

impl Script {
    pub fn run(text: &str) -> Script {
        let mut s = Script {
            t0: Instant::now(),
            now: 0,
            conn: None,
            out: VecDeque::new(),
            tsvals: HashMap::new(),
            sent_max: None,
            last_tsval: 0,
            buf: vec![0; 64 << 10],
            line: 0,
            remembered: HashMap::new(),
        };
        for (i, raw) in text.lines().enumerate() {
            s.line = i + 1;
            let line = raw.split('#').next().unwrap().trim();
            if line.is_empty() {
                continue;
            }
            let (time, rest) = line
                .split_once(char::is_whitespace)
                .expect("time, then a command");
            let target = match time.as_bytes()[0] {
                b'+' => s.now + time[1..].parse::<u64>().unwrap(),
                b'@' => time[1..].parse::<u64>().unwrap(),
                _ => panic!("line {}: a time is +N or @N", s.line),
            };
            assert!(target >= s.now, "line {}: time goes backwards", s.line);
            s.advance(target);
            s.command(rest.trim());
        }
        s
    }

    fn instant(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    pub fn conn(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connect first")
    }

    /// Runs the clock to `target` through every deadline the connection sets, collecting output.
    fn advance(&mut self, target: u64) {
        self.drain();
        for _ in 0..1_000_000 {
            let Some(at) = self.conn.as_ref().and_then(|c| c.poll_at()) else {
                break;
            };
            let at_ms = at
                .saturating_duration_since(self.t0)
                .as_micros()
                .div_ceil(1000) as u64;
            // Due now means the drain just done had nothing more to send at this time.
            let at_ms = at_ms.max(self.now + 1);
            if at_ms > target {
                break;
            }
            self.now = at_ms;
            self.drain();
        }
        self.now = target;
        self.drain();
    }

    /// Everything the connection sends now.
    fn drain(&mut self) {
        let now = self.instant(self.now);
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut payload = vec![0u8; 2 * MSS as usize];
        while let Some(seg) = conn.poll_transmit(now, &mut payload) {
            let n = seg.emit(PORTS, addrs(), &payload[..seg.len as usize], &mut self.buf);
            let (_, _, back, data) = Segment::parse(&self.buf[..n], addrs().0, addrs().1, true)
                .expect("the connection's segment parses back");
            if !back.has(SYN) {
                // Options and payload together within the MSS offered (RFC 6691).
                let options = back.header_len() as u32 - 20;
                assert!(
                    options + data.len() as u32 <= MSS + TS_LEN,
                    "line {}: {} bytes of options and data",
                    self.line,
                    options + data.len() as u32
                );
            }
            assert_eq!(back, seg, "line {}: wire round trip", self.line);
            if let Some((v, _)) = back.ts {
                self.last_tsval = v;
            }
            if back.len > 0 {
                let n = num_of(back.seq);
                self.tsvals
                    .entry(n)
                    .or_default()
                    .push(back.ts.map_or(0, |t| t.0));
            }
            self.out.push_back(Out {
                at: self.now,
                seg: back,
                payload_len: data.len(),
            });
        }
    }

    /// Hands the connection a peer segment through the wire format.
    fn inject(&mut self, mut seg: Segment, payload: &[u8]) {
        seg.len = payload.len() as u32;
        let (a, b) = addrs();
        let n = seg.emit((PORTS.1, PORTS.0), (b, a), payload, &mut self.buf);
        let bytes = self.buf[..n].to_vec();
        let (_, _, seg, data) = Segment::parse(&bytes, b, a, true).expect("peer segment parses");
        let now = self.instant(self.now);
        self.conn().on_segment(now, &seg, data);
        self.drain();
    }

    fn peer_ts(&self, ecr: Option<u32>) -> Option<(u32, u32)> {
        Some((1000 + self.now as u32, ecr.unwrap_or(self.last_tsval)))
    }

    fn command(&mut self, cmd: &str) {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match words[0] {
            "connect" => self.connect(&words[1..]),
            "write" => {
                let n: u32 = words[1].parse().unwrap();
                let data = vec![0x5a; (n * MSS) as usize];
                let took = self.conn().send(&data);
                assert_eq!(took, data.len(), "line {}: send buffer full", self.line);
                self.drain();
            }
            "close" => {
                self.conn().close();
                self.drain();
            }
            "<" => self.peer(&words[1..]),
            ">" => self.expect_out(&words[1..]),
            "expect" if words[1] == "state" => {
                let state = format!("{:?}", self.conn().state());
                assert_eq!(state, words[2], "line {}: state", self.line);
            }
            "expect" => self.expect_stat(&words[1..]),
            "remember" => {
                let v = self.stat(words[1]);
                self.remembered.insert(words[1].to_string(), v);
            }
            "dump" => panic!("line {}: output {:#?}", self.line, self.out),
            other => panic!("line {}: unknown command {other}", self.line),
        }
    }

    fn connect(&mut self, args: &[&str]) {
        // Both ends offer the MSS plus the timestamps' 12 bytes, so segments carry MSS bytes of data.
        let mut cfg = Config::new((MSS + TS_LEN) as u16, 0);
        cfg.cc = cc::Kind::Cubic;
        cfg.pacing = false;
        cfg.delayed_ack = None;
        let mut rtt = 50;
        let mut wscale = 7;
        for a in args {
            match a.split_once('=') {
                Some(("rtt", v)) => rtt = v.parse().unwrap(),
                Some(("cc", "bbr")) => cfg.cc = cc::Kind::Bbr,
                Some(("cc", "cubic")) => cfg.cc = cc::Kind::Cubic,
                Some(("wscale", v)) => wscale = v.parse().unwrap(),
                Some(("keepalive", v)) => {
                    cfg.keepalive = Some(Duration::from_millis(v.parse().unwrap()))
                }
                None if *a == "pacing" => cfg.pacing = true,
                _ => panic!("line {}: unknown connect option {a}", self.line),
            }
        }
        self.conn = Some(Connection::connect(cfg, self.instant(self.now)));
        self.drain();
        let syn = self.out.pop_front().expect("a SYN");
        assert!(syn.seg.has(SYN) && syn.seg.sack_permitted && syn.seg.ts.is_some());
        self.advance(self.now + rtt);
        self.out.clear();
        let synack = Segment {
            seq: Seq(0),
            ack: Some(Seq(1)),
            flags: SYN,
            window: 65535,
            mss: Some((MSS + TS_LEN) as u16),
            wscale: Some(wscale),
            sack_permitted: true,
            ts: self.peer_ts(None),
            ..Segment::default()
        };
        self.inject(synack, &[]);
        let ack = self.out.pop_front().expect("the handshake's ACK");
        assert_eq!(ack.seg.ack, Some(Seq(1)));
    }

    fn peer(&mut self, args: &[&str]) {
        let mut seg = Segment {
            seq: Seq(1),
            window: (4u32 << 20 >> 7) as u16,
            ..Segment::default()
        };
        let mut ecr = None;
        let mut tsval = None;
        let mut payload = Vec::new();
        let mut it = args.iter();
        while let Some(w) = it.next() {
            match *w {
                "ack" => seg.ack = Some(point(it.next().unwrap())),
                "seq" => seg.seq = point(it.next().unwrap()),
                "rst" => seg.flags |= RST,
                w if w.starts_with("tsval=") => tsval = Some(w[6..].parse().unwrap()),
                "sack" => {
                    for b in sack_blocks(it.next().unwrap()) {
                        seg.push_sack(b);
                    }
                }
                "win" => seg.window = it.next().unwrap().parse().unwrap(),
                "fin" => seg.flags |= FIN,
                "data" => {
                    let k: u32 = it.next().unwrap().parse().unwrap();
                    seg.seq = seq_of(k);
                    payload = vec![0xa5; MSS as usize];
                }
                w if w.starts_with("ecr=first:") => {
                    let k: u32 = w["ecr=first:".len()..].parse().unwrap();
                    ecr = Some(self.tsvals[&k][0]);
                }
                other => panic!("line {}: unknown peer word {other}", self.line),
            }
        }
        if seg.ack.is_none() {
            seg.ack = Some(self.conn().sender().q.una);
        }
        seg.ts = self.peer_ts(ecr);
        if let (Some(v), Some(ts)) = (tsval, seg.ts.as_mut()) {
            ts.0 = v;
        }
        self.inject(seg, &payload);
    }

    fn pop(&mut self) -> Out {
        self.out
            .pop_front()
            .unwrap_or_else(|| panic!("line {}: expected a segment, none was sent", self.line))
    }

    fn expect_out(&mut self, args: &[&str]) {
        let line = self.line;
        let at = args
            .iter()
            .position(|w| *w == "at")
            .map(|i| range(args[i + 1]));
        let check_at = |o: &Out| {
            if let Some((lo, hi)) = at {
                let hi = if hi == lo + 1 { lo } else { hi };
                assert!(
                    (lo as u64..=hi as u64).contains(&o.at),
                    "line {line}: sent at {} ms, expected {lo}..={hi}",
                    o.at
                );
            }
        };
        match args[0] {
            "none" => assert!(
                self.out.is_empty(),
                "line {line}: unexpected {:?}",
                self.out
            ),
            "rst" => {
                let o = self.pop();
                check_at(&o);
                assert!(o.seg.has(RST), "line {line}: expected an RST, got {o:?}");
            }
            "ack" | "fin" => {
                let o = self.pop();
                check_at(&o);
                assert_eq!(o.payload_len, 0, "line {line}: {o:?}");
                assert_eq!(o.seg.has(FIN), args[0] == "fin", "line {line}: {o:?}");
                let mut words = args[1..].iter();
                while let Some(w) = words.next() {
                    match *w {
                        "ack" => {}
                        "at" => drop(words.next()),
                        "sack" => {
                            let want = sack_blocks(words.next().unwrap());
                            assert_eq!(o.seg.sack_blocks(), &want[..], "line {line}: SACK blocks");
                        }
                        "probe" => {
                            let una = self.conn.as_ref().unwrap().sender().q.una;
                            assert_eq!(
                                o.seg.seq,
                                una.plus(u32::MAX),
                                "line {line}: a probe's sequence"
                            );
                        }
                        n if args[0] == "ack" && n.as_bytes()[0].is_ascii_digit() => {
                            assert_eq!(o.seg.ack, Some(point(n)), "line {line}: {o:?}");
                        }
                        _ => {}
                    }
                }
            }
            spec => {
                let (retx, spec) = match spec.strip_prefix('r') {
                    Some(s) => (true, s),
                    None => (false, spec),
                };
                let (a, b) = range(spec);
                // `push N`: only segment N of these carries PSH; `push none`: none does.
                let push = args
                    .iter()
                    .position(|w| *w == "push")
                    .map(|i| match args[i + 1] {
                        "none" => None,
                        n => Some(n.parse::<u32>().unwrap()),
                    });
                for n in a..b {
                    let o = self.pop();
                    check_at(&o);
                    if let Some(p) = push {
                        assert_eq!(
                            o.seg.has(PSH),
                            p == Some(n),
                            "line {line}: PSH on segment {n}"
                        );
                    }
                    assert_eq!(
                        (o.seg.seq, o.payload_len > 0),
                        (seq_of(n), true),
                        "line {line}: expected {}segment {n}, got {o:?}",
                        if retx { "a retransmission of " } else { "new " }
                    );
                    let first = self.sent_max.is_none_or(|m| n > m);
                    assert_eq!(
                        !first,
                        retx,
                        "line {line}: segment {n} was {}sent before",
                        if first { "not " } else { "" }
                    );
                    self.sent_max = Some(self.sent_max.map_or(n, |m| m.max(n)));
                }
            }
        }
    }

    /// `expect NAME OP VALUE` on the sender's state (`$`: the value `remember NAME` kept).
    fn expect_stat(&mut self, args: &[&str]) {
        let line = self.line;
        let value = self.stat(args[0]);
        let want: u64 = match args[2] {
            "$" => self.remembered[args[0]],
            v => v.parse().unwrap(),
        };
        let ok = match args[1] {
            "==" => value == want,
            "<=" => value <= want,
            ">=" => value >= want,
            "<" => value < want,
            ">" => value > want,
            op => panic!("line {line}: unknown operator {op}"),
        };
        assert!(
            ok,
            "line {line}: {} is {value}, expected {} {want}",
            args[0], args[1]
        );
    }

    fn stat(&self, name: &str) -> u64 {
        let line = self.line;
        let snd = self.conn.as_ref().unwrap().sender();
        match name {
            "cwnd" => u64::from(snd.cc.cwnd() / MSS),
            "ssthresh" => u64::from(snd.cc.ssthresh().min(1 << 30) / MSS),
            "in_flight" => u64::from(snd.q.in_flight() / MSS),
            "episodes" => u64::from(snd.stats.episodes),
            "rtos" => u64::from(snd.stats.rtos),
            "tlps" => u64::from(snd.stats.tlps),
            "retransmits" => u64::from(snd.stats.retransmits),
            "spurious_rtos" => u64::from(snd.stats.spurious_rtos),
            "spurious_recoveries" => u64::from(snd.stats.spurious_recoveries),
            "dsacks" => u64::from(snd.stats.dsacks),
            "recovery" => u64::from(snd.in_recovery()),
            "reset" => u64::from(self.conn.as_ref().unwrap().reset),
            other => panic!("line {line}: unknown stat {other}"),
        }
    }
}
