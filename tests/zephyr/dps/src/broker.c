/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/net/socket.h>
#include <zephyr/logging/log.h>

#include "broker.h"
#include "test_server.h"

LOG_MODULE_REGISTER(broker, LOG_LEVEL_INF);

#define BUF_SIZE 2048

static K_MUTEX_DEFINE(lock);
static K_SEM_DEFINE(closed, 0, 10);
static struct broker_record rec;
static enum dps_scenario scenario;
/* broker_drop_hub_after_twin(): the next hub connection ends after the twin document. */
static bool drop_hub_after_twin;

K_THREAD_STACK_DEFINE(broker_stack, 8192);
static struct k_thread broker_thread;

/* A PUBLISH to the device: QoS 0, or QoS 1 with packet ID @p pid when @p pid is not 0. */
static int publish(int fd, const char *topic, const char *payload, uint16_t pid)
{
	return tsrv_publish(fd, topic, payload, strlen(payload), pid);
}

static void copy_text(char *dst, const uint8_t *src, size_t len)
{
	tsrv_copy_text(dst, BROKER_TEXT_MAX, src, len);
}

#define RES "$dps/registrations/res/"

static const char assigning[] = "{\"operationId\":\"4.op-1.dps\",\"status\":\"assigning\"}";
static const char assigned[] =
	"{\"operationId\":\"4.op-1.dps\",\"status\":\"assigned\",\"registrationState\":{"
	"\"registrationId\":\"dps-reg\",\"createdDateTimeUtc\":\"2025-01-01T00:00:00Z\","
	"\"assignedHub\":\"" ASSIGNED_HUB "\",\"deviceId\":\"" ASSIGNED_DEVICE "\","
	"\"status\":\"assigned\",\"substatus\":\"initialAssignment\","
	"\"lastUpdatedDateTimeUtc\":\"2025-01-01T00:00:01Z\",\"etag\":\"IjAwMDAi\"}}";

/* The DPS answer to a register request or a status query; called with the lock held. */
static void dps_answer(int fd, bool query)
{
	switch (scenario) {
	case DPS_ASSIGN:
		if (!query) {
			(void)publish(fd, RES "202/?$rid=1&retry-after=1", assigning, 0);
		} else {
			(void)publish(fd, RES "200/?$rid=1", assigned, 7);
		}
		break;
	case DPS_DISABLED:
		(void)publish(fd, RES "200/?$rid=1",
			      "{\"operationId\":\"4.op-2.dps\",\"status\":\"disabled\","
			      "\"registrationState\":{\"registrationId\":\"dps-reg\","
			      "\"status\":\"disabled\",\"errorCode\":400207,"
			      "\"errorMessage\":\"Enrollment is disabled\"}}",
			      0);
		break;
	case DPS_FAILED:
		(void)publish(fd, RES "200/?$rid=1",
			      "{\"operationId\":\"4.op-3.dps\",\"status\":\"failed\","
			      "\"registrationState\":{\"registrationId\":\"dps-reg\","
			      "\"status\":\"failed\",\"errorCode\":400209,"
			      "\"errorMessage\":\"Custom allocation failed\"}}",
			      0);
		break;
	case DPS_UNAUTHORIZED:
		(void)publish(fd, RES "401/?$rid=1",
			      "{\"errorCode\":401002,\"trackingId\":\"t-1\","
			      "\"message\":\"The device is not authorized.\","
			      "\"timestampUtc\":\"2025-01-01T00:00:00Z\"}",
			      0);
		break;
	case DPS_GARBAGE:
		(void)publish(fd, RES "202/?$rid=1&retry-after=1", "{\"operationId\":\"4.op", 0);
		break;
	case DPS_BAD_ASSIGNMENT:
		(void)publish(fd, RES "200/?$rid=1",
			      "{\"operationId\":\"4.op-4.dps\",\"status\":\"assigned\","
			      "\"registrationState\":{\"assignedHub\":\"bad/host\","
			      "\"deviceId\":\"d\",\"status\":\"assigned\"}}",
			      0);
		break;
	default:
		break;
	}
}

struct conn {
	bool dps;
	bool drop;
};

static void on_publish(int fd, struct conn *c, uint8_t flags, const uint8_t *body, size_t len)
{
	struct tsrv_publish p;
	char topic[BROKER_TEXT_MAX];

	if (tsrv_parse_publish(flags, body, len, &p) != 0) {
		return;
	}
	copy_text(topic, p.topic, p.topic_len);
	if (p.qos == 1) {
		(void)tsrv_puback(fd, p.packet_id);
	}
	k_mutex_lock(&lock, K_FOREVER);
	if (c->dps && strncmp(topic, "$dps/registrations/PUT/iotdps-register/?$rid=", 45) == 0) {
		rec.registers++;
		copy_text(rec.register_payload, p.payload, p.payload_len);
		dps_answer(fd, false);
	} else if (c->dps && strncmp(topic, "$dps/registrations/GET/iotdps-get-operationstatus/",
				     50) == 0) {
		rec.status_queries++;
		copy_text(rec.status_topic, (const uint8_t *)topic, strlen(topic));
		dps_answer(fd, true);
	} else if (!c->dps && strncmp(topic, "$iothub/twin/GET/", 17) == 0) {
		static const char doc[] = "{\"desired\":{\"$version\":1},\"reported\":{}}";
		const char *rid = strstr(topic, "$rid=");
		char answer[64];

		snprintf(answer, sizeof(answer), "$iothub/twin/res/200/?$rid=%s",
			 rid ? rid + 5 : "");
		(void)publish(fd, answer, doc, 0);
		if (drop_hub_after_twin) {
			drop_hub_after_twin = false;
			rec.hub_drops++;
			c->drop = true;
		}
	}
	k_mutex_unlock(&lock);
}

static void on_connect(int fd, struct conn *c, const uint8_t *body, size_t len)
{
	struct tsrv_connect p;
	char client_id[BROKER_TEXT_MAX] = "";
	char user_name[BROKER_TEXT_MAX] = "";
	bool silent;

	if (tsrv_parse_connect(body, len, &p) != 0) {
		return;
	}
	if (p.client_id != NULL) {
		copy_text(client_id, p.client_id, p.client_id_len);
	}
	if (p.user_name != NULL) {
		copy_text(user_name, p.user_name, p.user_name_len);
	}
	c->dps = strstr(user_name, "/registrations/") != NULL;
	k_mutex_lock(&lock, K_FOREVER);
	if (c->dps) {
		rec.dps_connects++;
		strcpy(rec.dps_client_id, client_id);
		strcpy(rec.dps_user_name, user_name);
		c->drop = scenario == DPS_DROP;
	} else {
		rec.hub_connects++;
		strcpy(rec.hub_client_id, client_id);
		strcpy(rec.hub_user_name, user_name);
	}
	silent = c->dps && scenario == DPS_SILENT;
	k_mutex_unlock(&lock);
	if (!silent) {
		(void)tsrv_connack(fd, 0);
	}
}

/* SUBACK granting what was asked. Returns false when the connection is to be dropped. */
static bool on_subscribe(int fd, struct conn *c, const uint8_t *body, size_t len)
{
	uint8_t suback[TSRV_SUBACK_MAX];
	int topics;
	uint8_t first_qos;
	size_t n = tsrv_suback(body, len, suback, &topics, &first_qos);

	if (n == 0) {
		return true;
	}
	(void)tsrv_send_all(fd, suback, n);
	return !c->drop;
}

static void serve(int fd)
{
	static uint8_t body[BUF_SIZE];
	struct conn c = {0};

	while (true) {
		uint8_t hdr;
		size_t len;

		if (tsrv_read_packet(fd, &hdr, body, sizeof(body), &len) != 0) {
			return;
		}
		switch (hdr >> 4) {
		case 1:
			on_connect(fd, &c, body, len);
			break;
		case 3:
			on_publish(fd, &c, hdr & 0x0f, body, len);
			if (c.drop && !c.dps) {
				LOG_INF("dropping the hub connection after the twin document");
				return;
			}
			break;
		case 4:
			k_mutex_lock(&lock, K_FOREVER);
			if (c.dps) {
				rec.dps_pubacks++;
			}
			k_mutex_unlock(&lock);
			break;
		case 8:
			if (!on_subscribe(fd, &c, body, len)) {
				LOG_INF("dropping the connection after SUBACK");
				return;
			}
			break;
		case 12:
			(void)tsrv_pingresp(fd);
			break;
		case 14:
			k_mutex_lock(&lock, K_FOREVER);
			if (c.dps) {
				rec.dps_disconnects++;
			}
			k_mutex_unlock(&lock);
			return;
		default:
			break;
		}
	}
}

#if defined(CONFIG_AZURE_IOT_HUB_RS_TLS)
/* PEM must be NUL-terminated for mbed TLS. */
static const unsigned char server_cert[] = {
#include "server-cert.pem.inc"
	0};
static const unsigned char server_key[] = {
#include "server-key.pem.inc"
	0};
static const struct tsrv_tls server_tls = {
	.sec_tag = 301,
	.cert = server_cert,
	.cert_len = sizeof(server_cert),
	.key = server_key,
	.key_len = sizeof(server_key),
};
#define SERVER_TLS (&server_tls)
#else
#define SERVER_TLS NULL
#endif

static void broker_main(void *p1, void *p2, void *p3)
{
	/* Backlog 2: the hub connection may come while the DPS one is closing. */
	int lfd = tsrv_listen(BROKER_PORT, 2, SERVER_TLS);

	ARG_UNUSED(p1);
	ARG_UNUSED(p2);
	ARG_UNUSED(p3);
	if (lfd < 0) {
		return;
	}
	while (true) {
		int fd = tsrv_accept(lfd);

		serve(fd);
		zsock_close(fd);
		k_sem_give(&closed);
	}
}

void broker_start(void)
{
	tsrv_start_thread(&broker_thread, broker_stack, K_THREAD_STACK_SIZEOF(broker_stack),
			  broker_main, "broker");
}

void broker_set_dps(enum dps_scenario s)
{
	k_mutex_lock(&lock, K_FOREVER);
	scenario = s;
	k_mutex_unlock(&lock);
}

void broker_get(struct broker_record *out)
{
	k_mutex_lock(&lock, K_FOREVER);
	*out = rec;
	k_mutex_unlock(&lock);
}

void broker_drop_hub_after_twin(void)
{
	k_mutex_lock(&lock, K_FOREVER);
	drop_hub_after_twin = true;
	k_mutex_unlock(&lock);
}

bool broker_wait_closed(int timeout_ms)
{
	return k_sem_take(&closed, K_MSEC(timeout_ms)) == 0;
}
