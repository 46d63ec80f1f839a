//! Soak: a QoS 1 telemetry stream with persistent session, automatic reconnect and the outbox,
//! while the hub emulator drops the device's connection at random (at least 1,000 times). Every
//! message the application handed over (`send` returned Ok) must arrive at the hub; duplicates
//! (re-sent with DUP after a drop) are allowed and counted. Prints the counts and the time.

mod linux_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_iot_hub::backoff::BackoffConfig;
use azure_iot_hub::hub::{Event, PublishError};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::port::{ConnectConfig, HubClient, PortEvent, SendError};
use hub_emulator::{Config, Emulator};
use linux_common::write_primary;

const DROPS: u64 = 1_000;
/// The emulator keeps the last 10,000 telemetry events: stay well below with the duplicates.
const MAX_MESSAGES: u64 = 7_000;

/// A small deterministic PRNG (xorshift64*), so that a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn qos1_stream_survives_1000_drops() {
    let emu = Emulator::start(Config::temp()).unwrap();
    let svc = emu.service();
    let ca = cert_tool::root_ca().unwrap();
    svc.register_verified_ca("root", ca.cert_pem()).unwrap();
    svc.create_x509_ca_device("soak").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = cert_tool::device_identity(&ca, "soak");
    write_primary(dir.path(), &emu.ca_pem(), &cert, &key);
    let config = ConnectConfig::builder()
        .hostname("localhost")
        .device_id("soak")
        .port(emu.mqtt_addr().port())
        .certificates(dir.path())
        .send_timeout(Some(Duration::from_secs(5)))
        .auto_twin_request(false)
        .auto_reconnect(BackoffConfig {
            min_ms: 1,
            max_ms: 8,
            jitter_ms: 2,
        })
        .persistent_session(16 * 1024)
        .build();

    let ready = Arc::new(AtomicBool::new(false));
    let readies = Arc::new(AtomicU64::new(0));
    let attempts = Arc::new(AtomicU64::new(0));
    let losses = Arc::new(AtomicU64::new(0));
    let pubacks = Arc::new(AtomicU64::new(0));
    let finals = Arc::new(AtomicU64::new(0));
    let (r, n, p, f, a, l) = (
        ready.clone(),
        readies.clone(),
        pubacks.clone(),
        finals.clone(),
        attempts.clone(),
        losses.clone(),
    );
    let client = HubClient::new(Box::new(move |ev| match ev {
        PortEvent::Hub(Event::Ready { .. }) => {
            n.fetch_add(1, Ordering::SeqCst);
            r.store(true, Ordering::SeqCst);
        }
        PortEvent::Hub(Event::Puback { .. }) => {
            p.fetch_add(1, Ordering::SeqCst);
        }
        PortEvent::ConnectionLost { .. } => {
            l.fetch_add(1, Ordering::SeqCst);
            r.store(false, Ordering::SeqCst);
        }
        PortEvent::Reconnecting { .. } => {
            a.fetch_add(1, Ordering::SeqCst);
        }
        PortEvent::Disconnected(_) => {
            f.fetch_add(1, Ordering::SeqCst);
            r.store(false, Ordering::SeqCst);
        }
        _ => {}
    }));
    let t0 = Instant::now();
    client.connect(&config).unwrap();

    // The dropper: waits until the device is READY, lets it run 0..4 ms, drops it.
    let done = Arc::new(AtomicBool::new(false));
    let dropper = {
        let svc = svc.clone();
        let ready = ready.clone();
        let done = done.clone();
        let losses = losses.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            let mut drops = 0u64;
            let limit = Instant::now() + Duration::from_secs(120);
            // Until the device has seen DROPS connections dropped under it.
            while losses.load(Ordering::SeqCst) < DROPS && Instant::now() < limit {
                if !ready.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                std::thread::sleep(Duration::from_micros(rng.next() % 4_000));
                drops += svc.drop_connections(Some("soak")).unwrap() as u64;
            }
            done.store(true, Ordering::SeqCst);
            drops
        })
    };

    // The application: numbered QoS 1 messages; on "not connected" or "outbox full" it waits a
    // little and hands the same message over again (nothing accepted may be lost).
    let mut sent = 0u64;
    let mut refused_full = 0u64;
    let mut refused_offline = 0u64;
    while !done.load(Ordering::SeqCst) {
        if sent >= MAX_MESSAGES {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let body = format!("m{sent}");
        match client.send_telemetry(body.as_bytes(), &[], QoS::AtLeastOnce) {
            Ok(_) => sent += 1,
            Err(SendError::Publish(PublishError::OutboxFull)) => {
                refused_full += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
            Err(SendError::Publish(PublishError::NotConnected)) | Err(SendError::Io(_)) => {
                refused_offline += 1;
                std::thread::sleep(Duration::from_micros(300));
            }
            Err(e) => panic!("unexpected send error: {e:?}"),
        }
        std::thread::sleep(Duration::from_micros(1_000));
    }
    let drop_calls = dropper.join().unwrap();
    let drops = losses.load(Ordering::SeqCst);
    assert!(drops >= DROPS, "only {drops} drops");

    // Drain: the outbox empties once the last PUBACKs came.
    let limit = Instant::now() + Duration::from_secs(20);
    while client.unacknowledged() > 0 {
        assert!(
            Instant::now() < limit,
            "{} messages never acknowledged",
            client.unacknowledged()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The last drop's reconnection.
    while !ready.load(Ordering::SeqCst) {
        assert!(Instant::now() < limit, "not READY after the last drop");
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = t0.elapsed();
    client.disconnect().unwrap();
    assert_eq!(finals.load(Ordering::SeqCst), 1, "one final DISCONNECTED");

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    // Every event the emulator holds, page by page.
    let mut since = 0;
    loop {
        let page = svc
            .events_page(Some(since), Some("soak"), Duration::ZERO)
            .unwrap();
        if page.events.is_empty() {
            break;
        }
        for e in page.events {
            *counts.entry(e.payload).or_default() += 1;
        }
        since = page.next;
    }
    let missing: Vec<u64> = (0..sent)
        .filter(|i| !counts.contains_key(&format!("m{i}")))
        .collect();
    let received: u64 = counts.values().sum();
    let duplicates = received - counts.len() as u64;
    eprintln!(
        "soak: {sent} messages sent, {drops} connections dropped under the device ({drop_calls} closed by the hub), {} reconnect attempts, {} READY, \
         {received} received ({} unique, {duplicates} duplicates), {} re-sent with DUP, {} PUBACKs, \
         send refused {refused_offline}x offline / {refused_full}x outbox full, {elapsed:.2?}",
        attempts.load(Ordering::SeqCst),
        readies.load(Ordering::SeqCst),
        counts.len(),
        client.resent_messages(),
        pubacks.load(Ordering::SeqCst),
    );
    assert!(
        missing.is_empty(),
        "lost {} messages: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(
        counts.len() as u64,
        sent,
        "no message the device did not send"
    );
    assert!(sent > DROPS, "the stream kept flowing: {sent} messages");
    // Drops caught messages between PUBLISH and PUBACK: the outbox path was exercised.
    assert!(client.resent_messages() > 0);
    // Every drop was followed by a reconnection (a drop may hit a connection before its READY).
    assert!(attempts.load(Ordering::SeqCst) >= drops);
}
