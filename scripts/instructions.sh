#!/usr/bin/env bash
# Instructions per operation (valgrind callgrind) for the issue-7 rows, alone and quickly:
# telemetry send, C2D receive, direct method, direct method incl. framing + decode.
# The same measurement as `scripts/bench.sh` (bench/src/callgrind.rs): `ops OP N` minus `ops OP 0`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
cargo build --quiet --release -p azure-iot-hub-bench --bin ops
ops="$CARGO_TARGET_DIR/release/ops"
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$ops" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
for op in "${@:-telemetry c2d method method_e2e}"; do
    for o in $op; do
        base=$(count "$o" 0); all=$(count "$o" 10000)
        echo "$o $(((all - base) / 10000))"
    done
done
