//! The Zephyr port (feature `zephyr`): the interface of the Linux port's [`HubClient`], without
//! `std` or a heap.
//!
//! * One client per image (the glue starts one worker thread per boot, stack
//!   `CONFIG_MQTT_HELPER_STACK_SIZE`, priority `K_LOWEST_APPLICATION_THREAD_PRIO`).
//! * Buffers are static and sized by Kconfig: transmit `CONFIG_MQTT_HELPER_RX_TX_BUFFER_SIZE`,
//!   receive `CONFIG_MQTT_HELPER_RX_TX_BUFFER_SIZE + CONFIG_MQTT_HELPER_PAYLOAD_BUFFER_LEN`.
//! * [`HubClient::connect`] resolves (`getaddrinfo`, or the static IP), opens a TLS socket
//!   (`TLS_SEC_TAG_LIST` with the primary and secondary tags, `TLS_HOSTNAME`,
//!   `TLS_PEER_VERIFY` required, `TLS_NATIVE` with `CONFIG_MQTT_HELPER_NATIVE_TLS`, `SO_SNDTIMEO`
//!   from `CONFIG_MQTT_HELPER_SEND_TIMEOUT_SEC`), connects (the TLS handshake happens there),
//!   writes CONNECT and hands the socket to the worker, which delivers the events.
//! * Certificates are provisioned once per boot by the glue when
//!   `CONFIG_MQTT_HELPER_PROVISION_CERTIFICATES` is on (before the first connection).
//! * Logging goes to Zephyr's log modules `azure_iot_hub` and `mqtt_helper`; a panic logs and
//!   ends in `k_panic()`.
//!
//! Threading contract (as on Linux): events come from the worker thread; the handler may call
//! [`HubClient::publish`] and [`HubClient::disconnect`]. `disconnect()` called from another
//! thread returns after `Disconnected` was delivered.

use core::ffi::c_int;
use core::fmt;
use core::sync::atomic::{AtomicPtr, Ordering};

pub(crate) use super::{CloseReason, PortEvent};
use crate::config as k;
use crate::hub::{self, Client, Message, Options, MAX_DEVICE_ID_LEN, MAX_HOSTNAME_LEN};

/// Zephyr's types and constants, generated from the build's headers (docs/zephyr.md).
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    missing_docs,
    clippy::all
)]
pub(crate) mod bindings {
    include!(concat!(env!("OUT_DIR"), "/zephyr_bindings.rs"));
}
/// DPS registration over its own socket, on the DPS thread.
#[cfg(feature = "dps")]
pub mod dps;
/// Azure FOTA: the library of `azure_fota.h` (feature `fota`).
#[cfg(feature = "fota")]
pub mod fota;
mod log;
mod net;
#[cfg(not(feature = "zephyr-rust-app"))]
mod panic;
/// The extensions: reconnect, SAS renewal, the persistent session's outbox, model ID.
mod session;
/// Zephyr settings for the DPS assignment.
#[cfg(feature = "dps")]
pub mod settings;
mod sync;
pub(crate) mod sys;
mod worker;

#[cfg(feature = "capi")]
pub(crate) use net::publish;
#[cfg(any(feature = "capi", feature = "dps"))]
pub(crate) use session::RECONNECTS;
pub use session::{Extensions, OUTBOX_SIZE, SAS_TOKEN_MAX};
use sync::StaticBuf;
#[allow(unused_imports)] // KGuard: used by the C API only
pub(crate) use sync::{KGuard, KMutex};

/// Log target of the transport, as the original's log module.
pub(crate) const LOG_TRANSPORT: &str = "mqtt_helper";
/// Log target of the IoT Hub layer.
pub(crate) const LOG_HUB: &str = "azure_iot_hub";

/// The transmit buffer size (`CONFIG_MQTT_HELPER_RX_TX_BUFFER_SIZE`).
pub const TX_BUFFER_SIZE: usize = k::MQTT_HELPER_RX_TX_BUFFER_SIZE;
/// The receive buffer size (`RX_TX_BUFFER_SIZE + PAYLOAD_BUFFER_LEN`).
pub const RX_BUFFER_SIZE: usize =
    k::MQTT_HELPER_RX_TX_BUFFER_SIZE + k::MQTT_HELPER_PAYLOAD_BUFFER_LEN;

/// Security tags of the TLS credentials (provisioned by the glue or by the application).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// `CONFIG_MQTT_HELPER_SEC_TAG`.
    pub sec_tag: i32,
    /// `CONFIG_MQTT_HELPER_SECONDARY_SEC_TAG` (-1: none).
    pub secondary_sec_tag: i32,
}

/// Everything one connection needs. Strings are stored inline (no heap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// IoT Hub host name (DNS, `TLS_HOSTNAME`, MQTT user name).
    pub hostname: heapless::String<MAX_HOSTNAME_LEN>,
    /// Device ID (MQTT client ID).
    pub device_id: heapless::String<MAX_DEVICE_ID_LEN>,
    /// TCP port (`CONFIG_MQTT_HELPER_PORT`).
    pub port: u16,
    /// Connect to this address instead of resolving `hostname`
    /// (`CONFIG_MQTT_HELPER_STATIC_IP_ADDRESS`; empty: resolve).
    pub static_ip: &'static str,
    /// TLS credentials by security tag.
    pub credentials: Credentials,
    /// Protocol options.
    pub options: Options,
    /// `SO_SNDTIMEO` in seconds (`CONFIG_MQTT_HELPER_SEND_TIMEOUT_SEC`), if enabled.
    pub send_timeout_secs: Option<u32>,
    /// TLS on the socket (`CONFIG_AZURE_IOT_HUB_RS_TLS`, default y; n only for tests against a
    /// local plain-TCP broker).
    pub tls: bool,
    /// `TLS_NATIVE` (`CONFIG_MQTT_HELPER_NATIVE_TLS`).
    pub native_tls: bool,
    /// The extensions beyond the original (reconnect, persistent session, model ID, SAS key);
    /// their Kconfig defaults keep the original's behaviour (docs/extensions.md).
    pub extensions: Extensions,
}

/// Why the strings of a [`ConnectConfig`] were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

impl ConnectConfig {
    /// The Kconfig values of this build.
    // Not inlined: built in the caller's slot (no copy of the whole configuration), and one copy
    // for the C API's connect and the DPS connection.
    #[inline(never)]
    pub fn from_config() -> Self {
        // The strings filled in place (no move of two 136-byte strings into the struct).
        let mut cc = ConnectConfig {
            hostname: heapless::String::new(),
            device_id: heapless::String::new(),
            port: k::MQTT_HELPER_PORT,
            static_ip: k::MQTT_HELPER_STATIC_IP_ADDRESS,
            credentials: Credentials {
                sec_tag: k::MQTT_HELPER_SEC_TAG,
                secondary_sec_tag: k::MQTT_HELPER_SECONDARY_SEC_TAG,
            },
            options: kconfig_options(),
            send_timeout_secs: kconfig_send_timeout(),
            tls: k::AZURE_IOT_HUB_RS_TLS,
            native_tls: k::MQTT_HELPER_NATIVE_TLS,
            extensions: Extensions::from_config(),
        };
        // (Constant tests: no call for an empty Kconfig string.)
        if !k::AZURE_IOT_HUB_HOSTNAME.is_empty() {
            let _ = cc.hostname.push_str(k::AZURE_IOT_HUB_HOSTNAME);
        }
        if !k::AZURE_IOT_HUB_DEVICE_ID.is_empty() {
            let _ = cc.device_id.push_str(k::AZURE_IOT_HUB_DEVICE_ID);
        }
        cc
    }

    /// Same as [`ConnectConfig::from_config`] (there is no environment on Zephyr).
    pub fn kconfig_defaults() -> Self {
        Self::from_config()
    }

    /// Sets the host name.
    pub fn set_hostname(&mut self, s: &str) -> Result<(), TooLong> {
        self.hostname.clear();
        self.hostname.push_str(s).map_err(|_| TooLong)
    }

    /// Sets the device ID.
    pub fn set_device_id(&mut self, s: &str) -> Result<(), TooLong> {
        self.device_id.clear();
        self.device_id.push_str(s).map_err(|_| TooLong)
    }
}

/// What a connection reads from its configuration: a [`ConnectConfig`]'s fields, or for the C
/// API and DPS a [`KconfigTarget`], whose values other than its two strings are the Kconfig
/// constants, so that the connect path compiled for it tests none of them at run time (no TLS
/// switch, no second security tag, no send-timeout or `TLS_NATIVE` branch that Kconfig turned
/// off, no 404-byte configuration filled in and read back). Generic, one instance per type a
/// build uses: the Rust API's [`ConnectConfig`] or the C API's [`KconfigTarget`] (with a
/// session that reconnects, the C API connects through a [`ConnectConfig`] too, as its session
/// keeps one: [`CapiTarget`]).
pub(crate) trait Target {
    /// The host name and device ID were found valid before (as `hub::valid_id` finds them):
    /// the core's connect does not check them again.
    const VALID_IDS: bool = false;
    /// The user name, with the model ID, was found to fit the user-name buffer before: the
    /// core's connect does not check it again.
    const USER_NAME_CHECKED: bool = false;
    fn hostname(&self) -> &str;
    fn device_id(&self) -> &str;
    fn port(&self) -> u16;
    fn static_ip(&self) -> &'static str;
    fn credentials(&self) -> Credentials;
    fn options(&self) -> Options;
    fn send_timeout_secs(&self) -> Option<u32>;
    fn tls(&self) -> bool;
    fn native_tls(&self) -> bool;
    fn extensions(&self) -> Extensions;
    /// The configuration a session keeps for its reconnects.
    fn to_config(&self) -> ConnectConfig;
}

impl Target for ConnectConfig {
    fn hostname(&self) -> &str {
        &self.hostname
    }
    fn device_id(&self) -> &str {
        &self.device_id
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn static_ip(&self) -> &'static str {
        self.static_ip
    }
    fn credentials(&self) -> Credentials {
        self.credentials
    }
    fn options(&self) -> Options {
        self.options
    }
    fn send_timeout_secs(&self) -> Option<u32> {
        self.send_timeout_secs
    }
    fn tls(&self) -> bool {
        self.tls
    }
    fn native_tls(&self) -> bool {
        self.native_tls
    }
    fn extensions(&self) -> Extensions {
        self.extensions
    }
    fn to_config(&self) -> ConnectConfig {
        self.clone()
    }
}

/// The C API's connection (and DPS's): the host name and device ID, with every other setting
/// the Kconfig value of [`ConnectConfig::from_config`] as a constant. With the C API's FOTA
/// (features `fota` and `capi`) the twin GET after SUBACK is forced, as the C API asks
/// (nrf-api.md section 4.4); DPS's connection reads no options.
#[cfg_attr(not(any(feature = "capi", feature = "dps")), allow(dead_code))]
pub(crate) struct KconfigTarget {
    pub(crate) hostname: heapless::String<MAX_HOSTNAME_LEN>,
    pub(crate) device_id: heapless::String<MAX_DEVICE_ID_LEN>,
}

impl KconfigTarget {
    /// The Kconfig host name and device ID (empty when Kconfig has none).
    #[cfg(feature = "capi")]
    pub(crate) fn new() -> Self {
        let mut t = KconfigTarget {
            hostname: heapless::String::new(),
            device_id: heapless::String::new(),
        };
        // (Constant tests: no call for an empty Kconfig string.)
        if !k::AZURE_IOT_HUB_HOSTNAME.is_empty() {
            let _ = t.hostname.push_str(k::AZURE_IOT_HUB_HOSTNAME);
        }
        if !k::AZURE_IOT_HUB_DEVICE_ID.is_empty() {
            let _ = t.device_id.push_str(k::AZURE_IOT_HUB_DEVICE_ID);
        }
        t
    }
}

impl Target for KconfigTarget {
    /// The C API checks both before CONNECTING (`connect_config`), or its DPS hook the
    /// assigned ones (present, so not empty; at most 128 bytes, what the strings hold;
    /// `valid_component`); DPS's own connection does not queue a hub CONNECT. Only with DPS,
    /// where `hub::valid_id` is a called function: without, it is inlined, and the core's
    /// repeated checks fold into the C API's while they let the CONNECT encoder's length tests
    /// fold too (skipping them costs 44 B there).
    const VALID_IDS: bool = cfg!(feature = "dps");
    /// The C API checks the user name with the model ID before CONNECTING
    /// (`connect_config`); its DPS hook checks the assigned host name and device ID's without
    /// it, so only when there is no model ID (a Kconfig constant) with DPS. (DPS's own
    /// connection does not queue a hub CONNECT.)
    const USER_NAME_CHECKED: bool =
        cfg!(not(feature = "dps")) || k::AZURE_IOT_HUB_MODEL_ID.is_empty();
    fn hostname(&self) -> &str {
        &self.hostname
    }
    fn device_id(&self) -> &str {
        &self.device_id
    }
    fn port(&self) -> u16 {
        k::MQTT_HELPER_PORT
    }
    fn static_ip(&self) -> &'static str {
        k::MQTT_HELPER_STATIC_IP_ADDRESS
    }
    fn credentials(&self) -> Credentials {
        Credentials {
            sec_tag: k::MQTT_HELPER_SEC_TAG,
            secondary_sec_tag: k::MQTT_HELPER_SECONDARY_SEC_TAG,
        }
    }
    fn options(&self) -> Options {
        kconfig_target_options()
    }
    fn send_timeout_secs(&self) -> Option<u32> {
        kconfig_send_timeout()
    }
    fn tls(&self) -> bool {
        k::AZURE_IOT_HUB_RS_TLS
    }
    fn native_tls(&self) -> bool {
        k::MQTT_HELPER_NATIVE_TLS
    }
    fn extensions(&self) -> Extensions {
        Extensions::from_config()
    }
    fn to_config(&self) -> ConnectConfig {
        let mut cc = ConnectConfig::from_config();
        cc.options = self.options();
        cc.hostname.clone_from(&self.hostname);
        cc.device_id.clone_from(&self.device_id);
        cc
    }
}

/// [`HubClient::connect`] with the C API's [`CapiTarget`]. Without a handle: the link holds
/// the client (`connect_from` refuses while a connection is active).
#[cfg(feature = "capi")]
pub(crate) fn connect_capi(target: &CapiTarget) -> Result<(), ConnectError> {
    net::connect(target)
}

/// [`HubClient::disconnect`].
pub(crate) fn disconnect() -> Result<(), hub::State> {
    disconnect_locked(LINK.lock(), |_| {})
}

/// [`disconnect`] with the link already locked (for the C API, which changes its state under
/// the same lock and disconnects only a client that connected: the link holds the client),
/// which it releases before it waits. When the client refuses (and no session was stopped
/// instead), `refused` runs under the lock before it is released: in a build that does not
/// reconnect (a constant) that is the lock the caller took.
pub(crate) fn disconnect_locked(
    mut link: KGuard<'static, Link, { sys::MUTEX_LINK }>,
    refused: impl FnOnce(&mut Link),
) -> Result<(), hub::State> {
    if let Err(state) = link.client.get_mut().disconnect() {
        if session::RECONNECTS {
            drop(link);
            if session::stop() {
                return Ok(());
            }
            link = LINK.lock();
        }
        refused(&mut link);
        return Err(state);
    }
    ::log::info!(target: LOG_TRANSPORT, "disconnecting");
    let _ = net::flush(&mut link, sys::now_ms());
    link.close_requested = true;
    // Also when the connection is lost at the same moment: no reconnect after this.
    session::mark_stopped(&mut link);
    let generation = link.generation;
    drop(link);
    wait_finished(generation);
    Ok(())
}

/// What the C API connects with: a [`KconfigTarget`], or with a session that reconnects
/// (which keeps a [`ConnectConfig`] for its attempts) the [`ConnectConfig`] itself, so that
/// such a build has one connect path and converts nothing. Chosen at build time
/// ([`RECONNECTS`] is a Kconfig constant).
#[cfg(feature = "capi")]
pub(crate) type CapiTarget = <CapiPick<{ RECONNECTS }> as CapiTargetOf>::T;

/// The [`CapiTarget`] of a build that reconnects (`true`) or not.
#[cfg(feature = "capi")]
pub(crate) struct CapiPick<const RECONNECTS: bool>;

/// See [`CapiTarget`].
#[cfg(feature = "capi")]
pub(crate) trait CapiTargetOf {
    type T: Target;
    /// The Kconfig host name and device ID, with every other setting from Kconfig (with the
    /// C API's FOTA, the twin GET forced).
    fn kconfig() -> Self::T;
}

#[cfg(feature = "capi")]
impl CapiTargetOf for CapiPick<false> {
    type T = KconfigTarget;
    fn kconfig() -> KconfigTarget {
        KconfigTarget::new()
    }
}

#[cfg(feature = "capi")]
impl CapiTargetOf for CapiPick<true> {
    type T = ConnectConfig;
    /// What [`Target::to_config`] makes of [`KconfigTarget::new`].
    fn kconfig() -> ConnectConfig {
        let mut cc = ConnectConfig::from_config();
        cc.options = kconfig_target_options();
        cc
    }
}

/// The options of the C API's (and DPS's) connection: Kconfig's, with the C API's FOTA
/// (features `fota` and `capi`) forcing the twin GET after SUBACK (nrf-api.md section 4.4).
/// One rule for both forms of [`CapiTarget`].
#[cfg_attr(not(any(feature = "capi", feature = "dps")), allow(dead_code))]
fn kconfig_target_options() -> Options {
    let mut o = kconfig_options();
    o.auto_twin_request |= cfg!(all(feature = "fota", feature = "capi"));
    o
}

/// `SO_SNDTIMEO` from Kconfig, if enabled.
fn kconfig_send_timeout() -> Option<u32> {
    k::MQTT_HELPER_SEND_TIMEOUT
        .then(|| u32::try_from(k::MQTT_HELPER_SEND_TIMEOUT_SEC).unwrap_or(u32::MAX))
}

/// The protocol options from Kconfig.
pub(crate) fn kconfig_options() -> Options {
    Options {
        keep_alive_secs: k::MQTT_KEEPALIVE,
        clean_session: k::MQTT_CLEAN_SESSION,
        auto_twin_request: k::AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST,
        topic_max_len: k::AZURE_IOT_HUB_TOPIC_MAX_LEN,
        property_buffer_size: k::AZURE_IOT_HUB_MSG_PROPERTY_BUFFER_SIZE,
        user_name_buf_size: k::AZURE_IOT_HUB_USER_NAME_BUF_SIZE,
    }
}

/// Why a connection could not be set up. Numbers are positive errno values of this Zephyr
/// build, as the socket calls reported them.
// `repr(u8)`: the C API's `Error` starts with the same variants in the same order and layout,
// so converting one into the other is a copy (capi/error.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnectError {
    /// Host name or device ID invalid, or the user name too long.
    InvalidConfig(hub::ConnectError),
    /// Resolution failed: the glue's code (a negated `DNS_EAI_*` code, or a negative errno),
    /// as the original's `mqtt_helper` reports it.
    Dns(i32),
    /// Socket creation, options or connect failed (errno). With TLS, the handshake happens in
    /// connect, so its failures are here too.
    Tcp(i32),
    /// Setting a TLS option failed (errno).
    Tls(i32),
    /// A client is already connecting or connected, or the port is not initialised.
    Busy,
    /// A DPS registration holds the receive buffer the hub's connections share with it (builds
    /// with DPS): try again once it has ended. The reconnect loop counts it as a failed attempt.
    #[cfg(feature = "dps")]
    ReceiveBufferInUse,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::InvalidConfig(e) => write!(f, "invalid configuration: {e:?}"),
            ConnectError::Dns(e) => write!(f, "DNS resolution failed: {e}"),
            ConnectError::Tcp(e) => write!(f, "connection failed: errno {e}"),
            ConnectError::Tls(e) => write!(f, "TLS setup failed: errno {e}"),
            ConnectError::Busy => f.write_str("already connecting or connected"),
            #[cfg(feature = "dps")]
            ConnectError::ReceiveBufferInUse => {
                f.write_str("a DPS registration holds the receive buffer")
            }
        }
    }
}

/// Why a publish failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The core refused the message (not connected, invalid, too long...).
    Publish(hub::PublishError),
    /// Writing to the socket failed (errno); the connection is being torn down.
    Io(i32),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Publish(e) => write!(f, "publish refused: {e:?}"),
            SendError::Io(e) => write!(f, "send failed: errno {e}"),
        }
    }
}

/// The handler: called on the worker thread.
pub type Handler = fn(&HubClient, &PortEvent<'_>);

/// The client, once [`HubClient::new`] set it up (then for good). It starts as zero bytes,
/// which are a valid `Client<TxBuf>` (integers, flags, byte arrays, enums whose first variant
/// is 0, and the transmit buffer a handle with no fields; the compiler checks it when it
/// evaluates `LINK`: zero-initialising a type that does not allow it fails the build), so that
/// `LINK` lives in `.bss` (RAM only) rather than `.data` (RAM and a flash copy of its bytes),
/// and `HubClient::new` sets only the closed state's values that are not zero
/// (`handle_closed`, through `net::close_link`) instead of writing the whole client. No flag of its own
/// (8 bytes of RAM with the padding): the client is set up exactly when `TX` was claimed, since
/// `HubClient::new` claims `TX` (nothing else does) and sets the client up right after, holding
/// the `LINK` lock, which every user of the slot holds. The methods are those of `Option` that
/// the port uses, and [`ClientSlot::get_mut`].
pub(crate) struct ClientSlot(Client<TxBuf>);

impl ClientSlot {
    const fn zeroed() -> Self {
        // SAFETY: zero bytes are a valid `Client<TxBuf>` (see above; checked by the compiler,
        // which evaluates this for the static `LINK`).
        ClientSlot(unsafe { core::mem::zeroed() })
    }

    pub(crate) fn is_some(&self) -> bool {
        TX.is_taken()
    }

    pub(crate) fn as_ref(&self) -> Option<&Client<TxBuf>> {
        self.is_some().then_some(&self.0)
    }

    pub(crate) fn as_mut(&mut self) -> Option<&mut Client<TxBuf>> {
        self.is_some().then_some(&mut self.0)
    }

    /// The client, without the check of [`ClientSlot::as_mut`], for the code that runs only
    /// once a [`HubClient`] exists: its methods and what they start (the connection's flush and
    /// close, the worker). A handle is made only by `HubClient::new`, after it set the client
    /// up, or by `HubClient::get` once `TX` is claimed. (Reached earlier it would be the zero
    /// client: a valid one, disconnected.)
    pub(crate) fn get_mut(&mut self) -> &mut Client<TxBuf> {
        &mut self.0
    }
}

/// The connection state shared by the application threads and the worker.
pub(crate) struct Link {
    pub(crate) client: ClientSlot,
    /// The socket while a connection is up (-1: none; 0 in the static until
    /// [`HubClient::new`], before which nothing reads it).
    pub(crate) fd: c_int,
    pub(crate) active: bool,
    pub(crate) close_requested: bool,
    pub(crate) broken: bool,
    pub(crate) generation: u64,
    pub(crate) finished: u64,
    /// Reconnect, SAS renewal, the outbox (`session.rs`).
    pub(crate) ext: session::ExtState,
    /// The receive buffer `connect()` borrowed for the worker (builds with DPS).
    #[cfg(feature = "dps")]
    pub(crate) rx: Option<RxBuf>,
    /// The C API's state (`capi::platform::state`): under this lock too, so that the C API
    /// needs no mutex of its own, and checks its state and reaches the client in one critical
    /// section where it does both. Never locked while the handler runs, as the state's own lock
    /// was not (the worker drops the link lock before it delivers an event).
    #[cfg(feature = "capi")]
    pub(crate) capi_state: crate::capi::types::iot_hub_state,
}

pub(crate) static LINK: KMutex<Link, { sys::MUTEX_LINK }> = KMutex::new(Link {
    client: ClientSlot::zeroed(),
    fd: 0,
    active: false,
    close_requested: false,
    broken: false,
    generation: 0,
    finished: 0,
    ext: session::ExtState::new(),
    #[cfg(feature = "dps")]
    rx: None,
    #[cfg(feature = "capi")]
    capi_state: crate::capi::types::iot_hub_state::STATE_UNINIT,
});

/// The handler, as a function pointer (null: none). Not behind a lock, so the handler
/// itself may register another one.
static HANDLER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// The registered handler.
pub(crate) fn handler() -> Option<Handler> {
    let p = HANDLER.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null value was stored by `HubClient::new` from a valid `Handler`, and
    // function pointers and data pointers have the same size on every Zephyr target.
    Some(unsafe { core::mem::transmute::<*mut (), Handler>(p) })
}

static TX: StaticBuf<TX_BUFFER_SIZE> = StaticBuf::new();

/// The transmit buffer as the client holds it: a handle with no fields, the one in `LINK`'s
/// client (never made otherwise), used only once `HubClient::new` claimed `TX` (see
/// `ClientSlot`), so that the client's code reaches the buffer at a constant address with a
/// constant length instead of through a stored pointer and length.
pub(crate) struct TxBuf(());

impl AsRef<[u8]> for TxBuf {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the only `TxBuf` is the client's, reached only after `TX` was claimed (and
        // nothing else reaches the buffer), and the reference lives no longer than this borrow
        // of it.
        unsafe { &*TX.ptr() }
    }
}

impl AsMut<[u8]> for TxBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_ref`; the exclusive borrow of the only handle makes this the only
        // reference to the buffer while it lives.
        unsafe { &mut *TX.ptr() }
    }
}

/// The receive buffer's length: one byte more than a packet may take, because the framer
/// writes a NUL after each body there, so the C API hands payloads to C as strings without
/// copying them.
const RX_LEN: usize = RX_BUFFER_SIZE + 1;
/// The receive buffer, the worker's for good (reached through its pointer: `azhub_rs_worker`).
#[cfg(not(feature = "dps"))]
pub(crate) static RX: StaticBuf<RX_LEN> = StaticBuf::new();
/// With DPS, the receive buffer is lent: to a hub connection by `connect()` (the worker gives
/// it back when the connection ends, before `Disconnected`), or to a DPS registration by its
/// start (given back before the registration's end is reported). One is refused while the
/// other runs, as the original's hub and DPS share the MQTT helper.
#[cfg(feature = "dps")]
pub(crate) static RX: sync::LentBuf<RX_LEN> = sync::LentBuf::new();

/// What the connection's framer reads into: the buffer taken once, or lent (builds with DPS).
#[cfg(not(feature = "dps"))]
pub(crate) type RxBuf = &'static mut [u8];
#[cfg(feature = "dps")]
pub(crate) type RxBuf = sync::Lent<RX_LEN>;

/// The receive buffer for a new hub connection, for the worker (`hand_rx`): with DPS, lent
/// unless a registration holds it; without, the worker's own, so there is nothing to hand over.
#[cfg(feature = "dps")]
fn lend_rx() -> Result<RxBuf, ConnectError> {
    RX.lend().ok_or(ConnectError::ReceiveBufferInUse)
}
#[cfg(not(feature = "dps"))]
fn lend_rx() -> Result<OwnRx, ConnectError> {
    Ok(OwnRx)
}

/// Without DPS, what [`lend_rx`] hands over: nothing (the worker has the buffer for good).
#[cfg(not(feature = "dps"))]
struct OwnRx;

/// Leaves what [`lend_rx`] returned for the worker, which takes it when it wakes.
#[cfg(feature = "dps")]
fn hand_rx(link: &mut Link, rx: RxBuf) {
    link.rx = Some(rx);
}
#[cfg(not(feature = "dps"))]
fn hand_rx(_link: &mut Link, _rx: OwnRx) {}

/// Why [`HubClient::new`] failed: the interface of the Linux port's; on Zephyr it does not fail
/// (its only step that could, starting the worker thread, cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartError(pub i32);

/// Sets the port up on its first call (buffers, logging, certificates, the worker thread) and
/// (re)sets the handler, under the link lock the caller holds: [`HubClient::new`], and the C
/// API's init, which checks and changes its state under the same lock.
pub(crate) fn init_locked(link: &mut Link, handler: Handler) {
    // The first call claims TX (nothing else does, and it does so under this lock) and sets the
    // port up; later calls find it claimed.
    if TX.claim() {
        log::init();
        // Right after claiming TX, under the lock (see `ClientSlot`): the zero client
        // in the closed state's values, as `Client::new` makes it (which sets every other
        // field to 0). Its options stay zero until the first connect: the port's
        // connect sets them (`session::connect_client`) before `Client::connect`, and
        // nothing reads them while disconnected. Through `close_link` (called, one
        // copy), which with no socket yet (-1) only sets those values and the flags
        // (which are already false).
        link.fd = -1;
        net::close_link(link);
        session::init(link);
        if k::MQTT_HELPER_PROVISION_CERTIFICATES {
            // SAFETY: no preconditions; idempotent.
            let rc = unsafe { sys::azhub_z_provision_certificates() };
            if rc != 0 {
                ::log::error!(target: LOG_TRANSPORT, "certificate provisioning failed: {rc}");
            }
        }
        // k_thread_create() cannot fail, and this runs once per boot: nothing to
        // handle. The glue starts `worker::azhub_rs_worker`.
        // SAFETY: no preconditions (called once, as the glue's contract asks).
        unsafe { sys::azhub_z_thread_start() };
    }
    HANDLER.store(handler as *mut (), Ordering::Release);
}

/// The device client of this image (a handle; all handles drive the one connection).
#[derive(Debug, Clone, Copy)]
pub struct HubClient {
    _private: (),
}

impl HubClient {
    /// Initialises the port on first use (buffers, logging, certificates, the worker thread) and
    /// (re)sets the handler. Later calls only replace the handler.
    pub fn new(handler: Handler) -> Result<HubClient, StartError> {
        init_locked(&mut LINK.lock(), handler);
        Ok(HubClient { _private: () })
    }

    /// The client, if [`HubClient::new`] has run. Without the link lock: the handle only says
    /// that the client exists (`TX` claimed, for good), and every method locks the link and reaches
    /// the client through it, which orders it after `new`'s write (see `ClientSlot`).
    pub fn get() -> Option<HubClient> {
        TX.is_taken().then_some(HubClient { _private: () })
    }

    /// Resolves, connects (with the TLS handshake) and writes CONNECT, then returns; CONNACK and
    /// everything after arrive as events on the worker thread.
    pub fn connect(&self, config: &ConnectConfig) -> Result<(), ConnectError> {
        net::connect(config)
    }

    /// Publishes; blocks until the bytes are handed to the socket. Returns the packet ID.
    pub fn publish(&self, msg: &Message<'_>) -> Result<u16, SendError> {
        net::publish(msg)
    }

    /// Sends DISCONNECT and closes. `Disconnected(Requested)` is delivered before this returns
    /// (if called from the handler: right after the handler returns). While the library
    /// reconnects (between connections, or waiting for CONNACK), stops it the same way.
    pub fn disconnect(&self) -> Result<(), hub::State> {
        disconnect()
    }

    /// Closes the connection in any state after connect() returned, without DISCONNECT; also
    /// stops a session that reconnects.
    pub fn abort(&self) {
        if session::stop() {
            return;
        }
        let generation = {
            let mut link = LINK.lock();
            if !link.active {
                return;
            }
            link.close_requested = true;
            link.generation
        };
        wait_finished(generation);
    }

    /// The next MQTT packet identifier (1..=65535).
    pub fn next_packet_id(&self) -> u16 {
        // A handle exists only once the client does (see `ClientSlot::get_mut`).
        LINK.lock().client.get_mut().next_packet_id()
    }

    /// True while a session with automatic reconnect (or SAS renewal) is between connections:
    /// waiting for its backoff deadline or attempting to connect. `disconnect()` stops it.
    pub fn is_reconnecting(&self) -> bool {
        session::is_reconnecting(&LINK.lock())
    }

    /// QoS 1 messages of the persistent session that wait for their PUBACK.
    pub fn unacknowledged(&self) -> usize {
        session::unacknowledged(&LINK.lock())
    }

    /// QoS 1 messages the persistent session has re-sent (with DUP) after reconnects so far.
    pub fn resent_messages(&self) -> u32 {
        session::resent(&LINK.lock())
    }

    /// The core's connection state.
    pub fn state(&self) -> hub::State {
        LINK.lock()
            .client
            .as_ref()
            .map_or(hub::State::Disconnected, Client::state)
    }
}

/// Waits until connection `generation` delivered `Disconnected`, unless called on the worker.
fn wait_finished(generation: u64) {
    // SAFETY: compares k_current_get() with the glue's worker thread.
    if unsafe { sys::azhub_z_on_worker() } {
        return;
    }
    loop {
        if LINK.lock().finished >= generation {
            return;
        }
        // Bounded wait: several threads may wait, and the semaphore has a limit of 1.
        // SAFETY: a glue semaphore id.
        unsafe { sys::azhub_z_sem_take(sys::SEM_FINISHED, sys::ms_to_ticks(50)) };
    }
}
