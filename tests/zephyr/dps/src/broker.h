/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A scripted MQTT 3.1.1 server for the DPS test, on a loopback TCP socket. A connection whose
 * user name holds "/registrations/" is a DPS registration, answered as the scenario says
 * (broker_set_dps); any other is the IoT hub (CONNACK, SUBACK, the twin document). It counts
 * both kinds and keeps what the device sent.
 */

#ifndef BROKER_H__
#define BROKER_H__

#include <stdbool.h>
#include <stdint.h>

#define BROKER_PORT 18883
#define BROKER_TEXT_MAX 320

#if defined(CONFIG_AZURE_IOT_HUB_RS_TLS)
/* The name in the test certificate (the hub's TLS_HOSTNAME). */
#define ASSIGNED_HUB "test-hub.azure-devices.net"
#else
#define ASSIGNED_HUB "assigned-hub.azure-devices.net"
#endif
#define ASSIGNED_DEVICE "assigned-dev"

/** What the DPS side answers. */
enum dps_scenario {
	/* 202 assigning (retry-after=1), then 200 assigned (QoS 1) to the status query. */
	DPS_ASSIGN,
	/* 200 with status "disabled" (errorCode 400207) to the register request. */
	DPS_DISABLED,
	/* 200 with status "failed". */
	DPS_FAILED,
	/* 401 unknown device (errorCode 401002). */
	DPS_UNAUTHORIZED,
	/* No CONNACK at all: the registration times out. */
	DPS_SILENT,
	/* A 202 whose JSON is cut off. */
	DPS_GARBAGE,
	/* 200 assigned to a host name that cannot be used ("bad/host"). */
	DPS_BAD_ASSIGNMENT,
	/* The connection is closed after SUBACK. */
	DPS_DROP,
};

struct broker_record {
	int dps_connects;
	int dps_disconnects;
	int registers;
	int status_queries;
	int dps_pubacks;
	int hub_connects;
	int hub_drops;
	char dps_client_id[BROKER_TEXT_MAX];
	char dps_user_name[BROKER_TEXT_MAX];
	char register_payload[BROKER_TEXT_MAX];
	char status_topic[BROKER_TEXT_MAX];
	char hub_client_id[BROKER_TEXT_MAX];
	char hub_user_name[BROKER_TEXT_MAX];
};

/** Start the broker thread (listens on 127.0.0.1:BROKER_PORT). */
void broker_start(void);

/** The DPS scenario for the next registrations. */
void broker_set_dps(enum dps_scenario scenario);

/** A copy of what the broker has seen so far. */
void broker_get(struct broker_record *out);

/** Close the next hub connection right after it has been sent the twin document (once). */
void broker_drop_hub_after_twin(void);

/** Wait until the device's connection is closed (after DISCONNECT or not). */
bool broker_wait_closed(int timeout_ms);

#endif
