//! The hub's state and behaviour, independent of sockets: the device registry and twins, CAs,
//! DPS enrollments and operations, the live connections with their subscriptions, pending
//! direct methods, the telemetry log, C2D queues and faults.
//!
//! One `std::sync::Mutex` guards the registry; it is never held across an `.await`.

use crate::model::*;
use crate::pki;
use crate::store::Store;
use crate::util::{self, url_decode, url_encode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

/// Largest D2C message (body + property names and values).
pub const MAX_D2C_BYTES: usize = 256 * 1024;
/// Largest desired or reported section.
pub const MAX_TWIN_SECTION_BYTES: usize = 32 * 1024;
/// Largest C2D body.
pub const MAX_C2D_BYTES: usize = 64 * 1024;
/// At most this many C2D messages wait for a device.
pub const MAX_C2D_QUEUE: usize = 50;
/// At most this many topic filters per connection.
pub const MAX_SUBSCRIPTIONS: usize = 5;
/// Deepest allowed twin JSON nesting.
pub const MAX_TWIN_DEPTH: usize = 10;
/// Telemetry events kept for `GET /events`.
pub const EVENT_LOG_CAPACITY: usize = 10_000;
/// ... and at most this many payload bytes.
pub const EVENT_LOG_BYTES: usize = 64 << 20;

/// An error of a service operation: HTTP status, Azure-style error code and message.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: u64,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: u64, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> ApiError {
        ApiError::new(400, 400004, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(404, 404001, m)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Settings of the hub logic.
#[derive(Debug, Clone)]
pub struct HubSettings {
    pub hub_hostname: String,
    pub dps_id_scope: String,
    pub dps_retry_after_secs: u32,
    pub dps_assigning_polls: u32,
}

/// Twin state as persisted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TwinState {
    pub desired: Map<String, Value>,
    pub desired_version: u64,
    pub reported: Map<String, Value>,
    pub reported_version: u64,
    #[serde(default)]
    pub tags: Map<String, Value>,
    #[serde(default)]
    pub etag: String,
}

impl TwinState {
    fn new() -> TwinState {
        TwinState {
            desired_version: 1,
            reported_version: 1,
            etag: util::etag(),
            ..Default::default()
        }
    }
    /// The device-side document `{"desired":{...,"$version":n},"reported":{...,"$version":m}}`.
    pub fn device_doc(&self) -> Value {
        let mut d = self.desired.clone();
        d.insert("$version".into(), json!(self.desired_version));
        let mut r = self.reported.clone();
        r.insert("$version".into(), json!(self.reported_version));
        json!({"desired": d, "reported": r})
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeviceFile {
    device: Device,
    twin: TwinState,
}

/// A C2D message waiting for, or in flight to, a device.
#[derive(Debug, Clone)]
pub(crate) struct QueuedC2d {
    pub message_id: String,
    pub topic: String,
    pub payload: Vec<u8>,
}

struct DeviceEntry {
    device: Device,
    twin: TwinState,
    c2d: VecDeque<QueuedC2d>,
    /// The subscriptions of the device's persistent MQTT session (CleanSession=0), kept while
    /// it is not connected, as IoT Hub does (in memory, like the C2D queue).
    session: Option<BTreeMap<String, u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnKind {
    Hub,
    Dps,
}

/// What the hub asks a connection task to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: u8,
        c2d: Option<QueuedC2d>,
    },
    Close(String),
}

struct ConnEntry {
    kind: ConnKind,
    device_id: String,
    tx: mpsc::UnboundedSender<Outbound>,
    subs: BTreeMap<String, u8>,
    clean_session: bool,
    auth: String,
    peer: String,
    keep_alive: u16,
    connected_at: String,
    model_id: Option<String>,
}

impl ConnEntry {
    fn has(&self, kind: SubKind) -> Option<u8> {
        self.subs
            .iter()
            .find(|(f, _)| classify_filter(f, &self.device_id, self.kind) == Some(kind))
            .map(|(_, q)| *q)
    }
}

/// The topic filters a device may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubKind {
    C2d,
    Methods,
    Desired,
    TwinRes,
    DpsRes,
}

pub(crate) fn classify_filter(f: &str, device_id: &str, kind: ConnKind) -> Option<SubKind> {
    match kind {
        ConnKind::Hub => {
            if f == "$iothub/methods/POST/#" {
                Some(SubKind::Methods)
            } else if f == "$iothub/twin/PATCH/properties/desired/#" {
                Some(SubKind::Desired)
            } else if f == "$iothub/twin/res/#" {
                Some(SubKind::TwinRes)
            } else if f == "devices/+/messages/devicebound/#"
                || f.strip_prefix("devices/")
                    .and_then(|r| r.strip_suffix("/messages/devicebound/#"))
                    == Some(device_id)
            {
                Some(SubKind::C2d)
            } else {
                None
            }
        }
        ConnKind::Dps => (f == "$dps/registrations/res/#").then_some(SubKind::DpsRes),
    }
}

struct PendingMethod {
    device_id: String,
    name: String,
    started: Instant,
    tx: oneshot::Sender<MethodResponse>,
}

#[derive(Debug, Clone)]
enum DpsOutcome {
    Assign {
        device_id: String,
        auth: Authentication,
        initial_twin: Option<Value>,
        disabled: bool,
        source: String,
    },
}

#[derive(Debug, Clone)]
struct DpsOp {
    registration_id: String,
    polls_left: u32,
    outcome: DpsOutcome,
    created: String,
    result: Option<Value>,
    /// The register request's `payload` (custom allocation data), echoed in the result.
    payload: Option<Value>,
}

struct ActiveFault {
    fault: Fault,
    until: Option<Instant>,
}

struct State {
    devices: HashMap<String, DeviceEntry>,
    cas: BTreeMap<String, CaCertificate>,
    /// DER of each CA, by name.
    ca_der: HashMap<String, Vec<u8>>,
    groups: BTreeMap<String, EnrollmentGroup>,
    enrollments: BTreeMap<String, IndividualEnrollment>,
    conns: HashMap<u64, ConnEntry>,
    /// Hub connection of each device.
    device_conn: HashMap<String, u64>,
    dps_ops: HashMap<String, DpsOp>,
    faults: Vec<ActiveFault>,
    events: VecDeque<TelemetryEvent>,
    events_bytes: usize,
}

/// The hub.
pub(crate) struct Hub {
    pub settings: HubSettings,
    pub store: Store,
    state: Mutex<State>,
    pending: Mutex<HashMap<u64, PendingMethod>>,
    next_id: AtomicU64,
    event_seq: watch::Sender<u64>,
    /// Faults in the list (expired ones included until pruned): a lock-free fast path.
    fault_count: AtomicUsize,
}

/// Who a connection authenticated as.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    /// For logs and `iothub-connection-auth-method`: `x509 CA "root"`, `x509 thumbprint`, `SAS`.
    pub method: String,
    /// When a SAS token expires.
    pub expires: Option<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    pub fn open(settings: HubSettings, store: Store) -> Arc<Hub> {
        let mut devices = HashMap::new();
        for f in store.load_dir::<DeviceFile>("devices") {
            devices.insert(
                f.device.device_id.clone(),
                DeviceEntry {
                    device: f.device,
                    twin: f.twin,
                    c2d: VecDeque::new(),
                    session: None,
                },
            );
        }
        let cas: BTreeMap<String, CaCertificate> = store.load_file("certificates.json");
        let mut ca_der = HashMap::new();
        for (name, ca) in &cas {
            match pki::pem_to_der(&ca.certificate) {
                Ok(d) => {
                    ca_der.insert(name.clone(), d);
                }
                Err(e) => warn!("CA \"{name}\" in the state is unusable: {e}"),
            }
        }
        let groups = store.load_file("enrollment-groups.json");
        let enrollments = store.load_file("enrollments.json");
        info!(
            "state loaded from {}: {} devices, {} CAs",
            store.dir.display(),
            devices.len(),
            cas.len()
        );
        let (event_seq, _) = watch::channel(0);
        Arc::new(Hub {
            settings,
            store,
            state: Mutex::new(State {
                devices,
                cas,
                ca_der,
                groups,
                enrollments,
                conns: HashMap::new(),
                device_conn: HashMap::new(),
                dps_ops: HashMap::new(),
                faults: Vec::new(),
                events: VecDeque::new(),
                events_bytes: 0,
            }),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            event_seq,
            fault_count: AtomicUsize::new(0),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn persist_device(&self, e: &DeviceEntry) {
        let f = DeviceFile {
            device: Device {
                connection_state: String::new(),
                ..e.device.clone()
            },
            twin: e.twin.clone(),
        };
        match serde_json::to_vec_pretty(&f) {
            Ok(b) => self
                .store
                .write(self.store.device_path(&e.device.device_id), b),
            Err(e) => warn!("cannot serialise a device: {e}"),
        }
    }

    fn persist_cas(&self, st: &State) {
        if let Ok(b) = serde_json::to_vec_pretty(&st.cas) {
            self.store
                .write(self.store.dir.join("certificates.json"), b);
        }
    }

    fn persist_enrollments(&self, st: &State) {
        if let Ok(b) = serde_json::to_vec_pretty(&st.groups) {
            self.store
                .write(self.store.dir.join("enrollment-groups.json"), b);
        }
        if let Ok(b) = serde_json::to_vec_pretty(&st.enrollments) {
            self.store.write(self.store.dir.join("enrollments.json"), b);
        }
    }

    // ---------------------------------------------------------------- faults

    pub fn add_fault(&self, mut f: Fault) -> ApiResult<FaultAdded> {
        let id = self.next_id();
        f.id = id;
        match f.kind {
            FaultKind::Drop => {
                let n = self.drop_connections(f.device_id.as_deref(), "fault injection: drop");
                info!("fault: dropped {n} connection(s)");
                Ok(FaultAdded { id, dropped: n })
            }
            _ => {
                if f.kind == FaultKind::Delay && f.delay_ms.is_none() {
                    return Err(ApiError::bad_request("a delay fault needs delayMs"));
                }
                if let Some(c) = f.connack_code {
                    if c > 5 {
                        return Err(ApiError::bad_request("connackCode must be 0..=5"));
                    }
                }
                let until = match f.duration_secs {
                    Some(s) if s.is_finite() && s >= 0.0 => {
                        Some(Instant::now() + Duration::from_secs_f64(s))
                    }
                    Some(_) => return Err(ApiError::bad_request("invalid durationSecs")),
                    None => None,
                };
                info!(
                    "fault: {} for {} {}",
                    serde_json::to_value(f.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    f.device_id.as_deref().unwrap_or("all devices"),
                    f.duration_secs
                        .map(|s| format!("during {s} s"))
                        .unwrap_or_else(|| "until cleared".into())
                );
                let mut st = self.state();
                st.faults.push(ActiveFault { fault: f, until });
                self.fault_count.store(st.faults.len(), Ordering::Relaxed);
                Ok(FaultAdded { id, dropped: 0 })
            }
        }
    }

    pub fn list_faults(&self) -> Vec<Fault> {
        let mut st = self.state();
        let now = Instant::now();
        st.faults.retain(|a| a.until.is_none_or(|u| u > now));
        self.fault_count.store(st.faults.len(), Ordering::Relaxed);
        st.faults
            .iter()
            .map(|a| {
                let mut f = a.fault.clone();
                f.remaining_secs = a.until.map(|u| (u - now).as_secs_f64());
                f
            })
            .collect()
    }

    pub fn clear_faults(&self, id: Option<u64>) -> usize {
        let mut st = self.state();
        let before = st.faults.len();
        match id {
            Some(id) => st.faults.retain(|a| a.fault.id != id),
            None => st.faults.clear(),
        }
        let n = before - st.faults.len();
        self.fault_count.store(st.faults.len(), Ordering::Relaxed);
        info!("fault: cleared {n}");
        n
    }

    /// The active fault of `kind` that applies to `device`, if any.
    pub fn fault(&self, kind: FaultKind, device: &str) -> Option<Fault> {
        if self.fault_count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut st = self.state();
        if st.faults.is_empty() {
            return None;
        }
        let now = Instant::now();
        st.faults.retain(|a| a.until.is_none_or(|u| u > now));
        self.fault_count.store(st.faults.len(), Ordering::Relaxed);
        st.faults
            .iter()
            .find(|a| {
                a.fault.kind == kind && a.fault.device_id.as_deref().is_none_or(|d| d == device)
            })
            .map(|a| a.fault.clone())
    }

    pub fn delay(&self, device: &str) -> Option<Duration> {
        self.fault(FaultKind::Delay, device)
            .and_then(|f| f.delay_ms)
            .map(Duration::from_millis)
    }

    // ---------------------------------------------------------------- connections

    /// Registers a connection. For the hub, an older connection of the same device is closed,
    /// and with CleanSession=0 the device's persistent session (its subscriptions) is resumed:
    /// the second value is CONNACK's session-present flag.
    #[allow(clippy::too_many_arguments)]
    pub fn register_conn(
        &self,
        kind: ConnKind,
        device_id: &str,
        tx: mpsc::UnboundedSender<Outbound>,
        auth: &str,
        peer: &str,
        keep_alive: u16,
        clean_session: bool,
    ) -> (u64, bool) {
        let id = self.next_id();
        let mut st = self.state();
        let mut subs = BTreeMap::new();
        let mut session_present = false;
        if kind == ConnKind::Hub {
            // A persistent session still open on a replaced connection moves to this one.
            let mut live = None;
            if let Some(old) = st.device_conn.insert(device_id.to_string(), id) {
                if let Some(c) = st.conns.get(&old) {
                    info!("{device_id}: a new connection replaces the old one (400027 ConnectionForcefullyClosedOnNewConnection)");
                    let _ = c.tx.send(Outbound::Close(
                        "a new connection for the same device".into(),
                    ));
                    live = (!c.clean_session).then(|| c.subs.clone());
                }
            }
            if let Some(e) = st.devices.get_mut(device_id) {
                let stored = live.or_else(|| e.session.take());
                if let (false, Some(stored)) = (clean_session, stored) {
                    info!(
                        "{device_id}: persistent session resumed ({})",
                        stored.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                    subs = stored;
                    session_present = true;
                }
            }
            if clean_session {
                if let Some(e) = st.devices.get_mut(device_id) {
                    if !e.c2d.is_empty() {
                        info!(
                            "{device_id}: clean session drops {} queued C2D message(s)",
                            e.c2d.len()
                        );
                        e.c2d.clear();
                    }
                }
            }
        }
        st.conns.insert(
            id,
            ConnEntry {
                kind,
                device_id: device_id.to_string(),
                tx,
                subs,
                clean_session,
                auth: auth.to_string(),
                peer: peer.to_string(),
                keep_alive,
                connected_at: util::rfc3339_now(),
                model_id: None,
            },
        );
        if let Some(e) = st.devices.get_mut(device_id) {
            e.device.last_activity_time = util::rfc3339_now();
        }
        if session_present {
            // Queued C2D goes out (after the CONNACK) on a resumed C2D subscription.
            self.flush_c2d_locked(&mut st, device_id);
        }
        (id, session_present)
    }

    /// Records the IoT Plug and Play model ID a connection announced (shown by `connections`).
    pub fn set_model_id(&self, id: u64, model_id: Option<String>) {
        if let Some(c) = self.state().conns.get_mut(&id) {
            c.model_id = model_id;
        }
    }

    /// Forgets a connection; C2D messages it had not acknowledged go back to the queue front.
    /// A persistent session (CleanSession=0) keeps its subscriptions for the next connection.
    pub fn unregister_conn(&self, id: u64, unacked: Vec<QueuedC2d>) {
        let mut st = self.state();
        if let Some(c) = st.conns.remove(&id) {
            if c.kind == ConnKind::Hub {
                let current = st.device_conn.get(&c.device_id) == Some(&id);
                if current {
                    st.device_conn.remove(&c.device_id);
                }
                if let Some(e) = st.devices.get_mut(&c.device_id) {
                    if current {
                        e.session = (!c.clean_session).then_some(c.subs);
                    }
                    e.device.last_activity_time = util::rfc3339_now();
                    let returned = !unacked.is_empty();
                    for m in unacked.into_iter().rev() {
                        e.c2d.push_front(m);
                    }
                    if returned && !current {
                        // The connection that replaced this one may have resumed its session.
                        self.flush_c2d_locked(&mut st, &c.device_id);
                    }
                }
            }
        }
    }

    pub fn drop_connections(&self, device: Option<&str>, why: &str) -> usize {
        let st = self.state();
        let mut n = 0;
        for c in st.conns.values() {
            if device.is_none_or(|d| d == c.device_id) {
                let _ = c.tx.send(Outbound::Close(why.to_string()));
                n += 1;
            }
        }
        n
    }

    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let st = self.state();
        let mut v: Vec<ConnectionInfo> = st
            .conns
            .iter()
            .map(|(id, c)| ConnectionInfo {
                id: *id,
                kind: match c.kind {
                    ConnKind::Hub => "hub".into(),
                    ConnKind::Dps => "dps".into(),
                },
                device_id: c.device_id.clone(),
                auth: c.auth.clone(),
                peer: c.peer.clone(),
                keep_alive: c.keep_alive,
                subscriptions: c.subs.keys().cloned().collect(),
                connected_at: c.connected_at.clone(),
                model_id: c.model_id.clone(),
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    pub fn connection_count(&self) -> usize {
        self.state().conns.len()
    }

    /// Handles a SUBSCRIBE: `Err` when a filter is not one the device may use (the connection
    /// must then be closed), else the SUBACK return codes.
    pub fn subscribe(&self, conn: u64, filters: &[(String, u8)]) -> Result<Vec<u8>, String> {
        let mut st = self.state();
        let Some(c) = st.conns.get_mut(&conn) else {
            return Err("connection gone".into());
        };
        let device_id = c.device_id.clone();
        let kind = c.kind;
        let mut codes = Vec::new();
        let mut new_c2d = false;
        for (f, q) in filters {
            let Some(sk) = classify_filter(f, &device_id, kind) else {
                return Err(format!("subscription to a foreign topic \"{f}\""));
            };
            if !c.subs.contains_key(f) && c.subs.len() >= MAX_SUBSCRIPTIONS {
                warn!("{device_id}: more than {MAX_SUBSCRIPTIONS} subscriptions, \"{f}\" refused");
                codes.push(0x80);
                continue;
            }
            let granted = (*q).min(1);
            c.subs.insert(f.clone(), granted);
            if sk == SubKind::C2d {
                new_c2d = true;
            }
            codes.push(granted);
        }
        info!(
            "{device_id} subscribed {}",
            filters
                .iter()
                .map(|(f, q)| format!("{f} (QoS {q})"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if new_c2d {
            self.flush_c2d_locked(&mut st, &device_id);
        }
        Ok(codes)
    }

    pub fn unsubscribe(&self, conn: u64, filters: &[String]) {
        let mut st = self.state();
        if let Some(c) = st.conns.get_mut(&conn) {
            for f in filters {
                c.subs.remove(f);
            }
        }
    }

    /// The QoS granted to the connection's subscription of `kind`, if it has one.
    pub fn granted(&self, conn: u64, kind: SubKind) -> Option<u8> {
        self.state().conns.get(&conn).and_then(|c| c.has(kind))
    }

    pub fn touch(&self, device_id: &str) {
        if let Some(e) = self.state().devices.get_mut(device_id) {
            e.device.last_activity_time = util::rfc3339_now();
        }
    }

    // ---------------------------------------------------------------- authentication

    fn verified_anchors(st: &State) -> Vec<(String, Vec<u8>)> {
        st.cas
            .values()
            .filter(|c| c.is_verified)
            .filter_map(|c| st.ca_der.get(&c.name).map(|d| (c.name.clone(), d.clone())))
            .collect()
    }

    /// Checks a hub CONNECT: the device exists and is enabled, and its certificate or SAS
    /// token is right. `Err((connack code, reason))` otherwise.
    pub fn authenticate_hub(
        &self,
        device_id: &str,
        certs: &[Vec<u8>],
        password: Option<&[u8]>,
    ) -> Result<Authenticated, (u8, String)> {
        let st = self.state();
        let Some(e) = st.devices.get(device_id) else {
            return Err((5, format!("unknown device \"{device_id}\"")));
        };
        if e.device.status == Status::Disabled {
            return Err((5, format!("device \"{device_id}\" is disabled")));
        }
        let password = password
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned());
        match &e.device.authentication {
            Authentication::Sas {
                primary_key,
                secondary_key,
            } => {
                let Some(pw) = password else {
                    return Err((5, "SAS device sent no SAS token".into()));
                };
                let sas = util::parse_sas(&pw).map_err(|e| (5, format!("bad SAS token: {e}")))?;
                let want_suffix = format!("/devices/{}", device_id.to_lowercase());
                if !sas.resource.to_lowercase().ends_with(&want_suffix) {
                    return Err((
                        5,
                        format!("SAS token for another resource \"{}\"", sas.resource),
                    ));
                }
                if !sas.signed_by(&[primary_key, secondary_key]) {
                    return Err((5, "SAS signature does not match the device keys".into()));
                }
                if sas.expiry <= util::unix_now() {
                    return Err((5, format!("SAS token expired at {}", sas.expiry)));
                }
                Ok(Authenticated {
                    method: "SAS".into(),
                    expires: Some(sas.expiry),
                })
            }
            Authentication::CertificateAuthority => {
                let Some(leaf) = certs.first() else {
                    return Err((5, "X.509 device presented no certificate".into()));
                };
                let cn = pki::cert_cn(leaf).unwrap_or_default();
                if cn != device_id {
                    return Err((
                        5,
                        format!("certificate CN \"{cn}\" is not the device ID \"{device_id}\""),
                    ));
                }
                let anchors = Self::verified_anchors(&st);
                let ca = pki::chain_to_anchor(certs, &anchors).map_err(|e| (5, e))?;
                Ok(Authenticated {
                    method: format!("x509 CA \"{ca}\""),
                    expires: None,
                })
            }
            Authentication::SelfSigned {
                primary_thumbprint,
                secondary_thumbprint,
            } => {
                let Some(leaf) = certs.first() else {
                    return Err((5, "X.509 device presented no certificate".into()));
                };
                if !pki::cert_time_valid(leaf) {
                    return Err((
                        5,
                        "the device certificate is expired or not yet valid".into(),
                    ));
                }
                let sec = secondary_thumbprint.clone().unwrap_or_default();
                if !util::thumbprint_matches(leaf, &[primary_thumbprint, &sec]) {
                    return Err((5, "certificate thumbprint does not match the device".into()));
                }
                Ok(Authenticated {
                    method: "x509 thumbprint".into(),
                    expires: None,
                })
            }
        }
    }

    // ---------------------------------------------------------------- devices

    pub fn list_devices(&self) -> Vec<Device> {
        let st = self.state();
        let mut v: Vec<Device> = st
            .devices
            .values()
            .map(|e| Self::device_view(&st, e))
            .collect();
        v.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        v
    }

    fn device_view(st: &State, e: &DeviceEntry) -> Device {
        let mut d = e.device.clone();
        d.connection_state = if st.device_conn.contains_key(&d.device_id) {
            "Connected".into()
        } else {
            "Disconnected".into()
        };
        d
    }

    pub fn get_device(&self, id: &str) -> ApiResult<Device> {
        let st = self.state();
        st.devices
            .get(id)
            .map(|e| Self::device_view(&st, e))
            .ok_or_else(|| device_not_found(id))
    }

    /// Creates or updates a device (keys are generated when empty).
    pub fn put_device(&self, id: &str, spec: DeviceSpec) -> ApiResult<Device> {
        validate_device_id(id)?;
        let auth = normalize_auth(spec.authentication)?;
        let mut st = self.state();
        let created = !st.devices.contains_key(id);
        let e = st
            .devices
            .entry(id.to_string())
            .or_insert_with(|| DeviceEntry {
                device: Device {
                    device_id: id.to_string(),
                    authentication: auth.clone(),
                    status: spec.status,
                    etag: String::new(),
                    connection_state: String::new(),
                    last_activity_time: String::new(),
                    created_time: util::rfc3339_now(),
                },
                twin: TwinState::new(),
                c2d: VecDeque::new(),
                session: None,
            });
        let changed_auth = e.device.authentication != auth || e.device.status != spec.status;
        e.device.authentication = auth;
        e.device.status = spec.status;
        e.device.etag = util::etag();
        self.persist_device(e);
        let view = Self::device_view(&st, &st.devices[id]);
        if created {
            info!(
                "device {id} created ({}, {:?})",
                view.authentication.kind(),
                view.status
            );
        } else {
            info!("device {id} updated");
            if changed_auth {
                if let Some(c) = st.device_conn.get(id).and_then(|c| st.conns.get(c)) {
                    let _ = c.tx.send(Outbound::Close("device identity changed".into()));
                }
            }
        }
        Ok(view)
    }

    pub fn delete_device(&self, id: &str) -> ApiResult<()> {
        let mut st = self.state();
        if st.devices.remove(id).is_none() {
            return Err(device_not_found(id));
        }
        if let Some(c) = st.device_conn.get(id).and_then(|c| st.conns.get(c)) {
            let _ = c.tx.send(Outbound::Close("device deleted".into()));
        }
        self.store.remove(self.store.device_path(id));
        info!("device {id} deleted");
        Ok(())
    }

    // ---------------------------------------------------------------- twins

    fn twin_view(st: &State, e: &DeviceEntry) -> Twin {
        let doc = e.twin.device_doc();
        Twin {
            device_id: e.device.device_id.clone(),
            etag: e.twin.etag.clone(),
            version: e.twin.desired_version + e.twin.reported_version,
            tags: e.twin.tags.clone(),
            properties: TwinProperties {
                desired: doc["desired"].clone(),
                reported: doc["reported"].clone(),
            },
            connection_state: if st.device_conn.contains_key(&e.device.device_id) {
                "Connected".into()
            } else {
                "Disconnected".into()
            },
        }
    }

    pub fn get_twin(&self, id: &str) -> ApiResult<Twin> {
        let st = self.state();
        let e = st.devices.get(id).ok_or_else(|| device_not_found(id))?;
        Ok(Self::twin_view(&st, e))
    }

    /// Service-side twin update: merge-patches desired properties (and tags) and pushes the
    /// desired patch to the device if it is connected and subscribed.
    pub fn patch_twin(&self, id: &str, patch: TwinPatch) -> ApiResult<Twin> {
        let mut st = self.state();
        let e = st.devices.get_mut(id).ok_or_else(|| device_not_found(id))?;
        let mut push = None;
        if let Some(tags) = patch.tags {
            let obj = tags
                .as_object()
                .ok_or_else(|| ApiError::bad_request("tags must be a JSON object"))?;
            merge_patch(&mut e.twin.tags, obj);
        }
        if let Some(desired) = patch.properties.and_then(|p| p.desired) {
            let obj = desired
                .as_object()
                .ok_or_else(|| ApiError::bad_request("desired must be a JSON object"))?;
            validate_twin_patch(obj).map_err(ApiError::bad_request)?;
            let mut next = e.twin.desired.clone();
            merge_patch(&mut next, obj);
            let size = section_size(&next);
            if size > MAX_TWIN_SECTION_BYTES {
                return Err(ApiError::new(
                    413,
                    413001,
                    format!("desired properties would be {size} B (max {MAX_TWIN_SECTION_BYTES})"),
                ));
            }
            e.twin.desired = next;
            e.twin.desired_version += 1;
            let mut p = obj.clone();
            p.insert("$version".into(), json!(e.twin.desired_version));
            push = Some((e.twin.desired_version, p));
        }
        e.twin.etag = util::etag();
        self.persist_device(e);
        if let Some((v, p)) = push {
            info!("{id} twin desired v{v} (service update)");
            if let Some(c) = st.device_conn.get(id).and_then(|c| st.conns.get(c)) {
                if let Some(qos) = c.has(SubKind::Desired) {
                    let _ = c.tx.send(Outbound::Publish {
                        topic: format!("$iothub/twin/PATCH/properties/desired/?$version={v}"),
                        payload: serde_json::to_vec(&Value::Object(p)).unwrap_or_default(),
                        qos,
                        c2d: None,
                    });
                } else {
                    info!("{id} is not subscribed to desired updates; none sent");
                }
            }
        }
        let e = &st.devices[id];
        Ok(Self::twin_view(&st, e))
    }

    /// Device twin GET: `(status, body)`.
    pub fn device_twin_get(&self, id: &str) -> (u16, Vec<u8>) {
        let st = self.state();
        match st.devices.get(id) {
            Some(e) => (
                200,
                serde_json::to_vec(&e.twin.device_doc()).unwrap_or_default(),
            ),
            None => (404, error_payload(404, "device not found")),
        }
    }

    /// Device reported PATCH: `Ok(new version)` or `Err((status, body))`.
    pub fn device_twin_patch_reported(&self, id: &str, body: &[u8]) -> Result<u64, (u16, Vec<u8>)> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| (400, error_payload(400, &format!("malformed JSON: {e}"))))?;
        let obj = v.as_object().ok_or_else(|| {
            (
                400,
                error_payload(400, "reported properties must be an object"),
            )
        })?;
        validate_twin_patch(obj).map_err(|e| (400, error_payload(400, &e)))?;
        let mut st = self.state();
        let e = st
            .devices
            .get_mut(id)
            .ok_or_else(|| (404, error_payload(404, "device not found")))?;
        let mut next = e.twin.reported.clone();
        merge_patch(&mut next, obj);
        let size = section_size(&next);
        if size > MAX_TWIN_SECTION_BYTES {
            return Err((
                413,
                error_payload(
                    413,
                    &format!(
                        "reported properties would be {size} B (max {MAX_TWIN_SECTION_BYTES})"
                    ),
                ),
            ));
        }
        e.twin.reported = next;
        e.twin.reported_version += 1;
        e.twin.etag = util::etag();
        let v = e.twin.reported_version;
        self.persist_device(e);
        Ok(v)
    }

    // ---------------------------------------------------------------- telemetry

    /// Records a D2C message. `bag` is the topic's property string (raw).
    pub fn telemetry(
        &self,
        device_id: &str,
        auth: &str,
        topic: &str,
        bag: &str,
        payload: &[u8],
        extra_props: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut properties = BTreeMap::new();
        let mut system = BTreeMap::new();
        let mut size = payload.len();
        for (k, v) in util::split_props(bag.trim_start_matches('?')) {
            let k = url_decode(k);
            let v = url_decode(v);
            size += k.len() + v.len();
            if let Some(sys) = k.strip_prefix("$.") {
                let name = match sys {
                    "mid" => "message-id",
                    "cid" => "correlation-id",
                    "ct" => "content-type",
                    "ce" => "content-encoding",
                    "uid" => "user-id",
                    "ctime" => "iothub-creation-time-utc",
                    "sub" => "dt-subject",
                    "to" => "to",
                    "exp" => "absolute-expiry-time",
                    _ => "",
                };
                if name.is_empty() {
                    system.insert(k.clone(), v);
                } else {
                    system.insert(name.to_string(), v);
                }
            } else {
                properties.insert(k, v);
            }
        }
        for (k, v) in extra_props {
            properties.insert(k.to_string(), v.to_string());
        }
        if size > MAX_D2C_BYTES {
            return Err(format!(
                "message of {size} B exceeds the D2C limit of {MAX_D2C_BYTES} B"
            ));
        }
        let now = util::rfc3339_now();
        system.insert("iothub-connection-device-id".into(), device_id.into());
        system.insert("iothub-connection-auth-method".into(), auth.into());
        system.insert("iothub-enqueuedtime".into(), now.clone());
        system.insert("iothub-message-source".into(), "Telemetry".into());
        let (text, enc) = match std::str::from_utf8(payload) {
            Ok(s) => (s.to_string(), "utf-8"),
            Err(_) => {
                use base64::Engine;
                (util::B64.encode(payload), "base64")
            }
        };
        info!(
            "{device_id} telemetry {} B props {}",
            payload.len(),
            serde_json::to_string(&properties).unwrap_or_default()
        );
        let mut st = self.state();
        let seq = self.event_seq.borrow().wrapping_add(1);
        st.events_bytes += text.len();
        st.events.push_back(TelemetryEvent {
            seq,
            device_id: device_id.into(),
            payload: text,
            payload_encoding: enc.into(),
            properties,
            system_properties: system,
            enqueued_time: now,
            topic: topic.into(),
        });
        while st.events.len() > EVENT_LOG_CAPACITY || st.events_bytes > EVENT_LOG_BYTES {
            match st.events.pop_front() {
                Some(old) => st.events_bytes -= old.payload.len(),
                None => break,
            }
        }
        if let Some(e) = st.devices.get_mut(device_id) {
            e.device.last_activity_time = util::rfc3339_now();
        }
        self.event_seq.send_replace(seq);
        Ok(())
    }

    /// Events with `seq > since` (optionally of one device), at most `limit`.
    pub fn events_since(&self, since: u64, device: Option<&str>, limit: usize) -> EventPage {
        let st = self.state();
        let last = *self.event_seq.borrow();
        let mut events = Vec::new();
        let mut next = last;
        let mut examined = since;
        for e in st.events.iter().filter(|e| e.seq > since) {
            if events.len() >= limit {
                next = examined;
                break;
            }
            examined = e.seq;
            if device.is_none_or(|d| d == e.device_id) {
                events.push(e.clone());
            }
        }
        EventPage { events, next }
    }

    pub fn last_event_seq(&self) -> u64 {
        *self.event_seq.borrow()
    }

    pub fn subscribe_events(&self) -> watch::Receiver<u64> {
        self.event_seq.subscribe()
    }

    // ---------------------------------------------------------------- C2D

    pub fn send_c2d(&self, id: &str, msg: C2dMessage) -> ApiResult<C2dSent> {
        let payload = match &msg.payload_base64 {
            Some(b) => {
                use base64::Engine;
                util::B64
                    .decode(b)
                    .map_err(|e| ApiError::bad_request(format!("payloadBase64: {e}")))?
            }
            None => msg.payload.as_bytes().to_vec(),
        };
        if payload.len() > MAX_C2D_BYTES {
            return Err(ApiError::new(
                413,
                413002,
                format!("C2D body of {} B exceeds {MAX_C2D_BYTES} B", payload.len()),
            ));
        }
        let mid = msg.message_id.clone().unwrap_or_else(util::uuid);
        let mut bag: Vec<(String, String)> = vec![
            ("$.mid".into(), mid.clone()),
            ("$.to".into(), format!("/devices/{id}/messages/deviceBound")),
        ];
        if let Some(v) = &msg.correlation_id {
            bag.push(("$.cid".into(), v.clone()));
        }
        if let Some(v) = &msg.content_type {
            bag.push(("$.ct".into(), v.clone()));
        }
        if let Some(v) = &msg.content_encoding {
            bag.push(("$.ce".into(), v.clone()));
        }
        for (k, v) in &msg.properties {
            bag.push((k.clone(), v.clone()));
        }
        let props = bag
            .iter()
            .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let topic = format!("devices/{id}/messages/devicebound/{props}");
        let mut st = self.state();
        let e = st.devices.get_mut(id).ok_or_else(|| device_not_found(id))?;
        if e.c2d.len() >= MAX_C2D_QUEUE {
            return Err(ApiError::new(
                403,
                403004,
                format!("DeviceMaximumQueueDepthExceeded: {MAX_C2D_QUEUE} messages wait already"),
            ));
        }
        let size = payload.len();
        e.c2d.push_back(QueuedC2d {
            message_id: mid.clone(),
            topic,
            payload,
        });
        let delivered = self.flush_c2d_locked(&mut st, id);
        info!(
            "{id} C2D {mid} {size} B props {} {}",
            serde_json::to_string(&msg.properties).unwrap_or_default(),
            if delivered { "sent" } else { "queued" }
        );
        Ok(C2dSent {
            message_id: mid,
            state: if delivered { "delivered" } else { "queued" }.into(),
        })
    }

    /// Hands queued C2D messages to the device's connection if it subscribed. Returns whether
    /// anything was handed over.
    fn flush_c2d_locked(&self, st: &mut State, id: &str) -> bool {
        let Some(conn) = st.device_conn.get(id).copied() else {
            return false;
        };
        let Some(qos) = st.conns.get(&conn).and_then(|c| c.has(SubKind::C2d)) else {
            return false;
        };
        let tx = st.conns[&conn].tx.clone();
        let Some(e) = st.devices.get_mut(id) else {
            return false;
        };
        let mut any = false;
        while let Some(m) = e.c2d.pop_front() {
            any = true;
            let _ = tx.send(Outbound::Publish {
                topic: m.topic.clone(),
                payload: m.payload.clone(),
                qos,
                c2d: (qos > 0).then_some(m),
            });
        }
        any
    }

    // ---------------------------------------------------------------- direct methods

    pub async fn invoke_method(&self, id: &str, req: MethodRequest) -> ApiResult<MethodResponse> {
        if req.method_name.is_empty() || req.method_name.contains(['/', '#', '+', '?']) {
            return Err(ApiError::bad_request("invalid methodName"));
        }
        let timeout = if req.response_timeout_in_seconds.is_finite()
            && req.response_timeout_in_seconds > 0.0
        {
            Duration::from_secs_f64(req.response_timeout_in_seconds.min(300.0))
        } else {
            Duration::from_secs(30)
        };
        let rid = self.next_id();
        let (tx, rx) = oneshot::channel();
        {
            let st = self.state();
            if !st.devices.contains_key(id) {
                return Err(device_not_found(id));
            }
            let conn = st
                .device_conn
                .get(id)
                .and_then(|c| st.conns.get(c))
                .filter(|c| c.has(SubKind::Methods).is_some());
            let Some(conn) = conn else {
                info!("{id} method {} → 404 (device not online)", req.method_name);
                return Err(ApiError::new(
                    404,
                    404103,
                    format!("DeviceNotOnline: device {id} is not connected or not subscribed to methods"),
                ));
            };
            lock(&self.pending).insert(
                rid,
                PendingMethod {
                    device_id: id.to_string(),
                    name: req.method_name.clone(),
                    started: Instant::now(),
                    tx,
                },
            );
            let _ = conn.tx.send(Outbound::Publish {
                topic: format!("$iothub/methods/POST/{}/?$rid={rid}", req.method_name),
                payload: serde_json::to_vec(&req.payload).unwrap_or_default(),
                qos: 0,
                c2d: None,
            });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => Ok(r),
            _ => {
                lock(&self.pending).remove(&rid);
                info!(
                    "{id} method {} → 504 (no answer in {} ms)",
                    req.method_name,
                    timeout.as_millis()
                );
                Err(ApiError::new(
                    504,
                    504101,
                    format!(
                        "GatewayTimeout: the device did not answer \"{}\" in {} s",
                        req.method_name,
                        timeout.as_secs_f64()
                    ),
                ))
            }
        }
    }

    /// A device's method response.
    pub fn method_response(&self, device_id: &str, rid: &str, status: i64, payload: &[u8]) {
        let Ok(rid_n) = rid.parse::<u64>() else {
            warn!("{device_id} answered an unknown method request $rid={rid}");
            return;
        };
        let mut pending = lock(&self.pending);
        match pending.get(&rid_n) {
            Some(p) if p.device_id == device_id => {
                let p = pending.remove(&rid_n).expect("present");
                info!(
                    "{device_id} method {} → {status} in {} ms",
                    p.name,
                    p.started.elapsed().as_millis()
                );
                let payload = if payload.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(payload)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into()))
                };
                let _ = p.tx.send(MethodResponse { status, payload });
            }
            _ => warn!("{device_id} answered an unknown method request $rid={rid}"),
        }
    }

    // ---------------------------------------------------------------- CAs

    pub fn list_cas(&self) -> Vec<CaCertificate> {
        self.state().cas.values().cloned().collect()
    }

    pub fn get_ca(&self, name: &str) -> ApiResult<CaCertificate> {
        self.state()
            .cas
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no CA certificate \"{name}\"")))
    }

    pub fn put_ca(&self, name: &str, up: CaUpload) -> ApiResult<CaCertificate> {
        validate_name(name)?;
        let der = pki::pem_to_der(&up.certificate).map_err(ApiError::bad_request)?;
        let info = pki::cert_info(&der).map_err(ApiError::bad_request)?;
        let ca = CaCertificate {
            name: name.to_string(),
            certificate: up.certificate,
            subject: info.subject,
            thumbprint: util::sha1_thumbprint(&der),
            is_verified: up.is_verified,
            verification_code: None,
            etag: util::etag(),
            created: util::rfc3339_now(),
        };
        let mut st = self.state();
        st.cas.insert(name.to_string(), ca.clone());
        st.ca_der.insert(name.to_string(), der);
        self.persist_cas(&st);
        info!(
            "CA \"{name}\" registered ({}){}",
            ca.subject,
            if ca.is_verified { ", verified" } else { "" }
        );
        Ok(ca)
    }

    pub fn delete_ca(&self, name: &str) -> ApiResult<()> {
        let mut st = self.state();
        if st.cas.remove(name).is_none() {
            return Err(ApiError::not_found(format!("no CA certificate \"{name}\"")));
        }
        st.ca_der.remove(name);
        self.persist_cas(&st);
        info!("CA \"{name}\" deleted");
        Ok(())
    }

    pub fn ca_verification_code(&self, name: &str) -> ApiResult<CaCertificate> {
        let mut st = self.state();
        let ca = st
            .cas
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(format!("no CA certificate \"{name}\"")))?;
        let code = util::hex(&util::random_bytes::<24>()).to_uppercase();
        ca.verification_code = Some(code.clone());
        ca.etag = util::etag();
        let out = ca.clone();
        self.persist_cas(&st);
        info!("CA \"{name}\" verification code {code}");
        Ok(out)
    }

    pub fn verify_ca(&self, name: &str, proof: CaProof) -> ApiResult<CaCertificate> {
        let der = pki::pem_to_der(&proof.certificate).map_err(ApiError::bad_request)?;
        let mut st = self.state();
        let ca_der = st
            .ca_der
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no CA certificate \"{name}\"")))?;
        let ca = st.cas.get_mut(name).expect("ca_der and cas agree");
        let Some(code) = ca.verification_code.clone() else {
            return Err(ApiError::new(
                400,
                400060,
                "generate a verification code first",
            ));
        };
        let cn = pki::cert_cn(&der).unwrap_or_default();
        if cn != code {
            return Err(ApiError::new(
                400,
                400060,
                format!("the proof's CN \"{cn}\" is not the verification code"),
            ));
        }
        if !pki::signed_by(&der, &ca_der) {
            return Err(ApiError::new(
                400,
                400060,
                "the proof certificate is not signed by this CA",
            ));
        }
        ca.is_verified = true;
        ca.verification_code = None;
        ca.etag = util::etag();
        let out = ca.clone();
        self.persist_cas(&st);
        info!("CA \"{name}\" verified by proof of possession");
        Ok(out)
    }

    // ---------------------------------------------------------------- DPS enrollments

    pub fn list_groups(&self) -> Vec<EnrollmentGroup> {
        self.state().groups.values().cloned().collect()
    }
    pub fn get_group(&self, id: &str) -> ApiResult<EnrollmentGroup> {
        self.state()
            .groups
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no enrollment group \"{id}\"")))
    }
    pub fn put_group(&self, id: &str, mut g: EnrollmentGroup) -> ApiResult<EnrollmentGroup> {
        validate_name(id)?;
        g.enrollment_group_id = id.to_string();
        g.attestation = normalize_attestation(g.attestation)?;
        if matches!(g.attestation, Attestation::X509Thumbprint { .. }) {
            return Err(ApiError::bad_request(
                "enrollment groups attest by x509CA or symmetricKey",
            ));
        }
        g.etag = util::etag();
        let mut st = self.state();
        if let Attestation::X509Ca { ca_name } = &g.attestation {
            if !st.cas.contains_key(ca_name) {
                return Err(ApiError::bad_request(format!(
                    "no registered CA \"{ca_name}\""
                )));
            }
        }
        st.groups.insert(id.to_string(), g.clone());
        self.persist_enrollments(&st);
        info!(
            "DPS enrollment group \"{id}\" ({}, {:?})",
            g.attestation.kind(),
            g.provisioning_status
        );
        Ok(g)
    }
    pub fn delete_group(&self, id: &str) -> ApiResult<()> {
        let mut st = self.state();
        st.groups
            .remove(id)
            .ok_or_else(|| ApiError::not_found(format!("no enrollment group \"{id}\"")))?;
        self.persist_enrollments(&st);
        Ok(())
    }
    pub fn list_enrollments(&self) -> Vec<IndividualEnrollment> {
        self.state().enrollments.values().cloned().collect()
    }
    pub fn get_enrollment(&self, id: &str) -> ApiResult<IndividualEnrollment> {
        self.state()
            .enrollments
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no enrollment \"{id}\"")))
    }
    pub fn put_enrollment(
        &self,
        id: &str,
        mut e: IndividualEnrollment,
    ) -> ApiResult<IndividualEnrollment> {
        validate_device_id(id)?;
        e.registration_id = id.to_string();
        e.attestation = normalize_attestation(e.attestation)?;
        if let Some(d) = &e.device_id {
            validate_device_id(d)?;
        }
        e.etag = util::etag();
        let mut st = self.state();
        if let Attestation::X509Ca { ca_name } = &e.attestation {
            if !st.cas.contains_key(ca_name) {
                return Err(ApiError::bad_request(format!(
                    "no registered CA \"{ca_name}\""
                )));
            }
        }
        st.enrollments.insert(id.to_string(), e.clone());
        self.persist_enrollments(&st);
        info!(
            "DPS individual enrollment \"{id}\" ({}, {:?})",
            e.attestation.kind(),
            e.provisioning_status
        );
        Ok(e)
    }
    pub fn delete_enrollment(&self, id: &str) -> ApiResult<()> {
        let mut st = self.state();
        st.enrollments
            .remove(id)
            .ok_or_else(|| ApiError::not_found(format!("no enrollment \"{id}\"")))?;
        self.persist_enrollments(&st);
        Ok(())
    }

    // ---------------------------------------------------------------- DPS device side

    /// Finds the enrollment that attests this device. `Err(message)` → 401002.
    fn dps_attest(
        st: &State,
        reg_id: &str,
        certs: &[Vec<u8>],
        sas: Option<&util::Sas>,
    ) -> Result<DpsOutcome, String> {
        let anchors = Self::verified_anchors(st);
        let cn_ok = || {
            certs
                .first()
                .and_then(|c| pki::cert_cn(c))
                .is_some_and(|cn| cn == reg_id)
        };
        let sas_ok = |keys: &[&str]| -> Result<u64, String> {
            let s = sas.ok_or("no SAS token")?;
            let want = format!("/registrations/{}", reg_id.to_lowercase());
            if !s.resource.to_lowercase().ends_with(&want) {
                return Err(format!("SAS token for another resource \"{}\"", s.resource));
            }
            if !s.signed_by(keys) {
                return Err("SAS signature does not match".into());
            }
            if s.expiry <= util::unix_now() {
                return Err("SAS token expired".into());
            }
            Ok(s.expiry)
        };
        if let Some(e) = st.enrollments.get(reg_id) {
            let device_id = e.device_id.clone().unwrap_or_else(|| reg_id.to_string());
            let auth = match &e.attestation {
                Attestation::X509Ca { ca_name } => {
                    if !cn_ok() {
                        return Err("certificate CN is not the registration ID".into());
                    }
                    let a: Vec<_> = anchors
                        .iter()
                        .filter(|(n, _)| n == ca_name)
                        .cloned()
                        .collect();
                    pki::chain_to_anchor(certs, &a)?;
                    Authentication::CertificateAuthority
                }
                Attestation::X509Thumbprint {
                    primary_thumbprint,
                    secondary_thumbprint,
                } => {
                    let leaf = certs.first().ok_or("no client certificate")?;
                    let sec = secondary_thumbprint.clone().unwrap_or_default();
                    if !util::thumbprint_matches(leaf, &[primary_thumbprint, &sec]) {
                        return Err("certificate thumbprint does not match the enrollment".into());
                    }
                    Authentication::SelfSigned {
                        primary_thumbprint: primary_thumbprint.clone(),
                        secondary_thumbprint: secondary_thumbprint.clone(),
                    }
                }
                Attestation::SymmetricKey {
                    primary_key,
                    secondary_key,
                } => {
                    sas_ok(&[primary_key, secondary_key])?;
                    Authentication::Sas {
                        primary_key: primary_key.clone(),
                        secondary_key: secondary_key.clone(),
                    }
                }
            };
            return Ok(DpsOutcome::Assign {
                device_id,
                auth,
                initial_twin: e.initial_twin.clone(),
                disabled: e.provisioning_status == Status::Disabled,
                source: format!("individual enrollment \"{reg_id}\""),
            });
        }
        for g in st.groups.values() {
            let auth = match &g.attestation {
                Attestation::X509Ca { ca_name } => {
                    if certs.is_empty() || !cn_ok() {
                        continue;
                    }
                    let a: Vec<_> = anchors
                        .iter()
                        .filter(|(n, _)| n == ca_name)
                        .cloned()
                        .collect();
                    if pki::chain_to_anchor(certs, &a).is_err() {
                        continue;
                    }
                    Authentication::CertificateAuthority
                }
                Attestation::SymmetricKey {
                    primary_key,
                    secondary_key,
                } => {
                    let k1 = util::derive_device_key(primary_key, reg_id).unwrap_or_default();
                    let k2 = util::derive_device_key(secondary_key, reg_id).unwrap_or_default();
                    if sas.is_none() || sas_ok(&[&k1, &k2]).is_err() {
                        continue;
                    }
                    Authentication::Sas {
                        primary_key: k1,
                        secondary_key: k2,
                    }
                }
                Attestation::X509Thumbprint { .. } => continue,
            };
            return Ok(DpsOutcome::Assign {
                device_id: reg_id.to_string(),
                auth,
                initial_twin: g.initial_twin.clone(),
                disabled: g.provisioning_status == Status::Disabled,
                source: format!("enrollment group \"{}\"", g.enrollment_group_id),
            });
        }
        Err(format!("no enrollment attests registration \"{reg_id}\""))
    }

    /// A DPS register request. Returns (status, retry-after, body).
    pub fn dps_register(
        &self,
        reg_id: &str,
        certs: &[Vec<u8>],
        password: Option<&[u8]>,
        body: &[u8],
    ) -> (u16, Option<u32>, Value) {
        if self.fault(FaultKind::Throttle, reg_id).is_some() {
            info!("{reg_id} DPS register → 429 (throttle fault)");
            return (
                429,
                Some(self.settings.dps_retry_after_secs),
                dps_error(429001, "Operations are being throttled for this tenant."),
            );
        }
        let mut payload = None;
        if !body.is_empty() {
            match serde_json::from_slice::<Value>(body) {
                Ok(v) if v.is_object() => {
                    payload = v.get("payload").cloned();
                    if let Some(r) = v.get("registrationId").and_then(Value::as_str) {
                        if r != reg_id {
                            return (
                                400,
                                None,
                                dps_error(400004, "registrationId does not match the connection"),
                            );
                        }
                    }
                }
                _ => {
                    return (
                        400,
                        None,
                        dps_error(400004, "the request body is not a JSON object"),
                    )
                }
            }
        }
        let sas = password
            .filter(|p| !p.is_empty())
            .and_then(|p| util::parse_sas(&String::from_utf8_lossy(p)).ok());
        let mut st = self.state();
        let outcome = match Self::dps_attest(&st, reg_id, certs, sas.as_ref()) {
            Ok(o) => o,
            Err(why) => {
                info!("{reg_id} DPS register → 401 ({why})");
                return (
                    401,
                    None,
                    dps_error(
                        401002,
                        "The device could not be authenticated. (emulator: {why})"
                            .replace("{why}", &why)
                            .as_str(),
                    ),
                );
            }
        };
        let op_id = format!(
            "4.{}.{}",
            &util::hex(&util::random_bytes::<8>()),
            util::uuid()
        );
        let DpsOutcome::Assign { source, .. } = &outcome;
        info!("{reg_id} DPS register via {source} → 202 assigning (operation {op_id})");
        st.dps_ops.retain(|_, o| o.registration_id != reg_id);
        st.dps_ops.insert(
            op_id.clone(),
            DpsOp {
                registration_id: reg_id.to_string(),
                polls_left: self.settings.dps_assigning_polls,
                outcome,
                created: util::rfc3339_now(),
                result: None,
                payload,
            },
        );
        (
            202,
            Some(self.settings.dps_retry_after_secs),
            json!({"operationId": op_id, "status": "assigning"}),
        )
    }

    /// A DPS operation-status poll. Returns (status, retry-after, body).
    pub fn dps_poll(&self, reg_id: &str, op_id: &str) -> (u16, Option<u32>, Value) {
        if self.fault(FaultKind::Throttle, reg_id).is_some() {
            info!("{reg_id} DPS poll → 429 (throttle fault)");
            return (
                429,
                Some(self.settings.dps_retry_after_secs),
                dps_error(429001, "Operations are being throttled for this tenant."),
            );
        }
        let fail = self.fault(FaultKind::DpsFail, reg_id);
        let mut st = self.state();
        let Some(op) = st
            .dps_ops
            .get_mut(op_id)
            .filter(|o| o.registration_id == reg_id)
        else {
            return (404, None, dps_error(404104, "the operation does not exist"));
        };
        if let Some(r) = &op.result {
            return (200, None, r.clone());
        }
        if op.polls_left > 0 {
            op.polls_left -= 1;
            return (
                202,
                Some(self.settings.dps_retry_after_secs),
                json!({"operationId": op_id, "status": "assigning"}),
            );
        }
        let op = op.clone();
        let now = util::rfc3339_now();
        let DpsOutcome::Assign {
            device_id,
            auth,
            initial_twin,
            disabled,
            source,
        } = op.outcome.clone();
        let result = if let Some(f) = fail {
            let code = f.error_code.unwrap_or(500000);
            info!("{reg_id} DPS → failed (fault, errorCode {code})");
            json!({"operationId": op_id, "status": "failed", "registrationState": {
                "registrationId": reg_id, "createdDateTimeUtc": op.created, "status": "failed",
                "errorCode": code, "errorMessage": "Registration failed (emulator fault injection).",
                "lastUpdatedDateTimeUtc": now, "etag": util::etag()}})
        } else if disabled {
            info!("{reg_id} DPS → disabled ({source} is disabled)");
            json!({"operationId": op_id, "status": "disabled", "registrationState": {
                "registrationId": reg_id, "createdDateTimeUtc": op.created, "status": "disabled",
                "errorCode": 400207, "errorMessage": "The enrollment is disabled.",
                "lastUpdatedDateTimeUtc": now, "etag": util::etag()}})
        } else {
            let created = !st.devices.contains_key(&device_id);
            if created {
                let mut twin = TwinState::new();
                if let Some(Value::Object(d)) = initial_twin {
                    merge_patch(&mut twin.desired, &d);
                }
                let e = DeviceEntry {
                    device: Device {
                        device_id: device_id.clone(),
                        authentication: auth,
                        status: Status::Enabled,
                        etag: util::etag(),
                        connection_state: String::new(),
                        last_activity_time: String::new(),
                        created_time: now.clone(),
                    },
                    twin,
                    c2d: VecDeque::new(),
                    session: None,
                };
                self.persist_device(&e);
                st.devices.insert(device_id.clone(), e);
            }
            info!(
                "{reg_id} DPS → assigned to {} as device {device_id}{}",
                self.settings.hub_hostname,
                if created { " (created)" } else { "" }
            );
            let mut r = json!({"operationId": op_id, "status": "assigned", "registrationState": {
                "x509": {}, "registrationId": reg_id, "createdDateTimeUtc": op.created,
                "assignedHub": self.settings.hub_hostname, "deviceId": device_id,
                "status": "assigned", "substatus": "initialAssignment",
                "lastUpdatedDateTimeUtc": now, "etag": util::etag()}});
            // Custom allocation returns data in `registrationState.payload`; with no allocation
            // webhook, the emulator echoes the device's payload.
            if let Some(p) = op.payload.clone() {
                r["registrationState"]["payload"] = p;
            }
            r
        };
        if let Some(o) = st.dps_ops.get_mut(op_id) {
            o.result = Some(result.clone());
        }
        (200, None, result)
    }
}

fn device_not_found(id: &str) -> ApiError {
    ApiError::new(404, 404001, format!("DeviceNotFound: no device \"{id}\""))
}

fn dps_error(code: u64, message: &str) -> Value {
    json!({"errorCode": code, "trackingId": util::uuid(), "message": message,
           "timestampUtc": util::rfc3339_now()})
}

fn error_payload(status: u16, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"errorCode": status as u64 * 1000 + 1, "message": message}))
        .unwrap_or_default()
}

fn validate_name(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_control() || c == '/') {
        return Err(ApiError::bad_request(format!("invalid name \"{id}\"")));
    }
    Ok(())
}

/// Device IDs: up to 128 characters of ASCII letters, digits and `- . + % _ # * ? ! ( ) , : = @ $ '`.
fn validate_device_id(id: &str) -> ApiResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.+%_#*?!(),:=@$'".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            400005,
            format!("invalid device ID \"{id}\""),
        ))
    }
}

/// A symmetric key as given, or a new one when empty; `what` names it in the error.
fn key_or_new(k: String, what: &str) -> ApiResult<String> {
    if k.is_empty() {
        Ok(util::random_key())
    } else if util::hmac_b64(&k, b"").is_some() {
        Ok(k)
    } else {
        Err(ApiError::bad_request(format!("{what} must be base64")))
    }
}

/// Normalised primary (required) and secondary (optional) thumbprints.
fn thumbprints(primary: &str, secondary: Option<String>) -> ApiResult<(String, Option<String>)> {
    let primary = util::normalize_thumbprint(primary);
    if primary.is_empty() {
        return Err(ApiError::bad_request("a primary thumbprint is required"));
    }
    let secondary = secondary
        .map(|t| util::normalize_thumbprint(&t))
        .filter(|t| !t.is_empty());
    Ok((primary, secondary))
}

fn normalize_auth(a: Authentication) -> ApiResult<Authentication> {
    Ok(match a {
        Authentication::Sas {
            primary_key,
            secondary_key,
        } => Authentication::Sas {
            primary_key: key_or_new(primary_key, "SAS keys")?,
            secondary_key: key_or_new(secondary_key, "SAS keys")?,
        },
        Authentication::SelfSigned {
            primary_thumbprint,
            secondary_thumbprint,
        } => {
            let (primary_thumbprint, secondary_thumbprint) =
                thumbprints(&primary_thumbprint, secondary_thumbprint)?;
            Authentication::SelfSigned {
                primary_thumbprint,
                secondary_thumbprint,
            }
        }
        other => other,
    })
}

fn normalize_attestation(a: Attestation) -> ApiResult<Attestation> {
    Ok(match a {
        Attestation::SymmetricKey {
            primary_key,
            secondary_key,
        } => Attestation::SymmetricKey {
            primary_key: key_or_new(primary_key, "symmetric keys")?,
            secondary_key: key_or_new(secondary_key, "symmetric keys")?,
        },
        Attestation::X509Thumbprint {
            primary_thumbprint,
            secondary_thumbprint,
        } => {
            let (primary_thumbprint, secondary_thumbprint) =
                thumbprints(&primary_thumbprint, secondary_thumbprint)?;
            Attestation::X509Thumbprint {
                primary_thumbprint,
                secondary_thumbprint,
            }
        }
        other => other,
    })
}

/// RFC 7396 JSON merge patch of an object: `null` deletes, objects merge, anything else
/// replaces.
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if k == "$version" || k == "$metadata" {
            continue;
        }
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => {
                let slot = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(t) = slot {
                    merge_patch(t, p);
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

/// Checks a twin patch against the documented rules: keys without `.`, `$`, spaces or
/// control characters (the top-level `$version` is ignored), at most 1 KB each, depth at most
/// 10, string values at most 4 KB.
pub fn validate_twin_patch(obj: &Map<String, Value>) -> Result<(), String> {
    fn walk(m: &Map<String, Value>, depth: usize, top: bool) -> Result<(), String> {
        if depth > MAX_TWIN_DEPTH {
            return Err(format!("nesting deeper than {MAX_TWIN_DEPTH}"));
        }
        for (k, v) in m {
            if top && (k == "$version" || k == "$metadata") {
                continue;
            }
            if k.is_empty()
                || k.len() > 1024
                || k.chars()
                    .any(|c| c == '.' || c == '$' || c == ' ' || c.is_control())
            {
                return Err(format!("invalid property name \"{k}\""));
            }
            match v {
                Value::Object(o) => walk(o, depth + 1, false)?,
                Value::String(s) if s.len() > 4096 => {
                    return Err(format!("value of \"{k}\" is longer than 4 KB"))
                }
                Value::Array(a) => {
                    for x in a {
                        if let Value::Object(o) = x {
                            walk(o, depth + 1, false)?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
    walk(obj, 1, true)
}

fn section_size(m: &Map<String, Value>) -> usize {
    serde_json::to_vec(m).map(|v| v.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_semantics() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]})
            .as_object()
            .unwrap()
            .clone();
        let p = json!({"a": null, "b": {"c": null, "x": {"y": 1}}, "e": "s", "$version": 4});
        merge_patch(&mut t, p.as_object().unwrap());
        assert_eq!(
            Value::Object(t),
            json!({"b": {"d": 3, "x": {"y": 1}}, "e": "s"})
        );
    }

    #[test]
    fn twin_patch_rules() {
        assert!(validate_twin_patch(json!({"a": {"b": 1}}).as_object().unwrap()).is_ok());
        assert!(validate_twin_patch(json!({"$version": 3}).as_object().unwrap()).is_ok());
        assert!(validate_twin_patch(json!({"a.b": 1}).as_object().unwrap()).is_err());
        assert!(validate_twin_patch(json!({"a": {"$x": 1}}).as_object().unwrap()).is_err());
        let mut deep = json!(1);
        for _ in 0..11 {
            deep = json!({ "k": deep });
        }
        assert!(validate_twin_patch(deep.as_object().unwrap()).is_err());
    }

    #[test]
    fn filters() {
        use ConnKind::*;
        assert_eq!(
            classify_filter("devices/d1/messages/devicebound/#", "d1", Hub),
            Some(SubKind::C2d)
        );
        assert_eq!(
            classify_filter("devices/+/messages/devicebound/#", "d1", Hub),
            Some(SubKind::C2d)
        );
        assert_eq!(
            classify_filter("devices/d2/messages/devicebound/#", "d1", Hub),
            None
        );
        assert_eq!(classify_filter("#", "d1", Hub), None);
        assert_eq!(
            classify_filter("$dps/registrations/res/#", "r", Dps),
            Some(SubKind::DpsRes)
        );
        assert_eq!(classify_filter("$iothub/twin/res/#", "r", Dps), None);
    }
}
