//! Every rejection path of the key parsers, the note verifier and the
//! checkpoint parser, each asserted by its exact error (and code), plus the
//! round trips those paths guard.
//!
//! Must never: accept "some error" where a specific one is meant; a changed
//! code is a breaking change and must fail here.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ledgerfs_attest::{
    ed25519_key_hash, sign_checkpoint, sign_note, verify_checkpoint, verify_note, Checkpoint, KeyError, NoteError,
    SignerKey, VerifierKey, MAX_NOTE_LEN, MAX_SIGNATURES,
};

const ORIGIN: &str = "example.com/ledgerfs";

fn signer() -> SignerKey {
    SignerKey::from_seed(ORIGIN, [7u8; 32]).unwrap()
}

fn other_signer() -> SignerKey {
    SignerKey::from_seed("witness.example/w1", [9u8; 32]).unwrap()
}

fn cp() -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.to_string(),
        size: 42,
        root: [0xab; 32],
        extensions: vec![],
    }
}

/// A base64 signature line for `name` with arbitrary raw bytes.
fn sig_line(name: &str, raw: &[u8]) -> String {
    format!("\u{2014} {name} {}\n", STANDARD.encode(raw))
}

// ---------------------------------------------------------------- keys

#[test]
fn key_round_trips_from_seed() {
    let s = signer();
    let enc = s.encode();
    assert!(enc.starts_with("PRIVATE+KEY+example.com/ledgerfs+"));
    let s2 = SignerKey::parse(&enc).unwrap();
    assert_eq!(s2.encode(), enc);
    assert_eq!(s2.verifier(), s.verifier());
    let v = VerifierKey::parse(&s.verifier().encode()).unwrap();
    assert_eq!(v, s.verifier());
    assert_eq!(
        v.key_hash(),
        ed25519_key_hash(ORIGIN, &v.public_key().unwrap()),
        "hash is SHA-256(name || 0x0A || 0x01 || key)[..4]"
    );
    assert_eq!(
        VerifierKey::from_public_key(ORIGIN, v.public_key().unwrap()).unwrap(),
        v
    );
}

#[test]
fn signer_debug_hides_the_seed() {
    let s = SignerKey::from_seed("n", [0x5a; 32]).unwrap();
    let dbg = format!("{s:?}");
    assert!(dbg.contains("SignerKey") && dbg.contains("\"n\""), "{dbg}");
    let enc = s.encode();
    let seed_b64 = enc.rsplit('+').next().unwrap();
    assert!(!dbg.contains(seed_b64), "{dbg}");
    assert!(!dbg.contains("5a5a") && !dbg.contains("90, 90"), "{dbg}");
}

#[test]
fn key_name_rules() {
    for bad in ["", "a+b", "a b", "a\tb", "a\u{a0}b", "a\u{2003}b", "a\u{1}b", "a\nb"] {
        assert_eq!(
            SignerKey::from_seed(bad, [1; 32]).unwrap_err(),
            KeyError::BadName,
            "{bad:?}"
        );
    }
    for good in ["a", "example.com/log", "\u{2014}", "ümlaut"] {
        SignerKey::from_seed(good, [1; 32]).unwrap();
    }
}

#[test]
fn verifier_key_rejections() {
    let good = signer().verifier().encode();
    let (name, rest) = good.split_once('+').unwrap();
    let (hash, key) = rest.split_once('+').unwrap();
    let cases: Vec<(String, KeyError)> = vec![
        (name.to_string(), KeyError::Malformed),
        (format!("{name}+{hash}"), KeyError::Malformed),
        (format!("+{hash}+{key}"), KeyError::BadName),
        (format!("{name}+{}+{key}", hash.to_uppercase()), KeyError::BadKeyHash),
        (format!("{name}+{}+{key}", &hash[..7]), KeyError::BadKeyHash),
        (format!("{name}+0{hash}+{key}"), KeyError::BadKeyHash),
        (format!("{name}+{hash}+{}", &key[..43]), KeyError::BadBase64),
        (format!("{name}+{hash}+"), KeyError::BadKeyLength),
        (format!("{name}+{hash}+{}", "A".repeat(100)), KeyError::BadKeyLength),
        (format!("{name}+00000000+{key}"), KeyError::KeyHashMismatch),
        (format!("other+{hash}+{key}"), KeyError::KeyHashMismatch),
    ];
    for (s, want) in cases {
        assert_eq!(VerifierKey::parse(&s), Err(want), "{s:?}");
    }
    // Algorithm byte other than 0x01.
    let mut raw = [0u8; 33];
    raw[0] = 0x02;
    let s = format!("{name}+{hash}+{}", STANDARD.encode(raw));
    assert_eq!(VerifierKey::parse(&s), Err(KeyError::UnknownAlgorithm));
}

#[test]
fn verifier_key_rejects_points_not_on_the_curve_and_weak_keys() {
    // y = 2 does not decode to a curve point.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    assert_eq!(
        VerifierKey::from_public_key("n", not_a_point),
        Err(KeyError::InvalidPublicKey)
    );
    // The identity point (small order).
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        VerifierKey::from_public_key("n", identity),
        Err(KeyError::InvalidPublicKey)
    );
    // ...also via the string form with a correct hash.
    let mut raw = [0u8; 33];
    raw[0] = 1;
    raw[1..].copy_from_slice(&identity);
    let h = ed25519_key_hash("n", &identity);
    let s = format!(
        "n+{:02x}{:02x}{:02x}{:02x}+{}",
        h[0],
        h[1],
        h[2],
        h[3],
        STANDARD.encode(raw)
    );
    assert_eq!(VerifierKey::parse(&s), Err(KeyError::InvalidPublicKey));
}

#[test]
fn signer_key_rejections() {
    let good = signer().encode();
    let tail = good.strip_prefix("PRIVATE+KEY+").unwrap();
    let (name, rest) = tail.split_once('+').unwrap();
    let (hash, key) = rest.split_once('+').unwrap();
    let cases: Vec<(String, KeyError)> = vec![
        (tail.to_string(), KeyError::MissingPrivatePrefix),
        (format!("private+key+{tail}"), KeyError::MissingPrivatePrefix),
        (format!("PRIVATE+KEY+{name}"), KeyError::Malformed),
        (format!("PRIVATE+KEY+{name}+{hash}+{}", &key[1..]), KeyError::BadBase64),
        (format!("PRIVATE+KEY+{name}+ffffffff+{key}"), KeyError::KeyHashMismatch),
        (format!("PRIVATE+KEY+a b+{hash}+{key}"), KeyError::BadName),
    ];
    for (s, want) in cases {
        assert_eq!(SignerKey::parse(&s).unwrap_err(), want, "{s:?}");
    }
}

#[test]
fn key_error_codes_are_stable_and_displayed() {
    let all = [
        (KeyError::Malformed, "malformed_key"),
        (KeyError::MissingPrivatePrefix, "missing_private_prefix"),
        (KeyError::BadName, "bad_key_name"),
        (KeyError::BadKeyHash, "bad_key_hash"),
        (KeyError::BadBase64, "bad_key_base64"),
        (KeyError::UnknownAlgorithm, "unknown_algorithm"),
        (KeyError::BadKeyLength, "bad_key_length"),
        (KeyError::KeyHashMismatch, "key_hash_mismatch"),
        (KeyError::InvalidPublicKey, "invalid_public_key"),
    ];
    for (e, code) in all {
        assert_eq!(e.code(), code);
        assert!(e.to_string().starts_with(code));
    }
}

// ---------------------------------------------------------------- notes

#[test]
fn note_round_trip_and_body_with_blank_lines() {
    let s = signer();
    let v = s.verifier();
    for body in [
        "\n",
        "a\n",
        "a\n\nb\n",
        "a\n\n",
        "x\n\n\u{2014} fake sig\n",
        "ünï\u{2014}code\n",
    ] {
        let n = sign_note(&s, body).unwrap();
        assert_eq!(verify_note(&v, n.as_bytes()).unwrap(), body, "{body:?}");
    }
}

#[test]
fn sign_note_rejections() {
    let s = signer();
    assert_eq!(sign_note(&s, "a"), Err(NoteError::BodyNotNewlineTerminated));
    assert_eq!(sign_note(&s, "a\r\n"), Err(NoteError::ControlCharacter));
    assert_eq!(sign_note(&s, "\ta\n"), Err(NoteError::ControlCharacter));
    let big = format!("{}\n", "x".repeat(MAX_NOTE_LEN));
    assert_eq!(sign_note(&s, &big), Err(NoteError::TooLarge));
    // The largest signable body produces a note of exactly MAX_NOTE_LEN.
    let overhead = sign_note(&s, "\n").unwrap().len() - 1;
    let max_body = format!("{}\n", "y".repeat(MAX_NOTE_LEN - overhead - 1));
    let n = sign_note(&s, &max_body).unwrap();
    assert_eq!(n.len(), MAX_NOTE_LEN);
    verify_note(&s.verifier(), n.as_bytes()).unwrap();
    let too_big = format!("y{max_body}");
    assert_eq!(sign_note(&s, &too_big), Err(NoteError::TooLarge));
}

#[test]
fn verify_note_rejections() {
    let s = signer();
    let v = s.verifier();
    let body = "hello\n";
    let good = sign_note(&s, body).unwrap();
    let sig = good.strip_prefix("hello\n\n").unwrap();
    let ours_raw = STANDARD.decode(sig.trim_end().rsplit(' ').next().unwrap()).unwrap();
    let other_hash_raw = {
        let mut r = ours_raw.clone();
        r[0] ^= 1;
        r
    };

    let too_many: String = std::iter::repeat_n(sig, MAX_SIGNATURES + 1).collect();
    let cases: Vec<(Vec<u8>, NoteError)> = vec![
        (vec![b'a'; MAX_NOTE_LEN + 1], NoteError::TooLarge),
        (b"hello\n\n\xc3\x28\n".to_vec(), NoteError::NotUtf8),
        (
            format!("hel\x7flo\x00\n\n{sig}").into_bytes(),
            NoteError::ControlCharacter,
        ),
        (format!("hello\r\n\n{sig}").into_bytes(), NoteError::ControlCharacter),
        (format!("hello\n{sig}").into_bytes(), NoteError::MissingBlankLine),
        (b"hello\n\n".to_vec(), NoteError::NoSignatures),
        (
            format!("hello\n\n{}", sig.trim_end()).into_bytes(),
            NoteError::UnterminatedSignatureLine,
        ),
        (
            format!("hello\n\n{}", sig.replacen('\u{2014}', "-", 1)).into_bytes(),
            NoteError::BadSignatureLine,
        ),
        (
            format!("hello\n\n\u{2014}{}", &sig["\u{2014} ".len()..]).into_bytes(),
            NoteError::BadSignatureLine,
        ),
        (
            format!("hello\n\n{sig}\u{2014} nospace\n").into_bytes(),
            NoteError::BadSignatureLine,
        ),
        (
            format!("hello\n\n{sig}\u{2014} name \n").into_bytes(),
            NoteError::BadSignatureLine,
        ),
        (
            format!("hello\n\n{sig}\u{2014}  AAAAAAAA\n").into_bytes(),
            NoteError::BadKeyName,
        ),
        (
            format!("hello\n\n{sig}\u{2014} a+b AAAAAAAA\n").into_bytes(),
            NoteError::BadKeyName,
        ),
        (
            format!("hello\n\n{sig}\u{2014} name AAAA!AAA\n").into_bytes(),
            NoteError::BadSignatureBase64,
        ),
        // Non-canonical padding bits.
        (
            format!("hello\n\n{sig}\u{2014} name AAAAAAB=\n").into_bytes(),
            NoteError::BadSignatureBase64,
        ),
        (
            format!("hello\n\n{sig}\u{2014} name AAAAAA==\n").into_bytes(),
            NoteError::SignatureTooShort,
        ),
        (
            format!("hello\n\n{}", sig_line(ORIGIN, &ours_raw[..67])).into_bytes(),
            NoteError::InvalidSignature,
        ),
        (
            format!("hello\n\n{}", sig_line(ORIGIN, &[&ours_raw[..], &[0]].concat())).into_bytes(),
            NoteError::InvalidSignature,
        ),
        (format!("bye\n\n{sig}").into_bytes(), NoteError::InvalidSignature),
        (
            format!("hello\n\n{}", sig_line(ORIGIN, &other_hash_raw)).into_bytes(),
            NoteError::KeyHashMismatch,
        ),
        (
            format!("hello\n\n{}", sig_line("someone.else", &ours_raw)).into_bytes(),
            NoteError::NoSignatureFromKey,
        ),
        (
            format!("hello\n\n{too_many}").into_bytes(),
            NoteError::TooManySignatures,
        ),
    ];
    for (msg, want) in cases {
        assert_eq!(verify_note(&v, &msg), Err(want), "{:?}", String::from_utf8_lossy(&msg));
    }
    // The untouched note still verifies.
    assert_eq!(verify_note(&v, good.as_bytes()).unwrap(), body);
}

#[test]
fn verify_note_with_cosignatures_and_rotated_keys() {
    let s = signer();
    let w = other_signer();
    let rotated = SignerKey::from_seed(ORIGIN, [8u8; 32]).unwrap();
    let body = cp().body();
    let ours = sign_note(&s, &body).unwrap();
    let theirs = sign_note(&w, &body).unwrap();
    let rot = sign_note(&rotated, &body).unwrap();
    let line = |n: &str| n[body.len() + 1..].to_string();
    let combined = format!("{body}\n{}{}{}", line(&theirs), line(&rot), line(&ours));
    assert_eq!(verify_note(&s.verifier(), combined.as_bytes()).unwrap(), body);
    assert_eq!(verify_note(&w.verifier(), combined.as_bytes()).unwrap(), body);
    assert_eq!(verify_note(&rotated.verifier(), combined.as_bytes()).unwrap(), body);
    // Only the rotated key's signature: our verifier sees our name with
    // another hash.
    let only_rot = format!("{body}\n{}", line(&rot));
    assert_eq!(
        verify_note(&s.verifier(), only_rot.as_bytes()),
        Err(NoteError::KeyHashMismatch)
    );
}

#[test]
fn note_error_codes_are_stable_and_displayed() {
    let all = [
        (NoteError::TooLarge, "note_too_large"),
        (NoteError::NotUtf8, "not_utf8"),
        (NoteError::ControlCharacter, "control_character"),
        (NoteError::MissingBlankLine, "missing_blank_line"),
        (NoteError::BodyNotNewlineTerminated, "body_not_newline_terminated"),
        (NoteError::NoSignatures, "no_signatures"),
        (NoteError::UnterminatedSignatureLine, "unterminated_signature_line"),
        (NoteError::BadSignatureLine, "bad_signature_line"),
        (NoteError::BadKeyName, "bad_key_name"),
        (NoteError::BadSignatureBase64, "bad_signature_base64"),
        (NoteError::SignatureTooShort, "signature_too_short"),
        (NoteError::TooManySignatures, "too_many_signatures"),
        (NoteError::InvalidSignature, "invalid_signature"),
        (NoteError::KeyHashMismatch, "key_hash_mismatch"),
        (NoteError::NoSignatureFromKey, "no_signature_from_key"),
        (NoteError::TooFewLines, "too_few_lines"),
        (NoteError::BadOrigin, "bad_origin"),
        (NoteError::BadSize, "bad_size"),
        (NoteError::BadRootBase64, "bad_root_base64"),
        (NoteError::BadRootLength, "bad_root_length"),
        (NoteError::BadExtension, "bad_extension"),
        (NoteError::OriginMismatch, "origin_mismatch"),
    ];
    for (e, code) in all {
        assert_eq!(e.code(), code);
        assert!(e.to_string().starts_with(code));
    }
}

// ---------------------------------------------------------------- checkpoints

#[test]
fn checkpoint_body_format_is_exact() {
    let mut c = cp();
    let root_b64 = STANDARD.encode([0xab; 32]);
    assert_eq!(c.body(), format!("{ORIGIN}\n42\n{root_b64}\n"));
    c.extensions = vec!["ext one".into(), "— two".into()];
    assert_eq!(c.body(), format!("{ORIGIN}\n42\n{root_b64}\next one\n\u{2014} two\n"));
    assert_eq!(Checkpoint::parse_body(&c.body()).unwrap(), c);
}

#[test]
fn checkpoint_parses_the_c2sp_example_body() {
    let body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let c = Checkpoint::parse_body(body).unwrap();
    assert_eq!(c.origin, "example.com/behind-the-sofa");
    assert_eq!(c.size, 20852163);
    assert_eq!(c.body(), body);
}

#[test]
fn checkpoint_parse_rejections() {
    let r = STANDARD.encode([1u8; 32]);
    let cases: Vec<(String, NoteError)> = vec![
        (String::new(), NoteError::BodyNotNewlineTerminated),
        (format!("o\n1\n{r}"), NoteError::BodyNotNewlineTerminated),
        (format!("o\n1\n{r}\n\x01\n"), NoteError::ControlCharacter),
        ("o\n".into(), NoteError::TooFewLines),
        ("o\n1\n".into(), NoteError::TooFewLines),
        (format!("\n1\n{r}\n"), NoteError::BadOrigin),
        (format!("o\n\n{r}\n"), NoteError::BadSize),
        (format!("o\n01\n{r}\n"), NoteError::BadSize),
        (format!("o\n00\n{r}\n"), NoteError::BadSize),
        (format!("o\n+1\n{r}\n"), NoteError::BadSize),
        (format!("o\n-1\n{r}\n"), NoteError::BadSize),
        (format!("o\n 1\n{r}\n"), NoteError::BadSize),
        (format!("o\n1.0\n{r}\n"), NoteError::BadSize),
        (format!("o\n18446744073709551616\n{r}\n"), NoteError::BadSize),
        ("o\n1\n\n".into(), NoteError::BadRootLength),
        (format!("o\n1\n{}\n", &r[..43]), NoteError::BadRootBase64),
        (format!("o\n1\n{r}=\n"), NoteError::BadRootBase64),
        (format!("o\n1\n{}\n", r.trim_end_matches('=')), NoteError::BadRootBase64),
        (format!("o\n1\n {r}\n"), NoteError::BadRootBase64),
        (
            format!("o\n1\n{}\n", STANDARD.encode([1u8; 31])),
            NoteError::BadRootLength,
        ),
        (
            format!("o\n1\n{}\n", STANDARD.encode([1u8; 33])),
            NoteError::BadRootLength,
        ),
        (format!("o\n1\n{r}\n\n"), NoteError::BadExtension),
        (format!("o\n1\n{r}\na\n\nb\n"), NoteError::BadExtension),
        (format!("{}\n1\n{r}\n", "o".repeat(MAX_NOTE_LEN)), NoteError::TooLarge),
    ];
    for (text, want) in cases {
        assert_eq!(Checkpoint::parse_body(&text), Err(want), "{text:?}");
    }
    // Boundary sizes parse.
    assert_eq!(Checkpoint::parse_body(&format!("o\n0\n{r}\n")).unwrap().size, 0);
    assert_eq!(
        Checkpoint::parse_body(&format!("o\n18446744073709551615\n{r}\n"))
            .unwrap()
            .size,
        u64::MAX
    );
}

#[test]
fn checkpoint_validate_rejections() {
    let s = signer();
    let mut c = cp();
    c.origin = String::new();
    assert_eq!(sign_checkpoint(&s, &c), Err(NoteError::BadOrigin));
    c.origin = "a\nb".into();
    assert_eq!(sign_checkpoint(&s, &c), Err(NoteError::BadOrigin));
    c.origin = "a\u{1}".into();
    assert_eq!(c.validate(), Err(NoteError::BadOrigin));
    let mut c = cp();
    c.extensions = vec![String::new()];
    assert_eq!(c.validate(), Err(NoteError::BadExtension));
    c.extensions = vec!["x\ny".into()];
    assert_eq!(c.validate(), Err(NoteError::BadExtension));
    c.extensions = vec!["x".repeat(MAX_NOTE_LEN)];
    assert_eq!(c.validate(), Err(NoteError::TooLarge));
}

#[test]
fn checkpoint_sign_and_verify() {
    let s = signer();
    let mut c = cp();
    c.extensions.push("witnessed-by w1".into());
    let n = sign_checkpoint(&s, &c).unwrap();
    assert_eq!(verify_checkpoint(&s.verifier(), n.as_bytes()).unwrap(), c);
    assert_eq!(
        verify_checkpoint(&other_signer().verifier(), n.as_bytes()),
        Err(NoteError::NoSignatureFromKey)
    );
    // A validly signed note that is not a checkpoint.
    let n = sign_note(&s, "just text\n").unwrap();
    assert_eq!(
        verify_checkpoint(&s.verifier(), n.as_bytes()),
        Err(NoteError::TooFewLines)
    );
}
