//! X25519 keys as raw 32-byte arrays; encoding (base64, hex) is the caller's business.

use boringtun::x25519::{PublicKey, StaticSecret};
use rand_core::OsRng;

pub const KEY_LEN: usize = 32;
pub type Key = [u8; KEY_LEN];

/// A fresh private key, clamped as `wg genkey` writes one (so a device reads back the key it was given).
pub fn generate_private_key() -> Key {
    clamp(StaticSecret::random_from_rng(OsRng).to_bytes())
}

/// A fresh random 32-byte preshared key.
pub fn generate_preshared_key() -> Key {
    let mut key = [0u8; KEY_LEN];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut key);
    key
}

/// The private key as X25519 uses it (RFC 7748): the low three bits cleared, bit 255 cleared, bit 254 set.
/// The kernel and wireguard-go store a private key clamped, so `wg show` prints it so.
pub fn clamp(mut key: Key) -> Key {
    key[0] &= 248;
    key[31] = (key[31] & 127) | 64;
    key
}

pub fn public_key(private: &Key) -> Key {
    PublicKey::from(&StaticSecret::from(*private)).to_bytes()
}

/// The encodings of Curve25519 points of small order (on the curve or its twist), little-endian: 0, 1, the
/// two points of order 8, and p-1, p, p+1. X25519 ignores bit 255, so the comparison masks it. Any of these
/// gives an all-zero shared secret with every clamped scalar.
const SMALL_ORDER: [[u8; KEY_LEN]; 7] = [
    [0; 32],
    le(&[0x01]),
    hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
];

const fn le(bytes: &[u8]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

const fn hex32(s: &str) -> [u8; KEY_LEN] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not hex"),
        }
    }
    let b = s.as_bytes();
    let mut out = [0u8; KEY_LEN];
    let mut i = 0;
    while i < KEY_LEN {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// True for public keys whose shared secret with anyone is all zeros. A table look-up, not a Diffie-Hellman:
/// configuring 10,000 peers must not cost 10,000 scalar multiplications.
pub fn is_low_order(public: &Key) -> bool {
    SMALL_ORDER.iter().any(|bad| {
        let mut diff = (public[31] & 0x7f) ^ bad[31];
        for i in 0..31 {
            diff |= public[i] ^ bad[i];
        }
        diff == 0
    })
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

    /// The definition the table stands for: an all-zero X25519 result with a random scalar.
    fn zero_shared_secret(public: &Key) -> bool {
        let probe = StaticSecret::random_from_rng(OsRng);
        probe.diffie_hellman(&PublicKey::from(*public)).as_bytes() == &[0u8; KEY_LEN]
    }

    #[test]
    fn every_listed_encoding_gives_a_zero_secret_with_or_without_bit_255() {
        for bad in SMALL_ORDER {
            let mut high = bad;
            high[31] |= 0x80;
            for k in [bad, high] {
                assert!(zero_shared_secret(&k), "{k:02x?}");
                assert!(is_low_order(&k));
            }
        }
    }

    #[test]
    fn random_keys_agree_with_the_definition() {
        for _ in 0..200 {
            let k = public_key(&generate_private_key());
            assert_eq!(is_low_order(&k), zero_shared_secret(&k));
            assert!(!is_low_order(&k));
        }
    }

    #[test]
    fn clamping_keeps_the_public_key_and_is_idempotent() {
        let raw = [0xffu8; 32];
        let c = clamp(raw);
        assert_eq!((c[0], c[31]), (0xf8, 0x7f));
        assert_eq!(clamp(c), c);
        assert_eq!(public_key(&c), public_key(&raw));
        assert_eq!(clamp([0; 32])[31], 0x40);
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
