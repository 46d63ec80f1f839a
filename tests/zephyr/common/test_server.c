/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/net/socket.h>
#if defined(CONFIG_NET_SOCKETS_SOCKOPT_TLS)
#include <zephyr/net/tls_credentials.h>
#endif

#include "test_server.h"

LOG_MODULE_REGISTER(test_server, LOG_LEVEL_INF);

#define PUBLISH_MAX 2048

int tsrv_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

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

int tsrv_recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

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

size_t tsrv_put_len(uint8_t *out, size_t len)
{
	size_t i = 0;

	do {
		uint8_t b = len % 128;

		len /= 128;
		out[i++] = b | (len > 0 ? 0x80 : 0);
	} while (len > 0);
	return i;
}

int tsrv_read_packet(int fd, uint8_t *hdr, uint8_t *body, size_t size, size_t *len)
{
	size_t n = 0;
	int shift = 0;
	uint8_t b;
	int err = tsrv_recv_all(fd, hdr, 1);

	if (err != 0) {
		return err;
	}
	do {
		if (shift > 21) {
			return -EBADMSG;
		}
		err = tsrv_recv_all(fd, &b, 1);
		if (err != 0) {
			return err;
		}
		n |= (size_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (n > size) {
		LOG_ERR("packet of %zu bytes", n);
		return -EMSGSIZE;
	}
	err = tsrv_recv_all(fd, body, n);
	if (err != 0) {
		LOG_ERR("packet of %zu bytes", n);
		return err;
	}
	*len = n;
	return 0;
}

void tsrv_copy_text(char *dst, size_t size, const uint8_t *src, size_t len)
{
	len = MIN(len, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void tsrv_find_rid(const char *topic, char *rid, size_t size)
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

/* A two-byte-length field at body[*at]: its bytes and length, *at moved past it. */
static bool take_field(const uint8_t *body, size_t len, size_t *at, const uint8_t **field,
		       size_t *field_len)
{
	size_t n;

	if (*at + 2 > len) {
		return false;
	}
	n = (body[*at] << 8) | body[*at + 1];
	if (*at + 2 + n > len) {
		return false;
	}
	*field = &body[*at + 2];
	*field_len = n;
	*at += 2 + n;
	return true;
}

int tsrv_parse_connect(const uint8_t *body, size_t len, struct tsrv_connect *out)
{
	/* Variable header: protocol name (6), level, flags, keep-alive; then the client ID,
	 * (flag 0x80) the user name and (flag 0x40) the password. */
	size_t at = 10;

	memset(out, 0, sizeof(*out));
	if (len < at + 2) {
		return -EBADMSG;
	}
	out->flags = body[7];
	out->keep_alive = (body[8] << 8) | body[9];
	if (!take_field(body, len, &at, &out->client_id, &out->client_id_len)) {
		return 0;
	}
	if ((out->flags & 0x80) &&
	    !take_field(body, len, &at, &out->user_name, &out->user_name_len)) {
		return 0;
	}
	if (out->flags & 0x40) {
		(void)take_field(body, len, &at, &out->password, &out->password_len);
	}
	return 0;
}

int tsrv_parse_publish(uint8_t flags, const uint8_t *body, size_t len, struct tsrv_publish *out)
{
	size_t at = 0;

	memset(out, 0, sizeof(*out));
	out->qos = (flags >> 1) & 3;
	out->dup = (flags & 0x08) != 0;
	if (!take_field(body, len, &at, &out->topic, &out->topic_len)) {
		return -EBADMSG;
	}
	if (out->qos > 0) {
		if (at + 2 > len) {
			return -EBADMSG;
		}
		out->packet_id = (body[at] << 8) | body[at + 1];
		at += 2;
	}
	out->payload = &body[at];
	out->payload_len = len - at;
	return 0;
}

int tsrv_connack(int fd, uint8_t code)
{
	uint8_t connack[4] = {0x20, 2, 0, code};

	return tsrv_send_all(fd, connack, sizeof(connack));
}

int tsrv_puback(int fd, uint16_t packet_id)
{
	uint8_t puback[4] = {0x40, 2, packet_id >> 8, packet_id & 0xff};

	return tsrv_send_all(fd, puback, sizeof(puback));
}

int tsrv_pingresp(int fd)
{
	uint8_t pingresp[2] = {0xd0, 0};

	return tsrv_send_all(fd, pingresp, sizeof(pingresp));
}

size_t tsrv_suback(const uint8_t *body, size_t len, uint8_t out[TSRV_SUBACK_MAX], int *topics,
		   uint8_t *first_qos)
{
	size_t at = 2;
	int n_topics = 0;

	*topics = 0;
	if (len < 2) {
		return 0;
	}
	out[0] = 0x90;
	out[2] = body[0];
	out[3] = body[1];
	while (at + 2 <= len && n_topics < TSRV_SUBACK_MAX - 4) {
		size_t n = (body[at] << 8) | body[at + 1];

		at += 2 + n;
		if (at >= len) {
			break;
		}
		out[4 + n_topics] = body[at] & 3; /* grant what was asked */
		if (n_topics == 0) {
			*first_qos = body[at] & 3;
		}
		at += 1;
		n_topics++;
	}
	out[1] = 2 + n_topics;
	*topics = n_topics;
	return 4 + n_topics;
}

int tsrv_publish(int fd, const char *topic, const void *payload, size_t payload_len,
		 uint16_t packet_id)
{
	static K_MUTEX_DEFINE(out_lock);
	static uint8_t out[PUBLISH_MAX];
	size_t tlen = strlen(topic);
	size_t rem = 2 + tlen + (packet_id ? 2 : 0) + payload_len;
	size_t i = 0;
	int err;

	if (rem + 5 > sizeof(out)) {
		return -EMSGSIZE;
	}
	k_mutex_lock(&out_lock, K_FOREVER);
	out[i++] = packet_id ? 0x32 : 0x30;
	i += tsrv_put_len(&out[i], rem);
	out[i++] = tlen >> 8;
	out[i++] = tlen & 0xff;
	memcpy(&out[i], topic, tlen);
	i += tlen;
	if (packet_id) {
		out[i++] = packet_id >> 8;
		out[i++] = packet_id & 0xff;
	}
	memcpy(&out[i], payload, payload_len);
	i += payload_len;
	err = tsrv_send_all(fd, out, i);
	k_mutex_unlock(&out_lock);
	return err;
}

static int tls_socket(const struct tsrv_tls *tls)
{
#if defined(CONFIG_NET_SOCKETS_SOCKOPT_TLS)
	sec_tag_t tags[] = {tls->sec_tag};
	int none = TLS_PEER_VERIFY_NONE;
	int fd;
	int err;

	err = tls_credential_add(tls->sec_tag, TLS_CREDENTIAL_SERVER_CERTIFICATE, tls->cert,
				 tls->cert_len);
	if (err == 0 || err == -EEXIST) {
		err = tls_credential_add(tls->sec_tag, TLS_CREDENTIAL_PRIVATE_KEY, tls->key,
					 tls->key_len);
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
	return fd;
#else
	ARG_UNUSED(tls);
	LOG_ERR("TLS server without CONFIG_NET_SOCKETS_SOCKOPT_TLS");
	return -1;
#endif
}

int tsrv_listen(uint16_t port, int backlog, const struct tsrv_tls *tls)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	int one = 1;
	int lfd = tls != NULL ? tls_socket(tls) : zsock_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

	zsock_inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	if (lfd < 0) {
		LOG_ERR("cannot listen: %d", errno);
		return -1;
	}
	(void)zsock_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (zsock_bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    zsock_listen(lfd, backlog) != 0) {
		LOG_ERR("cannot listen: %d", errno);
		zsock_close(lfd);
		return -1;
	}
	LOG_INF("%s on 127.0.0.1:%d", tls != NULL ? "TLS" : "TCP", port);
	return lfd;
}

int tsrv_accept(int lfd)
{
	while (true) {
		int fd = zsock_accept(lfd, NULL, NULL);

		if (fd >= 0) {
			return fd;
		}
		LOG_DBG("accept: errno %d", errno);
		k_msleep(10);
	}
}

void tsrv_start_thread(struct k_thread *thread, k_thread_stack_t *stack, size_t stack_size,
		       k_thread_entry_t entry, const char *name)
{
	k_thread_create(thread, stack, stack_size, entry, NULL, NULL, NULL, K_PRIO_PREEMPT(5), 0,
			K_NO_WAIT);
	k_thread_name_set(thread, name);
	k_msleep(50);
}
