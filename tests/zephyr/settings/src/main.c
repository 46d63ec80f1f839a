/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The DPS assignment in Zephyr settings, across runs of the same flash (native_sim keeps its
 * flash in a file). Each run takes one of two paths, and prints which:
 *
 * - "SETTINGS RUN 1": nothing stored. The get functions return -ENOENT. The test stores an
 *   assignment the way the original NCS library does after a registration (values without NUL
 *   under azure_iot_hub/hostname and azure_iot_hub/device_id, plus its *_len keys), and checks
 *   that azure_iot_hub_dps_init() loads it in this run too.
 * - "SETTINGS RUN 2": an assignment is stored (by run 1, before a restart). The get functions
 *   return it (into a caller buffer, and repointed when no buffer is given);
 *   azure_iot_hub_dps_start() is -EALREADY (assigned: no registration); azure_iot_hub_dps_reset()
 *   deletes it, so the next run is a first run again.
 */

#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/settings/settings.h>
#include <zephyr/ztest.h>

#include <net/azure_iot_hub.h>
#include <net/azure_iot_hub_dps.h>

#define HOST "assigned-hub.azure-devices.net"
#define DEVICE "assigned-device-7"

static int statuses;

static void dps_handler(enum azure_iot_hub_dps_reg_status status)
{
	zassert_equal(status, AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED);
	statuses++;
}

static void init(void)
{
	struct azure_iot_hub_dps_config cfg = {.handler = dps_handler};
	int before = statuses;

	zassert_equal(azure_iot_hub_dps_init(NULL), -EINVAL);
	zassert_ok(azure_iot_hub_dps_init(&cfg));
	zassert_equal(statuses, before + 1, "NOT_STARTED from inside init");
}

static void store_like_the_original(void)
{
	size_t hlen = strlen(HOST);
	size_t dlen = strlen(DEVICE);

	zassert_ok(settings_save_one("azure_iot_hub/hostname_len", &hlen, sizeof(hlen)));
	zassert_ok(settings_save_one("azure_iot_hub/hostname", HOST, hlen));
	zassert_ok(settings_save_one("azure_iot_hub/device_id_len", &dlen, sizeof(dlen)));
	zassert_ok(settings_save_one("azure_iot_hub/device_id", DEVICE, dlen));
}

static void check_stored(void)
{
	char host[64];
	struct azure_iot_hub_buf buf = {.ptr = host, .size = sizeof(host)};
	struct azure_iot_hub_buf own = {0};
	char tiny[4];
	struct azure_iot_hub_buf small = {.ptr = tiny, .size = sizeof(tiny)};

	zassert_ok(azure_iot_hub_dps_hostname_get(&buf));
	zassert_equal(buf.size, strlen(HOST));
	zassert_ok(strcmp(host, HOST), "%s", host);
	zassert_ok(azure_iot_hub_dps_device_id_get(&own), "no buffer: repointed");
	zassert_not_null(own.ptr);
	zassert_equal(own.size, strlen(DEVICE));
	zassert_ok(strcmp(own.ptr, DEVICE), "%s", own.ptr);
	zassert_equal(azure_iot_hub_dps_hostname_get(&small), -EMSGSIZE);
}

ZTEST(azure_iot_hub_settings, test_assignment_across_runs)
{
	struct azure_iot_hub_buf buf = {0};

	zassert_equal(azure_iot_hub_dps_hostname_get(NULL), -EINVAL);
	init();
	if (azure_iot_hub_dps_hostname_get(&buf) == -ENOENT) {
		printk("SETTINGS RUN 1: nothing stored; storing an assignment\n");
		zassert_equal(azure_iot_hub_dps_device_id_get(&buf), -ENOENT);
		store_like_the_original();
		init(); /* loads what is stored now */
		check_stored();
		printk("SETTINGS RUN 1: stored\n");
		return;
	}
	printk("SETTINGS RUN 2: assignment loaded from flash\n");
	check_stored();
	zassert_equal(azure_iot_hub_dps_start(), -EALREADY, "assigned: no registration");
	zassert_ok(azure_iot_hub_dps_reset());
	zassert_equal(azure_iot_hub_dps_start(), -EACCES, "reset: not initialised");
	init();
	zassert_equal(azure_iot_hub_dps_hostname_get(&buf), -ENOENT, "deleted from flash");
	zassert_equal(azure_iot_hub_dps_device_id_get(&buf), -ENOENT);
	printk("SETTINGS RUN 2: reset\n");
}

ZTEST_SUITE(azure_iot_hub_settings, NULL, NULL, NULL, NULL, NULL);
