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
/// record newly SACKed, before it is marked.
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
    for &(s, e) in blocks {
        // A block must be non-empty and inside what is outstanding (RFC 2018 leaves the rest to be ignored).
        if !s.before(e) || s.before(q.una) || e.after(q.nxt) {
            continue;
        }
        let recs = q.records();
        let mut i = recs.partition_point(|r| r.start.before(s));
        while i < q.records().len() {
            let r = *q.record(i);
            if r.end().after(e) {
                break;
            }
            if !r.sacked {
                delivered(&r);
                out.newly_sacked += q.mark_sacked(i);
            }
            i += 1;
        }
    }
    out
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
