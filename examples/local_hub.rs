//! The Linux port against the local hub emulator, all in one process and with no set-up:
//! makes a test CA and a device certificate, starts the emulator, connects, and drives the
//! device from the service side (telemetry, C2D, a direct method, a desired-property update).
//!
//! ```text
//! cargo run --example local_hub
//! ```

use std::sync::mpsc;
use std::time::{Duration, Instant};

use azure_iot_hub::hub::{Event, Property, Received};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::port::{ConnectConfig, HubClient, PortEvent};
use hub_emulator::{Config, Emulator};

/// An event as one line, with payloads as text.
fn describe(event: &PortEvent<'_>) -> String {
    let text = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    match event {
        PortEvent::Hub(Event::Message {
            payload,
            kind: Received::C2d { properties },
            ..
        }) => format!("C2d {} {}", properties.as_str(), text(payload)),
        PortEvent::Hub(Event::Message {
            payload,
            kind: Received::DirectMethod { name, request_id },
            ..
        }) => {
            format!("DirectMethod {name} rid={request_id} {}", text(payload))
        }
        PortEvent::Hub(Event::Message {
            payload,
            kind: Received::TwinDocument { request_id },
            ..
        }) => {
            format!("TwinDocument rid={request_id} {}", text(payload))
        }
        PortEvent::Hub(Event::Message {
            payload,
            kind: Received::TwinDesired { version },
            ..
        }) => format!("TwinDesired v{version} {}", text(payload)),
        PortEvent::Hub(Event::Message {
            kind: Received::TwinResult { request_id, status },
            ..
        }) => format!("TwinResult rid={request_id} {status}"),
        other => format!("{other:?}"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The hub, with a verified CA for device certificates.
    let emu = Emulator::start(Config::temp())?;
    let svc = emu.service();
    let ca = cert_tool::root_ca()?;
    svc.register_verified_ca("demo-root", ca.cert_pem())?;
    svc.create_x509_ca_device("demo-device")?;

    // The device's certificates folder, laid out as the security tags expect.
    let certs = tempfile::tempdir()?;
    let (cert, key) = cert_tool::device_identity(&ca, "demo-device");
    std::fs::write(certs.path().join("ca-cert.pem"), emu.ca_pem())?;
    std::fs::write(certs.path().join("client-cert.pem"), cert)?;
    std::fs::write(certs.path().join("private-key.pem"), key)?;
    let config = ConnectConfig::builder()
        .hostname("localhost")
        .device_id("demo-device")
        .port(emu.mqtt_addr().port())
        .certificates(certs.path())
        .build();

    let (tx, rx) = mpsc::channel::<String>();
    let client = HubClient::with_handler(move |client, event| {
        if let PortEvent::Hub(Event::Message {
            kind: Received::DirectMethod { request_id, .. },
            ..
        }) = event
        {
            client
                .respond_to_method(request_id.as_str(), 200, br#"{"result":"done"}"#)
                .ok();
        }
        let _ = tx.send(describe(event));
    });
    let wait_for = |what: &str| -> Result<String, Box<dyn std::error::Error>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).map_err(|_| format!("no {what}"))?;
            println!("device event: {line}");
            if line.contains(what) {
                return Ok(line);
            }
        }
    };

    let t = Instant::now();
    client.connect(&config)?;
    wait_for("Ready")?;
    println!("connected and subscribed in {:?}", t.elapsed());
    wait_for("TwinDocument")?;

    let id = client.send_telemetry(
        br#"{"temperature":21.5}"#,
        &[Property::new("unit", "C")],
        QoS::AtLeastOnce,
    )?;
    wait_for(&format!("Puback {{ packet_id: {id} }}"))?;
    let ev = svc.wait_for_event(|e| e.device_id == "demo-device", Duration::from_secs(5))?;
    println!("service saw telemetry: {} {:?}", ev.payload, ev.properties);

    svc.send_c2d_text("demo-device", "hello device", &[("kind", "greeting")])?;
    wait_for("C2d")?;

    let res = svc.invoke_method(
        "demo-device",
        "reboot",
        serde_json::json!({}),
        Duration::from_secs(5),
    )?;
    println!(
        "service saw the method response: {} {}",
        res.status, res.payload
    );

    svc.update_desired("demo-device", serde_json::json!({"interval": 5}))?;
    wait_for("TwinDesired")?;
    client.report_properties(br#"{"interval":5}"#)?;
    wait_for("TwinResult")?;

    client.disconnect().ok();
    wait_for("Disconnected")?;
    Ok(())
}
