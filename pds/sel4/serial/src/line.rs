//! Line editing for the console: collects typed bytes into a command line, echoing
//! them, with backspace; a line ends at CR or LF.
//!
//! Must never: grow beyond its capacity (longer lines are refused whole).

use alloc::vec::Vec;

/// What one received byte did.
pub enum Input<'a> {
    /// A byte was added to the line: echo it.
    Echo(u8),
    /// The last byte was removed: erase it on the terminal.
    Erase,
    /// A complete, non-empty line.
    Line(&'a [u8]),
    /// The line was longer than the capacity and has been discarded.
    TooLong,
    /// Nothing to do.
    None,
}

/// A line being typed.
pub struct LineBuffer {
    bytes: Vec<u8>,
    capacity: usize,
    overflow: bool,
    complete: bool,
}

impl LineBuffer {
    /// An empty line of at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        LineBuffer {
            bytes: Vec::with_capacity(capacity),
            capacity,
            overflow: false,
            complete: false,
        }
    }

    /// Feeds one received byte.
    pub fn push(&mut self, byte: u8) -> Input<'_> {
        if self.complete {
            self.bytes.clear();
            self.complete = false;
        }
        match byte {
            b'\r' | b'\n' if core::mem::take(&mut self.overflow) => {
                self.bytes.clear();
                Input::TooLong
            }
            b'\r' | b'\n' if self.bytes.is_empty() => Input::None,
            b'\r' | b'\n' => {
                self.complete = true;
                Input::Line(&self.bytes)
            }
            0x08 | 0x7f if self.bytes.pop().is_some() => Input::Erase,
            0x08 | 0x7f => Input::None,
            _ if self.bytes.len() == self.capacity || self.overflow => {
                self.overflow = true;
                Input::None
            }
            _ => {
                self.bytes.push(byte);
                Input::Echo(byte)
            }
        }
    }
}
