//! The exported functions, the library's single context (state, handler, client) and its state
//! machine (nrf-api.md sections 1.1 and 4.1).
//!
//! Locking: the state lock is held only to check and change the state, never while the C handler
//! runs, so the handler may call every function of the API (as the original allows).

use core::ffi::c_int;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::error::{errno, Error, Op};
use super::events;
use super::platform::{self, state, SetText};
use super::types::*;
use crate::config;
use crate::hub::properties::PropertyList;
use crate::hub::{self, Message, MessageKind, MAX_DEVICE_ID_LEN, MAX_HOSTNAME_LEN};
use crate::mqtt::QoS;
use platform::Target;

use iot_hub_state::*;

pub(super) static HANDLER: HandlerCell = HandlerCell(AtomicPtr::new(core::ptr::null_mut()));

/// The application's event handler: one atomic pointer (null: none), so that every event reads
/// it without a lock and registering one needs no kernel mutex.
pub(super) struct HandlerCell(AtomicPtr<()>);

impl HandlerCell {
    pub(super) fn set(&self, handler: azure_iot_hub_evt_handler_t) {
        let p = handler.map_or(core::ptr::null_mut(), |h| h as *mut ());
        self.0.store(p, Ordering::Release);
    }

    pub(super) fn get(&self) -> azure_iot_hub_evt_handler_t {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: a non-null value was stored by `set` from a handler of this very type, and
        // function and data pointers have the same size on every target the library supports.
        (!p.is_null()).then(|| unsafe {
            core::mem::transmute::<*mut (), unsafe extern "C" fn(*mut azure_iot_hub_evt)>(p)
        })
    }
}

/// The state machine of the original: which transitions are allowed, as one bit per pair
/// (bit `8 * from + to`), a move to the current state included (a no-op).
const ALLOWED: u64 = {
    const fn bit(from: iot_hub_state, to: iot_hub_state) -> u64 {
        1 << (8 * from as u32 + to as u32)
    }
    let same = bit(STATE_UNINIT, STATE_UNINIT)
        | bit(STATE_DISCONNECTED, STATE_DISCONNECTED)
        | bit(STATE_CONNECTING, STATE_CONNECTING)
        | bit(STATE_TRANSPORT_CONNECTED, STATE_TRANSPORT_CONNECTED)
        | bit(STATE_CONNECTED, STATE_CONNECTED)
        | bit(STATE_DISCONNECTING, STATE_DISCONNECTING)
        | bit(STATE_COUNT, STATE_COUNT);
    same | bit(STATE_UNINIT, STATE_DISCONNECTED)
        | bit(STATE_DISCONNECTED, STATE_CONNECTING)
        | bit(STATE_CONNECTING, STATE_CONNECTED)
        | bit(STATE_CONNECTING, STATE_DISCONNECTED)
        | bit(STATE_TRANSPORT_CONNECTED, STATE_CONNECTING)
        | bit(STATE_CONNECTED, STATE_DISCONNECTING)
        | bit(STATE_CONNECTED, STATE_DISCONNECTED)
        | bit(STATE_DISCONNECTING, STATE_DISCONNECTED)
        | bit(STATE_DISCONNECTING, STATE_TRANSPORT_CONNECTED)
};

/// Moves to `to` if the state machine allows it (a move to the current state is a no-op);
/// otherwise refuses, logs, and reports AZURE_IOT_HUB_EVT_ERROR with -EINVAL, as the original.
pub(super) fn transition(to: iot_hub_state) {
    let refused = {
        let mut st = state();
        if ALLOWED >> (8 * *st as u32 + to as u32) & 1 != 0 {
            *st = to;
            None
        } else {
            Some(*st)
        }
    };
    if let Some(from) = refused {
        log::error!("invalid state transition {from:?} -> {to:?}");
        events::emit_error(super::errno::neg(super::errno::EINVAL));
    }
}

/// Calls the application's handler, if there is one.
pub(super) fn emit(evt: &mut azure_iot_hub_evt) {
    if let Some(h) = HANDLER.get() {
        // SAFETY: `h` is the function the application registered with `azure_iot_hub_init`;
        // `evt` is a valid, initialised event that lives for the whole call.
        unsafe { h(evt) };
    }
}

fn ret(op: Op, r: Result<(), Error>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => {
            let code = errno(op, &e);
            log::debug!("{op:?}: {e:?} -> {code}");
            code
        }
    }
}

/// Initialises the library and registers the event handler.
///
/// Call it once before any other function. It may be called again while disconnected, to
/// register another handler.
///
/// @param event_handler The function that receives the library's events (on the library's
///        thread; AZURE_IOT_HUB_EVT_CONNECTING in the caller of azure_iot_hub_connect()).
///
/// @retval 0 Success.
/// @retval -EALREADY The library is connecting, connected or disconnecting (checked first).
/// @retval -EINVAL @p event_handler is NULL.
#[no_mangle]
pub extern "C" fn azure_iot_hub_init(event_handler: azure_iot_hub_evt_handler_t) -> c_int {
    ret(Op::Init, init(event_handler))
}

fn init(event_handler: azure_iot_hub_evt_handler_t) -> Result<(), Error> {
    let mut st = state();
    if !matches!(*st, STATE_UNINIT | STATE_DISCONNECTED) {
        return Err(Error::AlreadyInitialised);
    }
    let handler = event_handler.ok_or(Error::Null)?;
    // The hub's FOTA handler (it cannot fail: the handler is not NULL, and on Zephyr the
    // download thread starts once, from a valid entry).
    #[cfg(all(feature = "fota", any(feature = "std", feature = "zephyr")))]
    super::fota::hub_init();
    platform::init_client(&mut st)?;
    HANDLER.set(Some(handler));
    *st = STATE_DISCONNECTED;
    Ok(())
}

/// Connects to Azure IoT Hub.
///
/// Blocks until the transport is connected (DNS, TCP, TLS) and the MQTT CONNECT is sent.
/// AZURE_IOT_HUB_EVT_CONNECTING is delivered from inside this call, before the transport is set
/// up; then wait for AZURE_IOT_HUB_EVT_CONNECTED and AZURE_IOT_HUB_EVT_READY before sending.
/// The host name and device ID are copied: the buffers may be reused after the call.
///
/// @param config The host name and device ID. NULL, or a buffer of size 0, selects
///        CONFIG_AZURE_IOT_HUB_HOSTNAME / CONFIG_AZURE_IOT_HUB_DEVICE_ID.
///
/// @retval 0 Success: the CONNECT packet was sent.
/// @retval -EINPROGRESS A connection attempt is in progress (or the previous connection is still
///         being closed: AZURE_IOT_HUB_EVT_DISCONNECTED has not been delivered yet), or, on
///         Zephyr, a DPS registration is running (it holds the receive buffer the hub's
///         connection uses, as in the original).
/// @retval -EALREADY Already connected.
/// @retval -ENOENT The library is not initialised, or not disconnected.
/// @retval -EINVAL Invalid configuration: a buffer with a size but no pointer, or a host name or
///         device ID that is empty, not UTF-8, or holds characters MQTT does not allow. No
///         event is sent.
/// @retval -EMSGSIZE The host name or device ID is longer than the library stores (128 bytes),
///         or the MQTT user name does not fit CONFIG_AZURE_IOT_HUB_USER_NAME_BUF_SIZE.
/// @retval -ENOTSUP @p config asks for DPS, which this build does not support.
/// @retval -EFAULT Internal error.
/// @retval <0 Any other negative errno: the transport failed (for example -EHOSTUNREACH when the
///         host name cannot be resolved, -ECONNREFUSED, -ECONNABORTED when the TLS handshake
///         fails). The state is back to disconnected; no further event is sent.
///
/// # Safety
///
/// @p config is NULL or points to a valid `struct azure_iot_hub_config` whose buffers are
/// readable for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_connect(config: *const azure_iot_hub_config) -> c_int {
    // One call of `ret` for both results.
    let r = if !config.is_aligned() {
        Err(Error::Null)
    } else {
        // SAFETY: NULL or aligned, and the caller guarantees a non-NULL pointer points to a
        // valid config. Every field is an integer or a pointer, so any bit pattern C stored is
        // valid.
        connect(unsafe { config.as_ref() })
    };
    ret(Op::Connect, r)
}

/// Replaces `dst` with the text of a C buffer of azure_iot_hub_connect(), unless it is empty.
/// One called copy for the host name and the device ID.
#[inline(never)]
fn set_from<T: SetText>(dst: &mut T, buf: &azure_iot_hub_buf) -> Result<(), Error> {
    // SAFETY: the caller of azure_iot_hub_connect guarantees the buffer is readable during the
    // call; the bytes are copied before it returns.
    let bytes = unsafe { buf.bytes() }.ok_or(Error::Null)?;
    if !bytes.is_empty() {
        let s = utf8(bytes).ok_or(Error::InvalidConfig)?;
        dst.set_text(s)?;
    }
    Ok(())
}

/// Fills in and checks what CONNECT will carry, so that a bad configuration is refused before
/// AZURE_IOT_HUB_EVT_CONNECTING. Writes into the caller's `cc` (built in place: no copy of the
/// whole configuration).
fn connect_config(config: Option<&azure_iot_hub_config>, cc: &mut Target) -> Result<(), Error> {
    if let Some(c) = config {
        #[cfg(all(feature = "dps", any(feature = "std", feature = "zephyr")))]
        if super::dps::use_dps(c) {
            // The host name and device ID come from DPS, after CONNECTING (dps::connect_hook).
            return Ok(());
        }
        // Without the DPS port (feature `dps`), use_dps cannot be honoured.
        let dps_port = cfg!(all(
            feature = "dps",
            any(feature = "std", feature = "zephyr")
        ));
        if c.use_dps.get() && config::AZURE_IOT_HUB_DPS && !dps_port {
            return Err(Error::DpsUnsupported);
        }
        set_from(&mut cc.hostname, &c.hostname)?;
        set_from(&mut cc.device_id, &c.device_id)?;
    }
    // On Zephyr the strings cannot hold more (set_text refused a longer text already).
    if cfg!(not(feature = "zephyr"))
        && (cc.hostname.len() > MAX_HOSTNAME_LEN || cc.device_id.len() > MAX_DEVICE_ID_LEN)
    {
        return Err(Error::ConfigTooLong);
    }
    if !hub::valid_id(&cc.hostname) || !hub::valid_id(&cc.device_id) {
        return Err(Error::InvalidConfig);
    }
    // With the model ID (URL-encoded), so that a user name it makes too long is refused before
    // CONNECTING too.
    let model = platform::model_id(cc).map_or(0, |m| {
        "&model-id=".len() + crate::hub::session::url_encoded_len(m)
    });
    // `user name + NUL > buffer`, as the two names' lengths against the room the buffer leaves
    // them (a constant on Zephyr: one plain comparison, from which the compiler also knows the
    // CONNECT encoder's length test to pass).
    let fixed = hub::user_name_len("", "", None) + model + 1;
    let fits = platform::user_name_buf_size(cc)
        .checked_sub(fixed)
        .is_some_and(|room| cc.hostname.len() + cc.device_id.len() <= room);
    if !fits {
        return Err(Error::ConfigTooLong);
    }
    Ok(())
}

fn connect(config: Option<&azure_iot_hub_config>) -> Result<(), Error> {
    let mut cc = platform::target();
    let client = {
        let mut st = state();
        match *st {
            STATE_CONNECTING => return Err(Error::ConnectInProgress),
            STATE_CONNECTED => return Err(Error::AlreadyConnected),
            // The library reconnects on its own (docs/extensions.md): as if connecting.
            STATE_DISCONNECTED if events::reconnect::active() => {
                return Err(Error::ConnectInProgress)
            }
            STATE_DISCONNECTED => {}
            _ => return Err(Error::NotDisconnected),
        }
        connect_config(config, &mut cc)?;
        // DISCONNECTED is only reached through init, which creates the client.
        let client = platform::handle().ok_or(Error::NotDisconnected)?;
        *st = STATE_CONNECTING;
        client
    };
    events::emit_plain(azure_iot_hub_evt_type::AZURE_IOT_HUB_EVT_CONNECTING, 0);
    #[cfg(all(feature = "dps", any(feature = "std", feature = "zephyr")))]
    super::dps::connect_hook(config, &mut cc).map_err(connect_failed)?;
    platform::connect(client, &cc).map_err(|e| connect_failed(Error::from(e)))
}

/// A connect that failed after CONNECTING (DPS or the transport): back to DISCONNECTED, unless
/// the state moved on meanwhile. One copy for both.
fn connect_failed(e: Error) -> Error {
    let mut st = state();
    if *st == STATE_CONNECTING {
        *st = STATE_DISCONNECTED;
    }
    e
}

/// Disconnects from Azure IoT Hub.
///
/// AZURE_IOT_HUB_EVT_DISCONNECTED is delivered when the connection is closed, before this
/// function returns (from the library's thread; when called from the event handler, right after
/// the handler returns).
///
/// @retval 0 Success.
/// @retval -ENOTCONN Not connected (also while the connection is still being set up).
/// @retval -ENXIO The transport reported an error; the state is disconnected.
#[no_mangle]
pub extern "C" fn azure_iot_hub_disconnect() -> c_int {
    ret(Op::Disconnect, disconnect())
}

fn disconnect() -> Result<(), Error> {
    let mut st = state();
    // While the library reconnects on its own, disconnect() stops it.
    if *st != STATE_CONNECTED && !events::reconnect::active() {
        return Err(Error::NotConnected);
    }
    // Connected (or reconnecting) implies initialised: this lookup cannot fail.
    let client = platform::handle().ok_or(Error::NotConnected)?;
    *st = STATE_DISCONNECTING;
    // On Zephyr the port disconnects under the same lock (the state is a field of its link).
    platform::disconnect(st, client)
}

/// The message ID of a message to send: `given`, or when it is 0 the next MQTT message ID
/// (1, 2, ..., 65535, 1, ...; none before the library is initialised), chosen before the state
/// is checked, as the original does; `Error::NotConnected` unless connected. One called copy
/// for azure_iot_hub_send and azure_iot_hub_method_respond.
fn message_id(given: u16) -> Result<Option<u16>, Error> {
    // One lock for both on Zephyr, where the state is a field of the port's link.
    let mut st = state();
    let packet_id = if given != 0 {
        Some(given)
    } else {
        platform::next_packet_id(&mut st)
    };
    if *st != STATE_CONNECTED {
        return Err(Error::NotConnected);
    }
    Ok(packet_id)
}

/// The caller's property array, read in place, with every buffer checked by
/// [`CProperties::new`].
struct CProperties<'a>(&'a [azure_iot_hub_property]);

impl<'a> CProperties<'a> {
    /// `Error::Null` if a property has no key pointer, or a buffer has a size but no pointer.
    fn new(props: &'a [azure_iot_hub_property]) -> Result<Self, Error> {
        for p in props {
            if p.key.ptr.is_null() {
                return Err(Error::Null);
            }
            // SAFETY: azure_iot_hub_send's caller guarantees that the properties' buffers are
            // readable for the duration of the call, which outlives `'a`.
            if unsafe { p.key.bytes().is_none() || p.value.bytes().is_none() } {
                return Err(Error::Null);
            }
        }
        Ok(CProperties(props))
    }
}

impl PropertyList for CProperties<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let p = self.0.get(i)?;
        // SAFETY: as in `new`, which found both buffers usable: the key's pointer is not NULL
        // and its size at most isize::MAX, the value's too unless its size is 0.
        unsafe {
            let key = core::slice::from_raw_parts(p.key.ptr as *const u8, p.key.size);
            let value = match p.value.size {
                0 => &[],
                n => core::slice::from_raw_parts(p.value.ptr as *const u8, n),
            };
            Some((key, value))
        }
    }
}

/// Sends a message to Azure IoT Hub.
///
/// Topic types: AZURE_IOT_HUB_TOPIC_EVENT (telemetry, with the properties in `topic.properties`
/// appended to the topic verbatim), AZURE_IOT_HUB_TOPIC_TWIN_REPORTED and
/// AZURE_IOT_HUB_TOPIC_TWIN_REQUEST (with `request_id`, or a generated request ID when its size
/// is 0). A `message_id` of 0 takes the next message ID. QoS 0 or 1.
///
/// @param tx_data The message. Its buffers need only be valid during the call.
///
/// @retval 0 Success: the message was handed to the transport.
/// @retval -EINVAL @p tx_data is NULL (checked first), a buffer has a size but no pointer, a
///         property has no key pointer, or the QoS is not 0 or 1.
/// @retval -ENOTCONN Not connected.
/// @retval -ENOMSG The topic type cannot be sent, or a property or the request ID holds
///         characters that would make the topic invalid (`&`, `#`, `+`, NUL, `=` in a key or
///         request ID, or bytes that are not UTF-8).
/// @retval -EMSGSIZE The properties do not fit CONFIG_AZURE_IOT_HUB_MSG_PROPERTY_BUFFER_SIZE, or
///         the topic does not fit CONFIG_AZURE_IOT_HUB_TOPIC_MAX_LEN.
/// @retval -ENOMEM The transmit buffer cannot take the message now.
/// @retval -EFAULT Internal error.
/// @retval <0 Any other negative errno: the transport failed writing the message.
///
/// # Safety
///
/// @p tx_data is NULL or points to a valid `struct azure_iot_hub_msg` whose buffers and property
/// array are readable for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_send(tx_data: *const azure_iot_hub_msg) -> c_int {
    if tx_data.is_null() || !tx_data.is_aligned() {
        return ret(Op::Send, Err(Error::Null));
    }
    // SAFETY: non-NULL and aligned; the caller guarantees it points to a valid message. Every
    // field is an integer or a pointer, so any bit pattern C stored is a valid value.
    let msg = unsafe { &*tx_data };
    ret(Op::Send, send(msg))
}

fn send(msg: &azure_iot_hub_msg) -> Result<(), Error> {
    use azure_iot_hub_topic_type::*;
    let packet_id = message_id(msg.message_id)?;
    let topic_type = msg.topic.r#type.get();
    if !matches!(
        topic_type,
        Some(
            AZURE_IOT_HUB_TOPIC_EVENT
                | AZURE_IOT_HUB_TOPIC_TWIN_REPORTED
                | AZURE_IOT_HUB_TOPIC_TWIN_REQUEST
        )
    ) {
        return Err(Error::UnsupportedTopic);
    }
    let qos = match msg.qos.0 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => return Err(Error::UnsupportedQoS),
    };
    // SAFETY: the caller guarantees the payload is readable during the call.
    let payload = unsafe { msg.payload.bytes() }.ok_or(Error::Null)?;
    let props: &[azure_iot_hub_property] = match msg.topic.property_count {
        0 => &[],
        n => {
            let p = msg.topic.properties;
            if p.is_null()
                || !p.is_aligned()
                || n > isize::MAX as usize / core::mem::size_of::<azure_iot_hub_property>()
            {
                return Err(Error::Null);
            }
            // SAFETY: non-NULL, aligned, and `n` entries fit the address space; the caller
            // guarantees the array is readable for the duration of the call.
            unsafe { core::slice::from_raw_parts(p, n) }
        }
    };
    let properties;
    let request_id = match topic_type {
        Some(AZURE_IOT_HUB_TOPIC_EVENT) => None,
        _ => {
            // SAFETY: the caller guarantees the request ID is readable during the call.
            let rid = unsafe { msg.request_id.bytes() }.ok_or(Error::Null)?;
            // An empty one asks for a generated request ID, as `None` does; the core checks
            // any other (UTF-8 included: `PublishError::InvalidArgument`).
            Some(rid)
        }
    };
    let kind = match topic_type {
        Some(AZURE_IOT_HUB_TOPIC_EVENT) => {
            // A property without a key pointer (or any buffer with a size but no pointer) is an
            // invalid argument, not an invalid topic.
            properties = CProperties::new(props)?;
            MessageKind::Telemetry {
                properties: &properties,
            }
        }
        Some(AZURE_IOT_HUB_TOPIC_TWIN_REPORTED) => MessageKind::TwinReported { request_id },
        _ => MessageKind::TwinGet { request_id },
    };
    publish(&Message {
        kind,
        payload,
        qos,
        packet_id,
        dup: msg.dup_flag != 0,
        retain: msg.retain_flag != 0,
    })
}

fn publish(msg: &Message<'_>) -> Result<(), Error> {
    platform::publish(msg).map(|_| ()).map_err(Error::from)
}

/// Sends the response to a direct method (AZURE_IOT_HUB_EVT_DIRECT_METHOD), with QoS 0, on
/// `$iothub/methods/res/<status>/?$rid=<request_id>`.
///
/// @param result The request ID of the invocation, the status (any 32-bit value), and the
///        response payload (JSON). Its buffers need only be valid during the call.
///
/// @retval 0 Success.
/// @retval -EINVAL @p result is NULL (checked first), or a buffer has a size but no pointer.
/// @retval -ENOTCONN Not connected.
/// @retval -EFAULT The response cannot be built: an empty request ID or one with characters a
///         topic cannot hold, or a topic longer than CONFIG_AZURE_IOT_HUB_TOPIC_MAX_LEN.
/// @retval -ENXIO The transport failed to send the response.
///
/// # Safety
///
/// @p result is NULL or points to a valid `struct azure_iot_hub_result` whose buffers are
/// readable for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn azure_iot_hub_method_respond(result: *mut azure_iot_hub_result) -> c_int {
    if result.is_null() || !result.is_aligned() {
        return ret(Op::MethodRespond, Err(Error::Null));
    }
    // SAFETY: non-NULL and aligned; the caller guarantees it points to a valid result, whose
    // fields are integers and pointers (any bit pattern is valid). It is only read.
    let result = unsafe { &*result };
    ret(Op::MethodRespond, method_respond(result))
}

fn method_respond(result: &azure_iot_hub_result) -> Result<(), Error> {
    let packet_id = message_id(0)?;
    // SAFETY: the caller guarantees both buffers are readable during the call.
    let (rid, payload) = unsafe { (result.request_id.bytes(), result.payload.bytes()) };
    // The request ID is checked by the core (UTF-8 included: `PublishError::InvalidArgument`).
    let (request_id, payload) = (rid.ok_or(Error::Null)?, payload.ok_or(Error::Null)?);
    publish(&Message {
        kind: MessageKind::MethodResponse {
            request_id,
            status: result.status,
        },
        payload,
        qos: QoS::AtMostOnce,
        packet_id,
        dup: false,
        retain: false,
    })
}

/// The library's state (`enum iot_hub_state`: UNINIT 0, DISCONNECTED 1, CONNECTING 2,
/// TRANSPORT_CONNECTED 3, CONNECTED 4, DISCONNECTING 5). Exported like the original's
/// non-static function; not declared in the header.
#[no_mangle]
pub extern "C" fn iot_hub_state_get() -> iot_hub_state {
    *state()
}
