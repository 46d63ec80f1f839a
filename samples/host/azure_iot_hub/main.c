/*
 * Azure IoT Hub sample for Linux hosts.
 *
 * The behaviour of the nRF Connect SDK azure_iot_hub sample, on Linux, written against the
 * unchanged C API (include/net/azure_iot_hub.h):
 *  - telemetry {"temperature":25.x,"timestamp":<ms>} every telemetryInterval seconds (default 20);
 *  - the desired property telemetryInterval is applied and reported back;
 *  - the direct method "led" is answered with 200 {"it":"worked"};
 *  - cloud-to-device messages are printed with their properties.
 *
 * Configuration comes from the library's Kconfig defaults, overridable at run time with
 * environment variables (CONFIG_AZURE_IOT_HUB_HOSTNAME, CONFIG_AZURE_IOT_HUB_DEVICE_ID,
 * CONFIG_MQTT_HELPER_PORT, CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER, ...); see docs/linux.md.
 * Like the original sample, the event handler defers work to the application's own thread.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <net/azure_iot_hub.h>

#define EVENT_INTERVAL_DEFAULT 20
#define DESIRED_MAX 1023
#define RID_MAX 64

enum work_kind { WORK_NONE, WORK_DESIRED, WORK_METHOD, WORK_READY, WORK_DISCONNECTED };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static volatile sig_atomic_t stop_requested;

/* A small queue of deferred work, filled by the event handler (library thread). */
static struct {
	enum work_kind kind;
	char desired[DESIRED_MAX + 1];
	char method_rid[RID_MAX + 1];
	char method_payload[200];
} queue[8];
static int q_head, q_len;

static int event_interval = EVENT_INTERVAL_DEFAULT;
static bool ready;

static long long uptime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long start_ms;

static void enqueue(enum work_kind kind, const char *a, size_t a_len, const char *b, size_t b_len)
{
	pthread_mutex_lock(&lock);
	if (q_len < (int)(sizeof(queue) / sizeof(queue[0]))) {
		int i = (q_head + q_len) % (int)(sizeof(queue) / sizeof(queue[0]));

		queue[i].kind = kind;
		if (kind == WORK_DESIRED) {
			size_t n = a_len < DESIRED_MAX ? a_len : DESIRED_MAX;

			memcpy(queue[i].desired, a, n);
			queue[i].desired[n] = '\0';
		} else if (kind == WORK_METHOD) {
			size_t n = a_len < RID_MAX ? a_len : RID_MAX;
			size_t m = b_len < sizeof(queue[i].method_payload) - 1 ?
				   b_len : sizeof(queue[i].method_payload) - 1;

			memcpy(queue[i].method_rid, a, n);
			queue[i].method_rid[n] = '\0';
			memcpy(queue[i].method_payload, b, m);
			queue[i].method_payload[m] = '\0';
		}
		q_len++;
	} else {
		printf("work queue full, dropping work item %d\n", kind);
	}
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
}

/* Finds "telemetryInterval" under "desired" if present, else at the root; number or string. */
static int parse_interval(const char *json)
{
	const char *scope = strstr(json, "\"desired\"");
	const char *key = strstr(scope ? scope : json, "\"telemetryInterval\"");

	if (!key) {
		return -1;
	}
	key += strlen("\"telemetryInterval\"");
	while (*key == ' ' || *key == ':' || *key == '"') {
		key++;
	}
	if (*key < '0' || *key > '9') {
		return -1;
	}
	return atoi(key);
}

static void print_buf(const char *label, struct azure_iot_hub_buf buf)
{
	printf("%s%.*s\n", label, (int)buf.size, buf.ptr ? buf.ptr : "");
}

static void event_handler(struct azure_iot_hub_evt *const evt)
{
	switch (evt->type) {
	case AZURE_IOT_HUB_EVT_CONNECTING:
		printf("event: CONNECTING\n");
		break;
	case AZURE_IOT_HUB_EVT_CONNECTED:
		printf("event: CONNECTED\n");
		break;
	case AZURE_IOT_HUB_EVT_CONNECTION_FAILED:
		printf("event: CONNECTION_FAILED, CONNACK code %d\n", evt->data.err);
		enqueue(WORK_DISCONNECTED, NULL, 0, NULL, 0);
		break;
	case AZURE_IOT_HUB_EVT_READY:
		printf("event: READY\n");
		enqueue(WORK_READY, NULL, 0, NULL, 0);
		break;
	case AZURE_IOT_HUB_EVT_DISCONNECTED:
		printf("event: DISCONNECTED\n");
		enqueue(WORK_DISCONNECTED, NULL, 0, NULL, 0);
		break;
	case AZURE_IOT_HUB_EVT_DATA_RECEIVED:
		printf("C2D message received: %.*s\n", (int)evt->data.msg.payload.size,
		       evt->data.msg.payload.ptr);
		for (size_t i = 0; i < evt->topic.property_count; i++) {
			printf("  property: %.*s=%.*s\n", (int)evt->topic.properties[i].key.size,
			       evt->topic.properties[i].key.ptr,
			       (int)evt->topic.properties[i].value.size,
			       evt->topic.properties[i].value.ptr);
		}
		break;
	case AZURE_IOT_HUB_EVT_PUBACK:
		printf("event: PUBACK id %d\n", evt->data.message_id);
		break;
	case AZURE_IOT_HUB_EVT_PINGRESP:
		printf("event: PINGRESP\n");
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RECEIVED: {
		/* Applied directly, as the original sample does (no report). */
		char doc[DESIRED_MAX + 1];
		size_t n = evt->data.msg.payload.size < DESIRED_MAX ? evt->data.msg.payload.size :
								     DESIRED_MAX;
		int v;

		memcpy(doc, evt->data.msg.payload.ptr, n);
		doc[n] = '\0';
		v = parse_interval(doc);
		printf("event: TWIN_RECEIVED\n");
		if (v > 0) {
			pthread_mutex_lock(&lock);
			event_interval = v;
			pthread_mutex_unlock(&lock);
			printf("telemetryInterval set to %d s (from the twin)\n", v);
		}
		break;
	}
	case AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED:
		printf("event: TWIN_DESIRED_RECEIVED\n");
		enqueue(WORK_DESIRED, evt->data.msg.payload.ptr, evt->data.msg.payload.size, NULL, 0);
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS:
		printf("event: TWIN_RESULT_SUCCESS, request ID %.*s, status %u\n",
		       (int)evt->data.result.request_id.size, evt->data.result.request_id.ptr,
		       (unsigned)evt->data.result.status);
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL:
		printf("event: TWIN_RESULT_FAIL, request ID %.*s, status %u\n",
		       (int)evt->data.result.request_id.size, evt->data.result.request_id.ptr,
		       (unsigned)evt->data.result.status);
		break;
	case AZURE_IOT_HUB_EVT_DIRECT_METHOD:
		print_buf("event: DIRECT_METHOD ", evt->data.method.name);
		if (evt->data.method.name.size == 3 &&
		    memcmp(evt->data.method.name.ptr, "led", 3) == 0) {
			enqueue(WORK_METHOD, evt->data.method.request_id.ptr,
				evt->data.method.request_id.size, evt->data.method.payload.ptr,
				evt->data.method.payload.size);
		} else {
			print_buf("unknown method, no response: ", evt->data.method.name);
		}
		break;
	case AZURE_IOT_HUB_EVT_FOTA_START:
	case AZURE_IOT_HUB_EVT_FOTA_DONE:
	case AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING:
	case AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE:
	case AZURE_IOT_HUB_EVT_FOTA_ERROR:
		printf("event: FOTA %d\n", evt->type);
		break;
	case AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE:
		printf("event: ERROR_MSG_SIZE\n");
		break;
	case AZURE_IOT_HUB_EVT_ERROR:
		printf("event: ERROR %d\n", evt->data.err);
		break;
	default:
		printf("event: unknown %d\n", evt->type);
		break;
	}
	fflush(stdout);
}

static void send_telemetry(void)
{
	char buf[100];
	long long ms = uptime_ms() - start_ms;
	int len = snprintf(buf, sizeof(buf), "{\"temperature\":25.%lld,\"timestamp\":%lld}",
			   (ms / 1000) % 10, ms);
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_EVENT,
		.payload.ptr = buf,
		.payload.size = (size_t)len,
		.qos = MQTT_QOS_0_AT_MOST_ONCE,
	};
	int err = azure_iot_hub_send(&msg);

	if (err) {
		printf("telemetry send failed: %d\n", err);
	} else {
		printf("telemetry sent: %s\n", buf);
	}
}

static void handle_desired(const char *json)
{
	char report[64];
	int v = parse_interval(json);
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_TWIN_REPORTED,
		.qos = MQTT_QOS_0_AT_MOST_ONCE,
	};
	int err;

	if (v < 0) {
		printf("no telemetryInterval in the desired properties\n");
		return;
	}
	msg.payload.size = (size_t)snprintf(report, sizeof(report), "{\"telemetryInterval\":%d}", v);
	msg.payload.ptr = report;
	err = azure_iot_hub_send(&msg);
	if (err) {
		printf("failed to report telemetryInterval: %d\n", err);
		return;
	}
	printf("reported: %s\n", report);
	if (v > 0) {
		pthread_mutex_lock(&lock);
		event_interval = v;
		pthread_mutex_unlock(&lock);
		printf("telemetryInterval set to %d s\n", v);
	}
}

static void handle_method(const char *rid, const char *payload)
{
	static const char response[] = "{\"it\":\"worked\"}";
	struct azure_iot_hub_result result = {
		.request_id = { .ptr = (char *)rid, .size = strlen(rid) },
		.status = 200,
		.payload = { .ptr = (char *)response, .size = sizeof(response) - 1 },
	};
	int err;

	printf("LED 1 %s\n", payload[0] == '0' ? "off" : "on");
	err = azure_iot_hub_method_respond(&result);
	if (err) {
		printf("method response failed: %d\n", err);
	} else {
		printf("method response sent\n");
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	pthread_cond_signal(&wake);
}

int main(void)
{
	long long next_send = 0;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	start_ms = uptime_ms();

	err = azure_iot_hub_init(event_handler);
	if (err) {
		printf("azure_iot_hub_init failed: %d\n", err);
		return 1;
	}
	/* As the nRF sample: use_dps is honoured only when DPS is enabled (on Linux,
	 * CONFIG_AZURE_IOT_HUB_DPS=y in the environment, see docs/dps.md); otherwise the host
	 * name and device ID come from CONFIG_AZURE_IOT_HUB_HOSTNAME / _DEVICE_ID. */
	struct azure_iot_hub_config cfg = { .use_dps = true };

	err = azure_iot_hub_connect(&cfg);
	if (err) {
		printf("azure_iot_hub_connect failed: %d\n", err);
		return 1;
	}

	pthread_mutex_lock(&lock);
	while (!stop_requested) {
		long long now = uptime_ms();

		if (q_len > 0) {
			int i = q_head;
			enum work_kind kind = queue[i].kind;
			char desired[DESIRED_MAX + 1], rid[RID_MAX + 1], payload[200];

			memcpy(desired, queue[i].desired, sizeof(desired));
			memcpy(rid, queue[i].method_rid, sizeof(rid));
			memcpy(payload, queue[i].method_payload, sizeof(payload));
			q_head = (q_head + 1) % (int)(sizeof(queue) / sizeof(queue[0]));
			q_len--;
			pthread_mutex_unlock(&lock);
			switch (kind) {
			case WORK_READY:
				ready = true;
				next_send = now; /* send right away, then every interval */
				break;
			case WORK_DESIRED:
				handle_desired(desired);
				next_send = now; /* reschedule at once with the new interval */
				break;
			case WORK_METHOD:
				handle_method(rid, payload);
				break;
			case WORK_DISCONNECTED:
				/* Like the original sample: no reconnect logic. */
				ready = false;
				stop_requested = 1;
				break;
			default:
				break;
			}
			pthread_mutex_lock(&lock);
			continue;
		}
		if (ready && now >= next_send) {
			pthread_mutex_unlock(&lock);
			send_telemetry();
			pthread_mutex_lock(&lock);
			next_send = now + (long long)event_interval * 1000;
			continue;
		}
		{
			struct timespec until;
			long long wait_ms = ready ? next_send - now : 1000;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait_ms / 1000;
			until.tv_nsec += (wait_ms % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&wake, &lock, &until);
		}
	}
	pthread_mutex_unlock(&lock);

	err = azure_iot_hub_disconnect();
	if (err && err != -ENOTCONN) {
		printf("azure_iot_hub_disconnect failed: %d\n", err);
	}
	printf("bye\n");
	return 0;
}
