/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The DPS thread of the Rust library (only with CONFIG_AZURE_IOT_HUB_DPS): a second thread,
 * started on the first registration (its two semaphores are the glue's, src/glue.c). See
 * ../include/azure_iot_hub_zephyr_glue.h.
 */

#include <errno.h>

#include <zephyr/kernel.h>

#include "azure_iot_hub_zephyr_glue.h"

/* The original ran DPS in the MQTT helper's thread: the same stack size. */
K_THREAD_STACK_DEFINE(azhub_z_dps_stack, CONFIG_MQTT_HELPER_STACK_SIZE);
static struct k_thread azhub_z_dps_thread;
static atomic_t azhub_z_dps_started;

void azhub_z_dps_thread_start(void (*entry)(void *p1, void *p2, void *p3))
{
	/* The library always passes its thread's function (checked with CONFIG_ASSERT). */
	__ASSERT_NO_MSG(entry != NULL);
	/* Started already: nothing to do. */
	if (!atomic_cas(&azhub_z_dps_started, 0, 1)) {
		return;
	}
	k_tid_t tid = k_thread_create(&azhub_z_dps_thread, azhub_z_dps_stack,
				      K_THREAD_STACK_SIZEOF(azhub_z_dps_stack), entry, NULL, NULL,
				      NULL, K_LOWEST_APPLICATION_THREAD_PRIO, 0, K_NO_WAIT);
	/* As in glue.c: without CONFIG_THREAD_NAME no call and no name string. */
	if (IS_ENABLED(CONFIG_THREAD_NAME)) {
		(void)k_thread_name_set(tid, "azure_iot_hub_dps");
	}
}

bool azhub_z_dps_on_thread(void)
{
	/* Before the thread is started no thread is azhub_z_dps_thread: no need to check the flag. */
	return k_current_get() == &azhub_z_dps_thread;
}
