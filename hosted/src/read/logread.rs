//! Reads entries back from the entry bundles on disk, for history, lookups, balances at
//! a past index and the event stream. Full bundles are immutable, so they are cached;
//! the partial bundle of the current checkpoint is read fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ledgerfs_tiles::{BundleIter, TileKind, TilePath, TileReader, TILE_WIDTH};

use ledgerfs_model::Entry;

use crate::error::{Error, Result};
use crate::storage::tiles::{prefix, PosixStore};

/// Most full bundles kept in memory (~50 MiB at 200-byte entries).
const MAX_CACHED_BUNDLES: usize = 1_024;

/// Entry reader over a store.
#[derive(Debug)]
pub struct LogReader {
    store: PosixStore,
    cache: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
}

impl LogReader {
    /// A reader of the log directory.
    pub fn new(store: PosixStore) -> LogReader {
        LogReader {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The underlying store (for proofs).
    pub fn store(&self) -> &PosixStore {
        &self.store
    }

    /// The bundle holding `index`, as of a tree of `size` entries. An index the tree
    /// does not cover is an error, not a panic: `index` and `size` may come from
    /// different threads' views of the log.
    pub fn bundle(&self, index: u64, size: u64) -> Result<Arc<Vec<u8>>> {
        if index >= size {
            return Err(Error::Io {
                path: format!("log/{}", crate::read::logread::bundle_path(index)),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("entry {index} is beyond the tree of size {size}"),
                ),
            });
        }
        let n = index / TILE_WIDTH;
        let full = (n + 1) * TILE_WIDTH <= size;
        if full {
            if let Some(bundle) = self.cache.lock().expect("cache lock").get(&n) {
                return Ok(bundle.clone());
            }
        }
        let width = if full { TILE_WIDTH } else { size - n * TILE_WIDTH };
        let path = TilePath {
            kind: TileKind::Entries,
            index: n,
            width: width as u16,
        };
        let mut bytes = self.store.read(&path)?;
        if bytes.is_none() && !full {
            // The partial bundle may have been superseded by its full tile meanwhile.
            let full_path = TilePath {
                width: TILE_WIDTH as u16,
                ..path
            };
            bytes = self.store.read(&full_path)?;
        }
        let bytes = Arc::new(bytes.ok_or_else(|| Error::Corrupt {
            path: format!("log/{}", path.to_path()),
            reason: "entry bundle missing".into(),
        })?);
        if full {
            let mut cache = self.cache.lock().expect("cache lock");
            if cache.len() >= MAX_CACHED_BUNDLES {
                cache.clear();
            }
            cache.insert(n, bytes.clone());
        }
        Ok(bytes)
    }

    /// The entry at `index` of a tree of `size`.
    pub fn entry(&self, index: u64, size: u64) -> Result<Vec<u8>> {
        let bundle = self.bundle(index, size)?;
        let offset = (index % TILE_WIDTH) as usize;
        let entry = BundleIter::new(&bundle).nth(offset);
        match entry {
            Some(Ok(bytes)) => Ok(bytes.to_vec()),
            _ => Err(Error::Corrupt {
                path: format!("log/{}", crate::read::logread::bundle_path(index)),
                reason: format!("entry {index} missing or truncated"),
            }),
        }
    }

    /// The entry at `index`, decoded; a non-canonical entry is reported as corruption
    /// naming its bundle.
    pub fn decoded(&self, index: u64, size: u64) -> Result<Entry> {
        decode_at(index, &self.entry(index, size)?)
    }

    /// How many of the first `size` entries were committed before `time`: entry times
    /// strictly increase, so a binary search over the log finds the cut. The one time
    /// search behind `?at=TIME` and a business day's cut-off.
    pub fn count_before(&self, time: ledgerfs_model::time::UnixNanos, size: u64) -> Result<u64> {
        let (mut lo, mut hi) = (0u64, size);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.decoded(mid, size)?.time < time {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Calls `f` on entries `from..to` of a tree of `size`, in order.
    pub fn for_each(&self, from: u64, to: u64, size: u64, mut f: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let mut index = from;
        while index < to {
            let bundle = self.bundle(index, size)?;
            let skip = (index % TILE_WIDTH) as usize;
            for item in BundleIter::new(&bundle).skip(skip) {
                if index >= to {
                    break;
                }
                let bytes = item.map_err(|e| Error::Corrupt {
                    path: format!("log/{}", crate::read::logread::bundle_path(index)),
                    reason: e.to_string(),
                })?;
                f(index, bytes)?;
                index += 1;
            }
        }
        Ok(())
    }
}

/// A view of the stored tree that also answers for sizes that never had a checkpoint of
/// their own (proofs and roots at an older size): tiles are append-only, so a partial
/// tile or bundle of width `w` is the prefix of any wider version of it, including the
/// full one and the partial of the current checkpoint.
pub struct PrefixReader<'a> {
    store: &'a PosixStore,
    /// The size of the current checkpoint (whose partial files exist).
    current: u64,
}

impl<'a> PrefixReader<'a> {
    /// A reader of `store` whose current checkpoint covers `current` entries.
    pub fn new(store: &'a PosixStore, current: u64) -> Self {
        PrefixReader { store, current }
    }

    /// The widths at which a wider version of `path` may be stored, widest first.
    fn wider(&self, path: &TilePath) -> [u16; 2] {
        let count = match path.kind {
            TileKind::Entries => self.current,
            TileKind::Hash { level } => self.current >> (8 * u32::from(level)),
        };
        let current_width = if count / TILE_WIDTH == path.index {
            (count % TILE_WIDTH) as u16
        } else {
            0
        };
        [TILE_WIDTH as u16, current_width]
    }
}

impl TileReader for PrefixReader<'_> {
    type Error = Error;

    fn read(&self, path: &TilePath) -> Result<Option<Vec<u8>>> {
        if let Some(bytes) = self.store.read(path)? {
            return Ok(Some(bytes));
        }
        if path.is_full() {
            return Ok(None);
        }
        for width in self.wider(path) {
            if width <= path.width {
                continue;
            }
            let Some(bytes) = self.store.read(&TilePath { width, ..*path })? else {
                continue;
            };
            return Ok(Some(prefix(path, &bytes)));
        }
        Ok(None)
    }
}

/// The spec's path of the full bundle holding `index` (`tile/entries/x001/000` from
/// bundle 1,000 on), for messages naming a damaged bundle.
pub fn bundle_path(index: u64) -> String {
    TilePath::entries(index / TILE_WIDTH, TILE_WIDTH as u16).to_path()
}

/// Decodes entry bytes read from the bundle holding `index`.
pub fn decode_at(index: u64, bytes: &[u8]) -> Result<Entry> {
    Entry::decode(bytes).map_err(|e| Error::Corrupt {
        path: format!("log/{} (entry {index})", crate::read::logread::bundle_path(index)),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn bundle_paths_use_the_spec_encoding_from_bundle_1000_on() {
        assert_eq!(bundle_path(255), "tile/entries/000");
        assert_eq!(bundle_path(1_000 * 256 + 3), "tile/entries/x001/000");
    }

    use super::*;

    #[test]
    fn an_index_beyond_the_tree_is_an_error_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("ledgerfs-logread-{}", std::process::id()));
        let reader = LogReader::new(PosixStore::new(dir));
        for (index, size) in [(0, 0), (5, 5), (300, 10)] {
            let e = reader.entry(index, size).unwrap_err();
            assert!(e.to_string().contains("beyond the tree"), "{e}");
            assert!(reader.bundle(index, size).is_err());
        }
    }
}
