//! Host tests of the block store (std allowed): a simulated device with a
//! volatile cache, unit tests per concern, and the randomized crash test.
//! Shared helpers live here: fake checkpoint notes and one-call commits
//! through a real `TileLog`.

mod crash;
mod export;
mod format;
mod recover;
mod sim;
mod snapshot;
mod write;

use std::format;
use std::string::String;
use std::vec::Vec;

use ledgerfs_tiles::{verify_tree, Hash, TileLog, TileStore, TileWrite};

use crate::device::BlockDevice;
use crate::error::Error;
use crate::store::BlockStore;

pub(crate) use sim::{CrashMode, Rng, Sim, SimDevice};

/// A stand-in for a signed note: origin, size, root (hex), a fake signature.
pub(crate) fn note(size: u64, root: &Hash) -> Vec<u8> {
    let hex: String = root.iter().map(|b| format!("{b:02x}")).collect();
    format!("blockstore.test/log\n{size}\n{hex}\n\n— test sig\n").into_bytes()
}

/// Size and root from a [`note`].
pub(crate) fn parse_note(note: &[u8]) -> (u64, Hash) {
    let text = core::str::from_utf8(note).expect("utf-8 note");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("blockstore.test/log"));
    let size = lines.next().unwrap().parse().unwrap();
    let hex = lines.next().unwrap();
    let mut root = [0u8; 32];
    for (i, r) in root.iter_mut().enumerate() {
        *r = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    (size, root)
}

/// Size and root of the store's checkpoint (0 and the empty root if none).
pub(crate) fn checkpoint_of<D: BlockDevice>(store: &BlockStore<D>) -> (u64, Hash) {
    match store.checkpoint().unwrap() {
        Some(n) => parse_note(&n),
        None => (0, ledgerfs_tiles::empty_root()),
    }
}

/// Entry `i` of generation `gen`: 0..=120 bytes, content from both.
pub(crate) fn entry(gen: u64, i: u64) -> Vec<u8> {
    let len = ((i * 7 + gen * 13) % 121) as usize;
    (0..len).map(|k| (i as usize * 31 + k + gen as usize) as u8).collect()
}

/// Append `n` entries of generation `gen` and commit them, returning the
/// writes the store was given (for a MemStore twin) and the new size/root.
/// On a storage error the log is rolled back, as the hosted writer does.
pub(crate) fn commit_entries<D: BlockDevice>(
    store: &mut BlockStore<D>,
    log: &mut TileLog,
    gen: u64,
    n: u64,
) -> Result<(Vec<TileWrite>, u64, Hash), Error> {
    for _ in 0..n {
        let i = log.size();
        log.append(&entry(gen, i)).unwrap();
    }
    let mut writes = Vec::new();
    let root = log.commit(&mut writes);
    let size = log.size();
    match put_all(store, &writes, &note(size, &root)) {
        Ok(()) => {
            log.mark_durable(size);
            Ok((writes, size, root))
        }
        Err(e) => {
            log.rollback();
            Err(e)
        }
    }
}

/// The host's side of one commit: put every write, sync, swap the checkpoint.
pub(crate) fn put_all<S: TileStore<Error = Error>>(
    store: &mut S,
    writes: &[TileWrite],
    note: &[u8],
) -> Result<(), Error> {
    for w in writes {
        store.put(&w.path, &w.bytes)?;
    }
    store.sync()?;
    store.swap_checkpoint(note)
}

/// The store's checkpoint verifies against its tiles (and `extra` older
/// sizes give `extra_roots`), and `TileLog::open` continues from it.
pub(crate) fn assert_verifies<D: BlockDevice>(store: &BlockStore<D>, extra: &[(u64, Hash)]) -> TileLog {
    let (size, root) = checkpoint_of(store);
    let sizes: Vec<u64> = extra.iter().map(|e| e.0).collect();
    let roots = verify_tree(store, size, &root, &sizes, &mut |_| {}).expect("tree verifies");
    assert_eq!(roots, extra, "older checkpoints are prefixes of this one");
    TileLog::open(store, size, &root).expect("TileLog::open")
}
