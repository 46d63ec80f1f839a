//! The Linux (std) port: one connection at a time per [`HubClient`], run by a worker thread over
//! blocking TCP + rustls.
//!
//! Interface notes for the C API (all names and signatures of the original sketch are kept):
//! * ADDED: [`HubClient::with_handler`] (handler that gets a `&HubClient`), [`HubClient::abort`],
//!   [`HubClient::send`] + [`Sent`], the convenience senders, [`ConnectConfig::builder`],
//!   [`ConnectConfig::kconfig_defaults`], [`Credentials::tags`], `Display`/`Error` impls.
//! * `ConnectError::Busy` is also returned when `connect()` is called while the previous
//!   connection's worker is still tearing down (between a `ConnectionRefused` event and its
//!   `Disconnected`); `connect()` from inside the `Disconnected` callback works.
//! * `disconnect()` returns `Err(state)` unless the state is `Connected` or `Ready`
//!   (the original's `-ENOTCONN`); `abort()` closes in any state.
//!
//! # Threads
//!
//! [`HubClient::connect`] resolves, connects TCP, completes the TLS handshake and writes CONNECT
//! on the calling thread (as the original's `mqtt_helper_connect`), then starts the connection's
//! worker thread (named `mqtt_helper`). The worker reads and frames the stream, feeds the sans-IO
//! [`hub::Client`], sends keep-alive PINGREQs, and calls the handler for every event. It ends
//! after it has delivered [`PortEvent::Disconnected`], the last event of every connection.
//!
//! The handler may call [`HubClient::publish`] (and the other senders) and
//! [`HubClient::disconnect`] from inside the callback. The receive buffer (which events borrow)
//! belongs to the worker alone; the client state and the TLS connection are behind a mutex that
//! the worker never holds while it waits for the socket or runs the handler.
//!
//! # Security tags
//!
//! [`Credentials`] maps Zephyr security tags to PEM files in a folder, as
//! `CONFIG_MQTT_HELPER_PROVISION_CERTIFICATES` provisions them on Zephyr; see `docs/linux.md`.

use std::boxed::Box;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::path::PathBuf;
use std::string::{String, ToString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;
use std::vec;
use std::vec::Vec;

pub(crate) use super::{CloseReason, PortEvent};
use crate::hub::{self, Client, Message, MessageKind, Options, Property};
use crate::mqtt::QoS;

mod config;
#[cfg(feature = "dps")]
mod dps;
mod extensions;
#[cfg(feature = "fota")]
mod fota;
mod net;
mod session;
mod settings;
mod sys;
mod tls;
mod worker;

pub use config::ConnectConfigBuilder;
#[cfg(feature = "dps")]
pub(crate) use dps::internal as dps_internal;
#[cfg(feature = "dps")]
pub use dps::{
    clear_assignment, provision, provision_with, register, stored_assignment, Assignment,
    DpsCancel, DpsConfig, DpsError, DpsStatus, DEFAULT_SETTINGS_FILE_NAME,
};
pub use extensions::{hub_sas_token, hub_sas_token_until, url_encode, Extensions};
#[cfg(feature = "fota")]
pub use fota::{
    FileSink, FotaAgent, FotaError, FotaEvent, FotaEventKind, FotaNotice, FotaSettings, HubFota,
    DEFAULT_MAX_FRAGMENT_SIZE,
};
pub use settings::FileSettings;
pub use tls::TagFiles;

/// This port can always reconnect on its own (when its `Extensions` ask for it), so it may
/// deliver `ConnectionLost` and `Reconnecting` (the Zephyr port's constant follows Kconfig).
// Read by the C API only.
#[cfg_attr(not(feature = "capi"), allow(dead_code))]
pub(crate) const RECONNECTS: bool = true;

/// Log target of the transport (connection, TLS, socket), as the original's log module.
pub(crate) const LOG_TRANSPORT: &str = "mqtt_helper";
/// Log target of the IoT Hub layer (events, publishes), as the original's log module.
pub(crate) const LOG_HUB: &str = "azure_iot_hub";

/// Where TLS credentials come from, as Zephyr security tags: the primary tag holds
/// `ca-cert.pem`, `client-cert.pem`, `private-key.pem` from the certificates folder; the secondary
/// tag (when > -1) holds `ca-cert-2.pem`, `client-cert-2.pem`, `private-key-2.pem`, exactly as
/// `CONFIG_MQTT_HELPER_PROVISION_CERTIFICATES` provisions them on Zephyr.
///
/// On Linux the primary tag's files are used even when `sec_tag` is -1 (the Kconfig default):
/// there is no modem key store whose tag could be meant instead.
///
/// The server is trusted if it chains to a CA of either tag (the system's web roots are never
/// used); the client certificate and key are those of the first tag that has a client
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The folder (`CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER`), relative to the working directory
    /// unless absolute.
    pub folder: PathBuf,
    /// `CONFIG_MQTT_HELPER_SEC_TAG`.
    pub sec_tag: i32,
    /// `CONFIG_MQTT_HELPER_SECONDARY_SEC_TAG` (-1: none).
    pub secondary_sec_tag: i32,
}

/// Everything one connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// IoT Hub host name (used for DNS, TLS SNI/verification and the MQTT user name).
    pub hostname: String,
    /// Device ID (MQTT client ID).
    pub device_id: String,
    /// TCP port (`CONFIG_MQTT_HELPER_PORT`).
    pub port: u16,
    /// Connect to this address instead of resolving `hostname` (`CONFIG_MQTT_HELPER_STATIC_IP_ADDRESS`).
    /// The server certificate is still verified against `hostname`, which is also the SNI.
    pub static_ip: Option<String>,
    /// TLS credentials.
    pub credentials: Credentials,
    /// Protocol options.
    pub options: Options,
    /// Receive buffer (`MQTT_HELPER_RX_TX_BUFFER_SIZE + MQTT_HELPER_PAYLOAD_BUFFER_LEN`).
    pub rx_buffer_size: usize,
    /// Transmit queue (`MQTT_HELPER_RX_TX_BUFFER_SIZE`).
    pub tx_buffer_size: usize,
    /// Socket send timeout in seconds (`MQTT_HELPER_SEND_TIMEOUT_SEC`), if enabled. Also bounds
    /// the TCP connect and the TLS handshake (60 s when `None`).
    pub send_timeout_secs: Option<u32>,
    /// SAS token for the MQTT password (None: X.509 only).
    pub password: Option<String>,
    /// The extensions beyond the original (reconnect, persistent session, model ID, SAS key);
    /// their defaults keep the original's behaviour (docs/extensions.md).
    pub extensions: Extensions,
}

/// Why a connection could not be set up (before CONNECT was written).
#[derive(Debug)]
pub enum ConnectError {
    /// Host name or device ID invalid, or the user name too long.
    InvalidConfig(hub::ConnectError),
    /// DNS resolution failed.
    Dns(std::io::Error),
    /// TCP connect failed (or writing CONNECT did).
    Tcp(std::io::Error),
    /// TLS setup or handshake failed (including certificate loading).
    Tls(String),
    /// A client is already connecting or connected.
    Busy,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::InvalidConfig(e) => write!(f, "invalid configuration: {e:?}"),
            ConnectError::Dns(e) => write!(f, "DNS resolution failed: {e}"),
            ConnectError::Tcp(e) => write!(f, "TCP connection failed: {e}"),
            ConnectError::Tls(e) => write!(f, "TLS: {e}"),
            ConnectError::Busy => f.write_str("already connecting or connected"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Why a publish failed.
#[derive(Debug)]
pub enum SendError {
    /// The core refused the message (not connected, invalid, too long...).
    Publish(hub::PublishError),
    /// Writing to the socket failed; the connection is being torn down.
    Io(std::io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Publish(e) => write!(f, "publish refused: {e:?}"),
            SendError::Io(e) => write!(f, "send failed: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// The handler type: called on the worker thread.
pub type Handler = Box<dyn FnMut(&PortEvent<'_>) + Send + 'static>;

/// The handler as stored: it also gets a client to answer with.
type ClientHandler = Box<dyn FnMut(&HubClient, &PortEvent<'_>) + Send + 'static>;

/// What [`HubClient::send`] put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The MQTT packet identifier (matches [`hub::Event::Puback`] for QoS 1).
    pub packet_id: u16,
    /// The twin request ID the library generated, if it generated one (matches the
    /// `request_id` of [`hub::Received::TwinDocument`] / [`hub::Received::TwinResult`]).
    pub request_id: Option<String>,
}

/// The TLS connection and its socket. Only the worker drops it, so the socket's descriptor stays
/// valid while the worker polls it without the lock.
pub(crate) struct Conn {
    pub(crate) tls: rustls::ClientConnection,
    pub(crate) tcp: std::net::TcpStream,
}

/// State shared by the clones, the connecting thread and the worker.
pub(crate) struct Link {
    /// The transmit side and protocol state. Lives across connections (packet IDs continue).
    pub(crate) client: Client<Vec<u8>>,
    /// The transport while a connection is up.
    pub(crate) conn: Option<Conn>,
    /// A connection is being set up or running: from `connect()` until the worker's teardown.
    pub(crate) active: bool,
    /// A clone of the socket while `connect()` does the TLS handshake (so `abort()` can end it).
    pub(crate) handshaking: Option<std::net::TcpStream>,
    /// `disconnect()` or `abort()` was called for the current connection.
    pub(crate) close_requested: bool,
    /// A write failed; the socket is shut down and the worker ends the connection.
    pub(crate) broken: bool,
    /// Size of the client's transmit buffer.
    pub(crate) tx_size: usize,
    /// Connections started so far.
    pub(crate) generation: u64,
    /// The last connection whose `Disconnected` event has been delivered.
    pub(crate) finished: u64,
    /// A session kept alive across connections (automatic reconnect, SAS renewal).
    pub(crate) session: Option<session::Session>,
    /// The persistent session's unacknowledged QoS 1 messages.
    pub(crate) outbox: Option<hub::outbox::Outbox<Vec<u8>>>,
    /// The return code of the last refused CONNACK.
    pub(crate) refused_code: u8,
    /// QoS 1 messages re-sent (with DUP) after reconnects, in the client's life.
    pub(crate) resent: u64,
}

pub(crate) struct Shared {
    pub(crate) link: Mutex<Link>,
    /// Signalled when `finished` changes (and when a session ends).
    pub(crate) finished_cv: Condvar,
    /// Wakes the retry loop (deadline moved, or `disconnect()`).
    pub(crate) wake: Condvar,
    /// Held by a worker while it runs the handler; also orders the events of consecutive
    /// connections (a worker holds it from its teardown until `Disconnected` was delivered).
    pub(crate) handler: Mutex<ClientHandler>,
    /// The clock's origin.
    pub(crate) epoch: Instant,
    /// Application handles alive (the handler's borrowed view does not count).
    pub(crate) handles: AtomicUsize,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

std::thread_local! {
    /// On a worker thread: the `Shared` it serves (to avoid waiting for oneself).
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

fn on_worker_of(shared: &Arc<Shared>) -> bool {
    WORKER_OF.with(|w| w.get() == Arc::as_ptr(shared) as usize)
}

/// A device client on Linux. Cheap to clone; all clones drive the same connection.
///
/// ```no_run
/// use azure_iot_hub::hub::{Event, Property, Received};
/// use azure_iot_hub::mqtt::QoS;
/// use azure_iot_hub::port::{ConnectConfig, HubClient, PortEvent};
///
/// let client = HubClient::with_handler(|client, event| match event {
///     PortEvent::Hub(Event::Message { kind: Received::DirectMethod { name, request_id }, .. }) => {
///         let _ = client.respond_to_method(request_id.as_str(), 200, format!("{{\"ran\":\"{name}\"}}").as_bytes());
///     }
///     other => println!("{other:?}"),
/// });
/// let config = ConnectConfig::builder().hostname("localhost").device_id("my-device").port(8883).certificates("certs").build();
/// client.connect(&config).expect("connect");
/// // ... once Ready:
/// client.send_telemetry(b"{\"t\":21.5}", &[Property::new("unit", "C")], QoS::AtLeastOnce).ok();
/// client.disconnect().ok();
/// ```
pub struct HubClient {
    shared: Arc<Shared>,
    /// Counts in `Shared::handles` (false for the view handed to the handler).
    counted: bool,
}

impl Clone for HubClient {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::SeqCst);
        HubClient {
            shared: self.shared.clone(),
            counted: true,
        }
    }
}

impl Drop for HubClient {
    /// Dropping the last application handle closes the connection (as [`HubClient::abort`]).
    /// A handle captured by the handler itself keeps the client alive until the process ends or
    /// [`HubClient::disconnect`] is called; [`HubClient::with_handler`] avoids that cycle.
    fn drop(&mut self) {
        if self.counted && self.shared.handles.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.abort();
        }
    }
}

impl fmt::Debug for HubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubClient")
            .field("state", &self.state())
            .finish()
    }
}

impl HubClient {
    /// A client with no connection; events of every later connection go to `handler`.
    pub fn new(handler: Handler) -> Self {
        let mut handler = handler;
        Self::build(Box::new(move |_, ev| handler(ev)))
    }

    /// A client whose handler also receives a client to answer with (publish, respond to a
    /// method, disconnect) from inside the callback. The handler does not keep the client alive,
    /// so dropping the application's last handle still closes the connection.
    pub fn with_handler(handler: impl FnMut(&HubClient, &PortEvent<'_>) + Send + 'static) -> Self {
        Self::build(Box::new(handler))
    }

    fn build(handler: ClientHandler) -> Self {
        let tx = vec![0u8; crate::config::MQTT_HELPER_RX_TX_BUFFER_SIZE];
        let shared = Arc::new(Shared {
            link: Mutex::new(Link {
                client: Client::new(tx, config::kconfig_options()),
                conn: None,
                handshaking: None,
                active: false,
                close_requested: false,
                broken: false,
                tx_size: crate::config::MQTT_HELPER_RX_TX_BUFFER_SIZE,
                generation: 0,
                finished: 0,
                session: None,
                outbox: None,
                refused_code: 0,
                resent: 0,
            }),
            finished_cv: Condvar::new(),
            wake: Condvar::new(),
            handler: Mutex::new(handler),
            epoch: Instant::now(),
            handles: AtomicUsize::new(1),
        });
        HubClient {
            shared,
            counted: true,
        }
    }

    /// The non-owning client handed to the handler.
    pub(crate) fn view(shared: Arc<Shared>) -> Self {
        HubClient {
            shared,
            counted: false,
        }
    }

    /// Resolves, connects TCP, does the TLS handshake and writes CONNECT, then returns; CONNACK
    /// and everything after arrive as events on the worker thread (as the original's
    /// `mqtt_helper_connect` does).
    pub fn connect(&self, config: &ConnectConfig) -> Result<(), ConnectError> {
        net::connect(&self.shared, config)
    }

    /// Publishes; blocks until the bytes are handed to the socket (as the original does).
    /// Returns the packet identifier used.
    pub fn publish(&self, msg: &Message<'_>) -> Result<u16, SendError> {
        self.send(msg).map(|s| s.packet_id)
    }

    /// Publishes like [`HubClient::publish`] and also returns the generated request ID, if any.
    pub fn send(&self, msg: &Message<'_>) -> Result<Sent, SendError> {
        net::publish(&self.shared, msg)
    }

    /// Sends telemetry to `devices/{id}/messages/events/` with application/system properties
    /// (written verbatim: URL-encode them yourself, e.g. `%24.ct`). Returns the packet
    /// identifier, which the `Puback` event repeats for QoS 1.
    pub fn send_telemetry(
        &self,
        payload: &[u8],
        properties: &[Property<'_>],
        qos: QoS,
    ) -> Result<u16, SendError> {
        let msg = Message {
            kind: MessageKind::Telemetry {
                properties: &properties,
            },
            payload,
            qos,
            packet_id: None,
            dup: false,
            retain: false,
        };
        self.publish(&msg)
    }

    /// Requests the twin document (QoS 0). Returns the request ID that the `TwinDocument`
    /// event carries.
    pub fn request_twin(&self) -> Result<String, SendError> {
        self.twin(MessageKind::TwinGet { request_id: None }, b"")
    }

    /// Patches the reported properties with `json` (QoS 0). Returns the request ID that the
    /// `TwinResult` event (204 on success) carries.
    pub fn report_properties(&self, json: &[u8]) -> Result<String, SendError> {
        self.twin(MessageKind::TwinReported { request_id: None }, json)
    }

    fn twin(&self, kind: MessageKind<'_>, payload: &[u8]) -> Result<String, SendError> {
        let msg = Message {
            kind,
            payload,
            qos: QoS::AtMostOnce,
            packet_id: None,
            dup: false,
            retain: false,
        };
        let sent = self.send(&msg)?;
        Ok(sent.request_id.unwrap_or_default())
    }

    /// Answers a direct method (QoS 0, as the original): `status` is any integer the service
    /// caller sees, `payload` a JSON value (or empty).
    pub fn respond_to_method(
        &self,
        request_id: &str,
        status: u32,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let msg = Message {
            kind: MessageKind::MethodResponse {
                request_id: request_id.as_bytes(),
                status,
            },
            payload,
            qos: QoS::AtMostOnce,
            packet_id: None,
            dup: false,
            retain: false,
        };
        self.publish(&msg).map(|_| ())
    }

    /// Sends DISCONNECT and closes. The `Disconnected(Requested)` event is delivered before this
    /// returns (from the worker thread; if called from the handler, right after it returns).
    pub fn disconnect(&self) -> Result<(), hub::State> {
        let generation = {
            let mut link = self.shared.lock();
            if let Err(state) = link.client.disconnect() {
                // Between connections of a reconnecting session, or waiting for its CONNACK.
                drop(link);
                if session::stop(&self.shared, on_worker_of(&self.shared)) {
                    return Ok(());
                }
                return Err(state);
            }
            log::info!(target: LOG_TRANSPORT, "disconnecting");
            let now = self.shared.now_ms();
            // The connection ends either way: a failed write only means the peer sees a reset.
            let _ = net::flush(&mut link, now);
            if let Some(conn) = link.conn.as_mut() {
                conn.tls.send_close_notify();
                let _ = net::flush_tls(conn);
                let _ = conn.tcp.shutdown(Shutdown::Both);
            }
            link.close_requested = true;
            link.generation
        };
        self.wait_finished(generation);
        Ok(())
    }

    /// Closes the connection in any state (connecting, waiting for CONNACK, connected) without
    /// sending DISCONNECT. Like [`HubClient::disconnect`], waits for `Disconnected(Requested)`
    /// unless called from the handler. Does nothing when there is no connection.
    pub fn abort(&self) {
        let generation = {
            let mut link = self.shared.lock();
            if link.session.is_some() {
                drop(link);
                session::stop(&self.shared, on_worker_of(&self.shared));
                return;
            }
            if !link.active {
                return;
            }
            log::info!(target: LOG_TRANSPORT, "aborting the connection");
            link.close_requested = true;
            if let Some(conn) = link.conn.as_mut() {
                let _ = conn.tcp.shutdown(Shutdown::Both);
            } else if let Some(tcp) = link.handshaking.as_ref() {
                // Ends a TCP connect or TLS handshake in progress on the connecting thread.
                let _ = tcp.shutdown(Shutdown::Both);
            }
            link.generation
        };
        self.wait_finished(generation);
    }

    /// Waits until connection `generation` has delivered `Disconnected`, unless this thread is
    /// the worker (which delivers it right after the handler returns).
    fn wait_finished(&self, generation: u64) {
        if on_worker_of(&self.shared) {
            return;
        }
        let mut link = self.shared.lock();
        // The worker marks its connection finished after delivering `Disconnected`; a connection
        // that failed before its worker started is marked finished by `connect()`.
        while link.finished < generation {
            link = self
                .shared
                .finished_cv
                .wait(link)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The next MQTT packet identifier (1..=65535, never 0), as `mqtt_helper_msg_id_get`.
    pub fn next_packet_id(&self) -> u16 {
        self.shared.lock().client.next_packet_id()
    }

    /// The core's connection state.
    pub fn state(&self) -> hub::State {
        self.shared.lock().client.state()
    }

    /// True while a session with automatic reconnect (or SAS renewal) is between connections:
    /// waiting for its backoff deadline or attempting to connect. `disconnect()` stops it.
    pub fn is_reconnecting(&self) -> bool {
        session::is_reconnecting(&self.shared.lock())
    }

    /// QoS 1 messages of the persistent session that wait for their PUBACK.
    pub fn unacknowledged(&self) -> usize {
        self.shared.lock().outbox.as_ref().map_or(0, |o| o.count())
    }

    /// QoS 1 messages the persistent session has re-sent (with DUP) after reconnects so far.
    pub fn resent_messages(&self) -> u64 {
        self.shared.lock().resent
    }
}

impl ConnectConfig {
    /// The compile-time (Kconfig) defaults, overridden by environment variables of the same
    /// names at run time (documented in docs/linux.md).
    pub fn from_config() -> Self {
        config::from_env(&config::SystemEnv)
    }

    /// The compile-time (Kconfig) defaults only, without looking at the environment.
    pub fn kconfig_defaults() -> Self {
        config::kconfig_defaults()
    }

    /// A builder that starts from [`ConnectConfig::kconfig_defaults`].
    pub fn builder() -> ConnectConfigBuilder {
        ConnectConfigBuilder::new(Self::kconfig_defaults())
    }

    /// A builder that starts from this configuration.
    pub fn to_builder(&self) -> ConnectConfigBuilder {
        ConnectConfigBuilder::new(self.clone())
    }
}

impl Credentials {
    /// The PEM files of each security tag in use, primary first.
    pub fn tags(&self) -> Vec<TagFiles> {
        tls::tag_files(self)
    }
}

/// `io::Error` for "the connection is gone".
pub(crate) fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "not connected".to_string())
}
