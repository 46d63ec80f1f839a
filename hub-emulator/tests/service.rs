//! Service side: persistence across restarts, fault injection, the CLI, the file server.

mod common;

use common::*;
use hub_emulator::mqtt::Packet;
use hub_emulator::{Attestation, Authentication, Config, Emulator, Fault, FaultKind};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

#[test]
fn state_survives_a_restart() {
    let mut cfg = Config::temp();
    cfg.remove_state_on_drop = false;
    let dir = cfg.state_dir.clone();
    let ca = Ca::new("Persistent CA");
    let ca_pem_before;
    let sas_before;
    {
        let emu = Emulator::start(cfg.clone()).unwrap();
        let svc = emu.service();
        svc.register_verified_ca("root", &ca.cert_pem).unwrap();
        svc.register_ca("pending", &Ca::new("Pending").cert_pem, false)
            .unwrap();
        svc.ca_verification_code("pending").unwrap();
        svc.create_x509_ca_device("keep").unwrap();
        sas_before = svc.create_sas_device("keep-sas").unwrap();
        svc.update_desired("keep", json!({"mode": "eco"})).unwrap();
        svc.create_ca_enrollment_group("fleet", "root").unwrap();
        svc.create_enrollment(
            "ind",
            Attestation::SymmetricKey {
                primary_key: String::new(),
                secondary_key: String::new(),
            },
        )
        .unwrap();
        // A reported patch from the device.
        let env_like = (emu.mqtt_addr(), emu.ca_pem());
        ca_pem_before = env_like.1.clone();
        let mut conn = hub_emulator::mqtt::Connect::new("keep");
        conn.username = Some(hub_username("keep"));
        let (mut c, code) = Client::connect(env_like.0, &env_like.1, Some(&ca.issue("keep")), conn);
        assert_eq!(code, Some(0));
        c.subscribe(&[("$iothub/twin/res/#", 0)]);
        c.publish(
            "$iothub/twin/PATCH/properties/reported/?$rid=1",
            br#"{"battery":87}"#,
            0,
        );
        c.expect_publish("$iothub/twin/res/204/", T);
    }
    // The same folder, new ports.
    let emu = Emulator::start(cfg).unwrap();
    let svc = emu.service();
    assert_eq!(emu.ca_pem(), ca_pem_before, "the server CA is kept");
    let devices = svc.list_devices().unwrap();
    assert_eq!(
        devices
            .iter()
            .map(|d| d.device_id.as_str())
            .collect::<Vec<_>>(),
        ["keep", "keep-sas"]
    );
    assert_eq!(
        svc.get_device("keep-sas").unwrap().authentication,
        sas_before.authentication
    );
    let twin = svc.get_twin("keep").unwrap();
    assert_eq!(
        twin.properties.desired,
        json!({"mode": "eco", "$version": 2})
    );
    assert_eq!(
        twin.properties.reported,
        json!({"battery": 87, "$version": 2})
    );
    let cas = svc.list_cas().unwrap();
    assert_eq!(cas.len(), 2);
    assert!(cas.iter().any(|c| c.name == "root" && c.is_verified));
    assert!(cas
        .iter()
        .any(|c| c.name == "pending" && !c.is_verified && c.verification_code.is_some()));
    assert_eq!(svc.list_enrollment_groups().unwrap().len(), 1);
    assert_eq!(svc.list_enrollments().unwrap().len(), 1);
    // The restored CA authenticates devices.
    let mut conn = hub_emulator::mqtt::Connect::new("keep");
    conn.username = Some(hub_username("keep"));
    let (_c, code) = Client::connect(
        emu.mqtt_addr(),
        &emu.ca_pem(),
        Some(&ca.issue("keep")),
        conn,
    );
    assert_eq!(code, Some(0));
    // Deleting a device removes its file.
    svc.delete_device("keep-sas").unwrap();
    drop(_c);
    drop(emu);
    let emu = Emulator::start(Config::ephemeral(&dir)).unwrap();
    assert_eq!(emu.service().list_devices().unwrap().len(), 1);
    drop(emu);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fault_drop_closes_connections() {
    let env = start();
    let mut a = env.ready_device("a");
    let mut b = env.ready_device("b");
    assert_eq!(env.svc.drop_connections(Some("a")).unwrap(), 1);
    assert!(a.closed_within(T));
    b.send(&Packet::Pingreq).unwrap();
    assert_eq!(b.recv(T), Some(Packet::Pingresp));
    assert_eq!(env.svc.drop_connections(None).unwrap(), 1);
    assert!(b.closed_within(T));
    // Devices can reconnect at once.
    let _c = env.ready_device("a");
}

#[test]
fn fault_refuse_for_a_duration_or_until_cleared() {
    let env = start();
    env.svc.create_x509_ca_device("r").unwrap();
    let id = env.ca.issue("r");
    env.svc
        .add_fault(&Fault::new(FaultKind::Refuse).lasting(0.7))
        .unwrap();
    let (_c, code) = env.connect_device("r", Some(&id), None, 60);
    assert_eq!(code, Some(3), "server unavailable");
    assert_eq!(env.svc.list_faults().unwrap().len(), 1);
    std::thread::sleep(Duration::from_millis(800));
    assert!(env.svc.list_faults().unwrap().is_empty(), "expired");
    let (_c, code) = env.connect_device("r", Some(&id), None, 60);
    assert_eq!(code, Some(0));
    // connackCode 0: closed before TLS completes.
    let mut f = Fault::new(FaultKind::Refuse);
    f.connack_code = Some(0);
    env.svc.add_fault(&f).unwrap();
    let mut c = Client::open(env.emu.mqtt_addr(), &env.ca_pem(), Some(&id)).unwrap();
    let _ = c.send(&Packet::Pingreq);
    assert!(c.closed_within(T));
    env.svc.clear_faults().unwrap();
    // Another code for one device only.
    let mut f = Fault::new(FaultKind::Refuse).for_device("r");
    f.connack_code = Some(5);
    env.svc.add_fault(&f).unwrap();
    let (_c, code) = env.connect_device("r", Some(&id), None, 60);
    assert_eq!(code, Some(5));
    let other = env.ready_device("other");
    drop(other);
}

#[test]
fn fault_throttle_gives_429_on_twin_operations() {
    let env = start();
    let mut c = env.ready_device("t");
    env.svc.add_fault(&Fault::new(FaultKind::Throttle)).unwrap();
    c.publish("$iothub/twin/GET/?$rid=7", b"", 0);
    assert_eq!(
        c.expect_publish("$iothub/twin/res/", T).topic,
        "$iothub/twin/res/429/?$rid=7"
    );
    c.publish("$iothub/twin/PATCH/properties/reported/?$rid=8", b"{}", 0);
    assert_eq!(
        c.expect_publish("$iothub/twin/res/", T).topic,
        "$iothub/twin/res/429/?$rid=8"
    );
    env.svc.clear_faults().unwrap();
    c.publish("$iothub/twin/GET/?$rid=9", b"", 0);
    assert_eq!(
        c.expect_publish("$iothub/twin/res/", T).topic,
        "$iothub/twin/res/200/?$rid=9"
    );
}

#[test]
fn fault_delay_slows_every_response() {
    let env = start();
    let mut c = env.ready_device("slow");
    env.svc.add_fault(&Fault::delay(600)).unwrap();
    let t0 = Instant::now();
    c.send(&Packet::Pingreq).unwrap();
    assert_eq!(c.recv(T), Some(Packet::Pingresp));
    assert!(t0.elapsed() >= Duration::from_millis(590));
    let t0 = Instant::now();
    c.publish("$iothub/twin/GET/?$rid=1", b"", 0);
    c.expect_publish("$iothub/twin/res/200/", T);
    assert!(t0.elapsed() >= Duration::from_millis(590));
    // CONNACK is delayed too.
    env.svc.create_x509_ca_device("slow2").unwrap();
    let t0 = Instant::now();
    let (_c2, code) = env.connect_device("slow2", Some(&env.ca.issue("slow2")), None, 60);
    assert_eq!(code, Some(0));
    assert!(t0.elapsed() >= Duration::from_millis(590));
    env.svc.clear_faults().unwrap();
    let t0 = Instant::now();
    c.send(&Packet::Pingreq).unwrap();
    assert_eq!(c.recv(T), Some(Packet::Pingresp));
    assert!(t0.elapsed() < Duration::from_millis(500));
    // Invalid faults are rejected.
    let err = env
        .svc
        .add_fault(&Fault::new(FaultKind::Delay))
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
}

#[test]
fn service_errors_are_json_with_status() {
    let env = start();
    let err = env.svc.get_device("missing").unwrap_err();
    assert_eq!(err.status(), Some(404));
    let err = env
        .svc
        .create_device("bad/id", Authentication::sas_generated());
    assert!(err.is_err());
    let err = env
        .svc
        .create_device("bad id", Authentication::sas_generated())
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    let err = env.svc.register_ca("x", "not a pem", true).unwrap_err();
    assert_eq!(err.status(), Some(400));
    let err = env
        .svc
        .create_ca_enrollment_group("g", "no-such-ca")
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    let resp = ureq_get(&format!("{}/nowhere", env.emu.http_url()));
    assert_eq!(resp.0, 404);
    let v: Value = serde_json::from_str(&resp.1).unwrap();
    assert!(v["errorCode"].is_u64());
    // Device IDs with URL-special characters work through the client.
    env.svc
        .create_device("odd:id#1", Authentication::sas_generated())
        .unwrap();
    assert_eq!(
        env.svc.get_device("odd:id#1").unwrap().device_id,
        "odd:id#1"
    );
    let info = env.svc.info().unwrap();
    assert_eq!(info.hub_hostname, "localhost");
    assert_eq!(info.mqtt_addr, env.emu.mqtt_addr().to_string());
}

fn ureq_get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent.get(url).call().unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn file_server_serves_ranges() {
    let env = start();
    let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    env.svc.put_file("fw/app_update.bin", &data).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/files/fw/app_update.bin", env.emu.http_url());
    let mut r = agent.get(&url).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.body_mut().read_to_vec().unwrap(), data);
    let mut r = agent
        .get(&url)
        .header("Range", "bytes=100-199")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(
        r.headers().get("content-range").unwrap().to_str().unwrap(),
        "bytes 100-199/5000"
    );
    assert_eq!(r.body_mut().read_to_vec().unwrap(), &data[100..200]);
    let r = agent
        .get(&url)
        .header("Range", "bytes=6000-")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 416);
    let r = agent
        .get(format!("{}/files/../x", env.emu.http_url()))
        .call()
        .unwrap();
    assert!(r.status().as_u16() >= 400);
}

fn cli(env: &Env, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
        .arg("--url")
        .arg(env.emu.http_url())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cli_json(env: &Env, args: &[&str]) -> Value {
    let (ok, out, err) = cli(env, args);
    assert!(ok, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

#[test]
fn cli_drives_a_running_emulator() {
    let env = start();
    let d = cli_json(&env, &["device", "create", "cli-dev"]);
    assert_eq!(d["authentication"]["type"], "certificateAuthority");
    let d = cli_json(&env, &["device", "create", "cli-sas", "--auth", "sas"]);
    assert!(d["authentication"]["primaryKey"].as_str().unwrap().len() > 20);
    let (ok, token, _) = cli(&env, &["device", "sas-token", "cli-sas"]);
    assert!(ok && token.starts_with("SharedAccessSignature sr=localhost%2Fdevices%2Fcli-sas&sig="));
    let (_c, code) = env.connect_device("cli-sas", None, Some(token.trim()), 60);
    assert_eq!(code, Some(0));
    let list = cli_json(&env, &["device", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        cli_json(&env, &["device", "show", "cli-sas"])["connectionState"],
        "Connected"
    );

    // Twin, method, C2D, monitor against a connected device.
    let mut c = env.ready_device("cli-dev");
    let t = cli_json(
        &env,
        &["twin", "update-desired", "cli-dev", r#"{"led":"on"}"#],
    );
    assert_eq!(t["properties"]["desired"]["led"], "on");
    c.expect_publish("$iothub/twin/PATCH/properties/desired/?$version=2", T);
    assert_eq!(
        cli_json(&env, &["twin", "show", "cli-dev"])["properties"]["desired"]["$version"],
        2
    );

    let url = env.emu.http_url();
    let method = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
            .args([
                "--url",
                &url,
                "method",
                "invoke",
                "cli-dev",
                "blink",
                "--payload",
                r#"{"n":3}"#,
                "--timeout",
                "5",
            ])
            .output()
            .unwrap()
    });
    let p = c.expect_publish("$iothub/methods/POST/blink/", T);
    let rid = topic_param(&p.topic, "$rid").unwrap().to_string();
    c.publish(
        &format!("$iothub/methods/res/201/?$rid={rid}"),
        br#"{"done":true}"#,
        0,
    );
    let out = method.join().unwrap();
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r, json!({"status": 201, "payload": {"done": true}}));
    let (ok, _, err) = cli(
        &env,
        &["method", "invoke", "cli-dev", "none", "--timeout", "0.2"],
    );
    assert!(!ok && err.contains("504"), "{err}");

    let sent = cli_json(
        &env,
        &[
            "c2d",
            "send",
            "cli-dev",
            "--payload",
            "hi",
            "-p",
            "a=1",
            "-p",
            "b=x y",
        ],
    );
    assert_eq!(sent["state"], "delivered");
    let p = c.expect_publish("devices/cli-dev/messages/devicebound/", T);
    assert!(p.topic.ends_with("&a=1&b=x%20y"), "{}", p.topic);
    assert_eq!(p.payload, b"hi");

    c.publish(
        "devices/cli-dev/messages/events/%24.ct=text%2Fplain&n=1",
        b"tele",
        0,
    );
    let (ok, out, err) = cli(
        &env,
        &["monitor", "--from-start", "--count", "1", "--timeout", "5"],
    );
    assert!(ok, "{err}");
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(line["deviceId"], "cli-dev");
    assert_eq!(line["payload"], "tele");
    assert_eq!(line["properties"]["n"], "1");
    assert_eq!(line["systemProperties"]["content-type"], "text/plain");
    assert!(line["enqueuedTime"].is_string());

    // CAs with proof of possession through files.
    let dir = std::env::temp_dir().join(format!("hub-emu-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca2 = Ca::new("CLI CA");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca2.cert_pem).unwrap();
    let reg = cli_json(
        &env,
        &[
            "ca",
            "register",
            "cli-ca",
            "--cert",
            ca_file.to_str().unwrap(),
        ],
    );
    assert_eq!(reg["isVerified"], false);
    let (ok, code, _) = cli(&env, &["ca", "verification-code", "cli-ca"]);
    assert!(ok);
    let proof = dir.join("proof.pem");
    std::fs::write(&proof, ca2.issue(code.trim()).cert_pem).unwrap();
    let v = cli_json(
        &env,
        &["ca", "verify", "cli-ca", "--cert", proof.to_str().unwrap()],
    );
    assert_eq!(v["isVerified"], true);
    assert_eq!(cli_json(&env, &["ca", "list"]).as_array().unwrap().len(), 2);

    // Self-signed devices and thumbprint enrollments from a certificate file.
    let selfie = self_signed("cli-selfie");
    let selfie_file = dir.join("selfie.pem");
    std::fs::write(&selfie_file, &selfie.cert_pem).unwrap();
    let sha1 = hub_emulator::util::sha1_thumbprint(selfie.leaf_der());
    let d = cli_json(
        &env,
        &[
            "device",
            "create",
            "cli-selfie",
            "--auth",
            "self-signed",
            "--cert",
            selfie_file.to_str().unwrap(),
        ],
    );
    assert_eq!(d["authentication"]["primaryThumbprint"], sha1.as_str());
    let (_s, code) = env.connect_device("cli-selfie", Some(&selfie), None, 60);
    assert_eq!(code, Some(0));
    let e = cli_json(
        &env,
        &[
            "dps",
            "enrollment",
            "create",
            "cli-selfie",
            "--cert",
            selfie_file.to_str().unwrap(),
        ],
    );
    assert_eq!(e["attestation"]["primaryThumbprint"], sha1.as_str());
    assert!(cli(&env, &["dps", "enrollment", "delete", "cli-selfie"]).0);

    // DPS enrollments.
    let g = cli_json(&env, &["dps", "group", "create", "g1", "--ca", "cli-ca"]);
    assert_eq!(g["attestation"]["caName"], "cli-ca");
    let e = cli_json(
        &env,
        &[
            "dps",
            "enrollment",
            "create",
            "r1",
            "--symmetric-key",
            "--disabled",
        ],
    );
    assert_eq!(e["provisioningStatus"], "disabled");
    assert_eq!(
        cli_json(&env, &["dps", "enrollment", "list"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(cli(&env, &["dps", "group", "delete", "g1"]).0);
    assert!(cli_json(&env, &["dps", "group", "list"])
        .as_array()
        .unwrap()
        .is_empty());

    // Faults.
    let f = cli_json(&env, &["fault", "throttle", "--duration", "30"]);
    assert!(f["id"].as_u64().unwrap() > 0);
    assert_eq!(
        cli_json(&env, &["fault", "list"]).as_array().unwrap().len(),
        1
    );
    assert!(cli(&env, &["fault", "clear"]).0);
    let (ok, out, _) = cli(&env, &["fault", "drop"]);
    assert!(ok && out.contains("dropped"), "{out}");
    assert!(c.closed_within(T));

    // Errors exit non-zero with a message.
    let (ok, _, err) = cli(&env, &["device", "show", "nope"]);
    assert!(!ok && err.contains("404"), "{err}");
    assert!(cli(&env, &["device", "delete", "cli-sas"]).0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn serve_subcommand_starts_and_writes_the_ca() {
    let dir = std::env::temp_dir().join(format!("hub-emu-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Ask the OS for free ports.
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let mp = port();
    // Two distinct ports: a released port may be handed out again at once.
    let hp = std::iter::repeat_with(port).find(|&p| p != mp).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
        .args([
            "serve",
            "--state",
            dir.to_str().unwrap(),
            "--mqtt-port",
            &mp.to_string(),
            "--http-port",
            &hp.to_string(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let svc = hub_emulator::ServiceClient::new(&format!("http://127.0.0.1:{hp}"));
    let end = Instant::now() + T;
    let info = loop {
        if let Ok(i) = svc.info() {
            break i;
        }
        assert!(Instant::now() < end, "serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(info.mqtt_addr, format!("127.0.0.1:{mp}"));
    assert!(dir.join("emulator-ca.pem").exists());
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).ok();
}
