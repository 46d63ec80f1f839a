//! Device Provisioning Service on Linux: runs the sans-IO [`DpsClient`] over the port's TLS
//! transport, and keeps the assignment in a [`FileSettings`] file.
//!
//! ```no_run
//! use azure_iot_hub::port::{self, DpsConfig, HubClient, ConnectConfig};
//!
//! let dps = DpsConfig::from_config(); // Kconfig defaults + CONFIG_* environment variables
//! // Registers only when nothing is stored yet; then the stored assignment is used.
//! let assignment = port::provision(&dps).expect("provisioning");
//! let config = assignment.apply(ConnectConfig::from_config());
//! let client = HubClient::new(Box::new(|event| println!("{event:?}")));
//! client.connect(&config).expect("connect");
//! ```
//!
//! The registration runs on the calling thread: a blocking loop over poll(2) whose timeout is
//! the core's next deadline (a status query after `retry-after`, a keep-alive PINGREQ, or the
//! overall timeout), so waiting for `retry-after` never stops the loop from reading what DPS
//! sends. The C API runs the same loop on a worker thread.

use std::fmt;
use std::format;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::string::String;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::vec;
use std::vec::Vec;

use super::config::{self as cfg, Env, SystemEnv};
use super::net::{self, Endpoint};
use super::settings::FileSettings;
use super::{sys, Conn, ConnectConfig, ConnectError, Credentials};
use crate::config as k;
use crate::dps::driver::{self, Step};
use crate::dps::settings::{self as st, StoredAssignment};
use crate::dps::{
    DpsClient, DpsConnectError, DpsFailure, DpsOptions, OperationStatus,
    MAX_REGISTRATION_PAYLOAD_LEN,
};
use crate::mqtt::Framer;

/// Log target, as the original's DPS log module.
pub(crate) const LOG_DPS: &str = "azure_iot_hub_dps";

/// The settings file name used when `CONFIG_AZURE_IOT_HUB_DPS_SETTINGS_FILE` is not set (inside
/// the certificates folder).
pub const DEFAULT_SETTINGS_FILE_NAME: &str = "azure_iot_hub.settings";

/// Everything a registration needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpsConfig {
    /// DPS host (`CONFIG_AZURE_IOT_HUB_DPS_HOSTNAME`).
    pub hostname: String,
    /// TCP port: `CONFIG_MQTT_HELPER_PORT` as in the original (which used the same MQTT helper);
    /// on Linux `CONFIG_AZURE_IOT_HUB_DPS_PORT` overrides it at run time.
    pub port: u16,
    /// ID scope (`CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE`).
    pub id_scope: String,
    /// Registration ID (`CONFIG_AZURE_IOT_HUB_DPS_REG_ID`, else `CONFIG_AZURE_IOT_HUB_DEVICE_ID`).
    pub registration_id: String,
    /// Optional JSON sent as the registration's `payload`, for custom allocation
    /// (`CONFIG_AZURE_IOT_HUB_DPS_REGISTRATION_PAYLOAD`; empty: none). Not validated here.
    pub registration_payload: Option<String>,
    /// TLS credentials (the same security-tag folder as the hub connection).
    pub credentials: Credentials,
    /// A SAS token as the MQTT password (symmetric-key attestation); `None`: X.509.
    pub password: Option<String>,
    /// `CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC`: the registration fails when DPS sends nothing for
    /// this long (the timer restarts on every packet, as in the original); it also bounds the TCP
    /// connect and the TLS handshake.
    pub timeout_secs: u32,
    /// Status queries allowed before giving up (the original's 10).
    pub max_status_queries: u32,
    /// MQTT keep-alive of the DPS connection (`CONFIG_MQTT_KEEPALIVE`).
    pub keep_alive_secs: u16,
    /// Socket send timeout (`CONFIG_MQTT_HELPER_SEND_TIMEOUT_SEC`, if enabled).
    pub send_timeout_secs: Option<u32>,
    /// Where the assignment is kept (`CONFIG_AZURE_IOT_HUB_DPS_SETTINGS_FILE`, default
    /// `<certificates folder>/azure_iot_hub.settings`).
    pub settings_file: PathBuf,
}

impl DpsConfig {
    /// The Kconfig defaults, overridden by `CONFIG_*` environment variables (docs/linux.md).
    pub fn from_config() -> Self {
        from_env(&SystemEnv)
    }

    /// The configuration with another registration ID (and nothing else changed).
    #[must_use]
    pub fn with_registration_id(mut self, id: impl Into<String>) -> Self {
        self.registration_id = id.into();
        self
    }
}

pub(crate) fn from_env(env: &dyn Env) -> DpsConfig {
    let hub = cfg::from_env(env);
    let s =
        |name: &str, default: &str| cfg::var(env, name, cfg::parse_str).unwrap_or(default.into());
    let reg = s("AZURE_IOT_HUB_DPS_REG_ID", k::AZURE_IOT_HUB_DPS_REG_ID);
    let registration_id = if reg.is_empty() {
        hub.device_id.clone()
    } else {
        reg
    };
    let payload = s(
        "AZURE_IOT_HUB_DPS_REGISTRATION_PAYLOAD",
        k::AZURE_IOT_HUB_DPS_REGISTRATION_PAYLOAD,
    );
    let settings_file = cfg::var(env, "AZURE_IOT_HUB_DPS_SETTINGS_FILE", cfg::parse_str)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| hub.credentials.folder.join(DEFAULT_SETTINGS_FILE_NAME));
    DpsConfig {
        hostname: s("AZURE_IOT_HUB_DPS_HOSTNAME", k::AZURE_IOT_HUB_DPS_HOSTNAME),
        port: cfg::var(env, "AZURE_IOT_HUB_DPS_PORT", |v| v.parse().ok()).unwrap_or(hub.port),
        id_scope: s("AZURE_IOT_HUB_DPS_ID_SCOPE", k::AZURE_IOT_HUB_DPS_ID_SCOPE),
        registration_id,
        registration_payload: (!payload.is_empty()).then_some(payload),
        credentials: hub.credentials,
        password: None,
        timeout_secs: cfg::var(env, "AZURE_IOT_HUB_DPS_TIMEOUT_SEC", |v| v.parse().ok())
            .unwrap_or(u32::try_from(k::AZURE_IOT_HUB_DPS_TIMEOUT_SEC).unwrap_or(u32::MAX)),
        max_status_queries: 10,
        keep_alive_secs: hub.options.keep_alive_secs,
        send_timeout_secs: hub.send_timeout_secs,
        settings_file,
    }
}

/// Where DPS assigned the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The IoT Hub host name (`assignedHub`).
    pub hostname: String,
    /// The device ID to use there (`deviceId`).
    pub device_id: String,
}

impl Assignment {
    /// `config` with this host name and device ID.
    pub fn apply(&self, config: ConnectConfig) -> ConnectConfig {
        config
            .to_builder()
            .hostname(self.hostname.clone())
            .device_id(self.device_id.clone())
            .build()
    }
}

/// The registration status, as `enum azure_iot_hub_dps_reg_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpsStatus {
    /// Not started.
    NotStarted,
    /// Registering: after the register request, and again on each `assigning` (or throttled)
    /// answer.
    Assigning,
    /// Assigned.
    Assigned,
    /// Failed.
    Failed,
}

/// Why provisioning failed.
#[derive(Debug)]
pub enum DpsError {
    /// The ID scope or registration ID is empty, too long or has characters MQTT cannot carry,
    /// or the registration payload is too long.
    InvalidConfig(String),
    /// DNS, TCP or TLS failed before CONNECT.
    Transport(ConnectError),
    /// DPS refused: CONNACK refused, an error status (401 unknown device...), or the operation
    /// ended `failed`, `disabled` or `unassigned`.
    Rejected {
        /// What DPS said.
        reason: String,
        /// `errorCode` (e.g. 401002, 400207).
        error_code: Option<u32>,
    },
    /// Nothing from DPS within the timeout (or too many status queries).
    Timeout,
    /// The connection ended during the registration.
    ConnectionLost,
    /// A response that cannot be parsed, or an assignment without a usable host name or ID.
    Protocol(String),
    /// [`DpsCancel::cancel`] was called.
    Cancelled,
}

impl fmt::Display for DpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DpsError::InvalidConfig(s) => write!(f, "invalid DPS configuration: {s}"),
            DpsError::Transport(e) => write!(f, "DPS connection failed: {e}"),
            DpsError::Rejected { reason, error_code } => match error_code {
                Some(c) => write!(f, "DPS refused the registration: {reason} (errorCode {c})"),
                None => write!(f, "DPS refused the registration: {reason}"),
            },
            DpsError::Timeout => f.write_str("DPS did not answer in time"),
            DpsError::ConnectionLost => f.write_str("the DPS connection was lost"),
            DpsError::Protocol(s) => write!(f, "unusable DPS response: {s}"),
            DpsError::Cancelled => f.write_str("the registration was cancelled"),
        }
    }
}

impl std::error::Error for DpsError {}

fn failure(f: DpsFailure<'_>) -> DpsError {
    let text = |m: Option<crate::mqtt::Text<'_>>| m.map(String::from);
    match f {
        DpsFailure::ConnectionRefused(code) => DpsError::Rejected {
            reason: format!("CONNACK return code {code}"),
            error_code: None,
        },
        DpsFailure::SubscribeRefused => DpsError::Rejected {
            reason: "subscription refused".into(),
            error_code: None,
        },
        DpsFailure::Status {
            status,
            error_code,
            message,
        } => DpsError::Rejected {
            reason: format!(
                "status {status}{}",
                text(message).map(|m| format!(": {m}")).unwrap_or_default()
            ),
            error_code,
        },
        DpsFailure::NotAssigned {
            status,
            error_code,
            message,
        } => DpsError::Rejected {
            reason: format!(
                "{}{}",
                match status {
                    OperationStatus::Failed => "failed",
                    OperationStatus::Disabled => "disabled",
                    OperationStatus::Unassigned => "unassigned",
                    _ => "not assigned",
                },
                text(message).map(|m| format!(": {m}")).unwrap_or_default()
            ),
            error_code,
        },
        DpsFailure::Malformed => DpsError::Protocol("malformed response".into()),
        DpsFailure::OperationIdTooLong => DpsError::Protocol("operation ID too long".into()),
        DpsFailure::TooManyQueries | DpsFailure::Timeout => DpsError::Timeout,
    }
}

fn driver_failure(f: driver::Failure<'_>) -> DpsError {
    match f {
        driver::Failure::Dps(f) => failure(f),
        driver::Failure::Framing(e) => DpsError::Protocol(format!("framing: {e:?}")),
        driver::Failure::Oversize(n) => {
            DpsError::Protocol(format!("a packet of {n} bytes exceeds the receive buffer"))
        }
        driver::Failure::Decode(e) => DpsError::Protocol(format!("{e:?}")),
        driver::Failure::Unusable {
            hostname,
            device_id,
            why,
        } => DpsError::Protocol(format!(
            "assignment {hostname:?} / {device_id:?} cannot be used: {why:?}"
        )),
        driver::Failure::ConnectionLost => DpsError::ConnectionLost,
    }
}

/// Ends a registration in progress from another thread (the C API's reset).
#[derive(Debug, Clone, Default)]
pub struct DpsCancel(Arc<Mutex<CancelState>>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: bool,
    socket: Option<TcpStream>,
}

impl DpsCancel {
    /// A fresh token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the registration: it returns [`DpsError::Cancelled`] soon after.
    pub fn cancel(&self) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.cancelled = true;
        if let Some(sock) = s.socket.as_ref() {
            let _ = sock.shutdown(Shutdown::Both);
        }
    }

    /// Whether [`DpsCancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).cancelled
    }

    fn set_socket(&self, sock: Option<TcpStream>) -> Result<(), ConnectError> {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if s.cancelled {
            return Err(ConnectError::Tcp(io::Error::new(
                io::ErrorKind::Interrupted,
                "cancelled",
            )));
        }
        s.socket = sock;
        Ok(())
    }
}

/// A DPS connection whose CONNECT is written: the registration runs in [`Session::run`].
pub(crate) struct Session {
    conn: Conn,
    client: DpsClient<Vec<u8>>,
    framer: Framer<Vec<u8>>,
    cancel: DpsCancel,
    epoch: Instant,
}

impl Session {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Validates, connects (DNS, TCP, TLS) and writes CONNECT, on the caller's thread (as the
/// original's `azure_iot_hub_dps_start` does before it returns).
pub(crate) fn open(config: &DpsConfig, cancel: &DpsCancel) -> Result<Session, DpsError> {
    let opts = DpsOptions {
        timeout_secs: config.timeout_secs.max(1),
        max_status_queries: config.max_status_queries,
        keep_alive_secs: config.keep_alive_secs,
    };
    let payload_len = config.registration_payload.as_ref().map_or(0, String::len);
    let tx = vec![0u8; 1024 + payload_len.min(MAX_REGISTRATION_PAYLOAD_LEN)];
    let mut client = DpsClient::new(tx, opts);
    let epoch = Instant::now();
    client
        .connect(
            &config.id_scope,
            &config.registration_id,
            config.password.as_deref().map(str::as_bytes),
            config.registration_payload.as_deref(),
            0,
        )
        .map_err(|e| {
            DpsError::InvalidConfig(
                match e {
                    DpsConnectError::InvalidId => {
                        "the ID scope or registration ID is empty, too long or not allowed"
                    }
                    DpsConnectError::PayloadTooLong => "the registration payload is too long",
                    DpsConnectError::BufferTooSmall => "CONNECT does not fit the buffer",
                    DpsConnectError::Busy => "busy",
                }
                .into(),
            )
        })?;
    if config.hostname.is_empty() {
        return Err(DpsError::InvalidConfig("no DPS host name".into()));
    }
    let mut setup = Duration::from_secs(config.timeout_secs.max(1).into());
    if let Some(s) = config.send_timeout_secs {
        setup = setup.min(Duration::from_secs(s.max(1).into()));
    }
    let ep = Endpoint {
        hostname: &config.hostname,
        port: config.port,
        static_ip: None,
        credentials: &config.credentials,
        password: config.password.is_some(),
        setup_timeout: setup,
        send_timeout: config
            .send_timeout_secs
            .map(|s| Duration::from_secs(s.max(1).into())),
    };
    log::info!(
        target: LOG_DPS,
        "registering {} in {} at {}:{}",
        config.registration_id,
        config.id_scope,
        config.hostname,
        config.port
    );
    let started = Instant::now();
    let conn = net::open(&ep, |tcp| cancel.set_socket(tcp.try_clone().ok())).map_err(|e| {
        if cancel.is_cancelled() {
            return DpsError::Cancelled;
        }
        // A TCP connect or handshake that used up the whole setup time is the DPS timeout.
        let timed_out = started.elapsed() + Duration::from_millis(100) >= setup;
        match e {
            ConnectError::Tcp(_) | ConnectError::Tls(_) if timed_out => DpsError::Timeout,
            e => DpsError::Transport(e),
        }
    })?;
    let rx = vec![0u8; k::MQTT_HELPER_RX_TX_BUFFER_SIZE + k::MQTT_HELPER_PAYLOAD_BUFFER_LEN];
    let mut session = Session {
        conn,
        client,
        framer: Framer::new(rx),
        cancel: cancel.clone(),
        epoch,
    };
    session.flush().map_err(|_| DpsError::ConnectionLost)?;
    Ok(session)
}

impl Session {
    fn flush(&mut self) -> io::Result<()> {
        let now = self.now();
        while let Some(bytes) = self.client.poll_transmit() {
            let n = bytes.len();
            net::write_all(&mut self.conn, bytes, &[])?;
            self.client.transmit_complete(n, now);
        }
        net::flush_tls(&mut self.conn)
    }

    /// Closes the connection (DISCONNECT, close_notify, shutdown).
    fn close(&mut self, graceful: bool) {
        if graceful {
            let _ = net::write_all(&mut self.conn, &[0xe0, 0x00], &[]);
            self.conn.tls.send_close_notify();
            let _ = net::flush_tls(&mut self.conn);
        }
        let _ = self.conn.tcp.shutdown(Shutdown::Both);
        let _ = self.cancel.set_socket(None);
    }

    /// Runs the registration to its end. `on_status` gets [`DpsStatus::Assigning`] after the
    /// register request and on every `assigning` or throttled answer; the caller reports the
    /// final status.
    pub(crate) fn run(
        mut self,
        on_status: &mut dyn FnMut(DpsStatus),
    ) -> Result<Assignment, DpsError> {
        let result = self.serve(on_status);
        self.close(!matches!(
            result,
            Err(DpsError::ConnectionLost | DpsError::Cancelled)
        ));
        match &result {
            Ok(a) => log::info!(target: LOG_DPS, "assigned to {} as {}", a.hostname, a.device_id),
            Err(e) => log::warn!(target: LOG_DPS, "registration failed: {e}"),
        }
        result
    }

    fn lost(&mut self) -> DpsError {
        self.client.handle_closed();
        if self.cancel.is_cancelled() {
            DpsError::Cancelled
        } else {
            DpsError::ConnectionLost
        }
    }

    fn serve(&mut self, on_status: &mut dyn FnMut(DpsStatus)) -> Result<Assignment, DpsError> {
        let fd = self.conn.tcp.as_raw_fd();
        loop {
            if self.cancel.is_cancelled() {
                return Err(DpsError::Cancelled);
            }
            // 1. Every packet the framer holds (the core's driver step, as on Zephyr).
            loop {
                let now = self.now();
                let Some(step) = driver::next_step(&mut self.client, &mut self.framer, now) else {
                    break;
                };
                let outcome = match step {
                    Step::Quiet => None,
                    Step::Progress(e) => {
                        log::debug!(target: LOG_DPS, "{e:?}");
                        Some(None)
                    }
                    Step::Done(Ok(a)) => Some(Some(Ok(Assignment {
                        hostname: a.hostname.into(),
                        device_id: a.device_id.into(),
                    }))),
                    Step::Done(Err(f)) => Some(Some(Err(driver_failure(f)))),
                };
                // PUBACK, SUBSCRIBE, the register request: out before the status is reported.
                if self.flush().is_err() {
                    return Err(self.lost());
                }
                match outcome {
                    None => {}
                    Some(None) => on_status(DpsStatus::Assigning),
                    Some(Some(done)) => return done,
                }
            }

            // 2. Decrypted bytes rustls already holds.
            match self.conn.tls.reader().read(self.framer.spare()) {
                Ok(0) => return Err(self.lost()),
                Ok(n) => {
                    self.framer.commit(n);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Err(self.lost()),
            }

            // 3. Deadlines: status query, keep-alive, timeout.
            let now = self.now();
            if let Err(f) = driver::on_timeout(&mut self.client, now) {
                return Err(driver_failure(f));
            }
            if self.flush().is_err() {
                return Err(self.lost());
            }
            let wait = self
                .client
                .poll_timeout()
                .map(|deadline| deadline.saturating_sub(now));

            // 4. Wait for input until the next deadline.
            match sys::wait_readable(fd, wait) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => return Err(self.lost()),
            }
            match self.conn.tls.read_tls(&mut sys::NoWait(fd)) {
                Ok(0) => return Err(self.lost()),
                Ok(_) => {
                    if let Err(e) = self.conn.tls.process_new_packets() {
                        log::warn!(target: LOG_DPS, "TLS error: {e}");
                        return Err(self.lost());
                    }
                    if net::flush_tls(&mut self.conn).is_err() {
                        return Err(self.lost());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Err(self.lost()),
            }
        }
    }
}

/// `CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE` and `CONFIG_AZURE_IOT_HUB_DPS_REG_ID` (with the run-time
/// environment override), without the device-ID fallback of [`DpsConfig::from_config`].
pub(crate) fn kconfig_ids() -> (String, String) {
    let env = SystemEnv;
    let s =
        |name: &str, default: &str| cfg::var(&env, name, cfg::parse_str).unwrap_or(default.into());
    (
        s("AZURE_IOT_HUB_DPS_ID_SCOPE", k::AZURE_IOT_HUB_DPS_ID_SCOPE),
        s("AZURE_IOT_HUB_DPS_REG_ID", k::AZURE_IOT_HUB_DPS_REG_ID),
    )
}

/// `CONFIG_AZURE_IOT_HUB_DPS` (on Linux also `CONFIG_AZURE_IOT_HUB_DPS=y` in the environment).
pub(crate) fn kconfig_enabled() -> bool {
    cfg::var(&SystemEnv, "AZURE_IOT_HUB_DPS", cfg::parse_bool).unwrap_or(k::AZURE_IOT_HUB_DPS)
}

/// What the C API needs of this module.
pub(crate) mod internal {
    pub(crate) use super::{kconfig_enabled, kconfig_ids, load, open, save};
}

/// Registers with DPS now (whatever is stored) and returns the assignment, without storing it.
/// `on_status` gets [`DpsStatus::Assigning`] as the registration proceeds.
pub fn register(
    config: &DpsConfig,
    cancel: &DpsCancel,
    mut on_status: impl FnMut(DpsStatus),
) -> Result<Assignment, DpsError> {
    open(config, cancel)?.run(&mut on_status)
}

/// The assignment stored in `config.settings_file`, if complete and valid (invalid values are
/// logged and count as absent).
pub fn stored_assignment(config: &DpsConfig) -> io::Result<Option<Assignment>> {
    let (a, _) = load(&mut FileSettings::new(&config.settings_file))?;
    Ok(complete(&a))
}

pub(crate) fn load(store: &mut FileSettings) -> io::Result<(StoredAssignment, st::LoadReport)> {
    let (a, report) = st::load_assignment(store)?;
    for (name, bad) in [
        ("host name", report.hostname),
        ("device ID", report.device_id),
    ] {
        if let Some(why) = bad {
            log::warn!(target: LOG_DPS, "ignoring the stored {name} in {}: {why:?}", store.path().display());
        }
    }
    Ok((a, report))
}

pub(crate) fn complete(a: &StoredAssignment) -> Option<Assignment> {
    match (&a.hostname, &a.device_id) {
        (Some(h), Some(d)) => Some(Assignment {
            hostname: h.as_str().into(),
            device_id: d.as_str().into(),
        }),
        _ => None,
    }
}

/// Stores `a` (logged on failure, as the original does; the assignment is still usable).
pub(crate) fn save(store: &mut FileSettings, a: &Assignment) -> bool {
    match st::store_assignment(store, &a.hostname, &a.device_id) {
        Ok(()) => true,
        Err(e) => {
            log::error!(target: LOG_DPS, "cannot store the assignment in {}: {e:?}", store.path().display());
            false
        }
    }
}

/// Deletes the stored assignment: the next [`provision`] registers again.
pub fn clear_assignment(config: &DpsConfig) -> io::Result<()> {
    st::delete_assignment(&mut FileSettings::new(&config.settings_file))
}

/// The stored assignment, or (when none is stored) a registration with DPS whose result is
/// stored and returned. See [`provision_with`] for status reports.
pub fn provision(config: &DpsConfig) -> Result<Assignment, DpsError> {
    provision_with(config, &DpsCancel::new(), |_| {})
}

/// [`provision`] with status reports: [`DpsStatus::Assigning`] while registering, then
/// [`DpsStatus::Assigned`] or [`DpsStatus::Failed`] (nothing when a stored assignment is used).
pub fn provision_with(
    config: &DpsConfig,
    cancel: &DpsCancel,
    mut on_status: impl FnMut(DpsStatus),
) -> Result<Assignment, DpsError> {
    let mut store = FileSettings::new(&config.settings_file);
    match load(&mut store) {
        Ok((a, _)) => {
            if let Some(a) = complete(&a) {
                log::info!(target: LOG_DPS, "using the stored assignment: {} as {}", a.hostname, a.device_id);
                return Ok(a);
            }
        }
        Err(e) => log::warn!(target: LOG_DPS, "cannot read {}: {e}", store.path().display()),
    }
    match register(config, cancel, &mut on_status) {
        Ok(a) => {
            // The driver step (dps::driver) checked the assignment with the settings rules.
            save(&mut store, &a);
            on_status(DpsStatus::Assigned);
            Ok(a)
        }
        Err(e) => {
            on_status(DpsStatus::Failed);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::port::linux::config::MapEnv;

    #[test]
    fn config_from_kconfig_and_environment() {
        let c = from_env(&MapEnv(HashMap::new()));
        assert_eq!(c.hostname, k::AZURE_IOT_HUB_DPS_HOSTNAME);
        assert_eq!(c.port, k::MQTT_HELPER_PORT);
        assert_eq!(c.timeout_secs as usize, k::AZURE_IOT_HUB_DPS_TIMEOUT_SEC);
        assert_eq!(
            c.settings_file,
            PathBuf::from(k::MQTT_HELPER_CERTIFICATES_FOLDER).join(DEFAULT_SETTINGS_FILE_NAME)
        );
        let env = MapEnv(HashMap::from([
            ("CONFIG_AZURE_IOT_HUB_DPS_HOSTNAME", "\"localhost\""),
            ("CONFIG_AZURE_IOT_HUB_DPS_PORT", "1234"),
            ("CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE", "0ne1"),
            ("CONFIG_AZURE_IOT_HUB_DEVICE_ID", "dev"),
            ("CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC", "3"),
            ("CONFIG_AZURE_IOT_HUB_DPS_REGISTRATION_PAYLOAD", "{\"a\":1}"),
            ("CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER", "/c"),
        ]));
        let c = from_env(&env);
        assert_eq!(
            (c.hostname.as_str(), c.port, c.id_scope.as_str()),
            ("localhost", 1234, "0ne1")
        );
        // No CONFIG_AZURE_IOT_HUB_DPS_REG_ID: the device ID registers.
        assert_eq!(c.registration_id, "dev");
        assert_eq!(c.timeout_secs, 3);
        assert_eq!(c.registration_payload.as_deref(), Some("{\"a\":1}"));
        assert_eq!(c.settings_file, PathBuf::from("/c/azure_iot_hub.settings"));
        let env = MapEnv(HashMap::from([
            ("CONFIG_AZURE_IOT_HUB_DPS_REG_ID", "reg"),
            ("CONFIG_AZURE_IOT_HUB_DEVICE_ID", "dev"),
            ("CONFIG_AZURE_IOT_HUB_DPS_SETTINGS_FILE", "/s/f"),
        ]));
        let c = from_env(&env);
        assert_eq!(c.registration_id, "reg");
        assert_eq!(c.settings_file, PathBuf::from("/s/f"));
    }

    #[test]
    fn invalid_ids_are_refused_before_any_network() {
        let mut c = from_env(&MapEnv(HashMap::new()));
        c.hostname = "host.invalid".into();
        c.id_scope = String::new();
        c.registration_id = "r".into();
        assert!(matches!(
            register(&c, &DpsCancel::new(), |_| {}),
            Err(DpsError::InvalidConfig(_))
        ));
        c.id_scope = "s".into();
        c.registration_id = "a#b".into();
        assert!(matches!(
            register(&c, &DpsCancel::new(), |_| {}),
            Err(DpsError::InvalidConfig(_))
        ));
    }
}
