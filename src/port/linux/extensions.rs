//! The extensions beyond the original, as the port configures them: automatic reconnect,
//! persistent session with a QoS 1 outbox, IoT Plug and Play model ID, SAS tokens from a device
//! key. Each default keeps the original's behaviour (docs/extensions.md).

use std::format;
use std::hash::{BuildHasher, Hasher};
use std::string::{String, ToString};
use std::time::{SystemTime, UNIX_EPOCH};
use std::vec;

use super::config::{parse_bool, parse_str, var, Env};
use crate::backoff::BackoffConfig;
use crate::config as k;
use crate::hub::reconnect::ReconnectConfig;
use crate::sas;

/// The extensions' settings ([`super::ConnectConfig::extensions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extensions {
    /// Automatic reconnect (`CONFIG_AZURE_IOT_HUB_AUTO_RECONNECT`, `_RECONNECT_BACKOFF_MIN_MS`,
    /// `_RECONNECT_BACKOFF_MAX_MS`, `_RECONNECT_JITTER_MS`). Off by default.
    pub reconnect: ReconnectConfig,
    /// Persistent session (`CONFIG_AZURE_IOT_HUB_PERSISTENT_SESSION`): clean session 0, C2D
    /// subscribed with QoS 1, QoS 1 messages kept until PUBACK and re-sent with DUP.
    pub persistent_session: bool,
    /// Bytes for unacknowledged QoS 1 messages (`CONFIG_AZURE_IOT_HUB_QOS1_QUEUE_SIZE`).
    pub qos1_queue_size: usize,
    /// IoT Plug and Play model ID, not encoded (`CONFIG_AZURE_IOT_HUB_MODEL_ID`).
    pub model_id: Option<String>,
    /// The device's symmetric key, base64 (`CONFIG_AZURE_IOT_HUB_SAS_KEY`): SAS tokens are made
    /// from it at every connect and renewed by reconnecting.
    pub sas_key: Option<String>,
    /// Lifetime of each token (`CONFIG_AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC`).
    pub sas_validity_secs: u32,
}

fn ms(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Extensions {
    /// The compile-time (Kconfig) values.
    pub fn kconfig_defaults() -> Self {
        Extensions {
            reconnect: ReconnectConfig {
                enabled: k::AZURE_IOT_HUB_AUTO_RECONNECT,
                backoff: BackoffConfig {
                    min_ms: ms(k::AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS),
                    max_ms: ms(k::AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS),
                    jitter_ms: ms(k::AZURE_IOT_HUB_RECONNECT_JITTER_MS),
                },
            },
            persistent_session: k::AZURE_IOT_HUB_PERSISTENT_SESSION,
            qos1_queue_size: k::AZURE_IOT_HUB_QOS1_QUEUE_SIZE,
            model_id: non_empty(k::AZURE_IOT_HUB_MODEL_ID),
            sas_key: non_empty(k::AZURE_IOT_HUB_SAS_KEY),
            sas_validity_secs: u32::try_from(k::AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC)
                .unwrap_or(u32::MAX),
        }
    }

    /// The run-time overrides from `CONFIG_*` environment variables.
    pub(crate) fn apply_env(&mut self, env: &dyn Env) {
        let num = |s: &str| s.parse::<u64>().ok();
        if let Some(v) = var(env, "AZURE_IOT_HUB_AUTO_RECONNECT", parse_bool) {
            self.reconnect.enabled = v;
        }
        if let Some(v) = var(env, "AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS", num) {
            self.reconnect.backoff.min_ms = v;
        }
        if let Some(v) = var(env, "AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS", num) {
            self.reconnect.backoff.max_ms = v;
        }
        if let Some(v) = var(env, "AZURE_IOT_HUB_RECONNECT_JITTER_MS", num) {
            self.reconnect.backoff.jitter_ms = v;
        }
        if let Some(v) = var(env, "AZURE_IOT_HUB_PERSISTENT_SESSION", parse_bool) {
            self.persistent_session = v;
        }
        if let Some(v) = var(env, "AZURE_IOT_HUB_QOS1_QUEUE_SIZE", |s| s.parse().ok()) {
            self.qos1_queue_size = v;
        }
        if let Some(v) = var(env, "AZURE_IOT_HUB_MODEL_ID", parse_str) {
            self.model_id = non_empty(&v);
        }
        if let Some(v) = var(env, "AZURE_IOT_HUB_SAS_KEY", parse_str) {
            self.sas_key = non_empty(&v);
        }
        if let Some(v) = var(env, "AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC", |s| {
            s.parse::<u32>().ok().filter(|&v| v >= 2)
        }) {
            self.sas_validity_secs = v;
        }
    }

    /// The model ID as the user name carries it (URL-encoded: `:` is `%3A`, `;` is `%3B`).
    pub fn encoded_model_id(&self) -> Option<String> {
        self.model_id.as_deref().map(url_encode)
    }
}

impl Default for Extensions {
    fn default() -> Self {
        Self::kconfig_defaults()
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Seconds since the Unix epoch, rounded up (the `se` of a SAS token needs wall-clock time; rounded
/// down, a token would live up to a second less than asked, and the renewal at 80 % of a short
/// validity, counted from CONNACK, could come after the hub closed the connection for expiry).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// A hub SAS token for `device_id` at `host`, valid for at least `validity_secs` from now.
pub fn hub_sas_token(
    host: &str,
    device_id: &str,
    key_base64: &str,
    validity_secs: u32,
) -> Result<String, sas::SasError> {
    hub_sas_token_until(
        host,
        device_id,
        key_base64,
        unix_now() + u64::from(validity_secs),
    )
}

/// A hub SAS token that expires at `expiry` (seconds since the Unix epoch).
pub fn hub_sas_token_until(
    host: &str,
    device_id: &str,
    key_base64: &str,
    expiry: u64,
) -> Result<String, sas::SasError> {
    let resource = sas::Resource::Hub { host, device_id };
    let len = sas::token_len(&resource, key_base64, expiry)?;
    let mut buf = vec![0u8; len];
    let mut cur = crate::sink::Cursor::new(&mut buf);
    sas::write_token(&mut cur, &resource, key_base64, expiry)?;
    let n = cur.len();
    buf.truncate(n);
    // The token is ASCII by construction.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// A random number for the backoff's jitter (std's per-process random hasher keys, mixed with
/// the time; no cryptographic quality needed).
pub(crate) fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let x = h.finish();
    (x ^ (x >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::port::linux::config::MapEnv;

    #[test]
    fn defaults_keep_the_original() {
        let e = Extensions::kconfig_defaults();
        assert!(!e.reconnect.enabled);
        assert!(!e.persistent_session);
        assert_eq!(e.model_id, None);
        assert_eq!(e.sas_key, None);
    }

    #[test]
    fn environment_overrides() {
        let mut e = Extensions::kconfig_defaults();
        e.apply_env(&MapEnv(HashMap::from([
            ("CONFIG_AZURE_IOT_HUB_AUTO_RECONNECT", "y"),
            ("CONFIG_AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS", "5"),
            ("CONFIG_AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS", "50"),
            ("CONFIG_AZURE_IOT_HUB_RECONNECT_JITTER_MS", "2"),
            ("CONFIG_AZURE_IOT_HUB_PERSISTENT_SESSION", "y"),
            ("CONFIG_AZURE_IOT_HUB_QOS1_QUEUE_SIZE", "100"),
            (
                "CONFIG_AZURE_IOT_HUB_MODEL_ID",
                "\"dtmi:com:example:Thermostat;1\"",
            ),
            ("CONFIG_AZURE_IOT_HUB_SAS_KEY", "a2V5"),
            ("CONFIG_AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC", "1"),
        ])));
        assert!(e.reconnect.enabled);
        assert_eq!(
            e.reconnect.backoff,
            BackoffConfig {
                min_ms: 5,
                max_ms: 50,
                jitter_ms: 2
            }
        );
        assert!(e.persistent_session);
        assert_eq!(e.qos1_queue_size, 100);
        assert_eq!(
            e.encoded_model_id().as_deref(),
            Some("dtmi%3Acom%3Aexample%3AThermostat%3B1")
        );
        assert_eq!(e.sas_key.as_deref(), Some("a2V5"));
        // Below 2 s is refused (and logged); the default stays.
        assert_eq!(
            e.sas_validity_secs as usize,
            k::AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC
        );
    }

    #[test]
    fn token_vector() {
        // The same token as an independent implementation (Python hmac/base64) makes:
        // key "a2V5" (= "key"), host "h", device "d", expiry 1700000000.
        let t = hub_sas_token_until("h", "d", "a2V5", 1_700_000_000).unwrap();
        assert_eq!(
            t,
            "SharedAccessSignature sr=h%2Fdevices%2Fd&sig=891Q1s7jWUEPyR2sTPS07RyeXuiI3NnPijD%2F88yVEHU%3D&se=1700000000"
        );
        assert!(hub_sas_token_until("h", "d", "!!", 1).is_err());
        assert_ne!(random_u32(), random_u32());
    }
}
