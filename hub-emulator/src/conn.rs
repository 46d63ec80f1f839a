//! The device side: one tokio task per TLS connection (no thread per connection), speaking
//! MQTT 3.1.1 as IoT Hub or as DPS depending on the CONNECT user name.

use crate::hub::{ConnKind, Hub, Outbound, QueuedC2d, SubKind};
use crate::model::FaultKind;
use crate::mqtt::{self, Connect, Packet, Publish, Will};
use crate::util;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// Largest packet accepted before a CONNECT.
const CONNECT_LIMIT: usize = 64 * 1024;
/// Largest packet accepted after CONNECT: the D2C limit plus room for a long topic.
const PACKET_LIMIT: usize = crate::hub::MAX_D2C_BYTES + 64 * 1024;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest idle time Azure allows (1767 s), whatever the client's keepalive.
const MAX_IDLE: Duration = Duration::from_secs(1767);

pub(crate) async fn accept_loop(
    hub: Arc<Hub>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    let hub = hub.clone();
                    let acceptor = acceptor.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        handle(hub, tcp, peer, acceptor, shutdown).await;
                    });
                }
                Err(e) => {
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}

async fn handle(
    hub: Arc<Hub>,
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shutdown: watch::Receiver<bool>,
) {
    if let Some(f) = hub.fault(FaultKind::Refuse, "") {
        if f.connack_code == Some(0) && f.device_id.is_none() {
            debug!("{peer}: connection refused at TCP level (refuse fault)");
            return;
        }
    }
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            info!("{peer}: TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            info!("{peer}: TLS handshake timed out");
            return;
        }
    };
    let certs: Vec<Vec<u8>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|d| d.to_vec()).collect())
        .unwrap_or_default();
    let mut io = Io {
        stream: tls,
        buf: Vec::with_capacity(1024),
        start: 0,
        out: Vec::new(),
    };
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, io.read_packet(CONNECT_LIMIT)).await {
        Ok(Ok(Some(p))) => p,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            info!("{peer}: closed before CONNECT: {e}");
            return;
        }
        Err(_) => {
            info!("{peer}: no CONNECT within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };
    let Packet::Connect(connect) = first else {
        info!("{peer}: first packet is {}, not CONNECT", first.name());
        return;
    };
    connected(hub, io, peer, certs, connect, shutdown).await;
}

struct Io {
    stream: TlsStream<TcpStream>,
    /// Bytes read; `buf[start..]` is not parsed yet.
    buf: Vec<u8>,
    start: usize,
    /// Responses not written yet: the responses to the packets of one read are queued here and
    /// written together once the last is handled (`Session::run`).
    out: Vec<u8>,
}

impl Io {
    /// Parses a complete packet from the buffer, if there is one. A packet taken only moves
    /// the start: the bytes are moved down once per read, not once per packet.
    fn take_packet(&mut self, limit: usize) -> Result<Option<Packet>, String> {
        match mqtt::decode(&self.buf[self.start..], limit) {
            Ok(Some((p, n))) => {
                self.start += n;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                    if self.buf.capacity() > 64 * 1024 {
                        self.buf = Vec::with_capacity(1024);
                    }
                }
                Ok(Some(p))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Reads more bytes (cancel-safe). `Ok(0)` is EOF.
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8192);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    async fn read_packet(&mut self, limit: usize) -> Result<Option<Packet>, String> {
        loop {
            if let Some(p) = self.take_packet(limit)? {
                return Ok(Some(p));
            }
            match self.fill().await {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Queues a response; `write_out` writes it.
    fn queue(&mut self, p: &Packet) {
        mqtt::encode(p, &mut self.out);
    }

    /// Writes a packet now (with any queued before it).
    async fn send(&mut self, p: &Packet) -> std::io::Result<()> {
        self.queue(p);
        self.write_out().await
    }

    /// Writes the collected responses, if any.
    async fn write_out(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = self.stream.write_all(&self.out).await;
        self.out.clear();
        r?;
        self.stream.flush().await
    }
}

/// What the user name says the client is.
enum Identity {
    Hub {
        device_id: String,
    },
    Dps {
        scope: String,
        registration_id: String,
    },
}

/// The `model-id` of a hub user name's query (IoT Plug and Play), URL-decoded.
fn model_id(u: &str) -> Option<String> {
    let (_, query) = u.split_once('?')?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("model-id="))
        .filter(|m| !m.is_empty())
        .map(crate::util::url_decode)
}

fn parse_username(u: &str) -> Result<Identity, String> {
    let parts: Vec<&str> = u.split('/').collect();
    if parts.len() >= 4 && parts[1] == "registrations" && parts[3].starts_with("api-version=") {
        return Ok(Identity::Dps {
            scope: parts[0].to_string(),
            registration_id: parts[2].to_string(),
        });
    }
    let path = match u.split_once("/?") {
        Some((p, _)) => p,
        None => u.trim_end_matches('/'),
    };
    let segs: Vec<&str> = path.split('/').collect();
    match segs.as_slice() {
        [_host, dev] if !dev.is_empty() => Ok(Identity::Hub {
            device_id: dev.to_string(),
        }),
        // An older form without the `?`: `{host}/{device}/api-version=...`.
        [_host, dev, q] if !dev.is_empty() && q.starts_with("api-version=") => Ok(Identity::Hub {
            device_id: dev.to_string(),
        }),
        [_host, dev, module] if !dev.is_empty() => Err(format!(
            "module identities are not supported (module \"{module}\")"
        )),
        _ => Err(format!("unrecognised user name \"{u}\"")),
    }
}

async fn connected(
    hub: Arc<Hub>,
    mut io: Io,
    peer: SocketAddr,
    certs: Vec<Vec<u8>>,
    c: Connect,
    shutdown: watch::Receiver<bool>,
) {
    if c.protocol_name != "MQTT" || c.protocol_level != 4 {
        info!(
            "{peer}: refused protocol {} level {} (CONNACK 1)",
            c.protocol_name, c.protocol_level
        );
        refuse(&mut io, 1).await;
        return;
    }
    let Some(username) = c.username.clone() else {
        info!(
            "{peer}: client \"{}\" sent no user name (CONNACK 4)",
            c.client_id
        );
        refuse(&mut io, 4).await;
        return;
    };
    let identity = match parse_username(&username) {
        Ok(i) => i,
        Err(e) => {
            info!(
                "{peer}: client \"{}\" refused: {e} (CONNACK 5)",
                c.client_id
            );
            refuse(&mut io, 5).await;
            return;
        }
    };
    let (kind, id) = match &identity {
        Identity::Hub { device_id } => (ConnKind::Hub, device_id.clone()),
        Identity::Dps {
            registration_id, ..
        } => (ConnKind::Dps, registration_id.clone()),
    };
    let what = if kind == ConnKind::Hub {
        "device"
    } else {
        "DPS registration"
    };
    if c.client_id != id {
        info!(
            "{what} {id} refused: client ID \"{}\" is not the ID in the user name (CONNACK 2)",
            c.client_id
        );
        refuse(&mut io, 2).await;
        return;
    }
    if let Some(f) = hub.fault(FaultKind::Refuse, &id) {
        let code = f.connack_code.unwrap_or(3);
        info!("{what} {id} refused by fault injection (CONNACK {code})");
        if code != 0 {
            refuse(&mut io, code).await;
        }
        return;
    }
    let (auth_method, expires) = match &identity {
        Identity::Hub { device_id } => {
            match hub.authenticate_hub(device_id, &certs, c.password.as_deref()) {
                Ok(a) => (a.method, a.expires),
                Err((code, why)) => {
                    info!("device {device_id} refused: {why} (CONNACK {code})");
                    refuse(&mut io, code).await;
                    return;
                }
            }
        }
        Identity::Dps { scope, .. } => {
            if *scope != hub.settings.dps_id_scope {
                info!(
                    "DPS registration {id} refused: ID scope \"{scope}\" is not \"{}\" (CONNACK 5)",
                    hub.settings.dps_id_scope
                );
                refuse(&mut io, 5).await;
                return;
            }
            let m = if certs.is_empty() {
                "SAS".to_string()
            } else {
                "x509".to_string()
            };
            (m, None)
        }
    };
    let will = match c.will.clone() {
        Some(w) if kind == ConnKind::Hub => {
            if telemetry_bag(&w.topic, &id).is_some() && w.qos < 2 {
                Some(w)
            } else {
                warn!(
                    "{id}: will topic \"{}\" is not its telemetry topic; ignored",
                    w.topic
                );
                None
            }
        }
        _ => None,
    };
    if let Some(d) = hub.delay(&id) {
        tokio::time::sleep(d).await;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (conn_id, session_present) = hub.register_conn(
        kind,
        &id,
        tx,
        &auth_method,
        &peer.to_string(),
        c.keep_alive,
        c.clean_session,
    );
    if kind == ConnKind::Hub {
        let model = model_id(&username);
        if let Some(m) = &model {
            info!("device {id} announces the Plug and Play model {m}");
        }
        hub.set_model_id(conn_id, model);
    }
    if io
        .send(&Packet::Connack {
            session_present,
            code: 0,
        })
        .await
        .is_err()
    {
        // C2D a resumed session already queued here goes back to the device's queue.
        let mut unsent = Vec::new();
        while let Ok(o) = rx.try_recv() {
            if let Outbound::Publish { c2d: Some(m), .. } = o {
                unsent.push(m);
            }
        }
        hub.unregister_conn(conn_id, unsent);
        return;
    }
    info!(
        "{what} {id} connected ({auth_method}) from {peer}, keepalive {} s, clean session {}",
        c.keep_alive, c.clean_session
    );
    let mut s = Session {
        hub: hub.clone(),
        io,
        kind,
        id: id.clone(),
        conn_id,
        auth: auth_method,
        // 1.5 × the client's keepalive, capped like Azure's load balancer idle timeout.
        keep_alive: (c.keep_alive > 0)
            .then(|| Duration::from_millis(c.keep_alive as u64 * 1500).min(MAX_IDLE)),
        last_rx: Instant::now(),
        next_pid: 0,
        inflight: HashMap::new(),
        will,
        certs: if kind == ConnKind::Dps {
            certs
        } else {
            Vec::new()
        },
        password: if kind == ConnKind::Dps {
            c.password.clone()
        } else {
            None
        },
    };
    let expires_at =
        expires.map(|e| Instant::now() + Duration::from_secs(e.saturating_sub(util::unix_now())));
    let (reason, graceful) = s.run(rx, expires_at, shutdown).await;
    let unacked: Vec<QueuedC2d> = s.inflight.drain().map(|(_, m)| m).collect();
    hub.unregister_conn(conn_id, unacked);
    info!("{what} {id} disconnected ({reason})");
    if !graceful {
        if let Some(w) = s.will.take() {
            if let Some(bag) = telemetry_bag(&w.topic, &id) {
                let _ = hub.telemetry(
                    &id,
                    &s.auth,
                    &w.topic,
                    bag,
                    &w.payload,
                    &[("iothub-MessageType", "Will")],
                );
            }
        }
    }
}

async fn refuse(io: &mut Io, code: u8) {
    let _ = io
        .send(&Packet::Connack {
            session_present: false,
            code,
        })
        .await;
}

/// The property bag of a telemetry topic of `device_id`, or `None` if it is not one.
fn telemetry_bag<'a>(topic: &'a str, device_id: &str) -> Option<&'a str> {
    let rest = topic.strip_prefix("devices/")?;
    let rest = rest.strip_prefix(device_id)?;
    if rest == "/messages/events" {
        return Some("");
    }
    rest.strip_prefix("/messages/events/")
}

struct Session {
    hub: Arc<Hub>,
    io: Io,
    kind: ConnKind,
    id: String,
    conn_id: u64,
    auth: String,
    keep_alive: Option<Duration>,
    last_rx: Instant,
    next_pid: u16,
    inflight: HashMap<u16, QueuedC2d>,
    will: Option<Will>,
    /// DPS only: the client certificates and password, for the attestation at register time.
    certs: Vec<Vec<u8>>,
    password: Option<Vec<u8>>,
}

enum Flow {
    Continue,
    /// Close: reason, graceful (DISCONNECT received).
    Close(String, bool),
}

impl Session {
    async fn run(
        &mut self,
        mut rx: mpsc::UnboundedReceiver<Outbound>,
        expires_at: Option<Instant>,
        mut shutdown: watch::Receiver<bool>,
    ) -> (String, bool) {
        loop {
            // Handle every complete packet already buffered; their responses are written
            // together after the last (also when the session ends there).
            let closed = loop {
                match self.io.take_packet(PACKET_LIMIT) {
                    Ok(Some(p)) => match self.on_packet(p).await {
                        Flow::Continue => {}
                        Flow::Close(r, g) => break Some((r, g)),
                    },
                    Ok(None) => break None,
                    Err(e) => break Some((format!("protocol error: {e}"), false)),
                }
            };
            let written = self.io.write_out().await;
            if let Some(closed) = closed {
                return closed;
            }
            if let Err(e) = written {
                return (format!("write error: {e}"), false);
            }
            let ka_deadline = self.keep_alive.map(|k| self.last_rx + k);
            let far = Instant::now() + Duration::from_secs(86_400);
            tokio::select! {
                r = self.io.fill() => match r {
                    Ok(0) => return ("connection closed by the device".into(), false),
                    Ok(_) => {
                        self.last_rx = Instant::now();
                    }
                    Err(e) => return (format!("read error: {e}"), false),
                },
                m = rx.recv() => match m {
                    Some(Outbound::Publish { topic, payload, qos, c2d }) => {
                        if let Err(e) = self.publish(topic, payload, qos, c2d).await {
                            return (format!("write error: {e}"), false);
                        }
                    }
                    Some(Outbound::Close(why)) => return (why, false),
                    None => return ("hub gone".into(), false),
                },
                _ = tokio::time::sleep_until(ka_deadline.unwrap_or(far).into()), if ka_deadline.is_some() => {
                    return (format!("keepalive timeout: nothing received for {:?}", self.keep_alive.unwrap_or_default()), false);
                }
                _ = tokio::time::sleep_until(expires_at.unwrap_or(far).into()), if expires_at.is_some() => {
                    return ("SAS token expired".into(), false);
                }
                _ = shutdown.changed() => return ("emulator shutting down".into(), false),
            }
        }
    }

    async fn publish(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        qos: u8,
        c2d: Option<QueuedC2d>,
    ) -> std::io::Result<()> {
        let pid = if qos > 0 {
            self.next_pid = self.next_pid.checked_add(1).unwrap_or(1);
            if let Some(m) = c2d {
                self.inflight.insert(self.next_pid, m);
            }
            Some(self.next_pid)
        } else {
            None
        };
        self.io
            .send(&Packet::Publish(Publish {
                dup: false,
                qos,
                retain: false,
                topic,
                pid,
                payload,
            }))
            .await
    }

    /// Queues a response packet (`run` writes the responses to one read together), after the
    /// delay fault's delay if one is active: what is queued before it is written first.
    async fn respond(&mut self, p: Packet) -> Flow {
        if let Some(d) = self.hub.delay(&self.id) {
            if let Err(e) = self.io.write_out().await {
                return Flow::Close(format!("write error: {e}"), false);
            }
            tokio::time::sleep(d).await;
        }
        self.io.queue(&p);
        Flow::Continue
    }

    async fn respond_publish(&mut self, topic: String, payload: Vec<u8>, qos: u8) -> Flow {
        let pid = if qos > 0 {
            self.next_pid = self.next_pid.checked_add(1).unwrap_or(1);
            Some(self.next_pid)
        } else {
            None
        };
        self.respond(Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic,
            pid,
            payload,
        }))
        .await
    }

    /// PUBACK for a QoS 1 publish.
    async fn ack(&mut self, pid: Option<u16>) -> Flow {
        match pid {
            Some(pid) => self.respond(Packet::Puback(pid)).await,
            None => Flow::Continue,
        }
    }

    async fn on_packet(&mut self, p: Packet) -> Flow {
        self.last_rx = Instant::now();
        match p {
            Packet::Publish(pb) => {
                if pb.qos == 2 {
                    return Flow::Close(
                        "QoS 2 publish (IoT Hub closes the connection)".into(),
                        false,
                    );
                }
                // The handlers acknowledge (QoS 1) once the request is accepted: a publish
                // that closes the connection is never acknowledged.
                match self.kind {
                    ConnKind::Hub => self.on_hub_publish(pb).await,
                    ConnKind::Dps => self.on_dps_publish(pb).await,
                }
            }
            Packet::Subscribe { pid, filters } => {
                match self.hub.subscribe(self.conn_id, &filters) {
                    Ok(codes) => self.respond(Packet::Suback { pid, codes }).await,
                    Err(why) => Flow::Close(why, false),
                }
            }
            Packet::Unsubscribe { pid, filters } => {
                self.hub.unsubscribe(self.conn_id, &filters);
                self.respond(Packet::Unsuback(pid)).await
            }
            Packet::Pingreq => {
                if self.kind == ConnKind::Hub {
                    self.hub.touch(&self.id);
                }
                self.respond(Packet::Pingresp).await
            }
            Packet::Puback(pid) => {
                if let Some(m) = self.inflight.remove(&pid) {
                    info!("{} acknowledged C2D {}", self.id, m.message_id);
                }
                Flow::Continue
            }
            Packet::Disconnect => Flow::Close("DISCONNECT".into(), true),
            other => Flow::Close(format!("unexpected {}", other.name()), false),
        }
    }

    async fn on_hub_publish(&mut self, pb: Publish) -> Flow {
        let topic = pb.topic.as_str();
        if let Some(bag) = telemetry_bag(topic, &self.id) {
            let retain = [("mqtt-retain", "true")];
            let extra: &[(&str, &str)] = if pb.retain { &retain } else { &[] };
            return match self
                .hub
                .telemetry(&self.id, &self.auth, topic, bag, &pb.payload, extra)
            {
                Ok(()) => self.ack(pb.pid).await,
                Err(e) => Flow::Close(e, false),
            };
        }
        if let Some(rest) = topic.strip_prefix("$iothub/twin/") {
            let is_get = rest.starts_with("GET/");
            let is_patch = rest.starts_with("PATCH/properties/reported/");
            if !is_get && !is_patch {
                return Flow::Close(format!("publish to a foreign topic \"{topic}\""), false);
            }
            let Some(rid) = util::query_param(topic, "$rid").map(str::to_string) else {
                return Flow::Close(format!("twin request without $rid: \"{topic}\""), false);
            };
            if let Flow::Close(r, g) = self.ack(pb.pid).await {
                return Flow::Close(r, g);
            }
            let Some(qos) = self.hub.granted(self.conn_id, SubKind::TwinRes) else {
                warn!(
                    "{} twin request $rid={rid} ignored: not subscribed to $iothub/twin/res/#",
                    self.id
                );
                return Flow::Continue;
            };
            if self.hub.fault(FaultKind::Throttle, &self.id).is_some() {
                info!("{} twin request $rid={rid} → 429 (throttle fault)", self.id);
                let body = br#"{"errorCode":429001,"message":"ThrottlingException"}"#.to_vec();
                return self
                    .respond_publish(format!("$iothub/twin/res/429/?$rid={rid}"), body, qos)
                    .await;
            }
            let (topic, body) = if is_get {
                let (status, body) = self.hub.device_twin_get(&self.id);
                info!("{} twin GET → {status}", self.id);
                (format!("$iothub/twin/res/{status}/?$rid={rid}"), body)
            } else {
                match self.hub.device_twin_patch_reported(&self.id, &pb.payload) {
                    Ok(v) => {
                        info!("{} twin reported v{v}", self.id);
                        (
                            format!("$iothub/twin/res/204/?$rid={rid}&$version={v}"),
                            Vec::new(),
                        )
                    }
                    Err((status, body)) => {
                        info!("{} twin reported → {status}", self.id);
                        (format!("$iothub/twin/res/{status}/?$rid={rid}"), body)
                    }
                }
            };
            return self.respond_publish(topic, body, qos).await;
        }
        if let Some(rest) = topic.strip_prefix("$iothub/methods/res/") {
            let status = rest.split('/').next().and_then(|s| s.parse::<i64>().ok());
            let rid = util::query_param(topic, "$rid");
            return match (status, rid) {
                (Some(status), Some(rid)) => {
                    self.hub.method_response(&self.id, rid, status, &pb.payload);
                    self.ack(pb.pid).await
                }
                _ => Flow::Close(
                    format!("malformed method response topic \"{topic}\""),
                    false,
                ),
            };
        }
        Flow::Close(format!("publish to a foreign topic \"{topic}\""), false)
    }

    async fn on_dps_publish(&mut self, pb: Publish) -> Flow {
        let topic = pb.topic.as_str();
        let register = topic.starts_with("$dps/registrations/PUT/iotdps-register/");
        let poll = topic.starts_with("$dps/registrations/GET/iotdps-get-operationstatus/");
        if !register && !poll {
            return Flow::Close(format!("publish to a foreign topic \"{topic}\""), false);
        }
        let Some(rid) = util::query_param(topic, "$rid").map(str::to_string) else {
            return Flow::Close(format!("DPS request without $rid: \"{topic}\""), false);
        };
        if let Flow::Close(r, g) = self.ack(pb.pid).await {
            return Flow::Close(r, g);
        }
        let Some(qos) = self.hub.granted(self.conn_id, SubKind::DpsRes) else {
            warn!(
                "{} DPS request ignored: not subscribed to $dps/registrations/res/#",
                self.id
            );
            return Flow::Continue;
        };
        let (status, retry, body) = if register {
            // DPS attests the device here, not at CONNECT.
            self.hub
                .dps_register(&self.id, &self.certs, self.password.as_deref(), &pb.payload)
        } else {
            let op = util::query_param(topic, "operationId").unwrap_or("");
            let op = util::url_decode(op);
            let r = self.hub.dps_poll(&self.id, &op);
            info!(
                "{} DPS poll → {} {}",
                self.id,
                r.0,
                r.2["status"].as_str().unwrap_or("")
            );
            r
        };
        let mut t = format!("$dps/registrations/res/{status}/?$rid={rid}");
        if let Some(r) = retry {
            t.push_str(&format!("&retry-after={r}"));
        }
        self.respond_publish(t, serde_json::to_vec(&body).unwrap_or_default(), qos)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        match parse_username("localhost/dev1/?api-version=2020-09-30&DeviceClientType=x").unwrap() {
            Identity::Hub { device_id } => assert_eq!(device_id, "dev1"),
            _ => panic!(),
        }
        match parse_username("0ne00000000/registrations/reg-1/api-version=2019-03-31").unwrap() {
            Identity::Dps {
                scope,
                registration_id,
            } => {
                assert_eq!(scope, "0ne00000000");
                assert_eq!(registration_id, "reg-1");
            }
            _ => panic!(),
        }
        assert!(parse_username("h/d/m/?api-version=1").is_err());
        assert_eq!(
            model_id("h/d/?api-version=2020-09-30&DeviceClientType=x&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1")
                .as_deref(),
            Some("dtmi:com:example:Thermostat;1")
        );
        assert_eq!(model_id("h/d/?api-version=2020-09-30"), None);
        assert!(matches!(
            parse_username("h/d/api-version=2016-11-14&DeviceClientType=x"),
            Ok(Identity::Hub { device_id }) if device_id == "d"
        ));
        assert!(parse_username("nothing").is_err());
        assert_eq!(
            telemetry_bag("devices/d1/messages/events/a=1", "d1"),
            Some("a=1")
        );
        assert_eq!(telemetry_bag("devices/d1/messages/events", "d1"), Some(""));
        assert_eq!(telemetry_bag("devices/d2/messages/events/", "d1"), None);
        assert_eq!(telemetry_bag("devices/d1x/messages/events/", "d1"), None);
    }
}
