#!/usr/bin/env bash
# The demo: the local IoT Hub emulator plus the C host sample linked with the library.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build -q --lib
mkdir -p target/demo
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude \
    samples/host/azure_iot_hub/main.c target/debug/libazure_iot_hub.a \
    -lpthread -ldl -lm -o target/demo/azure_iot_hub_sample
cargo run -q -p azure-iot-hub-demo -- --device-bin target/demo/azure_iot_hub_sample "$@"
