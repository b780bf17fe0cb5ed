//! Balance commitments: a Merkle tree over every account's canonical balance record,
//! sorted by account id, hashed exactly as the log is (RFC 6962: `leaf_hash`,
//! `node_hash`), so one inclusion-proof verifier checks both an entry in the log and a
//! balance in a commitment. Sorting by id gives absence proofs: two adjacent records
//! whose ids bracket the missing one.
//!
//! The tree is incremental: the sequencer marks an account dirty when its totals change,
//! and [`BalanceTree::update`] re-hashes only those records and the paths above them.
//! Opening accounts changes the order, so it re-gathers the leaves (their hashes are
//! cached per account, not recomputed) and rebuilds the interior nodes once.
//!
//! ```text
//! {"id":"acc_1","currency":"EUR","debits_posted":"10.50","credits_posted":"0.00","debits_pending":"0.00","credits_pending":"0.00","closed":false}
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use ledgerfs_model::amount::Amount;
use ledgerfs_model::json::write_string;
use ledgerfs_model::Currency;
use ledgerfs_tiles::{empty_root, leaf_hash, node_hash, Hash};

use crate::entries::Balance;
use crate::state::Account;

/// Appends an account's canonical balance record: the bytes a commitment's leaf hashes.
/// One encoding per balance (fixed key order, amounts in the currency's exponent).
pub fn write_balance_record(out: &mut String, id: &str, currency: Currency, b: &Balance) {
    out.push_str("{\"id\":");
    write_string(out, id);
    out.push_str(",\"currency\":\"");
    out.push_str(currency.code());
    for (key, value) in [
        ("\",\"debits_posted\":\"", b.debits_posted),
        ("\",\"credits_posted\":\"", b.credits_posted),
        ("\",\"debits_pending\":\"", b.debits_pending),
        ("\",\"credits_pending\":\"", b.credits_pending),
    ] {
        out.push_str(key);
        Amount(value).write(currency, out);
    }
    out.push_str(if b.closed {
        "\",\"closed\":true}"
    } else {
        "\",\"closed\":false}"
    });
}

/// The canonical balance record of an account.
pub fn balance_record(account: &Account) -> String {
    let mut out = String::with_capacity(160);
    write_balance_record(&mut out, &account.record.id, account.record.currency, &account.balance);
    out
}

/// A record's place in a commitment: its position in id order and the audit path
/// (bottom-up, RFC 6962 §2.1.1) to the commitment's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordProof {
    /// The canonical balance record.
    pub record: String,
    /// Its position among the records sorted by account id.
    pub position: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

/// What a commitment proves about one account id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipProof {
    /// The account exists with this record.
    Present(RecordProof),
    /// No account has this id: the records just before and after it in id order (one
    /// of them absent at either end of the tree, both absent in an empty tree).
    Absent {
        /// The greatest record with a smaller id.
        before: Option<RecordProof>,
        /// The least record with a greater id.
        after: Option<RecordProof>,
    },
}

/// Why a balance proof does not check against a commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitmentError {
    /// The record's audit path does not lead to the root.
    PathMismatch,
    /// A record is not a balance record, or names another account.
    RecordInvalid,
    /// The neighbours of an absence proof are not adjacent or do not bracket the id.
    NotAdjacent,
}

impl CommitmentError {
    /// Stable code for messages and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            CommitmentError::PathMismatch => "balance_proof_path_mismatch",
            CommitmentError::RecordInvalid => "balance_record_invalid",
            CommitmentError::NotAdjacent => "balance_absence_not_adjacent",
        }
    }
}

impl core::fmt::Display for CommitmentError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}

/// The account id a balance record names. The leaf hash binds the record's exact bytes,
/// so a record that proves is the one the sequencer committed, canonical by construction.
fn record_id(record: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        id: String,
    }
    serde_json::from_str::<Head>(record).ok().map(|h| h.id)
}

/// Checks that `proof.record` sits at `proof.position` of a commitment of `size`
/// records with `root`, and returns the id it names.
pub fn verify_record(proof: &RecordProof, size: u64, root: &Hash) -> Result<String, CommitmentError> {
    let id = record_id(&proof.record).ok_or(CommitmentError::RecordInvalid)?;
    ledgerfs_tiles::verify_inclusion(
        &leaf_hash(proof.record.as_bytes()),
        proof.position,
        size,
        &proof.path,
        root,
    )
    .map_err(|_| CommitmentError::PathMismatch)?;
    Ok(id)
}

/// Checks what a commitment of `size` records with `root` says about `id`: the record
/// when it is present (returned), or that it is absent (`None`).
pub fn verify_membership(
    id: &str,
    proof: &MembershipProof,
    size: u64,
    root: &Hash,
) -> Result<Option<String>, CommitmentError> {
    match proof {
        MembershipProof::Present(p) => {
            if verify_record(p, size, root)? != id {
                return Err(CommitmentError::RecordInvalid);
            }
            Ok(Some(p.record.clone()))
        }
        MembershipProof::Absent { before, after } => {
            let before_at = match before {
                Some(p) => {
                    if verify_record(p, size, root)?.as_str() >= id {
                        return Err(CommitmentError::NotAdjacent);
                    }
                    Some(p.position)
                }
                None => None,
            };
            let after_at = match after {
                Some(p) => {
                    if verify_record(p, size, root)?.as_str() <= id {
                        return Err(CommitmentError::NotAdjacent);
                    }
                    Some(p.position)
                }
                None => None,
            };
            let adjacent = match (before_at, after_at) {
                (Some(b), Some(a)) => a == b + 1,
                (None, Some(a)) => a == 0,
                (Some(b), None) => b + 1 == size,
                (None, None) => size == 0 && *root == empty_root(),
            };
            if adjacent {
                Ok(None)
            } else {
                Err(CommitmentError::NotAdjacent)
            }
        }
    }
}

/// The balance tree the sequencer keeps: leaf hashes per account, the id order, and
/// every level of the tree, so an update costs the changed records' paths.
#[derive(Clone, Debug, Default)]
pub struct BalanceTree {
    /// Account slots in id order.
    order: Vec<u32>,
    /// Each slot's position in `order`.
    position: Vec<u32>,
    /// Each slot's leaf hash, as of the last update.
    leaves: Vec<Hash>,
    /// `levels[0]` are the leaves in id order; the last level holds the root.
    levels: Vec<Vec<Hash>>,
    /// Slots whose totals changed since the last update, and a mark per slot.
    dirty: Vec<u32>,
    marked: Vec<bool>,
}

impl BalanceTree {
    /// An empty tree (it catches up with every account on its first update).
    pub fn new() -> BalanceTree {
        BalanceTree::default()
    }

    /// The account in `slot` changed its totals (or was rolled back): re-hash it next time.
    pub fn mark(&mut self, slot: u32) {
        let s = slot as usize;
        if s < self.marked.len() && !self.marked[s] {
            self.marked[s] = true;
            self.dirty.push(slot);
        }
        // Slots beyond `marked` are new accounts: the next update hashes them anyway.
    }

    /// Forgets every cached hash (accounts were rolled back, or the state was restored
    /// from elsewhere): the next update rebuilds the whole tree.
    pub fn reset(&mut self) {
        *self = BalanceTree::default();
    }

    /// Number of records in the tree as of the last update.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the tree holds no record.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The root as of the last update.
    pub fn root(&self) -> Hash {
        match self.levels.last() {
            Some(top) if !top.is_empty() => top[0],
            _ => empty_root(),
        }
    }

    /// Brings the tree up to `accounts` (every account, in opening order; the sequencer
    /// marked each one whose totals changed) and returns the new root.
    pub fn update(&mut self, accounts: &[Account]) -> Hash {
        if accounts.len() < self.leaves.len() {
            // Accounts were removed (rolled back) without a reset: start over.
            self.reset();
        }
        let mut record = String::with_capacity(160);
        let hash = |a: &Account, record: &mut String| {
            record.clear();
            write_balance_record(record, &a.record.id, a.record.currency, &a.balance);
            leaf_hash(record.as_bytes())
        };
        let old = self.leaves.len();
        let mut changed: Vec<usize> = Vec::new();
        for slot in core::mem::take(&mut self.dirty) {
            let s = slot as usize;
            self.marked[s] = false;
            if s < old {
                let h = hash(&accounts[s], &mut record);
                if h != self.leaves[s] {
                    self.leaves[s] = h;
                    changed.push(self.position[s] as usize);
                }
            }
        }
        if accounts.len() > old {
            for a in &accounts[old..] {
                let h = hash(a, &mut record);
                self.leaves.push(h);
            }
            self.marked.resize(accounts.len(), false);
            self.reorder(accounts, old);
            self.rebuild();
        } else if changed.len() * 4 > self.order.len() {
            // Most leaves changed: one pass over the levels is cheaper than their paths.
            self.rebuild();
        } else {
            // Same accounts: re-hash only the changed leaves' paths.
            changed.sort_unstable();
            self.refresh(changed);
        }
        self.root()
    }

    /// Merges the accounts opened since the last update (`accounts[old..]`) into the
    /// id order.
    fn reorder(&mut self, accounts: &[Account], old: usize) {
        let id = |slot: u32| accounts[slot as usize].record.id.as_str();
        let mut new: Vec<u32> = (old as u32..accounts.len() as u32).collect();
        new.sort_unstable_by(|&a, &b| id(a).cmp(id(b)));
        let mut merged = Vec::with_capacity(accounts.len());
        let (mut i, mut j) = (0, 0);
        while i < self.order.len() && j < new.len() {
            if id(self.order[i]) < id(new[j]) {
                merged.push(self.order[i]);
                i += 1;
            } else {
                merged.push(new[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&self.order[i..]);
        merged.extend_from_slice(&new[j..]);
        self.order = merged;
        self.position.resize(accounts.len(), 0);
        for (p, &slot) in self.order.iter().enumerate() {
            self.position[slot as usize] = p as u32;
        }
    }

    /// Recomputes every level from the leaves in id order.
    fn rebuild(&mut self) {
        self.levels.clear();
        let mut level: Vec<Hash> = self.order.iter().map(|&s| self.leaves[s as usize]).collect();
        loop {
            let done = level.len() <= 1;
            let next = if done { Vec::new() } else { parents(&level) };
            self.levels.push(level);
            if done {
                break;
            }
            level = next;
        }
    }

    /// Re-hashes the paths above the leaves at the `changed` positions (ascending).
    fn refresh(&mut self, mut changed: Vec<usize>) {
        if self.levels.is_empty() {
            return;
        }
        for &p in &changed {
            self.levels[0][p] = self.leaves[self.order[p] as usize];
        }
        for h in 1..self.levels.len() {
            let mut next: Vec<usize> = Vec::with_capacity(changed.len());
            for &p in &changed {
                let parent = p / 2;
                if next.last() == Some(&parent) {
                    continue;
                }
                next.push(parent);
                let below = &self.levels[h - 1];
                let value = match below.get(2 * parent + 1) {
                    Some(right) => node_hash(&below[2 * parent], right),
                    None => below[2 * parent],
                };
                self.levels[h][parent] = value;
            }
            changed = next;
        }
    }

    /// The record proof of the account in `slot`, as of the last update.
    fn record_proof(&self, slot: u32, accounts: &[Account]) -> RecordProof {
        let mut p = self.position[slot as usize] as usize;
        let mut path = Vec::new();
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            if let Some(sibling) = level.get(p ^ 1) {
                path.push(*sibling);
            }
            p /= 2;
        }
        RecordProof {
            record: balance_record(&accounts[slot as usize]),
            position: u64::from(self.position[slot as usize]),
            path,
        }
    }

    /// What the tree says about `id`, as of the last update. `accounts` must be the
    /// state that update saw (the sequencer answers before it changes them again).
    pub fn prove(&self, id: &str, accounts: &[Account]) -> MembershipProof {
        let order = &self.order;
        let found = order.binary_search_by(|&s| accounts[s as usize].record.id.as_str().cmp(id));
        match found {
            Ok(p) => MembershipProof::Present(self.record_proof(order[p], accounts)),
            Err(p) => MembershipProof::Absent {
                before: p.checked_sub(1).map(|b| self.record_proof(order[b], accounts)),
                after: order.get(p).map(|&a| self.record_proof(a, accounts)),
            },
        }
    }
}

impl BalanceTree {
    /// What the tree says about `id`, if that is still true of `accounts` now: every
    /// record the proof shows is unchanged since the last update, and an absent id was
    /// not opened since. `None` means a new commitment is needed to prove it.
    pub fn prove_unchanged(&self, id: &str, accounts: &[Account]) -> Option<MembershipProof> {
        let unchanged = |slot: u32| !self.marked.get(slot as usize).copied().unwrap_or(true);
        let proof = self.prove(id, accounts);
        let shown: [Option<&RecordProof>; 2] = match &proof {
            MembershipProof::Present(p) => [Some(p), None],
            MembershipProof::Absent { before, after } => {
                if accounts.len() > self.order.len() && accounts[self.order.len()..].iter().any(|a| a.record.id == id) {
                    return None;
                }
                [before.as_ref(), after.as_ref()]
            }
        };
        let all_unchanged = shown
            .into_iter()
            .flatten()
            .all(|p| unchanged(self.order[p.position as usize]));
        all_unchanged.then_some(proof)
    }
}

/// The level above `level`: pairs hashed, an odd last node carried up unchanged (which
/// is RFC 6962's split at the largest power of two, computed bottom-up).
fn parents(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => node_hash(l, r),
            [one] => *one,
            _ => unreachable!(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use ledgerfs_model::entry::AccountRecord;
    use ledgerfs_model::event::{AccountFlags, AccountKind};
    use proptest::prelude::*;

    fn account(id: &str, debits: u128) -> Account {
        Account {
            record: AccountRecord {
                id: id.to_string(),
                currency: Currency::from_code("EUR").unwrap(),
                kind: AccountKind::parse("customer").unwrap(),
                flags: AccountFlags::default(),
                metadata: "{}".to_string(),
            },
            index: 0,
            balance: Balance {
                debits_posted: debits,
                ..Balance::default()
            },
        }
    }

    /// The root computed the slow way: RFC 6962's recursive definition over the
    /// records sorted by id.
    fn reference_root(accounts: &[Account]) -> Hash {
        fn mth(leaves: &[Hash]) -> Hash {
            match leaves.len() {
                0 => empty_root(),
                1 => leaves[0],
                n => {
                    let k = 1 << (usize::BITS - (n - 1).leading_zeros() - 1);
                    node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
                }
            }
        }
        let mut sorted: Vec<&Account> = accounts.iter().collect();
        sorted.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        let leaves: Vec<Hash> = sorted.iter().map(|a| leaf_hash(balance_record(a).as_bytes())).collect();
        mth(&leaves)
    }

    #[test]
    fn a_record_is_canonical_json() {
        let mut a = account("acc\"1", 1050);
        a.balance.closed = true;
        assert_eq!(
            balance_record(&a),
            r#"{"id":"acc\"1","currency":"EUR","debits_posted":"10.50","credits_posted":"0.00","debits_pending":"0.00","credits_pending":"0.00","closed":true}"#
        );
        assert_eq!(record_id(&balance_record(&a)).as_deref(), Some("acc\"1"));
    }

    #[test]
    fn an_empty_tree_proves_every_id_absent() {
        let mut tree = BalanceTree::new();
        let root = tree.update(&[]);
        assert_eq!(root, empty_root());
        let proof = tree.prove("x", &[]);
        assert_eq!(verify_membership("x", &proof, 0, &root), Ok(None));
    }

    #[test]
    fn tampering_is_refused() {
        let accounts: Vec<Account> = (0..7).map(|i| account(&format!("a{i}"), i)).collect();
        let mut tree = BalanceTree::new();
        let root = tree.update(&accounts);
        let MembershipProof::Present(mut p) = tree.prove("a3", &accounts) else {
            panic!("a3 exists")
        };
        assert!(verify_record(&p, 7, &root).is_ok());
        p.record = p.record.replace("0.03", "9.03");
        assert_eq!(verify_record(&p, 7, &root), Err(CommitmentError::PathMismatch));
        // A present record offered as another id, and a non-adjacent absence proof.
        let MembershipProof::Present(real) = tree.prove("a3", &accounts) else {
            panic!()
        };
        let proof = MembershipProof::Present(real.clone());
        assert_eq!(
            verify_membership("a4", &proof, 7, &root),
            Err(CommitmentError::RecordInvalid)
        );
        let MembershipProof::Present(a5) = tree.prove("a5", &accounts) else {
            panic!()
        };
        let gap = MembershipProof::Absent {
            before: Some(real),
            after: Some(a5),
        };
        assert_eq!(
            verify_membership("a4x", &gap, 7, &root),
            Err(CommitmentError::NotAdjacent)
        );
    }

    proptest! {
        /// Over random histories of openings and balance changes, the incremental tree
        /// equals the reference root after every update, and every id's proof (present
        /// or absent) verifies against it.
        #[test]
        fn the_incremental_tree_equals_the_reference(
            steps in proptest::collection::vec((0u8..3, 0u32..40, 0u128..1000), 1..60)
        ) {
            let mut accounts: Vec<Account> = Vec::new();
            let mut tree = BalanceTree::new();
            for (kind, n, amount) in steps {
                match kind {
                    0 => {
                        let id = format!("acc{n:02}");
                        if !accounts.iter().any(|a| a.record.id == id) {
                            accounts.push(account(&id, amount));
                        }
                    }
                    1 if !accounts.is_empty() => {
                        let slot = n as usize % accounts.len();
                        accounts[slot].balance.credits_posted += amount;
                        tree.mark(slot as u32);
                    }
                    _ => {
                        let root = tree.update(&accounts);
                        prop_assert_eq!(root, reference_root(&accounts));
                        let size = accounts.len() as u64;
                        for probe in 0..41 {
                            let id = format!("acc{probe:02}");
                            let proof = tree.prove(&id, &accounts);
                            let present = accounts.iter().any(|a| a.record.id == id);
                            let checked = verify_membership(&id, &proof, size, &root);
                            prop_assert_eq!(checked.map(|r| r.is_some()), Ok(present));
                        }
                    }
                }
            }
            prop_assert_eq!(tree.update(&accounts), reference_root(&accounts));
        }
    }
}
