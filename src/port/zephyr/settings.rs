//! Zephyr settings for the DPS assignment (feature `dps`), under the original's keys.
//!
//! The glue registers a static settings handler on the subtree `azure_iot_hub` (as the original
//! library). [`load`] (`settings_load_subtree`) has it hand every stored value, with the place
//! the caller gave, to the C API's `azhub_rs_settings_set` (`crate::capi::dps`), which copies
//! it straight into the DPS context: there is no cache here. Writes go straight to
//! `settings_save_one` / `settings_delete` (real functions in Zephyr). [`ZephyrSettings`] is the
//! core's `SettingsStore` for the writes, so key layout, checks and write order are the core's
//! (`crate::dps::settings`); the store itself finds a key's C name by the [`Key`]'s index,
//! without comparing strings.

use core::ffi::{c_char, c_int, c_void};

use super::LOG_TRANSPORT;
use crate::dps::settings::{Field, Key, SettingsStore, KEY_HOSTNAME, SUBTREE};
use crate::mqtt::same_bytes;

extern "C" {
    fn settings_save_one(name: *const c_char, value: *const c_void, len: usize) -> c_int;
    fn settings_delete(name: *const c_char) -> c_int;
    fn azhub_z_settings_load(into: *mut c_void) -> c_int;
}

/// The core's keys, NUL-terminated for Zephyr (no copy per call), in the order of their
/// [`Key`] index: the values' (0, 1), then the original's length keys. Key `i` is
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

/// The field of a key the glue hands over, below the subtree as Zephyr's settings pass it to
/// the subtree's handler (the glue's contract): that of `hostname` or `device_id`; none for
/// the length keys and any other key. The only place a key is found by its name: one compare,
/// with the name of that length (cut from the core's keys at compile time; the two differ in
/// length). Only the C API loads values (a `zephyr,dps` build without it has no reader).
#[cfg_attr(not(feature = "capi"), allow(dead_code))]
pub(crate) fn field_of(name: &[u8]) -> Option<Field> {
    const HOSTNAME: &[u8] = below_subtree(Key::Hostname);
    const DEVICE_ID: &[u8] = below_subtree(Key::DeviceId);
    const _: () = assert!(HOSTNAME.len() != DEVICE_ID.len());
    let (field, candidate) = if name.len() == HOSTNAME.len() {
        (Field::Hostname, HOSTNAME)
    } else {
        (Field::DeviceId, DEVICE_ID)
    };
    (name == candidate).then_some(field)
}

/// `azure_iot_hub/` (the subtree and its separator), the first key's start.
const PREFIX: &[u8] = KEY_HOSTNAME.as_bytes().split_at(PREFIX_LEN).0;

/// The name of `key` below the subtree (`hostname`...).
const fn below_subtree(key: Key) -> &'static [u8] {
    let (prefix, name) = key.as_str().as_bytes().split_at(PREFIX_LEN);
    assert!(same_bytes(prefix, PREFIX));
    name
}

/// Initialises the settings subsystem and loads the subtree: the glue hands every stored value
/// to `azhub_rs_settings_set` with `into` (when it is not NULL), on this thread only (a load
/// another thread makes, `settings_load()` of the application, is not handed over).
///
/// # Safety
///
/// `into` is NULL or what `azhub_rs_settings_set` expects, valid for its writes for the
/// whole call and not accessed otherwise meanwhile.
pub unsafe fn load(into: *mut c_void) -> Result<(), i32> {
    // SAFETY: a glue function; `into` by this function's contract.
    let rc = unsafe { azhub_z_settings_load(into) };
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

    /// Not supported (`-ENOTSUP`): the values are read only while [`load`] runs, by the C API,
    /// which keeps them.
    fn load(&mut self, _key: Key, _buf: &mut [u8]) -> Result<Option<usize>, i32> {
        Err(-(super::bindings::ENOTSUP as i32))
    }

    /// `settings_save_one`.
    fn save(&mut self, key: Key, value: &[u8]) -> Result<(), i32> {
        write(key, Some(value))
    }

    /// `settings_delete` (a key that does not exist too).
    fn delete(&mut self, key: Key) -> Result<(), i32> {
        write(key, None)
    }
}

/// Saves (`Some`) or deletes `key` in the settings subsystem: one called copy of the key lookup
/// and the error check for both writes.
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
    Ok(())
}

// The C keys are the core's keys, in the order of their index.
const _: () = {
    let mut i = 0;
    while i < Key::ALL.len() {
        let key = Key::ALL[i];
        assert!(key as usize == i);
        let (a, k) = (C_KEY_AT[i] as usize, key.as_str().as_bytes());
        assert!(C_KEY_AT[i + 1] as usize == a + k.len() + 1 && C_KEY_TEXT[a + k.len()] == 0);
        assert!(same_bytes(C_KEY_TEXT.split_at(a).1.split_at(k.len()).0, k));
        i += 1;
    }
    assert!(C_KEY_AT[Key::ALL.len()] as usize == C_KEY_TEXT.len());
};
