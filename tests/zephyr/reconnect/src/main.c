/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The extensions of docs/extensions.md on Zephyr, through the C API, against the scripted
 * broker of tests/zephyr/loopback: the broker drops the connection and the library reconnects
 * after the backoff (DISCONNECTED with data.err, CONNECTING, CONNECTED, READY) and subscribes
 * again; a QoS 1 message that was not acknowledged is sent again with DUP after the reconnect
 * and arrives once; a full outbox makes azure_iot_hub_send() return -ENOMEM; disconnect()
 * during the backoff ends the session; the model ID is in the user name. With
 * overlay-sas.conf: the SAS token in CONNECT (checked against a token computed independently
 * for the mocked wall clock below) and its renewal by reconnecting. Tests run in the order of
 * their names.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include <net/azure_iot_hub.h>

#include "broker.h"

#define TEXT_MAX 128

/* zassert_str_equal() is not in Zephyr 3.4's ztest. */
#define assert_str(a, b, ...) zassert_ok(strcmp((a), (b)), "\"%s\" != \"%s\"", (a), (b))

#define BACKOFF_MIN CONFIG_AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS
#define JITTER      CONFIG_AZURE_IOT_HUB_RECONNECT_JITTER_MS
/* Scheduling slack of the test itself (native_sim, shared CPU). */
#define SLACK_MS    250

struct event {
	enum azure_iot_hub_evt_type type;
	int err;
	uint16_t message_id;
	int64_t at;
};

K_MSGQ_DEFINE(events, sizeof(struct event), 32, 4);

/* test_7: the handler calls azure_iot_hub_disconnect() on the next CONNECTING. */
static atomic_t disconnect_on_connecting;
static atomic_t disconnect_from_handler_result;

static void handler(struct azure_iot_hub_evt *const evt)
{
	struct event e = {.type = evt->type, .at = k_uptime_get()};

	if (evt->type == AZURE_IOT_HUB_EVT_CONNECTING &&
	    atomic_cas(&disconnect_on_connecting, 1, 0)) {
		atomic_set(&disconnect_from_handler_result, azure_iot_hub_disconnect());
	}

	switch (evt->type) {
	case AZURE_IOT_HUB_EVT_PINGRESP:
		return;
	case AZURE_IOT_HUB_EVT_ERROR:
	case AZURE_IOT_HUB_EVT_CONNECTION_FAILED:
	case AZURE_IOT_HUB_EVT_DISCONNECTED:
		e.err = evt->data.err;
		break;
	case AZURE_IOT_HUB_EVT_PUBACK:
		e.message_id = evt->data.message_id;
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

static struct event expect(enum azure_iot_hub_evt_type type)
{
	struct event e = next_event();

	zassert_equal(e.type, type, "event %d, expected %d", e.type, type);
	return e;
}

static void expect_quiet(int ms)
{
	struct event e = {0};

	zassert_equal(k_msgq_get(&events, &e, K_MSEC(ms)), -EAGAIN,
		      "unexpected event %d (err %d)", e.type, e.err);
}

/*
 * After DISCONNECTED (data.err != 0): CONNECTING, then CONNECTED. A reconnect attempt that
 * fails before CONNACK (Zephyr 3.4's loopback TCP refuses a connect for a moment after a
 * close) shows as DISCONNECTED with -ENOTCONN and CONNECTING again; those are counted.
 * Returns the CONNECTING event of the first attempt.
 */
static struct event expect_connected_again(int *failed_attempts)
{
	struct event first = expect(AZURE_IOT_HUB_EVT_CONNECTING);
	struct event e;
	int failed = 0;

	while (true) {
		e = next_event();
		if (e.type == AZURE_IOT_HUB_EVT_CONNECTED) {
			break;
		}
		zassert_equal(e.type, AZURE_IOT_HUB_EVT_DISCONNECTED, "event %d", e.type);
		zassert_equal(e.err, -ENOTCONN, "attempt failed with %d", e.err);
		expect(AZURE_IOT_HUB_EVT_CONNECTING);
		failed++;
	}
	if (failed_attempts != NULL) {
		*failed_attempts = failed;
	}
	return first;
}

/* expect_connected_again(), then READY and the automatic twin. */
static struct event expect_reconnect(int *failed_attempts)
{
	struct event first = expect_connected_again(failed_attempts);

	expect(AZURE_IOT_HUB_EVT_READY);
	expect(AZURE_IOT_HUB_EVT_TWIN_RECEIVED);
	return first;
}

/* Waits until the broker has seen @p n DISCONNECT packets. */
static bool wait_disconnects(int n)
{
	struct broker_record r;

	for (int i = 0; i < 250; i++) {
		broker_get(&r);
		if (r.disconnects >= n) {
			return true;
		}
		k_msleep(20);
	}
	return false;
}

static __unused void connect_ok(void)
{
	zassert_ok(azure_iot_hub_connect(NULL));
	expect(AZURE_IOT_HUB_EVT_CONNECTING);
	expect(AZURE_IOT_HUB_EVT_CONNECTED);
	expect(AZURE_IOT_HUB_EVT_READY);
	expect(AZURE_IOT_HUB_EVT_TWIN_RECEIVED);
}

/* connect() up to the twin, retrying for 2 s: Zephyr 3.4's loopback TCP may refuse a connect
 * for a moment after a close. */
static __unused void connect_retrying(void)
{
	int err;

	for (int i = 0; i < 20; i++) {
		err = azure_iot_hub_connect(NULL);
		if (err == 0) {
			break;
		}
		expect(AZURE_IOT_HUB_EVT_CONNECTING);
		k_msleep(100);
	}
	zassert_ok(err);
	expect(AZURE_IOT_HUB_EVT_CONNECTING);
	expect(AZURE_IOT_HUB_EVT_CONNECTED);
	expect(AZURE_IOT_HUB_EVT_READY);
	expect(AZURE_IOT_HUB_EVT_TWIN_RECEIVED);
}

static __unused int send_qos1(uint16_t id, const char *payload)
{
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_EVENT,
		.payload = {.ptr = (char *)payload, .size = strlen(payload)},
		.qos = MQTT_QOS_1_AT_LEAST_ONCE,
		.message_id = id,
	};

	return azure_iot_hub_send(&msg);
}

static void *setup(void)
{
	broker_start();
	return NULL;
}

#if defined(CONFIG_RECONNECT_TEST_SAS)

/* The mocked wall clock: the library's weak azure_iot_hub_rs_unix_time() is replaced. */
static atomic_t fake_unix_time;

int64_t azure_iot_hub_rs_unix_time(void)
{
	return (int64_t)atomic_get(&fake_unix_time);
}

/* Computed independently (Python hmac/hashlib/base64) for the key of overlay-sas.conf,
 * sr = test-hub.azure-devices.net/devices/dev1 and the expiry at the end. */
#define TOKEN_1                                                                                    \
	"SharedAccessSignature sr=test-hub.azure-devices.net%2Fdevices%2Fdev1"                     \
	"&sig=dsvAw6wi%2FrKJKiPJlQtkFUPXexU8yrQQQ7HEa6fyI3E%3D&se=1700000005"
#define TOKEN_2                                                                                    \
	"SharedAccessSignature sr=test-hub.azure-devices.net%2Fdevices%2Fdev1"                     \
	"&sig=7jp3EdHnwAjgDs12luYSfjLwWGwWXJxV4I%2FnSv2qbpo%3D&se=1700000105"

ZTEST(azure_iot_hub_reconnect, test_0_sas_needs_a_clock)
{
	struct broker_record r;

	zassert_ok(azure_iot_hub_init(handler));
	/* A clock that was never set (1970): no token can be made, nothing is sent. */
	atomic_set(&fake_unix_time, 12);
	zassert_equal(azure_iot_hub_connect(NULL), -ECONNABORTED);
	expect(AZURE_IOT_HUB_EVT_CONNECTING);
	expect_quiet(300);
	broker_get(&r);
	zassert_equal(r.connects, 0, "no CONNECT");
}

ZTEST(azure_iot_hub_reconnect, test_1_connect)
{
	struct broker_record r;
	struct event connected;

	atomic_set(&fake_unix_time, 1700000000);
	zassert_ok(azure_iot_hub_connect(NULL));
	expect(AZURE_IOT_HUB_EVT_CONNECTING);
	connected = expect(AZURE_IOT_HUB_EVT_CONNECTED);
	expect(AZURE_IOT_HUB_EVT_READY);
	expect(AZURE_IOT_HUB_EVT_TWIN_RECEIVED);
	broker_get(&r);
	zassert_equal(r.connects, 1);
	zassert_true(r.connect_flags & 0x40, "password flag");
	/* sr, sig and se: the token for now + CONFIG_AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC. */
	assert_str(r.password, TOKEN_1);

	/* Renewal after 80 % of the 5 s validity: DISCONNECT, DISCONNECTED(-EAGAIN), and at once
	 * CONNECTING, CONNECTED, READY with a token made at the (mocked) time of the renewal. */
	atomic_set(&fake_unix_time, 1700000100);
	struct event lost = next_event();

	zassert_equal(lost.type, AZURE_IOT_HUB_EVT_DISCONNECTED, "event %d", lost.type);
	zassert_equal(lost.err, -EAGAIN);
	zassert_within(lost.at - connected.at, 4000, SLACK_MS, "renewed after %lld ms",
		       lost.at - connected.at);
	int failed;
	struct event again = expect_reconnect(&failed);

	zassert_true(again.at - lost.at <= SLACK_MS, "no backoff before a renewal");
	broker_get(&r);
	zassert_equal(r.disconnects, 1, "DISCONNECT before the renewal");
	zassert_equal(r.connects, 2);
	assert_str(r.password, TOKEN_2);
	printk("SAS renewal: %lld ms after CONNECTED, reconnected %lld ms later\n",
	       lost.at - connected.at, again.at - lost.at);

	zassert_ok(azure_iot_hub_disconnect());
	expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_true(wait_disconnects(2));
}

#else /* !CONFIG_RECONNECT_TEST_SAS */

ZTEST(azure_iot_hub_reconnect, test_1_connect)
{
	struct broker_record r;

	zassert_ok(azure_iot_hub_init(handler));
	connect_ok();
	broker_get(&r);
	zassert_equal(r.connects, 1);
	/* CONFIG_AZURE_IOT_HUB_MODEL_ID, URL-encoded, at the end of the user name. */
	zassert_not_null(strstr(r.user_name,
				"&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1"), "%s",
			 r.user_name);
	zassert_equal(r.connect_flags & 0x40, 0, "no password (X.509)");
	/* CONFIG_AZURE_IOT_HUB_PERSISTENT_SESSION: clean session 0, C2D with QoS 1. */
	zassert_equal(r.connect_flags & 0x02, 0, "clean session flag");
	zassert_equal(r.c2d_qos, 1, "C2D subscription QoS");
}

ZTEST(azure_iot_hub_reconnect, test_2_drop_and_reconnect)
{
	struct broker_record r;
	struct event lost;
	struct event again;
	int failed;

	zassert_true(broker_drop());
	lost = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(lost.err, -ECONNRESET, "data.err %d: a reconnect follows", lost.err);
	/* During the backoff: connect() is "in progress", send() "not connected". */
	zassert_equal(azure_iot_hub_connect(NULL), -EINPROGRESS);
	zassert_equal(send_qos1(1, "x"), -ENOTCONN);
	again = expect_reconnect(&failed);
	zassert_equal(failed, 0, "first attempt failed");
	zassert_true(again.at - lost.at >= BACKOFF_MIN - 20, "reconnected after %lld ms",
		     again.at - lost.at);
	zassert_true(again.at - lost.at <= BACKOFF_MIN + JITTER + SLACK_MS,
		     "reconnected after %lld ms", again.at - lost.at);
	printk("reconnect: CONNECTING %lld ms after DISCONNECTED (backoff %d..%d ms)\n",
	       again.at - lost.at, BACKOFF_MIN, BACKOFF_MIN + JITTER);
	broker_get(&r);
	zassert_equal(r.connects, 2);
	zassert_equal(r.drops, 1);
	zassert_equal(r.subscribes, 2, "subscribed again");
	zassert_equal(r.subscribe_topics, 4);
	zassert_equal(r.twin_gets, 2);
	zassert_not_null(strstr(r.user_name, "&model-id="), "model ID on every CONNECT");
}

ZTEST(azure_iot_hub_reconnect, test_3_unacknowledged_is_resent_with_dup)
{
	static const char payload[] = "{\"n\":3}";
	struct broker_record before;
	struct broker_record r;
	struct event e;
	int pubacks = 0;
	bool twin = false;

	broker_get(&before);
	/* The message reaches the broker, which "loses" it: no PUBACK. */
	broker_set_ack(false);
	zassert_ok(send_qos1(777, payload));
	broker_get(&r);
	for (int i = 0; i < 100 && r.swallowed == before.swallowed; i++) {
		k_msleep(20);
		broker_get(&r);
	}
	zassert_equal(r.swallowed, before.swallowed + 1);
	expect_quiet(200);

	/* The connection drops; after the reconnect the library sends it again, with DUP and
	 * the same packet ID, and the broker acknowledges it this time. */
	broker_set_ack(true);
	zassert_true(broker_drop());
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, -ECONNRESET);
	expect_connected_again(NULL);
	/* READY, the twin and the PUBACK: the PUBACK's place among them depends on timing. */
	expect(AZURE_IOT_HUB_EVT_READY);
	while (pubacks == 0 || !twin) {
		e = next_event();
		if (e.type == AZURE_IOT_HUB_EVT_PUBACK) {
			zassert_equal(e.message_id, 777);
			pubacks++;
		} else {
			zassert_equal(e.type, AZURE_IOT_HUB_EVT_TWIN_RECEIVED, "event %d", e.type);
			twin = true;
		}
	}
	expect_quiet(500);
	zassert_equal(pubacks, 1, "one PUBACK");
	broker_get(&r);
	zassert_equal(r.publishes, before.publishes + 1, "the message arrived once");
	zassert_equal(r.dups, before.dups + 1);
	zassert_true(r.last_dup, "DUP set");
	zassert_equal(r.last_packet_id, 777);
	zassert_equal(r.last_qos, 1);
	assert_str(r.last_payload, payload);
	assert_str(r.last_topic, "devices/dev1/messages/events/");
}

ZTEST(azure_iot_hub_reconnect, test_4_outbox_full)
{
	/* 60 bytes of payload: 95-byte PUBLISH + 6 bytes of record; 256 bytes hold two. */
	static const char payload[] =
		"{\"data\":\"0123456789012345678901234567890123456789012345678\"}";
	struct azure_iot_hub_msg qos0 = {
		.topic.type = AZURE_IOT_HUB_TOPIC_EVENT,
		.payload = {.ptr = "q0", .size = 2},
		.qos = MQTT_QOS_0_AT_MOST_ONCE,
	};
	struct broker_record before;
	struct broker_record r;
	struct event e;
	int pubacks = 0;
	bool twin = false;

	zassert_equal(strlen(payload), 60);
	broker_get(&before);
	broker_set_ack(false);
	zassert_ok(send_qos1(401, payload));
	zassert_ok(send_qos1(402, payload));
	zassert_equal(send_qos1(403, payload), -ENOMEM, "outbox full");
	/* QoS 0 does not use the outbox. */
	zassert_ok(azure_iot_hub_send(&qos0));
	zassert_true(broker_wait_publishes(before.publishes + 1, 5000));

	/* Acknowledged after the reconnect: both come back with DUP, room again. */
	broker_set_ack(true);
	zassert_true(broker_drop());
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, -ECONNRESET);
	expect_connected_again(NULL);
	expect(AZURE_IOT_HUB_EVT_READY);
	while (pubacks < 2 || !twin) {
		e = next_event();
		if (e.type == AZURE_IOT_HUB_EVT_PUBACK) {
			zassert_equal(e.message_id, 401 + pubacks, "PUBACK %d", e.message_id);
			pubacks++;
		} else {
			zassert_equal(e.type, AZURE_IOT_HUB_EVT_TWIN_RECEIVED, "event %d", e.type);
			twin = true;
		}
	}
	broker_get(&r);
	zassert_equal(r.dups, before.dups + 2);
	zassert_equal(r.publishes, before.publishes + 3);
	zassert_ok(send_qos1(403, payload), "room after the PUBACKs");
	e = expect(AZURE_IOT_HUB_EVT_PUBACK);
	zassert_equal(e.message_id, 403);
	broker_get(&r);
	zassert_false(r.last_dup, "a new message has no DUP");
}

ZTEST(azure_iot_hub_reconnect, test_5_disconnect_during_backoff)
{
	struct broker_record r;
	struct event e;
	int connects;

	/* CONNACK 3 (server unavailable) is retried, with a longer delay each time. */
	broker_set_connack(3);
	zassert_true(broker_drop());
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, -ECONNRESET);
	expect(AZURE_IOT_HUB_EVT_CONNECTING);
	e = next_event();
	/* As in expect_connected_again(): an attempt may fail before CONNACK first. */
	while (e.type == AZURE_IOT_HUB_EVT_DISCONNECTED && e.err == -ENOTCONN) {
		expect(AZURE_IOT_HUB_EVT_CONNECTING);
		e = next_event();
	}
	zassert_equal(e.type, AZURE_IOT_HUB_EVT_CONNECTION_FAILED, "event %d", e.type);
	zassert_equal(e.err, 3);
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, -ECONNREFUSED);
	/* Waiting for the next attempt (600 ms or more): disconnect() stops the session, and its
	 * final DISCONNECTED (data.err 0) is delivered before the call returns. */
	broker_get(&r);
	connects = r.connects;
	zassert_ok(azure_iot_hub_disconnect());
	zassert_equal(k_msgq_num_used_get(&events), 1, "DISCONNECTED before disconnect() returned");
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, 0, "the session's end");
	expect_quiet(2 * CONFIG_AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS);
	broker_get(&r);
	zassert_equal(r.connects, connects, "no attempt after disconnect()");
	zassert_equal(azure_iot_hub_disconnect(), -ENOTCONN);
	broker_set_connack(0);
}

ZTEST(azure_iot_hub_reconnect, test_6_refusal_and_disconnect_end_the_session)
{
	struct broker_record r;
	struct event e;

	broker_get(&r);
	connect_retrying();
	/* disconnect(): no reconnect. */
	zassert_ok(azure_iot_hub_disconnect());
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, 0);
	zassert_true(wait_disconnects(r.disconnects + 1), "DISCONNECT sent");
	expect_quiet(BACKOFF_MIN + JITTER + SLACK_MS);

	/* CONNACK 5 (not authorised) cannot be cured by waiting: the session ends. */
	broker_set_connack(5);
	zassert_ok(azure_iot_hub_connect(NULL));
	expect(AZURE_IOT_HUB_EVT_CONNECTING);
	e = expect(AZURE_IOT_HUB_EVT_CONNECTION_FAILED);
	zassert_equal(e.err, 5);
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, 0, "no reconnect after CONNACK 5");
	expect_quiet(BACKOFF_MIN + JITTER + SLACK_MS);
	broker_set_connack(0);
}

ZTEST(azure_iot_hub_reconnect, test_7_disconnect_from_the_handler)
{
	struct broker_record r;
	struct event e;

	connect_retrying();
	broker_get(&r);

	/* On the reconnect's CONNECTING, the handler (on the library's thread) disconnects: 0,
	 * then the session's final DISCONNECTED, and the attempt is never made. */
	atomic_set(&disconnect_from_handler_result, 1);
	atomic_set(&disconnect_on_connecting, 1);
	zassert_true(broker_drop());
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, -ECONNRESET);
	expect(AZURE_IOT_HUB_EVT_CONNECTING);
	e = expect(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_equal(e.err, 0);
	zassert_equal(atomic_get(&disconnect_from_handler_result), 0);
	expect_quiet(2 * CONFIG_AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS);
	struct broker_record after;

	broker_get(&after);
	zassert_equal(after.connects, r.connects, "no CONNECT after disconnect()");
	zassert_equal(azure_iot_hub_disconnect(), -ENOTCONN);
}

ZTEST(azure_iot_hub_reconnect, test_8_model_id_counts_for_the_user_name)
{
	/* Without the model ID this user name (126 bytes) fits CONFIG_AZURE_IOT_HUB_USER_NAME_
	 * BUF_SIZE (160); with "&model-id=" and the encoded ID (47 bytes more) it does not: the
	 * configuration is refused before CONNECTING. */
	static const char id[] = "device-with-a-forty-character-long-id-00";
	struct azure_iot_hub_config cfg = {
		.device_id = {.ptr = (char *)id, .size = sizeof(id) - 1},
	};
	struct broker_record before;
	struct broker_record after;

	zassert_equal(sizeof(id) - 1, 40);
	broker_get(&before);
	zassert_equal(azure_iot_hub_connect(&cfg), -EMSGSIZE);
	expect_quiet(300);
	broker_get(&after);
	zassert_equal(after.connects, before.connects);
}

#endif /* CONFIG_RECONNECT_TEST_SAS */

ZTEST_SUITE(azure_iot_hub_reconnect, NULL, setup, NULL, NULL, NULL);
