/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/net/socket.h>

#include "http.h"
#include "test_server.h"

LOG_MODULE_REGISTER(http_server, LOG_LEVEL_INF);

static atomic_t requests;
static atomic_t not_found;
static atomic_t connections;
static atomic_t cut_at;

K_THREAD_STACK_DEFINE(http_stack, 8192);
static struct k_thread http_thread;

uint8_t http_image_byte(size_t offset)
{
	return (uint8_t)(offset * 31u + (offset >> 7) + 5u);
}

void http_cut_request(int n)
{
	atomic_set(&cut_at, n);
}

int http_requests(void)
{
	return (int)atomic_get(&requests);
}

int http_not_found(void)
{
	return (int)atomic_get(&not_found);
}

int http_connections(void)
{
	return (int)atomic_get(&connections);
}

/* Sends image bytes [start, start + len). */
static int send_image(int fd, size_t start, size_t len)
{
	uint8_t chunk[256];

	while (len > 0) {
		size_t n = MIN(len, sizeof(chunk));

		for (size_t i = 0; i < n; i++) {
			chunk[i] = http_image_byte(start + i);
		}
		if (tsrv_send_all(fd, chunk, n) != 0) {
			return -EIO;
		}
		start += n;
		len -= n;
	}
	return 0;
}

/* Serves one request whose header block is in req. Returns 0 to keep the connection. */
static int serve_request(int fd, const char *req)
{
	char path[128];
	char head[256];
	const char *range;
	unsigned long start = 0;
	unsigned long end = HTTP_IMAGE_SIZE - 1;
	int number = (int)atomic_inc(&requests) + 1;
	bool partial = false;
	size_t len;

	if (sscanf(req, "GET %127s HTTP/1.1", path) != 1) {
		return -EINVAL;
	}
	if (strcmp(path, HTTP_IMAGE_PATH) != 0) {
		atomic_inc(&not_found);
		snprintf(head, sizeof(head),
			 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		return tsrv_send_all(fd, head, strlen(head));
	}
	range = strstr(req, "Range: bytes=");
	if (range != NULL) {
		char *dash;

		start = strtoul(range + 13, &dash, 10);
		if (*dash == '-') {
			end = strtoul(dash + 1, NULL, 10);
		}
		end = MIN(end, HTTP_IMAGE_SIZE - 1);
		partial = true;
	}
	if (start > end) {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n");
		return tsrv_send_all(fd, head, strlen(head));
	}
	len = end - start + 1;
	if (partial) {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %lu-%lu/%d\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 start, end, HTTP_IMAGE_SIZE, len);
	} else {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			 len);
	}
	if (tsrv_send_all(fd, head, strlen(head)) != 0) {
		return -EIO;
	}
	if (number == atomic_get(&cut_at)) {
		LOG_INF("cutting the connection in request %d", number);
		(void)send_image(fd, start, len / 2);
		return -ECONNRESET;
	}
	return send_image(fd, start, len);
}

static void serve(int fd)
{
	char req[512];
	size_t have = 0;

	while (true) {
		ssize_t n = zsock_recv(fd, &req[have], sizeof(req) - 1 - have, 0);
		char *endp;

		if (n <= 0) {
			return;
		}
		have += n;
		req[have] = '\0';
		endp = strstr(req, "\r\n\r\n");
		if (endp == NULL) {
			if (have == sizeof(req) - 1) {
				return;
			}
			continue;
		}
		if (serve_request(fd, req) != 0) {
			return;
		}
		/* Requests are never pipelined by the device: drop what is buffered. */
		have = 0;
	}
}

#if defined(CONFIG_AZURE_FOTA_TLS)
/* HTTPS (overlay-tls.conf): a Zephyr TLS server socket with certs/server-cert.pem (CN
 * 127.0.0.1, signed by certs/ca-cert.pem). PEM must be NUL-terminated for mbed TLS. */
static const unsigned char server_cert[] = {
#include "fota-server-cert.pem.inc"
	0};
static const unsigned char server_key[] = {
#include "fota-server-key.pem.inc"
	0};
static const struct tsrv_tls server_tls = {
	.sec_tag = 302,
	.cert = server_cert,
	.cert_len = sizeof(server_cert),
	.key = server_key,
	.key_len = sizeof(server_key),
};
#define SERVER_TLS (&server_tls)
#else
#define SERVER_TLS NULL
#endif

static void http_main(void *p1, void *p2, void *p3)
{
	int lfd = tsrv_listen(HTTP_PORT, 1, SERVER_TLS);

	ARG_UNUSED(p1);
	ARG_UNUSED(p2);
	ARG_UNUSED(p3);
	if (lfd < 0) {
		return;
	}
	while (true) {
		int fd = tsrv_accept(lfd);

		atomic_inc(&connections);
		serve(fd);
		zsock_close(fd);
	}
}

void http_start(void)
{
	tsrv_start_thread(&http_thread, http_stack, K_THREAD_STACK_SIZEOF(http_stack), http_main,
			  "http");
}
