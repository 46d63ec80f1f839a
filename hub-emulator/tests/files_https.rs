//! The HTTPS firmware file server (FOTA downloads) and `fota start`: ranges, keep-alive, HEAD,
//! 404/416, the pause and cut knobs, over TLS with the emulator's CA; the CLI sets the desired
//! firmware object.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hub_emulator::{Config, Emulator};
use rustls::pki_types::pem::PemObject;

fn tls(emu: &Emulator) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(emu.ca_pem().as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(cfg),
        rustls::pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(emu.files_https_addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Reads one response: (status, headers, body).
fn response(s: &mut impl Read, head_only: bool) -> (u16, String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "response ended early");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; if head_only { 0 } else { len }];
    s.read_exact(&mut body).unwrap();
    (status, head, body)
}

#[test]
fn ranges_keep_alive_head_and_errors_over_tls() {
    let emu = Emulator::start(Config::temp()).unwrap();
    let svc = emu.service();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    svc.put_file("fw/app.bin", &data).unwrap();
    assert_eq!(
        svc.info().unwrap().files_https_addr,
        emu.files_https_addr().to_string()
    );

    let mut s = tls(&emu);
    // Three requests on one connection.
    s.write_all(b"GET /fw/app.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-4095\r\n\r\n")
        .unwrap();
    let (status, head, body) = response(&mut s, false);
    assert_eq!(status, 206);
    assert!(head.contains("Content-Range: bytes 0-4095/10000"), "{head}");
    assert_eq!(body, &data[..4096]);
    s.write_all(
        b"GET /files/fw/app.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=8000-20000\r\n\r\n",
    )
    .unwrap();
    let (status, head, body) = response(&mut s, false);
    assert_eq!(status, 206);
    assert!(
        head.contains("Content-Range: bytes 8000-9999/10000"),
        "{head}"
    );
    assert_eq!(body, &data[8000..]);
    s.write_all(b"HEAD /fw/app.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (status, head, _) = response(&mut s, true);
    assert_eq!(status, 200);
    assert!(head.contains("Content-Length: 10000"), "{head}");
    s.write_all(b"GET /fw/app.bin HTTP/1.1\r\nRange: bytes=10000-\r\n\r\n")
        .unwrap();
    assert_eq!(response(&mut s, false).0, 416);
    s.write_all(b"GET /fw/missing.bin HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(response(&mut s, false).0, 404);
    s.write_all(b"GET /../state.json HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(response(&mut s, false).0, 404);
    s.write_all(b"GET /fw/app.bin HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (status, _, body) = response(&mut s, false);
    assert_eq!((status, body.len()), (200, 10_000));
    assert_eq!(emu.file_server().requests(), 7);

    // Cut: the next response stops after 100 body bytes and the connection closes.
    emu.file_server().cut_next_response_after(100);
    let mut s = tls(&emu);
    s.write_all(b"GET /fw/app.bin HTTP/1.1\r\nRange: bytes=0-999\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let split = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(&got[split..], &data[..100]);
    assert_eq!(emu.file_server().cuts(), 1);
    // Only once.
    let mut s = tls(&emu);
    s.write_all(b"GET /fw/app.bin HTTP/1.1\r\nRange: bytes=0-999\r\n\r\n")
        .unwrap();
    assert_eq!(response(&mut s, false).2, &data[..1000]);

    // Paused: no answer until released.
    emu.file_server().set_paused(true);
    s.write_all(b"GET /fw/app.bin HTTP/1.1\r\nRange: bytes=0-9\r\n\r\n")
        .unwrap();
    s.sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut one = [0u8; 1];
    assert!(s.read(&mut one).is_err(), "answered while paused");
    emu.file_server().set_paused(false);
    s.sock
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(response(&mut s, false).2, &data[..10]);
}

#[test]
fn cli_fota_start_uploads_and_sets_the_desired_firmware() {
    let emu = Emulator::start(Config::temp()).unwrap();
    let svc = emu.service();
    svc.create_sas_device("fw-cli").unwrap();
    let dir = tempfile_dir();
    let file = dir.join("app-2.bin");
    std::fs::write(&file, b"firmware image").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
        .args([
            "--url",
            &emu.http_url(),
            "fota",
            "start",
            "fw-cli",
            "--file",
        ])
        .arg(&file)
        .args(["--version", "2.0.0", "--fragment-size", "1024"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = printed["jobId"].as_str().unwrap().to_string();
    // A version 4 UUID.
    assert_eq!(job.len(), 36);
    assert_eq!(&job[14..15], "4");
    let fw = svc.get_twin("fw-cli").unwrap().properties.desired["firmware"].clone();
    assert_eq!(
        fw,
        serde_json::json!({
            "fwVersion": "2.0.0",
            "jobId": job,
            "fwLocation": {"host": format!("localhost:{}", emu.files_https_addr().port()), "path": "fota/app-2.bin", "protocol": "https"},
            "fwFragmentSize": 1024
        })
    );
    let mut s = tls(&emu);
    s.write_all(b"GET /fota/app-2.bin HTTP/1.1\r\nRange: bytes=0-7\r\n\r\n")
        .unwrap();
    assert_eq!(response(&mut s, false).2, b"firmware");
    // A given job ID is used as is.
    let id = svc
        .fota_start("fw-cli", "fota/x.bin", b"x", "3", Some("job-3"), 512)
        .unwrap();
    assert_eq!(id, "job-3");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "hub-emulator-files-test-{}-{}",
        std::process::id(),
        hub_emulator::util::hex(&hub_emulator::util::random_bytes::<4>())
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
