//! The `#[repr(C)]` types of `azure_iot_hub.h`, laid out exactly as the nRF Connect SDK v2.9.0
//! header lays them out (nrf-api.md section 2; checked at compile time below for 32- and 64-bit
//! targets, and from C by `tests/capi_layout.rs`).
//!
//! Rust names are the C names, so the generated header reads like the original. Fields that C
//! writes and Rust reads hold C enums or `bool`: they are plain integers here
//! ([`azure_iot_hub_topic_type_t`], [`mqtt_qos_t`], [`c_bool`]), never Rust enums, because C may
//! store any value in them and a Rust enum or `bool` with an invalid value is undefined
//! behaviour. cbindgen prints them as `enum azure_iot_hub_topic_type`, `enum mqtt_qos` and `bool`
//! (see `cbindgen.toml`).
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int};
use core::mem::{align_of, offset_of, size_of};
use core::ptr;

/// Buffer to store data together with its size.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_iot_hub_buf {
    /// Pointer to the data (not necessarily NUL-terminated).
    pub ptr: *mut c_char,
    /// Size of the data in bytes.
    pub size: usize,
}

impl azure_iot_hub_buf {
    /// `{NULL, 0}`.
    pub(crate) const EMPTY: Self = azure_iot_hub_buf {
        ptr: ptr::null_mut(),
        size: 0,
    };

    /// A buffer that points at `bytes` (which C must only read).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        azure_iot_hub_buf {
            ptr: bytes.as_ptr() as *mut c_char,
            size: bytes.len(),
        }
    }

    /// The bytes, when the buffer is usable: `size == 0` gives an empty slice (whatever `ptr`
    /// is); `ptr == NULL` with `size > 0`, or a size no object can have, gives `None`.
    ///
    /// # Safety
    ///
    /// When `size > 0` and `ptr` is not NULL, `ptr` must point to `size` readable bytes that
    /// stay unchanged for `'a`.
    pub unsafe fn bytes<'a>(&self) -> Option<&'a [u8]> {
        if self.size == 0 {
            return Some(&[]);
        }
        if self.ptr.is_null() || self.size > isize::MAX as usize {
            return None;
        }
        // SAFETY: non-NULL, at most isize::MAX bytes, and readable for 'a by the caller's contract.
        Some(unsafe { core::slice::from_raw_parts(self.ptr as *const u8, self.size) })
    }
}

/// `bytes` as a `&str`, if they are UTF-8: the C API's one conversion of C text (connect's
/// strings, request IDs, DPS IDs and payloads), which links the small [`crate::mqtt::is_utf8`]
/// rather than `core::str::from_utf8` and its table.
pub(crate) fn utf8(bytes: &[u8]) -> Option<&str> {
    // SAFETY: `is_utf8` accepts exactly what `core::str::from_utf8` accepts (the test
    // `is_utf8_agrees_with_core` compares them), so the bytes are UTF-8.
    crate::mqtt::is_utf8(bytes).then(|| unsafe { core::str::from_utf8_unchecked(bytes) })
}

/// A key/value property. The key must not be empty; an empty value is written as `key=`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_iot_hub_property {
    /// Property key.
    pub key: azure_iot_hub_buf,
    /// Property value.
    pub value: azure_iot_hub_buf,
}

/// Azure IoT Hub notification events.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum azure_iot_hub_evt_type {
    /// Connecting to Azure IoT Hub (from inside `azure_iot_hub_connect()`). No data.
    AZURE_IOT_HUB_EVT_CONNECTING = 1,
    /// Connected to Azure IoT Hub (CONNACK accepted). No data.
    AZURE_IOT_HUB_EVT_CONNECTED,
    /// The hub refused the connection. `data.err` holds the MQTT CONNACK return code (1 to 5).
    /// AZURE_IOT_HUB_EVT_DISCONNECTED follows.
    AZURE_IOT_HUB_EVT_CONNECTION_FAILED,
    /// Subscriptions acknowledged: ready to send and receive. No data.
    AZURE_IOT_HUB_EVT_READY,
    /// Disconnected from Azure IoT Hub. No data.
    AZURE_IOT_HUB_EVT_DISCONNECTED,
    /// Cloud-to-device message: `data.msg.payload`, and `topic` with the message properties in
    /// `topic.properties` (as received: not URL-decoded, not NUL-terminated).
    AZURE_IOT_HUB_EVT_DATA_RECEIVED,
    /// The hub acknowledged a QoS 1 message; its message ID is in `data.message_id`.
    AZURE_IOT_HUB_EVT_PUBACK,
    /// Ping response received. No data.
    AZURE_IOT_HUB_EVT_PINGRESP,
    /// The device twin document: `data.msg.payload`, `data.msg.request_id`, and `topic`.
    AZURE_IOT_HUB_EVT_TWIN_RECEIVED,
    /// A desired-properties update: `data.msg.payload` and `topic`.
    AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED,
    /// A twin request succeeded (status 202 or 204): `data.result` (request ID, status,
    /// payload); the payload is also in `data.msg.payload`.
    AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS,
    /// A twin request failed: `data.result` (request ID, status, error payload); the payload is
    /// also in `data.msg.payload`.
    AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL,
    /// A direct method was invoked: `data.method` and `topic`. Answer it with
    /// `azure_iot_hub_method_respond()`.
    AZURE_IOT_HUB_EVT_DIRECT_METHOD,
    /// FOTA download starting. No data.
    AZURE_IOT_HUB_EVT_FOTA_START,
    /// FOTA update done; reboot to apply it. No data.
    AZURE_IOT_HUB_EVT_FOTA_DONE,
    /// FOTA erase pending. No data.
    AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING,
    /// FOTA erase done. No data.
    AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE,
    /// FOTA failed. No data.
    AZURE_IOT_HUB_EVT_FOTA_ERROR,
    /// A received message was larger than the receive buffer and was dropped; `topic` holds its
    /// topic and its type when the topic could be read (otherwise the type is
    /// AZURE_IOT_HUB_TOPIC_UNKNOWN and the name empty).
    AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE,
    /// An error: `data.err` holds a negative errno (-EACCES: a subscription was refused;
    /// -ENOMSG: a message on an unknown topic, -EBADMSG: a malformed message, both with
    /// `topic.type` AZURE_IOT_HUB_TOPIC_UNKNOWN and the topic in `topic.name` if readable;
    /// -EPROTO or -ETIMEDOUT: the connection is closed next; -EINVAL: invalid state transition).
    AZURE_IOT_HUB_EVT_ERROR,
}

/// Azure IoT Hub topic types.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum azure_iot_hub_topic_type {
    /// Received on the device-bound (cloud-to-device) topic.
    AZURE_IOT_HUB_TOPIC_DEVICEBOUND,
    /// Received on the direct-method topic.
    AZURE_IOT_HUB_TOPIC_DIRECT_METHOD,
    /// Received desired properties of the device twin.
    AZURE_IOT_HUB_TOPIC_TWIN_DESIRED,
    /// Received a twin request result (success and failure).
    AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
    /// Device Provisioning Service messages.
    AZURE_IOT_HUB_TOPIC_DPS,
    /// Send telemetry (device-to-cloud events).
    AZURE_IOT_HUB_TOPIC_EVENT,
    /// Send reported properties of the device twin.
    AZURE_IOT_HUB_TOPIC_TWIN_REPORTED,
    /// Request the device twin.
    AZURE_IOT_HUB_TOPIC_TWIN_REQUEST,
    /// Received on a topic the library does not know.
    AZURE_IOT_HUB_TOPIC_UNKNOWN,
}

/// A value of `enum azure_iot_hub_topic_type` as C stores it (any `int`).
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct azure_iot_hub_topic_type_t(pub c_int);

impl From<azure_iot_hub_topic_type> for azure_iot_hub_topic_type_t {
    fn from(t: azure_iot_hub_topic_type) -> Self {
        azure_iot_hub_topic_type_t(t as c_int)
    }
}

impl azure_iot_hub_topic_type_t {
    /// The enum member, if the value is one.
    pub fn get(self) -> Option<azure_iot_hub_topic_type> {
        use azure_iot_hub_topic_type::*;
        Some(match self.0 {
            0 => AZURE_IOT_HUB_TOPIC_DEVICEBOUND,
            1 => AZURE_IOT_HUB_TOPIC_DIRECT_METHOD,
            2 => AZURE_IOT_HUB_TOPIC_TWIN_DESIRED,
            3 => AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
            4 => AZURE_IOT_HUB_TOPIC_DPS,
            5 => AZURE_IOT_HUB_TOPIC_EVENT,
            6 => AZURE_IOT_HUB_TOPIC_TWIN_REPORTED,
            7 => AZURE_IOT_HUB_TOPIC_TWIN_REQUEST,
            8 => AZURE_IOT_HUB_TOPIC_UNKNOWN,
            _ => return None,
        })
    }
}

/// Zephyr's `enum mqtt_qos` (`MQTT_QOS_0_AT_MOST_ONCE` = 0, `MQTT_QOS_1_AT_LEAST_ONCE` = 1,
/// `MQTT_QOS_2_EXACTLY_ONCE` = 2), as C stores it (any `int`).
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct mqtt_qos_t(pub c_int);

/// A C `bool` as C stores it (one byte, read as "not zero").
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct c_bool(pub u8);

impl c_bool {
    /// True unless the byte is 0.
    pub fn get(self) -> bool {
        self.0 != 0
    }
}

/// Topic data.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_iot_hub_topic_data {
    /// Topic type.
    pub r#type: azure_iot_hub_topic_type_t,
    /// Topic name (not NUL-terminated).
    pub name: azure_iot_hub_buf,
    /// Properties (message properties of a received cloud-to-device message, application
    /// properties of telemetry to send).
    pub properties: *mut azure_iot_hub_property,
    /// Number of entries in `properties`.
    pub property_count: usize,
}

impl azure_iot_hub_topic_data {
    /// Type 0, everything else NULL/0.
    pub(crate) const EMPTY: Self = azure_iot_hub_topic_data {
        r#type: azure_iot_hub_topic_type_t(0),
        name: azure_iot_hub_buf::EMPTY,
        properties: ptr::null_mut(),
        property_count: 0,
    };
}

/// A message to send, or a received message.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_iot_hub_msg {
    /// The topic the data is sent or received on.
    pub topic: azure_iot_hub_topic_data,
    /// The payload.
    pub payload: azure_iot_hub_buf,
    /// Request ID, for the twin topics. When sending, a size of 0 lets the library generate one.
    pub request_id: azure_iot_hub_buf,
    /// Quality of service: MQTT_QOS_0_AT_MOST_ONCE or MQTT_QOS_1_AT_LEAST_ONCE.
    pub qos: mqtt_qos_t,
    /// Message ID, to match PUBACK events. 0 lets the library choose one.
    pub message_id: u16,
    /// Duplicate flag: 1 if the message is a retransmission.
    pub dup_flag: u8,
    /// Retain flag.
    pub retain_flag: u8,
}

impl azure_iot_hub_msg {
    /// Everything 0 / NULL.
    pub(crate) const EMPTY: Self = azure_iot_hub_msg {
        topic: azure_iot_hub_topic_data::EMPTY,
        payload: azure_iot_hub_buf::EMPTY,
        request_id: azure_iot_hub_buf::EMPTY,
        qos: mqtt_qos_t(0),
        message_id: 0,
        dup_flag: 0,
        retain_flag: 0,
    };
}

/// A direct-method invocation.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_iot_hub_method {
    /// Method name.
    pub name: azure_iot_hub_buf,
    /// Request ID, to be copied into the response.
    pub request_id: azure_iot_hub_buf,
    /// Method payload.
    pub payload: azure_iot_hub_buf,
}

/// The result of a direct method (sent by the device) or of a twin request (received).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_iot_hub_result {
    /// The request ID the result belongs to.
    pub request_id: azure_iot_hub_buf,
    /// Status code.
    pub status: u32,
    /// Result payload.
    pub payload: azure_iot_hub_buf,
}

/// The data of an event; which member is valid depends on the event type.
#[repr(C)]
#[derive(Clone, Copy)]
pub union azure_iot_hub_evt_data {
    /// A received message.
    pub msg: azure_iot_hub_msg,
    /// A direct-method invocation.
    pub method: azure_iot_hub_method,
    /// A twin request result.
    pub result: azure_iot_hub_result,
    /// An error code.
    pub err: c_int,
    /// Session-present flag (not used).
    pub persistent_session: bool,
    /// The message ID of a PUBACK.
    pub message_id: u16,
}

/// An event from the library.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct azure_iot_hub_evt {
    /// Type of event.
    pub r#type: azure_iot_hub_evt_type,
    /// Event data.
    pub data: azure_iot_hub_evt_data,
    /// The topic of a received message.
    pub topic: azure_iot_hub_topic_data,
}

impl azure_iot_hub_evt {
    /// An event of type `t` with every other byte of its members zero.
    // Not inlined: a dozen events are made, and each inlined copy zeroes the whole struct.
    #[inline(never)]
    pub fn new(t: azure_iot_hub_evt_type) -> Self {
        azure_iot_hub_evt {
            r#type: t,
            data: azure_iot_hub_evt_data {
                msg: azure_iot_hub_msg::EMPTY,
            },
            topic: azure_iot_hub_topic_data::EMPTY,
        }
    }
}

/// The event handler, called on the library's thread (and, for AZURE_IOT_HUB_EVT_CONNECTING,
/// in the caller of `azure_iot_hub_connect()`). The event and everything it points to are valid
/// only during the call and must not be written.
pub type azure_iot_hub_evt_handler_t = Option<unsafe extern "C" fn(evt: *mut azure_iot_hub_evt)>;

/// Connection parameters.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_iot_hub_config {
    /// IoT Hub host name. A size of 0 selects CONFIG_AZURE_IOT_HUB_HOSTNAME.
    pub hostname: azure_iot_hub_buf,
    /// Device ID. A size of 0 selects CONFIG_AZURE_IOT_HUB_DEVICE_ID.
    pub device_id: azure_iot_hub_buf,
    /// Use DPS to obtain the host name and device ID (needs CONFIG_AZURE_IOT_HUB_DPS).
    pub use_dps: c_bool,
}

/// The library's internal state, as `iot_hub_state_get()` returns it (not in the header, as in
/// the original).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum iot_hub_state {
    /// `azure_iot_hub_init()` not called yet.
    STATE_UNINIT,
    /// Initialised, no connection.
    STATE_DISCONNECTED,
    /// `azure_iot_hub_connect()` called; waiting for CONNACK.
    STATE_CONNECTING,
    /// Never entered (kept for the numbering).
    STATE_TRANSPORT_CONNECTED,
    /// CONNACK accepted.
    STATE_CONNECTED,
    /// `azure_iot_hub_disconnect()` called.
    STATE_DISCONNECTING,
    /// Number of states.
    STATE_COUNT,
}

// The layout of nrf-api.md section 2.3, checked for the target being built.
macro_rules! layout {
    ($t:ty, $size32:expr, $size64:expr) => {
        const _: () = assert!(
            size_of::<$t>()
                == if size_of::<usize>() == 4 {
                    $size32
                } else {
                    $size64
                },
            concat!("size of ", stringify!($t))
        );
    };
    ($t:ty, $field:ident, $off32:expr, $off64:expr) => {
        const _: () = assert!(
            offset_of!($t, $field)
                == if size_of::<usize>() == 4 {
                    $off32
                } else {
                    $off64
                },
            concat!("offset of ", stringify!($t), ".", stringify!($field))
        );
    };
}

layout!(azure_iot_hub_buf, 8, 16);
layout!(azure_iot_hub_buf, ptr, 0, 0);
layout!(azure_iot_hub_buf, size, 4, 8);
layout!(azure_iot_hub_property, 16, 32);
layout!(azure_iot_hub_property, key, 0, 0);
layout!(azure_iot_hub_property, value, 8, 16);
layout!(azure_iot_hub_topic_data, 20, 40);
layout!(azure_iot_hub_topic_data, r#type, 0, 0);
layout!(azure_iot_hub_topic_data, name, 4, 8);
layout!(azure_iot_hub_topic_data, properties, 12, 24);
layout!(azure_iot_hub_topic_data, property_count, 16, 32);
layout!(azure_iot_hub_msg, 44, 80);
layout!(azure_iot_hub_msg, topic, 0, 0);
layout!(azure_iot_hub_msg, payload, 20, 40);
layout!(azure_iot_hub_msg, request_id, 28, 56);
layout!(azure_iot_hub_msg, qos, 36, 72);
layout!(azure_iot_hub_msg, message_id, 40, 76);
layout!(azure_iot_hub_msg, dup_flag, 42, 78);
layout!(azure_iot_hub_msg, retain_flag, 43, 79);
layout!(azure_iot_hub_method, 24, 48);
layout!(azure_iot_hub_method, name, 0, 0);
layout!(azure_iot_hub_method, request_id, 8, 16);
layout!(azure_iot_hub_method, payload, 16, 32);
layout!(azure_iot_hub_result, 20, 40);
layout!(azure_iot_hub_result, request_id, 0, 0);
layout!(azure_iot_hub_result, status, 8, 16);
layout!(azure_iot_hub_result, payload, 12, 24);
layout!(azure_iot_hub_evt_data, 44, 80);
layout!(azure_iot_hub_evt, 68, 128);
layout!(azure_iot_hub_evt, r#type, 0, 0);
layout!(azure_iot_hub_evt, data, 4, 8);
layout!(azure_iot_hub_evt, topic, 48, 88);
layout!(azure_iot_hub_config, 20, 40);
layout!(azure_iot_hub_config, hostname, 0, 0);
layout!(azure_iot_hub_config, device_id, 8, 16);
layout!(azure_iot_hub_config, use_dps, 16, 32);
const _: () =
    assert!(size_of::<azure_iot_hub_evt_type>() == 4 && size_of::<azure_iot_hub_topic_type>() == 4);
const _: () = assert!(size_of::<iot_hub_state>() == size_of::<c_int>());
const _: () = assert!(align_of::<azure_iot_hub_evt>() == align_of::<usize>());
// A twin result is written over `data.msg.topic`; `data.msg.payload` and `data.msg.request_id`
// lie after it, so both views can be filled at once (see `events.rs`).
const _: () = assert!(size_of::<azure_iot_hub_result>() <= offset_of!(azure_iot_hub_msg, payload));
