/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Log module "azure_iot_hub_dps" (level: CONFIG_AZURE_IOT_HUB_LOG_LEVEL).
 */

#include "log_module.h"

#if defined(CONFIG_AZURE_IOT_HUB_LOG_LEVEL)
#define AZHUB_Z_LEVEL CONFIG_AZURE_IOT_HUB_LOG_LEVEL
#else
#define AZHUB_Z_LEVEL 0
#endif

LOG_MODULE_REGISTER(azure_iot_hub_dps, AZHUB_Z_LEVEL);

AZHUB_Z_LOG_FORWARD(azhub_z_log_dps, azhub_z_log_level_dps, AZHUB_Z_LEVEL)
