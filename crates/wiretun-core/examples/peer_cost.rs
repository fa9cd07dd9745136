//! Prints what idle peers cost: `cargo run --release --example peer_cost` (needs root for the TUN).
use wiretun_core::keys::{generate_private_key, public_key};
use wiretun_core::{Device, DeviceConfig, PeerUpdate};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    println!(
        "size_of Tunn = {}",
        std::mem::size_of::<boringtun::noise::Tunn>()
    );
    let dev = Device::create(DeviceConfig {
        name: "wtcost0".into(),
        mtu: None,
    })
    .unwrap();
    dev.set_private_key(Some(generate_private_key()));
    let n = 10_000u32;
    let keys: Vec<_> = (0..n)
        .map(|_| public_key(&generate_private_key()))
        .collect();
    let before = rss_kib();
    let t = std::time::Instant::now();
    for (i, k) in keys.iter().enumerate() {
        let ip = format!("10.{}.{}.{}/32", 100 + (i >> 16), (i >> 8) & 255, i & 255);
        let update = PeerUpdate {
            allowed_ips: vec![ip.parse().unwrap()],
            ..Default::default()
        };
        dev.set_peer(*k, update).unwrap();
    }
    let elapsed = t.elapsed();
    let after = rss_kib();
    println!(
        "{n} peers: {elapsed:?}, {} bytes/peer",
        (after - before) * 1024 / n as u64
    );
}
