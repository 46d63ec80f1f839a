/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tiny HTTP/1.1 file server for the FOTA test, on 127.0.0.1:HTTP_PORT: GET of
 * HTTP_IMAGE_PATH with "Range: bytes=a-b" (206 and Content-Range; 200 with the whole image
 * without a Range), 404 for any other path, keep-alive; and a knob that cuts the connection in
 * the middle of the body of the Nth request.
 */

#ifndef HTTP_H__
#define HTTP_H__

#include <stddef.h>
#include <stdint.h>

#define HTTP_PORT 18080
#define HTTP_IMAGE_PATH "/fw/app.bin"
#define HTTP_IMAGE_SIZE 20000

/** The image byte at @p offset (a pattern that differs between neighbouring fragments). */
uint8_t http_image_byte(size_t offset);

/** Start the server thread. */
void http_start(void);

/** Cut the connection halfway through the body of request number @p n (1-based; 0: never). */
void http_cut_request(int n);

/** Requests served so far (all paths), 404s among them, connections accepted. */
int http_requests(void);
int http_not_found(void);
int http_connections(void);

#endif
