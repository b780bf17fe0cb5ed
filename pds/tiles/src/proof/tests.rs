//! Proof tests: the RFC 6962 / Certificate Transparency vectors, agreement with
//! the RFC's recursive definitions for every small case, and rejection of
//! corrupted proofs.

use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::testutil::{build_single, ct_entries, hex, ref_consistency, ref_inclusion, ref_root};
use crate::{leaf_hash, MemStore, TileLog};

const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, proof) from the CT / Trillian test data.
fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (0, 1, vec![]),
        (
            0,
            8,
            vec![
                hex("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                hex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                hex("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            5,
            8,
            vec![
                hex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                hex("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                hex("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            3,
            vec![hex("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")],
        ),
        (
            1,
            5,
            vec![
                hex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                hex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                hex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

/// (old size, new size, proof) from the CT / Trillian test data.
fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                hex("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                hex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                hex("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                hex("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                hex("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                hex("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                hex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                hex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                hex("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                hex("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                hex("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ]
}

/// The CT entries stored as tiles, one checkpoint per size 1..=8.
fn ct_store() -> (MemStore, Vec<Hash>) {
    let mut log = TileLog::new();
    let mut store = MemStore::new();
    let mut roots = vec![crate::empty_root()];
    let mut w = Vec::new();
    for e in ct_entries() {
        log.append(&e).unwrap();
        w.clear();
        roots.push(log.commit(&mut w));
        store.apply(&w);
        log.mark_durable(log.size());
    }
    (store, roots)
}

fn ct_leaves() -> Vec<Hash> {
    ct_entries().iter().map(|e| leaf_hash(e)).collect()
}

#[test]
fn ct_roots() {
    let (_, roots) = ct_store();
    for (i, r) in ROOTS.iter().enumerate() {
        assert_eq!(roots[i + 1], hex(r));
    }
    assert_eq!(roots[0], crate::empty_root());
}

#[test]
fn ct_inclusion_vectors_are_built_and_verified() {
    let (store, roots) = ct_store();
    let leaves = ct_leaves();
    for (index, size, want) in inclusion_vectors() {
        let got = inclusion_proof(&store, index, size).unwrap();
        assert_eq!(got, want, "inclusion {index} in {size}");
        let root = roots[size as usize];
        assert_eq!(
            verify_inclusion(&leaves[index as usize], index, size, &want, &root),
            Ok(())
        );
        for bad in corrupt_inclusion(index, size, &want) {
            assert!(
                verify_inclusion(&leaves[index as usize], bad.0, bad.1, &bad.2, &root).is_err(),
                "accepted corrupted inclusion {index}/{size}: {bad:?}"
            );
        }
        assert!(verify_inclusion(&[9; 32], index, size, &want, &root).is_err());
        assert!(verify_inclusion(&leaves[index as usize], index, size, &want, &crate::empty_root()).is_err());
    }
}

#[test]
fn ct_consistency_vectors_are_built_and_verified() {
    let (store, roots) = ct_store();
    for (old, new, want) in consistency_vectors() {
        let got = consistency_proof(&store, old, new).unwrap();
        assert_eq!(got, want, "consistency {old} -> {new}");
        let (r1, r2) = (roots[old as usize], roots[new as usize]);
        assert_eq!(verify_consistency(old, new, &r1, &r2, &want), Ok(()));
        if want.is_empty() {
            continue;
        }
        for bad in corrupt_consistency(old, new, &want) {
            assert!(
                verify_consistency(bad.0, bad.1, &r1, &r2, &bad.2).is_err(),
                "accepted corrupted consistency {old}->{new}: {bad:?}"
            );
        }
        assert!(verify_consistency(old, new, &r2, &r1, &want).is_err());
        assert!(verify_consistency(old, new, &[1; 32], &r2, &want).is_err());
        assert!(verify_consistency(old, new, &r1, &[1; 32], &want).is_err());
    }
}

type Probe = (u64, u64, Vec<Hash>);

/// The corruptions Trillian's tests apply to an inclusion proof.
fn corrupt_inclusion(index: u64, size: u64, proof: &[Hash]) -> Vec<Probe> {
    let some = hex("abacaba000000000000000000000000000000000000000000060061e00123456");
    let p = proof.to_vec();
    let mut out = vec![
        (index.wrapping_sub(1), size, p.clone()),
        (index + 1, size, p.clone()),
        (index ^ 2, size, p.clone()),
        (index, size * 2, p.clone()),
        (index, size / 2, p.clone()),
    ];
    let mut t = p.clone();
    t.push([0; 32]);
    out.push((index, size, t));
    let mut t = vec![[0u8; 32]];
    t.extend_from_slice(&p);
    out.push((index, size, t));
    for i in 0..p.len() {
        let mut t = p.clone();
        t[i][0] ^= 8;
        out.push((index, size, t));
    }
    if !p.is_empty() {
        out.push((index, size, p[..p.len() - 1].to_vec()));
    }
    if p.len() > 1 {
        let mut t = vec![p[0], some];
        t.extend_from_slice(&p[1..]);
        out.push((index, size, t));
    }
    // (index ^ 2 can coincide with a valid alternative only for tiny trees.)
    out.retain(|(i, s, q)| !(*i == index && *s == size && q.as_slice() == proof));
    out
}

/// The corruptions Trillian's tests apply to a consistency proof.
fn corrupt_consistency(old: u64, new: u64, proof: &[Hash]) -> Vec<Probe> {
    let p = proof.to_vec();
    let mut out = vec![
        (old - 1, new, p.clone()),
        (old + 1, new, p.clone()),
        (old ^ 2, new, p.clone()),
        (old, new * 2, p.clone()),
        (old, new / 2, p.clone()),
        (old, new, vec![]),
        (old, new, p[..p.len() - 1].to_vec()),
    ];
    for extra in [[0u8; 32], p[0]] {
        let mut t = p.clone();
        t.push(extra);
        out.push((old, new, t));
        let mut t = vec![extra];
        t.extend_from_slice(&p);
        out.push((old, new, t));
    }
    for i in 0..p.len() {
        let mut t = p.clone();
        t[i][0] ^= 16;
        out.push((old, new, t));
    }
    out
}

#[test]
fn consistency_edge_cases() {
    let e = crate::empty_root();
    let r1 = [1u8; 32];
    let r2 = [2u8; 32];
    // Equal sizes: empty proof and equal roots.
    assert_eq!(verify_consistency(0, 0, &e, &e, &[]), Ok(()));
    assert_eq!(verify_consistency(1, 1, &r2, &r2, &[]), Ok(()));
    assert!(verify_consistency(1, 1, &r1, &r2, &[]).is_err());
    assert!(verify_consistency(1, 1, &r1, &r1, &[e]).is_err());
    // From the empty tree: anything, with an empty proof and the empty root.
    assert_eq!(verify_consistency(0, 1, &e, &r2, &[]), Ok(()));
    assert_eq!(
        verify_consistency(0, 1, &r1, &r2, &[]),
        Err(ProofError::OldRootMismatch)
    );
    assert!(verify_consistency(0, 1, &e, &e, &[e]).is_err());
    assert!(verify_consistency(0, 0, &e, &r2, &[]).is_err());
    // Time travel and empty proofs.
    assert_eq!(verify_consistency(1, 0, &r1, &r2, &[]), Err(ProofError::InvalidSizes));
    assert_eq!(verify_consistency(2, 1, &r1, &r2, &[]), Err(ProofError::InvalidSizes));
    assert_eq!(
        verify_consistency(1, 2, &r1, &r2, &[]),
        Err(ProofError::WrongProofLength)
    );
    assert_eq!(
        verify_consistency(1, u64::MAX, &r1, &r2, &[r1]),
        Err(ProofError::InvalidSizes)
    );
    // Inclusion edge cases.
    let h = leaf_hash(b"data");
    assert_eq!(verify_inclusion(&h, 0, 1, &[], &h), Ok(()));
    assert_eq!(verify_inclusion(&h, 0, 0, &[], &h), Err(ProofError::IndexOutOfRange));
    assert_eq!(verify_inclusion(&h, 1, 1, &[], &h), Err(ProofError::IndexOutOfRange));
    assert_eq!(verify_inclusion(&h, 0, 1, &[h], &h), Err(ProofError::WrongProofLength));
    assert_eq!(verify_inclusion(&h, 0, 2, &[], &h), Err(ProofError::WrongProofLength));
    assert_eq!(verify_inclusion(&h, 0, 1, &[], &r1), Err(ProofError::RootMismatch));
    // Building: argument errors.
    let (store, _, _) = build_single(10);
    assert_eq!(
        inclusion_proof(&store, 10, 10).unwrap_err().code(),
        "index_out_of_range"
    );
    assert_eq!(consistency_proof(&store, 11, 10).unwrap_err().code(), "invalid_range");
    assert_eq!(consistency_proof(&store, 0, 10).unwrap(), Vec::<Hash>::new());
    assert_eq!(consistency_proof(&store, 10, 10).unwrap(), Vec::<Hash>::new());
    assert_eq!(
        inclusion_proof(&store, 0, u64::MAX).unwrap_err().code(),
        "size_too_large"
    );
}

#[test]
fn every_proof_of_small_trees_matches_the_rfc_definition() {
    let (store, _, leaves) = build_single(80);
    // Tiles of every size are not all present in one store: use the single
    // build and only sizes whose right edge is stored (the final one), plus a
    // store with a checkpoint at every size for the rest.
    let mut log = TileLog::new();
    let mut every = MemStore::new();
    let mut w = Vec::new();
    for i in 0..80u64 {
        log.append(&crate::testutil::entry(i)).unwrap();
        w.clear();
        log.commit(&mut w);
        every.apply(&w);
        log.mark_durable(i + 1);
    }
    assert_eq!(
        store.get(&crate::TilePath::hash(0, 0, 80)),
        every.get(&crate::TilePath::hash(0, 0, 80))
    );
    for n in 1..=80usize {
        let root = ref_root(&leaves[..n]);
        let mut hr = TileHashReader::new(&every, n as u64).unwrap();
        assert_eq!(hr.root_at(n as u64).unwrap(), root);
        for m in 0..n {
            let p = hr.inclusion_proof(m as u64).unwrap();
            assert_eq!(p, ref_inclusion(m, &leaves[..n]), "PATH({m}, {n})");
            assert_eq!(verify_inclusion(&leaves[m], m as u64, n as u64, &p, &root), Ok(()));
        }
        for m in 0..=n {
            let p = hr.consistency_proof(m as u64).unwrap();
            assert_eq!(p, ref_consistency(m, &leaves[..n]), "PROOF({m}, {n})");
            let old_root = ref_root(&leaves[..m]);
            assert_eq!(verify_consistency(m as u64, n as u64, &old_root, &root, &p), Ok(()));
            if !p.is_empty() {
                for bad in corrupt_consistency(m as u64, n as u64, &p) {
                    assert!(verify_consistency(bad.0, bad.1, &old_root, &root, &bad.2).is_err());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Verification never panics and accepts only the one right proof, for
    /// proofs taken from the RFC definition over random small trees.
    #[test]
    fn verify_rejects_random_perturbations(n in 1usize..40, m_seed in any::<usize>(), flip in any::<(usize, u8)>()) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&[i as u8, 0x5a])).collect();
        let root = ref_root(&leaves);
        let m = m_seed % n;
        let p = ref_inclusion(m, &leaves);
        prop_assert_eq!(verify_inclusion(&leaves[m], m as u64, n as u64, &p, &root), Ok(()));
        if !p.is_empty() {
            let mut bad = p.clone();
            let i = flip.0 % bad.len();
            bad[i][flip.0 % 32] ^= flip.1 | 1;
            prop_assert!(verify_inclusion(&leaves[m], m as u64, n as u64, &bad, &root).is_err());
        }
        let old = m + 1;
        let c = ref_consistency(old, &leaves);
        let old_root = ref_root(&leaves[..old]);
        prop_assert_eq!(verify_consistency(old as u64, n as u64, &old_root, &root, &c), Ok(()));
        if !c.is_empty() {
            let mut bad = c.clone();
            let i = flip.0 % bad.len();
            bad[i][flip.0 % 32] ^= flip.1 | 1;
            prop_assert!(verify_consistency(old as u64, n as u64, &old_root, &root, &bad).is_err());
        }
        // Arbitrary garbage never panics.
        let _ = verify_inclusion(&root, m_seed as u64, (m_seed as u64) >> 3, &p, &root);
        let _ = verify_consistency(m_seed as u64 >> 2, m_seed as u64, &root, &root, &c);
    }
}
