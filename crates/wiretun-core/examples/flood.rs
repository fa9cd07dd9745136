//! Handshake-flood generator for test/netns/flood.test.ts: sends WireGuard handshake initiations with a valid
//! mac1 for the responder's public key at a fixed rate from many source addresses, bounded by count and time,
//! and prints one JSON line: what it sent and the replies it got, by size.
//!
//!   flood --peer PUBKEY --to ADDR:PORT [--to ...] --from PREFIX [--from ...] --sources N
//!         --rate PER_SEC --count N --seconds S [--key-file FILE] [--answer-cookies] [--linger-ms MS]
//!
//! Sources: N per prefix, used round robin. IPv4 sources are consecutive addresses; IPv6 sources each get a /64
//! of their own (the responder limits per /64), unless the prefix is /64 or longer. None of them has to be
//! configured: with an AnyIP route in the flooder's namespace (`ip route add local PREFIX dev lo`) we send with
//! IP_TRANSPARENT and a per-datagram source (IP_PKTINFO), and the replies arrive on one wildcard socket per
//! family. Each source sends to the first --to of its family.
//!
//! Initiations: by default from throwaway keys the responder does not know, so it can only drop them after
//! the DH, or answer with a cookie under load; a replayed copy costs it the same, so a small pool is reused.
//! With --key-file (a WireGuard private key in base64), they come from a peer the responder knows, each one
//! fresh (a newer timestamp), so every initiation it lets through is answered with a 92-byte response: the
//! count of those is the count of handshakes it processed.
//!
//! --answer-cookies (one source only): behave like a real initiator under load. A probe initiation goes out
//! among the others; once a cookie reply for it comes back, the cookie is taken in and every later initiation
//! carries a valid mac2, so the responder's cookie check no longer stops them: only its per-source limit does.

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use ipnet::IpNet;
use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use socket2::{Domain, Socket, Type};
use std::collections::{BTreeMap, HashSet};
use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiretun_core::keys::generate_private_key;

const POOL: usize = 64;
const INITIATION_LEN: usize = 148;
const COOKIE_REPLY_LEN: usize = 64;
/// While earning a cookie, every this-many-th datagram is the probe.
const PROBE_EVERY: u64 = 16;

struct Args {
    peer: [u8; 32],
    targets: Vec<SocketAddr>,
    prefixes: Vec<IpNet>,
    sources: u32,
    rate: f64,
    count: u64,
    seconds: f64,
    key_file: Option<String>,
    answer_cookies: bool,
    linger: Duration,
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("flood: {e}\nusage: flood --peer PUBKEY --to ADDR:PORT --from PREFIX --sources N --rate R --count N --seconds S [--key-file FILE] [--answer-cookies] [--linger-ms MS]");
        std::process::exit(2);
    });
    let sources: Vec<IpAddr> = args
        .prefixes
        .iter()
        .flat_map(|p| (0..args.sources).map(move |i| source(p, i)))
        .collect();
    if args.answer_cookies && sources.len() != 1 {
        eprintln!(
            "flood: --answer-cookies works with exactly one source (a cookie is bound to it)"
        );
        std::process::exit(2);
    }
    let socks = Sockets::open(&sources);
    let replies = Arc::new(Mutex::new(Replies::default()));
    let cookies = Arc::new(CookieBox::default());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = socks
        .all()
        .map(|s| spawn_reader(s.clone(), replies.clone(), cookies.clone(), stop.clone()))
        .collect();
    let mut initiations = Initiations::new(&args);
    let mut prover = args.answer_cookies.then(|| Prover::new(&args, cookies));
    let started = Instant::now();
    let (sent, errors) = send_paced(&args, &sources, &socks, &mut initiations, &mut prover);
    let cookie_at = prover
        .and_then(|p| p.earned_at)
        .map_or("null".to_string(), |t| format!("{t:.3}"));
    let seconds = started.elapsed().as_secs_f64();
    std::thread::sleep(args.linger);
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader thread");
    }
    let r = replies.lock().unwrap();
    let by_size: Vec<String> = r
        .by_size
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    println!(
        "{{\"sent\":{sent},\"sentBytes\":{},\"sendErrors\":{errors},\"seconds\":{seconds:.3},\"sources\":{},\"replies\":{{{}}},\"replyBytes\":{},\"answeredSources\":{},\"cookieAt\":{cookie_at}}}",
        sent * INITIATION_LEN as u64,
        sources.len(),
        by_size.join(","),
        r.bytes,
        r.answered.len()
    );
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        peer: [0; 32],
        targets: vec![],
        prefixes: vec![],
        sources: 1,
        rate: 1000.0,
        count: 1000,
        seconds: 10.0,
        key_file: None,
        answer_cookies: false,
        linger: Duration::from_millis(1000),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--answer-cookies" {
            a.answer_cookies = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--peer" => a.peer = decode_key(&value).ok_or_else(|| bad(&"not a base64 key"))?,
            "--to" => a.targets.push(value.parse().map_err(|e| bad(&e))?),
            "--from" => a.prefixes.push(value.parse().map_err(|e| bad(&e))?),
            "--sources" => a.sources = value.parse().map_err(|e| bad(&e))?,
            "--rate" => a.rate = value.parse().map_err(|e| bad(&e))?,
            "--count" => a.count = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => a.seconds = value.parse().map_err(|e| bad(&e))?,
            "--key-file" => a.key_file = Some(value),
            "--linger-ms" => a.linger = Duration::from_millis(value.parse().map_err(|e| bad(&e))?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.peer == [0; 32] || a.targets.is_empty() || a.prefixes.is_empty() {
        return Err("--peer, --to and --from are required".into());
    }
    Ok(a)
}

/// Standard base64 of exactly 32 bytes, as `wg` prints keys.
fn decode_key(text: &str) -> Option<[u8; 32]> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let text = text.trim().trim_end_matches('=');
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(33);
    for c in text.bytes() {
        bits = bits << 6 | ALPHABET.iter().position(|&a| a == c)? as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
        }
    }
    out.try_into().ok()
}

/// Source `i` of a prefix: the i-th host address, or for IPv6 prefixes shorter than /64 the i-th /64's ::1.
fn source(prefix: &IpNet, i: u32) -> IpAddr {
    match prefix {
        IpNet::V4(p) if p.prefix_len() == 32 => p.addr().into(),
        IpNet::V4(p) => (u32::from(p.network()) + 1 + i).to_be_bytes().into(),
        IpNet::V6(p) if p.prefix_len() == 128 => p.addr().into(),
        IpNet::V6(p) if p.prefix_len() >= 64 => {
            Ipv6Addr::from(u128::from(p.network()) + 1 + i as u128).into()
        }
        IpNet::V6(p) => {
            Ipv6Addr::from(u128::from(p.network()) + ((i as u128 + 1) << 64) + 1).into()
        }
    }
}

/// One wildcard socket per address family in use, allowed to send from any (AnyIP-routed) address.
struct Sockets {
    v4: Option<Arc<Sock>>,
    v6: Option<Arc<Sock>>,
}

struct Sock {
    udp: UdpSocket,
    state: UdpSocketState,
}

impl Sockets {
    fn open(sources: &[IpAddr]) -> Sockets {
        let want = |v6: bool| sources.iter().any(|s| s.is_ipv6() == v6);
        Sockets {
            v4: want(false).then(|| Arc::new(Sock::open(false))),
            v6: want(true).then(|| Arc::new(Sock::open(true))),
        }
    }

    fn for_source(&self, src: &IpAddr) -> &Sock {
        let s = if src.is_ipv6() { &self.v6 } else { &self.v4 };
        s.as_deref().expect("a socket for every family in use")
    }

    fn all(&self) -> impl Iterator<Item = &Arc<Sock>> {
        self.v4.iter().chain(self.v6.iter())
    }
}

impl Sock {
    fn open(v6: bool) -> Sock {
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let socket = Socket::new(domain, Type::DGRAM, None).expect("UDP socket");
        let (level, name, wildcard): (_, _, SocketAddr) = if v6 {
            socket.set_only_v6(true).expect("IPV6_V6ONLY");
            (
                libc::IPPROTO_IPV6,
                libc::IPV6_TRANSPARENT,
                "[::]:0".parse().unwrap(),
            )
        } else {
            (
                libc::IPPROTO_IP,
                libc::IP_TRANSPARENT,
                "0.0.0.0:0".parse().unwrap(),
            )
        };
        let one: libc::c_int = 1;
        // Needs CAP_NET_ADMIN: lets us send from addresses that are only AnyIP-routed, not configured.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                &one as *const _ as *const libc::c_void,
                4,
            )
        };
        assert_eq!(
            rc,
            0,
            "IP(V6)_TRANSPARENT: {}",
            std::io::Error::last_os_error()
        );
        let _ = socket.set_recv_buffer_size(8 << 20);
        socket.bind(&wildcard.into()).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("SO_RCVTIMEO");
        let udp: UdpSocket = socket.into();
        let state = UdpSocketState::new(UdpSockRef::from(&udp)).expect("quinn-udp socket state");
        Sock { udp, state }
    }
}

#[derive(Default)]
struct Replies {
    by_size: BTreeMap<usize, u64>,
    bytes: u64,
    answered: HashSet<IpAddr>,
}

/// Cookie replies for the probe, set aside by the readers for the sending thread (which owns the Tunn).
#[derive(Default)]
struct CookieBox {
    /// The probe's sender index: its cookie reply carries it as receiver index. 0 while no probe is out.
    wanted: AtomicU32,
    inbox: Mutex<Vec<Vec<u8>>>,
}

impl CookieBox {
    fn offer(&self, datagram: &[u8]) {
        let wanted = self.wanted.load(Ordering::Relaxed);
        let is_cookie = datagram.len() == COOKIE_REPLY_LEN && datagram[0] == 3;
        if wanted != 0 && is_cookie && datagram[4..8] == wanted.to_le_bytes() {
            self.inbox.lock().unwrap().push(datagram.to_vec());
        }
    }
}

fn spawn_reader(
    sock: Arc<Sock>,
    replies: Arc<Mutex<Replies>>,
    cookies: Arc<CookieBox>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        let mut meta = [RecvMeta::default()];
        while !stop.load(Ordering::Relaxed) {
            let mut slices = [IoSliceMut::new(&mut buf)];
            let Ok(n) = sock
                .state
                .recv(UdpSockRef::from(&sock.udp), &mut slices, &mut meta)
            else {
                continue; // timeout: look at `stop` again
            };
            let mut r = replies.lock().unwrap();
            for m in &meta[..n] {
                // GRO may have merged equal-sized replies: count each datagram.
                let stride = m.stride.max(1);
                for datagram in buf[..m.len].chunks(stride) {
                    *r.by_size.entry(datagram.len()).or_default() += 1;
                    r.bytes += datagram.len() as u64;
                    cookies.offer(datagram);
                }
                if let Some(dst) = m.dst_ip {
                    r.answered.insert(dst);
                }
            }
        }
    })
}

/// Where initiations come from: a pool of throwaway ones, or fresh ones from a known peer's key.
enum Initiations {
    Pool(Vec<Vec<u8>>, usize),
    Fresh(Box<Tunn>),
}

impl Initiations {
    fn new(args: &Args) -> Initiations {
        let peer = PublicKey::from(args.peer);
        match &args.key_file {
            Some(_) => Initiations::Fresh(our_tunn(args, 1)),
            None => Initiations::Pool(
                (0..POOL)
                    .map(|i| {
                        let secret = StaticSecret::from(generate_private_key());
                        initiation(&mut Tunn::new(secret, peer, None, None, i as u32, None))
                    })
                    .collect(),
                0,
            ),
        }
    }

    fn next(&mut self) -> Vec<u8> {
        match self {
            Initiations::Pool(pool, i) => {
                *i = (*i + 1) % pool.len();
                pool[*i].clone()
            }
            Initiations::Fresh(tunn) => initiation(tunn),
        }
    }
}

/// A Tunn for the --key-file key, or for a throwaway key.
fn our_tunn(args: &Args, index: u32) -> Box<Tunn> {
    let key = match &args.key_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
            decode_key(&text).unwrap_or_else(|| panic!("{path} does not hold a base64 key"))
        }
        None => generate_private_key(),
    };
    let secret = StaticSecret::from(key);
    Box::new(Tunn::new(
        secret,
        PublicKey::from(args.peer),
        None,
        None,
        index,
        None,
    ))
}

/// Earns a cookie for our one source and then supplies initiations that carry a valid mac2.
struct Prover {
    /// Handed over to `Initiations::Fresh` once it holds the cookie.
    tunn: Option<Box<Tunn>>,
    probe: Vec<u8>,
    cookies: Arc<CookieBox>,
    fresh: bool,
    earned_at: Option<f64>,
}

impl Prover {
    fn new(args: &Args, cookies: Arc<CookieBox>) -> Prover {
        let mut tunn = our_tunn(args, 2);
        // The probe must stay the Tunn's latest initiation: boringtun takes a cookie only for that one.
        let probe = initiation(&mut tunn);
        cookies.wanted.store(
            u32::from_le_bytes(probe[4..8].try_into().unwrap()),
            Ordering::Relaxed,
        );
        Prover {
            tunn: Some(tunn),
            probe,
            cookies,
            fresh: args.key_file.is_some(),
            earned_at: None,
        }
    }

    /// Takes in a cookie for the probe if one came; then returns what to flood with from now on.
    fn try_cookies(&mut self, elapsed: f64) -> Option<Initiations> {
        if self.earned_at.is_some() {
            return None;
        }
        let replies: Vec<Vec<u8>> = self.cookies.inbox.lock().unwrap().drain(..).collect();
        let tunn = self.tunn.as_mut()?;
        let mut out = [0u8; INITIATION_LEN];
        let taken = replies
            .iter()
            .any(|c| !matches!(tunn.decapsulate(None, c, &mut out), TunnResult::Err(_)));
        if !taken {
            return None;
        }
        self.earned_at = Some(elapsed);
        self.cookies.wanted.store(0, Ordering::Relaxed);
        Some(if self.fresh {
            Initiations::Fresh(self.tunn.take()?)
        } else {
            Initiations::Pool((0..POOL).map(|_| initiation(tunn)).collect(), 0)
        })
    }
}

fn initiation(tunn: &mut Tunn) -> Vec<u8> {
    let mut buf = [0u8; INITIATION_LEN];
    match tunn.format_handshake_initiation(&mut buf, true) {
        TunnResult::WriteToNetwork(msg) => msg.to_vec(),
        other => panic!("no initiation: {other:?}"),
    }
}

/// Sends at `rate` per second until `count` or `seconds`, whichever comes first; returns (sent, errors).
fn send_paced(
    args: &Args,
    sources: &[IpAddr],
    socks: &Sockets,
    initiations: &mut Initiations,
    prover: &mut Option<Prover>,
) -> (u64, u64) {
    let start = Instant::now();
    let (mut sent, mut errors) = (0u64, 0u64);
    while sent < args.count && start.elapsed().as_secs_f64() < args.seconds {
        let earning = prover.as_ref().is_some_and(|p| p.earned_at.is_none());
        if let Some(next) = prover
            .as_mut()
            .and_then(|p| p.try_cookies(start.elapsed().as_secs_f64()))
        {
            *initiations = next;
        }
        let due = ((start.elapsed().as_secs_f64() * args.rate) as u64 + 1).min(args.count);
        while sent < due {
            let src = sources[(sent % sources.len() as u64) as usize];
            let Some(&dst) = args.targets.iter().find(|t| t.is_ipv4() == src.is_ipv4()) else {
                panic!("no --to address for {src}'s family");
            };
            let msg = match prover {
                Some(p) if earning && sent % PROBE_EVERY == 0 => p.probe.clone(),
                _ => initiations.next(),
            };
            let transmit = Transmit {
                destination: dst,
                ecn: None,
                contents: &msg,
                segment_size: None,
                src_ip: Some(src),
            };
            let sock = socks.for_source(&src);
            if sock
                .state
                .try_send(UdpSockRef::from(&sock.udp), &transmit)
                .is_err()
            {
                errors += 1;
            }
            sent += 1;
        }
        // Pacing, not synchronisation: sends go out in 1 ms slices.
        std::thread::sleep(Duration::from_millis(1));
    }
    (sent, errors)
}
