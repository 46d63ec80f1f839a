//! Generates `kconfig.rs`: the original library's Kconfig options as Rust constants.
//!
//! Precedence: an environment variable `CONFIG_<NAME>` at build time, then a Zephyr `.config`
//! named by `AZURE_IOT_HUB_DOTCONFIG`, then the original's default.

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

#[cfg(feature = "zephyr")]
#[path = "zephyr/build_bindings.rs"]
mod zephyr_bindings;

enum Ty {
    Bool,
    Usize,
    I32,
    U16,
    Str,
}

/// (name without `CONFIG_`, type, default as Kconfig writes it)
const OPTIONS: &[(&str, Ty, &str)] = &[
    ("AZURE_IOT_HUB_DEVICE_ID", Ty::Str, ""),
    ("AZURE_IOT_HUB_HOSTNAME", Ty::Str, ""),
    ("AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST", Ty::Bool, "y"),
    ("AZURE_IOT_HUB_DPS", Ty::Bool, "n"),
    ("AZURE_IOT_HUB_USER_NAME_BUF_SIZE", Ty::Usize, "160"),
    ("AZURE_IOT_HUB_TOPIC_MAX_LEN", Ty::Usize, "100"),
    ("AZURE_IOT_HUB_MSG_PROPERTY_RECV_MAX_COUNT", Ty::Usize, "3"),
    ("AZURE_IOT_HUB_MSG_PROPERTY_BUFFER_SIZE", Ty::Usize, "128"),
    ("AZURE_IOT_HUB_DPS_ID_SCOPE", Ty::Str, ""),
    ("AZURE_IOT_HUB_DPS_REG_ID", Ty::Str, ""),
    (
        "AZURE_IOT_HUB_DPS_HOSTNAME",
        Ty::Str,
        "global.azure-devices-provisioning.net",
    ),
    ("AZURE_IOT_HUB_DPS_TIMEOUT_SEC", Ty::Usize, "90"),
    // Extension (default: none): JSON sent as the DPS registration's "payload" (custom allocation).
    ("AZURE_IOT_HUB_DPS_REGISTRATION_PAYLOAD", Ty::Str, ""),
    ("AZURE_IOT_HUB_DPS_HOSTNAME_MAX_LEN", Ty::Usize, "64"),
    ("AZURE_IOT_HUB_DPS_DEVICE_ID_MAX_LEN", Ty::Usize, "128"),
    ("AZURE_IOT_HUB_DPS_TOPIC_BUFFER_SIZE", Ty::Usize, "224"),
    ("AZURE_IOT_HUB_DPS_USER_NAME_BUFFER_SIZE", Ty::Usize, "256"),
    (
        "AZURE_IOT_HUB_DPS_OPERATION_ID_BUFFER_SIZE",
        Ty::Usize,
        "68",
    ),
    ("AZURE_FOTA_VERSION_MAX_LEN", Ty::Usize, "64"),
    ("AZURE_FOTA_JOB_ID_MAX_LEN", Ty::Usize, "40"),
    ("AZURE_FOTA_APP_VERSION", Ty::Str, "0.0.0-dev"),
    ("AZURE_FOTA_TLS", Ty::Bool, "y"),
    ("AZURE_FOTA_SEC_TAG", Ty::I32, "-1"),
    ("AZURE_FOTA_DOWNLOAD_PORT", Ty::U16, "443"),
    // Linux port only: where the FOTA image is written (docs/fota.md).
    ("AZURE_FOTA_IMAGE_FILE", Ty::Str, "firmware.bin"),
    ("MQTT_HELPER_NATIVE_TLS", Ty::Bool, "n"),
    ("MQTT_HELPER_PORT", Ty::U16, "8883"),
    ("MQTT_HELPER_SEC_TAG", Ty::I32, "-1"),
    ("MQTT_HELPER_SEND_TIMEOUT", Ty::Bool, "y"),
    ("MQTT_HELPER_SEND_TIMEOUT_SEC", Ty::Usize, "60"),
    ("MQTT_HELPER_STATIC_IP_ADDRESS", Ty::Str, ""),
    ("MQTT_HELPER_SECONDARY_SEC_TAG", Ty::I32, "-1"),
    ("MQTT_HELPER_STACK_SIZE", Ty::Usize, "2560"),
    ("MQTT_HELPER_RX_TX_BUFFER_SIZE", Ty::Usize, "256"),
    ("MQTT_HELPER_PAYLOAD_BUFFER_LEN", Ty::Usize, "4096"),
    ("MQTT_HELPER_PROVISION_CERTIFICATES", Ty::Bool, "y"),
    ("MQTT_HELPER_CERTIFICATES_FOLDER", Ty::Str, "certs"),
    ("MQTT_HELPER_LAST_WILL", Ty::Bool, "n"),
    (
        "MQTT_HELPER_LAST_WILL_MESSAGE",
        Ty::Str,
        "{\"lastwill\": \"offline\"}",
    ),
    ("MQTT_HELPER_LAST_WILL_TOPIC", Ty::Str, "lastwilltopic"),
    // Zephyr's MQTT options the library honours.
    ("MQTT_KEEPALIVE", Ty::U16, "60"),
    ("MQTT_CLEAN_SESSION", Ty::Bool, "y"),
    // The Zephyr port's transport (zephyr/Kconfig.rs): n only for tests against a local broker.
    ("AZURE_IOT_HUB_RS_TLS", Ty::Bool, "y"),
    // Extensions beyond the original (zephyr/Kconfig.rs; docs/extensions.md). Each default keeps
    // the original's behaviour.
    ("AZURE_IOT_HUB_AUTO_RECONNECT", Ty::Bool, "n"),
    ("AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS", Ty::Usize, "1000"),
    (
        "AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS",
        Ty::Usize,
        "100000",
    ),
    ("AZURE_IOT_HUB_RECONNECT_JITTER_MS", Ty::Usize, "5000"),
    ("AZURE_IOT_HUB_PERSISTENT_SESSION", Ty::Bool, "n"),
    ("AZURE_IOT_HUB_QOS1_QUEUE_SIZE", Ty::Usize, "4096"),
    ("AZURE_IOT_HUB_MODEL_ID", Ty::Str, ""),
    ("AZURE_IOT_HUB_SAS_KEY", Ty::Str, ""),
    ("AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC", Ty::Usize, "3600"),
];

fn read_dotconfig() -> HashMap<String, String> {
    let mut map = HashMap::new();
    let Ok(path) = env::var("AZURE_IOT_HUB_DOTCONFIG") else {
        return map;
    };
    println!("cargo:rerun-if-changed={path}");
    let Ok(text) = fs::read_to_string(&path) else {
        panic!("AZURE_IOT_HUB_DOTCONFIG={path} cannot be read");
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# CONFIG_") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                map.insert(name.to_string(), "n".to_string());
            }
        } else if let Some(rest) = line.strip_prefix("CONFIG_") {
            if let Some((k, v)) = rest.split_once('=') {
                map.insert(k.to_string(), v.to_string());
            }
        }
    }
    map
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    } else {
        v.to_string()
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=AZURE_IOT_HUB_DOTCONFIG");
    #[cfg(feature = "zephyr")]
    zephyr_bindings::generate();
    let dot = read_dotconfig();
    let mut out =
        String::from("// Generated by build.rs from the Kconfig defaults; do not edit.\n");
    for (name, ty, default) in OPTIONS {
        let var = format!("CONFIG_{name}");
        println!("cargo:rerun-if-env-changed={var}");
        let raw = env::var(&var)
            .ok()
            .or_else(|| dot.get(*name).cloned())
            .unwrap_or_else(|| default.to_string());
        let value = match ty {
            Ty::Bool => {
                let b = matches!(raw.trim(), "y" | "1" | "true" | "yes");
                format!("pub const {name}: bool = {b};")
            }
            Ty::Usize => format!(
                "pub const {name}: usize = {};",
                raw.trim()
                    .parse::<usize>()
                    .unwrap_or_else(|_| panic!("{var}={raw} is not a size"))
            ),
            Ty::I32 => format!(
                "pub const {name}: i32 = {};",
                raw.trim()
                    .parse::<i32>()
                    .unwrap_or_else(|_| panic!("{var}={raw} is not an int"))
            ),
            Ty::U16 => format!(
                "pub const {name}: u16 = {};",
                raw.trim()
                    .parse::<u16>()
                    .unwrap_or_else(|_| panic!("{var}={raw} is not a port"))
            ),
            Ty::Str => format!("pub const {name}: &str = {:?};", unquote(&raw)),
        };
        writeln!(out, "{value}").unwrap();
    }
    let path = PathBuf::from(env::var("OUT_DIR").unwrap()).join("kconfig.rs");
    fs::write(path, out).unwrap();
}
