//! Telemetry, C2D, twins, direct methods and the topic, QoS, size and keepalive rules.

mod common;

use common::*;
use hub_emulator::mqtt::{Connect, Packet, Publish, Will};
use hub_emulator::{C2dMessage, Error};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

#[test]
fn telemetry_with_properties_reaches_the_monitor() {
    let env = start();
    let mut events = env.svc.events().unwrap();
    let mut c = env.ready_device("tele");
    // nRF style: properties appended verbatim, system properties %24-encoded.
    c.publish(
        "devices/tele/messages/events/batch=&%24.ct=application%2Fjson&%24.ce=utf-8&temp%20unit=C",
        br#"{"temperature":21.5}"#,
        1,
    );
    // Unencoded system property names, QoS 0.
    c.publish(
        "devices/tele/messages/events/$.mid=m-1&$.cid=c-9&k=v",
        &[0xff, 0x00, 0x01],
        0,
    );
    let e = events.next_timeout(T).unwrap().expect("first event");
    assert_eq!(e.device_id, "tele");
    assert_eq!(e.payload, r#"{"temperature":21.5}"#);
    assert_eq!(e.payload_encoding, "utf-8");
    assert_eq!(e.properties["batch"], "");
    assert_eq!(e.properties["temp unit"], "C");
    assert_eq!(e.system_properties["content-type"], "application/json");
    assert_eq!(e.system_properties["content-encoding"], "utf-8");
    assert_eq!(e.system_properties["iothub-connection-device-id"], "tele");
    assert!(e.enqueued_time.ends_with('Z'));
    let e = events.next_timeout(T).unwrap().expect("second event");
    assert_eq!(e.payload_encoding, "base64");
    assert_eq!(e.payload_bytes(), vec![0xff, 0x00, 0x01]);
    assert_eq!(e.system_properties["message-id"], "m-1");
    assert_eq!(e.system_properties["correlation-id"], "c-9");
    assert_eq!(e.properties["k"], "v");
    assert!(!e.properties.contains_key("$.mid"));
    // wait_for_event sees events sent before the call.
    let found = env
        .svc
        .wait_for_event(
            |e| e.properties.get("k").map(String::as_str) == Some("v"),
            T,
        )
        .unwrap();
    assert_eq!(found.device_id, "tele");
    // Retained telemetry is forwarded with mqtt-retain.
    c.send(&Packet::Publish(Publish {
        dup: false,
        qos: 0,
        retain: true,
        topic: "devices/tele/messages/events/".into(),
        pid: None,
        payload: b"r".to_vec(),
    }))
    .unwrap();
    let e = events.next_timeout(T).unwrap().expect("retained");
    assert_eq!(e.properties["mqtt-retain"], "true");
}

#[test]
fn c2d_with_properties_arrives_with_the_hub_topic() {
    let env = start();
    let mut c = env.ready_device("c2d");
    let sent = env
        .svc
        .send_c2d(
            "c2d",
            &C2dMessage {
                payload: "hello device".into(),
                properties: [("k".to_string(), "v w".to_string())].into(),
                message_id: Some("mid-1".into()),
                correlation_id: Some("cid/1".into()),
                content_type: Some("text/plain".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(sent.state, "delivered");
    let p = c.expect_publish("devices/c2d/messages/devicebound/", T);
    assert_eq!(
        p.topic,
        "devices/c2d/messages/devicebound/%24.mid=mid-1&%24.to=%2Fdevices%2Fc2d%2Fmessages%2FdeviceBound&%24.cid=cid%2F1&%24.ct=text%2Fplain&k=v%20w"
    );
    assert_eq!(p.payload, b"hello device");
    assert_eq!(p.qos, 0, "subscribed with QoS 0");
}

#[test]
fn c2d_waits_for_the_subscription_and_qos1_is_redelivered_until_acked() {
    let env = start();
    env.svc.create_x509_ca_device("later").unwrap();
    let sent = env
        .svc
        .send_c2d_text("later", "queued", &[("a", "1")])
        .unwrap();
    assert_eq!(sent.state, "queued");
    let id = env.ca.issue("later");
    let mut c = Connect::new("later");
    c.username = Some(hub_username("later"));
    c.clean_session = false;
    let (mut dev, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), c.clone());
    assert_eq!(code, Some(0));
    // QoS 1 subscription: the message comes with a packet id; do not acknowledge it.
    assert_eq!(
        dev.subscribe(&[("devices/later/messages/devicebound/#", 1)]),
        vec![1]
    );
    let p = dev.expect_publish("devices/later/messages/devicebound/", T);
    assert_eq!(p.qos, 1);
    assert_eq!(p.payload, b"queued");
    drop(dev);
    env.svc.wait_connected("later", false, T).unwrap();
    // Unacknowledged: delivered again on the next session, then acknowledged.
    let (mut dev, code) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), c);
    assert_eq!(code, Some(0));
    dev.subscribe(&[("devices/later/messages/devicebound/#", 1)]);
    let p = dev.expect_publish("devices/later/messages/devicebound/", T);
    assert_eq!(p.payload, b"queued");
    dev.send(&Packet::Puback(p.pid.unwrap())).unwrap();

    // A clean session drops what is queued.
    env.svc.send_c2d_text("later", "dropped", &[]).unwrap();
    drop(dev);
    env.svc.wait_connected("later", false, T).unwrap();
    let (mut dev, _) = env.connect_device("later", Some(&id), None, 60);
    dev.subscribe(&[("devices/later/messages/devicebound/#", 1)]);
    assert!(dev.recv(Duration::from_millis(300)).is_none());
}

#[test]
fn twin_get_reported_patch_and_desired_push() {
    let env = start();
    let mut c = env.ready_device("twin");
    // GET: both sections with $version.
    c.publish("$iothub/twin/GET/?$rid=1", b"", 0);
    let p = c.expect_publish("$iothub/twin/res/", T);
    assert_eq!(p.topic, "$iothub/twin/res/200/?$rid=1");
    let doc: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(
        doc,
        json!({"desired": {"$version": 1}, "reported": {"$version": 1}})
    );

    // Reported PATCH → 204 with the new version.
    c.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=2",
        br#"{"fw":"1.0","nested":{"a":1,"b":2}}"#,
        0,
    );
    let p = c.expect_publish("$iothub/twin/res/", T);
    assert_eq!(p.topic, "$iothub/twin/res/204/?$rid=2&$version=2");
    assert!(p.payload.is_empty());
    // Merge patch: null deletes.
    c.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=3",
        br#"{"nested":{"a":null}}"#,
        1,
    );
    let p = c.expect_publish("$iothub/twin/res/", T);
    assert_eq!(p.topic, "$iothub/twin/res/204/?$rid=3&$version=3");
    let twin = env.svc.get_twin("twin").unwrap();
    assert_eq!(
        twin.properties.reported,
        json!({"fw":"1.0","nested":{"b":2},"$version":3})
    );
    // Malformed JSON → 400, version unchanged.
    c.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=4",
        b"{not json",
        0,
    );
    let p = c.expect_publish("$iothub/twin/res/", T);
    assert_eq!(p.topic, "$iothub/twin/res/400/?$rid=4");
    assert_eq!(env.svc.get_twin("twin").unwrap().reported_version(), 3);

    // Desired update from the service is pushed with $version.
    let t = env
        .svc
        .update_desired("twin", json!({"led": true, "cfg": {"x": 1}}))
        .unwrap();
    assert_eq!(t.desired_version(), 2);
    let p = c.expect_publish("$iothub/twin/PATCH/properties/desired/", T);
    assert_eq!(p.topic, "$iothub/twin/PATCH/properties/desired/?$version=2");
    let patch: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(patch, json!({"led": true, "cfg": {"x": 1}, "$version": 2}));
    env.svc
        .update_desired("twin", json!({"cfg": null}))
        .unwrap();
    let p = c.expect_publish("$iothub/twin/PATCH/properties/desired/", T);
    assert_eq!(p.topic, "$iothub/twin/PATCH/properties/desired/?$version=3");
    c.publish("$iothub/twin/GET/?$rid=abc", b"", 0);
    let p = c.expect_publish("$iothub/twin/res/", T);
    assert_eq!(p.topic, "$iothub/twin/res/200/?$rid=abc");
    let doc: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(doc["desired"], json!({"led": true, "$version": 3}));
    assert_eq!(doc["reported"]["$version"], 3);
}

#[test]
fn twin_limits_and_rules() {
    let env = start();
    let mut c = env.ready_device("lim");
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(4000));
    let mut n = 0;
    // Nine 4 KB values fit in 32 KB; more do not.
    let mut last = String::new();
    for i in 0..9 {
        let body = big.replace("\"a\"", &format!("\"k{i}\""));
        n += 1;
        c.publish(
            &format!("$iothub/twin/PATCH/properties/reported/?$rid={n}"),
            body.as_bytes(),
            0,
        );
        last = c.expect_publish("$iothub/twin/res/", T).topic;
    }
    assert!(last.starts_with("$iothub/twin/res/413/"), "{last}");
    c.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=x",
        br#"{"a.b":1}"#,
        0,
    );
    assert!(c
        .expect_publish("$iothub/twin/res/", T)
        .topic
        .starts_with("$iothub/twin/res/400/"));
    c.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=y",
        b"[1,2]",
        0,
    );
    assert!(c
        .expect_publish("$iothub/twin/res/", T)
        .topic
        .starts_with("$iothub/twin/res/400/"));
}

#[test]
fn twin_requests_need_the_response_subscription() {
    let env = start();
    env.svc.create_x509_ca_device("nosub").unwrap();
    let (mut c, code) = env.connect_device("nosub", Some(&env.ca.issue("nosub")), None, 60);
    assert_eq!(code, Some(0));
    c.publish("$iothub/twin/GET/?$rid=1", b"", 0);
    assert!(c.recv(Duration::from_millis(300)).is_none());
    c.publish("$iothub/twin/PATCH/properties/reported/?$rid=2", b"{}", 0);
    assert!(c.recv(Duration::from_millis(300)).is_none());
    c.subscribe(&[("$iothub/twin/res/#", 0)]);
    c.publish("$iothub/twin/GET/?$rid=3", b"", 0);
    assert_eq!(
        c.expect_publish("$iothub/twin/res/", T).topic,
        "$iothub/twin/res/200/?$rid=3"
    );
    // No desired subscription: the patch is stored but not pushed.
    env.svc.update_desired("nosub", json!({"a": 1})).unwrap();
    assert!(c.recv(Duration::from_millis(300)).is_none());
}

#[test]
fn direct_method_round_trip_timeout_and_offline() {
    let env = start();
    let c = env.ready_device("meth");
    let svc = env.svc.clone();
    let call = std::thread::spawn(move || {
        svc.invoke_method("meth", "led", json!({"on": true}), Duration::from_secs(5))
    });
    let mut c = c;
    let p = c.expect_publish("$iothub/methods/POST/", T);
    assert!(
        p.topic.starts_with("$iothub/methods/POST/led/?$rid="),
        "{}",
        p.topic
    );
    assert_eq!(p.qos, 0);
    assert_eq!(
        serde_json::from_slice::<Value>(&p.payload).unwrap(),
        json!({"on": true})
    );
    let rid = topic_param(&p.topic, "$rid").unwrap().to_string();
    c.publish(
        &format!("$iothub/methods/res/200/?$rid={rid}"),
        br#"{"led":"on"}"#,
        0,
    );
    let r = call.join().unwrap().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.payload, json!({"led": "on"}));

    // Any device status, a non-JSON payload.
    let svc = env.svc.clone();
    let call = std::thread::spawn(move || {
        svc.invoke_method("meth", "reboot", Value::Null, Duration::from_secs(5))
    });
    let p = c.expect_publish("$iothub/methods/POST/reboot/", T);
    let rid = topic_param(&p.topic, "$rid").unwrap().to_string();
    c.publish(
        &format!("$iothub/methods/res/65535/?$rid={rid}"),
        b"not json",
        0,
    );
    let r = call.join().unwrap().unwrap();
    assert_eq!(r.status, 65535);
    assert_eq!(r.payload, json!("not json"));

    // No answer → 504 after the timeout.
    let t0 = Instant::now();
    let err = env
        .svc
        .invoke_method("meth", "slow", Value::Null, Duration::from_millis(400))
        .unwrap_err();
    assert_eq!(err.status(), Some(504), "{err}");
    assert!(t0.elapsed() >= Duration::from_millis(380));
    // A late answer is ignored, the connection stays up.
    let p = c.expect_publish("$iothub/methods/POST/slow/", T);
    let rid = topic_param(&p.topic, "$rid").unwrap().to_string();
    c.publish(&format!("$iothub/methods/res/200/?$rid={rid}"), b"{}", 0);
    c.send(&Packet::Pingreq).unwrap();
    assert_eq!(c.expect(T, |p| *p == Packet::Pingresp), Packet::Pingresp);

    // Offline device → 404; unknown device → 404.
    drop(c);
    env.svc.wait_connected("meth", false, T).unwrap();
    let err = env
        .svc
        .invoke_method("meth", "led", Value::Null, Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(matches!(
        env.svc
            .invoke_method("nobody", "led", Value::Null, Duration::from_secs(1)),
        Err(Error::Http { status: 404, .. })
    ));
}

#[test]
fn qos2_publish_closes_and_qos2_subscribe_is_granted_qos1() {
    let env = start();
    let mut c = env.ready_device("q2");
    assert_eq!(c.subscribe(&[("$iothub/methods/POST/#", 2)]), vec![1]);
    c.send(&Packet::Publish(Publish {
        dup: false,
        qos: 2,
        retain: false,
        topic: "devices/q2/messages/events/".into(),
        pid: Some(9),
        payload: b"x".to_vec(),
    }))
    .unwrap();
    assert!(c.closed_within(T));
}

#[test]
fn foreign_topics_close_the_connection() {
    let env = start();
    for (i, action) in [
        "pub-other-device",
        "pub-random",
        "sub-other-device",
        "sub-wildcard",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("f{i}");
        let mut c = env.ready_device(&id);
        match *action {
            "pub-other-device" => c.publish("devices/someone/messages/events/", b"x", 0),
            "pub-random" => c.publish("hello/world", b"x", 0),
            "sub-other-device" => {
                let _ = c.send(&Packet::Subscribe {
                    pid: 77,
                    filters: vec![("devices/someone/messages/devicebound/#".into(), 0)],
                });
            }
            _ => {
                let _ = c.send(&Packet::Subscribe {
                    pid: 78,
                    filters: vec![("#".into(), 0)],
                });
            }
        }
        assert!(c.closed_within(T), "{action} should close the connection");
    }
}

#[test]
fn keepalive_is_enforced_at_one_and_a_half_times() {
    let env = start();
    env.svc.create_x509_ca_device("ka").unwrap();
    let (mut c, code) = env.connect_device("ka", Some(&env.ca.issue("ka")), None, 1);
    assert_eq!(code, Some(0));
    // Pings keep it alive past 1.5 s.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(600));
        c.send(&Packet::Pingreq).unwrap();
        assert_eq!(c.recv(T), Some(Packet::Pingresp));
    }
    let t0 = Instant::now();
    assert!(c.closed_within(Duration::from_secs(6)));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1300) && waited < Duration::from_millis(4000),
        "{waited:?}"
    );
}

#[test]
fn oversized_and_malformed_packets_close_the_connection() {
    let env = start();
    let mut c = env.ready_device("big");
    // A fixed header announcing 100 MB: closed without sending that much.
    c.send_raw(&[0x30, 0x80, 0x80, 0x80, 0x30]).unwrap();
    assert!(c.closed_within(T));
    // A D2C message over 256 KB.
    let mut c = env.ready_device("big2");
    let body = vec![b'a'; 256 * 1024 + 10];
    let _ = c.send(&Packet::Publish(Publish {
        dup: false,
        qos: 0,
        retain: false,
        topic: "devices/big2/messages/events/".into(),
        pid: None,
        payload: body,
    }));
    assert!(c.closed_within(T));
    // PUBACK without a packet ID.
    let mut c = env.ready_device("big3");
    c.send_raw(&[0x40, 0x00]).unwrap();
    assert!(c.closed_within(T));
    // Just under the limit is fine.
    let mut c = env.ready_device("big4");
    c.publish("devices/big4/messages/events/", &vec![b'b'; 255 * 1024], 1);
}

#[test]
fn will_is_sent_as_telemetry_on_abnormal_disconnect_only() {
    let env = start();
    env.svc.create_x509_ca_device("w").unwrap();
    let id = env.ca.issue("w");
    let mut conn = Connect::new("w");
    conn.username = Some(hub_username("w"));
    conn.will = Some(Will {
        topic: "devices/w/messages/events/reason=lost".into(),
        payload: b"gone".to_vec(),
        qos: 0,
        retain: false,
    });
    let (mut c, code) =
        Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), conn.clone());
    assert_eq!(code, Some(0));
    c.send(&Packet::Disconnect).unwrap();
    assert!(c.closed_within(T));
    let (c, _) = Client::connect(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id), conn);
    drop(c);
    let e = env.svc.wait_for_event(|e| e.device_id == "w", T).unwrap();
    assert_eq!(e.payload, "gone");
    assert_eq!(e.properties["iothub-MessageType"], "Will");
    assert_eq!(e.properties["reason"], "lost");
    std::thread::sleep(Duration::from_millis(200));
    let page = env
        .svc
        .events_page(Some(0), Some("w"), Duration::ZERO)
        .unwrap();
    assert_eq!(page.events.len(), 1, "no will after a DISCONNECT");
}

#[test]
fn unsubscribe_and_ping() {
    let env = start();
    let mut c = env.ready_device("u");
    c.send(&Packet::Unsubscribe {
        pid: 5,
        filters: vec!["$iothub/twin/res/#".into()],
    })
    .unwrap();
    assert_eq!(
        c.expect(T, |p| matches!(p, Packet::Unsuback(5))),
        Packet::Unsuback(5)
    );
    c.publish("$iothub/twin/GET/?$rid=1", b"", 0);
    c.send(&Packet::Pingreq).unwrap();
    assert_eq!(
        c.recv(T),
        Some(Packet::Pingresp),
        "no twin answer after unsubscribing"
    );
}
