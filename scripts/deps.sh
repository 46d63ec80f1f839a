#!/usr/bin/env bash
# Installs the system packages the tests and the demo need, when they are missing:
# a C compiler with AddressSanitizer and 32-bit support (C API tests), Mosquitto (interop test),
# Python 3 with venv (official SDK test).
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in gcc libc6-dev gcc-multilib mosquitto mosquitto-clients; do
    have_pkg "$p" || need+=("$p")
done
# Python 3 with venv (the official Azure IoT device SDK test installs it into a venv).
if ! command -v python3 >/dev/null 2>&1; then need+=(python3 python3-venv)
elif [ "$(command -v python3)" = /usr/bin/python3 ] && ! have_pkg python3-venv; then need+=(python3-venv); fi
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
echo "deps: installing ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The test starts its own broker; the packaged service is not needed.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
