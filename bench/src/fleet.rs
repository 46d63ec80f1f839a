//! A fleet of simulated devices in one process: each is the library's sans-IO core
//! ([`Connection`]) over its own non-blocking rustls session, all driven by a few epoll loops
//! (mio). The hub is `hub-emulator serve` in a child process (each process gets its own file
//! descriptors). Every device authenticates with a SAS token, reaches READY and then sends one
//! QoS 1 telemetry message a second.

use azure_iot_hub::hub::{Event, Message, MessageKind, Options, Property};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::sas::{self, Resource};
use azure_iot_hub::sink::Cursor;
use azure_iot_hub::Connection;
use hub_emulator::{Authentication, ServiceClient};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::ServerName;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the fleet achieved.
#[derive(Debug, Clone)]
pub struct FleetReport {
    /// Devices asked for.
    pub devices: usize,
    /// Devices at READY at the end of the run (all connected at the same time).
    pub connected: usize,
    /// Seconds from the first TCP connect until all were READY.
    pub connect_secs: f64,
    /// Length of the measured window, seconds.
    pub window_secs: f64,
    /// Telemetry messages sent per second in the window.
    pub sent_per_sec: f64,
    /// PUBACKs received per second in the window.
    pub acked_per_sec: f64,
    /// CPU seconds per wall second (all cores), fleet process, in the window.
    pub fleet_cpu: f64,
    /// CPU seconds per wall second, emulator process, in the window.
    pub hub_cpu: f64,
    /// Resident memory of the fleet process, KiB, and per device.
    pub fleet_rss_kib: u64,
    /// Resident memory of the emulator, KiB.
    pub hub_rss_kib: u64,
    /// Messages sent that were not acknowledged by the end (must be a handful in flight).
    pub unacked: u64,
}

/// The emulator as a child process.
pub struct HubProcess {
    child: Child,
    /// MQTT address.
    pub mqtt: SocketAddr,
    /// Service URL.
    pub url: String,
    /// Its CA certificate (PEM).
    pub ca_pem: String,
    _dir: tempfile::TempDir,
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `hub-emulator` binary: `HUB_EMULATOR_BIN`, or next to this executable (same target dir).
pub fn emulator_bin() -> PathBuf {
    if let Ok(p) = std::env::var("HUB_EMULATOR_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("hub-emulator")
}

impl HubProcess {
    /// Starts `hub-emulator serve` with logging at `warn`.
    pub fn start(bin: &Path) -> HubProcess {
        let dir = tempfile::tempdir().unwrap();
        let mqtt_port = free_port();
        // Two distinct ports: a released port may be handed out again at once.
        let http_port = std::iter::repeat_with(free_port)
            .find(|&p| p != mqtt_port)
            .unwrap();
        let child = Command::new(bin)
            .args(["serve", "--state"])
            .arg(dir.path())
            .args(["--mqtt-port", &mqtt_port.to_string()])
            .args(["--http-port", &http_port.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let url = format!("http://127.0.0.1:{http_port}");
        let svc = ServiceClient::new(&url);
        let t0 = Instant::now();
        while svc.info().is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "emulator did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let ca_pem = std::fs::read_to_string(dir.path().join("emulator-ca.pem")).unwrap();
        HubProcess {
            child,
            mqtt: SocketAddr::from(([127, 0, 0, 1], mqtt_port)),
            url,
            ca_pem,
            _dir: dir,
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// (user+system CPU seconds, RSS KiB) of a process from /proc.
pub fn proc_usage(pid: &str) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = 100.0; // sysconf(_SC_CLK_TCK) on Linux
    let cpu = f.get(11).zip(f.get(12)).map_or(0.0, |(u, s)| {
        (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / tick
    });
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (cpu, rss)
}

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Device {
    sock: TcpStream,
    tls: rustls::ClientConnection,
    conn: Connection<[u8; 256], [u8; 256]>,
    ready: bool,
    dead: bool,
}

#[derive(Default)]
struct Counters {
    ready: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    dead: AtomicU64,
}

impl Device {
    /// Moves plaintext from the core into rustls, then ciphertext to the socket.
    fn flush(&mut self) -> io::Result<()> {
        if let Some(b) = self.conn.client.poll_transmit() {
            let n = b.len();
            self.tls.writer().write_all(b)?;
            self.conn.client.transmit_complete(n, 0);
        }
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn readable(&mut self, c: &Counters) -> io::Result<()> {
        loop {
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
            self.tls
                .process_new_packets()
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        loop {
            let spare = self.conn.framer.spare();
            if spare.is_empty() {
                return Err(io::Error::other("receive buffer full"));
            }
            match self.tls.reader().read(spare) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.conn.framer.commit(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
            loop {
                match self.conn.poll_event(0) {
                    Ok(None) => break,
                    Ok(Some(Event::Ready { .. })) => {
                        self.ready = true;
                        c.ready.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(Event::Puback { .. })) => {
                        c.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(Event::ConnectionRefused { return_code })) => {
                        return Err(io::Error::other(format!("refused {return_code}")))
                    }
                    Ok(Some(_)) => {}
                    Err(e) => return Err(io::Error::other(format!("{e:?}"))),
                }
            }
        }
        self.flush()
    }

    fn send(&mut self, c: &Counters) -> io::Result<()> {
        let props = [Property::new("a", "1"), Property::new("b", "2")];
        let msg = Message {
            kind: MessageKind::Telemetry { properties: &props },
            payload: crate::ops::PAYLOAD,
            qos: QoS::AtLeastOnce,
            packet_id: None,
            dup: false,
            retain: false,
        };
        let out = self
            .conn
            .client
            .publish(&msg, 0)
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        // One write, one TLS record.
        let n = self
            .tls
            .writer()
            .write_vectored(&[IoSlice::new(out.head()), IoSlice::new(out.body())])?;
        debug_assert_eq!(n, out.head().len() + out.body().len());
        out.sent();
        c.sent.fetch_add(1, Ordering::Relaxed);
        self.flush()
    }
}

fn new_device(
    id: String,
    addr: SocketAddr,
    cfg: &Arc<rustls::ClientConfig>,
    expiry: u64,
) -> io::Result<Device> {
    let sock = TcpStream::connect(addr)?;
    sock.set_nodelay(true)?;
    let tls =
        rustls::ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
            .map_err(|e| io::Error::other(e.to_string()))?;
    let opts = Options {
        auto_twin_request: false,
        ..Options::default()
    };
    let mut conn = Connection::new([0u8; 256], [0u8; 256], opts);
    let mut token = [0u8; 200];
    let mut cur = Cursor::new(&mut token);
    sas::write_token(
        &mut cur,
        &Resource::Hub {
            host: "localhost",
            device_id: &id,
        },
        KEY,
        expiry,
    )
    .map_err(|e| io::Error::other(format!("{e:?}")))?;
    let len = cur.len();
    conn.client
        .connect("localhost", &id, Some(&token[..len]), None, 0)
        .map_err(|e| io::Error::other(format!("{e:?}")))?;
    Ok(Device {
        sock,
        tls,
        conn,
        ready: false,
        dead: false,
    })
}

/// One event loop owning `ids`: connects them (at most `ramp` handshakes at once), then sends
/// one message per device per second until `stop`.
fn event_loop(
    ids: Vec<String>,
    addr: SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
    ramp: usize,
    c: Arc<Counters>,
    stop: Arc<AtomicBool>,
    expiry: u64,
) {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut devs: Vec<Device> = Vec::with_capacity(ids.len());
    let total = ids.len();
    let mut pending = ids.into_iter();
    let start = Instant::now();
    let mut cursor = 0usize; // next device to send, in index order
    let mut cycle = 0u64; // how many sends each device has had the chance of
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Ramp up: keep `ramp` handshakes in flight.
        let in_flight = devs
            .iter()
            .rev()
            .take(ramp * 2)
            .filter(|d| !d.ready && !d.dead)
            .count();
        for _ in in_flight..ramp {
            let Some(id) = pending.next() else { break };
            match new_device(id, addr, &cfg, expiry) {
                Ok(mut d) => {
                    let t = Token(devs.len());
                    poll.registry()
                        .register(&mut d.sock, t, Interest::READABLE | Interest::WRITABLE)
                        .unwrap();
                    devs.push(d);
                }
                Err(_) => {
                    c.dead.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        poll.poll(&mut events, Some(Duration::from_millis(5)))
            .unwrap();
        for ev in events.iter() {
            let d = &mut devs[ev.token().0];
            if d.dead {
                continue;
            }
            let r = if ev.is_readable() {
                d.readable(&c)
            } else {
                d.flush()
            };
            if r.is_err() {
                d.dead = true;
                c.dead.fetch_add(1, Ordering::Relaxed);
                if d.ready {
                    c.ready.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        // Sends: device i of this loop sends at i/total of each second.
        if devs.len() == total && total > 0 {
            let now_ms = start.elapsed().as_millis() as u64;
            loop {
                let due = cycle * 1000 + (cursor as u64 * 1000) / total as u64;
                if due > now_ms {
                    break;
                }
                let d = &mut devs[cursor];
                if d.ready && !d.dead && d.send(&c).is_err() {
                    d.dead = true;
                    c.dead.fetch_add(1, Ordering::Relaxed);
                    c.ready.fetch_sub(1, Ordering::Relaxed);
                }
                cursor += 1;
                if cursor == total {
                    cursor = 0;
                    cycle += 1;
                }
            }
        }
    }
}

/// Runs a fleet of `n` devices on `threads` event loops against a fresh emulator child process,
/// measuring a `window` once all are connected.
pub fn run(n: usize, threads: usize, window: Duration) -> FleetReport {
    let hub = HubProcess::start(&emulator_bin());
    let ep = Endpoint {
        mqtt: hub.mqtt,
        url: hub.url.clone(),
        ca_pem: hub.ca_pem.clone(),
        pid: hub.pid().to_string(),
    };
    run_on(&ep, n, threads, window)
}

/// Where the hub is.
pub struct Endpoint {
    /// MQTT address.
    pub mqtt: SocketAddr,
    /// Service URL.
    pub url: String,
    /// CA certificate, PEM.
    pub ca_pem: String,
    /// Process id (for CPU and memory; this process's own when the hub is in process).
    pub pid: String,
}

/// [`run`] against a hub that is already running.
pub fn run_on(hub: &Endpoint, n: usize, threads: usize, window: Duration) -> FleetReport {
    let svc = ServiceClient::new(&hub.url);
    // Register the devices (4 service connections in parallel).
    std::thread::scope(|s| {
        for t in 0..4 {
            let svc = &svc;
            s.spawn(move || {
                for i in (t..n).step_by(4) {
                    svc.create_device(
                        &format!("fleet-{i}"),
                        Authentication::Sas {
                            primary_key: KEY.into(),
                            secondary_key: KEY.into(),
                        },
                    )
                    .expect("create device");
                }
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut hub.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let cfg = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let c = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let me = std::process::id().to_string();
    let hub_pid = hub.pid.clone();
    let t0 = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let ids: Vec<String> = (t..n)
                .step_by(threads)
                .map(|i| format!("fleet-{i}"))
                .collect();
            let (cfg, c, stop) = (cfg.clone(), c.clone(), stop.clone());
            let addr = hub.mqtt;
            std::thread::spawn(move || event_loop(ids, addr, cfg, 64, c, stop, expiry))
        })
        .collect();
    // Wait until all are READY (or nothing moves for 30 s).
    let mut last = (0, Instant::now());
    loop {
        let r = c.ready.load(Ordering::Relaxed) as usize;
        let dead = c.dead.load(Ordering::Relaxed) as usize;
        if r + dead >= n {
            break;
        }
        if r != last.0 {
            last = (r, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let connect_secs = t0.elapsed().as_secs_f64();
    // Let the send schedule settle for a second, then measure.
    std::thread::sleep(Duration::from_millis(1500));
    let (f0, _) = proc_usage(&me);
    let (h0, _) = proc_usage(&hub_pid);
    let (s0, a0) = (
        c.sent.load(Ordering::Relaxed),
        c.acked.load(Ordering::Relaxed),
    );
    let w0 = Instant::now();
    std::thread::sleep(window);
    let secs = w0.elapsed().as_secs_f64();
    let (s1, a1) = (
        c.sent.load(Ordering::Relaxed),
        c.acked.load(Ordering::Relaxed),
    );
    let (f1, fleet_rss_kib) = proc_usage(&me);
    let (h1, hub_rss_kib) = proc_usage(&hub_pid);
    let connected = c.ready.load(Ordering::Relaxed) as usize;
    stop.store(true, Ordering::Relaxed);
    // Give in-flight PUBACKs a moment: the loops are stopping, so count what is outstanding now.
    for h in handles {
        let _ = h.join();
    }
    let unacked = c.sent.load(Ordering::Relaxed) - c.acked.load(Ordering::Relaxed);
    FleetReport {
        devices: n,
        connected,
        connect_secs,
        window_secs: secs,
        sent_per_sec: (s1 - s0) as f64 / secs,
        acked_per_sec: (a1 - a0) as f64 / secs,
        fleet_cpu: (f1 - f0) / secs,
        hub_cpu: (h1 - h0) / secs,
        fleet_rss_kib,
        hub_rss_kib,
        unacked,
    }
}
