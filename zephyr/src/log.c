/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Dispatch of azhub_z_log() to the per-module forwarding functions.
 */

#include <stddef.h>

#include "azure_iot_hub_zephyr_glue.h"

#define DECLARE(short)                                                                             \
	int azhub_z_log_level_##short(void);                                                       \
	void azhub_z_log_##short(int level, const char *msg, size_t len)

DECLARE(hub);
DECLARE(dps);
DECLARE(fota);
DECLARE(mqtt);

int azhub_z_log_level(int module)
{
	switch (module) {
	case AZHUB_Z_LOG_AZURE_IOT_HUB:
		return azhub_z_log_level_hub();
	case AZHUB_Z_LOG_AZURE_IOT_HUB_DPS:
		return azhub_z_log_level_dps();
	case AZHUB_Z_LOG_AZURE_FOTA:
		return azhub_z_log_level_fota();
	case AZHUB_Z_LOG_MQTT_HELPER:
		return azhub_z_log_level_mqtt();
	default:
		return 0;
	}
}

void azhub_z_log(int module, int level, const char *msg, size_t len)
{
	switch (module) {
	case AZHUB_Z_LOG_AZURE_IOT_HUB:
		azhub_z_log_hub(level, msg, len);
		break;
	case AZHUB_Z_LOG_AZURE_IOT_HUB_DPS:
		azhub_z_log_dps(level, msg, len);
		break;
	case AZHUB_Z_LOG_AZURE_FOTA:
		azhub_z_log_fota(level, msg, len);
		break;
	case AZHUB_Z_LOG_MQTT_HELPER:
		azhub_z_log_mqtt(level, msg, len);
		break;
	default:
		break;
	}
}
