/* An application written for the nRF Connect SDK v2.9.0 Azure IoT Hub library, in the style of
 * its samples/net/azure_iot_hub sample, compiled unchanged against our header. It uses every
 * event type and the fields the original documents, and plays the sample's part:
 *  - on READY it sends a telemetry event {"temperature":...,"timestamp":...};
 *  - TWIN_RECEIVED: reads "telemetryInterval" from the twin document in place (as the sample
 *    does with cJSON on evt->data.msg.payload.ptr, which needs the payload NUL-terminated);
 *  - TWIN_DESIRED_RECEIVED: copies the patch, reads the interval and reports it;
 *  - DIRECT_METHOD "led": answers 200 {"it":"worked"}; other methods get no answer;
 *  - DATA_RECEIVED: logs the payload and properties; "bye" disconnects.
 * The configuration buffers come from the CONFIG_* values (here from the environment), with
 * use_dps = true as the sample sets it (ignored without CONFIG_AZURE_IOT_HUB_DPS). */
#include <net/azure_iot_hub.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_INF(...) (printf("APP: " __VA_ARGS__), printf("\n"), fflush(stdout))
#define LOG_ERR(...) (printf("APP ERR: " __VA_ARGS__), printf("\n"), fflush(stdout))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done;
static int event_interval = 20;
static int failures;

static const char *const event_names[] = {
	[AZURE_IOT_HUB_EVT_CONNECTING] = "AZURE_IOT_HUB_EVT_CONNECTING",
	[AZURE_IOT_HUB_EVT_CONNECTED] = "AZURE_IOT_HUB_EVT_CONNECTED",
	[AZURE_IOT_HUB_EVT_CONNECTION_FAILED] = "AZURE_IOT_HUB_EVT_CONNECTION_FAILED",
	[AZURE_IOT_HUB_EVT_READY] = "AZURE_IOT_HUB_EVT_READY",
	[AZURE_IOT_HUB_EVT_DISCONNECTED] = "AZURE_IOT_HUB_EVT_DISCONNECTED",
	[AZURE_IOT_HUB_EVT_DATA_RECEIVED] = "AZURE_IOT_HUB_EVT_DATA_RECEIVED",
	[AZURE_IOT_HUB_EVT_PUBACK] = "AZURE_IOT_HUB_EVT_PUBACK",
	[AZURE_IOT_HUB_EVT_PINGRESP] = "AZURE_IOT_HUB_EVT_PINGRESP",
	[AZURE_IOT_HUB_EVT_TWIN_RECEIVED] = "AZURE_IOT_HUB_EVT_TWIN_RECEIVED",
	[AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED] = "AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED",
	[AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS] = "AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS",
	[AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL] = "AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL",
	[AZURE_IOT_HUB_EVT_DIRECT_METHOD] = "AZURE_IOT_HUB_EVT_DIRECT_METHOD",
	[AZURE_IOT_HUB_EVT_FOTA_START] = "AZURE_IOT_HUB_EVT_FOTA_START",
	[AZURE_IOT_HUB_EVT_FOTA_DONE] = "AZURE_IOT_HUB_EVT_FOTA_DONE",
	[AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING] = "AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING",
	[AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE] = "AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE",
	[AZURE_IOT_HUB_EVT_FOTA_ERROR] = "AZURE_IOT_HUB_EVT_FOTA_ERROR",
	[AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE] = "AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE",
	[AZURE_IOT_HUB_EVT_ERROR] = "AZURE_IOT_HUB_EVT_ERROR",
};

/* Reads "telemetryInterval" from a NUL-terminated JSON text (under "desired" when there is
 * one), as a number or a string; -1 when absent. */
static int event_interval_get(const char *json)
{
	const char *desired = strstr(json, "\"desired\"");
	const char *p = strstr(desired ? desired : json, "\"telemetryInterval\"");

	if (!p) {
		return -1;
	}
	p = strchr(p + strlen("\"telemetryInterval\""), ':');
	if (!p) {
		return -1;
	}
	p++;
	while (*p == ' ' || *p == '"') {
		p++;
	}
	return atoi(p);
}

static void send_event(void)
{
	static char buf[100];
	struct timespec now;
	int err;
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_EVENT,
		.payload.ptr = buf,
		.qos = MQTT_QOS_0_AT_MOST_ONCE,
	};

	clock_gettime(CLOCK_MONOTONIC, &now);
	msg.payload.size = snprintf(buf, sizeof(buf), "{\"temperature\":25.%d,\"timestamp\":%ld}",
				    (int)(now.tv_sec % 10), (long)now.tv_sec * 1000);
	err = azure_iot_hub_send(&msg);
	if (err) {
		LOG_ERR("Failed to send event, error: %d", err);
		failures++;
		return;
	}
	LOG_INF("Event was successfully sent: %s", buf);
}

static void direct_method_handler(struct azure_iot_hub_method *method)
{
	static const char response[] = "{\"it\":\"worked\"}";
	char request_id[64];
	char name[32];
	int err;
	struct azure_iot_hub_result result = {
		.payload.ptr = (char *)response,
		.payload.size = sizeof(response) - 1,
		.status = 200,
	};

	snprintf(request_id, sizeof(request_id), "%.*s", (int)method->request_id.size,
		 method->request_id.ptr);
	snprintf(name, sizeof(name), "%.*s", (int)method->name.size, method->name.ptr);
	LOG_INF("Method name: %s, payload: %.*s", name, (int)method->payload.size,
		method->payload.ptr);
	if (strcmp(name, "led") != 0) {
		LOG_INF("Unknown direct method");
		return;
	}
	result.request_id.ptr = request_id;
	result.request_id.size = strlen(request_id);
	err = azure_iot_hub_method_respond(&result);
	if (err) {
		LOG_ERR("Failed to send direct method response: %d", err);
		failures++;
	}
}

static void twin_desired_handler(const char *payload, size_t size)
{
	static char copy[1024];
	char reported[100];
	int interval, err;
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_TWIN_REPORTED,
		.payload.ptr = reported,
		.qos = MQTT_QOS_0_AT_MOST_ONCE,
	};

	if (size >= sizeof(copy)) {
		LOG_ERR("Desired properties too large");
		return;
	}
	memcpy(copy, payload, size);
	copy[size] = '\0';
	interval = event_interval_get(copy);
	if (interval < 0) {
		return;
	}
	msg.payload.size = snprintf(reported, sizeof(reported), "{\"telemetryInterval\":%d}", interval);
	err = azure_iot_hub_send(&msg);
	if (err) {
		LOG_ERR("Failed to send reported properties: %d", err);
		failures++;
		return;
	}
	event_interval = interval;
	LOG_INF("New telemetry interval has been applied: %d", event_interval);
}

static void azure_event_handler(struct azure_iot_hub_evt *const evt)
{
	LOG_INF("event %s", event_names[evt->type]);
	switch (evt->type) {
	case AZURE_IOT_HUB_EVT_CONNECTING:
		LOG_INF("Connecting to Azure IoT Hub");
		break;
	case AZURE_IOT_HUB_EVT_CONNECTED:
		LOG_INF("Connected to Azure IoT Hub");
		break;
	case AZURE_IOT_HUB_EVT_CONNECTION_FAILED:
		LOG_ERR("Connection failed, CONNACK return code: %d", evt->data.err);
		break;
	case AZURE_IOT_HUB_EVT_READY:
		LOG_INF("Ready to send data to Azure IoT Hub");
		send_event();
		break;
	case AZURE_IOT_HUB_EVT_DISCONNECTED:
		LOG_INF("Disconnected from Azure IoT Hub");
		pthread_mutex_lock(&lock);
		done = 1;
		pthread_cond_signal(&done_cond);
		pthread_mutex_unlock(&lock);
		break;
	case AZURE_IOT_HUB_EVT_DATA_RECEIVED:
		LOG_INF("Data received from the cloud: %.*s (topic type %d, %zu properties)",
			(int)evt->data.msg.payload.size, evt->data.msg.payload.ptr, evt->topic.type,
			evt->topic.property_count);
		for (size_t i = 0; i < evt->topic.property_count; i++) {
			struct azure_iot_hub_property *prop = &evt->topic.properties[i];

			LOG_INF("property %.*s=%.*s", (int)prop->key.size, prop->key.ptr,
				(int)prop->value.size, prop->value.ptr);
		}
		if (evt->data.msg.payload.size == 3 &&
		    memcmp(evt->data.msg.payload.ptr, "bye", 3) == 0) {
			LOG_INF("disconnect: %d", azure_iot_hub_disconnect());
		}
		break;
	case AZURE_IOT_HUB_EVT_PUBACK:
		LOG_INF("Publication acknowledged: %d", evt->data.message_id);
		break;
	case AZURE_IOT_HUB_EVT_PINGRESP:
		LOG_INF("Ping response");
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RECEIVED: {
		/* As the sample: parse the payload in place, as a C string. */
		int interval = event_interval_get(evt->data.msg.payload.ptr);

		LOG_INF("Device twin received, telemetryInterval %d", interval);
		if (interval > 0) {
			event_interval = interval;
		}
		break;
	}
	case AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED:
		LOG_INF("Desired device property: %.*s", (int)evt->data.msg.payload.size,
			evt->data.msg.payload.ptr);
		twin_desired_handler(evt->data.msg.payload.ptr, evt->data.msg.payload.size);
		break;
	case AZURE_IOT_HUB_EVT_DIRECT_METHOD:
		LOG_INF("Direct method invoked on topic type %d", evt->topic.type);
		direct_method_handler(&evt->data.method);
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS:
		LOG_INF("Twin request result success, request ID %.*s, status %u",
			(int)evt->data.result.request_id.size, evt->data.result.request_id.ptr,
			evt->data.result.status);
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL:
		LOG_INF("Twin request failed, request ID %.*s, status %u",
			(int)evt->data.result.request_id.size, evt->data.result.request_id.ptr,
			evt->data.result.status);
		break;
	case AZURE_IOT_HUB_EVT_FOTA_START:
	case AZURE_IOT_HUB_EVT_FOTA_DONE:
	case AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING:
	case AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE:
	case AZURE_IOT_HUB_EVT_FOTA_ERROR:
		LOG_INF("FOTA event %d", evt->type);
		break;
	case AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE:
		LOG_ERR("Message too large");
		break;
	case AZURE_IOT_HUB_EVT_ERROR:
		LOG_ERR("Error event: %d", evt->data.err);
		failures++;
		break;
	default:
		LOG_ERR("Unknown Azure IoT Hub event type: %d", evt->type);
		failures++;
		break;
	}
}

int main(void)
{
	static char hostname[128];
	static char device_id[128];
	const char *h = getenv("CONFIG_AZURE_IOT_HUB_HOSTNAME");
	const char *d = getenv("CONFIG_AZURE_IOT_HUB_DEVICE_ID");
	struct azure_iot_hub_config cfg = {
		.use_dps = true,
	};
	int err;

	snprintf(hostname, sizeof(hostname), "%s", h ? h : "");
	snprintf(device_id, sizeof(device_id), "%s", d ? d : "");
	cfg.hostname.ptr = hostname;
	cfg.hostname.size = strlen(hostname);
	cfg.device_id.ptr = device_id;
	cfg.device_id.size = strlen(device_id);

	err = azure_iot_hub_init(azure_event_handler);
	if (err) {
		LOG_ERR("Azure IoT Hub could not be initialized, error: %d", err);
		return 1;
	}
	err = azure_iot_hub_connect(&cfg);
	if (err < 0) {
		LOG_ERR("azure_iot_hub_connect failed: %d", err);
		return 1;
	}
	/* The library copied the configuration. */
	memset(hostname, 0, sizeof(hostname));
	memset(device_id, 0, sizeof(device_id));

	pthread_mutex_lock(&lock);
	while (!done) {
		pthread_cond_wait(&done_cond, &lock);
	}
	pthread_mutex_unlock(&lock);
	LOG_INF("interval %d, failures %d", event_interval, failures);
	printf(failures ? "FAILURES\n" : "PASS\n");
	return failures != 0;
}
