//! The sequencer's section of a snapshot (`ledgerfs-snapshot`): every account with its
//! posted and pending totals, the transfer-id table, the pending transfers and the clock, at a durable size. Accounts are
//! stored as their canonical opening entries, so the one entry encoding is reused.

use alloc::string::String;

use ledgerfs_model::entry::{Entry, EntryBody};
use ledgerfs_model::Closing;
use ledgerfs_snapshot::{Reader, SnapshotError, Writer};

use crate::entries::Balance;
use crate::fingerprint::FingerprintBuildHasher;
use crate::state::{Account, PendingState, PendingTransfer, Sequencer, TransferSeen};
use crate::Limits;

impl Sequencer {
    /// Writes the state into a snapshot section. Only a fully durable state is written
    /// (nothing to undo), so a snapshot never holds an entry the log may not.
    pub fn encode_snapshot(&self, w: &mut Writer) {
        assert_eq!(self.durable_size, self.next_index, "snapshot a durable state only");
        w.u64(self.next_index);
        w.u64(self.last_time);
        w.u64(self.accounts.len() as u64);
        for account in &self.accounts {
            let entry = Entry {
                index: account.index,
                time: 0,
                body: EntryBody::Account(account.record.clone()),
            };
            w.bytes(entry.encode().as_bytes());
            let b = &account.balance;
            for total in [b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending] {
                w.u128(total);
            }
            w.u32(u32::from(b.closed));
        }
        w.u64(self.transfers.len() as u64);
        for (fingerprint, seen) in &self.transfers {
            w.u128(*fingerprint);
            w.u64(seen.index);
            w.u64(seen.digest);
        }
        w.u64(self.pending.len() as u64);
        for (fingerprint, p) in &self.pending {
            w.u128(*fingerprint);
            w.u32(p.debit);
            w.u32(p.credit);
            w.u128(p.amount);
            w.u32(u32::from(p.state.code()));
            w.u64(p.expires_at);
            w.u32(u32::from(p.closing.debit) | (u32::from(p.closing.credit) << 1));
        }
        w.u64(self.timed_ids.len() as u64);
        for (fingerprint, id) in &self.timed_ids {
            w.u128(*fingerprint);
            w.bytes(id.as_bytes());
        }
    }

    /// Rebuilds a sequencer from its snapshot section, under `limits`.
    pub fn from_snapshot(section: &[u8], limits: Limits) -> Result<Sequencer, SnapshotError> {
        let mut r = Reader::new(section);
        let mut s = Sequencer::new(limits);
        s.next_index = r.u64()?;
        s.last_time = r.u64()?;
        let accounts = r.len()?;
        if accounts > limits.max_accounts {
            return Err(SnapshotError::Malformed("more accounts than the limit"));
        }
        s.accounts.reserve(accounts);
        for slot in 0..accounts {
            let entry = Entry::decode(r.prefixed()?).map_err(|_| SnapshotError::Malformed("account entry"))?;
            let EntryBody::Account(record) = entry.body else {
                return Err(SnapshotError::Malformed("a transfer where an account belongs"));
            };
            let id: String = record.id.clone();
            if s.account_slots.insert(id, slot as u32).is_some() {
                return Err(SnapshotError::Malformed("an account twice"));
            }
            s.accounts.push(Account {
                record,
                index: entry.index,
                balance: Balance {
                    debits_posted: r.u128()?,
                    credits_posted: r.u128()?,
                    debits_pending: r.u128()?,
                    credits_pending: r.u128()?,
                    closed: match r.u32()? {
                        0 => false,
                        1 => true,
                        _ => return Err(SnapshotError::Malformed("an account's closed flag")),
                    },
                },
            });
        }
        let transfers = r.len()?;
        if transfers > limits.max_transfers {
            return Err(SnapshotError::Malformed("more transfers than the limit"));
        }
        let mut table = hashbrown::HashMap::with_capacity_and_hasher(
            transfers.max(limits.transfer_reserve()),
            FingerprintBuildHasher,
        );
        for _ in 0..transfers {
            let fingerprint = r.u128()?;
            let seen = TransferSeen {
                index: r.u64()?,
                digest: r.u64()?,
            };
            if seen.index >= s.next_index || table.insert(fingerprint, seen).is_some() {
                return Err(SnapshotError::Malformed("transfer table"));
            }
        }
        s.transfers = table;
        let pending = r.len()?;
        if pending > s.transfers.len() {
            return Err(SnapshotError::Malformed("more pending transfers than transfers"));
        }
        for _ in 0..pending {
            let fingerprint = r.u128()?;
            let (debit, credit, amount) = (r.u32()?, r.u32()?, r.u128()?);
            let state = u8::try_from(r.u32()?)
                .ok()
                .and_then(PendingState::from_code)
                .ok_or(SnapshotError::Malformed("pending state"))?;
            let slots = s.accounts.len() as u32;
            if debit >= slots || credit >= slots || debit == credit || !s.transfers.contains_key(&fingerprint) {
                return Err(SnapshotError::Malformed("pending table"));
            }
            let expires_at = r.u64()?;
            let closing = match r.u32()? {
                bits @ 0..=3 => Closing {
                    debit: bits & 1 != 0,
                    credit: bits & 2 != 0,
                },
                _ => return Err(SnapshotError::Malformed("a pending transfer's closing flags")),
            };
            let p = PendingTransfer {
                closing,
                debit,
                credit,
                amount,
                state,
                expires_at,
            };
            if expires_at != 0 && state == PendingState::Pending {
                s.expiring.insert((expires_at, fingerprint));
            }
            if s.pending.insert(fingerprint, p).is_some() {
                return Err(SnapshotError::Malformed("a pending transfer twice"));
            }
        }
        let timed = r.len()?;
        if timed > s.pending.len() {
            return Err(SnapshotError::Malformed("more timed ids than pending transfers"));
        }
        for _ in 0..timed {
            let fingerprint = r.u128()?;
            let id = core::str::from_utf8(r.prefixed()?).map_err(|_| SnapshotError::Malformed("a timed id"))?;
            let timed_pending = s.pending.get(&fingerprint).is_some_and(|p| p.expires_at != 0);
            if !timed_pending || crate::fingerprint::id_fingerprint(id) != fingerprint {
                return Err(SnapshotError::Malformed("a timed id"));
            }
            s.timed_ids.insert(fingerprint, String::from(id));
        }
        if s.expiring.iter().any(|(_, key)| !s.timed_ids.contains_key(key)) {
            return Err(SnapshotError::Malformed("an expiring transfer without its id"));
        }
        if !r.is_empty() {
            return Err(SnapshotError::Malformed("bytes after the timed ids"));
        }
        s.durable_size = s.next_index;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntryBuffer;
    use alloc::format;
    use alloc::vec::Vec;
    use ledgerfs_model::request::{parse_accounts, parse_transfers};
    use proptest::prelude::*;

    fn run(s: &mut Sequencer, json: &str, accounts: bool, now: u64) -> EntryBuffer {
        let events = if accounts {
            parse_accounts(json.as_bytes()).unwrap()
        } else {
            parse_transfers(json.as_bytes()).unwrap()
        };
        let mut results = Vec::new();
        let mut entries = EntryBuffer::new();
        s.execute(&events, now, &mut results, &mut entries);
        s.mark_durable(s.next_index());
        entries
    }

    proptest! {
        /// Restoring a snapshot taken after any history gives a sequencer equal to the
        /// one that ran it, and both accept (or refuse) the same next batch identically.
        #[test]
        fn a_restored_snapshot_equals_the_live_state(amounts in proptest::collection::vec(1u32..5_000, 1..60)) {
            let limits = Limits::default();
            let mut live = Sequencer::new(limits);
            run(&mut live, r#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR","flags":["debits_must_not_exceed_credits"]},{"id":"c","currency":"EUR"}]"#, true, 1);
            for (i, a) in amounts.iter().enumerate() {
                let (d, c) = if i % 3 == 0 { ("a", "b") } else if i % 3 == 1 { ("b", "c") } else { ("c", "a") };
                let body = format!(r#"{{"id":"t{i}","debit":"{d}","credit":"{c}","amount":"{}.{:02}","currency":"EUR"}}"#, a / 100, a % 100);
                run(&mut live, &body, false, 10 + i as u64);
            }
            let mut w = Writer::new();
            live.encode_snapshot(&mut w);
            let mut restored = Sequencer::from_snapshot(&w.buf, limits).unwrap();
            prop_assert!(restored == live);
            let next = r#"[{"id":"t0","debit":"a","credit":"b","amount":"1.00","currency":"EUR"},{"id":"new","debit":"b","credit":"a","amount":"1.00","currency":"EUR"}]"#;
            let x = run(&mut live, next, false, 1_000);
            let y = run(&mut restored, next, false, 1_000);
            prop_assert_eq!(x.iter().collect::<Vec<_>>(), y.iter().collect::<Vec<_>>());
            prop_assert!(restored == live);
        }
    }

    #[test]
    fn a_damaged_section_is_refused() {
        let mut s = Sequencer::new(Limits::default());
        run(
            &mut s,
            r#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR"}]"#,
            true,
            1,
        );
        run(
            &mut s,
            r#"{"id":"t","debit":"a","credit":"b","amount":"1.00","currency":"EUR"}"#,
            false,
            2,
        );
        let mut w = Writer::new();
        s.encode_snapshot(&mut w);
        for cut in 0..w.buf.len() {
            assert!(
                Sequencer::from_snapshot(&w.buf[..cut], Limits::default()).is_err(),
                "cut {cut}"
            );
        }
    }
}
