//! The Linux port end to end over TLS on loopback, against the local hub emulator (in process):
//! every event type of the original API, driven from the service side as an application would.

mod linux_common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_iot_hub::hub::{Property, ProtocolError, State};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::port::{CloseReason, ConnectConfig, ConnectError, HubClient};
use hub_emulator::{Config, Emulator, Fault, FaultKind, ServiceClient};
use linux_common::{write_primary, Device, Ev, WAIT};
use serde_json::{json, Value};

/// A local hub with a verified root CA, and certificate folders for its devices.
struct Hub {
    emu: Emulator,
    svc: ServiceClient,
    ca: cert_tool::CaBundle,
    dir: tempfile::TempDir,
}

impl Hub {
    fn start() -> Hub {
        let emu = Emulator::start(Config::temp()).expect("start the hub emulator");
        let svc = emu.service();
        let ca = cert_tool::root_ca().unwrap();
        svc.register_verified_ca("root", ca.cert_pem())
            .expect("register the CA");
        Hub {
            emu,
            svc,
            ca,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A certificates folder for `id` signed by `ca`, trusting the emulator.
    fn folder(&self, id: &str, ca: &cert_tool::CaBundle) -> PathBuf {
        let dir = self.dir.path().join(id);
        let (cert, key) = cert_tool::device_identity(ca, id);
        write_primary(&dir, &self.emu.ca_pem(), &cert, &key);
        dir
    }

    fn config_for(&self, id: &str, folder: PathBuf) -> ConnectConfig {
        ConnectConfig::builder()
            .hostname("localhost")
            .device_id(id)
            .port(self.emu.mqtt_addr().port())
            .certificates(folder)
            .send_timeout(Some(Duration::from_secs(5)))
            .build()
    }

    /// Registers `id` and returns its configuration.
    fn device(&self, id: &str) -> ConnectConfig {
        self.svc.create_x509_ca_device(id).expect("create device");
        self.config_for(id, self.folder(id, &self.ca))
    }
}

fn twin_json(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).expect("twin JSON")
}

/// CONNECTED, READY, the automatic twin GET (TWIN_RECEIVED), QoS 1 and QoS 0 telemetry with
/// properties seen by the service, requested DISCONNECTED delivered before `disconnect()`
/// returns, and a reconnect right after. Connects through a static IP while the certificate is
/// checked against the host name.
#[test]
fn connect_ready_twin_telemetry_disconnect() {
    let hub = Hub::start();
    let config = hub
        .device("dev1")
        .to_builder()
        .static_ip("127.0.0.1")
        .build();
    let mut dev = Device::new();

    let t0 = Instant::now();
    dev.connect_ready(&config);
    let ready = t0.elapsed();
    let doc = dev.wait_for("TWIN_RECEIVED", |e| matches!(e, Ev::TwinDocument { .. }));
    let twin = t0.elapsed();
    eprintln!("loopback TLS: connect() to READY {ready:?}, to TWIN_RECEIVED {twin:?}");
    assert_eq!(
        dev.seen[..2],
        [
            Ev::Connected {
                session_present: false
            },
            Ev::Ready(0)
        ]
    );
    let Ev::TwinDocument { payload, .. } = doc else {
        unreachable!()
    };
    let doc = twin_json(&payload);
    assert!(
        doc["desired"]["$version"].is_u64() && doc["reported"]["$version"].is_u64(),
        "{doc}"
    );
    assert!(hub.svc.is_connected("dev1").unwrap());

    let props = [
        Property::new("a", "1"),
        Property::new("%24.ct", "application%2Fjson"),
        Property::new("%24.ce", "utf-8"),
    ];
    let id = dev
        .client
        .send_telemetry(br#"{"temperature":21.5}"#, &props, QoS::AtLeastOnce)
        .unwrap();
    assert_eq!(
        dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_))),
        Ev::Puback(id)
    );
    let ev = hub
        .svc
        .wait_for_event(
            |e| e.device_id == "dev1" && e.payload.contains("21.5"),
            WAIT,
        )
        .unwrap();
    assert_eq!(ev.properties.get("a").map(String::as_str), Some("1"));
    assert_eq!(
        ev.system_properties.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(
        ev.system_properties
            .get("content-encoding")
            .map(String::as_str),
        Some("utf-8")
    );

    dev.client
        .send_telemetry(b"qos0", &[], QoS::AtMostOnce)
        .unwrap();
    hub.svc
        .wait_for_event(|e| e.device_id == "dev1" && e.payload == "qos0", WAIT)
        .unwrap();

    dev.client.disconnect().unwrap();
    assert_eq!(
        dev.drain().last(),
        Some(&Ev::Disconnected(CloseReason::Requested))
    );
    assert_eq!(dev.client.state(), State::Disconnected);
    hub.svc.wait_connected("dev1", false, WAIT).unwrap();

    dev.connect_ready(&config);
    dev.client.disconnect().unwrap();
    dev.drain();
    assert_eq!(
        dev.seen
            .iter()
            .filter(|e| matches!(e, Ev::Disconnected(_)))
            .count(),
        2,
        "{:#?}",
        dev.seen
    );
}

/// PINGRESP with a short keep-alive.
#[test]
fn pingresp_with_short_keepalive() {
    let hub = Hub::start();
    let config = hub.device("ka").to_builder().keep_alive(1).build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    let t = Instant::now();
    dev.wait_for("PINGRESP", |e| *e == Ev::Pingresp);
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
    dev.wait_for("second PINGRESP", |e| *e == Ev::Pingresp);
    dev.client.disconnect().unwrap();
}

/// DATA_RECEIVED with properties; ERROR_MSG_SIZE for a C2D message larger than the receive
/// buffer, after which the next message still arrives (the stream stayed in sync).
#[test]
fn c2d_with_properties_and_oversize_message() {
    let hub = Hub::start();
    let config = hub
        .device("c2d")
        .to_builder()
        .auto_twin_request(false)
        .rx_buffer_size(2048)
        .build();
    let mut dev = Device::new();
    dev.connect_ready(&config);

    hub.svc
        .send_c2d_text("c2d", "hello", &[("k", "v"), ("color", "dark blue")])
        .unwrap();
    let Ev::C2d {
        topic,
        properties,
        payload,
    } = dev.wait_for("DATA_RECEIVED", |e| matches!(e, Ev::C2d { .. }))
    else {
        unreachable!()
    };
    assert!(
        topic.starts_with("devices/c2d/messages/devicebound/"),
        "{topic}"
    );
    assert_eq!(payload, b"hello");
    let get = |k: &str| {
        properties
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("k"), Some("v"));
    // Handed over as received: URL-encoded.
    assert!(
        matches!(get("color"), Some("dark%20blue") | Some("dark+blue")),
        "{properties:?}"
    );
    assert!(get("%24.to").is_some(), "{properties:?}");

    let big = "x".repeat(10_000);
    hub.svc.send_c2d_text("c2d", &big, &[]).unwrap();
    hub.svc
        .send_c2d_text("c2d", "after", &[("n", "2")])
        .unwrap();
    let Ev::TooLarge { topic, size } =
        dev.wait_for("ERROR_MSG_SIZE", |e| matches!(e, Ev::TooLarge { .. }))
    else {
        unreachable!()
    };
    assert!(size > 10_000, "{size}");
    assert!(topic
        .unwrap()
        .starts_with("devices/c2d/messages/devicebound/"));
    let next = dev.wait_for("DATA_RECEIVED after the oversize one", |e| {
        matches!(e, Ev::C2d { .. })
    });
    let Ev::C2d { payload, .. } = next else {
        unreachable!()
    };
    assert_eq!(payload, b"after");
    dev.client.disconnect().unwrap();
}

/// DIRECT_METHOD, answered from inside the handler; the service caller sees status and payload.
#[test]
fn direct_method_answered_from_the_handler() {
    let hub = Hub::start();
    let config = hub
        .device("m1")
        .to_builder()
        .auto_twin_request(false)
        .build();
    let mut dev = Device::new();
    dev.react(|client, ev| {
        if let Ev::Method {
            name,
            request_id,
            payload,
        } = ev
        {
            let body = format!(
                r#"{{"method":"{name}","echo":{}}}"#,
                String::from_utf8_lossy(payload)
            );
            client
                .respond_to_method(request_id, 201, body.as_bytes())
                .unwrap();
        }
    });
    dev.connect_ready(&config);
    let res = hub
        .svc
        .invoke_method("m1", "reboot", json!({"delay": 1}), Duration::from_secs(5))
        .unwrap();
    assert_eq!(res.status, 201);
    assert_eq!(
        res.payload,
        json!({"method": "reboot", "echo": {"delay": 1}})
    );
    let Ev::Method { name, payload, .. } =
        dev.wait_for("DIRECT_METHOD", |e| matches!(e, Ev::Method { .. }))
    else {
        unreachable!()
    };
    assert_eq!(
        (name.as_str(), twin_json(&payload)),
        ("reboot", json!({"delay": 1}))
    );
    dev.client.disconnect().unwrap();
}

/// TWIN_DESIRED_RECEIVED, TWIN_RESULT_SUCCESS (204 with the new version), TWIN_RESULT_FAIL
/// (400 for malformed JSON), and a requested twin that shows the reported change.
#[test]
fn twin_desired_reported_and_failure() {
    let hub = Hub::start();
    let config = hub
        .device("t1")
        .to_builder()
        .auto_twin_request(false)
        .build();
    let mut dev = Device::new();
    dev.connect_ready(&config);

    hub.svc.update_desired("t1", json!({"led": true})).unwrap();
    let Ev::TwinDesired { version, payload } = dev.wait_for("TWIN_DESIRED_RECEIVED", |e| {
        matches!(e, Ev::TwinDesired { .. })
    }) else {
        unreachable!()
    };
    let patch = twin_json(&payload);
    assert_eq!(patch["led"], json!(true));
    assert_eq!(patch["$version"].to_string(), version);

    let rid = dev
        .client
        .report_properties(br#"{"firmware":"1.2.3"}"#)
        .unwrap();
    let Ev::TwinResult {
        request_id,
        status,
        version,
        ..
    } = dev.wait_for("TWIN_RESULT_SUCCESS", |e| {
        matches!(e, Ev::TwinResult { .. })
    })
    else {
        unreachable!()
    };
    assert_eq!((request_id, status), (rid, 204));
    assert!(version.is_some());
    let twin = hub.svc.get_twin("t1").unwrap();
    assert_eq!(twin.properties.reported["firmware"], json!("1.2.3"));

    let rid = dev.client.report_properties(b"{not json").unwrap();
    let Ev::TwinResult {
        request_id, status, ..
    } = dev.wait_for("TWIN_RESULT_FAIL", |e| matches!(e, Ev::TwinResult { .. }))
    else {
        unreachable!()
    };
    assert_eq!((request_id, status), (rid, 400));

    let rid = dev.client.request_twin().unwrap();
    let Ev::TwinDocument {
        request_id,
        payload,
    } = dev.wait_for("TWIN_RECEIVED", |e| matches!(e, Ev::TwinDocument { .. }))
    else {
        unreachable!()
    };
    assert_eq!(request_id, rid);
    let doc = twin_json(&payload);
    assert_eq!(doc["reported"]["firmware"], json!("1.2.3"));
    assert_eq!(doc["desired"]["led"], json!(true));
    dev.client.disconnect().unwrap();
}

/// CONNECTION_REFUSED then DISCONNECTED(Refused): an unknown device, a device whose CA is
/// registered but not verified, and the emulator's `refuse` fault.
#[test]
fn connection_refused() {
    let hub = Hub::start();
    let expect_refused = |config: &ConnectConfig, code: u8| {
        let mut dev = Device::new();
        dev.client.connect(config).unwrap();
        assert_eq!(
            dev.wait_for("CONNECTION_REFUSED", |e| matches!(e, Ev::Refused(_))),
            Ev::Refused(code)
        );
        assert_eq!(dev.wait_disconnected(), CloseReason::Refused);
        assert_eq!(dev.seen.len(), 2, "{:#?}", dev.seen);
        assert_eq!(dev.client.state(), State::Disconnected);
    };

    let unknown = hub.config_for("ghost", hub.folder("ghost", &hub.ca));
    expect_refused(&unknown, 5);

    let unverified = cert_tool::root_ca().unwrap();
    hub.svc
        .register_ca("unverified", unverified.cert_pem(), false)
        .unwrap();
    hub.svc.create_x509_ca_device("dev-u").unwrap();
    expect_refused(
        &hub.config_for("dev-u", hub.folder("dev-u", &unverified)),
        5,
    );

    let config = hub.device("dev-r");
    let mut fault = Fault::new(FaultKind::Refuse).for_device("dev-r");
    fault.connack_code = Some(3);
    let added = hub.svc.add_fault(&fault).unwrap();
    expect_refused(&config, 3);
    hub.svc.clear_fault(added.id).unwrap();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    dev.client.disconnect().unwrap();
}

/// The hub drops the connection: DISCONNECTED(Transport) exactly once, state Disconnected, and
/// the handler itself reconnects from the DISCONNECTED callback (events of the new connection
/// come after it).
#[test]
fn hub_drops_the_connection_and_the_handler_reconnects() {
    let hub = Hub::start();
    let config = hub
        .device("d1")
        .to_builder()
        .auto_twin_request(false)
        .build();
    let mut dev = Device::new();
    dev.connect_ready(&config);

    let reconnect = Arc::new(Mutex::new(Some(config.clone())));
    let r = reconnect.clone();
    dev.react(move |client, ev| {
        if let Ev::Disconnected(CloseReason::Transport) = ev {
            if let Some(config) = r.lock().unwrap().take() {
                assert_eq!(client.state(), State::Disconnected);
                client.connect(&config).expect("reconnect from the handler");
            }
        }
    });
    assert_eq!(hub.svc.drop_connections(Some("d1")).unwrap(), 1);
    assert_eq!(dev.wait_disconnected(), CloseReason::Transport);
    dev.wait_for("CONNECTED again", |e| matches!(e, Ev::Connected { .. }));
    dev.wait_for("READY again", |e| matches!(e, Ev::Ready(_)));
    assert!(reconnect.lock().unwrap().is_none());
    let id = dev
        .client
        .send_telemetry(b"back", &[], QoS::AtLeastOnce)
        .unwrap();
    assert_eq!(
        dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_))),
        Ev::Puback(id)
    );
    dev.client.disconnect().unwrap();
    dev.drain();
    let kinds: Vec<&Ev> = dev
        .seen
        .iter()
        .filter(|e| !matches!(e, Ev::Puback(_)))
        .collect();
    assert_eq!(
        kinds,
        [
            &Ev::Connected {
                session_present: false
            },
            &Ev::Ready(0),
            &Ev::Disconnected(CloseReason::Transport),
            &Ev::Connected {
                session_present: false
            },
            &Ev::Ready(0),
            &Ev::Disconnected(CloseReason::Requested),
        ]
    );
}

/// `disconnect()` from inside the handler returns at once; DISCONNECTED follows the callback.
#[test]
fn disconnect_from_the_handler() {
    let hub = Hub::start();
    let config = hub
        .device("d2")
        .to_builder()
        .auto_twin_request(false)
        .build();
    let mut dev = Device::new();
    dev.react(|client, ev| {
        if let Ev::Ready(_) = ev {
            client.disconnect().expect("disconnect from the handler");
            assert_eq!(client.state(), State::Disconnecting);
        }
    });
    dev.client.connect(&config).unwrap();
    assert_eq!(dev.wait_disconnected(), CloseReason::Requested);
    assert_eq!(
        dev.seen,
        [
            Ev::Connected {
                session_present: false
            },
            Ev::Ready(0),
            Ev::Disconnected(CloseReason::Requested)
        ]
    );
    hub.svc.wait_connected("d2", false, WAIT).unwrap();
}

/// A hub that stops answering: the keep-alive timeout is a protocol error, then
/// DISCONNECTED(Protocol).
#[test]
fn keepalive_timeout() {
    let hub = Hub::start();
    let config = hub
        .device("slow")
        .to_builder()
        .keep_alive(2)
        .auto_twin_request(false)
        .build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    hub.svc
        .add_fault(&Fault::delay(8_000).for_device("slow"))
        .unwrap();
    let t = Instant::now();
    assert_eq!(
        dev.wait_for("protocol error", |e| matches!(e, Ev::ProtocolError(_))),
        Ev::ProtocolError(format!("{:?}", ProtocolError::KeepAliveTimeout))
    );
    assert_eq!(
        dev.wait_disconnected(),
        CloseReason::Protocol(ProtocolError::KeepAliveTimeout)
    );
    let took = t.elapsed();
    assert!(
        took > Duration::from_millis(2500) && took < Duration::from_millis(5000),
        "{took:?}"
    );
    assert_eq!(dev.client.state(), State::Disconnected);
}

/// The server certificate must match the configured host name, even through a static IP.
#[test]
fn host_name_is_verified_through_a_static_ip() {
    let hub = Hub::start();
    let config = hub
        .device("dev-n")
        .to_builder()
        .hostname("not-the-hub.example")
        .static_ip("127.0.0.1")
        .build();
    let dev = HubClient::new(Box::new(|_| {}));
    match dev.connect(&config) {
        Err(ConnectError::Tls(msg)) => assert!(msg.contains("certificate"), "{msg}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(dev.state(), State::Disconnected);
}

/// Several application threads publish at once while the worker acknowledges: every QoS 1
/// message gets its PUBACK and reaches the service.
#[test]
fn concurrent_publishers() {
    const THREADS: usize = 4;
    const EACH: usize = 50;
    let hub = Hub::start();
    let config = hub
        .device("many")
        .to_builder()
        .auto_twin_request(false)
        .build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    let t = Instant::now();
    let ids: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|n| {
                let client = dev.client.clone();
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            client
                                .send_telemetry(
                                    format!("{n}-{i}").as_bytes(),
                                    &[],
                                    QoS::AtLeastOnce,
                                )
                                .unwrap()
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut acked = std::collections::BTreeSet::new();
    while acked.len() < ids.len() {
        if let Ev::Puback(id) = dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_))) {
            acked.insert(id);
        }
    }
    let took = t.elapsed();
    assert_eq!(acked, ids.iter().copied().collect());
    eprintln!(
        "{} QoS 1 messages from {THREADS} threads, all acknowledged, in {took:?}",
        ids.len()
    );
    let mut events = hub
        .svc
        .events_from(0)
        .device("many")
        .until(Instant::now() + WAIT);
    let mut seen = 0;
    for e in &mut events {
        e.unwrap();
        seen += 1;
        if seen == THREADS * EACH {
            break;
        }
    }
    assert_eq!(seen, THREADS * EACH);
    dev.client.disconnect().unwrap();
}

/// Dropping the application's last handle closes the connection (the handler's view does not
/// keep it alive).
#[test]
fn dropping_the_client_closes_the_connection() {
    let hub = Hub::start();
    let config = hub
        .device("drop")
        .to_builder()
        .auto_twin_request(false)
        .build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    let Device { client, .. } = dev;
    let clone = client.clone();
    drop(client);
    assert!(hub.svc.is_connected("drop").unwrap());
    drop(clone);
    hub.svc.wait_connected("drop", false, WAIT).unwrap();
}
