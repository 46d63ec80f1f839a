#!/usr/bin/env bash
# The Zephyr checks: twister builds and runs tests/zephyr/* and builds samples/azure_iot_hub and
# the footprint program (bench/footprint/zephyr)
# against this module, on native_sim 64-bit. Needs a Zephyr tree (ZEPHYR_BASE), its Python
# requirements, a host C toolchain (ZEPHYR_TOOLCHAIN_VARIANT=host), libclang (bindgen) and
# cargo; see docs/zephyr.md. scripts/test.sh runs this when ZEPHYR_BASE is set.
#
#   AZURE_IOT_HUB_ZEPHYR_PLATFORM  board (default native_sim_64; native_sim/native/64 on >= 3.7)
#   AZURE_IOT_HUB_ZEPHYR_OUT       twister's output folder (default target/twister)
#   AZURE_IOT_HUB_ZEPHYR_JOBS      parallel builds (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
module=$(pwd)
: "${ZEPHYR_BASE:?set ZEPHYR_BASE to a Zephyr tree}"
export ZEPHYR_TOOLCHAIN_VARIANT=${ZEPHYR_TOOLCHAIN_VARIANT:-host}
platform=${AZURE_IOT_HUB_ZEPHYR_PLATFORM:-native_sim_64}
out=${AZURE_IOT_HUB_ZEPHYR_OUT:-$module/target/twister}
python3 "$ZEPHYR_BASE/scripts/twister" \
    -T "$module/tests/zephyr" -T "$module/samples/azure_iot_hub" -T "$module/bench/footprint/zephyr" \
    -p "$platform" -x=ZEPHYR_EXTRA_MODULES="$module" \
    --outdir "$out" -j "${AZURE_IOT_HUB_ZEPHYR_JOBS:-2}" --inline-logs

# Settings persistence across runs: the settings app, built by twister above, three times on
# one flash file: store (run 1), load and reset (run 2), nothing stored again (run 3).
exe=$(find "$out" -path "*azure_iot_hub.settings*/zephyr/zephyr.exe" | head -1)
[ -x "$exe" ] || { echo "settings image not built" >&2; exit 1; }
flash=$(mktemp -d)/flash.bin
expect=("SETTINGS RUN 1: stored" "SETTINGS RUN 2: reset" "SETTINGS RUN 1: stored")
for i in 0 1 2; do
    log=$(timeout 60 "$exe" --flash="$flash" 2>&1 || true)
    if ! grep -q "${expect[$i]}" <<<"$log" || ! grep -q "PROJECT EXECUTION SUCCESSFUL" <<<"$log"; then
        echo "settings run $((i + 1)): expected \"${expect[$i]}\"" >&2
        echo "$log" | tail -20 >&2
        exit 1
    fi
    echo "settings run $((i + 1)): ${expect[$i]}"
done
rm -rf "$(dirname "$flash")"
