// The Zephyr implementation of include/net/azure_fota.h, included by src/capi/fota.rs (module
// `zephyr_imp`) with include!, so that cbindgen, which generates the header from fota.rs, sees
// each function once. Same contract and return codes as the Linux implementation there.

use core::ffi::{c_char, c_int};
use core::sync::atomic::{AtomicPtr, Ordering};

use super::{azure_fota_callback_t, azure_fota_event, azure_fota_evt_type};
use crate::capi::errno::*;
use crate::fota::http::HttpError;
use crate::fota::job::NoticeKind;
use crate::fota::MAX_VERSION_LEN;
use crate::port::fota::{self as port_fota, FotaError, Notice};

/// The application's handler, as a function pointer (null: none).
static CALLBACK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

fn callback() -> azure_fota_callback_t {
    let p = CALLBACK.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null value was stored by `azure_fota_init` from a valid
    // `unsafe extern "C" fn(*mut azure_fota_event)`; function and data pointers have the same
    // size on every Zephyr target.
    Some(unsafe { core::mem::transmute::<*mut (), unsafe extern "C" fn(*mut azure_fota_event)>(p) })
}

/// Calls the registered callback with the notice (strings NUL-terminated, on the stack).
fn forward(n: &Notice<'_>) {
    let Some(cb) = callback() else {
        return;
    };
    let mut version = [0u8; MAX_VERSION_LEN + 1];
    let version_ptr = match n.version {
        Some(v) => {
            let len = v.len().min(MAX_VERSION_LEN);
            version[..len].copy_from_slice(&v.as_bytes()[..len]);
            version.as_mut_ptr().cast::<c_char>()
        }
        None => core::ptr::null_mut(),
    };
    let mut evt = azure_fota_event {
        r#type: match n.kind {
            NoticeKind::Report => azure_fota_evt_type::AZURE_FOTA_EVT_REPORT,
            NoticeKind::Start => azure_fota_evt_type::AZURE_FOTA_EVT_START,
            NoticeKind::Done => azure_fota_evt_type::AZURE_FOTA_EVT_DONE,
            NoticeKind::Error => azure_fota_evt_type::AZURE_FOTA_EVT_ERROR,
            NoticeKind::ErasePending => azure_fota_evt_type::AZURE_FOTA_EVT_ERASE_PENDING,
            NoticeKind::EraseDone => azure_fota_evt_type::AZURE_FOTA_EVT_ERASE_DONE,
        },
        // The report is NUL-terminated by `Report`; C gets a mutable pointer, as the original's
        // struct has, but must not write through it (the original's is a k_malloc'd copy).
        report: n.report.map_or(core::ptr::null_mut(), |r| {
            r.as_bytes_with_nul().as_ptr() as *mut c_char
        }),
        version: version_ptr,
    };
    // SAFETY: `cb` is the function the application registered with azure_fota_init; `evt` and
    // the strings it points to live until the call returns.
    unsafe { cb(&mut evt) };
}

/// Initialises the Azure FOTA library and registers its event handler (see the Linux
/// implementation in src/capi/fota.rs for the contract). On the first call it starts the
/// download thread.
#[no_mangle]
pub extern "C" fn azure_fota_init(evt_handler: azure_fota_callback_t) -> c_int {
    let Some(h) = evt_handler else {
        return -EINVAL;
    };
    CALLBACK.store(h as *mut (), Ordering::Release);
    match port_fota::init(forward) {
        Ok(()) => 0,
        Err(FotaError::Thread(rc)) if rc < 0 => rc,
        Err(e) => errno_of(&e),
    }
}

fn errno_of(e: &FotaError) -> c_int {
    match e {
        FotaError::NotInitialised
        | FotaError::Invalid(_)
        | FotaError::Http(HttpError::InvalidLocation) => -EINVAL,
        FotaError::Tls(_) => -EACCES,
        FotaError::Thread(_) => -ENOMEM,
        FotaError::Http(_) | FotaError::Dns(_) | FotaError::Io(_) | FotaError::Sink(_) => -EIO,
    }
}

/// Processes a device twin document or a desired-properties patch (see the Linux
/// implementation in src/capi/fota.rs for the contract and return codes).
///
/// # Safety
///
/// @p buf is NULL or points to @p size readable bytes for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn azure_fota_msg_process(buf: *const c_char, size: usize) -> c_int {
    let json: &[u8] = if size == 0 {
        &[]
    } else if buf.is_null() || size > isize::MAX as usize {
        return -EINVAL;
    } else {
        // SAFETY: non-NULL, at most isize::MAX bytes, readable for the call by the caller's
        // contract; u8 has no alignment requirement.
        unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), size) }
    };
    match port_fota::process(json) {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(e) => errno_of(&e),
    }
}

/// `azure_iot_hub_init` registers the hub's FOTA handler (as the original does).
#[cfg(feature = "capi")]
pub(crate) fn hub_init() -> c_int {
    azure_fota_init(Some(super::hub_handler))
}

/// Every twin document (200) and desired patch goes through FOTA before the application sees
/// it.
#[cfg(feature = "capi")]
pub(crate) fn on_twin(payload: &[u8]) {
    match port_fota::process(payload) {
        Ok(_) | Err(FotaError::NotInitialised) => {}
        Err(e) => ::log::warn!(target: "azure_fota", "FOTA could not start: {e}"),
    }
}
