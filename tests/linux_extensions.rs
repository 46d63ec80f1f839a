//! The extensions beyond the original, end to end over TLS against the hub emulator: automatic
//! reconnect (events, refusals, disconnect() during the backoff), persistent session (resend
//! with DUP after a reconnect, C2D queued while offline, outbox full), IoT Plug and Play model
//! ID, SAS authentication from a device key (expired token refused, renewal before expiry).

mod linux_common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use azure_iot_hub::backoff::BackoffConfig;
use azure_iot_hub::hub::{PublishError, State};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::port::{hub_sas_token_until, CloseReason, ConnectConfig, SendError};
use hub_emulator::{Authentication, Config, Emulator, Fault, FaultKind, ServiceClient};
use linux_common::{write_primary, Device, Ev, WAIT};

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
        svc.register_verified_ca("root", ca.cert_pem()).unwrap();
        Hub {
            emu,
            svc,
            ca,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn builder(&self, id: &str, folder: PathBuf) -> azure_iot_hub::port::ConnectConfigBuilder {
        ConnectConfig::builder()
            .hostname("localhost")
            .device_id(id)
            .port(self.emu.mqtt_addr().port())
            .certificates(folder)
            .send_timeout(Some(Duration::from_secs(5)))
            .auto_twin_request(false)
    }

    /// An X.509 device.
    fn x509(&self, id: &str) -> azure_iot_hub::port::ConnectConfigBuilder {
        self.svc.create_x509_ca_device(id).unwrap();
        let dir = self.dir.path().join(id);
        let (cert, key) = cert_tool::device_identity(&self.ca, id);
        write_primary(&dir, &self.emu.ca_pem(), &cert, &key);
        self.builder(id, dir)
    }

    /// A SAS device: its folder holds only the hub's CA. Returns the device's primary key.
    fn sas(&self, id: &str) -> (azure_iot_hub::port::ConnectConfigBuilder, String) {
        let dev = self.svc.create_sas_device(id).unwrap();
        let Authentication::Sas { primary_key, .. } = dev.authentication else {
            panic!("not a SAS device: {dev:?}");
        };
        let dir = self.dir.path().join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca-cert.pem"), self.emu.ca_pem()).unwrap();
        (self.builder(id, dir), primary_key)
    }
}

fn fast() -> BackoffConfig {
    BackoffConfig {
        min_ms: 20,
        max_ms: 200,
        jitter_ms: 5,
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The default (the original's behaviour): a dropped connection ends with DISCONNECTED and the
/// library does not come back.
#[test]
fn default_does_not_reconnect() {
    let hub = Hub::start();
    let config = hub.x509("plain").build();
    assert!(!config.extensions.reconnect.enabled);
    let mut dev = Device::new();
    dev.connect_ready(&config);
    hub.svc.drop_connections(Some("plain")).unwrap();
    dev.wait_for("DISCONNECTED", |e| {
        *e == Ev::Disconnected(CloseReason::Transport)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(dev.drain().is_empty(), "{:#?}", dev.seen);
    assert!(!dev.client.is_reconnecting());
    assert_eq!(dev.client.state(), State::Disconnected);
}

/// Reconnect: the hub drops the connection three times; each time the library reports the loss,
/// tries again after the backoff and is READY again, then disconnect() ends the session.
#[test]
fn reconnects_after_drops() {
    let hub = Hub::start();
    let config = hub.x509("rc").auto_reconnect(fast()).build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    for round in 1..=3u32 {
        hub.svc.drop_connections(Some("rc")).unwrap();
        let lost = dev.wait_for("lost", |e| matches!(e, Ev::Lost { .. }));
        let Ev::Lost {
            reason,
            retry_in_ms,
        } = lost
        else {
            unreachable!()
        };
        assert_eq!(reason, CloseReason::Transport);
        assert!((20..=25).contains(&retry_in_ms), "{retry_in_ms}");
        assert_eq!(
            dev.wait_for("reconnecting", |e| matches!(e, Ev::Reconnecting(_))),
            Ev::Reconnecting(round)
        );
        dev.wait_for("CONNECTED", |e| matches!(e, Ev::Connected { .. }));
        dev.wait_for("READY", |e| matches!(e, Ev::Ready(_)));
    }
    assert!(!dev.seen.iter().any(|e| matches!(e, Ev::Disconnected(_))));
    dev.client
        .send_telemetry(b"after", &[], QoS::AtLeastOnce)
        .unwrap();
    dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_)));
    dev.client.disconnect().unwrap();
    assert_eq!(
        dev.drain().last(),
        Some(&Ev::Disconnected(CloseReason::Requested))
    );
    assert!(!dev.client.is_reconnecting());
}

/// disconnect() during the backoff wait stops the loop at once and delivers the final
/// DISCONNECTED; connect() is refused while the library reconnects.
#[test]
fn disconnect_during_backoff_stops_it() {
    let hub = Hub::start();
    let slow = BackoffConfig {
        min_ms: 60_000,
        max_ms: 60_000,
        jitter_ms: 0,
    };
    let config = hub.x509("stop").auto_reconnect(slow).build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    hub.svc.drop_connections(Some("stop")).unwrap();
    dev.wait_for("lost", |e| matches!(e, Ev::Lost { .. }));
    assert!(dev.client.is_reconnecting());
    assert!(matches!(
        dev.client.connect(&config),
        Err(azure_iot_hub::port::ConnectError::Busy)
    ));
    let t = Instant::now();
    dev.client.disconnect().unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(
        dev.drain(),
        [Ev::Disconnected(CloseReason::Requested)],
        "{:#?}",
        dev.seen
    );
    assert!(!dev.client.is_reconnecting());
    // A new session works.
    dev.connect_ready(&config);
    dev.client.disconnect().unwrap();
}

/// A refusal that waiting cannot cure (CONNACK 5) ends the session; CONNACK 3 (server
/// unavailable) is retried.
#[test]
fn refusals_during_reconnect() {
    let hub = Hub::start();
    let config = hub.x509("ref").auto_reconnect(fast()).build();
    let mut dev = Device::new();
    dev.connect_ready(&config);

    let mut f = Fault::new(FaultKind::Refuse).for_device("ref");
    f.connack_code = Some(3);
    f.duration_secs = Some(0.3);
    hub.svc.add_fault(&f).unwrap();
    hub.svc.drop_connections(Some("ref")).unwrap();
    dev.wait_for("refused 3", |e| *e == Ev::Refused(3));
    dev.wait_for("lost after 3", |e| {
        matches!(
            e,
            Ev::Lost {
                reason: CloseReason::Refused,
                ..
            }
        )
    });
    dev.wait_for("READY after the fault", |e| matches!(e, Ev::Ready(_)));

    let mut f = Fault::new(FaultKind::Refuse).for_device("ref");
    f.connack_code = Some(5);
    hub.svc.add_fault(&f).unwrap();
    hub.svc.drop_connections(Some("ref")).unwrap();
    dev.wait_for("refused 5", |e| *e == Ev::Refused(5));
    dev.wait_for("final", |e| *e == Ev::Disconnected(CloseReason::Refused));
    assert!(!dev.client.is_reconnecting());
    hub.svc.clear_faults().unwrap();
}

/// Persistent session: a QoS 1 message whose PUBACK never came is re-sent (DUP, same packet ID)
/// on the next connection, which acknowledges it; a C2D message sent while the device was
/// offline is delivered after the reconnect (QoS 1 subscription, session present).
#[test]
fn persistent_session_resends_and_receives_queued_c2d() {
    let hub = Hub::start();
    let config = hub.x509("ps").persistent_session(4096).build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    let conns = hub.svc.connections().unwrap();
    let c = conns.iter().find(|c| c.device_id == "ps").unwrap();
    assert_eq!(c.subscriptions.len(), 4);

    // The hub holds back its PUBACK; the device goes away before it comes.
    let mut delay = Fault::new(FaultKind::Delay).for_device("ps");
    delay.delay_ms = Some(3_000);
    let fault = hub.svc.add_fault(&delay).unwrap();
    let id = dev
        .client
        .send_telemetry(b"kept-until-acked", &[], QoS::AtLeastOnce)
        .unwrap();
    assert_eq!(dev.client.unacknowledged(), 1);
    dev.client.abort();
    dev.wait_for("DISCONNECTED", |e| matches!(e, Ev::Disconnected(_)));
    hub.svc.clear_fault(fault.id).unwrap();
    hub.svc.wait_connected("ps", false, WAIT).unwrap();
    assert_eq!(dev.client.unacknowledged(), 1);

    hub.svc
        .send_c2d_text("ps", "while-offline", &[])
        .expect("queue C2D");

    dev.client.connect(&config).unwrap();
    assert_eq!(
        dev.wait_for("CONNECTED", |e| matches!(e, Ev::Connected { .. })),
        Ev::Connected {
            session_present: true
        }
    );
    // The queued C2D (sent by the hub right after CONNACK) and the PUBACK of the resent
    // message, in either order.
    dev.wait_for("PUBACK of the resent message", |e| *e == Ev::Puback(id));
    assert_eq!(dev.client.unacknowledged(), 0);
    assert_eq!(dev.client.resent_messages(), 1);
    if !dev.seen.iter().any(|e| matches!(e, Ev::C2d { .. })) {
        dev.wait_for("queued C2D", |e| matches!(e, Ev::C2d { .. }));
    }
    let c2d = dev
        .seen
        .iter()
        .find(|e| matches!(e, Ev::C2d { .. }))
        .unwrap();
    let Ev::C2d { payload, .. } = c2d else {
        unreachable!()
    };
    assert_eq!(payload, b"while-offline");
    let seen = hub
        .svc
        .events_from(0)
        .device("ps")
        .until(Instant::now() + Duration::from_millis(200))
        .filter_map(Result::ok)
        .filter(|e| e.payload == "kept-until-acked")
        .count();
    assert!(seen >= 1, "the message reached the hub {seen} times");
    dev.client.disconnect().unwrap();
}

/// The outbox is bounded: when it is full, send says so (nothing is dropped, nothing sent).
#[test]
fn full_outbox_refuses_send() {
    let hub = Hub::start();
    let config = hub.x509("full").persistent_session(400).build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    let mut delay = Fault::new(FaultKind::Delay).for_device("full");
    delay.delay_ms = Some(2_000);
    hub.svc.add_fault(&delay).unwrap();
    let body = [b'x'; 100];
    let mut accepted = 0;
    let refused = loop {
        match dev.client.send_telemetry(&body, &[], QoS::AtLeastOnce) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 10, "never full");
    };
    assert!(
        matches!(refused, SendError::Publish(PublishError::OutboxFull)),
        "{refused:?}"
    );
    assert_eq!(accepted, 2, "each message takes 100 + 35 + 6 bytes of 400");
    assert_eq!(dev.client.unacknowledged(), 2);
    // QoS 0 does not need the outbox.
    dev.client
        .send_telemetry(&body, &[], QoS::AtMostOnce)
        .unwrap();
    hub.svc.clear_faults().unwrap();
    dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_)));
    dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_)));
    assert_eq!(dev.client.unacknowledged(), 0);
    dev.client
        .send_telemetry(&body, &[], QoS::AtLeastOnce)
        .unwrap();
    dev.client.disconnect().unwrap();
}

/// The Plug and Play model ID reaches the hub (URL-encoded in the user name, decoded by it).
#[test]
fn model_id_seen_by_the_hub() {
    let hub = Hub::start();
    let config = hub
        .x509("pnp")
        .model_id("dtmi:com:example:Thermostat;1")
        .build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    let conns = hub.svc.connections().unwrap();
    let c = conns.iter().find(|c| c.device_id == "pnp").unwrap();
    assert_eq!(c.model_id.as_deref(), Some("dtmi:com:example:Thermostat;1"));
    dev.client.disconnect().unwrap();
    // Without the option there is none.
    let config = hub.x509("nopnp").build();
    dev.connect_ready(&config);
    let conns = hub.svc.connections().unwrap();
    let c = conns.iter().find(|c| c.device_id == "nopnp").unwrap();
    assert_eq!(c.model_id, None);
    dev.client.disconnect().unwrap();
}

/// SAS: an expired token is refused with CONNACK 5; a token made from the device key is
/// accepted (no client certificate; the server is still verified against the CA).
#[test]
fn sas_expired_refused_key_accepted() {
    let hub = Hub::start();
    let (builder, key) = hub.sas("sas1");
    let expired = hub_sas_token_until("localhost", "sas1", &key, unix_now() - 10).unwrap();
    let mut dev = Device::new();
    dev.client
        .connect(&builder.clone().sas_token(expired).build())
        .unwrap();
    dev.wait_for("refused", |e| *e == Ev::Refused(5));
    dev.wait_for("DISCONNECTED", |e| {
        *e == Ev::Disconnected(CloseReason::Refused)
    });
    // A wrong key is refused too.
    let other = "c2VjcmV0LWtleS1vZi1hbm90aGVyLWRldmljZQ==";
    dev.client
        .connect(&builder.clone().sas_key(other, 3600).build())
        .unwrap();
    dev.wait_for("refused", |e| *e == Ev::Refused(5));
    dev.wait_for("DISCONNECTED", |e| matches!(e, Ev::Disconnected(_)));

    dev.connect_ready(&builder.sas_key(&key, 3600).build());
    let conns = hub.svc.connections().unwrap();
    let c = conns.iter().find(|c| c.device_id == "sas1").unwrap();
    assert!(c.auth.to_lowercase().contains("sas"), "{}", c.auth);
    dev.client.disconnect().unwrap();
}

/// SAS renewal: with 3 s tokens the library reconnects with a fresh token after 2.4 s, before
/// the hub would close the connection at expiry; twice, with no refusal or failure.
#[test]
fn sas_token_renewed_before_expiry() {
    let hub = Hub::start();
    let (builder, key) = hub.sas("sas2");
    let config = builder.sas_key(&key, 3).build();
    let mut dev = Device::new();
    let t0 = Instant::now();
    dev.connect_ready(&config);
    for round in 1..=2u32 {
        dev.wait_for("renewal", |e| {
            matches!(
                e,
                Ev::Lost {
                    reason: CloseReason::TokenRenewal,
                    retry_in_ms: 0
                }
            )
        });
        let at = t0.elapsed();
        eprintln!("renewal {round} after {at:?}");
        assert!(
            at < Duration::from_millis(3000 * u64::from(round)),
            "{at:?}"
        );
        assert_eq!(
            dev.wait_for("reconnecting", |e| matches!(e, Ev::Reconnecting(_))),
            Ev::Reconnecting(round)
        );
        dev.wait_for("READY", |e| matches!(e, Ev::Ready(_)));
    }
    let bad: Vec<&Ev> = dev
        .seen
        .iter()
        .filter(|e| {
            matches!(
                e,
                Ev::Refused(_) | Ev::Disconnected(_) | Ev::ProtocolError(_)
            ) || matches!(e, Ev::Lost { reason, .. } if *reason != CloseReason::TokenRenewal)
        })
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    dev.client.disconnect().unwrap();
    assert_eq!(
        dev.drain().last(),
        Some(&Ev::Disconnected(CloseReason::Requested))
    );
}

/// disconnect() from the handler, on `Reconnecting`: the attempt does not happen, the session
/// ends with `Disconnected(Requested)`.
#[test]
fn disconnect_from_the_handler_while_reconnecting() {
    let hub = Hub::start();
    let config = hub.x509("hd").auto_reconnect(fast()).build();
    let mut dev = Device::new();
    dev.connect_ready(&config);
    dev.react(|client, ev| {
        if matches!(ev, Ev::Reconnecting(_)) {
            client.disconnect().unwrap();
        }
    });
    hub.svc.drop_connections(Some("hd")).unwrap();
    dev.wait_for("final", |e| matches!(e, Ev::Disconnected(_)));
    std::thread::sleep(Duration::from_millis(300));
    dev.drain();
    let after: Vec<&Ev> = dev
        .seen
        .iter()
        .skip_while(|e| !matches!(e, Ev::Lost { .. }))
        .collect();
    assert_eq!(
        after,
        [
            &Ev::Lost {
                reason: CloseReason::Transport,
                retry_in_ms: match after[0] {
                    Ev::Lost { retry_in_ms, .. } => *retry_in_ms,
                    _ => unreachable!(),
                }
            },
            &Ev::Reconnecting(1),
            &Ev::Disconnected(CloseReason::Requested)
        ]
    );
    assert!(!dev.client.is_reconnecting());
    assert_eq!(dev.client.state(), State::Disconnected);
}
