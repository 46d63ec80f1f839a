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
static K_SEM_DEFINE(published, 0, 100);
static K_SEM_DEFINE(closed, 0, 10);
static struct broker_record rec;
static uint8_t connack_code;
static int client_fd = -1;
static int twin_version = 1;
static bool ack_qos1 = true;
static atomic_t drop_requested;

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

/* A PUBLISH (QoS 0) of topic and payload; called with the lock held. */
static int publish_locked(int fd, const char *topic, const char *payload, size_t payload_len)
{
	static uint8_t out[BUF_SIZE];
	size_t tlen = strlen(topic);
	size_t rem = 2 + tlen + payload_len;
	size_t i = 0;

	if (rem + 5 > sizeof(out)) {
		return -EMSGSIZE;
	}
	out[i++] = 0x30;
	i += put_len(&out[i], rem);
	out[i++] = tlen >> 8;
	out[i++] = tlen & 0xff;
	memcpy(&out[i], topic, tlen);
	i += tlen;
	memcpy(&out[i], payload, payload_len);
	i += payload_len;
	return send_all(fd, out, i);
}

static void copy_text(char *dst, const uint8_t *src, size_t len)
{
	len = MIN(len, BROKER_TEXT_MAX - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* "...?$rid=<rid>..." -> rid */
static void find_rid(const char *topic, char *rid, size_t size)
{
	const char *p = strstr(topic, "$rid=");
	size_t n = 0;

	rid[0] = '\0';
	if (p == NULL) {
		return;
	}
	p += 5;
	while (p[n] != '\0' && p[n] != '&' && n + 1 < size) {
		n++;
	}
	memcpy(rid, p, n);
	rid[n] = '\0';
}

static void on_publish(int fd, uint8_t flags, const uint8_t *body, size_t len)
{
	uint8_t qos = (flags >> 1) & 3;
	size_t tlen;
	size_t at;
	uint16_t pid = 0;
	char topic[BROKER_TEXT_MAX];
	char rid[64];
	char answer[BROKER_TEXT_MAX];

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
		if (at + 2 > len) {
			return;
		}
		pid = (body[at] << 8) | body[at + 1];
		at += 2;
	}
	find_rid(topic, rid, sizeof(rid));

	k_mutex_lock(&lock, K_FOREVER);
	if (qos == 1 && !ack_qos1) {
		rec.swallowed++;
		k_mutex_unlock(&lock);
		return;
	}
	if (strncmp(topic, "$iothub/twin/GET/", 17) == 0) {
		static const char doc[] =
			"{\"desired\":{\"telemetryInterval\":5,\"$version\":1},\"reported\":{}}";

		rec.twin_gets++;
		snprintf(answer, sizeof(answer), "$iothub/twin/res/200/?$rid=%s", rid);
		(void)publish_locked(fd, answer, doc, strlen(doc));
		k_mutex_unlock(&lock);
		return;
	}
	copy_text(rec.last_topic, (const uint8_t *)topic, strlen(topic));
	copy_text(rec.last_payload, &body[at], len - at);
	rec.last_qos = qos;
	rec.last_packet_id = pid;
	rec.last_dup = (flags & 0x08) != 0;
	rec.dups += rec.last_dup ? 1 : 0;
	rec.publishes++;
	if (qos == 1) {
		uint8_t puback[4] = {0x40, 2, pid >> 8, pid & 0xff};

		(void)send_all(fd, puback, sizeof(puback));
	}
	if (strncmp(topic, "$iothub/twin/PATCH/properties/reported/", 39) == 0) {
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
	/* Variable header: protocol name (6), level, flags, keep-alive; then the client ID and
	 * (flag 0x80) the user name. */
	size_t at = 10;
	uint8_t flags;
	size_t n;
	uint8_t connack[4] = {0x20, 2, 0, 0};

	if (len < at + 2) {
		return;
	}
	flags = body[7];
	k_mutex_lock(&lock, K_FOREVER);
	rec.connects++;
	rec.keep_alive = (body[8] << 8) | body[9];
	n = (body[at] << 8) | body[at + 1];
	if (at + 2 + n <= len) {
		copy_text(rec.client_id, &body[at + 2], n);
		at += 2 + n;
	}
	rec.connect_flags = flags;
	rec.password[0] = '\0';
	if ((flags & 0x80) && at + 2 <= len) {
		n = (body[at] << 8) | body[at + 1];
		if (at + 2 + n <= len) {
			copy_text(rec.user_name, &body[at + 2], n);
			at += 2 + n;
		}
	}
	if ((flags & 0x40) && at + 2 <= len) {
		n = (body[at] << 8) | body[at + 1];
		if (at + 2 + n <= len) {
			copy_text(rec.password, &body[at + 2], n);
		}
	}
	connack[3] = connack_code;
	k_mutex_unlock(&lock);
	(void)send_all(fd, connack, sizeof(connack));
}

static void on_subscribe(int fd, const uint8_t *body, size_t len)
{
	uint8_t suback[16] = {0x90, 0, 0, 0};
	size_t at = 2;
	int topics = 0;

	if (len < 2) {
		return;
	}
	suback[2] = body[0];
	suback[3] = body[1];
	while (at + 2 <= len && topics < 12) {
		size_t n = (body[at] << 8) | body[at + 1];

		at += 2 + n;
		if (at >= len + 1) {
			break;
		}
		suback[4 + topics] = body[at] & 3; /* grant what was asked */
		if (topics == 0) {
			k_mutex_lock(&lock, K_FOREVER);
			rec.c2d_qos = body[at] & 3;
			k_mutex_unlock(&lock);
		}
		at += 1;
		topics++;
	}
	suback[1] = 2 + topics;
	k_mutex_lock(&lock, K_FOREVER);
	rec.subscribes++;
	rec.subscribe_topics = topics;
	k_mutex_unlock(&lock);
	(void)send_all(fd, suback, 4 + topics);
}

static void serve(int fd)
{
	static uint8_t body[BUF_SIZE];

	while (true) {
		uint8_t hdr;
		size_t len = 0;
		int shift = 0;
		uint8_t b;
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
			on_connect(fd, body, len);
			break;
		case 3:
			on_publish(fd, hdr & 0x0f, body, len);
			break;
		case 8:
			on_subscribe(fd, body, len);
			break;
		case 12: {
			uint8_t pingresp[2] = {0xd0, 0};

			k_mutex_lock(&lock, K_FOREVER);
			rec.pingreqs++;
			k_mutex_unlock(&lock);
			(void)send_all(fd, pingresp, sizeof(pingresp));
			break;
		}
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
	    zsock_listen(lfd, 1) != 0) {
		LOG_ERR("cannot listen: %d", errno);
		return;
	}
	LOG_INF("listening on 127.0.0.1:%d", BROKER_PORT);
	while (true) {
		int fd = zsock_accept(lfd, NULL, NULL);

		LOG_DBG("accept: %d (errno %d)", fd, fd < 0 ? errno : 0);

		if (fd < 0) {
			k_msleep(10);
			continue;
		}
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
	k_thread_create(&broker_thread, broker_stack, K_THREAD_STACK_SIZEOF(broker_stack),
			broker_main, NULL, NULL, NULL, K_PRIO_PREEMPT(5), 0, K_NO_WAIT);
	k_thread_name_set(&broker_thread, "broker");
	k_msleep(50);
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

bool broker_wait_publishes(int n, int timeout_ms)
{
	int64_t end = k_uptime_get() + timeout_ms;

	while (true) {
		struct broker_record r;

		broker_get(&r);
		if (r.publishes >= n) {
			return true;
		}
		if (k_uptime_get() >= end) {
			return false;
		}
		(void)k_sem_take(&published, K_MSEC(50));
	}
}

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
	err = client_fd < 0 ? -ENOTCONN : send_all(client_fd, bytes, len);
	k_mutex_unlock(&lock);
	return err;
}
