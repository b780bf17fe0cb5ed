//! The few concurrency primitives the ring uses (atomics, fences, an unsafe
//! cell, `Arc`), switched to `loom`'s model-checked versions when the unit
//! tests are built with `--cfg loom`.
//!
//! Must never: grow into a general abstraction layer, or hand out a raw
//! pointer that outlives the closure it was lent to (loom tracks accesses by
//! those closures).

#[cfg(not(all(loom, test)))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, Ordering};
#[cfg(all(loom, test))]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, Ordering};

#[cfg(all(any(feature = "alloc", test), not(all(loom, test))))]
pub(crate) use alloc::sync::Arc;
#[cfg(all(loom, test))]
pub(crate) use loom::sync::Arc;

/// An `UnsafeCell` whose accesses go through closures, so loom can check
/// them for data races.
#[cfg(not(all(loom, test)))]
#[repr(transparent)]
pub(crate) struct Cell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(all(loom, test)))]
impl<T> Cell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Cell(core::cell::UnsafeCell::new(value))
    }

    /// Lends a read pointer to `f`.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Lends a write pointer to `f`.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

/// loom's checked cell behind the same interface.
#[cfg(all(loom, test))]
pub(crate) struct Cell<T>(loom::cell::UnsafeCell<T>);

#[cfg(all(loom, test))]
impl<T> Cell<T> {
    pub(crate) fn new(value: T) -> Self {
        Cell(loom::cell::UnsafeCell::new(value))
    }

    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }

    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves no other access exists.
        self.0.with_mut(|p| unsafe { &mut *p })
    }
}

// The blocking ends (feature `std`): a mutex, a flag and thread parking.
#[cfg(all(any(feature = "std", test), not(all(loom, test))))]
pub(crate) use core::sync::atomic::AtomicBool;
#[cfg(all(loom, test))]
pub(crate) use loom::sync::atomic::AtomicBool;
#[cfg(all(loom, test))]
pub(crate) use loom::sync::{Condvar, Mutex};
#[cfg(all(loom, test))]
pub(crate) use loom::thread::{current as current_thread, park, Thread};
#[cfg(all(any(feature = "std", test), not(all(loom, test))))]
pub(crate) use std::sync::{Condvar, Mutex};
#[cfg(all(any(feature = "std", test), not(all(loom, test))))]
pub(crate) use std::thread::{current as current_thread, park, Thread};
