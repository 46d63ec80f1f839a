//! [`ConnectConfig`] from the Kconfig constants, the environment, or a builder.

use std::path::PathBuf;
use std::string::{String, ToString};
use std::time::Duration;

use super::{ConnectConfig, Credentials, LOG_TRANSPORT};
use crate::config as k;
use crate::hub::Options;

/// Where run-time overrides come from (the process environment, or a map in tests).
pub(crate) trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// A fixed environment, for tests.
#[cfg(test)]
pub(crate) struct MapEnv(pub std::collections::HashMap<&'static str, &'static str>);

#[cfg(test)]
impl Env for MapEnv {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|s| String::from(*s))
    }
}

/// The process environment.
pub(crate) struct SystemEnv;

impl Env for SystemEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// The protocol options of the Kconfig constants.
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

pub(crate) fn kconfig_defaults() -> ConnectConfig {
    ConnectConfig {
        hostname: k::AZURE_IOT_HUB_HOSTNAME.to_string(),
        device_id: k::AZURE_IOT_HUB_DEVICE_ID.to_string(),
        port: k::MQTT_HELPER_PORT,
        static_ip: non_empty(k::MQTT_HELPER_STATIC_IP_ADDRESS),
        credentials: Credentials {
            folder: PathBuf::from(k::MQTT_HELPER_CERTIFICATES_FOLDER),
            sec_tag: k::MQTT_HELPER_SEC_TAG,
            secondary_sec_tag: k::MQTT_HELPER_SECONDARY_SEC_TAG,
        },
        options: kconfig_options(),
        rx_buffer_size: k::MQTT_HELPER_RX_TX_BUFFER_SIZE + k::MQTT_HELPER_PAYLOAD_BUFFER_LEN,
        tx_buffer_size: k::MQTT_HELPER_RX_TX_BUFFER_SIZE,
        send_timeout_secs: send_timeout(
            k::MQTT_HELPER_SEND_TIMEOUT,
            k::MQTT_HELPER_SEND_TIMEOUT_SEC,
        ),
        password: None,
        extensions: super::Extensions::kconfig_defaults(),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn send_timeout(enabled: bool, secs: usize) -> Option<u32> {
    enabled.then(|| u32::try_from(secs).unwrap_or(u32::MAX))
}

/// Reads `CONFIG_<name>` and parses it; a value that does not parse is logged and ignored.
pub(crate) fn var<T>(env: &dyn Env, name: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    let key = ["CONFIG_", name].concat();
    let raw = env.get(&key)?;
    let value = parse(raw.trim());
    if value.is_none() {
        log::warn!(target: LOG_TRANSPORT, "ignoring {key}={raw:?}: not a valid value");
    }
    value
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "1" | "true" | "yes" => Some(true),
        "n" | "N" | "0" | "false" | "no" | "" => Some(false),
        _ => None,
    }
}

/// Kconfig strings may be written quoted, as in a `.config` file.
pub(crate) fn parse_str(s: &str) -> Option<String> {
    let s = match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => s.to_string(),
    };
    Some(s)
}

pub(crate) fn from_env(env: &dyn Env) -> ConnectConfig {
    let mut c = kconfig_defaults();
    let num = |s: &str| s.parse::<usize>().ok();
    if let Some(v) = var(env, "AZURE_IOT_HUB_HOSTNAME", parse_str) {
        c.hostname = v;
    }
    if let Some(v) = var(env, "AZURE_IOT_HUB_DEVICE_ID", parse_str) {
        c.device_id = v;
    }
    if let Some(v) = var(env, "MQTT_HELPER_PORT", |s| s.parse().ok()) {
        c.port = v;
    }
    if let Some(v) = var(env, "MQTT_HELPER_STATIC_IP_ADDRESS", parse_str) {
        c.static_ip = non_empty(&v);
    }
    if let Some(v) = var(env, "MQTT_HELPER_SEC_TAG", |s| s.parse().ok()) {
        c.credentials.sec_tag = v;
    }
    if let Some(v) = var(env, "MQTT_HELPER_SECONDARY_SEC_TAG", |s| s.parse().ok()) {
        c.credentials.secondary_sec_tag = v;
    }
    if let Some(v) = var(env, "MQTT_HELPER_CERTIFICATES_FOLDER", parse_str) {
        c.credentials.folder = PathBuf::from(v);
    }
    let rx_tx =
        var(env, "MQTT_HELPER_RX_TX_BUFFER_SIZE", num).unwrap_or(k::MQTT_HELPER_RX_TX_BUFFER_SIZE);
    let payload = var(env, "MQTT_HELPER_PAYLOAD_BUFFER_LEN", num)
        .unwrap_or(k::MQTT_HELPER_PAYLOAD_BUFFER_LEN);
    c.rx_buffer_size = rx_tx + payload;
    c.tx_buffer_size = rx_tx;
    let timeout_on =
        var(env, "MQTT_HELPER_SEND_TIMEOUT", parse_bool).unwrap_or(k::MQTT_HELPER_SEND_TIMEOUT);
    let timeout_secs =
        var(env, "MQTT_HELPER_SEND_TIMEOUT_SEC", num).unwrap_or(k::MQTT_HELPER_SEND_TIMEOUT_SEC);
    c.send_timeout_secs = send_timeout(timeout_on, timeout_secs);
    let o = &mut c.options;
    if let Some(v) = var(env, "MQTT_KEEPALIVE", |s| s.parse().ok()) {
        o.keep_alive_secs = v;
    }
    if let Some(v) = var(env, "MQTT_CLEAN_SESSION", parse_bool) {
        o.clean_session = v;
    }
    if let Some(v) = var(env, "AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST", parse_bool) {
        o.auto_twin_request = v;
    }
    if let Some(v) = var(env, "AZURE_IOT_HUB_TOPIC_MAX_LEN", num) {
        o.topic_max_len = v;
    }
    if let Some(v) = var(env, "AZURE_IOT_HUB_MSG_PROPERTY_BUFFER_SIZE", num) {
        o.property_buffer_size = v;
    }
    if let Some(v) = var(env, "AZURE_IOT_HUB_USER_NAME_BUF_SIZE", num) {
        o.user_name_buf_size = v;
    }
    c.extensions.apply_env(env);
    c
}

/// Builds a [`ConnectConfig`] step by step, from [`ConnectConfig::kconfig_defaults`] (see
/// [`ConnectConfig::builder`]) or from an existing configuration ([`ConnectConfig::to_builder`]).
///
/// ```
/// use azure_iot_hub::port::ConnectConfig;
/// let config = ConnectConfig::builder()
///     .hostname("my-hub.azure-devices.net")
///     .device_id("my-device")
///     .certificates("/etc/my-device/certs")
///     .keep_alive(1767)
///     .build();
/// assert_eq!(config.port, 8883);
/// assert_eq!(config.options.keep_alive_secs, 1767);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ConnectConfigBuilder {
    config: ConnectConfig,
}

impl ConnectConfigBuilder {
    pub(crate) fn new(config: ConnectConfig) -> Self {
        ConnectConfigBuilder { config }
    }

    /// The IoT Hub host name (DNS, TLS server name, MQTT user name).
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.config.hostname = hostname.into();
        self
    }

    /// The device ID (MQTT client ID; the certificate's CN for X.509 CA authentication).
    pub fn device_id(mut self, device_id: impl Into<String>) -> Self {
        self.config.device_id = device_id.into();
        self
    }

    /// The TCP port (8883 by default).
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Connects to this address instead of resolving the host name; the server certificate is
    /// still checked against the host name.
    pub fn static_ip(mut self, address: impl Into<String>) -> Self {
        self.config.static_ip = non_empty(&address.into());
        self
    }

    /// The certificates folder (`ca-cert.pem`, `client-cert.pem`, `private-key.pem`, and the
    /// `-2` files of the secondary tag).
    pub fn certificates(mut self, folder: impl Into<PathBuf>) -> Self {
        self.config.credentials.folder = folder.into();
        self
    }

    /// The primary and secondary security tags (-1: none).
    pub fn sec_tags(mut self, primary: i32, secondary: i32) -> Self {
        self.config.credentials.sec_tag = primary;
        self.config.credentials.secondary_sec_tag = secondary;
        self
    }

    /// The whole protocol options.
    pub fn options(mut self, options: Options) -> Self {
        self.config.options = options;
        self
    }

    /// MQTT keep-alive in seconds (0: off).
    pub fn keep_alive(mut self, secs: u16) -> Self {
        self.config.options.keep_alive_secs = secs;
        self
    }

    /// The CONNECT clean-session flag.
    pub fn clean_session(mut self, clean: bool) -> Self {
        self.config.options.clean_session = clean;
        self
    }

    /// Whether the twin is requested automatically once the subscriptions are acknowledged.
    pub fn auto_twin_request(mut self, on: bool) -> Self {
        self.config.options.auto_twin_request = on;
        self
    }

    /// Receive buffer size: the largest incoming packet; larger ones come as `MessageTooLarge`.
    pub fn rx_buffer_size(mut self, bytes: usize) -> Self {
        self.config.rx_buffer_size = bytes;
        self
    }

    /// Transmit queue size: must hold CONNECT and a publish header.
    pub fn tx_buffer_size(mut self, bytes: usize) -> Self {
        self.config.tx_buffer_size = bytes;
        self
    }

    /// Socket send timeout (whole seconds, rounded up; `None`: wait forever).
    pub fn send_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.send_timeout_secs = timeout.map(|t| {
            let secs = t.as_secs() + u64::from(t.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        });
        self
    }

    /// A SAS token as the MQTT password (the client certificate becomes optional).
    pub fn sas_token(mut self, token: impl Into<String>) -> Self {
        self.config.password = Some(token.into());
        self
    }

    /// Reconnects automatically after a lost connection, with this backoff (an extension; off
    /// by default, as the original).
    pub fn auto_reconnect(mut self, backoff: crate::backoff::BackoffConfig) -> Self {
        self.config.extensions.reconnect.enabled = true;
        self.config.extensions.reconnect.backoff = backoff;
        self
    }

    /// A persistent session (clean session 0, C2D with QoS 1) whose QoS 1 messages are kept in an
    /// outbox of `queue_bytes` until PUBACK and re-sent with DUP after a reconnect.
    pub fn persistent_session(mut self, queue_bytes: usize) -> Self {
        self.config.extensions.persistent_session = true;
        self.config.extensions.qos1_queue_size = queue_bytes;
        self
    }

    /// The IoT Plug and Play model ID (for example `dtmi:com:example:Thermostat;1`), sent
    /// URL-encoded as `&model-id=` in the user name.
    pub fn model_id(mut self, dtmi: impl Into<String>) -> Self {
        self.config.extensions.model_id = non_empty(&dtmi.into());
        self
    }

    /// SAS authentication with the device's symmetric key (base64): a token valid for
    /// `validity_secs` is made at every connect and renewed (by reconnecting) after 80 % of it.
    pub fn sas_key(mut self, key_base64: impl Into<String>, validity_secs: u32) -> Self {
        self.config.extensions.sas_key = non_empty(&key_base64.into());
        self.config.extensions.sas_validity_secs = validity_secs.max(2);
        self
    }

    /// The configuration.
    pub fn build(self) -> ConnectConfig {
        self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_are_kconfig() {
        let c = from_env(&MapEnv(HashMap::new()));
        assert_eq!(c, kconfig_defaults());
        assert_eq!(c.port, k::MQTT_HELPER_PORT);
        assert_eq!(
            c.rx_buffer_size,
            k::MQTT_HELPER_RX_TX_BUFFER_SIZE + k::MQTT_HELPER_PAYLOAD_BUFFER_LEN
        );
        assert_eq!(
            c.credentials.folder,
            PathBuf::from(k::MQTT_HELPER_CERTIFICATES_FOLDER)
        );
    }

    #[test]
    fn environment_overrides() {
        let env = MapEnv(HashMap::from([
            ("CONFIG_AZURE_IOT_HUB_HOSTNAME", "\"localhost\""),
            ("CONFIG_AZURE_IOT_HUB_DEVICE_ID", "dev-1"),
            ("CONFIG_MQTT_HELPER_PORT", "18883"),
            ("CONFIG_MQTT_HELPER_STATIC_IP_ADDRESS", "127.0.0.1"),
            ("CONFIG_MQTT_HELPER_SEC_TAG", "42"),
            ("CONFIG_MQTT_HELPER_SECONDARY_SEC_TAG", "43"),
            ("CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER", "/tmp/certs"),
            ("CONFIG_MQTT_HELPER_RX_TX_BUFFER_SIZE", "512"),
            ("CONFIG_MQTT_HELPER_PAYLOAD_BUFFER_LEN", "1024"),
            ("CONFIG_MQTT_HELPER_SEND_TIMEOUT", "n"),
            ("CONFIG_MQTT_KEEPALIVE", "1767"),
            ("CONFIG_MQTT_CLEAN_SESSION", "n"),
            ("CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST", "n"),
            ("CONFIG_AZURE_IOT_HUB_TOPIC_MAX_LEN", "200"),
            ("CONFIG_AZURE_IOT_HUB_MSG_PROPERTY_BUFFER_SIZE", "256"),
            ("CONFIG_AZURE_IOT_HUB_USER_NAME_BUF_SIZE", "300"),
        ]));
        let c = from_env(&env);
        assert_eq!(c.hostname, "localhost");
        assert_eq!(c.device_id, "dev-1");
        assert_eq!(c.port, 18883);
        assert_eq!(c.static_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            c.credentials,
            Credentials {
                folder: "/tmp/certs".into(),
                sec_tag: 42,
                secondary_sec_tag: 43
            }
        );
        assert_eq!((c.rx_buffer_size, c.tx_buffer_size), (1536, 512));
        assert_eq!(c.send_timeout_secs, None);
        assert_eq!(
            c.options,
            Options {
                keep_alive_secs: 1767,
                clean_session: false,
                auto_twin_request: false,
                topic_max_len: 200,
                property_buffer_size: 256,
                user_name_buf_size: 300,
            }
        );
    }

    #[test]
    fn bad_values_are_ignored() {
        let env = MapEnv(HashMap::from([
            ("CONFIG_MQTT_HELPER_PORT", "99999"),
            ("CONFIG_MQTT_CLEAN_SESSION", "maybe"),
            ("CONFIG_MQTT_HELPER_SEND_TIMEOUT_SEC", "7"),
        ]));
        let c = from_env(&env);
        assert_eq!(c.port, k::MQTT_HELPER_PORT);
        assert_eq!(c.options.clean_session, k::MQTT_CLEAN_SESSION);
        assert_eq!(
            c.send_timeout_secs,
            k::MQTT_HELPER_SEND_TIMEOUT.then_some(7)
        );
    }

    #[test]
    fn builder_sets_fields() {
        let c = ConnectConfig::builder()
            .hostname("h")
            .device_id("d")
            .port(1)
            .static_ip("10.0.0.1")
            .certificates("/c")
            .sec_tags(5, 6)
            .keep_alive(2)
            .clean_session(false)
            .auto_twin_request(false)
            .rx_buffer_size(100)
            .tx_buffer_size(50)
            .send_timeout(Some(Duration::from_millis(1500)))
            .sas_token("sig")
            .build();
        assert_eq!(
            (c.hostname.as_str(), c.device_id.as_str(), c.port),
            ("h", "d", 1)
        );
        assert_eq!(c.static_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(
            c.credentials,
            Credentials {
                folder: "/c".into(),
                sec_tag: 5,
                secondary_sec_tag: 6
            }
        );
        assert_eq!(
            (
                c.options.keep_alive_secs,
                c.options.clean_session,
                c.options.auto_twin_request
            ),
            (2, false, false)
        );
        assert_eq!(
            (c.rx_buffer_size, c.tx_buffer_size, c.send_timeout_secs),
            (100, 50, Some(2))
        );
        assert_eq!(c.password.as_deref(), Some("sig"));
        assert_eq!(c.to_builder().static_ip("").build().static_ip, None);
    }
}
