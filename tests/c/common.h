/* Helpers for the C API test programs (tests/capi.rs builds and runs them).
 *
 * CHECK_EQ(expr, value) prints and exits 1 on a mismatch. The event handler records every event
 * (type and a few fields) so that the test thread can wait for one. Each program prints "PASS"
 * and returns 0 when every check held. */
#ifndef CAPI_TEST_COMMON_H
#define CAPI_TEST_COMMON_H

#include <net/azure_iot_hub.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Not in the header (as in the original): the library's state. */
int iot_hub_state_get(void);
enum {
	STATE_UNINIT,
	STATE_DISCONNECTED,
	STATE_CONNECTING,
	STATE_TRANSPORT_CONNECTED,
	STATE_CONNECTED,
	STATE_DISCONNECTING,
};

#define CHECK_EQ(expr, want)                                                                       \
	do {                                                                                       \
		long long got_ = (long long)(expr);                                                \
		long long want_ = (long long)(want);                                               \
		if (got_ != want_) {                                                               \
			printf("FAIL %s:%d: %s = %lld, want %s = %lld\n", __FILE__, __LINE__,      \
			       #expr, got_, #want, want_);                                          \
			fflush(stdout);                                                            \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#define CHECK(cond) CHECK_EQ(!!(cond), 1)

__attribute__((unused)) static const char *evt_name(int type)
{
	static const char *const names[] = {
		"?", "CONNECTING", "CONNECTED", "CONNECTION_FAILED", "READY", "DISCONNECTED",
		"DATA_RECEIVED", "PUBACK", "PINGRESP", "TWIN_RECEIVED", "TWIN_DESIRED_RECEIVED",
		"TWIN_RESULT_SUCCESS", "TWIN_RESULT_FAIL", "DIRECT_METHOD", "FOTA_START",
		"FOTA_DONE", "FOTA_ERASE_PENDING", "FOTA_ERASE_DONE", "FOTA_ERROR",
		"ERROR_MSG_SIZE", "ERROR",
	};
	return (type > 0 && type <= AZURE_IOT_HUB_EVT_ERROR) ? names[type] : "?";
}

/* What the tests look at after an event. */
struct recorded {
	int type;
	int err;
	uint16_t message_id;
	int topic_type;
	uint32_t status;
	char topic[256];
	char request_id[64];
	char payload[1024];
	char method[64];
	size_t property_count;
	char properties[256]; /* "k=v;k=v;" */
	int payload_nul_terminated;
};

#define MAX_EVENTS 256
static struct recorded events[MAX_EVENTS];
static int event_count;
static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t event_cond = PTHREAD_COND_INITIALIZER;
/* Called inside the handler before the event is recorded (NULL: nothing). */
__attribute__((unused)) static void (*on_event)(struct azure_iot_hub_evt *evt);

__attribute__((unused)) static void copy_buf(char *dst, size_t cap, struct azure_iot_hub_buf b)
{
	size_t n = b.size < cap - 1 ? b.size : cap - 1;

	if (b.ptr && n) {
		memcpy(dst, b.ptr, n);
	}
	dst[n] = '\0';
}

__attribute__((unused)) static void record_handler(struct azure_iot_hub_evt *evt)
{
	struct recorded r;
	struct azure_iot_hub_buf payload = { NULL, 0 };

	memset(&r, 0, sizeof(r));
	r.type = evt->type;
	r.topic_type = evt->topic.type;
	copy_buf(r.topic, sizeof(r.topic), evt->topic.name);
	switch (evt->type) {
	case AZURE_IOT_HUB_EVT_CONNECTION_FAILED:
	case AZURE_IOT_HUB_EVT_ERROR:
		r.err = evt->data.err;
		break;
	case AZURE_IOT_HUB_EVT_PUBACK:
		r.message_id = evt->data.message_id;
		break;
	case AZURE_IOT_HUB_EVT_DATA_RECEIVED:
	case AZURE_IOT_HUB_EVT_TWIN_RECEIVED:
	case AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED:
		payload = evt->data.msg.payload;
		copy_buf(r.request_id, sizeof(r.request_id), evt->data.msg.request_id);
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS:
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL:
		payload = evt->data.result.payload;
		r.status = evt->data.result.status;
		copy_buf(r.request_id, sizeof(r.request_id), evt->data.result.request_id);
		break;
	case AZURE_IOT_HUB_EVT_DIRECT_METHOD:
		payload = evt->data.method.payload;
		copy_buf(r.request_id, sizeof(r.request_id), evt->data.method.request_id);
		copy_buf(r.method, sizeof(r.method), evt->data.method.name);
		break;
	default:
		break;
	}
	copy_buf(r.payload, sizeof(r.payload), payload);
	r.payload_nul_terminated = payload.ptr && payload.ptr[payload.size] == '\0';
	r.property_count = evt->topic.property_count;
	for (size_t i = 0; i < evt->topic.property_count; i++) {
		char k[64], v[64];
		size_t used = strlen(r.properties);

		copy_buf(k, sizeof(k), evt->topic.properties[i].key);
		copy_buf(v, sizeof(v), evt->topic.properties[i].value);
		snprintf(r.properties + used, sizeof(r.properties) - used, "%s=%s;", k, v);
	}

	printf("EVT %s err=%d id=%u topic_type=%d status=%u topic=%s rid=%s method=%s props=%s "
	       "payload=%s\n",
	       evt_name(r.type), r.err, r.message_id, r.topic_type, r.status, r.topic,
	       r.request_id, r.method, r.properties, r.payload);
	fflush(stdout);

	/* The test's own reaction first, so that a waiter sees its effects with the event. */
	if (on_event) {
		on_event(evt);
	}

	pthread_mutex_lock(&event_lock);
	if (event_count < MAX_EVENTS) {
		events[event_count++] = r;
	}
	pthread_cond_broadcast(&event_cond);
	pthread_mutex_unlock(&event_lock);
}

/* Waits up to `secs` seconds for an event of `type` at index >= *from; returns a copy and moves
 * *from past it. Exits on timeout. */
__attribute__((unused)) static struct recorded wait_event_from(int *from, int type, int secs)
{
	struct timespec deadline;
	struct recorded r;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += secs;
	pthread_mutex_lock(&event_lock);
	for (;;) {
		for (int i = *from; i < event_count; i++) {
			if (events[i].type == type) {
				r = events[i];
				*from = i + 1;
				pthread_mutex_unlock(&event_lock);
				return r;
			}
		}
		if (pthread_cond_timedwait(&event_cond, &event_lock, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&event_lock);
			printf("FAIL: no %s event within %d s\n", evt_name(type), secs);
			fflush(stdout);
			exit(1);
		}
	}
}

__attribute__((unused)) static int count_events(int type)
{
	int n = 0;

	pthread_mutex_lock(&event_lock);
	for (int i = 0; i < event_count; i++) {
		n += events[i].type == type;
	}
	pthread_mutex_unlock(&event_lock);
	return n;
}

__attribute__((unused)) static int total_events(void)
{
	int n;

	pthread_mutex_lock(&event_lock);
	n = event_count;
	pthread_mutex_unlock(&event_lock);
	return n;
}

__attribute__((unused)) static struct azure_iot_hub_buf buf_str(const char *s)
{
	struct azure_iot_hub_buf b = { (char *)s, s ? strlen(s) : 0 };

	return b;
}

#endif /* CAPI_TEST_COMMON_H */
