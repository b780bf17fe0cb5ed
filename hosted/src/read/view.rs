//! The committed read model: balances, per-account posting lists and the current signed
//! checkpoint, updated by the committer only after a group is durable. Readers never
//! see a balance that a crash could take back. It is a projection: rebuilt from the log
//! at start-up, never written anywhere.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ledgerfs_model::entry::{AccountRecord, Entry, EntryBody};
use ledgerfs_sequencer::{two_mut, Balance, EntryBuffer, Posting};

/// A signed checkpoint that is durable: the tiles core's [`ledgerfs_tiles::SignedHead`]
/// (size, root, the signed note), under the name the daemon's readers use.
pub use ledgerfs_tiles::SignedHead as Committed;

/// An account as readers see it.
#[derive(Clone, Debug)]
pub struct AccountView {
    /// The account as opened.
    pub record: AccountRecord<String>,
    /// Index of its opening entry.
    pub index: u64,
    /// Posted and pending debits and credits (minor units), changed only by the
    /// sequencer core's `Posting::apply`.
    pub balance: Balance,
    /// Indices of the transfers touching it, oldest first.
    pub postings: Vec<u64>,
}

/// The state behind the lock.
#[derive(Debug, Default)]
pub struct ViewState {
    /// The durable checkpoint everything here is consistent with.
    pub committed: Option<Arc<Committed>>,
    /// Accounts in opening order (slot = position).
    pub accounts: Vec<AccountView>,
    /// Account id to slot.
    pub slots: HashMap<String, u32>,
    /// Entries applied (= committed size once caught up).
    pub size: u64,
    /// Transfers applied.
    pub transfers: u64,
    /// Length of `events.log` (every entry followed by a newline).
    pub events_bytes: u64,
    /// Byte offset in `events.log` of the first entry of each entry bundle.
    pub bundle_starts: Vec<u64>,
    /// Transfers whose metadata carries document descriptors: (index, transfer id).
    pub documents: Vec<(u64, String)>,
    /// When the current checkpoint became durable (the view's mtime).
    pub published: Option<std::time::SystemTime>,
}

impl ViewState {
    /// Writes the read model's own part of a snapshot: what the sequencer's section does
    /// not hold (posting lists, counters, `events.log` offsets, documents). Records and
    /// balances come from the sequencer's section, so they are stored once.
    pub fn encode_snapshot(&self, w: &mut ledgerfs_snapshot::Writer) {
        w.u64(self.size);
        w.u64(self.transfers);
        w.u64(self.events_bytes);
        w.u64(self.accounts.len() as u64);
        for account in &self.accounts {
            w.u64(account.postings.len() as u64);
            for &index in &account.postings {
                w.u64(index);
            }
        }
        w.u64(self.bundle_starts.len() as u64);
        for &start in &self.bundle_starts {
            w.u64(start);
        }
        w.u64(self.documents.len() as u64);
        for (index, id) in &self.documents {
            w.u64(*index);
            w.bytes(id.as_bytes());
        }
    }

    /// Rebuilds the read model from its snapshot section and the sequencer's accounts.
    pub fn from_snapshot(
        section: &[u8],
        accounts: &[ledgerfs_sequencer::Account],
    ) -> std::result::Result<ViewState, ledgerfs_snapshot::SnapshotError> {
        use ledgerfs_snapshot::SnapshotError::Malformed;
        let mut r = ledgerfs_snapshot::Reader::new(section);
        let mut view = ViewState {
            size: r.u64()?,
            transfers: r.u64()?,
            events_bytes: r.u64()?,
            ..ViewState::default()
        };
        if r.len()? != accounts.len() {
            return Err(Malformed("the read model and the sequencer disagree on the accounts"));
        }
        for (slot, account) in accounts.iter().enumerate() {
            let n = r.len()?;
            let mut postings = Vec::with_capacity(n);
            for _ in 0..n {
                postings.push(r.u64()?);
            }
            view.slots.insert(account.record.id.clone(), slot as u32);
            view.accounts.push(AccountView {
                record: account.record.clone(),
                index: account.index,
                balance: account.balance,
                postings,
            });
        }
        for _ in 0..r.len()? {
            view.bundle_starts.push(r.u64()?);
        }
        for _ in 0..r.len()? {
            let index = r.u64()?;
            let id = String::from_utf8(r.prefixed()?.to_vec()).map_err(|_| Malformed("document id"))?;
            view.documents.push((index, id));
        }
        if !r.is_empty() {
            return Err(Malformed("bytes after the documents"));
        }
        Ok(view)
    }
}

impl AccountView {
    /// The postings covered by a tree of `size` entries (all of them when the view and
    /// the checkpoint were read together, which is the only way readers read them).
    pub fn postings_below(&self, size: u64) -> &[u64] {
        &self.postings[..self.postings.partition_point(|&i| i < size)]
    }
}

impl ViewState {
    /// Looks an account up by id.
    pub fn account(&self, id: &str) -> Option<&AccountView> {
        self.slots.get(id).map(|&slot| &self.accounts[slot as usize])
    }

    /// The durable size readers may read up to: the checkpoint's, read under the same
    /// lock as everything else here.
    pub fn committed_size(&self) -> u64 {
        self.committed.as_ref().map_or(0, |c| c.size)
    }

    /// One page of an account's history from this one read of the state: the size it is
    /// consistent with and up to `limit` posting indices after `after`, all below that
    /// size. `None` for an unknown account.
    pub fn history_page(&self, id: &str, after: Option<u64>, limit: usize) -> Option<(u64, Vec<u64>)> {
        let size = self.committed_size();
        let postings = self.account(id)?.postings_below(size);
        let start = after.map_or(0, |after| postings.partition_point(|&i| i <= after));
        Some((size, postings[start..].iter().copied().take(limit).collect()))
    }

    /// An account and the checkpoint it is consistent with, from this one read of the
    /// state; postings the checkpoint does not cover are left out.
    pub fn account_snapshot(&self, id: &str) -> Option<(Arc<Committed>, AccountView)> {
        let committed = self.committed.clone()?;
        let a = self.account(id)?;
        let account = AccountView {
            record: a.record.clone(),
            index: a.index,
            balance: a.balance,
            postings: a.postings_below(committed.size).to_vec(),
        };
        Some((committed, account))
    }

    /// Applies durable entries (with the postings the sequencer produced for them).
    pub fn apply(&mut self, entries: &EntryBuffer) {
        let Some(first) = entries.first_index() else { return };
        assert_eq!(first, self.size, "the view applies entries in log order");
        for i in 0..entries.len() {
            self.apply_one(self.size, entries.get(i), entries.posting(i));
            self.size += 1;
        }
    }

    fn apply_one(&mut self, index: u64, bytes: &[u8], posting: Posting) {
        if index % ledgerfs_tiles::TILE_WIDTH == 0 {
            self.bundle_starts.push(self.events_bytes);
        }
        self.events_bytes += bytes.len() as u64 + 1;
        match posting {
            Posting::Opened { slot } => {
                assert_eq!(slot as usize, self.accounts.len(), "accounts open in slot order");
                let entry = Entry::decode(bytes).expect("the sequencer wrote a canonical entry");
                let EntryBody::Account(record) = entry.body else {
                    panic!("an opening posting belongs to an account entry")
                };
                self.slots.insert(record.id.clone(), slot);
                self.accounts.push(AccountView {
                    record,
                    index,
                    balance: Balance::default(),
                    postings: Vec::new(),
                });
            }
            // A balance commitment changes no balance (its proofs come from the sequencer).
            Posting::Committed => {}
            transfer => {
                let (debit, credit) = transfer.accounts().expect("a transfer's posting");
                let (d, c) = two_mut(&mut self.accounts, debit, credit);
                transfer.apply(&mut d.balance, &mut c.balance);
                d.postings.push(index);
                c.postings.push(index);
                self.transfers += 1;
                if transfer.has_metadata() && contains(bytes, b"\"documents\":") {
                    self.note_documents(index, bytes);
                }
            }
        }
    }
}

impl ViewState {
    fn note_documents(&mut self, index: u64, bytes: &[u8]) {
        let entry = Entry::decode(bytes).expect("the sequencer wrote a canonical entry");
        if let EntryBody::Transfer(t) = entry.body {
            if crate::read::render::documents(&t.metadata).is_some() {
                self.documents.push((index, t.id));
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The shared read model.
#[derive(Debug, Default)]
pub struct View {
    /// Readers take the read lock briefly; the committer writes once per group.
    pub state: RwLock<ViewState>,
}

impl View {
    /// The current durable checkpoint.
    pub fn committed(&self) -> Option<Arc<Committed>> {
        self.state.read().expect("view lock").committed.clone()
    }

    /// The durable size.
    pub fn size(&self) -> u64 {
        self.committed().map_or(0, |c| c.size)
    }

    /// [`ViewState::account_snapshot`] under one read of the lock: a request renders an
    /// account from this, never from a size and postings read at different times.
    pub fn account_snapshot(&self, id: &str) -> Option<(Arc<Committed>, AccountView)> {
        self.state.read().expect("view lock").account_snapshot(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(postings: Vec<u64>) -> AccountView {
        let entry = br#"{"v":1,"index":0,"time":"1970-01-01T00:00:00.000000000Z","type":"account","id":"a","currency":"EUR","kind":"customer","flags":[],"metadata":{}}"#;
        let record = match Entry::decode(entry).map(|e| e.body) {
            Ok(EntryBody::Account(record)) => record,
            other => panic!("test account entry: {other:?}"),
        };
        AccountView {
            record,
            index: 0,
            balance: Balance::default(),
            postings,
        }
    }

    #[test]
    fn a_snapshot_never_names_an_index_beyond_its_checkpoint() {
        let view = View::default();
        {
            let mut state = view.state.write().unwrap();
            state.slots.insert("a".into(), 0);
            // Postings 5 and 6 are newer than the checkpoint (size 5).
            state.accounts.push(account(vec![1, 3, 4, 5, 6]));
            state.committed = Some(Arc::new(Committed {
                size: 5,
                root: [0; 32],
                note: String::new(),
            }));
        }
        let (committed, a) = view.account_snapshot("a").unwrap();
        assert_eq!(committed.size, 5);
        assert_eq!(a.postings, [1, 3, 4]);
        assert_eq!(view.state.read().unwrap().accounts[0].postings_below(0), [] as [u64; 0]);
        assert!(view.account_snapshot("b").is_none());
        let state = view.state.read().unwrap();
        assert_eq!(state.history_page("a", None, 100), Some((5, vec![1, 3, 4])));
        assert_eq!(state.history_page("a", Some(1), 1), Some((5, vec![3])));
        assert_eq!(state.history_page("a", Some(4), 100), Some((5, vec![])));
        assert_eq!(state.history_page("b", None, 100), None);
    }
}
