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
    /// The line was longer than the capacity and has been discarded; its first
    /// `capacity` bytes (for the command id a reply should carry).
    TooLong(&'a [u8]),
    /// Nothing to do.
    None,
}

/// A line being typed.
pub struct LineBuffer {
    bytes: Vec<u8>,
    capacity: usize,
    overflow: bool,
    complete: bool,
    /// Drop everything up to the next line end (the rest of a line typed while the
    /// image booted, whose start was discarded).
    skipping: bool,
}

impl LineBuffer {
    /// An empty line of at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        LineBuffer {
            bytes: Vec::with_capacity(capacity),
            capacity,
            overflow: false,
            complete: false,
            skipping: false,
        }
    }

    /// Drops the rest of the line being received, up to its line end.
    pub fn skip_line(&mut self) {
        self.bytes.clear();
        self.overflow = false;
        self.skipping = true;
    }

    /// The bytes of the line typed so far (echoed, not yet sent).
    pub fn partial(&self) -> &[u8] {
        if self.complete {
            &[]
        } else {
            &self.bytes
        }
    }

    /// Feeds one received byte.
    pub fn push(&mut self, byte: u8) -> Input<'_> {
        if self.complete {
            self.bytes.clear();
            self.complete = false;
        }
        match byte {
            b'\r' | b'\n' if core::mem::take(&mut self.skipping) => Input::None,
            _ if self.skipping => Input::None,
            b'\r' | b'\n' if core::mem::take(&mut self.overflow) => {
                self.complete = true;
                Input::TooLong(&self.bytes)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn feed(buf: &mut LineBuffer, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        for &b in bytes {
            match buf.push(b) {
                Input::Line(l) => lines.push(l.to_vec()),
                Input::TooLong(prefix) => lines.push([b"TOO LONG:", prefix].concat()),
                _ => {}
            }
        }
        lines
    }

    #[test]
    fn lines_edits_overflow_and_skipped_boot_input() {
        let mut buf = LineBuffer::new(8);
        assert_eq!(feed(&mut buf, b"stx\x08atus\r\n"), [b"status".to_vec()]);
        assert_eq!(feed(&mut buf, b"@a 123456789\r"), [b"TOO LONG:@a 12345".to_vec()]);
        assert_eq!(feed(&mut buf, b"ok\r"), [b"ok".to_vec()]);
        feed(&mut buf, b"sta");
        assert_eq!(buf.partial(), b"sta");
        buf.skip_line();
        assert_eq!(feed(&mut buf, b"tus\rstatus\r"), [b"status".to_vec()]);
        assert_eq!(buf.partial(), b"");
    }
}
