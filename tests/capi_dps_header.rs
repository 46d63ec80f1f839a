//! The committed C header `include/net/azure_iot_hub_dps.h` must be exactly what the pinned
//! cbindgen generates from `src/capi/dps` with `cbindgen_dps.toml`, and must compile on its own
//! (it includes <net/azure_iot_hub.h>) as C11 and C++.
//!
//! After changing a DPS type or doc comment, regenerate it with
//!
//! ```text
//! AZURE_IOT_HUB_BLESS=1 cargo test --test capi_dps_header
//! ```
#![cfg(feature = "dps")]

use std::path::PathBuf;

mod capi_common;

use capi_common::root;

fn header_path() -> PathBuf {
    root().join("include/net/azure_iot_hub_dps.h")
}

fn generate() -> String {
    capi_common::generate_header("cbindgen_dps.toml", "src/capi/dps/mod.rs")
}

#[test]
fn committed_dps_header_is_up_to_date() {
    capi_common::check_committed_header(
        &generate(),
        "include/net/azure_iot_hub_dps.h",
        "capi_dps_header",
    );
}

#[test]
fn dps_header_has_the_original_guard_includes_and_names() {
    let h = std::fs::read_to_string(header_path()).unwrap();
    for needle in [
        "#ifndef AZURE_IOT_HUB_DPS__",
        "#define AZURE_IOT_HUB_DPS__",
        "#include <stdint.h>",
        "#include <net/azure_iot_hub.h>",
        "typedef void (*azure_iot_hub_dps_handler_t)(enum azure_iot_hub_dps_reg_status status);",
        "AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED,",
        "int azure_iot_hub_dps_init(struct azure_iot_hub_dps_config *cfg);",
        "int azure_iot_hub_dps_start(void);",
        "int azure_iot_hub_dps_hostname_get(struct azure_iot_hub_buf *buf);",
        "int azure_iot_hub_dps_hostname_delete(void);",
        "int azure_iot_hub_dps_device_id_get(struct azure_iot_hub_buf *buf);",
        "int azure_iot_hub_dps_device_id_delete(void);",
        "int azure_iot_hub_dps_reset(void);",
        "int azure_iot_hub_dps_payload_set(const char *json, size_t len);",
    ] {
        assert!(h.contains(needle), "the DPS header lacks {needle:?}");
    }
    // And the main header does not declare them.
    let main = std::fs::read_to_string(root().join("include/net/azure_iot_hub.h")).unwrap();
    assert!(!main.contains("azure_iot_hub_dps"));
}

fn compile(compiler: &str, args: &[&str]) {
    capi_common::compile_only(compiler, args, &root().join("tests/c/dps_header_only.c"));
}

#[test]
fn dps_header_compiles_standalone_as_c11_and_cxx() {
    compile(
        "cc",
        &["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"],
    );
    compile(
        "c++",
        &[
            "-x",
            "c++",
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
        ],
    );
}
