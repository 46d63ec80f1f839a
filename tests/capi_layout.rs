//! The ABI of `include/net/azure_iot_hub.h`: every size, alignment, field offset and enum value,
//! as a C compiler sees them (tests/c/layout.c, for 64-bit and with `-m32` for 32-bit), checked
//! against the original's numbers (nrf-api.md section 2.3) and against the Rust types.
//!
//! The 32-bit build needs gcc-multilib. Without it the test fails, unless
//! `AZURE_IOT_HUB_SKIP_M32=1` is set.
#![cfg(feature = "capi")]

use std::collections::BTreeMap;
use std::mem::{align_of, offset_of, size_of};

use azure_iot_hub::capi::*;

mod capi_common;

/// (name as layout.c prints it, 32-bit value, 64-bit value): nrf-api.md section 2.3.
const EXPECTED: &[(&str, usize, usize)] = &[
    ("sizeof(struct azure_iot_hub_buf)", 8, 16),
    ("alignof(struct azure_iot_hub_buf)", 4, 8),
    ("offsetof(struct azure_iot_hub_buf, ptr)", 0, 0),
    ("offsetof(struct azure_iot_hub_buf, size)", 4, 8),
    ("sizeof(struct azure_iot_hub_property)", 16, 32),
    ("alignof(struct azure_iot_hub_property)", 4, 8),
    ("offsetof(struct azure_iot_hub_property, key)", 0, 0),
    ("offsetof(struct azure_iot_hub_property, value)", 8, 16),
    ("sizeof(struct azure_iot_hub_topic_data)", 20, 40),
    ("alignof(struct azure_iot_hub_topic_data)", 4, 8),
    ("offsetof(struct azure_iot_hub_topic_data, type)", 0, 0),
    ("offsetof(struct azure_iot_hub_topic_data, name)", 4, 8),
    (
        "offsetof(struct azure_iot_hub_topic_data, properties)",
        12,
        24,
    ),
    (
        "offsetof(struct azure_iot_hub_topic_data, property_count)",
        16,
        32,
    ),
    ("sizeof(struct azure_iot_hub_msg)", 44, 80),
    ("alignof(struct azure_iot_hub_msg)", 4, 8),
    ("offsetof(struct azure_iot_hub_msg, topic)", 0, 0),
    ("offsetof(struct azure_iot_hub_msg, payload)", 20, 40),
    ("offsetof(struct azure_iot_hub_msg, request_id)", 28, 56),
    ("offsetof(struct azure_iot_hub_msg, qos)", 36, 72),
    ("offsetof(struct azure_iot_hub_msg, message_id)", 40, 76),
    ("offsetof(struct azure_iot_hub_msg, dup_flag)", 42, 78),
    ("offsetof(struct azure_iot_hub_msg, retain_flag)", 43, 79),
    ("sizeof(struct azure_iot_hub_method)", 24, 48),
    ("alignof(struct azure_iot_hub_method)", 4, 8),
    ("offsetof(struct azure_iot_hub_method, name)", 0, 0),
    ("offsetof(struct azure_iot_hub_method, request_id)", 8, 16),
    ("offsetof(struct azure_iot_hub_method, payload)", 16, 32),
    ("sizeof(struct azure_iot_hub_result)", 20, 40),
    ("alignof(struct azure_iot_hub_result)", 4, 8),
    ("offsetof(struct azure_iot_hub_result, request_id)", 0, 0),
    ("offsetof(struct azure_iot_hub_result, status)", 8, 16),
    ("offsetof(struct azure_iot_hub_result, payload)", 12, 24),
    ("sizeof(struct azure_iot_hub_evt)", 68, 128),
    ("alignof(struct azure_iot_hub_evt)", 4, 8),
    ("offsetof(struct azure_iot_hub_evt, type)", 0, 0),
    ("offsetof(struct azure_iot_hub_evt, data)", 4, 8),
    ("offsetof(struct azure_iot_hub_evt, data.msg)", 4, 8),
    ("offsetof(struct azure_iot_hub_evt, data.method)", 4, 8),
    ("offsetof(struct azure_iot_hub_evt, data.result)", 4, 8),
    ("offsetof(struct azure_iot_hub_evt, data.err)", 4, 8),
    (
        "offsetof(struct azure_iot_hub_evt, data.persistent_session)",
        4,
        8,
    ),
    ("offsetof(struct azure_iot_hub_evt, data.message_id)", 4, 8),
    (
        "offsetof(struct azure_iot_hub_evt, data.msg.payload)",
        24,
        48,
    ),
    ("offsetof(struct azure_iot_hub_evt, topic)", 48, 88),
    ("sizeof(((struct azure_iot_hub_evt *)0)->data)", 44, 80),
    ("sizeof(struct azure_iot_hub_config)", 20, 40),
    ("alignof(struct azure_iot_hub_config)", 4, 8),
    ("offsetof(struct azure_iot_hub_config, hostname)", 0, 0),
    ("offsetof(struct azure_iot_hub_config, device_id)", 8, 16),
    ("offsetof(struct azure_iot_hub_config, use_dps)", 16, 32),
    ("sizeof(azure_iot_hub_evt_handler_t)", 4, 8),
    ("sizeof(enum azure_iot_hub_evt_type)", 4, 4),
    ("sizeof(enum azure_iot_hub_topic_type)", 4, 4),
    ("sizeof(enum mqtt_qos)", 4, 4),
    ("AZURE_IOT_HUB_EVT_CONNECTING", 1, 1),
    ("AZURE_IOT_HUB_EVT_CONNECTED", 2, 2),
    ("AZURE_IOT_HUB_EVT_CONNECTION_FAILED", 3, 3),
    ("AZURE_IOT_HUB_EVT_READY", 4, 4),
    ("AZURE_IOT_HUB_EVT_DISCONNECTED", 5, 5),
    ("AZURE_IOT_HUB_EVT_DATA_RECEIVED", 6, 6),
    ("AZURE_IOT_HUB_EVT_PUBACK", 7, 7),
    ("AZURE_IOT_HUB_EVT_PINGRESP", 8, 8),
    ("AZURE_IOT_HUB_EVT_TWIN_RECEIVED", 9, 9),
    ("AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED", 10, 10),
    ("AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS", 11, 11),
    ("AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL", 12, 12),
    ("AZURE_IOT_HUB_EVT_DIRECT_METHOD", 13, 13),
    ("AZURE_IOT_HUB_EVT_FOTA_START", 14, 14),
    ("AZURE_IOT_HUB_EVT_FOTA_DONE", 15, 15),
    ("AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING", 16, 16),
    ("AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE", 17, 17),
    ("AZURE_IOT_HUB_EVT_FOTA_ERROR", 18, 18),
    ("AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE", 19, 19),
    ("AZURE_IOT_HUB_EVT_ERROR", 20, 20),
    ("AZURE_IOT_HUB_TOPIC_DEVICEBOUND", 0, 0),
    ("AZURE_IOT_HUB_TOPIC_DIRECT_METHOD", 1, 1),
    ("AZURE_IOT_HUB_TOPIC_TWIN_DESIRED", 2, 2),
    ("AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT", 3, 3),
    ("AZURE_IOT_HUB_TOPIC_DPS", 4, 4),
    ("AZURE_IOT_HUB_TOPIC_EVENT", 5, 5),
    ("AZURE_IOT_HUB_TOPIC_TWIN_REPORTED", 6, 6),
    ("AZURE_IOT_HUB_TOPIC_TWIN_REQUEST", 7, 7),
    ("AZURE_IOT_HUB_TOPIC_UNKNOWN", 8, 8),
    ("MQTT_QOS_0_AT_MOST_ONCE", 0, 0),
    ("MQTT_QOS_1_AT_LEAST_ONCE", 1, 1),
    ("MQTT_QOS_2_EXACTLY_ONCE", 2, 2),
];

/// The same numbers from the Rust types, for this host.
fn rust_values() -> BTreeMap<&'static str, usize> {
    use azure_iot_hub_evt_type::*;
    use azure_iot_hub_topic_type::*;
    type Buf = azure_iot_hub_buf;
    type Prop = azure_iot_hub_property;
    type Topic = azure_iot_hub_topic_data;
    type Msg = azure_iot_hub_msg;
    type Method = azure_iot_hub_method;
    type Res = azure_iot_hub_result;
    type Evt = azure_iot_hub_evt;
    type Cfg = azure_iot_hub_config;
    let data = offset_of!(Evt, data);
    let v: &[(&'static str, usize)] = &[
        ("sizeof(struct azure_iot_hub_buf)", size_of::<Buf>()),
        ("alignof(struct azure_iot_hub_buf)", align_of::<Buf>()),
        (
            "offsetof(struct azure_iot_hub_buf, ptr)",
            offset_of!(Buf, ptr),
        ),
        (
            "offsetof(struct azure_iot_hub_buf, size)",
            offset_of!(Buf, size),
        ),
        ("sizeof(struct azure_iot_hub_property)", size_of::<Prop>()),
        ("alignof(struct azure_iot_hub_property)", align_of::<Prop>()),
        (
            "offsetof(struct azure_iot_hub_property, key)",
            offset_of!(Prop, key),
        ),
        (
            "offsetof(struct azure_iot_hub_property, value)",
            offset_of!(Prop, value),
        ),
        (
            "sizeof(struct azure_iot_hub_topic_data)",
            size_of::<Topic>(),
        ),
        (
            "alignof(struct azure_iot_hub_topic_data)",
            align_of::<Topic>(),
        ),
        (
            "offsetof(struct azure_iot_hub_topic_data, type)",
            offset_of!(Topic, r#type),
        ),
        (
            "offsetof(struct azure_iot_hub_topic_data, name)",
            offset_of!(Topic, name),
        ),
        (
            "offsetof(struct azure_iot_hub_topic_data, properties)",
            offset_of!(Topic, properties),
        ),
        (
            "offsetof(struct azure_iot_hub_topic_data, property_count)",
            offset_of!(Topic, property_count),
        ),
        ("sizeof(struct azure_iot_hub_msg)", size_of::<Msg>()),
        ("alignof(struct azure_iot_hub_msg)", align_of::<Msg>()),
        (
            "offsetof(struct azure_iot_hub_msg, topic)",
            offset_of!(Msg, topic),
        ),
        (
            "offsetof(struct azure_iot_hub_msg, payload)",
            offset_of!(Msg, payload),
        ),
        (
            "offsetof(struct azure_iot_hub_msg, request_id)",
            offset_of!(Msg, request_id),
        ),
        (
            "offsetof(struct azure_iot_hub_msg, qos)",
            offset_of!(Msg, qos),
        ),
        (
            "offsetof(struct azure_iot_hub_msg, message_id)",
            offset_of!(Msg, message_id),
        ),
        (
            "offsetof(struct azure_iot_hub_msg, dup_flag)",
            offset_of!(Msg, dup_flag),
        ),
        (
            "offsetof(struct azure_iot_hub_msg, retain_flag)",
            offset_of!(Msg, retain_flag),
        ),
        ("sizeof(struct azure_iot_hub_method)", size_of::<Method>()),
        ("alignof(struct azure_iot_hub_method)", align_of::<Method>()),
        (
            "offsetof(struct azure_iot_hub_method, name)",
            offset_of!(Method, name),
        ),
        (
            "offsetof(struct azure_iot_hub_method, request_id)",
            offset_of!(Method, request_id),
        ),
        (
            "offsetof(struct azure_iot_hub_method, payload)",
            offset_of!(Method, payload),
        ),
        ("sizeof(struct azure_iot_hub_result)", size_of::<Res>()),
        ("alignof(struct azure_iot_hub_result)", align_of::<Res>()),
        (
            "offsetof(struct azure_iot_hub_result, request_id)",
            offset_of!(Res, request_id),
        ),
        (
            "offsetof(struct azure_iot_hub_result, status)",
            offset_of!(Res, status),
        ),
        (
            "offsetof(struct azure_iot_hub_result, payload)",
            offset_of!(Res, payload),
        ),
        ("sizeof(struct azure_iot_hub_evt)", size_of::<Evt>()),
        ("alignof(struct azure_iot_hub_evt)", align_of::<Evt>()),
        (
            "offsetof(struct azure_iot_hub_evt, type)",
            offset_of!(Evt, r#type),
        ),
        ("offsetof(struct azure_iot_hub_evt, data)", data),
        // Every member of a repr(C) union starts at its offset 0.
        ("offsetof(struct azure_iot_hub_evt, data.msg)", data),
        ("offsetof(struct azure_iot_hub_evt, data.method)", data),
        ("offsetof(struct azure_iot_hub_evt, data.result)", data),
        ("offsetof(struct azure_iot_hub_evt, data.err)", data),
        (
            "offsetof(struct azure_iot_hub_evt, data.persistent_session)",
            data,
        ),
        ("offsetof(struct azure_iot_hub_evt, data.message_id)", data),
        (
            "offsetof(struct azure_iot_hub_evt, data.msg.payload)",
            data + offset_of!(Msg, payload),
        ),
        (
            "offsetof(struct azure_iot_hub_evt, topic)",
            offset_of!(Evt, topic),
        ),
        (
            "sizeof(((struct azure_iot_hub_evt *)0)->data)",
            size_of::<azure_iot_hub_evt_data>(),
        ),
        ("sizeof(struct azure_iot_hub_config)", size_of::<Cfg>()),
        ("alignof(struct azure_iot_hub_config)", align_of::<Cfg>()),
        (
            "offsetof(struct azure_iot_hub_config, hostname)",
            offset_of!(Cfg, hostname),
        ),
        (
            "offsetof(struct azure_iot_hub_config, device_id)",
            offset_of!(Cfg, device_id),
        ),
        (
            "offsetof(struct azure_iot_hub_config, use_dps)",
            offset_of!(Cfg, use_dps),
        ),
        (
            "sizeof(azure_iot_hub_evt_handler_t)",
            size_of::<azure_iot_hub_evt_handler_t>(),
        ),
        (
            "sizeof(enum azure_iot_hub_evt_type)",
            size_of::<azure_iot_hub_evt_type>(),
        ),
        (
            "sizeof(enum azure_iot_hub_topic_type)",
            size_of::<azure_iot_hub_topic_type>(),
        ),
        ("sizeof(enum mqtt_qos)", size_of::<mqtt_qos_t>()),
        (
            "AZURE_IOT_HUB_EVT_CONNECTING",
            AZURE_IOT_HUB_EVT_CONNECTING as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_CONNECTED",
            AZURE_IOT_HUB_EVT_CONNECTED as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_CONNECTION_FAILED",
            AZURE_IOT_HUB_EVT_CONNECTION_FAILED as usize,
        ),
        ("AZURE_IOT_HUB_EVT_READY", AZURE_IOT_HUB_EVT_READY as usize),
        (
            "AZURE_IOT_HUB_EVT_DISCONNECTED",
            AZURE_IOT_HUB_EVT_DISCONNECTED as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_DATA_RECEIVED",
            AZURE_IOT_HUB_EVT_DATA_RECEIVED as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_PUBACK",
            AZURE_IOT_HUB_EVT_PUBACK as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_PINGRESP",
            AZURE_IOT_HUB_EVT_PINGRESP as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_TWIN_RECEIVED",
            AZURE_IOT_HUB_EVT_TWIN_RECEIVED as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED",
            AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS",
            AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL",
            AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_DIRECT_METHOD",
            AZURE_IOT_HUB_EVT_DIRECT_METHOD as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_FOTA_START",
            AZURE_IOT_HUB_EVT_FOTA_START as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_FOTA_DONE",
            AZURE_IOT_HUB_EVT_FOTA_DONE as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING",
            AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE",
            AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_FOTA_ERROR",
            AZURE_IOT_HUB_EVT_FOTA_ERROR as usize,
        ),
        (
            "AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE",
            AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE as usize,
        ),
        ("AZURE_IOT_HUB_EVT_ERROR", AZURE_IOT_HUB_EVT_ERROR as usize),
        (
            "AZURE_IOT_HUB_TOPIC_DEVICEBOUND",
            AZURE_IOT_HUB_TOPIC_DEVICEBOUND as usize,
        ),
        (
            "AZURE_IOT_HUB_TOPIC_DIRECT_METHOD",
            AZURE_IOT_HUB_TOPIC_DIRECT_METHOD as usize,
        ),
        (
            "AZURE_IOT_HUB_TOPIC_TWIN_DESIRED",
            AZURE_IOT_HUB_TOPIC_TWIN_DESIRED as usize,
        ),
        (
            "AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT",
            AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT as usize,
        ),
        ("AZURE_IOT_HUB_TOPIC_DPS", AZURE_IOT_HUB_TOPIC_DPS as usize),
        (
            "AZURE_IOT_HUB_TOPIC_EVENT",
            AZURE_IOT_HUB_TOPIC_EVENT as usize,
        ),
        (
            "AZURE_IOT_HUB_TOPIC_TWIN_REPORTED",
            AZURE_IOT_HUB_TOPIC_TWIN_REPORTED as usize,
        ),
        (
            "AZURE_IOT_HUB_TOPIC_TWIN_REQUEST",
            AZURE_IOT_HUB_TOPIC_TWIN_REQUEST as usize,
        ),
        (
            "AZURE_IOT_HUB_TOPIC_UNKNOWN",
            AZURE_IOT_HUB_TOPIC_UNKNOWN as usize,
        ),
        // `enum mqtt_qos` is not a Rust enum (C writes it); the library reads these values.
        (
            "MQTT_QOS_0_AT_MOST_ONCE",
            azure_iot_hub::mqtt::QoS::AtMostOnce as usize,
        ),
        (
            "MQTT_QOS_1_AT_LEAST_ONCE",
            azure_iot_hub::mqtt::QoS::AtLeastOnce as usize,
        ),
        (
            "MQTT_QOS_2_EXACTLY_ONCE",
            azure_iot_hub::mqtt::QoS::ExactlyOnce as usize,
        ),
    ];
    v.iter().copied().collect()
}

/// Compiles and runs tests/c/layout.c with `flags`; `None` if the compiler cannot build for them.
fn c_values(flags: &[&str]) -> Option<BTreeMap<String, usize>> {
    capi_common::layout_values("layout", flags)
}

fn check(c: &BTreeMap<String, usize>, bits: usize) {
    assert_eq!(c["pointer_bits"], bits);
    for &(name, v32, v64) in EXPECTED {
        let want = if bits == 32 { v32 } else { v64 };
        assert_eq!(c.get(name), Some(&want), "{name} ({bits}-bit)");
    }
    assert_eq!(
        c.len(),
        EXPECTED.len() + 1,
        "layout.c prints something the table does not check"
    );
}

#[test]
fn layout_64_bit_matches_the_original_and_rust() {
    assert_eq!(size_of::<usize>(), 8, "this test expects a 64-bit host");
    let c = c_values(&["-m64"]).expect("cc -m64 must work on this host");
    check(&c, 64);
    let rust = rust_values();
    assert_eq!(rust.len(), EXPECTED.len());
    for (name, value) in rust {
        assert_eq!(c[name], value, "Rust and C disagree on {name}");
    }
}

#[test]
fn layout_32_bit_matches_the_original() {
    match c_values(&["-m32"]) {
        Some(c) => check(&c, 32),
        None if std::env::var("AZURE_IOT_HUB_SKIP_M32").is_ok_and(|v| v == "1") => {
            eprintln!("skipped: cc -m32 is unavailable and AZURE_IOT_HUB_SKIP_M32=1");
        }
        None => panic!(
            "cc -m32 cannot build: install gcc-multilib, or set AZURE_IOT_HUB_SKIP_M32=1 to skip"
        ),
    }
}

#[test]
fn iot_hub_state_values() {
    use iot_hub_state::*;
    let all = [
        STATE_UNINIT,
        STATE_DISCONNECTED,
        STATE_CONNECTING,
        STATE_TRANSPORT_CONNECTED,
        STATE_CONNECTED,
        STATE_DISCONNECTING,
        STATE_COUNT,
    ];
    for (i, s) in all.into_iter().enumerate() {
        assert_eq!(s as usize, i);
    }
}
