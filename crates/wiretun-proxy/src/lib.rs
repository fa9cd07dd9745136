//! Proxies in front of a userspace stack ([`wiretun_netstack::Stack`]), for `wiretun proxy`: the bytes of a
//! proxied connection never leave Rust. An OS listener accepts a client, a short handshake (none for a
//! forward; SOCKS5 or an HTTP head otherwise) names the target, the stack dials it through the tunnel, and the
//! stack splices the client's socket to the stack connection from then on.
//!
//! - [`Server::forward`]: `-L [BIND:]PORT:HOST:PORT`, every client goes to one target.
//! - [`Server::socks5`]: RFC 1928 CONNECT and UDP ASSOCIATE, with no authentication or RFC 1929
//!   username/password.
//! - [`Server::http`]: CONNECT and absolute-URI requests, Basic proxy authentication.
//! - [`Server::sni`]: TLS pass-through to the host a ClientHello names (wireproxy's `[SNI]`).
//! - [`Reverse::start`]: `-R PORT:HOST:PORT`, a stack port whose connections go to a host address.
//!
//! Names are resolved by a [`Resolve`] the caller gives (the tunnel's DNS), never by the system's resolver.

#[cfg(feature = "servers")]
mod associate;
#[cfg(feature = "servers")]
pub mod dns;
pub mod http;
#[cfg(feature = "servers")]
mod passthrough;
#[cfg(feature = "servers")]
mod relay;
#[cfg(feature = "sandbox")]
pub mod sandbox;
#[cfg(feature = "servers")]
mod server;
pub mod sni;
pub mod socks5;
#[cfg(feature = "servers")]
pub mod stdio;
#[cfg(feature = "servers")]
pub mod tls;
#[cfg(feature = "servers")]
pub mod udp;
#[cfg(feature = "servers")]
pub use servers::*;

#[cfg(feature = "servers")]
mod servers {
    use std::io;
    use std::net::IpAddr;
    use std::time::Duration;

    pub use crate::server::{Reverse, Server};

    /// Resolves a host name through the tunnel. `NotFound` when the name does not exist.
    pub trait Resolve: Send + Sync {
        fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>>;
    }

    /// Username and password a SOCKS5 or HTTP client must present.
    #[derive(Clone, PartialEq, Eq)]
    pub struct Credentials {
        pub user: String,
        pub pass: String,
    }

    impl std::fmt::Debug for Credentials {
        // The password stays out of logs.
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Credentials({}, ***)", self.user)
        }
    }

    /// wireproxy's `[Resolve]` ResolveStrategy: which of a name's addresses are dialed.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub enum Strategy {
        /// IPv4 and IPv6 answers, in the resolver's order.
        #[default]
        Auto,
        /// Only IPv4 answers (a name with none is not found).
        Ipv4,
        /// Only IPv6 answers.
        Ipv6,
    }

    impl Strategy {
        pub fn allows(self, ip: &IpAddr) -> bool {
            match self {
                Strategy::Auto => true,
                Strategy::Ipv4 => ip.is_ipv4(),
                Strategy::Ipv6 => ip.is_ipv6(),
            }
        }
    }

    /// What every listener shares: the stack, the resolver and the timeouts.
    #[derive(Clone)]
    pub struct Options {
        pub stack: std::sync::Arc<wiretun_netstack::Stack>,
        /// `None` when the tunnel has no DNS servers: a name is then refused, with a log line saying why.
        pub resolver: Option<std::sync::Arc<dyn Resolve>>,
        /// Which address family a resolved name is dialed by.
        pub strategy: Strategy,
        /// How long a dial through the tunnel may take.
        pub connect_timeout: Duration,
        /// How long a client may take to send its whole handshake or request head (a slow or idle client is
        /// dropped, however it drips).
        pub handshake_timeout: Duration,
        /// Clients in their handshake or dial at once, per listener (a thread each); more wait in the listen
        /// backlog for a slot, so a flood of idle connections costs a bounded number of threads.
        pub max_handshakes: usize,
    }

    impl Options {
        pub fn new(stack: std::sync::Arc<wiretun_netstack::Stack>) -> Options {
            Options {
                stack,
                resolver: None,
                strategy: Strategy::Auto,
                connect_timeout: Duration::from_secs(10),
                handshake_timeout: Duration::from_secs(10),
                max_handshakes: 256,
            }
        }
    }
}
