//! DPS core scenarios with literal packets on a virtual clock.

use azure_iot_hub::dps::{DpsClient, DpsEvent, DpsFailure, DpsOptions, DpsState, OperationStatus};
use azure_iot_hub::mqtt::{Framed, Framer};

struct Dps {
    c: DpsClient<Vec<u8>>,
    f: Framer<Vec<u8>>,
}

fn publish(topic: &str, pid: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic.as_bytes());
    if let Some(p) = pid {
        body.extend_from_slice(&p.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let mut p = vec![if pid.is_some() { 0x32 } else { 0x30 }];
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
    p.extend(body);
    p
}

impl Dps {
    fn new(opts: DpsOptions) -> Self {
        Dps {
            c: DpsClient::new(vec![0; 512], opts),
            f: Framer::new(vec![0; 1024]),
        }
    }
    fn tx(&mut self, now: u64) -> Vec<u8> {
        let b = self
            .c
            .poll_transmit()
            .map(|b| b.to_vec())
            .unwrap_or_default();
        self.c.transmit_complete(b.len(), now);
        b
    }
    /// Feeds bytes, returns the events as text.
    fn feed(&mut self, bytes: &[u8], now: u64) -> Vec<String> {
        self.f.push(bytes);
        let mut out = Vec::new();
        while let Some(Framed::Packet { header, body }) = self.f.next().unwrap() {
            if let Some(e) = self.c.handle_packet(header, body, now).unwrap() {
                out.push(format!("{e:?}"));
            }
        }
        out
    }
    fn run_until_assigning(&mut self) {
        self.c
            .connect("0ne00000000", "dev-1", None, None, 0)
            .unwrap();
        self.tx(0);
        assert!(self.feed(&[0x20, 2, 0, 0], 1).is_empty());
        self.tx(1);
        assert_eq!(
            self.feed(&[0x90, 3, 0, 1, 0], 2),
            vec!["Registering".to_string()]
        );
    }
}

fn topic_of(packet: &[u8]) -> String {
    match mqttrs::decode_slice(packet).unwrap().unwrap() {
        mqttrs::Packet::Publish(p) => {
            format!("{} {}", p.topic_name, String::from_utf8_lossy(p.payload))
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn connect_uses_the_dps_user_name_and_client_id() {
    let mut d = Dps::new(DpsOptions::default());
    d.c.connect("0ne00000000", "dev-1", None, None, 0).unwrap();
    match mqttrs::decode_slice(&d.tx(0)).unwrap().unwrap() {
        mqttrs::Packet::Connect(c) => {
            assert_eq!(c.client_id, "dev-1");
            assert_eq!(
                c.username,
                Some("0ne00000000/registrations/dev-1/api-version=2019-03-31")
            );
            assert!(c.clean_session);
        }
        other => panic!("{other:?}"),
    }
}

/// The SUBSCRIBE the client lays out in place is byte for byte the generic encoder's, with the
/// packet ID of each registration.
#[test]
fn subscribe_bytes_are_the_encoders() {
    use azure_iot_hub::mqtt::{encode_subscribe, Cursor, QoS};
    let mut d = Dps::new(DpsOptions::default());
    let mut ids = Vec::new();
    for round in 0..2u64 {
        let t = round * 100;
        d.c.connect("0ne00000000", "dev-1", None, None, t).unwrap();
        d.tx(t);
        d.feed(&[0x20, 2, 0, 0], t + 1);
        let sent = d.tx(t + 1);
        let id = u16::from_be_bytes([sent[2], sent[3]]);
        let mut buf = [0u8; 64];
        let mut c = Cursor::new(&mut buf);
        encode_subscribe(&mut c, id, &[("$dps/registrations/res/#", QoS::AtMostOnce)]).unwrap();
        let n = c.len();
        assert_eq!(sent, &buf[..n]);
        ids.push(id);
        // SUBACK: the register request follows (another packet ID).
        d.feed(&[0x90, 3, sent[2], sent[3], 0], t + 2);
        d.tx(t + 2);
        d.c.handle_closed();
    }
    assert!(ids[0] != 0 && ids[1] != 0 && ids[0] != ids[1], "{ids:?}");
}

#[test]
fn first_boot_assigning_then_assigned() {
    let mut d = Dps::new(DpsOptions::default());
    d.c.connect("0ne00000000", "dev-1", None, None, 0).unwrap();
    d.tx(0);
    d.feed(&[0x20, 2, 0, 0], 1);
    // SUBSCRIBE $dps/registrations/res/# QoS 0
    match mqttrs::decode_slice(&d.tx(1)).unwrap().unwrap() {
        mqttrs::Packet::Subscribe(s) => {
            assert_eq!(s.topics[0].topic_path.as_str(), "$dps/registrations/res/#")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.feed(&[0x90, 3, 0, 1, 0], 2), vec!["Registering"]);
    assert_eq!(
        topic_of(&d.tx(2)),
        r#"$dps/registrations/PUT/iotdps-register/?$rid=1 {"registrationId":"dev-1"}"#
    );
    let ev = d.feed(
        &publish(
            "$dps/registrations/res/202/?$rid=1&retry-after=3",
            None,
            br#"{"operationId":"op-1","status":"assigning"}"#,
        ),
        1000,
    );
    assert_eq!(
        ev,
        vec![r#"Assigning { operation_id: "op-1", retry_after_secs: 3 }"#]
    );
    // The query waits for retry-after: nothing before 4000 ms.
    assert_eq!(d.c.poll_timeout(), Some(4000));
    assert!(d.c.handle_timeout(3999).is_none());
    assert!(d.c.poll_transmit().is_none());
    assert!(d.c.handle_timeout(4000).is_none());
    assert_eq!(
        topic_of(&d.tx(4000)),
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId=op-1 "
    );
    let ev = d.feed(
        &publish(
            "$dps/registrations/res/200/?$rid=1",
            Some(7),
            br#"{"operationId":"op-1","status":"assigned","registrationState":{"assignedHub":"hub.example.net","deviceId":"dev-1","status":"assigned"}}"#,
        ),
        4100,
    );
    assert_eq!(
        ev,
        vec![r#"Assigned { assigned_hub: "hub.example.net", device_id: "dev-1" }"#]
    );
    assert_eq!(d.c.state(), DpsState::Done);
    // The QoS 1 response was acknowledged.
    assert_eq!(d.tx(4100), vec![0x40, 2, 0, 7]);
}

#[test]
fn missing_retry_after_defaults_to_20_seconds() {
    let mut d = Dps::new(DpsOptions::default());
    d.run_until_assigning();
    d.feed(
        &publish(
            "$dps/registrations/res/202/?$rid=1",
            None,
            br#"{"operationId":"o","status":"assigning"}"#,
        ),
        100,
    );
    assert_eq!(d.c.poll_timeout(), Some(20_100));
}

#[test]
fn registration_payload_is_sent_for_custom_allocation() {
    let mut d = Dps::new(DpsOptions::default());
    d.c.connect(
        "0ne00000000",
        "dev-1",
        None,
        Some(r#"{"modelId":"dtmi:x;1"}"#),
        0,
    )
    .unwrap();
    d.tx(0);
    d.feed(&[0x20, 2, 0, 0], 1);
    d.tx(1);
    d.feed(&[0x90, 3, 0, 1, 0], 2);
    assert_eq!(
        topic_of(&d.tx(2)),
        r#"$dps/registrations/PUT/iotdps-register/?$rid=1 {"registrationId":"dev-1","payload":{"modelId":"dtmi:x;1"}}"#
    );
}

#[test]
fn failures_end_at_once() {
    let cases: [(&str, &[u8], &str); 5] = [
        ("$dps/registrations/res/401/?$rid=1", br#"{"errorCode":401002,"trackingId":"t","message":"Unauthorized"}"#, "Status { status: 401, error_code: Some(401002)"),
        ("$dps/registrations/res/200/?$rid=1", br#"{"operationId":"o","status":"disabled","registrationState":{"errorCode":400207,"errorMessage":"disabled"}}"#, "NotAssigned { status: Disabled, error_code: Some(400207)"),
        ("$dps/registrations/res/200/?$rid=1", br#"{"operationId":"o","status":"failed"}"#, "NotAssigned { status: Failed"),
        ("$dps/registrations/res/200/?$rid=1", br#"{"operationId":"o","status":"unassigned"}"#, "NotAssigned { status: Unassigned"),
        ("$dps/registrations/res/200/?$rid=1", br#"{"operationId":"o","status":"assigned","registrationState":{}}"#, "Failed(Malformed)"),
    ];
    for (topic, body, want) in cases {
        let mut d = Dps::new(DpsOptions::default());
        d.run_until_assigning();
        let ev = d.feed(&publish(topic, None, body), 10);
        assert_eq!(ev.len(), 1);
        assert!(ev[0].contains(want), "{ev:?} vs {want}");
        assert_eq!(d.c.state(), DpsState::Done);
        assert_eq!(d.c.poll_timeout(), None);
    }
    let _ = OperationStatus::Assigned;
}

#[test]
fn malformed_payloads_fail_without_panicking() {
    for body in [
        &b"not json"[..],
        b"{}",
        b"{\"status\":\"assigning\"}",
        b"\x00\xff",
        br#"{"operationId":"o","status":"nope"}"#,
    ] {
        let mut d = Dps::new(DpsOptions::default());
        d.run_until_assigning();
        let ev = d.feed(
            &publish("$dps/registrations/res/202/?$rid=1", None, body),
            10,
        );
        assert_eq!(ev, vec!["Failed(Malformed)"], "{body:?}");
    }
}

#[test]
fn throttling_is_retried_and_queries_are_limited() {
    let mut d = Dps::new(DpsOptions {
        max_status_queries: 2,
        ..DpsOptions::default()
    });
    d.run_until_assigning();
    d.tx(2);
    // Throttled before an operation ID: the register request is repeated.
    let ev = d.feed(
        &publish(
            "$dps/registrations/res/429/?$rid=1&retry-after=2",
            None,
            br#"{"errorCode":429001,"message":"throttled"}"#,
        ),
        10,
    );
    assert_eq!(ev, vec!["Throttled { status: 429, retry_after_secs: 2 }"]);
    assert!(d.c.handle_timeout(2010).is_none());
    assert!(topic_of(&d.tx(2010)).starts_with("$dps/registrations/PUT/iotdps-register/?$rid=1"));
    d.feed(
        &publish(
            "$dps/registrations/res/202/?$rid=1&retry-after=1",
            None,
            br#"{"operationId":"o","status":"assigning"}"#,
        ),
        2100,
    );
    let mut queries = 0;
    let end = loop {
        let now = d.c.poll_timeout().unwrap();
        if let Some(e) = d.c.handle_timeout(now) {
            break format!("{e:?}");
        }
        let sent = d.tx(now);
        assert!(topic_of(&sent).contains("operationId=o"));
        queries += 1;
        let ev = d.feed(
            &publish(
                "$dps/registrations/res/500/?$rid=1&retry-after=1",
                None,
                br#"{"errorCode":500000,"message":"busy"}"#,
            ),
            now,
        );
        assert_eq!(ev, vec!["Throttled { status: 500, retry_after_secs: 1 }"]);
    };
    assert_eq!(end, "Failed(TooManyQueries)");
    assert_eq!(queries, 1); // one repeated register + one query = the limit of 2
}

#[test]
fn timeout_restarts_on_every_packet_and_fires_when_silent() {
    let mut d = Dps::new(DpsOptions {
        timeout_secs: 5,
        keep_alive_secs: 0,
        ..DpsOptions::default()
    });
    d.run_until_assigning(); // last packet at 2 ms
    assert_eq!(d.c.poll_timeout(), Some(5002));
    assert_eq!(
        d.c.handle_timeout(5002),
        Some(DpsEvent::Failed(DpsFailure::Timeout))
    );
    assert_eq!(d.c.state(), DpsState::Done);
}

#[test]
fn connection_drop_during_registration_is_a_failure() {
    let mut d = Dps::new(DpsOptions::default());
    d.run_until_assigning();
    assert_eq!(
        d.c.handle_closed(),
        Some(DpsEvent::Failed(DpsFailure::Malformed))
    );
    let mut idle = Dps::new(DpsOptions::default());
    assert_eq!(idle.c.handle_closed(), None);
}

#[test]
fn refusals() {
    let mut d = Dps::new(DpsOptions::default());
    d.c.connect("scope", "dev", None, None, 0).unwrap();
    d.tx(0);
    assert_eq!(
        d.feed(&[0x20, 2, 0, 5], 1),
        vec!["Failed(ConnectionRefused(5))"]
    );
    let mut d = Dps::new(DpsOptions::default());
    d.c.connect("scope", "dev", None, None, 0).unwrap();
    d.tx(0);
    d.feed(&[0x20, 2, 0, 0], 1);
    assert_eq!(
        d.feed(&[0x90, 3, 0, 1, 0x80], 1),
        vec!["Failed(SubscribeRefused)"]
    );
    let mut d = Dps::new(DpsOptions::default());
    for (scope, id) in [
        ("", "a"),
        ("s", ""),
        ("s", "a\"b"),
        ("s", "a&b"),
        ("s", "a#"),
    ] {
        assert!(
            d.c.connect(scope, id, None, None, 0).is_err(),
            "{scope} {id}"
        );
    }
}

/// The request packets byte for byte (QoS 1, packet IDs, lengths; a remaining length of two
/// bytes for a long payload), written as literals.
#[test]
fn request_packets_byte_for_byte() {
    const PUT: &[u8] = b"\x00\x2e$dps/registrations/PUT/iotdps-register/?$rid=1";
    let mut d = Dps::new(DpsOptions::default());
    d.run_until_assigning();
    let mut want = b"\x32\x4c".to_vec();
    want.extend_from_slice(PUT);
    want.extend_from_slice(b"\x00\x02{\"registrationId\":\"dev-1\"}");
    assert_eq!(d.tx(3), want);
    d.feed(
        &publish(
            "$dps/registrations/res/202/?$rid=1&retry-after=1",
            None,
            br#"{"operationId":"op-1","status":"assigning"}"#,
        ),
        10,
    );
    assert!(d.c.handle_timeout(1010).is_none());
    let mut want = b"\x32\x4e\x00\x4a".to_vec();
    want.extend_from_slice(
        b"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId=op-1",
    );
    want.extend_from_slice(b"\x00\x03");
    assert_eq!(d.tx(1010), want);

    let payload = format!(r#"{{"modelId":"{}"}}"#, "m".repeat(80));
    let mut d = Dps::new(DpsOptions::default());
    d.c.connect("0ne00000000", "dev-1", None, Some(&payload), 0)
        .unwrap();
    d.tx(0);
    d.feed(&[0x20, 2, 0, 0], 1);
    d.tx(1);
    d.feed(&[0x90, 3, 0, 1, 0], 2);
    let mut want = b"\x32\xb5\x01".to_vec();
    want.extend_from_slice(PUT);
    want.extend_from_slice(b"\x00\x02{\"registrationId\":\"dev-1\",\"payload\":");
    want.extend_from_slice(payload.as_bytes());
    want.push(b'}');
    assert_eq!(d.tx(2), want);
}

/// `abandon` in the middle of a registration (a request not yet written, a status query due):
/// the next `connect` is accepted and starts afresh, as after `handle_closed` (its CONNECT alone
/// queued, no query due, the timeout from the new start).
#[test]
fn abandon_then_connect_starts_afresh() {
    let mut d = Dps::new(DpsOptions::default());
    d.run_until_assigning();
    let assigning = publish(
        "$dps/registrations/res/202/?$rid=1&retry-after=3",
        Some(1),
        br#"{"operationId":"op-1","status":"assigning"}"#,
    );
    assert_eq!(d.feed(&assigning, 3).len(), 1);
    // The register request and the PUBACK are still queued; a query is due at 3003.
    assert!(d.c.poll_transmit().is_some());
    assert_eq!(
        d.c.connect("0ne00000000", "dev-1", None, None, 10),
        Err(azure_iot_hub::dps::DpsConnectError::Busy)
    );
    d.c.abandon();
    assert_eq!(d.c.state(), DpsState::Idle);
    assert_eq!(d.c.poll_timeout(), None);
    d.c.connect("0ne00000000", "dev-2", None, None, 10).unwrap();
    match mqttrs::decode_slice(&d.tx(10)).unwrap().unwrap() {
        mqttrs::Packet::Connect(c) => assert_eq!(c.client_id, "dev-2"),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.c.poll_transmit(), None);
    assert_eq!(d.c.state(), DpsState::Connecting);
    let mut fresh = Dps::new(DpsOptions::default());
    fresh
        .c
        .connect("0ne00000000", "dev-2", None, None, 10)
        .unwrap();
    fresh.tx(10);
    assert_eq!(d.c.poll_timeout(), fresh.c.poll_timeout());
}

/// Partial writes: what is left stays queued and a packet queued meanwhile follows it; once all
/// of it is written the queue is empty and the next packet is queued alone, from the buffer's
/// start (`transmit_complete` empties the queue, so appending needs no test).
#[test]
fn partial_writes_then_an_emptied_queue() {
    let mut d = Dps::new(DpsOptions {
        keep_alive_secs: 1,
        ..DpsOptions::default()
    });
    d.c.connect("0ne00000000", "dev-1", None, None, 0).unwrap();
    let connect = d.c.poll_transmit().unwrap().to_vec();
    d.c.transmit_complete(3, 0);
    assert_eq!(d.c.poll_transmit().unwrap(), &connect[3..]);
    // A PINGREQ (keep-alive 1 s after the last write) queued behind the rest of CONNECT.
    assert_eq!(d.c.handle_timeout(1000), None);
    let mut rest = connect[3..].to_vec();
    rest.extend_from_slice(&[0xC0, 0x00]);
    assert_eq!(d.c.poll_transmit().unwrap(), &rest[..]);
    d.c.transmit_complete(rest.len() - 1, 1000);
    assert_eq!(d.c.poll_transmit().unwrap(), &[0x00]);
    // More than is left: all written.
    d.c.transmit_complete(5, 1000);
    assert_eq!(d.c.poll_transmit(), None);
    assert_eq!(d.c.handle_timeout(2000), None);
    assert_eq!(d.c.poll_transmit().unwrap(), &[0xC0, 0x00]);
    d.c.transmit_complete(2, 2000);
    assert_eq!(d.c.poll_transmit(), None);
    // Nothing written: nothing changes.
    d.c.transmit_complete(0, 2000);
    assert_eq!(d.c.poll_transmit(), None);
}
