"""Helpers shared by the official-SDK scripts (not part of the SDK).

Each script is started by hub-emulator/tests/official_sdk.rs with one argument: a JSON file
describing the emulator and the device. Scripts talk back on stdout, one JSON object a line
(`{"event": NAME, ...}`); the SDK's own logging goes to stderr (level from OFFICIAL_SDK_LOG,
default WARNING).
"""

import json
import logging
import os
import queue
import sys
import traceback

from azure.iot.device import ProxyOptions

logging.basicConfig(
    stream=sys.stderr,
    level=os.environ.get("OFFICIAL_SDK_LOG", "WARNING").upper(),
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)


def load_config():
    with open(sys.argv[1], encoding="utf-8") as f:
        return json.load(f)


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def emit(event, **fields):
    """Reports one step to the test (a JSON line on stdout)."""
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, default=str) + "\n")
    sys.stdout.flush()


def transport_kwargs(cfg):
    """Keyword arguments every client gets: the emulator's CA and, when the emulator does not
    listen on 8883 (the SDK's fixed MQTT port), the test's HTTP CONNECT proxy."""
    kwargs = {"server_verification_cert": read_text(cfg["ca_file"])}
    proxy = cfg.get("proxy")
    if proxy:
        kwargs["proxy_options"] = ProxyOptions(
            proxy_type="HTTP", proxy_addr=proxy["host"], proxy_port=proxy["port"]
        )
    return kwargs


class ConnectionWatch:
    """Counts connection state changes, so the test can tell a silent reconnect (the SDK
    retries on its own) from a clean run."""

    def __init__(self, client):
        self.client = client
        self.changes = []
        self.queue = queue.Queue()
        client.on_connection_state_change = self._changed

    def _changed(self):
        connected = self.client.connected
        self.changes.append(connected)
        self.queue.put(connected)
        logging.getLogger("official_sdk").info("connected=%s", connected)

    def wait_for(self, connected, timeout):
        """Waits until the SDK reports this state."""
        while take(self.queue, "connected={}".format(connected), timeout) != connected:
            pass

    def drops(self):
        # Every change to "disconnected" before the script asked to disconnect.
        return sum(1 for c in self.changes if not c)


def take(q, what, timeout):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError("no {} within {} s".format(what, timeout)) from None


def run(main):
    """Runs `main(cfg)`; an exception becomes an `error` line and exit code 1."""
    try:
        main(load_config())
    except BaseException as e:  # noqa: BLE001 - report everything to the test
        emit("error", error="{}: {}".format(type(e).__name__, e), trace=traceback.format_exc())
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    # The SDK's pipeline threads are daemons; leave without waiting for them.
    os._exit(0)
