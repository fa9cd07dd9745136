//! X25519 keys as raw 32-byte arrays; encoding (base64, hex) is the caller's business.

use boringtun::x25519::{PublicKey, StaticSecret};
use rand_core::OsRng;

pub const KEY_LEN: usize = 32;
pub type Key = [u8; KEY_LEN];

pub fn generate_private_key() -> Key {
    StaticSecret::random_from_rng(OsRng).to_bytes()
}

/// A fresh random 32-byte preshared key.
pub fn generate_preshared_key() -> Key {
    let mut key = [0u8; KEY_LEN];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut key);
    key
}

pub fn public_key(private: &Key) -> Key {
    PublicKey::from(&StaticSecret::from(*private)).to_bytes()
}

/// A public key of small order gives an all-zero shared secret with any clamped scalar, so one random
/// exchange tells them apart without needing our own private key to be set yet.
pub fn is_low_order(public: &Key) -> bool {
    let probe = StaticSecret::random_from_rng(OsRng);
    probe.diffie_hellman(&PublicKey::from(*public)).as_bytes() == &[0u8; KEY_LEN]
}

pub fn key_from_slice(bytes: &[u8]) -> Option<Key> {
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_matches_rfc7748_vector() {
        // RFC 7748 section 6.1: Alice's private and public keys.
        let private = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(public_key(&private), public);
    }

    #[test]
    fn low_order_points_are_detected() {
        assert!(is_low_order(&[0u8; 32]));
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(is_low_order(&one));
        // A point of order 8 from the curve25519 small-order list.
        assert!(is_low_order(&hex(
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"
        )));
        assert!(!is_low_order(&public_key(&generate_private_key())));
    }

    fn hex(s: &str) -> Key {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }
}
