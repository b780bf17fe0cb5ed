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

// The blocking ends (feature `std`): a mutex, a condvar, a flag and a parker.
#[cfg(all(any(feature = "std", test), not(all(loom, test))))]
pub(crate) use core::sync::atomic::AtomicBool;
#[cfg(all(loom, test))]
pub(crate) use loom::sync::atomic::AtomicBool;
#[cfg(all(loom, test))]
pub(crate) use loom::sync::{Condvar, Mutex};
#[cfg(all(any(feature = "std", test), not(all(loom, test))))]
pub(crate) use std::sync::{Condvar, Mutex};

/// Puts one ring end's thread to sleep and wakes it: the thread that last
/// [`Parker::register`]ed is parked and unparked with std's park token (a
/// wake-up sent before the sleep is not lost).
#[cfg(all(any(feature = "std", test), not(all(loom, test))))]
pub(crate) struct Parker(Mutex<Option<std::thread::Thread>>);

#[cfg(all(any(feature = "std", test), not(all(loom, test))))]
impl Parker {
    pub(crate) fn new() -> Self {
        Parker(Mutex::new(None))
    }

    /// The calling thread is the one to wake from now on.
    pub(crate) fn register(&self) {
        *self.0.lock().expect("parker lock") = Some(std::thread::current());
    }

    /// Sleeps until woken (or spuriously: callers re-check).
    pub(crate) fn park(&self) {
        std::thread::park();
    }

    /// Wakes the registered thread, if any.
    pub(crate) fn unpark(&self) {
        if let Some(thread) = self.0.lock().expect("parker lock").as_ref() {
            thread.unpark();
        }
    }
}

/// The same parker for loom: a sticky token behind a mutex and condvar, which
/// is what std's park token is (loom's own park trips an internal assertion).
#[cfg(all(loom, test))]
pub(crate) struct Parker {
    /// (registered, token): like std, a wake-up before registration is dropped.
    token: Mutex<(bool, bool)>,
    cv: Condvar,
}

#[cfg(all(loom, test))]
impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            token: Mutex::new((false, false)),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn register(&self) {
        self.token.lock().unwrap().0 = true;
    }

    pub(crate) fn park(&self) {
        let mut token = self.token.lock().unwrap();
        while !token.1 {
            token = self.cv.wait(token).unwrap();
        }
        token.1 = false;
    }

    pub(crate) fn unpark(&self) {
        let mut token = self.token.lock().unwrap();
        if token.0 {
            token.1 = true;
            self.cv.notify_one();
        }
    }
}
