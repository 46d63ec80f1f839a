// `azure_iot_hub_dps.h` on the Zephyr port: the library's single DPS context over the port's
// DPS driver (`src/port/zephyr/dps.rs`: its own socket, the DPS thread) and the Zephyr settings
// store (`src/port/zephyr/settings.rs`, the original's keys). Behaviour and return codes as on
// Linux (src/capi/dps/api.rs, docs/dps.md); the differences are listed in docs/zephyr.md.
//
// States: UNINIT (before init and after reset), DISCONNECTED (initialised), CONNECTING (a
// registration runs: from azure_iot_hub_dps_start() until the final status is reported). The
// context lock is never held while the application's handler runs or the network is used.

use core::ffi::{c_char, c_int, c_void};

use super::{azure_iot_hub_dps_config, azure_iot_hub_dps_handler_t, azure_iot_hub_dps_reg_status};
use crate::capi::errno::*;
use crate::capi::platform::SetText;
use crate::capi::types::{azure_iot_hub_buf, utf8};
use crate::config as k;
use crate::dps::driver::FailureKind;
use crate::dps::settings::{self as st, Field, DEVICE_ID_MAX_LEN, HOSTNAME_MAX_LEN};
use crate::dps::{MAX_ID_LEN, MAX_REGISTRATION_PAYLOAD_LEN};
use crate::mqtt::Text;
use crate::port::dps::{self as drv, DpsConfig, Hooks, StartError};
use crate::port::{KGuard, KMutex};
use crate::port::settings::{self as zs, ZephyrSettings};

use azure_iot_hub_dps_reg_status::*;

const LOG: &str = "azure_iot_hub_dps";

type Id = heapless::String<MAX_ID_LEN>;
type Payload = heapless::String<MAX_REGISTRATION_PAYLOAD_LEN>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Uninit,
    Disconnected,
    Connecting,
}

struct Ctx {
    state: State,
    handler: azure_iot_hub_dps_handler_t,
    id_scope: Id,
    reg_id: Id,
    status: azure_iot_hub_dps_reg_status,
    /// The assignment: the host name (`Field::Hostname as usize`) and the device ID, each
    /// NUL-terminated in its buffer, which the get functions hand out when the caller passes no
    /// buffer (as the original always did). Length 0: none (no kept value is empty).
    value: [[u8; VALUE_BUF]; 2],
    value_len: [usize; 2],
    /// While init loads the settings: the full length of the value stored for each field plus
    /// one (its bytes are in [`Ctx::value`] when they fit; 0: not stored), then checked. One
    /// word per field, not a 16-byte `Option<usize>`: init clears both with one store, and the
    /// load's handler writes one word (flash, measured; the glue's value buffer is far shorter
    /// than `usize::MAX`, so a stored length never wraps to "not stored").
    stored: [usize; 2],
    /// `azure_iot_hub_dps_payload_set()` was called (else the Kconfig payload applies).
    payload_set: bool,
    /// The payload it set (`None`: no payload).
    payload: Option<Payload>,
    /// Registrations started, and the last one that reported its final status. `u32`, not
    /// `u64`: a registration is a network round trip, 2^32 of them do not happen in a device's
    /// life, and `start`'s `Result<u32, c_int>` is returned in one register, not through
    /// memory (flash, measured).
    started: u32,
    finished: u32,
    /// The negative errno of the last registration's failure.
    last_error: c_int,
}

/// A buffer of [`Ctx::value`]: the longer value and its NUL.
const VALUE_BUF: usize = if HOSTNAME_MAX_LEN > DEVICE_ID_MAX_LEN {
    HOSTNAME_MAX_LEN
} else {
    DEVICE_ID_MAX_LEN
} + 1;

impl Ctx {
    /// The kept value of `field`.
    fn value(&self, field: Field) -> Option<&[u8]> {
        let i = field as usize;
        match self.value_len[i] {
            0 => None,
            n => self.value[i].get(..n),
        }
    }

    /// Both values are kept.
    fn assigned(&self) -> bool {
        self.value_len[0] != 0 && self.value_len[1] != 0
    }

    /// Keeps `len` bytes already in the buffer of `field` (0: none), NUL-terminated. One called
    /// copy for `keep` and `load_stored` (flash, measured).
    #[inline(never)]
    fn set_len(&mut self, field: Field, len: usize) {
        let i = field as usize;
        self.value_len[i] = 0;
        if let Some(nul) = self.value[i].get_mut(len) {
            *nul = 0;
            self.value_len[i] = len;
        }
    }

    /// Keeps `value` for `field`, which passed the settings rules (the driver's check of an
    /// assignment: it is not longer than the field allows); none if it does not fit with its
    /// NUL, which `set_len` finds (no test of the field's limit here). One called copy.
    #[inline(never)]
    fn keep(&mut self, field: Field, value: &[u8]) {
        let n = value.len();
        if let Some(dst) = self.value[field as usize].get_mut(..n) {
            crate::sink::copy(dst, value);
        }
        self.set_len(field, n);
    }
}

// The glue's kernel mutex 4 (the C API's DPS state). Every initial byte is zero: the context
// is in .bss, not in flash.
static CTX: KMutex<Ctx, 4> = KMutex::new(Ctx {
    state: State::Uninit,
    handler: None,
    id_scope: heapless::String::new(),
    reg_id: heapless::String::new(),
    status: AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED,
    value: [[0; VALUE_BUF]; 2],
    value_len: [0; 2],
    stored: [0; 2],
    payload_set: false,
    payload: None,
    started: 0,
    finished: 0,
    last_error: 0,
});

fn call(handler: azure_iot_hub_dps_handler_t, status: azure_iot_hub_dps_reg_status) {
    if let Some(h) = handler {
        // SAFETY: `h` is the function the application registered with azure_iot_hub_dps_init();
        // the argument is a valid enum value.
        unsafe { h(status) };
    }
}

/// `s` copied into `slot` in place (empty if it is longer than an ID).
#[inline(never)]
fn set_id(slot: &mut Id, s: &str) {
    slot.clear();
    let _ = slot.push_str(s);
}

/// The negative errno for a failed registration (as connect() and the status report use it).
fn errno_of(kind: FailureKind) -> c_int {
    match kind {
        FailureKind::Rejected => neg(ECONNREFUSED),
        FailureKind::Timeout => neg(ETIMEDOUT),
        FailureKind::Protocol => neg(EBADMSG),
        FailureKind::ConnectionLost => neg(ECONNABORTED),
    }
}

/// The bytes of a configuration buffer; `None` when it selects the Kconfig value (NULL pointer
/// or size 0, as the original).
///
/// # Safety
///
/// A non-NULL `buf.ptr` points to `buf.size` readable bytes, unchanged for as long as `buf` is
/// borrowed (the returned text borrows from it).
// Inlined into its one caller, which calls it twice (flash, measured).
#[inline(always)]
unsafe fn given(buf: &azure_iot_hub_buf) -> Result<Option<&str>, c_int> {
    if buf.ptr.is_null() || buf.size == 0 {
        return Ok(None);
    }
    // Longer than any ID DPS accepts (128): refused here, as the core would at start (before
    // the bytes are read: the same -EINVAL as for bytes that are not UTF-8).
    if buf.size > MAX_ID_LEN {
        return Err(neg(EINVAL));
    }
    // SAFETY: non-NULL with a size of at most 128, readable during the call by the caller's
    // contract.
    let bytes = unsafe { core::slice::from_raw_parts(buf.ptr.cast::<u8>(), buf.size) };
    utf8(bytes).map(Some).ok_or(neg(EINVAL))
}

/// Initialises DPS and registers the status handler; loads a stored assignment.
///
/// The handler is called with AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED before this function
/// returns. Call it again after azure_iot_hub_dps_reset().
///
/// @retval 0 Success.
/// @retval -EINVAL @p cfg or its handler is NULL, or the ID scope or registration ID is not
///         UTF-8 or longer than 128 bytes.
/// @retval -EFAULT The ID scope or registration ID is empty after the Kconfig fallback, or the
///         settings cannot be loaded.
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
        (Ok(scope), Ok(reg)) => init(cfg.handler, scope, reg),
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// Called by the glue's settings handler for every key under `azure_iot_hub` while `init`
/// loads the settings into the context (`settings::load`, on init's thread only), with the key
/// below the subtree (`hostname`...), as Zephyr's settings hand it to the handler. The value of
/// `hostname` or `device_id` is copied into the context as it is (last one wins), to be checked
/// when loading ends ([`load_stored`]); other keys are ignored.
///
/// # Safety
///
/// `into` is the context `init` passed to `settings::load`, locked by it for the whole load;
/// `key` is a NUL-terminated string; `value` is not NULL and points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn azhub_rs_settings_set(
    into: *mut c_void,
    key: *const c_char,
    value: *const c_void,
    len: usize,
) {
    // No NULL tests: the glue (settings.c, the only caller) refuses a NULL key before it reads
    // the value, passes its own buffer, and calls only during init's load with its context.
    // SAFETY: the glue passes Zephyr's NUL-terminated key, valid for the call.
    let key = unsafe { core::ffi::CStr::from_ptr(key) }.to_bytes();
    let Some(field) = zs::field_of(key) else {
        return;
    };
    // SAFETY: `init` passed its locked context, which it does not touch until the load returns
    // (this function's contract): the only reference meanwhile.
    let ctx = unsafe { &mut *into.cast::<Ctx>() };
    // SAFETY: the glue passes its value buffer (never NULL, a byte array) holding the `len`
    // bytes it has just read, valid for the call.
    let bytes = unsafe { core::slice::from_raw_parts(value.cast::<u8>(), len) };
    let i = field as usize;
    ctx.stored[i] = len.wrapping_add(1);
    if let Some(dst) = ctx.value[i].get_mut(..len) {
        crate::sink::copy(dst, bytes);
    }
}

/// Keeps the value of `field` that the settings load put into the context if it is valid, with
/// the core's load rule (`settings::stored_value`, which `settings::load_value` applies too); an
/// invalid value is ignored with a warning.
fn load_stored(ctx: &mut Ctx, field: Field) {
    let i = field as usize;
    // 0 (not stored) wraps to `usize::MAX`, which no stored length is.
    let len = match ctx.stored[i].wrapping_sub(1) {
        usize::MAX => 0,
        n => match st::stored_value(field, &ctx.value[i], n) {
            Ok(_) => n,
            Err(why) => {
                ::log::warn!(target: LOG, "invalid stored {} ignored: {why:?}", field.key().as_str());
                0
            }
        },
    };
    ctx.set_len(field, len);
}

/// init with the handler (None: the library's own, used by azure_iot_hub_connect()); the IDs
/// given are 1 to 128 bytes (the callers check them; `None`: the Kconfig value). 0 or a
/// negative errno, as the C API returns it (no `Result` to unpack again; flash, measured).
fn init(
    handler: azure_iot_hub_dps_handler_t,
    id_scope: Option<&str>,
    reg_id: Option<&str>,
) -> c_int {
    // A Kconfig value used for an ID not given may be empty or longer than an ID (a test of
    // constants: no code when both are usable).
    let unusable = |s: &str| s.is_empty() || s.len() > MAX_ID_LEN;
    if (id_scope.is_none() && unusable(k::AZURE_IOT_HUB_DPS_ID_SCOPE))
        || (reg_id.is_none() && unusable(k::AZURE_IOT_HUB_DPS_REG_ID))
    {
        ::log::error!(target: LOG, "no ID scope or registration ID (CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE / _REG_ID)");
        return neg(EFAULT);
    }
    let id_scope = id_scope.unwrap_or(k::AZURE_IOT_HUB_DPS_ID_SCOPE);
    let reg_id = reg_id.unwrap_or(k::AZURE_IOT_HUB_DPS_REG_ID);
    {
        let mut ctx = CTX.lock();
        if ctx.state == State::Connecting {
            ::log::warn!(target: LOG, "init refused: a registration is in progress");
            return neg(EACCES);
        }
        // The settings are loaded under the context's lock, straight into the context
        // (`azhub_rs_settings_set`). Nothing takes this lock under the settings subsystem's:
        // the handler is given the context, and the writes (`on_assigned`, `delete`) are made
        // without this lock.
        ctx.stored = [0; 2];
        let into: *mut Ctx = &mut *ctx;
        // SAFETY: the locked context, valid for the whole load and not used here meanwhile;
        // `azhub_rs_settings_set` takes it back. A failed load wrote nothing: only the
        // subsystem's initialisation fails (`settings_load_subtree` fails only in commit
        // handlers, which the subtree has none of), so the context is as it was.
        if unsafe { zs::load(into.cast()) }.is_err() {
            return neg(EFAULT);
        }
        load_stored(&mut ctx, Field::Hostname);
        load_stored(&mut ctx, Field::DeviceId);
        ctx.handler = handler;
        set_id(&mut ctx.id_scope, id_scope);
        set_id(&mut ctx.reg_id, reg_id);
        ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED;
        ctx.state = State::Disconnected;
    }
    call(handler, AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED);
    0
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
/// @retval -ETIMEDOUT The connection to DPS could not be set up in time.
/// @retval <0 Any other negative errno: the connection to DPS failed (as for
///         azure_iot_hub_connect()).
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_start() -> c_int {
    match start() {
        Ok(_) => 0,
        Err(e) => e,
    }
}

/// The DPS driver's calls into this context (on the DPS thread).
struct Api;

impl Hooks for Api {
    fn on_assigning() {
        let handler = {
            let mut ctx = CTX.lock();
            ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING;
            ctx.handler
        };
        call(handler, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
    }

    /// A usable assignment (before the connection closes): stores it and keeps it for the get
    /// functions.
    fn on_assigned(hostname: Text<'_>, device_id: Text<'_>) {
        // As the original: a failure to store is logged; the assignment is used anyway. The
        // driver checked both values with the settings rules: the core's writes, in its order.
        let (h, d) = (hostname.as_bytes(), device_id.as_bytes());
        if let Err(e) = st::store_checked(&mut ZephyrSettings, h, d) {
            ::log::error!(target: LOG, "cannot store the assignment: {e:?}");
        }
        let mut ctx = CTX.lock();
        // The driver checked both against the settings rules (lengths included): they fit.
        ctx.keep(Field::Hostname, h);
        ctx.keep(Field::DeviceId, d);
    }

    /// The end of a registration: sets the status, wakes a waiting connect() (the driver gives
    /// its semaphore after this) and reports to the handler.
    fn on_end(result: Result<(), FailureKind>) {
        let (handler, status) = {
            let mut ctx = CTX.lock();
            ctx.state = State::Disconnected;
            ctx.finished = ctx.started;
            match result {
                Ok(()) => {
                    ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED;
                    ctx.last_error = 0;
                }
                Err(kind) => {
                    ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_FAILED;
                    ctx.last_error = errno_of(kind);
                }
            }
            (ctx.handler, ctx.status)
        };
        call(handler, status);
    }
}

fn start_errno(e: StartError) -> c_int {
    use crate::capi::error::{errno, Error, Op};
    match e {
        StartError::Busy | StartError::HubConnected => neg(EACCES),
        StartError::InvalidConfig => neg(EINVAL),
        StartError::Transport(c) => errno(Op::Connect, &Error::from(c)),
    }
}

/// Returns the registration's number once it runs in the DPS thread.
fn start() -> Result<u32, c_int> {
    // CONNECT is queued from the context's IDs and payload under its lock (nothing waits
    // there); the connection is set up after the lock is released.
    let (prepared, generation) = {
        let mut ctx = CTX.lock();
        // A registration that is assigning is CONNECTING (ASSIGNING is set only by the DPS
        // thread's hooks, between a start and the end that sets DISCONNECTED with ASSIGNED or
        // FAILED, under this lock): refused here, so no test of the status for it.
        if ctx.state != State::Disconnected {
            return Err(neg(EACCES));
        }
        if ctx.assigned() {
            ::log::info!(target: LOG, "already assigned; no registration");
            ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED;
            return Err(neg(EALREADY));
        }
        ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED;
        let kconfig = k::AZURE_IOT_HUB_DPS_REGISTRATION_PAYLOAD;
        if !ctx.payload_set && kconfig.len() > MAX_REGISTRATION_PAYLOAD_LEN {
            ::log::error!(target: LOG, "CONFIG_AZURE_IOT_HUB_DPS_REGISTRATION_PAYLOAD is longer than 256 bytes");
            return Err(neg(EINVAL));
        }
        ctx.state = State::Connecting;
        ctx.started += 1;
        let ctx = &*ctx;
        let config = DpsConfig {
            id_scope: &ctx.id_scope,
            registration_id: &ctx.reg_id,
            registration_payload: if ctx.payload_set {
                ctx.payload.as_deref()
            } else {
                (!kconfig.is_empty()).then_some(kconfig)
            },
        };
        (drv::prepare::<Api>(&config), ctx.started)
    };
    if let Err(e) = prepared.and_then(drv::open) {
        ::log::warn!(target: LOG, "cannot start the registration: {e:?}");
        let mut ctx = CTX.lock();
        ctx.state = State::Disconnected;
        ctx.finished = generation;
        return Err(start_errno(e));
    }
    Ok(generation)
}

/// Copies the value of `field` into `buf`, or repoints `buf` at the context's copy (see
/// azure_iot_hub_dps_hostname_get()).
///
/// # Safety
///
/// `buf` is NULL or points to a `struct azure_iot_hub_buf`, writable by the caller's contract;
/// a non-NULL `buf->ptr` with a non-zero size points to `buf->size` writable bytes.
unsafe fn get(buf: *mut azure_iot_hub_buf, field: Field) -> c_int {
    if buf.is_null() || !buf.is_aligned() {
        return neg(EINVAL);
    }
    // SAFETY: non-NULL and aligned, writable by the caller's contract.
    let b = unsafe { &mut *buf };
    let mut ctx = CTX.lock();
    let Some(n) = ctx.value(field).map(<[u8]>::len) else {
        return neg(ENOENT);
    };
    // An earlier get may have pointed the caller at either of the context's copies.
    let p = b.ptr.cast::<u8>().cast_const();
    let is_own = p == ctx.value[0].as_ptr() || p == ctx.value[1].as_ptr();
    let own = &mut ctx.value[field as usize];
    if b.ptr.is_null() || b.size == 0 || is_own {
        // Compatibility with the original, which always repointed the caller's buffer.
        b.ptr = own.as_mut_ptr().cast::<c_char>();
        b.size = n;
        return 0;
    }
    if b.size < n {
        return neg(EMSGSIZE);
    }
    // SAFETY: `b.ptr` is non-NULL and points to `b.size >= n` writable bytes (the caller's
    // contract); `own` holds at least `n` bytes. `copy`: the caller's buffer may be a part of
    // the context's.
    unsafe {
        core::ptr::copy(own.as_ptr(), b.ptr.cast::<u8>(), n);
        if b.size > n {
            *b.ptr.add(n) = 0;
        }
    }
    b.size = n;
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
/// @retval 0 Success. @retval -EINVAL @p buf is NULL. @retval -ENOENT Nothing assigned.
/// @retval -EMSGSIZE The caller's buffer is too small; nothing is written.
///
/// # Safety
///
/// @p buf is NULL or a writable `struct azure_iot_hub_buf` (see azure_iot_hub_dps.h).
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_dps_hostname_get(buf: *mut azure_iot_hub_buf) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe { get(buf, Field::Hostname) }
}

/// Gets the assigned device ID (as azure_iot_hub_dps_hostname_get()).
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
    // Deleting what is not stored succeeds. The value, then the original's length key.
    if let Err(e) = st::delete_field(&mut ZephyrSettings, field) {
        ::log::error!(target: LOG, "cannot delete {}: {e}", field.key().as_str());
        return neg(EFAULT);
    }
    CTX.lock().value_len[field as usize] = 0;
    0
}

/// Deletes the stored host name and forgets it.
/// @retval 0 Success (also when nothing was stored). @retval -EFAULT Settings write failed.
#[no_mangle]
pub extern "C" fn azure_iot_hub_dps_hostname_delete() -> c_int {
    delete(Field::Hostname)
}

/// Deletes the stored device ID and forgets it.
/// @retval 0 Success (also when nothing was stored). @retval -EFAULT Settings write failed.
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
    let was_uninit = {
        let mut ctx = CTX.lock();
        if ctx.state == State::Connecting {
            return neg(EACCES);
        }
        let was = ctx.state == State::Uninit;
        ctx.state = State::Uninit;
        ctx.handler = None;
        // The IDs are not reset here: only init leaves UNINIT, and it sets both (the Kconfig
        // values unless given), so nothing reads them before.
        ctx.status = AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED;
        was
    };
    // Before any init the settings subsystem is not initialised yet: do that first.
    // SAFETY: NULL: nothing is handed over.
    if was_uninit && unsafe { zs::load(core::ptr::null_mut()) }.is_err() {
        return neg(EFAULT);
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
            Some(s) => Some(s),
            None => return neg(EINVAL),
        }
    };
    let mut ctx = CTX.lock();
    ctx.payload_set = true;
    // Written in place (it fits: at most 256 bytes).
    ctx.payload = None;
    if let Some(p) = payload {
        let _ = ctx.payload.insert(Payload::new()).push_str(p);
    }
    0
}

/// DPS for azure_iot_hub_connect() with `use_dps`: init with the library's handler (the
/// registration ID is `reg_id`, or CONFIG_AZURE_IOT_HUB_DPS_REG_ID when empty; the ID scope is
/// CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE), start, and wait for the end of the registration (a
/// failure ends the wait at once). Then an assignment is kept, and the context is returned
/// locked for the caller to read it (the lock of the final check, not a second one), or this
/// returns a negative errno.
fn provision_for_connect(reg_id: &str) -> Result<KGuard<'static, Ctx, 4>, c_int> {
    if drv::on_dps_thread() {
        // From a DPS status handler: the registration could not run while we wait for it.
        ::log::error!(target: LOG, "azure_iot_hub_connect() with use_dps from the DPS thread");
        return Err(neg(EACCES));
    }
    let reg = if reg_id.is_empty() {
        None
    } else if reg_id.len() > MAX_ID_LEN {
        return Err(neg(EINVAL));
    } else {
        Some(reg_id)
    };
    let rc = init(None, None, reg);
    if rc != 0 {
        return Err(rc);
    }
    match start() {
        Ok(generation) => loop {
            let ctx = CTX.lock();
            if ctx.finished >= generation {
                if ctx.status != AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED {
                    return Err(ctx.last_error.min(-1));
                }
                return Ok(ctx);
            }
            drop(ctx);
            // Bounded: the semaphore has a limit of 1 and is given after every registration.
            drv::wait_end(100);
        },
        Err(e) if e == neg(EALREADY) => Ok(CTX.lock()),
        Err(e) => Err(e),
    }
}

/// azure_iot_hub_connect() asks for DPS, and DPS is enabled (CONFIG_AZURE_IOT_HUB_DPS).
pub(crate) fn use_dps(c: &crate::capi::types::azure_iot_hub_config) -> bool {
    c.use_dps.get() && k::AZURE_IOT_HUB_DPS
}

/// For azure_iot_hub_connect(), after AZURE_IOT_HUB_EVT_CONNECTING: with `use_dps` (and DPS
/// enabled), runs DPS and puts the assigned host name and device ID into `cc` (the config's
/// host name is ignored; its device ID, else CONFIG_AZURE_IOT_HUB_DEVICE_ID, is the
/// registration ID, else CONFIG_AZURE_IOT_HUB_DPS_REG_ID). Otherwise `cc` unchanged.
pub(crate) fn connect_hook(
    config: Option<&crate::capi::types::azure_iot_hub_config>,
    cc: &mut crate::port::CapiTarget,
) -> Result<(), crate::capi::error::Error> {
    use crate::capi::error::Error;
    use crate::capi::types::utf8;
    use crate::dps::component_ok as valid_component;
    let Some(c) = config.filter(|c| use_dps(c)) else {
        return Ok(());
    };
    // SAFETY: the caller of azure_iot_hub_connect() guarantees the buffer is readable.
    let given = unsafe { c.device_id.bytes() }.ok_or(Error::Null)?;
    let reg: &str = match given {
        [] => &cc.device_id,
        b => utf8(b).ok_or(Error::InvalidConfig)?,
    };
    {
        // Nothing here waits or calls out: the DPS thread's hooks, which take this lock too,
        // wait at most for these checks and copies.
        let ctx = provision_for_connect(reg).map_err(|e| Error::Dps(-e))?;
        let (Some(hostname), Some(device_id)) =
            (ctx.value(Field::Hostname), ctx.value(Field::DeviceId))
        else {
            return Err(Error::Dps(EFAULT));
        };
        // Stored values were checked when they were loaded; the assignment when it arrived.
        // Checked again here (a get hands the application these buffers), as topic components,
        // which are UTF-8.
        if !valid_component(hostname, false) || !valid_component(device_id, false) {
            return Err(Error::InvalidConfig);
        }
        // SAFETY: `valid_component` accepts UTF-8 only (bytes that are not all ASCII pass only
        // if `is_utf8` accepts them).
        let text = |v| unsafe { core::str::from_utf8_unchecked(v) };
        cc.hostname.set_text(text(hostname))?;
        cc.device_id.set_text(text(device_id))?;
    }
    // Computed as the connect checks do (no measuring pass; the two strings are short).
    let user = crate::hub::user_name_len(&cc.hostname, &cc.device_id, None);
    if user + 1 > k::AZURE_IOT_HUB_USER_NAME_BUF_SIZE {
        return Err(Error::ConfigTooLong);
    }
    Ok(())
}
