//! The demo: starts the local IoT Hub emulator, provisions a device the way the nRF setup guide
//! does (root CA with proof of possession, sub CA, device key + CSR + certificate), runs the C
//! host sample (`samples/host/azure_iot_hub`, linked with the library) against it, and drives it
//! from the service side: telemetry, a desired-property change reported back, the `led` direct
//! method, a cloud-to-device message. Exits 0 when every step was seen.
//!
//! Usage: azure-iot-hub-demo --device-bin PATH [--state DIR] [--timeout-secs N]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use hub_emulator::{Config, Emulator, ServiceClient};
use serde_json::json;

const DEVICE_ID: &str = "my-device";

struct Args {
    device_bin: PathBuf,
    state: Option<PathBuf>,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut device_bin = None;
    let mut state = None;
    let mut timeout = Duration::from_secs(30);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--device-bin" => device_bin = it.next().map(PathBuf::from),
            "--state" => state = it.next().map(PathBuf::from),
            "--timeout-secs" => {
                let n = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--timeout-secs needs a number")?;
                timeout = Duration::from_secs(n);
            }
            "-h" | "--help" => {
                return Err(
                    "usage: azure-iot-hub-demo --device-bin PATH [--state DIR] [--timeout-secs N]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        device_bin: device_bin.ok_or("--device-bin is required")?,
        state,
        timeout,
    })
}

/// Lines the device printed, with a way to wait for one.
struct DeviceOutput {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl DeviceOutput {
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<String, String> {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return Ok(l.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return Ok(line);
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "the device did not print \"{needle}\" within {timeout:?}"
                    ))
                }
            }
        }
    }

    fn forget(&mut self) {
        while let Ok(l) = self.rx.try_recv() {
            self.seen.push(l);
        }
        self.seen.clear();
    }
}

fn step(n: usize, what: &str) {
    println!("\n[demo] step {n}: {what}");
}

fn ok(what: &str) {
    println!("[demo]   ok: {what}");
}

fn provision(svc: &ServiceClient, certs: &Path, emulator_ca: &str) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    // The nRF guide: root CA, sub CA, proof of possession of the root with a verification code.
    let root = cert_tool::root_ca().map_err(|x| e(&x))?;
    let sub = cert_tool::sub_ca(&root).map_err(|x| e(&x))?;
    svc.register_ca("demo-root", root.cert_pem(), false)
        .map_err(|x| e(&x))?;
    let code = svc.ca_verification_code("demo-root").map_err(|x| e(&x))?;
    let proof_key = cert_tool::client_key().map_err(|x| e(&x))?;
    let proof_csr = cert_tool::csr(&proof_key, &code).map_err(|x| e(&x))?;
    let proof = cert_tool::sign_csr(proof_csr, &root).map_err(|x| e(&x))?;
    let ca = svc.verify_ca("demo-root", &proof).map_err(|x| e(&x))?;
    println!(
        "[demo]   CA \"demo-root\" registered and verified with code {code}: {}",
        if ca.is_verified {
            "verified"
        } else {
            "NOT verified"
        }
    );
    // The device: key, CSR with CN = device ID, certificate from the sub CA.
    let key = cert_tool::client_key().map_err(|x| e(&x))?;
    let csr = cert_tool::csr(&key, DEVICE_ID).map_err(|x| e(&x))?;
    let cert = cert_tool::sign_csr(csr, &sub).map_err(|x| e(&x))?;
    std::fs::create_dir_all(certs).map_err(|x| e(&x))?;
    cert_tool::write_pem(certs.join("ca-cert.pem"), emulator_ca).map_err(|x| e(&x))?;
    // The chain the device presents: its certificate, then the sub CA.
    cert_tool::write_pem(
        certs.join("client-cert.pem"),
        &format!("{cert}{}", sub.cert_pem()),
    )
    .map_err(|x| e(&x))?;
    cert_tool::write_pem(certs.join("private-key.pem"), &key).map_err(|x| e(&x))?;
    svc.create_x509_ca_device(DEVICE_ID).map_err(|x| e(&x))?;
    println!(
        "[demo]   device \"{DEVICE_ID}\" created (X.509 CA-signed); certificates in {}",
        certs.display()
    );
    Ok(())
}

fn spawn_device(bin: &Path, emu: &Emulator, certs: &Path) -> Result<(Child, DeviceOutput), String> {
    let mut child = Command::new(bin)
        .env("CONFIG_AZURE_IOT_HUB_HOSTNAME", "localhost")
        .env("CONFIG_AZURE_IOT_HUB_DEVICE_ID", DEVICE_ID)
        .env(
            "CONFIG_MQTT_HELPER_PORT",
            emu.mqtt_addr().port().to_string(),
        )
        .env("CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER", certs)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("    [device] {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((
        child,
        DeviceOutput {
            rx,
            seen: Vec::new(),
        },
    ))
}

fn run(args: &Args) -> Result<(), String> {
    let t = args.timeout;
    let state = args.state.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("azure-iot-hub-demo-{}", std::process::id()))
    });
    let mut cfg = Config::ephemeral(&state);
    cfg.remove_state_on_drop = args.state.is_none();
    let emu = Emulator::start(cfg).map_err(|e| format!("emulator: {e}"))?;
    let svc = emu.service();
    println!(
        "[demo] emulator: MQTT/TLS on {}, service API on {}",
        emu.mqtt_addr(),
        emu.http_url()
    );

    step(
        1,
        "provision a CA and a device, as the nRF setup guide does",
    );
    let certs = state.join("device-certs");
    provision(&svc, &certs, &emu.ca_pem())?;

    step(
        2,
        "start the C sample (samples/host/azure_iot_hub) and see telemetry arrive",
    );
    let (mut child, mut out) = spawn_device(&args.device_bin, &emu, &certs)?;
    let result = drive(&svc, &mut out, t);
    // Stop the device the way an operator would, and check it leaves cleanly.
    // SIGTERM through `kill`, so no unsafe code is needed here.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    result?;
    match status {
        Some(s) if s.success() => ok("the device disconnected and exited 0"),
        other => return Err(format!("the device did not exit cleanly: {other:?}")),
    }
    Ok(())
}

fn drive(svc: &ServiceClient, out: &mut DeviceOutput, t: Duration) -> Result<(), String> {
    out.wait_for("event: READY", t)?;
    ok("device connected and subscribed (READY)");
    let ev = svc
        .wait_for_event(
            |e| e.device_id == DEVICE_ID && e.payload.contains("temperature"),
            t,
        )
        .map_err(|e| format!("no telemetry: {e}"))?;
    ok(&format!("telemetry arrived at the hub: {}", ev.payload));

    step(3, "change the desired property telemetryInterval to 2 s");
    out.forget();
    svc.update_desired(DEVICE_ID, json!({ "telemetryInterval": 2 }))
        .map_err(|e| e.to_string())?;
    out.wait_for("reported: {\"telemetryInterval\":2}", t)?;
    let deadline = Instant::now() + t;
    loop {
        let twin = svc.get_twin(DEVICE_ID).map_err(|e| e.to_string())?;
        if twin.properties.reported["telemetryInterval"] == json!(2) {
            ok("the twin's reported telemetryInterval is 2");
            break;
        }
        if Instant::now() > deadline {
            return Err("the reported telemetryInterval never became 2".into());
        }
        thread::sleep(Duration::from_millis(100));
    }
    // Two telemetry messages after the change, about 2 s apart.
    let mut events = svc.events().map_err(|e| e.to_string())?.device(DEVICE_ID);
    let mut stamps = Vec::new();
    while stamps.len() < 3 {
        match events.next_timeout(t).map_err(|e| e.to_string())? {
            Some(_) => stamps.push(Instant::now()),
            None => return Err("telemetry stopped after the interval change".into()),
        }
    }
    let gaps: Vec<f64> = stamps
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    if gaps.iter().any(|g| !(1.0..=3.5).contains(g)) {
        return Err(format!("telemetry interval is not ~2 s: gaps {gaps:.2?}"));
    }
    ok(&format!("telemetry now every ~2 s (gaps {gaps:.2?} s)"));

    step(4, "invoke the direct method \"led\"");
    let r = svc
        .invoke_method(DEVICE_ID, "led", json!(1), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    out.wait_for("LED 1 on", t)?;
    if r.status != 200 || r.payload != json!({ "it": "worked" }) {
        return Err(format!(
            "unexpected method response: {} {}",
            r.status, r.payload
        ));
    }
    ok(&format!(
        "method answered: status {} payload {}",
        r.status, r.payload
    ));

    step(5, "send a cloud-to-device message with a property");
    svc.send_c2d_text(DEVICE_ID, "hello from the cloud", &[("color", "blue")])
        .map_err(|e| e.to_string())?;
    out.wait_for("C2D message received: hello from the cloud", t)?;
    out.wait_for("property: color=blue", t)?;
    ok("the device printed the message and its property");
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => {
            println!("\n[demo] every step was seen: telemetry, desired property reported back, method led → 200, C2D printed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\n[demo] FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
