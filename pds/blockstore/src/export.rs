//! Export: every committed file of a volume as `(path, bytes)`, for a host
//! tool that turns an appliance disk into a tlog-tiles directory
//! (`ledgerfs image export DISK --out DIR`).
//!
//! The files are exactly those the POSIX store keeps for the same commits:
//! every full tile and bundle, and every partial version of a tile whose full
//! version is not committed yet; then `checkpoint`, last, so a tool that
//! writes them in order publishes the checkpoint only after its tiles.
//! Paths are relative to the log directory. Staged (uncommitted) records are
//! never exported; export never writes.

use alloc::collections::btree_map;
use alloc::string::String;
use alloc::vec::Vec;

use ledgerfs_tiles::TilePath;

use crate::device::BlockDevice;
use crate::error::Error;
use crate::index::Loc;
use crate::record::RecordKind;
use crate::store::BlockStore;

/// Name of the checkpoint file in a tlog-tiles directory.
pub const CHECKPOINT_PATH: &str = "checkpoint";

/// Iterator over the committed files of a store; see [`export`].
pub struct Export<'a, D: BlockDevice> {
    store: &'a BlockStore<D>,
    tiles: btree_map::Iter<'a, TilePath, Loc>,
    checkpoint_done: bool,
}

/// Every committed file of `store` in path order, then `checkpoint` (absent
/// before the first commit). Each item reads one record from the device and
/// checks it; an error is returned in place of that file.
pub fn export<D: BlockDevice>(store: &BlockStore<D>) -> Export<'_, D> {
    Export {
        store,
        tiles: store.index.committed().iter(),
        checkpoint_done: false,
    }
}

impl<D: BlockDevice> Iterator for Export<'_, D> {
    type Item = Result<(String, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((path, loc)) = self.tiles.next() {
            let bytes = self.store.read_record(*loc, RecordKind::Tile(*path));
            return Some(bytes.map(|b| (path.to_path(), b)));
        }
        if self.checkpoint_done {
            return None;
        }
        self.checkpoint_done = true;
        self.store.note.clone().map(|n| Ok((String::from(CHECKPOINT_PATH), n)))
    }
}
