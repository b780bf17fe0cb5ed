//! `ledgerfs image export` end to end: a disk image is built on the host with the very
//! cores the appliance runs (the blockstore over a disk file, the tiles core's
//! `LogWriter`, entries from the sequencer core, checkpoints signed by an attest core
//! `Attestor` with a key from `ledgerfs init`), then the real binary exports it and
//! `ledgerfs verify --dir` must accept the result. Damaged disks, a wrong key and a
//! non-empty output directory are refused with clear messages, and export never changes
//! a byte of the disk.

mod support;

use std::path::{Path, PathBuf};

use ledgerfs_attest::{Attestor, SignReply, SignRequest};
use ledgerfs_blockstore::BlockStore;
use ledgerfs_hosted::appliance::diskfile::{DiskFile, BLOCK_SIZE};
use ledgerfs_hosted::storage::ledger::read_signer_key;
use ledgerfs_model::request::{parse_accounts, parse_transfers};
use ledgerfs_sequencer::{EntryBuffer, Limits, Sequencer};
use ledgerfs_tiles::{empty_root, LogWriter, SignedHead, TileLog, TileStore};
use support::*;

/// 2026-11-21T10:00:00Z, the appliance's fixed clock.
const NOW: u64 = 1_795_255_200_000_000_000;
/// Entries the built disk holds: 3 accounts, 1 funding transfer, 4 × 100 + 7 transfers.
const SIZE: u64 = 411;

/// A disk built like the appliance's: returns (disk image, data dir with log.vkey, the
/// last signed note).
fn build_disk(dir: &Path) -> (PathBuf, PathBuf, String) {
    let data = dir.join("data");
    init(&data); // origin e2e.test/log
    let mut attestor = Attestor::new(read_signer_key(&data).unwrap(), "e2e.test/log".into());
    let mut sign = move |size, root| match attestor.handle(&SignRequest { size, root }) {
        SignReply::Signed { note } => Ok(note),
        refused => Err(format!("{refused:?}")),
    };
    let path = dir.join("disk.img");
    // 16 MiB, sparse: the records of this log need a few hundred KiB.
    let disk = DiskFile::create(&path, 4096).unwrap();
    let mut store = BlockStore::format(disk, *b"e2e-image-volume").unwrap();
    // As the tiles PD does at boot: the empty tree gets a signed checkpoint too.
    let note = sign(0, empty_root()).unwrap();
    store.swap_checkpoint(note.as_bytes()).unwrap();
    let head = SignedHead {
        size: 0,
        root: empty_root(),
        note,
    };
    let mut writer = LogWriter::new(TileLog::new(), store, head);
    let mut seq = Sequencer::new(Limits {
        max_accounts: 100,
        max_transfers: 10_000,
        reserve_transfers: 0,
    });
    let mut batches = vec![
        (
            true,
            r#"[{"id":"safeguarding","currency":"EUR","kind":"safeguarding"},
                   {"id":"alice","currency":"EUR","flags":["debits_must_not_exceed_credits"]},
                   {"id":"bob","currency":"EUR","flags":["debits_must_not_exceed_credits"]}]"#
                .to_string(),
        ),
        (
            false,
            r#"{"id":"fund","debit":"safeguarding","credit":"alice","amount":"10000.00","currency":"EUR"}"#.to_string(),
        ),
    ];
    for (batch, count) in [(0, 100), (1, 100), (2, 100), (3, 100), (4, 7)] {
        let transfers: Vec<String> = (0..count)
            .map(|i| {
                let (debit, credit) = if i % 3 == 2 { ("bob", "alice") } else { ("alice", "bob") };
                format!(
                    r#"{{"id":"t{batch}-{i}","debit":"{debit}","credit":"{credit}","amount":"1.25","currency":"EUR","reference":"batch {batch}"}}"#
                )
            })
            .collect();
        batches.push((false, format!("[{}]", transfers.join(","))));
    }
    let (mut entries, mut results) = (EntryBuffer::new(), Vec::new());
    for (accounts, body) in &batches {
        let events = if *accounts {
            parse_accounts(body.as_bytes())
        } else {
            parse_transfers(body.as_bytes())
        }
        .unwrap();
        entries.clear();
        results.clear();
        seq.execute(&events, NOW, &mut results, &mut entries);
        assert!(results.iter().all(|r| r.code.is_success()), "{results:?}");
        writer.commit(entries.iter(), &mut sign).unwrap();
        seq.mark_durable(writer.head().size);
    }
    assert_eq!(writer.head().size, SIZE);
    let note = writer.head().note.clone();
    drop(writer); // the disk file closes; every commit was flushed
    (path, data, note)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// First block of the record holding the full entry bundle 0 (`tile/entries/000`).
fn full_bundle_zero(disk: &[u8]) -> usize {
    (0..disk.len() / BLOCK_SIZE)
        .map(|b| b * BLOCK_SIZE)
        .find(|&at| {
            let h = &disk[at..at + 24];
            &h[..8] == b"LFSBREC1"
                && h[8] == 1 // tile
                && h[9] == 1 // entry bundle
                && u16::from_le_bytes([h[12], h[13]]) == 256
                && u64::from_le_bytes(h[16..24].try_into().unwrap()) == 0
        })
        .expect("the disk holds the full bundle 0")
}

#[test]
fn an_exported_disk_verifies_and_export_never_writes_the_disk() {
    let dir = temp_dir("image");
    let (disk, data, note) = build_disk(&dir);
    let before = std::fs::read(&disk).unwrap();
    let out = dir.join("out");
    let vkey = data.join("log.vkey");

    let (ok, stdout, stderr) = run(&["image", "export", s(&disk), "--out", s(&out), "--vkey", s(&vkey)]);
    assert!(ok, "export failed: {stderr}");
    assert!(stdout.contains(&format!("{SIZE} entries")), "{stdout}");
    assert!(stdout.contains(&format!("checkpoint size {SIZE}")), "{stdout}");
    assert!(stdout.contains("origin e2e.test/log"), "{stdout}");
    assert_eq!(std::fs::read(&disk).unwrap(), before, "export changed the disk");
    assert_eq!(std::fs::read_to_string(out.join("checkpoint")).unwrap(), note);
    assert_eq!(
        std::fs::read_to_string(out.join("log.vkey")).unwrap(),
        std::fs::read_to_string(&vkey).unwrap()
    );
    for file in [
        "tile/0/000",
        "tile/entries/000",
        "tile/entries/001.p/155",
        "tile/1/000.p/1",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }

    // `verify --dir` finds the key the export wrote.
    let (ok, stdout, stderr) = run(&["verify", "--dir", s(&out)]);
    assert!(ok, "verify failed: {stderr}");
    assert!(stdout.contains(&format!("verified: size {SIZE}")), "{stdout}");
    assert!(stdout.contains("3 accounts"), "{stdout}");

    // Without --vkey: the tiles alone; verify then needs the key given.
    let bare = dir.join("bare");
    let (ok, stdout, stderr) = run(&["image", "export", s(&disk), "--out", s(&bare)]);
    assert!(ok, "export failed: {stderr}");
    assert!(stdout.contains("--vkey"), "the summary says how to verify: {stdout}");
    assert!(!bare.join("log.vkey").exists());
    let (ok, _, stderr) = run(&["verify", "--dir", s(&bare)]);
    assert!(!ok && stderr.contains("--vkey"), "{stderr}");
    let key = std::fs::read_to_string(&vkey).unwrap();
    let (ok, _, stderr) = run(&["verify", "--dir", s(&bare), "--vkey", key.trim()]);
    assert!(ok, "verify failed: {stderr}");

    // The key string works for --vkey too, and an empty existing directory is fine.
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (ok, _, stderr) = run(&["image", "export", s(&disk), "--out", s(&empty), "--vkey", key.trim()]);
    assert!(ok, "export into an empty directory failed: {stderr}");
    assert!(empty.join("log.vkey").is_file());

    // A non-empty --out is refused and left alone.
    let (ok, _, stderr) = run(&["image", "export", s(&disk), "--out", s(&out), "--vkey", s(&vkey)]);
    assert!(!ok, "export into a non-empty directory succeeded");
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert_eq!(std::fs::read_to_string(out.join("checkpoint")).unwrap(), note);

    // A key that did not sign the disk's checkpoint is refused before anything is written.
    let other = dir.join("other");
    init(&other);
    let wrong = dir.join("wrong");
    let (ok, _, stderr) = run(&[
        "image",
        "export",
        s(&disk),
        "--out",
        s(&wrong),
        "--vkey",
        s(&other.join("log.vkey")),
    ]);
    assert!(!ok && stderr.contains("does not verify"), "{stderr}");
    assert!(!wrong.exists(), "a refused export left {}", wrong.display());
}

#[test]
fn damaged_or_foreign_disks_are_refused_with_the_block_named() {
    let dir = temp_dir("image-corrupt");
    let (disk, _, _) = build_disk(&dir);
    let bytes = std::fs::read(&disk).unwrap();
    let at = full_bundle_zero(&bytes);
    let block = at / BLOCK_SIZE;

    // One flipped byte in the payload of a committed record: export reads and checks
    // every record, so it is refused, and nothing (above all no checkpoint) is left.
    let payload = dir.join("payload.img");
    let mut damaged = bytes.clone();
    damaged[at + ledgerfs_blockstore::RECORD_HEADER_LEN + 100] ^= 0x20;
    std::fs::write(&payload, &damaged).unwrap();
    let out = dir.join("out-payload");
    let (ok, stdout, stderr) = run(&["image", "export", s(&payload), "--out", s(&out)]);
    assert!(!ok, "a damaged disk was exported: {stdout}");
    assert!(stderr.contains("error[store_corrupt]"), "{stderr}");
    assert!(
        stderr.contains(&format!("block {block}: record payload fails its checksum")),
        "{stderr}"
    );
    assert!(stderr.contains(s(&payload)), "the message names the disk: {stderr}");
    assert!(!out.exists(), "a refused export left {}", out.display());

    // One flipped byte in a committed record's header: `open` refuses the volume.
    let header = dir.join("header.img");
    let mut damaged = bytes.clone();
    damaged[at + 16] ^= 0x01; // the tile index
    std::fs::write(&header, &damaged).unwrap();
    let (ok, _, stderr) = run(&["image", "export", s(&header), "--out", s(&dir.join("out-header"))]);
    assert!(!ok);
    assert!(
        stderr.contains("error[store_corrupt]") && stderr.contains(&format!("block {block}")),
        "{stderr}"
    );

    // A disk that was never formatted.
    let blank = dir.join("blank.img");
    std::fs::write(&blank, vec![0u8; 64 * BLOCK_SIZE]).unwrap();
    let (ok, _, stderr) = run(&["image", "export", s(&blank), "--out", s(&dir.join("out-blank"))]);
    assert!(!ok && stderr.contains("not a LedgerFS volume"), "{stderr}");

    // A disk that does not exist.
    let (ok, _, stderr) = run(&[
        "image",
        "export",
        s(&dir.join("missing.img")),
        "--out",
        s(&dir.join("out-missing")),
    ]);
    assert!(!ok && stderr.contains("missing.img"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
