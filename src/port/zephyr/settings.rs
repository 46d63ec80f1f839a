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

type Value = Option<heapless::Vec<u8, VALUE_MAX>>;

struct Cache {
    hostname: Value,
    device_id: Value,
}

// Zero initial bytes: in .bss, not in flash.
static CACHE: BssMutex<Cache, { super::sys::MUTEX_SETTINGS }> = BssMutex::new(Cache {
    hostname: None,
    device_id: None,
});

extern "C" {
    fn settings_save_one(name: *const c_char, value: *const c_void, len: usize) -> c_int;
    fn settings_delete(name: *const c_char) -> c_int;
    fn azhub_z_settings_load() -> c_int;
}

/// The cache slot of a full key (`azure_iot_hub/hostname`) or a key below the subtree
/// (`hostname`); the original's `*_len` keys have none.
fn slot<'c>(cache: &'c mut Cache, key: &str) -> Option<&'c mut Value> {
    let short = key
        .strip_prefix(SUBTREE)
        .and_then(|k| k.strip_prefix('/'))
        .unwrap_or(key);
    match short {
        "hostname" => Some(&mut cache.hostname),
        "device_id" => Some(&mut cache.device_id),
        _ => None,
    }
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
    let key = unsafe { core::ffi::CStr::from_ptr(key) };
    let Ok(key) = key.to_str() else {
        return;
    };
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: the glue passes `len` bytes it has just read, valid for the call.
        unsafe { core::slice::from_raw_parts(value.cast::<u8>(), len) }
    };
    let mut cache = CACHE.lock();
    if let Some(slot) = slot(&mut cache, key) {
        // A value longer than the cache is invalid for the core anyway: keep it absent.
        *slot = heapless::Vec::from_slice(bytes).ok();
    }
}

/// Called by the glue when loading ends.
#[no_mangle]
pub extern "C" fn azhub_rs_settings_loaded() {}

/// Initialises the settings subsystem and loads the subtree into the cache (forgetting what
/// the cache held).
pub fn load() -> Result<(), i32> {
    {
        let mut cache = CACHE.lock();
        cache.hostname = None;
        cache.device_id = None;
    }
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

/// The keys the core reads, writes and deletes, NUL-terminated for Zephyr (no copy per call).
const C_KEYS: [&core::ffi::CStr; 4] = [
    c"azure_iot_hub/hostname",
    c"azure_iot_hub/device_id",
    c"azure_iot_hub/hostname_len",
    c"azure_iot_hub/device_id_len",
];

/// The C form of one of the core's keys; `None` for any other key.
fn c_key(key: &str) -> Option<&'static core::ffi::CStr> {
    C_KEYS.into_iter().find(|k| k.to_bytes() == key.as_bytes())
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
        let mut cache = CACHE.lock();
        let Some(Some(v)) = slot(&mut cache, key) else {
            return Ok(None);
        };
        let n = v.len().min(buf.len());
        buf[..n].copy_from_slice(&v[..n]);
        Ok(Some(v.len()))
    }

    fn save(&mut self, key: &str, value: &[u8]) -> Result<(), i32> {
        let name = c_key(key).ok_or(-(super::bindings::EINVAL as i32))?;
        // SAFETY: `name` is NUL-terminated, `value` valid for its length, both for the call.
        let rc =
            unsafe { settings_save_one(name.as_ptr().cast(), value.as_ptr().cast(), value.len()) };
        if rc != 0 {
            return Err(rc);
        }
        let mut cache = CACHE.lock();
        if let Some(slot) = slot(&mut cache, key) {
            *slot = heapless::Vec::from_slice(value).ok();
        }
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<(), i32> {
        let name = c_key(key).ok_or(-(super::bindings::EINVAL as i32))?;
        // SAFETY: `name` is NUL-terminated and valid for the call.
        let rc = unsafe { settings_delete(name.as_ptr().cast()) };
        // Deleting a key that does not exist is not an error.
        if rc != 0 && rc != -(super::bindings::ENOENT as i32) {
            return Err(rc);
        }
        let mut cache = CACHE.lock();
        if let Some(slot) = slot(&mut cache, key) {
            *slot = None;
        }
        Ok(())
    }
}

// The C keys are the core's keys.
const _: () = {
    assert!(same(C_KEYS[0].to_bytes(), KEY_HOSTNAME.as_bytes()));
    assert!(same(C_KEYS[1].to_bytes(), KEY_DEVICE_ID.as_bytes()));
    assert!(same(C_KEYS[2].to_bytes(), KEY_HOSTNAME_LEN.as_bytes()));
    assert!(same(C_KEYS[3].to_bytes(), KEY_DEVICE_ID_LEN.as_bytes()));
};
