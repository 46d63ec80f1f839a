//! A device application on the Linux port: telemetry every few seconds, answers direct methods,
//! follows desired properties and reports them back. Everything comes from the Kconfig defaults
//! and the `CONFIG_*` environment variables (see docs/linux.md), for example against a local hub:
//!
//! ```text
//! CONFIG_AZURE_IOT_HUB_HOSTNAME=localhost CONFIG_AZURE_IOT_HUB_DEVICE_ID=my-device \
//! CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER=certs CONFIG_MQTT_HELPER_PORT=8883 \
//! cargo run --example device -- 5
//! ```
//!
//! The argument is how many telemetry messages to send before disconnecting (default 10).

use std::sync::mpsc;
use std::time::Duration;

use azure_iot_hub::hub::{Event, Property, Received};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::port::{ConnectConfig, HubClient, PortEvent};

/// What the handler tells the main thread.
enum Note {
    Ready,
    Closed,
}

/// A minimal logger: the library logs under `azure_iot_hub` and `mqtt_helper`.
struct Stderr;
impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("[{} {}] {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {}
}

fn main() {
    log::set_logger(&Stderr)
        .map(|()| log::set_max_level(log::LevelFilter::Info))
        .ok();
    let count: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let config = ConnectConfig::from_config();
    let (tx, rx) = mpsc::channel();

    // Events arrive on the worker thread; the handler answers from there.
    let client = HubClient::with_handler(move |client, event| match event {
        PortEvent::Hub(Event::Ready { .. }) => {
            let _ = tx.send(Note::Ready);
        }
        PortEvent::Hub(Event::Message {
            payload,
            kind: Received::DirectMethod { name, request_id },
            ..
        }) => {
            println!("method {name}: {}", String::from_utf8_lossy(payload));
            let status = if *name == "ping" { 200 } else { 404 };
            let _ = client.respond_to_method(request_id.as_str(), status, br#"{"pong":true}"#);
        }
        PortEvent::Hub(Event::Message {
            payload,
            kind: Received::TwinDesired { version },
            ..
        }) => {
            // Acknowledge the desired state by reporting the version seen.
            println!("desired: {}", String::from_utf8_lossy(payload));
            let report = format!(r#"{{"lastDesiredVersion":{version}}}"#);
            let _ = client.report_properties(report.as_bytes());
        }
        PortEvent::Hub(Event::Message {
            payload,
            kind: Received::TwinDocument { .. },
            ..
        }) => {
            println!("twin: {}", String::from_utf8_lossy(payload));
        }
        PortEvent::Hub(Event::Message {
            payload,
            kind: Received::C2d { properties },
            ..
        }) => {
            println!(
                "C2D {}: {}",
                properties.as_str(),
                String::from_utf8_lossy(payload)
            );
        }
        PortEvent::Disconnected(reason) => {
            println!("disconnected: {reason:?}");
            let _ = tx.send(Note::Closed);
        }
        other => println!("{other:?}"),
    });

    if let Err(e) = client.connect(&config) {
        eprintln!("connect to {}:{} failed: {e}", config.hostname, config.port);
        std::process::exit(1);
    }
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Note::Ready) => {}
        _ => {
            eprintln!("the hub did not accept the connection");
            std::process::exit(1);
        }
    }
    for i in 0..count {
        let body = format!(
            r#"{{"count":{i},"temperature":{:.1}}}"#,
            20.0 + f64::from(i % 10) / 2.0
        );
        let props = [
            Property::new("%24.ct", "application%2Fjson"),
            Property::new("%24.ce", "utf-8"),
        ];
        match client.send_telemetry(body.as_bytes(), &props, QoS::AtLeastOnce) {
            Ok(id) => println!("sent telemetry {i} (packet id {id})"),
            Err(e) => eprintln!("send failed: {e}"),
        }
        if let Ok(Note::Closed) = rx.recv_timeout(Duration::from_secs(3)) {
            return;
        }
    }
    let _ = client.disconnect();
}
