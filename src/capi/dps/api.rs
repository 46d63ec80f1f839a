//! The exported DPS functions and the library's single DPS context (nrf-api.md sections 1.2,
//! 4.10 and 4b), over the Linux port's DPS driver and settings file.
//!
//! States: UNINIT (before init and after reset), DISCONNECTED (initialised), CONNECTING (a
//! registration runs: from azure_iot_hub_dps_start() until the final status is reported). The
//! lock is never held while the application's handler runs or while the network is used.

use core::ffi::{c_char, c_int};
use std::string::{String, ToString};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::{azure_iot_hub_dps_config, azure_iot_hub_dps_handler_t, azure_iot_hub_dps_reg_status};
use crate::capi::errno::*;
use crate::capi::types::{azure_iot_hub_buf, utf8};
use crate::dps::settings::{self as st, Field, DEVICE_ID_MAX_LEN, HOSTNAME_MAX_LEN};
use crate::dps::MAX_REGISTRATION_PAYLOAD_LEN;
use crate::port::dps_internal as drv;
use crate::port::{Assignment, DpsCancel, DpsConfig, DpsError, DpsStatus, FileSettings};

use azure_iot_hub_dps_reg_status::*;

const LOG: &str = "azure_iot_hub_dps";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Uninit,
    Disconnected,
    Connecting,
}

struct Ctx {
    state: State,
    handler: azure_iot_hub_dps_handler_t,
    id_scope: String,
    reg_id: String,
    status: azure_iot_hub_dps_reg_status,
    hostname: Option<String>,
    device_id: Option<String>,
    /// `azure_iot_hub_dps_payload_set()`: `None` = not called (the Kconfig payload applies).
    payload: Option<Option<String>>,
    cancel: Option<DpsCancel>,
    /// Registrations started, and the last one that reported its final status.
    started: u64,
    finished: u64,
    /// The positive errno of the last registration's failure.
    last_error: c_int,
}

static CTX: Mutex<Ctx> = Mutex::new(Ctx {
    state: State::Uninit,
    handler: None,
    id_scope: String::new(),
    reg_id: String::new(),
    status: AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED,
    hostname: None,
    device_id: None,
    payload: None,
    cancel: None,
    started: 0,
    finished: 0,
    last_error: 0,
});
static FINISHED: Condvar = Condvar::new();

/// The library's own copies handed out by the get functions to callers that ask to be repointed
/// (NUL-terminated). Static, so the pointers stay valid; the contents change when the
/// assignment changes.
static HOSTNAME_BUF: Mutex<[u8; HOSTNAME_MAX_LEN + 1]> = Mutex::new([0; HOSTNAME_MAX_LEN + 1]);
static DEVICE_ID_BUF: Mutex<[u8; DEVICE_ID_MAX_LEN + 1]> = Mutex::new([0; DEVICE_ID_MAX_LEN + 1]);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn call(handler: azure_iot_hub_dps_handler_t, status: azure_iot_hub_dps_reg_status) {
    if let Some(h) = handler {
        // SAFETY: `h` is the function the application registered with azure_iot_hub_dps_init();
        // the argument is a valid enum value.
        unsafe { h(status) };
    }
}

fn settings() -> FileSettings {
    FileSettings::new(DpsConfig::from_config().settings_file)
}

/// The negative errno for a DPS failure (as connect() and start() return it).
pub(crate) fn errno_of(e: &DpsError) -> c_int {
    use crate::capi::error::{errno, Error, Op};
    match e {
        DpsError::InvalidConfig(_) => neg(EINVAL),
        DpsError::Transport(c) => {
            // The same table as the hub connection's transport errors.
            let c = match c {
                crate::port::ConnectError::Dns(io) => crate::port::ConnectError::Dns(copy_io(io)),
                crate::port::ConnectError::Tcp(io) => crate::port::ConnectError::Tcp(copy_io(io)),
                crate::port::ConnectError::Tls(s) => crate::port::ConnectError::Tls(s.clone()),
                _ => return neg(EFAULT),
            };
            errno(Op::Connect, &Error::from(c))
        }
        DpsError::Rejected { .. } => -libc::ECONNREFUSED,
        DpsError::Timeout => neg(ETIMEDOUT),
        DpsError::ConnectionLost | DpsError::Cancelled => neg(ECONNABORTED),
        DpsError::Protocol(_) => neg(EBADMSG),
    }
}

fn copy_io(e: &std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n),
        None => std::io::Error::new(e.kind(), e.to_string()),
    }
}

/// The bytes of a configuration buffer; `None` when it selects the Kconfig value (NULL pointer
/// or size 0, as the original).
///
/// # Safety
///
/// A non-NULL `buf.ptr` points to `buf.size` readable bytes during the call.
unsafe fn given(buf: &azure_iot_hub_buf) -> Result<Option<String>, c_int> {
    if buf.ptr.is_null() || buf.size == 0 {
        return Ok(None);
    }
    // SAFETY: non-NULL with a size; readable by the caller's contract.
    let bytes = unsafe { buf.bytes() }.ok_or(neg(EINVAL))?;
    let s = utf8(bytes).ok_or(neg(EINVAL))?;
    Ok(Some(s.into()))
}

/// Initialises DPS and registers the status handler; loads a stored assignment.
///
/// The handler is called with AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED before this function
/// returns. Call it again after azure_iot_hub_dps_reset().
///
/// @param cfg The handler, ID scope and registration ID (a NULL or empty buffer selects
///        CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE / CONFIG_AZURE_IOT_HUB_DPS_REG_ID). Copied.
///
/// @retval 0 Success.
/// @retval -EINVAL @p cfg or its handler is NULL, or the ID scope or registration ID is not
///         UTF-8.
/// @retval -EFAULT The ID scope or registration ID is empty after the Kconfig fallback, or the
///         stored assignment cannot be read.
/// @retval -EACCES A registration is in progress (it is not disturbed).
///
/// # Safety
///
/// @p cfg is NULL or points to a valid `struct azure_iot_hub_dps_config` whose buffers are
/// readable during the call.
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_init(cfg: *mut azure_iot_hub_dps_config) -> c_int {
    if cfg.is_null() || !cfg.is_aligned() {
        return neg(EINVAL);
    }
    // SAFETY: non-NULL and aligned; the caller guarantees a valid config, whose fields are
    // pointers and sizes (any bit pattern is valid). Only read.
    let cfg = unsafe { &*cfg };
    if cfg.handler.is_none() {
        return neg(EINVAL);
    }
    // SAFETY: the caller guarantees the buffers are readable during the call.
    let ids = unsafe { (given(&cfg.id_scope), given(&cfg.reg_id)) };
    match ids {
        (Ok(scope), Ok(reg)) => match init(cfg.handler, scope, reg) {
            Ok(()) => 0,
            Err(e) => e,
        },
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// init with the handler (None: the library's own, used by azure_iot_hub_connect()).
fn init(
    handler: azure_iot_hub_dps_handler_t,
    id_scope: Option<String>,
    reg_id: Option<String>,
) -> Result<(), c_int> {
    let (k_scope, k_reg) = drv::kconfig_ids();
    let id_scope = id_scope.unwrap_or(k_scope);
    let reg_id = reg_id.unwrap_or(k_reg);
    if id_scope.is_empty() || reg_id.is_empty() {
        log::error!(target: LOG, "no ID scope or registration ID (CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE / _REG_ID)");
        return Err(neg(EFAULT));
    }
    {
        let mut ctx = lock(&CTX);
        if ctx.state == State::Connecting {
            log::warn!(target: LOG, "init refused: a registration is in progress");
            return Err(neg(EACCES));
        }
        let (stored, _) = drv::load(&mut settings()).map_err(|e| {
            log::error!(target: LOG, "cannot read the stored assignment: {e}");
            neg(EFAULT)
        })?;
        ctx.hostname = stored.hostname.map(|h| h.as_str().into());
        ctx.device_id = stored.device_id.map(|d| d.as_str().into());
        ctx.handler = handler;
        ctx.id_scope = id_scope;
        ctx.reg_id = reg_id;
        ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED;
        ctx.state = State::Disconnected;
    }
    call(handler, AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED);
    Ok(())
}

/// Starts the registration, unless an assignment is stored.
///
/// Blocks while the DPS connection is set up (DNS, TCP, TLS, CONNECT); the registration then
/// goes on in the library's DPS thread, which reports ASSIGNING, then ASSIGNED or FAILED to the
/// handler. The timeout (CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC) restarts with every message from
/// DPS.
///
/// @retval 0 The registration has started.
/// @retval -EALREADY An assignment is stored (the status is now ASSIGNED; no registration is
///         made), or a registration is already assigning.
/// @retval -EACCES Not initialised, or a registration is in progress, or, on Zephyr, the IoT
///         Hub connection is open or not yet closed (AZURE_IOT_HUB_EVT_DISCONNECTED not yet
///         delivered): DPS uses the hub's receive buffer, as the original's uses its MQTT helper.
/// @retval -EINVAL The ID scope, registration ID or registration payload cannot be sent.
/// @retval -ETIMEDOUT The connection to DPS could not be set up within the timeout.
/// @retval <0 Any other negative errno: the connection to DPS failed (as for
///         azure_iot_hub_connect()).
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_start() -> c_int {
    match start() {
        Ok(_) => 0,
        Err(e) => e,
    }
}

/// Returns the registration's number once it runs in the DPS thread.
fn start() -> Result<u64, c_int> {
    let (config, cancel, generation) = {
        let mut ctx = lock(&CTX);
        if ctx.state != State::Disconnected {
            return Err(neg(EACCES));
        }
        if ctx.status == AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING {
            return Err(neg(EALREADY));
        }
        if ctx.hostname.is_some() && ctx.device_id.is_some() {
            log::info!(target: LOG, "already assigned; no registration");
            ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED;
            return Err(neg(EALREADY));
        }
        ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED;
        let mut config = DpsConfig::from_config();
        config.id_scope = ctx.id_scope.clone();
        config.registration_id = ctx.reg_id.clone();
        if let Some(p) = &ctx.payload {
            config.registration_payload = p.clone();
        }
        let cancel = DpsCancel::new();
        ctx.cancel = Some(cancel.clone());
        ctx.state = State::Connecting;
        ctx.started += 1;
        (config, cancel, ctx.started)
    };
    let session = match drv::open(&config, &cancel) {
        Ok(s) => s,
        Err(e) => {
            log::warn!(target: LOG, "cannot start the registration: {e}");
            let mut ctx = lock(&CTX);
            ctx.state = State::Disconnected;
            ctx.cancel = None;
            ctx.finished = generation;
            drop(ctx);
            FINISHED.notify_all();
            return Err(errno_of(&e));
        }
    };
    let spawned = std::thread::Builder::new()
        .name("azure_iot_hub_dps".into())
        .spawn(move || {
            let result = session.run(&mut |status| {
                if status == DpsStatus::Assigning {
                    let handler = {
                        let mut ctx = lock(&CTX);
                        ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING;
                        ctx.handler
                    };
                    call(handler, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
                }
            });
            finish(generation, result);
        });
    if spawned.is_err() {
        finish(
            generation,
            Err(DpsError::Protocol("cannot start the DPS thread".into())),
        );
        return Err(neg(EFAULT));
    }
    Ok(generation)
}

/// Stores the result, sets the status, wakes a waiting connect() and reports to the handler.
fn finish(generation: u64, result: Result<Assignment, DpsError>) {
    let result = result.and_then(|a| {
        match (
            st::validate(Field::Hostname, a.hostname.as_bytes()),
            st::validate(Field::DeviceId, a.device_id.as_bytes()),
        ) {
            (Ok(_), Ok(_)) => Ok(a),
            (h, d) => Err(DpsError::Protocol(std::format!(
                "the assignment cannot be kept: host name {h:?}, device ID {d:?}"
            ))),
        }
    });
    if let Ok(a) = &result {
        // As the original: a failure to store is logged; the assignment is used anyway.
        drv::save(&mut settings(), a);
    }
    let (handler, status) = {
        let mut ctx = lock(&CTX);
        if ctx.started != generation {
            return;
        }
        ctx.state = State::Disconnected;
        ctx.cancel = None;
        ctx.finished = generation;
        match result {
            Ok(a) => {
                ctx.hostname = Some(a.hostname);
                ctx.device_id = Some(a.device_id);
                ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED;
                ctx.last_error = 0;
            }
            Err(e) => {
                ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_FAILED;
                ctx.last_error = -errno_of(&e);
            }
        }
        (ctx.handler, ctx.status)
    };
    FINISHED.notify_all();
    call(handler, status);
}

/// Whether `p` is one of the library's own copies (an earlier get repointed the caller there).
fn is_own_buffer(p: *mut c_char) -> bool {
    let p = p.cast::<u8>().cast_const();
    p == lock(&HOSTNAME_BUF).as_ptr() || p == lock(&DEVICE_ID_BUF).as_ptr()
}

/// Copies `value` into `buf`, or repoints `buf` at `own` (see azure_iot_hub_dps_hostname_get()).
///
/// # Safety
///
/// `buf` points to a valid, writable `struct azure_iot_hub_buf`; a non-NULL `buf->ptr` with a
/// non-zero size points to `buf->size` writable bytes.
unsafe fn hand_out<const N: usize>(
    buf: *mut azure_iot_hub_buf,
    value: &str,
    own: &'static Mutex<[u8; N]>,
) -> c_int {
    // SAFETY: the caller guarantees `buf` is valid and writable.
    let b = unsafe { &mut *buf };
    let bytes = value.as_bytes();
    if b.ptr.is_null() || b.size == 0 || is_own_buffer(b.ptr) {
        // Compatibility with the original, which always repointed the caller's buffer (also
        // when the caller passes a buffer an earlier call pointed at the library's copies).
        let mut own = lock(own);
        let n = bytes.len().min(N - 1);
        own[..n].copy_from_slice(&bytes[..n]);
        own[n] = 0;
        b.ptr = own.as_mut_ptr().cast::<c_char>();
        b.size = n;
        return 0;
    }
    if b.size < bytes.len() {
        return neg(EMSGSIZE);
    }
    // SAFETY: `b.ptr` is non-NULL and points to `b.size >= bytes.len()` writable bytes (the
    // caller's contract); the source is our own string, which does not overlap it.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), b.ptr.cast::<u8>(), bytes.len());
        if b.size > bytes.len() {
            *b.ptr.add(bytes.len()) = 0;
        }
    }
    b.size = bytes.len();
    0
}

/// Gets the assigned IoT Hub host name.
///
/// If `buf->ptr` is non-NULL and `buf->size` is not 0, the host name is copied into that buffer
/// (NUL-terminated when there is room for the NUL) and `buf->size` is set to its length. If
/// `buf->ptr` is NULL or `buf->size` is 0 (or `buf` points at a copy an earlier get handed out),
/// `buf` is pointed at the library's own NUL-terminated copy instead, as the original always
/// did; that copy changes when the assignment changes.
///
/// @retval 0 Success.
/// @retval -EINVAL @p buf is NULL.
/// @retval -ENOENT No host name is assigned (or stored and loaded by azure_iot_hub_dps_init()).
/// @retval -EMSGSIZE The caller's buffer is too small; nothing is written.
///
/// # Safety
///
/// @p buf is NULL or points to a writable `struct azure_iot_hub_buf` whose `ptr`, if non-NULL
/// with a non-zero size, points to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_hostname_get(buf: *mut azure_iot_hub_buf) -> c_int {
    if buf.is_null() || !buf.is_aligned() {
        return neg(EINVAL);
    }
    let Some(h) = lock(&CTX).hostname.clone() else {
        return neg(ENOENT);
    };
    // SAFETY: non-NULL and aligned, writable by the caller's contract.
    unsafe { hand_out(buf, &h, &HOSTNAME_BUF) }
}

/// Gets the assigned device ID. The buffer is filled (or repointed) as by
/// azure_iot_hub_dps_hostname_get().
///
/// @retval 0 Success.
/// @retval -EINVAL @p buf is NULL.
/// @retval -ENOENT No device ID is assigned.
/// @retval -EMSGSIZE The caller's buffer is too small; nothing is written.
///
/// # Safety
///
/// As azure_iot_hub_dps_hostname_get().
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_device_id_get(buf: *mut azure_iot_hub_buf) -> c_int {
    if buf.is_null() || !buf.is_aligned() {
        return neg(EINVAL);
    }
    let Some(d) = lock(&CTX).device_id.clone() else {
        return neg(ENOENT);
    };
    // SAFETY: non-NULL and aligned, writable by the caller's contract.
    unsafe { hand_out(buf, &d, &DEVICE_ID_BUF) }
}

fn delete(field: Field) -> c_int {
    // Deleting what is not stored succeeds.
    if let Err(e) = st::delete_field(&mut settings(), field) {
        log::error!(target: LOG, "cannot delete {}: {e}", field.key().as_str());
        return neg(EFAULT);
    }
    let mut ctx = lock(&CTX);
    match field {
        Field::Hostname => ctx.hostname = None,
        Field::DeviceId => ctx.device_id = None,
    }
    0
}

/// Deletes the stored host name (`azure_iot_hub/hostname`, and the original's
/// `azure_iot_hub/hostname_len`) and forgets it.
///
/// @retval 0 Success (also when nothing was stored).
/// @retval -EFAULT The settings could not be written.
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_hostname_delete() -> c_int {
    delete(Field::Hostname)
}

/// Deletes the stored device ID (`azure_iot_hub/device_id`, and the original's
/// `azure_iot_hub/device_id_len`) and forgets it.
///
/// @retval 0 Success (also when nothing was stored).
/// @retval -EFAULT The settings could not be written.
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_device_id_delete() -> c_int {
    delete(Field::DeviceId)
}

/// Deletes the stored assignment and resets DPS to its uninitialised state (the ID scope and
/// registration ID back to their Kconfig values, the status NOT_STARTED, no handler). Call
/// azure_iot_hub_dps_init() again before azure_iot_hub_dps_start().
///
/// @retval 0 Success.
/// @retval -EACCES A registration is in progress; nothing was changed.
/// @retval -EFAULT The settings could not be written (the state is reset anyway).
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_reset() -> c_int {
    {
        let mut ctx = lock(&CTX);
        if ctx.state == State::Connecting {
            return neg(EACCES);
        }
        let (scope, reg) = drv::kconfig_ids();
        ctx.state = State::Uninit;
        ctx.handler = None;
        ctx.id_scope = scope;
        ctx.reg_id = reg;
        ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED;
    }
    let h = delete(Field::Hostname);
    let d = delete(Field::DeviceId);
    if h != 0 {
        h
    } else {
        d
    }
}

/// EXTENSION (not in the original): sets the JSON that registrations send as `payload`, for
/// DPS custom allocation policies, replacing CONFIG_AZURE_IOT_HUB_DPS_REGISTRATION_PAYLOAD.
/// The JSON is copied and not validated (DPS refuses invalid JSON, and the registration fails).
///
/// @param json The JSON value (not NUL-terminated), or NULL for no payload.
/// @param len Its length; 0 means no payload.
///
/// @retval 0 Success.
/// @retval -EINVAL @p json is not UTF-8.
/// @retval -EMSGSIZE @p len is more than 256 bytes.
///
/// # Safety
///
/// @p json is NULL or points to @p len readable bytes.
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_payload_set(json: *const c_char, len: usize) -> c_int {
    let payload = if json.is_null() || len == 0 {
        None
    } else {
        if len > MAX_REGISTRATION_PAYLOAD_LEN {
            return neg(EMSGSIZE);
        }
        // SAFETY: non-NULL, and the caller guarantees `len` readable bytes (at most 256).
        let bytes = unsafe { core::slice::from_raw_parts(json.cast::<u8>(), len) };
        match utf8(bytes) {
            Some(s) => Some(String::from(s)),
            None => return neg(EINVAL),
        }
    };
    lock(&CTX).payload = Some(payload);
    0
}

/// Whether azure_iot_hub_connect() runs DPS for `use_dps`: CONFIG_AZURE_IOT_HUB_DPS (on Linux
/// also `CONFIG_AZURE_IOT_HUB_DPS=y` in the environment).
pub(crate) fn enabled() -> bool {
    drv::kconfig_enabled()
}

/// DPS for azure_iot_hub_connect() with `use_dps`: init with the library's handler (the
/// registration ID is `reg_id`, or CONFIG_AZURE_IOT_HUB_DPS_REG_ID when empty; the ID scope is
/// CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE), start, and wait for the end of the registration (a
/// failure ends the wait at once). Returns the assigned host name and device ID, or a negative
/// errno.
pub(crate) fn provision_for_connect(reg_id: &str) -> Result<(String, String), c_int> {
    let reg = (!reg_id.is_empty()).then(|| String::from(reg_id));
    init(None, None, reg)?;
    match start() {
        Ok(generation) => {
            let mut ctx = lock(&CTX);
            while ctx.finished < generation {
                ctx = FINISHED.wait(ctx).unwrap_or_else(|e| e.into_inner());
            }
            if ctx.status != AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED {
                return Err(-ctx.last_error.max(1));
            }
        }
        Err(e) if e == neg(EALREADY) => {}
        Err(e) => return Err(e),
    }
    let ctx = lock(&CTX);
    match (&ctx.hostname, &ctx.device_id) {
        (Some(h), Some(d)) => Ok((h.clone(), d.clone())),
        _ => Err(neg(EFAULT)),
    }
}

/// azure_iot_hub_connect() asks for DPS, and DPS is enabled.
pub(crate) fn use_dps(c: &crate::capi::types::azure_iot_hub_config) -> bool {
    c.use_dps.get() && enabled()
}

/// For azure_iot_hub_connect(), after AZURE_IOT_HUB_EVT_CONNECTING: with `use_dps` (and DPS
/// enabled), runs DPS and puts the assigned host name and device ID into `cc` (the config's
/// host name is ignored; its device ID, else CONFIG_AZURE_IOT_HUB_DEVICE_ID, is the
/// registration ID, else CONFIG_AZURE_IOT_HUB_DPS_REG_ID). Otherwise `cc` unchanged.
pub(crate) fn connect_hook(
    config: Option<&crate::capi::types::azure_iot_hub_config>,
    cc: &mut crate::port::ConnectConfig,
) -> Result<(), crate::capi::error::Error> {
    use crate::capi::error::Error;
    use crate::hub::properties::valid_component;
    let Some(c) = config.filter(|c| use_dps(c)) else {
        return Ok(());
    };
    // SAFETY: the caller of azure_iot_hub_connect() guarantees the buffer is readable.
    let reg = match unsafe { c.device_id.bytes() }.ok_or(Error::Null)? {
        [] => cc.device_id.clone(),
        b => utf8(b).ok_or(Error::InvalidConfig)?.into(),
    };
    let (hostname, device_id) = provision_for_connect(&reg).map_err(|e| Error::Dps(-e))?;
    // Stored values were checked when they were loaded; the assignment when it arrived.
    if !valid_component(hostname.as_bytes(), false) || !valid_component(device_id.as_bytes(), false)
    {
        return Err(Error::InvalidConfig);
    }
    cc.hostname = hostname;
    cc.device_id = device_id;
    let user =
        crate::sink::measure(|m| crate::hub::write_user_name(m, &cc.hostname, &cc.device_id, None))
            .map_err(|_| Error::ConfigTooLong)?;
    if user + 1 > cc.options.user_name_buf_size {
        return Err(Error::ConfigTooLong);
    }
    Ok(())
}
