//! Microsoft's official Python device SDK (`azure-iot-device`, pinned below) against the
//! emulator, unchanged: the scripts in `tests/official_sdk/` use only the SDK's public API.
//!
//! The SDK is installed once into a venv in the target folder (`target/official-sdk-venv`);
//! later runs reuse it. Set `AZURE_IOT_HUB_SKIP_OFFICIAL_SDK=1` to skip these tests (for
//! machines with no Python or no PyPI); without it, a failed install fails the tests.
//!
//! The SDK always connects to port 8883 (MQTT) and has no option to change it; it does have a
//! documented proxy option (`proxy_options=ProxyOptions("HTTP", host, port)`). So the full X.509
//! scenario runs the emulator on 127.0.0.1:8883 when that port is free (a direct connection),
//! and every other scenario (or that one, when 8883 is taken) reaches an emulator on an
//! ephemeral port through a small HTTP CONNECT proxy in this file, which checks that the SDK
//! asked for `<hub host>:8883`. TLS and MQTT go end to end, untouched.

mod common;

use hub_emulator::{Attestation, Authentication, Config, EnrollmentGroup, Status};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const SDK_PIN: &str = "azure-iot-device==2.14.0";
const SKIP_ENV: &str = "AZURE_IOT_HUB_SKIP_OFFICIAL_SDK";
const VENV_DIR: &str = "official-sdk-venv";
/// Longest a script may take from start to exit.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(45);
/// Longest one step of a script may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(25);

// ------------------------------------------------------------------ the venv

fn skip_requested() -> bool {
    if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
        eprintln!("official SDK test skipped: {SKIP_ENV}=1");
        true
    } else {
        false
    }
}

/// The cargo target folder this test binary was built in: `CARGO_TARGET_DIR` when the binary
/// is inside it, else found from the binary's path
/// (`<target>[/<triple>]/<profile>/deps/<binary>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    if let (Some(exe), Some(t)) = (&exe, std::env::var_os("CARGO_TARGET_DIR")) {
        let t = std::fs::canonicalize(&t).unwrap_or_else(|_| PathBuf::from(t));
        if exe.starts_with(&t) {
            return t;
        }
    }
    let profile = exe
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| d.ends_with("deps"))
        .and_then(Path::parent);
    if let Some(t) = profile.and_then(Path::parent) {
        // With `--target`, the triple's folder sits in between; cargo tags the real one.
        return match t.parent() {
            Some(up) if !t.join("CACHEDIR.TAG").exists() && up.join("CACHEDIR.TAG").exists() => {
                up.to_path_buf()
            }
            _ => t.to_path_buf(),
        };
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

fn run_setup(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {cmd:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// Creates `target/official-sdk-venv` with the pinned SDK unless it is there already, and
/// returns its Python. Built under a temporary name and renamed, so an interrupted or
/// concurrent install never leaves a half-made venv under the final name.
fn create_venv() -> Result<PathBuf, String> {
    let target = target_dir();
    let venv = target.join(VENV_DIR);
    let python = venv.join("bin").join("python");
    let marker = venv.join("installed.txt");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == SDK_PIN) && python.exists() {
        return Ok(python);
    }
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let _ = std::fs::remove_dir_all(&venv);
    let partial = target.join(format!("{VENV_DIR}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let started = Instant::now();
    eprintln!("official SDK: creating {} with {SDK_PIN}", venv.display());
    let base = std::env::var_os("PYTHON3").unwrap_or_else(|| "python3".into());
    run_setup(
        Command::new(&base).arg("-m").arg("venv").arg(&partial),
        "creating the venv (python3 with its venv module is needed: bash scripts/deps.sh \
         installs Debian's python3 and python3-venv)",
    )?;
    let pip = run_setup(
        Command::new(partial.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--timeout", "30", "--retries", "2", SDK_PIN]),
        &format!("pip install {SDK_PIN} (is PyPI reachable? set {SKIP_ENV}=1 to skip)"),
    );
    if let Err(e) = pip {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    std::fs::write(partial.join("installed.txt"), format!("{SDK_PIN}\n"))
        .map_err(|e| e.to_string())?;
    if std::fs::rename(&partial, &venv).is_err() {
        // Another process finished first; use its venv.
        let _ = std::fs::remove_dir_all(&partial);
    }
    eprintln!(
        "official SDK: venv ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !python.exists() {
        return Err(format!("{} missing after the install", python.display()));
    }
    Ok(python)
}

/// The venv's Python, set up once per test binary. Panics with the reason when it cannot be
/// had.
fn sdk_python() -> PathBuf {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PY.get_or_init(create_venv) {
        Ok(p) => p.clone(),
        Err(e) => panic!(
            "the official Azure IoT device SDK could not be set up: {e}\n\
             (set {SKIP_ENV}=1 to skip these tests)"
        ),
    }
}

// ------------------------------------------------------------------ an HTTP CONNECT proxy

/// Accepts `CONNECT host:8883` and pipes the connection to the emulator's MQTT port, which
/// the SDK cannot be told. Records what was asked for.
struct Proxy {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let _ = Proxy::serve(conn, upstream, &seen);
                });
            }
        });
        Proxy { addr, requests }
    }

    fn serve(
        mut client: TcpStream,
        upstream: SocketAddr,
        seen: &Mutex<Vec<String>>,
    ) -> std::io::Result<()> {
        client.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
            if client.read(&mut byte)? == 0 {
                return Ok(());
            }
            head.push(byte[0]);
        }
        client.set_read_timeout(None)?;
        let head = String::from_utf8_lossy(&head).to_string();
        let line = head.lines().next().unwrap_or_default().to_string();
        seen.lock().unwrap().push(line.clone());
        let mut words = line.split_whitespace();
        let ok =
            words.next() == Some("CONNECT") && words.next().is_some_and(|t| t.ends_with(":8883"));
        if !ok {
            client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        }
        let server = TcpStream::connect(upstream)?;
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        let (mut c2, mut s2) = (client.try_clone()?, server.try_clone()?);
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut c2, &mut s2);
            let _ = s2.shutdown(std::net::Shutdown::Write);
        });
        let (mut s, mut c) = (server, client);
        let _ = std::io::copy(&mut s, &mut c);
        let _ = c.shutdown(std::net::Shutdown::Both);
        let _ = up.join();
        Ok(())
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

// ------------------------------------------------------------------ the test's setup

struct Setup {
    env: common::Env,
    /// `Some` when the SDK goes through the proxy.
    proxy: Option<Proxy>,
    /// Certificates and script configs (inside the emulator's temp state folder).
    dir: PathBuf,
}

impl Setup {
    /// An emulator with the verified CA "root". `direct_8883`: try to listen on
    /// 127.0.0.1:8883 so the SDK connects with no proxy.
    fn start(direct_8883: bool) -> Setup {
        let mut env = None;
        // The SDK resolves the hub host (`localhost`) and may try ::1 first: 8883 must be free
        // there too.
        let v6_taken = || {
            TcpStream::connect_timeout(
                &SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 8883)),
                Duration::from_millis(300),
            )
            .is_ok()
        };
        if direct_8883 && v6_taken() {
            eprintln!("official SDK: [::1]:8883 is taken; using the CONNECT proxy");
        } else if direct_8883 {
            let cfg = Config {
                mqtt_addr: SocketAddr::from(([127, 0, 0, 1], 8883)),
                ..Config::temp()
            };
            match hub_emulator::Emulator::start(cfg) {
                Ok(emu) => {
                    let svc = emu.service();
                    let ca = common::Ca::new("Test Root CA");
                    svc.register_verified_ca("root", &ca.cert_pem).unwrap();
                    env = Some(common::Env { emu, svc, ca });
                }
                Err(e) => eprintln!(
                    "official SDK: 127.0.0.1:8883 not available ({e}); using the CONNECT proxy"
                ),
            }
        }
        let direct = env.is_some();
        let env = env.unwrap_or_else(common::start);
        let proxy = (!direct).then(|| Proxy::start(env.emu.mqtt_addr()));
        let dir = env.emu.state_dir().join("official-sdk");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("emulator-ca.pem"), env.ca_pem()).unwrap();
        Setup { env, proxy, dir }
    }

    /// Writes a CA-signed certificate and key for `cn`; returns their paths.
    fn device_cert(&self, cn: &str) -> (PathBuf, PathBuf) {
        let ident = self.env.ca.issue(cn);
        let cert = self.dir.join(format!("{cn}.pem"));
        let key = self.dir.join(format!("{cn}.key"));
        std::fs::write(&cert, &ident.cert_pem).unwrap();
        std::fs::write(&key, pkcs8_pem(&ident.key_der)).unwrap();
        (cert, key)
    }

    /// The script config: `fields` plus the host, the CA file and the proxy.
    fn config(&self, name: &str, mut fields: Value) -> PathBuf {
        let o = fields.as_object_mut().unwrap();
        o.insert("host".into(), json!(self.env.emu.config().hub_hostname));
        o.insert(
            "ca_file".into(),
            json!(self.dir.join("emulator-ca.pem").display().to_string()),
        );
        if let Some(p) = &self.proxy {
            o.insert(
                "proxy".into(),
                json!({"host": "127.0.0.1", "port": p.addr.port()}),
            );
        }
        let path = self.dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&fields).unwrap()).unwrap();
        path
    }

    fn run(&self, script: &str, config: &Path) -> Script {
        Script::spawn(&sdk_python(), script, config)
    }

    /// With the proxy: every connection asked for `<hub host>:8883`.
    fn check_proxy(&self, min_connections: usize) {
        if let Some(p) = &self.proxy {
            let reqs = p.requests();
            let want = format!("CONNECT {}:8883 ", self.env.emu.config().hub_hostname);
            assert!(reqs.len() >= min_connections, "proxy requests: {reqs:?}");
            assert!(reqs.iter().all(|r| r.starts_with(&want)), "{reqs:?}");
        }
    }
}

fn pkcs8_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

// ------------------------------------------------------------------ running a script

/// A running SDK script: its JSON lines on stdout are the steps; stdout and stderr are kept
/// for the failure message.
struct Script {
    name: String,
    child: Child,
    lines: Receiver<String>,
    log: Arc<Mutex<String>>,
    started: Instant,
}

impl Script {
    fn spawn(python: &Path, script: &str, config: &Path) -> Script {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/official_sdk");
        let mut cmd = Command::new(python);
        cmd.arg("-u")
            .arg(dir.join(script))
            .arg(config)
            .current_dir(&dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // paho-mqtt would use a proxy from the environment; only the test's own counts.
        for v in ["mqtt_proxy", "all_proxy", "https_proxy", "http_proxy"] {
            cmd.env_remove(v).env_remove(v.to_uppercase());
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push_str(&format!("[stdout] {line}\n"));
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let err = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push_str(&format!("[stderr] {line}\n"));
            }
        });
        Script {
            name: script.to_string(),
            child,
            lines,
            log,
            started: Instant::now(),
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        std::thread::sleep(Duration::from_millis(100)); // let the readers catch up
        panic!(
            "{}: {why} (after {:.1} s, exit {status:?})\n{}",
            self.name,
            self.started.elapsed().as_secs_f64(),
            self.log.lock().unwrap()
        );
    }

    /// Waits for the step `event` and returns its line.
    fn expect(&mut self, event: &str) -> Value {
        let deadline = (Instant::now() + STEP_TIMEOUT).min(self.started + SCRIPT_TIMEOUT);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let Ok(v) = serde_json::from_str::<Value>(&line) else {
                        continue; // not one of ours
                    };
                    match v["event"].as_str() {
                        Some(e) if e == event => return v,
                        Some("error") => self.fail(&format!("failed before `{event}`")),
                        _ => {}
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.fail(&format!("no `{event}` in time")),
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("exited before `{event}`"))
                }
            }
        }
    }

    /// Waits for `done` and a zero exit; asserts the SDK lost its connection (and reconnected)
    /// only as often as the test made it.
    fn finish(mut self, expected_drops: u64) -> Value {
        let done = self.expect("done");
        let deadline = self.started + SCRIPT_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) if s.success() => break,
                Ok(Some(s)) => self.fail(&format!("exit status {s}")),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => self.fail("did not exit"),
            }
        }
        if done["drops"] != json!(expected_drops) {
            self.fail(&format!(
                "the SDK lost its connection {} times, expected {expected_drops}",
                done["drops"]
            ));
        }
        eprintln!(
            "official SDK: {} passed in {:.1} s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
        done
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ------------------------------------------------------------------ scenarios

/// X.509 CA-signed device: telemetry with properties, twin get / reported / desired, a direct
/// method and C2D.
#[test]
fn x509_device_telemetry_twin_methods_c2d() {
    if skip_requested() {
        return;
    }
    let s = Setup::start(true);
    let svc = &s.env.svc;
    let dev = "sdk-x509-device";
    svc.create_x509_ca_device(dev).unwrap();
    svc.update_desired(dev, json!({"interval": 10})).unwrap();
    let (cert, key) = s.device_cert(dev);
    let cfg = s.config(
        "x509",
        json!({"device_id": dev, "cert_file": cert, "key_file": key}),
    );
    let mut py = s.run("x509_device.py", &cfg);

    py.expect("connected");
    let conns = svc.connections().unwrap();
    let conn = conns.iter().find(|c| c.device_id == dev);
    assert!(conn.is_some(), "{conns:?}");

    // Telemetry: application properties and system properties as the SDK set them.
    py.expect("sent");
    let ev = svc
        .wait_for_event(|e| e.device_id == dev, Duration::from_secs(5))
        .unwrap();
    assert_eq!(ev.payload, r#"{"temperature": 21.5, "unit": "C"}"#);
    assert_eq!(ev.properties.get("batch").map(String::as_str), Some("7"));
    assert_eq!(
        ev.properties.get("source").map(String::as_str),
        Some("official sdk")
    );
    assert_eq!(
        ev.properties.get("weird&key").map(String::as_str),
        Some("a=b/c")
    );
    let sys = &ev.system_properties;
    let sysp = |k: &str| sys.get(k).map(String::as_str);
    assert_eq!(sysp("message-id"), Some("sdk-msg-1"), "{sys:?}");
    assert_eq!(sysp("correlation-id"), Some("sdk-corr-1"), "{sys:?}");
    assert_eq!(sysp("content-type"), Some("application/json"), "{sys:?}");
    assert_eq!(sysp("content-encoding"), Some("utf-8"), "{sys:?}");
    assert_eq!(sysp("iothub-connection-device-id"), Some(dev), "{sys:?}");
    assert!(
        ev.properties.keys().all(|k| !k.starts_with("$.")),
        "system properties leaked into the application ones: {:?}",
        ev.properties
    );

    // get_twin: the SDK's view has the desired property set before it connected.
    let twin = py.expect("twin");
    assert_eq!(twin["twin"]["desired"]["interval"], json!(10), "{twin}");
    assert!(twin["twin"]["desired"]["$version"].is_u64(), "{twin}");
    assert!(twin["twin"]["reported"]["$version"].is_u64(), "{twin}");

    // Reported patch, as the service sees it.
    py.expect("reported");
    let t = svc.get_twin(dev).unwrap();
    assert_eq!(t.properties.reported["firmware"], json!("2.14.0-sdk"));
    assert_eq!(
        t.properties.reported["telemetry"],
        json!({"interval": 30, "enabled": true})
    );

    // The handlers are set (subscribed): desired patch, method, C2D.
    py.expect("ready");
    let after = svc
        .update_desired(dev, json!({"interval": 5, "mode": {"eco": true}}))
        .unwrap();
    let d = py.expect("desired");
    assert_eq!(d["patch"]["interval"], json!(5), "{d}");
    assert_eq!(d["patch"]["mode"], json!({"eco": true}), "{d}");
    assert_eq!(
        d["patch"]["$version"],
        json!(after.desired_version()),
        "{d}"
    );

    let r = svc
        .invoke_method(
            dev,
            "reboot",
            json!({"delay": 3, "why": "test"}),
            Duration::from_secs(15),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.payload,
        json!({"rebooted": true, "method": "reboot", "echo": {"delay": 3, "why": "test"}})
    );
    let m = py.expect("method");
    assert_eq!(m["name"], json!("reboot"));
    assert_eq!(m["payload"], json!({"delay": 3, "why": "test"}));

    svc.send_c2d(
        dev,
        &hub_emulator::C2dMessage {
            payload: "turn left".into(),
            properties: [("cmd", "steer"), ("odd key", "x&y=z")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            message_id: Some("c2d-1".into()),
            correlation_id: Some("corr-c2d".into()),
            content_type: Some("text/plain".into()),
            content_encoding: Some("utf-8".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let c = py.expect("c2d");
    assert_eq!(c["data"], json!("turn left"), "{c}");
    assert_eq!(c["custom_properties"]["cmd"], json!("steer"), "{c}");
    assert_eq!(c["custom_properties"]["odd key"], json!("x&y=z"), "{c}");
    assert_eq!(c["message_id"], json!("c2d-1"), "{c}");
    assert_eq!(c["correlation_id"], json!("corr-c2d"), "{c}");
    assert_eq!(c["content_type"], json!("text/plain"), "{c}");
    assert_eq!(c["content_encoding"], json!("utf-8"), "{c}");

    let t = py.expect("twin_after");
    assert_eq!(t["twin"]["desired"]["interval"], json!(5), "{t}");
    assert_eq!(
        t["twin"]["reported"]["firmware"],
        json!("2.14.0-sdk"),
        "{t}"
    );

    // The connection drops; the SDK reconnects on its own and gets patches and methods again.
    py.expect("drop_me");
    assert_eq!(svc.drop_connections(Some(dev)).unwrap(), 1);
    py.expect("reconnected");
    svc.wait_connected(dev, true, Duration::from_secs(5))
        .unwrap();
    let after = svc.update_desired(dev, json!({"interval": 7})).unwrap();
    let d = py.expect("desired_again");
    assert_eq!(d["patch"]["interval"], json!(7), "{d}");
    assert_eq!(
        d["patch"]["$version"],
        json!(after.desired_version()),
        "{d}"
    );
    let r = svc
        .invoke_method(dev, "reboot", json!(2), Duration::from_secs(15))
        .unwrap();
    assert_eq!(
        (r.status, r.payload),
        (
            200,
            json!({"rebooted": true, "method": "reboot", "echo": 2})
        )
    );
    py.expect("method_again");

    py.finish(1);
    svc.wait_connected(dev, false, Duration::from_secs(5))
        .unwrap();
    s.check_proxy(2);
}

/// SAS device from a connection string: keep-alive, then a token renewal (a new CONNECT).
#[test]
fn sas_device_from_connection_string() {
    if skip_requested() {
        return;
    }
    let s = Setup::start(false);
    let svc = &s.env.svc;
    let dev = "sdk-sas-device";
    let d = svc.create_sas_device(dev).unwrap();
    let Authentication::Sas { primary_key, .. } = d.authentication else {
        panic!("not a SAS device: {d:?}")
    };
    let host = &s.env.emu.config().hub_hostname;
    let cs = format!("HostName={host};DeviceId={dev};SharedAccessKey={primary_key}");
    let cfg = s.config("sas", json!({"connection_string": cs}));
    let mut py = s.run("sas_device.py", &cfg);
    py.expect("connected");
    py.expect("sent");
    let ev = svc
        .wait_for_event(|e| e.device_id == dev, Duration::from_secs(5))
        .unwrap();
    assert_eq!(ev.payload, "hello from a SAS device");
    assert_eq!(ev.properties.get("auth").map(String::as_str), Some("sas"));
    assert_eq!(
        ev.system_properties
            .get("iothub-connection-auth-method")
            .map(String::as_str)
            .map(|m| m.to_ascii_lowercase().contains("sas")),
        Some(true),
        "{:?}",
        ev.system_properties
    );
    py.expect("reported");
    assert_eq!(
        svc.get_twin(dev).unwrap().properties.reported["auth"],
        json!("sas")
    );
    py.expect("ready");
    let conns = svc.connections().unwrap();
    let first = conns.iter().find(|c| c.device_id == dev).unwrap().clone();
    assert_eq!(first.keep_alive, 2, "{first:?}");
    assert!(
        first
            .subscriptions
            .iter()
            .any(|f| f == "$iothub/methods/POST/#"),
        "{first:?}"
    );
    // Idle longer than 1.5 x keep-alive, then a new CONNECT with the renewed token.
    let r = py.expect("reauthorized");
    assert!(r["after"].as_f64().unwrap() >= 4.0, "{r}");
    let conns = svc.connections().unwrap();
    let second = conns.iter().find(|c| c.device_id == dev).unwrap();
    assert_ne!(second.id, first.id, "{conns:?}");
    // The SDK does not subscribe again: the persistent session kept the subscription.
    let m = svc
        .invoke_method(dev, "ping", json!(null), Duration::from_secs(10))
        .unwrap();
    assert_eq!((m.status, m.payload), (201, json!("ok")));
    py.expect("method");
    py.expect("sent_after_renewal");
    svc.wait_for_event(
        |e| e.device_id == dev && e.payload == "still here",
        Duration::from_secs(5),
    )
    .unwrap();
    py.finish(1);
    s.check_proxy(2);
}

/// DPS with an X.509 CA enrollment group, then the assigned hub with the same certificate.
#[test]
fn dps_x509_enrollment_group() {
    if skip_requested() {
        return;
    }
    let s = Setup::start(false);
    let svc = &s.env.svc;
    let reg = "sdk-dps-x509";
    svc.create_ca_enrollment_group("sdk-fleet", "root").unwrap();
    let (cert, key) = s.device_cert(reg);
    let cfg = s.config(
        "dps-x509",
        json!({
            "attestation": "x509",
            "registration_id": reg,
            "id_scope": s.env.emu.config().dps_id_scope,
            "cert_file": cert,
            "key_file": key,
        }),
    );
    let mut py = s.run("dps_device.py", &cfg);
    check_registered(&s, &mut py, reg);
    py.finish(0);
    // One connection to DPS, one to the hub.
    s.check_proxy(2);
}

/// DPS with a symmetric-key enrollment group (the device key derived from the group key),
/// then the assigned hub with SAS.
#[test]
fn dps_symmetric_key_enrollment_group() {
    if skip_requested() {
        return;
    }
    let s = Setup::start(false);
    let svc = &s.env.svc;
    let reg = "sdk-dps-symkey";
    let g = svc
        .put_enrollment_group(
            "sdk-keys",
            &EnrollmentGroup {
                enrollment_group_id: "sdk-keys".into(),
                attestation: Attestation::SymmetricKey {
                    primary_key: String::new(),
                    secondary_key: String::new(),
                },
                provisioning_status: Status::Enabled,
                initial_twin: Some(json!({"mode": "provisioned"})),
                etag: String::new(),
            },
        )
        .unwrap();
    let Attestation::SymmetricKey { primary_key, .. } = &g.attestation else {
        panic!("{g:?}")
    };
    let device_key = hub_emulator::util::derive_device_key(primary_key, reg).unwrap();
    let cfg = s.config(
        "dps-symkey",
        json!({
            "attestation": "symmetric_key",
            "registration_id": reg,
            "id_scope": s.env.emu.config().dps_id_scope,
            "symmetric_key": device_key,
        }),
    );
    let mut py = s.run("dps_device.py", &cfg);
    check_registered(&s, &mut py, reg);
    let twin = py.expect("twin");
    assert_eq!(
        twin["twin"]["desired"]["mode"],
        json!("provisioned"),
        "{twin}"
    );
    py.finish(0);
    s.check_proxy(2);
}

/// `registered` (assigned to this hub), `connected` and `sent`, checked on the service side.
fn check_registered(s: &Setup, py: &mut Script, reg: &str) {
    let r = py.expect("registered");
    assert_eq!(r["status"], json!("assigned"), "{r}");
    assert_eq!(
        r["assigned_hub"],
        json!(s.env.emu.config().hub_hostname),
        "{r}"
    );
    assert_eq!(r["device_id"], json!(reg), "{r}");
    let svc = &s.env.svc;
    assert_eq!(svc.get_device(reg).unwrap().device_id, reg);
    py.expect("connected");
    py.expect("sent");
    let ev = svc
        .wait_for_event(|e| e.device_id == reg, Duration::from_secs(5))
        .unwrap();
    assert_eq!(ev.payload, "provisioned by DPS");
    assert!(
        ev.properties
            .get("via")
            .is_some_and(|v| v.starts_with("dps-")),
        "{:?}",
        ev.properties
    );
}

/// What the SDK relies on, checked without Python (so also when the SDK tests are skipped):
/// a `cleanSession=0` session keeps its subscriptions between connections and CONNACK says so;
/// a clean session ends it.
#[test]
fn persistent_session_keeps_subscriptions() {
    use hub_emulator::mqtt::{Connect, Packet};
    const T: Duration = Duration::from_secs(5);
    let env = common::start();
    let dev = "persistent";
    env.svc.create_x509_ca_device(dev).unwrap();
    let ident = env.ca.issue(dev);
    let connect = |clean: bool| {
        let mut c = Connect::new(dev);
        c.username = Some(common::hub_username(dev));
        c.clean_session = clean;
        let mut cl = common::Client::open(env.emu.mqtt_addr(), &env.ca_pem(), Some(&ident))
            .expect("TLS connect");
        cl.send(&Packet::Connect(c)).unwrap();
        match cl.recv(T) {
            Some(Packet::Connack {
                code: 0,
                session_present,
            }) => (cl, session_present),
            other => panic!("expected CONNACK 0, got {other:?}"),
        }
    };
    let subscriptions = || {
        let conns = env.svc.connections().unwrap();
        let c = conns
            .iter()
            .find(|c| c.device_id == dev)
            .expect("connected");
        c.subscriptions.clone()
    };
    let methods = "$iothub/methods/POST/#";
    let c2d = "devices/persistent/messages/devicebound/#";

    let (mut first, present) = connect(false);
    assert!(!present, "nothing to resume yet");
    assert_eq!(first.subscribe(&[(methods, 0), (c2d, 1)]), vec![0, 1]);
    drop(first);
    env.svc.wait_connected(dev, false, T).unwrap();
    env.svc.send_c2d_text(dev, "while away", &[]).unwrap();

    // Resumed: queued C2D arrives and methods reach the device with no SUBSCRIBE.
    let (mut second, present) = connect(false);
    assert!(present);
    let p = second.expect_publish("devices/persistent/messages/devicebound/", T);
    assert_eq!(p.payload, b"while away");
    second.send(&Packet::Puback(p.pid.unwrap())).unwrap();
    let svc = env.svc.clone();
    let call = std::thread::spawn(move || svc.invoke_method(dev, "m", json!(1), T));
    let req = second.expect_publish("$iothub/methods/POST/m/", T);
    let rid = common::topic_param(&req.topic, "$rid").unwrap().to_string();
    second.publish(&format!("$iothub/methods/res/200/?$rid={rid}"), b"{}", 0);
    assert_eq!(call.join().unwrap().unwrap().status, 200);

    // A connection that replaces a live one takes its session over.
    let (third, present) = connect(false);
    assert!(present);
    drop(second);
    assert_eq!(subscriptions(), vec![methods.to_string(), c2d.to_string()]);
    drop(third);
    env.svc.wait_connected(dev, false, T).unwrap();

    // A clean session starts empty and ends the persistent one.
    let (clean, present) = connect(true);
    assert!(!present);
    assert!(subscriptions().is_empty());
    drop(clean);
    env.svc.wait_connected(dev, false, T).unwrap();
    let (_fourth, present) = connect(false);
    assert!(!present);
    assert!(subscriptions().is_empty());
}
