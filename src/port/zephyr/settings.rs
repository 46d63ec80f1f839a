//! Zephyr settings for the DPS assignment (feature `dps`), under the original's keys.
//!
//! The glue registers a static settings handler on the subtree `azure_iot_hub` (as the original
//! library) and hands every stored value to [`azhub_rs_settings_set`] while
//! [`load`] (`settings_load_subtree`) runs; the values are kept in a small static cache, which
//! [`ZephyrSettings`] reads. Writes go straight to `settings_save_one` / `settings_delete`
//! (real functions in Zephyr) and update the cache. [`ZephyrSettings`] is the core's
//! `SettingsStore`, so key layout, checks, write order and the load rule are the core's
//! (`crate::dps::settings`); the store itself finds a key's C name and cache slot by the
//! [`Key`]'s index, without comparing strings.

use core::ffi::{c_char, c_int, c_void};

use super::KMutex;
use super::LOG_TRANSPORT;
use crate::dps::settings::{Key, SettingsStore, KEY_HOSTNAME, SUBTREE};
use crate::sink::copy;

/// Longest value cached (host names and device IDs are at most 128 bytes in the core).
const VALUE_MAX: usize = 256;

/// The cached values of the host name (`Key::Hostname as usize`, 0) and the device ID (1).
struct Cache {
    /// Each value's length (`None`: absent).
    len: [Option<u16>; 2],
    buf: [[u8; VALUE_MAX]; 2],
}

impl Cache {
    /// Sets value `i` (a value longer than the cache is invalid for the core anyway: absent; the
    /// length keys, 2 and 3, have no slot). Inlined into its two callers (flash, measured: the
    /// loader always stores, so its copy has no delete).
    #[inline(always)]
    fn set(&mut self, i: usize, value: Option<&[u8]>) {
        let (Some(len), Some(buf)) = (self.len.get_mut(i), self.buf.get_mut(i)) else {
            return;
        };
        *len = None;
        if let Some(v) = value {
            if let Some(dst) = buf.get_mut(..v.len()) {
                copy(dst, v);
                *len = Some(v.len() as u16);
            }
        }
    }
}

// Zero initial bytes: in .bss, not in flash.
static CACHE: KMutex<Cache, { super::sys::MUTEX_SETTINGS }> = KMutex::new(Cache {
    len: [None; 2],
    buf: [[0; VALUE_MAX]; 2],
});

extern "C" {
    fn settings_save_one(name: *const c_char, value: *const c_void, len: usize) -> c_int;
    fn settings_delete(name: *const c_char) -> c_int;
    fn azhub_z_settings_load() -> c_int;
}

/// The core's keys, NUL-terminated for Zephyr (no copy per call), in the order of their
/// [`Key`] index: the cached values' (0, 1), then the original's length keys. Key `i` is
/// `C_KEY_TEXT[C_KEY_AT[i]..C_KEY_AT[i + 1]]` ([`c_key`]; one string and a few bytes, not a
/// table of slices); checked against [`Key::as_str`] at compile time.
const C_KEY_TEXT: &[u8] = b"azure_iot_hub/hostname\0azure_iot_hub/device_id\0azure_iot_hub/hostname_len\0azure_iot_hub/device_id_len\0";
const C_KEY_AT: [u8; 5] = [0, 23, 47, 74, 102];

/// The C name of `key`: [`C_KEY_TEXT`] from the key's start, which C reads up to the key's NUL
/// (its end need not be looked up). Inlined (flash, measured).
#[inline(always)]
fn c_key(key: Key) -> Option<&'static [u8]> {
    C_KEY_TEXT.get(usize::from(*C_KEY_AT.get(key as usize)?)..)
}
/// `azure_iot_hub/`.
const PREFIX_LEN: usize = SUBTREE.len() + 1;

/// Called by the glue's settings handler for every key under `azure_iot_hub` while loading,
/// with the key below the subtree (`hostname`...), as Zephyr's settings hand it to the handler.
///
/// # Safety
///
/// `key` is a NUL-terminated string; `value` is not NULL and points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn azhub_rs_settings_set(
    key: *const c_char,
    value: *const c_void,
    len: usize,
) {
    // No NULL tests: the glue (settings.c, the only caller) refuses a NULL key before it reads
    // the value, and passes its own buffer.
    // SAFETY: the glue passes Zephyr's NUL-terminated key, valid for the call.
    let key = unsafe { core::ffi::CStr::from_ptr(key) }.to_bytes();
    // SAFETY: the glue passes its value buffer (never NULL, a byte array) holding the `len`
    // bytes it has just read, valid for the call.
    let bytes = unsafe { core::slice::from_raw_parts(value.cast::<u8>(), len) };
    // The length keys have no slot.
    if let Some(i) = cache_slot(key) {
        CACHE.lock().set(i, Some(bytes));
    }
}

/// The cache slot of a key the glue hands over, below the subtree as Zephyr's settings pass it
/// to the subtree's handler (the glue's contract): that of `hostname` or `device_id` (the
/// cached keys, 0 and 1); none for the length keys and any other key. The only place a key is
/// found by its name: one compare, with the name of that length (cut from the core's keys at
/// compile time; the two differ in length).
fn cache_slot(name: &[u8]) -> Option<usize> {
    const HOSTNAME: &[u8] = below_subtree(Key::Hostname);
    const DEVICE_ID: &[u8] = below_subtree(Key::DeviceId);
    const _: () = assert!(HOSTNAME.len() != DEVICE_ID.len());
    let (key, candidate) = if name.len() == HOSTNAME.len() {
        (Key::Hostname, HOSTNAME)
    } else {
        (Key::DeviceId, DEVICE_ID)
    };
    (name == candidate).then_some(key as usize)
}

/// `azure_iot_hub/` (the subtree and its separator), the first key's start.
const PREFIX: &[u8] = KEY_HOSTNAME.as_bytes().split_at(PREFIX_LEN).0;

/// The name of `key` below the subtree (`hostname`...).
const fn below_subtree(key: Key) -> &'static [u8] {
    let (prefix, name) = key.as_str().as_bytes().split_at(PREFIX_LEN);
    assert!(same(prefix, PREFIX));
    name
}

/// Initialises the settings subsystem and loads the subtree into the cache (forgetting what
/// the cache held).
pub fn load() -> Result<(), i32> {
    CACHE.lock().len = [None; 2];
    // SAFETY: a glue function without preconditions (it calls back into
    // `azhub_rs_settings_set`, which takes the cache lock: not held here).
    let rc = unsafe { azhub_z_settings_load() };
    if rc != 0 {
        ::log::error!(target: LOG_TRANSPORT, "settings load failed: {rc}");
        return Err(rc);
    }
    Ok(())
}

/// The settings store of the DPS assignment (see the module documentation).
#[derive(Debug, Default)]
pub struct ZephyrSettings;

impl SettingsStore for ZephyrSettings {
    type Error = i32;

    /// The cached value (the length keys are never cached: `None`).
    fn load(&mut self, key: Key, buf: &mut [u8]) -> Result<Option<usize>, i32> {
        let cache = CACHE.lock();
        let i = key as usize;
        let (Some(&Some(len)), Some(v)) = (cache.len.get(i), cache.buf.get(i)) else {
            return Ok(None);
        };
        let len = usize::from(len);
        let n = len.min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), v.get(..n)) {
            copy(dst, src);
        }
        Ok(Some(len))
    }

    /// `settings_save_one`, then the cache.
    fn save(&mut self, key: Key, value: &[u8]) -> Result<(), i32> {
        write(key, Some(value))
    }

    /// `settings_delete` (a key that does not exist too), then the cache.
    fn delete(&mut self, key: Key) -> Result<(), i32> {
        write(key, None)
    }
}

/// Saves (`Some`) or deletes `key` in the settings subsystem, then updates the cache: one
/// called copy of the key lookup, the error check and the cache update for both writes.
#[inline(never)]
fn write(key: Key, value: Option<&[u8]>) -> Result<(), i32> {
    let Some(name) = c_key(key) else {
        return Err(-(super::bindings::EINVAL as i32));
    };
    let name = name.as_ptr().cast();
    let rc = match value {
        // SAFETY: `name` is NUL-terminated, `v` valid for its length, both for the call.
        Some(v) => unsafe { settings_save_one(name, v.as_ptr().cast(), v.len()) },
        // SAFETY: `name` is NUL-terminated and valid for the call.
        None => match unsafe { settings_delete(name) } {
            // Deleting a key that does not exist is not an error.
            rc if rc == -(super::bindings::ENOENT as i32) => 0,
            rc => rc,
        },
    };
    if rc != 0 {
        return Err(rc);
    }
    CACHE.lock().set(key as usize, value);
    Ok(())
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// The C keys are the core's keys, in the order of their index.
const _: () = {
    let mut i = 0;
    while i < Key::ALL.len() {
        let key = Key::ALL[i];
        assert!(key as usize == i);
        let (a, k) = (C_KEY_AT[i] as usize, key.as_str().as_bytes());
        assert!(C_KEY_AT[i + 1] as usize == a + k.len() + 1 && C_KEY_TEXT[a + k.len()] == 0);
        assert!(same(C_KEY_TEXT.split_at(a).1.split_at(k.len()).0, k));
        i += 1;
    }
    assert!(C_KEY_AT[Key::ALL.len()] as usize == C_KEY_TEXT.len());
};
