"""Scenario 3: DPS registration with the official SDK, unchanged, then the hub it assigned.

`attestation` in the config is "x509" (CA enrollment group: the certificate is the device's
identity on the hub too) or "symmetric_key" (the device key is derived from the group key by the
test, as the service's docs tell devices to do).
"""

from azure.iot.device import IoTHubDeviceClient, Message, ProvisioningDeviceClient, X509

from sdk_common import ConnectionWatch, emit, run, transport_kwargs


def main(cfg):
    kwargs = transport_kwargs(cfg)
    if cfg["attestation"] == "x509":
        x509 = X509(cert_file=cfg["cert_file"], key_file=cfg["key_file"])
        prov = ProvisioningDeviceClient.create_from_x509_certificate(
            provisioning_host=cfg["host"],
            registration_id=cfg["registration_id"],
            id_scope=cfg["id_scope"],
            x509=x509,
            **kwargs,
        )
    else:
        prov = ProvisioningDeviceClient.create_from_symmetric_key(
            provisioning_host=cfg["host"],
            registration_id=cfg["registration_id"],
            id_scope=cfg["id_scope"],
            symmetric_key=cfg["symmetric_key"],
            **kwargs,
        )
    prov.provisioning_payload = {"model": "official-sdk-test"}
    result = prov.register()
    state = result.registration_state
    emit(
        "registered",
        status=result.status,
        operation_id=result.operation_id,
        assigned_hub=state.assigned_hub if state else None,
        device_id=state.device_id if state else None,
        sub_status=state.sub_status if state else None,
    )
    if result.status != "assigned":
        raise RuntimeError("registration status {}".format(result.status))

    if cfg["attestation"] == "x509":
        client = IoTHubDeviceClient.create_from_x509_certificate(
            x509=x509, hostname=state.assigned_hub, device_id=state.device_id, **kwargs
        )
    else:
        client = IoTHubDeviceClient.create_from_symmetric_key(
            symmetric_key=cfg["symmetric_key"],
            hostname=state.assigned_hub,
            device_id=state.device_id,
            **kwargs,
        )
    watch = ConnectionWatch(client)
    client.connect()
    emit("connected")
    msg = Message("provisioned by DPS", message_id="dps-1")
    msg.custom_properties["via"] = "dps-" + cfg["attestation"]
    client.send_message(msg)
    emit("sent")
    twin = client.get_twin()
    emit("twin", twin=twin)
    drops = watch.drops()
    client.shutdown()
    emit("done", drops=drops)


run(main)
