//! Bytes on the wire: MQTT packets from the core encoders, and TLS records as the Linux port
//! sends them to the local hub, seen by a counting TCP proxy between the two.

use crate::ops::{self, DEVICE, HOST};
use azure_iot_hub::hub::{Event, Message, MessageKind, Options, Property, Received};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::port::{ConnectConfig, HubClient, PortEvent};
use azure_iot_hub::Connection;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// MQTT packet sizes from the core's encoders (X.509: no password).
#[derive(Debug, Clone, Copy)]
pub struct CoreBytes {
    /// CONNECT.
    pub connect: usize,
    /// SUBSCRIBE (the four topics).
    pub subscribe: usize,
    /// The automatic twin GET.
    pub twin_get: usize,
    /// Telemetry QoS 1, `a=1&b=2`, 38-byte payload.
    pub telemetry: usize,
}

/// Walks a core client through connect → READY and one telemetry send, and measures each packet.
pub fn core_bytes() -> CoreBytes {
    let mut c = Connection::new([0u8; 512], [0u8; 512], Options::default());
    let take = |c: &mut Connection<[u8; 512], [u8; 512]>| {
        let n = c.client.poll_transmit().map_or(0, <[u8]>::len);
        c.client.transmit_complete(n, 0);
        n
    };
    c.client.connect(HOST, DEVICE, None, None, 0).unwrap();
    let connect = take(&mut c);
    c.handle_input(&[0x20, 0x02, 0x00, 0x00]);
    assert!(matches!(c.poll_event(0), Ok(Some(Event::Connected { .. }))));
    let subscribe = take(&mut c);
    c.handle_input(&[0x90, 0x06, 0x00, 0x01, 0, 0, 0, 0]);
    assert!(matches!(c.poll_event(0), Ok(Some(Event::Ready { .. }))));
    let twin_get = take(&mut c);
    let props = [Property::new("a", "1"), Property::new("b", "2")];
    let msg = Message {
        kind: MessageKind::Telemetry { properties: &props },
        payload: ops::PAYLOAD,
        qos: QoS::AtLeastOnce,
        packet_id: None,
        dup: false,
        retain: false,
    };
    let out = c.client.publish(&msg, 0).unwrap();
    let telemetry = out.head().len() + out.body().len();
    out.sent();
    CoreBytes {
        connect,
        subscribe,
        twin_get,
        telemetry,
    }
}

/// One TLS record seen by the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// True for client → server.
    pub up: bool,
    /// Content type (22 handshake, 20 change cipher spec, 23 application data, 21 alert).
    pub content_type: u8,
    /// Bytes on the wire including the 5-byte header.
    pub len: usize,
    /// Index of the TCP read that carried the record's last byte (same index: same segment run).
    pub read: usize,
}

/// What the proxy saw, shared between its two pumps.
#[derive(Default)]
pub struct Log {
    /// Records in arrival order (both directions).
    pub records: Vec<Record>,
    /// The cipher suite the server chose (from ServerHello).
    pub suite: Option<u16>,
    /// TLS version the server chose (0x0303 for 1.2, 0x0304 for 1.3).
    pub version: Option<u16>,
    /// Client → server write count (reads on the proxy's client side).
    pub reads: usize,
}

fn parse_server_hello(body: &[u8], log: &mut Log) {
    // handshake header (4) + legacy version (2) + random (32) + session id.
    if body.first() != Some(&2) || body.len() < 39 {
        return;
    }
    let sid = body[38] as usize;
    let at = 39 + sid;
    let Some(s) = body.get(at..at + 2) else {
        return;
    };
    log.suite = Some(u16::from_be_bytes([s[0], s[1]]));
    let mut version = u16::from_be_bytes([body[4], body[5]]);
    // supported_versions (43) in the extensions means TLS 1.3.
    let mut p = at + 3;
    if let Some(l) = body.get(p..p + 2) {
        let end = p + 2 + u16::from_be_bytes([l[0], l[1]]) as usize;
        p += 2;
        while p + 4 <= end.min(body.len()) {
            let ty = u16::from_be_bytes([body[p], body[p + 1]]);
            let len = u16::from_be_bytes([body[p + 2], body[p + 3]]) as usize;
            if ty == 43 && len == 2 && p + 6 <= body.len() {
                version = u16::from_be_bytes([body[p + 4], body[p + 5]]);
            }
            p += 4 + len;
        }
    }
    log.version = Some(version);
}

fn pump(from: TcpStream, mut to: TcpStream, up: bool, log: Arc<Mutex<Log>>, delay: Duration) {
    if delay.is_zero() {
        return pump_log(from, |b| to.write_all(b).is_ok(), up, log);
    }
    // Each chunk leaves `delay` after it arrived (a link with that one-way latency).
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        for (at, b) in rx {
            let due = at + delay;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&b).is_err() {
                return;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    pump_log(
        from,
        |b| tx.send((Instant::now(), b.to_vec())).is_ok(),
        up,
        log,
    )
}

fn pump_log(
    mut from: TcpStream,
    mut forward: impl FnMut(&[u8]) -> bool,
    up: bool,
    log: Arc<Mutex<Log>>,
) {
    let mut buf = vec![0u8; 65536];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        {
            let mut l = log.lock().unwrap();
            let read = l.reads;
            l.reads += 1;
            while pending.len() >= 5 {
                let len = 5 + u16::from_be_bytes([pending[3], pending[4]]) as usize;
                if pending.len() < len {
                    break;
                }
                if !up && pending[0] == 22 && l.suite.is_none() {
                    let body = pending[5..len].to_vec();
                    parse_server_hello(&body, &mut l);
                }
                l.records.push(Record {
                    up,
                    content_type: pending[0],
                    len,
                    read,
                });
                pending.drain(..len);
            }
        }
        if !forward(&buf[..n]) {
            return;
        }
    }
}

/// A one-connection counting proxy to `target`; returns its address.
/// `delay` is added to the server → client direction (zero: none).
pub fn proxy(target: SocketAddr, log: Arc<Mutex<Log>>, delay: Duration) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((client, _)) = l.accept() else { return };
        let server = TcpStream::connect(target).unwrap();
        client.set_nodelay(true).unwrap();
        server.set_nodelay(true).unwrap();
        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let l2 = log.clone();
        std::thread::spawn(move || pump(s2, c2, false, l2, delay));
        pump(client, server, true, log, Duration::ZERO);
    });
    addr
}

/// A local hub with the original's host name and one X.509 device ([`DEVICE`]).
pub struct Hub {
    /// The emulator.
    pub emu: hub_emulator::Emulator,
    /// Certificates folder of [`DEVICE`].
    pub folder: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hub {
    /// Starts it. `tls`: "1.2", "1.3" or "" (both offered).
    pub fn start(tls: &str) -> Hub {
        std::env::set_var("HUB_EMULATOR_TLS", tls);
        let mut cfg = hub_emulator::Config::temp();
        cfg.hub_hostname = HOST.to_string();
        cfg.server_cert_names.push(HOST.to_string());
        let emu = hub_emulator::Emulator::start(cfg).expect("start the hub emulator");
        std::env::remove_var("HUB_EMULATOR_TLS");
        let svc = emu.service();
        let ca = cert_tool::root_ca().unwrap();
        svc.register_verified_ca("root", ca.cert_pem()).unwrap();
        svc.create_x509_ca_device(DEVICE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join(DEVICE);
        let (cert, key) = cert_tool::device_identity(&ca, DEVICE);
        write_folder(&folder, &emu.ca_pem(), &cert, &key);
        Hub {
            emu,
            folder,
            _dir: dir,
        }
    }

    /// The port's configuration for [`DEVICE`] at `port` on 127.0.0.1.
    pub fn config(&self, port: u16) -> ConnectConfig {
        ConnectConfig::builder()
            .hostname(HOST)
            .device_id(DEVICE)
            .port(port)
            .static_ip("127.0.0.1")
            .certificates(self.folder.clone())
            .send_timeout(Some(Duration::from_secs(10)))
            .build()
    }
}

fn write_folder(dir: &Path, ca_pem: &str, cert_pem: &str, key_pem: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ca-cert.pem"), ca_pem).unwrap();
    std::fs::write(dir.join("client-cert.pem"), cert_pem).unwrap();
    std::fs::write(dir.join("private-key.pem"), key_pem).unwrap();
}

/// Events of a port client, as a channel.
pub enum Ev {
    /// READY.
    Ready,
    /// PUBACK of a packet id.
    Puback(u16),
    /// The twin document arrived.
    Twin,
    /// Something else.
    Other,
}

/// A port client whose events go to a channel.
pub fn client() -> (HubClient, mpsc::Receiver<Ev>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let c = HubClient::with_handler(move |_, ev| {
        let e = match ev {
            PortEvent::Hub(Event::Ready { .. }) => Ev::Ready,
            PortEvent::Hub(Event::Puback { packet_id }) => Ev::Puback(*packet_id),
            PortEvent::Hub(Event::Message {
                kind: Received::TwinDocument { .. },
                ..
            }) => Ev::Twin,
            _ => Ev::Other,
        };
        let _ = tx.lock().unwrap().send(e);
    });
    (c, rx)
}

/// Waits for an event matching `f`.
pub fn wait(rx: &mpsc::Receiver<Ev>, mut f: impl FnMut(&Ev) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = rx.recv_timeout(left).expect("event in time");
        if f(&e) {
            return;
        }
    }
}

/// The TLS capture of one session.
#[derive(Debug, Clone)]
pub struct TlsCapture {
    /// "TLS 1.2" / "TLS 1.3".
    pub version: String,
    /// Cipher suite name.
    pub suite: String,
    /// Client application-data records from the end of the handshake until the twin document
    /// arrived: CONNECT, SUBSCRIBE, twin GET (TLS 1.2 only: in 1.3 the client's last handshake
    /// flight is application data too).
    pub connect_records: Vec<usize>,
    /// Records (both directions, wire bytes) of the one telemetry send, client side.
    pub telemetry_records: Vec<usize>,
    /// Round trips from TCP connect to READY: the time to READY through a proxy that delays
    /// everything the server sends by 40 ms, in units of 40 ms, plus one for TCP's handshake.
    pub round_trips_to_ready: usize,
    /// Every record until READY: (up, type, len).
    pub until_ready: Vec<Record>,
}

fn suite_name(s: Option<u16>) -> String {
    match s {
        Some(0x1301) => "TLS13_AES_128_GCM_SHA256".into(),
        Some(0x1302) => "TLS13_AES_256_GCM_SHA384".into(),
        Some(0x1303) => "TLS13_CHACHA20_POLY1305_SHA256".into(),
        Some(0xC02B) => "ECDHE_ECDSA_AES_128_GCM_SHA256".into(),
        Some(0xC02C) => "ECDHE_ECDSA_AES_256_GCM_SHA384".into(),
        Some(0xCCA9) => "ECDHE_ECDSA_CHACHA20_POLY1305".into(),
        Some(x) => format!("0x{x:04x}"),
        None => "?".into(),
    }
}

/// Connects the Linux port through the proxy, waits for READY (and the automatic twin), sends
/// one QoS 1 telemetry message (`a=1&b=2`, 38 bytes) and records what crossed the wire.
pub fn tls_capture(tls: &str) -> TlsCapture {
    let hub = Hub::start(tls);
    let log = Arc::new(Mutex::new(Log::default()));
    let addr = proxy(hub.emu.mqtt_addr(), log.clone(), Duration::ZERO);
    let (c, rx) = client();
    c.connect(&hub.config(addr.port())).expect("connect");
    wait(&rx, |e| matches!(e, Ev::Ready));
    let ready_at = log.lock().unwrap().records.len();
    wait(&rx, |e| matches!(e, Ev::Twin));
    std::thread::sleep(Duration::from_millis(100));
    let mark = log.lock().unwrap().records.len();
    let props = [Property::new("a", "1"), Property::new("b", "2")];
    let id = c
        .send_telemetry(ops::PAYLOAD, &props, QoS::AtLeastOnce)
        .expect("send");
    wait(&rx, |e| matches!(e, Ev::Puback(p) if *p == id));
    std::thread::sleep(Duration::from_millis(50));
    let _ = c.disconnect();
    let l = log.lock().unwrap();
    let until_ready = l.records[..ready_at].to_vec();
    let telemetry_records = l.records[mark..]
        .iter()
        .filter(|r| r.up && r.content_type == 23)
        .take_while(|_| true)
        .map(|r| r.len)
        .collect::<Vec<_>>();
    // The telemetry is the first client record after the mark (anything after it is the
    // DISCONNECT); keep it and any record carried by the same read.
    let first = l.records[mark..]
        .iter()
        .find(|r| r.up && r.content_type == 23);
    let telemetry_records = match first {
        Some(f) => l.records[mark..]
            .iter()
            .filter(|r| r.up && r.read == f.read && r.content_type == 23)
            .map(|r| r.len)
            .collect(),
        None => telemetry_records,
    };
    let tls13 = l.version == Some(0x0304);
    let connect_records = if tls13 {
        Vec::new()
    } else {
        // Up to the mark: CONNECT, SUBSCRIBE and the automatic twin GET (sent at READY).
        l.records[..mark]
            .iter()
            .filter(|r| r.up && r.content_type == 23)
            .map(|r| r.len)
            .collect()
    };
    drop(l);
    let rtt = round_trips(&hub);
    let l = log.lock().unwrap();
    TlsCapture {
        version: match l.version {
            Some(0x0304) => "TLS 1.3".into(),
            Some(0x0303) => "TLS 1.2".into(),
            v => format!("{v:?}"),
        },
        suite: suite_name(l.suite),
        connect_records,
        telemetry_records,
        round_trips_to_ready: rtt,
        until_ready,
    }
}

/// Connects again through a proxy that adds 40 ms to the server's direction and counts how
/// many of those delays the way to READY took. Every round trip costs at least one delay, so the
/// whole delays in the elapsed time (rounded down) never undercount; the best of three attempts
/// keeps a busy machine's scheduling stalls from adding one.
fn round_trips(hub: &Hub) -> usize {
    let delay = Duration::from_millis(40);
    (0..3)
        .map(|_| {
            // The proxy serves one connection.
            let addr = proxy(
                hub.emu.mqtt_addr(),
                Arc::new(Mutex::new(Log::default())),
                delay,
            );
            let (c, rx) = client();
            let t0 = Instant::now();
            c.connect(&hub.config(addr.port())).expect("connect");
            wait(&rx, |e| matches!(e, Ev::Ready));
            let waited = t0.elapsed().as_secs_f64() / delay.as_secs_f64();
            let _ = c.disconnect();
            1 + waited.floor() as usize
        })
        .min()
        .unwrap_or(usize::MAX)
}
