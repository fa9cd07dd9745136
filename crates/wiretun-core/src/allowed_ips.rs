//! Cryptokey routing table: longest-prefix match from an inner address to the peer that owns it.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use std::net::IpAddr;

/// Maps allowed-IP prefixes to a value (the peer). Inserting a prefix another value owns moves it, as
/// WireGuard specifies.
pub struct AllowedIps<T> {
    v4: PrefixMap<Ipv4Net, T>,
    v6: PrefixMap<Ipv6Net, T>,
}

impl<T> Default for AllowedIps<T> {
    fn default() -> Self {
        AllowedIps {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
        }
    }
}

impl<T> AllowedIps<T> {
    /// Returns the previous owner of exactly this prefix.
    pub fn insert(&mut self, net: IpNet, value: T) -> Option<T> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.insert(n, value),
            IpNet::V6(n) => self.v6.insert(n, value),
        }
    }

    /// The value stored for exactly this prefix (no longest-prefix match).
    pub fn get_exact(&self, net: IpNet) -> Option<&T> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.get(&n),
            IpNet::V6(n) => self.v6.get(&n),
        }
    }

    pub fn remove(&mut self, net: IpNet) -> Option<T> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.remove(&n),
            IpNet::V6(n) => self.v6.remove(&n),
        }
    }

    pub fn lookup(&self, addr: IpAddr) -> Option<&T> {
        match addr {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, v)| v),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, v)| v),
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&IpNet, &T) -> bool) {
        self.v4.retain(|n, v| keep(&IpNet::V4(*n), v));
        self.v6.retain(|n, v| keep(&IpNet::V6(*n), v));
    }

    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &T)> {
        let v4 = self.v4.iter().map(|(n, v)| (IpNet::V4(n), v));
        v4.chain(self.v6.iter().map(|(n, v)| (IpNet::V6(n), v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = AllowedIps::default();
        t.insert(net("0.0.0.0/0"), 'a');
        t.insert(net("10.0.0.0/8"), 'b');
        t.insert(net("10.1.2.3/32"), 'c');
        assert_eq!(t.lookup(ip("10.1.2.3")), Some(&'c'));
        assert_eq!(t.lookup(ip("10.9.9.9")), Some(&'b'));
        assert_eq!(t.lookup(ip("192.0.2.1")), Some(&'a'));
        assert_eq!(t.lookup(ip("2001:db8::1")), None);
    }

    #[test]
    fn host_bits_are_masked_and_reinsert_moves_ownership() {
        let mut t = AllowedIps::default();
        t.insert(net("10.1.2.3/24"), 'a');
        t.insert(net("10.1.2.0/24"), 'b');
        assert_eq!(t.iter().count(), 1);
        assert_eq!(t.lookup(ip("10.1.2.200")), Some(&'b'));
    }

    #[test]
    fn ipv6_and_removal() {
        let mut t = AllowedIps::default();
        t.insert(net("fd00::/64"), 1);
        t.insert(net("fd00::5/128"), 2);
        assert_eq!(t.lookup(ip("fd00::5")), Some(&2));
        assert_eq!(t.remove(net("fd00::5/128")), Some(2));
        assert_eq!(t.lookup(ip("fd00::5")), Some(&1));
        t.retain(|_, v| *v != 1);
        assert_eq!(t.lookup(ip("fd00::5")), None);
    }
}
