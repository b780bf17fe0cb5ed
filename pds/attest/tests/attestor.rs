//! The attestation domain's safety rules: the [`Attestor`] signs checkpoints
//! that extend its history and refuses rollbacks and forks, across restarts,
//! and its messages survive a postcard round trip (they cross a ring).
//!
//! Must never: weaken a refusal into a warning; every refusal here must
//! leave the attestor's memory unchanged.

use ledgerfs_attest::{
    sign_checkpoint, verify_checkpoint, Attestor, Checkpoint, NoteError, Refusal, SignReply, SignRequest, SignerKey,
};

const ORIGIN: &str = "example.com/ledgerfs";

fn key() -> SignerKey {
    SignerKey::from_seed("ledgerfs-log", [3u8; 32]).unwrap()
}

fn attestor() -> Attestor {
    Attestor::new(key(), ORIGIN.to_string())
}

fn req(size: u64, fill: u8) -> SignRequest {
    SignRequest { size, root: [fill; 32] }
}

fn signed(reply: SignReply) -> String {
    match reply {
        SignReply::Signed { note } => note,
        SignReply::Refused(r) => panic!("refused: {r}"),
    }
}

#[test]
fn signs_growing_checkpoints_that_verify() {
    let mut a = attestor();
    let v = a.verifier();
    assert_eq!(a.last_signed(), None);
    for (size, fill) in [(0u64, 0u8), (1, 1), (1, 1), (5, 2), (u64::MAX, 3)] {
        let reply = a.handle(&req(size, fill));
        assert_eq!(reply.refusal_code(), None);
        let cp = verify_checkpoint(&v, signed(reply).as_bytes()).unwrap();
        assert_eq!(cp.origin, ORIGIN);
        assert_eq!(cp.size, size);
        assert_eq!(cp.root, [fill; 32]);
        assert!(cp.extensions.is_empty());
        assert_eq!(a.last_signed(), Some((size, [fill; 32])));
    }
}

#[test]
fn resigning_the_same_head_is_idempotent() {
    let mut a = attestor();
    let n1 = signed(a.handle(&req(10, 9)));
    let n2 = signed(a.handle(&req(10, 9)));
    assert_eq!(n1, n2);
}

#[test]
fn refuses_rollback() {
    let mut a = attestor();
    signed(a.handle(&req(10, 1)));
    let reply = a.handle(&req(9, 1));
    assert_eq!(
        reply,
        SignReply::Refused(Refusal::Rollback {
            last_size: 10,
            requested_size: 9
        })
    );
    assert_eq!(reply.refusal_code(), Some("rollback"));
    assert_eq!(a.last_signed(), Some((10, [1; 32])));
    // Still signs forward afterwards.
    signed(a.handle(&req(11, 2)));
}

#[test]
fn refuses_fork() {
    let mut a = attestor();
    signed(a.handle(&req(10, 1)));
    let reply = a.handle(&req(10, 2));
    assert_eq!(reply, SignReply::Refused(Refusal::Fork { size: 10 }));
    assert_eq!(reply.refusal_code(), Some("fork"));
    assert_eq!(a.last_signed(), Some((10, [1; 32])));
}

#[test]
fn restored_memory_is_enforced() {
    let mut a = attestor().with_last_signed(100, [7; 32]);
    assert_eq!(a.handle(&req(99, 7)).refusal_code(), Some("rollback"));
    assert_eq!(a.handle(&req(100, 8)).refusal_code(), Some("fork"));
    signed(a.handle(&req(100, 7)));
    signed(a.handle(&req(101, 8)));
}

#[test]
fn restores_from_its_own_stored_note() {
    let stored = sign_checkpoint(
        &key(),
        &Checkpoint {
            origin: ORIGIN.into(),
            size: 50,
            root: [5; 32],
            extensions: vec![],
        },
    )
    .unwrap();
    let mut a = attestor().with_last_signed_note(stored.as_bytes()).unwrap();
    assert_eq!(a.last_signed(), Some((50, [5; 32])));
    assert_eq!(a.handle(&req(49, 5)).refusal_code(), Some("rollback"));

    // A note from another key, or for another origin, is not our memory.
    let other = SignerKey::from_seed("ledgerfs-log", [4u8; 32]).unwrap();
    let foreign = sign_checkpoint(
        &other,
        &Checkpoint {
            origin: ORIGIN.into(),
            size: 50,
            root: [5; 32],
            extensions: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        attestor().with_last_signed_note(foreign.as_bytes()).unwrap_err(),
        NoteError::KeyHashMismatch
    );
    let other_origin = sign_checkpoint(
        &key(),
        &Checkpoint {
            origin: "elsewhere".into(),
            size: 50,
            root: [5; 32],
            extensions: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        attestor().with_last_signed_note(other_origin.as_bytes()).unwrap_err(),
        NoteError::OriginMismatch
    );
}

#[test]
fn bad_origin_is_refused_without_changing_memory() {
    for origin in ["", "two\nlines", "tab\there"] {
        let mut a = Attestor::new(key(), origin.to_string());
        let reply = a.handle(&req(1, 1));
        assert_eq!(reply, SignReply::Refused(Refusal::BadOrigin), "{origin:?}");
        assert_eq!(a.last_signed(), None);
    }
    let mut a = Attestor::new(key(), "o".repeat(70_000));
    assert_eq!(a.handle(&req(1, 1)), SignReply::Refused(Refusal::TooLarge));
}

#[test]
fn refusal_codes_and_display() {
    let all = [
        (
            Refusal::Rollback {
                last_size: 2,
                requested_size: 1,
            },
            "rollback",
        ),
        (Refusal::Fork { size: 3 }, "fork"),
        (Refusal::BadOrigin, "bad_origin"),
        (Refusal::TooLarge, "note_too_large"),
    ];
    for (r, code) in all {
        assert_eq!(r.code(), code);
        assert!(r.to_string().starts_with(code), "{r}");
    }
}

#[test]
fn messages_cross_a_ring_with_postcard() {
    let r = req(123_456, 0xcd);
    let bytes = postcard::to_allocvec(&r).unwrap();
    assert_eq!(postcard::from_bytes::<SignRequest>(&bytes).unwrap(), r);

    let mut a = attestor();
    for reply in [a.handle(&r), a.handle(&req(1, 1)), a.handle(&req(123_456, 0))] {
        let bytes = postcard::to_allocvec(&reply).unwrap();
        assert_eq!(postcard::from_bytes::<SignReply>(&bytes).unwrap(), reply);
    }
}

#[test]
fn attestor_debug_hides_the_key() {
    let a = attestor();
    let dbg = format!("{a:?}");
    let seed_b64 = key().encode().rsplit('+').next().unwrap().to_string();
    assert!(!dbg.contains(&seed_b64), "{dbg}");
    assert!(dbg.contains(ORIGIN));
}
