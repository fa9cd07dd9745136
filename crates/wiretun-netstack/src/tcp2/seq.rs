//! Sequence numbers: 32-bit and wrapping, so "before" means "less than half the space behind" (RFC 793's
//! comparison). No `Ord`: the relation is not transitive across the whole space.

use std::fmt;

/// A TCP sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Seq(pub u32);

impl Seq {
    /// `self + n`, wrapping.
    pub fn plus(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }

    /// Signed distance from `other` to `self` (positive when `self` is after `other`).
    pub fn since(self, other: Seq) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Bytes from `other` up to `self`; 0 when `self` is not after it.
    pub fn bytes_since(self, other: Seq) -> u32 {
        self.since(other).max(0) as u32
    }

    pub fn before(self, other: Seq) -> bool {
        self.since(other) < 0
    }

    pub fn after(self, other: Seq) -> bool {
        self.since(other) > 0
    }

    pub fn at_or_before(self, other: Seq) -> bool {
        self.since(other) <= 0
    }

    pub fn at_or_after(self, other: Seq) -> bool {
        self.since(other) >= 0
    }

    /// The later of the two.
    pub fn max(self, other: Seq) -> Seq {
        if self.after(other) {
            self
        } else {
            other
        }
    }

    /// The earlier of the two.
    pub fn min(self, other: Seq) -> Seq {
        if self.before(other) {
            self
        } else {
            other
        }
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap() {
        let a = Seq(u32::MAX - 10);
        let b = a.plus(20);
        assert_eq!(b, Seq(9));
        assert!(a.before(b) && b.after(a));
        assert_eq!(b.since(a), 20);
        assert_eq!(a.bytes_since(b), 0);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }
}
