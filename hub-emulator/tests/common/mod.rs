//! Test helpers: certificates made with rcgen, a tiny blocking MQTT-over-TLS client (std +
//! rustls, the emulator's own codec), and an emulator with a verified root CA.
#![allow(dead_code)]

use hub_emulator::mqtt::{self, Connect, Packet, Publish};
use hub_emulator::{Config, Emulator, ServiceClient};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ certificates

pub struct Ca {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A certificate and its key, for a TLS client.
#[derive(Clone)]
pub struct Identity {
    /// Leaf first, then any intermediates.
    pub chain: Vec<Vec<u8>>,
    pub key_der: Vec<u8>,
    pub cert_pem: String,
}

impl Identity {
    pub fn leaf_der(&self) -> &[u8] {
        &self.chain[0]
    }
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.self_signed(&key).unwrap();
        Ca {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: rcgen::Issuer::new(p, key),
        }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, cn: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Ca {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: rcgen::Issuer::new(p, key),
        }
    }

    /// A leaf certificate with this CN, signed by this CA.
    pub fn issue(&self, cn: &str) -> Identity {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Identity {
            chain: vec![cert.der().to_vec()],
            key_der: key.serialize_der(),
            cert_pem: cert.pem(),
        }
    }

    /// Like `issue`, with a validity period that ended yesterday.
    pub fn issue_expired(&self, cn: &str) -> Identity {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Identity {
            chain: vec![cert.der().to_vec()],
            key_der: key.serialize_der(),
            cert_pem: cert.pem(),
        }
    }
}

/// A self-signed leaf with this CN.
pub fn self_signed(cn: &str) -> Identity {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    let cert = p.self_signed(&key).unwrap();
    Identity {
        chain: vec![cert.der().to_vec()],
        key_der: key.serialize_der(),
        cert_pem: cert.pem(),
    }
}

// ------------------------------------------------------------------ emulator

pub struct Env {
    pub emu: Emulator,
    pub svc: ServiceClient,
    /// Registered and verified as "root".
    pub ca: Ca,
}

pub fn start() -> Env {
    start_with(Config::temp())
}

pub fn start_with(cfg: Config) -> Env {
    let emu = Emulator::start(cfg).expect("emulator starts");
    let svc = emu.service();
    let ca = Ca::new("Test Root CA");
    svc.register_verified_ca("root", &ca.cert_pem).unwrap();
    Env { emu, svc, ca }
}

pub fn hub_username(device_id: &str) -> String {
    format!("localhost/{device_id}/?api-version=2020-09-30&DeviceClientType=azsdk-c%2F1.4.0-beta.2")
}

pub fn dps_username(reg_id: &str) -> String {
    format!("0ne00000000/registrations/{reg_id}/api-version=2019-03-31")
}

impl Env {
    pub fn ca_pem(&self) -> String {
        self.emu.ca_pem()
    }

    /// Connects a device (CONNECT with the hub user name). Returns the client and the CONNACK
    /// code, or `None` if the server closed without CONNACK.
    pub fn connect_device(
        &self,
        device_id: &str,
        id: Option<&Identity>,
        password: Option<&str>,
        keep_alive: u16,
    ) -> (Client, Option<u8>) {
        let mut c = Connect::new(device_id);
        c.username = Some(hub_username(device_id));
        c.password = password.map(|p| p.as_bytes().to_vec());
        c.keep_alive = keep_alive;
        Client::connect(self.emu.mqtt_addr(), &self.ca_pem(), id, c)
    }

    /// A CA-signed device, created and connected, subscribed to the four nRF topics.
    pub fn ready_device(&self, device_id: &str) -> Client {
        self.svc.create_x509_ca_device(device_id).unwrap();
        let ident = self.ca.issue(device_id);
        let (mut c, code) = self.connect_device(device_id, Some(&ident), None, 60);
        assert_eq!(code, Some(0), "CONNACK");
        let codes = c.subscribe(&[
            ("devices/+/messages/devicebound/#", 0),
            ("$iothub/methods/POST/#", 0),
            ("$iothub/twin/PATCH/properties/desired/#", 0),
            ("$iothub/twin/res/#", 0),
        ]);
        assert_eq!(codes, vec![0, 0, 0, 0]);
        c
    }
}

// ------------------------------------------------------------------ MQTT client

pub struct Client {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: Vec<u8>,
    next_pid: u16,
    /// Packets read while waiting for something else.
    pub backlog: Vec<Packet>,
}

pub fn tls_config(ca_pem: &str, id: Option<&Identity>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match id {
        Some(id) => b
            .with_client_auth_cert(
                id.chain
                    .iter()
                    .map(|c| CertificateDer::from(c.clone()))
                    .collect(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der.clone())),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    Arc::new(cfg)
}

impl Client {
    /// TLS + CONNECT. Returns the CONNACK code, or `None` when the connection closed first.
    pub fn connect(
        addr: SocketAddr,
        ca_pem: &str,
        id: Option<&Identity>,
        connect: Connect,
    ) -> (Client, Option<u8>) {
        let mut c = Client::open(addr, ca_pem, id).expect("TCP/TLS connect");
        if c.send(&Packet::Connect(connect)).is_err() {
            return (c, None);
        }
        match c.recv(Duration::from_secs(5)) {
            Some(Packet::Connack { code, .. }) => (c, Some(code)),
            Some(other) => panic!("expected CONNACK, got {other:?}"),
            None => (c, None),
        }
    }

    pub fn open(addr: SocketAddr, ca_pem: &str, id: Option<&Identity>) -> std::io::Result<Client> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        let conn = rustls::ClientConnection::new(
            tls_config(ca_pem, id),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        Ok(Client {
            tls: rustls::StreamOwned::new(conn, tcp),
            buf: Vec::new(),
            next_pid: 0,
            backlog: Vec::new(),
        })
    }

    pub fn send(&mut self, p: &Packet) -> std::io::Result<()> {
        self.send_raw(&mqtt::to_bytes(p))
    }

    pub fn send_raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.tls.write_all(b)?;
        self.tls.flush()
    }

    /// The next packet within `timeout` (from the backlog first); `None` on timeout or close.
    pub fn recv(&mut self, timeout: Duration) -> Option<Packet> {
        if !self.backlog.is_empty() {
            return Some(self.backlog.remove(0));
        }
        self.read_packet(timeout).unwrap_or_default()
    }

    /// `Ok(None)`: timeout. `Err`: closed.
    fn read_packet(&mut self, timeout: Duration) -> Result<Option<Packet>, ()> {
        let end = Instant::now() + timeout;
        loop {
            if let Some((p, n)) = mqtt::decode(&self.buf, usize::MAX >> 4).expect("valid MQTT") {
                self.buf.drain(..n);
                return Ok(Some(p));
            }
            let now = Instant::now();
            if now >= end {
                return Ok(None);
            }
            self.tls
                .sock
                .set_read_timeout(Some((end - now).max(Duration::from_millis(1))))
                .unwrap();
            let mut tmp = [0u8; 16384];
            match self.tls.read(&mut tmp) {
                Ok(0) => return Err(()),
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                    continue
                }
                Err(_) => return Err(()),
            }
        }
    }

    /// Whether the server closes the connection within `timeout` (packets before that are
    /// ignored).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= end {
                return false;
            }
            match self.read_packet(end - now) {
                Ok(Some(_)) => continue,
                Ok(None) => return false,
                Err(()) => return true,
            }
        }
    }

    /// Waits for a packet matching `pred`; others go to the backlog.
    pub fn expect<F: FnMut(&Packet) -> bool>(&mut self, timeout: Duration, mut pred: F) -> Packet {
        if let Some(i) = self.backlog.iter().position(&mut pred) {
            return self.backlog.remove(i);
        }
        let end = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            assert!(now < end, "timed out waiting; backlog {:?}", self.backlog);
            match self.read_packet(end - now) {
                Ok(Some(p)) if pred(&p) => return p,
                Ok(Some(p)) => self.backlog.push(p),
                Ok(None) => {}
                Err(()) => panic!(
                    "connection closed while waiting; backlog {:?}",
                    self.backlog
                ),
            }
        }
    }

    /// Waits for a PUBLISH whose topic starts with `prefix`.
    pub fn expect_publish(&mut self, prefix: &str, timeout: Duration) -> Publish {
        match self.expect(
            timeout,
            |p| matches!(p, Packet::Publish(pb) if pb.topic.starts_with(prefix)),
        ) {
            Packet::Publish(p) => p,
            _ => unreachable!(),
        }
    }

    pub fn pid(&mut self) -> u16 {
        self.next_pid = self.next_pid.wrapping_add(1).max(1);
        self.next_pid
    }

    pub fn subscribe(&mut self, filters: &[(&str, u8)]) -> Vec<u8> {
        let pid = self.pid();
        self.send(&Packet::Subscribe {
            pid,
            filters: filters.iter().map(|(f, q)| (f.to_string(), *q)).collect(),
        })
        .unwrap();
        match self.expect(
            Duration::from_secs(5),
            |p| matches!(p, Packet::Suback { pid: x, .. } if *x == pid),
        ) {
            Packet::Suback { codes, .. } => codes,
            _ => unreachable!(),
        }
    }

    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: u8) {
        let pid = (qos > 0).then(|| self.pid());
        self.send(&Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.into(),
            pid,
            payload: payload.to_vec(),
        }))
        .unwrap();
        if let Some(pid) = pid {
            if qos == 1 {
                self.expect(Duration::from_secs(5), |p| *p == Packet::Puback(pid));
            }
        }
    }
}

/// `$rid`/`$version`-style parameter of a topic.
pub fn topic_param<'a>(topic: &'a str, name: &str) -> Option<&'a str> {
    hub_emulator::util::query_param(topic, name)
}
