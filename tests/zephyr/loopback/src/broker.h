/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A scripted MQTT 3.1.1 broker for the test, on a loopback TCP socket. It answers like IoT Hub
 * does for one device: CONNACK, SUBACK, the twin document, PUBACK, twin PATCH results,
 * PINGRESP; it records what the device sent, and the test can push messages to the device.
 * Also used by tests/zephyr/reconnect (its fault injection) and tests/zephyr/fota (a settable
 * twin document; with BROKER_REPORTS_MAX defined, a record of every reported patch).
 */

#ifndef BROKER_H__
#define BROKER_H__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BROKER_PORT 18883
#define BROKER_TEXT_MAX 256

struct broker_record {
	int connects;
	int disconnects;
	int subscribes;
	int subscribe_topics;
	int pingreqs;
	char client_id[BROKER_TEXT_MAX];
	char user_name[BROKER_TEXT_MAX];
	uint16_t keep_alive;
	/* The last PUBLISH from the device on a topic that is not a twin GET. */
	char last_topic[BROKER_TEXT_MAX];
	char last_payload[BROKER_TEXT_MAX];
	uint8_t last_qos;
	uint16_t last_packet_id;
	int publishes;
	int twin_gets;
	/* For the extensions (tests/zephyr/reconnect). */
	char password[BROKER_TEXT_MAX]; /* of the last CONNECT ("" without one) */
	uint8_t connect_flags;          /* of the last CONNECT (0x02: clean session) */
	uint8_t c2d_qos;                /* QoS asked for the first filter of the last SUBSCRIBE */
	bool last_dup;                  /* DUP flag of the last recorded PUBLISH */
	int dups;                       /* recorded PUBLISH packets with DUP set */
	int swallowed;                  /* QoS 1 PUBLISH packets ignored (broker_set_ack(false)) */
	int drops;                      /* connections closed by broker_drop() */
#if defined(BROKER_REPORTS_MAX)
	/* Every reported-properties PATCH payload, in order (tests/zephyr/fota). */
	int reports;
	char report[BROKER_REPORTS_MAX][BROKER_TEXT_MAX];
#endif
};

/** Start the broker thread (listens on 127.0.0.1:BROKER_PORT). */
void broker_start(void);

/** The twin document the broker answers a twin GET with (copied; the default has no firmware). */
void broker_set_twin(const char *doc);

#if defined(BROKER_REPORTS_MAX)
/** Wait until the broker has seen @p n reported-properties PATCHes. */
bool broker_wait_reports(int n, int timeout_ms);
#endif

/** CONNACK return code for the next connections (0: accept). */
void broker_set_connack(uint8_t code);

/** A copy of what the broker has seen so far. */
void broker_get(struct broker_record *out);

/** Wait until the broker has seen @p n PUBLISH packets (not counting twin GETs). */
bool broker_wait_publishes(int n, int timeout_ms);

/** Wait until the device's connection is closed (after DISCONNECT or not). */
bool broker_wait_closed(int timeout_ms);

/** Send a QoS 0 PUBLISH to the device. */
int broker_push(const char *topic, const char *payload);

/** Send raw bytes to the device. */
int broker_push_raw(const uint8_t *bytes, size_t len);

/**
 * Close the device's connection from the broker's side (no DISCONNECT, as a network failure
 * or the hub would), within about 50 ms. @return true if a connection was open.
 */
bool broker_drop(void);

/**
 * false: QoS 1 PUBLISH packets are ignored (not recorded, no PUBACK), as if lost on the way;
 * true (the default): recorded and acknowledged.
 */
void broker_set_ack(bool ack);

/** Wait until the broker has accepted @p n connections in total. */
bool broker_wait_connects(int n, int timeout_ms);

#endif
