"""Scenario 2: a SAS device from its connection string, with the official SDK, unchanged.

Keep-alive 2 s and a SAS token that lives 126 s, which the SDK renews 120 s before it expires:
the device idles for 6 s (its PINGREQs must keep the connection up), then the SDK reconnects on
its own with a new token, and a direct method must still reach it.
"""

import queue
import time

from azure.iot.device import IoTHubDeviceClient, Message, MethodResponse

from sdk_common import ConnectionWatch, emit, run, take, transport_kwargs


def main(cfg):
    client = IoTHubDeviceClient.create_from_connection_string(
        cfg["connection_string"], keep_alive=2, sastoken_ttl=126, **transport_kwargs(cfg)
    )
    watch = ConnectionWatch(client)
    client.connect()
    connected_at = time.monotonic()
    emit("connected")
    msg = Message("hello from a SAS device", message_id="sas-1")
    msg.custom_properties["auth"] = "sas"
    client.send_message(msg)
    emit("sent")
    client.patch_twin_reported_properties({"auth": "sas"})
    emit("reported")

    methods = queue.Queue()

    def on_method(request):
        client.send_method_response(MethodResponse.create_from_method_request(request, 201, "ok"))
        methods.put(request.name)

    client.on_method_request_received = on_method
    emit("ready")

    # Idle until the token renewal (about 6 s after the token was made).
    watch.wait_for(False, 15)
    watch.wait_for(True, 15)
    emit("reauthorized", after=round(time.monotonic() - connected_at, 1))
    emit("method", name=take(methods, "direct method request after the renewal", 20))
    client.send_message(Message("still here", message_id="sas-2"))
    emit("sent_after_renewal")
    drops = watch.drops()
    client.shutdown()
    emit("done", drops=drops)


run(main)
