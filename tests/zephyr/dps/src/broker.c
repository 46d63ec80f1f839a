/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/net/socket.h>
#include <zephyr/net/tls_credentials.h>
#include <zephyr/logging/log.h>

#include "broker.h"

LOG_MODULE_REGISTER(broker, LOG_LEVEL_INF);

#define BUF_SIZE 2048

static K_MUTEX_DEFINE(lock);
static K_SEM_DEFINE(closed, 0, 10);
static struct broker_record rec;
static enum dps_scenario scenario;

K_THREAD_STACK_DEFINE(broker_stack, 8192);
static struct k_thread broker_thread;

static int send_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = zsock_send(fd, p, len, 0);

		if (n <= 0) {
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int recv_all(int fd, uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = zsock_recv(fd, p, len, 0);

		if (n <= 0) {
			return n == 0 ? -ECONNRESET : -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static size_t put_len(uint8_t *out, size_t len)
{
	size_t i = 0;

	do {
		uint8_t b = len % 128;

		len /= 128;
		out[i++] = b | (len > 0 ? 0x80 : 0);
	} while (len > 0);
	return i;
}

/* A PUBLISH to the device: QoS 0, or QoS 1 with packet ID @p pid when @p pid is not 0. */
static int publish(int fd, const char *topic, const char *payload, uint16_t pid)
{
	static uint8_t out[BUF_SIZE];
	size_t tlen = strlen(topic);
	size_t plen = strlen(payload);
	size_t rem = 2 + tlen + (pid ? 2 : 0) + plen;
	size_t i = 0;

	if (rem + 5 > sizeof(out)) {
		return -EMSGSIZE;
	}
	out[i++] = pid ? 0x32 : 0x30;
	i += put_len(&out[i], rem);
	out[i++] = tlen >> 8;
	out[i++] = tlen & 0xff;
	memcpy(&out[i], topic, tlen);
	i += tlen;
	if (pid) {
		out[i++] = pid >> 8;
		out[i++] = pid & 0xff;
	}
	memcpy(&out[i], payload, plen);
	i += plen;
	return send_all(fd, out, i);
}

static void copy_text(char *dst, const uint8_t *src, size_t len)
{
	len = MIN(len, BROKER_TEXT_MAX - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
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
	uint8_t qos = (flags >> 1) & 3;
	size_t tlen;
	size_t at;
	char topic[BROKER_TEXT_MAX];

	if (len < 2) {
		return;
	}
	tlen = (body[0] << 8) | body[1];
	if (2 + tlen > len) {
		return;
	}
	copy_text(topic, &body[2], tlen);
	at = 2 + tlen;
	if (qos > 0) {
		uint16_t pid;

		if (at + 2 > len) {
			return;
		}
		pid = (body[at] << 8) | body[at + 1];
		at += 2;
		if (qos == 1) {
			uint8_t puback[4] = {0x40, 2, pid >> 8, pid & 0xff};

			(void)send_all(fd, puback, sizeof(puback));
		}
	}
	k_mutex_lock(&lock, K_FOREVER);
	if (c->dps && strncmp(topic, "$dps/registrations/PUT/iotdps-register/?$rid=", 45) == 0) {
		rec.registers++;
		copy_text(rec.register_payload, &body[at], len - at);
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
	}
	k_mutex_unlock(&lock);
}

static void on_connect(int fd, struct conn *c, const uint8_t *body, size_t len)
{
	/* Variable header: protocol name (6), level, flags, keep-alive; then the client ID and
	 * (flag 0x80) the user name. */
	size_t at = 10;
	uint8_t flags;
	size_t n;
	char client_id[BROKER_TEXT_MAX] = "";
	char user_name[BROKER_TEXT_MAX] = "";
	uint8_t connack[4] = {0x20, 2, 0, 0};
	bool silent;

	if (len < at + 2) {
		return;
	}
	flags = body[7];
	n = (body[at] << 8) | body[at + 1];
	if (at + 2 + n <= len) {
		copy_text(client_id, &body[at + 2], n);
		at += 2 + n;
	}
	if ((flags & 0x80) && at + 2 <= len) {
		n = (body[at] << 8) | body[at + 1];
		if (at + 2 + n <= len) {
			copy_text(user_name, &body[at + 2], n);
		}
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
		(void)send_all(fd, connack, sizeof(connack));
	}
}

/* SUBACK granting what was asked. Returns false when the connection is to be dropped. */
static bool on_subscribe(int fd, struct conn *c, const uint8_t *body, size_t len)
{
	uint8_t suback[16] = {0x90, 0, 0, 0};
	size_t at = 2;
	int topics = 0;

	if (len < 2) {
		return true;
	}
	suback[2] = body[0];
	suback[3] = body[1];
	while (at + 2 <= len && topics < 12) {
		size_t n = (body[at] << 8) | body[at + 1];

		at += 2 + n;
		if (at >= len + 1) {
			break;
		}
		suback[4 + topics] = body[at] & 3;
		at += 1;
		topics++;
	}
	suback[1] = 2 + topics;
	(void)send_all(fd, suback, 4 + topics);
	return !c->drop;
}

static void serve(int fd)
{
	static uint8_t body[BUF_SIZE];
	struct conn c = {0};

	while (true) {
		uint8_t hdr;
		size_t len = 0;
		int shift = 0;
		uint8_t b;

		if (recv_all(fd, &hdr, 1) != 0) {
			return;
		}
		do {
			if (recv_all(fd, &b, 1) != 0 || shift > 21) {
				return;
			}
			len |= (size_t)(b & 0x7f) << shift;
			shift += 7;
		} while (b & 0x80);
		if (len > sizeof(body) || recv_all(fd, body, len) != 0) {
			LOG_ERR("packet of %zu bytes", len);
			return;
		}
		switch (hdr >> 4) {
		case 1:
			on_connect(fd, &c, body, len);
			break;
		case 3:
			on_publish(fd, &c, hdr & 0x0f, body, len);
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
		case 12: {
			uint8_t pingresp[2] = {0xd0, 0};

			(void)send_all(fd, pingresp, sizeof(pingresp));
			break;
		}
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
#define SERVER_TAG 301
/* PEM must be NUL-terminated for mbed TLS. */
static const unsigned char server_cert[] = {
#include "server-cert.pem.inc"
	0};
static const unsigned char server_key[] = {
#include "server-key.pem.inc"
	0};

static int listen_socket(void)
{
	sec_tag_t tags[] = {SERVER_TAG};
	int none = TLS_PEER_VERIFY_NONE;
	int fd;
	int err;

	err = tls_credential_add(SERVER_TAG, TLS_CREDENTIAL_SERVER_CERTIFICATE, server_cert,
				 sizeof(server_cert));
	if (err == 0 || err == -EEXIST) {
		err = tls_credential_add(SERVER_TAG, TLS_CREDENTIAL_PRIVATE_KEY, server_key,
					 sizeof(server_key));
	}
	if (err != 0 && err != -EEXIST) {
		LOG_ERR("server credentials: %d", err);
		return -1;
	}
	fd = zsock_socket(AF_INET, SOCK_STREAM, IPPROTO_TLS_1_2);
	if (fd < 0 ||
	    zsock_setsockopt(fd, SOL_TLS, TLS_SEC_TAG_LIST, tags, sizeof(tags)) != 0 ||
	    zsock_setsockopt(fd, SOL_TLS, TLS_PEER_VERIFY, &none, sizeof(none)) != 0) {
		LOG_ERR("TLS server socket: %d", errno);
		return -1;
	}
	LOG_INF("TLS server");
	return fd;
}
#else
static int listen_socket(void)
{
	return zsock_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
}
#endif

static void broker_main(void *p1, void *p2, void *p3)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(BROKER_PORT),
	};
	int one = 1;
	int lfd = listen_socket();

	ARG_UNUSED(p1);
	ARG_UNUSED(p2);
	ARG_UNUSED(p3);
	zsock_inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	(void)zsock_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || zsock_bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    zsock_listen(lfd, 2) != 0) {
		LOG_ERR("cannot listen: %d", errno);
		return;
	}
	LOG_INF("listening on 127.0.0.1:%d", BROKER_PORT);
	while (true) {
		int fd = zsock_accept(lfd, NULL, NULL);

		if (fd < 0) {
			k_msleep(10);
			continue;
		}
		serve(fd);
		zsock_close(fd);
		k_sem_give(&closed);
	}
}

void broker_start(void)
{
	k_thread_create(&broker_thread, broker_stack, K_THREAD_STACK_SIZEOF(broker_stack),
			broker_main, NULL, NULL, NULL, K_PRIO_PREEMPT(5), 0, K_NO_WAIT);
	k_thread_name_set(&broker_thread, "broker");
	k_msleep(50);
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

bool broker_wait_closed(int timeout_ms)
{
	return k_sem_take(&closed, K_MSEC(timeout_ms)) == 0;
}
