//! `include/net/azure_fota.h`: the committed header is what the pinned cbindgen generates from
//! `src/capi/fota.rs` with `cbindgen_fota.toml` (regenerate with
//! `AZURE_IOT_HUB_BLESS=1 cargo test --test capi_fota`), it compiles on its own as C11 and C++,
//! its ABI matches the original for 64- and 32-bit targets (tests/c/fota_layout.c), and a C
//! program exercises every function and return code under AddressSanitizer
//! (tests/c/fota_api.c, linked with the staticlib).
//!
//! The 32-bit build needs gcc-multilib; without it the layout test fails unless
//! `AZURE_IOT_HUB_SKIP_M32=1` is set.
#![cfg(all(feature = "capi", feature = "fota"))]

use std::collections::BTreeMap;
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use azure_iot_hub::capi::fota::{azure_fota_callback_t, azure_fota_event, azure_fota_evt_type};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    capi_common::generate_header("cbindgen_fota.toml", "src/capi/fota.rs")
}

#[test]
fn committed_header_is_up_to_date() {
    let generated = generate();
    if !capi_common::check_committed_header(&generated, "include/net/azure_fota.h", "capi_fota") {
        return;
    }
    // The original's names and guard.
    for needle in [
        "#ifndef AZURE_FOTA_H__",
        "enum azure_fota_evt_type {",
        "struct azure_fota_event {",
        "typedef void (*azure_fota_callback_t)(struct azure_fota_event *evt);",
        "int azure_fota_init(azure_fota_callback_t evt_handler);",
        "int azure_fota_msg_process(const char *buf, size_t size);",
    ] {
        assert!(generated.contains(needle), "{needle} missing:\n{generated}");
    }
    assert!(!generated.contains("azure_iot_hub_"), "hub items leaked in");
}

fn cc(args: &[&str], source: &Path, out: &Path) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .arg("-I")
        .arg(root().join("include"))
        .arg(source)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", args[0]))
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("azure_fota_{}_{name}", std::process::id()))
}

#[test]
fn header_compiles_standalone_as_c11_and_cxx() {
    let src = tmp("header.c");
    std::fs::write(
        &src,
        "#include <net/azure_fota.h>\n#include <net/azure_fota.h>\nint main(void) { return AZURE_FOTA_EVT_ERASE_DONE - 5; }\n",
    )
    .unwrap();
    for args in [
        &[
            "cc",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
        ][..],
        &[
            "c++",
            "-x",
            "c++",
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
        ],
    ] {
        let out = tmp("header.o");
        let mut args = args.to_vec();
        args.push("-c");
        let o = cc(&args, &src, &out);
        let _ = std::fs::remove_file(&out);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let _ = std::fs::remove_file(&src);
}

/// The layout numbers of nrf-api.md 2.1/2.3 as (name, 32-bit, 64-bit).
const EXPECTED: &[(&str, usize, usize)] = &[
    ("sizeof(enum azure_fota_evt_type)", 4, 4),
    ("sizeof(struct azure_fota_event)", 12, 24),
    ("alignof(struct azure_fota_event)", 4, 8),
    ("offsetof(struct azure_fota_event, type)", 0, 0),
    ("offsetof(struct azure_fota_event, report)", 4, 8),
    ("offsetof(struct azure_fota_event, version)", 8, 16),
    ("sizeof(azure_fota_callback_t)", 4, 8),
    ("AZURE_FOTA_EVT_REPORT", 0, 0),
    ("AZURE_FOTA_EVT_START", 1, 1),
    ("AZURE_FOTA_EVT_DONE", 2, 2),
    ("AZURE_FOTA_EVT_ERROR", 3, 3),
    ("AZURE_FOTA_EVT_ERASE_PENDING", 4, 4),
    ("AZURE_FOTA_EVT_ERASE_DONE", 5, 5),
];

/// Builds and runs tests/c/fota_layout.c; None when the compiler cannot build for `extra`.
fn c_values(extra: &[&str]) -> Option<BTreeMap<String, usize>> {
    capi_common::layout_values("fota_layout", extra)
}

#[test]
fn layout_64_bit_matches_the_original_and_rust() {
    let c = c_values(&[]).unwrap();
    assert_eq!(c.len(), EXPECTED.len());
    for (name, _, v64) in EXPECTED {
        assert_eq!(c[*name], *v64, "{name}");
    }
    assert_eq!(
        c["sizeof(struct azure_fota_event)"],
        size_of::<azure_fota_event>()
    );
    assert_eq!(
        c["alignof(struct azure_fota_event)"],
        align_of::<azure_fota_event>()
    );
    assert_eq!(
        c["offsetof(struct azure_fota_event, report)"],
        offset_of!(azure_fota_event, report)
    );
    assert_eq!(
        c["offsetof(struct azure_fota_event, version)"],
        offset_of!(azure_fota_event, version)
    );
    assert_eq!(
        c["sizeof(azure_fota_callback_t)"],
        size_of::<azure_fota_callback_t>()
    );
    assert_eq!(
        c["AZURE_FOTA_EVT_ERASE_DONE"],
        azure_fota_evt_type::AZURE_FOTA_EVT_ERASE_DONE as usize
    );
    assert_eq!(
        c["AZURE_FOTA_EVT_ERROR"],
        azure_fota_evt_type::AZURE_FOTA_EVT_ERROR as usize
    );
}

#[test]
fn layout_32_bit_matches_the_original() {
    match c_values(&["-m32"]) {
        Some(c) => {
            for (name, v32, _) in EXPECTED {
                assert_eq!(c[*name], *v32, "{name}");
            }
        }
        None if std::env::var("AZURE_IOT_HUB_SKIP_M32").is_ok_and(|v| v == "1") => {
            eprintln!("skipped: cc -m32 is unavailable and AZURE_IOT_HUB_SKIP_M32=1");
        }
        None => panic!(
            "cc -m32 cannot build: install gcc-multilib, or set AZURE_IOT_HUB_SKIP_M32=1 to skip"
        ),
    }
}

mod capi_common;
use capi_common::program;

/// tests/c/fota_api.c under ASan and UBSan: init/msg_process return codes, the size honoured,
/// START (1) then ERROR for a refused connection, REPORT for a twin, ERROR for invalid objects.
#[test]
fn c_api_return_codes_and_events_under_asan() {
    let exe = program("fota_api");
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&exe);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CONFIG_") {
            cmd.env_remove(k);
        }
    }
    let run = cmd
        .current_dir(work.path())
        .env("CONFIG_AZURE_FOTA_APP_VERSION", "1.0.0")
        .env("CONFIG_AZURE_FOTA_TLS", "n")
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .output()
        .expect("run fota_api");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success() && stdout.contains("OK (0 failures)"),
        "fota_api failed ({:?}):\n{stdout}\n{stderr}",
        run.status
    );
    // The failed download left no partial image behind.
    assert!(!work.path().join("firmware.bin.part").exists());
    assert!(!work.path().join("firmware.bin").exists());
}

/// A C program on the hub's API (tests/c/fota_hub.c, ASan) against the emulator: the twin GET
/// forced by FOTA, FOTA_START before the patch's TWIN_DESIRED_RECEIVED, FOTA_DONE with the image
/// byte-exact on disk and `applying` reported, then FOTA_ERROR for an invalid object.
#[test]
fn hub_raises_fota_events_from_the_twin() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let exe = program("fota_hub");
    let emu = hub_emulator::Emulator::start(hub_emulator::Config::temp()).unwrap();
    let svc = emu.service();
    let ca = cert_tool::root_ca().unwrap();
    svc.register_verified_ca("root", ca.cert_pem()).unwrap();
    let id = "capi-fota";
    svc.create_x509_ca_device(id).unwrap();
    let work = tempfile::tempdir().unwrap();
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (cert, key) = cert_tool::device_identity(&ca, id);
    std::fs::write(certs.join("ca-cert.pem"), emu.ca_pem()).unwrap();
    std::fs::write(certs.join("client-cert.pem"), cert).unwrap();
    std::fs::write(certs.join("private-key.pem"), key).unwrap();
    let image = work.path().join("fw/app.bin");

    let mut cmd = Command::new(&exe);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CONFIG_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .current_dir(work.path())
        .env("CONFIG_AZURE_IOT_HUB_HOSTNAME", "localhost")
        .env("CONFIG_AZURE_IOT_HUB_DEVICE_ID", id)
        .env(
            "CONFIG_MQTT_HELPER_PORT",
            emu.mqtt_addr().port().to_string(),
        )
        .env("CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER", &certs)
        .env("CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST", "n")
        .env("CONFIG_AZURE_FOTA_APP_VERSION", "1.0.0")
        .env("CONFIG_AZURE_FOTA_IMAGE_FILE", &image)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fota_hub");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut expect = |needle: &str| {
        let end = Instant::now() + Duration::from_secs(40);
        loop {
            match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(l) => {
                    seen.push(l.clone());
                    assert!(!l.starts_with("FAIL"), "{l}\n{}", seen.join("\n"));
                    if l.contains(needle) {
                        return;
                    }
                }
                Err(_) => panic!("no {needle:?}; output:\n{}", seen.join("\n")),
            }
        }
    };

    expect("AWAIT job");
    let data: Vec<u8> = (0..150_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    svc.fota_start(id, "fota/c.bin", &data, "2.0.0", Some("c-job"), 2048)
        .unwrap();
    writeln!(stdin, "go").unwrap();
    expect("EVT FOTA_START");
    expect("EVT FOTA_DONE");
    expect("DONE");
    assert_eq!(std::fs::read(&image).unwrap(), data, "byte-exact image");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let fw = svc.get_twin(id).unwrap().properties.reported["firmware"].clone();
        if fw["fwUpdateStatus"] == "applying" {
            assert_eq!(fw["pendingFwVersion"], "2.0.0");
            assert_eq!(fw["jobId"], "c-job");
            break;
        }
        assert!(Instant::now() < end, "not applying: {fw}");
        std::thread::sleep(Duration::from_millis(20));
    }

    expect("AWAIT bad");
    svc.update_desired(
        id,
        serde_json::json!({"firmware":{"fwVersion":"3","jobId":"bad","fwLocation":{"host":"localhost:1","path":"x"},"fwFragmentSize":0}}),
    )
    .unwrap();
    writeln!(stdin, "go").unwrap();
    expect("EVT FOTA_ERROR");
    expect("PASS");
    let status = child.wait().unwrap();
    let err = err_thread.join().unwrap();
    assert!(status.success(), "fota_hub: {status:?}\n{err}");
    let fw = svc.get_twin(id).unwrap().properties.reported["firmware"].clone();
    assert_eq!(fw["fwUpdateStatus"], "error");
}
