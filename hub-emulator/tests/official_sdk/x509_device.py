"""Scenario 1: an X.509 CA-signed device with the official SDK, unchanged.

connect, telemetry with application and system properties, get_twin, reported patch, then
(after `ready`) a desired-properties patch, a direct method and a C2D message sent by the test;
then (after `drop_me`) the test drops the connection, the SDK reconnects by itself, and a
desired patch and a method reach it again.
"""

import queue

from azure.iot.device import IoTHubDeviceClient, Message, MethodResponse, X509

from sdk_common import ConnectionWatch, emit, run, take, transport_kwargs

WAIT = 20


def main(cfg):
    client = IoTHubDeviceClient.create_from_x509_certificate(
        x509=X509(cert_file=cfg["cert_file"], key_file=cfg["key_file"]),
        hostname=cfg["host"],
        device_id=cfg["device_id"],
        **transport_kwargs(cfg),
    )
    watch = ConnectionWatch(client)
    client.connect()
    emit("connected")

    msg = Message(
        '{"temperature": 21.5, "unit": "C"}',
        message_id="sdk-msg-1",
        content_encoding="utf-8",
        content_type="application/json",
    )
    msg.correlation_id = "sdk-corr-1"
    msg.custom_properties["batch"] = "7"
    msg.custom_properties["source"] = "official sdk"
    msg.custom_properties["weird&key"] = "a=b/c"
    client.send_message(msg)
    emit("sent", message_id=msg.message_id)

    twin = client.get_twin()
    emit("twin", twin=twin)

    reported = {"firmware": "2.14.0-sdk", "telemetry": {"interval": 30, "enabled": True}}
    client.patch_twin_reported_properties(reported)
    emit("reported", patch=reported)

    desired = queue.Queue()
    methods = queue.Queue()
    c2d = queue.Queue()

    def on_desired(patch):
        desired.put(patch)

    def on_method(request):
        status = 200 if request.name == "reboot" else 404
        payload = {"rebooted": status == 200, "method": request.name, "echo": request.payload}
        client.send_method_response(MethodResponse.create_from_method_request(request, status, payload))
        methods.put({"name": request.name, "payload": request.payload, "request_id": request.request_id})

    def on_message(message):
        c2d.put(
            {
                "data": message.data.decode("utf-8"),
                "custom_properties": message.custom_properties,
                "message_id": message.message_id,
                "correlation_id": message.correlation_id,
                "content_type": message.content_type,
                "content_encoding": message.content_encoding,
            }
        )

    # Setting a handler makes the SDK subscribe (blocking until SUBACK).
    client.on_twin_desired_properties_patch_received = on_desired
    client.on_method_request_received = on_method
    client.on_message_received = on_message
    emit("ready")

    emit("desired", patch=take(desired, "desired-properties patch", WAIT))
    emit("method", **take(methods, "direct method request", WAIT))
    emit("c2d", **take(c2d, "C2D message", WAIT))

    # The twin as the device sees it now (desired patch included).
    emit("twin_after", twin=client.get_twin())

    # The test drops the connection; the SDK reconnects (its default retry policy).
    emit("drop_me")
    watch.wait_for(False, WAIT)
    watch.wait_for(True, WAIT)
    emit("reconnected")
    emit("desired_again", patch=take(desired, "desired-properties patch after reconnecting", WAIT))
    emit("method_again", **take(methods, "direct method request after reconnecting", WAIT))

    drops = watch.drops()
    client.shutdown()
    emit("done", drops=drops)


run(main)
