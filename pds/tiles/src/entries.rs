//! Reading entries back out of stored bundles, for an adapter that rebuilds a projection
//! from the log (the appliance's tiles PD serves the sequencer's boot replay with it).
//!
//! Must never: read past `size` (the signed tree), or return an entry of a bundle that is
//! malformed or of the wrong width.

use alloc::vec::Vec;

use crate::bundle::BundleIter;
use crate::error::TileError;
use crate::path::TilePath;
use crate::store::{read_bundle, TileReader};
use crate::TILE_WIDTH;

/// The entries `from..` of a log of `size` entries, in order: at most the rest of the
/// bundle holding `from`, and no more than `max_bytes` of entry data (but always at least
/// one entry when `from < size`, so a reader always advances). Empty when `from >= size`.
/// The bundle is read and checked as every other reader of this crate reads it
/// (`read_bundle`: exact width, a full bundle standing in for a deleted partial one).
pub fn read_entries<R: TileReader + ?Sized>(
    reader: &R,
    size: u64,
    from: u64,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, TileError> {
    let mut out = Vec::new();
    if from >= size {
        return Ok(out);
    }
    let bundle = from / TILE_WIDTH;
    let path = TilePath::entries(bundle, (size - bundle * TILE_WIDTH).min(TILE_WIDTH) as u16);
    let bytes = read_bundle(reader, &path)?;
    let mut used = 0;
    for entry in BundleIter::new(&bytes).skip((from % TILE_WIDTH) as usize) {
        let entry = entry?;
        used += entry.len();
        if used > max_bytes && !out.is_empty() {
            break;
        }
        out.push(entry.to_vec());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;
    use crate::TileLog;
    use alloc::format;
    use alloc::vec;

    fn log_of(n: u64) -> (MemStore, Vec<Vec<u8>>) {
        let mut log = TileLog::new();
        let mut store = MemStore::new();
        let entries: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("entry {i} {}", "x".repeat((i % 7) as usize)).into_bytes())
            .collect();
        for e in &entries {
            log.append(e).unwrap();
        }
        let mut writes = Vec::new();
        log.commit(&mut writes);
        store.apply(&writes);
        (store, entries)
    }

    #[test]
    fn reading_in_any_steps_returns_every_entry_in_order() {
        for n in [0u64, 1, 255, 256, 257, 700] {
            let (store, entries) = log_of(n);
            for budget in [0usize, 1, 40, 1000, usize::MAX] {
                let mut got = Vec::new();
                loop {
                    let batch = read_entries(&store, n, got.len() as u64, budget).unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    assert!(batch.len() as u64 <= TILE_WIDTH, "at most one bundle");
                    got.extend(batch);
                }
                assert_eq!(got, entries, "n {n} budget {budget}");
            }
        }
    }

    #[test]
    fn a_missing_or_short_bundle_is_an_error() {
        let (mut store, _) = log_of(300);
        assert_eq!(read_entries(&store, 300, 300, 10).unwrap(), Vec::<Vec<u8>>::new());
        let partial = TilePath::entries(1, 44);
        let bytes = store.remove(&partial).unwrap();
        assert_eq!(
            read_entries(&store, 300, 256, 1 << 20).unwrap_err().code(),
            "missing_file"
        );
        let mut short = bytes.clone();
        short.truncate(bytes.len() - 3);
        store.insert(partial, short);
        assert!(read_entries(&store, 300, 256, 1 << 20).is_err());
        store.insert(partial, vec![0, 1, b'a']);
        assert!(
            read_entries(&store, 300, 256, 1 << 20).is_err(),
            "one entry where 44 belong"
        );
    }
}
