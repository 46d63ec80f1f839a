/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Log module "mqtt_helper" (level: CONFIG_MQTT_HELPER_LOG_LEVEL).
 */

#include "log_module.h"

#if defined(CONFIG_MQTT_HELPER_LOG_LEVEL)
#define AZHUB_Z_LEVEL CONFIG_MQTT_HELPER_LOG_LEVEL
#else
#define AZHUB_Z_LEVEL 0
#endif

LOG_MODULE_REGISTER(mqtt_helper, AZHUB_Z_LEVEL);

AZHUB_Z_LOG_FORWARD(azhub_z_log_mqtt, azhub_z_log_level_mqtt, AZHUB_Z_LEVEL)
