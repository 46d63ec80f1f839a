//! The fuzz targets' bodies, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, nightly)
//! and by the stable smoke harness (`tests/fuzz_smoke.rs`, which runs them over the committed
//! corpus and deterministic mutations). Each takes arbitrary bytes, must never panic, and checks
//! a few invariants of what it parses.

use azure_iot_hub::dps;
use azure_iot_hub::fota::{self, http::Download, Fota, FotaOptions};
use azure_iot_hub::hub::{
    self, properties::NO_PROPERTIES, Client, Event, HubTopic, Message, MessageKind, Options,
    PropertyBag, Received,
};
use azure_iot_hub::mqtt::{Framed, Framer, QoS};

/// The names of the targets, as the corpus folders are named.
pub const TARGETS: [&str; 4] = ["mqtt_client", "hub_topics", "json", "fota_http"];

/// Runs target `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "mqtt_client" => mqtt_client(data),
        "hub_topics" => hub_topics(data),
        "json" => json(data),
        "fota_http" => fota_http(data),
        _ => panic!("no fuzz target {name}"),
    }
}

/// Splits `data` into chunks whose sizes come from the data itself: the first byte of each chunk
/// (mod 64, plus 1) is the chunk's length. So the fuzzer also explores how the stream is cut.
fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    core::iter::from_fn(move || {
        let (&n, tail) = rest.split_first()?;
        let n = (usize::from(n) % 64 + 1).min(tail.len());
        let (chunk, more) = tail.split_at(n);
        rest = more;
        Some(chunk)
    })
}

/// An arbitrary byte stream from the "hub", cut at arbitrary points, into the framer and a
/// connected client (CONNACK, SUBACK, PUBLISH, PUBACK, ... or garbage). A protocol error closes
/// the connection and the client connects again, as a port does. The client also publishes
/// between packets (what an application does from its handler).
pub fn mqtt_client(data: &[u8]) {
    let opts = Options {
        keep_alive_secs: 5,
        ..Options::default()
    };
    let mut client = Client::new([0u8; 256], opts);
    let mut framer = Framer::new([0u8; 128]);
    let mut now = 0u64;
    client.connect("hub", "dev", None, None, now).unwrap();
    for chunk in chunks(data) {
        now += 700;
        let mut input = chunk;
        while !input.is_empty() {
            let n = framer.push(input);
            input = &input[n..];
            loop {
                let result = match framer.next() {
                    Ok(None) => break,
                    Ok(Some(Framed::Packet { header, body })) => {
                        assert_eq!(body.len(), header.remaining_length);
                        client.handle_packet(header, body, now)
                    }
                    Ok(Some(Framed::Oversize { header, prefix })) => {
                        assert!(prefix.len() <= header.remaining_length);
                        client.handle_oversize(header, prefix, now)
                    }
                    Err(e) => Err(hub::ProtocolError::Frame(e)),
                };
                match result {
                    Ok(event) => check_event(&event),
                    Err(_) => {
                        client.handle_closed();
                        framer.reset();
                        client.connect("hub", "dev", None, None, now).unwrap();
                        break;
                    }
                }
                if client.is_connected() {
                    let msg = Message {
                        kind: MessageKind::Telemetry {
                            properties: &NO_PROPERTIES,
                        },
                        payload: b"x",
                        qos: QoS::AtLeastOnce,
                        packet_id: None,
                        dup: false,
                        retain: false,
                    };
                    if let Ok(out) = client.publish(&msg, now) {
                        assert!(out.packet_id != 0);
                        assert!(out.packet_header().len() <= out.head().len());
                        out.sent();
                    }
                }
            }
            if n == 0 && framer.buffered() == framer.capacity() {
                break;
            }
        }
        if client.handle_timeout(now).is_err() {
            client.handle_closed();
            framer.reset();
            client.connect("hub", "dev", None, None, now).unwrap();
        }
        if let Some(bytes) = client.poll_transmit() {
            assert!(bytes.len() <= 256);
            let n = bytes.len();
            client.transmit_complete(n, now);
        }
    }
}

fn check_event(event: &Event<'_>) {
    match *event {
        Event::Message {
            topic,
            kind: Received::C2d { properties },
            ..
        } => {
            assert!(topic.as_str().ends_with(properties.as_str()));
            for (k, v) in properties.iter() {
                assert!(!k.contains('&') && !v.contains('&'));
            }
            assert!(properties
                .iter()
                .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
                .eq(properties.iter_bytes()));
        }
        Event::Message {
            topic,
            kind: Received::DirectMethod { name, request_id },
            ..
        } => {
            let topic = topic.as_str();
            assert!(topic.contains(name.as_str()) && topic.contains(request_id.as_str()));
        }
        Event::ConnectionRefused { return_code } => assert!(return_code != 0),
        _ => {}
    }
}

/// Topics and property bags: [`hub::classify`] (C2D bag, method, twin), [`PropertyBag`] and
/// [`dps::parse_topic`]. Not UTF-8 input is cut at its first invalid byte.
pub fn hub_topics(data: &[u8]) {
    let topic = match core::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&data[..e.valid_up_to()]).unwrap(),
    };
    let parsed = hub::classify(topic);
    match parsed {
        HubTopic::C2d(bag) => {
            assert!(topic.ends_with(bag.as_str()));
            assert_eq!(bag.iter().count(), bag.len());
            for (k, _) in bag.iter() {
                assert!(bag.get(k).is_some());
            }
        }
        HubTopic::Method(m) => assert!(topic.contains(m.name) && topic.contains(m.request_id)),
        HubTopic::Twin(_) | HubTopic::Malformed | HubTopic::Unknown => {}
    }
    // The received topic (bytes, as the client classifies it) has the same parts.
    let received = hub::classify(hub::Text::from(topic));
    assert_eq!(format!("{received:?}"), format!("{parsed:?}"));
    let bag = PropertyBag::from(topic);
    for (k, v) in bag.iter() {
        assert!(!k.contains('&') && !v.contains('&'));
    }
    let _ = bag.get("$rid");
    if let Some(t) = dps::parse_topic(topic) {
        assert!(t.status <= 999);
    }
}

/// JSON documents: DPS responses, the FOTA part of a twin, and the FOTA decisions on it.
pub fn json(data: &[u8]) {
    let _ = dps::parse_response(data);
    let _ = fota::twin::parse(data);
    let mut f = Fota::new("1.0.0", FotaOptions::default());
    let _ = f.process(data);
    // A second document after the first (a desired patch after the twin).
    let mid = data.len() / 2;
    let _ = f.process(&data[mid..]);
    let mut report = [0u8; 512];
    let mut c = azure_iot_hub::sink::Cursor::new(&mut report);
    let _ = f.write_report(&mut c);
}

/// An HTTP server's answers to the range requests of a firmware download, cut at arbitrary
/// points. Body bytes must arrive in order, at increasing offsets, within the announced size.
pub fn fota_http(data: &[u8]) {
    let fragment = 1 + u32::from(data.first().copied().unwrap_or(0)) * 16;
    let Ok(mut d) = Download::new("files.example.net", "/fw/app.bin", fragment) else {
        return;
    };
    let mut req = [0u8; 1024];
    let mut c = azure_iot_hub::sink::Cursor::new(&mut req);
    d.write_request(&mut c).unwrap();
    let mut expected = 0u64;
    for chunk in chunks(data) {
        let mut input = chunk;
        while !input.is_empty() {
            let mut body = |offset: u64, bytes: &[u8], total: u64| {
                assert_eq!(offset, expected, "body bytes out of order");
                expected += bytes.len() as u64;
                assert!(total == 0 || expected <= total);
            };
            match d.handle_input(input, &mut body) {
                Ok((used, progress)) => {
                    assert!(used <= input.len());
                    input = &input[used..];
                    match progress {
                        fota::http::Progress::Done => {
                            assert!(d.is_done());
                            return;
                        }
                        fota::http::Progress::NextRequest => {
                            let mut c = azure_iot_hub::sink::Cursor::new(&mut req);
                            d.write_request(&mut c).unwrap();
                        }
                        fota::http::Progress::Pending => {
                            if used == 0 {
                                return;
                            }
                        }
                    }
                }
                Err(_) => return,
            }
        }
    }
}
