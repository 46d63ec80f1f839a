//! Benchmarks of the azure-iot-hub library (see docs/performance.md). `./scripts/bench.sh`
//! prints the table; `cargo test -p azure-iot-hub-bench` runs each measurement once, small.
pub mod ops;
