# Copyright (c) 2025 The azure-iot-hub-rs authors
# SPDX-License-Identifier: Apache-2.0
#
# Options of this implementation that the original library does not have.

if AZURE_IOT_HUB

config AZURE_IOT_HUB_RS_REPLACE_NCS
	bool "Replace the nRF Connect SDK implementation"
	default y
	depends on ZEPHYR_NRF_MODULE
	help
	  In an nRF Connect SDK workspace the SDK builds its own C implementation of the
	  Azure IoT Hub and Azure FOTA libraries whenever AZURE_IOT_HUB is set. With this
	  option the build links the Rust library instead and empties the SDK's library
	  targets. Turn it off to build the SDK's implementation (this module then adds
	  nothing), for example to compare the two.

config AZURE_IOT_HUB_RS_LOG_LINE_MAX
	int "Longest log line of the library"
	default 128
	depends on LOG
	help
	  Log lines of the library are formatted in Rust and copied into a stack buffer
	  of this size before they go to Zephyr logging; longer lines are cut.

endif # AZURE_IOT_HUB
