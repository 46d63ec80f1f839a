//! C API tests: C programs (tests/c/*.c) compiled against include/net/azure_iot_hub.h with
//! AddressSanitizer and UndefinedBehaviorSanitizer, linked with the library's staticlib, run, and
//! their exit code and output checked here. The programs that need a hub talk to the local hub
//! emulator, which this process starts and drives through its service API.
//!
//! The staticlib is built by a nested `cargo build --lib` into `target/capi-build` (a target
//! directory of its own, so the nested cargo does not wait for the lock of the one running the
//! tests).
//!
//! `AZURE_IOT_HUB_CAPI_VERBOSE=1 cargo test --test capi -- --nocapture` prints each program's
//! output (with the library's log at debug level on stderr).
#![cfg(all(feature = "capi", feature = "std"))]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use hub_emulator::{Config, Emulator, ServiceClient};
use serde_json::json;

mod capi_common;
use capi_common::program;

/// A running C program: its stdout lines arrive on a channel.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Proc {
    fn start(name: &str, env: &[(String, String)]) -> Proc {
        let exe = program(name);
        let mut cmd = Command::new(&exe);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CONFIG_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=1:abort_on_error=0:halt_on_error=1",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
            s
        });
        Proc {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Waits for a stdout line that contains `needle`.
    fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with("FAIL") {
                        self.fail(&format!("the program failed while waiting for {needle:?}"));
                    }
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("no line with {needle:?} within {timeout:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("the program ended before {needle:?}"))
                }
            }
        }
    }

    fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
        panic!(
            "{why}\n--- stdout ---\n{}\n--- stderr (tail) ---\n{}",
            self.seen.join("\n"),
            tail(&self.stderr_text())
        );
    }

    fn stderr_text(&mut self) -> String {
        let h = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        h.join().unwrap_or_default()
    }

    /// Waits for the exit, requires status 0 and a final "PASS"; returns all stdout lines.
    fn finish(mut self, timeout: Duration) -> Vec<String> {
        self.stdin.take();
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    self.seen.push(l);
                }
                let stderr = self.stderr_text();
                assert!(
                    status.success() && self.seen.last().is_some_and(|l| l == "PASS"),
                    "exit {status}\n--- stdout ---\n{}\n--- stderr (tail) ---\n{}",
                    self.seen.join("\n"),
                    tail(&stderr)
                );
                if std::env::var_os("AZURE_IOT_HUB_CAPI_VERBOSE").is_some() {
                    eprintln!(
                        "--- stdout ---\n{}\n--- stderr ---\n{stderr}",
                        self.seen.join("\n")
                    );
                }
                return self.seen;
            }
            if Instant::now() >= end {
                self.fail("the program did not exit in time");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

/// A local hub with a verified root CA, and certificate folders for its devices.
struct Hub {
    emu: Emulator,
    svc: ServiceClient,
    ca: cert_tool::CaBundle,
    dir: PathBuf,
}

impl Hub {
    fn start() -> Hub {
        let emu = Emulator::start(Config::temp()).expect("start the hub emulator");
        let svc = emu.service();
        let ca = cert_tool::root_ca().expect("root CA");
        svc.register_verified_ca("root", ca.cert_pem())
            .expect("register the CA");
        let dir = emu.state_dir().join("devices-certs");
        Hub { emu, svc, ca, dir }
    }

    /// Registers `id` (unless `register` is false), writes its certificate folder, and returns
    /// the environment a C program needs to connect as it with a NULL config.
    fn device(&self, id: &str, register: bool) -> Vec<(String, String)> {
        if register {
            self.svc.create_x509_ca_device(id).expect("create device");
        }
        let certs = self.dir.join(id);
        std::fs::create_dir_all(&certs).unwrap();
        let (cert, key) = cert_tool::device_identity(&self.ca, id);
        std::fs::write(certs.join("ca-cert.pem"), self.emu.ca_pem()).unwrap();
        std::fs::write(certs.join("client-cert.pem"), cert).unwrap();
        std::fs::write(certs.join("private-key.pem"), key).unwrap();
        vec![
            ("CONFIG_AZURE_IOT_HUB_HOSTNAME".into(), "localhost".into()),
            ("CONFIG_AZURE_IOT_HUB_DEVICE_ID".into(), id.into()),
            (
                "CONFIG_MQTT_HELPER_PORT".into(),
                self.emu.mqtt_addr().port().to_string(),
            ),
            (
                "CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER".into(),
                certs.display().to_string(),
            ),
        ]
    }
}

/// Certificates for programs that never reach a hub (so a TLS error cannot hide the one tested).
fn offline_env(id: &str) -> (Vec<(String, String)>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("azure-iot-hub-capi-{id}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = cert_tool::root_ca().unwrap();
    let (cert, key) = cert_tool::device_identity(&ca, id);
    std::fs::write(dir.join("ca-cert.pem"), ca.cert_pem()).unwrap();
    std::fs::write(dir.join("client-cert.pem"), cert).unwrap();
    std::fs::write(dir.join("private-key.pem"), key).unwrap();
    let env = vec![
        ("CONFIG_AZURE_IOT_HUB_DEVICE_ID".into(), id.into()),
        (
            "CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER".into(),
            dir.display().to_string(),
        ),
    ];
    (env, dir)
}

const RUN: Duration = Duration::from_secs(60);
const STEP: Duration = Duration::from_secs(20);

/// Before init and while disconnected: NULL checks first, then the state; invalid configurations
/// (-EINVAL, -EMSGSIZE, no event); transport failures (negative errno, CONNECTING only).
#[test]
fn return_codes_without_a_hub() {
    let (env, dir) = offline_env("offline-dev");
    let out = Proc::start("api_errors", &env).finish(RUN);
    let _ = std::fs::remove_dir_all(dir);
    let dns = out
        .iter()
        .find_map(|l| l.strip_prefix("dns failure: "))
        .unwrap();
    assert!(dns.parse::<i32>().unwrap() < 0);
}

/// While connect() blocks in the TLS handshake: -EINPROGRESS, -EALREADY (init), -ENOTCONN.
#[test]
fn return_codes_while_connecting() {
    let (env, dir) = offline_env("silent-server-device");
    Proc::start("api_connecting", &env).finish(RUN);
    let _ = std::fs::remove_dir_all(dir);
}

/// Connected: every return code of send() and method_respond(), twin results, PUBACKs, direct
/// methods answered from the handler (status beyond 16 bits), disconnect and reconnect.
#[test]
fn return_codes_and_events_while_connected() {
    let hub = Hub::start();
    let id = "capi-connected";
    let mut p = Proc::start("api_connected", &hub.device(id, true));

    p.expect("AWAIT method 1", STEP);
    let r = hub
        .svc
        .invoke_method(id, "echo", json!({"x": 1}), Duration::from_secs(10))
        .expect("method 1");
    assert_eq!(r.status, 200);
    assert_eq!(r.payload, json!({"method": "echo", "echo": {"x": 1}}));
    p.send_line("go");
    p.expect("RESPONDED 0", STEP);

    p.expect("AWAIT method 2", STEP);
    let r = hub
        .svc
        .invoke_method(id, "echo", json!("two"), Duration::from_secs(10))
        .expect("method 2");
    assert_eq!(r.status, 70000);
    p.send_line("go");
    p.expect("RESPONDED 0", STEP);

    p.expect("AWAIT disconnect", STEP);
    // Telemetry sent before: QoS 1 twice, and the one with properties, verbatim.
    let e = hub
        .svc
        .wait_for_event(
            |e| e.device_id == id && e.properties.get("app").is_some_and(|v| v == "capi"),
            STEP,
        )
        .expect("telemetry with properties");
    assert_eq!(e.properties.get("batch").map(String::as_str), Some(""));
    let twin = hub.svc.get_twin(id).unwrap();
    assert_eq!(twin.properties.reported["capi"], json!(true));
    p.send_line("go");
    let out = p.finish(RUN);
    // The event order of the first connection.
    let order: Vec<&str> = out
        .iter()
        .filter_map(|l| l.strip_prefix("EVT "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        &order[..4],
        ["CONNECTING", "CONNECTED", "READY", "TWIN_RECEIVED"]
    );
}

/// Refused CONNACK, late CONNACK, an oversize message and a dropped connection, as events.
#[test]
fn events_for_refusal_slow_connack_oversize_and_drop() {
    use hub_emulator::{Fault, FaultKind};
    let hub = Hub::start();
    let id = "capi-events";
    let mut env = hub.device(id, true);
    // A receive buffer of 256 + 1024 bytes.
    env.push((
        "CONFIG_MQTT_HELPER_PAYLOAD_BUFFER_LEN".into(),
        "1024".into(),
    ));
    let mut p = Proc::start("api_events", &env);

    p.expect("AWAIT refused", STEP);
    let refuse = Fault {
        connack_code: Some(3),
        ..Fault::new(FaultKind::Refuse).for_device(id)
    };
    hub.svc.add_fault(&refuse).unwrap();
    p.send_line("go");
    p.expect("EVT DISCONNECTED", STEP);

    p.expect("AWAIT slow", STEP);
    hub.svc.clear_faults().unwrap();
    hub.svc
        .add_fault(&Fault::delay(700).for_device(id))
        .unwrap();
    p.send_line("go");
    p.expect("EVT CONNECTED", STEP);
    hub.svc.clear_faults().unwrap();

    p.expect("AWAIT c2d", STEP);
    hub.svc
        .send_c2d_text(id, &"x".repeat(3000), &[("big", "1")])
        .unwrap();
    hub.svc
        .send_c2d_text(
            id,
            "small",
            &[
                ("a", "1"),
                ("b", "two words"),
                ("c", "3"),
                ("d", "4"),
                ("e", "5"),
            ],
        )
        .unwrap();
    p.send_line("go");
    let props = p.expect("PROPS ", STEP);
    // As received: URL-encoded, in the order the hub sent them, extra ones dropped.
    assert_eq!(props.matches('=').count(), 3, "{props}");

    p.expect("AWAIT drop", STEP);
    assert_eq!(hub.svc.drop_connections(Some(id)).unwrap(), 1);
    p.send_line("go");
    p.finish(RUN);
}

/// A program written for the original header, in the style of its sample, compiles unchanged
/// and sees the original's events for the hub's traffic.
#[test]
fn original_style_application() {
    let hub = Hub::start();
    let id = "capi-sample";
    let env = hub.device(id, true);
    hub.svc
        .update_desired(id, json!({"telemetryInterval": 7}))
        .unwrap();
    let mut p = Proc::start("original_app", &env);
    p.expect("Event was successfully sent", STEP);
    p.expect("Device twin received, telemetryInterval 7", STEP);
    let e = hub
        .svc
        .wait_for_event(|e| e.device_id == id, STEP)
        .expect("telemetry");
    assert!(
        e.payload.starts_with("{\"temperature\":25."),
        "{}",
        e.payload
    );

    let r = hub
        .svc
        .invoke_method(id, "led", json!(1), Duration::from_secs(10))
        .expect("led");
    assert_eq!((r.status, r.payload), (200, json!({"it": "worked"})));

    // The hub adds $.mid and $.to; CONFIG_AZURE_IOT_HUB_MSG_PROPERTY_RECV_MAX_COUNT is 3.
    hub.svc.send_c2d_text(id, "hello", &[("k", "a b")]).unwrap();
    p.expect(
        "Data received from the cloud: hello (topic type 0, 3 properties)",
        STEP,
    );
    p.expect("property k=a%20b", STEP);

    hub.svc
        .update_desired(id, json!({"telemetryInterval": 42}))
        .unwrap();
    p.expect("New telemetry interval has been applied: 42", STEP);
    p.expect("Twin request result success", STEP);
    let end = Instant::now() + STEP;
    while hub
        .svc
        .get_twin(id)
        .unwrap()
        .properties
        .reported
        .get("telemetryInterval")
        != Some(&json!(42))
    {
        assert!(
            Instant::now() < end,
            "reported telemetryInterval never reached the twin"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    hub.svc.send_c2d_text(id, "bye", &[]).unwrap();
    let out = p.finish(RUN);
    let events: Vec<&str> = out
        .iter()
        .filter_map(|l| l.strip_prefix("APP: event AZURE_IOT_HUB_EVT_"))
        .collect();
    let mut expected = vec!["CONNECTING", "CONNECTED", "READY", "TWIN_RECEIVED"];
    // With Azure FOTA (on by default, as CONFIG_AZURE_FOTA in the original), the first twin has
    // no reported firmware status: FOTA reports `current`, and the hub's 204 for that report
    // reaches the application as in the original.
    if cfg!(feature = "fota") {
        expected.push("TWIN_RESULT_SUCCESS");
    }
    expected.extend([
        "DIRECT_METHOD",
        "DATA_RECEIVED",
        "TWIN_DESIRED_RECEIVED",
        "TWIN_RESULT_SUCCESS",
        "DATA_RECEIVED",
        "DISCONNECTED",
    ]);
    assert_eq!(events, expected);
    assert!(out.iter().any(|l| l == "APP: interval 42, failures 0"));
}

/// The extensions from C, configured by `CONFIG_*` environment variables at run time: a full
/// outbox makes send() return -ENOMEM; after a drop the library reconnects (DISCONNECTED with
/// data.err, CONNECTING, CONNECTED, READY) and re-sends the unacknowledged messages; disconnect()
/// during the backoff ends the session (DISCONNECTED with data.err 0); the hub sees the model ID.
#[test]
fn extensions_from_c() {
    let hub = Hub::start();
    let id = "capi-ext";
    let mut env = hub.device(id, true);
    for (k, v) in [
        ("AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST", "n"),
        ("AZURE_IOT_HUB_AUTO_RECONNECT", "y"),
        ("AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS", "200"),
        ("AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS", "400"),
        ("AZURE_IOT_HUB_RECONNECT_JITTER_MS", "10"),
        ("AZURE_IOT_HUB_PERSISTENT_SESSION", "y"),
        ("AZURE_IOT_HUB_QOS1_QUEUE_SIZE", "300"),
        ("AZURE_IOT_HUB_MODEL_ID", "dtmi:com:example:Thermostat;1"),
    ] {
        env.push((format!("CONFIG_{k}"), v.to_string()));
    }
    let mut p = Proc::start("api_extensions", &env);
    p.expect("READY", STEP);
    let conns = hub.svc.connections().unwrap();
    let c = conns.iter().find(|c| c.device_id == id).unwrap();
    assert_eq!(c.model_id.as_deref(), Some("dtmi:com:example:Thermostat;1"));

    p.expect("AWAIT full", STEP);
    hub.svc
        .add_fault(&hub_emulator::Fault::delay(1_500).for_device(id))
        .unwrap();
    p.send_line("go");
    p.expect("FULL after", STEP);

    p.expect("AWAIT drop", STEP);
    hub.svc.clear_faults().unwrap();
    hub.svc.drop_connections(Some(id)).unwrap();
    p.send_line("go");
    p.expect("RECONNECTED", STEP);

    p.expect("AWAIT stop", STEP);
    hub.svc.drop_connections(Some(id)).unwrap();
    p.send_line("go");
    p.finish(RUN);
}
