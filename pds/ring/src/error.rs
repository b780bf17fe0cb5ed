//! The ring's one error type, with stable snake_case codes.
//!
//! Must never: change an existing code (adapters and metrics match on
//! them), or grow variants that carry slot contents.

use core::fmt;

/// Why a ring operation did not move an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RingError {
    /// The ring holds `capacity` items; the producer must wait.
    Full,
    /// The ring holds no item; the consumer must wait.
    Empty,
    /// The peer published an impossible index (it moved backwards, or more
    /// than `capacity` items apart). This side has stopped using the ring
    /// for good and every later call returns `Corrupt`.
    Corrupt,
    /// The slot count is not a power of two between 1 and 2^31.
    BadCapacity,
    /// The message is longer than the queue's buffers
    /// ([`MessageSender::max_len`](crate::MessageSender::max_len)): a larger region
    /// (system.xml) or a smaller message is needed; nothing was sent.
    TooLong,
}

impl RingError {
    /// Stable machine-readable code for logs, metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            RingError::Full => "full",
            RingError::Empty => "empty",
            RingError::Corrupt => "corrupt",
            RingError::BadCapacity => "bad_capacity",
            RingError::TooLong => "too_long",
        }
    }
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RingError::Full => "ring is full",
            RingError::Empty => "ring is empty",
            RingError::Corrupt => "peer published an impossible ring index; ring abandoned",
            RingError::BadCapacity => "ring capacity must be a power of two in 1..=2^31",
            RingError::TooLong => "message longer than the queue's buffers",
        };
        write!(f, "{}: {}", self.code(), text)
    }
}

impl core::error::Error for RingError {}
