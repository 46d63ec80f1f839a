# Copyright (c) 2025 The azure-iot-hub-rs authors
# SPDX-License-Identifier: Apache-2.0
#
# Options of this implementation that the original library does not have.

if AZURE_IOT_HUB

config AZURE_IOT_HUB_RS_REPLACE_NCS
	bool "Replace the nRF Connect SDK implementation"
	default y
	depends on ZEPHYR_NRF_MODULE
	help
	  In an nRF Connect SDK workspace the SDK builds its own C implementation of the
	  Azure IoT Hub and Azure FOTA libraries whenever AZURE_IOT_HUB is set. With this
	  option the build links the Rust library instead and empties the SDK's library
	  targets. Turn it off to build the SDK's implementation (this module then adds
	  nothing), for example to compare the two.

config AZURE_IOT_HUB_RS_LOG_LINE_MAX
	int "Longest log line of the library"
	default 128
	depends on LOG
	help
	  Log lines of the library are formatted in Rust and copied into a stack buffer
	  of this size before they go to Zephyr logging; longer lines are cut.

config AZURE_IOT_HUB_RS_TLS
	bool "TLS on the MQTT socket"
	default y
	help
	  Say n only to test against a local plain-TCP MQTT broker (the twister tests
	  do, over loopback): the connection then has no TLS at all, and no security
	  tag is used. IoT Hub accepts TLS only.

config AZURE_IOT_HUB_AUTO_RECONNECT
	bool "Reconnect automatically"
	help
	  When the connection is lost (the hub closes it, the network fails, the hub
	  stops answering, CONNACK 3), the library connects again by itself after an
	  exponential backoff with jitter, instead of ending with DISCONNECTED as the
	  original does. The application sees DISCONNECTED, then CONNECTING,
	  CONNECTED and READY again; azure_iot_hub_disconnect() stops the retries.
	  Refusals that waiting cannot cure (CONNACK 1, 2, 4, 5) still end the
	  session. See docs/extensions.md.

config AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS
	int "First reconnect delay (ms)"
	default 1000
	depends on AZURE_IOT_HUB_AUTO_RECONNECT
	help
	  Delay before the first reconnect attempt of an outage; it doubles after
	  every failed attempt up to AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS.

config AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS
	int "Longest reconnect delay (ms)"
	default 100000
	depends on AZURE_IOT_HUB_AUTO_RECONNECT

config AZURE_IOT_HUB_RECONNECT_JITTER_MS
	int "Random reconnect jitter (ms)"
	default 5000
	depends on AZURE_IOT_HUB_AUTO_RECONNECT
	help
	  Up to this much is added at random to every delay, so that a fleet does
	  not reconnect in step.

config AZURE_IOT_HUB_PERSISTENT_SESSION
	bool "Persistent MQTT session with a QoS 1 outbox"
	help
	  Connect with clean session 0 (whatever MQTT_CLEAN_SESSION says), subscribe
	  to cloud-to-device messages with QoS 1 (the hub queues them while the
	  device is offline), and keep every QoS 1 message sent until its PUBACK;
	  after a reconnect the unacknowledged ones are sent again with DUP set.
	  azure_iot_hub_send() returns -ENOMEM when the outbox is full.

config AZURE_IOT_HUB_QOS1_QUEUE_SIZE
	int "Outbox size (bytes)"
	default 4096
	depends on AZURE_IOT_HUB_PERSISTENT_SESSION
	help
	  Bytes for unacknowledged QoS 1 messages (each takes its whole PUBLISH
	  packet plus 6 bytes).

config AZURE_IOT_HUB_MODEL_ID
	string "IoT Plug and Play model ID"
	default ""
	help
	  A DTDL model ID such as "dtmi:com:example:Thermostat;1", announced in the
	  MQTT user name as &model-id= (URL-encoded by the library). Empty: none,
	  as the original.

config AZURE_IOT_HUB_SAS_KEY
	string "Device key for SAS authentication"
	default ""
	help
	  The device's symmetric key (base64, as IoT Hub shows it). When set, the
	  library authenticates with SAS tokens made from it instead of a client
	  certificate (the server CA is still verified) and renews the token by
	  reconnecting after 80% of AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC. Needs
	  wall-clock time. Empty: X.509, as the original.

config AZURE_IOT_HUB_RS_FOTA_STACK_SIZE
	int "Stack size of the FOTA download thread"
	default 8192
	depends on AZURE_FOTA
	help
	  The thread "download_client" that downloads FOTA images (HTTP range
	  requests over a Zephyr socket, the TLS handshake when the image server
	  uses HTTPS) and writes them to flash. Its buffers are static.

config AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC
	int "SAS token validity (s)"
	default 3600
	range 2 31536000
	help
	  Lifetime of each SAS token the library makes.

endif # AZURE_IOT_HUB
