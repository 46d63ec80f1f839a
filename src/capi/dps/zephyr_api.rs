// `azure_iot_hub_dps.h` on the Zephyr port: the stored assignment in Zephyr settings under the
// original's keys (loaded by azure_iot_hub_dps_init(), read by the get functions, deleted by
// the delete functions and azure_iot_hub_dps_reset()).
//
// Not yet on Zephyr: the registration itself (azure_iot_hub_dps_start() returns -ENOTSUP) and
// the registration payload; see docs/zephyr.md, "What is missing". Return codes otherwise as
// on Linux (src/capi/dps/api.rs, docs/dps.md).

use core::ffi::{c_char, c_int};
use core::sync::atomic::{AtomicPtr, Ordering};

use super::{azure_iot_hub_dps_config, azure_iot_hub_dps_handler_t, azure_iot_hub_dps_reg_status};
use crate::capi::errno::*;
use crate::capi::platform::Mutex;
use crate::capi::types::azure_iot_hub_buf;
use crate::dps::settings::{self as st, Field, DEVICE_ID_MAX_LEN, HOSTNAME_MAX_LEN};
use crate::port::settings::{self as zs, ZephyrSettings};

const LOG: &str = "azure_iot_hub_dps";

/// The registered handler (null: none).
static HANDLER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// The copies handed out when the caller passes no buffer (as the original always did).
struct Own {
    hostname: [u8; HOSTNAME_MAX_LEN + 1],
    device_id: [u8; DEVICE_ID_MAX_LEN + 1],
}

static OWN: Mutex<Own> = Mutex::new(
    5,
    Own {
        hostname: [0; HOSTNAME_MAX_LEN + 1],
        device_id: [0; DEVICE_ID_MAX_LEN + 1],
    },
);

fn handler() -> azure_iot_hub_dps_handler_t {
    let p = HANDLER.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null value was stored from a valid handler function pointer by init.
    Some(unsafe {
        core::mem::transmute::<*mut (), unsafe extern "C" fn(azure_iot_hub_dps_reg_status)>(p)
    })
}

/// Initialises DPS: registers the handler, loads the stored assignment from settings and calls
/// the handler with NOT_STARTED.
///
/// @retval 0 Success.
/// @retval -EINVAL @p cfg is NULL or has no handler.
/// @retval -EFAULT The settings could not be loaded.
///
/// # Safety
///
/// @p cfg is NULL or points to a valid `struct azure_iot_hub_dps_config`.
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_init(cfg: *mut azure_iot_hub_dps_config) -> c_int {
    if cfg.is_null() || !cfg.is_aligned() {
        return neg(EINVAL);
    }
    // SAFETY: non-NULL and aligned; the caller guarantees a valid config (read only).
    let cfg = unsafe { &*cfg };
    let Some(h) = cfg.handler else {
        return neg(EINVAL);
    };
    if zs::load().is_err() {
        return neg(EFAULT);
    }
    HANDLER.store(h as *mut (), Ordering::Release);
    // SAFETY: the application's handler, as registered.
    unsafe { h(azure_iot_hub_dps_reg_status::AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED) };
    0
}

/// Starts the registration: not implemented on the Zephyr port yet.
///
/// @retval -ENOTSUP Always (an assignment stored earlier is still available through the get
///         functions).
/// @retval -ENOENT azure_iot_hub_dps_init() was not called.
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_start() -> c_int {
    if handler().is_none() {
        return neg(ENOENT);
    }
    ::log::error!(target: LOG, "DPS registration is not implemented on Zephyr yet");
    neg(ENOTSUP)
}

fn stored(field: Field) -> Option<heapless::String<256>> {
    let (a, report) = st::load_assignment(&mut ZephyrSettings).ok()?;
    if report.hostname.is_some() || report.device_id.is_some() {
        ::log::warn!(target: LOG, "invalid stored assignment ignored: {report:?}");
    }
    let mut out = heapless::String::new();
    match field {
        Field::Hostname => out.push_str(&a.hostname?).ok()?,
        Field::DeviceId => out.push_str(&a.device_id?).ok()?,
    }
    Some(out)
}

/// Fills or repoints `buf` (as the Linux port's hand_out).
///
/// # Safety
///
/// `buf` is valid and writable; a non-NULL `buf->ptr` with a size points to that many bytes.
unsafe fn hand_out(buf: *mut azure_iot_hub_buf, value: &str, field: Field) -> c_int {
    // SAFETY: the caller guarantees `buf` is valid and writable.
    let b = unsafe { &mut *buf };
    let bytes = value.as_bytes();
    let mut own = OWN.lock();
    let own_buf: &mut [u8] = match field {
        Field::Hostname => &mut own.hostname,
        Field::DeviceId => &mut own.device_id,
    };
    let own_ptr = own_buf.as_mut_ptr().cast::<c_char>();
    if b.ptr.is_null() || b.size == 0 || b.ptr == own_ptr {
        let n = bytes.len().min(own_buf.len() - 1);
        own_buf[..n].copy_from_slice(&bytes[..n]);
        own_buf[n] = 0;
        b.ptr = own_ptr;
        b.size = n;
        return 0;
    }
    if b.size < bytes.len() {
        return neg(EMSGSIZE);
    }
    // SAFETY: `b.ptr` has `b.size >= bytes.len()` writable bytes (caller's contract) and does
    // not overlap our string.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), b.ptr.cast::<u8>(), bytes.len());
        if b.size > bytes.len() {
            *b.ptr.add(bytes.len()) = 0;
        }
    }
    b.size = bytes.len();
    0
}

unsafe fn get(buf: *mut azure_iot_hub_buf, field: Field) -> c_int {
    if buf.is_null() || !buf.is_aligned() {
        return neg(EINVAL);
    }
    let Some(v) = stored(field) else {
        return neg(ENOENT);
    };
    // SAFETY: non-NULL and aligned, writable by the caller's contract.
    unsafe { hand_out(buf, &v, field) }
}

/// Gets the stored IoT Hub host name (filled or repointed as on Linux).
///
/// @retval 0 Success. @retval -EINVAL @p buf is NULL. @retval -ENOENT Nothing stored.
/// @retval -EMSGSIZE The caller's buffer is too small.
///
/// # Safety
///
/// @p buf is NULL or a writable `struct azure_iot_hub_buf` (see azure_iot_hub_dps.h).
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_hostname_get(buf: *mut azure_iot_hub_buf) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe { get(buf, Field::Hostname) }
}

/// Gets the stored device ID (as azure_iot_hub_dps_hostname_get()).
///
/// # Safety
///
/// As azure_iot_hub_dps_hostname_get().
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_device_id_get(buf: *mut azure_iot_hub_buf) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe { get(buf, Field::DeviceId) }
}

fn delete(field: Field) -> c_int {
    match st::delete_field(&mut ZephyrSettings, field) {
        Ok(()) => 0,
        Err(e) => {
            ::log::error!(target: LOG, "cannot delete {}: {e}", field.key());
            neg(EFAULT)
        }
    }
}

/// Deletes the stored host name. @retval 0 Success. @retval -EFAULT Settings write failed.
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_hostname_delete() -> c_int {
    delete(Field::Hostname)
}

/// Deletes the stored device ID. @retval 0 Success. @retval -EFAULT Settings write failed.
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_device_id_delete() -> c_int {
    delete(Field::DeviceId)
}

/// Deletes the stored assignment and forgets the handler (call azure_iot_hub_dps_init() again).
/// @retval 0 Success. @retval -EFAULT Settings write failed.
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_reset() -> c_int {
    HANDLER.store(core::ptr::null_mut(), Ordering::Release);
    let h = delete(Field::Hostname);
    let d = delete(Field::DeviceId);
    if h != 0 {
        h
    } else {
        d
    }
}

/// The registration payload: not implemented on the Zephyr port yet.
/// @retval -ENOTSUP Always.
///
/// # Safety
///
/// No requirement (the arguments are not read).
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_payload_set(_json: *const c_char, _len: usize) -> c_int {
    neg(ENOTSUP)
}
