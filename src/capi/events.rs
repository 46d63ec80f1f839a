//! The port's events as `struct azure_iot_hub_evt`, delivered to the C handler on the port's
//! worker thread (nrf-api.md sections 4.4 and 4.5, with the bugs of section 8 fixed).
//!
//! Every event starts zeroed. Every event with a topic has `topic.type` and `topic.name` set.
//! Payloads point into the port's receive buffer and are followed by a NUL byte there (the
//! ports frame with [`crate::mqtt::Framer::nul_terminated`]; a payload is always the end of a
//! PUBLISH body), so that C code which parses `payload.ptr` as a string (as the original sample
//! does with cJSON) reads no further than the payload, without a copy; `payload.size` does not
//! count the NUL.

/// Automatic reconnect: its events in the C API.
#[path = "reconnect.rs"]
pub(super) mod reconnect;

use core::ffi::c_int;
use core::mem::MaybeUninit;

use super::api::{emit, transition};
use super::errno::{neg, EACCES, EBADMSG, ENOMSG};
use super::error::protocol_errno;
use super::types::azure_iot_hub_evt_type::*;
use super::types::azure_iot_hub_topic_type::*;
use super::types::iot_hub_state::*;
use super::types::*;
use crate::config::AZURE_IOT_HUB_MSG_PROPERTY_RECV_MAX_COUNT as RECV_MAX;
use crate::hub::{self, Event, PropertyBag, Received, Text};
use crate::port::PortEvent;

/// The topic type a received topic has: that of the event the core would make of it (its one
/// classification, [`hub::publish_event`]; no payload is needed to tell).
fn topic_type_of(topic: Text<'_>) -> azure_iot_hub_topic_type {
    match hub::publish_event(topic, &[]) {
        Event::Message { kind, .. } => match kind {
            Received::C2d { .. } => AZURE_IOT_HUB_TOPIC_DEVICEBOUND,
            Received::DirectMethod { .. } => AZURE_IOT_HUB_TOPIC_DIRECT_METHOD,
            Received::TwinDesired { .. } => AZURE_IOT_HUB_TOPIC_TWIN_DESIRED,
            Received::TwinDocument { .. } | Received::TwinResult { .. } => {
                AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT
            }
            Received::UnknownTopic => AZURE_IOT_HUB_TOPIC_UNKNOWN,
        },
        _ => AZURE_IOT_HUB_TOPIC_UNKNOWN,
    }
}

fn buf(s: Text<'_>) -> azure_iot_hub_buf {
    azure_iot_hub_buf::from_bytes(s.as_bytes())
}

/// A payload, in place: the port's framer wrote a NUL right after it (see the module
/// documentation).
fn nul_terminated(payload: &[u8]) -> azure_iot_hub_buf {
    azure_iot_hub_buf::from_bytes(payload)
}

/// AZURE_IOT_HUB_EVT_ERROR with `data.err` (a negative errno) and a zeroed topic.
pub(super) fn emit_error(err: c_int) {
    emit_plain(AZURE_IOT_HUB_EVT_ERROR, err);
}

/// An event of type `t` with `data.err` set (0: none) and every other member zeroed: the error
/// events and CONNECTING. One called copy of the building and the handler call.
#[inline(never)]
pub(super) fn emit_plain(t: azure_iot_hub_evt_type, err: c_int) {
    let mut evt = azure_iot_hub_evt::new(t);
    evt.data.err = err;
    emit(&mut evt);
}

/// The properties of a C2D message's bag, as the core reads them
/// ([`PropertyBag::iter_bytes`]: `&`-separated, empty segments skipped, the key up to the first
/// `=`, no `=`: an empty value), at most `props.len()`, into the first entries of `props`.
/// Returns how many were written (and are initialised). Not inlined: the handler's other paths
/// keep their registers.
#[inline(never)]
fn read_properties(
    bag: PropertyBag<'_>,
    props: &mut [MaybeUninit<azure_iot_hub_property>],
) -> usize {
    let mut count = 0;
    for (k, v) in bag.iter_bytes() {
        let Some(p) = props.get_mut(count) else {
            log::warn!(
                "message has more than CONFIG_AZURE_IOT_HUB_MSG_PROPERTY_RECV_MAX_COUNT ({RECV_MAX}) properties; the rest are dropped"
            );
            break;
        };
        p.write(azure_iot_hub_property {
            key: azure_iot_hub_buf::from_bytes(k),
            value: azure_iot_hub_buf::from_bytes(v),
        });
        count += 1;
    }
    count
}

/// The port's handler: every event is built in one zeroed `azure_iot_hub_evt` and handed to
/// the application by one call.
pub(super) fn on_port_event(ev: &PortEvent<'_>) {
    // A C2D message's properties: only the first `property_count` are written, and C reads no
    // more (not zeroed for every event first).
    let mut props = [const { MaybeUninit::<azure_iot_hub_property>::uninit() }; RECV_MAX];
    let mut evt = azure_iot_hub_evt::new(AZURE_IOT_HUB_EVT_ERROR);
    // The topic of a received message (type and name; a C2D message's properties), and whether
    // `data.msg.topic` repeats it.
    let mut topic: Option<(azure_iot_hub_topic_type, Text<'_>)> = None;
    let mut properties = core::ptr::null_mut();
    let mut property_count = 0;
    let mut msg = false;
    let t = match *ev {
        PortEvent::Hub(e) => match *e {
            Event::Connected { .. } => {
                transition(STATE_CONNECTED);
                AZURE_IOT_HUB_EVT_CONNECTED
            }
            Event::ConnectionRefused { return_code } => {
                transition(STATE_DISCONNECTED);
                evt.data.err = return_code.into();
                AZURE_IOT_HUB_EVT_CONNECTION_FAILED
            }
            Event::Ready { refused } => {
                if refused != 0 {
                    for (i, f) in hub::SUBSCRIPTIONS.iter().enumerate() {
                        if refused & (1 << i) != 0 {
                            log::error!("subscription to {f} refused");
                        }
                    }
                    emit_error(neg(EACCES));
                }
                AZURE_IOT_HUB_EVT_READY
            }
            Event::Puback { packet_id } => {
                evt.data.message_id = packet_id;
                AZURE_IOT_HUB_EVT_PUBACK
            }
            Event::Pingresp => AZURE_IOT_HUB_EVT_PINGRESP,
            Event::Message {
                topic: name,
                payload: body,
                kind,
            } => {
                let payload = nul_terminated(body);
                let (tt, t) = match kind {
                    Received::C2d { properties: bag } => {
                        property_count = read_properties(bag, &mut props);
                        // The first `property_count` entries are initialised: read_properties
                        // wrote them.
                        properties = props.as_mut_ptr().cast::<azure_iot_hub_property>();
                        evt.data.msg.payload = payload;
                        msg = true;
                        (
                            AZURE_IOT_HUB_TOPIC_DEVICEBOUND,
                            AZURE_IOT_HUB_EVT_DATA_RECEIVED,
                        )
                    }
                    Received::DirectMethod {
                        name: method,
                        request_id,
                    } => {
                        evt.data.method = azure_iot_hub_method {
                            name: buf(method),
                            request_id: buf(request_id),
                            payload,
                        };
                        (
                            AZURE_IOT_HUB_TOPIC_DIRECT_METHOD,
                            AZURE_IOT_HUB_EVT_DIRECT_METHOD,
                        )
                    }
                    Received::TwinDocument { request_id } => {
                        // The full twin document. FOTA reads the twin before the application
                        // (nrf-api.md section 5.2).
                        #[cfg(all(feature = "fota", any(feature = "std", feature = "zephyr")))]
                        super::fota::on_twin(body);
                        evt.data.msg.payload = payload;
                        evt.data.msg.request_id = buf(request_id);
                        msg = true;
                        (
                            AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
                            AZURE_IOT_HUB_EVT_TWIN_RECEIVED,
                        )
                    }
                    Received::TwinDesired { .. } => {
                        #[cfg(all(feature = "fota", any(feature = "std", feature = "zephyr")))]
                        super::fota::on_twin(body);
                        // properties stay NULL with a count of 0.
                        evt.data.msg.payload = payload;
                        msg = true;
                        (
                            AZURE_IOT_HUB_TOPIC_TWIN_DESIRED,
                            AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED,
                        )
                    }
                    Received::TwinResult { request_id, status } => {
                        let ok = matches!(status, 202 | 204);
                        if !ok {
                            log::warn!("twin request {request_id} failed with status {status}");
                        }
                        let request_id = buf(request_id);
                        // `data.result` lies over `data.msg.topic`; `data.msg.payload` and
                        // `data.msg.request_id` come after it (asserted in types.rs), so both
                        // views hold.
                        evt.data.msg.payload = payload;
                        evt.data.msg.request_id = request_id;
                        evt.data.result = azure_iot_hub_result {
                            request_id,
                            status: status.into(),
                            payload,
                        };
                        (
                            AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
                            if ok {
                                AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS
                            } else {
                                AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL
                            },
                        )
                    }
                    Received::UnknownTopic => {
                        log::warn!("message on unrecognised topic {name}; dropped");
                        evt.data.err = neg(ENOMSG);
                        (AZURE_IOT_HUB_TOPIC_UNKNOWN, AZURE_IOT_HUB_EVT_ERROR)
                    }
                };
                topic = Some((tt, name));
                t
            }
            Event::MessageTooLarge { topic: name, size } => {
                log::warn!(
                    "incoming message of {size} bytes is larger than the receive buffer; dropped"
                );
                // No topic: an empty one, which is of no known kind (UNKNOWN).
                let name = name.unwrap_or_default();
                topic = Some((topic_type_of(name), name));
                AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE
            }
            Event::Malformed { topic: name } => {
                log::warn!("malformed message on {name:?}; dropped");
                evt.data.err = neg(EBADMSG);
                topic = Some((AZURE_IOT_HUB_TOPIC_UNKNOWN, name.unwrap_or_default()));
                AZURE_IOT_HUB_EVT_ERROR
            }
        },
        PortEvent::ProtocolError(p) => {
            log::error!("protocol error: {p:?}; the connection is closed");
            evt.data.err = protocol_errno(p);
            AZURE_IOT_HUB_EVT_ERROR
        }
        PortEvent::Disconnected(reason) => {
            log::debug!("disconnected: {reason:?}");
            reconnect::ended();
            transition(STATE_DISCONNECTED);
            AZURE_IOT_HUB_EVT_DISCONNECTED
        }
        // Automatic reconnect and SAS renewal (ports that have them).
        #[allow(unreachable_patterns)]
        ref other => match reconnect::on_port_event(other, &mut evt) {
            Some(t) => t,
            None => return,
        },
    };
    evt.r#type = t;
    if let Some((tt, name)) = topic {
        let topic = azure_iot_hub_topic_data {
            r#type: tt.into(),
            name: buf(name),
            properties,
            property_count,
        };
        evt.topic = topic;
        if msg {
            evt.data.msg.topic = topic;
        }
    }
    emit(&mut evt);
}

#[cfg(test)]
mod tests {
    use std::string::{String, ToString};
    use std::sync::Mutex;
    use std::vec::Vec;

    use super::*;
    use crate::capi::api::HANDLER;
    use crate::capi::errno::*;
    use crate::capi::platform::state;
    use crate::hub::PropertyBag;
    use crate::port::CloseReason;

    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    struct Seen {
        t: i32,
        err: i32,
        topic_type: i32,
        topic: String,
        props: Vec<(String, String)>,
        props_null: bool,
        result: Option<(String, u32, String)>,
        msg_payload: String,
        nul: bool,
    }

    static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

    fn text(b: azure_iot_hub_buf) -> String {
        // SAFETY: the event's buffers are valid during the handler call.
        String::from_utf8(unsafe { b.bytes() }.unwrap().to_vec()).unwrap()
    }

    unsafe extern "C" fn record(evt: *mut azure_iot_hub_evt) {
        // SAFETY: the library passes a valid event for the duration of the call.
        let evt = unsafe { &*evt };
        let t = evt.r#type as i32;
        let mut s = Seen {
            t,
            topic_type: evt.topic.r#type.0,
            topic: text(evt.topic.name),
            ..Seen::default()
        };
        s.props_null = evt.topic.properties.is_null();
        for i in 0..evt.topic.property_count {
            // SAFETY: `property_count` entries are valid during the call.
            let p = unsafe { *evt.topic.properties.add(i) };
            s.props.push((text(p.key), text(p.value)));
        }
        // SAFETY: reading the union member the event type says is valid.
        unsafe {
            match evt.r#type {
                AZURE_IOT_HUB_EVT_ERROR | AZURE_IOT_HUB_EVT_CONNECTION_FAILED => {
                    s.err = evt.data.err
                }
                AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL | AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS => {
                    let r = evt.data.result;
                    s.result = Some((text(r.request_id), r.status, text(r.payload)));
                    s.msg_payload = text(evt.data.msg.payload);
                    s.nul = *r.payload.ptr.add(r.payload.size) == 0;
                }
                AZURE_IOT_HUB_EVT_DATA_RECEIVED | AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED => {
                    s.msg_payload = text(evt.data.msg.payload);
                    s.nul = *evt.data.msg.payload.ptr.add(evt.data.msg.payload.size) == 0;
                }
                _ => {}
            }
        }
        SEEN.lock().unwrap().push(s);
    }

    fn feed(ev: PortEvent<'_>) -> Vec<Seen> {
        SEEN.lock().unwrap().clear();
        on_port_event(&ev);
        core::mem::take(&mut *SEEN.lock().unwrap())
    }

    fn seen(t: azure_iot_hub_evt_type) -> Seen {
        Seen {
            t: t as i32,
            ..Seen::default()
        }
    }

    fn error(err: c_int, topic: Option<&str>) -> Seen {
        Seen {
            err: -err,
            topic_type: if topic.is_some() {
                AZURE_IOT_HUB_TOPIC_UNKNOWN as i32
            } else {
                0
            },
            topic: topic.unwrap_or("").to_string(),
            props_null: true,
            ..seen(AZURE_IOT_HUB_EVT_ERROR)
        }
    }

    use core::ffi::c_int;

    /// The C2D properties are read as the core's `PropertyBag::iter` reads them.
    #[test]
    fn properties_as_the_core_reads_them() {
        let bags = [
            "",
            "&",
            "&&",
            "a",
            "a=",
            "=",
            "=b",
            "a=b",
            "a=b=c",
            "a&&b",
            "&a=1&",
            "a=1&b",
            "a=1&b=",
            "k=v&x=%20&y",
            "a=1&b=2&c=3&d=4",
            "a==&=&b=2",
            "ü=ö&a",
        ];
        for bag in bags {
            let mut props = [MaybeUninit::uninit(); 4];
            let n = read_properties(PropertyBag::from(bag), &mut props);
            let got: Vec<(String, String)> = props[..n]
                .iter()
                // SAFETY: read_properties wrote the first `n` entries.
                .map(|p| unsafe { p.assume_init() })
                .map(|p| (text(p.key), text(p.value)))
                .collect();
            let want: Vec<(String, String)> = PropertyBag::from(bag)
                .iter()
                .take(4)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{bag:?}");
        }
    }

    /// The conversions the hub emulator cannot provoke (and the invalid-transition report). One
    /// test, because the C API's context is global.
    #[test]
    fn events_from_the_port() {
        HANDLER.set(Some(record));
        let plain = |t| Seen {
            props_null: true,
            ..seen(t)
        };

        // Not connecting: CONNACK is an invalid transition, reported, and the event still goes.
        *state() = STATE_DISCONNECTED;
        assert_eq!(
            feed(PortEvent::Hub(&Event::Connected {
                session_present: false
            })),
            [error(EINVAL, None), plain(AZURE_IOT_HUB_EVT_CONNECTED)]
        );
        assert_eq!(*state(), STATE_DISCONNECTED);
        *state() = STATE_CONNECTING;
        assert_eq!(
            feed(PortEvent::Hub(&Event::Connected {
                session_present: true
            })),
            [plain(AZURE_IOT_HUB_EVT_CONNECTED)]
        );
        assert_eq!(*state(), STATE_CONNECTED);

        // A refused subscription.
        assert_eq!(
            feed(PortEvent::Hub(&Event::Ready { refused: 0b0100 })),
            [error(EACCES, None), plain(AZURE_IOT_HUB_EVT_READY)]
        );
        assert_eq!(
            feed(PortEvent::Hub(&Event::Ready { refused: 0 })),
            [plain(AZURE_IOT_HUB_EVT_READY)]
        );

        // Unknown and malformed messages.
        assert_eq!(
            feed(PortEvent::Hub(&Event::Message {
                topic: "a/b".into(),
                payload: b"x",
                kind: Received::UnknownTopic,
            })),
            [error(ENOMSG, Some("a/b"))]
        );
        let bad = "$iothub/twin/res/200/?$version=1";
        assert_eq!(
            feed(PortEvent::Hub(&Event::Malformed {
                topic: Some(bad.into())
            })),
            [error(EBADMSG, Some(bad))]
        );
        assert_eq!(
            feed(PortEvent::Hub(&Event::Malformed { topic: None })),
            [error(EBADMSG, Some(""))]
        );

        // Too large, with the type of its topic.
        let m = "$iothub/methods/POST/big/?$rid=9";
        assert_eq!(
            feed(PortEvent::Hub(&Event::MessageTooLarge {
                topic: Some(m.into()),
                size: 9000
            })),
            [Seen {
                topic_type: AZURE_IOT_HUB_TOPIC_DIRECT_METHOD as i32,
                topic: m.into(),
                props_null: true,
                ..seen(AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE)
            }]
        );

        assert_eq!(
            feed(PortEvent::Hub(&Event::MessageTooLarge {
                topic: None,
                size: 9000
            })),
            [Seen {
                topic_type: AZURE_IOT_HUB_TOPIC_UNKNOWN as i32,
                props_null: true,
                ..seen(AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE)
            }]
        );

        // A failed twin request: data.result filled, payload NUL-terminated, in data.msg too.
        let t = "$iothub/twin/res/404/?$rid=77";
        let got = feed(PortEvent::Hub(&Event::Message {
            topic: t.into(),
            // As the port's framer leaves it: a NUL after the payload.
            payload: &b"{\"message\":\"nope\"}\0"[..18],
            kind: Received::TwinResult {
                request_id: "77".into(),
                status: 404,
            },
        }));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].t, AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL as i32);
        assert_eq!(
            got[0].topic_type,
            AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT as i32
        );
        assert_eq!(
            got[0].result,
            Some(("77".into(), 404, "{\"message\":\"nope\"}".into()))
        );
        assert_eq!(got[0].msg_payload, "{\"message\":\"nope\"}");
        assert!(got[0].nul);

        // A desired patch: no properties, NULL pointer.
        let d = "$iothub/twin/PATCH/properties/desired/?$version=3";
        let got = feed(PortEvent::Hub(&Event::Message {
            topic: d.into(),
            payload: &b"{}\0"[..2],
            kind: Received::TwinDesired {
                version: "3".into(),
            },
        }));
        assert_eq!(got[0].t, AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED as i32);
        assert_eq!(
            (got[0].topic_type, got[0].props_null, got[0].props.len()),
            (AZURE_IOT_HUB_TOPIC_TWIN_DESIRED as i32, true, 0)
        );

        // C2D: at most RECV_MAX properties, as received.
        let c = "devices/d/messages/devicebound/a=1&b=%20&c&d=4&e=5";
        let got = feed(PortEvent::Hub(&Event::Message {
            topic: c.into(),
            payload: &b"hi\0"[..2],
            kind: Received::C2d {
                properties: crate::hub::c2d::parse(c).unwrap_or_default(),
            },
        }));
        assert_eq!(got[0].topic_type, AZURE_IOT_HUB_TOPIC_DEVICEBOUND as i32);
        let want = [("a", "1"), ("b", "%20"), ("c", ""), ("d", "4"), ("e", "5")];
        let want: Vec<(String, String)> = want
            .iter()
            .take(RECV_MAX)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got[0].props, want);
        assert_eq!((got[0].msg_payload.as_str(), got[0].nul), ("hi", true));

        // A protocol error, then the end of the connection.
        assert_eq!(
            feed(PortEvent::ProtocolError(
                crate::hub::ProtocolError::KeepAliveTimeout
            )),
            [error(ETIMEDOUT, None)]
        );
        assert_eq!(
            feed(PortEvent::ProtocolError(
                crate::hub::ProtocolError::Unexpected(2)
            )),
            [error(EPROTO, None)]
        );
        let p = CloseReason::Protocol(crate::hub::ProtocolError::Unexpected(2));
        assert_eq!(
            feed(PortEvent::Disconnected(p)),
            [plain(AZURE_IOT_HUB_EVT_DISCONNECTED)]
        );
        assert_eq!(*state(), STATE_DISCONNECTED);
        assert_eq!(
            feed(PortEvent::Hub(&Event::ConnectionRefused { return_code: 5 })),
            [Seen {
                err: 5,
                props_null: true,
                ..seen(AZURE_IOT_HUB_EVT_CONNECTION_FAILED)
            }]
        );
        HANDLER.set(None);
        *state() = STATE_UNINIT;
    }

    /// A too-large message's topic type is that of its topic's kind, as the core classifies it
    /// (the table of `topic_type_of` when it matched on `hub::classify`).
    #[test]
    fn topic_type_of_every_kind() {
        for (topic, want) in [
            (
                "devices/d/messages/devicebound/a=1",
                AZURE_IOT_HUB_TOPIC_DEVICEBOUND,
            ),
            (
                "$iothub/methods/POST/m/?$rid=1",
                AZURE_IOT_HUB_TOPIC_DIRECT_METHOD,
            ),
            (
                "$iothub/twin/PATCH/properties/desired/?$version=2",
                AZURE_IOT_HUB_TOPIC_TWIN_DESIRED,
            ),
            (
                "$iothub/twin/res/200/?$rid=1",
                AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
            ),
            (
                "$iothub/twin/res/204/?$rid=1&$version=3",
                AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
            ),
            (
                "$iothub/twin/res/404/?$rid=1",
                AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
            ),
            ("$iothub/methods/POST/m", AZURE_IOT_HUB_TOPIC_UNKNOWN),
            ("$iothub/twin/res/200/?x=1", AZURE_IOT_HUB_TOPIC_UNKNOWN),
            ("some/other/topic", AZURE_IOT_HUB_TOPIC_UNKNOWN),
            // What a too-large message without a topic is reported with.
            ("", AZURE_IOT_HUB_TOPIC_UNKNOWN),
        ] {
            assert_eq!(topic_type_of(topic.into()), want, "{topic}");
        }
    }
}
