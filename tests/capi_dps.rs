//! C API tests of `include/net/azure_iot_hub_dps.h` and of `azure_iot_hub_connect()` with
//! `use_dps`: tests/c/dps_api.c, compiled with AddressSanitizer and UndefinedBehaviorSanitizer
//! against the staticlib (built like tests/capi.rs does, into `target/capi-build`), run in
//! several modes against the hub emulator's DPS behind a counting TCP relay.
//!
//! `AZURE_IOT_HUB_CAPI_VERBOSE=1 cargo test --test capi_dps -- --nocapture` prints the output.
#![cfg(all(feature = "capi", feature = "std", feature = "dps"))]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use hub_emulator::{Config, Emulator, Fault, FaultKind, ServiceClient};

mod capi_common;

/// The staticlib and tests/c/dps_api.c, built once per test process.
fn program() -> PathBuf {
    capi_common::program("dps_api")
}

/// Runs a mode; requires exit 0 and a last line "PASS"; returns stdout.
fn run(mode: &str, env: &[(String, String)]) -> String {
    let mut cmd = Command::new(program());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CONFIG_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .arg(mode)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:halt_on_error=1",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .env("RUST_LOG", "debug")
        .output()
        .expect("run dps_api");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
    assert!(
        out.status.success() && stdout.lines().last() == Some("PASS"),
        "mode {mode}: {}\n--- stdout ---\n{stdout}\n--- stderr (tail) ---\n{}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    if std::env::var_os("AZURE_IOT_HUB_CAPI_VERBOSE").is_some() {
        eprintln!("--- {mode} ---\n{stdout}\n{stderr}");
    }
    stdout
}

mod relay;
use relay::Relay;

struct Dps {
    emu: Emulator,
    svc: ServiceClient,
    ca: cert_tool::CaBundle,
    relay: Relay,
    dir: tempfile::TempDir,
}

impl Dps {
    fn start() -> Dps {
        let emu = Emulator::start(Config::temp()).expect("emulator");
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

    /// The environment of a device whose certificate's CN is `reg_id`.
    fn env(&self, reg_id: &str) -> Vec<(String, String)> {
        let certs = self.dir.path().join(reg_id);
        std::fs::create_dir_all(&certs).unwrap();
        let (cert, key) = cert_tool::device_identity(&self.ca, reg_id);
        std::fs::write(certs.join("ca-cert.pem"), self.emu.ca_pem()).unwrap();
        std::fs::write(certs.join("client-cert.pem"), cert).unwrap();
        std::fs::write(certs.join("private-key.pem"), key).unwrap();
        let v = |k: &str, v: String| (k.to_string(), v);
        vec![
            v("DPS_ID_SCOPE", self.emu.config().dps_id_scope.clone()),
            v("DPS_REG_ID", reg_id.into()),
            v("CONFIG_AZURE_IOT_HUB_DPS_HOSTNAME", "localhost".into()),
            v(
                "CONFIG_AZURE_IOT_HUB_DPS_PORT",
                self.relay.port().to_string(),
            ),
            v(
                "CONFIG_MQTT_HELPER_PORT",
                self.emu.mqtt_addr().port().to_string(),
            ),
            v(
                "CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER",
                certs.display().to_string(),
            ),
            v(
                "CONFIG_AZURE_IOT_HUB_DPS_SETTINGS_FILE",
                certs.join("settings").display().to_string(),
            ),
        ]
    }

    /// The environment for azure_iot_hub_connect() with use_dps.
    fn connect_env(&self, reg_id: &str) -> Vec<(String, String)> {
        let mut env = self.env(reg_id);
        let v = |k: &str, v: &str| (k.to_string(), v.to_string());
        env.extend([
            v("CONFIG_AZURE_IOT_HUB_DPS", "y"),
            v(
                "CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE",
                &self.emu.config().dps_id_scope,
            ),
            v("CONFIG_AZURE_IOT_HUB_DEVICE_ID", reg_id),
            v("CONFIG_AZURE_IOT_HUB_HOSTNAME", "localhost"),
            v("CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST", "n"),
        ]);
        env
    }
}

/// Every function and return code, the status sequence, the get functions' copy/repoint/too
/// small, delete and reset; then a second process ("reboot") finds the stored assignment and
/// makes no DPS connection.
#[test]
fn dps_api_return_codes_and_reboot() {
    let dps = Dps::start();
    let env = dps.env("capi-dps");
    run("api", &env);
    // Five registrations: the first, after deleting the host name, after the reset, with an
    // invalid payload (refused), without it.
    assert_eq!(dps.relay.count(), 5);
    run("reboot", &env);
    assert_eq!(dps.relay.count(), 5, "no DPS traffic after a reboot");
}

/// DPS refuses (the emulator's forced failure): FAILED at once, twice.
#[test]
fn dps_api_failure() {
    let dps = Dps::start();
    dps.svc
        .add_fault(&Fault::new(FaultKind::DpsFail).for_device("capi-dps-fail"))
        .unwrap();
    let out = run("fail", &dps.env("capi-dps-fail"));
    assert!(out.contains("failed after"), "{out}");
}

/// azure_iot_hub_connect() with use_dps: DPS on the first connect (CONNECTING before it,
/// CONNECTED and READY from the assigned hub), use_dps = false falls back to Kconfig, and the
/// stored assignment is used without DPS by the next connect and by a new process.
#[test]
fn connect_with_dps() {
    let dps = Dps::start();
    let env = dps.connect_env("capi-dps-connect");
    run("connect", &env);
    assert_eq!(dps.relay.count(), 1);
    assert!(dps.svc.get_device("capi-dps-connect").is_ok());
    run("connect-again", &env);
    assert_eq!(dps.relay.count(), 1, "the stored assignment is used");
}

/// connect() with use_dps ends at once when DPS refuses (-ECONNREFUSED), and after the DPS
/// timeout when DPS is silent (-ETIMEDOUT); the state is back to disconnected and only
/// CONNECTING was sent.
#[test]
fn connect_with_dps_errors() {
    let dps = Dps::start();
    let mut env = dps.connect_env("capi-dps-refused");
    // Not enrolled: a certificate from another CA.
    let other = cert_tool::root_ca().unwrap();
    let (cert, key) = cert_tool::device_identity(&other, "capi-dps-refused");
    let certs = dps.dir.path().join("capi-dps-refused");
    std::fs::write(certs.join("client-cert.pem"), cert).unwrap();
    std::fs::write(certs.join("private-key.pem"), key).unwrap();
    env.push(("CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC".into(), "30".into()));
    let out = run("connect-fail", &env);
    println!(
        "{}",
        out.lines().find(|l| l.contains("after")).unwrap_or("")
    );

    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut env = dps.connect_env("capi-dps-silent");
    env.push(("CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC".into(), "1".into()));
    env.push((
        "CONFIG_AZURE_IOT_HUB_DPS_PORT".into(),
        silent.local_addr().unwrap().port().to_string(),
    ));
    let out = run("connect-timeout", &env);
    println!(
        "{}",
        out.lines().find(|l| l.contains("after")).unwrap_or("")
    );
}
