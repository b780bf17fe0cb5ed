//! The workloads, generated deterministically before anything is timed: account ids,
//! uniform random debit/credit pairs among the accounts (never the same account twice),
//! random amounts, and the JSON bodies the API receives.

use std::fmt::Write as _;

/// Funding account: no balance limit; every customer account starts funded from it.
pub const FUNDING: &str = "funding";
/// Opening balance of every customer account, in cents (1,000,000.00 EUR).
pub const OPENING_CENTS: u64 = 100_000_000;
/// Largest transfer of the workloads, in cents (so the overdraft rule is checked on
/// every transfer but rarely refuses one).
pub const MAX_AMOUNT_CENTS: u64 = 10_000;

/// SplitMix64: small, fast and seeded, so every run sees the same transfers.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator with this seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias is below 2^-40 for the sizes used here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The id of customer account `i`.
pub fn account_id(i: u64) -> String {
    format!("acc-{i:06}")
}

/// One transfer of a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Unique id.
    pub id: String,
    /// Debited account index.
    pub debit: u64,
    /// Credited account index.
    pub credit: u64,
    /// Amount in cents.
    pub cents: u64,
}

/// `n` uniform random transfers among `accounts` accounts, ids `<prefix>-<i>`.
pub fn transfers(seed: u64, prefix: &str, accounts: u64, n: u64) -> Vec<Transfer> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let debit = rng.below(accounts);
            let credit = (debit + 1 + rng.below(accounts - 1)) % accounts;
            Transfer {
                id: format!("{prefix}-{i}"),
                debit,
                credit,
                cents: 1 + rng.below(MAX_AMOUNT_CENTS),
            }
        })
        .collect()
}

/// Cents as the API's decimal text ("12.34").
pub fn decimal(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// One transfer as the API's JSON object.
fn write_transfer(out: &mut String, id: &str, debit: &str, credit: &str, cents: u64) {
    let _ = write!(
        out,
        r#"{{"id":"{id}","debit":"{debit}","credit":"{credit}","amount":"{}","currency":"EUR"}}"#,
        decimal(cents)
    );
}

/// A `POST /v1/transfers` body for these transfers (a JSON array).
pub fn transfers_body(batch: &[Transfer]) -> Vec<u8> {
    let mut out = String::with_capacity(batch.len() * 100 + 2);
    out.push('[');
    for (i, t) in batch.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_transfer(&mut out, &t.id, &account_id(t.debit), &account_id(t.credit), t.cents);
    }
    out.push(']');
    out.into_bytes()
}

/// `POST /v1/accounts` bodies opening the funding account and `accounts` customers
/// with the overdraft rule, at most `batch` per body.
pub fn account_bodies(accounts: u64, batch: usize) -> Vec<Vec<u8>> {
    let mut objects = vec![format!(
        r#"{{"id":"{FUNDING}","currency":"EUR","kind":"safeguarding"}}"#
    )];
    objects.extend((0..accounts).map(|i| {
        format!(
            r#"{{"id":"{}","currency":"EUR","flags":["debits_must_not_exceed_credits"]}}"#,
            account_id(i)
        )
    }));
    objects
        .chunks(batch)
        .map(|chunk| format!("[{}]", chunk.join(",")).into_bytes())
        .collect()
}

/// `POST /v1/transfers` bodies funding every customer account from the funding account.
pub fn funding_bodies(accounts: u64, batch: usize) -> Vec<Vec<u8>> {
    let ids: Vec<u64> = (0..accounts).collect();
    ids.chunks(batch)
        .map(|chunk| {
            let mut out = String::from("[");
            for (i, &a) in chunk.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_transfer(&mut out, &format!("fund-{a}"), FUNDING, &account_id(a), OPENING_CENTS);
            }
            out.push(']');
            out.into_bytes()
        })
        .collect()
}

/// Deals `transfers` to `clients` clients round-robin by batch of `batch`: client `c`
/// gets batches `c, c + clients, ...`.
pub fn deal(transfers: &[Transfer], clients: usize, batch: usize) -> Vec<Vec<&[Transfer]>> {
    let mut dealt: Vec<Vec<&[Transfer]>> = vec![Vec::new(); clients];
    for (i, chunk) in transfers.chunks(batch).enumerate() {
        dealt[i % clients].push(chunk);
    }
    dealt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_distinct_and_in_range() {
        for t in transfers(1, "t", 10, 1_000) {
            assert_ne!(t.debit, t.credit);
            assert!(t.debit < 10 && t.credit < 10);
            assert!((1..=MAX_AMOUNT_CENTS).contains(&t.cents));
        }
        assert_eq!(transfers(5, "t", 10, 50), transfers(5, "t", 10, 50));
    }

    #[test]
    fn deals_every_batch_once() {
        let all = transfers(3, "t", 10, 25);
        let dealt = deal(&all, 3, 4);
        assert_eq!(dealt.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 2, 2]);
        assert_eq!(dealt.iter().flatten().map(|b| b.len()).sum::<usize>(), 25);
    }

    #[test]
    fn bodies_are_json_arrays() {
        let body = transfers_body(&transfers(1, "t", 10, 3));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(v.as_array().map(Vec::len), Some(3));
        assert_eq!(decimal(1_005), "10.05");
        let accounts: serde_json::Value = serde_json::from_slice(&account_bodies(3, 10)[0]).expect("JSON");
        assert_eq!(accounts.as_array().map(Vec::len), Some(4));
    }
}
