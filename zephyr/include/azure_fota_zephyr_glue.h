/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The C glue of Azure FOTA on Zephyr (src/fota_glue.c, only with CONFIG_AZURE_FOTA): the
 * download thread, the lock and job semaphore of the FOTA state, and the firmware sink.
 * Conventions as in azure_iot_hub_zephyr_glue.h (timeouts in ms, negative errno on failure).
 *
 * The sink writes the image to the secondary slot through, in this order of preference:
 *   1. CONFIG_DFU_TARGET (nRF Connect SDK): dfu_target, as the original's fota_download;
 *   2. CONFIG_MCUBOOT_IMG_MANAGER: flash_img on slot1_partition, the slot erased up front with
 *      boot_erase_img_bank() (unless CONFIG_IMG_ERASE_PROGRESSIVELY), boot_request_upgrade()
 *      when complete;
 *   3. CONFIG_STREAM_FLASH and CONFIG_FLASH_MAP without an image manager: stream_flash on
 *      slot1_partition, erased up front, no upgrade request (for boards and tests without
 *      MCUboot).
 */

#ifndef AZURE_FOTA_ZEPHYR_GLUE_H__
#define AZURE_FOTA_ZEPHYR_GLUE_H__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Start the download thread (once per boot): stack CONFIG_AZURE_IOT_HUB_RS_FOTA_STACK_SIZE,
 * priority K_LOWEST_APPLICATION_THREAD_PRIO, name "download_client".
 * @return 0, or -EALREADY if it was already started.
 */
int azhub_z_fota_thread_start(void (*entry)(void *arg));

/** The FOTA state's mutex (k_mutex). @return 0 or -EAGAIN on timeout. */
int azhub_z_fota_lock(int32_t timeout_ms);
void azhub_z_fota_unlock(void);

/** The job semaphore (limit 1): the download thread waits, azure_fota_msg_process gives. */
int azhub_z_fota_job_wait(int32_t timeout_ms);
void azhub_z_fota_job_post(void);

/** True when the sink erases the slot in azhub_z_fota_sink_prepare() (ERASE_* events). */
bool azhub_z_fota_sink_erases(void);

/** Get ready for an image of @p size bytes. @return 0, -EFBIG when it does not fit the slot,
 *  -ENOTSUP without a sink, or the flash driver's error. */
int azhub_z_fota_sink_prepare(uint64_t size);

/** Write the next @p len bytes of the image (in order). */
int azhub_z_fota_sink_write(const void *data, size_t len);

/** The image is complete: flush and request the upgrade (MCUboot test swap). */
int azhub_z_fota_sink_finish(void);

/** The download failed: drop the partial image. */
void azhub_z_fota_sink_abort(void);

/** Implemented in Rust: dfu_target's erase notifications (@p done false: pending). */
void azhub_rs_fota_erase_event(bool done);

#ifdef __cplusplus
}
#endif

#endif /* AZURE_FOTA_ZEPHYR_GLUE_H__ */
