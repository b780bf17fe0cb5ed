//! Test helpers: reference RFC 6962 algorithms written straight from the RFC's
//! recursive definitions (deliberately naive, to check the fast code), a
//! deterministic RNG, and tree builders. Test-only; never shipped.

use alloc::vec::Vec;

use crate::{empty_root, leaf_hash, node_hash, Hash, MemStore, TileLog};

/// Decode 64 hex digits into a hash.
pub(crate) fn hex(s: &str) -> Hash {
    let v = unhex(s);
    assert_eq!(v.len(), 32, "{s}");
    let mut h = [0u8; 32];
    h.copy_from_slice(&v);
    h
}

/// Decode hex digits into bytes.
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0);
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The eight RFC 6962 / Certificate Transparency test entries.
pub(crate) fn ct_entries() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| unhex(s))
    .collect()
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    assert!(n >= 2);
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) from RFC 6962 §2.1, over leaf hashes.
pub(crate) fn ref_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&ref_root(&leaves[..k]), &ref_root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) from RFC 6962 §2.1.1.
pub(crate) fn ref_inclusion(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    assert!(m < n);
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    let mut out;
    if m < k {
        out = ref_inclusion(m, &leaves[..k]);
        out.push(ref_root(&leaves[k..]));
    } else {
        out = ref_inclusion(m - k, &leaves[k..]);
        out.push(ref_root(&leaves[..k]));
    }
    out
}

/// PROOF(m, D[n]) from RFC 6962 §2.1.2.
pub(crate) fn ref_consistency(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn sub(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { Vec::new() } else { alloc::vec![ref_root(leaves)] };
        }
        let k = split(n);
        let mut out;
        if m <= k {
            out = sub(m, &leaves[..k], b);
            out.push(ref_root(&leaves[k..]));
        } else {
            out = sub(m - k, &leaves[k..], false);
            out.push(ref_root(&leaves[..k]));
        }
        out
    }
    assert!(m <= leaves.len());
    if m == 0 {
        return Vec::new();
    }
    sub(m, leaves, true)
}

/// SplitMix64: a tiny deterministic RNG for tests.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0), close enough for tests.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next() % n
    }
}

/// Deterministic test entry `i`: 0..=40 bytes, varying with `i`.
pub(crate) fn entry(i: u64) -> Vec<u8> {
    let len = (i.wrapping_mul(7) % 41) as usize;
    let seed = i.to_le_bytes();
    (0..len).map(|j| seed[j % 8] ^ (j as u8)).collect()
}

/// Leaf hashes of entries `0..n`.
pub(crate) fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&entry(i))).collect()
}

/// Build a tree of `size` entries with one commit; returns store, root, leaves.
pub(crate) fn build_single(size: u64) -> (MemStore, Hash, Vec<Hash>) {
    build_commits(&[size])
}

/// Build a tree committing (and marking durable) at each of `sizes` (ascending);
/// returns the store, the root at the last size, and the leaf hashes.
pub(crate) fn build_commits(sizes: &[u64]) -> (MemStore, Hash, Vec<Hash>) {
    let mut log = TileLog::new();
    let mut store = MemStore::new();
    let mut root = empty_root();
    let mut writes = Vec::new();
    for &s in sizes {
        while log.size() < s {
            let i = log.size();
            assert_eq!(log.append(&entry(i)).unwrap(), i);
        }
        writes.clear();
        root = log.commit(&mut writes);
        store.apply(&writes);
        log.mark_durable(s);
    }
    let n = sizes.last().copied().unwrap_or(0);
    (store, root, leaves(n))
}
