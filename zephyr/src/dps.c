/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The DPS thread of the Rust library (only with CONFIG_AZURE_IOT_HUB_DPS): a second thread,
 * started on the first registration, and its two semaphores. See
 * ../include/azure_iot_hub_zephyr_glue.h.
 */

#include <errno.h>

#include <zephyr/kernel.h>

#include "azure_iot_hub_zephyr_glue.h"

/* The original ran DPS in the MQTT helper's thread: the same stack size. */
K_THREAD_STACK_DEFINE(azhub_z_dps_stack, CONFIG_MQTT_HELPER_STACK_SIZE);
static struct k_thread azhub_z_dps_thread;
static atomic_t azhub_z_dps_started;

static K_SEM_DEFINE(azhub_z_dps_sem_job, 0, 1);
static K_SEM_DEFINE(azhub_z_dps_sem_done, 0, 1);

static void dps_entry(void *p1, void *p2, void *p3)
{
	void (*entry)(void *arg) = (void (*)(void *))p1;

	ARG_UNUSED(p3);
	entry(p2);
}

int azhub_z_dps_thread_start(void (*entry)(void *arg), void *arg)
{
	if (entry == NULL) {
		return -EINVAL;
	}
	if (!atomic_cas(&azhub_z_dps_started, 0, 1)) {
		return -EALREADY;
	}
	k_tid_t tid = k_thread_create(&azhub_z_dps_thread, azhub_z_dps_stack,
				      K_THREAD_STACK_SIZEOF(azhub_z_dps_stack), dps_entry,
				      (void *)entry, arg, NULL, K_LOWEST_APPLICATION_THREAD_PRIO, 0,
				      K_NO_WAIT);
	(void)k_thread_name_set(tid, "azure_iot_hub_dps");
	return 0;
}

bool azhub_z_dps_on_thread(void)
{
	return atomic_get(&azhub_z_dps_started) != 0 && k_current_get() == &azhub_z_dps_thread;
}

static struct k_sem *dps_sem(int id)
{
	switch (id) {
	case AZHUB_Z_DPS_SEM_JOB:
		return &azhub_z_dps_sem_job;
	case AZHUB_Z_DPS_SEM_DONE:
		return &azhub_z_dps_sem_done;
	default:
		return NULL;
	}
}

int azhub_z_dps_sem_take(int id, int32_t timeout_ms)
{
	struct k_sem *sem = dps_sem(id);

	if (sem == NULL) {
		return -EINVAL;
	}
	return k_sem_take(sem, timeout_ms < 0 ? K_FOREVER : K_MSEC(timeout_ms)) == 0 ? 0 : -EAGAIN;
}

void azhub_z_dps_sem_give(int id)
{
	struct k_sem *sem = dps_sem(id);

	if (sem != NULL) {
		k_sem_give(sem);
	}
}
