#!/usr/bin/env bash
# Footprint of the library's core + C API (no TLS, no sockets) on Linux x86_64: the Zephyr port
# built for the host (no_std, no heap) over a null transport (bench/footprint/null_glue.c, the
# port's C glue with sockets that go nowhere), linked with a C program that calls every API
# function (bench/footprint/app.c), opt-level "z", LTO, panic = abort, --gc-sections.
# The library's share = size(program) - size(same program with stub API functions).
# With ZEPHYR_BASE set, also the Zephyr native_sim_64 build of the same program (bench/footprint/zephyr).
# Writes $CARGO_TARGET_DIR/footprint.txt (key=value) and footprint-top-*.txt (largest symbols).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
out="$CARGO_TARGET_DIR/footprint"
mkdir -p "$out"
CC="${CC:-cc}"
CFLAGS=(-Os -ffunction-sections -fdata-sections -Iinclude -Itests/c/fake_zephyr -Izephyr/include)
LDFLAGS=(-Wl,--gc-sections -lpthread)

# Only the staticlib crate type, as the module's CMakeLists.txt builds it: with the rlib too,
# rustc keeps every Rust symbol exported and LTO cannot drop dead code.
build() { # name features [CONFIG_X=value...]
    local name=$1 features=$2; shift 2
    env "$@" CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
        cargo rustc --quiet --release --lib --crate-type staticlib \
        --no-default-features --features "$features" \
        --target-dir "$CARGO_TARGET_DIR/fp-$name"
    cp "$CARGO_TARGET_DIR/fp-$name/release/libazure_iot_hub.a" "$out/lib-$name.a"
}

measure() { # name defines...
    local name=$1; shift
    "$CC" "${CFLAGS[@]}" "$@" bench/footprint/app.c bench/footprint/null_glue.c \
        "$out/lib-$name.a" "${LDFLAGS[@]}" -o "$out/app-$name"
    "$CC" "${CFLAGS[@]}" "$@" bench/footprint/app.c bench/footprint/null_glue.c \
        bench/footprint/stub_api.c "${LDFLAGS[@]}" -o "$out/base-$name"
    "$out/app-$name" > "$out/run-$name.txt"
    # What a firmware image holds: code and constants (.text, .rodata, .data.rel.ro), initialised
    # data, zeroed data. Not counted: unwind tables (.eh_frame*, dropped on Zephyr) and the
    # sections of Linux dynamic linking (.rela.dyn, .got, .plt, .dynsym...).
    sect() { size -A "$1" | awk -v s="$2" '$1==s{print $2; f=1} END{if(!f) print 0}'; }
    local t=0 d=0 b=0
    for s in .text .rodata .data.rel.ro; do
        t=$((t + $(sect "$out/app-$name" $s) - $(sect "$out/base-$name" $s)))
    done
    d=$(($(sect "$out/app-$name" .data) - $(sect "$out/base-$name" .data)))
    b=$(($(sect "$out/app-$name" .bss) - $(sect "$out/base-$name" .bss)))
    echo "${name}_text=$t"
    echo "${name}_data=$((d < 0 ? 0 : d))"
    echo "${name}_bss=$b"
    echo "${name}_eh_frame=$(($(sect "$out/app-$name" .eh_frame) + $(sect "$out/app-$name" .eh_frame_hdr) - $(sect "$out/base-$name" .eh_frame) - $(sect "$out/base-$name" .eh_frame_hdr)))"
    # The largest symbols of the program that the baseline does not have (the library's).
    python3 - "$out/app-$name" "$out/base-$name" > "$CARGO_TARGET_DIR/footprint-top-$name.txt" <<'PY'
import subprocess, sys
def syms(path):
    out = subprocess.run(["nm", "-C", "--size-sort", "-S", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4:
            yield int(parts[1], 16), parts[2], parts[3]
base = {n for _, _, n in syms(sys.argv[2])}
mine = sorted((s for s in syms(sys.argv[1]) if s[2] not in base), reverse=True)
for size, kind, name in mine[:25]:
    print(f"{size:6d} {kind} {name[:150]}")
PY
}

# Logging off, as the original was measured (CONFIG_LOG=n): the `log` crate compiles it out.
build hub capi,zephyr,log/max_level_off
# With DPS, the Kconfig of bench/footprint/zephyr's overlay-dps.conf (build.rs reads CONFIG_*
# from the environment): CONFIG_AZURE_IOT_HUB_DPS=y compiles in azure_iot_hub_connect's use_dps
# path, which the default (n) lets the compiler drop; without it this figure was ~1 KB short.
build hub_dps capi,zephyr,dps,log/max_level_off CONFIG_AZURE_IOT_HUB_DPS=y \
    CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE=test-scope CONFIG_AZURE_IOT_HUB_DPS_REG_ID=test-device
{
    measure hub
    # Hub + DPS (the Zephyr port's DPS driver, settings store and C API), when built in.
    # (grep -c, not -q: -q stops reading early and nm's SIGPIPE fails the pipeline.)
    if [ "$(nm "$out/lib-hub_dps.a" 2>/dev/null | grep -c ' T azure_iot_hub_dps_init$')" -gt 0 ]; then
        measure hub_dps -DWITH_DPS
    fi
    # Heap: the no_std library links no allocator; any malloc/free/__rust_alloc reference fails.
    if [ "$(nm -u "$out/lib-hub.a" 2>/dev/null | grep -Ec ' (malloc|calloc|realloc|free|__rust_alloc)$')" -gt 0 ]; then
        echo "heap_allocs=library references an allocator"
    else
        echo "heap_allocs=0"
    fi
} > "$out/raw.txt"
cat "$out/raw.txt"
hub_dps_text=; hub_dps_data=; hub_dps_bss=
. <(sed 's/^/export /' "$out/raw.txt" | grep -v heap_allocs)
stack=$(grep -o '"MQTT_HELPER_STACK_SIZE", Ty::Usize, "[0-9]*"' build.rs | grep -o '[0-9]*"$' | tr -d '"')
{
    echo "hub_text=$((hub_text + hub_data))"
    # RAM: .data + .bss, plus the worker stack the Zephyr glue defines statically (here a pthread).
    echo "hub_ram=$((hub_data + hub_bss + stack))"
    echo "hub_bss=$hub_bss"
    echo "hub_eh_frame=$hub_eh_frame"
    echo "hub_data=$hub_data"
    echo "stack=$stack"
    if [ -n "$hub_dps_text" ]; then
        echo "hub_dps_text=$((hub_dps_text + hub_dps_data))"
        # Two stacks: the worker's and the DPS thread's (zephyr/src/dps.c, same size).
        echo "hub_dps_ram=$((hub_dps_data + hub_dps_bss + 2 * stack))"
    fi
    grep heap_allocs "$out/raw.txt"
    # The issue's own figure: the same program built for Zephyr native_sim_64 (logging off,
    # CONFIG_SIZE_OPTIMIZATIONS), measured from the linker map, when a Zephyr tree is set up
    # (ZEPHYR_BASE, west; docs/zephyr.md). AZURE_IOT_HUB_ZEPHYR_PLATFORM as for twister.
    if [ -n "${ZEPHYR_BASE:-}" ] && command -v west > /dev/null; then
        zboard=${AZURE_IOT_HUB_ZEPHYR_PLATFORM:-native_sim_64}
        for z in hub hub_dps; do
            extra=(); [ "$z" = hub_dps ] && extra=(-DEXTRA_CONF_FILE=overlay-dps.conf)
            zout="$CARGO_TARGET_DIR/footprint-zephyr-$z"
            if ZEPHYR_TOOLCHAIN_VARIANT=${ZEPHYR_TOOLCHAIN_VARIANT:-host} west build -p -b "$zboard" \
                -d "$zout" bench/footprint/zephyr -- -DZEPHYR_EXTRA_MODULES="$PWD" "${extra[@]}" \
                > "$zout.log" 2>&1; then
                python3 bench/footprint/zephyr_map.py "$zout/zephyr/zephyr.map" azure_iot_hub "zephyr_$z"
            else
                echo "footprint: the Zephyr build failed, see $zout.log" >&2
            fi
        done
    fi
    echo "run=$(cat "$out/run-hub.txt")"
} > "$CARGO_TARGET_DIR/footprint.txt"
cat "$CARGO_TARGET_DIR/footprint.txt"
echo "largest symbols: $CARGO_TARGET_DIR/footprint-top-hub.txt"
head -20 "$CARGO_TARGET_DIR/footprint-top-hub.txt"
