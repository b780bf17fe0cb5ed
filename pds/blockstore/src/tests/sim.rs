//! A simulated block device with a volatile write cache, for tests only.
//!
//! It keeps two images: `current` (what reads return) and `durable` (what a
//! power cut keeps). Writes land in `current` and a pending list; a completed
//! flush makes them durable. A power cut can be armed at any device
//! operation (each block written and each flush is one operation); the
//! interrupted write is torn. [`Sim::crash`] then builds the image a reboot
//! sees, under a [`CrashMode`]: unflushed writes all lost, kept in issue
//! order up to a random point, or reordered and cut at a random point, with
//! the next one torn at a random byte. It can also fail one operation, or
//! refuse writes past a block with `NoSpace` (thin provisioning).

use std::collections::HashMap;
use std::vec;
use std::vec::Vec;

use crate::device::{BlockDevice, DeviceError};

/// A deterministic SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// What survives a power cut of the writes issued since the last completed flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// None of them; only the write in flight lands, torn.
    LoseUnflushed,
    /// A random prefix, in issue order; the next one lands torn.
    InOrder,
    /// A random prefix of a random permutation; the next one lands torn.
    Reorder,
}

/// The simulated device; `BS` is its block size.
#[derive(Clone, Debug)]
pub struct Sim<const BS: usize> {
    count: u64,
    current: HashMap<u64, Vec<u8>>,
    durable: HashMap<u64, Vec<u8>>,
    /// Block writes since the last completed flush, in issue order.
    pending: Vec<(u64, Vec<u8>)>,
    /// The block write the power cut interrupted.
    in_flight: Option<(u64, Vec<u8>)>,
    /// Operations issued so far (block writes and flushes).
    pub ops: u64,
    /// Cut the power when operation number `cut_at` starts.
    cut_at: Option<u64>,
    /// Power is off: every request fails.
    pub dead: bool,
    /// Fail operation number `.0` once with `.1` (it has no effect).
    fail_at: Option<(u64, DeviceError)>,
    /// Writes to blocks at or past this fail with `NoSpace`.
    pub no_space_from: Option<u64>,
}

/// The default 4 KiB-block device.
pub type SimDevice = Sim<4096>;

impl<const BS: usize> Sim<BS> {
    /// A blank (all-zero) device of `count` blocks.
    pub fn new(count: u64) -> Self {
        Sim {
            count,
            current: HashMap::new(),
            durable: HashMap::new(),
            pending: Vec::new(),
            in_flight: None,
            ops: 0,
            cut_at: None,
            dead: false,
            fail_at: None,
            no_space_from: None,
        }
    }

    /// Cut the power when operation `ops + after` starts (0: the next one).
    pub fn arm_cut(&mut self, after: u64) {
        self.cut_at = Some(self.ops + after);
    }

    /// Fail operation `ops + after` once with `err`.
    pub fn arm_failure(&mut self, after: u64, err: DeviceError) {
        self.fail_at = Some((self.ops + after, err));
    }

    /// Cancel an armed failure that was not reached.
    pub fn disarm_failure(&mut self) {
        self.fail_at = None;
    }

    /// Block `b` as reads see it now.
    pub fn block(&self, b: u64) -> Vec<u8> {
        self.current.get(&b).cloned().unwrap_or_else(|| vec![0; BS])
    }

    /// Overwrite block `b` durably behind the store's back (media damage).
    pub fn poke(&mut self, b: u64, f: impl FnOnce(&mut [u8])) {
        let mut data = self.block(b);
        f(&mut data);
        self.current.insert(b, data.clone());
        self.durable.insert(b, data);
    }

    /// The durable image as one byte string (a disk image file).
    pub fn to_flat(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.count as usize * BS];
        for (b, data) in &self.durable {
            out[*b as usize * BS..(*b as usize + 1) * BS].copy_from_slice(data);
        }
        out
    }

    /// A device of `count` blocks holding `flat` (cut or zero-padded).
    pub fn from_flat(flat: &[u8], count: u64) -> Self {
        let mut sim = Sim::new(count);
        for b in 0..count {
            let at = b as usize * BS;
            if at + BS <= flat.len() && flat[at..at + BS].iter().any(|&x| x != 0) {
                sim.poke(b, |d| d.copy_from_slice(&flat[at..at + BS]));
            }
        }
        sim
    }

    /// Writes not yet made durable by a flush.
    pub fn pending_writes(&self) -> usize {
        self.pending.len()
    }

    /// The image a reboot finds after the power is cut now.
    pub fn crash(&self, mode: CrashMode, rng: &mut Rng) -> Self {
        let mut image = self.durable.clone();
        let mut order: Vec<&(u64, Vec<u8>)> = self.pending.iter().collect();
        let keep = match mode {
            CrashMode::LoseUnflushed => 0,
            CrashMode::InOrder => rng.below(order.len() as u64 + 1) as usize,
            CrashMode::Reorder => {
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.below(i as u64 + 1) as usize);
                }
                rng.below(order.len() as u64 + 1) as usize
            }
        };
        for (b, data) in &order[..keep] {
            image.insert(*b, data.clone());
        }
        let torn = match mode {
            CrashMode::LoseUnflushed => self.in_flight.as_ref(),
            _ => order.get(keep).copied().or(self.in_flight.as_ref()),
        };
        if let Some((b, new)) = torn {
            let mut data = image.get(b).cloned().unwrap_or_else(|| vec![0; BS]);
            let at = rng.below(BS as u64 + 1) as usize;
            data[..at].copy_from_slice(&new[..at]);
            image.insert(*b, data);
        }
        Sim {
            current: image.clone(),
            durable: image,
            ..Sim::new(self.count)
        }
    }

    /// Start one operation: the power cut and injected failures happen here.
    fn begin_op(&mut self) -> Result<(), DeviceError> {
        if self.dead {
            return Err(DeviceError::Io);
        }
        let op = self.ops;
        self.ops += 1;
        if self.cut_at == Some(op) {
            self.dead = true;
            return Err(DeviceError::Io);
        }
        if let Some((at, err)) = self.fail_at {
            if at == op {
                self.fail_at = None;
                return Err(err);
            }
        }
        Ok(())
    }

    fn check_shape(&self, block: u64, len: usize) -> Result<u64, DeviceError> {
        assert!(len > 0 && len % BS == 0, "requests are whole blocks");
        let n = (len / BS) as u64;
        if block.checked_add(n).is_none_or(|end| end > self.count) {
            return Err(DeviceError::OutOfRange);
        }
        Ok(n)
    }
}

impl<const BS: usize> BlockDevice for Sim<BS> {
    const BLOCK_SIZE: usize = BS;

    fn block_count(&self) -> u64 {
        self.count
    }

    fn read(&mut self, block: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        if self.dead {
            return Err(DeviceError::Io);
        }
        let n = self.check_shape(block, buf.len())?;
        for i in 0..n {
            let dst = &mut buf[i as usize * BS..(i as usize + 1) * BS];
            match self.current.get(&(block + i)) {
                Some(d) => dst.copy_from_slice(d),
                None => dst.fill(0),
            }
        }
        Ok(())
    }

    fn write(&mut self, block: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let n = self.check_shape(block, buf.len())?;
        for i in 0..n {
            let b = block + i;
            let data = buf[i as usize * BS..(i as usize + 1) * BS].to_vec();
            let was_dead = self.dead;
            if let Err(e) = self.begin_op() {
                if self.dead && !was_dead {
                    self.in_flight = Some((b, data)); // the write the cut interrupted
                }
                return Err(e);
            }
            if self.no_space_from.is_some_and(|from| b >= from) {
                return Err(DeviceError::NoSpace);
            }
            self.current.insert(b, data.clone());
            self.pending.push((b, data));
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        self.begin_op()?;
        for (b, data) in self.pending.drain(..) {
            self.durable.insert(b, data);
        }
        Ok(())
    }
}
