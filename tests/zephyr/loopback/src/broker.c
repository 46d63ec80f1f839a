/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/net/socket.h>

#include "broker.h"
#include "test_server.h"

#define BUF_SIZE 2048

static K_MUTEX_DEFINE(lock);
static K_SEM_DEFINE(published, 0, 100);
static K_SEM_DEFINE(closed, 0, 10);
static struct broker_record rec;
static uint8_t connack_code;
static int client_fd = -1;
static int twin_version = 1;
static char twin_doc[1024] =
	"{\"desired\":{\"telemetryInterval\":5,\"$version\":1},\"reported\":{}}";
static bool ack_qos1 = true;
static atomic_t drop_requested;

K_THREAD_STACK_DEFINE(broker_stack, 8192);
static struct k_thread broker_thread;

/* A PUBLISH (QoS 0) of topic and payload; called with the lock held. */
static int publish_locked(int fd, const char *topic, const char *payload, size_t payload_len)
{
	return tsrv_publish(fd, topic, payload, payload_len, 0);
}

static void copy_text(char *dst, const uint8_t *src, size_t len)
{
	tsrv_copy_text(dst, BROKER_TEXT_MAX, src, len);
}

static void on_publish(int fd, uint8_t flags, const uint8_t *body, size_t len)
{
	struct tsrv_publish p;
	uint8_t qos;
	uint16_t pid;
	char topic[BROKER_TEXT_MAX];
	char rid[64];
	char answer[BROKER_TEXT_MAX];

	if (tsrv_parse_publish(flags, body, len, &p) != 0) {
		return;
	}
	qos = p.qos;
	pid = p.packet_id;
	copy_text(topic, p.topic, p.topic_len);
	tsrv_find_rid(topic, rid, sizeof(rid));

	k_mutex_lock(&lock, K_FOREVER);
	if (qos == 1 && !ack_qos1) {
		rec.swallowed++;
		k_mutex_unlock(&lock);
		return;
	}
	if (strncmp(topic, "$iothub/twin/GET/", 17) == 0) {
		rec.twin_gets++;
		snprintf(answer, sizeof(answer), "$iothub/twin/res/200/?$rid=%s", rid);
		(void)publish_locked(fd, answer, twin_doc, strlen(twin_doc));
		k_mutex_unlock(&lock);
		return;
	}
	copy_text(rec.last_topic, (const uint8_t *)topic, strlen(topic));
	copy_text(rec.last_payload, p.payload, p.payload_len);
	rec.last_qos = qos;
	rec.last_packet_id = pid;
	rec.last_dup = p.dup;
	rec.dups += rec.last_dup ? 1 : 0;
	rec.publishes++;
	if (qos == 1) {
		(void)tsrv_puback(fd, pid);
	}
	if (strncmp(topic, "$iothub/twin/PATCH/properties/reported/", 39) == 0) {
#if defined(BROKER_REPORTS_MAX)
		if (rec.reports < BROKER_REPORTS_MAX) {
			copy_text(rec.report[rec.reports], p.payload, p.payload_len);
		}
		rec.reports++;
#endif
		twin_version++;
		snprintf(answer, sizeof(answer), "$iothub/twin/res/204/?$rid=%s&$version=%d", rid,
			 twin_version);
		(void)publish_locked(fd, answer, "", 0);
	}
	k_mutex_unlock(&lock);
	k_sem_give(&published);
}

static void on_connect(int fd, const uint8_t *body, size_t len)
{
	struct tsrv_connect c;
	uint8_t code;

	if (tsrv_parse_connect(body, len, &c) != 0) {
		return;
	}
	k_mutex_lock(&lock, K_FOREVER);
	rec.connects++;
	rec.keep_alive = c.keep_alive;
	if (c.client_id != NULL) {
		copy_text(rec.client_id, c.client_id, c.client_id_len);
	}
	rec.connect_flags = c.flags;
	rec.password[0] = '\0';
	if (c.user_name != NULL) {
		copy_text(rec.user_name, c.user_name, c.user_name_len);
	}
	if (c.password != NULL) {
		copy_text(rec.password, c.password, c.password_len);
	}
	code = connack_code;
	k_mutex_unlock(&lock);
	(void)tsrv_connack(fd, code);
}

static void on_subscribe(int fd, const uint8_t *body, size_t len)
{
	uint8_t suback[TSRV_SUBACK_MAX];
	int topics;
	uint8_t first_qos;
	size_t n = tsrv_suback(body, len, suback, &topics, &first_qos);

	if (n == 0) {
		return;
	}
	k_mutex_lock(&lock, K_FOREVER);
	if (topics > 0) {
		rec.c2d_qos = first_qos;
	}
	rec.subscribes++;
	rec.subscribe_topics = topics;
	k_mutex_unlock(&lock);
	(void)tsrv_send_all(fd, suback, n);
}

static void serve(int fd)
{
	static uint8_t body[BUF_SIZE];

	while (true) {
		uint8_t hdr;
		size_t len;
		struct zsock_pollfd pfd = {.fd = fd, .events = ZSOCK_POLLIN};

		/* Wait in slices, so that broker_drop() is seen. */
		if (atomic_cas(&drop_requested, 1, 0)) {
			k_mutex_lock(&lock, K_FOREVER);
			rec.drops++;
			k_mutex_unlock(&lock);
			return;
		}
		if (zsock_poll(&pfd, 1, 50) == 0) {
			continue;
		}
		if (tsrv_read_packet(fd, &hdr, body, sizeof(body), &len) != 0) {
			return;
		}
		switch (hdr >> 4) {
		case 1:
			on_connect(fd, body, len);
			break;
		case 3:
			on_publish(fd, hdr & 0x0f, body, len);
			break;
		case 8:
			on_subscribe(fd, body, len);
			break;
		case 12:
			k_mutex_lock(&lock, K_FOREVER);
			rec.pingreqs++;
			k_mutex_unlock(&lock);
			(void)tsrv_pingresp(fd);
			break;
		case 14:
			k_mutex_lock(&lock, K_FOREVER);
			rec.disconnects++;
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
	int lfd = tsrv_listen(BROKER_PORT, 1, SERVER_TLS);

	ARG_UNUSED(p1);
	ARG_UNUSED(p2);
	ARG_UNUSED(p3);
	if (lfd < 0) {
		return;
	}
	while (true) {
		int fd = tsrv_accept(lfd);

		k_mutex_lock(&lock, K_FOREVER);
		client_fd = fd;
		atomic_clear(&drop_requested);
		k_mutex_unlock(&lock);
		serve(fd);
		k_mutex_lock(&lock, K_FOREVER);
		client_fd = -1;
		k_mutex_unlock(&lock);
		zsock_close(fd);
		k_sem_give(&closed);
	}
}

void broker_start(void)
{
	tsrv_start_thread(&broker_thread, broker_stack, K_THREAD_STACK_SIZEOF(broker_stack),
			  broker_main, "broker");
}

void broker_set_twin(const char *doc)
{
	k_mutex_lock(&lock, K_FOREVER);
	strncpy(twin_doc, doc, sizeof(twin_doc) - 1);
	twin_doc[sizeof(twin_doc) - 1] = '\0';
	k_mutex_unlock(&lock);
}

void broker_set_connack(uint8_t code)
{
	k_mutex_lock(&lock, K_FOREVER);
	connack_code = code;
	k_mutex_unlock(&lock);
}

void broker_get(struct broker_record *out)
{
	k_mutex_lock(&lock, K_FOREVER);
	*out = rec;
	k_mutex_unlock(&lock);
}

/* Waits until the count at @p offset in the record reaches @p n (woken by each PUBLISH). */
static bool wait_count(size_t offset, int n, int timeout_ms)
{
	int64_t end = k_uptime_get() + timeout_ms;

	while (true) {
		int count;

		k_mutex_lock(&lock, K_FOREVER);
		memcpy(&count, (const uint8_t *)&rec + offset, sizeof(count));
		k_mutex_unlock(&lock);
		if (count >= n) {
			return true;
		}
		if (k_uptime_get() >= end) {
			return false;
		}
		(void)k_sem_take(&published, K_MSEC(50));
	}
}

bool broker_wait_publishes(int n, int timeout_ms)
{
	return wait_count(offsetof(struct broker_record, publishes), n, timeout_ms);
}

#if defined(BROKER_REPORTS_MAX)
bool broker_wait_reports(int n, int timeout_ms)
{
	return wait_count(offsetof(struct broker_record, reports), n, timeout_ms);
}
#endif

bool broker_wait_closed(int timeout_ms)
{
	return k_sem_take(&closed, K_MSEC(timeout_ms)) == 0;
}

int broker_push(const char *topic, const char *payload)
{
	int err;

	k_mutex_lock(&lock, K_FOREVER);
	err = client_fd < 0 ? -ENOTCONN
			    : publish_locked(client_fd, topic, payload, strlen(payload));
	k_mutex_unlock(&lock);
	return err;
}

bool broker_drop(void)
{
	bool open;

	k_mutex_lock(&lock, K_FOREVER);
	open = client_fd >= 0;
	if (open) {
		atomic_set(&drop_requested, 1);
	}
	k_mutex_unlock(&lock);
	return open;
}

void broker_set_ack(bool ack)
{
	k_mutex_lock(&lock, K_FOREVER);
	ack_qos1 = ack;
	k_mutex_unlock(&lock);
}

bool broker_wait_connects(int n, int timeout_ms)
{
	int64_t end = k_uptime_get() + timeout_ms;

	while (true) {
		struct broker_record r;

		broker_get(&r);
		if (r.connects >= n) {
			return true;
		}
		if (k_uptime_get() >= end) {
			return false;
		}
		k_msleep(20);
	}
}

int broker_push_raw(const uint8_t *bytes, size_t len)
{
	int err;

	k_mutex_lock(&lock, K_FOREVER);
	err = client_fd < 0 ? -ENOTCONN : tsrv_send_all(client_fd, bytes, len);
	k_mutex_unlock(&lock);
	return err;
}
