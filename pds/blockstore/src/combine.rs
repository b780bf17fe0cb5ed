//! Write combining: the store appends its records block after block, so the
//! writes of one commit form one contiguous run; this layer gathers such a run
//! and hands it to the device as one write, instead of one request per record.
//!
//! Why: on the appliance every device request is a protected call into the
//! blk PD and a trap into the virtio device, a fixed cost that dominated the
//! commit of a batch (2,048 transfers made about 21 requests, one per tile
//! and bundle record). Combined, a commit is the run, the superblock and the
//! flush.
//!
//! It keeps [`BlockDevice`]'s contract for the store above it, since a write
//! held here is indistinguishable from one the device has not made durable
//! yet:
//! - a `read` overlapping the held run submits it first, so reads return the
//!   newest bytes;
//! - `flush` submits the run, then flushes;
//! - a write that does not continue the run (or would grow it past
//!   [`COMBINE_LIMIT`]) submits the run first;
//! - a write at a block inside the run replaces the run from there on (a
//!   retried checkpoint record lands where the failed one did);
//! - a failed submission keeps the run, so the store's retry (of a checkpoint
//!   swap) submits it whole again; [`Combined::discard`] drops it when the
//!   store abandons what it staged.
//!
//! A device error on a record surfaces at the next submission instead of at
//! the record's `put`: the store submits the run in `sync`, before the
//! checkpoint is signed, so such an error still fails the commit unsigned, as a
//! failed `put` did.

use alloc::vec::Vec;

use crate::device::{BlockDevice, DeviceError};

/// Most bytes held before a run is submitted anyway (a commit of 2,048
/// transfers is about 600 KB). Four MiB is also the appliance's DMA window.
pub const COMBINE_LIMIT: usize = 4 << 20;

/// A [`BlockDevice`] whose contiguous writes are gathered into one.
pub(crate) struct Combined<D> {
    inner: D,
    /// First block of the held run.
    start: u64,
    /// The held run: whole blocks, `run.len() % D::BLOCK_SIZE == 0`.
    run: Vec<u8>,
}

impl<D: BlockDevice> Combined<D> {
    pub(crate) fn new(inner: D) -> Self {
        Combined {
            inner,
            start: 0,
            run: Vec::new(),
        }
    }

    /// The device itself (tests cut power or damage media through it).
    #[cfg(test)]
    pub(crate) fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// The device, dropping a held run: a held run is never durable, so
    /// giving the device back loses nothing a flush vouched for.
    pub(crate) fn into_inner(self) -> D {
        self.inner
    }

    /// Drop the held run (the store abandoned the records in it).
    pub(crate) fn discard(&mut self) {
        self.run.clear();
    }

    fn end(&self) -> u64 {
        self.start + (self.run.len() / D::BLOCK_SIZE) as u64
    }

    /// Hand the held run to the device; on error it stays held.
    pub(crate) fn submit(&mut self) -> Result<(), DeviceError> {
        if !self.run.is_empty() {
            self.inner.write(self.start, &self.run)?;
            self.run.clear();
        }
        Ok(())
    }

    pub(crate) fn read(&mut self, block: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let last = block + (buf.len() / D::BLOCK_SIZE) as u64;
        if !self.run.is_empty() && block < self.end() && self.start < last {
            self.submit()?;
        }
        self.inner.read(block, buf)
    }

    pub(crate) fn write(&mut self, block: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let inside = !self.run.is_empty() && (self.start..=self.end()).contains(&block);
        if inside && (block - self.start) as usize * D::BLOCK_SIZE + buf.len() <= COMBINE_LIMIT {
            self.run.truncate((block - self.start) as usize * D::BLOCK_SIZE);
        } else {
            self.submit()?;
            self.start = block;
        }
        if buf.len() >= COMBINE_LIMIT {
            // Too long to hold: straight through (nothing is held now).
            return self.inner.write(block, buf);
        }
        self.run.extend_from_slice(buf);
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<(), DeviceError> {
        self.submit()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Records every request; fails writes while `fail` is set.
    #[derive(Default)]
    struct Log {
        blocks: Vec<[u8; 512]>,
        writes: Vec<(u64, usize)>,
        flushes: usize,
        fail: bool,
    }
    impl BlockDevice for Log {
        const BLOCK_SIZE: usize = 512;
        fn block_count(&self) -> u64 {
            64
        }
        fn read(&mut self, block: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
            for (i, b) in buf.chunks_mut(512).enumerate() {
                b.copy_from_slice(self.blocks.get(block as usize + i).map_or(&[0; 512], |b| b));
            }
            Ok(())
        }
        fn write(&mut self, block: u64, buf: &[u8]) -> Result<(), DeviceError> {
            if self.fail {
                return Err(DeviceError::Io);
            }
            self.writes.push((block, buf.len() / 512));
            for (i, b) in buf.chunks(512).enumerate() {
                let at = block as usize + i;
                if self.blocks.len() <= at {
                    self.blocks.resize(at + 1, [0; 512]);
                }
                self.blocks[at].copy_from_slice(b);
            }
            Ok(())
        }
        fn flush(&mut self) -> Result<(), DeviceError> {
            self.flushes += 1;
            Ok(())
        }
    }

    fn blocks(fill: u8, n: usize) -> Vec<u8> {
        vec![fill; n * 512]
    }

    #[test]
    fn contiguous_writes_reach_the_device_as_one() {
        let mut d = Combined::new(Log::default());
        d.write(2, &blocks(1, 1)).unwrap();
        d.write(3, &blocks(2, 2)).unwrap();
        d.write(5, &blocks(3, 1)).unwrap();
        assert!(d.inner.writes.is_empty(), "held until something needs them");
        d.write(0, &blocks(9, 1)).unwrap(); // a superblock: not contiguous
        d.flush().unwrap();
        assert_eq!(d.inner.writes, [(2, 4), (0, 1)]);
        assert_eq!(d.inner.flushes, 1);
    }

    #[test]
    fn a_read_of_held_blocks_sees_them() {
        let mut d = Combined::new(Log::default());
        d.write(2, &blocks(7, 2)).unwrap();
        let mut buf = blocks(0, 1);
        d.read(0, &mut buf).unwrap();
        assert!(d.inner.writes.is_empty(), "a read elsewhere leaves the run held");
        d.read(3, &mut buf).unwrap();
        assert_eq!(buf, blocks(7, 1));
        assert_eq!(d.inner.writes, [(2, 2)]);
    }

    #[test]
    fn a_write_inside_the_run_replaces_its_tail() {
        let mut d = Combined::new(Log::default());
        d.write(2, &blocks(1, 3)).unwrap();
        d.write(3, &blocks(2, 1)).unwrap();
        d.flush().unwrap();
        assert_eq!(d.inner.writes, [(2, 2)]);
        let mut buf = blocks(0, 2);
        d.read(2, &mut buf).unwrap();
        assert_eq!(buf, [blocks(1, 1), blocks(2, 1)].concat());
    }

    #[test]
    fn a_failed_submission_keeps_the_run_for_the_retry_and_discard_drops_it() {
        let mut d = Combined::new(Log::default());
        d.write(2, &blocks(1, 2)).unwrap();
        d.inner.fail = true;
        assert_eq!(d.flush(), Err(DeviceError::Io));
        assert_eq!(d.inner.flushes, 0, "no flush vouches for a failed write");
        d.inner.fail = false;
        d.write(4, &blocks(2, 1)).unwrap(); // the retried checkpoint record
        d.flush().unwrap();
        assert_eq!(d.inner.writes, [(2, 3)]);
        d.write(5, &blocks(3, 1)).unwrap();
        d.discard();
        d.flush().unwrap();
        assert_eq!(d.inner.writes, [(2, 3)], "a discarded run is never written");
    }

    #[test]
    fn runs_are_bounded() {
        let mut d = Combined::new(Log::default());
        let half = COMBINE_LIMIT / 512 / 2;
        d.write(2, &blocks(1, half)).unwrap();
        d.write(2 + half as u64, &blocks(2, half)).unwrap();
        d.write(2 + 2 * half as u64, &blocks(3, 1)).unwrap();
        d.flush().unwrap();
        assert_eq!(d.inner.writes, [(2, 2 * half), (2 + 2 * half as u64, 1)]);
        d.write(2, &blocks(4, 2 * half)).unwrap();
        assert_eq!(d.inner.writes.len(), 3, "a write of the limit goes straight through");
    }
}
