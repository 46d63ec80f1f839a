/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Log module "azure_fota" (level: CONFIG_AZURE_FOTA_LOG_LEVEL).
 */

#include "log_module.h"

#if defined(CONFIG_AZURE_FOTA_LOG_LEVEL)
#define AZHUB_Z_LEVEL CONFIG_AZURE_FOTA_LOG_LEVEL
#else
#define AZHUB_Z_LEVEL 0
#endif

LOG_MODULE_REGISTER(azure_fota, AZHUB_Z_LEVEL);

AZHUB_Z_LOG_FORWARD(azhub_z_log_fota, azhub_z_log_level_fota, AZHUB_Z_LEVEL)
