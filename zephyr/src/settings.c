/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Settings handler of the DPS part (subtree "azure_iot_hub", as in the original). The values
 * are handed to the Rust library, which owns the buffers and the logic.
 */

#include <errno.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/atomic.h>
#include <zephyr/settings/settings.h>

#include "azure_iot_hub_zephyr_glue.h"

#define SUBTREE "azure_iot_hub"

/* Largest value stored under the subtree: a host name or a device ID (lengths are size_t). */
#define VALUE_MAX MAX(MAX(CONFIG_AZURE_IOT_HUB_DPS_HOSTNAME_MAX_LEN,                              \
			  CONFIG_AZURE_IOT_HUB_DPS_DEVICE_ID_MAX_LEN),                             \
		      sizeof(size_t))

/* The thread in azhub_z_settings_load() with a place to load into (NULL: none), and that place:
 * only that thread's load is handed to the library (not a settings_load() of the application's
 * on another thread). */
static atomic_ptr_t loader;
static void *load_into;

static int on_set(const char *key, size_t len, settings_read_cb read_cb, void *cb_arg)
{
	uint8_t value[VALUE_MAX];
	ssize_t n;

	if (key == NULL) {
		return -ENOENT;
	}
	if (atomic_ptr_get(&loader) != (atomic_ptr_val_t)k_current_get()) {
		return 0;
	}

	n = read_cb(cb_arg, value, MIN(len, sizeof(value)));
	if (n < 0) {
		return (int)n;
	}

	azhub_rs_settings_set(load_into, key, value, (size_t)n);
	return 0;
}

/* No commit handler: the library needs no call when loading ends (the values are in place). */
SETTINGS_STATIC_HANDLER_DEFINE(azure_iot_hub_dps, SUBTREE, NULL, on_set, NULL, NULL);

int azhub_z_settings_load(void *into)
{
	int err = settings_subsys_init();

	if (err) {
		return err;
	}
	load_into = into;
	(void)atomic_ptr_set(&loader, into != NULL ? (atomic_ptr_val_t)k_current_get() : NULL);
	err = settings_load_subtree(SUBTREE);
	(void)atomic_ptr_set(&loader, NULL);
	return err;
}
