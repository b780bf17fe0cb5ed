//! The daemon's one reading of the wall clock, as Unix nanoseconds (the cores never read
//! a clock: the adapter passes them "now"). A clock before 1970 reads as 0.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix nanoseconds.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Now, in whole Unix seconds.
pub fn unix_secs() -> u64 {
    unix_nanos() / 1_000_000_000
}
