//! Unit and property tests of the sequencer: every rejection code, linked atomicity,
//! idempotency, conservation and replay determinism.

use super::*;
use alloc::format;
use proptest::prelude::*;

fn account(id: &str, currency: &str, flags: &[&str]) -> Event {
    Event::Account(NewAccount {
        id: id.to_string(),
        currency: currency.to_string(),
        kind: "customer".to_string(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        metadata: "{}".to_string(),
        linked: false,
        time: 0,
    })
}

fn transfer(id: &str, debit: &str, credit: &str, amount: &str) -> Event {
    Event::Transfer(NewTransfer {
        id: id.to_string(),
        debit: debit.to_string(),
        credit: credit.to_string(),
        amount: amount.to_string(),
        currency: "EUR".to_string(),
        reference: String::new(),
        metadata: "{}".to_string(),
        linked: false,
        flags: Vec::new(),
        pending_id: String::new(),
        timeout: 0,
        time: 0,
    })
}

fn linked(mut event: Event) -> Event {
    match &mut event {
        Event::Account(a) => a.linked = true,
        Event::Transfer(t) => t.linked = true,
    }
    event
}

fn run(seq: &mut Sequencer, events: &[Event]) -> Vec<ResultCode> {
    let mut results = Vec::new();
    let mut entries = EntryBuffer::new();
    seq.execute(events, 1_000, &mut results, &mut entries);
    results.iter().map(|r| r.code).collect()
}

fn ledger() -> Sequencer {
    let mut seq = Sequencer::new(Limits::default());
    let codes = run(
        &mut seq,
        &[
            account("bank", "EUR", &[]),
            account("alice", "EUR", &["debits_must_not_exceed_credits"]),
            account("bob", "EUR", &["debits_must_not_exceed_credits"]),
            account("yen", "JPY", &[]),
        ],
    );
    assert!(codes.iter().all(|c| *c == ResultCode::Ok));
    seq
}

#[test]
fn posts_and_conserves() {
    let mut seq = ledger();
    assert_eq!(
        run(
            &mut seq,
            &[
                transfer("t1", "bank", "alice", "100.00"),
                transfer("t2", "alice", "bob", "40.50")
            ]
        ),
        [ResultCode::Ok; 2]
    );
    let alice = seq.account("alice").unwrap();
    assert_eq!(
        (alice.balance.debits_posted, alice.balance.credits_posted),
        (4050, 10000)
    );
    assert_eq!(seq.next_index(), 6);
}

#[test]
fn rejection_codes() {
    let mut seq = ledger();
    let cases = [
        (transfer("", "bank", "alice", "1"), ResultCode::IdInvalid),
        (transfer("t", "bank", "alice", "-1"), ResultCode::AmountInvalid),
        (transfer("t", "bank", "alice", "0.001"), ResultCode::AmountTooPrecise),
        (transfer("t", "bank", "bank", "1"), ResultCode::SameAccount),
        (transfer("t", "nobody", "alice", "1"), ResultCode::AccountNotFound),
        (transfer("t", "bank", "yen", "1"), ResultCode::CurrencyMismatch),
        (transfer("t", "alice", "bob", "1"), ResultCode::InsufficientFunds),
        (account("x", "XXX", &[]), ResultCode::CurrencyInvalid),
        (account("x", "EUR", &["nope"]), ResultCode::FlagsInvalid),
        (
            account(
                "x",
                "EUR",
                &["debits_must_not_exceed_credits", "credits_must_not_exceed_debits"],
            ),
            ResultCode::FlagsConflict,
        ),
        (account("bank", "GBP", &[]), ResultCode::IdExistsWithDifferentFields),
        (account("bank", "EUR", &[]), ResultCode::Exists),
    ];
    let before = seq.clone();
    for (event, code) in cases {
        assert_eq!(run(&mut seq, core::slice::from_ref(&event)), [code], "{event:?}");
    }
    assert!(seq == before, "rejections changed nothing");
}

#[test]
fn exceeds_credits_and_fields() {
    let mut seq = ledger();
    run(
        &mut seq,
        &[account("asset", "EUR", &["credits_must_not_exceed_debits"])],
    );
    assert_eq!(
        run(&mut seq, &[transfer("t", "bank", "asset", "1")]),
        [ResultCode::ExceedsCredits]
    );
    let mut results = Vec::new();
    seq.execute(
        &[transfer("t", "bank", "ghost", "1")],
        0,
        &mut results,
        &mut EntryBuffer::new(),
    );
    assert_eq!(results[0].field, Some("credit"));
}

#[test]
fn idempotent_transfers() {
    let mut seq = ledger();
    assert_eq!(run(&mut seq, &[transfer("t1", "bank", "alice", "5")]), [ResultCode::Ok]);
    let mut results = Vec::new();
    let mut entries = EntryBuffer::new();
    seq.execute(&[transfer("t1", "bank", "alice", "5")], 9, &mut results, &mut entries);
    assert_eq!((results[0].code, results[0].index), (ResultCode::Exists, Some(4)));
    assert!(entries.is_empty());
    assert_eq!(
        run(&mut seq, &[transfer("t1", "bank", "alice", "6")]),
        [ResultCode::IdExistsWithDifferentFields]
    );
    assert_eq!(seq.account("alice").unwrap().balance.credits_posted, 500);
}

#[test]
fn linked_chain_is_all_or_nothing() {
    let mut seq = ledger();
    let before = seq.clone();
    let codes = run(
        &mut seq,
        &[
            linked(transfer("a", "bank", "alice", "10")),
            linked(transfer("b", "alice", "bob", "10")),
            transfer("c", "bob", "alice", "20"), // bob lacks 20: the chain fails
            transfer("d", "bank", "bob", "1"),
        ],
    );
    assert_eq!(
        codes,
        [
            ResultCode::LinkedEventFailed,
            ResultCode::LinkedEventFailed,
            ResultCode::InsufficientFunds,
            ResultCode::Ok
        ]
    );
    assert_eq!(seq.account("alice").unwrap().balance.credits_posted, 0);
    assert_eq!(seq.next_index(), before.next_index() + 1);
    assert_eq!(seq.transfer_index("a"), None);
    assert_eq!(seq.transfer_index("d"), Some(4));
}

#[test]
fn failure_mid_chain_skips_the_rest_of_the_chain() {
    let mut seq = ledger();
    let codes = run(
        &mut seq,
        &[
            linked(transfer("a", "bank", "alice", "10")),
            linked(transfer("b", "ghost", "bob", "10")),
            linked(transfer("c", "bank", "bob", "1")),
            transfer("d", "bank", "bob", "1"),
            transfer("e", "bank", "bob", "1"),
        ],
    );
    assert_eq!(
        codes,
        [
            ResultCode::LinkedEventFailed,
            ResultCode::AccountNotFound,
            ResultCode::LinkedEventFailed,
            ResultCode::LinkedEventFailed,
            ResultCode::Ok
        ]
    );
}

#[test]
fn open_chain_fails() {
    let mut seq = ledger();
    let before = seq.clone();
    let codes = run(
        &mut seq,
        &[
            linked(transfer("a", "bank", "alice", "1")),
            linked(transfer("b", "bank", "alice", "1")),
        ],
    );
    assert_eq!(codes, [ResultCode::LinkedEventFailed, ResultCode::LinkedEventChainOpen]);
    assert!(seq == before);
}

#[test]
fn times_strictly_increase() {
    let mut seq = Sequencer::new(Limits::default());
    let mut results = Vec::new();
    let mut entries = EntryBuffer::new();
    seq.execute(
        &[account("a", "EUR", &[]), account("b", "EUR", &[])],
        50,
        &mut results,
        &mut entries,
    );
    seq.execute(&[account("c", "EUR", &[])], 10, &mut results, &mut entries);
    assert_eq!(seq.last_time(), 52);
    assert_eq!(entries.len(), 3);
}

#[test]
fn limits_are_enforced() {
    let mut seq = Sequencer::new(Limits {
        max_accounts: 2,
        max_transfers: 1,
        reserve_transfers: 1,
    });
    let codes = run(
        &mut seq,
        &[
            account("a", "EUR", &[]),
            account("b", "EUR", &[]),
            account("c", "EUR", &[]),
        ],
    );
    assert_eq!(codes, [ResultCode::Ok, ResultCode::Ok, ResultCode::AccountLimitReached]);
    let codes = run(
        &mut seq,
        &[transfer("t1", "a", "b", "1"), transfer("t2", "a", "b", "1")],
    );
    assert_eq!(codes, [ResultCode::Ok, ResultCode::TransferLimitReached]);
}

#[test]
fn a_reserve_above_the_transfer_limit_reserves_only_the_limit() {
    let limits = Limits {
        max_accounts: 2,
        max_transfers: 1,
        reserve_transfers: 1024,
    };
    assert_eq!(limits.transfer_reserve(), 1);
    let mut seq = Sequencer::new(limits);
    run(&mut seq, &[account("a", "EUR", &[]), account("b", "EUR", &[])]);
    let codes = run(
        &mut seq,
        &[transfer("t1", "a", "b", "1"), transfer("t2", "a", "b", "1")],
    );
    assert_eq!(codes, [ResultCode::Ok, ResultCode::TransferLimitReached]);
}

#[test]
fn replay_refuses_tampering() {
    let mut seq = ledger();
    let mut results = Vec::new();
    let mut entries = EntryBuffer::new();
    seq.execute(&[transfer("t1", "bank", "alice", "1")], 7, &mut results, &mut entries);
    let good = entries.get(0).to_vec();
    let text = String::from_utf8(good.clone()).unwrap();
    let mut fresh = ledger();
    let mut scratch = EntryBuffer::new();
    let other_amount = text.replace("\"1.00\"", "\"2.00\"");
    assert!(
        fresh.clone().replay(other_amount.as_bytes(), &mut scratch).is_ok(),
        "a valid entry replays"
    );
    let wrong_index = text.replace("\"index\":4", "\"index\":5");
    assert!(matches!(
        fresh.replay(wrong_index.as_bytes(), &mut scratch),
        Err(ReplayError::IndexMismatch { .. })
    ));
    let overdraw = text.replace(
        "\"debit\":\"bank\",\"credit\":\"alice\"",
        "\"debit\":\"alice\",\"credit\":\"bank\"",
    );
    assert_eq!(
        fresh.replay(overdraw.as_bytes(), &mut scratch),
        Err(ReplayError::Rejected(ResultCode::InsufficientFunds))
    );
    fresh.replay(&good, &mut scratch).unwrap();
    assert!(fresh == seq);
}

#[test]
fn storage_failure_rolls_back_exactly() {
    let mut seq = ledger();
    seq.mark_durable(seq.next_index());
    let durable = seq.clone();
    run(
        &mut seq,
        &[transfer("t1", "bank", "alice", "5"), account("carol", "EUR", &[])],
    );
    run(&mut seq, &[transfer("t2", "alice", "bob", "1")]);
    assert_eq!(seq.pending(), 3);
    seq.roll_back_to(durable.next_index());
    assert!(seq == durable);
    assert_eq!(run(&mut seq, &[transfer("t1", "bank", "alice", "5")]), [ResultCode::Ok]);
}

/// A random workload over a few accounts, with some invalid and linked events.
fn workload() -> impl Strategy<Value = Vec<Vec<Event>>> {
    let event = (0u8..14, 0usize..6, 0usize..6, 1u32..5000, any::<bool>(), 0u8..40).prop_map(
        |(kind, d, c, cents, link, id)| {
            let ids = ["a0", "a1", "a2", "a3", "bank", "nobody"];
            let amount = format!("{}.{:02}", cents / 100, cents % 100);
            let flags: &[&str] = if c % 2 == 0 {
                &["debits_must_not_exceed_credits"]
            } else {
                &[]
            };
            let mut e = match kind {
                0 => account(ids[d], if c == 5 { "JPY" } else { "EUR" }, flags),
                1 | 2 => {
                    let mut e = two_phase(transfer(&format!("t{id}"), ids[d], ids[c], &amount), "pending", "");
                    if let Event::Transfer(t) = &mut e {
                        t.timeout = u64::from(cents % 4); // 0: never; else 1..=3 s
                    }
                    e
                }
                // Post (part of) or void a transfer that may be pending, posted, resolved
                // or missing; accounts and amount omitted or repeated.
                3 => {
                    let amount = if cents % 3 == 0 { String::new() } else { amount };
                    two_phase(
                        transfer(&format!("p{id}"), "", "", &amount),
                        "post_pending",
                        &format!("t{}", id / 2),
                    )
                }
                4 => two_phase(
                    transfer(&format!("v{id}"), "", "", ""),
                    "void_pending",
                    &format!("t{}", id / 2),
                ),
                // Balancing: the amount is a maximum (pending or not).
                5 | 6 => {
                    let mut e = transfer(&format!("t{id}"), ids[d], ids[c], &amount);
                    if let Event::Transfer(t) = &mut e {
                        let side = if kind == 5 {
                            "balancing_debit"
                        } else {
                            "balancing_credit"
                        };
                        t.flags = match cents % 3 {
                            0 => alloc::vec![side.to_string()],
                            1 => alloc::vec!["pending".to_string(), side.to_string()],
                            _ => alloc::vec!["balancing_credit".to_string(), "balancing_debit".to_string()],
                        };
                    }
                    e
                }
                // Closing: a pending transfer that closes an account until voided.
                7 => {
                    let side = if cents % 2 == 0 {
                        "closing_debit"
                    } else {
                        "closing_credit"
                    };
                    let mut e = two_phase(transfer(&format!("t{id}"), ids[d], ids[c], &amount), "pending", "");
                    if let Event::Transfer(t) = &mut e {
                        t.flags.push(side.to_string());
                    }
                    e
                }
                _ => transfer(&format!("t{id}"), ids[d], ids[c], &amount),
            };
            if link {
                e = linked(e);
            }
            e
        },
    );
    prop::collection::vec(prop::collection::vec(event, 1..20), 1..12)
}

fn two_phase(mut event: Event, flag: &str, pending_id: &str) -> Event {
    if let Event::Transfer(t) = &mut event {
        t.flags = alloc::vec![flag.to_string()];
        t.pending_id = pending_id.to_string();
    }
    event
}

fn is_expiry(entry: &[u8]) -> bool {
    entry.windows(16).any(|w| w == b"expire_pending\"]")
}

/// Per currency, posted debits equal posted credits and pending debits equal pending
/// credits; no limited account is beyond its limit, counting what is pending.
fn conserved(seq: &Sequencer) -> bool {
    let mut sums: Vec<(Currency, Balance)> = Vec::new();
    for a in seq.accounts() {
        let b = a.balance;
        let f = a.record.flags;
        if f.debits_must_not_exceed_credits && b.debits_posted + b.debits_pending > b.credits_posted {
            return false;
        }
        if f.credits_must_not_exceed_debits && b.credits_posted + b.credits_pending > b.debits_posted {
            return false;
        }
        match sums.iter_mut().find(|s| s.0 == a.record.currency) {
            Some((_, s)) => {
                s.debits_posted += b.debits_posted;
                s.credits_posted += b.credits_posted;
                s.debits_pending += b.debits_pending;
                s.credits_pending += b.credits_pending;
            }
            None => sums.push((a.record.currency, b)),
        }
    }
    sums.iter()
        .all(|(_, s)| s.debits_posted == s.credits_posted && s.debits_pending == s.credits_pending)
}

/// A ledger with one account, `bank`, opened at time 1,000, and its log so far, for the
/// property tests that run a workload over it.
fn with_a_bank() -> (Sequencer, Vec<Vec<u8>>, Vec<EventResult>, EntryBuffer) {
    let mut seq = Sequencer::new(Limits::default());
    let mut results = Vec::new();
    let mut entries = EntryBuffer::new();
    seq.execute(&[account("bank", "EUR", &[])], 1_000, &mut results, &mut entries);
    let log = entries.iter().map(<[u8]>::to_vec).collect();
    (seq, log, results, entries)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn conservation_atomicity_and_replay_determinism(batches in workload()) {
        let (mut seq, mut log, mut results, mut entries) = with_a_bank();
        let mut now = 1_000;
        for batch in &batches {
            let before = seq.clone();
            results.clear();
            entries.clear();
            now += 400_000_000; // timeouts of 1 to 3 s expire a few batches later
            seq.execute(batch, now, &mut results, &mut entries);
            prop_assert!(conserved(&seq));
            prop_assert_eq!(results.len(), batch.len());
            let ok = results.iter().filter(|r| r.code == ResultCode::Ok).count();
            // The ledger's own expiry entries come first, without a result.
            let expiries = entries.iter().take_while(|e| is_expiry(e)).count();
            prop_assert!(entries.iter().skip(expiries).all(|e| !is_expiry(e)));
            let accepted = ok + expiries;
            prop_assert_eq!(accepted, entries.len());
            // Nothing still pending is past its expiry.
            prop_assert!(seq.expiring.first().is_none_or(|(at, _)| *at > now));
            prop_assert_eq!(seq.next_index(), before.next_index() + accepted as u64);
            // Linked atomicity: within a chain, either every event succeeds or none does.
            let mut start = 0;
            for (i, e) in batch.iter().enumerate() {
                if !e.linked() || i + 1 == batch.len() {
                    let chain = &results[start..=i];
                    let ok = chain.iter().filter(|r| r.code.is_success()).count();
                    prop_assert!(ok == 0 || ok == chain.len(), "chain {:?}", chain);
                    start = i + 1;
                }
            }
            log.extend(entries.iter().map(<[u8]>::to_vec));
        }
        seq.mark_durable(seq.next_index());
        let mut replayed = Sequencer::new(Limits::default());
        let mut scratch = EntryBuffer::new();
        for bytes in &log {
            replayed.replay(bytes, &mut scratch).unwrap();
            prop_assert!(conserved(&replayed));
        }
        prop_assert!(replayed == seq, "replay reproduces the state");
    }
}

#[test]
fn two_phase_transfers_reserve_then_post_or_void_once() {
    let mut seq = ledger();
    assert_eq!(
        run(&mut seq, &[transfer("fund", "bank", "alice", "100.00")]),
        [ResultCode::Ok]
    );
    let pending = |id: &str, amount: &str| two_phase(transfer(id, "alice", "bob", amount), "pending", "");
    let post = |id: &str, of: &str, amount: &str| two_phase(transfer(id, "", "", amount), "post_pending", of);
    let void = |id: &str, of: &str| two_phase(transfer(id, "", "", ""), "void_pending", of);
    // Reserving counts against the limit: 60 + 60 > 100.
    assert_eq!(
        run(&mut seq, &[pending("auth1", "60.00"), pending("auth2", "60.00")]),
        [ResultCode::Ok, ResultCode::InsufficientFunds]
    );
    let alice = seq.account("alice").unwrap().balance;
    assert_eq!(
        (alice.debits_posted, alice.debits_pending, alice.credits_posted),
        (0, 6000, 10000)
    );
    assert_eq!(seq.account("bob").unwrap().balance.credits_pending, 6000);
    // A partial post moves 45.00 and releases the rest; a second resolution is refused.
    assert_eq!(
        run(&mut seq, &[post("cap1", "auth1", "45.00"), void("void1", "auth1")]),
        [ResultCode::Ok, ResultCode::PendingTransferAlreadyPosted]
    );
    let alice = seq.account("alice").unwrap().balance;
    assert_eq!((alice.debits_posted, alice.debits_pending), (4500, 0));
    assert_eq!(seq.account("bob").unwrap().balance.credits_posted, 4500);
    // The retry of the post is idempotent; its fields must match.
    assert_eq!(run(&mut seq, &[post("cap1", "auth1", "45.00")]), [ResultCode::Exists]);
    assert_eq!(
        run(&mut seq, &[post("cap1", "auth1", "")]),
        [ResultCode::IdExistsWithDifferentFields]
    );
    // Voiding releases everything; the amount must be omitted (or the whole amount).
    assert_eq!(run(&mut seq, &[pending("auth3", "10.00")]), [ResultCode::Ok]);
    let mut partial = void("void3", "auth3");
    if let Event::Transfer(t) = &mut partial {
        t.amount = "1.00".into();
    }
    assert_eq!(run(&mut seq, &[partial]), [ResultCode::AmountMustBeEmpty]);
    assert_eq!(run(&mut seq, &[void("void3", "auth3")]), [ResultCode::Ok]);
    assert_eq!(
        run(&mut seq, &[post("cap3", "auth3", "")]),
        [ResultCode::PendingTransferAlreadyVoided]
    );
    assert_eq!(seq.account("alice").unwrap().balance.debits_pending, 0);
    // Every refusal has its code.
    let mut wrong_debit = post("x1", "auth2x", "");
    if let Event::Transfer(t) = &mut wrong_debit {
        t.pending_id = "fund".into();
    }
    let mut other_account = pending("auth4", "1.00");
    let mut bad_flags = transfer("x5", "alice", "bob", "1.00");
    if let Event::Transfer(t) = &mut bad_flags {
        t.flags = alloc::vec!["pending".into(), "void_pending".into()];
    }
    assert_eq!(run(&mut seq, core::slice::from_ref(&other_account)), [ResultCode::Ok]);
    if let Event::Transfer(t) = &mut other_account {
        t.id = "x2".into();
        t.flags = alloc::vec!["post_pending".into()];
        t.pending_id = "auth4".into();
        t.debit = "bank".into();
    }
    assert_eq!(
        run(
            &mut seq,
            &[
                post("x0", "nope", ""),
                wrong_debit,
                other_account,
                post("x3", "auth4", "2.00"),
                post("x4", "", ""),
                bad_flags,
                post("self", "self", ""),
                two_phase(transfer("x6", "alice", "bob", "1.00"), "pending", "auth4"),
            ]
        ),
        [
            ResultCode::PendingTransferNotFound,
            ResultCode::PendingTransferNotPending,
            ResultCode::PendingTransferHasDifferentDebit,
            ResultCode::ExceedsPendingAmount,
            ResultCode::PendingIdRequired,
            ResultCode::TransferFlagsInvalid,
            ResultCode::PendingIdMustBeDifferent,
            ResultCode::PendingIdMustBeEmpty,
        ]
    );
}

#[test]
fn a_rolled_back_resolution_makes_the_transfer_pending_again() {
    let mut seq = ledger();
    run(&mut seq, &[transfer("fund", "bank", "alice", "100.00")]);
    run(
        &mut seq,
        &[two_phase(transfer("auth", "alice", "bob", "30.00"), "pending", "")],
    );
    seq.mark_durable(seq.next_index());
    let durable = seq.clone();
    let post = two_phase(transfer("cap", "", "", ""), "post_pending", "auth");
    assert_eq!(run(&mut seq, core::slice::from_ref(&post)), [ResultCode::Ok]);
    seq.roll_back_to(durable.next_index());
    assert!(seq == durable);
    assert_eq!(run(&mut seq, &[post]), [ResultCode::Ok]);
}

fn in_currency(mut event: Event, currency: &str) -> Event {
    if let Event::Transfer(t) = &mut event {
        t.currency = currency.to_string();
    }
    event
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Currency exchanges as linked pairs through one FX account per currency: each
    /// currency balances on its own, and a pair is recorded whole or not at all.
    #[test]
    fn exchanges_conserve_each_currency(legs in prop::collection::vec((1u32..20_000, 1u32..3_000_000, any::<bool>()), 1..40)) {
        let mut seq = Sequencer::new(Limits::default());
        let opened = run(&mut seq, &[
            account("bank", "EUR", &[]),
            account("fx-eur", "EUR", &[]),
            account("fx-jpy", "JPY", &[]),
            account("alice", "EUR", &["debits_must_not_exceed_credits"]),
            account("alice-jpy", "JPY", &["debits_must_not_exceed_credits"]),
        ]);
        prop_assert!(opened.iter().all(|c| *c == ResultCode::Ok));
        run(&mut seq, &[transfer("fund", "bank", "alice", "500.00")]);
        for (i, (cents, yen, back)) in legs.iter().enumerate() {
            let eur = format!("{}.{:02}", cents / 100, cents % 100);
            let jpy = yen.to_string();
            // alice sells EUR for JPY, or (back) JPY for EUR.
            let pair = if *back {
                [
                    linked(in_currency(transfer(&format!("x{i}-jpy"), "alice-jpy", "fx-jpy", &jpy), "JPY")),
                    transfer(&format!("x{i}-eur"), "fx-eur", "alice", &eur),
                ]
            } else {
                [
                    linked(transfer(&format!("x{i}-eur"), "alice", "fx-eur", &eur)),
                    in_currency(transfer(&format!("x{i}-jpy"), "fx-jpy", "alice-jpy", &jpy), "JPY"),
                ]
            };
            let codes = run(&mut seq, &pair);
            prop_assert!(codes[0].is_success() == codes[1].is_success(), "{:?}", codes);
            prop_assert!(conserved(&seq));
        }
    }
}

#[test]
fn a_pending_transfer_expires_by_a_log_entry_that_replays_the_same() {
    const S: u64 = 1_000_000_000;
    let mut genesis = ledger();
    genesis.mark_durable(genesis.next_index());
    let mut seq = genesis.clone();
    let mut log: Vec<Vec<u8>> = Vec::new();
    let batch = |seq: &mut Sequencer, events: &[Event], now: u64, log: &mut Vec<Vec<u8>>| {
        let (mut results, mut entries) = (Vec::new(), EntryBuffer::new());
        seq.execute(events, now, &mut results, &mut entries);
        log.extend(entries.iter().map(<[u8]>::to_vec));
        results.iter().map(|r| r.code).collect::<Vec<_>>()
    };
    let mut auth = two_phase(transfer("auth", "alice", "bob", "30.00"), "pending", "");
    if let Event::Transfer(t) = &mut auth {
        t.timeout = 10;
    }
    let single_with_timeout = {
        let mut e = transfer("x", "bank", "alice", "1.00");
        if let Event::Transfer(t) = &mut e {
            t.timeout = 5;
        }
        e
    };
    let forged = two_phase(transfer("f", "", "", ""), "expire_pending", "auth");
    assert_eq!(
        batch(
            &mut seq,
            &[
                transfer("fund", "bank", "alice", "100.00"),
                auth,
                single_with_timeout,
                forged
            ],
            100 * S,
            &mut log
        ),
        [
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::TimeoutReservedForPending,
            ResultCode::TransferFlagsInvalid
        ]
    );
    let alice = |seq: &Sequencer| seq.account("alice").unwrap().balance;
    assert_eq!(alice(&seq).debits_pending, 3000);
    // Before the timeout nothing happens; at it, the next batch first writes the expiry.
    let before = log.len();
    assert_eq!(batch(&mut seq, &[], 109 * S, &mut log), Vec::<ResultCode>::new());
    assert_eq!(log.len(), before);
    let durable = seq.clone();
    let cap = two_phase(transfer("cap", "", "", ""), "post_pending", "auth");
    assert_eq!(
        batch(&mut seq, core::slice::from_ref(&cap), 111 * S, &mut log),
        [ResultCode::PendingTransferExpired]
    );
    let expiry = core::str::from_utf8(&log[before]).unwrap();
    assert!(
        expiry.contains("\"id\":\"auth\"") && expiry.contains("\"flags\":[\"expire_pending\"],\"pending_id\":\"auth\""),
        "{expiry}"
    );
    assert_eq!(alice(&seq).debits_pending, 0, "the reservation was released");
    assert_eq!(alice(&seq).debits_posted, 0);
    let void = two_phase(transfer("v", "", "", ""), "void_pending", "auth");
    assert_eq!(
        batch(&mut seq, &[void], 112 * S, &mut log),
        [ResultCode::PendingTransferExpired]
    );
    // Rolled back (a failed write), the expiry is undone and written again next time.
    seq.roll_back_to(durable.next_index());
    assert!(seq == durable);
    log.truncate(before);
    assert_eq!(
        batch(&mut seq, &[cap], 111 * S, &mut log),
        [ResultCode::PendingTransferExpired]
    );
    // Replay decides the same from the log alone; a snapshot keeps timed transfers.
    seq.mark_durable(seq.next_index());
    let mut replayed = genesis.clone();
    let mut scratch = EntryBuffer::new();
    for bytes in &log {
        replayed.replay(bytes, &mut scratch).unwrap();
    }
    assert!(replayed == seq);
    // An expiry before its time does not replay.
    let mut early = genesis.clone();
    for bytes in &log[..before] {
        early.replay(bytes, &mut scratch).unwrap();
    }
    let premature = log[before].clone();
    let text = core::str::from_utf8(&premature)
        .unwrap()
        .replace("T00:01:51", "T00:01:45");
    assert!(early.replay(text.as_bytes(), &mut scratch).is_err());
}

#[test]
fn timed_pending_transfers_survive_a_snapshot() {
    const S: u64 = 1_000_000_000;
    let mut seq = ledger();
    run(&mut seq, &[transfer("fund", "bank", "alice", "100.00")]);
    let mut auth = two_phase(transfer("auth", "alice", "bob", "30.00"), "pending", "");
    if let Event::Transfer(t) = &mut auth {
        t.timeout = 10;
    }
    let (mut results, mut entries) = (Vec::new(), EntryBuffer::new());
    seq.execute(&[auth], 100 * S, &mut results, &mut entries);
    seq.mark_durable(seq.next_index());
    let mut w = ledgerfs_snapshot::Writer::new();
    seq.encode_snapshot(&mut w);
    let mut restored = Sequencer::from_snapshot(&w.buf, Limits::default()).unwrap();
    assert!(restored == seq);
    entries.clear();
    restored.execute(&[], 200 * S, &mut results, &mut entries);
    assert_eq!(entries.len(), 1, "the restored timeout still expires");
}

#[test]
fn balancing_transfers_move_at_most_what_the_account_can_give() {
    let mut seq = ledger();
    run(&mut seq, &[transfer("fund", "bank", "alice", "100.00")]);
    let balancing = |id: &str, debit: &str, credit: &str, amount: &str, flags: &[&str]| {
        let mut e = transfer(id, debit, credit, amount);
        if let Event::Transfer(t) = &mut e {
            t.flags = flags.iter().map(|f| f.to_string()).collect();
        }
        e
    };
    let (mut results, mut entries) = (Vec::new(), EntryBuffer::new());
    // alice has 100.00: a balancing debit of at most 250.00 moves exactly 100.00.
    let sweep = balancing("sweep", "alice", "bob", "250.00", &["balancing_debit"]);
    seq.execute(core::slice::from_ref(&sweep), 2_000, &mut results, &mut entries);
    assert_eq!(results[0].code, ResultCode::Ok);
    let text = core::str::from_utf8(entries.get(0)).unwrap();
    assert!(
        text.contains("\"amount\":\"100.00\"") && text.contains("\"flags\":[\"balancing_debit\"]"),
        "{text}"
    );
    assert_eq!(seq.account("alice").unwrap().balance.debits_posted, 10_000);
    // A retry is the same transfer, whatever it would move now; nothing left is refused.
    assert_eq!(run(&mut seq, &[sweep]), [ResultCode::Exists]);
    assert_eq!(
        run(
            &mut seq,
            &[balancing("again", "alice", "bob", "1.00", &["balancing_debit"])]
        ),
        [ResultCode::InsufficientFunds]
    );
    // Pending amounts count; balancing on a resolution, or a flag twice, is refused.
    run(&mut seq, &[transfer("more", "bank", "alice", "50.00")]);
    assert_eq!(
        run(
            &mut seq,
            &[
                two_phase(transfer("hold", "alice", "bob", "20.00"), "pending", ""),
                balancing("rest", "alice", "bob", "99.00", &["pending", "balancing_debit"]),
                balancing("bad", "", "", "", &["post_pending", "balancing_debit"]),
                balancing("twice", "alice", "bob", "1.00", &["balancing_debit", "balancing_debit"]),
            ]
        ),
        [
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::TransferFlagsInvalid,
            ResultCode::TransferFlagsInvalid
        ]
    );
    let b = seq.account("alice").unwrap().balance;
    assert_eq!(
        (b.debits_pending, b.credits_posted - b.debits_posted - b.debits_pending),
        (5_000, 0)
    );
    // balancing_credit: bob (limited: credits may exceed debits) is capped by its debits.
    assert_eq!(
        run(
            &mut seq,
            &[balancing("back", "bank", "bob", "5.00", &["balancing_credit"])]
        ),
        [ResultCode::ExceedsCredits]
    );
}

#[test]
fn imported_events_keep_their_original_increasing_times_and_replay() {
    const S: u64 = 1_000_000_000;
    let imported = |mut event: Event, time: u64| {
        match &mut event {
            Event::Account(a) => {
                a.flags.push("imported".to_string());
                a.time = time;
            }
            Event::Transfer(t) => {
                t.flags.push("imported".to_string());
                t.time = time;
            }
        }
        event
    };
    let mut seq = Sequencer::new(Limits::default());
    let (mut results, mut entries) = (Vec::new(), EntryBuffer::new());
    let batch = [
        imported(account("bank", "EUR", &[]), 10 * S),
        imported(account("alice", "EUR", &["debits_must_not_exceed_credits"]), 11 * S),
        imported(transfer("old-1", "bank", "alice", "5.00"), 12 * S),
        imported(transfer("old-2", "bank", "alice", "5.00"), 12 * S),
        imported(transfer("future", "bank", "alice", "5.00"), 2_000 * S),
        imported(transfer("no-time", "bank", "alice", "5.00"), 0),
        {
            let mut e = transfer("stamped", "bank", "alice", "5.00");
            if let Event::Transfer(t) = &mut e {
                t.time = 13 * S;
            }
            e
        },
        imported(transfer("old-3", "bank", "alice", "1.00"), 13 * S),
        imported(
            transfer("garbled", "bank", "alice", "1.00"),
            ledgerfs_model::event::INVALID_TIME,
        ),
    ];
    seq.execute(&batch, 1_000 * S, &mut results, &mut entries);
    let codes: Vec<ResultCode> = results.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        [
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::ImportedTimeMustIncrease,
            ResultCode::ImportedTimeInFuture,
            ResultCode::ImportedTimeRequired,
            ResultCode::TimeReservedForImported,
            ResultCode::Ok,
            ResultCode::TimeInvalid,
        ]
    );
    assert_eq!(results[2].time, Some(12 * S));
    let text = core::str::from_utf8(entries.get(2)).unwrap();
    assert!(
        text.contains("\"time\":\"1970-01-01T00:00:12.000000000Z\"") && text.contains("\"flags\":[\"imported\"]"),
        "{text}"
    );
    // New events after an import follow the ledger's clock again.
    let now = run(&mut seq, &[transfer("new", "bank", "alice", "1.00")]);
    assert_eq!(now, [ResultCode::Ok]);
    seq.mark_durable(seq.next_index());
    let mut replayed = Sequencer::new(Limits::default());
    let mut scratch = EntryBuffer::new();
    for bytes in entries.iter() {
        replayed.replay(bytes, &mut scratch).unwrap();
    }
    assert_eq!(replayed.next_index(), 4);
}

#[test]
fn a_retried_import_answers_exists() {
    let mut seq = Sequencer::new(Limits::default());
    let mut bank = account("bank", "EUR", &["imported"]);
    let mut alice = account("alice", "EUR", &["imported"]);
    let mut t = transfer("old", "bank", "alice", "1.00");
    for (e, time) in [(&mut bank, 10), (&mut alice, 11), (&mut t, 12)] {
        match e {
            Event::Account(a) => a.time = time,
            Event::Transfer(x) => {
                x.flags.push("imported".to_string());
                x.time = time;
            }
        }
    }
    let batch = [bank, alice, t];
    let (mut results, mut entries) = (Vec::new(), EntryBuffer::new());
    seq.execute(&batch, 1_000, &mut results, &mut entries);
    assert!(results.iter().all(|r| r.code == ResultCode::Ok));
    results.clear();
    seq.execute(&batch, 2_000, &mut results, &mut entries);
    assert!(results.iter().all(|r| r.code == ResultCode::Exists), "{results:?}");
}

#[test]
fn a_closing_transfer_closes_its_account_until_voided() {
    let mut seq = ledger();
    run(&mut seq, &[transfer("fund", "bank", "alice", "100.00")]);
    let flagged = |id: &str, debit: &str, credit: &str, amount: &str, flags: &[&str], of: &str| {
        let mut e = transfer(id, debit, credit, amount);
        if let Event::Transfer(t) = &mut e {
            t.flags = flags.iter().map(|f| f.to_string()).collect();
            t.pending_id = of.to_string();
        }
        e
    };
    let close = flagged("close", "alice", "bank", "0.01", &["pending", "closing_debit"], "");
    assert_eq!(
        run(
            &mut seq,
            &[
                two_phase(transfer("hold", "alice", "bob", "10.00"), "pending", ""),
                flagged("bad", "alice", "bank", "1.00", &["closing_debit"], ""),
                close.clone(),
                transfer("late", "alice", "bob", "1.00"),
                transfer("in", "bank", "alice", "1.00"),
                two_phase(transfer("cap", "", "", ""), "post_pending", "hold"),
                two_phase(transfer("rel", "", "", ""), "void_pending", "hold"),
            ]
        ),
        [
            ResultCode::Ok,
            ResultCode::ClosingTransferMustBePending,
            ResultCode::Ok,
            ResultCode::AccountClosed,
            ResultCode::AccountClosed,
            ResultCode::AccountClosed,
            ResultCode::Ok,
        ]
    );
    assert!(seq.account("alice").unwrap().balance.closed);
    assert!(
        !seq.account("bank").unwrap().balance.closed,
        "closing_debit closes the debit side only"
    );
    // A storage failure rolls the closing back; voiding it reopens the account.
    seq.mark_durable(seq.next_index());
    let durable = seq.clone();
    let reopen = two_phase(transfer("reopen", "", "", ""), "void_pending", "close");
    assert_eq!(run(&mut seq, core::slice::from_ref(&reopen)), [ResultCode::Ok]);
    assert!(!seq.account("alice").unwrap().balance.closed);
    seq.roll_back_to(durable.next_index());
    assert!(seq == durable && seq.account("alice").unwrap().balance.closed);
    assert_eq!(
        run(&mut seq, &[reopen, transfer("late", "alice", "bob", "1.00")]),
        [ResultCode::Ok, ResultCode::Ok]
    );
    // The snapshot keeps it.
    seq.mark_durable(seq.next_index());
    let mut w = ledgerfs_snapshot::Writer::new();
    seq.encode_snapshot(&mut w);
    assert!(Sequencer::from_snapshot(&w.buf, Limits::default()).unwrap() == seq);
}

fn kind_account(id: &str, kind: &str) -> Event {
    match account(id, "EUR", &[]) {
        Event::Account(mut a) => {
            a.kind = kind.to_string();
            Event::Account(a)
        }
        other => other,
    }
}

fn flagged(mut event: Event, flags: &[&str]) -> Event {
    if let Event::Transfer(t) = &mut event {
        t.flags = flags.iter().map(|f| f.to_string()).collect();
    }
    event
}

/// Fund segregation (CASS 15): money crosses between client money (customer,
/// safeguarding) and the firm's own (operational, revenue, expense) only when declared;
/// suspense and settlement sit on neither side; the declaration on a transfer that does
/// not cross is refused; a post of a declared pending transfer needs nothing more; and
/// replay accepts what the log holds even under a sequencer that enforces nothing.
#[test]
fn fund_segregation_refuses_undeclared_crossings() {
    let mut seq = Sequencer::new(Limits::default());
    let mut log: Vec<String> = Vec::new();
    let mut step = |seq: &mut Sequencer, events: &[Event]| {
        let (mut results, mut entries) = (Vec::new(), EntryBuffer::new());
        seq.execute(events, 1_000, &mut results, &mut entries);
        for i in 0..entries.len() {
            log.push(String::from_utf8(entries.get(i).to_vec()).unwrap());
        }
        results.iter().map(|r| r.code).collect::<Vec<_>>()
    };
    let setup = [
        kind_account("alice", "customer"),
        kind_account("safe", "safeguarding"),
        kind_account("ops", "operational"),
        kind_account("fees", "revenue"),
        kind_account("susp", "suspense"),
    ];
    assert_eq!(step(&mut seq, &setup), [ResultCode::Ok; 5]);
    let cases = [
        (transfer("a", "safe", "alice", "10"), ResultCode::Ok),
        (transfer("b", "ops", "alice", "1"), ResultCode::FirmFundsUndeclared),
        (transfer("c", "alice", "fees", "1"), ResultCode::FirmFundsUndeclared),
        (transfer("d", "ops", "safe", "1"), ResultCode::FirmFundsUndeclared),
        (
            flagged(transfer("e", "alice", "fees", "1"), &["firm_funds"]),
            ResultCode::Ok,
        ),
        (
            flagged(transfer("f", "ops", "safe", "5"), &["firm_funds"]),
            ResultCode::Ok,
        ),
        (
            flagged(transfer("g", "safe", "alice", "1"), &["firm_funds"]),
            ResultCode::FirmFundsNotCrossing,
        ),
        (transfer("h", "ops", "susp", "1"), ResultCode::Ok),
        (transfer("i", "susp", "alice", "1"), ResultCode::Ok),
        (
            flagged(transfer("j", "alice", "fees", "2"), &["pending", "firm_funds"]),
            ResultCode::Ok,
        ),
        (
            Event::Transfer(NewTransfer {
                pending_id: "j".into(),
                amount: String::new(),
                ..match flagged(transfer("k", "", "", ""), &["post_pending"]) {
                    Event::Transfer(t) => t,
                    _ => unreachable!(),
                }
            }),
            ResultCode::Ok,
        ),
        (
            flagged(transfer("l", "alice", "fees", "1"), &["firm_funds", "firm_funds"]),
            ResultCode::TransferFlagsInvalid,
        ),
    ];
    for (event, want) in &cases {
        assert_eq!(step(&mut seq, core::slice::from_ref(event)), [*want], "{event:?}");
    }
    // The entries carry the flag, and replay (here under a sequencer that would not
    // enforce, and one that would) reproduces the same state.
    assert!(log.iter().any(|e| e.contains("\"flags\":[\"firm_funds\"]")), "{log:?}");
    for enforce in [false, true] {
        let mut replayed = Sequencer::new(Limits::default()).with_fund_segregation(enforce);
        let mut scratch = EntryBuffer::new();
        for e in &log {
            replayed.replay(e.as_bytes(), &mut scratch).unwrap();
        }
        assert!(replayed == seq, "replay reproduces the state (enforce {enforce})");
    }
    // With segregation off, an undeclared crossing is accepted.
    let mut off = Sequencer::new(Limits::default()).with_fund_segregation(false);
    run(&mut off, &setup);
    assert_eq!(run(&mut off, &[transfer("b", "ops", "alice", "1")]), [ResultCode::Ok]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// The sequencer's incremental balance commitment equals one computed from scratch
    /// over its accounts, across batches, commitments taken at random moments, and
    /// storage failures that roll batches back (accounts included). Replay of the log
    /// reaches the same commitment.
    #[test]
    fn the_balance_commitment_follows_every_change_and_roll_back(
        batches in workload(),
        commit_after in prop::collection::vec(any::<bool>(), 64),
        fail_after in prop::collection::vec(any::<u8>(), 64),
    ) {
        let fresh = |seq: &Sequencer| crate::commitment::BalanceTree::new().update(seq.accounts());
        let (mut seq, mut log, mut results, mut entries) = with_a_bank();
        seq.mark_durable(seq.next_index());
        let mut now = 1_000;
        for (i, batch) in batches.iter().enumerate() {
            results.clear();
            entries.clear();
            now += 400_000_000;
            let durable = seq.next_index();
            seq.execute(batch, now, &mut results, &mut entries);
            if commit_after[i % 64] {
                prop_assert_eq!(seq.commit_balances().0, fresh(&seq));
            }
            if fail_after[i % 64] < 40 {
                seq.roll_back_to(durable);
            } else {
                seq.mark_durable(seq.next_index());
                log.extend(entries.iter().map(<[u8]>::to_vec));
            }
        }
        let (root, size) = seq.commit_balances();
        prop_assert_eq!(root, fresh(&seq));
        prop_assert_eq!(size, seq.accounts().len() as u64);
        let mut replayed = Sequencer::new(Limits::default());
        let mut scratch = EntryBuffer::new();
        for bytes in &log {
            replayed.replay(bytes, &mut scratch).unwrap();
        }
        prop_assert_eq!(replayed.commit_balances().0, root);
        for a in seq.accounts().to_vec() {
            let (root, size, proof) = seq.prove_balance(&a.record.id);
            let record = crate::commitment::verify_membership(&a.record.id, &proof, size, &root);
            prop_assert_eq!(record, Ok(Some(crate::commitment::balance_record(&a))));
        }
        let (root, size, proof) = seq.prove_balance("zz-never-opened");
        prop_assert_eq!(crate::commitment::verify_membership("zz-never-opened", &proof, size, &root), Ok(None));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Balance commitment entries, written every few entries and on demand, across
    /// storage roll-backs: each proof the sequencer gives against its last logged
    /// commitment verifies against that entry's root and shows the account as it is
    /// now; replay re-derives every commitment, and a tampered one is caught.
    #[test]
    fn logged_commitments_prove_current_balances_and_replay_checks_them(
        batches in workload(),
        every in 0u64..12,
        per_account in 0u64..3,
        on_demand in prop::collection::vec(any::<bool>(), 64),
        fail_after in prop::collection::vec(any::<u8>(), 64),
    ) {
        let (seq, mut log, mut results, mut entries) = with_a_bank();
        let mut seq = seq.with_balance_commitments(every, per_account);
        seq.mark_durable(seq.next_index());
        let mut now = 1_000;
        for (i, batch) in batches.iter().enumerate() {
            results.clear();
            entries.clear();
            now += 400_000_000;
            let durable = seq.next_index();
            seq.execute(batch, now, &mut results, &mut entries);
            if on_demand[i % 64] {
                seq.commit_now(now, &mut entries);
            }
            if fail_after[i % 64] < 40 {
                seq.roll_back_to(durable);
                continue;
            }
            seq.mark_durable(seq.next_index());
            log.extend(entries.iter().map(<[u8]>::to_vec));
            let ids = seq.accounts().iter().map(|a| a.record.id.clone()).chain(["zz-never".to_string()]);
            for id in ids.collect::<Vec<_>>() {
                let proof = seq.prove_committed(&id);
                // Right after a commitment, it proves every id.
                prop_assert!(proof.is_some() || !on_demand[i % 64], "no proof for {} after a commitment", id);
                let Some(p) = proof else { continue };
                let entry = Entry::decode(&log[p.index as usize]).unwrap();
                prop_assert_eq!(entry.body, EntryBody::Commitment(p.commitment));
                let shown = crate::commitment::verify_membership(&id, &p.proof, p.commitment.accounts, &p.commitment.root);
                let now_record = seq.account(&id).map(crate::commitment::balance_record);
                prop_assert_eq!(shown, Ok(now_record));
            }
        }
        let commitments: Vec<usize> = (0..log.len())
            .filter(|&i| matches!(Entry::decode(&log[i]).unwrap().body, EntryBody::Commitment(_)))
            .collect();
        let spacing = every.max(per_account * seq.accounts().len() as u64);
        if every > 0 && seq.next_index() > 2 * spacing {
            prop_assert!(!commitments.is_empty());
        }
        let replay = |log: &[Vec<u8>]| {
            let mut replayed = Sequencer::new(Limits::default());
            let mut scratch = EntryBuffer::new();
            for (i, bytes) in log.iter().enumerate() {
                if let Err(e) = replayed.replay(bytes, &mut scratch) {
                    return Err((i, e));
                }
            }
            Ok(replayed)
        };
        let replayed = replay(&log).unwrap();
        prop_assert!(replayed == seq);
        if let Some(&at) = commitments.last() {
            let mut tampered = log.clone();
            let text = String::from_utf8(tampered[at].clone()).unwrap();
            let accounts = text.find("\"accounts\":").unwrap();
            let forged = format!("{}\"accounts\":99999,{}", &text[..accounts], &text[text.find("\"root\"").unwrap()..]);
            tampered[at] = forged.into_bytes();
            prop_assert_eq!(replay(&tampered).err(), Some((at, ReplayError::CommitmentMismatch)));
        }
    }
}
