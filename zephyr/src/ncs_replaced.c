/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * In an nRF Connect SDK workspace with CONFIG_AZURE_IOT_HUB_RS_REPLACE_NCS, this file replaces
 * the sources of the SDK's azure_iot_hub and azure_fota library targets, whose functions the
 * Rust library provides instead (see the root CMakeLists.txt).
 */

typedef int azure_iot_hub_rs_replaced_ncs_library;
