#!/usr/bin/env bash
# The benchmarks of docs/performance.md, printed as one table next to the original's numbers and
# the targets: footprint (scripts/footprint.sh), instructions per operation (valgrind callgrind),
# bytes on the wire (core encoders and TLS records), TLS throughput, a 10,000-device fleet.
# `--quick` runs everything small (seconds), as `cargo test -p azure-iot-hub-bench` does.
# Release builds in target-bench/ (CARGO_TARGET_DIR overrides). Needs valgrind and a C compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
if ! command -v valgrind > /dev/null; then
    echo "bench: valgrind is needed for the instruction counts (apt-get install valgrind)" >&2
fi
# (A fresh checkout has no target directory yet: footprint.sh's log goes there.)
mkdir -p "$CARGO_TARGET_DIR"
./scripts/footprint.sh > "$CARGO_TARGET_DIR/footprint.log" 2>&1 \
    || echo "bench: footprint build failed, see $CARGO_TARGET_DIR/footprint.log" >&2
cargo build --quiet --release -p azure-iot-hub-bench -p hub-emulator --bin bench --bin ops \
    --bin fleet --bin hub-emulator
# The fleet opens 10,000 sockets in this process and as many in the emulator's.
ulimit -n "$(ulimit -Hn)" 2> /dev/null || true
"$CARGO_TARGET_DIR/release/bench" "$@"
echo
echo "largest symbols of the footprint build: $CARGO_TARGET_DIR/footprint-top-hub.txt"
