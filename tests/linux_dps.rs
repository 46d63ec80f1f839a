//! DPS on Linux (the Rust API `azure_iot_hub::port::{provision, register, ...}`) against the hub
//! emulator's DPS, through a counting TCP relay (so a test can prove that no DPS traffic
//! happened), and against scripted TLS servers for what the emulator does not do: silence,
//! garbage JSON.
#![cfg(feature = "dps")]

mod linux_common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_iot_hub::mqtt::{packet_type, Framed, Framer};
use azure_iot_hub::port::{
    clear_assignment, provision, provision_with, register, stored_assignment, ConnectConfig,
    DpsCancel, DpsConfig, DpsError, DpsStatus,
};
use hub_emulator::{
    Attestation, Config, Emulator, Fault, FaultKind, IndividualEnrollment, ServiceClient, Status,
};
use linux_common::{device_folder, server_identity, write_primary, Device, Ev};

mod relay;
use relay::Relay;

/// The emulator with a verified root CA and an enrollment group for it, a relay for DPS, and a
/// folder per device.
struct Dps {
    emu: Emulator,
    svc: ServiceClient,
    ca: cert_tool::CaBundle,
    relay: Relay,
    dir: tempfile::TempDir,
}

impl Dps {
    fn start() -> Dps {
        Self::with(Config::temp())
    }

    fn with(config: Config) -> Dps {
        let emu = Emulator::start(config).expect("emulator");
        let svc = emu.service();
        let ca = cert_tool::root_ca().unwrap();
        svc.register_verified_ca("root", ca.cert_pem()).unwrap();
        svc.create_ca_enrollment_group("fleet", "root").unwrap();
        let relay = Relay::start(emu.mqtt_addr());
        Dps {
            emu,
            svc,
            ca,
            relay,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A DPS configuration for `reg_id` (certificate CN = `reg_id`, signed by the enrolled CA).
    fn config(&self, reg_id: &str) -> DpsConfig {
        let certs = device_folder(
            self.dir.path(),
            reg_id,
            &self.emu.ca_pem(),
            &self.ca,
            reg_id,
        );
        let mut c = DpsConfig::from_config().with_registration_id(reg_id);
        c.hostname = "localhost".into();
        c.port = self.relay.addr.port();
        c.id_scope = self.emu.config().dps_id_scope.clone();
        c.credentials.folder = certs.clone();
        c.credentials.sec_tag = -1;
        c.credentials.secondary_sec_tag = -1;
        c.timeout_secs = 20;
        c.registration_payload = None;
        c.settings_file = certs.join("settings");
        c
    }

    fn hub_config(&self, dps: &DpsConfig) -> ConnectConfig {
        ConnectConfig::builder()
            .port(self.emu.mqtt_addr().port())
            .certificates(dps.credentials.folder.clone())
            .sec_tags(-1, -1)
            .build()
    }
}

fn statuses() -> (Arc<Mutex<Vec<DpsStatus>>>, impl FnMut(DpsStatus)) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (seen, move |st| s.lock().unwrap().push(st))
}

/// First boot registers (ASSIGNING..., ASSIGNED) and connects to the assigned hub; the second
/// boot uses the stored assignment without any DPS traffic; after a reset the device registers
/// again; a corrupt settings file means "not assigned".
#[test]
fn first_boot_second_boot_reset() {
    let dps = Dps::start();
    let cfg = dps.config("dps-boot");
    assert_eq!(stored_assignment(&cfg).unwrap(), None);

    let (seen, on_status) = statuses();
    let t = Instant::now();
    let a = provision_with(&cfg, &DpsCancel::new(), on_status).expect("provision");
    println!(
        "first-boot provisioning took {} ms",
        t.elapsed().as_millis()
    );
    assert_eq!(a.hostname, "localhost");
    assert_eq!(a.device_id, "dps-boot");
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 2, "{seen:?}");
    assert_eq!(seen.last(), Some(&DpsStatus::Assigned), "{seen:?}");
    assert!(
        seen[..seen.len() - 1]
            .iter()
            .all(|s| *s == DpsStatus::Assigning),
        "{seen:?}"
    );
    assert_eq!(dps.relay.count(), 1);
    // The device exists in the hub now, and connects as assigned.
    assert!(dps.svc.get_device("dps-boot").is_ok());
    let mut dev = Device::new();
    dev.connect_ready(&a.apply(dps.hub_config(&cfg)));
    dev.client.disconnect().unwrap();
    dev.wait_disconnected();

    // Second boot: the stored assignment, no DPS connection at all.
    assert_eq!(stored_assignment(&cfg).unwrap(), Some(a.clone()));
    let (seen2, on_status) = statuses();
    assert_eq!(
        provision_with(&cfg, &DpsCancel::new(), on_status).unwrap(),
        a
    );
    assert_eq!(dps.relay.count(), 1, "no DPS traffic on the second boot");
    assert!(seen2.lock().unwrap().is_empty());

    // Reset: registers again.
    clear_assignment(&cfg).unwrap();
    assert_eq!(stored_assignment(&cfg).unwrap(), None);
    assert_eq!(provision(&cfg).unwrap(), a);
    assert_eq!(dps.relay.count(), 2);

    // A corrupt file is "not assigned": DPS again, and the file is rewritten.
    std::fs::write(&cfg.settings_file, b"\x00garbage").unwrap();
    assert_eq!(stored_assignment(&cfg).unwrap(), None);
    assert_eq!(provision(&cfg).unwrap(), a);
    assert_eq!(dps.relay.count(), 3);
    assert_eq!(stored_assignment(&cfg).unwrap(), Some(a));
}

/// `retry-after` is honoured: with 2 s from the emulator and one `assigning` poll, the
/// registration takes two waits (after the register answer and after the first poll).
#[test]
fn retry_after_is_honoured() {
    let dps = Dps::with(Config {
        dps_retry_after_secs: 2,
        ..Config::temp()
    });
    let cfg = dps.config("dps-retry");
    let (seen, on_status) = statuses();
    let t = Instant::now();
    register(&cfg, &DpsCancel::new(), on_status).expect("register");
    let took = t.elapsed();
    println!(
        "registration with retry-after 2 s and 1 assigning poll: {} ms",
        took.as_millis()
    );
    assert!(took >= Duration::from_millis(4000), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // register() alone reports only the progress.
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .all(|s| *s == DpsStatus::Assigning));
}

/// Throttling (429 with retry-after) is retried, and the registration then succeeds.
#[test]
fn throttled_then_assigned() {
    let dps = Dps::start();
    let cfg = dps.config("dps-throttled");
    dps.svc
        .add_fault(
            &Fault::new(FaultKind::Throttle)
                .for_device("dps-throttled")
                .lasting(0.5),
        )
        .unwrap();
    let (seen, on_status) = statuses();
    let a = provision_with(&cfg, &DpsCancel::new(), on_status).expect("provision");
    assert_eq!(a.device_id, "dps-throttled");
    assert_eq!(seen.lock().unwrap().last(), Some(&DpsStatus::Assigned));
}

fn expect_rejected(r: Result<azure_iot_hub::port::Assignment, DpsError>, code: u32) {
    match r {
        Err(DpsError::Rejected { error_code, reason }) => {
            assert_eq!(error_code, Some(code), "{reason}")
        }
        other => panic!("expected a rejection with {code}, got {other:?}"),
    }
}

/// Unknown device (401002), disabled enrollment (400207), forced failure (500000): FAILED at
/// once, far within the 20 s timeout.
#[test]
fn failures_are_reported_at_once() {
    let dps = Dps::start();
    // Not enrolled: a certificate from a CA the DPS does not know.
    let mut unknown = dps.config("dps-unknown");
    let other = cert_tool::root_ca().unwrap();
    unknown.credentials.folder = device_folder(
        dps.dir.path(),
        "other",
        &dps.emu.ca_pem(),
        &other,
        "dps-unknown",
    );
    let (seen, on_status) = statuses();
    let t = Instant::now();
    expect_rejected(
        provision_with(&unknown, &DpsCancel::new(), on_status),
        401002,
    );
    let took = t.elapsed();
    println!(
        "unknown device reported FAILED after {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(seen.lock().unwrap().last(), Some(&DpsStatus::Failed));
    assert_eq!(stored_assignment(&unknown).unwrap(), None);

    // A disabled individual enrollment.
    dps.svc
        .put_enrollment(
            "dps-disabled",
            &IndividualEnrollment {
                registration_id: "dps-disabled".into(),
                device_id: None,
                attestation: Attestation::X509Ca {
                    ca_name: "root".into(),
                },
                provisioning_status: Status::Disabled,
                initial_twin: None,
                etag: String::new(),
            },
        )
        .unwrap();
    let t = Instant::now();
    expect_rejected(provision(&dps.config("dps-disabled")), 400207);
    let took = t.elapsed();
    println!(
        "disabled enrollment reported FAILED after {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(5), "{took:?}");

    // The emulator's forced failure.
    dps.svc
        .add_fault(&Fault::new(FaultKind::DpsFail).for_device("dps-fail"))
        .unwrap();
    let t = Instant::now();
    expect_rejected(provision(&dps.config("dps-fail")), 500000);
    assert!(t.elapsed() < Duration::from_secs(5));
}

/// No answer within CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC: the emulator delays everything, or a
/// TCP listener never speaks TLS. Both end with a timeout after about the configured time.
#[test]
fn timeout() {
    let dps = Dps::start();
    let mut cfg = dps.config("dps-slow");
    cfg.timeout_secs = 1;
    dps.svc
        .add_fault(&Fault::delay(4000).for_device("dps-slow"))
        .unwrap();
    let (seen, on_status) = statuses();
    let t = Instant::now();
    let r = provision_with(&cfg, &DpsCancel::new(), on_status);
    let took = t.elapsed();
    println!(
        "delayed DPS: timeout after {} ms (timeout 1 s)",
        took.as_millis()
    );
    assert!(matches!(r, Err(DpsError::Timeout)), "{r:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(seen.lock().unwrap().last(), Some(&DpsStatus::Failed));

    // A listener that accepts and never answers the TLS handshake.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    cfg.port = silent.local_addr().unwrap().port();
    let t = Instant::now();
    let r = provision(&cfg);
    let took = t.elapsed();
    println!(
        "silent server: timeout after {} ms (timeout 1 s)",
        took.as_millis()
    );
    assert!(matches!(r, Err(DpsError::Timeout)), "{r:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(silent);
}

/// The emulator drops the DPS connection while the device waits for retry-after: FAILED.
#[test]
fn connection_drop_during_registration() {
    let dps = Dps::with(Config {
        dps_retry_after_secs: 3,
        ..Config::temp()
    });
    let cfg = dps.config("dps-drop");
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        provision_with(&cfg, &DpsCancel::new(), move |s| {
            let _ = tx.send(s);
        })
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        DpsStatus::Assigning
    );
    // The register answer (ASSIGNING again) starts the 3 s wait.
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        DpsStatus::Assigning
    );
    let t = Instant::now();
    assert_eq!(dps.svc.drop_connections(Some("dps-drop")).unwrap(), 1);
    let r = worker.join().unwrap();
    assert!(matches!(r, Err(DpsError::ConnectionLost)), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let rest: Vec<_> = rx.try_iter().collect();
    assert_eq!(rest, [DpsStatus::Failed]);
}

/// A registration payload (custom allocation) goes in the request: valid JSON is accepted; a
/// payload that makes the request invalid JSON is refused by DPS (400), so it was sent.
#[test]
fn registration_payload() {
    let dps = Dps::start();
    let mut cfg = dps.config("dps-payload");
    cfg.registration_payload = Some("{\"modelId\":\"dtmi:x;1\",\"n\":[1,2]}".into());
    assert_eq!(
        register(&cfg, &DpsCancel::new(), |_| {}).unwrap().device_id,
        "dps-payload"
    );
    cfg.registration_payload = Some("{\"unclosed\":".into());
    expect_rejected(register(&cfg, &DpsCancel::new(), |_| {}), 400004);
    cfg.registration_payload = Some("x".repeat(300));
    assert!(matches!(
        register(&cfg, &DpsCancel::new(), |_| {}),
        Err(DpsError::InvalidConfig(_))
    ));
}

/// A cancel from another thread ends a registration waiting for retry-after at once.
#[test]
fn cancel_ends_the_wait() {
    let dps = Dps::with(Config {
        dps_retry_after_secs: 5,
        ..Config::temp()
    });
    let cfg = dps.config("dps-cancel");
    let cancel = DpsCancel::new();
    let c2 = cancel.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        register(&cfg, &c2, move |s| {
            let _ = tx.send(s);
        })
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let t = Instant::now();
    cancel.cancel();
    let r = worker.join().unwrap();
    assert!(matches!(r, Err(DpsError::Cancelled)), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(1));
}

/// A scripted DPS over TLS: CONNECT → CONNACK, SUBSCRIBE → SUBACK, then the script answers the
/// register request.
fn scripted(
    answer: impl FnOnce(&mut ScriptPeer) + Send + 'static,
) -> (DpsConfig, tempfile::TempDir) {
    let ca = cert_tool::root_ca().unwrap();
    let (cert, key) = server_identity(&ca);
    let dir = tempfile::tempdir().unwrap();
    let (dcert, dkey) = cert_tool::device_identity(&ca, "scripted");
    write_primary(dir.path(), ca.cert_pem(), &dcert, &dkey);
    let chain: Vec<_> = rustls_pemfile::certs(&mut cert.as_bytes())
        .map(Result::unwrap)
        .collect();
    let key = rustls_pemfile::private_key(&mut key.as_bytes())
        .unwrap()
        .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        let mut peer = ScriptPeer {
            tls: rustls::StreamOwned::new(conn, tcp),
            framer: Framer::new(vec![0u8; 1 << 16]),
            register_topic: String::new(),
            register_body: Vec::new(),
        };
        peer.expect(packet_type::CONNECT);
        peer.send(&[0x20, 2, 0, 0]);
        let sub = peer.expect(packet_type::SUBSCRIBE);
        peer.send(&[0x90, 3, sub[0], sub[1], 0]);
        let register = peer.expect(packet_type::PUBLISH);
        // QoS 1: acknowledge it.
        let topic_len = usize::from(u16::from_be_bytes([register[0], register[1]]));
        let id = &register[2 + topic_len..4 + topic_len];
        peer.send(&[0x40, 2, id[0], id[1]]);
        peer.register_topic = String::from_utf8_lossy(&register[2..2 + topic_len]).into();
        peer.register_body = register[4 + topic_len..].to_vec();
        answer(&mut peer);
    });
    let mut c = DpsConfig::from_config().with_registration_id("scripted");
    c.hostname = "localhost".into();
    c.port = port;
    c.id_scope = "0ne0".into();
    c.credentials.folder = dir.path().to_path_buf();
    c.credentials.sec_tag = -1;
    c.credentials.secondary_sec_tag = -1;
    c.timeout_secs = 5;
    c.settings_file = PathBuf::from(dir.path()).join("settings");
    (c, dir)
}

struct ScriptPeer {
    tls: rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
    framer: Framer<Vec<u8>>,
    /// The register request the device sent.
    register_topic: String,
    register_body: Vec<u8>,
}

impl ScriptPeer {
    fn expect(&mut self, ty: u8) -> Vec<u8> {
        loop {
            if let Some(Framed::Packet { header, body }) = self.framer.next().unwrap() {
                assert_eq!(header.packet_type, ty);
                return body.to_vec();
            }
            let n = self.tls.read(self.framer.spare()).expect("server read");
            assert!(n > 0, "device closed");
            self.framer.commit(n);
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).unwrap();
        self.tls.flush().unwrap();
    }

    /// PUBLISH QoS 0 on `topic`.
    fn publish(&mut self, topic: &str, payload: &[u8]) {
        let len = 2 + topic.len() + payload.len();
        assert!(len < 16384);
        let mut p = vec![0x30];
        if len < 128 {
            p.push(len as u8);
        } else {
            p.push((len % 128) as u8 | 0x80);
            p.push((len / 128) as u8);
        }
        p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        p.extend_from_slice(topic.as_bytes());
        p.extend_from_slice(payload);
        self.send(&p);
    }
}

/// Garbage in the DPS answer (not JSON, JSON of the wrong shape, an assignment without a hub, a
/// host name the settings cannot hold): FAILED with a protocol error, nothing stored, no crash.
#[test]
fn malformed_answers_fail_cleanly() {
    let cases: [&[u8]; 6] = [
        b"not json at all",
        b"{\"operationId\":",
        b"[1,2,3]",
        b"{\"status\":\"assigned\",\"operationId\":\"x\",\"registrationState\":{\"deviceId\":\"d\"}}",
        b"{\"status\":\"bogus\",\"operationId\":\"x\"}",
        b"{\"status\":\"assigned\",\"operationId\":\"x\",\"registrationState\":{\"assignedHub\":\"hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\",\"deviceId\":\"d\"}}",
    ];
    for payload in cases {
        let (cfg, _dir) = scripted(move |peer| {
            peer.publish("$dps/registrations/res/200/?$rid=1", payload);
            // Let the device close first.
            let mut buf = [0u8; 64];
            while matches!(peer.tls.read(&mut buf), Ok(n) if n > 0) {}
        });
        let (seen, on_status) = statuses();
        let t = Instant::now();
        let r = provision_with(&cfg, &DpsCancel::new(), on_status);
        assert!(
            matches!(r, Err(DpsError::Protocol(_))),
            "{}: {r:?}",
            String::from_utf8_lossy(payload)
        );
        assert!(t.elapsed() < Duration::from_secs(3));
        assert_eq!(seen.lock().unwrap().last(), Some(&DpsStatus::Failed));
        assert_eq!(stored_assignment(&cfg).unwrap(), None);
    }
}

/// The hub events after a DPS-provisioned connect are the normal ones.
#[test]
fn provisioned_device_gets_hub_events() {
    let dps = Dps::start();
    let cfg = dps.config("dps-events");
    let a = provision(&cfg).unwrap();
    let mut dev = Device::new();
    dev.connect_ready(&a.apply(dps.hub_config(&cfg)));
    dps.svc.send_c2d_text("dps-events", "hi", &[]).unwrap();
    dev.wait_for("C2D", |e| matches!(e, Ev::C2d { .. }));
    dev.client.disconnect().unwrap();
}

/// Symmetric-key attestation: a SAS token as the DPS password, no client certificate.
#[test]
fn symmetric_key_registration() {
    let dps = Dps::start();
    let key = "c2VjcmV0LWtleS1mb3ItZHBzLXRlc3RzLTEyMzQ1Njc4";
    dps.svc
        .create_enrollment(
            "dps-sas",
            Attestation::SymmetricKey {
                primary_key: key.into(),
                secondary_key: String::new(),
            },
        )
        .unwrap();
    let mut cfg = dps.config("dps-sas");
    std::fs::remove_file(cfg.credentials.folder.join("client-cert.pem")).unwrap();
    std::fs::remove_file(cfg.credentials.folder.join("private-key.pem")).unwrap();
    let scope = cfg.id_scope.clone();
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    cfg.password = Some(hub_emulator::util::sas_token(
        &format!("{scope}/registrations/dps-sas"),
        key,
        expiry,
        Some("registration"),
    ));
    let a = provision(&cfg).expect("provision with a SAS token");
    assert_eq!(a.device_id, "dps-sas");
    // A wrong key is refused at once.
    clear_assignment(&cfg).unwrap();
    cfg.password = Some(hub_emulator::util::sas_token(
        &format!("{scope}/registrations/dps-sas"),
        "d3Jvbmcta2V5",
        expiry,
        Some("registration"),
    ));
    expect_rejected(provision(&cfg), 401002);
}

/// What the register request carries on the wire: the topic, `{"registrationId":…}`, and the
/// custom-allocation payload verbatim; then an assignment from a second status query.
#[test]
fn register_request_on_the_wire() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (mut cfg, _dir) = scripted(move |peer| {
        tx.send((peer.register_topic.clone(), peer.register_body.clone()))
            .unwrap();
        peer.publish(
            "$dps/registrations/res/202/?$rid=1&retry-after=1",
            b"{\"operationId\":\"4.abc\",\"status\":\"assigning\"}",
        );
        let query = peer.expect(packet_type::PUBLISH);
        let topic_len = usize::from(u16::from_be_bytes([query[0], query[1]]));
        let topic = String::from_utf8_lossy(&query[2..2 + topic_len]).into_owned();
        tx.send((topic, Vec::new())).unwrap();
        let id = &query[2 + topic_len..4 + topic_len];
        peer.send(&[0x40, 2, id[0], id[1]]);
        peer.publish(
            "$dps/registrations/res/200/?$rid=1",
            b"{\"operationId\":\"4.abc\",\"status\":\"assigned\",\"registrationState\":{\"assignedHub\":\"hub.example\",\"deviceId\":\"dev-9\",\"payload\":{\"tier\":[1,{\"x\":null}]}}}",
        );
        let mut buf = [0u8; 64];
        while matches!(peer.tls.read(&mut buf), Ok(n) if n > 0) {}
    });
    cfg.registration_payload = Some("{\"tier\":\"gold\",\"n\":[1,2]}".into());
    let t = Instant::now();
    let a = provision(&cfg).expect("assigned");
    let took = t.elapsed();
    assert_eq!(
        (a.hostname.as_str(), a.device_id.as_str()),
        ("hub.example", "dev-9")
    );
    let (topic, body) = rx.recv().unwrap();
    assert_eq!(topic, "$dps/registrations/PUT/iotdps-register/?$rid=1");
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "{\"registrationId\":\"scripted\",\"payload\":{\"tier\":\"gold\",\"n\":[1,2]}}"
    );
    let (query, _) = rx.recv().unwrap();
    assert_eq!(
        query,
        "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId=4.abc"
    );
    // The status query waited for retry-after (1 s).
    assert!(took >= Duration::from_millis(1000), "{took:?}");
    assert_eq!(stored_assignment(&cfg).unwrap(), Some(a));
}
