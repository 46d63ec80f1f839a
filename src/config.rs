//! Compile-time configuration: the original's Kconfig options and their defaults.
//!
//! `build.rs` generates the constants. Each can be overridden at build time with an environment
//! variable of the same name (`CONFIG_AZURE_IOT_HUB_TOPIC_MAX_LEN=200 cargo build`), or from a
//! Zephyr `.config` file named by `AZURE_IOT_HUB_DOTCONFIG` (the Zephyr CMake sets it).
#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/kconfig.rs"));
