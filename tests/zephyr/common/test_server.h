/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The socket and MQTT 3.1.1 plumbing shared by the test servers of the twister apps (the
 * scripted brokers of tests/zephyr/loopback, dps and fota, and the FOTA HTTP server): whole
 * sends and receives, one MQTT packet read, the remaining-length encoding, CONNECT and PUBLISH
 * parsing, the broker's answers (CONNACK, SUBACK, PUBACK, PINGRESP, PUBLISH), and a listening
 * socket on 127.0.0.1, plain TCP or TLS with a server certificate. What each server answers
 * (its script) stays in its app.
 */

#ifndef TEST_SERVER_H__
#define TEST_SERVER_H__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zephyr/kernel.h>

/** Sends all of @p len bytes. @return 0 or a negative errno. */
int tsrv_send_all(int fd, const void *buf, size_t len);

/** Receives exactly @p len bytes. @return 0, -ECONNRESET on EOF, or a negative errno. */
int tsrv_recv_all(int fd, void *buf, size_t len);

/** Writes the MQTT remaining length @p len to @p out (up to 4 bytes). @return bytes written. */
size_t tsrv_put_len(uint8_t *out, size_t len);

/**
 * Reads one MQTT packet: its first byte into @p hdr, its body (remaining length bytes) into
 * @p body of @p size bytes, its length into @p len. A body larger than @p size is an error.
 * @return 0 or a negative errno (-EMSGSIZE, -EBADMSG for a bad remaining length).
 */
int tsrv_read_packet(int fd, uint8_t *hdr, uint8_t *body, size_t size, size_t *len);

/** Copies @p len bytes as a NUL-terminated string, cut to fit @p size. */
void tsrv_copy_text(char *dst, size_t size, const uint8_t *src, size_t len);

/** The value of "$rid=" in @p topic (up to '&' or the end, cut to fit @p size); "" without. */
void tsrv_find_rid(const char *topic, char *rid, size_t size);

/** The fields of a CONNECT body (pointers into it; a NULL field was absent or cut). */
struct tsrv_connect {
	uint8_t flags; /* 0x80 user name, 0x40 password, 0x02 clean session */
	uint16_t keep_alive;
	const uint8_t *client_id;
	size_t client_id_len;
	const uint8_t *user_name;
	size_t user_name_len;
	const uint8_t *password;
	size_t password_len;
};

/** Parses a CONNECT body. @return 0, or -EBADMSG when it is too short for a client ID. */
int tsrv_parse_connect(const uint8_t *body, size_t len, struct tsrv_connect *out);

/** The fields of a PUBLISH (pointers into its body). */
struct tsrv_publish {
	uint8_t qos;
	bool dup;
	const uint8_t *topic;
	size_t topic_len;
	uint16_t packet_id; /* 0 for QoS 0 */
	const uint8_t *payload;
	size_t payload_len;
};

/**
 * Parses a PUBLISH body; @p flags is the low nibble of its first byte.
 * @return 0, or -EBADMSG when the topic or the packet ID does not fit.
 */
int tsrv_parse_publish(uint8_t flags, const uint8_t *body, size_t len, struct tsrv_publish *out);

/** Sends CONNACK with return code @p code (session present 0). */
int tsrv_connack(int fd, uint8_t code);

/** Sends PUBACK for @p packet_id. */
int tsrv_puback(int fd, uint16_t packet_id);

/** Sends PINGRESP. */
int tsrv_pingresp(int fd);

#define TSRV_SUBACK_MAX 16

/**
 * Builds in @p out the SUBACK to a SUBSCRIBE body, granting each filter the QoS it asks for
 * (12 filters at most). @p topics gets the number of filters, @p first_qos the QoS asked for
 * the first one (unchanged without filters). @return the SUBACK's length, 0 for a body
 * shorter than a packet ID (no answer).
 */
size_t tsrv_suback(const uint8_t *body, size_t len, uint8_t out[TSRV_SUBACK_MAX], int *topics,
		   uint8_t *first_qos);

/**
 * Sends a PUBLISH of @p topic and @p payload: QoS 0, or QoS 1 with @p packet_id when it is not
 * 0. Whole packets up to 2048 bytes. @return 0 or a negative errno (-EMSGSIZE).
 */
int tsrv_publish(int fd, const char *topic, const void *payload, size_t payload_len,
		 uint16_t packet_id);

/** A TLS server's credentials: PEM, NUL-terminated (the NUL counted in the lengths). */
struct tsrv_tls {
	int sec_tag;
	const unsigned char *cert;
	size_t cert_len;
	const unsigned char *key;
	size_t key_len;
};

/**
 * A socket listening on 127.0.0.1:@p port with @p backlog: TLS 1.2 with @p tls (no client
 * verification), or plain TCP when @p tls is NULL. @return the socket, or -1 (logged).
 */
int tsrv_listen(uint16_t port, int backlog, const struct tsrv_tls *tls);

/** Accepts the next connection on @p lfd, retrying every 10 ms after a failure. */
int tsrv_accept(int lfd);

/** Starts @p entry on a thread named @p name (priority K_PRIO_PREEMPT(5)), then sleeps 50 ms
 * for it to listen. */
void tsrv_start_thread(struct k_thread *thread, k_thread_stack_t *stack, size_t stack_size,
		       k_thread_entry_t entry, const char *name);

#endif
