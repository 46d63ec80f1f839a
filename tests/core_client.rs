//! Scenario tests of the sans-IO core: the client and framer driven with literal packets, on a
//! virtual clock. No sockets, no threads.

use azure_iot_hub::hub::{
    properties::NO_PROPERTIES, Event, Message, MessageKind, Options, ProtocolError, PublishError,
    Received, State,
};
use azure_iot_hub::hub::{Property, PropertyList, DEVICE_CLIENT_TYPE};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::Connection;

type Conn = Connection<Vec<u8>, Vec<u8>>;

fn conn(rx: usize) -> Conn {
    Connection::new(vec![0; 512], vec![0; rx], Options::default())
}

/// Drains the transmit queue.
fn take_tx(c: &mut Conn, now: u64) -> Vec<u8> {
    let out = c
        .client
        .poll_transmit()
        .map(|b| b.to_vec())
        .unwrap_or_default();
    c.client.transmit_complete(out.len(), now);
    out
}

fn publish_packet(topic: &str, qos: u8, pid: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&pid.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let mut p = vec![0x30 | (qos << 1)];
    let mut n = body.len();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        p.push(b);
        if n == 0 {
            break;
        }
    }
    p.extend_from_slice(&body);
    p
}

/// Telemetry at QoS 1 with a new packet identifier, no DUP, no RETAIN.
fn telemetry_qos1<'a>(properties: &'a dyn PropertyList, payload: &'a [u8]) -> Message<'a> {
    Message {
        kind: MessageKind::Telemetry { properties },
        payload,
        qos: QoS::AtLeastOnce,
        packet_id: None,
        dup: false,
        retain: false,
    }
}

/// Connects and walks to READY; returns the connection with the twin GET already drained.
fn ready(device: &str) -> Conn {
    let mut c = conn(1024);
    c.client
        .connect("hub.example.net", device, None, None, 0)
        .unwrap();
    take_tx(&mut c, 0);
    c.handle_input(&[0x20, 2, 0, 0]);
    assert!(matches!(
        c.poll_event(1).unwrap(),
        Some(Event::Connected {
            session_present: false
        })
    ));
    take_tx(&mut c, 1);
    c.handle_input(&[0x90, 6, 0, 1, 0, 0, 0, 0]);
    assert!(matches!(
        c.poll_event(2).unwrap(),
        Some(Event::Ready { refused: 0 })
    ));
    take_tx(&mut c, 2);
    c
}

#[test]
fn connect_sends_the_iot_hub_connect_packet() {
    let mut c = conn(256);
    assert_eq!(c.client.state(), State::Disconnected);
    c.client
        .connect("hub.example.net", "my-device", None, None, 0)
        .unwrap();
    assert_eq!(c.client.state(), State::Connecting);
    let bytes = take_tx(&mut c, 0);
    let user = format!(
        "hub.example.net/my-device/?api-version=2020-09-30&DeviceClientType={DEVICE_CLIENT_TYPE}"
    );
    // Literal CONNECT: fixed header, "MQTT" level 4, flags user-name + clean session, keep-alive 60.
    let mut expected = vec![0x10, (10 + 2 + 9 + 2 + user.len()) as u8];
    expected.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', 4, 0x82, 0, 60]);
    expected.extend_from_slice(&[0, 9]);
    expected.extend_from_slice(b"my-device");
    expected.extend_from_slice(&(user.len() as u16).to_be_bytes());
    expected.extend_from_slice(user.as_bytes());
    assert_eq!(bytes, expected);
    match mqttrs::decode_slice(&bytes).unwrap().unwrap() {
        mqttrs::Packet::Connect(p) => {
            assert_eq!(p.client_id, "my-device");
            assert_eq!(p.password, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn connack_subscribe_suback_ready_then_twin_get() {
    let mut c = conn(256);
    c.client.connect("h", "d", None, None, 0).unwrap();
    take_tx(&mut c, 0);
    c.handle_input(&[0x20, 2, 0, 0]);
    assert_eq!(
        c.poll_event(5).unwrap(),
        Some(Event::Connected {
            session_present: false
        })
    );
    assert_eq!(c.client.state(), State::Connected);
    // One SUBSCRIBE, four filters, QoS 0, packet id 1.
    let sub = take_tx(&mut c, 5);
    let mut expected = vec![0x82, 0];
    let mut body = vec![0, 1];
    for f in [
        "devices/+/messages/devicebound/#",
        "$iothub/methods/POST/#",
        "$iothub/twin/PATCH/properties/desired/#",
        "$iothub/twin/res/#",
    ] {
        body.extend_from_slice(&(f.len() as u16).to_be_bytes());
        body.extend_from_slice(f.as_bytes());
        body.push(0);
    }
    expected[1] = body.len() as u8;
    expected.extend_from_slice(&body);
    assert_eq!(sub, expected);
    assert_eq!(c.poll_event(5).unwrap(), None);

    c.handle_input(&[0x90, 6, 0, 1, 0, 0, 0, 0]);
    assert_eq!(c.poll_event(6).unwrap(), Some(Event::Ready { refused: 0 }));
    assert_eq!(c.client.state(), State::Ready);
    // The automatic twin GET, QoS 0, full-width request ID "1".
    assert_eq!(
        take_tx(&mut c, 6),
        publish_packet("$iothub/twin/GET/?$rid=1", 0, 0, b"")
    );
}

#[test]
fn no_twin_get_when_auto_request_is_off() {
    let mut c = Connection::new(
        vec![0; 512],
        vec![0; 256],
        Options {
            auto_twin_request: false,
            ..Options::default()
        },
    );
    c.client.connect("h", "d", None, None, 0).unwrap();
    take_tx(&mut c, 0);
    c.handle_input(&[0x20, 2, 0, 0]);
    c.poll_event(0).unwrap();
    take_tx(&mut c, 0);
    c.handle_input(&[0x90, 6, 0, 1, 0, 0, 0, 0]);
    c.poll_event(0).unwrap();
    assert_eq!(c.client.poll_transmit(), None);
}

#[test]
fn refused_connack_and_refused_subscriptions_are_reported() {
    let mut c = conn(256);
    c.client.connect("h", "d", None, None, 0).unwrap();
    take_tx(&mut c, 0);
    c.handle_input(&[0x20, 2, 0, 5]);
    assert_eq!(
        c.poll_event(0).unwrap(),
        Some(Event::ConnectionRefused { return_code: 5 })
    );
    assert_eq!(c.client.state(), State::Disconnected);

    let mut c = conn(256);
    c.client.connect("h", "d", None, None, 0).unwrap();
    take_tx(&mut c, 0);
    c.handle_input(&[0x20, 2, 0, 0, 0x90, 6, 0, 1, 0, 0x80, 0, 0x80]);
    c.poll_event(0).unwrap();
    assert_eq!(
        c.poll_event(0).unwrap(),
        Some(Event::Ready { refused: 0b1010 })
    );
}

#[test]
fn telemetry_qos1_is_85_bytes_header_then_payload() {
    let mut c = ready("my-device");
    let payload = br#"{"temperature":25.9,"timestamp":16849}"#;
    assert_eq!(payload.len(), 38);
    let props = [Property::new("a", "1"), Property::new("b", "2")];
    let msg = telemetry_qos1(&props, payload);
    let out = c.client.publish(&msg, 10).unwrap();
    let mut wire = out.head().to_vec();
    wire.extend_from_slice(out.body());
    let pid = out.packet_id;
    out.sent();
    assert_eq!(wire.len(), 85);
    assert_eq!(
        wire,
        publish_packet("devices/my-device/messages/events/a=1&b=2", 1, pid, payload)
    );
    assert_eq!(c.client.poll_transmit(), None);
    // PUBACK comes back as an event.
    c.handle_input(&[0x40, 2, (pid >> 8) as u8, pid as u8]);
    assert_eq!(
        c.poll_event(11).unwrap(),
        Some(Event::Puback { packet_id: pid })
    );
}

#[test]
fn dropping_an_unsent_publish_leaves_the_queue_as_it_was() {
    let mut c = ready("d");
    c.client.handle_timeout(60_002).unwrap(); // queue a PINGREQ
    let before = c.client.poll_transmit().unwrap().to_vec();
    {
        let msg = Message {
            kind: MessageKind::Telemetry {
                properties: &NO_PROPERTIES,
            },
            payload: b"x",
            qos: QoS::AtMostOnce,
            packet_id: None,
            dup: false,
            retain: false,
        };
        let out = c.client.publish(&msg, 0).unwrap();
        assert!(out.head().starts_with(&before));
        assert!(out.head().len() > before.len());
        assert_eq!(out.packet_header(), &out.head()[before.len()..]);
    }
    assert_eq!(c.client.poll_transmit().unwrap(), &before[..]);
}

#[test]
fn gathered_payload_makes_one_write_when_it_fits() {
    // A 512-byte queue with a PINGREQ pending: a 38-byte payload fits after the header, a
    // 480-byte one does not.
    let mut c = ready("my-device");
    c.client.handle_timeout(60_002).unwrap();
    let ping = c.client.poll_transmit().unwrap().to_vec();
    let props = [Property::new("a", "1"), Property::new("b", "2")];
    let small = br#"{"temperature":25.9,"timestamp":16849}"#;
    static BIG: [u8; 480] = [b'x'; 480];
    let big = &BIG;
    let topic = "devices/my-device/messages/events/a=1&b=2";
    let msg = |payload: &'static [u8]| telemetry_qos1(&props, payload);
    // Fits: the whole packet in the head (after the PINGREQ), nothing in the body.
    let small_msg = msg(small);
    let mut out = c.client.publish(&small_msg, 10).unwrap();
    assert!(out.gather());
    let pid = out.packet_id;
    let packet = publish_packet(topic, 1, pid, small);
    assert_eq!(out.body(), b"");
    assert_eq!(out.head(), [&ping[..], &packet[..]].concat());
    assert_eq!(out.packet_header(), &packet[..]);
    // Dropped unsent: the queue is as it was, the payload's copy included.
    drop(out);
    assert_eq!(c.client.poll_transmit().unwrap(), &ping[..]);
    let mut out = c.client.publish(&small_msg, 10).unwrap();
    assert!(out.gather());
    out.sent();
    assert_eq!(c.client.poll_transmit(), None);
    // Does not fit: header in the head, the payload as the body, the same bytes.
    let big_msg = msg(big);
    let mut out = c.client.publish(&big_msg, 11).unwrap();
    assert!(!out.gather());
    let packet = publish_packet(topic, 1, out.packet_id, big);
    assert_eq!(out.body(), &big[..]);
    assert_eq!([out.head(), out.body()].concat(), packet);
    out.sent();
    // Without gather: header and payload apart.
    let out = c.client.publish(&small_msg, 12).unwrap();
    assert_eq!(out.body(), &small[..]);
    assert_eq!(
        [out.head(), out.body()].concat(),
        publish_packet(topic, 1, out.packet_id, small)
    );
}

#[test]
fn twin_requests_and_method_response_topics() {
    let mut c = ready("d");
    for (kind, topic, qos) in [
        (
            MessageKind::TwinGet {
                request_id: Some(b"abc".as_slice()),
            },
            "$iothub/twin/GET/?$rid=abc",
            QoS::AtMostOnce,
        ),
        (
            MessageKind::TwinReported { request_id: None },
            "$iothub/twin/PATCH/properties/reported/?$rid=2",
            QoS::AtLeastOnce,
        ),
        (
            MessageKind::MethodResponse {
                request_id: b"77",
                status: 200,
            },
            "$iothub/methods/res/200/?$rid=77",
            QoS::AtMostOnce,
        ),
        (
            MessageKind::MethodResponse {
                request_id: b"78",
                status: 70_000,
            },
            "$iothub/methods/res/70000/?$rid=78",
            QoS::AtMostOnce,
        ),
    ] {
        let msg = Message {
            kind,
            payload: b"{}",
            qos,
            packet_id: Some(9),
            dup: false,
            retain: false,
        };
        let out = c.client.publish(&msg, 0).unwrap();
        let mut wire = out.head().to_vec();
        wire.extend_from_slice(out.body());
        out.sent();
        assert_eq!(wire, publish_packet(topic, qos as u8, 9, b"{}"), "{topic}");
    }
}

#[test]
fn generated_request_ids_are_full_width_and_unique() {
    let mut c = ready("d"); // the automatic GET used "1"
    let mut seen = std::collections::HashSet::new();
    for _ in 0..2000 {
        let msg = Message {
            kind: MessageKind::TwinReported { request_id: None },
            payload: b"{}",
            qos: QoS::AtMostOnce,
            packet_id: None,
            dup: false,
            retain: false,
        };
        let out = c.client.publish(&msg, 0).unwrap();
        let rid = out.request_id.clone().unwrap();
        out.sent();
        assert!(seen.insert(rid.to_string()));
    }
    assert!(seen.contains("2001"));
}

#[test]
fn publish_refusals() {
    let mut c = conn(256);
    let msg = Message {
        kind: MessageKind::Telemetry {
            properties: &NO_PROPERTIES,
        },
        payload: b"x",
        qos: QoS::AtMostOnce,
        packet_id: None,
        dup: false,
        retain: false,
    };
    assert_eq!(
        c.client.publish(&msg, 0).err(),
        Some(PublishError::NotConnected)
    );
    let mut c = ready("d");
    let qos2 = Message {
        qos: QoS::ExactlyOnce,
        ..msg
    };
    assert_eq!(
        c.client.publish(&qos2, 0).err(),
        Some(PublishError::UnsupportedQoS)
    );
    let bad = [Property::new("k", "a&b")];
    let m = Message {
        kind: MessageKind::Telemetry { properties: &bad },
        ..msg
    };
    assert_eq!(
        c.client.publish(&m, 0).err(),
        Some(PublishError::InvalidArgument)
    );
    // 128-byte property buffer: "k=" + 126 bytes needs 129 with the NUL.
    let long = "v".repeat(126);
    let p = [Property::new("k", &long)];
    let m = Message {
        kind: MessageKind::Telemetry { properties: &p },
        ..msg
    };
    assert_eq!(
        c.client.publish(&m, 0).err(),
        Some(PublishError::PropertiesTooLong)
    );
    // Topic longer than 100.
    let rid = "r".repeat(80);
    let m = Message {
        kind: MessageKind::TwinGet {
            request_id: Some(rid.as_bytes()),
        },
        ..msg
    };
    assert_eq!(
        c.client.publish(&m, 0).err(),
        Some(PublishError::TopicTooLong)
    );
    let m = Message {
        kind: MessageKind::MethodResponse {
            request_id: b"",
            status: 200,
        },
        ..msg
    };
    assert_eq!(
        c.client.publish(&m, 0).err(),
        Some(PublishError::InvalidArgument)
    );
    // A request ID that is not UTF-8 (bytes, as the C API passes them) is refused as one with
    // a byte a topic cannot hold, in each kind that takes one.
    for rid in [&b"r\xff"[..], b"\xc3(", b"a\xed\xa0\x80", b"\xc0\x80"] {
        for kind in [
            MessageKind::TwinGet {
                request_id: Some(rid),
            },
            MessageKind::TwinReported {
                request_id: Some(rid),
            },
            MessageKind::MethodResponse {
                request_id: rid,
                status: 200,
            },
        ] {
            let m = Message { kind, ..msg };
            assert_eq!(
                c.client.publish(&m, 0).err(),
                Some(PublishError::InvalidArgument)
            );
        }
    }
    assert_eq!(c.client.poll_transmit(), None);
}

#[test]
fn publish_refusal_precedence_and_packet_ids() {
    // A refused property is reported before any size refusal, and takes no packet identifier;
    // a size refusal of a valid message takes one (as every publish past the checks does).
    fn list(v: Vec<Property<'static>>) -> &'static dyn PropertyList {
        Box::leak(Box::new(&*v.leak()))
    }
    let mut c = ready("d");
    let msg = |properties: &'static dyn PropertyList| telemetry_qos1(properties, b"x");
    let long: &'static str = "v".repeat(126).leak();
    let mid: &'static str = "v".repeat(80).leak();
    for (props, want) in [
        (
            vec![Property::new("k#", long), Property::new("a", "1")],
            PublishError::InvalidArgument,
        ),
        (
            vec![Property::new("a", mid), Property::new("b", "\0")],
            PublishError::InvalidArgument,
        ),
    ] {
        assert_eq!(c.client.publish(&msg(list(props)), 0).err(), Some(want));
    }
    let first = c.client.publish(&msg(&NO_PROPERTIES), 0).unwrap().packet_id;
    assert_eq!(
        c.client
            .publish(&msg(list(vec![Property::new("a", mid)])), 0)
            .err(),
        Some(PublishError::TopicTooLong)
    );
    let next = c.client.publish(&msg(&NO_PROPERTIES), 0).unwrap().packet_id;
    assert_eq!(next, first + 2);
    // An empty key, a key with `=`, bytes that are not UTF-8: refused while written.
    for bad in [
        vec![Property::new("a", "1"), Property::new("", "2")],
        vec![Property::new("a=b", "1")],
        vec![Property {
            key: b"k",
            value: b"\xC3",
        }],
    ] {
        assert_eq!(
            c.client.publish(&msg(list(bad)), 0).err(),
            Some(PublishError::InvalidArgument)
        );
    }
    let ok = list(vec![Property::new("a", "b=c"), Property::new("é", "ü")]);
    let out = c.client.publish(&msg(ok), 0).unwrap();
    assert_eq!(out.packet_id, first + 3);
    let want = "devices/d/messages/events/a=b=c&é=ü".as_bytes();
    assert!(out.head().windows(want.len()).any(|w| w == want));
}

/// A client at READY with a transmit buffer of `tx` bytes and these limits (`None` when the
/// buffer cannot hold CONNECT, SUBSCRIBE or the twin GET), with a PINGREQ left queued if
/// `pending`.
fn ready_with(tx: usize, opts: Options, pending: bool) -> Option<Conn> {
    let mut c = Connection::new(vec![0; tx], vec![0; 1024], opts);
    c.client.connect("h", "d", None, None, 0).ok()?;
    take_tx(&mut c, 0);
    c.handle_input(&[0x20, 2, 0, 0]);
    c.poll_event(1).ok()?;
    take_tx(&mut c, 1);
    c.handle_input(&[0x90, 6, 0, 1, 0, 0, 0, 0]);
    c.poll_event(2).ok()?;
    take_tx(&mut c, 2);
    if pending {
        c.client.handle_timeout(60_002).unwrap();
        assert_eq!(c.client.poll_transmit(), Some(&[0xC0, 0][..]));
    }
    Some(c)
}

#[test]
fn telemetry_header_at_every_remaining_length_boundary() {
    // The topic is written after the header its length needs without the bag, then moved up
    // when the bag makes the remaining length one byte longer: every message around 128 and
    // 16,384 bytes is the reference encoding, after anything queued before it; a queue one
    // byte too short refuses it with nothing queued (and takes a packet identifier, as before).
    let opts = Options {
        topic_max_len: 1000,
        property_buffer_size: 1000,
        ..Options::default()
    };
    let payloads: Vec<u8> = vec![b'p'; 16_400];
    let payload_lens = (0..=110).chain(16_250..=16_390);
    let mut checked_tight = 0;
    for len in payload_lens {
        for value_len in [
            None,
            Some(0),
            Some(1),
            Some(20),
            Some(90),
            Some(100),
            Some(300),
        ] {
            let value = "v".repeat(value_len.unwrap_or(0));
            let props = [Property::new("k", &value)];
            let list: &dyn PropertyList = if value_len.is_some() {
                &props
            } else {
                &NO_PROPERTIES
            };
            let topic = match value_len {
                Some(_) => format!("devices/d/messages/events/k={value}"),
                None => "devices/d/messages/events/".to_string(),
            };
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
                let payload = &payloads[..len];
                let msg = Message {
                    kind: MessageKind::Telemetry { properties: list },
                    payload,
                    qos,
                    packet_id: Some(7),
                    dup: false,
                    retain: false,
                };
                let want = publish_packet(&topic, qos as u8, 7, payload);
                let header = &want[..want.len() - len];
                for pending in [false, true] {
                    let before: &[u8] = if pending { &[0xC0, 0] } else { &[] };
                    let mut c = ready_with(1024, opts, pending).unwrap();
                    let out = c.client.publish(&msg, 0).unwrap();
                    assert_eq!(out.head(), &[before, header].concat()[..], "{len} {topic}");
                    assert_eq!(out.packet_header(), header);
                    assert_eq!(out.body(), payload);
                    // Exactly the room it needs, and one byte less.
                    let need = before.len() + header.len();
                    if let Some(mut c) = ready_with(need, opts, pending) {
                        let out = c.client.publish(&msg, 0).unwrap();
                        assert_eq!(out.packet_header(), header, "{len} {topic}");
                        checked_tight += 1;
                    }
                    if let Some(mut c) = ready_with(need - 1, opts, pending) {
                        assert_eq!(
                            c.client.publish(&msg, 0).err(),
                            Some(PublishError::BufferFull),
                            "{len} {topic}"
                        );
                        assert_eq!(c.client.poll_transmit().unwrap_or_default(), before);
                    }
                }
            }
        }
    }
    assert!(checked_tight > 1000, "{checked_tight}");
}

#[test]
fn a_topic_too_long_for_the_queue_and_the_limit_is_too_long() {
    // Topics are written before their length is checked: one that overflows the queue too is
    // still refused as too long (as when the length was checked first), telemetry included.
    let mut c = ready_with(200, Options::default(), false).unwrap();
    let rid = "r".repeat(300);
    let long = "v".repeat(300);
    let props = [Property::new("k", &long)];
    let big = Options {
        property_buffer_size: 1000,
        ..Options::default()
    };
    let qos0 = |kind| Message {
        kind,
        payload: b"{}",
        qos: QoS::AtMostOnce,
        packet_id: None,
        dup: false,
        retain: false,
    };
    for kind in [
        MessageKind::TwinGet {
            request_id: Some(rid.as_bytes()),
        },
        MessageKind::MethodResponse {
            request_id: rid.as_bytes(),
            status: 200,
        },
    ] {
        assert_eq!(
            c.client.publish(&qos0(kind), 0).err(),
            Some(PublishError::TopicTooLong)
        );
    }
    let msg = qos0(MessageKind::Telemetry { properties: &props });
    assert_eq!(
        c.client.publish(&msg, 0).err(),
        Some(PublishError::PropertiesTooLong)
    );
    let mut c = ready_with(200, big, false).unwrap();
    assert_eq!(
        c.client.publish(&msg, 0).err(),
        Some(PublishError::TopicTooLong)
    );
    assert_eq!(c.client.poll_transmit(), None);
}

#[test]
fn incoming_c2d_method_and_twin_messages() {
    let mut c = ready("d");
    let t = "devices/d/messages/devicebound/%24.mid=1&%24.to=%2Fdevices%2Fd%2Fmessages%2FdeviceBound&color=red";
    c.handle_input(&publish_packet(t, 1, 42, b"hello"));
    match c.poll_event(0).unwrap().unwrap() {
        Event::Message {
            topic,
            payload,
            kind: Received::C2d { properties },
        } => {
            assert_eq!(topic, t);
            assert_eq!(payload, b"hello");
            assert_eq!(properties.get("color"), Some("red"));
            assert_eq!(properties.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    // QoS 1 is acknowledged.
    assert_eq!(take_tx(&mut c, 0), vec![0x40, 2, 0, 42]);

    c.handle_input(&publish_packet(
        "$iothub/methods/POST/led/?$rid=17",
        0,
        0,
        b"1",
    ));
    assert_eq!(
        c.poll_event(0).unwrap(),
        Some(Event::Message {
            topic: "$iothub/methods/POST/led/?$rid=17".into(),
            payload: b"1",
            kind: Received::DirectMethod {
                name: "led".into(),
                request_id: "17".into(),
            },
        })
    );
    c.handle_input(&publish_packet(
        "$iothub/twin/res/200/?$rid=1",
        0,
        0,
        br#"{"desired":{"$version":1},"reported":{"$version":1}}"#,
    ));
    assert!(matches!(
        c.poll_event(0).unwrap(),
        Some(Event::Message {
            kind: Received::TwinDocument { request_id },
            ..
        }) if request_id == "1"
    ));
    c.handle_input(&publish_packet(
        "$iothub/twin/res/204/?$rid=2&$version=5",
        0,
        0,
        b"",
    ));
    let e = c.poll_event(0).unwrap();
    assert!(matches!(
        e,
        Some(Event::Message {
            kind: Received::TwinResult {
                status: 204,
                request_id,
            },
            ..
        }) if request_id == "2"
    ));
    assert_eq!(e.and_then(|e| e.twin_version()), Some("5".into()));
    c.handle_input(&publish_packet(
        "$iothub/twin/res/400/?$rid=3",
        0,
        0,
        br#"{"errorCode":400}"#,
    ));
    let e = c.poll_event(0).unwrap();
    assert!(matches!(
        e,
        Some(Event::Message {
            kind: Received::TwinResult {
                status: 400,
                request_id,
            },
            ..
        }) if request_id == "3"
    ));
    assert_eq!(e.and_then(|e| e.twin_version()), None);
    c.handle_input(&publish_packet(
        "$iothub/twin/PATCH/properties/desired/?$version=7",
        0,
        0,
        br#"{"telemetryInterval":5,"$version":7}"#,
    ));
    let e = c.poll_event(0).unwrap();
    assert!(matches!(
        e,
        Some(Event::Message {
            kind: Received::TwinDesired { version },
            ..
        }) if version == "7"
    ));
    assert_eq!(e.and_then(|e| e.twin_version()), Some("7".into()));
}

#[test]
fn malformed_and_unknown_messages_are_reported_and_the_stream_continues() {
    let mut c = ready("d");
    let mut stream = publish_packet("$iothub/twin/res/200/?nope=1", 0, 0, b"{}");
    stream.extend(publish_packet("some/other/topic", 0, 0, b"zz"));
    // A QoS 1 PUBLISH whose topic is not UTF-8: skipped, acknowledged.
    stream.extend_from_slice(&[0x32, 7, 0, 3, b'a', 0xFF, b'b', 0, 9]);
    stream.extend_from_slice(&[0xD0, 0]);
    c.handle_input(&stream);
    assert_eq!(
        c.poll_event(0).unwrap(),
        Some(Event::Malformed {
            topic: Some("$iothub/twin/res/200/?nope=1".into())
        })
    );
    assert_eq!(
        c.poll_event(0).unwrap(),
        Some(Event::Message {
            topic: "some/other/topic".into(),
            payload: b"zz",
            kind: Received::UnknownTopic,
        })
    );
    assert_eq!(
        c.poll_event(0).unwrap(),
        Some(Event::Malformed { topic: None })
    );
    assert_eq!(c.poll_event(0).unwrap(), Some(Event::Pingresp));
    assert_eq!(take_tx(&mut c, 0), vec![0x40, 2, 0, 9]);
}

#[test]
fn oversize_message_is_reported_acknowledged_and_drained() {
    let mut c = Connection::new(vec![0; 512], vec![0; 128], Options::default());
    c.client.connect("h", "d", None, None, 0).unwrap();
    take_tx(&mut c, 0);
    c.handle_input(&[0x20, 2, 0, 0, 0x90, 6, 0, 1, 0, 0, 0, 0]);
    c.poll_event(0).unwrap();
    c.poll_event(0).unwrap();
    take_tx(&mut c, 0);
    let big = publish_packet("devices/d/messages/devicebound/k=v", 1, 300, &[b'x'; 1000]);
    let small = publish_packet("devices/d/messages/devicebound/", 0, 0, b"after");
    let mut stream = big.clone();
    stream.extend_from_slice(&small);
    let mut events = Vec::new();
    let mut fed = 0;
    while fed < stream.len() {
        fed += c.handle_input(&stream[fed..(fed + 50).min(stream.len())]);
        while let Some(e) = c.poll_event(0).unwrap() {
            events.push(format!("{e:?}"));
        }
    }
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events[0].contains("MessageTooLarge")
            && events[0].contains("devices/d/messages/devicebound/k=v"),
        "{events:?}"
    );
    assert!(events[0].contains(&format!("size: {}", big.len())));
    assert!(
        events[1].contains("C2d") && events[1].contains("[97, 102, 116, 101, 114]"),
        "{events:?}"
    );
    assert_eq!(take_tx(&mut c, 0), vec![0x40, 2, 1, 44]);
}

#[test]
fn keepalive_pings_and_detects_a_dead_peer() {
    let mut c = ready("d"); // last transmit at t=2 ms
    assert_eq!(c.client.poll_timeout(), Some(60_002));
    c.client.handle_timeout(30_000).unwrap();
    assert_eq!(c.client.poll_transmit(), None);
    c.client.handle_timeout(60_002).unwrap();
    assert_eq!(take_tx(&mut c, 60_002), vec![0xC0, 0]);
    assert_eq!(c.client.poll_timeout(), Some(120_002));
    c.handle_input(&[0xD0, 0]);
    assert_eq!(c.poll_event(60_010).unwrap(), Some(Event::Pingresp));
    assert_eq!(c.client.poll_timeout(), Some(120_002));
    c.client.handle_timeout(120_002).unwrap();
    take_tx(&mut c, 120_002);
    // No answer this time.
    assert_eq!(
        c.client.handle_timeout(180_002),
        Err(ProtocolError::KeepAliveTimeout)
    );
}

#[test]
fn protocol_violations_close_the_connection() {
    let mut c = ready("d");
    c.handle_input(&[0x20, 2, 0, 0]);
    assert!(matches!(c.poll_event(0), Err(ProtocolError::Unexpected(2))));
    let mut c = ready("d");
    c.handle_input(&[0x62, 2, 0, 1]);
    assert!(matches!(c.poll_event(0), Err(ProtocolError::Decode(_))));
    let mut c = ready("d");
    c.handle_input(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
    assert!(matches!(c.poll_event(0), Err(ProtocolError::Frame(_))));
    // QoS 2 from the hub: never sent by IoT Hub (we subscribe with QoS 0).
    let mut c = ready("d");
    c.handle_input(&publish_packet(
        "devices/d/messages/devicebound/",
        2,
        1,
        b"",
    ));
    assert!(c.poll_event(0).is_err());
}

#[test]
fn disconnect_and_reconnect() {
    let mut c = ready("d");
    c.client.disconnect().unwrap();
    assert_eq!(c.client.state(), State::Disconnecting);
    assert_eq!(take_tx(&mut c, 0), vec![0xE0, 0]);
    c.handle_closed();
    assert_eq!(c.client.state(), State::Disconnected);
    assert!(c.client.disconnect().is_err());
    c.client.connect("h", "d2", None, None, 0).unwrap();
    assert_eq!(c.client.device_id(), "d2");
}

#[test]
fn connect_refusals() {
    use azure_iot_hub::hub::ConnectError;
    let mut c = conn(256);
    assert_eq!(
        c.client.connect("", "d", None, None, 0),
        Err(ConnectError::InvalidHostname)
    );
    assert_eq!(
        c.client.connect("h", "", None, None, 0),
        Err(ConnectError::InvalidDeviceId)
    );
    assert_eq!(
        c.client.connect("h", "a#b", None, None, 0),
        Err(ConnectError::InvalidDeviceId)
    );
    let long = "d".repeat(100);
    assert_eq!(
        c.client.connect(&long, &long, None, None, 0),
        Err(ConnectError::UserNameTooLong)
    );
    let mut tiny = Connection::new(vec![0; 32], vec![0; 32], Options::default());
    assert_eq!(
        tiny.client.connect("host", "dev", None, None, 0),
        Err(ConnectError::BufferTooSmall)
    );
    c.client.connect("h", "d", None, None, 0).unwrap();
    assert_eq!(
        c.client.connect("h", "d", None, None, 0),
        Err(ConnectError::NotDisconnected)
    );
}

#[test]
fn packet_ids_wrap_and_skip_zero() {
    let mut c = conn(64);
    let mut last = 0;
    for _ in 0..65_535 {
        last = c.client.next_packet_id();
    }
    assert_eq!(last, 65_535);
    assert_eq!(c.client.next_packet_id(), 1);
}

#[test]
fn many_independent_clients_in_one_process() {
    let mut fleet: Vec<Conn> = (0..100).map(|_| conn(256)).collect();
    for (i, c) in fleet.iter_mut().enumerate() {
        c.client
            .connect("h", &format!("dev-{i}"), None, None, 0)
            .unwrap();
    }
    for (i, c) in fleet.iter_mut().enumerate() {
        let connect = take_tx(c, 0);
        let id = format!("dev-{i}");
        assert!(connect.windows(id.len()).any(|w| w == id.as_bytes()));
        c.handle_input(&[0x20, 2, 0, 0]);
        assert!(matches!(
            c.poll_event(0).unwrap(),
            Some(Event::Connected { .. })
        ));
    }
}
