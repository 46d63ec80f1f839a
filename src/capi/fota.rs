//! The C API of the nRF Connect SDK v2.9.0 `include/net/azure_fota.h` (nrf-api.md sections 1.3,
//! 5), and the hub's use of it (section 5.4): reports published as reported properties, the
//! `AZURE_IOT_HUB_EVT_FOTA_*` events.
//!
//! The header is generated from this file alone by the pinned cbindgen with `cbindgen_fota.toml`
//! (`AZURE_IOT_HUB_BLESS=1 cargo test --test capi_fota`). The functions exist with the Linux
//! port (feature `std`, module `imp`) and the Zephyr port (feature `zephyr`, `fota_zephyr.rs`);
//! the types everywhere.
#![allow(non_camel_case_types)]

use core::ffi::c_char;

/// Azure FOTA notification event types.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum azure_fota_evt_type {
    /// A report for the device twin's reported properties is in `report`: publish it.
    AZURE_FOTA_EVT_REPORT,
    /// The download of the version in `version` started; `report` holds the report.
    AZURE_FOTA_EVT_START,
    /// The image is complete; `report` holds the report. Reboot to apply the update.
    AZURE_FOTA_EVT_DONE,
    /// The update failed (download, storage, or an invalid firmware object); `report` holds the
    /// report.
    AZURE_FOTA_EVT_ERROR,
    /// Erasing the storage for the image. No report.
    AZURE_FOTA_EVT_ERASE_PENDING,
    /// Erase done. No report.
    AZURE_FOTA_EVT_ERASE_DONE,
}

/// An Azure FOTA event.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_fota_event {
    /// The event type.
    pub r#type: azure_fota_evt_type,
    /// NUL-terminated reported-properties JSON, or NULL. Valid during the callback only.
    pub report: *mut c_char,
    /// NUL-terminated version being downloaded (AZURE_FOTA_EVT_START), or NULL. Valid during the
    /// callback only.
    pub version: *mut c_char,
}

/// The Azure FOTA event handler.
pub type azure_fota_callback_t = Option<unsafe extern "C" fn(evt: *mut azure_fota_event)>;

const _: () = {
    use core::mem::{offset_of, size_of};
    let p = size_of::<usize>();
    assert!(size_of::<azure_fota_evt_type>() == 4);
    assert!(offset_of!(azure_fota_event, report) == p);
    assert!(offset_of!(azure_fota_event, version) == 2 * p);
    assert!(size_of::<azure_fota_event>() == 3 * p);
};

#[cfg(all(feature = "std", not(feature = "zephyr")))]
pub use imp::*;

// The Zephyr implementation is pulled in with include! so that cbindgen, which generates the
// header from this file and skips macro calls, sees each function once (in `imp`).
#[cfg(feature = "zephyr")]
mod zephyr_imp {
    include!("fota_zephyr.rs");
}
#[cfg(feature = "zephyr")]
pub use zephyr_imp::*;

/// The hub's FOTA handler (nrf-api.md section 5.4), for both ports: the report is published as
/// reported properties (TWIN_REPORTED, QoS 0), then the hub event is raised.
#[cfg(all(feature = "capi", any(feature = "std", feature = "zephyr")))]
unsafe extern "C" fn hub_handler(evt: *mut azure_fota_event) {
    use crate::capi::types::azure_iot_hub_evt_type::*;
    use crate::capi::types::*;
    // SAFETY: the callers (`forward` of each port) pass a valid event for the duration of the
    // call.
    let evt = unsafe { &*evt };
    if !evt.report.is_null() {
        // SAFETY: the callers pass NUL-terminated strings that live during the call.
        let report = unsafe { core::ffi::CStr::from_ptr(evt.report) }.to_bytes();
        let msg = azure_iot_hub_msg {
            topic: azure_iot_hub_topic_data {
                r#type: azure_iot_hub_topic_type::AZURE_IOT_HUB_TOPIC_TWIN_REPORTED.into(),
                ..azure_iot_hub_topic_data::EMPTY
            },
            payload: azure_iot_hub_buf::from_bytes(report),
            ..azure_iot_hub_msg::EMPTY
        };
        // SAFETY: `msg` and the report it points to are valid during the call.
        let r = unsafe { crate::capi::azure_iot_hub_send(&msg) };
        if r != 0 {
            log::warn!(target: "azure_fota", "cannot publish the FOTA report: {r}");
        }
    }
    let t = match evt.r#type {
        azure_fota_evt_type::AZURE_FOTA_EVT_REPORT => return,
        azure_fota_evt_type::AZURE_FOTA_EVT_START => AZURE_IOT_HUB_EVT_FOTA_START,
        azure_fota_evt_type::AZURE_FOTA_EVT_DONE => AZURE_IOT_HUB_EVT_FOTA_DONE,
        azure_fota_evt_type::AZURE_FOTA_EVT_ERROR => AZURE_IOT_HUB_EVT_FOTA_ERROR,
        azure_fota_evt_type::AZURE_FOTA_EVT_ERASE_PENDING => AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING,
        azure_fota_evt_type::AZURE_FOTA_EVT_ERASE_DONE => AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE,
    };
    crate::capi::events::emit_plain(t, 0);
}

#[cfg(all(feature = "std", not(feature = "zephyr")))]
mod imp {
    use core::ffi::{c_char, c_int};
    use std::ffi::CString;
    use std::sync::{Mutex, MutexGuard};

    use super::{azure_fota_callback_t, azure_fota_event, azure_fota_evt_type};
    use crate::capi::errno::*;
    use crate::fota::http::HttpError;
    use crate::port::{FotaAgent, FotaError, FotaEventKind, FotaNotice, FotaSettings};

    static CALLBACK: Mutex<azure_fota_callback_t> = Mutex::new(None);
    static AGENT: Mutex<Option<FotaAgent>> = Mutex::new(None);

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn c_string(s: &str) -> CString {
        CString::new(s.replace('\0', "")).unwrap_or_default()
    }

    /// Calls the registered callback with the notice (strings NUL-terminated, owned here).
    fn forward(n: &FotaNotice<'_>) {
        let Some(cb) = *lock(&CALLBACK) else {
            return;
        };
        let report = n.report.map(c_string);
        let version = n.version.map(c_string);
        let mut evt = azure_fota_event {
            r#type: match n.kind {
                FotaEventKind::Report => azure_fota_evt_type::AZURE_FOTA_EVT_REPORT,
                FotaEventKind::Start => azure_fota_evt_type::AZURE_FOTA_EVT_START,
                FotaEventKind::Done => azure_fota_evt_type::AZURE_FOTA_EVT_DONE,
                FotaEventKind::Error => azure_fota_evt_type::AZURE_FOTA_EVT_ERROR,
                FotaEventKind::ErasePending => azure_fota_evt_type::AZURE_FOTA_EVT_ERASE_PENDING,
                FotaEventKind::EraseDone => azure_fota_evt_type::AZURE_FOTA_EVT_ERASE_DONE,
            },
            report: report
                .as_ref()
                .map_or(core::ptr::null_mut(), |c| c.as_ptr() as *mut c_char),
            version: version
                .as_ref()
                .map_or(core::ptr::null_mut(), |c| c.as_ptr() as *mut c_char),
        };
        // SAFETY: `cb` is the function the application registered with azure_fota_init; `evt`
        // and the strings it points to live until the call returns.
        unsafe { cb(&mut evt) };
    }

    /// Initialises the Azure FOTA library and registers its event handler.
    ///
    /// The running version is CONFIG_AZURE_FOTA_APP_VERSION (on Linux overridden by the
    /// environment variable of the same name). Calling it again replaces the handler; a download
    /// in progress continues.
    ///
    /// @param evt_handler The function that receives the FOTA events (from the caller of
    ///        azure_fota_msg_process() or from the download thread).
    ///
    /// @retval 0 Success.
    /// @retval -EINVAL @p evt_handler is NULL.
    #[no_mangle]
    pub extern "C" fn azure_fota_init(evt_handler: azure_fota_callback_t) -> c_int {
        if evt_handler.is_none() {
            return -EINVAL;
        }
        *lock(&CALLBACK) = evt_handler;
        let mut agent = lock(&AGENT);
        if agent.is_none() {
            *agent = Some(FotaAgent::new(FotaSettings::from_config(), forward));
        }
        0
    }

    fn errno_of(e: &FotaError) -> c_int {
        match e {
            FotaError::Invalid(_) | FotaError::Http(HttpError::InvalidLocation) => -EINVAL,
            FotaError::Tls(_) => -EACCES,
            FotaError::Thread(_) => -ENOMEM,
            FotaError::Http(_) | FotaError::Io(_) | FotaError::Sink(_) => -EIO,
        }
    }

    /// Processes a device twin document or a desired-properties patch: reports the firmware
    /// status when needed (AZURE_FOTA_EVT_REPORT) and starts a download when the desired
    /// `firmware` object asks for a new version (AZURE_FOTA_EVT_START).
    ///
    /// @param buf The JSON. Exactly @p size bytes are read: no NUL terminator is needed.
    /// @param size The length of @p buf.
    ///
    /// @retval 1 A download started.
    /// @retval 0 Nothing to do: no firmware object, the running version, a job already
    ///         attempted, a download already in progress, a document that is not JSON, or an
    ///         invalid firmware object (reported with AZURE_FOTA_EVT_ERROR).
    /// @retval -EINVAL The library is not initialised, @p buf is NULL with a size, or the
    ///         download location is invalid.
    /// @retval -EACCES The CA certificate for CONFIG_AZURE_FOTA_SEC_TAG cannot be loaded.
    /// @retval -ENOMEM The download thread cannot start.
    ///
    /// # Safety
    ///
    /// @p buf is NULL or points to @p size readable bytes for the duration of the call.
    #[no_mangle]
    pub unsafe extern "C" fn azure_fota_msg_process(buf: *const c_char, size: usize) -> c_int {
        let Some(agent) = lock(&AGENT).clone() else {
            return -EINVAL;
        };
        let json: &[u8] = if size == 0 {
            &[]
        } else if buf.is_null() || size > isize::MAX as usize {
            return -EINVAL;
        } else {
            // SAFETY: non-NULL, at most isize::MAX bytes, readable for the call by the caller's
            // contract; u8 has no alignment requirement.
            unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), size) }
        };
        match agent.process(json) {
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

    /// Every twin document (200) and desired patch goes through FOTA before the application
    /// sees it.
    #[cfg(feature = "capi")]
    pub(crate) fn on_twin(payload: &[u8]) {
        if let Some(agent) = lock(&AGENT).clone() {
            if let Err(e) = agent.process(payload) {
                log::warn!(target: "azure_fota", "FOTA could not start: {e}");
            }
        }
    }
}
