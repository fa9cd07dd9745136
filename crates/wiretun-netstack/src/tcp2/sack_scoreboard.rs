//! The SACK scoreboard (RFC 2018, RFC 6675): each SACK block of an ACK marks the segment records it covers,
//! so the pipe leaves them out and loss detection (`rack.rs`) sees every hole at once, not one per round
//! trip. D-SACK (RFC 2883): a first block below the cumulative ACK, or inside the second block, reports a
//! segment received twice; it marks nothing and is handed to RACK (reordering) and to the undo logic.
//!
//! Blocks are matched to whole records: our segments are never split, and a peer SACKs what it received,
//! which is whole segments. A block that covers part of a record leaves it unmarked (it is then repaired as
//! if lost, which is safe).

use super::send_queue::{SegRecord, SendQueue};
use super::seq::Seq;

/// What the SACK blocks of one ACK said.
#[derive(Default, Debug, Clone, Copy)]
pub struct SackOutcome {
    pub newly_sacked: u32,
    /// The D-SACK range, if the first block was one.
    pub dsack: Option<(Seq, Seq)>,
}

/// Is the first block a D-SACK (RFC 2883 section 4)?
fn is_dsack(blocks: &[(Seq, Seq)], ack: Seq) -> bool {
    let Some(&(s, e)) = blocks.first() else {
        return false;
    };
    e.at_or_before(ack)
        || blocks
            .get(1)
            .is_some_and(|&(s2, e2)| s.at_or_after(s2) && e.at_or_before(e2))
}

/// Marks the records the (already cumulatively applied) ACK's blocks cover; `delivered` is called for each
/// record newly SACKed, before it is marked. What the previous ACK's blocks covered was marked then, so
/// only the rest of each block is walked (Linux's SACK cache): behind a hole, each ACK's first block grows
/// by a segment or two, and walking all of it every time made the scoreboard linear in the window.
pub fn apply(
    q: &mut SendQueue,
    ack: Seq,
    blocks: &[(Seq, Seq)],
    mut delivered: impl FnMut(&SegRecord),
) -> SackOutcome {
    let mut out = SackOutcome::default();
    let mut blocks = blocks;
    if is_dsack(blocks, ack) {
        out.dsack = Some(blocks[0]);
        blocks = &blocks[1..];
    }
    let cache = q.sack_cache;
    let cached = &cache[..q.sack_cache_len];
    let mut fresh = [(ack, ack); 4];
    let mut n = 0;
    for &(s, e) in blocks {
        // A block must be non-empty and inside what is outstanding (RFC 2018 leaves the rest to be ignored).
        if !s.before(e) || s.before(q.una) || e.after(q.nxt) {
            continue;
        }
        if n < fresh.len() {
            fresh[n] = (s, e);
            n += 1;
        }
        let mut cur = s;
        while cur.before(e) {
            if let Some(&(_, ce)) = cached
                .iter()
                .find(|(cs, ce)| cs.at_or_before(cur) && ce.after(cur))
            {
                cur = ce;
                continue;
            }
            let next = cached
                .iter()
                .map(|&(cs, _)| cs)
                .filter(|cs| cs.after(cur) && cs.before(e))
                .fold(e, |m, cs| if cs.before(m) { cs } else { m });
            mark_range(q, (cur, next), (s, e), &mut delivered, &mut out);
            cur = next;
        }
    }
    q.sack_cache = fresh;
    q.sack_cache_len = n;
    out
}

/// Marks the whole records of `block` that reach into `[lo, hi)`.
fn mark_range(
    q: &mut SendQueue,
    (lo, hi): (Seq, Seq),
    (s, e): (Seq, Seq),
    delivered: &mut impl FnMut(&SegRecord),
    out: &mut SackOutcome,
) {
    let mut i = q.records().partition_point(|r| r.end().at_or_before(lo));
    while i < q.records().len() {
        let r = *q.record(i);
        if r.start.at_or_after(hi) || r.end().after(e) {
            break;
        }
        if r.start.at_or_after(s) && !r.sacked {
            delivered(&r);
            out.newly_sacked += q.mark_sacked(i);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsack_forms() {
        let b = |v: &[(u32, u32)]| v.iter().map(|&(s, e)| (Seq(s), Seq(e))).collect::<Vec<_>>();
        assert!(is_dsack(&b(&[(10, 20)]), Seq(30)), "below the ACK");
        assert!(
            is_dsack(&b(&[(40, 50), (30, 60)]), Seq(20)),
            "inside the second"
        );
        assert!(!is_dsack(&b(&[(40, 50), (60, 70)]), Seq(20)));
        assert!(!is_dsack(&[], Seq(1)));
    }
}
