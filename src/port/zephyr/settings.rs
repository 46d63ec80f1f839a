//! Zephyr settings for the DPS assignment (feature `dps`), under the original's keys.
//!
//! The glue registers a static settings handler on the subtree `azure_iot_hub` (as the original
//! library) and hands every stored value to [`azhub_rs_settings_set`] while
//! [`load`] (`settings_load_subtree`) runs; the values are kept in a small static cache, which
//! [`ZephyrSettings`] reads. Writes go straight to `settings_save_one` / `settings_delete`
//! (real functions in Zephyr) and update the cache. Key layout, checks and write order are the
//! core's (`crate::dps::settings`).

use core::ffi::{c_char, c_int, c_void};

use super::dps::BssMutex;
use super::LOG_TRANSPORT;
use crate::dps::settings::{
    SettingsStore, KEY_DEVICE_ID, KEY_DEVICE_ID_LEN, KEY_HOSTNAME, KEY_HOSTNAME_LEN, SUBTREE,
};

/// Longest value cached (host names and device IDs are at most 128 bytes in the core).
const VALUE_MAX: usize = 256;

/// The cached values of the host name (0) and the device ID (1).
struct Cache {
    /// Each value's length (`None`: absent).
    len: [Option<u16>; 2],
    buf: [[u8; VALUE_MAX]; 2],
}

impl Cache {
    /// Sets value `i` (a value longer than the cache is invalid for the core anyway: absent).
    fn set(&mut self, i: usize, value: Option<&[u8]>) {
        let (Some(len), Some(buf)) = (self.len.get_mut(i), self.buf.get_mut(i)) else {
            return;
        };
        *len = None;
        if let Some(v) = value {
            if let Some(dst) = buf.get_mut(..v.len()) {
                dst.copy_from_slice(v);
                *len = Some(v.len() as u16);
            }
        }
    }
}

// Zero initial bytes: in .bss, not in flash.
static CACHE: BssMutex<Cache, { super::sys::MUTEX_SETTINGS }> = BssMutex::new(Cache {
    len: [None; 2],
    buf: [[0; VALUE_MAX]; 2],
});

extern "C" {
    fn settings_save_one(name: *const c_char, value: *const c_void, len: usize) -> c_int;
    fn settings_delete(name: *const c_char) -> c_int;
    fn azhub_z_settings_load() -> c_int;
}

/// The keys the core reads, writes and deletes, NUL-terminated for Zephyr (no copy per call):
/// the cached values' (0, 1), then the original's length keys. Key `i` is
/// `C_KEY_TEXT[C_KEY_AT[i]..C_KEY_AT[i + 1]]` ([`c_key_at`]; one string and a few bytes, not a
/// table of slices).
const C_KEY_TEXT: &[u8] = b"azure_iot_hub/hostname\0azure_iot_hub/device_id\0azure_iot_hub/hostname_len\0azure_iot_hub/device_id_len\0";
const C_KEY_AT: [u8; 5] = [0, 23, 47, 74, 102];

/// Key `i` of [`C_KEY_TEXT`], with its NUL.
fn c_key_at(i: usize) -> Option<&'static [u8]> {
    let (&a, &b) = (C_KEY_AT.get(i)?, C_KEY_AT.get(i + 1)?);
    C_KEY_TEXT.get(usize::from(a)..usize::from(b))
}
/// `azure_iot_hub/`.
const PREFIX_LEN: usize = SUBTREE.len() + 1;

/// The index in [`C_KEY_TEXT`] of a full key (`azure_iot_hub/hostname`), or 4 + the index of a
/// key below the subtree (`hostname`).
fn index(key: &[u8]) -> Option<usize> {
    for i in 0..4 {
        let (_, full) = c_key_at(i)?.split_last()?;
        if full == key {
            return Some(i);
        }
        if full.get(PREFIX_LEN..) == Some(key) {
            return Some(4 + i);
        }
    }
    None
}

/// Called by the glue's settings handler for every key under `azure_iot_hub` while loading.
///
/// # Safety
///
/// `key` is a NUL-terminated string; `value` points to `len` readable bytes (or `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn azhub_rs_settings_set(
    key: *const c_char,
    value: *const c_void,
    len: usize,
) {
    if key.is_null() || (value.is_null() && len > 0) {
        return;
    }
    // SAFETY: the glue passes Zephyr's NUL-terminated key, valid for the call.
    let key = unsafe { core::ffi::CStr::from_ptr(key) }.to_bytes();
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: the glue passes `len` bytes it has just read, valid for the call.
        unsafe { core::slice::from_raw_parts(value.cast::<u8>(), len) }
    };
    // Full keys and keys below the subtree; the length keys have no slot.
    if let Some(i) = cache_slot(key) {
        CACHE.lock().set(i, Some(bytes));
    }
}

/// The cache slot of a key the glue hands over (as [`index`] modulo 4, for the two cached
/// values): `hostname` or `device_id`, below the subtree or in full; none for the length keys
/// and any other key.
fn cache_slot(key: &[u8]) -> Option<usize> {
    // `azure_iot_hub/`, from the first key.
    let prefix = C_KEY_TEXT.get(..PREFIX_LEN).unwrap_or_default();
    let name = key.strip_prefix(prefix).unwrap_or(key);
    (0..2).find(|&i| {
        let k = c_key_at(i).unwrap_or_default();
        k.get(PREFIX_LEN..k.len().saturating_sub(1)) == Some(name)
    })
}

/// Called by the glue when loading ends.
#[no_mangle]
pub extern "C" fn azhub_rs_settings_loaded() {}

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

/// Cached value `i` (0: the host name, 1: the device ID) copied into `buf` (as much of it as
/// fits): its full length, `None` when it is not stored. What [`ZephyrSettings`] loads, by index.
pub fn cached(i: usize, buf: &mut [u8]) -> Option<usize> {
    let cache = CACHE.lock();
    let (Some(&Some(len)), Some(v)) = (cache.len.get(i), cache.buf.get(i)) else {
        return None;
    };
    let len = usize::from(len);
    let n = len.min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), v.get(..n)) {
        dst.copy_from_slice(src);
    }
    Some(len)
}

/// The settings store of the DPS assignment (see the module documentation).
#[derive(Debug, Default)]
pub struct ZephyrSettings;

/// The index in [`C_KEY_TEXT`] of one of the core's full keys.
fn c_key(key: &str) -> Result<usize, i32> {
    match index(key.as_bytes()) {
        Some(i) if i < 4 => Ok(i),
        _ => Err(-(super::bindings::EINVAL as i32)),
    }
}

/// Writes key `i` of [`C_KEY_TEXT`] and updates the cache.
pub fn save_at(i: usize, value: &[u8]) -> Result<(), i32> {
    let Some(name) = c_key_at(i) else {
        return Err(-(super::bindings::EINVAL as i32));
    };
    // SAFETY: `name` is NUL-terminated, `value` valid for its length, both for the call.
    let rc = unsafe { settings_save_one(name.as_ptr().cast(), value.as_ptr().cast(), value.len()) };
    if rc != 0 {
        return Err(rc);
    }
    CACHE.lock().set(i, Some(value));
    Ok(())
}

/// Deletes key `i` of [`C_KEY_TEXT`] (a key that does not exist too) and updates the cache.
pub fn delete_at(i: usize) -> Result<(), i32> {
    let Some(name) = c_key_at(i) else {
        return Err(-(super::bindings::EINVAL as i32));
    };
    // SAFETY: `name` is NUL-terminated and valid for the call.
    let rc = unsafe { settings_delete(name.as_ptr().cast()) };
    // Deleting a key that does not exist is not an error.
    if rc != 0 && rc != -(super::bindings::ENOENT as i32) {
        return Err(rc);
    }
    CACHE.lock().set(i, None);
    Ok(())
}

/// `settings::store_assignment`'s writes, by index (the values are checked already): deletes the device ID, then writes the host name, then
/// the device ID (the core's order; see `crate::dps::settings`).
pub fn store_assignment(hostname: &[u8], device_id: &[u8]) -> Result<(), i32> {
    delete_at(1)?;
    save_at(0, hostname)?;
    save_at(1, device_id)
}

/// `settings::delete_field` by index: value `i` (0: the host name, 1: the device ID), then the
/// original's length key for it.
pub fn delete_field(i: usize) -> Result<(), i32> {
    delete_at(i)?;
    delete_at(i + 2)
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

impl SettingsStore for ZephyrSettings {
    type Error = i32;

    fn load(&mut self, key: &str, buf: &mut [u8]) -> Result<Option<usize>, i32> {
        Ok(index(key.as_bytes()).and_then(|i| cached(i & 3, buf)))
    }

    fn save(&mut self, key: &str, value: &[u8]) -> Result<(), i32> {
        save_at(c_key(key)?, value)
    }

    fn delete(&mut self, key: &str) -> Result<(), i32> {
        delete_at(c_key(key)?)
    }
}

// The C keys are the core's keys.
const _: () = {
    let keys = [
        KEY_HOSTNAME,
        KEY_DEVICE_ID,
        KEY_HOSTNAME_LEN,
        KEY_DEVICE_ID_LEN,
    ];
    let mut i = 0;
    while i < 4 {
        let (a, k) = (C_KEY_AT[i] as usize, keys[i].as_bytes());
        assert!(C_KEY_AT[i + 1] as usize == a + k.len() + 1 && C_KEY_TEXT[a + k.len()] == 0);
        assert!(same(C_KEY_TEXT.split_at(a).1.split_at(k.len()).0, k));
        i += 1;
    }
    assert!(C_KEY_AT[4] as usize == C_KEY_TEXT.len());
};
