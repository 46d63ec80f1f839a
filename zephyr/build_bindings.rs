//! Part of build.rs (feature `zephyr`): Zephyr's types and constants for the Rust port, taken
//! from the build's own headers with bindgen, as zephyr-lang-rust's zephyr-sys does.
//!
//! The module's CMakeLists.txt runs cargo with the Zephyr build's include directories
//! (`INCLUDE_DIRS`, `SYSTEM_INCLUDE_DIRS`), definitions (`INCLUDE_DEFINES`), `AUTOCONF_H` and
//! the C compiler (`ZEPHYR_C_COMPILER`, asked for its own system include directories, so that
//! `<errno.h>` is the one of the libc the image uses: newlib/picolibc numbers on a board, the
//! host's on native_sim with the external libc). The result is `$OUT_DIR/zephyr_bindings.rs`.
//!
//! Without those variables (a `cargo check --features zephyr` on a machine with no Zephyr
//! tree), `zephyr/bindings_stub.rs` is used: it type-checks the port and is never linked into
//! firmware — the CMake build always sets the variables, and this refuses to fall back when
//! `AZURE_IOT_HUB_RUST_TARGET` (set by our CMake) or `DOTCONFIG` (set by zephyr-lang-rust's) is
//! present.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// The C compiler's own `#include <...>` directories (libc headers are not in INCLUDE_DIRS).
fn compiler_include_dirs(cc: &str) -> Vec<String> {
    let Ok(out) = Command::new(cc)
        .args(["-xc", "-E", "-v", "/dev/null"])
        .output()
    else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&out.stderr);
    let mut dirs = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("#include <...> search starts here:") {
            inside = true;
        } else if line.starts_with("End of search list.") {
            break;
        } else if inside {
            dirs.push(line.trim().to_string());
        }
    }
    dirs
}

fn split(var: &str) -> Vec<String> {
    env::var(var)
        .unwrap_or_default()
        .split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn generate() {
    for v in [
        "INCLUDE_DIRS",
        "SYSTEM_INCLUDE_DIRS",
        "INCLUDE_DEFINES",
        "AUTOCONF_H",
        "ZEPHYR_C_COMPILER",
        "AZURE_IOT_HUB_RUST_TARGET",
        "DOTCONFIG",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    println!("cargo:rerun-if-changed=zephyr/bindings_stub.rs");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("zephyr_bindings.rs");
    let Ok(autoconf) = env::var("AUTOCONF_H") else {
        // Inside a Zephyr build (ours sets AZURE_IOT_HUB_RUST_TARGET, zephyr-lang-rust sets
        // DOTCONFIG) the stub would be wrong: refuse.
        if env::var("AZURE_IOT_HUB_RUST_TARGET").is_ok() || env::var("DOTCONFIG").is_ok() {
            panic!("a Zephyr build runs cargo without AUTOCONF_H: set it (and INCLUDE_DIRS, INCLUDE_DEFINES, ZEPHYR_C_COMPILER), see docs/zephyr.md and <build>/azure_iot_hub_rs/cargo-env.sh");
        }
        fs::copy("zephyr/bindings_stub.rs", &out).unwrap();
        return;
    };
    println!("cargo:rerun-if-changed={autoconf}");

    // `zsock_timeval` is a macro for `timeval` before Zephyr 3.7 and a struct after: the
    // typedef names it the same way in both.
    // The tick rate as an enum constant, which bindgen reads for certain (a macro from the
    // `-imacros` file might not be), for the semaphore waits' tick conversion (sys.rs).
    let wrapper = "#include <errno.h>\n#include <zephyr/kernel.h>\n\
                   #include <zephyr/net/socket.h>\n\
                   #include <zephyr/net/tls_credentials.h>\n\
                   typedef struct zsock_timeval azhub_timeval_t;\n\
                   enum { AZHUB_TICKS_PER_SEC = CONFIG_SYS_CLOCK_TICKS_PER_SEC };\n\
                   enum { AZHUB_SOCKADDR_IN_LEN = sizeof(struct sockaddr_in),\n\
                          AZHUB_SOCKADDR_IN6_LEN = sizeof(struct sockaddr_in6) };\n";
    let mut args: Vec<String> = vec!["-imacros".into(), autoconf];
    for d in split("INCLUDE_DIRS") {
        args.push(format!("-I{d}"));
    }
    for d in split("SYSTEM_INCLUDE_DIRS") {
        args.push(format!("-isystem{d}"));
    }
    if let Ok(cc) = env::var("ZEPHYR_C_COMPILER") {
        for d in compiler_include_dirs(&cc) {
            args.push(format!("-isystem{d}"));
        }
    }
    for d in split("INCLUDE_DEFINES") {
        args.push(format!("-D{d}"));
    }
    // GCC-only flags and attributes that clang does not know are not in these headers' way;
    // keep the parse quiet about them.
    args.push("-Wno-unknown-attributes".into());
    args.push("-Wno-macro-redefined".into());

    let bindings = bindgen::Builder::default()
        .header_contents("azure_iot_hub_zephyr.h", wrapper)
        .clang_args(&args)
        .use_core()
        .layout_tests(false)
        .derive_default(true)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .allowlist_var("E[A-Z0-9]+")
        .allowlist_var("AF_INET6?")
        .allowlist_var("SOCK_STREAM")
        .allowlist_var("IPPROTO_TCP")
        .allowlist_var("IPPROTO_TLS_1_2")
        .allowlist_var("SOL_SOCKET")
        .allowlist_var("SO_SNDTIMEO")
        .allowlist_var("SOL_TLS")
        .allowlist_var("TLS_SEC_TAG_LIST|TLS_HOSTNAME|TLS_PEER_VERIFY|TLS_NATIVE")
        .allowlist_var("TLS_PEER_VERIFY_(NONE|OPTIONAL|REQUIRED)")
        .allowlist_var("ZSOCK_POLL(IN|OUT|ERR|HUP|NVAL)")
        .allowlist_var("ZSOCK_MSG_DONTWAIT")
        .allowlist_type("azhub_timeval_t")
        .allowlist_type("k_ticks_t")
        .allowlist_var("AZHUB_TICKS_PER_SEC")
        .allowlist_var("AZHUB_SOCKADDR_IN6?_LEN")
        .allowlist_item("net_sock_type")
        .allowlist_type("sec_tag_t")
        .allowlist_item("net_ip_protocol")
        .allowlist_item("net_ip_protocol_secure")
        .generate()
        .unwrap_or_else(|e| panic!("bindgen on Zephyr's headers failed: {e}"));
    bindings.write_to_file(&out).unwrap();
}
