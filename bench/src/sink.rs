//! A minimal MQTT-over-TLS peer for the throughput comparison: one plain thread per connection
//! that decrypts, answers CONNECT, SUBSCRIBE, the twin GET and PINGREQ, acknowledges QoS 1
//! PUBLISHes and keeps nothing. It writes the responses to the packets of one read together,
//! as the hub emulator does, but does a small fraction of the emulator's work per message (no
//! async runtime, no topic checks, no telemetry store), so that it keeps up with one client and
//! the measured rate is the client's, not the peer's.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// The name of the sink's connection threads (what the CPU rows look for).
pub const THREAD: &str = "tput-sink";

/// A listening sink. Connections are served until the client closes them; the listener lives
/// as long as the process (the bench runs a few).
pub struct Sink {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
}

impl Sink {
    /// Listens on a free loopback port with `cfg`: the hub emulator's TLS configuration
    /// (`Emulator::tls_config`), so a client configured for the emulator trusts it and does the
    /// same handshake.
    pub fn start(cfg: Arc<rustls::ServerConfig>) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::Builder::new()
            .name("tput-sink-accept".into())
            .spawn(move || {
                for tcp in listener.incoming().flatten() {
                    let cfg = cfg.clone();
                    let _ = std::thread::Builder::new()
                        .name(THREAD.into())
                        .spawn(move || {
                            let _ = serve(cfg, tcp);
                        });
                }
            })
            .unwrap();
        Sink { addr }
    }
}

/// Splits `buf` into complete MQTT packets: calls `f(first byte, body)` for each and returns
/// how many bytes they took (the rest is an incomplete packet, or one whose fixed header is
/// malformed, after which nothing can be framed). The fixed header is read by the hub
/// emulator's decoder.
pub(crate) fn packets(buf: &[u8], mut f: impl FnMut(u8, &[u8])) -> usize {
    let mut at = 0;
    while let Ok(Some((head, len))) = hub_emulator::mqtt::fixed_header(&buf[at..]) {
        let Some(body) = buf.get(at + head..at + head + len) else {
            break;
        };
        f(buf[at], body);
        at += head + len;
    }
    at
}

/// The responses to one packet, appended to `out`.
fn respond(first: u8, body: &[u8], out: &mut Vec<u8>) {
    match first >> 4 {
        1 => out.extend_from_slice(&[0x20, 2, 0, 0]), // CONNECT: accepted
        8 if body.len() >= 2 => {
            // SUBSCRIBE: QoS 0 or 1 granted as asked.
            let mut codes = Vec::new();
            let mut f = &body[2..];
            while f.len() >= 3 {
                let n = usize::from(u16::from_be_bytes([f[0], f[1]]));
                let Some(&qos) = f.get(2 + n) else { break };
                codes.push(qos.min(1));
                f = &f[3 + n..];
            }
            out.extend_from_slice(&[0x90, 2 + codes.len() as u8, body[0], body[1]]);
            out.extend_from_slice(&codes);
        }
        3 if body.len() >= 2 => {
            let n = usize::from(u16::from_be_bytes([body[0], body[1]]));
            let topic = body.get(2..2 + n).unwrap_or_default();
            if (first >> 1) & 3 == 1 {
                if let Some(id) = body.get(2 + n..4 + n) {
                    out.extend_from_slice(&[0x40, 2, id[0], id[1]]);
                }
            }
            // The twin document, QoS 0 (with a short request ID: one length byte).
            let doc = br#"{"desired":{"$version":1},"reported":{"$version":1}}"#;
            let rid = topic.strip_prefix(b"$iothub/twin/GET/?$rid=");
            if let Some(rid) = rid.filter(|r| r.len() < 40) {
                let t = [&b"$iothub/twin/res/200/?$rid="[..], rid].concat();
                out.extend_from_slice(&[0x30, (2 + t.len() + doc.len()) as u8, 0, t.len() as u8]);
                out.extend_from_slice(&t);
                out.extend_from_slice(doc);
            }
        }
        12 => out.extend_from_slice(&[0xd0, 0]), // PINGREQ
        _ => {}
    }
}

fn serve(cfg: Arc<rustls::ServerConfig>, mut tcp: TcpStream) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut tls = rustls::ServerConnection::new(cfg).map_err(io::Error::other)?;
    let (mut input, mut out) = (Vec::new(), Vec::new());
    let mut plain = vec![0u8; 64 * 1024];
    loop {
        while tls.wants_write() {
            tls.write_tls(&mut tcp)?;
        }
        if tls.read_tls(&mut tcp)? == 0 {
            return Ok(());
        }
        tls.process_new_packets().map_err(io::Error::other)?;
        loop {
            match tls.reader().read(&mut plain) {
                Ok(0) => return Ok(()),
                Ok(n) => input.extend_from_slice(&plain[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let mut closed = false;
        let used = packets(&input, |first, body| {
            closed |= first == 0xe0;
            respond(first, body, &mut out);
        });
        input.drain(..used);
        if !out.is_empty() {
            tls.writer().write_all(&out)?;
            out.clear();
        }
        if closed {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responds_to_each_packet_of_a_stream_split_anywhere() {
        // CONNECT (body abbreviated), SUBSCRIBE of two filters, a QoS 1 PUBLISH (id 7), the twin
        // GET (QoS 0, $rid=1), PINGREQ.
        let mut stream = vec![0x10, 2, 0, 4];
        stream.extend_from_slice(&[0x82, 11, 0, 1, 0, 2, b'a', b'b', 1, 0, 1, b'c', 0]);
        stream.extend_from_slice(&[0x32, 7, 0, 1, b't', 0, 7, b'x', b'y']);
        let get = b"$iothub/twin/GET/?$rid=1";
        stream.extend_from_slice(&[0x30, 2 + get.len() as u8, 0, get.len() as u8]);
        stream.extend_from_slice(get);
        stream.extend_from_slice(&[0xc0, 0]);
        let doc = br#"{"desired":{"$version":1},"reported":{"$version":1}}"#;
        let res = b"$iothub/twin/res/200/?$rid=1";
        let mut want = vec![0x20, 2, 0, 0, 0x90, 4, 0, 1, 1, 0, 0x40, 2, 0, 7];
        want.extend_from_slice(&[0x30, (2 + res.len() + doc.len()) as u8, 0, res.len() as u8]);
        want.extend_from_slice(res);
        want.extend_from_slice(doc);
        want.extend_from_slice(&[0xd0, 0]);
        for split in 0..=stream.len() {
            let (mut input, mut out) = (Vec::new(), Vec::new());
            for piece in [&stream[..split], &stream[split..]] {
                input.extend_from_slice(piece);
                let used = packets(&input, |f, b| respond(f, b, &mut out));
                input.drain(..used);
            }
            assert!(input.is_empty(), "split at {split}");
            assert_eq!(out, want, "split at {split}");
        }
    }
}
