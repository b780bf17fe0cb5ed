//! One check function per decoder and parser of LedgerFS, shared by the cargo-fuzz
//! targets in `fuzz/fuzz_targets/` (thin wrappers, nightly) and by the corpus replay
//! test of this crate (`tests/corpus.rs`, stable, part of `cargo test --workspace`).
//!
//! Every check takes arbitrary bytes and panics only when a decoder breaks one of its
//! promises: it panicked itself, it accepted something it would not produce (decode
//! then re-encode is not byte-identical), or it refuses (or changes) what its own
//! encoder produced (decode(encode(x)) != x).
//!
//! The block store and journal formats are checksummed, which a fuzzer cannot guess:
//! their checks first "re-seal" the input (recompute the checksums the format
//! documents) when the input's first byte is odd, so mutations reach the field
//! decoders behind the checksums; an even first byte feeds the bytes as they are.

use ledgerfs_attest::{
    parse_checkpoint_unverified, sign_checkpoint, verify_checkpoint, Checkpoint, SignReply, SignRequest, SignerKey,
    VerifierKey,
};
use ledgerfs_blkring::{chunks, validate, BlkRequest, Checked, BLOCK_SIZE, MAX_REQUEST_BYTES};
use ledgerfs_blockstore::{export, BlockDevice, BlockStore, DeviceError, Limits};
use ledgerfs_journal::{encode_record, RecordReader, Recovery, SegmentHeader, RECORD_HEADER_LEN};
use ledgerfs_model::entry::{AccountRecord, TransferRecord};
use ledgerfs_model::event::{AccountFlags, AccountKind};
use ledgerfs_model::json::canonical_metadata;
use ledgerfs_model::request::{parse_accounts, parse_transfers};
use ledgerfs_model::{Amount, Currency, Entry, EntryBody, Event};
use ledgerfs_proto::{
    decode, encode_vec, CommitRequest, DurabilityNotice, LogFile, LogRead, ReplayReply, ReplayRequest, SequencerReply,
    SequencerRequest, SnapshotGet, SnapshotGot, SnapshotPiece, SnapshotPut,
};
use ledgerfs_tiles::{bundle_push, read_entries, verify_tree, BundleIter, MemStore, TilePath, TileReader};
use sha2::{Digest, Sha256};

/// A check: feed it any bytes; it panics on a broken promise.
pub type Check = fn(&[u8]);

/// Every target: its name (the fuzz target and the `fuzz/corpus/<name>` directory) and
/// its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("request_json", request_json),
    ("entry", entry),
    ("tile_path", tile_path),
    ("bundle", bundle),
    ("note", note),
    ("keys", keys),
    ("proto", proto),
    ("blkring", blkring),
    ("blockstore", blockstore),
    ("journal", journal),
    ("http_request", http_request),
    ("witness", witness),
    ("policy", policy),
    ("tlog_proof", tlog_proof),
    ("balance_membership", balance_membership),
    ("balance_proof", balance_proof),
    #[cfg(feature = "hosted")]
    ("hosted_config", hosted_config),
    #[cfg(feature = "hosted")]
    ("statement", statement),
];

// ---------------------------------------------------------------------------------
// Request JSON (ledgerfs_model::request)

/// `parse_accounts` / `parse_transfers`: never panic; every event they return whose
/// metadata the sequencer accepts becomes an entry that decodes back to itself.
pub fn request_json(data: &[u8]) {
    for events in [parse_accounts(data), parse_transfers(data)].into_iter().flatten() {
        assert!(!events.is_empty(), "a parsed batch is never empty");
        for (i, event) in events.iter().enumerate() {
            let Ok(metadata) = canonical_metadata(match event {
                Event::Account(a) => &a.metadata,
                Event::Transfer(t) => &t.metadata,
            })
            .map(|m| m.into_owned()) else {
                continue;
            };
            assert_eq!(
                canonical_metadata(&metadata).as_deref(),
                Ok(metadata.as_str()),
                "canonical metadata is a fixed point"
            );
            let body = match event {
                Event::Account(a) => {
                    let (Some(currency), Some(kind), Ok(flags)) = (
                        Currency::from_code(&a.currency),
                        AccountKind::parse(&a.kind),
                        AccountFlags::parse(&a.flags),
                    ) else {
                        continue;
                    };
                    EntryBody::Account(AccountRecord {
                        id: a.id.clone(),
                        currency,
                        kind,
                        flags,
                        metadata,
                    })
                }
                Event::Transfer(t) => {
                    let Some(currency) = Currency::from_code(&t.currency) else {
                        continue;
                    };
                    let Ok(amount) = Amount::parse(&t.amount, currency) else {
                        continue;
                    };
                    let Ok(parsed) = ledgerfs_model::parse_transfer_flags(&t.flags, &t.pending_id) else {
                        continue;
                    };
                    let (phase, balancing) = (parsed.phase, parsed.balancing);
                    EntryBody::Transfer(TransferRecord {
                        phase: phase.to_owned(),
                        timeout: if phase == ledgerfs_model::Phase::Pending {
                            t.timeout
                        } else {
                            0
                        },
                        balancing,
                        id: t.id.clone(),
                        debit: t.debit.clone(),
                        credit: t.credit.clone(),
                        amount,
                        currency,
                        reference: t.reference.clone(),
                        metadata,
                        linked: t.linked,
                        imported: parsed.imported,
                        firm_funds: parsed.firm_funds,
                        closing: ledgerfs_model::Closing::default(),
                    })
                }
            };
            let entry = Entry {
                index: i as u64,
                time: 1_795_000_000_000_000_000 + i as u64,
                body,
            };
            let text = entry.encode();
            if text.len() <= ledgerfs_model::limits::MAX_ENTRY_LEN {
                assert_eq!(
                    Entry::decode(text.as_bytes()),
                    Ok(entry),
                    "entry from a request: {text}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Log entries (ledgerfs_model::entry)

/// `Entry::decode`: never panics; what it accepts re-encodes to the same bytes and
/// decodes again to the same entry.
pub fn entry(data: &[u8]) {
    if let Ok(e) = Entry::decode(data) {
        let text = e.encode();
        assert_eq!(text.as_bytes(), data, "decode accepted a non-canonical entry");
        assert_eq!(Entry::decode(text.as_bytes()), Ok(e));
    }
}

// ---------------------------------------------------------------------------------
// Tile paths (ledgerfs_tiles::TilePath)

/// The appliance's HTTP core on a connection's bytes: framing (`ledgerfs_http::request::parse`)
/// never panics and never claims more bytes than it was given or a body over the limit;
/// every framed request routes (tokens checked against a table) and every route's reply
/// shape, fed the rest of the bytes as the sequencer's reply under each tag, becomes a
/// response whose wire form states its own length.
pub fn http_request(data: &[u8]) {
    use ledgerfs_http::request::{parse, Parsed};
    use ledgerfs_http::route::{respond, route, Route};
    let limits = ledgerfs_http::Limits {
        max_head: 1024,
        max_body: 4096,
    };
    let tokens = ledgerfs_http::Tokens::parse(&format!(
        "{} admin\n{} auditor\n",
        ledgerfs_http::auth::token_digest_hex("fuzz-admin"),
        ledgerfs_http::auth::token_digest_hex("fuzz-auditor")
    ))
    .expect("a valid table");
    let mut rest = data;
    for _ in 0..4 {
        match parse(rest, &limits) {
            Parsed::Partial => return,
            Parsed::Invalid(r) => {
                assert!((400..500).contains(&r.status), "framing refusals are client errors");
                return;
            }
            Parsed::Complete { request, consumed } => {
                assert!(consumed > 0 && consumed <= rest.len() && request.body.len() <= limits.max_body);
                rest = &rest[consumed..];
                let response = match route(&request, &tokens) {
                    Route::Respond(r) => r,
                    Route::Command { line, reply } => {
                        assert!(!line.contains(&b'\n'), "a command is one line");
                        let tag = rest.first().map_or(0, |b| u32::from(b % 4));
                        respond(reply, tag, rest, "")
                    }
                };
                let wire = response.encode(request.keep_alive, request.head_only);
                let head = format!("Content-Length: {}\r\n", response.body.len());
                assert!(wire.windows(head.len()).any(|w| w == head.as_bytes()));
            }
        }
    }
}

/// `TilePath::parse`: never panics; accepts only what `to_path` produces; and every
/// valid path (built from the first 12 bytes) parses back from its text.
pub fn tile_path(data: &[u8]) {
    if let Ok(s) = core::str::from_utf8(data) {
        if let Some(p) = TilePath::parse(s) {
            assert_eq!(p.to_path(), s, "parse accepted a non-canonical path");
        }
    }
    if data.len() >= 12 {
        let index = u64::from_le_bytes(data[..8].try_into().unwrap());
        let width = u16::from_le_bytes([data[8], data[9]]) % 256 + 1;
        let p = if data[10] & 1 == 0 {
            TilePath::hash(data[11] % 64, index, width)
        } else {
            TilePath::entries(index, width)
        };
        assert_eq!(TilePath::parse(&p.to_path()), Some(p));
    }
}

// ---------------------------------------------------------------------------------
// Entry bundles (ledgerfs_tiles::BundleIter, read_entries over a stored bundle)

/// `BundleIter`: never panics; a well-formed bundle re-encodes byte-identically. Then the
/// bytes, stored as bundle 0 (as a partial of their own width, or as a full bundle that
/// stands in for a smaller partial), are read back with `read_entries` (the crate's
/// `read_bundle` rule): what it returns is exactly the leading entries.
pub fn bundle(data: &[u8]) {
    let Some((&want, bytes)) = data.split_first() else {
        return;
    };
    let items: Vec<_> = BundleIter::new(bytes).collect();
    let well_formed = items.iter().all(Result::is_ok);
    let entries: Vec<&[u8]> = items.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
    if well_formed {
        let mut again = Vec::new();
        for e in &entries {
            bundle_push(&mut again, e).expect("a decoded entry fits a bundle");
        }
        assert_eq!(again, bytes, "bundle re-encoding differs");
    } else {
        assert_eq!(
            items.iter().filter(|r| r.is_err()).count(),
            1,
            "truncation is reported once"
        );
        assert!(items.last().unwrap().is_err(), "truncation ends the iteration");
    }

    // Stored under its own width when that is a valid width, else as a full bundle.
    let count = entries.len();
    let stored_width = if well_formed && (1..=256).contains(&count) {
        count as u16
    } else {
        256
    };
    let size = u64::from(want) % 256 + 1; // the tree size the reader believes in
    let mut store = MemStore::new();
    store.insert(TilePath::entries(0, stored_width), bytes.to_vec());
    let from = u64::from(want / 7) % size;
    if let Ok(got) = read_entries(&store, size, from, usize::MAX) {
        assert!(well_formed, "read_entries returned entries of a malformed bundle");
        assert_eq!(got.len() as u64, size - from, "read_entries returned the wrong number");
        for (g, e) in got.iter().zip(&entries[from as usize..]) {
            assert_eq!(g, e);
        }
    }
    // The stored files also go through the tree verifier (hash tiles of arbitrary bytes).
    let mut tiles = MemStore::new();
    tiles.insert(TilePath::hash(0, 0, stored_width), bytes.to_vec());
    tiles.insert(TilePath::entries(0, stored_width), bytes.to_vec());
    let root: [u8; 32] = Sha256::digest(bytes).into();
    let _ = verify_tree(&tiles, size, &root, &[size / 2], &mut |_| {});
    let _ = tiles.read(&TilePath::hash(0, 0, 256));
}

// ---------------------------------------------------------------------------------
// Signed notes and keys (ledgerfs_attest)

/// Name and seed of the key the note corpus is signed with.
pub const NOTE_KEY_NAME: &str = "fuzz.ledgerfs.example/log";
/// Seed of [`NOTE_KEY_NAME`] (a test key, public on purpose).
pub const NOTE_KEY_SEED: [u8; 32] = [7; 32];

/// The signer of the note corpus.
pub fn note_key() -> SignerKey {
    SignerKey::from_seed(NOTE_KEY_NAME, NOTE_KEY_SEED).expect("valid test key")
}

/// Checkpoint notes: `parse_checkpoint_unverified`, `verify_checkpoint` and
/// `Checkpoint::parse_body` never panic; a parsed body re-encodes byte-identically; a
/// verified note parses to the same checkpoint unverified; a valid checkpoint signs and
/// verifies back to itself.
pub fn note(data: &[u8]) {
    let key = note_key();
    let verifier = key.verifier();
    let unverified = parse_checkpoint_unverified(data);
    if let Ok(cp) = &unverified {
        let text = core::str::from_utf8(data).unwrap();
        let body_end = text.rfind("\n\n").unwrap() + 1;
        assert_eq!(cp.body(), text[..body_end], "checkpoint body re-encoding differs");
    }
    if let Ok(cp) = verify_checkpoint(&verifier, data) {
        assert_eq!(Ok(&cp), unverified.as_ref(), "verified and unverified parses differ");
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(cp) = Checkpoint::parse_body(text) {
            assert_eq!(cp.body(), text, "parse_body accepted a non-canonical body");
            check_signs_back(&key, &cp);
        }
    }
    if let Ok(cp) = unverified {
        check_signs_back(&key, &cp);
    }
}

fn check_signs_back(key: &SignerKey, cp: &Checkpoint) {
    if cp.validate().is_ok() {
        let signed = sign_checkpoint(key, cp).expect("a valid checkpoint signs");
        assert_eq!(verify_checkpoint(&key.verifier(), signed.as_bytes()).as_ref(), Ok(cp));
        assert_eq!(parse_checkpoint_unverified(signed.as_bytes()).as_ref(), Ok(cp));
    }
}

/// `VerifierKey::parse` and `SignerKey::parse`: never panic; what they accept
/// re-encodes byte-identically; a key built from the input (name, seed) encodes to
/// strings both parsers read back.
pub fn keys(data: &[u8]) {
    if let Ok(text) = core::str::from_utf8(data) {
        for line in text.lines().chain([text]) {
            if let Ok(k) = VerifierKey::parse(line) {
                assert_eq!(k.encode(), line, "verifier key re-encoding differs");
            }
            if let Ok(k) = ledgerfs_attest::CosignatureVerifier::parse(line) {
                assert_eq!(k.encode(), line, "cosignature verifier key re-encoding differs");
            }
            if let Ok(k) = ledgerfs_attest::CosignerKey::parse(line) {
                assert_eq!(k.encode(), line, "cosigner key re-encoding differs");
            }
            if let Ok(k) = SignerKey::parse(line) {
                assert_eq!(k.encode(), line, "signer key re-encoding differs");
                let v = k.verifier();
                assert_eq!(VerifierKey::parse(&v.encode()).as_ref(), Ok(&v));
            }
        }
    }
    if data.len() >= 32 {
        let seed: [u8; 32] = data[..32].try_into().unwrap();
        let name = String::from_utf8_lossy(&data[32..]);
        if let Ok(k) = SignerKey::from_seed(&name, seed) {
            let again = SignerKey::parse(&k.encode()).expect("an encoded signer key parses");
            assert_eq!(again.encode(), k.encode());
            let v = k.verifier();
            assert_eq!(VerifierKey::parse(&v.encode()).as_ref(), Ok(&v));
            if let Some(public) = v.public_key() {
                assert_eq!(VerifierKey::from_public_key(&name, public).as_ref(), Ok(&v));
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Postcard ring messages (ledgerfs_proto)

fn round_trip<T>(bytes: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + core::fmt::Debug,
{
    if let Ok(m) = decode::<T>(bytes) {
        let again = encode_vec(&m).expect("a decoded message encodes");
        assert_eq!(decode::<T>(&again).as_ref(), Ok(&m), "decode(encode(m)) != m");
        assert!(again.len() <= bytes.len(), "re-encoding is longer than the input");
    }
}

/// Every ring message type: `decode` never panics on hostile bytes and
/// decode(encode(m)) == m; wire results map back to core results and forth.
pub fn proto(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 14 {
        0 => round_trip::<SequencerRequest>(bytes),
        1 => {
            round_trip::<SequencerReply>(bytes);
            if let Ok(SequencerReply::Results { results, .. }) = decode::<SequencerReply>(bytes) {
                for w in results {
                    if let Some(r) = w.to_result() {
                        assert_eq!(ledgerfs_proto::WireResult::from(r), w);
                    }
                }
            }
        }
        2 => round_trip::<DurabilityNotice>(bytes),
        3 => round_trip::<CommitRequest>(bytes),
        4 => round_trip::<ReplayRequest>(bytes),
        5 => round_trip::<ReplayReply>(bytes),
        6 => round_trip::<SignRequest>(bytes),
        7 => round_trip::<SignReply>(bytes),
        8 => round_trip::<SnapshotPiece>(bytes),
        9 => round_trip::<SnapshotPut>(bytes),
        10 => round_trip::<SnapshotGet>(bytes),
        11 => round_trip::<SnapshotGot>(bytes),
        12 => round_trip::<LogRead>(bytes),
        _ => round_trip::<LogFile>(bytes),
    }
}

// ---------------------------------------------------------------------------------
// Block-ring descriptors (ledgerfs_blkring)

/// `validate` of a hostile descriptor against a device size and window length: never
/// panics, and what it lets through lies inside the device and the window. `chunks`
/// of a whole-block transfer covers it exactly, in window-sized pieces.
pub fn blkring(data: &[u8]) {
    let mut buf = [0u8; 56];
    let n = data.len().min(56);
    buf[..n].copy_from_slice(&data[..n]);
    let u32_at = |i: usize| u32::from_le_bytes(buf[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().unwrap());
    let req = BlkRequest {
        op: u32_at(0),
        status: u32_at(4) as i32,
        id: u32_at(8),
        count: u32_at(12),
        block: u64_at(16),
        offset: u64_at(24),
    };
    let device_blocks = u64_at(32);
    let window_len = u64_at(40) as usize;
    let _ = req.status();
    let _ = ledgerfs_blkring::completion_result(&req);
    match validate(&req, device_blocks, window_len) {
        Ok(Checked::Read {
            device_offset,
            window_offset,
            len,
        })
        | Ok(Checked::Write {
            device_offset,
            window_offset,
            len,
        }) => {
            assert!(len > 0 && len <= MAX_REQUEST_BYTES && len % BLOCK_SIZE == 0);
            assert!(window_offset % BLOCK_SIZE == 0 && window_offset + len <= window_len);
            let end = u128::from(device_offset) + len as u128;
            assert!(
                end <= u128::from(device_blocks) * BLOCK_SIZE as u128,
                "request past the device"
            );
            assert_eq!(u128::from(device_offset), u128::from(req.block) * BLOCK_SIZE as u128);
            assert!(
                device_offset.checked_add(len as u64).is_some(),
                "device end overflows u64"
            );
        }
        Ok(Checked::Flush) => assert_eq!(req.op, 2),
        Ok(Checked::Info) => assert_eq!(req.op, 3),
        Err(_) => {}
    }

    // Client chunking: a transfer of up to 64 MiB in blocks, any window.
    let blocks = u64::from(u32_at(48) % (16 * 1024));
    let len = blocks as usize * BLOCK_SIZE;
    let block = req.block.min(u64::MAX - blocks);
    let window = u32_at(52) as usize;
    let step = (window.min(MAX_REQUEST_BYTES) / BLOCK_SIZE).max(1) * BLOCK_SIZE;
    let mut next = 0usize;
    for (b, range) in chunks(block, len, window) {
        assert_eq!(range.start, next, "chunks are contiguous");
        assert!(range.end > range.start && range.end - range.start <= step);
        assert_eq!(b, block + (range.start / BLOCK_SIZE) as u64);
        next = range.end;
    }
    assert_eq!(next, len, "chunks cover the transfer");
}

// ---------------------------------------------------------------------------------
// Block-store volumes (ledgerfs_blockstore: superblocks, record headers, payloads,
// recovery, export)

/// Block size of the fuzzed volumes: the smallest the format allows, so that a few
/// KiB of input is a whole volume.
pub const VOLUME_BLOCK: usize = 512;
/// Blocks of a fuzzed volume (the input is zero-padded or cut to this).
pub const VOLUME_BLOCKS: u64 = 32;

/// A RAM disk of [`VOLUME_BLOCK`]-byte blocks.
pub struct RamDisk {
    /// The whole device.
    pub bytes: Vec<u8>,
}

impl BlockDevice for RamDisk {
    const BLOCK_SIZE: usize = VOLUME_BLOCK;

    fn block_count(&self) -> u64 {
        (self.bytes.len() / VOLUME_BLOCK) as u64
    }

    fn read(&mut self, block: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let at = usize::try_from(block).map_err(|_| DeviceError::OutOfRange)? * VOLUME_BLOCK;
        let src = self.bytes.get(at..at + buf.len()).ok_or(DeviceError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, block: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let at = usize::try_from(block).map_err(|_| DeviceError::OutOfRange)? * VOLUME_BLOCK;
        let dst = self.bytes.get_mut(at..at + buf.len()).ok_or(DeviceError::OutOfRange)?;
        dst.copy_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
}

/// Recomputes every checksum of a volume image as the format (crate docs of
/// `ledgerfs_blockstore`) defines them: each record's payload and header checksum, its
/// `prev` link to the record before it (the genesis of superblock 0 for the first), and
/// each superblock's tip checksum and own checksum.
pub fn reseal_volume(img: &mut [u8]) {
    const REC_MAGIC: &[u8] = b"LFSBREC1";
    const SB_MAGIC: &[u8] = b"LFSBSUP1";
    let bs = VOLUME_BLOCK;
    let blocks = img.len() / bs;
    let mut prev: [u8; 32] = img[48..80].try_into().unwrap(); // superblock 0's genesis
    let mut sums: Vec<(u64, [u8; 32])> = Vec::new();
    let mut b = 2;
    while b < blocks {
        let at = b * bs;
        if &img[at..at + 8] != REC_MAGIC {
            b += 1;
            continue;
        }
        let len = u32::from_le_bytes(img[at + 24..at + 28].try_into().unwrap()) as usize;
        let start = at + 152;
        let end = (start + len).min(img.len());
        // Byte 11 names the payload checksum: 1 XXH3-128 (format 4), else SHA-256.
        let payload_sum: [u8; 32] = match img[at + 11] {
            1 => {
                let mut s = [0u8; 32];
                s[..16].copy_from_slice(&xxhash_rust::xxh3::xxh3_128(&img[start..end]).to_le_bytes());
                s
            }
            _ => Sha256::digest(&img[start..end]).into(),
        };
        img[at + 88..at + 120].copy_from_slice(&payload_sum);
        img[at + 56..at + 88].copy_from_slice(&prev);
        let sum: [u8; 32] = Sha256::digest(&img[at..at + 120]).into();
        img[at + 120..at + 152].copy_from_slice(&sum);
        let seq = u64::from_le_bytes(img[at + 32..at + 40].try_into().unwrap());
        sums.push((seq, sum));
        prev = sum;
        b += (152 + len).div_ceil(bs).max(1);
    }
    for sb in 0..2 {
        let at = sb * bs;
        if &img[at..at + 8] != SB_MAGIC {
            continue;
        }
        let last_seq = u64::from_le_bytes(img[at + 88..at + 96].try_into().unwrap());
        if let Some((_, sum)) = sums.iter().find(|(s, _)| *s == last_seq) {
            img[at + 96..at + 128].copy_from_slice(sum);
        }
        let sum: [u8; 32] = Sha256::digest(&img[at..at + 136]).into();
        img[at + 136..at + 168].copy_from_slice(&sum);
    }
}

/// `BlockStore::open` of a hostile volume never panics, and a volume it opens can be
/// read: every exported file re-reads identically through `TileReader`, and the
/// checkpoint's tree (when it is a small one) goes through `verify_tree`.
pub fn blockstore(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut img = vec![0u8; VOLUME_BLOCK * VOLUME_BLOCKS as usize];
    let n = rest.len().min(img.len());
    img[..n].copy_from_slice(&rest[..n]);
    if mode & 1 == 1 {
        reseal_volume(&mut img);
    }
    let limits = Limits { max_index_entries: 64 };
    let Ok(store) = BlockStore::open_with(RamDisk { bytes: img }, limits) else {
        return;
    };
    let _ = store.stats();
    let mut files = Vec::new();
    for item in export(&store) {
        let Ok((path, bytes)) = item else { continue };
        files.push((path, bytes));
    }
    for (path, bytes) in &files {
        if let Some(p) = TilePath::parse(path) {
            assert_eq!(
                store.read(&p).ok().flatten().as_ref(),
                Some(bytes),
                "export and read differ: {path}"
            );
        } else {
            assert_eq!(path, ledgerfs_blockstore::CHECKPOINT_PATH);
        }
    }
    if let Ok(Some(note)) = ledgerfs_tiles::TileStore::checkpoint(&store) {
        if let Ok(cp) = parse_checkpoint_unverified(&note) {
            if cp.size <= 4096 {
                let _ = verify_tree(&store, cp.size, &cp.root, &[], &mut |_| {});
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Journal (ledgerfs_journal)

/// Recomputes the CRC of the segment header at the start of `seg` and of each record
/// after it whose magic is in place, the way `SegmentHeader::encode` / `encode_record`
/// compute them.
pub fn reseal_journal(seg: &mut [u8]) {
    if seg.len() >= 24 {
        let crc = crc32fast::hash(&seg[..20]);
        seg[20..24].copy_from_slice(&crc.to_le_bytes());
    }
    let mut at = 24;
    while seg.len() >= at + RECORD_HEADER_LEN && seg[at..at + 4] == *b"LFSR" {
        let len = u32::from_le_bytes(seg[at + 4..at + 8].try_into().unwrap()) as usize;
        let end = at + RECORD_HEADER_LEN + len;
        if end > seg.len() {
            break;
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&seg[at..at + 8]);
        h.update(&seg[at + RECORD_HEADER_LEN..end]);
        let crc = h.finalize();
        seg[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

/// A journal segment: a 24-byte header then records back to back (the fuzzed form of
/// a segment file, without the zero padding of the header block). `SegmentHeader::decode`
/// and `RecordReader` never panic; what they read re-encodes byte-identically;
/// `Recovery` accepts or refuses every record without panicking.
pub fn journal(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut seg = rest.to_vec();
    if mode & 1 == 1 {
        reseal_journal(&mut seg);
    }
    if let Ok(h) = SegmentHeader::decode(&seg) {
        assert_eq!(h.encode()[..], seg[..24], "segment header re-encoding differs");
    }
    let records = seg.get(24..).unwrap_or(&[]);
    let mut reader = RecordReader::new(records);
    let mut recovery = Recovery::new(u64::from(mode >> 1));
    let mut start = 0;
    while let Some(record) = reader.next() {
        let end = reader.offset();
        let mut again = Vec::new();
        encode_record(record.first_index, record.entries(), record.note, &mut again);
        assert_eq!(again, records[start..end], "record re-encoding differs");
        assert_eq!(record.entries().count() as u64, record.len());
        let _ = recovery.accept(&record);
        start = end;
    }
    let _ = reader.malformed();
}

// ---------------------------------------------------------------------------------
// Hosted config (ledgerfs_hosted::config)

/// `toml::from_str::<Config>` never panics, nor does `validate`; a parsed config
/// serialises to TOML that parses to the same config.
#[cfg(feature = "hosted")]
pub fn hosted_config(data: &[u8]) {
    use ledgerfs_hosted::config::Config;
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = toml::from_str::<Config>(text) else {
        return;
    };
    let _ = config.validate();
    let Ok(out) = toml::to_string_pretty(&config) else {
        return;
    };
    let again: Config = toml::from_str(&out).unwrap_or_else(|e| panic!("serialised config does not parse: {e}\n{out}"));
    assert_eq!(
        toml::to_string_pretty(&again).unwrap(),
        out,
        "config round trip differs"
    );
}

// ---------------------------------------------------------------------------------
// Bank statements (ledgerfs_hosted::recon::statement, camt.053 and CSV)

/// The statement parsers: never panic; every amount of a statement they accept is exact
/// (its canonical text parses back to it); and the statement reconciled against a ledger
/// holding exactly its own lines and balances matches (`ledgerfs_recon::reconcile`).
#[cfg(feature = "hosted")]
pub fn statement(data: &[u8]) {
    use ledgerfs_hosted::recon::statement::{parse, Format};
    use ledgerfs_recon::{format_signed, parse_signed, reconcile, LedgerLine};
    let currency = Currency::from_code(if data.first().is_some_and(|b| b & 1 == 1) {
        "JPY"
    } else {
        "EUR"
    })
    .expect("a known currency");
    for format in [Format::Camt053, Format::Csv] {
        let Ok(parsed) = parse(format, data, currency) else {
            continue;
        };
        let s = &parsed.statement;
        let amounts = s.lines.iter().map(|l| l.amount).chain([s.closing]).chain(s.opening);
        for a in amounts {
            assert_eq!(parse_signed(&format_signed(a, currency), currency), Ok(a), "amount {a}");
        }
        let ledger: Vec<LedgerLine> = s
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| LedgerLine {
                index: i as u64,
                id: String::new(),
                reference: l.reference.clone(),
                amount: l.amount,
            })
            .collect();
        let outcome = reconcile(s, &ledger, s.opening.unwrap_or(0), s.closing);
        // Lines without a reference cannot match (references are the key).
        let unreferenced = s.lines.iter().filter(|l| l.reference.is_empty()).count();
        assert_eq!(outcome.matched + unreferenced, s.lines.len(), "{outcome:?}");
    }
}

// ---------------------------------------------------------------------------------
// Witness requests (ledgerfs_witness::add_checkpoint)

/// A witness's `add-checkpoint` over any body: never panics; a `200` carries a record of the
/// checkpoint and a cosignature line that verifies on it; a `409` on a stale size says the
/// latest size in `text/x.tlog.size`; nothing but `200` changes the state.
pub fn witness(data: &[u8]) {
    use ledgerfs_attest::CosignerKey;
    use ledgerfs_witness::{add_checkpoint, Latest, Log, State};
    let log = SignerKey::from_seed("fuzz.example/log", [1; 32]).expect("a key");
    let logs = [Log {
        origin: "fuzz.example/log".into(),
        keys: vec![log.verifier()],
    }];
    let mut state = State::new();
    // Odd lengths meet a witness that already cosigned size 3 (so both paths are reached).
    if data.len() % 2 == 1 {
        state.insert(
            "fuzz.example/log".into(),
            Latest {
                size: 3,
                root: [0; 32],
                note: String::new(),
            },
        );
    }
    let key = CosignerKey::from_seed("fuzz.example/witness", [2; 32]).expect("a key");
    let answer = add_checkpoint(&logs, &state, &key, data, 1_700_000_000);
    match answer.status {
        200 => {
            let (_, latest) = answer.record.expect("a 200 records the checkpoint");
            assert_eq!(key.verifier().verify(latest.note.as_bytes()), Ok(1_700_000_000));
        }
        409 if answer.content_type == "text/x.tlog.size" => {
            let latest = state.get("fuzz.example/log").map_or(0, |l| l.size);
            assert_eq!(answer.body, format!("{latest}\n"));
            assert!(answer.record.is_none());
        }
        400 | 403 | 404 | 409 | 422 => assert!(answer.record.is_none()),
        other => panic!("unexpected status {other}"),
    }
}

/// C2SP tlog-proof@v1 text: never panics; a proof that parses encodes back to the same
/// text, and checking it against its own `extra` (or an empty entry) never panics.
pub fn tlog_proof(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = ledgerfs_witness::TlogProof::parse(text) {
        let again = ledgerfs_witness::TlogProof::parse(&p.encode()).expect("an encoded proof parses");
        assert_eq!(again, p, "parse . encode is the identity");
        let entry = p.extra.clone().unwrap_or_default();
        let _ = p.verify_inclusion(&entry);
    }
}

/// A balance proof as text, one field per line: the account id, the balance record, its
/// position, the commitment's size, the audit path's hashes in hex, and the root last.
/// Checking it as a presence and as an absence proof never panics; a presence proof
/// that checks names the id, and one record never proves both.
pub fn balance_membership(data: &[u8]) {
    use ledgerfs_sequencer::commitment::{verify_membership, MembershipProof, RecordProof};
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let (Some(id), Some(record), Some(position), Some(size)) = (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return;
    };
    let (Ok(position), Ok(size)) = (position.parse::<u64>(), size.parse::<u64>()) else {
        return;
    };
    let mut hashes: Vec<[u8; 32]> = lines.filter_map(ledgerfs_http::auth::decode_hex).collect();
    let Some(root) = hashes.pop() else {
        return;
    };
    let proof = RecordProof {
        record: record.into(),
        position,
        path: hashes,
    };
    let present = verify_membership(id, &MembershipProof::Present(proof.clone()), size, &root);
    if let Ok(Some(r)) = &present {
        assert_eq!(r, record, "a presence proof returns the record it checked");
    }
    for absent in [
        MembershipProof::Absent {
            before: Some(proof.clone()),
            after: None,
        },
        MembershipProof::Absent {
            before: None,
            after: Some(proof),
        },
    ] {
        let checked = verify_membership(id, &absent, size, &root);
        assert!(
            !(present.is_ok() && checked.is_ok()),
            "one record never proves an id present and absent"
        );
    }
}

/// A balance proof file (`ledgerfs verify balance`'s input): decoding never panics, a
/// decoded file re-encodes to one that decodes the same, and checking it against the
/// entry its tlog-proof carries never panics; a present record that checks names the
/// file's account.
pub fn balance_proof(data: &[u8]) {
    use ledgerfs_sequencer::BalanceProofFile;
    let Ok(file) = BalanceProofFile::decode(data) else {
        return;
    };
    assert_eq!(BalanceProofFile::decode(file.encode().as_bytes()), Ok(file.clone()));
    let Ok(receipt) = ledgerfs_witness::TlogProof::parse(&file.tlog_proof) else {
        return;
    };
    let Some(entry) = receipt.extra else { return };
    if let Ok(proven) = file.check(receipt.index, &entry) {
        if let Some(record) = proven.record {
            let mut head = String::from("{\"id\":");
            ledgerfs_model::json::write_string(&mut head, &file.account);
            assert!(record.starts_with(&head), "a proved record names the account");
        }
    }
}

/// C2SP tlog-policy text: never panics; a policy that parses names a defined quorum (its
/// check of an unsigned note is an error, never a panic).
pub fn policy(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = ledgerfs_witness::Policy::parse(text) {
        assert!(
            p.check(b"o\n1\nAAAA\n\n").is_err(),
            "an unsigned note is never accepted"
        );
    }
}
