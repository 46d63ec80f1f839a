//! Azure FOTA end to end: the Linux port's hub client with [`HubFota`] against the local hub
//! emulator (in process), whose HTTPS file server serves the image. The job is started from the
//! service side as `hub-emulator fota start` does; the reported firmware status is read back
//! from the twin through the service API.
#![cfg(feature = "fota")]

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use azure_iot_hub::fota::FirmwareSink;
use azure_iot_hub::hub::{Event, Received};
use azure_iot_hub::port::{
    ConnectConfig, FileSink, FotaEvent, FotaSettings, HubClient, HubFota, PortEvent,
};
use hub_emulator::{Config, Emulator, ServiceClient};
use serde_json::{json, Value};

/// The longest any single wait in a test may take.
const WAIT: Duration = Duration::from_secs(10);

/// The client events these tests look at, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Ready(u32),
    TwinDocument { payload: Vec<u8> },
    TwinDesired { payload: Vec<u8> },
    Other,
}

impl Ev {
    fn from_port(ev: &PortEvent<'_>) -> Ev {
        match ev {
            PortEvent::Hub(Event::Ready { refused }) => Ev::Ready(*refused),
            PortEvent::Hub(Event::Message {
                payload,
                kind: Received::TwinDocument { .. },
                ..
            }) => Ev::TwinDocument {
                payload: payload.to_vec(),
            },
            PortEvent::Hub(Event::Message {
                payload,
                kind: Received::TwinDesired { .. },
                ..
            }) => Ev::TwinDesired {
                payload: payload.to_vec(),
            },
            _ => Ev::Other,
        }
    }
}

fn write_primary(dir: &Path, ca_pem: &str, cert_pem: &str, key_pem: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ca-cert.pem"), ca_pem).unwrap();
    std::fs::write(dir.join("client-cert.pem"), cert_pem).unwrap();
    std::fs::write(dir.join("private-key.pem"), key_pem).unwrap();
}

/// The FOTA events, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum F {
    Start(String),
    Done,
    ErasePending,
    EraseDone,
    Error(String),
}

struct Hub {
    emu: Emulator,
    svc: ServiceClient,
    ca: cert_tool::CaBundle,
    dir: tempfile::TempDir,
}

impl Hub {
    fn start() -> Hub {
        let emu = Emulator::start(Config::temp()).expect("start the hub emulator");
        let svc = emu.service();
        let ca = cert_tool::root_ca().unwrap();
        svc.register_verified_ca("root", ca.cert_pem())
            .expect("register the CA");
        Hub {
            emu,
            svc,
            ca,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Registers `id`; returns its connection config and its certificates folder.
    fn device(&self, id: &str) -> (ConnectConfig, PathBuf) {
        self.svc.create_x509_ca_device(id).expect("create device");
        let folder = self.dir.path().join(id);
        let (cert, key) = cert_tool::device_identity(&self.ca, id);
        write_primary(&folder, &self.emu.ca_pem(), &cert, &key);
        let config = ConnectConfig::builder()
            .hostname("localhost")
            .device_id(id)
            .port(self.emu.mqtt_addr().port())
            .certificates(folder.clone())
            .auto_twin_request(true)
            .send_timeout(Some(Duration::from_secs(5)))
            .build();
        (config, folder)
    }

    /// `reported.firmware` of `id`'s twin.
    fn reported(&self, id: &str) -> Value {
        self.svc.get_twin(id).unwrap().properties.reported["firmware"].clone()
    }

    /// Waits until `reported.firmware.fwUpdateStatus` of `id` is `status`.
    fn wait_reported(&self, id: &str, status: &str) -> Value {
        let end = Instant::now() + WAIT;
        loop {
            let fw = self.reported(id);
            if fw["fwUpdateStatus"] == status {
                return fw;
            }
            assert!(
                Instant::now() < end,
                "reported status never became {status}: {fw}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn files_host(&self) -> String {
        format!("localhost:{}", self.emu.files_https_addr().port())
    }
}

/// A device running firmware `version`, writing images to `image`.
struct FotaDevice {
    client: HubClient,
    events: Receiver<Ev>,
    fota_events: Receiver<F>,
    fota: HubFota,
}

fn settings(folder: &Path, image: &Path, version: &str) -> FotaSettings {
    FotaSettings {
        app_version: version.into(),
        certificates: folder.to_path_buf(),
        image_file: image.to_path_buf(),
        tls: true,
        sec_tag: -1,
        ..FotaSettings::kconfig_defaults()
    }
}

impl FotaDevice {
    fn new(settings: FotaSettings) -> FotaDevice {
        let path = settings.image_file.clone();
        Self::with_sink(settings, move || Box::new(FileSink::new(&path)))
    }

    fn with_sink(
        settings: FotaSettings,
        sink: impl Fn() -> Box<dyn FirmwareSink<Error = std::io::Error> + Send> + Send + Sync + 'static,
    ) -> FotaDevice {
        let (ftx, fota_events) = mpsc::channel();
        let fota = HubFota::with_sink(settings, sink, move |e| {
            let _ = ftx.send(match e {
                FotaEvent::Start { version } => F::Start(version.to_string()),
                FotaEvent::Done => F::Done,
                FotaEvent::ErasePending => F::ErasePending,
                FotaEvent::EraseDone => F::EraseDone,
                FotaEvent::Error(err) => F::Error(err.to_string()),
            });
        });
        let (tx, events) = mpsc::channel();
        let f = fota.clone();
        let client = HubClient::with_handler(move |client, ev| {
            // FOTA sees twin documents and desired patches before the application.
            f.handle(client, ev);
            let _ = tx.send(Ev::from_port(ev));
        });
        FotaDevice {
            client,
            events,
            fota_events,
            fota,
        }
    }

    fn wait(&self, what: &str, pred: impl Fn(&Ev) -> bool) -> Ev {
        let end = Instant::now() + WAIT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(ev) if pred(&ev) => return ev,
                Ok(_) => {}
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    fn connect(&self, config: &ConnectConfig) {
        self.client.connect(config).expect("connect");
        self.wait("READY", |e| matches!(e, Ev::Ready(0)));
        self.wait("TWIN_RECEIVED", |e| matches!(e, Ev::TwinDocument { .. }));
    }

    fn fota_event(&self, timeout: Duration) -> F {
        self.fota_events
            .recv_timeout(timeout)
            .expect("a FOTA event")
    }

    fn no_fota_event(&self) {
        assert_eq!(
            self.fota_events
                .recv_timeout(Duration::from_millis(300))
                .ok(),
            None
        );
    }
}

/// Deterministic pseudo-random bytes.
fn image(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A 200 KB image in 4 KB range requests arrives byte-exact; FOTA_START then FOTA_DONE; the
/// reported status goes downloading (while the file server holds the responses) → applying.
/// Restarting with the old version reports `rolledback`; restarting with the new one reports
/// `current` with the new version; neither downloads the same job again.
#[test]
fn update_applies_then_rollback_and_current_on_restart() {
    let hub = Hub::start();
    let (config, folder) = hub.device("fw-dev");
    let img_path = hub.dir.path().join("out/firmware.bin");
    let data = image(200 * 1024, 7);

    let dev = FotaDevice::new(settings(&folder, &img_path, "1.0.0"));
    dev.connect(&config);
    // The twin had no reported firmware: the device reported `current`.
    let fw = hub.wait_reported("fw-dev", "current");
    assert_eq!(fw["currentFwVersion"], "1.0.0");

    hub.emu.file_server().set_paused(true);
    let started = Instant::now();
    let job = hub
        .svc
        .fota_start(
            "fw-dev",
            "fota/app-2.0.0.bin",
            &data,
            "2.0.0",
            Some("job-1"),
            4096,
        )
        .unwrap();
    assert_eq!(job, "job-1");
    assert_eq!(dev.fota_event(WAIT), F::Start("2.0.0".into()));
    let fw = hub.wait_reported("fw-dev", "downloading");
    assert_eq!(
        fw,
        json!({"fwUpdateStatus":"downloading","currentFwVersion":"1.0.0","pendingFwVersion":"2.0.0","jobId":"job-1"})
    );
    assert!(dev.fota.agent().is_downloading());
    hub.emu.file_server().set_paused(false);
    let resumed = Instant::now();
    assert_eq!(dev.fota_event(WAIT), F::Done);
    let download = resumed.elapsed();
    let elapsed = started.elapsed();
    assert_eq!(std::fs::read(&img_path).unwrap(), data, "byte-exact image");
    let fw = hub.wait_reported("fw-dev", "applying");
    assert_eq!(fw["pendingFwVersion"], "2.0.0");
    let requests = hub.emu.file_server().requests();
    assert_eq!(requests, 50, "200 KB in 4 KB ranges");
    println!(
        "FOTA: 204800 bytes in {requests} range requests of 4096 bytes over TLS (debug build): {} ms from the server's release to FOTA_DONE ({:.0} KB/s); {} ms from the desired patch (with the hold)",
        download.as_millis(),
        200.0 / download.as_secs_f64(),
        elapsed.as_millis()
    );
    dev.no_fota_event();
    dev.client.disconnect().unwrap();
    drop(dev);

    // The update did not take: the old version boots again.
    let old = FotaDevice::new(settings(&folder, &img_path, "1.0.0"));
    old.connect(&config);
    let fw = hub.wait_reported("fw-dev", "rolledback");
    assert_eq!(fw["currentFwVersion"], "1.0.0");
    old.no_fota_event();
    old.client.disconnect().unwrap();
    drop(old);

    // The new version boots.
    let new = FotaDevice::new(settings(&folder, &img_path, "2.0.0"));
    new.connect(&config);
    let fw = hub.wait_reported("fw-dev", "current");
    assert_eq!(fw["currentFwVersion"], "2.0.0");
    new.no_fota_event();
    assert_eq!(
        hub.emu.file_server().requests(),
        requests,
        "no new download"
    );
    new.client.disconnect().unwrap();
}

/// The connection drops in the middle of a fragment: the download resumes from the next
/// missing byte and the image is still byte-exact. The job was in the twin before the device
/// connected, so the twin document (not a patch) starts it.
#[test]
fn dropped_connection_resumes() {
    let hub = Hub::start();
    let (config, folder) = hub.device("fw-drop");
    let img_path = hub.dir.path().join("drop.bin");
    let data = image(100 * 1024 + 17, 11);
    hub.svc
        .fota_start("fw-drop", "fota/drop.bin", &data, "3.1", None, 8192)
        .unwrap();
    // Cut the first response after 1000 bytes of its body.
    hub.emu.file_server().cut_next_response_after(1000);
    let dev = FotaDevice::new(settings(&folder, &img_path, "3.0"));
    // HubFota requests the twin itself when the connection does not.
    let config = config.to_builder().auto_twin_request(false).build();
    dev.connect(&config);
    assert_eq!(dev.fota_event(WAIT), F::Start("3.1".into()));
    assert_eq!(dev.fota_event(WAIT), F::Done);
    assert_eq!(hub.emu.file_server().cuts(), 1);
    assert_eq!(std::fs::read(&img_path).unwrap(), data);
    // 13 fragments, plus the one request whose response was cut.
    assert_eq!(hub.emu.file_server().requests(), 14);
    let fw = hub.wait_reported("fw-drop", "applying");
    assert_eq!(fw["pendingFwVersion"], "3.1");
    assert!(!img_path.with_file_name("drop.bin.part").exists());
}

/// A missing image (404) ends in FOTA_ERROR after FOTA_START, with `error` reported; the old
/// image file is untouched and no partial file stays behind.
#[test]
fn not_found_is_an_error() {
    let hub = Hub::start();
    let (config, folder) = hub.device("fw-404");
    let img_path = hub.dir.path().join("404.bin");
    std::fs::write(&img_path, b"old image").unwrap();
    let dev = FotaDevice::new(settings(&folder, &img_path, "1"));
    dev.connect(&config);
    hub.svc
        .update_desired(
            "fw-404",
            json!({"firmware":{"fwVersion":"2","jobId":"j404","fwLocation":{"host":hub.files_host(),"path":"nope/missing.bin"},"fwFragmentSize":1024}}),
        )
        .unwrap();
    assert_eq!(dev.fota_event(WAIT), F::Start("2".into()));
    match dev.fota_event(WAIT) {
        F::Error(e) => assert!(e.contains("404"), "{e}"),
        other => panic!("expected FOTA_ERROR, got {other:?}"),
    }
    let fw = hub.wait_reported("fw-404", "error");
    assert_eq!(fw["jobId"], "j404");
    assert_eq!(std::fs::read(&img_path).unwrap(), b"old image");
    assert!(!dev.fota.agent().is_downloading());
    // The device still works: the same job is not retried, a new one is.
    let data = image(5000, 3);
    hub.svc
        .fota_start("fw-404", "fota/ok.bin", &data, "2", Some("j-ok"), 1024)
        .unwrap();
    assert_eq!(dev.fota_event(WAIT), F::Start("2".into()));
    assert_eq!(dev.fota_event(WAIT), F::Done);
    assert_eq!(std::fs::read(&img_path).unwrap(), data);
}

/// Fragment sizes 0 and larger than the download buffer, and firmware objects with wrong
/// types, are refused: FOTA_ERROR (no FOTA_START), `error` reported, nothing downloaded, and
/// the client keeps running.
#[test]
fn bad_fragment_sizes_and_malformed_objects_are_errors() {
    let hub = Hub::start();
    let (config, folder) = hub.device("fw-bad");
    let img_path = hub.dir.path().join("bad.bin");
    let dev = FotaDevice::new(settings(&folder, &img_path, "1"));
    dev.connect(&config);
    hub.wait_reported("fw-bad", "current");
    let host = hub.files_host();
    let cases = [
        json!({"fwVersion":"2","jobId":"a","fwLocation":{"host":host,"path":"p"},"fwFragmentSize":0}),
        json!({"fwVersion":"2","jobId":"b","fwLocation":{"host":host,"path":"p"},"fwFragmentSize":10_000_000}),
        json!({"fwVersion":"2","jobId":"c","fwLocation":{"host":7,"path":"p"},"fwFragmentSize":1024}),
        json!({"fwVersion":"2","jobId":["x"],"fwLocation":{"host":host,"path":"p"},"fwFragmentSize":1024}),
        json!({"fwVersion":"2","jobId":"e","fwLocation":"https://x/p","fwFragmentSize":1024}),
        json!({"fwVersion":true,"jobId":"f","fwLocation":{"host":host,"path":"p"},"fwFragmentSize":1024}),
        json!({"fwVersion":"2","jobId":"g","fwLocation":{"host":host,"path":"p"},"fwFragmentSize":"big"}),
    ];
    for (i, fw) in cases.iter().enumerate() {
        // Reset the reported status so that each case's `error` is observed anew.
        hub.svc
            .update_desired("fw-bad", json!({"firmware": null}))
            .unwrap();
        dev.wait("desired patch", |e| matches!(e, Ev::TwinDesired { .. }));
        dev.client
            .report_properties(br#"{"firmware":{"fwUpdateStatus":"current"}}"#)
            .unwrap();
        hub.wait_reported("fw-bad", "current");
        hub.svc
            .update_desired("fw-bad", json!({ "firmware": fw }))
            .unwrap();
        match dev.fota_event(WAIT) {
            F::Error(e) => assert!(e.contains("invalid firmware object"), "case {i}: {e}"),
            other => panic!("case {i} ({fw}): expected FOTA_ERROR, got {other:?}"),
        }
        // The application still gets the patch after FOTA.
        dev.wait("desired patch", |e| matches!(e, Ev::TwinDesired { .. }));
        hub.wait_reported("fw-bad", "error");
    }
    dev.no_fota_event();
    assert_eq!(hub.emu.file_server().requests(), 0);
    assert!(!img_path.exists());
    // Still connected and working.
    dev.client.request_twin().unwrap();
    dev.wait("TWIN_RECEIVED", |e| matches!(e, Ev::TwinDocument { .. }));
}

/// CONFIG_AZURE_FOTA_TLS=n: plain HTTP, here from the emulator's service port, which serves the
/// same files at /files/{path} with ranges. Then an `https://` host prefix forces TLS again.
#[test]
fn plain_http_when_tls_is_off() {
    let hub = Hub::start();
    let (config, folder) = hub.device("fw-plain");
    let img_path = hub.dir.path().join("plain.bin");
    let mut s = settings(&folder, &img_path, "1");
    s.tls = false;
    let dev = FotaDevice::new(s);
    dev.connect(&config);
    let data = image(30_000, 5);
    hub.svc.put_file("fota/plain.bin", &data).unwrap();
    hub.svc
        .update_desired(
            "fw-plain",
            json!({"firmware":{"fwVersion":"2","jobId":"p1","fwLocation":{"host":format!("localhost:{}", hub.emu.http_addr().port()),"path":"files/fota/plain.bin"},"fwFragmentSize":4096}}),
        )
        .unwrap();
    assert_eq!(dev.fota_event(WAIT), F::Start("2".into()));
    assert_eq!(dev.fota_event(WAIT), F::Done);
    assert_eq!(std::fs::read(&img_path).unwrap(), data);
    assert_eq!(hub.emu.file_server().requests(), 0, "not over HTTPS");

    let data = image(9000, 6);
    hub.svc.put_file("fota/tls.bin", &data).unwrap();
    hub.svc
        .update_desired(
            "fw-plain",
            json!({"firmware":{"fwVersion":"3","jobId":"p2","fwLocation":{"host":format!("https://{}", hub.files_host()),"path":"fota/tls.bin"},"fwFragmentSize":4096}}),
        )
        .unwrap();
    assert_eq!(dev.fota_event(WAIT), F::Start("3".into()));
    assert_eq!(dev.fota_event(WAIT), F::Done);
    assert_eq!(std::fs::read(&img_path).unwrap(), data);
    assert_eq!(hub.emu.file_server().requests(), 3);
}

/// CONFIG_AZURE_FOTA_SEC_TAG selects the CA file: the MQTT secondary tag means ca-cert-2.pem.
/// A CA the image server does not chain to fails the job at once with a TLS error (no retries),
/// and the right one works.
#[test]
fn sec_tag_selects_the_ca() {
    let hub = Hub::start();
    let (config, folder) = hub.device("fw-tag");
    let img_path = hub.dir.path().join("tag.bin");
    let other_ca = cert_tool::root_ca().unwrap();
    std::fs::write(folder.join("ca-cert-2.pem"), other_ca.cert_pem()).unwrap();
    let mut s = settings(&folder, &img_path, "1");
    s.mqtt_sec_tag = 10;
    s.mqtt_secondary_sec_tag = 11;
    s.sec_tag = 11;
    let dev = FotaDevice::new(s);
    dev.connect(&config);
    let data = image(5000, 9);
    hub.svc
        .fota_start("fw-tag", "fota/tag.bin", &data, "2", Some("t1"), 4096)
        .unwrap();
    assert_eq!(dev.fota_event(WAIT), F::Start("2".into()));
    let started = Instant::now();
    match dev.fota_event(WAIT) {
        F::Error(e) => assert!(e.starts_with("TLS"), "{e}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1), "no retries");
    hub.wait_reported("fw-tag", "error");
    // The emulator's CA under the secondary tag: the next job works.
    std::fs::write(folder.join("ca-cert-2.pem"), hub.emu.ca_pem()).unwrap();
    hub.svc
        .fota_start("fw-tag", "fota/tag.bin", &data, "2", Some("t2"), 4096)
        .unwrap();
    assert_eq!(dev.fota_event(WAIT), F::Start("2".into()));
    assert_eq!(dev.fota_event(WAIT), F::Done);
    assert_eq!(std::fs::read(&img_path).unwrap(), data);
}

/// A sink that erases (as flash does) raises ERASE_PENDING and ERASE_DONE around its prepare
/// step, once, between START and DONE, with the image size; a resumed download does not
/// prepare again.
#[test]
fn erasing_sink_raises_erase_events() {
    use std::sync::{Arc, Mutex};
    struct Erasing {
        file: FileSink,
        prepared: Arc<Mutex<Vec<u64>>>,
    }
    impl FirmwareSink for Erasing {
        type Error = std::io::Error;
        fn erases(&self) -> bool {
            true
        }
        fn prepare(&mut self, size: u64) -> std::io::Result<()> {
            self.prepared.lock().unwrap().push(size);
            self.file.prepare(size)
        }
        fn write(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
            self.file.write(offset, bytes)
        }
        fn finish(&mut self) -> std::io::Result<()> {
            self.file.finish()
        }
        fn abort(&mut self) {
            self.file.abort()
        }
    }
    let hub = Hub::start();
    let (config, folder) = hub.device("fw-erase");
    let img_path = hub.dir.path().join("erase.bin");
    let prepared = Arc::new(Mutex::new(Vec::new()));
    let p = prepared.clone();
    let path = img_path.clone();
    let dev = FotaDevice::with_sink(settings(&folder, &img_path, "1"), move || {
        Box::new(Erasing {
            file: FileSink::new(&path),
            prepared: p.clone(),
        })
    });
    dev.connect(&config);
    let data = image(20_000, 13);
    hub.emu.file_server().cut_next_response_after(4000);
    hub.svc
        .fota_start("fw-erase", "fota/erase.bin", &data, "2", None, 8192)
        .unwrap();
    let got: Vec<F> = (0..4).map(|_| dev.fota_event(WAIT)).collect();
    assert_eq!(
        got,
        [F::Start("2".into()), F::ErasePending, F::EraseDone, F::Done]
    );
    assert_eq!(*prepared.lock().unwrap(), [20_000]);
    assert_eq!(hub.emu.file_server().cuts(), 1);
    assert_eq!(std::fs::read(&img_path).unwrap(), data);
}
