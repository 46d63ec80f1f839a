//! The committed C header `include/net/azure_iot_hub.h` must be exactly what the pinned cbindgen
//! generates from `src/capi` with `cbindgen.toml`, and must compile on its own as C11 and C++.
//!
//! After changing a type or a doc comment in `src/capi`, regenerate it with
//!
//! ```text
//! AZURE_IOT_HUB_BLESS=1 cargo test --test capi_header
//! ```

use std::path::Path;

mod capi_common;

use capi_common::root;

fn generate() -> String {
    capi_common::generate_header("cbindgen.toml", "src/capi/mod.rs")
}

#[test]
fn committed_header_is_up_to_date() {
    capi_common::check_committed_header(&generate(), "include/net/azure_iot_hub.h", "capi_header");
}

fn compile(compiler: &str, args: &[&str], source: &Path) {
    capi_common::compile_only(compiler, args, source);
}

#[test]
fn header_compiles_standalone_as_c11_and_cxx() {
    let c = root().join("tests/c/header_only.c");
    compile(
        "cc",
        &["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"],
        &c,
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
        &c,
    );
}

#[test]
fn header_compiles_for_zephyr_with_its_mqtt_qos() {
    // On Zephyr, `enum mqtt_qos` comes from <zephyr/net/mqtt.h>; a stand-in checks the include.
    let c = root().join("tests/c/header_only.c");
    let fake = root().join("tests/c/fake_zephyr");
    let fake = fake.to_str().unwrap();
    compile(
        "cc",
        &[
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-D__ZEPHYR__",
            "-DFAKE_ZEPHYR_MQTT_H",
            "-I",
            fake,
        ],
        &c,
    );
}
