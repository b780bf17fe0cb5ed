//! Where a batch may be cut into pieces that are sequenced and committed one after
//! another (pipelining: the committer hashes and writes one piece while the sequencer
//! executes the next). A linked chain is all-or-nothing, so a cut never falls inside one.

use core::ops::Range;

use ledgerfs_model::Event;

/// Splits `events` into consecutive ranges of about `target` events (at least one
/// each), cutting only after an event that is not linked, so every linked chain stays
/// inside one range. An unclosed chain at the end stays in the last range.
pub fn chain_chunks(events: &[Event], target: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let target = target.max(1);
    let mut start = 0;
    core::iter::from_fn(move || {
        if start >= events.len() {
            return None;
        }
        let mut end = (start + target).min(events.len());
        while end < events.len() && events[end - 1].linked() {
            end += 1;
        }
        let range = start..end;
        start = end;
        Some(range)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;
    use ledgerfs_model::NewTransfer;
    use proptest::prelude::*;

    fn transfer(linked: bool) -> Event {
        Event::Transfer(NewTransfer {
            id: String::from("t"),
            debit: String::from("a"),
            credit: String::from("b"),
            amount: String::from("1.00"),
            currency: String::from("EUR"),
            reference: String::new(),
            metadata: String::from("{}"),
            linked,
            flags: Vec::new(),
            pending_id: String::new(),
            timeout: 0,
            time: 0,
        })
    }

    proptest! {
        #[test]
        fn chunks_cover_the_batch_and_never_cut_a_chain(
            links in proptest::collection::vec(any::<bool>(), 0..200),
            target in 1usize..40,
        ) {
            let events: Vec<Event> = links.iter().map(|&l| transfer(l)).collect();
            let mut next = 0;
            for range in chain_chunks(&events, target) {
                prop_assert_eq!(range.start, next);
                prop_assert!(range.end > range.start);
                if range.end < events.len() {
                    prop_assert!(!events[range.end - 1].linked(), "a cut inside a chain");
                    prop_assert!(range.len() >= target);
                }
                next = range.end;
            }
            prop_assert_eq!(next, events.len());
        }
    }
}
