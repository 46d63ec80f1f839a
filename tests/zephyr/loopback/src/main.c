/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The C API of azure_iot_hub.h through the Rust Zephyr port, end to end over loopback TCP
 * against the scripted broker of broker.c: connect, CONNACK, subscriptions, the automatic twin
 * request, telemetry with properties and PUBACK, a direct method and its response, a C2D
 * message with properties, a reported-properties patch, disconnect, a refused connection, and
 * the API's state checks in between. Tests run in the order of their names.
 */

#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include <net/azure_iot_hub.h>

#include "broker.h"

#define TEXT_MAX 128

/* zassert_str_equal() is not in Zephyr 3.4's ztest. */
#define assert_str(a, b, ...) zassert_ok(strcmp((a), (b)), "\"%s\" != \"%s\"", (a), (b))

struct event {
	enum azure_iot_hub_evt_type type;
	int err;
	uint16_t message_id;
	enum azure_iot_hub_topic_type topic_type;
	size_t property_count;
	char topic[TEXT_MAX];
	char name[TEXT_MAX];
	char request_id[TEXT_MAX];
	char payload[TEXT_MAX];
	char prop_key[TEXT_MAX];
	char prop_value[TEXT_MAX];
};

K_MSGQ_DEFINE(events, sizeof(struct event), 16, 4);
static atomic_t pingresps;

static void copy(char *dst, const struct azure_iot_hub_buf *b)
{
	size_t n = (b->ptr == NULL) ? 0 : MIN(b->size, TEXT_MAX - 1);

	if (n > 0) {
		memcpy(dst, b->ptr, n);
	}
	dst[n] = '\0';
}

static void handler(struct azure_iot_hub_evt *const evt)
{
	static struct event e;

	if (evt->type == AZURE_IOT_HUB_EVT_PINGRESP) {
		/* Keep-alive answers come at any time: counted, not queued. */
		atomic_inc(&pingresps);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.type = evt->type;
	e.topic_type = evt->topic.type;
	copy(e.topic, &evt->topic.name);
	switch (evt->type) {
	case AZURE_IOT_HUB_EVT_ERROR:
	case AZURE_IOT_HUB_EVT_CONNECTION_FAILED:
		e.err = evt->data.err;
		break;
	case AZURE_IOT_HUB_EVT_PUBACK:
		e.message_id = evt->data.message_id;
		break;
	case AZURE_IOT_HUB_EVT_DIRECT_METHOD:
		copy(e.name, &evt->data.method.name);
		copy(e.request_id, &evt->data.method.request_id);
		copy(e.payload, &evt->data.method.payload);
		break;
	case AZURE_IOT_HUB_EVT_DATA_RECEIVED:
	case AZURE_IOT_HUB_EVT_TWIN_RECEIVED:
	case AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED:
		copy(e.payload, &evt->data.msg.payload);
		copy(e.request_id, &evt->data.msg.request_id);
		e.property_count = evt->data.msg.topic.property_count;
		if (e.property_count > 0) {
			copy(e.prop_key, &evt->data.msg.topic.properties[0].key);
			copy(e.prop_value, &evt->data.msg.topic.properties[0].value);
		}
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS:
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL:
		copy(e.request_id, &evt->data.result.request_id);
		e.err = (int)evt->data.result.status;
		break;
	default:
		break;
	}
	(void)k_msgq_put(&events, &e, K_NO_WAIT);
}

static struct event next_event(void)
{
	struct event e;

	zassert_ok(k_msgq_get(&events, &e, K_SECONDS(10)), "no event within 10 s");
	return e;
}

static void expect(enum azure_iot_hub_evt_type type, struct event *out)
{
	struct event e = next_event();

	zassert_equal(e.type, type, "event %d, expected %d", e.type, type);
	if (out != NULL) {
		*out = e;
	}
}

static void *setup(void)
{
	broker_start();
	return NULL;
}

ZTEST(azure_iot_hub_loopback, test_1_connect)
{
	struct broker_record r;
	struct event e;

	zassert_equal(azure_iot_hub_connect(NULL), -ENOENT, "not initialised");
	zassert_ok(azure_iot_hub_init(handler));
	zassert_ok(azure_iot_hub_connect(NULL), "Kconfig host name and device ID");
	expect(AZURE_IOT_HUB_EVT_CONNECTING, NULL);
	expect(AZURE_IOT_HUB_EVT_CONNECTED, NULL);
	zassert_equal(azure_iot_hub_connect(NULL), -EALREADY);
	expect(AZURE_IOT_HUB_EVT_READY, NULL);
	/* CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST: the twin comes without asking. */
	expect(AZURE_IOT_HUB_EVT_TWIN_RECEIVED, &e);
	zassert_equal(e.topic_type, AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT);
	zassert_not_null(strstr(e.payload, "\"telemetryInterval\":5"), "%s", e.payload);

	broker_get(&r);
	zassert_equal(r.connects, 1);
	assert_str(r.client_id, "dev1");
	zassert_not_null(strstr(r.user_name, "test-hub.azure-devices.net/dev1/?api-version="),
			 "%s", r.user_name);
	zassert_equal(r.keep_alive, CONFIG_MQTT_KEEPALIVE);
	zassert_equal(r.subscribes, 1);
	zassert_equal(r.subscribe_topics, 4, "C2D, methods, twin desired, twin results");
	zassert_equal(r.twin_gets, 1);
}

ZTEST(azure_iot_hub_loopback, test_2_telemetry)
{
	struct azure_iot_hub_property prop = {
		.key = {.ptr = "level", .size = 5},
		.value = {.ptr = "high", .size = 4},
	};
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_EVENT,
		.topic.properties = &prop,
		.topic.property_count = 1,
		.payload = {.ptr = "{\"temperature\":25.5}", .size = 20},
		.qos = MQTT_QOS_1_AT_LEAST_ONCE,
		.message_id = 4242,
	};
	struct broker_record r;
	struct event e;

	zassert_ok(azure_iot_hub_send(&msg));
	expect(AZURE_IOT_HUB_EVT_PUBACK, &e);
	zassert_equal(e.message_id, 4242);
	zassert_true(broker_wait_publishes(1, 5000));
	broker_get(&r);
	assert_str(r.last_topic, "devices/dev1/messages/events/level=high");
	assert_str(r.last_payload, "{\"temperature\":25.5}");
	zassert_equal(r.last_qos, 1);
	zassert_equal(r.last_packet_id, 4242);

	/* Bad arguments, in the original's order. */
	msg.qos = 2;
	zassert_equal(azure_iot_hub_send(&msg), -EINVAL);
	msg.qos = MQTT_QOS_0_AT_MOST_ONCE;
	msg.topic.type = AZURE_IOT_HUB_TOPIC_DIRECT_METHOD;
	zassert_equal(azure_iot_hub_send(&msg), -ENOMSG);
}

ZTEST(azure_iot_hub_loopback, test_3_direct_method)
{
	struct azure_iot_hub_result result = {
		.status = 200,
		.payload = {.ptr = "{\"it\":\"worked\"}", .size = 15},
	};
	struct broker_record r;
	struct event e;

	zassert_ok(broker_push("$iothub/methods/POST/led/?$rid=42", "1"));
	expect(AZURE_IOT_HUB_EVT_DIRECT_METHOD, &e);
	zassert_equal(e.topic_type, AZURE_IOT_HUB_TOPIC_DIRECT_METHOD);
	assert_str(e.name, "led");
	assert_str(e.request_id, "42");
	assert_str(e.payload, "1");

	result.request_id.ptr = e.request_id;
	result.request_id.size = strlen(e.request_id);
	zassert_ok(azure_iot_hub_method_respond(&result));
	zassert_true(broker_wait_publishes(2, 5000));
	broker_get(&r);
	assert_str(r.last_topic, "$iothub/methods/res/200/?$rid=42");
	assert_str(r.last_payload, "{\"it\":\"worked\"}");
	zassert_equal(r.last_qos, 0);
}

ZTEST(azure_iot_hub_loopback, test_4_c2d)
{
	struct event e;

	zassert_ok(broker_push("devices/dev1/messages/devicebound/%24.mid=7&color=blue",
			       "hello"));
	expect(AZURE_IOT_HUB_EVT_DATA_RECEIVED, &e);
	zassert_equal(e.topic_type, AZURE_IOT_HUB_TOPIC_DEVICEBOUND);
	assert_str(e.payload, "hello");
	zassert_equal(e.property_count, 2);
	assert_str(e.prop_key, "%24.mid", "properties are handed over as received");
	assert_str(e.prop_value, "7");

	zassert_ok(broker_push("$iothub/twin/PATCH/properties/desired/?$version=2",
			       "{\"telemetryInterval\":7}"));
	expect(AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED, &e);
	assert_str(e.payload, "{\"telemetryInterval\":7}");
}

ZTEST(azure_iot_hub_loopback, test_5_twin_reported)
{
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_TWIN_REPORTED,
		.payload = {.ptr = "{\"telemetryInterval\":7}", .size = 23},
		.request_id = {.ptr = "77", .size = 2},
	};
	struct broker_record r;
	struct event e;

	zassert_ok(azure_iot_hub_send(&msg));
	expect(AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS, &e);
	assert_str(e.request_id, "77");
	zassert_equal(e.err, 204, "status");
	broker_get(&r);
	assert_str(r.last_topic, "$iothub/twin/PATCH/properties/reported/?$rid=77");
}

ZTEST(azure_iot_hub_loopback, test_6_disconnect)
{
	struct broker_record r;
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_EVENT,
		.payload = {.ptr = "x", .size = 1},
	};

	zassert_ok(azure_iot_hub_disconnect());
	/* Delivered before disconnect() returns. */
	expect(AZURE_IOT_HUB_EVT_DISCONNECTED, NULL);
	zassert_true(broker_wait_closed(5000));
	broker_get(&r);
	zassert_equal(r.disconnects, 1, "DISCONNECT was sent");
	zassert_equal(azure_iot_hub_send(&msg), -ENOTCONN);
	zassert_equal(azure_iot_hub_disconnect(), -ENOTCONN);
	zassert_equal(k_msgq_num_used_get(&events), 0, "no further event");
}

ZTEST(azure_iot_hub_loopback, test_7_refused_then_reconnect)
{
	struct event e;

	/* CONNACK 5: not authorised. */
	broker_set_connack(5);
	zassert_ok(azure_iot_hub_connect(NULL));
	expect(AZURE_IOT_HUB_EVT_CONNECTING, NULL);
	expect(AZURE_IOT_HUB_EVT_CONNECTION_FAILED, &e);
	zassert_equal(e.err, 5);
	expect(AZURE_IOT_HUB_EVT_DISCONNECTED, NULL);
	zassert_true(broker_wait_closed(5000));

	/* And a good connection again, with the same library instance. */
	broker_set_connack(0);
	zassert_ok(azure_iot_hub_connect(NULL));
	expect(AZURE_IOT_HUB_EVT_CONNECTING, NULL);
	expect(AZURE_IOT_HUB_EVT_CONNECTED, NULL);
	expect(AZURE_IOT_HUB_EVT_READY, NULL);
	expect(AZURE_IOT_HUB_EVT_TWIN_RECEIVED, NULL);
	zassert_ok(azure_iot_hub_disconnect());
	expect(AZURE_IOT_HUB_EVT_DISCONNECTED, NULL);
}

ZTEST(azure_iot_hub_loopback, test_8_protocol_error)
{
	/* A packet of the reserved type 0 breaks the protocol: ERROR with -EPROTO, then the
	 * library closes the connection and reports DISCONNECTED. */
	static const uint8_t reserved[] = {0x00, 0x00};
	struct event e;

	zassert_ok(azure_iot_hub_connect(NULL));
	expect(AZURE_IOT_HUB_EVT_CONNECTING, NULL);
	expect(AZURE_IOT_HUB_EVT_CONNECTED, NULL);
	expect(AZURE_IOT_HUB_EVT_READY, NULL);
	expect(AZURE_IOT_HUB_EVT_TWIN_RECEIVED, NULL);
	zassert_ok(broker_push_raw(reserved, sizeof(reserved)));
	expect(AZURE_IOT_HUB_EVT_ERROR, &e);
	zassert_equal(e.err, -EPROTO);
	expect(AZURE_IOT_HUB_EVT_DISCONNECTED, NULL);
	zassert_true(broker_wait_closed(5000), "the library closed the socket");
	zassert_equal(azure_iot_hub_disconnect(), -ENOTCONN);
}

ZTEST(azure_iot_hub_loopback, test_9_keep_alive)
{
	/* CONFIG_MQTT_KEEPALIVE=2: an idle connection sends PINGREQ about every 2 s, and each
	 * PINGRESP is an AZURE_IOT_HUB_EVT_PINGRESP event. */
	struct broker_record r;
	int before;
	int err;

	/* Zephyr 3.4's TCP refuses a connect right after the previous loopback connection was
	 * closed by a reset (test 8) with ENOENT for a moment: retry, as an application would. */
	for (int i = 0; i < 20; i++) {
		err = azure_iot_hub_connect(NULL);
		if (err == 0) {
			break;
		}
		expect(AZURE_IOT_HUB_EVT_CONNECTING, NULL);
		k_msleep(100);
	}
	zassert_ok(err);
	expect(AZURE_IOT_HUB_EVT_CONNECTING, NULL);
	expect(AZURE_IOT_HUB_EVT_CONNECTED, NULL);
	expect(AZURE_IOT_HUB_EVT_READY, NULL);
	expect(AZURE_IOT_HUB_EVT_TWIN_RECEIVED, NULL);
	broker_get(&r);
	before = r.pingreqs;
	atomic_set(&pingresps, 0);
	k_sleep(K_MSEC(5500));
	broker_get(&r);
	zassert_true(r.pingreqs - before >= 2, "%d PINGREQs in 5.5 s", r.pingreqs - before);
	zassert_true(r.pingreqs - before <= 4, "%d PINGREQs in 5.5 s", r.pingreqs - before);
	zassert_true(atomic_get(&pingresps) >= 2, "PINGRESP events");
	zassert_ok(azure_iot_hub_disconnect());
	expect(AZURE_IOT_HUB_EVT_DISCONNECTED, NULL);
}

#if defined(CONFIG_AZURE_IOT_HUB_RS_TLS)
ZTEST(azure_iot_hub_loopback, test_9z_tls_wrong_hostname)
{
	/* Same address, but a host name the server certificate is not for: TLS_HOSTNAME plus
	 * TLS_PEER_VERIFY required make the handshake (inside connect) fail. */
	struct azure_iot_hub_config cfg = {
		.hostname = {.ptr = "other-hub.azure-devices.net", .size = 27},
		.device_id = {.ptr = "dev1", .size = 4},
	};
	struct broker_record before;
	struct broker_record after;
	int err;

	broker_get(&before);
	err = azure_iot_hub_connect(&cfg);
	zassert_true(err < 0, "connect returned %d", err);
	expect(AZURE_IOT_HUB_EVT_CONNECTING, NULL);
	k_msleep(500);
	zassert_equal(k_msgq_num_used_get(&events), 0, "no event after a failed connect");
	broker_get(&after);
	zassert_equal(after.connects, before.connects, "no MQTT CONNECT reached the broker");
	zassert_equal(azure_iot_hub_disconnect(), -ENOTCONN);
}
#endif

ZTEST_SUITE(azure_iot_hub_loopback, NULL, setup, NULL, NULL, NULL);
