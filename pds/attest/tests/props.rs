//! Property tests: every well-shaped checkpoint or note body signs, verifies
//! and parses back to itself; any single-byte change to a signed note is
//! rejected; arbitrary input never panics the verifier or the parsers.
//!
//! Must never: shrink the case counts below what catches a one-byte
//! tamper; these properties are the crate's main evidence of strictness.

use ledgerfs_attest::{
    parse_checkpoint_unverified, sign_checkpoint, sign_note, verify_checkpoint, verify_note, Checkpoint, SignerKey,
    VerifierKey,
};
use proptest::prelude::*;

fn key_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9./_:\u{2014}é-]{1,24}"
}

/// A line allowed in a note body: no control characters, non-empty,
/// any Unicode (including em dashes and `+`, which only matter in key names).
fn line() -> impl Strategy<Value = String> {
    "[ -~\u{a0}-\u{2fff}\u{2014}]{1,40}"
}

fn checkpoint() -> impl Strategy<Value = Checkpoint> {
    (
        line(),
        any::<u64>(),
        any::<[u8; 32]>(),
        prop::collection::vec(line(), 0..4),
    )
        .prop_map(|(origin, size, root, extensions)| Checkpoint {
            origin,
            size,
            root,
            extensions,
        })
}

/// A note body: lines (possibly empty) each ending in a newline.
fn body() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![3 => line(), 1 => Just(String::new())], 1..6)
        .prop_map(|lines| lines.into_iter().map(|l| l + "\n").collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_checkpoint_signs_verifies_and_round_trips(
        name in key_name(),
        seed in any::<[u8; 32]>(),
        cp in checkpoint(),
    ) {
        let key = SignerKey::from_seed(&name, seed).unwrap();
        let note = sign_checkpoint(&key, &cp).unwrap();
        prop_assert_eq!(verify_checkpoint(&key.verifier(), note.as_bytes()).unwrap(), cp.clone());
        // The unverified reading sees exactly what verification sees.
        prop_assert_eq!(parse_checkpoint_unverified(note.as_bytes()).unwrap(), cp.clone());
        prop_assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
    }

    #[test]
    fn any_body_signs_and_verifies(name in key_name(), seed in any::<[u8; 32]>(), body in body()) {
        let key = SignerKey::from_seed(&name, seed).unwrap();
        let note = sign_note(&key, &body).unwrap();
        prop_assert_eq!(verify_note(&key.verifier(), note.as_bytes()).unwrap(), body);
    }

    #[test]
    fn any_single_byte_change_fails_verification(
        seed in any::<[u8; 32]>(),
        cp in checkpoint(),
        pos in any::<prop::sample::Index>(),
        delta in 1u8..=255,
    ) {
        let key = SignerKey::from_seed("log.example/k", seed).unwrap();
        let note = sign_checkpoint(&key, &cp).unwrap();
        let mut bytes = note.into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        prop_assert!(verify_note(&key.verifier(), &bytes).is_err());
        prop_assert!(verify_checkpoint(&key.verifier(), &bytes).is_err());
    }

    #[test]
    fn dropping_or_adding_a_byte_fails_verification(
        seed in any::<[u8; 32]>(),
        cp in checkpoint(),
        pos in any::<prop::sample::Index>(),
        extra in any::<u8>(),
    ) {
        let key = SignerKey::from_seed("k", seed).unwrap();
        let note = sign_checkpoint(&key, &cp).unwrap().into_bytes();
        let i = pos.index(note.len());
        let mut dropped = note.clone();
        dropped.remove(i);
        prop_assert!(verify_note(&key.verifier(), &dropped).is_err());
        let mut added = note;
        added.insert(i, extra);
        // Nothing in a single-signature note is ignorable, so an inserted
        // byte must be rejected too.
        prop_assert!(verify_note(&key.verifier(), &added).is_err());
    }

    #[test]
    fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), s in ".{0,200}") {
        let key = SignerKey::from_seed("k", [1; 32]).unwrap();
        let v = key.verifier();
        let _ = verify_note(&v, &bytes);
        let _ = verify_checkpoint(&v, &bytes);
        let _ = Checkpoint::parse_body(&s);
        let _ = VerifierKey::parse(&s);
        let _ = SignerKey::parse(&s);
        let _ = sign_note(&key, &s);
    }

    #[test]
    fn key_strings_round_trip(name in key_name(), seed in any::<[u8; 32]>()) {
        let key = SignerKey::from_seed(&name, seed).unwrap();
        let enc = key.encode();
        let back = SignerKey::parse(&enc).unwrap();
        prop_assert_eq!(back.encode(), enc);
        let venc = key.verifier().encode();
        prop_assert_eq!(VerifierKey::parse(&venc).unwrap(), key.verifier());
        prop_assert_eq!(VerifierKey::parse(&venc).unwrap().encode(), venc);
    }
}

proptest! {
    // Exhaustive over byte positions, so fewer cases.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn every_single_byte_change_of_one_note_fails(seed in any::<[u8; 32]>(), size in any::<u64>()) {
        let key = SignerKey::from_seed("log.example/k", seed).unwrap();
        let cp = Checkpoint { origin: "o".into(), size, root: seed, extensions: vec![] };
        let note = sign_checkpoint(&key, &cp).unwrap().into_bytes();
        let v = key.verifier();
        for i in 0..note.len() {
            for delta in [1u8, 0x20, 0x80] {
                let mut bytes = note.clone();
                bytes[i] = bytes[i].wrapping_add(delta);
                prop_assert!(verify_note(&v, &bytes).is_err(), "byte {} +{}", i, delta);
            }
        }
    }
}
