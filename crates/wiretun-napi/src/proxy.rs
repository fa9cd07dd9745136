//! `wiretun proxy`: SOCKS5 (CONNECT, UDP ASSOCIATE), HTTP, TCP- and UDP-forward listeners on OS sockets
//! whose far side is a rootless tunnel's stack (crates/wiretun-proxy). JS only starts and closes them; the bytes stay in Rust.

#![cfg_attr(test, allow(dead_code))]

use crate::netstack::BindingNetstack;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use parking_lot::Mutex;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use wiretun_netstack::errno_name;
use wiretun_proxy::dns::{StackResolver, SystemResolver};
use wiretun_proxy::socks5::Host;
use wiretun_proxy::udp::UdpForward;
use wiretun_proxy::{Credentials, Options, Reverse, Server};

#[napi(object, js_name = "NativeProxySpec")]
pub struct JsProxySpec {
    /// "socks5", "http", "sni" (TLS pass-through by server name), "forward" (-L), "udp-forward"
    /// (-L .../udp) or "reverse" (-R).
    pub kind: String,
    /// The OS address to listen on, `ip:port` or `[ip6]:port` (socks5, http, sni, forward).
    pub bind: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// forward, udp-forward: the target through the tunnel (an IP address, or a name resolved for each
    /// connection or new UDP client); reverse: the host's target (a name by the host's resolver).
    pub host: Option<String>,
    pub port: Option<u32>,
    /// reverse: the stack port to listen on.
    pub listen_port: Option<u32>,
    pub connect_timeout_ms: Option<u32>,
    /// socks5, http, sni: the tunnel's DNS servers (`ip` or `ip:port`), asked through the tunnel for target names.
    pub dns: Option<Vec<String>>,
    /// Search domains for target names without a dot (wg-quick's non-address words in `DNS =`).
    pub dns_search: Option<Vec<String>>,
    /// With no `dns`: resolve target names with the host's resolver (`--system-dns`), outside the tunnel.
    pub system_dns: Option<bool>,
    /// udp-forward: seconds a client may be quiet before its tunnel socket is dropped (wireproxy's
    /// InactivityTimeout); 0 = never, unset = 120.
    pub inactivity_timeout_s: Option<u32>,
    /// http: PEM certificate chain and private key files; with them the listener speaks HTTPS.
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// socks5, http: ResolveStrategy, the family target names are dialed by: 0 (either), 4 or 6.
    pub resolve_family: Option<u32>,
    /// Keeps the listeners' per-connection log lines (a failed dial, a name that did not resolve) off stderr
    /// (wireproxy's `-s`). Process-wide: the last listener started decides.
    pub quiet: Option<bool>,
}

// Held only to be dropped: dropping a Server closes its listener, dropping a Reverse stops listening.
enum Running {
    Server(#[allow(dead_code)] Server),
    Reverse(#[allow(dead_code)] Reverse),
    Udp(#[allow(dead_code)] UdpForward),
}

/// A running proxy listener; `close()` stops accepting (connections already spliced live on).
#[napi]
pub struct BindingProxy {
    running: Mutex<Option<Running>>,
    address: String,
}

#[napi]
impl BindingProxy {
    /// The address actually bound (`ip:port`), or `stack:PORT` for a reverse forward.
    #[napi(getter)]
    pub fn address(&self) -> String {
        self.address.clone()
    }

    #[napi]
    pub fn close(&self) {
        drop(self.running.lock().take());
    }
}

fn err(msg: String) -> napi::Error {
    napi::Error::from_reason(msg)
}

/// A forward's target: an IP address, or a name the listener resolves for each connection (the tunnel's DNS
/// may not answer yet when it starts, and a name may move).
fn target_host(host: Option<String>, what: &str) -> Result<Host> {
    let host = host.unwrap_or_default();
    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => Ok(Host::Ip(ip)),
        Err(_) if !host.is_empty() => Ok(Host::Name(host)),
        Err(_) => Err(err(format!("EINVAL: {what}: a target host is required"))),
    }
}

fn port16(p: Option<u32>, what: &str) -> Result<u16> {
    p.and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| err(format!("EINVAL: {what}: a port 0-65535 is required")))
}

/// Starts one listener of `spec` in front of `netstack`'s stack.
#[napi]
pub fn start_proxy(netstack: &BindingNetstack, mut spec: JsProxySpec) -> Result<BindingProxy> {
    crate::proxy_log::install(spec.quiet == Some(true));
    let mut opts = Options::new(netstack.stack().clone());
    if let Some(ms) = spec.connect_timeout_ms {
        opts.connect_timeout = Duration::from_millis(ms.into());
    }
    opts.strategy = match spec.resolve_family.unwrap_or(0) {
        0 => wiretun_proxy::Strategy::Auto,
        4 => wiretun_proxy::Strategy::Ipv4,
        6 => wiretun_proxy::Strategy::Ipv6,
        f => return Err(err(format!("EINVAL: resolve family {f} is not 0, 4 or 6"))),
    };
    let servers = spec
        .dns
        .iter()
        .flatten()
        .map(|d| {
            d.parse::<SocketAddr>()
                .or_else(|_| d.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| err(format!("EINVAL: DNS server {d:?} is not an IP address")))
        })
        .collect::<Result<Vec<_>>>()?;
    if !servers.is_empty() {
        opts.resolver = Some(std::sync::Arc::new(
            StackResolver::new(netstack.stack().clone(), servers)
                .with_search(spec.dns_search.clone().unwrap_or_default()),
        ));
    } else if spec.system_dns == Some(true) {
        opts.resolver = Some(std::sync::Arc::new(SystemResolver));
    }
    let auth = match (spec.username, spec.password) {
        (Some(user), Some(pass)) if !user.is_empty() => Some(Credentials { user, pass }),
        (None, None) => None,
        _ => {
            return Err(err(
                "EINVAL: a user name needs a password, and a password a user name".into(),
            ))
        }
    };
    let bind = || -> Result<SocketAddr> {
        let b = spec.bind.as_deref().unwrap_or("");
        b.parse()
            .map_err(|_| err(format!("EINVAL: bind address {b:?} is not ip:port")))
    };
    let io = |e: std::io::Error| err(format!("{}: {e}", errno_name(&e)));
    let server = match spec.kind.as_str() {
        "socks5" => Server::socks5(opts, bind()?, auth).map_err(io)?,
        "http" => match (&spec.cert_file, &spec.key_file) {
            (None, None) => Server::http(opts, bind()?, auth).map_err(io)?,
            (Some(cert), Some(key)) => {
                let tls = wiretun_proxy::tls::server_config(cert.as_ref(), key.as_ref())
                    .map_err(|e| err(format!("EINVAL: {e}")))?;
                Server::https(opts, bind()?, auth, tls).map_err(io)?
            }
            _ => return Err(err("EINVAL: a certificate file needs a key file".into())),
        },
        "sni" => Server::sni(opts, bind()?).map_err(io)?,
        "forward" => {
            let host = target_host(spec.host.take(), "forward")?;
            Server::forward(opts, bind()?, host, port16(spec.port, "forward")?).map_err(io)?
        }
        "udp-forward" => {
            let host = target_host(spec.host.take(), "udp forward")?;
            let port = port16(spec.port, "udp forward")?;
            let idle = match spec.inactivity_timeout_s {
                None => Some(wiretun_proxy::udp::IDLE),
                Some(0) => None,
                Some(s) => Some(Duration::from_secs(s.into())),
            };
            let u = UdpForward::start_to(&opts, bind()?, host, port, idle).map_err(io)?;
            return Ok(BindingProxy {
                address: format!("{}/udp", u.local_addr()),
                running: Mutex::new(Some(Running::Udp(u))),
            });
        }
        "reverse" => {
            let listen = port16(spec.listen_port, "reverse listen port")?;
            let host = spec.host.unwrap_or_default();
            let target = if host.contains(':') {
                format!("[{host}]:{}", port16(spec.port, "reverse")?)
            } else {
                format!("{host}:{}", port16(spec.port, "reverse")?)
            };
            let r = Reverse::start(&opts, listen, target).map_err(io)?;
            return Ok(BindingProxy {
                running: Mutex::new(Some(Running::Reverse(r))),
                address: format!("stack:{listen}"),
            });
        }
        k => return Err(err(format!("EINVAL: unknown proxy kind {k:?}"))),
    };
    Ok(BindingProxy {
        address: server.local_addr().to_string(),
        running: Mutex::new(Some(Running::Server(server))),
    })
}
