//! The narrow storage interface the tiles core talks through, plus an
//! in-memory implementation for tests and tools.
//!
//! The POSIX and raw-block implementations live in other crates. This module
//! must never grow IO of its own: the traits are the only way out of the core.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;
use core::convert::Infallible;

use crate::bundle::{prefix_len, BundleIter};
use crate::error::TileError;
use crate::log::TileWrite;
use crate::path::TilePath;
use crate::Hash;

/// Read access to stored tiles and entry bundles; all that proofs, `open` and
/// verification need.
pub trait TileReader {
    /// The adapter's own error; it is kept (as `Debug` text) in [`TileError::Storage`].
    type Error: core::fmt::Debug;

    /// The bytes of the file at `path`, or `None` if it does not exist.
    fn read(&self, path: &TilePath) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// Write access for the appender's host: put immutable objects, make them
/// durable, then swap the checkpoint last.
pub trait TileStore: TileReader {
    /// Put an object (durable only after [`TileStore::sync`]). Must replace an
    /// existing object at `path`: after [`crate::TileLog::rollback`] the same
    /// path can be put again, possibly with different bytes, because no
    /// checkpoint ever referenced the first version.
    fn put(&mut self, path: &TilePath, bytes: &[u8]) -> Result<(), Self::Error>;

    /// Make every earlier `put` durable before any checkpoint that covers it.
    /// A store whose recovery adopts a checkpoint only together with every
    /// object it covers (the block store's record chain) may leave this to
    /// `swap_checkpoint`'s own barrier, so a commit costs one flush.
    fn sync(&mut self) -> Result<(), Self::Error>;

    /// Atomically replace the checkpoint, durably; called last, after `sync`.
    fn swap_checkpoint(&mut self, note: &[u8]) -> Result<(), Self::Error>;

    /// The current checkpoint note, if any.
    fn checkpoint(&self) -> Result<Option<Vec<u8>>, Self::Error>;

    /// Forgets the puts of a commit that failed before its checkpoint (default: nothing
    /// to forget; stores that stage writes drop them).
    fn abandon(&mut self) {}
}

impl<T: TileReader + ?Sized> TileReader for &T {
    type Error = T::Error;
    fn read(&self, path: &TilePath) -> Result<Option<Vec<u8>>, Self::Error> {
        (**self).read(path)
    }
}

/// A `BTreeMap`-backed [`TileStore`] for tests and tools. Everything is
/// "durable" at once; it never fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemStore {
    files: BTreeMap<TilePath, Vec<u8>>,
    checkpoint: Option<Vec<u8>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Put every write from [`crate::TileLog::commit`] (a convenience for tests and tools).
    pub fn apply(&mut self, writes: &[TileWrite]) {
        for w in writes {
            self.files.insert(w.path, w.bytes.clone());
        }
    }

    /// The stored bytes at `path`, if any.
    pub fn get(&self, path: &TilePath) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Mutable access, to simulate corruption in tests.
    pub fn get_mut(&mut self, path: &TilePath) -> Option<&mut Vec<u8>> {
        self.files.get_mut(path)
    }

    /// Store raw bytes at `path` (no checks at all).
    pub fn insert(&mut self, path: TilePath, bytes: Vec<u8>) {
        self.files.insert(path, bytes);
    }

    /// Remove a file, returning its bytes.
    pub fn remove(&mut self, path: &TilePath) -> Option<Vec<u8>> {
        self.files.remove(path)
    }

    /// Number of stored files (the checkpoint excluded).
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when no file is stored.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every stored file, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&TilePath, &[u8])> {
        self.files.iter().map(|(p, b)| (p, b.as_slice()))
    }
}

impl TileReader for MemStore {
    type Error = Infallible;
    fn read(&self, path: &TilePath) -> Result<Option<Vec<u8>>, Infallible> {
        Ok(self.files.get(path).cloned())
    }
}

impl TileStore for MemStore {
    fn put(&mut self, path: &TilePath, bytes: &[u8]) -> Result<(), Infallible> {
        self.files.insert(*path, bytes.to_vec());
        Ok(())
    }
    fn sync(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
    fn swap_checkpoint(&mut self, note: &[u8]) -> Result<(), Infallible> {
        self.checkpoint = Some(note.to_vec());
        Ok(())
    }
    fn checkpoint(&self) -> Result<Option<Vec<u8>>, Infallible> {
        Ok(self.checkpoint.clone())
    }
}

/// Read `path`, mapping adapter errors to [`TileError::Storage`].
pub(crate) fn read_opt<R: TileReader + ?Sized>(reader: &R, path: &TilePath) -> Result<Option<Vec<u8>>, TileError> {
    reader.read(path).map_err(|e| TileError::Storage {
        path: path.to_path(),
        detail: format!("{e:?}"),
    })
}

/// The file at `path`, or for a missing partial file the full one it is a prefix of
/// (partial files may be deleted once the full one exists): the path read and its bytes.
/// The one partial-to-full rule of this crate: every reader goes through it.
pub(crate) fn read_or_full<R: TileReader + ?Sized>(
    reader: &R,
    path: &TilePath,
) -> Result<(TilePath, Vec<u8>), TileError> {
    if let Some(b) = read_opt(reader, path)? {
        return Ok((*path, b));
    }
    if !path.is_full() {
        let full = path.to_full();
        if let Some(b) = read_opt(reader, &full)? {
            return Ok((full, b));
        }
    }
    Err(TileError::Missing { path: path.to_path() })
}

/// The first `path.width` hashes or entries of `full`, the full file standing in for the
/// missing partial `path`; `None` if it is too short (or not a bundle) to hold them.
pub(crate) fn cut_to_width(path: &TilePath, full: &[u8]) -> Option<Vec<u8>> {
    let width = usize::from(path.width);
    let len = match path.kind {
        crate::path::TileKind::Hash { .. } => (full.len() >= 32 * width).then_some(32 * width)?,
        crate::path::TileKind::Entries => prefix_len(full, width)?,
    };
    Some(full[..len].to_vec())
}

/// Read the hashes of the hash tile `path`. A missing partial tile falls back
/// to the first `width` hashes of the full tile (partial tiles may be deleted
/// once the full tile exists). Checks the byte length; checks nothing else.
pub(crate) fn read_hash_tile<R: TileReader + ?Sized>(reader: &R, path: &TilePath) -> Result<Vec<Hash>, TileError> {
    let width = usize::from(path.width);
    let (read_path, bytes) = read_or_full(reader, path)?;
    let expected = 32 * usize::from(read_path.width);
    if bytes.len() != expected {
        return Err(TileError::BadLength {
            path: read_path.to_path(),
            expected,
            actual: bytes.len(),
        });
    }
    Ok(bytes[..32 * width]
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Read the entry bundle `path` and check it holds exactly `width` entries and
/// nothing more. A missing partial bundle falls back to the first `width`
/// entries of the full bundle. Returns the (possibly cut) bundle bytes.
pub(crate) fn read_bundle<R: TileReader + ?Sized>(reader: &R, path: &TilePath) -> Result<Vec<u8>, TileError> {
    let width = usize::from(path.width);
    let (read_path, mut bytes) = read_or_full(reader, path)?;
    let malformed = || TileError::BundleMalformed {
        path: read_path.to_path(),
    };
    // The file read must itself be well formed with exactly its own width.
    let own = usize::from(read_path.width);
    let mut it = BundleIter::new(&bytes);
    for _ in 0..own {
        match it.next() {
            Some(Ok(_)) => {}
            _ => return Err(malformed()),
        }
    }
    if !it.remaining().is_empty() {
        return Err(malformed());
    }
    if own != width {
        let cut = prefix_len(&bytes, width).ok_or_else(malformed)?;
        bytes.truncate(cut);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::bundle_push;
    use alloc::vec;

    #[test]
    fn memstore_round_trip() {
        let mut s = MemStore::new();
        let p = TilePath::hash(0, 0, 3);
        assert_eq!(s.read(&p), Ok(None));
        s.put(&p, &[1, 2, 3]).unwrap();
        s.put(&p, &[4, 5, 6]).unwrap();
        assert_eq!(s.read(&p), Ok(Some(vec![4, 5, 6])));
        s.sync().unwrap();
        assert_eq!(s.checkpoint(), Ok(None));
        s.swap_checkpoint(b"note").unwrap();
        assert_eq!(s.checkpoint(), Ok(Some(b"note".to_vec())));
        assert_eq!(s.len(), 1);
        // `&MemStore` is a reader too (generic code can take readers by value).
        fn read_through<R: TileReader>(r: R, p: &TilePath) -> Result<Option<Vec<u8>>, R::Error> {
            r.read(p)
        }
        assert_eq!(read_through(&s, &p), Ok(Some(vec![4, 5, 6])));
    }

    #[test]
    fn hash_tile_fallback_and_lengths() {
        let mut s = MemStore::new();
        let full: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        s.insert(TilePath::hash(0, 0, 256), full.clone());
        let got = read_hash_tile(&s, &TilePath::hash(0, 0, 3)).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got.concat(), full[..96].to_vec());
        s.insert(TilePath::hash(0, 1, 2), vec![0; 63]);
        assert_eq!(
            read_hash_tile(&s, &TilePath::hash(0, 1, 2)).unwrap_err().code(),
            "bad_length"
        );
        assert_eq!(
            read_hash_tile(&s, &TilePath::hash(0, 2, 2)),
            Err(TileError::Missing {
                path: "tile/0/002.p/2".into()
            })
        );
        s.insert(TilePath::hash(0, 3, 256), vec![0; 8191]);
        assert_eq!(
            read_hash_tile(&s, &TilePath::hash(0, 3, 5)),
            Err(TileError::BadLength {
                path: "tile/0/003".into(),
                expected: 8192,
                actual: 8191
            })
        );
    }

    #[test]
    fn bundle_fallback_and_shape() {
        let mut s = MemStore::new();
        let mut full = Vec::new();
        for i in 0..256u32 {
            bundle_push(&mut full, &i.to_be_bytes()[..(i % 4) as usize]).unwrap();
        }
        s.insert(TilePath::entries(0, 256), full.clone());
        let cut = read_bundle(&s, &TilePath::entries(0, 3)).unwrap();
        assert_eq!(cut, full[..2 + 3 + 4]);
        assert_eq!(read_bundle(&s, &TilePath::entries(0, 256)).unwrap(), full);
        let mut short = Vec::new();
        bundle_push(&mut short, b"a").unwrap();
        s.insert(TilePath::entries(1, 2), short.clone());
        assert_eq!(
            read_bundle(&s, &TilePath::entries(1, 2)).unwrap_err().code(),
            "bundle_malformed"
        );
        short.push(0);
        bundle_push(&mut short, b"").unwrap(); // 1 entry, then garbage
        s.insert(TilePath::entries(1, 1), short);
        assert_eq!(
            read_bundle(&s, &TilePath::entries(1, 1)).unwrap_err().code(),
            "bundle_malformed"
        );
        assert_eq!(
            read_bundle(&s, &TilePath::entries(9, 1)).unwrap_err().code(),
            "missing_file"
        );
    }
}
