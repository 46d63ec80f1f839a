//! The Linux port's MQTT layer against a real third-party broker: Mosquitto with TLS client
//! certificates (`require_certificate true`, `use_identity_as_username true`).
//!
//! Needs `mosquitto` (`apt-get install -y mosquitto`). Without it every test fails, unless
//! `AZURE_IOT_HUB_SKIP_MOSQUITTO=1` is set. The key-format test also needs `openssl`.
//! IoT Hub topics are plain topics on Mosquitto, so a second MQTT client (the "service") sees the
//! device's telemetry and method responses and can send it C2D messages and method calls.

mod linux_common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use azure_iot_hub::hub::{Property, State};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::port::{CloseReason, ConnectConfig, ConnectError};
use cert_tool::CaBundle;
use linux_common::{device_folder, openssl, server_identity, write_primary, Device, Ev, MqttPeer};

/// A Mosquitto broker on an ephemeral loopback port, killed on drop.
struct Broker {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    ca: CaBundle,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("mosquitto log:\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mosquitto_available() -> bool {
    match Command::new("mosquitto").arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(_) => true,
        Err(_) if std::env::var("AZURE_IOT_HUB_SKIP_MOSQUITTO").as_deref() == Ok("1") => {
            eprintln!("mosquitto not installed; skipped (AZURE_IOT_HUB_SKIP_MOSQUITTO=1)");
            false
        }
        Err(e) => panic!(
            "mosquitto cannot be run ({e}). Install it (apt-get install -y mosquitto mosquitto-clients) \
             or set AZURE_IOT_HUB_SKIP_MOSQUITTO=1 to skip these tests"
        ),
    }
}

/// A loopback port nothing listens on now, and that no other broker of this test binary was
/// given: the tests run in parallel, and two brokers told the same port would leave the second
/// one's readiness probe talking to the first broker.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

impl Broker {
    fn start() -> Option<Broker> {
        if !mosquitto_available() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ca = cert_tool::root_ca().unwrap();
        let (cert, key) = server_identity(&ca);
        let d = dir.path();
        fs::write(d.join("ca.pem"), ca.cert_pem()).unwrap();
        fs::write(d.join("server.pem"), cert).unwrap();
        fs::write(d.join("server.key"), key).unwrap();
        for attempt in 0..5 {
            let port = free_port();
            let conf = format!(
                "user root\nper_listener_settings false\nallow_anonymous false\npersistence false\n\
                 log_dest file {log}\nlog_type all\n\
                 listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n\
                 require_certificate true\nuse_identity_as_username true\n",
                log = d.join("mosquitto.log").display(),
                ca = d.join("ca.pem").display(),
                cert = d.join("server.pem").display(),
                key = d.join("server.key").display(),
            );
            fs::write(d.join("mosquitto.conf"), conf).unwrap();
            // Each attempt reads its own log: "running" is logged once the listener is open.
            let _ = fs::remove_file(d.join("mosquitto.log"));
            let mut child = Command::new("mosquitto")
                .arg("-c")
                .arg(d.join("mosquitto.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mosquitto");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                // Up means: this broker says its listener is open ("... running"; a failed bind
                // logs "Address already in use" and exits instead), it is still alive, and a
                // connection gets through. A connection to itself is not the broker: with
                // nothing listening yet, the kernel may pick `port` as the probe's own source
                // port (TCP self-connect).
                let running = fs::read_to_string(d.join("mosquitto.log"))
                    .is_ok_and(|log| log.contains(" running"));
                let up = running
                    && matches!(child.try_wait(), Ok(None))
                    && TcpStream::connect(("127.0.0.1", port))
                        .is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok());
                if up {
                    return Some(Broker {
                        child,
                        port,
                        dir,
                        ca,
                    });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = fs::read_to_string(d.join("mosquitto.log")).unwrap_or_default();
            eprintln!("mosquitto did not start on port {port} (attempt {attempt}): {log}");
        }
        panic!("mosquitto did not start");
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// A device identity signed by the broker's CA, in a certificates folder.
    fn device(&self, name: &str, device_id: &str) -> PathBuf {
        device_folder(
            self.dir.path(),
            name,
            self.ca.cert_pem(),
            &self.ca,
            device_id,
        )
    }

    fn config(&self, folder: &Path, device_id: &str) -> ConnectConfig {
        ConnectConfig::builder()
            .hostname("localhost")
            .device_id(device_id)
            .port(self.port)
            .certificates(folder)
            .send_timeout(Some(Duration::from_secs(5)))
            .build()
    }

    /// The back-end: an MQTT client with its own certificate.
    fn service(&self) -> MqttPeer {
        let (cert, key) = cert_tool::device_identity(&self.ca, "service");
        MqttPeer::connect(self.port, self.ca.cert_pem(), &cert, &key, "service")
    }
}

/// Connect, the automatic twin GET, QoS 1 telemetry with properties, C2D with properties, a
/// direct method answered from inside the handler, twin responses, disconnect, reconnect.
#[test]
fn device_and_service_over_mosquitto() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let folder = broker.device("dev1", "dev1");
    let mut service = broker.service();
    service.subscribe("devices/dev1/messages/events/#");
    service.subscribe("$iothub/methods/res/#");
    service.subscribe("$iothub/twin/GET/#");
    service.subscribe("$iothub/twin/PATCH/properties/reported/#");

    let mut dev = Device::new();
    let started = Instant::now();
    dev.connect_ready(&broker.config(&folder, "dev1"));
    eprintln!("connect() to READY over Mosquitto: {:?}", started.elapsed());
    assert_eq!(dev.client.state(), State::Ready);
    assert_eq!(
        dev.seen[0],
        Ev::Connected {
            session_present: false
        }
    );

    // CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST: the twin GET follows READY.
    let get = service.next_message();
    assert!(get.topic.starts_with("$iothub/twin/GET/?$rid="), "{get:?}");
    let rid = get.topic.rsplit('=').next().unwrap().to_string();

    // Telemetry, QoS 1, with properties written verbatim.
    let props = [
        Property::new("a", "1"),
        Property::new("%24.ct", "application%2Fjson"),
    ];
    let id = dev
        .client
        .send_telemetry(b"{\"t\":1}", &props, QoS::AtLeastOnce)
        .unwrap();
    assert_eq!(
        dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_))),
        Ev::Puback(id)
    );
    let m = service.next_message();
    assert_eq!(
        m.topic,
        "devices/dev1/messages/events/a=1&%24.ct=application%2Fjson"
    );
    assert_eq!(m.payload, b"{\"t\":1}");

    // The twin document answers the automatic GET.
    let doc = br#"{"desired":{"$version":1},"reported":{"$version":1}}"#;
    service.publish(&format!("$iothub/twin/res/200/?$rid={rid}"), doc);
    assert_eq!(
        dev.wait_for("TWIN_RECEIVED", |e| matches!(e, Ev::TwinDocument { .. })),
        Ev::TwinDocument {
            request_id: rid.clone(),
            payload: doc.to_vec()
        }
    );

    // C2D with properties, handed over as received.
    service.publish(
        "devices/dev1/messages/devicebound/%24.to=%2Fdevices%2Fdev1&k=v",
        b"c2d",
    );
    let c2d = dev.wait_for("DATA_RECEIVED", |e| matches!(e, Ev::C2d { .. }));
    assert_eq!(
        c2d,
        Ev::C2d {
            topic: "devices/dev1/messages/devicebound/%24.to=%2Fdevices%2Fdev1&k=v".into(),
            properties: vec![
                ("%24.to".into(), "%2Fdevices%2Fdev1".into()),
                ("k".into(), "v".into())
            ],
            payload: b"c2d".to_vec(),
        }
    );

    // A direct method, answered from inside the handler (on the worker thread).
    dev.react(|client, ev| {
        if let Ev::Method { request_id, .. } = ev {
            client
                .respond_to_method(request_id, 200, br#"{"ok":true}"#)
                .unwrap();
        }
    });
    service.publish("$iothub/methods/POST/reboot/?$rid=42", br#"{"delay":1}"#);
    assert_eq!(
        dev.wait_for("DIRECT_METHOD", |e| matches!(e, Ev::Method { .. })),
        Ev::Method {
            name: "reboot".into(),
            request_id: "42".into(),
            payload: br#"{"delay":1}"#.to_vec()
        }
    );
    let res = service.next_message();
    assert_eq!(
        (res.topic.as_str(), &res.payload[..]),
        ("$iothub/methods/res/200/?$rid=42", &br#"{"ok":true}"#[..])
    );

    // Reported properties, a desired patch and a failed twin request.
    let rid = dev.client.report_properties(br#"{"fw":"1.0"}"#).unwrap();
    let patch = service.next_message();
    assert_eq!(
        patch.topic,
        format!("$iothub/twin/PATCH/properties/reported/?$rid={rid}")
    );
    assert_eq!(patch.payload, br#"{"fw":"1.0"}"#);
    service.publish(&format!("$iothub/twin/res/204/?$rid={rid}&$version=2"), b"");
    assert_eq!(
        dev.wait_for("TWIN_RESULT_SUCCESS", |e| matches!(
            e,
            Ev::TwinResult { .. }
        )),
        Ev::TwinResult {
            request_id: rid.clone(),
            status: 204,
            version: Some("2".into()),
            payload: vec![]
        }
    );
    service.publish(
        "$iothub/twin/PATCH/properties/desired/?$version=3",
        br#"{"led":true,"$version":3}"#,
    );
    assert_eq!(
        dev.wait_for("TWIN_DESIRED_RECEIVED", |e| matches!(
            e,
            Ev::TwinDesired { .. }
        )),
        Ev::TwinDesired {
            version: "3".into(),
            payload: br#"{"led":true,"$version":3}"#.to_vec()
        }
    );
    service.publish("$iothub/twin/res/400/?$rid=77", br#"{"message":"bad"}"#);
    assert_eq!(
        dev.wait_for("TWIN_RESULT_FAIL", |e| matches!(e, Ev::TwinResult { .. })),
        Ev::TwinResult {
            request_id: "77".into(),
            status: 400,
            version: None,
            payload: br#"{"message":"bad"}"#.to_vec()
        }
    );

    // Disconnect: DISCONNECTED is delivered before disconnect() returns.
    dev.client.disconnect().unwrap();
    assert_eq!(
        dev.drain().last(),
        Some(&Ev::Disconnected(CloseReason::Requested))
    );
    assert_eq!(dev.client.state(), State::Disconnected);

    // And the client connects again at once.
    dev.connect_ready(&broker.config(&folder, "dev1"));
    let get = service.next_message();
    assert!(get.topic.starts_with("$iothub/twin/GET/?$rid="), "{get:?}");
    dev.client.disconnect().unwrap();
    assert_eq!(
        dev.drain().last(),
        Some(&Ev::Disconnected(CloseReason::Requested))
    );
    let disconnects = dev
        .seen
        .iter()
        .filter(|e| matches!(e, Ev::Disconnected(_)))
        .count();
    assert_eq!(disconnects, 2, "{:#?}", dev.seen);
}

/// A short keep-alive: PINGREQ goes out and PINGRESP comes back as an event.
#[test]
fn keepalive_pingresp() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let folder = broker.device("dev-ka", "dev-ka");
    let mut dev = Device::new();
    let config = broker
        .config(&folder, "dev-ka")
        .to_builder()
        .keep_alive(1)
        .auto_twin_request(false)
        .build();
    dev.connect_ready(&config);
    let t = Instant::now();
    dev.wait_for("PINGRESP", |e| *e == Ev::Pingresp);
    dev.wait_for("second PINGRESP", |e| *e == Ev::Pingresp);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_millis(3500),
        "two pings took {took:?}"
    );
    dev.client.disconnect().unwrap();
}

/// Mosquitto refuses a device certificate from a CA it does not know: the TLS session ends
/// before any MQTT event (TLS 1.3 may finish the client's handshake first, so the refusal shows
/// either as a connect error or as DISCONNECTED without CONNECTED).
#[test]
fn device_from_unknown_ca_is_refused() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let other_ca = cert_tool::root_ca().unwrap();
    let folder = device_folder(
        broker.dir.path(),
        "stranger",
        broker.ca.cert_pem(),
        &other_ca,
        "stranger",
    );
    let mut dev = Device::new();
    match dev.client.connect(&broker.config(&folder, "stranger")) {
        Err(ConnectError::Tls(msg)) => eprintln!("refused during the handshake: {msg}"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(()) => {
            let reason = dev.wait_disconnected();
            assert_eq!(reason, CloseReason::Transport);
            assert!(
                !dev.seen.iter().any(|e| matches!(e, Ev::Connected { .. })),
                "{:#?}",
                dev.seen
            );
        }
    }
    assert_eq!(dev.client.state(), State::Disconnected);
}

/// The device refuses a broker whose certificate does not chain to the configured CA: only the
/// certificates folder is trusted, never the system roots.
#[test]
fn server_from_unknown_ca_is_refused() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let other_ca = cert_tool::root_ca().unwrap();
    let folder = device_folder(
        broker.dir.path(),
        "wrong-trust",
        other_ca.cert_pem(),
        &broker.ca,
        "dev2",
    );
    let dev = Device::new();
    match dev.client.connect(&broker.config(&folder, "dev2")) {
        Err(ConnectError::Tls(msg)) => assert!(msg.contains("certificate"), "{msg}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert_eq!(dev.client.state(), State::Disconnected);
}

/// The secondary tag's CA is trusted too (the union of the tags), and a client certificate in
/// the secondary tag is used when the primary has none.
#[test]
fn secondary_tag_files() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let other_ca = cert_tool::root_ca().unwrap();
    let dir = broker.dir.path().join("two-tags");
    let (cert, key) = cert_tool::device_identity(&broker.ca, "dev3");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("ca-cert.pem"), other_ca.cert_pem()).unwrap();
    fs::write(dir.join("ca-cert-2.pem"), broker.ca.cert_pem()).unwrap();
    fs::write(dir.join("client-cert-2.pem"), cert).unwrap();
    fs::write(dir.join("private-key-2.pem"), key).unwrap();
    let only_primary = broker.config(&dir, "dev3");
    match Device::new().client.connect(&only_primary) {
        Err(ConnectError::Tls(msg)) => assert!(msg.contains("client-cert.pem"), "{msg}"),
        other => panic!("expected the missing client certificate to be named, got {other:?}"),
    }
    let mut dev = Device::new();
    dev.connect_ready(&only_primary.to_builder().sec_tags(-1, 7).build());
    dev.client.disconnect().unwrap();
}

/// Client keys as RSA PKCS#1, RSA PKCS#8 and EC SEC1 (PKCS#8 EC is what the other tests use).
#[test]
fn rsa_and_sec1_client_keys() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let d = broker.dir.path();
    let cases: [(&str, &[&[&str]]); 3] = [
        (
            "rsa-pkcs1",
            &[&["genrsa", "-traditional", "-out", "KEY", "2048"]],
        ),
        (
            "rsa-pkcs8",
            &[&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "KEY",
            ]],
        ),
        (
            "ec-sec1",
            &[&[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "KEY",
            ]],
        ),
    ];
    for (name, steps) in cases {
        let key_path = d.join(format!("{name}.key"));
        let csr_path = d.join(format!("{name}.csr"));
        let key = key_path.to_str().unwrap();
        for step in steps {
            let args: Vec<&str> = step
                .iter()
                .map(|a| if *a == "KEY" { key } else { a })
                .collect();
            openssl(&args);
        }
        let header = fs::read_to_string(&key_path).unwrap();
        let expected = match name {
            "rsa-pkcs1" => "BEGIN RSA PRIVATE KEY",
            "rsa-pkcs8" => "BEGIN PRIVATE KEY",
            _ => "BEGIN EC PRIVATE KEY",
        };
        assert!(header.contains(expected), "{name}: {header}");
        openssl(&[
            "req",
            "-new",
            "-key",
            key,
            "-subj",
            &format!("/CN={name}"),
            "-out",
            csr_path.to_str().unwrap(),
        ]);
        let cert = cert_tool::sign_csr(fs::read(&csr_path).unwrap(), &broker.ca).unwrap();
        let folder = d.join(format!("{name}-certs"));
        write_primary(&folder, broker.ca.cert_pem(), &cert, &header);
        let mut dev = Device::new();
        dev.connect_ready(&broker.config(&folder, name));
        let id = dev
            .client
            .send_telemetry(name.as_bytes(), &[], QoS::AtLeastOnce)
            .unwrap();
        assert_eq!(
            dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_))),
            Ev::Puback(id)
        );
        dev.client.disconnect().unwrap();
    }
}

/// The broker goes away: DISCONNECTED(Transport) once, and the state is back to Disconnected.
#[test]
fn broker_killed() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let folder = broker.device("dev-k", "dev-k");
    let mut dev = Device::new();
    dev.connect_ready(&broker.config(&folder, "dev-k"));
    broker.child.kill().unwrap();
    broker.child.wait().unwrap();
    assert_eq!(dev.wait_disconnected(), CloseReason::Transport);
    assert_eq!(dev.client.state(), State::Disconnected);
    assert_eq!(dev.client.disconnect(), Err(State::Disconnected));
    assert!(dev.drain().is_empty());
}
