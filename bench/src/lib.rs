//! Benchmarks of the azure-iot-hub library (see docs/performance.md). `./scripts/bench.sh`
//! prints the table; `cargo test -p azure-iot-hub-bench` runs each measurement once, small.
pub mod callgrind;
pub mod fleet;
pub mod footprint;
pub mod ops;
pub mod sink;
pub mod throughput;
pub mod wire;

/// The `ops` binary next to the running executable (same target directory).
pub fn ops_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("ops")
}
