/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Body of one log forwarding function. Each log_*.c file registers one Zephyr log module
 * (the original library's module names) and expands this macro once, because a C file can
 * only log under one module.
 */

#ifndef AZHUB_Z_LOG_MODULE_H__
#define AZHUB_Z_LOG_MODULE_H__

#include <string.h>
#include <zephyr/logging/log.h>

#if defined(CONFIG_AZURE_IOT_HUB_RS_LOG_LINE_MAX)
#define AZHUB_Z_LOG_LINE_MAX CONFIG_AZURE_IOT_HUB_RS_LOG_LINE_MAX
#else
#define AZHUB_Z_LOG_LINE_MAX 128
#endif

/* Copy the (not NUL-terminated) Rust string so that deferred logging keeps a copy of its own,
 * then log it at the requested level.
 */
#define AZHUB_Z_LOG_FORWARD(fn_name, max_level_fn, level_value)                                   \
	int max_level_fn(void)                                                                     \
	{                                                                                          \
		return level_value;                                                                \
	}                                                                                          \
	void fn_name(int level, const char *msg, size_t len)                                       \
	{                                                                                          \
		char line[AZHUB_Z_LOG_LINE_MAX];                                                   \
		size_t n = MIN(len, sizeof(line) - 1);                                             \
                                                                                                   \
		if (msg == NULL) {                                                                 \
			n = 0;                                                                     \
		} else {                                                                           \
			memcpy(line, msg, n);                                                      \
		}                                                                                  \
		line[n] = '\0';                                                                    \
		switch (level) {                                                                   \
		case LOG_LEVEL_ERR:                                                                \
			LOG_ERR("%s", line);                                                       \
			break;                                                                     \
		case LOG_LEVEL_WRN:                                                                \
			LOG_WRN("%s", line);                                                       \
			break;                                                                     \
		case LOG_LEVEL_INF:                                                                \
			LOG_INF("%s", line);                                                       \
			break;                                                                     \
		case LOG_LEVEL_DBG:                                                                \
			LOG_DBG("%s", line);                                                       \
			break;                                                                     \
		default:                                                                           \
			break;                                                                     \
		}                                                                                  \
	}

#endif /* AZHUB_Z_LOG_MODULE_H__ */
