//! Static storage and locking without a heap: a mutex over one of the glue's kernel mutexes,
//! and buffers handed out once.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use super::sys;

/// A mutex over the glue's k_mutex `id`, protecting a value in static storage.
///
/// Zephyr's k_mutex is recursive, which would hand out two `&mut` to the same value: the port
/// therefore never locks a `KMutex` it already holds (the worker drops the link lock before it
/// calls the handler, as on Linux), and `lock()` checks it with `held`.
// `repr(C)` with `raw` first: a mutex's address is its `raw`'s, so every lock and unlock is a
// call of the one non-generic copy with the pointer the caller already has.
#[repr(C)]
pub(crate) struct KMutex<T> {
    raw: RawKMutex,
    value: UnsafeCell<T>,
}

/// What locking needs, whatever the value.
struct RawKMutex {
    id: core::ffi::c_int,
    held: AtomicBool,
}

impl RawKMutex {
    #[inline(never)]
    fn lock(&self) {
        // SAFETY: the id is one of the glue's mutexes; waiting forever is allowed from threads.
        let rc = unsafe { sys::azhub_z_mutex_lock(self.id, -1) };
        // The details go to the log; the panic messages are plain strings, so that with logging
        // off (CONFIG_LOG=n) no formatting code is linked for them.
        if rc != 0 {
            ::log::error!("k_mutex_lock({}) failed: {rc}", self.id);
            panic!("k_mutex_lock failed");
        }
        if self.held.swap(true, Ordering::Acquire) {
            // Recursive locking on the same thread (any other thread would have waited above).
            ::log::error!("recursive lock of mutex {}", self.id);
            panic!("recursive lock of a mutex");
        }
    }

    #[inline(never)]
    fn unlock(&self) {
        self.held.store(false, Ordering::Release);
        // SAFETY: this thread holds the mutex (taken in `lock`).
        unsafe { sys::azhub_z_mutex_unlock(self.id) };
    }
}

// SAFETY: the value is only reached through a guard, and a guard exists only while the kernel
// mutex is held by the current thread (and `held` refuses a second guard on that thread).
unsafe impl<T: Send> Sync for KMutex<T> {}

impl<T> KMutex<T> {
    pub(crate) const fn new(id: core::ffi::c_int, value: T) -> Self {
        KMutex {
            raw: RawKMutex {
                id,
                held: AtomicBool::new(false),
            },
            value: UnsafeCell::new(value),
        }
    }

    #[inline(always)]
    pub(crate) fn lock(&self) -> KGuard<'_, T> {
        self.raw.lock();
        KGuard { m: self }
    }
}

pub(crate) struct KGuard<'a, T> {
    m: &'a KMutex<T>,
}

impl<T> Deref for KGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only reference while the kernel mutex is held.
        unsafe { &*self.m.value.get() }
    }
}

impl<T> DerefMut for KGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow exclusive.
        unsafe { &mut *self.m.value.get() }
    }
}

impl<T> Drop for KGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.m.raw.unlock();
    }
}

/// A buffer in static storage, handed out once as `&'static mut`.
pub(crate) struct StaticBuf<const N: usize> {
    taken: AtomicBool,
    buf: UnsafeCell<[u8; N]>,
}

// SAFETY: the buffer is reachable only through the single `&'static mut` that `take` returns.
unsafe impl<const N: usize> Sync for StaticBuf<N> {}

impl<const N: usize> StaticBuf<N> {
    pub(crate) const fn new() -> Self {
        StaticBuf {
            taken: AtomicBool::new(false),
            buf: UnsafeCell::new([0; N]),
        }
    }

    /// True once [`StaticBuf::take`] handed the buffer out.
    pub(crate) fn is_taken(&self) -> bool {
        self.taken.load(Ordering::Acquire)
    }

    /// The buffer, the first time; `None` afterwards.
    // The `&'static mut` comes from the `UnsafeCell`, handed out once (see SAFETY below).
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn take(&'static self) -> Option<&'static mut [u8]> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: `taken` was false, so no other reference to the buffer was ever created, and
        // none will be: this is the only one, for the rest of the program.
        Some(unsafe { &mut *self.buf.get() })
    }
}
