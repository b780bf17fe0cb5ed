//! The sequencer's state and its batch execution. Every rule about whether an event is
//! accepted lives here (or in `ledgerfs-model` for rules that need no state), once.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use hashbrown::HashMap;

use ledgerfs_model::entry::{AccountRecord, CommitmentRecord, Entry, EntryBody, EntryError, TransferRecord};
use ledgerfs_model::event::{validate_id, validate_reference, AccountFlags, AccountKind};
use ledgerfs_model::json::canonical_metadata;
use ledgerfs_model::time::UnixNanos;
use ledgerfs_model::{
    parse_transfer_flags, Amount, Balancing, Closing, Currency, Event, NewAccount, NewTransfer, Phase, ResultCode,
};

use crate::commitment::{BalanceTree, MembershipProof};
use crate::entries::{two_mut, Balance, EntryBuffer, Posting};
use crate::fingerprint::{body_digest, id_fingerprint, FingerprintBuildHasher};
use alloc::collections::{BTreeSet, VecDeque};

/// Capacity limits, fixed at start-up (the tables are sized from them once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most accounts the ledger will hold.
    pub max_accounts: usize,
    /// Most transfers the ledger will hold.
    pub max_transfers: usize,
    /// Capacity reserved up front for the transfer table (the rest grows on demand);
    /// never more than `max_transfers`, whatever is asked.
    pub reserve_transfers: usize,
}

impl Limits {
    /// No limit a replay could reach: for replaying a log someone else accepted (a
    /// verifier, a report, a resolution pack), where the ledger's own limits do not apply.
    pub const fn unbounded() -> Limits {
        Limits {
            max_accounts: usize::MAX >> 33,
            max_transfers: usize::MAX,
            reserve_transfers: 0,
        }
    }

    /// Transfer-table slots to reserve up front: `reserve_transfers`, but never more
    /// than the ledger may hold (a small `max_transfers` with the default reserve).
    pub fn transfer_reserve(&self) -> usize {
        self.reserve_transfers.min(self.max_transfers)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_accounts: 1_000_000,
            max_transfers: 100_000_000,
            reserve_transfers: 0,
        }
    }
}

/// An account with its totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account as opened.
    pub record: AccountRecord<String>,
    /// Log index of the entry that opened it.
    pub index: u64,
    /// Posted and pending debits and credits, in minor units.
    pub balance: Balance,
}

/// A pending transfer's reservation, kept to resolve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PendingTransfer {
    pub(crate) debit: u32,
    pub(crate) credit: u32,
    pub(crate) amount: u128,
    pub(crate) state: PendingState,
    /// When it expires if still pending (log time; 0: never).
    pub(crate) expires_at: UnixNanos,
    /// The accounts it closes while pending (and once posted).
    pub(crate) closing: Closing,
}

/// Where a pending transfer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PendingState {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl PendingState {
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(code: u8) -> Option<PendingState> {
        [
            PendingState::Pending,
            PendingState::Posted,
            PendingState::Voided,
            PendingState::Expired,
        ]
        .get(usize::from(code))
        .copied()
    }
}

/// What a transfer did to the pending table, to undo it.
#[derive(Clone, Copy, Debug)]
enum PendingChange {
    None,
    Created(u128),
    Resolved(u128),
    Expired(u128),
}

/// The outcome of one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventResult {
    /// What happened.
    pub code: ResultCode,
    /// The log index, for `ok` (new) and `exists` (original).
    pub index: Option<u64>,
    /// The field a rejection is about (`"debit"`, `"credit"`), when it is ambiguous.
    pub field: Option<&'static str>,
    /// The entry's commit time (the log's clock), for `ok`. For `exists` the core keeps
    /// only the original's index (a host that has the log reads its time there).
    pub time: Option<UnixNanos>,
}

impl EventResult {
    fn rejected(code: ResultCode) -> Self {
        debug_assert!(!code.is_success());
        EventResult {
            code,
            index: None,
            field: None,
            time: None,
        }
    }

    fn accepted(code: ResultCode, index: u64) -> Self {
        debug_assert!(code.is_success());
        EventResult {
            code,
            index: Some(index),
            field: None,
            time: None,
        }
    }

    /// A new entry at `index`, committed at `time`.
    fn created(index: u64, time: UnixNanos) -> Self {
        EventResult {
            time: Some(time),
            ..EventResult::accepted(ResultCode::Ok, index)
        }
    }

    fn rejected_on(code: ResultCode, field: &'static str) -> Self {
        EventResult {
            code,
            index: None,
            field: Some(field),
            time: None,
        }
    }
}

/// Why a log entry could not be replayed: the store is not a log this code wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The bytes are not a canonical entry.
    Entry(EntryError),
    /// The entry's index is not the next one.
    IndexMismatch {
        /// Index the sequencer expected.
        expected: u64,
        /// Index the entry carries.
        found: u64,
    },
    /// Re-executing the entry was refused with this code.
    Rejected(ResultCode),
    /// Re-executing the entry produced different bytes.
    Diverged,
    /// A balance commitment entry does not commit to the balances the log before it
    /// derives (a wrong root or record count).
    CommitmentMismatch,
}

impl core::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReplayError::Entry(e) => write!(f, "{e}"),
            ReplayError::IndexMismatch { expected, found } => {
                write!(f, "entry carries index {found}, expected {expected}")
            }
            ReplayError::Rejected(code) => write!(f, "re-executing the entry was refused: {code}"),
            ReplayError::Diverged => f.write_str("re-executing the entry produced different bytes"),
            ReplayError::CommitmentMismatch => {
                f.write_str("the balance commitment does not match the balances the log before it derives")
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TransferSeen {
    pub(crate) index: u64,
    pub(crate) digest: u64,
}

/// How to undo one applied event: kept for every entry that is not yet durable, so a
/// failed linked chain or a failed storage write can be rolled back exactly.
#[derive(Clone, Copy, Debug)]
enum Undo {
    Account {
        prev_time: UnixNanos,
    },
    Transfer {
        prev_time: UnixNanos,
        fingerprint: u128,
        posting: Posting,
        pending: PendingChange,
        /// The entry took its id in the transfer table (an expiry names another's).
        seen: bool,
    },
    Commitment {
        prev_time: UnixNanos,
    },
}

/// What a transfer moves, between which accounts: debit and credit slots, currency,
/// amount, and for a resolution the pending transfer's reserved amount, state, expiry and
/// closing flags.
type Resolved = (
    u32,
    u32,
    Currency,
    Amount,
    Option<(u128, PendingState, UnixNanos, Closing)>,
);

/// Where a linked chain started, to roll back to.
#[derive(Clone, Copy, Debug)]
struct ChainStart {
    event: usize,
    entries: usize,
    next_index: u64,
}

/// The sequencer state machine.
#[derive(Clone, Debug)]
pub struct Sequencer {
    limits: Limits,
    pub(crate) accounts: Vec<Account>,
    pub(crate) account_slots: HashMap<String, u32>,
    pub(crate) transfers: HashMap<u128, TransferSeen, FingerprintBuildHasher>,
    /// Every pending transfer ever made, by id fingerprint, with where it stands.
    pub(crate) pending: HashMap<u128, PendingTransfer, FingerprintBuildHasher>,
    /// Pending transfers with a timeout that are still pending, by expiry time: the
    /// next batch's sequencing writes an expiry entry for each one due.
    pub(crate) expiring: BTreeSet<(UnixNanos, u128)>,
    /// Ids of the pending transfers that have a timeout (an expiry entry names its id).
    pub(crate) timed_ids: HashMap<u128, String, FingerprintBuildHasher>,
    pub(crate) next_index: u64,
    pub(crate) last_time: UnixNanos,
    /// Undo records for entries `durable_size..next_index`, oldest first.
    undo: VecDeque<Undo>,
    pub(crate) durable_size: u64,
    /// Storage failures survived (see `crate::durability`).
    pub(crate) epoch: u64,
    /// Fund segregation is enforced on new transfers (see [`Sequencer::with_fund_segregation`]).
    segregation: bool,
    /// Re-executing logged entries: acceptance policies that are not state rules (fund
    /// segregation) are not applied again; the log says what was accepted then.
    replaying: bool,
    /// The balance commitment tree: accounts whose totals change are marked in it, and
    /// [`Sequencer::commit_balances`] re-hashes only those.
    balances: BalanceTree,
    /// Write a balance commitment entry after a batch that crosses a multiple of this
    /// many entries, or of `commit_per_account` per account when that is more (0: only
    /// on demand, [`Sequencer::commit_now`]).
    commit_every: u64,
    commit_per_account: u64,
    /// Index of the commitment entry the balance tree equals, while it does.
    committed_at: Option<u64>,
}

/// The usual spacing of periodic balance commitments, in entries per account: a
/// commitment re-hashes up to every account's record, so spacing them by the number of
/// accounts keeps that near 2% of sequencing at any size (README, "Balance proofs").
pub const ENTRIES_PER_ACCOUNT_PER_COMMITMENT: u64 = 20;

/// What a logged balance commitment proves about one account id, while it is still
/// true (see [`Sequencer::prove_committed`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedProof {
    /// Log index of the commitment entry.
    pub index: u64,
    /// The commitment it holds.
    pub commitment: CommitmentRecord,
    /// The account's record and path, or the two records that bracket its id.
    pub proof: MembershipProof,
}

impl PartialEq for Sequencer {
    fn eq(&self, other: &Self) -> bool {
        self.accounts == other.accounts
            && self.account_slots == other.account_slots
            && self.transfers == other.transfers
            && self.pending == other.pending
            && self.expiring == other.expiring
            && self.timed_ids == other.timed_ids
            && self.next_index == other.next_index
            && self.last_time == other.last_time
    }
}

impl Sequencer {
    /// An empty ledger with the given limits.
    pub fn new(limits: Limits) -> Self {
        assert!(limits.max_accounts <= u32::MAX as usize, "account slots are u32");
        let mut transfers = HashMap::with_hasher(FingerprintBuildHasher);
        transfers.reserve(limits.transfer_reserve());
        Sequencer {
            limits,
            accounts: Vec::new(),
            account_slots: HashMap::new(),
            transfers,
            pending: HashMap::with_hasher(FingerprintBuildHasher),
            expiring: BTreeSet::new(),
            timed_ids: HashMap::with_hasher(FingerprintBuildHasher),
            next_index: 0,
            last_time: 0,
            undo: VecDeque::new(),
            durable_size: 0,
            epoch: 0,
            segregation: true,
            replaying: false,
            balances: BalanceTree::new(),
            commit_every: 0,
            commit_per_account: 0,
            committed_at: None,
        }
    }

    /// Writes a balance commitment entry after every batch that crosses a multiple of
    /// `every` entries, or of `per_account` entries per account when that is more
    /// (`every` 0: never on its own; see [`ENTRIES_PER_ACCOUNT_PER_COMMITMENT`]). A policy
    /// of the writer: replay checks each commitment the log holds, wherever it is.
    pub fn with_balance_commitments(mut self, every: u64, per_account: u64) -> Self {
        self.commit_every = every;
        self.commit_per_account = per_account;
        self
    }

    /// Whether new transfers between client money (customer and safeguarding accounts)
    /// and the firm's own money (operational, revenue, expense) must declare it with the
    /// `firm_funds` flag (CASS 15 fund segregation; on by default). A policy on what is
    /// accepted, not a state rule: replay accepts what the log holds either way.
    pub fn with_fund_segregation(mut self, enforce: bool) -> Self {
        self.segregation = enforce;
        self
    }

    /// The index the next accepted event will get (= the log size).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The time of the last accepted event.
    pub fn last_time(&self) -> UnixNanos {
        self.last_time
    }

    /// An account and its balances.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.account_slots.get(id).map(|&slot| &self.accounts[slot as usize])
    }

    /// Every account, in opening order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The log index of a recorded transfer.
    pub fn transfer_index(&self, id: &str) -> Option<u64> {
        self.transfers.get(&id_fingerprint(id)).map(|seen| seen.index)
    }

    /// Brings the balance commitment tree up to the current state and returns its root
    /// and record count: the commitment of every account's balance record as of
    /// `next_index()`. The cost is the accounts changed since the last call (plus one
    /// rebuild of the interior nodes when accounts were opened). A commitment taken here
    /// is not in the log: proofs against the logged one need a new entry afterwards
    /// ([`Sequencer::commit_now`]).
    pub fn commit_balances(&mut self) -> (ledgerfs_tiles::Hash, u64) {
        self.committed_at = None;
        let root = self.balances.update(&self.accounts);
        (root, self.accounts.len() as u64)
    }

    /// A commitment of the current balances (as [`Sequencer::commit_balances`]) and
    /// what it proves about `id`: its record with its path, or the two records that
    /// bracket it.
    pub fn prove_balance(&mut self, id: &str) -> (ledgerfs_tiles::Hash, u64, MembershipProof) {
        let (root, size) = self.commit_balances();
        (root, size, self.balances.prove(id, &self.accounts))
    }

    /// Writes a balance commitment entry now (after the entries sequenced so far) and
    /// returns its index: the on-demand commitment a balance proof asks for.
    pub fn commit_now(&mut self, now: UnixNanos, entries: &mut EntryBuffer) -> u64 {
        let index = self.next_index;
        let time = self.next_time(now);
        let (root, accounts) = self.commit_balances();
        let entry = Entry {
            index,
            time,
            body: EntryBody::<String>::Commitment(CommitmentRecord { accounts, root }),
        };
        entries.push_with(index, Posting::Committed, |out| entry.write(out));
        self.undo.push_back(Undo::Commitment {
            prev_time: self.last_time,
        });
        self.next_index += 1;
        self.last_time = time;
        self.committed_at = Some(index);
        index
    }

    /// What the last logged balance commitment proves about `id`, if it is still true
    /// now: the account's record is unchanged since (or it is still absent and its
    /// neighbours unchanged). `None`: no commitment entry is current for it, and
    /// [`Sequencer::commit_now`] makes one. The entry may not be durable yet.
    pub fn prove_committed(&self, id: &str) -> Option<CommittedProof> {
        let index = self.committed_at?;
        let proof = self.balances.prove_unchanged(id, &self.accounts)?;
        Some(CommittedProof {
            index,
            commitment: CommitmentRecord {
                accounts: self.balances.len() as u64,
                root: self.balances.root(),
            },
            proof,
        })
    }

    /// Number of transfers recorded.
    pub fn transfer_count(&self) -> usize {
        self.transfers.len()
    }

    /// Executes a batch: appends one result per event to `results` and the entries of
    /// accepted events to `entries`, in order. Linked chains are all-or-nothing.
    pub fn execute(
        &mut self,
        events: &[Event],
        now: UnixNanos,
        results: &mut Vec<EventResult>,
        entries: &mut EntryBuffer,
    ) {
        let results_base = results.len();
        let start = self.next_index;
        self.expire_due(now, entries);
        // One allocation per batch at most, not one per doubling on the hot path.
        self.undo.reserve(events.len());
        results.reserve(events.len());
        let mut chain: Option<ChainStart> = None;
        let mut i = 0;
        while i < events.len() {
            let event = &events[i];
            if chain.is_none() && event.linked() {
                chain = Some(ChainStart {
                    event: i,
                    entries: entries.len(),
                    next_index: self.next_index,
                });
            }
            let result = match event {
                // Expiries are the ledger's own entries: no request may ask for one.
                Event::Transfer(t) if t.flags.iter().any(|f| f == ledgerfs_model::event::EXPIRE_PENDING) => {
                    EventResult::rejected(ResultCode::TransferFlagsInvalid)
                }
                _ => self.apply(event, now, entries),
            };
            results.push(result);
            if let Some(start) = chain {
                if !result.code.is_success() {
                    self.roll_back(start, entries);
                    for r in &mut results[results_base + start.event..results_base + i] {
                        *r = EventResult::rejected(ResultCode::LinkedEventFailed);
                    }
                    // Skip the rest of this chain: up to and including its first unlinked event.
                    let mut j = i;
                    while j < events.len() && events[j].linked() {
                        j += 1;
                        if j < events.len() {
                            results.push(EventResult::rejected(ResultCode::LinkedEventFailed));
                        }
                    }
                    if j == events.len() {
                        // The chain never closed: its last event reports that.
                        let last = results.len() - 1;
                        if last > results_base + i {
                            results[last] = EventResult::rejected(ResultCode::LinkedEventChainOpen);
                        }
                    }
                    chain = None;
                    i = j + 1;
                    continue;
                }
                if !event.linked() {
                    chain = None;
                }
            }
            i += 1;
        }
        if let Some(start) = chain {
            self.roll_back(start, entries);
            let first = results_base + start.event;
            let last = results.len() - 1;
            for r in &mut results[first..last] {
                *r = EventResult::rejected(ResultCode::LinkedEventFailed);
            }
            results[last] = EventResult::rejected(ResultCode::LinkedEventChainOpen);
        }
        if self.commit_every > 0 {
            let per_accounts = self.commit_per_account.saturating_mul(self.accounts.len() as u64);
            let every = self.commit_every.max(per_accounts);
            if start / every < self.next_index / every {
                self.commit_now(now, entries);
            }
        }
        assert_eq!(self.undo.len() as u64, self.next_index - self.durable_size);
        assert_eq!(results.len() - results_base, events.len());
        debug_assert!(entries
            .first_index()
            .is_none_or(|first| first + entries.len() as u64 == self.next_index));
    }

    /// Re-executes one logged entry; it must be accepted and reproduce `bytes` exactly.
    pub fn replay(&mut self, bytes: &[u8], scratch: &mut EntryBuffer) -> Result<(), ReplayError> {
        let entry = Entry::decode(bytes).map_err(ReplayError::Entry)?;
        if entry.index != self.next_index {
            return Err(ReplayError::IndexMismatch {
                expected: self.next_index,
                found: entry.index,
            });
        }
        scratch.clear();
        if let EntryBody::Commitment(logged) = entry.body {
            self.commit_now(entry.time, scratch);
            self.mark_durable(self.next_index);
            let derived = Entry::decode(scratch.get(0)).expect("the sequencer writes canonical entries");
            if derived.body != EntryBody::Commitment(logged) {
                return Err(ReplayError::CommitmentMismatch);
            }
            return match scratch.get(0) == bytes {
                true => Ok(()),
                false => Err(ReplayError::Diverged),
            };
        }
        let event = event_of(&entry);
        self.replaying = true;
        let result = self.apply(&event, entry.time, scratch);
        self.replaying = false;
        self.mark_durable(self.next_index);
        if result.code != ResultCode::Ok {
            return Err(ReplayError::Rejected(result.code));
        }
        if scratch.len() != 1 || scratch.get(0) != bytes {
            return Err(ReplayError::Diverged);
        }
        Ok(())
    }

    /// Entries below `size` are on stable storage: their undo records can go.
    pub fn mark_durable(&mut self, size: u64) {
        assert!(size >= self.durable_size, "durable size never shrinks");
        assert!(size <= self.next_index, "cannot be durable beyond what was sequenced");
        let drop = (size - self.durable_size) as usize;
        self.undo.drain(..drop);
        self.durable_size = size;
    }

    /// Entries from `size` on were not stored (a write failed): undo them exactly, so
    /// the state equals the one that produced the durable log.
    pub fn roll_back_to(&mut self, size: u64) {
        assert!(size >= self.durable_size, "cannot roll back durable entries");
        assert!(size <= self.next_index);
        while self.next_index > size {
            let undo = self.undo.pop_back().expect("an undo record per non-durable entry");
            match undo {
                Undo::Commitment { prev_time } => {
                    // The tree stays as that commitment saw it, which the log no longer holds.
                    self.committed_at = None;
                    self.last_time = prev_time;
                }
                Undo::Account { prev_time } => {
                    let account = self.accounts.pop().expect("undo of an account that exists");
                    self.balances.reset();
                    self.committed_at = None;
                    self.account_slots.remove(&account.record.id);
                    self.last_time = prev_time;
                }
                Undo::Transfer {
                    prev_time,
                    fingerprint,
                    posting,
                    pending,
                    seen,
                } => {
                    if seen {
                        self.transfers.remove(&fingerprint);
                    }
                    let (debit, credit) = posting.accounts().expect("a transfer's posting");
                    let (d, c) = two_mut(&mut self.accounts, debit, credit);
                    posting.undo(&mut d.balance, &mut c.balance);
                    self.balances.mark(debit);
                    self.balances.mark(credit);
                    match pending {
                        PendingChange::None => {}
                        PendingChange::Created(key) => {
                            let p = self.pending.remove(&key).expect("a created pending transfer");
                            if p.expires_at != 0 {
                                self.expiring.remove(&(p.expires_at, key));
                                self.timed_ids.remove(&key);
                            }
                        }
                        PendingChange::Resolved(key) | PendingChange::Expired(key) => {
                            let p = self.pending.get_mut(&key).expect("a resolved pending transfer");
                            p.state = PendingState::Pending;
                            if p.expires_at != 0 {
                                self.expiring.insert((p.expires_at, key));
                            }
                        }
                    }
                    self.last_time = prev_time;
                }
            }
            self.next_index -= 1;
        }
    }

    /// Entries below this size are durable (no undo kept for them).
    pub fn durable_size(&self) -> u64 {
        self.durable_size
    }

    /// Entries sequenced but not yet marked durable.
    pub fn pending(&self) -> u64 {
        self.next_index - self.durable_size
    }

    fn roll_back(&mut self, start: ChainStart, entries: &mut EntryBuffer) {
        self.roll_back_to(start.next_index);
        entries.truncate(start.entries);
    }

    /// Times strictly increase along the log, so "state at time T" is unambiguous.
    fn next_time(&self, now: UnixNanos) -> UnixNanos {
        if self.next_index == 0 {
            now
        } else {
            now.max(self.last_time + 1)
        }
    }

    /// Writes an expiry entry for every pending transfer whose timeout passed by the time
    /// this batch is sequenced (the log's clock decides, so replay decides the same).
    fn expire_due(&mut self, now: UnixNanos, entries: &mut EntryBuffer) {
        while let Some(&(at, key)) = self.expiring.first() {
            if at > self.next_time(now) {
                return;
            }
            let id = self.timed_ids.get(&key).expect("a timed pending transfer's id").clone();
            let expiry = NewTransfer {
                id: id.clone(),
                debit: String::new(),
                credit: String::new(),
                amount: String::new(),
                currency: String::new(),
                reference: String::new(),
                metadata: String::from("{}"),
                linked: false,
                flags: alloc::vec![String::from(ledgerfs_model::event::EXPIRE_PENDING)],
                pending_id: id,
                timeout: 0,
                time: 0,
            };
            let result = self.post_transfer(&expiry, now, entries);
            assert_eq!(result.code, ResultCode::Ok, "a due expiry is always recorded");
        }
    }

    fn apply(&mut self, event: &Event, now: UnixNanos, entries: &mut EntryBuffer) -> EventResult {
        match event {
            Event::Account(a) => self.open_account(a, now, entries),
            Event::Transfer(t) => self.post_transfer(t, now, entries),
        }
    }

    fn open_account(&mut self, a: &NewAccount, now: UnixNanos, entries: &mut EntryBuffer) -> EventResult {
        if let Err(code) = validate_id(&a.id) {
            return EventResult::rejected(code);
        }
        let Some(currency) = Currency::from_code(&a.currency) else {
            return EventResult::rejected(ResultCode::CurrencyInvalid);
        };
        let Some(kind) = AccountKind::parse(&a.kind) else {
            return EventResult::rejected(ResultCode::KindInvalid);
        };
        let flags = match AccountFlags::parse(&a.flags) {
            Ok(flags) => flags,
            Err(code) => return EventResult::rejected(code),
        };
        let metadata = match canonical_metadata(&a.metadata) {
            Ok(m) => m.into_owned(),
            Err(code) => return EventResult::rejected(code),
        };
        let record = AccountRecord {
            id: a.id.clone(),
            currency,
            kind,
            flags,
            metadata,
        };
        if let Some(existing) = self.account(&a.id) {
            if existing.record == record {
                return EventResult::accepted(ResultCode::Exists, existing.index);
            }
            return EventResult::rejected(ResultCode::IdExistsWithDifferentFields);
        }
        if self.accounts.len() >= self.limits.max_accounts {
            return EventResult::rejected(ResultCode::AccountLimitReached);
        }
        let index = self.next_index;
        let time = match self.event_time(flags.imported, a.time, now) {
            Ok(time) => time,
            Err(result) => return result,
        };
        let entry = Entry {
            index,
            time,
            body: EntryBody::Account(record),
        };
        let slot = u32::try_from(self.accounts.len()).expect("bounded by max_accounts");
        entries.push_with(index, Posting::Opened { slot }, |out| entry.write(out));
        let EntryBody::Account(record) = entry.body else {
            unreachable!()
        };
        self.account_slots.insert(record.id.clone(), slot);
        self.accounts.push(Account {
            record,
            index,
            balance: Balance::default(),
        });
        self.undo.push_back(Undo::Account {
            prev_time: self.last_time,
        });
        self.next_index += 1;
        self.last_time = time;
        EventResult::created(index, time)
    }

    fn post_transfer(&mut self, t: &NewTransfer, now: UnixNanos, entries: &mut EntryBuffer) -> EventResult {
        if let Err(code) = validate_id(&t.id) {
            return EventResult::rejected(code);
        }
        let (phase, balancing, closing, imported, firm_funds) = match parse_transfer_flags(&t.flags, &t.pending_id) {
            Ok(parsed) => (
                parsed.phase,
                parsed.balancing,
                parsed.closing,
                parsed.imported,
                parsed.firm_funds,
            ),
            Err(code) => return EventResult::rejected(code),
        };
        let expiry = matches!(phase, Phase::Expire { .. });
        if phase.pending_id() == Some(t.id.as_str()) && !expiry {
            return EventResult::rejected(ResultCode::PendingIdMustBeDifferent);
        }
        if t.timeout > 0 && phase != Phase::Pending {
            return EventResult::rejected(ResultCode::TimeoutReservedForPending);
        }
        if let Err(code) = validate_reference(&t.reference) {
            return EventResult::rejected(code);
        }
        let metadata = match canonical_metadata(&t.metadata) {
            Ok(m) => m,
            Err(code) => return EventResult::rejected(code),
        };
        let fingerprint = id_fingerprint(&t.id);
        // What the transfer moves, between which accounts: given (single, pending) or
        // the pending transfer's (post, void).
        let resolved = match phase.pending_id() {
            None => self.resolve_new(t),
            Some(pending_id) => self.resolve_pending(t, pending_id, matches!(phase, Phase::Post { .. })),
        };
        let (debit, credit, currency, amount, pending) = match resolved {
            Ok(r) => r,
            Err(result) => return result,
        };
        // Fund segregation: crossing between client money and the firm's own is declared.
        // A resolution moves what its pending transfer (checked then) reserved.
        if self.segregation && !self.replaying && pending.is_none() {
            let money = |slot: u32| self.accounts[slot as usize].record.kind.money();
            let crosses = money(debit).crosses(money(credit));
            if crosses && !firm_funds {
                return EventResult::rejected(ResultCode::FirmFundsUndeclared);
            }
            if !crosses && firm_funds {
                return EventResult::rejected(ResultCode::FirmFundsNotCrossing);
            }
        }
        let (debit_id, credit_id) = (
            self.accounts[debit as usize].record.id.as_str(),
            self.accounts[credit as usize].record.id.as_str(),
        );
        let mut record = TransferRecord {
            id: t.id.as_str(),
            debit: debit_id,
            credit: credit_id,
            amount,
            currency,
            reference: t.reference.as_str(),
            metadata: &metadata,
            linked: t.linked,
            phase: phase.clone(),
            timeout: t.timeout,
            balancing,
            closing,
            imported,
            firm_funds,
        };
        // A balancing transfer's amount is a maximum: a retry with the same fields is the
        // same transfer whatever moved.
        let digest = match balancing.any() {
            false => body_digest(&record),
            true => body_digest(&TransferRecord {
                amount: Amount(0),
                ..record.clone()
            }),
        };
        if let (false, Some(seen)) = (expiry, self.transfers.get(&fingerprint)) {
            if seen.digest == digest {
                return EventResult::accepted(ResultCode::Exists, seen.index);
            }
            return EventResult::rejected(ResultCode::IdExistsWithDifferentFields);
        }
        // After the id check: a retried import (its time long passed) answers exists.
        let time = match self.event_time(imported, t.time, now) {
            Ok(time) => time,
            Err(result) => return result,
        };
        if let Some((_, state, expires_at, _)) = pending {
            let due = expires_at != 0 && time >= expires_at;
            match state {
                // An expiry is written only once due; a post or void comes too late then.
                PendingState::Pending if expiry && !due => {
                    return EventResult::rejected(ResultCode::PendingTransferNotPending)
                }
                PendingState::Pending if due && !expiry => {
                    return EventResult::rejected(ResultCode::PendingTransferExpired)
                }
                PendingState::Pending => {}
                PendingState::Posted => return EventResult::rejected(ResultCode::PendingTransferAlreadyPosted),
                PendingState::Voided => return EventResult::rejected(ResultCode::PendingTransferAlreadyVoided),
                PendingState::Expired => return EventResult::rejected(ResultCode::PendingTransferExpired),
            }
        }
        if !expiry && self.transfers.len() >= self.limits.max_transfers {
            return EventResult::rejected(ResultCode::TransferLimitReached);
        }
        if balancing.any() {
            record.amount = match self.balanced(debit, credit, amount, balancing) {
                Ok(moved) => moved,
                Err(result) => return result,
            };
        }
        let amount = record.amount;
        let has_metadata = metadata != "{}";
        let reserved = pending.map_or(0, |(reserved, _, _, _)| reserved);
        // A closed account takes no new transfer and no post of another's reservation;
        // voids and expiries still release what is reserved (voiding the closing transfer
        // reopens it).
        let resolves_closing = pending.is_some_and(|(_, _, _, c)| c.any());
        let (d, c) = (
            &self.accounts[debit as usize].balance,
            &self.accounts[credit as usize].balance,
        );
        let releases = matches!(phase, Phase::Void { .. } | Phase::Expire { .. });
        if !releases && !resolves_closing {
            if d.closed {
                return EventResult::rejected_on(ResultCode::AccountClosed, "debit");
            }
            if c.closed {
                return EventResult::rejected_on(ResultCode::AccountClosed, "credit");
            }
        }
        let closing_of_posting = match pending {
            Some((_, _, _, of_pending)) => of_pending,
            None => closing,
        };
        let posting = Posting::for_transfer(
            &phase,
            debit,
            credit,
            amount.0,
            reserved,
            has_metadata,
            closing_of_posting,
        );
        let change = match &phase {
            Phase::Single => PendingChange::None,
            Phase::Pending => PendingChange::Created(fingerprint),
            Phase::Post { pending_id } | Phase::Void { pending_id } => {
                PendingChange::Resolved(id_fingerprint(pending_id))
            }
            Phase::Expire { pending_id } => PendingChange::Expired(id_fingerprint(pending_id)),
        };
        if let Err(result) = self.check_limits(&posting) {
            return result;
        }
        let index = self.next_index;
        let entry = Entry {
            index,
            time,
            body: EntryBody::Transfer(record),
        };
        entries.push_with(index, posting, |out| entry.write(out));
        let (d, c) = two_mut(&mut self.accounts, debit, credit);
        posting.apply(&mut d.balance, &mut c.balance);
        self.balances.mark(debit);
        self.balances.mark(credit);
        match change {
            PendingChange::None => {}
            PendingChange::Created(key) => {
                let expires_at = match t.timeout {
                    0 => 0,
                    s => time.saturating_add(s.saturating_mul(1_000_000_000)),
                };
                self.pending.insert(
                    key,
                    PendingTransfer {
                        debit,
                        credit,
                        amount: amount.0,
                        state: PendingState::Pending,
                        expires_at,
                        closing,
                    },
                );
                if expires_at != 0 {
                    self.expiring.insert((expires_at, key));
                    self.timed_ids.insert(key, t.id.clone());
                }
            }
            PendingChange::Resolved(key) | PendingChange::Expired(key) => {
                let p = self.pending.get_mut(&key).expect("resolved above");
                p.state = match phase {
                    Phase::Post { .. } => PendingState::Posted,
                    Phase::Expire { .. } => PendingState::Expired,
                    _ => PendingState::Voided,
                };
                if p.expires_at != 0 {
                    self.expiring.remove(&(p.expires_at, key));
                }
            }
        }
        if !expiry {
            self.transfers.insert(fingerprint, TransferSeen { index, digest });
        }
        self.undo.push_back(Undo::Transfer {
            prev_time: self.last_time,
            fingerprint,
            posting,
            pending: change,
            seen: !expiry,
        });
        self.next_index += 1;
        self.last_time = time;
        EventResult::created(index, time)
    }

    /// An event's time: the ledger's clock (strictly increasing along the log), or, for an
    /// imported one, its given original time, which must follow the log's last entry and
    /// not be in the future.
    fn event_time(&self, imported: bool, given: UnixNanos, now: UnixNanos) -> Result<UnixNanos, EventResult> {
        match (imported, given) {
            (_, ledgerfs_model::event::INVALID_TIME) => Err(EventResult::rejected(ResultCode::TimeInvalid)),
            (false, 0) => Ok(self.next_time(now)),
            (false, _) => Err(EventResult::rejected(ResultCode::TimeReservedForImported)),
            (true, 0) => Err(EventResult::rejected(ResultCode::ImportedTimeRequired)),
            (true, t) if t > now => Err(EventResult::rejected(ResultCode::ImportedTimeInFuture)),
            (true, t) if self.next_index > 0 && t <= self.last_time => {
                Err(EventResult::rejected(ResultCode::ImportedTimeMustIncrease))
            }
            (true, t) => Ok(t),
        }
    }

    /// `amount` clamped to what the debit account can give (its posted credits less its
    /// posted and pending debits) and/or the credit account can take (its posted debits less
    /// its posted and pending credits); nothing to move is refused with the limit's code.
    fn balanced(&self, debit: u32, credit: u32, amount: Amount, balancing: Balancing) -> Result<Amount, EventResult> {
        let (d, c) = (
            self.accounts[debit as usize].balance,
            self.accounts[credit as usize].balance,
        );
        let mut moved = amount.0;
        let sides = [
            (balancing.debit, d.room_to_debit(), ResultCode::InsufficientFunds),
            (balancing.credit, c.room_to_credit(), ResultCode::ExceedsCredits),
        ];
        for (clamp, room, nothing) in sides {
            if clamp {
                moved = moved.min(room);
                if moved == 0 {
                    return Err(EventResult::rejected(nothing));
                }
            }
        }
        Ok(Amount(moved))
    }

    /// A single-phase or pending transfer's accounts, currency and amount, as given.
    fn resolve_new(&self, t: &NewTransfer) -> Result<Resolved, EventResult> {
        let currency = Currency::from_code(&t.currency).ok_or(EventResult::rejected(ResultCode::CurrencyInvalid))?;
        let amount = Amount::parse(&t.amount, currency).map_err(EventResult::rejected)?;
        if t.debit == t.credit {
            return Err(EventResult::rejected(ResultCode::SameAccount));
        }
        let debit = *self
            .account_slots
            .get(t.debit.as_str())
            .ok_or(EventResult::rejected_on(ResultCode::AccountNotFound, "debit"))?;
        let credit = *self
            .account_slots
            .get(t.credit.as_str())
            .ok_or(EventResult::rejected_on(ResultCode::AccountNotFound, "credit"))?;
        if self.accounts[debit as usize].record.currency != currency {
            return Err(EventResult::rejected_on(ResultCode::CurrencyMismatch, "debit"));
        }
        if self.accounts[credit as usize].record.currency != currency {
            return Err(EventResult::rejected_on(ResultCode::CurrencyMismatch, "credit"));
        }
        Ok((debit, credit, currency, amount, None))
    }

    /// A post's or void's accounts, currency and amount: the pending transfer's, which
    /// any given field must repeat. Returns the pending transfer's reserved amount and
    /// state too.
    fn resolve_pending(&self, t: &NewTransfer, pending_id: &str, post: bool) -> Result<Resolved, EventResult> {
        let key = id_fingerprint(pending_id);
        let Some(p) = self.pending.get(&key) else {
            let code = match self.transfers.contains_key(&key) {
                true => ResultCode::PendingTransferNotPending,
                false => ResultCode::PendingTransferNotFound,
            };
            return Err(EventResult::rejected(code));
        };
        let (d, c) = (&self.accounts[p.debit as usize], &self.accounts[p.credit as usize]);
        if !t.debit.is_empty() && t.debit != d.record.id {
            return Err(EventResult::rejected(ResultCode::PendingTransferHasDifferentDebit));
        }
        if !t.credit.is_empty() && t.credit != c.record.id {
            return Err(EventResult::rejected(ResultCode::PendingTransferHasDifferentCredit));
        }
        let currency = d.record.currency;
        if !t.currency.is_empty() && t.currency != currency.code() {
            return Err(EventResult::rejected(ResultCode::PendingTransferHasDifferentCurrency));
        }
        let amount = match t.amount.is_empty() {
            true => Amount(p.amount),
            false => Amount::parse(&t.amount, currency).map_err(EventResult::rejected)?,
        };
        if post && amount.0 > p.amount {
            return Err(EventResult::rejected(ResultCode::ExceedsPendingAmount));
        }
        if !post && amount.0 != p.amount {
            return Err(EventResult::rejected(ResultCode::AmountMustBeEmpty));
        }
        Ok((
            p.debit,
            p.credit,
            currency,
            amount,
            Some((p.amount, p.state, p.expires_at, p.closing)),
        ))
    }

    /// Overflow and balance-limit rules: a limited account's posted and pending debits
    /// (credits) never exceed its posted credits (debits).
    fn check_limits(&self, posting: &Posting) -> Result<(), EventResult> {
        let (debit, credit) = posting.accounts().expect("a transfer's posting");
        let (d, c) = (&self.accounts[debit as usize], &self.accounts[credit as usize]);
        let (db, cb) = (d.balance, c.balance);
        let amount = match *posting {
            Posting::Transfer { amount, .. } | Posting::Reserve { amount, .. } => amount,
            // Posting moves reserved money (at most what was reserved): no limit or
            // total can be exceeded by it.
            _ => return Ok(()),
        };
        let debits = db
            .debits_posted
            .checked_add(db.debits_pending)
            .and_then(|v| v.checked_add(amount));
        let Some(debits_after) = debits else {
            return Err(EventResult::rejected(ResultCode::OverflowsDebits));
        };
        let credits = cb
            .credits_posted
            .checked_add(cb.credits_pending)
            .and_then(|v| v.checked_add(amount));
        let Some(credits_after) = credits else {
            return Err(EventResult::rejected(ResultCode::OverflowsCredits));
        };
        if d.record.flags.debits_must_not_exceed_credits && debits_after > db.credits_posted {
            return Err(EventResult::rejected(ResultCode::InsufficientFunds));
        }
        if c.record.flags.credits_must_not_exceed_debits && credits_after > cb.debits_posted {
            return Err(EventResult::rejected(ResultCode::ExceedsCredits));
        }
        Ok(())
    }
}

/// The event that, executed alone, reproduces a logged entry.
fn event_of(entry: &Entry<String>) -> Event {
    match &entry.body {
        EntryBody::Account(a) => Event::Account(NewAccount {
            id: a.id.clone(),
            currency: a.currency.code().to_string(),
            kind: a.kind.as_str().to_string(),
            flags: a.flags.names().map(ToString::to_string).collect(),
            metadata: a.metadata.clone(),
            linked: false,
            time: if a.flags.imported { entry.time } else { 0 },
        }),
        EntryBody::Commitment(_) => unreachable!("a commitment is the sequencer's own entry, not an event"),
        EntryBody::Transfer(t) => Event::Transfer(NewTransfer {
            id: t.id.clone(),
            debit: t.debit.clone(),
            credit: t.credit.clone(),
            amount: t.amount.format(t.currency),
            currency: t.currency.code().to_string(),
            reference: t.reference.clone(),
            metadata: t.metadata.clone(),
            linked: t.linked,
            flags: t
                .phase
                .flag()
                .into_iter()
                .chain(t.balancing.names())
                .chain(t.closing.names())
                .chain(t.imported.then_some(AccountFlags::IMPORTED))
                .chain(t.firm_funds.then_some(ledgerfs_model::event::FIRM_FUNDS))
                .map(ToString::to_string)
                .collect(),
            pending_id: t.phase.pending_id().unwrap_or_default().to_string(),
            timeout: t.timeout,
            time: if t.imported { entry.time } else { 0 },
        }),
    }
}

#[cfg(test)]
mod tests;
