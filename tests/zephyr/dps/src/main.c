/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * DPS on the Zephyr port, end to end over loopback TCP against the scripted broker of broker.c
 * (DPS and the assigned hub on one port): azure_iot_hub_connect() with use_dps on a first boot
 * (assigning -> assigned -> connected to the assigned hub with the assigned device ID), a
 * second connect with the stored assignment (no DPS connection), reset and a new registration
 * through azure_iot_hub_dps_start() with a registration payload, failures reported at once
 * (disabled, failed, 401), the timeout, a malformed answer, an unusable assignment and a
 * dropped connection, and the receive buffer the hub and DPS share. Tests run in the order of
 * their names.
 */

#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include <net/azure_iot_hub.h>
#include <net/azure_iot_hub_dps.h>

#include "broker.h"

/* zassert_str_equal() is not in Zephyr 3.4's ztest. */
#define assert_str(a, b) zassert_ok(strcmp((a), (b)), "\"%s\" != \"%s\"", (a), (b))

/* Failures must end well before the DPS timeout (CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC). */
#define AT_ONCE_MS (CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC * 1000 - 1500)

/* ---- Hub events ------------------------------------------------------------------------ */

K_MSGQ_DEFINE(hub_events, sizeof(enum azure_iot_hub_evt_type), 16, 4);
/* data.err of every DISCONNECTED, in order (not 0: a reconnect follows). */
K_MSGQ_DEFINE(disconnect_errs, sizeof(int), 16, 4);

static void hub_handler(struct azure_iot_hub_evt *const evt)
{
	if (evt->type == AZURE_IOT_HUB_EVT_PINGRESP || evt->type == AZURE_IOT_HUB_EVT_TWIN_RECEIVED) {
		return;
	}
	if (evt->type == AZURE_IOT_HUB_EVT_DISCONNECTED) {
		(void)k_msgq_put(&disconnect_errs, &evt->data.err, K_NO_WAIT);
	}
	(void)k_msgq_put(&hub_events, &evt->type, K_NO_WAIT);
}

static void expect_hub(enum azure_iot_hub_evt_type type)
{
	enum azure_iot_hub_evt_type t;

	zassert_ok(k_msgq_get(&hub_events, &t, K_SECONDS(10)), "no hub event within 10 s");
	zassert_equal(t, type, "hub event %d, expected %d", t, type);
}

static void expect_no_hub_event(void)
{
	enum azure_iot_hub_evt_type t = 0;

	zassert_not_equal(k_msgq_get(&hub_events, &t, K_MSEC(200)), 0, "unexpected event %d", t);
}

/* ---- DPS status ------------------------------------------------------------------------ */

struct status {
	enum azure_iot_hub_dps_reg_status status;
	int64_t at;
	bool on_caller;
};

K_MSGQ_DEFINE(statuses, sizeof(struct status), 16, 4);
static k_tid_t test_thread;
static char seen_hostname[64];
/* test_8: the handler calls azure_iot_hub_connect() with use_dps on FAILED. */
static bool connect_from_handler;
static int handler_connect_result = 1;

static struct azure_iot_hub_config dps_config(void);

static void dps_handler(enum azure_iot_hub_dps_reg_status status)
{
	struct status s = {
		.status = status,
		.at = k_uptime_get(),
		.on_caller = k_current_get() == test_thread,
	};

	if (status == AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED) {
		/* The handler may read the assignment. */
		struct azure_iot_hub_buf b = {.ptr = seen_hostname, .size = sizeof(seen_hostname)};

		if (azure_iot_hub_dps_hostname_get(&b) != 0) {
			seen_hostname[0] = '\0';
		}
	}
	if (status == AZURE_IOT_HUB_DPS_REG_STATUS_FAILED && connect_from_handler) {
		struct azure_iot_hub_config cfg = dps_config();

		/* Waiting for DPS on the DPS thread would never end: refused. */
		handler_connect_result = azure_iot_hub_connect(&cfg);
	}
	(void)k_msgq_put(&statuses, &s, K_NO_WAIT);
}

static struct status next_status(int timeout_ms)
{
	struct status s;

	zassert_ok(k_msgq_get(&statuses, &s, K_MSEC(timeout_ms)), "no DPS status in %d ms",
		   timeout_ms);
	return s;
}

static void dps_init(void)
{
	struct azure_iot_hub_dps_config cfg = {.handler = dps_handler};
	struct status s;

	test_thread = k_current_get();
	k_msgq_purge(&statuses);
	zassert_ok(azure_iot_hub_dps_init(&cfg));
	s = next_status(0);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED);
	zassert_true(s.on_caller, "NOT_STARTED from inside init");
}

static struct azure_iot_hub_config dps_config(void)
{
	struct azure_iot_hub_config cfg = {
		/* Ignored with use_dps: the assigned hub is used. */
		.hostname = {.ptr = "ignored.example.com", .size = 19},
		/* The registration ID. */
		.device_id = {.ptr = "dps-reg", .size = 7},
		.use_dps = true,
	};
	return cfg;
}

/* connect() with DPS (the server answering as @p scenario), up to READY. */
static void connect_with_dps(enum dps_scenario scenario)
{
	struct azure_iot_hub_config cfg = dps_config();

	broker_set_dps(scenario);
	zassert_ok(azure_iot_hub_connect(&cfg));
	expect_hub(AZURE_IOT_HUB_EVT_CONNECTING);
	expect_hub(AZURE_IOT_HUB_EVT_CONNECTED);
	expect_hub(AZURE_IOT_HUB_EVT_READY);
}

static void *setup(void)
{
	broker_start();
	zassert_ok(azure_iot_hub_init(hub_handler));
	return NULL;
}

/* ---- Tests ----------------------------------------------------------------------------- */

ZTEST(azure_iot_hub_dps, test_0_clean_flash)
{
	struct azure_iot_hub_buf buf = {0};

	/* Before any init (loads the settings itself); leaves an empty flash either way. */
	zassert_ok(azure_iot_hub_dps_reset());
	zassert_equal(azure_iot_hub_dps_start(), -EACCES, "not initialised");
	dps_init();
	zassert_equal(azure_iot_hub_dps_hostname_get(&buf), -ENOENT);
	zassert_equal(azure_iot_hub_dps_device_id_get(&buf), -ENOENT);
}

ZTEST(azure_iot_hub_dps, test_1_first_boot_connect)
{
	struct azure_iot_hub_config cfg = dps_config();
	struct broker_record r;
	struct azure_iot_hub_buf buf = {0};
	int64_t t0 = k_uptime_get();

	broker_set_dps(DPS_ASSIGN);
	zassert_ok(azure_iot_hub_connect(&cfg));
	/* DPS ran inside connect: register, 202 assigning (retry-after 1 s), query, assigned. */
	zassert_true(k_uptime_get() - t0 >= 1000, "retry-after honoured: %lld ms",
		     k_uptime_get() - t0);
	expect_hub(AZURE_IOT_HUB_EVT_CONNECTING);
	expect_hub(AZURE_IOT_HUB_EVT_CONNECTED);
	expect_hub(AZURE_IOT_HUB_EVT_READY);

	broker_get(&r);
	zassert_equal(r.dps_connects, 1);
	zassert_equal(r.registers, 1);
	zassert_equal(r.status_queries, 1);
	zassert_equal(r.dps_pubacks, 1, "the QoS 1 answer was acknowledged");
	zassert_equal(r.dps_disconnects, 1, "DISCONNECT after the assignment");
	assert_str(r.dps_client_id, "dps-reg");
	assert_str(r.dps_user_name, "0ne00TEST/registrations/dps-reg/api-version=2019-03-31");
	assert_str(r.register_payload, "{\"registrationId\":\"dps-reg\"}");
	assert_str(r.status_topic, "$dps/registrations/GET/iotdps-get-operationstatus/"
				   "?$rid=1&operationId=4.op-1.dps");
	zassert_equal(r.hub_connects, 1);
	assert_str(r.hub_client_id, ASSIGNED_DEVICE);
	zassert_not_null(strstr(r.hub_user_name, ASSIGNED_HUB "/" ASSIGNED_DEVICE "/?api-version="),
			 "%s", r.hub_user_name);

	/* The assignment is readable (repointed at the library's copy) and stored. */
	zassert_ok(azure_iot_hub_dps_hostname_get(&buf));
	assert_str(buf.ptr, ASSIGNED_HUB);
	zassert_ok(azure_iot_hub_dps_device_id_get(&buf), "the buffer points at our copy");
	assert_str(buf.ptr, ASSIGNED_DEVICE);

	zassert_ok(azure_iot_hub_disconnect());
	expect_hub(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_true(broker_wait_closed(5000));
	zassert_true(broker_wait_closed(5000));
}

ZTEST(azure_iot_hub_dps, test_2_second_connect_uses_the_stored_assignment)
{
	struct broker_record r;

	/* Whatever DPS would say now, it is not asked. */
	connect_with_dps(DPS_UNAUTHORIZED);
	broker_get(&r);
	zassert_equal(r.dps_connects, 1, "no DPS connection");
	zassert_equal(r.hub_connects, 2);
	assert_str(r.hub_client_id, ASSIGNED_DEVICE);
	zassert_ok(azure_iot_hub_disconnect());
	expect_hub(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_true(broker_wait_closed(5000));

	/* The same through the DPS API: -EALREADY, status ASSIGNED, nothing sent. */
	dps_init();
	zassert_equal(azure_iot_hub_dps_start(), -EALREADY);
	broker_get(&r);
	zassert_equal(r.dps_connects, 1);
}

ZTEST(azure_iot_hub_dps, test_3_reset_and_register_again)
{
	static const char payload[] = "{\"modelId\":\"dtmi:test;1\"}";
	struct azure_iot_hub_dps_config cfg = {.handler = dps_handler};
	char host[64];
	char dev[8];
	struct azure_iot_hub_buf buf = {.ptr = host, .size = sizeof(host)};
	struct azure_iot_hub_buf small = {.ptr = dev, .size = sizeof(dev)};
	struct broker_record r;
	struct status s;
	int64_t t0;

	zassert_ok(azure_iot_hub_dps_reset());
	zassert_equal(azure_iot_hub_dps_hostname_get(&buf), -ENOENT, "forgotten");
	dps_init();
	zassert_equal(azure_iot_hub_dps_hostname_get(&buf), -ENOENT, "deleted from flash");
	zassert_equal(azure_iot_hub_dps_payload_set(payload, 300), -EMSGSIZE);
	zassert_equal(azure_iot_hub_dps_payload_set("\xff", 1), -EINVAL);
	zassert_ok(azure_iot_hub_dps_payload_set(payload, strlen(payload)));

	broker_set_dps(DPS_ASSIGN);
	t0 = k_uptime_get();
	zassert_ok(azure_iot_hub_dps_start());
	zassert_true(k_uptime_get() - t0 < 500, "start returns once CONNECT is written");

	s = next_status(5000);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING, "after the request");
	zassert_false(s.on_caller, "from the DPS thread");
	/* While it runs: no second start, no init, no reset. */
	zassert_equal(azure_iot_hub_dps_start(), -EACCES);
	zassert_equal(azure_iot_hub_dps_init(&cfg), -EACCES);
	zassert_equal(azure_iot_hub_dps_reset(), -EACCES);
	s = next_status(5000);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING, "202 assigning");
	s = next_status(5000);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED);
	zassert_true(s.at - t0 >= 1000, "after retry-after: %lld ms", s.at - t0);
	assert_str(seen_hostname, ASSIGNED_HUB);

	broker_get(&r);
	zassert_equal(r.dps_connects, 2);
	assert_str(r.register_payload,
		   "{\"registrationId\":\"dps-reg\",\"payload\":{\"modelId\":\"dtmi:test;1\"}}");

	/* Copied into the caller's buffer; too small: -EMSGSIZE, untouched. */
	zassert_ok(azure_iot_hub_dps_hostname_get(&buf));
	zassert_equal(buf.size, strlen(ASSIGNED_HUB));
	assert_str(host, ASSIGNED_HUB);
	zassert_equal(azure_iot_hub_dps_device_id_get(&small), -EMSGSIZE);
	zassert_equal(small.size, sizeof(dev));
	zassert_equal(azure_iot_hub_dps_start(), -EALREADY, "assigned now");
	zassert_true(broker_wait_closed(5000));
	zassert_ok(azure_iot_hub_dps_payload_set(NULL, 0));
}

/* Reset, start, and expect FAILED within @p min_ms..@p max_ms of the start; when DPS answered
 * (ASSIGNING was reported after SUBACK), FAILED must follow that answer at once (300 ms). */
static void expect_failure(enum dps_scenario scenario, int min_ms, int max_ms)
{
	struct status s;
	int64_t t0;
	int64_t assigning = -1;

	zassert_ok(azure_iot_hub_dps_reset());
	dps_init();
	broker_set_dps(scenario);
	t0 = k_uptime_get();
	zassert_ok(azure_iot_hub_dps_start());
	s = next_status(max_ms + 2000);
	if (s.status == AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING) {
		assigning = s.at;
		s = next_status(max_ms + 2000);
	}
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_FAILED, "scenario %d: status %d",
		      scenario, s.status);
	zassert_true(s.at - t0 >= min_ms && s.at - t0 <= max_ms,
		     "scenario %d: FAILED after %lld ms, expected %d..%d", scenario, s.at - t0,
		     min_ms, max_ms);
	if (assigning >= 0) {
		zassert_true(s.at - assigning <= 300, "scenario %d: FAILED %lld ms after ASSIGNING",
			     scenario, s.at - assigning);
	}
	printk("DPS scenario %d: FAILED after %lld ms (%lld ms after the register request)\n",
	       scenario, s.at - t0, assigning >= 0 ? s.at - assigning : -1);
	zassert_equal(k_msgq_num_used_get(&statuses), 0, "nothing after FAILED");
	zassert_true(broker_wait_closed(5000));
	zassert_equal(azure_iot_hub_dps_hostname_get(&(struct azure_iot_hub_buf){0}), -ENOENT);
}

/* connect() with use_dps and a registration that fails: @p err within @p max_ms, no event
 * after CONNECTING, and the library stays usable. */
static void expect_connect_error(enum dps_scenario scenario, int err, int min_ms, int max_ms)
{
	struct azure_iot_hub_config cfg = dps_config();
	struct broker_record before, after;
	int64_t t0;
	int64_t took;

	zassert_ok(azure_iot_hub_dps_reset());
	broker_set_dps(scenario);
	broker_get(&before);
	t0 = k_uptime_get();
	zassert_equal(azure_iot_hub_connect(&cfg), err, "scenario %d", scenario);
	took = k_uptime_get() - t0;
	printk("DPS scenario %d: connect() = %d after %lld ms\n", scenario, err, took);
	zassert_true(took >= min_ms && took <= max_ms, "scenario %d: %lld ms, expected %d..%d",
		     scenario, took, min_ms, max_ms);
	expect_hub(AZURE_IOT_HUB_EVT_CONNECTING);
	expect_no_hub_event();
	broker_get(&after);
	zassert_equal(after.dps_connects, before.dps_connects + 1);
	zassert_equal(after.hub_connects, before.hub_connects, "no hub connection");
	zassert_true(broker_wait_closed(5000));
}

ZTEST(azure_iot_hub_dps, test_4_refusals_are_reported_at_once)
{
	/* "At once": well before CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC (4 s), which the original
	 * waited out. The loopback TCP set-up alone varies from 0 to about 1.5 s here. */
	expect_failure(DPS_DISABLED, 0, AT_ONCE_MS);
	expect_failure(DPS_FAILED, 0, AT_ONCE_MS);
	expect_failure(DPS_UNAUTHORIZED, 0, AT_ONCE_MS);
	expect_connect_error(DPS_UNAUTHORIZED, -ECONNREFUSED, 0, AT_ONCE_MS);
	expect_connect_error(DPS_DISABLED, -ECONNREFUSED, 0, AT_ONCE_MS);
}

ZTEST(azure_iot_hub_dps, test_5_timeout)
{
	/* CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC=4 and no CONNACK. */
	expect_failure(DPS_SILENT, 3900, 5500);
	expect_connect_error(DPS_SILENT, -ETIMEDOUT, 3900, 5500);
}

ZTEST(azure_iot_hub_dps, test_6_malformed_answers)
{
	expect_failure(DPS_GARBAGE, 0, AT_ONCE_MS);
	expect_failure(DPS_BAD_ASSIGNMENT, 0, AT_ONCE_MS);
	expect_connect_error(DPS_GARBAGE, -EBADMSG, 0, AT_ONCE_MS);
	expect_connect_error(DPS_BAD_ASSIGNMENT, -EBADMSG, 0, AT_ONCE_MS);
	expect_failure(DPS_DROP, 0, AT_ONCE_MS);
	expect_connect_error(DPS_DROP, -ECONNABORTED, 0, AT_ONCE_MS);
}

ZTEST(azure_iot_hub_dps, test_7_still_works_afterwards)
{
	struct broker_record r;

	connect_with_dps(DPS_ASSIGN);
	broker_get(&r);
	assert_str(r.hub_client_id, ASSIGNED_DEVICE);
	zassert_ok(azure_iot_hub_disconnect());
	expect_hub(AZURE_IOT_HUB_EVT_DISCONNECTED);
}

ZTEST(azure_iot_hub_dps, test_8_connect_from_the_dps_handler)
{
	connect_from_handler = true;
	expect_failure(DPS_DISABLED, 0, AT_ONCE_MS);
	connect_from_handler = false;
	zassert_equal(handler_connect_result, -EACCES);
	expect_hub(AZURE_IOT_HUB_EVT_CONNECTING);
	expect_no_hub_event();
	/* And the library goes on. */
	broker_set_dps(DPS_ASSIGN);
	zassert_ok(azure_iot_hub_dps_start());
	zassert_equal(next_status(5000).status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
	zassert_equal(next_status(5000).status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
	zassert_equal(next_status(5000).status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED);
	zassert_true(broker_wait_closed(5000));
}

/* The hub's connections and DPS registrations share one receive buffer (as the original's share
 * the MQTT helper): while one runs, the other is refused at once, without touching the first,
 * and each can start as soon as the other's end was reported. */
ZTEST(azure_iot_hub_dps, test_9_hub_and_dps_share_the_receive_buffer)
{
	struct azure_iot_hub_config plain = {
		.hostname = {.ptr = ASSIGNED_HUB, .size = sizeof(ASSIGNED_HUB) - 1},
		.device_id = {.ptr = ASSIGNED_DEVICE, .size = sizeof(ASSIGNED_DEVICE) - 1},
	};
	enum azure_iot_hub_evt_type t;
	struct broker_record before, after;
	struct status s;

	/* The hub connected (with the stored assignment): no registration. */
	connect_with_dps(DPS_ASSIGN);
	zassert_ok(azure_iot_hub_dps_hostname_delete());
	zassert_ok(azure_iot_hub_dps_device_id_delete());
	dps_init();
	broker_get(&before);
	zassert_equal(azure_iot_hub_dps_start(), -EACCES, "the hub holds the buffer");
	broker_get(&after);
	zassert_equal(after.dps_connects, before.dps_connects, "no DPS connection");
	zassert_equal(k_msgq_num_used_get(&statuses), 0, "no status");
	expect_no_hub_event();

	/* The hub was not disturbed; once DISCONNECTED was delivered, a registration can start. */
	zassert_ok(azure_iot_hub_disconnect());
	expect_hub(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_true(broker_wait_closed(5000));
	broker_set_dps(DPS_ASSIGN);
	zassert_ok(azure_iot_hub_dps_start());

	/* While it runs (202 assigning, retry-after 1 s), the hub's connect() is refused. */
	s = next_status(5000);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
	zassert_equal(azure_iot_hub_connect(&plain), -EINPROGRESS, "the registration holds it");
	while (k_msgq_get(&hub_events, &t, K_MSEC(200)) == 0) {
		zassert_equal(t, AZURE_IOT_HUB_EVT_CONNECTING, "only CONNECTING, got %d", t);
	}
	s = next_status(5000);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
	s = next_status(5000);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED, "not disturbed");
	zassert_true(broker_wait_closed(5000));

	/* And the hub connects with the new assignment. */
	connect_with_dps(DPS_ASSIGN);
	broker_get(&after);
	assert_str(after.hub_client_id, ASSIGNED_DEVICE);
	zassert_ok(azure_iot_hub_disconnect());
	expect_hub(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_true(broker_wait_closed(5000));
}

/*
 * Automatic reconnect (overlay-reconnect.conf) and DPS: the hub's connection is lost, a
 * registration starts during the backoff (the hub gave the receive buffer back before
 * DISCONNECTED), and the reconnect attempts that come while it runs fail without a connection
 * (-ENOTCONN, counted as failed attempts) and without disturbing it; once it has ended, the next
 * attempt connects.
 */
ZTEST(azure_iot_hub_dps, test_9b_reconnect_while_dps_holds_the_receive_buffer)
{
	enum azure_iot_hub_evt_type t;
	struct broker_record before, after;
	struct status s;
	int err;
	int refused_attempts = 0;
	bool ready = false;

	if (!IS_ENABLED(CONFIG_AZURE_IOT_HUB_AUTO_RECONNECT)) {
		ztest_test_skip();
	}
	k_msgq_purge(&disconnect_errs);
	broker_drop_hub_after_twin();
	connect_with_dps(DPS_ASSIGN);
	expect_hub(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_ok(k_msgq_get(&disconnect_errs, &err, K_NO_WAIT));
	zassert_equal(err, -ECONNRESET, "lost, a reconnect follows (err %d)", err);

	/* During the backoff: a registration can have the buffer. */
	zassert_ok(azure_iot_hub_dps_hostname_delete());
	zassert_ok(azure_iot_hub_dps_device_id_delete());
	dps_init();
	broker_get(&before);
	broker_set_dps(DPS_ASSIGN);
	zassert_ok(azure_iot_hub_dps_start(), "the hub gave the buffer back");

	/* Attempts while it runs: CONNECTING, then DISCONNECTED with -ENOTCONN, until READY. */
	while (!ready) {
		zassert_ok(k_msgq_get(&hub_events, &t, K_SECONDS(10)), "no hub event within 10 s");
		switch (t) {
		case AZURE_IOT_HUB_EVT_CONNECTING:
		case AZURE_IOT_HUB_EVT_CONNECTED:
			break;
		case AZURE_IOT_HUB_EVT_DISCONNECTED:
			zassert_ok(k_msgq_get(&disconnect_errs, &err, K_NO_WAIT));
			zassert_equal(err, -ENOTCONN, "a failed attempt (err %d)", err);
			refused_attempts++;
			break;
		case AZURE_IOT_HUB_EVT_READY:
			ready = true;
			break;
		default:
			zassert_unreachable("hub event %d", t);
		}
	}
	zassert_true(refused_attempts >= 1, "an attempt came while the registration ran");

	/* The registration was not disturbed: ASSIGNING (one or more), then ASSIGNED. */
	s = next_status(0);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
	do {
		s = next_status(5000);
	} while (s.status == AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
	zassert_equal(s.status, AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED, "status %d", s.status);
	broker_get(&after);
	zassert_equal(after.dps_connects, before.dps_connects + 1);
	zassert_equal(after.hub_connects, before.hub_connects + 1,
		      "the refused attempts opened no connection");
	zassert_equal(after.hub_drops, before.hub_drops);

	zassert_ok(azure_iot_hub_disconnect());
	expect_hub(AZURE_IOT_HUB_EVT_DISCONNECTED);
	zassert_ok(k_msgq_get(&disconnect_errs, &err, K_NO_WAIT));
	zassert_equal(err, 0, "the session's end");
	/* Three connections closed: the dropped one, DPS's and the last. */
	for (int i = 0; i < 3; i++) {
		zassert_true(broker_wait_closed(5000), "connection %d not closed", i);
	}
}

ZTEST_SUITE(azure_iot_hub_dps, NULL, setup, NULL, NULL, NULL);
