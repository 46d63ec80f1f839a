//! The application-thread side: connecting, publishing, and writing through the TLS connection.

use std::format;
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::string::ToString;
use std::sync::Arc;
use std::time::Duration;
use std::vec;
use std::vec::Vec;

use rustls::pki_types::ServerName;
use rustls::ClientConnection;

use super::{
    not_connected, session, tls, worker, Conn, ConnectConfig, ConnectError, Link, SendError, Sent,
    Shared, LOG_HUB, LOG_TRANSPORT,
};
use crate::hub::{self, Client, Message};

/// Bounds the TCP connect and the TLS handshake when the send timeout is off.
pub(crate) const DEFAULT_SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes rustls' pending records to the socket (blocking, under the send timeout).
pub(crate) fn flush_tls(conn: &mut Conn) -> io::Result<()> {
    while conn.tls.wants_write() {
        if conn.tls.write_tls(&mut conn.tcp)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "socket accepted no bytes",
            ));
        }
    }
    Ok(())
}

/// Encrypts `head` then `body` as one stream (records span the two, so a header and a body up
/// to 16 KB go out as one TLS record) and writes everything out. Either may be empty. No
/// allocation of its own (rustls collects the two slices of a vectored write).
pub(crate) fn write_all(conn: &mut Conn, mut head: &[u8], mut body: &[u8]) -> io::Result<()> {
    while !head.is_empty() || !body.is_empty() {
        let both = [IoSlice::new(head), IoSlice::new(body)];
        // Only the non-empty ones: a single slice is written without rustls' collection.
        let slices = match (head.is_empty(), body.is_empty()) {
            (true, _) => &both[1..],
            (_, true) => &both[..1],
            _ => &both[..],
        };
        let n = conn.tls.writer().write_vectored(slices)?;
        if n == 0 && !conn.tls.wants_write() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "TLS connection accepts no data",
            ));
        }
        // Drop what was taken (`n` is at most the two lengths together).
        let from_head = n.min(head.len());
        head = head.get(from_head..).unwrap_or_default();
        body = body.get(n - from_head..).unwrap_or_default();
        flush_tls(conn)?;
    }
    Ok(())
}

/// Marks the connection broken after a failed write: the stream may hold half a packet, so the
/// socket is shut down and the worker ends the connection.
fn break_link(link: &mut Link, err: &io::Error) {
    log::warn!(target: LOG_TRANSPORT, "write failed: {err}; closing the connection");
    link.broken = true;
    if let Some(conn) = link.conn.as_mut() {
        let _ = conn.tcp.shutdown(Shutdown::Both);
    }
}

/// Writes the client's queued packets (CONNECT, SUBSCRIBE, PUBACK, PINGREQ, DISCONNECT, the
/// automatic twin GET).
pub(crate) fn flush(link: &mut Link, now_ms: u64) -> io::Result<()> {
    let result = (|| {
        let Link { client, conn, .. } = &mut *link;
        let conn = conn.as_mut().ok_or_else(not_connected)?;
        while let Some(bytes) = client.poll_transmit() {
            let n = bytes.len();
            write_all(conn, bytes, &[])?;
            client.transmit_complete(n, now_ms);
        }
        flush_tls(conn)
    })();
    if let Err(e) = &result {
        break_link(link, e);
    }
    result
}

pub(crate) fn publish(shared: &Shared, msg: &Message<'_>) -> Result<Sent, SendError> {
    let mut link = shared.lock();
    if link.broken {
        return Err(SendError::Io(not_connected()));
    }
    let now = shared.now_ms();
    let Link {
        client,
        conn,
        outbox,
        ..
    } = &mut *link;
    let out = client.publish(msg, now).map_err(SendError::Publish)?;
    let (packet_id, request_id) = (
        out.packet_id,
        out.request_id.as_ref().map(|r| r.as_str().to_string()),
    );
    let Some(conn) = conn.as_mut() else {
        // Connected implies a transport; keep the core consistent anyway (dropping `out` takes
        // the header back out of the queue).
        return Err(SendError::Io(not_connected()));
    };
    // A persistent session keeps a copy until PUBACK (or says it has no room).
    let stored = match session::store(
        outbox,
        msg.qos,
        out.packet_id,
        &[out.packet_header(), out.body()],
    ) {
        Ok(stored) => stored,
        Err(e) => {
            drop(out);
            return Err(SendError::Publish(e));
        }
    };
    let size = out.head().len() + out.body().len();
    match write_all(conn, out.head(), out.body()) {
        Ok(()) => {
            out.sent();
            // The queue is empty now; this records the time of the transmission for keep-alive.
            client.transmit_complete(size, now);
            log::debug!(target: LOG_HUB, "published {size} bytes, packet id {packet_id}");
            Ok(Sent {
                packet_id,
                request_id,
            })
        }
        Err(e) if stored => {
            // Kept in the outbox: it goes out again (DUP) after the reconnect.
            drop(out);
            break_link(&mut link, &e);
            Ok(Sent {
                packet_id,
                request_id,
            })
        }
        Err(e) => {
            drop(out);
            break_link(&mut link, &e);
            Err(SendError::Io(e))
        }
    }
}

/// Rebuilds the client when the transmit buffer size changes, keeping the packet-ID sequence.
fn resize_tx(client: &mut Client<Vec<u8>>, size: usize, options: hub::Options) {
    let last = client.next_packet_id();
    let mut fresh = Client::new(vec![0u8; size], options);
    while fresh.next_packet_id() != last {}
    *client = fresh;
}

/// Where and how to open a TLS connection (shared by the hub connection and DPS).
pub(crate) struct Endpoint<'a> {
    /// Host name: DNS (unless `static_ip`), SNI and certificate check.
    pub(crate) hostname: &'a str,
    pub(crate) port: u16,
    /// Connect to this address instead of resolving `hostname`.
    pub(crate) static_ip: Option<&'a str>,
    pub(crate) credentials: &'a super::Credentials,
    /// A password (SAS token) authenticates the device: the client certificate is optional.
    pub(crate) password: bool,
    /// Bounds the TCP connect and the TLS handshake.
    pub(crate) setup_timeout: Duration,
    /// The socket's send timeout once connected (`None`: none).
    pub(crate) send_timeout: Option<Duration>,
}

fn resolve(ep: &Endpoint<'_>) -> Result<Vec<SocketAddr>, ConnectError> {
    let host = ep
        .static_ip
        .filter(|s| !s.is_empty())
        .unwrap_or(ep.hostname);
    let addrs: Vec<SocketAddr> = (host, ep.port)
        .to_socket_addrs()
        .map_err(ConnectError::Dns)?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Dns(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host}: no address"),
        )));
    }
    Ok(addrs)
}

fn tcp_connect(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, ConnectError> {
    let mut last = None;
    for addr in addrs {
        log::debug!(target: LOG_TRANSPORT, "connecting to {addr}");
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => {
                log::debug!(target: LOG_TRANSPORT, "{addr}: {e}");
                last = Some(e);
            }
        }
    }
    Err(ConnectError::Tcp(last.unwrap_or_else(not_connected)))
}

/// DNS, TCP and the TLS handshake, on the caller's thread. `on_tcp` sees the socket before the
/// handshake (to keep a clone that can end it) and may refuse to go on.
pub(crate) fn open(
    ep: &Endpoint<'_>,
    on_tcp: impl FnOnce(&TcpStream) -> Result<(), ConnectError>,
) -> Result<Conn, ConnectError> {
    let tls_config = tls::client_config(ep.credentials, ep.password).map_err(ConnectError::Tls)?;
    let server_name = ServerName::try_from(ep.hostname.to_string()).map_err(|e| {
        ConnectError::Tls(format!("{:?} is not a valid server name: {e}", ep.hostname))
    })?;
    let addrs = resolve(ep)?;
    let tcp = tcp_connect(&addrs, ep.setup_timeout)?;
    on_tcp(&tcp)?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(ep.setup_timeout))
        .map_err(ConnectError::Tcp)?;
    tcp.set_write_timeout(Some(ep.setup_timeout))
        .map_err(ConnectError::Tcp)?;
    let mut conn = Conn {
        tls: ClientConnection::new(Arc::new(tls_config), server_name)
            .map_err(|e| ConnectError::Tls(e.to_string()))?,
        tcp,
    };
    while conn.tls.is_handshaking() {
        if let Err(e) = conn.tls.complete_io(&mut conn.tcp) {
            return Err(ConnectError::Tls(format!(
                "handshake with {}:{} failed: {e}",
                ep.hostname, ep.port
            )));
        }
    }
    // Reads happen only after poll(2) says there is input; writes keep the send timeout.
    conn.tcp.set_read_timeout(None).map_err(ConnectError::Tcp)?;
    if let Err(e) = conn.tcp.set_write_timeout(ep.send_timeout) {
        log::warn!(target: LOG_TRANSPORT, "cannot set the send timeout: {e}");
    }
    Ok(conn)
}

/// DNS, TCP and the TLS handshake, on the caller's thread and without the lock (except to
/// publish the socket for `abort()`).
fn establish(shared: &Shared, config: &ConnectConfig) -> Result<Conn, ConnectError> {
    let setup_timeout = config
        .send_timeout_secs
        .map_or(DEFAULT_SETUP_TIMEOUT, |s| Duration::from_secs(s.into()));
    let ep = Endpoint {
        hostname: &config.hostname,
        port: config.port,
        static_ip: config.static_ip.as_deref(),
        credentials: &config.credentials,
        password: config.password.is_some(),
        setup_timeout,
        send_timeout: config
            .send_timeout_secs
            .map(|s| Duration::from_secs(s.max(1).into())),
    };
    open(&ep, |tcp| {
        let mut link = shared.lock();
        if link.close_requested {
            return Err(ConnectError::Tcp(io::Error::new(
                io::ErrorKind::Interrupted,
                "aborted",
            )));
        }
        link.handshaking = tcp.try_clone().ok();
        Ok(())
    })
}

pub(crate) fn connect(shared: &Arc<Shared>, config: &ConnectConfig) -> Result<(), ConnectError> {
    let prepared;
    let retry = session::from_retry();
    let generation = {
        let mut link = shared.lock();
        if link.active || (session::is_reconnecting(&link) && !retry) {
            return Err(ConnectError::Busy);
        }
        // The extensions: a fresh SAS token, a persistent session, the reconnecting session.
        prepared = session::prepare(&mut link, config)?;
        let config = &prepared;
        if config.tx_buffer_size != link.tx_size {
            resize_tx(&mut link.client, config.tx_buffer_size, config.options);
        }
        link.client.set_options(config.options);
        link.client
            .set_c2d_qos(if config.extensions.persistent_session {
                crate::mqtt::QoS::AtLeastOnce
            } else {
                crate::mqtt::QoS::AtMostOnce
            });
        let now = shared.now_ms();
        let password = config.password.as_deref().map(str::as_bytes);
        let model_id = config.extensions.encoded_model_id();
        link.client
            .connect(
                &config.hostname,
                &config.device_id,
                password,
                model_id.as_deref(),
                now,
            )
            .map_err(|e| match e {
                hub::ConnectError::NotDisconnected => ConnectError::Busy,
                e => ConnectError::InvalidConfig(e),
            })?;
        link.active = true;
        link.close_requested = false;
        link.broken = false;
        link.generation += 1;
        link.tx_size = config.tx_buffer_size;
        link.generation
    };
    let config = &prepared;
    log::info!(target: LOG_TRANSPORT, "connecting to {}:{} as {}", config.hostname, config.port, config.device_id);
    let started = std::time::Instant::now();
    let established = establish(shared, config);
    let mut link = shared.lock();
    link.handshaking = None;
    let result = established.and_then(|conn| {
        if link.close_requested {
            return Err(ConnectError::Tcp(io::Error::new(
                io::ErrorKind::Interrupted,
                "aborted",
            )));
        }
        let fd = conn.tcp.as_raw_fd();
        link.conn = Some(conn);
        let now = shared.now_ms();
        flush(&mut link, now).map_err(ConnectError::Tcp)?;
        worker::spawn(shared.clone(), fd, config.rx_buffer_size).map_err(ConnectError::Tcp)
    });
    match result {
        Ok(()) => {
            session::started(&mut link, config, retry);
            log::info!(
                target: LOG_TRANSPORT,
                "connected to {}:{} in {} ms, CONNECT sent",
                config.hostname,
                config.port,
                started.elapsed().as_millis()
            );
            Ok(())
        }
        Err(e) => {
            log::warn!(target: LOG_TRANSPORT, "connect failed: {e}");
            link.client.handle_closed();
            link.conn = None;
            link.active = false;
            link.close_requested = false;
            link.broken = false;
            link.finished = generation;
            drop(link);
            shared.finished_cv.notify_all();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::string::String;
    use std::sync::mpsc;

    fn pem_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        rustls_pemfile::certs(&mut pem.as_bytes())
            .map(Result::unwrap)
            .collect()
    }

    /// A publish header and its body go out as one TLS record, and a body over the record limit
    /// as the fewest records.
    #[test]
    fn head_and_body_share_a_record() {
        let ca = cert_tool::root_ca().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![String::from("localhost")]).unwrap();
        let issuer = rcgen::Issuer::from_ca_cert_pem(
            ca.cert_pem(),
            rcgen::KeyPair::from_pem(ca.key_pem()).unwrap(),
        )
        .unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                pem_certs(&cert.pem()),
                rustls_pemfile::private_key(&mut key.serialize_pem().as_bytes())
                    .unwrap()
                    .unwrap(),
            )
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(pem_certs(ca.cert_pem()));
        let client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let server = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            let mut conn = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).unwrap();
            }
            ready_tx.send(()).unwrap();
            // From here on, count the raw records the client sends until it closes.
            let mut raw = Vec::new();
            tcp.read_to_end(&mut raw).unwrap();
            let mut lengths = Vec::new();
            let mut at = 0;
            while at + 5 <= raw.len() {
                let len = usize::from(u16::from_be_bytes([raw[at + 3], raw[at + 4]]));
                lengths.push(len);
                at += 5 + len;
            }
            // And what they carry, decrypted (drained as it comes: rustls bounds what it holds).
            let (mut plain, mut rd, mut buf) = (Vec::new(), &raw[..], [0u8; 4096]);
            while !rd.is_empty() {
                conn.read_tls(&mut rd).unwrap();
                conn.process_new_packets().unwrap();
                loop {
                    match conn.reader().read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => plain.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            (lengths, plain)
        });
        let tcp = TcpStream::connect(addr).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = Conn {
            tls: ClientConnection::new(Arc::new(client_config), name).unwrap(),
            tcp,
        };
        while conn.tls.is_handshaking() {
            conn.tls.complete_io(&mut conn.tcp).unwrap();
        }
        ready_rx.recv().unwrap();
        write_all(&mut conn, &[0x32, 0x20, 0, 4], &[7u8; 1000]).unwrap();
        write_all(&mut conn, &[1u8; 10], &[2u8; 20_000]).unwrap();
        // Either part may be empty; nothing at all writes no record.
        write_all(&mut conn, &[3u8; 5], &[]).unwrap();
        write_all(&mut conn, &[], &[4u8; 6]).unwrap();
        write_all(&mut conn, &[], &[]).unwrap();
        // When rustls takes only part of what is offered (its buffer limit), the rest follows,
        // in order: within the head, and across the head's end into the body.
        conn.tls.set_buffer_limit(Some(4096));
        write_all(&mut conn, &[5u8; 6000], &[6u8; 9000]).unwrap();
        conn.tcp.shutdown(Shutdown::Both).unwrap();
        let (lengths, plain) = server.join().unwrap();
        // TLS 1.3 adds a content-type byte and a 16-byte tag to each record.
        assert_eq!(
            lengths[..5],
            [1004 + 17, 16384 + 17, 20_010 - 16384 + 17, 5 + 17, 6 + 17]
        );
        assert!(lengths.len() > 6, "the last write went out in pieces");
        let mut want = vec![0x32, 0x20, 0, 4];
        for (byte, n) in [
            (7u8, 1000),
            (1, 10),
            (2, 20_000),
            (3, 5),
            (4, 6),
            (5, 6000),
            (6, 9000),
        ] {
            want.extend(std::iter::repeat_n(byte, n));
        }
        assert!(plain == want, "the bytes, in order");
    }
}
