//! QoS 1 telemetry over loopback TLS: the Linux port sending to a peer (the minimal sink, or the
//! hub emulator), compared with writing the same MQTT bytes on a plain rustls socket to the same
//! peer.

use crate::ops::{self, DEVICE};
use crate::sink::{self, Sink};
use crate::wire::Hub;
use azure_iot_hub::hub::{Event, Message, MessageKind, Options, Property, Received};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::port::{HubClient, PortEvent};
use azure_iot_hub::Connection;
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages per second both ways, and the CPU time per message of each side's threads and of
/// the hub serving each.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Messages sent each way.
    pub n: usize,
    /// The library (Linux port), messages per second, until the last PUBACK.
    pub library: f64,
    /// The same bytes on a plain TLS socket, until the last PUBACK.
    pub plain: f64,
    /// CPU time (user + system, microseconds) per message of the thread that calls
    /// `send_telemetry` (the port's worker, which reads the PUBACKs, is `worker_cpu_us`).
    pub library_cpu_us: f64,
    /// CPU time per message of the plain socket's one thread, which also reads the PUBACKs.
    pub plain_cpu_us: f64,
    /// CPU time per message of the port's worker (`mqtt_helper`: reads and decrypts the
    /// PUBACKs, runs the handler), from the first send to the last PUBACK.
    pub worker_cpu_us: f64,
    /// CPU time per message of the peer's threads (same process) while it serves the library,
    /// from the first send to the last PUBACK.
    pub library_peer_cpu_us: f64,
    /// The same while it serves the plain socket.
    pub plain_peer_cpu_us: f64,
}

/// The run time so far (nanoseconds) of each thread of this process named `name`, by thread id:
/// the first field of `/proc/self/task/<tid>/schedstat`.
fn threads_cpu_ns(name: &str) -> HashMap<u64, u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let named = std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim_end() == name);
        let tid = task.file_name().to_str().and_then(|t| t.parse().ok());
        let ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok());
        if let (true, Some(tid), Some(ns)) = (named, tid, ns) {
            out.insert(tid, ns);
        }
    }
    out
}

/// CPU time (microseconds) the threads named `name` spent since `before` (threads started
/// meanwhile count from zero).
fn threads_cpu_since_us(name: &str, before: &HashMap<u64, u64>) -> f64 {
    threads_cpu_ns(name)
        .iter()
        .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum::<u64>() as f64
        / 1e3
}

/// The port's worker thread, as `std::thread::Builder` names it.
const WORKER: &str = "mqtt_helper";

/// The server both clients send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// [`Sink`]: keeps up with one client, so the rates are the clients'.
    Sink,
    /// The hub emulator, which does far more per message (parses and stores every message) and
    /// on 2 cores is slower than either client: the rates are then its own.
    Emulator,
}

impl Peer {
    /// The peer's threads, as named in `/proc/self/task/*/comm`.
    fn threads(self) -> &'static str {
        match self {
            Peer::Sink => sink::THREAD,
            Peer::Emulator => "hub-emulator",
        }
    }
}

/// The calling thread's CPU time (user + system), in microseconds: the scheduler's own count
/// (`CLOCK_THREAD_CPUTIME_ID`, nanoseconds), not `getrusage`'s tick-based split, which can stand
/// still over a short window.
fn thread_cpu_us() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes for the duration of the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 * 1e6 + ts.tv_nsec as f64 / 1e3
}

fn tls_stream(
    hub: &Hub,
    peer: SocketAddr,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(hub.folder.join("ca-cert.pem")).unwrap();
    for c in rustls_pemfile::certs(&mut &ca[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let cert = std::fs::read(hub.folder.join("client-cert.pem")).unwrap();
    let chain = rustls_pemfile::certs(&mut &cert[..])
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = std::fs::read(hub.folder.join("private-key.pem")).unwrap();
    let key = rustls_pemfile::private_key(&mut &key[..]).unwrap().unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    let conn = rustls::ClientConnection::new(
        Arc::new(cfg),
        ServerName::try_from(ops::HOST.to_string()).unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(peer).unwrap();
    tcp.set_nodelay(true).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// The MQTT bytes the library sends: CONNECT and `n` telemetry packets (ids 1..=n, wrapping).
fn packets(n: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut c = Connection::new(vec![0u8; 512], vec![0u8; 512], Options::default());
    c.client.connect(ops::HOST, DEVICE, None, None, 0).unwrap();
    let connect = c.client.poll_transmit().unwrap().to_vec();
    c.client.transmit_complete(connect.len(), 0);
    c.handle_input(&[0x20, 0x02, 0x00, 0x00]);
    assert!(matches!(c.poll_event(0), Ok(Some(Event::Connected { .. }))));
    let s = c.client.poll_transmit().unwrap().len();
    c.client.transmit_complete(s, 0);
    let props = [Property::new("a", "1"), Property::new("b", "2")];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let msg = Message {
            kind: MessageKind::Telemetry { properties: &props },
            payload: ops::PAYLOAD,
            qos: QoS::AtLeastOnce,
            packet_id: None,
            dup: false,
            retain: false,
        };
        let o = c.client.publish(&msg, 0).unwrap();
        let mut p = o.head().to_vec();
        p.extend_from_slice(o.body());
        o.sent();
        out.push(p);
    }
    (connect, out)
}

/// Finds the PUBACK of one packet id in a stream of MQTT packets fed in pieces.
struct PubackScanner {
    id: u16,
    have: Vec<u8>,
    seen: bool,
}

impl PubackScanner {
    fn feed(&mut self, bytes: &[u8]) {
        self.have.extend_from_slice(bytes);
        let id = self.id.to_be_bytes();
        let mut seen = false;
        let used = sink::packets(&self.have, |first, body| {
            seen |= first == 0x40 && body == id;
        });
        self.seen |= seen;
        self.have.drain(..used);
    }
}

/// Reads whatever arrived (non-blocking socket) into the scanner.
fn drain(s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>, sc: &mut PubackScanner) {
    let mut buf = [0u8; 16384];
    loop {
        match s.conn.read_tls(&mut s.sock) {
            Ok(0) => panic!("connection closed"),
            Ok(_) => {
                s.conn.process_new_packets().expect("TLS");
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
        // The decrypted PUBACKs are taken after each read: rustls refuses to read more records
        // while its plaintext buffer is full.
        loop {
            match s.conn.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => sc.feed(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
    }
}

/// Sends `n` messages each way and reports the rates.
pub fn run(n: usize, peer: Peer) -> Throughput {
    let hub = Hub::start("");
    let addr = match peer {
        Peer::Sink => Sink::start(hub.emu.tls_config()).addr,
        Peer::Emulator => hub.emu.mqtt_addr(),
    };
    let peer = peer.threads();
    // The library. The handler only notes the state and the last PUBACK (no channel per
    // event, so the measurement is the library's, not the bench's).
    let stage = Arc::new(AtomicU32::new(0)); // 1 READY, 2 twin received
    let acked = Arc::new(AtomicU32::new(u32::MAX));
    let (st, ak) = (stage.clone(), acked.clone());
    let c = HubClient::with_handler(move |_, ev| match ev {
        PortEvent::Hub(Event::Ready { .. }) => st.store(1, Ordering::Release),
        PortEvent::Hub(Event::Message {
            kind: Received::TwinDocument { .. },
            ..
        }) => st.store(2, Ordering::Release),
        PortEvent::Hub(Event::Puback { packet_id }) => {
            ak.store(u32::from(*packet_id), Ordering::Release)
        }
        _ => {}
    });
    c.connect(&hub.config(addr.port())).expect("connect");
    let spin_until = |f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_micros(50));
        }
    };
    spin_until(&|| stage.load(Ordering::Acquire) == 2);
    let props = [Property::new("a", "1"), Property::new("b", "2")];
    let (worker0, peer0) = (threads_cpu_ns(WORKER), threads_cpu_ns(peer));
    let cpu0 = thread_cpu_us();
    let t0 = Instant::now();
    let mut last = 0;
    for _ in 0..n {
        last = c
            .send_telemetry(ops::PAYLOAD, &props, QoS::AtLeastOnce)
            .expect("send");
    }
    let library_cpu_us = (thread_cpu_us() - cpu0) / n as f64;
    spin_until(&|| acked.load(Ordering::Acquire) == u32::from(last));
    let library = n as f64 / t0.elapsed().as_secs_f64();
    let worker_cpu_us = threads_cpu_since_us(WORKER, &worker0) / n as f64;
    let library_peer_cpu_us = threads_cpu_since_us(peer, &peer0) / n as f64;
    let _ = c.disconnect();
    drop(c);
    std::thread::sleep(Duration::from_millis(200));

    // The same bytes on a plain TLS socket (the same device, so the hub does the same work).
    let (connect, pubs) = packets(n);
    let mut s = tls_stream(&hub, addr);
    s.write_all(&connect).unwrap();
    s.flush().unwrap();
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0], "CONNACK");
    // Non-blocking from here: PUBACKs are read while writing, as the port's worker does, so the
    // hub is never held up by a full socket.
    s.sock.set_nonblocking(true).unwrap();
    // The packet id sits just before the 38-byte payload.
    let p = &pubs[n - 1];
    let mut sc = PubackScanner {
        id: u16::from_be_bytes([p[p.len() - 40], p[p.len() - 39]]),
        have: Vec::new(),
        seen: false,
    };
    let peer0 = threads_cpu_ns(peer);
    let cpu0 = thread_cpu_us();
    let t0 = Instant::now();
    for (i, p) in pubs.iter().enumerate() {
        // One write, one record.
        s.conn.writer().write_all(p).unwrap();
        while s.conn.wants_write() {
            match s.conn.write_tls(&mut s.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => drain(&mut s, &mut sc),
                Err(e) => panic!("write: {e}"),
            }
        }
        // Acknowledgements are collected every 64 messages (a read syscall per message would
        // slow this side down for nothing).
        if i % 64 == 63 {
            drain(&mut s, &mut sc);
        }
    }
    // Both sides' CPU: sending the messages (here with the PUBACKs read on the way), without
    // the wait for the last PUBACK.
    let plain_cpu_us = (thread_cpu_us() - cpu0) / n as f64;
    while !sc.seen {
        drain(&mut s, &mut sc);
        std::thread::yield_now();
    }
    let plain = n as f64 / t0.elapsed().as_secs_f64();
    let plain_peer_cpu_us = threads_cpu_since_us(peer, &peer0) / n as f64;
    Throughput {
        n,
        library,
        plain,
        library_cpu_us,
        plain_cpu_us,
        worker_cpu_us,
        library_peer_cpu_us,
        plain_peer_cpu_us,
    }
}
