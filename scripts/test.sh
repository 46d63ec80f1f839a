#!/usr/bin/env bash
# Runs every test: unit, scenario, C API (under AddressSanitizer), end-to-end against the local
# emulator over TLS, interop against Mosquitto, the no_std core build, and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

echo "== core: no_std, no alloc, built without the std port and C API"
cargo rustc -q --lib --no-default-features --crate-type rlib

echo "== zephyr port: type-check without a Zephyr tree (bindgen output stubbed)"
cargo check -q --lib --no-default-features --features zephyr,capi
cargo check -q --lib --no-default-features --features zephyr,capi,fota
cargo check -q --lib --no-default-features --features zephyr,capi,dps

mkdir -p target
echo "== cargo test (workspace)"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt | grep -E "^(test result|running|     Running)|FAILED|panicked" || true
if grep -qE "FAILED|error: test failed|error\[|could not compile" target/test-output.txt; then
    echo "cargo test failed; see target/test-output.txt" >&2
    # The line after "panicked at" is the panic's message.
    grep -E -A1 "FAILED|panicked|error" target/test-output.txt | head -80 >&2
    # Each failing test's captured output (cargo's "failures:" sections), e.g. a broker's log.
    echo "== captured output of the failing tests" >&2
    sed -n '/^failures:$/,/^test result:/p' target/test-output.txt | head -300 >&2
    exit 1
fi

# Optional: the cargo-fuzz targets under libFuzzer for N seconds each (needs `cargo install
# cargo-fuzz`; works on stable through RUSTC_BOOTSTRAP). The stable smoke run of the same targets
# (tests/fuzz_smoke.rs) is part of `cargo test` above.
if [ -n "${AZURE_IOT_HUB_CARGO_FUZZ_SECS:-}" ]; then
    echo "== cargo fuzz: ${AZURE_IOT_HUB_CARGO_FUZZ_SECS} s per target"
    for t in mqtt_client hub_topics json fota_http; do
        scratch=$(mktemp -d)
        (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "$scratch" "corpus/$t" -- \
            -max_total_time="$AZURE_IOT_HUB_CARGO_FUZZ_SECS" 2>&1 | grep -E "^Done|ERROR|SUMMARY")
        rm -rf "$scratch"
    done
fi

echo "== demo"
bash scripts/demo.sh

# Optional: the Zephyr module's twister tests on native_sim 64-bit, when a Zephyr tree is set up
# (docs/zephyr.md). AZURE_IOT_HUB_SKIP_ZEPHYR=1 skips them.
if [ -n "${ZEPHYR_BASE:-}" ] && [ -z "${AZURE_IOT_HUB_SKIP_ZEPHYR:-}" ]; then
    echo "== zephyr: twister (ZEPHYR_BASE=$ZEPHYR_BASE)"
    bash scripts/zephyr-twister.sh
fi

# One closing line for CI: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' target/test-output.txt
