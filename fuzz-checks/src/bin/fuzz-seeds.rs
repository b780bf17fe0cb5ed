//! Writes the seed corpora `fuzz/corpus/<target>/seed-*`: a few valid (and a few
//! nearly valid) inputs per target, built with the cores' own encoders so they stay in
//! step with the formats. Run from anywhere: `cargo run -p ledgerfs-fuzz-checks --bin
//! fuzz-seeds`. Existing seed files are replaced; other files (fuzzer finds) are kept.

use std::fs;
use std::path::{Path, PathBuf};

use ledgerfs_attest::{sign_checkpoint, Checkpoint, SignReply, SignRequest, SignerKey};
use ledgerfs_blockstore::BlockStore;
use ledgerfs_fuzz_checks::{note_key, RamDisk, TARGETS, VOLUME_BLOCK, VOLUME_BLOCKS};
use ledgerfs_journal::{encode_record, SegmentHeader};
use ledgerfs_model::entry::{AccountRecord, TransferRecord};
use ledgerfs_model::event::{AccountFlags, AccountKind, NewTransfer};
use ledgerfs_model::{Amount, Currency, Entry, EntryBody, Event, Phase};
use ledgerfs_proto::{
    encode_vec, CommitRequest, DurabilityNotice, LogFile, LogRead, ReplayReply, ReplayRequest, SequencerReply,
    SequencerRequest, SnapshotGet, SnapshotGot, SnapshotPiece, SnapshotPut, WireResult,
};
use ledgerfs_tiles::{bundle_push, TileLog, TilePath, TileStore};

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    fn put(&self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}

fn with_mode(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(bytes);
    out
}

fn entries() -> Vec<Entry> {
    let eur = Currency::from_code("EUR").unwrap();
    let jpy = Currency::from_code("JPY").unwrap();
    let kwd = Currency::from_code("KWD").unwrap();
    vec![
        Entry {
            index: 0,
            time: 1_795_000_000_000_000_000,
            body: EntryBody::Account(AccountRecord {
                id: "acc_1".into(),
                currency: eur,
                kind: AccountKind::Customer,
                flags: AccountFlags {
                    debits_must_not_exceed_credits: true,
                    credits_must_not_exceed_debits: false,
                    imported: false,
                },
                metadata: "{}".into(),
            }),
        },
        Entry {
            index: 1,
            time: 1_795_000_000_000_000_001,
            body: EntryBody::Transfer(TransferRecord {
                id: "tx_1".into(),
                debit: "acc_0".into(),
                credit: "acc_1".into(),
                amount: Amount(1050),
                currency: eur,
                reference: "inv \"7\"\n\u{e9}".into(),
                metadata: r#"{"doc":{"sha256":"ab"},"n":[1,-2,3]}"#.into(),
                linked: true,
                phase: Phase::Single,
                timeout: 0,
                balancing: ledgerfs_model::Balancing::default(),
                imported: false,
                firm_funds: false,
                closing: ledgerfs_model::Closing::default(),
            }),
        },
        Entry {
            index: u64::MAX,
            time: 0,
            body: EntryBody::Transfer(TransferRecord {
                id: "t".into(),
                debit: "a".into(),
                credit: "b".into(),
                amount: Amount(7),
                currency: jpy,
                reference: String::new(),
                metadata: "{}".into(),
                linked: false,
                phase: Phase::Pending,
                timeout: 0,
                balancing: ledgerfs_model::Balancing::default(),
                imported: false,
                firm_funds: true,
                closing: ledgerfs_model::Closing::default(),
            }),
        },
        Entry {
            index: 42,
            time: 1_000_000_000,
            body: EntryBody::Transfer(TransferRecord {
                id: "x".into(),
                debit: "a".into(),
                credit: "b".into(),
                amount: Amount(u128::from(u64::MAX)),
                currency: kwd,
                reference: "r".into(),
                metadata: r#"{"a":"\u0001"}"#.into(),
                linked: false,
                phase: Phase::Post { pending_id: "t".into() },
                timeout: 0,
                balancing: ledgerfs_model::Balancing::default(),
                imported: false,
                firm_funds: false,
                closing: ledgerfs_model::Closing::default(),
            }),
        },
    ]
}

fn checkpoints() -> Vec<Checkpoint> {
    vec![
        Checkpoint {
            origin: "fuzz.ledgerfs.example/log".into(),
            size: 0,
            root: ledgerfs_tiles::empty_root(),
            extensions: vec![],
        },
        Checkpoint {
            origin: "fuzz.ledgerfs.example/log".into(),
            size: 70_000,
            root: [0xab; 32],
            extensions: vec!["ext one".into(), "— not a signature".into()],
        },
    ]
}

/// A formatted volume with two commits (the second leaves a partial bundle and tile).
fn volume() -> Vec<u8> {
    let disk = RamDisk {
        bytes: vec![0u8; VOLUME_BLOCK * VOLUME_BLOCKS as usize],
    };
    let mut store = BlockStore::format(disk, [9; 16]).expect("format");
    let mut log = TileLog::new();
    let key = note_key();
    for (gen, n) in [(0u8, 3u64), (1, 5)] {
        for i in 0..n {
            log.append(format!("entry {gen} {i}").as_bytes()).unwrap();
        }
        let mut writes = Vec::new();
        let root = log.commit(&mut writes);
        let size = log.size();
        for w in &writes {
            store.put(&w.path, &w.bytes).expect("put");
        }
        store.sync().expect("sync");
        let cp = Checkpoint {
            origin: "fuzz.ledgerfs.example/log".into(),
            size,
            root,
            extensions: vec![],
        };
        store
            .swap_checkpoint(sign_checkpoint(&key, &cp).unwrap().as_bytes())
            .expect("checkpoint");
        log.mark_durable(size);
    }
    let mut bytes = store.into_device().bytes;
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let c = Corpus { root: root.clone() };
    let key = note_key();

    // request_json
    c.put(
        "request_json",
        "account",
        r#"{"id":"acc_1","currency":"EUR","kind":"customer","flags":["debits_must_not_exceed_credits"],"metadata":{"b":1,"a":"x"}}"#,
    );
    c.put(
        "request_json",
        "transfers",
        r#"[{"id":"tx_1","debit":"acc_0","credit":"acc_1","amount":"10.50","currency":"EUR","reference":"inv 7","linked":true},
 {"id":"tx_2","debit":"acc_1","credit":"acc_0","amount":"3","currency":"JPY","metadata":{"doc":{"sha256":"ab"}}}]"#,
    );
    c.put(
        "request_json",
        "bad-field",
        r#"[{"id":"t","debit":"a","credit":"b","amount":10.5,"currency":"EUR"}]"#,
    );
    c.put("request_json", "empty", "[]");

    // entry
    for (i, e) in entries().iter().enumerate() {
        c.put("entry", &format!("{i}"), e.encode());
    }

    // http_request: requests as clients send them (several on one connection, too).
    for (i, r) in [
        "GET /health HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /v1/transfers HTTP/1.1\r\nAuthorization: Bearer fuzz-admin\r\nContent-Length: 84\r\n\r\n[{\"id\":\"t1\",\"debit\":\"a\",\"credit\":\"b\",\"amount\":\"1.00\",\"currency\":\"EUR\"}]",
        "GET /v1/accounts/al%69ce HTTP/1.1\r\nAuthorization: Bearer fuzz-auditor\r\n\r\n{\"error\":{\"code\":\"not_found\"}}",
        "GET /log/tile/0/x001/002 HTTP/1.1\r\nAuthorization: Bearer fuzz-admin\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n",
        "HEAD /v1/checkpoint HTTP/1.1\r\nConnection: close\r\nAuthorization: Bearer fuzz-admin\r\n\r\n{\"checkpoint\":\"o\\n3\\nr\\n\"}",
    ]
    .iter()
    .enumerate()
    {
        c.put("http_request", &format!("{i}"), r.as_bytes());
    }

    // tile_path
    for (i, p) in [
        TilePath::hash(0, 1_234_067, 256),
        TilePath::hash(1, 1, 17),
        TilePath::entries(273, 112),
        TilePath::hash(63, u64::MAX, 255),
    ]
    .iter()
    .enumerate()
    {
        c.put("tile_path", &format!("{i}"), p.to_path());
    }
    let mut raw = 1_000_005u64.to_le_bytes().to_vec();
    raw.extend_from_slice(&[4, 0, 1, 2]);
    c.put("tile_path", "struct", raw);

    // bundle
    let mut b = Vec::new();
    for e in entries() {
        bundle_push(&mut b, e.encode().as_bytes()).unwrap();
    }
    c.put("bundle", "four", with_mode(3, &b));
    let mut full = Vec::new();
    for i in 0..256u32 {
        bundle_push(&mut full, &i.to_be_bytes()[..(i % 4) as usize]).unwrap();
    }
    c.put("bundle", "full", with_mode(200, &full));
    c.put("bundle", "truncated", with_mode(0, &b[..b.len() - 3]));

    // note
    for (i, cp) in checkpoints().iter().enumerate() {
        c.put("note", &format!("signed-{i}"), sign_checkpoint(&key, cp).unwrap());
    }
    let other = SignerKey::from_seed("other.example/key", [1; 32]).unwrap();
    let mut two = sign_checkpoint(&other, &checkpoints()[1]).unwrap();
    let ours = sign_checkpoint(&key, &checkpoints()[1]).unwrap();
    two.push_str(ours.rsplit_once("\n\n").unwrap().1);
    c.put("note", "two-signatures", two);
    c.put("note", "body", checkpoints()[1].body());

    // keys
    c.put("keys", "signer", key.encode());
    c.put("keys", "verifier", key.verifier().encode());
    c.put("keys", "ml_dsa_verifier", key.ml_dsa_verifier().encode());
    c.put(
        "keys",
        "both",
        format!("{}\n{}\n", key.encode(), other.verifier().encode()),
    );
    let mut seeded = vec![5u8; 32];
    seeded.extend_from_slice(b"example.com/log");
    c.put("keys", "seed-and-name", seeded);

    // proto
    let events = vec![Event::Transfer(NewTransfer {
        id: "t1".into(),
        debit: "a".into(),
        credit: "b".into(),
        amount: "10.50".into(),
        currency: "EUR".into(),
        reference: String::new(),
        metadata: "{}".into(),
        linked: true,
        flags: Vec::new(),
        pending_id: String::new(),
        timeout: 0,
        time: 0,
    })];
    let msgs: Vec<(u8, Vec<u8>)> = vec![
        (
            0,
            encode_vec(&SequencerRequest::Submit {
                request_id: 7,
                now: 1_795_000_000_000_000_000,
                events,
            })
            .unwrap(),
        ),
        (
            0,
            encode_vec(&SequencerRequest::LookupTransfer {
                request_id: 8,
                id: "t1".into(),
            })
            .unwrap(),
        ),
        (
            1,
            encode_vec(&SequencerReply::Results {
                request_id: 7,
                results: vec![
                    WireResult {
                        code: 0,
                        index: Some(3),
                        field: 0,
                        time: Some(1_796_000_000_000_000_000),
                    },
                    WireResult {
                        code: 5,
                        index: None,
                        field: 2,
                        time: None,
                    },
                ],
                size: 4,
            })
            .unwrap(),
        ),
        (
            1,
            encode_vec(&SequencerReply::Refused {
                request_id: 9,
                code: "storage_full".into(),
            })
            .unwrap(),
        ),
        (
            2,
            encode_vec(&DurabilityNotice::Failed {
                size: 10,
                epoch: 1,
                full: true,
            })
            .unwrap(),
        ),
        (
            3,
            encode_vec(&CommitRequest {
                epoch: 1,
                first_index: 10,
                entries: vec![b"one".to_vec(), Vec::new(), b"three".to_vec()],
            })
            .unwrap(),
        ),
        (4, encode_vec(&ReplayRequest { from: 300 }).unwrap()),
        (
            8,
            encode_vec(&SnapshotPiece {
                offset: 0,
                total: 5,
                bytes: b"LFSSN".to_vec(),
            })
            .unwrap(),
        ),
        (9, encode_vec(&SnapshotPut::Next { offset: 4096 }).unwrap()),
        (10, encode_vec(&SnapshotGet { offset: 4096 }).unwrap()),
        (
            11,
            encode_vec(&SnapshotGot::Piece {
                offset: 0,
                total: 3,
                bytes: b"abc".to_vec(),
            })
            .unwrap(),
        ),
        (
            5,
            encode_vec(&ReplayReply::Entries {
                first_index: 0,
                size: 2,
                root: [3; 32],
                entries: vec![b"a".to_vec(), b"b".to_vec()],
            })
            .unwrap(),
        ),
        (
            6,
            encode_vec(&SignRequest {
                size: 10,
                root: [1; 32],
            })
            .unwrap(),
        ),
        (
            7,
            encode_vec(&SignReply::Signed {
                note: sign_checkpoint(&key, &checkpoints()[0]).unwrap(),
            })
            .unwrap(),
        ),
        (
            12,
            encode_vec(&LogRead {
                path: "tile/0/x001/002".into(),
            })
            .unwrap(),
        ),
        (13, encode_vec(&LogFile::Found(b"entry bundle".to_vec())).unwrap()),
    ];
    for (i, (which, bytes)) in msgs.iter().enumerate() {
        c.put("proto", &format!("{i}"), with_mode(*which, bytes));
    }

    // blkring: descriptor (32 bytes), device blocks, window length, chunking inputs
    let desc = |op: u32, count: u32, block: u64, offset: u64, dev: u64, window: u64| {
        let mut v = Vec::new();
        v.extend_from_slice(&op.to_le_bytes());
        v.extend_from_slice(&1i32.to_le_bytes());
        v.extend_from_slice(&5u32.to_le_bytes());
        v.extend_from_slice(&count.to_le_bytes());
        v.extend_from_slice(&block.to_le_bytes());
        v.extend_from_slice(&offset.to_le_bytes());
        v.extend_from_slice(&dev.to_le_bytes());
        v.extend_from_slice(&window.to_le_bytes());
        v.extend_from_slice(&300u32.to_le_bytes());
        v.extend_from_slice(&(256u32 * 1024).to_le_bytes());
        v
    };
    c.put("blkring", "read", desc(0, 8, 100, 4096, 65_536, 1 << 20));
    c.put("blkring", "write-edge", desc(1, 256, 65_280, 0, 65_536, 1 << 20));
    c.put("blkring", "flush", desc(2, 0, 0, 0, 65_536, 1 << 20));
    c.put(
        "blkring",
        "huge-device",
        desc(0, 1, u64::MAX / 4096, 0, u64::MAX, 1 << 20),
    );

    // blockstore
    let vol = volume();
    c.put("blockstore", "volume", with_mode(0, &vol));
    c.put("blockstore", "volume-resealed", with_mode(1, &vol));

    // journal: header then two records
    let mut seg = SegmentHeader { seq: 3 }.encode().to_vec();
    let note = sign_checkpoint(&key, &checkpoints()[0]).unwrap();
    encode_record(0, [&b"e0"[..], &b"e1"[..]].into_iter(), note.as_bytes(), &mut seg);
    encode_record(2, [&b"e2"[..]].into_iter(), b"note", &mut seg);
    c.put("journal", "segment", with_mode(0, &seg));
    c.put("journal", "segment-resealed", with_mode(1 | (1 << 1), &seg));

    // hosted_config
    c.put(
        "hosted_config",
        "init",
        "# LedgerFS configuration.\norigin = \"ledgerfs.example/log\"\nlisten = \"127.0.0.1:8080\"\n\
         max_accounts = 1000000\nmax_transfers = 100000000\nreserve_transfers = 1000000\njournal_segment_kib = 65536\n",
    );
    c.put(
        "hosted_config",
        "tokens",
        "origin = \"o\"\n\n[[tokens]]\nname = \"alice\"\nsha256 = \"2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90\"\n\
         role = \"customer\"\naccounts = [\"acc_1\", \"acc_2\"]\nuids = [1000]\n\n[[tokens]]\nname = \"root\"\n\
         sha256 = \"00\"\nrole = \"admin\"\n",
    );

    // witness: add-checkpoint bodies, a first submission and a stale one.
    let log = SignerKey::from_seed("fuzz.example/log", [1; 32]).unwrap();
    let first = sign_checkpoint(
        &log,
        &Checkpoint {
            origin: "fuzz.example/log".into(),
            size: 3,
            root: [0; 32],
            extensions: Vec::new(),
        },
    )
    .unwrap();
    for (name, old) in [
        ("first", "old 0\n\n"),
        ("stale", "old 2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"),
        ("same", "old 3\n\n"),
    ] {
        for pad in ["", " "] {
            c.put("witness", &format!("{name}{}", pad.len()), format!("{old}{first}{pad}"));
        }
    }

    // policy: the spec's example shape, with real keys.
    let w = |i: u8| {
        ledgerfs_attest::CosignerKey::from_seed(&format!("w.example/{i}"), [i; 32])
            .unwrap()
            .verifier()
            .encode()
    };
    c.put(
        "policy",
        "groups",
        format!(
            "# two organisations\nlog {} https://log.example/\nwitness X1 {}\nwitness X2 {}\n\twitness Y1 {} http://y1/\n\
             group X 2 X1 X2\ngroup XY all X Y1\nquorum XY\n",
            log.verifier().encode(),
            w(1),
            w(2),
            w(3)
        ),
    );
    c.put("policy", "none", "quorum none\n");

    // tlog_proof: the spec's shape, with and without extra, under a real signed note.
    let entries: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 5]).collect();
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| ledgerfs_tiles::leaf_hash(e)).collect();
    let left = ledgerfs_tiles::node_hash(&leaves[0], &leaves[1]);
    let proof_note = ledgerfs_attest::sign_checkpoint(
        &log,
        &ledgerfs_attest::Checkpoint {
            origin: log.name().to_string(),
            size: 3,
            root: ledgerfs_tiles::node_hash(&left, &leaves[2]),
            extensions: Vec::new(),
        },
    )
    .unwrap();
    let receipt = ledgerfs_witness::TlogProof {
        extra: Some(entries[2].clone()),
        index: 2,
        hashes: vec![left],
        checkpoint: proof_note,
    };
    c.put("tlog_proof", "with_extra", receipt.encode());
    c.put(
        "tlog_proof",
        "without_extra",
        ledgerfs_witness::TlogProof { extra: None, ..receipt }.encode(),
    );

    // balance_membership: a real proof from a three-account commitment, and one whose
    // record was changed.
    {
        use ledgerfs_sequencer::commitment::MembershipProof;
        let mut seq = ledgerfs_sequencer::Sequencer::new(ledgerfs_sequencer::Limits::default());
        let events: Vec<ledgerfs_model::Event> = ["acc_a", "acc_b", "acc_c"]
            .iter()
            .map(|id| {
                ledgerfs_model::Event::Account(ledgerfs_model::NewAccount {
                    id: id.to_string(),
                    currency: "EUR".into(),
                    kind: "customer".into(),
                    flags: Vec::new(),
                    metadata: "{}".into(),
                    linked: false,
                    time: 0,
                })
            })
            .collect();
        let (mut results, mut entries) = (Vec::new(), ledgerfs_sequencer::EntryBuffer::new());
        seq.execute(&events, 1_000, &mut results, &mut entries);
        let (root, size, proof) = seq.prove_balance("acc_b");
        let MembershipProof::Present(p) = proof else {
            panic!("acc_b was opened")
        };
        let present = MembershipProof::Present(p.clone());
        assert!(ledgerfs_sequencer::commitment::verify_membership("acc_b", &present, size, &root).is_ok());
        let hex = |h: &[u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let text = |record: &str| {
            let mut t = format!("acc_b\n{record}\n{}\n{size}\n", p.position);
            for h in p.path.iter().chain([&root]) {
                t.push_str(&hex(h));
                t.push('\n');
            }
            t
        };
        c.put("balance_membership", "present", text(&p.record));
        // balance_proof: real files (present and absent) against a logged commitment,
        // carried in a tlog-proof's extra; and the commitment entry for the entry target.
        let mut logged = seq.clone();
        let at = logged.commit_now(2_000, &mut entries);
        let commitment = entries.get(entries.len() - 1).to_vec();
        c.put("entry", "balance_commitment", commitment.clone());
        for (name, id) in [("present", "acc_b"), ("absent", "acc_bb")] {
            let proved = logged.prove_committed(id).expect("a fresh commitment proves every id");
            let receipt = ledgerfs_witness::TlogProof {
                extra: Some(commitment.clone()),
                index: at,
                hashes: Vec::new(),
                checkpoint: "e2e.test/log\n4\nAAAA\n".into(),
            };
            let file = ledgerfs_sequencer::BalanceProofFile::new(id, &proved.proof, receipt.encode());
            assert!(file.check(at, &commitment).is_ok());
            c.put("balance_proof", name, file.encode());
        }
        c.put(
            "balance_membership",
            "tampered",
            text(&p.record.replace("0.00", "9.00")),
        );
    }

    // statement: the reconciliation tests' real camt.053 and CSV files.
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/statements");
    for name in ["matched.xml", "missing_line.xml", "wrong_balance.xml", "corrected.csv"] {
        let bytes = std::fs::read(fixtures.join(name)).expect("statement fixture");
        c.put("statement", name.split('.').next().unwrap_or(name), bytes);
    }

    for (name, _) in TARGETS {
        assert!(root.join(name).is_dir(), "no seeds written for {name}");
    }
    println!("seed corpora written under {}", root.display());
}
