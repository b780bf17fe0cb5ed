//! A simulated file system under the store's real code. Every mutating call of the
//! store goes through [`ledgerfs_hosted::storage::fs::Fs`]; [`SimFs`] performs it on a
//! real directory (so the store's reads, which use `std::fs`, see what a reader would
//! see: the page cache) and keeps a model of what is *durable*, with POSIX's weakest
//! promises: a file's bytes are durable after a sync of that file or of the file system,
//! a name (creation, rename, removal) after a sync of its directory or of the file
//! system. [`SimFs::crash`] rewrites the directory to what a power cut could leave: the
//! durable names, each file's durable bytes, and each unsynced write kept, dropped or
//! torn. It also injects `EIO` and `ENOSPC` into any call, from a seeded generator.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ledgerfs_hosted::storage::fs::Fs;

use crate::rng::Rng;

/// How often faults are injected, per call.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Chance in a million that a call fails with `EIO` (doing nothing, or for a sync,
    /// leaving the data unsynced).
    pub eio_ppm: u32,
    /// Bytes the disk holds; a write beyond it fails with `ENOSPC`.
    pub capacity: u64,
}

/// What the simulator injected, for the report.
#[derive(Clone, Copy, Debug, Default)]
pub struct Injected {
    /// Calls failed with `EIO`.
    pub eio: u64,
    /// Calls failed with `ENOSPC`.
    pub enospc: u64,
    /// Power cuts.
    pub crashes: u64,
    /// Unsynced writes lost at a power cut.
    pub lost_writes: u64,
    /// Unsynced writes torn at a power cut.
    pub torn_writes: u64,
    /// Names (creations, renames, removals) undone at a power cut.
    pub lost_names: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Dir,
    File(usize),
}

/// A write not yet synced.
#[derive(Clone, Debug)]
enum Op {
    SetLen(usize),
    Write(usize, Vec<u8>),
}

#[derive(Clone, Debug, Default)]
struct Inode {
    durable: Vec<u8>,
    current: Vec<u8>,
    unsynced: Vec<Op>,
}

impl Inode {
    fn sync(&mut self) {
        self.durable = self.current.clone();
        self.unsynced.clear();
    }
}

#[derive(Debug)]
struct State {
    root: PathBuf,
    rng: Rng,
    faults: Faults,
    injected: Injected,
    inodes: Vec<Inode>,
    names: BTreeMap<PathBuf, Node>,
    durable_names: BTreeMap<PathBuf, Node>,
}

/// The simulated file system (see the module comment).
#[derive(Debug)]
pub struct SimFs {
    state: Mutex<State>,
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl SimFs {
    /// Takes over the directory `root` as it is, everything in it durable.
    pub fn adopt(root: &Path, seed: u64, faults: Faults) -> io::Result<SimFs> {
        let mut state = State {
            root: root.to_path_buf(),
            rng: Rng::new(seed),
            faults,
            injected: Injected::default(),
            inodes: Vec::new(),
            names: BTreeMap::new(),
            durable_names: BTreeMap::new(),
        };
        state.scan(root)?;
        state.durable_names = state.names.clone();
        Ok(SimFs {
            state: Mutex::new(state),
        })
    }

    /// Changes the fault rates (e.g. none while a trial drains).
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// The fault rates.
    pub fn faults(&self) -> Faults {
        self.lock().faults
    }

    /// What was injected so far.
    pub fn injected(&self) -> Injected {
        self.lock().injected
    }

    /// Bytes in files now.
    pub fn used(&self) -> u64 {
        self.lock().used()
    }

    /// A power cut: the directory becomes what the disk would hold after it.
    pub fn crash(&self) -> io::Result<()> {
        self.lock().crash()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("simfs lock")
    }

    /// Runs a call, failing it with `EIO` (before it does anything) at the fault rate.
    fn call<T>(&self, path: &Path, f: impl FnOnce(&mut State) -> io::Result<T>) -> io::Result<T> {
        self.call_raw(path, |s| {
            if s.fault() {
                return Err(eio());
            }
            f(s)
        })
    }

    fn call_raw<T>(&self, path: &Path, f: impl FnOnce(&mut State) -> io::Result<T>) -> io::Result<T> {
        let mut state = self.lock();
        assert!(
            path.starts_with(&state.root),
            "the store writes only inside its directory: {}",
            path.display()
        );
        f(&mut state)
    }
}

impl State {
    /// Whether this call fails (`EIO`), at the fault rate.
    fn fault(&mut self) -> bool {
        let hit = self.faults.eio_ppm > 0 && self.rng.below(1_000_000) < u64::from(self.faults.eio_ppm);
        self.injected.eio += u64::from(hit);
        hit
    }

    fn scan(&mut self, dir: &Path) -> io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<io::Result<_>>()?;
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                self.names.insert(path.clone(), Node::Dir);
                self.scan(&path)?;
            } else {
                let bytes = std::fs::read(&path)?;
                self.inodes.push(Inode {
                    durable: bytes.clone(),
                    current: bytes,
                    unsynced: Vec::new(),
                });
                self.names.insert(path, Node::File(self.inodes.len() - 1));
            }
        }
        Ok(())
    }

    fn used(&self) -> u64 {
        let mut seen = std::collections::BTreeSet::new();
        self.names
            .values()
            .filter_map(|n| match n {
                Node::File(i) if seen.insert(*i) => Some(self.inodes[*i].current.len() as u64),
                _ => None,
            })
            .sum()
    }

    /// Refuses a write that would take the disk beyond its capacity.
    fn room(&mut self, grow: u64) -> io::Result<()> {
        if self.faults.capacity > 0 && self.used() + grow > self.faults.capacity {
            self.injected.enospc += 1;
            return Err(enospc());
        }
        Ok(())
    }

    fn file(&self, path: &Path) -> Option<usize> {
        match self.names.get(path) {
            Some(Node::File(i)) => Some(*i),
            _ => None,
        }
    }

    /// The inode named `path`, or a new empty one given that name.
    fn file_or_new(&mut self, path: &Path) -> usize {
        if let Some(i) = self.file(path) {
            return i;
        }
        self.inodes.push(Inode::default());
        self.names.insert(path.to_path_buf(), Node::File(self.inodes.len() - 1));
        self.inodes.len() - 1
    }

    fn parent_exists(&self, path: &Path) -> bool {
        let parent = path.parent().expect("a path in the store has a parent");
        parent == self.root || self.names.get(parent) == Some(&Node::Dir)
    }

    /// Names under `dir` (not `dir` itself).
    fn children(&self, dir: &Path) -> Vec<PathBuf> {
        self.names
            .range(dir.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(dir))
            .filter(|(p, _)| p.as_path() != dir)
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn crash(&mut self) -> io::Result<()> {
        self.injected.crashes += 1;
        // What each inode holds after the cut.
        let mut contents = Vec::with_capacity(self.inodes.len());
        for i in 0..self.inodes.len() {
            let inode = &self.inodes[i];
            let mut bytes = inode.durable.clone();
            let unsynced = inode.unsynced.clone();
            for op in unsynced {
                match op {
                    Op::SetLen(n) => {
                        if self.rng.below(2) == 0 {
                            bytes.resize(n, 0);
                        } else {
                            self.injected.lost_writes += 1;
                        }
                    }
                    Op::Write(at, w) => match self.rng.below(3) {
                        0 => self.injected.lost_writes += 1,
                        1 => put(&mut bytes, at, &w),
                        _ => {
                            self.injected.torn_writes += 1;
                            let keep = self.rng.below(w.len() as u64 + 1) as usize;
                            let mut torn = w[..keep].to_vec();
                            torn.extend((keep..w.len()).map(|_| self.rng.next_u64() as u8));
                            put(&mut bytes, at, &torn);
                        }
                    },
                }
            }
            contents.push(bytes);
        }
        // Which names survive: the durable ones whose directories survive.
        let lost = self
            .names
            .iter()
            .filter(|(p, n)| self.durable_names.get(*p) != Some(n))
            .count()
            + self
                .durable_names
                .keys()
                .filter(|p| !self.names.contains_key(*p))
                .count();
        self.injected.lost_names += lost as u64;
        let mut survivors = BTreeMap::new();
        for (path, node) in &self.durable_names {
            let parent = path.parent().expect("a parent");
            let parent_ok = parent == self.root || survivors.get(parent) == Some(&Node::Dir);
            if parent_ok {
                survivors.insert(path.clone(), node.clone());
            }
        }
        // Rewrite the real directory to that.
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        let mut inodes = Vec::new();
        let mut renumber = BTreeMap::new();
        let mut names = BTreeMap::new();
        for (path, node) in survivors {
            match node {
                Node::Dir => {
                    std::fs::create_dir(&path)?;
                    names.insert(path, Node::Dir);
                }
                Node::File(i) => {
                    let bytes = &contents[i];
                    std::fs::write(&path, bytes)?;
                    let new = *renumber.entry(i).or_insert_with(|| {
                        inodes.push(Inode {
                            durable: bytes.clone(),
                            current: bytes.clone(),
                            unsynced: Vec::new(),
                        });
                        inodes.len() - 1
                    });
                    names.insert(path, Node::File(new));
                }
            }
        }
        self.inodes = inodes;
        self.durable_names = names.clone();
        self.names = names;
        Ok(())
    }
}

fn put(bytes: &mut Vec<u8>, at: usize, w: &[u8]) {
    if bytes.len() < at + w.len() {
        bytes.resize(at + w.len(), 0);
    }
    bytes[at..at + w.len()].copy_from_slice(w);
}

impl Fs for SimFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.call(dir, |s| {
            let mut missing = Vec::new();
            let mut at = dir;
            while at != s.root && !s.names.contains_key(at) {
                missing.push(at.to_path_buf());
                at = at.parent().expect("inside the root");
            }
            if matches!(s.names.get(at), Some(Node::File(_))) {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            std::fs::create_dir_all(dir)?;
            for path in missing {
                s.names.insert(path, Node::Dir);
            }
            Ok(())
        })
    }

    fn write_file(&self, path: &Path, parts: &[&[u8]], _mode: u32, sync: bool) -> io::Result<()> {
        let bytes = &parts.concat()[..];
        self.call(path, |s| {
            if !s.parent_exists(path) {
                return Err(not_found());
            }
            let old = s.file(path).map_or(0, |i| s.inodes[i].current.len() as u64);
            s.room((bytes.len() as u64).saturating_sub(old))?;
            std::fs::write(path, bytes)?;
            let i = s.file_or_new(path);
            let inode = &mut s.inodes[i];
            inode.current = bytes.to_vec();
            inode.unsynced.push(Op::SetLen(0));
            inode.unsynced.push(Op::Write(0, bytes.to_vec()));
            if sync {
                inode.sync();
            }
            Ok(())
        })
    }

    fn write_new_secret(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        if self.lock().names.contains_key(path) {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        self.write_file(path, &[bytes], 0o600, true)
    }

    fn write_at_synced(&self, path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.call_raw(path, |s| {
            // A fault fails the write (nothing written) or, half the time, the sync after it.
            let fault = s.fault();
            if fault && s.rng.below(2) == 0 {
                return Err(eio());
            }
            let i = s.file(path).ok_or_else(not_found)?;
            let at = offset as usize;
            let grow = (at + bytes.len()).saturating_sub(s.inodes[i].current.len());
            s.room(grow as u64)?;
            {
                use std::os::unix::fs::FileExt;
                let file = std::fs::OpenOptions::new().write(true).open(path)?;
                file.write_all_at(bytes, offset)?;
            }
            let inode = &mut s.inodes[i];
            put(&mut inode.current, at, bytes);
            inode.unsynced.push(Op::Write(at, bytes.to_vec()));
            // The sync failed after the write: the bytes stay unsynced (they may be
            // lost at a power cut), and the caller must write them again.
            if fault {
                return Err(eio());
            }
            s.inodes[i].sync();
            Ok(())
        })
    }

    fn create_zeroed(&self, path: &Path, len: u64) -> io::Result<()> {
        self.call(path, |s| {
            if !s.parent_exists(path) {
                return Err(not_found());
            }
            let old = s.file(path).map_or(0, |i| s.inodes[i].current.len() as u64);
            s.room(len.saturating_sub(old))?;
            let zeros = vec![0u8; len as usize];
            std::fs::write(path, &zeros)?;
            let i = s.file_or_new(path);
            s.inodes[i].current = zeros;
            s.inodes[i].sync();
            Ok(())
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.call(from, |s| {
            let node = s.names.get(from).cloned().ok_or_else(not_found)?;
            if !s.parent_exists(to) {
                return Err(not_found());
            }
            std::fs::rename(from, to)?;
            if node == Node::Dir {
                for child in s.children(from) {
                    let moved = to.join(child.strip_prefix(from).expect("a child"));
                    let n = s.names.remove(&child).expect("listed");
                    s.names.insert(moved, n);
                }
            }
            s.names.remove(from);
            s.names.insert(to.to_path_buf(), node);
            Ok(())
        })
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.call(path, |s| {
            s.file(path).ok_or_else(not_found)?;
            std::fs::remove_file(path)?;
            s.names.remove(path);
            Ok(())
        })
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.call(dir, |s| {
            if s.names.get(dir) != Some(&Node::Dir) {
                return Err(not_found());
            }
            std::fs::remove_dir_all(dir)?;
            for child in s.children(dir) {
                s.names.remove(&child);
            }
            s.names.remove(dir);
            Ok(())
        })
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.call(dir, |s| {
            if dir != s.root && s.names.get(dir) != Some(&Node::Dir) {
                return Err(not_found());
            }
            let direct = |p: &Path| p.parent() == Some(dir);
            s.durable_names.retain(|p, _| !direct(p));
            let now: Vec<_> = s
                .names
                .iter()
                .filter(|(p, _)| direct(p))
                .map(|(p, n)| (p.clone(), n.clone()))
                .collect();
            s.durable_names.extend(now);
            Ok(())
        })
    }

    fn sync_fs(&self, path: &Path) -> io::Result<()> {
        self.call(path, |s| {
            for inode in &mut s.inodes {
                inode.sync();
            }
            s.durable_names = s.names.clone();
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ledgerfs-simfs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_synced_data_and_names_survive_a_crash() {
        let root = temp("crash");
        let fs = SimFs::adopt(&root, 1, Faults::default()).unwrap();
        let (a, b, d) = (root.join("a"), root.join("b"), root.join("d"));
        fs.write_file(&a, &[b"synced"], 0o644, true).unwrap();
        fs.sync_dir(&root).unwrap();
        fs.create_dir_all(&d).unwrap();
        fs.write_file(&d.join("x"), &[b"in an unsynced dir"], 0o644, true)
            .unwrap();
        fs.sync_dir(&d).unwrap();
        fs.write_file(&b, &[b"unsynced name"], 0o644, true).unwrap();
        fs.rename(&a, &root.join("a2")).unwrap();
        fs.crash().unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"synced", "the rename was not durable");
        assert!(!b.exists() && !root.join("a2").exists());
        assert!(!d.exists(), "its directory's name was never synced");
        // A synced file system keeps everything.
        fs.write_file(&b, &[b"kept"], 0o644, false).unwrap();
        fs.sync_fs(&root).unwrap();
        fs.crash().unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"kept");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn unsynced_writes_are_kept_dropped_or_torn_and_capacity_is_enforced() {
        let root = temp("torn");
        let fs = SimFs::adopt(
            &root,
            7,
            Faults {
                eio_ppm: 0,
                capacity: 1000,
            },
        )
        .unwrap();
        let f = root.join("seg");
        fs.create_zeroed(&f, 600).unwrap();
        fs.sync_dir(&root).unwrap();
        assert_eq!(
            fs.create_zeroed(&root.join("two"), 600).unwrap_err().raw_os_error(),
            Some(28)
        );
        let mut outcomes = std::collections::BTreeSet::new();
        for _ in 0..50 {
            // A write whose sync "failed": unsynced, so the cut decides.
            fs.set_faults(Faults {
                eio_ppm: 1_000_000,
                capacity: 1000,
            });
            let _ = fs.write_at_synced(&f, 10, &[0xAB; 8]);
            fs.set_faults(Faults::default());
            fs.crash().unwrap();
            let bytes = std::fs::read(&f).unwrap();
            outcomes.insert(bytes[10..18].iter().filter(|&&b| b == 0xAB).count());
            fs.write_at_synced(&f, 10, &[0; 8]).unwrap();
        }
        assert!(outcomes.contains(&0) && outcomes.contains(&8), "{outcomes:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
