/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * C API checks that need no network: argument and state checks, in the order and with the
 * return codes of the original library (docs: nrf-api.md section 1).
 */

#include <errno.h>
#include <string.h>

#include <zephyr/ztest.h>

#include <net/azure_iot_hub.h>
#if defined(CONFIG_AZURE_IOT_HUB_DPS)
#include <net/azure_iot_hub_dps.h>
#endif

static void handler(struct azure_iot_hub_evt *const evt)
{
	ARG_UNUSED(evt);
}

ZTEST(azure_iot_hub_api, test_1_init)
{
	/* The state check comes first, then the NULL check. */
	zassert_equal(azure_iot_hub_init(NULL), -EINVAL);
	zassert_equal(azure_iot_hub_init(handler), 0);
	/* Init again while disconnected is allowed. */
	zassert_equal(azure_iot_hub_init(handler), 0);
}

ZTEST(azure_iot_hub_api, test_2_not_connected)
{
	char payload[] = "{}";
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_EVENT,
		.payload = {.ptr = payload, .size = sizeof(payload) - 1},
		.qos = MQTT_QOS_0_AT_MOST_ONCE,
	};
	struct azure_iot_hub_result result = {
		.request_id = {.ptr = "1", .size = 1},
		.status = 200,
	};

	zassert_equal(azure_iot_hub_send(NULL), -EINVAL);
	zassert_equal(azure_iot_hub_send(&msg), -ENOTCONN);
	zassert_equal(azure_iot_hub_method_respond(NULL), -EINVAL);
	zassert_equal(azure_iot_hub_method_respond(&result), -ENOTCONN);
	zassert_equal(azure_iot_hub_disconnect(), -ENOTCONN);
}

#if defined(CONFIG_AZURE_IOT_HUB_DPS)
static void dps_handler(enum azure_iot_hub_dps_reg_status status)
{
	ARG_UNUSED(status);
}

ZTEST(azure_iot_hub_api, test_3_dps_arguments)
{
	struct azure_iot_hub_dps_config cfg = {0};
	struct azure_iot_hub_buf buf = {0};

	zassert_equal(azure_iot_hub_dps_init(NULL), -EINVAL);
	zassert_equal(azure_iot_hub_dps_init(&cfg), -EINVAL, "no handler");
	zassert_equal(azure_iot_hub_dps_hostname_get(NULL), -EINVAL);
	zassert_equal(azure_iot_hub_dps_device_id_get(NULL), -EINVAL);

	cfg.handler = dps_handler;
	zassert_equal(azure_iot_hub_dps_init(&cfg), 0, "Kconfig ID scope and registration ID");
	/* Nothing assigned yet on a fresh flash. */
	zassert_equal(azure_iot_hub_dps_hostname_get(&buf), -ENOENT);
	zassert_equal(azure_iot_hub_dps_device_id_get(&buf), -ENOENT);
}
#endif

ZTEST_SUITE(azure_iot_hub_api, NULL, NULL, NULL, NULL, NULL);
