//! The core operations of the original's instruction table, exactly as it defines them, on a
//! client already at READY with the original's measurement host and device.
//!
//! * telemetry send: topic with 2 properties (`a=1&b=2`) + PUBLISH header for a 38-byte payload,
//!   QoS 1, through `Client::publish` (what a port does before it writes head + body);
//! * C2D receive: the packet lands in the receive buffer (as a socket read puts it there), then
//!   framer + decode + topic classification + the 3 properties of its bag read out as bytes
//!   (`PropertyBag::iter_bytes`, exactly as the C API reads them into its
//!   `struct azure_iot_hub_property` array; the topic stays bytes, as the C API hands it out);
//! * direct method, as the issue defines it ("parse + response topic"): the request topic parsed
//!   (`hub::classify`, as the client does for every received topic: name and request ID), then
//!   the response PUBLISH header built through `Client::publish`;
//! * direct method end to end (`method_e2e`, an extra row): the same, plus the MQTT framing and
//!   decoding of the request packet (what the C2D row also counts).

use azure_iot_hub::hub::{
    classify, Client, Event, HubTopic, Message, MessageKind, Options, Property, Received,
};
use azure_iot_hub::mqtt::{Framed, QoS};
use azure_iot_hub::Connection;
use core::hint::black_box;

/// The host and device that reproduce the original's measured CONNECT (122 B), SUBSCRIBE
/// (127 B) and telemetry (85 B) sizes (see docs/performance.md).
pub const HOST: &str = "myhub.azure-devices.net";
/// See [`HOST`].
pub const DEVICE: &str = "my-device";
/// The 38-byte telemetry payload.
pub const PAYLOAD: &[u8; 38] = b"{\"temperature\":21.55,\"humidity\":40.25}";
/// The C2D topic: three properties, as IoT Hub delivers them (`$.mid`, `$.to`, one of the app's).
pub const C2D_TOPIC: &str =
    "devices/my-device/messages/devicebound/%24.mid=7&%24.to=%2Fdevices%2Fmy-device%2Fmessages%2Fdevicebound&color=blue";
/// The direct-method request topic.
pub const METHOD_TOPIC: &str = "$iothub/methods/POST/led/?$rid=1";

/// A connection at READY with its transmit queue empty.
pub type Conn = Connection<[u8; 512], [u8; 1024]>;

/// Encodes a PUBLISH as a server sends it.
pub fn publish_packet(topic: &str, qos: u8, pid: u16, payload: &[u8]) -> Vec<u8> {
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

fn drain(c: &mut Conn) -> usize {
    let n = c.client.poll_transmit().map_or(0, <[u8]>::len);
    c.client.transmit_complete(n, 0);
    n
}

/// Connects, accepts CONNACK and SUBACK, drains everything queued.
pub fn ready() -> Conn {
    let mut c = Connection::new([0u8; 512], [0u8; 1024], Options::default());
    c.client.connect(HOST, DEVICE, None, None, 0).unwrap();
    drain(&mut c);
    c.handle_input(&[0x20, 0x02, 0x00, 0x00]);
    assert!(matches!(c.poll_event(0), Ok(Some(Event::Connected { .. }))));
    drain(&mut c);
    c.handle_input(&[0x90, 0x06, 0x00, 0x01, 0, 0, 0, 0]);
    assert!(matches!(c.poll_event(0), Ok(Some(Event::Ready { .. }))));
    drain(&mut c);
    c
}

/// One telemetry send; returns header + payload length (the bytes the port writes).
#[inline(never)]
pub fn telemetry_send(c: &mut Conn) -> usize {
    let props = [Property::new("a", "1"), Property::new("b", "2")];
    let msg = Message {
        kind: MessageKind::Telemetry {
            properties: black_box(&props),
        },
        payload: black_box(PAYLOAD),
        qos: QoS::AtLeastOnce,
        packet_id: None,
        dup: false,
        retain: false,
    };
    let out = c.client.publish(&msg, 0).unwrap();
    let n = black_box(out.head()).len() + black_box(out.body()).len();
    out.sent();
    n
}

/// Puts `packet` in the receive buffer once; [`receive`] then re-reads it in place each time,
/// as a socket read into the framer's spare space does (no extra copy).
pub fn load(c: &mut Conn, packet: &[u8]) {
    let spare = c.framer.spare();
    spare[..packet.len()].copy_from_slice(packet);
}

/// One C2D receive (the packet is in the buffer, see [`load`]); returns the bytes of the
/// properties read, so nothing is optimised away.
#[inline(never)]
pub fn c2d_receive(c: &mut Conn, len: usize) -> usize {
    let _ = c.framer.spare();
    c.framer.commit(black_box(len));
    let Ok(Some(Framed::Packet { header, body })) = c.framer.next() else {
        panic!("no packet")
    };
    let ev = c.client.handle_packet(header, body, 0).unwrap();
    let Event::Message {
        payload,
        kind: Received::C2d { properties },
        ..
    } = ev
    else {
        panic!("not C2D: {ev:?}")
    };
    let mut n = payload.len();
    for (k, v) in properties.iter_bytes() {
        n += black_box(k).len() + black_box(v).len();
    }
    n
}

/// One direct method as the issue defines it: the request topic parsed (as received: a valid
/// topic in the receive buffer), then the response header built.
#[inline(never)]
pub fn direct_method_parse(c: &mut Conn, topic: &str) -> usize {
    let HubTopic::Method(m) = classify(black_box(topic)) else {
        panic!("not a method topic")
    };
    black_box(m.name);
    respond(&mut c.client, m.request_id)
}

/// The response to a method: its PUBLISH header built through `Client::publish`.
#[inline(always)]
fn respond(client: &mut Client<[u8; 512]>, request_id: &str) -> usize {
    let msg = Message {
        kind: MessageKind::MethodResponse {
            request_id: request_id.as_bytes(),
            status: 200,
        },
        payload: black_box(b"{}"),
        qos: QoS::AtMostOnce,
        packet_id: None,
        dup: false,
        retain: false,
    };
    let out = client.publish(&msg, 0).unwrap();
    let n = out.head().len() + out.body().len();
    out.sent();
    n
}

/// One direct method end to end: the request framed, decoded, parsed, and its response header
/// built.
#[inline(never)]
pub fn direct_method(c: &mut Conn, len: usize) -> usize {
    let _ = c.framer.spare();
    c.framer.commit(black_box(len));
    let Ok(Some(Framed::Packet { header, body })) = c.framer.next() else {
        panic!("no packet")
    };
    let ev = c.client.handle_packet(header, body, 0).unwrap();
    let Event::Message {
        kind: Received::DirectMethod { name, request_id },
        ..
    } = ev
    else {
        panic!("not a method: {ev:?}")
    };
    black_box(name);
    respond(&mut c.client, request_id.as_str())
}

/// The operations by name.
pub const OPS: [&str; 4] = ["telemetry", "c2d", "method", "method_e2e"];

/// Runs `op` `n` times on a fresh READY client; returns a checksum.
pub fn run(op: &str, n: u64) -> usize {
    let mut c = ready();
    let mut sum = 0;
    match op {
        "telemetry" => {
            for _ in 0..n {
                sum += telemetry_send(&mut c);
            }
        }
        "c2d" => {
            let p = publish_packet(C2D_TOPIC, 0, 0, PAYLOAD);
            load(&mut c, &p);
            for _ in 0..n {
                sum += c2d_receive(&mut c, p.len());
            }
        }
        "method" => {
            for _ in 0..n {
                sum += direct_method_parse(&mut c, METHOD_TOPIC);
            }
        }
        "method_e2e" => {
            let p = publish_packet(METHOD_TOPIC, 0, 0, b"{\"on\":true}");
            load(&mut c, &p);
            for _ in 0..n {
                sum += direct_method(&mut c, p.len());
            }
        }
        other => panic!("unknown operation {other}"),
    }
    sum
}
