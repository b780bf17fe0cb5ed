//! The deterministic simulator of the hosted write pipeline (TigerBeetle's VOPR is the
//! model): the real cores and the daemon's storage code, stepped by a seeded scheduler
//! on a simulated file system that loses what was not synced, tears writes and fails
//! with `EIO`/`ENOSPC`. `SEED=<n>` replays one trial exactly. See [`trial`].

pub mod rng;
pub mod simfs;
pub mod trial;

/// Where trials put their stores: a tmpfs when there is one (trials write a lot).
pub fn scratch_dir() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}
