//! QoS 1 telemetry over loopback TLS: the Linux port against the local hub, compared with
//! writing the same MQTT bytes on a plain rustls socket to the same hub.

use crate::ops::{self, DEVICE};
use crate::wire::{self, Ev, Hub};
use azure_iot_hub::hub::{Event, Message, MessageKind, Options, Property};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::Connection;
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages per second both ways.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Messages sent each way.
    pub n: usize,
    /// The library (Linux port), messages per second, until the last PUBACK.
    pub library: f64,
    /// The same bytes on a plain TLS socket, until the last PUBACK.
    pub plain: f64,
}

fn tls_stream(hub: &Hub) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
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
    let tcp = TcpStream::connect(hub.emu.mqtt_addr()).unwrap();
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

/// Reads MQTT packets until a PUBACK for `id`.
fn read_until_puback(s: &mut impl Read, id: u16) {
    let mut buf = vec![0u8; 1 << 16];
    let mut have: Vec<u8> = Vec::new();
    loop {
        let mut at = 0;
        while have.len() >= at + 2 {
            let mut len = 0usize;
            let mut mult = 1;
            let mut i = at + 1;
            let mut done = false;
            while i < have.len() && i < at + 5 {
                len += (have[i] & 127) as usize * mult;
                mult *= 128;
                i += 1;
                if have[i - 1] & 128 == 0 {
                    done = true;
                    break;
                }
            }
            if !done || have.len() < i + len {
                break;
            }
            if have[at] == 0x40 && len == 2 && u16::from_be_bytes([have[i], have[i + 1]]) == id {
                return;
            }
            at = i + len;
        }
        have.drain(..at);
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed");
        have.extend_from_slice(&buf[..n]);
    }
}

/// Sends `n` messages each way and reports the rates.
pub fn run(n: usize) -> Throughput {
    let hub = Hub::start("");
    // The library.
    let (c, rx) = wire::client();
    c.connect(&hub.config(hub.emu.mqtt_addr().port()))
        .expect("connect");
    wire::wait(&rx, |e| matches!(e, Ev::Ready));
    wire::wait(&rx, |e| matches!(e, Ev::Twin));
    let props = [Property::new("a", "1"), Property::new("b", "2")];
    let t0 = Instant::now();
    let mut last = 0;
    for _ in 0..n {
        last = c
            .send_telemetry(ops::PAYLOAD, &props, QoS::AtLeastOnce)
            .expect("send");
    }
    wire::wait(&rx, |e| matches!(e, Ev::Puback(p) if *p == last));
    let library = n as f64 / t0.elapsed().as_secs_f64();
    let _ = c.disconnect();
    drop(c);
    std::thread::sleep(Duration::from_millis(200));

    // The same bytes on a plain TLS socket (the same device, so the hub does the same work).
    let (connect, pubs) = packets(n);
    let mut s = tls_stream(&hub);
    s.write_all(&connect).unwrap();
    s.flush().unwrap();
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0], "CONNACK");
    let t0 = Instant::now();
    for p in &pubs {
        s.write_all(p).unwrap();
    }
    s.flush().unwrap();
    // The packet id sits just before the 38-byte payload.
    let p = &pubs[n - 1];
    let last = u16::from_be_bytes([p[p.len() - 40], p[p.len() - 39]]);
    read_until_puback(&mut s, last);
    let plain = n as f64 / t0.elapsed().as_secs_f64();
    Throughput { n, library, plain }
}
