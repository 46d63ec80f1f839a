//! Helpers shared by the Linux port's integration tests: owned copies of events, a device that
//! records them, and certificate folders.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_iot_hub::hub::{Event, Received};
use azure_iot_hub::port::{CloseReason, ConnectConfig, HubClient, PortEvent};

/// The longest any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// An owned copy of a [`PortEvent`], so it can cross threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Connected {
        session_present: bool,
    },
    Refused(u8),
    Ready(u32),
    Puback(u16),
    Pingresp,
    C2d {
        topic: String,
        properties: Vec<(String, String)>,
        payload: Vec<u8>,
    },
    Method {
        name: String,
        request_id: String,
        payload: Vec<u8>,
    },
    TwinDocument {
        request_id: String,
        payload: Vec<u8>,
    },
    TwinDesired {
        version: String,
        payload: Vec<u8>,
    },
    TwinResult {
        request_id: String,
        status: u16,
        version: Option<String>,
        payload: Vec<u8>,
    },
    TooLarge {
        topic: Option<String>,
        size: usize,
    },
    Malformed {
        topic: Option<String>,
    },
    Unknown {
        topic: String,
        payload: Vec<u8>,
    },
    ProtocolError(String),
    Disconnected(CloseReason),
    /// Automatic reconnect: the connection ended and the library tries again.
    Lost {
        reason: CloseReason,
        retry_in_ms: u64,
    },
    Reconnecting(u32),
}

impl Ev {
    pub fn from_port(ev: &PortEvent<'_>) -> Ev {
        match ev {
            PortEvent::Hub(e) => match **e {
                Event::Connected { session_present } => Ev::Connected { session_present },
                Event::ConnectionRefused { return_code } => Ev::Refused(return_code),
                Event::Ready { refused } => Ev::Ready(refused),
                Event::Puback { packet_id } => Ev::Puback(packet_id),
                Event::Pingresp => Ev::Pingresp,
                Event::Message {
                    topic,
                    payload,
                    kind: Received::C2d { properties },
                } => Ev::C2d {
                    topic: topic.into(),
                    properties: properties
                        .iter()
                        .map(|(k, v)| (k.into(), v.into()))
                        .collect(),
                    payload: payload.into(),
                },
                Event::Message {
                    payload,
                    kind: Received::DirectMethod { name, request_id },
                    ..
                } => Ev::Method {
                    name: name.into(),
                    request_id: request_id.into(),
                    payload: payload.into(),
                },
                Event::Message {
                    payload,
                    kind: Received::TwinDocument { request_id },
                    ..
                } => Ev::TwinDocument {
                    request_id: request_id.into(),
                    payload: payload.into(),
                },
                Event::Message {
                    payload,
                    kind: Received::TwinDesired { version },
                    ..
                } => Ev::TwinDesired {
                    version: version.into(),
                    payload: payload.into(),
                },
                e @ Event::Message {
                    payload,
                    kind: Received::TwinResult { request_id, status },
                    ..
                } => Ev::TwinResult {
                    request_id: request_id.into(),
                    status,
                    version: e.twin_version().map(Into::into),
                    payload: payload.into(),
                },
                Event::MessageTooLarge { topic, size } => Ev::TooLarge {
                    topic: topic.map(Into::into),
                    size,
                },
                Event::Malformed { topic } => Ev::Malformed {
                    topic: topic.map(Into::into),
                },
                Event::Message {
                    topic,
                    payload,
                    kind: Received::UnknownTopic,
                } => Ev::Unknown {
                    topic: topic.into(),
                    payload: payload.into(),
                },
            },
            PortEvent::ProtocolError(e) => Ev::ProtocolError(format!("{e:?}")),
            PortEvent::Disconnected(r) => Ev::Disconnected(*r),
            PortEvent::ConnectionLost {
                reason,
                retry_in_ms,
            } => Ev::Lost {
                reason: *reason,
                retry_in_ms: *retry_in_ms,
            },
            PortEvent::Reconnecting { attempt } => Ev::Reconnecting(*attempt),
        }
    }
}

/// What the handler may do on the worker thread when it sees an event.
pub type Reaction = Box<dyn FnMut(&HubClient, &Ev) + Send>;

/// A device: a client whose events are recorded, with waits on them.
pub struct Device {
    pub client: HubClient,
    rx: Receiver<Ev>,
    /// Every event seen so far, in order.
    pub seen: Vec<Ev>,
    reaction: Arc<Mutex<Option<Reaction>>>,
}

impl Device {
    pub fn new() -> Device {
        let (tx, rx) = mpsc::channel();
        let reaction: Arc<Mutex<Option<Reaction>>> = Arc::new(Mutex::new(None));
        let r = reaction.clone();
        let client = HubClient::with_handler(move |client, ev| {
            let ev = Ev::from_port(ev);
            if let Some(f) = r.lock().unwrap().as_mut() {
                f(client, &ev);
            }
            let _ = tx.send(ev);
        });
        Device {
            client,
            rx,
            seen: Vec::new(),
            reaction,
        }
    }

    /// Runs `f` on the worker thread for every later event (before it is recorded).
    pub fn react(&self, f: impl FnMut(&HubClient, &Ev) + Send + 'static) {
        *self.reaction.lock().unwrap() = Some(Box::new(f));
    }

    /// Waits for the next event that `pred` accepts (the ones before it are recorded too).
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Ev) -> bool) -> Ev {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(ev) => {
                    self.seen.push(ev.clone());
                    if pred(&ev) {
                        return ev;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out waiting for {what}; events so far: {:#?}",
                    self.seen
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("handler gone while waiting for {what}")
                }
            }
        }
    }

    /// The events already delivered and not yet taken, without waiting.
    pub fn drain(&mut self) -> Vec<Ev> {
        let got: Vec<Ev> = self.rx.try_iter().collect();
        self.seen.extend(got.iter().cloned());
        got
    }

    /// Connects and waits for READY.
    pub fn connect_ready(&mut self, config: &ConnectConfig) {
        self.client.connect(config).expect("connect");
        self.wait_for("CONNECTED", |e| matches!(e, Ev::Connected { .. }));
        let ready = self.wait_for("READY", |e| matches!(e, Ev::Ready(_)));
        assert_eq!(ready, Ev::Ready(0), "all subscriptions granted");
    }

    pub fn wait_disconnected(&mut self) -> CloseReason {
        match self.wait_for("DISCONNECTED", |e| matches!(e, Ev::Disconnected(_))) {
            Ev::Disconnected(r) => r,
            _ => unreachable!(),
        }
    }
}

/// Writes the primary tag's files into `dir`.
pub fn write_primary(dir: &Path, ca_pem: &str, cert_pem: &str, key_pem: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("ca-cert.pem"), ca_pem).unwrap();
    fs::write(dir.join("client-cert.pem"), cert_pem).unwrap();
    fs::write(dir.join("private-key.pem"), key_pem).unwrap();
}

/// A certificates folder for `device_id` signed by `ca`, trusting `server_ca_pem`.
pub fn device_folder(
    root: &Path,
    name: &str,
    server_ca_pem: &str,
    ca: &cert_tool::CaBundle,
    device_id: &str,
) -> PathBuf {
    let dir = root.join(name);
    let (cert, key) = cert_tool::device_identity(ca, device_id);
    write_primary(&dir, server_ca_pem, &cert, &key);
    dir
}

/// Runs `openssl` with `args`; panics with its output on failure.
pub fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A plain MQTT 3.1.1 client over TLS (built from the crate's codec), standing in for a
/// back-end application on a third-party broker.
pub struct MqttPeer {
    tls: rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
    framer: azure_iot_hub::mqtt::Framer<Vec<u8>>,
    next_id: u16,
}

#[derive(Debug)]
enum PeerPacket {
    Connack(u8),
    Suback(u16, bool),
    Publish(PeerMessage),
    Other,
}

/// A message the peer received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerMessage {
    pub topic: String,
    pub payload: Vec<u8>,
}

impl MqttPeer {
    /// Connects with client certificate `cert_pem`/`key_pem`, trusting `ca_pem`.
    pub fn connect(
        port: u16,
        ca_pem: &str,
        cert_pem: &str,
        key_pem: &str,
        client_id: &str,
    ) -> MqttPeer {
        use azure_iot_hub::mqtt::{encode_connect, Connect};
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let chain: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .map(Result::unwrap)
            .collect();
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .unwrap()
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap();
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut peer = MqttPeer {
            tls: rustls::StreamOwned::new(conn, tcp),
            framer: azure_iot_hub::mqtt::Framer::new(vec![0u8; 64 * 1024]),
            next_id: 0,
        };
        let connect = Connect {
            client_id,
            keep_alive: 0,
            clean_session: true,
            user_name: None,
            password: None,
            will: None,
        };
        peer.send(|c| encode_connect(c, &connect));
        match peer.read_packet() {
            PeerPacket::Connack(0) => peer,
            other => panic!("peer CONNACK: {other:?}"),
        }
    }

    fn send(
        &mut self,
        encode: impl FnOnce(
            &mut azure_iot_hub::sink::Cursor<'_>,
        ) -> Result<(), azure_iot_hub::mqtt::EncodeError>,
    ) {
        use std::io::Write;
        let mut buf = vec![0u8; 64 * 1024];
        let mut c = azure_iot_hub::sink::Cursor::new(&mut buf);
        encode(&mut c).unwrap();
        self.tls.write_all(c.written()).unwrap();
        self.tls.flush().unwrap();
    }

    /// Reads the next packet.
    fn read_packet(&mut self) -> PeerPacket {
        use azure_iot_hub::mqtt::{decode_packet, Framed, Inbound};
        use std::io::Read;
        loop {
            if let Some(Framed::Packet { header, body }) = self.framer.next().unwrap() {
                return match decode_packet(header, body).expect("peer decode") {
                    Inbound::Publish(p) => PeerPacket::Publish(PeerMessage {
                        topic: p.topic.into(),
                        payload: p.payload.into(),
                    }),
                    Inbound::Connack { return_code, .. } => PeerPacket::Connack(return_code),
                    Inbound::Suback { packet_id, codes } => {
                        PeerPacket::Suback(packet_id, codes.all_granted())
                    }
                    _ => PeerPacket::Other,
                };
            }
            let spare = self.framer.spare();
            let n = self.tls.read(spare).expect("peer read");
            assert!(n > 0, "peer connection closed");
            self.framer.commit(n);
        }
    }

    /// Subscribes (QoS 0) and waits for SUBACK.
    pub fn subscribe(&mut self, filter: &str) {
        use azure_iot_hub::mqtt::{encode_subscribe, QoS};
        self.next_id += 1;
        let id = self.next_id;
        self.send(|c| encode_subscribe(c, id, &[(filter, QoS::AtMostOnce)]));
        loop {
            if let PeerPacket::Suback(got, granted) = self.read_packet() {
                assert_eq!((got, granted), (id, true), "peer SUBACK");
                return;
            }
        }
    }

    /// Publishes with QoS 0.
    pub fn publish(&mut self, topic: &str, payload: &[u8]) {
        use azure_iot_hub::mqtt::{encode_publish_header, QoS};
        use azure_iot_hub::sink::Sink;
        let mut head = vec![0u8; 1024];
        let mut c = azure_iot_hub::sink::Cursor::new(&mut head);
        encode_publish_header(
            &mut c,
            topic.len(),
            |s| s.put(topic.as_bytes()),
            QoS::AtMostOnce,
            0,
            false,
            false,
            payload.len(),
        )
        .unwrap();
        let mut packet = c.written().to_vec();
        packet.extend_from_slice(payload);
        self.send(|c| {
            c.put(&packet)
                .map_err(|_| azure_iot_hub::mqtt::EncodeError::BufferFull)
        });
    }

    /// The next PUBLISH received.
    pub fn next_message(&mut self) -> PeerMessage {
        loop {
            if let PeerPacket::Publish(m) = self.read_packet() {
                return m;
            }
        }
    }
}

/// A server certificate for `localhost` / 127.0.0.1 signed by `ca`: `(cert_pem, key_pem)`.
pub fn server_identity(ca: &cert_tool::CaBundle) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        ca.cert_pem(),
        rcgen::KeyPair::from_pem(ca.key_pem()).unwrap(),
    )
    .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}
