//! Static storage and locking without a heap: a mutex over one of the glue's kernel mutexes,
//! and buffers handed out once.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use super::sys;

/// A mutex over the glue's k_mutex `ID`, protecting a value in static storage. The id is in the
/// type, not a field, so that a static whose value starts as zero bytes lives in `.bss` (RAM
/// only) and not in `.data` (RAM plus a flash copy of its initial bytes).
///
/// Zephyr's k_mutex is recursive, which would hand out two `&mut` to the same value: the port
/// therefore never locks a `KMutex` it already holds (the worker drops the link lock before it
/// calls the handler, as on Linux), and `lock()` checks it with `held`.
pub(crate) struct KMutex<T, const ID: usize> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, and a guard exists only while the kernel
// mutex is held by the current thread (and `held` refuses a second guard on that thread).
unsafe impl<T: Send, const ID: usize> Sync for KMutex<T, ID> {}

impl<T, const ID: usize> KMutex<T, ID> {
    pub(crate) const fn new(value: T) -> Self {
        KMutex {
            held: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> KGuard<'_, T, ID> {
        raw_lock(ID, &self.held);
        KGuard { m: self }
    }
}

/// Locking, whatever the value and the id: one non-generic copy that every `lock()` calls.
#[inline(never)]
fn raw_lock(id: usize, held: &AtomicBool) {
    // SAFETY: the id is one of the glue's mutexes; the lock waits forever, which is allowed
    // from threads (and so cannot fail: k_mutex_lock() with K_FOREVER returns 0).
    unsafe { sys::azhub_z_mutex_lock(id) };
    // The details go to the log; the panic message is a plain string, so that with logging
    // off (CONFIG_LOG=n) no formatting code is linked for it.
    if held.swap(true, Ordering::Acquire) {
        // Recursive locking on the same thread (any other thread would have waited above).
        ::log::error!("recursive lock of mutex {id}");
        panic!("recursive lock of a mutex");
    }
}

/// Unlocking: one non-generic copy, as for [`raw_lock`].
#[inline(never)]
fn raw_unlock(id: usize, held: &AtomicBool) {
    held.store(false, Ordering::Release);
    // SAFETY: this thread holds the mutex (taken in `raw_lock`).
    unsafe { sys::azhub_z_mutex_unlock(id) };
}

pub(crate) struct KGuard<'a, T, const ID: usize> {
    m: &'a KMutex<T, ID>,
}

impl<T, const ID: usize> Deref for KGuard<'_, T, ID> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only reference while the kernel mutex is held.
        unsafe { &*self.m.value.get() }
    }
}

impl<T, const ID: usize> DerefMut for KGuard<'_, T, ID> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow exclusive.
        unsafe { &mut *self.m.value.get() }
    }
}

impl<T, const ID: usize> Drop for KGuard<'_, T, ID> {
    #[inline]
    fn drop(&mut self) {
        raw_unlock(ID, &self.m.held);
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

    /// The buffer, the first time; `None` afterwards.
    // The `&'static mut` comes from the `UnsafeCell`, handed out once (see SAFETY below).
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn take(&'static self) -> Option<&'static mut [u8]> {
        if !self.claim() {
            return None;
        }
        // SAFETY: `taken` was false, so no other reference to the buffer was ever created, and
        // none will be: this is the only one, for the rest of the program.
        Some(unsafe { &mut *self.buf.get() })
    }

    /// True the first time: the caller then has the buffer for good, to reach through
    /// [`StaticBuf::ptr`] (a handle type that stands for it, made once after the claim).
    pub(crate) fn claim(&self) -> bool {
        !self.taken.swap(true, Ordering::AcqRel)
    }

    /// The buffer's address (see [`StaticBuf::claim`]).
    pub(crate) fn ptr(&self) -> *mut [u8; N] {
        self.buf.get()
    }

    /// True once [`StaticBuf::take`] handed the buffer out (or [`StaticBuf::claim`] claimed it).
    /// Relaxed: a caller that needs what was done after the take to be visible synchronises through a lock of its own.
    pub(crate) fn is_taken(&self) -> bool {
        self.taken.load(Ordering::Relaxed)
    }
}

/// A buffer in static storage lent to one user at a time, and given back when the [`Lent`]
/// handle is dropped: the receive buffer that the hub's connections and DPS registrations share
/// in builds with DPS, as the original's share the MQTT helper's buffers.
#[cfg(feature = "dps")]
#[repr(C)] // the buffer first: a handle's pointer is the buffer's address, no offset to add
pub(crate) struct LentBuf<const N: usize> {
    buf: UnsafeCell<[u8; N]>,
    lent: AtomicBool,
}

// SAFETY: the buffer is reachable only through the one `Lent` that exists while `lent` is set.
#[cfg(feature = "dps")]
unsafe impl<const N: usize> Sync for LentBuf<N> {}

#[cfg(feature = "dps")]
impl<const N: usize> LentBuf<N> {
    pub(crate) const fn new() -> Self {
        LentBuf {
            buf: UnsafeCell::new([0; N]),
            lent: AtomicBool::new(false),
        }
    }

    /// The buffer, unless it is lent already.
    pub(crate) fn lend(&'static self) -> Option<Lent<N>> {
        if self.lent.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(Lent { from: self })
    }
}

/// The sole access to a [`LentBuf`] while it lives; dropping it gives the buffer back. One
/// pointer: smaller to move and to keep than the slice itself.
#[cfg(feature = "dps")]
pub(crate) struct Lent<const N: usize> {
    from: &'static LentBuf<N>,
}

#[cfg(feature = "dps")]
impl<const N: usize> AsRef<[u8]> for Lent<N> {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `lend` creates one `Lent` at a time (the swap of `lent`), and only a `Lent`
        // reaches the buffer; the reference lives no longer than this borrow of it.
        unsafe { &*self.from.buf.get() }
    }
}

#[cfg(feature = "dps")]
impl<const N: usize> AsMut<[u8]> for Lent<N> {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_ref`; the exclusive borrow of the only `Lent` makes this the only
        // reference to the buffer while it lives.
        unsafe { &mut *self.from.buf.get() }
    }
}

#[cfg(feature = "dps")]
impl<const N: usize> Drop for Lent<N> {
    fn drop(&mut self) {
        self.from.lent.store(false, Ordering::Release);
    }
}
