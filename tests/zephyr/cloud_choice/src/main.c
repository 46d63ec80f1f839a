/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Build-only check of the CLOUD_SERVICE_SELECTOR := choice wrapping.
 */

#include <zephyr/kernel.h>
#include <net/azure_iot_hub.h>

BUILD_ASSERT(IS_ENABLED(CONFIG_CLOUD_SERVICE_MUTUAL_EXCLUSIVE));
BUILD_ASSERT(IS_ENABLED(CONFIG_AZURE_IOT_HUB), "chosen in the CLOUD_SERVICE choice");
BUILD_ASSERT(IS_ENABLED(CONFIG_AZURE_IOT_HUB_CHOICE), "the menu symbol, selected by the choice");
BUILD_ASSERT(IS_ENABLED(CONFIG_MQTT_HELPER), "selected through AZURE_IOT_HUB_CHOICE");

static void handler(struct azure_iot_hub_evt *const evt)
{
	ARG_UNUSED(evt);
}

int main(void)
{
	return azure_iot_hub_init(handler);
}
