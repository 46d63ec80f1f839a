//! The Linux port against a scripted TLS server (in the test), for what a real hub does not do on
//! demand: broken streams, packets split across records or packed into one, very large
//! publishes, a server that never finishes the handshake; plus the API's misuse answers.

mod linux_common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use azure_iot_hub::hub::{self, Message, MessageKind, ProtocolError, PublishError, State};
use azure_iot_hub::mqtt::{packet_type, FrameError, Framed, Framer, QoS};
use azure_iot_hub::port::{CloseReason, ConnectConfig, ConnectError, HubClient, SendError};
use linux_common::{server_identity, write_primary, Device, Ev};

/// The server side of one connection, as the script sees it.
struct Peer {
    tls: rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
    framer: Framer<Vec<u8>>,
}

impl Peer {
    /// The next packet from the device: (type, body).
    fn read(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Some(Framed::Packet { header, body }) = self.framer.next().unwrap() {
                return (header.packet_type, body.to_vec());
            }
            let n = self.tls.read(self.framer.spare()).expect("server read");
            assert!(n > 0, "device closed the connection");
            self.framer.commit(n);
        }
    }

    /// Reads a packet and checks its type.
    fn expect(&mut self, ty: u8) -> Vec<u8> {
        let (got, body) = self.read();
        assert_eq!(got, ty, "packet type");
        body
    }

    fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).unwrap();
        self.tls.flush().unwrap();
    }

    /// CONNECT → CONNACK 0, SUBSCRIBE → SUBACK (all granted).
    fn handshake(&mut self) {
        self.expect(packet_type::CONNECT);
        self.send(&[0x20, 2, 0, 0]);
        let sub = self.expect(packet_type::SUBSCRIBE);
        self.send(&[0x90, 6, sub[0], sub[1], 0, 0, 0, 0]);
    }

    /// Waits for the device to close (EOF or error).
    fn wait_closed(&mut self) {
        let mut buf = [0u8; 256];
        while let Ok(n) = self.tls.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

/// A PUBLISH QoS 0 packet.
fn publish_packet(topic: &str, payload: &[u8]) -> Vec<u8> {
    let len = 2 + topic.len() + payload.len();
    let mut p = vec![0x30];
    let mut l = len;
    loop {
        let mut b = (l % 128) as u8;
        l /= 128;
        if l > 0 {
            b |= 0x80;
        }
        p.push(b);
        if l == 0 {
            break;
        }
    }
    p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    p.extend_from_slice(topic.as_bytes());
    p.extend_from_slice(payload);
    p
}

/// A TLS server on loopback running `script` for one connection, and the device's config.
struct Server {
    config: ConnectConfig,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(script: impl FnOnce(&mut Peer) + Send + 'static) -> Server {
        let ca = cert_tool::root_ca().unwrap();
        let (cert, key) = server_identity(&ca);
        let dir = tempfile::tempdir().unwrap();
        let (dcert, dkey) = cert_tool::device_identity(&ca, "dev");
        write_primary(dir.path(), ca.cert_pem(), &dcert, &dkey);
        let chain: Vec<_> = rustls_pemfile::certs(&mut cert.as_bytes())
            .map(Result::unwrap)
            .collect();
        let key = rustls_pemfile::private_key(&mut key.as_bytes())
            .unwrap()
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(Arc::new(server)).unwrap();
            let mut peer = Peer {
                tls: rustls::StreamOwned::new(conn, tcp),
                framer: Framer::new(vec![0u8; 1 << 20]),
            };
            script(&mut peer);
        });
        let config = ConnectConfig::builder()
            .hostname("localhost")
            .device_id("dev")
            .port(port)
            .certificates(dir.path())
            .auto_twin_request(false)
            .send_timeout(Some(Duration::from_secs(5)))
            .build();
        Server {
            config,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Waits for the script to finish (and fails the test if it panicked).
    fn join(mut self) {
        self.thread.take().unwrap().join().expect("server script");
    }
}

#[test]
fn broken_remaining_length_is_a_protocol_error() {
    let server = Server::start(|p| {
        p.handshake();
        p.send(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        p.wait_closed();
    });
    let mut dev = Device::new();
    dev.connect_ready(&server.config);
    let e = ProtocolError::Frame(FrameError::InvalidRemainingLength);
    assert_eq!(
        dev.wait_for("protocol error", |e| matches!(e, Ev::ProtocolError(_))),
        Ev::ProtocolError(format!("{e:?}"))
    );
    assert_eq!(dev.wait_disconnected(), CloseReason::Protocol(e));
    assert_eq!(dev.client.state(), State::Disconnected);
    server.join();
}

#[test]
fn second_connack_is_a_protocol_error() {
    let server = Server::start(|p| {
        p.handshake();
        p.send(&[0x20, 2, 0, 0]);
        p.wait_closed();
    });
    let mut dev = Device::new();
    dev.connect_ready(&server.config);
    let reason = dev.wait_disconnected();
    assert_eq!(
        reason,
        CloseReason::Protocol(ProtocolError::Unexpected(packet_type::CONNACK))
    );
    server.join();
}

/// Packets split byte by byte across TLS records, and several packets in one record.
#[test]
fn packets_split_and_packed() {
    let server = Server::start(|p| {
        p.expect(packet_type::CONNECT);
        for b in [0x20, 2, 0, 0] {
            p.send(&[b]);
        }
        let sub = p.expect(packet_type::SUBSCRIBE);
        let mut packed = vec![0x90, 6, sub[0], sub[1], 0, 0, 0, 0];
        packed.extend(publish_packet(
            "devices/dev/messages/devicebound/a=1",
            b"one",
        ));
        packed.extend(publish_packet(
            "devices/dev/messages/devicebound/a=2",
            b"two",
        ));
        packed.extend([0xD0, 0]);
        p.send(&packed);
        p.wait_closed();
    });
    let mut dev = Device::new();
    dev.connect_ready(&server.config);
    let one = dev.wait_for("first C2D", |e| matches!(e, Ev::C2d { .. }));
    let two = dev.wait_for("second C2D", |e| matches!(e, Ev::C2d { .. }));
    assert!(matches!(one, Ev::C2d { payload, .. } if payload == b"one"));
    assert!(matches!(two, Ev::C2d { payload, .. } if payload == b"two"));
    dev.wait_for("PINGRESP", |e| *e == Ev::Pingresp);
    dev.client.disconnect().unwrap();
    server.join();
}

/// Publishes far larger than a TLS record and than rustls' send buffer arrive whole; the
/// server answers PUBACK.
#[test]
fn large_publish_is_written_whole() {
    const SIZES: [usize; 3] = [10, 16_000, 300_000];
    let server = Server::start(|p| {
        p.handshake();
        for size in SIZES {
            let body = p.expect(packet_type::PUBLISH);
            let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
            let id = &body[2 + topic_len..4 + topic_len];
            let payload = &body[4 + topic_len..];
            assert_eq!(payload.len(), size);
            assert!(payload
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (i % 251) as u8));
            p.send(&[0x40, 2, id[0], id[1]]);
        }
        p.wait_closed();
    });
    let mut dev = Device::new();
    dev.connect_ready(&server.config);
    for size in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let id = dev
            .client
            .send_telemetry(&payload, &[], QoS::AtLeastOnce)
            .unwrap();
        assert_eq!(
            dev.wait_for("PUBACK", |e| matches!(e, Ev::Puback(_))),
            Ev::Puback(id)
        );
    }
    dev.client.disconnect().unwrap();
    server.join();
}

/// Acknowledgements that arrive together (here 100 PUBACKs in one record, a C2D message after
/// the 40th) reach the application complete and in the order they were sent: the worker
/// handles a run of PUBACKs under one lock and delivers it after, in runs of at most 32, and a
/// different packet ends the run.
#[test]
fn acknowledgements_packed_into_one_record_keep_their_order() {
    const N: usize = 100;
    const C2D_AFTER: usize = 40;
    let server = Server::start(|p| {
        p.handshake();
        let mut packed = Vec::new();
        for i in 0..N {
            let body = p.expect(packet_type::PUBLISH);
            let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
            packed.extend([0x40, 2, body[2 + topic_len], body[3 + topic_len]]);
            if i + 1 == C2D_AFTER {
                packed.extend(publish_packet(
                    "devices/dev/messages/devicebound/a=1",
                    b"between",
                ));
            }
        }
        p.send(&packed);
        p.wait_closed();
    });
    let mut dev = Device::new();
    dev.connect_ready(&server.config);
    let ids: Vec<u16> = (0..N)
        .map(|_| {
            dev.client
                .send_telemetry(b"{}", &[], QoS::AtLeastOnce)
                .unwrap()
        })
        .collect();
    dev.wait_for("the last PUBACK", |e| *e == Ev::Puback(ids[N - 1]));
    let got: Vec<Ev> = dev
        .seen
        .iter()
        .filter(|e| matches!(e, Ev::Puback(_) | Ev::C2d { .. }))
        .cloned()
        .collect();
    let mut want: Vec<Ev> = ids.iter().map(|&id| Ev::Puback(id)).collect();
    let c2d = got
        .iter()
        .find(|e| matches!(e, Ev::C2d { .. }))
        .expect("the C2D message")
        .clone();
    assert!(matches!(&c2d, Ev::C2d { payload, .. } if payload == b"between"));
    want.insert(C2D_AFTER, c2d);
    assert_eq!(got, want);
    dev.client.disconnect().unwrap();
    server.join();
}

/// The server ends the TLS session (close_notify) or just the TCP connection: DISCONNECTED
/// (Transport), once.
#[test]
fn server_closes() {
    for notify in [true, false] {
        let server = Server::start(move |p| {
            p.handshake();
            if notify {
                p.tls.conn.send_close_notify();
                p.tls.flush().unwrap();
            }
            let _ = p.tls.sock.shutdown(std::net::Shutdown::Both);
        });
        let mut dev = Device::new();
        dev.connect_ready(&server.config);
        assert_eq!(dev.wait_disconnected(), CloseReason::Transport);
        server.join();
        std::thread::sleep(Duration::from_millis(50));
        assert!(dev.drain().is_empty(), "{:#?}", dev.seen);
        assert_eq!(dev.client.state(), State::Disconnected);
    }
}

/// `abort()` ends a `connect()` stuck in a TLS handshake the server never answers.
#[test]
fn abort_ends_a_stuck_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        while let Ok(n) = tcp.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let ca = cert_tool::root_ca().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = cert_tool::device_identity(&ca, "dev");
    write_primary(dir.path(), ca.cert_pem(), &cert, &key);
    let config = ConnectConfig::builder()
        .hostname("localhost")
        .device_id("dev")
        .port(port)
        .certificates(dir.path())
        .build();
    let client = HubClient::new(Box::new(|_| {}));
    let c2 = client.clone();
    let t = Instant::now();
    let connecting = std::thread::spawn(move || c2.connect(&config));
    while client.state() != State::Connecting {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    client.abort();
    let result = connecting.join().unwrap();
    assert!(
        matches!(
            result,
            Err(ConnectError::Tls(_)) | Err(ConnectError::Tcp(_))
        ),
        "{result:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(client.state(), State::Disconnected);
    holder.join().unwrap();
}

#[test]
fn connect_errors() {
    let dir = tempfile::tempdir().unwrap();
    let client = HubClient::new(Box::new(|_| {}));
    let base = ConnectConfig::builder()
        .hostname("localhost")
        .device_id("dev")
        .certificates(dir.path())
        .build();

    // Certificates missing: the file is named.
    match client.connect(&base.to_builder().port(1).build()) {
        Err(ConnectError::Tls(msg)) => assert!(msg.contains("ca-cert.pem"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let ca = cert_tool::root_ca().unwrap();
    std::fs::write(dir.path().join("ca-cert.pem"), ca.cert_pem()).unwrap();
    match client.connect(&base) {
        Err(ConnectError::Tls(msg)) => assert!(msg.contains("client-cert.pem"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let (cert, key) = cert_tool::device_identity(&ca, "dev");
    std::fs::write(dir.path().join("client-cert.pem"), cert).unwrap();
    match client.connect(&base) {
        Err(ConnectError::Tls(msg)) => assert!(msg.contains("private-key.pem"), "{msg}"),
        other => panic!("{other:?}"),
    }
    std::fs::write(dir.path().join("private-key.pem"), key).unwrap();

    // Invalid configuration is refused before any network traffic.
    let bad = base.to_builder().hostname("").build();
    assert!(matches!(
        client.connect(&bad),
        Err(ConnectError::InvalidConfig(
            hub::ConnectError::InvalidHostname
        ))
    ));
    let bad = base.to_builder().device_id("").build();
    assert!(matches!(
        client.connect(&bad),
        Err(ConnectError::InvalidConfig(
            hub::ConnectError::InvalidDeviceId
        ))
    ));

    // DNS and TCP failures.
    let dns = base.to_builder().hostname("no-such-host.invalid").build();
    assert!(matches!(client.connect(&dns), Err(ConnectError::Dns(_))));
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcp = base.to_builder().port(closed_port).build();
    assert!(matches!(client.connect(&tcp), Err(ConnectError::Tcp(_))));
    assert_eq!(client.state(), State::Disconnected);
}

#[test]
fn misuse_without_a_connection() {
    let client = HubClient::new(Box::new(|_| {}));
    assert_eq!(client.state(), State::Disconnected);
    assert_eq!(
        [
            client.next_packet_id(),
            client.next_packet_id(),
            client.next_packet_id()
        ],
        [1, 2, 3]
    );
    assert!(matches!(
        client.send_telemetry(b"x", &[], QoS::AtLeastOnce),
        Err(SendError::Publish(PublishError::NotConnected))
    ));
    assert!(matches!(
        client.request_twin(),
        Err(SendError::Publish(PublishError::NotConnected))
    ));
    assert!(matches!(
        client.respond_to_method("1", 200, b""),
        Err(SendError::Publish(PublishError::NotConnected))
    ));
    assert_eq!(client.disconnect(), Err(State::Disconnected));
    client.abort();
    assert_eq!(client.next_packet_id(), 4);
}

/// Connecting while connected is `Busy`; a QoS 2 publish and an invalid method request ID are
/// refused by the core with nothing sent; the packet-ID sequence survives a transmit-buffer
/// resize.
#[test]
fn misuse_while_connected() {
    let server = Server::start(|p| {
        p.handshake();
        let body = p.expect(packet_type::PUBLISH);
        assert!(body.ends_with(b"ok"));
        p.wait_closed();
    });
    let client_config = server.config.to_builder().tx_buffer_size(1024).build();
    let mut dev = Device::new();
    dev.client.next_packet_id();
    dev.connect_ready(&client_config);
    assert!(matches!(
        dev.client.connect(&client_config),
        Err(ConnectError::Busy)
    ));
    let qos2 = Message {
        kind: MessageKind::Telemetry {
            properties: &hub::properties::NO_PROPERTIES,
        },
        payload: b"x",
        qos: QoS::ExactlyOnce,
        packet_id: None,
        dup: false,
        retain: false,
    };
    assert!(matches!(
        dev.client.publish(&qos2),
        Err(SendError::Publish(PublishError::UnsupportedQoS))
    ));
    assert!(matches!(
        dev.client.respond_to_method("a&b", 200, b""),
        Err(SendError::Publish(PublishError::InvalidArgument))
    ));
    let sent = dev
        .client
        .send(&Message {
            qos: QoS::AtMostOnce,
            payload: b"ok",
            ..qos2
        })
        .unwrap();
    // 1 was taken before connecting, 2 by SUBSCRIBE.
    assert!(sent.packet_id >= 3, "{sent:?}");
    assert_eq!(sent.request_id, None);
    dev.client.disconnect().unwrap();
    server.join();
}
