/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Azure FOTA on Zephyr: the download thread, the FOTA state's lock and job semaphore, and the
 * firmware sink (dfu_target, flash_img + MCUboot, or plain stream_flash on slot1_partition).
 * Contract: ../include/azure_fota_zephyr_glue.h.
 */

#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/storage/flash_map.h>

#include "azure_fota_zephyr_glue.h"

LOG_MODULE_DECLARE(azure_fota);

#if !defined(CONFIG_AZURE_IOT_HUB_RS_FOTA_STACK_SIZE)
#define CONFIG_AZURE_IOT_HUB_RS_FOTA_STACK_SIZE 8192
#endif

static k_timeout_t fota_timeout(int32_t ms)
{
	if (ms < 0) {
		return K_FOREVER;
	}
	return ms == 0 ? K_NO_WAIT : K_MSEC(ms);
}

/* ---- Thread, lock, job semaphore ------------------------------------------------------- */

K_THREAD_STACK_DEFINE(azhub_z_fota_stack, CONFIG_AZURE_IOT_HUB_RS_FOTA_STACK_SIZE);
static struct k_thread azhub_z_fota_thread;
static atomic_t azhub_z_fota_started;
static K_MUTEX_DEFINE(azhub_z_fota_mutex);
static K_SEM_DEFINE(azhub_z_fota_job, 0, 1);

static void fota_thread_entry(void *p1, void *p2, void *p3)
{
	void (*entry)(void *arg) = (void (*)(void *))p1;

	ARG_UNUSED(p2);
	ARG_UNUSED(p3);
	entry(NULL);
}

int azhub_z_fota_thread_start(void (*entry)(void *arg))
{
	if (entry == NULL) {
		return -EINVAL;
	}
	if (!atomic_cas(&azhub_z_fota_started, 0, 1)) {
		return -EALREADY;
	}
	k_tid_t tid = k_thread_create(&azhub_z_fota_thread, azhub_z_fota_stack,
				      K_THREAD_STACK_SIZEOF(azhub_z_fota_stack), fota_thread_entry,
				      (void *)entry, NULL, NULL, K_LOWEST_APPLICATION_THREAD_PRIO, 0,
				      K_NO_WAIT);
	/* As in glue.c: without CONFIG_THREAD_NAME no call and no name string. */
	if (IS_ENABLED(CONFIG_THREAD_NAME)) {
		(void)k_thread_name_set(tid, "download_client");
	}
	return 0;
}

int azhub_z_fota_lock(int32_t timeout_ms)
{
	return k_mutex_lock(&azhub_z_fota_mutex, fota_timeout(timeout_ms)) == 0 ? 0 : -EAGAIN;
}

void azhub_z_fota_unlock(void)
{
	(void)k_mutex_unlock(&azhub_z_fota_mutex);
}

int azhub_z_fota_job_wait(int32_t timeout_ms)
{
	return k_sem_take(&azhub_z_fota_job, fota_timeout(timeout_ms)) == 0 ? 0 : -EAGAIN;
}

void azhub_z_fota_job_post(void)
{
	k_sem_give(&azhub_z_fota_job);
}

/* ---- Sink ------------------------------------------------------------------------------ */

#if defined(CONFIG_DFU_TARGET)

/* nRF Connect SDK: the DFU target library, as fota_download uses it. The image type is
 * recognised from its first bytes, so initialisation waits for them. */
#include <dfu/dfu_target.h>
#if defined(CONFIG_DFU_TARGET_MCUBOOT)
#include <dfu/dfu_target_mcuboot.h>
static uint8_t dfu_mcuboot_buf[1024] __aligned(4);
#endif

#define DFU_HEAD_LEN 32
static uint8_t dfu_head[DFU_HEAD_LEN];
static size_t dfu_head_len;
static size_t dfu_size;
static bool dfu_started;

static void dfu_callback(enum dfu_target_evt_id evt)
{
	switch (evt) {
	case DFU_TARGET_EVT_ERASE_PENDING:
		azhub_rs_fota_erase_event(false);
		break;
	case DFU_TARGET_EVT_ERASE_DONE:
		azhub_rs_fota_erase_event(true);
		break;
	default:
		break;
	}
}

bool azhub_z_fota_sink_erases(void)
{
	/* dfu_target reports its own erases through the callback. */
	return false;
}

int azhub_z_fota_sink_prepare(uint64_t size)
{
	if (size > SIZE_MAX) {
		return -EFBIG;
	}
	dfu_size = (size_t)size;
	dfu_head_len = 0;
	dfu_started = false;
	return 0;
}

static int dfu_start(void)
{
	int type = dfu_target_img_type(dfu_head, dfu_head_len);
	int err;

	if (type <= 0) {
		LOG_ERR("unknown image type");
		return -ENOTSUP;
	}
#if defined(CONFIG_DFU_TARGET_MCUBOOT)
	err = dfu_target_mcuboot_set_buf(dfu_mcuboot_buf, sizeof(dfu_mcuboot_buf));
	if (err) {
		return err;
	}
#endif
	err = dfu_target_init(type, 0, dfu_size, dfu_callback);
	if (err) {
		LOG_ERR("dfu_target_init: %d", err);
		return err;
	}
	dfu_started = true;
	return dfu_target_write(dfu_head, dfu_head_len);
}

int azhub_z_fota_sink_write(const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!dfu_started) {
		size_t n = MIN(len, DFU_HEAD_LEN - dfu_head_len);

		memcpy(&dfu_head[dfu_head_len], p, n);
		dfu_head_len += n;
		p += n;
		len -= n;
		if (dfu_head_len < DFU_HEAD_LEN && dfu_head_len < dfu_size) {
			return 0;
		}
		int err = dfu_start();

		if (err) {
			return err;
		}
	}
	return len > 0 ? dfu_target_write(p, len) : 0;
}

int azhub_z_fota_sink_finish(void)
{
	int err;

	if (!dfu_started) {
		err = dfu_start();
		if (err) {
			return err;
		}
	}
	err = dfu_target_done(true);
	if (err) {
		LOG_ERR("dfu_target_done: %d", err);
		return err;
	}
	dfu_started = false;
	err = dfu_target_schedule_update(0);
	if (err) {
		LOG_ERR("dfu_target_schedule_update: %d", err);
	}
	return err;
}

void azhub_z_fota_sink_abort(void)
{
	if (dfu_started) {
		(void)dfu_target_done(false);
		(void)dfu_target_reset();
		dfu_started = false;
	}
}

#elif defined(CONFIG_MCUBOOT_IMG_MANAGER)

/* Zephyr's image manager: flash_img on the upload slot, MCUboot's upgrade request. */
#include <zephyr/dfu/flash_img.h>
#include <zephyr/dfu/mcuboot.h>

static struct flash_img_context img_ctx;

bool azhub_z_fota_sink_erases(void)
{
	return !IS_ENABLED(CONFIG_IMG_ERASE_PROGRESSIVELY);
}

int azhub_z_fota_sink_prepare(uint64_t size)
{
	int err = flash_img_init(&img_ctx);

	if (err) {
		LOG_ERR("flash_img_init: %d", err);
		return err;
	}
	if (size > img_ctx.flash_area->fa_size) {
		LOG_ERR("image of %llu bytes, slot of %u", (unsigned long long)size,
			(unsigned int)img_ctx.flash_area->fa_size);
		return -EFBIG;
	}
	if (azhub_z_fota_sink_erases()) {
		err = boot_erase_img_bank(img_ctx.flash_area->fa_id);
		if (err) {
			LOG_ERR("boot_erase_img_bank: %d", err);
		}
	}
	return err;
}

int azhub_z_fota_sink_write(const void *data, size_t len)
{
	return flash_img_buffered_write(&img_ctx, data, len, false);
}

int azhub_z_fota_sink_finish(void)
{
	int err = flash_img_buffered_write(&img_ctx, NULL, 0, true);

	if (err) {
		return err;
	}
	err = boot_request_upgrade(BOOT_UPGRADE_TEST);
	if (err) {
		LOG_ERR("boot_request_upgrade: %d", err);
	}
	return err;
}

void azhub_z_fota_sink_abort(void)
{
	/* The slot keeps a partial image without an upgrade request: MCUboot ignores it. */
}

#elif defined(CONFIG_STREAM_FLASH) && defined(CONFIG_FLASH_MAP) &&                              \
	FIXED_PARTITION_EXISTS(slot1_partition)

/* No image manager (no MCUboot in the build): the image goes to slot1_partition with
 * stream_flash; nothing requests the upgrade. */
#include <zephyr/storage/stream_flash.h>

static struct stream_flash_ctx sf_ctx;
static const struct flash_area *sf_area;
static uint8_t sf_buf[512] __aligned(8);

bool azhub_z_fota_sink_erases(void)
{
	return true;
}

int azhub_z_fota_sink_prepare(uint64_t size)
{
	int err;

	if (sf_area == NULL) {
		err = flash_area_open(FIXED_PARTITION_ID(slot1_partition), &sf_area);
		if (err) {
			LOG_ERR("flash_area_open(slot1_partition): %d", err);
			sf_area = NULL;
			return err;
		}
	}
	if (size > sf_area->fa_size) {
		LOG_ERR("image of %llu bytes, slot of %u", (unsigned long long)size,
			(unsigned int)sf_area->fa_size);
		return -EFBIG;
	}
	err = flash_area_erase(sf_area, 0, sf_area->fa_size);
	if (err) {
		LOG_ERR("flash_area_erase: %d", err);
		return err;
	}
	return stream_flash_init(&sf_ctx, flash_area_get_device(sf_area), sf_buf, sizeof(sf_buf),
				 sf_area->fa_off, sf_area->fa_size, NULL);
}

int azhub_z_fota_sink_write(const void *data, size_t len)
{
	return stream_flash_buffered_write(&sf_ctx, data, len, false);
}

int azhub_z_fota_sink_finish(void)
{
	int err = stream_flash_buffered_write(&sf_ctx, NULL, 0, true);

	if (err == 0) {
		LOG_WRN("no MCUboot image manager in this build: the image is in slot1_partition, "
			"no upgrade is requested");
	}
	return err;
}

void azhub_z_fota_sink_abort(void)
{
}

#else

bool azhub_z_fota_sink_erases(void)
{
	return false;
}

int azhub_z_fota_sink_prepare(uint64_t size)
{
	ARG_UNUSED(size);
	LOG_ERR("no firmware storage: enable CONFIG_MCUBOOT_IMG_MANAGER (or CONFIG_DFU_TARGET)");
	return -ENOTSUP;
}

int azhub_z_fota_sink_write(const void *data, size_t len)
{
	ARG_UNUSED(data);
	ARG_UNUSED(len);
	return -ENOTSUP;
}

int azhub_z_fota_sink_finish(void)
{
	return -ENOTSUP;
}

void azhub_z_fota_sink_abort(void)
{
}

#endif
