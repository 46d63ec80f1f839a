//! The fuzz targets' bodies (see `targets.rs`), for the cargo-fuzz binaries in `fuzz_targets/`.
#![forbid(unsafe_code)]

pub mod targets;
