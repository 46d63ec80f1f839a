//! The port's events as `struct azure_iot_hub_evt`, delivered to the C handler on the port's
//! worker thread (nrf-api.md sections 4.4 and 4.5, with the bugs of section 8 fixed).
//!
//! Every event starts zeroed. Every event with a topic has `topic.type` and `topic.name` set.
//! Payloads are copied into a buffer owned by the worker and followed by a NUL byte, so that C
//! code which parses `payload.ptr` as a string (as the original sample does with cJSON) reads no
//! further than the payload; `payload.size` does not count the NUL.

use std::vec::Vec;

use super::api::{emit, transition};
use super::error::{errno, Error, Op};
use super::types::azure_iot_hub_evt_type::*;
use super::types::azure_iot_hub_topic_type::*;
use super::types::iot_hub_state::*;
use super::types::*;
use crate::config::AZURE_IOT_HUB_MSG_PROPERTY_RECV_MAX_COUNT as RECV_MAX;
use crate::hub::{self, twin, Event, HubTopic};
use crate::port::PortEvent;

/// The topic type a received topic has.
fn topic_type_of(topic: &str) -> azure_iot_hub_topic_type {
    match hub::classify(topic) {
        HubTopic::C2d(_) => AZURE_IOT_HUB_TOPIC_DEVICEBOUND,
        HubTopic::Method(_) => AZURE_IOT_HUB_TOPIC_DIRECT_METHOD,
        HubTopic::Twin(twin::TwinTopic::Desired { .. }) => AZURE_IOT_HUB_TOPIC_TWIN_DESIRED,
        HubTopic::Twin(twin::TwinTopic::Response { .. }) => AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
        HubTopic::Malformed | HubTopic::Unknown => AZURE_IOT_HUB_TOPIC_UNKNOWN,
    }
}

fn topic(t: azure_iot_hub_topic_type, name: &str) -> azure_iot_hub_topic_data {
    azure_iot_hub_topic_data {
        r#type: t.into(),
        name: azure_iot_hub_buf::from_bytes(name.as_bytes()),
        ..azure_iot_hub_topic_data::EMPTY
    }
}

fn buf(s: &str) -> azure_iot_hub_buf {
    azure_iot_hub_buf::from_bytes(s.as_bytes())
}

/// Copies `payload` into `scratch` with a NUL after it.
fn nul_terminated(scratch: &mut Vec<u8>, payload: &[u8]) -> azure_iot_hub_buf {
    scratch.clear();
    scratch.extend_from_slice(payload);
    scratch.push(0);
    azure_iot_hub_buf {
        size: payload.len(),
        ..azure_iot_hub_buf::from_bytes(scratch)
    }
}

/// AZURE_IOT_HUB_EVT_ERROR with `data.err` from the errno table, and the topic if there is one.
pub(super) fn emit_error(error: &Error, with_topic: Option<&str>) {
    let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_ERROR);
    evt.data.err = errno(Op::Event, error);
    if let Some(t) = with_topic {
        evt.topic = topic(AZURE_IOT_HUB_TOPIC_UNKNOWN, t);
    }
    emit(&mut evt);
}

fn simple(t: azure_iot_hub_evt_type) {
    emit(&mut azure_iot_hub_evt::new(t));
}

/// The port's handler. `scratch` is the worker's payload buffer.
pub(super) fn on_port_event(scratch: &mut Vec<u8>, ev: &PortEvent<'_>) {
    match ev {
        PortEvent::Hub(e) => on_hub_event(scratch, e),
        PortEvent::ProtocolError(p) => {
            log::error!("protocol error: {p:?}; the connection is closed");
            emit_error(&Error::Protocol(*p), None);
        }
        PortEvent::Disconnected(reason) => {
            log::debug!("disconnected: {reason:?}");
            transition(STATE_DISCONNECTED);
            simple(AZURE_IOT_HUB_EVT_DISCONNECTED);
        }
    }
}

fn on_hub_event(scratch: &mut Vec<u8>, e: &Event<'_>) {
    match *e {
        Event::Connected { .. } => {
            transition(STATE_CONNECTED);
            simple(AZURE_IOT_HUB_EVT_CONNECTED);
        }
        Event::ConnectionRefused { return_code } => {
            transition(STATE_DISCONNECTED);
            let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_CONNECTION_FAILED);
            evt.data.err = return_code.into();
            emit(&mut evt);
        }
        Event::Ready { refused } => {
            if refused != 0 {
                for (i, f) in hub::SUBSCRIPTIONS.iter().enumerate() {
                    if refused & (1 << i) != 0 {
                        log::error!("subscription to {f} refused");
                    }
                }
                emit_error(&Error::SubscriptionRefused, None);
            }
            simple(AZURE_IOT_HUB_EVT_READY);
        }
        Event::Puback { packet_id } => {
            let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_PUBACK);
            evt.data.message_id = packet_id;
            emit(&mut evt);
        }
        Event::Pingresp => simple(AZURE_IOT_HUB_EVT_PINGRESP),
        Event::C2d {
            topic: name,
            properties,
            payload,
        } => {
            let mut props = [azure_iot_hub_property::EMPTY; RECV_MAX];
            let mut count = 0;
            for (k, v) in properties.iter() {
                if count == RECV_MAX {
                    log::warn!(
                        "message has more than CONFIG_AZURE_IOT_HUB_MSG_PROPERTY_RECV_MAX_COUNT ({RECV_MAX}) properties; the rest are dropped"
                    );
                    break;
                }
                props[count] = azure_iot_hub_property {
                    key: buf(k),
                    value: buf(v),
                };
                count += 1;
            }
            let mut t = topic(AZURE_IOT_HUB_TOPIC_DEVICEBOUND, name);
            t.properties = props.as_mut_ptr();
            t.property_count = count;
            let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_DATA_RECEIVED);
            evt.data.msg = azure_iot_hub_msg {
                topic: t,
                payload: nul_terminated(scratch, payload),
                ..azure_iot_hub_msg::EMPTY
            };
            evt.topic = t;
            emit(&mut evt);
        }
        Event::DirectMethod {
            topic: name,
            name: method,
            request_id,
            payload,
        } => {
            let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_DIRECT_METHOD);
            evt.data.method = azure_iot_hub_method {
                name: buf(method),
                request_id: buf(request_id),
                payload: nul_terminated(scratch, payload),
            };
            evt.topic = topic(AZURE_IOT_HUB_TOPIC_DIRECT_METHOD, name);
            emit(&mut evt);
        }
        Event::TwinDocument {
            topic: name,
            request_id,
            payload,
        } => {
            let t = topic(AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT, name);
            let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_TWIN_RECEIVED);
            evt.data.msg = azure_iot_hub_msg {
                topic: t,
                payload: nul_terminated(scratch, payload),
                request_id: buf(request_id),
                ..azure_iot_hub_msg::EMPTY
            };
            evt.topic = t;
            emit(&mut evt);
        }
        Event::TwinDesired {
            topic: name,
            payload,
            ..
        } => {
            // properties stay NULL with a count of 0.
            let t = topic(AZURE_IOT_HUB_TOPIC_TWIN_DESIRED, name);
            let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED);
            evt.data.msg = azure_iot_hub_msg {
                topic: t,
                payload: nul_terminated(scratch, payload),
                ..azure_iot_hub_msg::EMPTY
            };
            evt.topic = t;
            emit(&mut evt);
        }
        Event::TwinResult {
            topic: name,
            request_id,
            status,
            payload,
            ..
        } => {
            let t = if matches!(status, 202 | 204) {
                AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS
            } else {
                AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL
            };
            if t == AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL {
                log::warn!("twin request {request_id} failed with status {status}");
            }
            let payload = nul_terminated(scratch, payload);
            let mut evt = azure_iot_hub_evt::new(t);
            // `data.result` lies over `data.msg.topic`; `data.msg.payload` and
            // `data.msg.request_id` come after it (asserted in types.rs), so both views hold.
            evt.data.msg = azure_iot_hub_msg {
                payload,
                request_id: buf(request_id),
                ..azure_iot_hub_msg::EMPTY
            };
            evt.data.result = azure_iot_hub_result {
                request_id: buf(request_id),
                status: status.into(),
                payload,
            };
            evt.topic = topic(AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT, name);
            emit(&mut evt);
        }
        Event::MessageTooLarge { topic: name, size } => {
            log::warn!(
                "incoming message of {size} bytes is larger than the receive buffer; dropped"
            );
            let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE);
            if let Some(n) = name {
                evt.topic = topic(topic_type_of(n), n);
            }
            emit(&mut evt);
        }
        Event::Malformed { topic: name } => {
            log::warn!("malformed message on {name:?}; dropped");
            emit_error(&Error::MalformedMessage, name);
        }
        Event::UnknownTopic { topic: name, .. } => {
            log::warn!("message on unrecognised topic {name}; dropped");
            emit_error(&Error::UnknownTopic, Some(name));
        }
    }
}
