/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Azure IoT Hub sample.
 *
 * Connects to Azure IoT Hub (optionally through the Device Provisioning Service), then
 *   - sends {"temperature":25.x,"timestamp":<uptime ms>} every telemetryInterval seconds,
 *   - takes telemetryInterval from the device twin's desired properties and reports the value
 *     it applied back in the reported properties,
 *   - answers the direct method "led" with status 200 and {"it":"worked"},
 *   - prints cloud-to-device messages.
 *
 * It only uses the public API of include/net/azure_iot_hub.h and azure_iot_hub_dps.h, so it
 * builds unchanged against the nRF Connect SDK library and against the Rust one.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>
#include <zephyr/logging/log_ctrl.h>
#include <zephyr/net/conn_mgr_connectivity.h>
#include <zephyr/net/conn_mgr_monitor.h>
#include <zephyr/net/net_mgmt.h>
#include <zephyr/net/net_event.h>
#include <zephyr/sys/reboot.h>

#include <net/azure_iot_hub.h>
#if defined(CONFIG_AZURE_IOT_HUB_DPS)
#include <net/azure_iot_hub_dps.h>
#endif
#if defined(CONFIG_AZURE_IOT_HUB_SAMPLE_DEVICE_ID_USE_HW_ID)
#include <zephyr/drivers/hwinfo.h>
#endif
#if defined(CONFIG_MCUBOOT_IMG_MANAGER)
#include <zephyr/dfu/mcuboot.h>
#endif
#if DT_NODE_EXISTS(DT_ALIAS(led0)) && defined(CONFIG_GPIO)
#include <zephyr/drivers/gpio.h>
#define SAMPLE_HAS_LED 1
#endif

LOG_MODULE_REGISTER(azure_iot_hub_sample, CONFIG_AZURE_IOT_HUB_SAMPLE_LOG_LEVEL);

/* Default telemetry interval (seconds), until the twin says otherwise. */
#define TELEMETRY_INTERVAL_DEFAULT 20
/* Name of the desired (and reported) property that sets the interval. */
#define INTERVAL_PROPERTY "telemetryInterval"
/* Sizes of the copies the sample keeps of event data (the data is only valid in the handler). */
#define TWIN_PATCH_MAX 1024
#define METHOD_NAME_MAX 32
#define METHOD_REQUEST_ID_MAX 8
#define METHOD_PAYLOAD_MAX 200
#define WORKQ_STACK_SIZE 8192
#define FOTA_REBOOT_DELAY K_SECONDS(5)

static const char method_response[] = "{\"it\":\"worked\"}";

/* Buffers handed to azure_iot_hub_connect(); DPS may overwrite them. */
static char hostname[128] = CONFIG_AZURE_IOT_HUB_HOSTNAME;
static char device_id[128] = CONFIG_AZURE_IOT_HUB_DEVICE_ID;

static int telemetry_interval = TELEMETRY_INTERVAL_DEFAULT;
static bool connected;

K_SEM_DEFINE(network_up, 0, 1);
#if defined(CONFIG_AZURE_IOT_HUB_DPS)
K_SEM_DEFINE(dps_done, 0, 1);
static bool dps_assigned;
#endif

/* All work runs on the sample's own queue, never on the library's thread. */
K_THREAD_STACK_DEFINE(workq_stack, WORKQ_STACK_SIZE);
static struct k_work_q workq;

static void telemetry_work_fn(struct k_work *work);
static void twin_patch_work_fn(struct k_work *work);
static void method_work_fn(struct k_work *work);
static void reboot_work_fn(struct k_work *work);

static K_WORK_DELAYABLE_DEFINE(telemetry_work, telemetry_work_fn);
static K_WORK_DELAYABLE_DEFINE(reboot_work, reboot_work_fn);

static struct twin_patch_work {
	struct k_work work;
	char json[TWIN_PATCH_MAX];
} twin_patch;

static struct method_work {
	struct k_work work;
	char name[METHOD_NAME_MAX];
	char request_id[METHOD_REQUEST_ID_MAX];
	char payload[METHOD_PAYLOAD_MAX];
} method;

/* Copy a library buffer into a NUL-terminated string, cutting it to fit. */
static void buf_to_str(char *dst, size_t dst_size, const struct azure_iot_hub_buf *src)
{
	size_t n = MIN(src->size, dst_size - 1);

	if (src->ptr == NULL) {
		n = 0;
	} else {
		memcpy(dst, src->ptr, n);
	}
	dst[n] = '\0';
}

/* Event buffers are not NUL-terminated and die with the event: log a terminated copy (deferred
 * logging then keeps a copy of its own).
 */
#define LOG_COPY_MAX 128
#define LOG_INF_BUF(prefix, buf)                                                                   \
	do {                                                                                       \
		char copy_[LOG_COPY_MAX];                                                          \
		buf_to_str(copy_, sizeof(copy_), (buf));                                           \
		LOG_INF("%s%s", prefix, copy_);                                                    \
	} while (0)

/* ---- A minimal reader for the one property the sample needs ----------------------------- */

/* Find the end of the JSON value that starts at @p p (object, array, string or scalar). */
static const char *json_value_end(const char *p, const char *end)
{
	int depth = 0;
	bool in_string = false;

	for (; p < end; p++) {
		if (in_string) {
			if (*p == '\\') {
				p++;
			} else if (*p == '"') {
				in_string = false;
				if (depth == 0) {
					return p + 1;
				}
			}
			continue;
		}
		switch (*p) {
		case '"':
			in_string = true;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0) {
				return p;
			}
			if (--depth == 0) {
				return p + 1;
			}
			break;
		case ',':
			if (depth == 0) {
				return p;
			}
			break;
		default:
			break;
		}
	}
	return end;
}

/* Find member @p key of the object starting at @p obj; return its value or NULL. Only the
 * object's own members are looked at, not those of nested objects.
 */
static const char *json_member(const char *obj, const char *end, const char *key,
			       const char **value_end)
{
	size_t key_len = strlen(key);
	const char *p = obj;

	while (p < end && isspace((unsigned char)*p)) {
		p++;
	}
	if (p >= end || *p != '{') {
		return NULL;
	}
	p++;

	while (p < end) {
		while (p < end && (isspace((unsigned char)*p) || *p == ',')) {
			p++;
		}
		if (p >= end || *p != '"') {
			return NULL;
		}
		const char *name = p + 1;
		const char *name_end = json_value_end(p, end);

		if (name_end > end || name_end - name < 1) {
			return NULL;
		}
		p = name_end;
		while (p < end && (isspace((unsigned char)*p) || *p == ':')) {
			p++;
		}
		const char *val_end = json_value_end(p, end);

		if ((size_t)(name_end - 1 - name) == key_len && !strncmp(name, key, key_len)) {
			*value_end = val_end;
			return p;
		}
		p = val_end;
	}
	return NULL;
}

/* telemetryInterval from a full twin ({"desired":{...},"reported":{...}}) or from a desired
 * patch ({...}). The value may be a number or a string. @return the value, or -1 if absent.
 */
static int interval_from_twin(const char *json, size_t len)
{
	const char *end = json + len;
	const char *v_end;
	const char *obj = json;
	const char *desired = json_member(json, end, "desired", &v_end);

	if (desired != NULL) {
		obj = desired;
		end = v_end;
	}

	const char *v = json_member(obj, end, INTERVAL_PROPERTY, &v_end);

	if (v == NULL) {
		return -1;
	}
	if (*v == '"') {
		v++;
	}
	if (!isdigit((unsigned char)*v)) {
		return -1;
	}
	return atoi(v);
}

/* ---- Telemetry ------------------------------------------------------------------------------ */

static void telemetry_work_fn(struct k_work *work)
{
	char payload[64];
	int64_t uptime = k_uptime_get();
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_EVENT,
		.qos = MQTT_QOS_0_AT_MOST_ONCE,
	};
	int len;
	int err;

	ARG_UNUSED(work);

	len = snprintk(payload, sizeof(payload), "{\"temperature\":25.%d,\"timestamp\":%lld}",
		       (int)(uptime % 10), (long long)uptime);
	msg.payload.ptr = payload;
	msg.payload.size = len;

	err = azure_iot_hub_send(&msg);
	if (err) {
		LOG_ERR("Sending telemetry failed: %d", err);
	} else {
		LOG_INF("Sent telemetry: %s", payload);
	}

	k_work_reschedule_for_queue(&workq, &telemetry_work, K_SECONDS(telemetry_interval));
}

/* ---- Device twin ---------------------------------------------------------------------------- */

static void twin_patch_work_fn(struct k_work *work)
{
	struct twin_patch_work *patch = CONTAINER_OF(work, struct twin_patch_work, work);
	char report[48];
	int interval = interval_from_twin(patch->json, strlen(patch->json));
	struct azure_iot_hub_msg msg = {
		.topic.type = AZURE_IOT_HUB_TOPIC_TWIN_REPORTED,
		.qos = MQTT_QOS_0_AT_MOST_ONCE,
	};
	int err;

	if (interval < 0) {
		LOG_INF("No %s in the desired properties", INTERVAL_PROPERTY);
		return;
	}

	msg.payload.ptr = report;
	msg.payload.size = snprintk(report, sizeof(report), "{\"%s\":%d}", INTERVAL_PROPERTY,
				    interval);

	err = azure_iot_hub_send(&msg);
	if (err) {
		LOG_ERR("Reporting %s failed: %d", INTERVAL_PROPERTY, err);
		return;
	}
	LOG_INF("Reported: %s", report);

	if (interval > 0) {
		telemetry_interval = interval;
		LOG_INF("Telemetry interval is now %d s", telemetry_interval);
		k_work_reschedule_for_queue(&workq, &telemetry_work, K_NO_WAIT);
	}
}

/* ---- Direct methods ------------------------------------------------------------------------- */

static void led_set(bool on)
{
#if defined(SAMPLE_HAS_LED)
	static const struct gpio_dt_spec led = GPIO_DT_SPEC_GET(DT_ALIAS(led0), gpios);
	static bool configured;

	if (!configured && gpio_is_ready_dt(&led)) {
		configured = gpio_pin_configure_dt(&led, GPIO_OUTPUT_INACTIVE) == 0;
	}
	if (configured) {
		(void)gpio_pin_set_dt(&led, on);
	}
#endif
	LOG_INF("LED %s", on ? "on" : "off");
}

static void method_work_fn(struct k_work *work)
{
	struct method_work *m = CONTAINER_OF(work, struct method_work, work);
	struct azure_iot_hub_result result = {
		.request_id = {.ptr = m->request_id, .size = strlen(m->request_id)},
		.status = 200,
		.payload = {.ptr = (char *)method_response, .size = sizeof(method_response) - 1},
	};
	int err;

	if (strcmp(m->name, "led") != 0) {
		/* As in the original sample, unknown methods get no answer. */
		LOG_WRN("Unknown direct method \"%s\"", m->name);
		return;
	}

	led_set(m->payload[0] != '0');

	err = azure_iot_hub_method_respond(&result);
	if (err) {
		LOG_ERR("Answering the direct method failed: %d", err);
	}
}

/* ---- FOTA ------------------------------------------------------------------------------------ */

static void reboot_work_fn(struct k_work *work)
{
	ARG_UNUSED(work);
	LOG_WRN("Rebooting into the new firmware");
	LOG_PANIC();
	sys_reboot(SYS_REBOOT_COLD);
}

/* ---- Library events (run on the library's thread) ---------------------------------------- */

static void azure_event_handler(struct azure_iot_hub_evt *const evt)
{
	switch (evt->type) {
	case AZURE_IOT_HUB_EVT_CONNECTING:
		LOG_INF("Connecting to Azure IoT Hub");
		break;
	case AZURE_IOT_HUB_EVT_CONNECTED:
		LOG_INF("Connected");
		break;
	case AZURE_IOT_HUB_EVT_CONNECTION_FAILED:
		LOG_ERR("Connection refused by the hub: %d", evt->data.err);
		break;
	case AZURE_IOT_HUB_EVT_DISCONNECTED:
		LOG_INF("Disconnected");
		connected = false;
		k_work_cancel_delayable(&telemetry_work);
		break;
	case AZURE_IOT_HUB_EVT_READY:
		LOG_INF("Ready");
		connected = true;
#if defined(CONFIG_MCUBOOT_IMG_MANAGER)
		/* The image runs and reaches the cloud: keep it. */
		(void)boot_write_img_confirmed();
#endif
		k_work_reschedule_for_queue(&workq, &telemetry_work, K_NO_WAIT);
		break;
	case AZURE_IOT_HUB_EVT_DATA_RECEIVED:
		LOG_INF("Cloud-to-device message with %zu properties", evt->topic.property_count);
		LOG_INF_BUF("  payload: ", &evt->data.msg.payload);
		for (size_t i = 0; i < evt->topic.property_count; i++) {
			const struct azure_iot_hub_property *prop = &evt->topic.properties[i];

			LOG_INF_BUF("  property: ", &prop->key);
			LOG_INF_BUF("     value: ", &prop->value);
		}
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RECEIVED: {
		int interval = interval_from_twin(evt->data.msg.payload.ptr,
						  evt->data.msg.payload.size);

		LOG_INF("Device twin received");
		if (interval > 0) {
			telemetry_interval = interval;
			LOG_INF("Telemetry interval from the twin: %d s", telemetry_interval);
		}
		break;
	}
	case AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED:
		LOG_INF("Desired properties received");
		if (k_work_busy_get(&twin_patch.work) & K_WORK_QUEUED) {
			LOG_WRN("Previous patch not handled yet, dropping this one");
			break;
		}
		buf_to_str(twin_patch.json, sizeof(twin_patch.json), &evt->data.msg.payload);
		k_work_submit_to_queue(&workq, &twin_patch.work);
		break;
	case AZURE_IOT_HUB_EVT_DIRECT_METHOD:
		LOG_INF_BUF("Direct method: ", &evt->data.method.name);
		LOG_INF_BUF("  payload: ", &evt->data.method.payload);
		if (k_work_busy_get(&method.work) & K_WORK_QUEUED) {
			LOG_WRN("Previous method not handled yet, dropping this one");
			break;
		}
		buf_to_str(method.name, sizeof(method.name), &evt->data.method.name);
		buf_to_str(method.request_id, sizeof(method.request_id),
			   &evt->data.method.request_id);
		buf_to_str(method.payload, sizeof(method.payload), &evt->data.method.payload);
		k_work_submit_to_queue(&workq, &method.work);
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS:
		LOG_INF("Twin request accepted, status %u", evt->data.result.status);
		LOG_INF_BUF("  request ID: ", &evt->data.result.request_id);
		break;
	case AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL:
		LOG_WRN("Twin request failed, status %u", evt->data.result.status);
		LOG_INF_BUF("  request ID: ", &evt->data.result.request_id);
		break;
	case AZURE_IOT_HUB_EVT_PUBACK:
		LOG_DBG("PUBACK for message %u", evt->data.message_id);
		break;
	case AZURE_IOT_HUB_EVT_PINGRESP:
		LOG_DBG("PINGRESP");
		break;
	case AZURE_IOT_HUB_EVT_FOTA_START:
		LOG_INF("Firmware update started");
		break;
	case AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING:
		LOG_INF("Firmware update: erasing the update slot");
		break;
	case AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE:
		LOG_INF("Firmware update: slot erased");
		break;
	case AZURE_IOT_HUB_EVT_FOTA_DONE:
		LOG_INF("Firmware update downloaded, rebooting in 5 s");
		k_work_schedule_for_queue(&workq, &reboot_work, FOTA_REBOOT_DELAY);
		break;
	case AZURE_IOT_HUB_EVT_FOTA_ERROR:
		LOG_ERR("Firmware update failed");
		break;
	case AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE:
		LOG_ERR("An incoming message was too large for the buffer and was dropped");
		break;
	case AZURE_IOT_HUB_EVT_ERROR:
		LOG_ERR("Library error: %d", evt->data.err);
		break;
	default:
		LOG_WRN("Unhandled event %d", evt->type);
		break;
	}
}

/* ---- Device Provisioning Service ------------------------------------------------------------ */

#if defined(CONFIG_AZURE_IOT_HUB_DPS)
static void dps_handler(enum azure_iot_hub_dps_reg_status status)
{
	switch (status) {
	case AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED:
		LOG_INF("DPS: registration not started");
		break;
	case AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING:
		LOG_INF("DPS: assigning");
		break;
	case AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED:
		LOG_INF("DPS: assigned");
		dps_assigned = true;
		k_sem_give(&dps_done);
		break;
	case AZURE_IOT_HUB_DPS_REG_STATUS_FAILED:
		LOG_ERR("DPS: registration failed");
		dps_assigned = false;
		k_sem_give(&dps_done);
		break;
	default:
		break;
	}
}

/* Register with DPS (or find the stored assignment) and copy the assigned hub and device ID
 * into the connection buffers.
 */
static int dps_run(void)
{
	struct azure_iot_hub_buf assigned;
	struct azure_iot_hub_dps_config cfg = {
		.handler = dps_handler,
		.reg_id = {.ptr = device_id, .size = strlen(device_id)},
		.id_scope = {.ptr = CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE,
			     .size = sizeof(CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE) - 1},
	};
	int err;

	LOG_INF("DPS: registration ID %s, ID scope %s", device_id,
		CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE);

	err = azure_iot_hub_dps_init(&cfg);
	if (err) {
		LOG_ERR("azure_iot_hub_dps_init: %d", err);
		return err;
	}

	err = azure_iot_hub_dps_start();
	if (err == 0) {
		LOG_INF("DPS: registering, waiting for the result");
		k_sem_take(&dps_done, K_FOREVER);
		if (!dps_assigned) {
			return -ENOTCONN;
		}
	} else if (err == -EALREADY) {
		LOG_INF("DPS: already assigned");
	} else {
		LOG_ERR("azure_iot_hub_dps_start: %d", err);
		return err;
	}

	err = azure_iot_hub_dps_hostname_get(&assigned);
	if (err) {
		LOG_ERR("azure_iot_hub_dps_hostname_get: %d", err);
		return err;
	}
	buf_to_str(hostname, sizeof(hostname), &assigned);

	err = azure_iot_hub_dps_device_id_get(&assigned);
	if (err) {
		LOG_ERR("azure_iot_hub_dps_device_id_get: %d", err);
		return err;
	}
	buf_to_str(device_id, sizeof(device_id), &assigned);

	LOG_INF("DPS: hub %s, device ID %s", hostname, device_id);
	return 0;
}
#endif /* CONFIG_AZURE_IOT_HUB_DPS */

/* ---- Network ------------------------------------------------------------------------------- */

#define L4_EVENTS (NET_EVENT_L4_CONNECTED | NET_EVENT_L4_DISCONNECTED)
#define CONN_EVENTS (NET_EVENT_CONN_IF_FATAL_ERROR)

static struct net_mgmt_event_callback l4_cb;
static struct net_mgmt_event_callback conn_cb;

static void l4_event_handler(struct net_mgmt_event_callback *cb, uint32_t event,
			     struct net_if *iface)
{
	ARG_UNUSED(cb);
	ARG_UNUSED(iface);

	if (event == NET_EVENT_L4_CONNECTED) {
		LOG_INF("Network is up");
		k_sem_give(&network_up);
	} else if (event == NET_EVENT_L4_DISCONNECTED) {
		LOG_INF("Network is down");
		/* As in the original sample, there is no reconnection afterwards. */
		if (connected) {
			(void)azure_iot_hub_disconnect();
		}
	}
}

static void conn_event_handler(struct net_mgmt_event_callback *cb, uint32_t event,
			       struct net_if *iface)
{
	ARG_UNUSED(cb);
	ARG_UNUSED(iface);

	if (event == NET_EVENT_CONN_IF_FATAL_ERROR) {
		LOG_ERR("Fatal network error, rebooting");
		LOG_PANIC();
		sys_reboot(SYS_REBOOT_COLD);
	}
}

#if defined(CONFIG_AZURE_IOT_HUB_SAMPLE_DEVICE_ID_USE_HW_ID)
static void device_id_from_hw_id(void)
{
	uint8_t id[16];
	ssize_t n = hwinfo_get_device_id(id, sizeof(id));

	if (n <= 0) {
		LOG_WRN("No hardware ID (%d), keeping %s", (int)n, device_id);
		return;
	}
	for (ssize_t i = 0; i < n && (size_t)(2 * i + 2) < sizeof(device_id); i++) {
		snprintk(&device_id[2 * i], 3, "%02x", id[i]);
	}
	LOG_INF("Device ID from the hardware ID: %s", device_id);
}
#endif

int main(void)
{
	struct azure_iot_hub_config cfg = {0};
	int err;

	LOG_INF("Azure IoT Hub sample started");

	net_mgmt_init_event_callback(&l4_cb, l4_event_handler, L4_EVENTS);
	net_mgmt_add_event_callback(&l4_cb);
	net_mgmt_init_event_callback(&conn_cb, conn_event_handler, CONN_EVENTS);
	net_mgmt_add_event_callback(&conn_cb);

	err = conn_mgr_all_if_up(true);
	if (err) {
		LOG_ERR("conn_mgr_all_if_up: %d", err);
	}
	err = conn_mgr_all_if_connect(true);
	if (err) {
		LOG_ERR("conn_mgr_all_if_connect: %d", err);
	}

#if defined(CONFIG_AZURE_IOT_HUB_SAMPLE_DEVICE_ID_USE_HW_ID)
	device_id_from_hw_id();
#endif

	k_work_init(&twin_patch.work, twin_patch_work_fn);
	k_work_init(&method.work, method_work_fn);
	k_work_queue_start(&workq, workq_stack, K_THREAD_STACK_SIZEOF(workq_stack),
			   K_HIGHEST_APPLICATION_THREAD_PRIO, NULL);

	/* Interfaces that were already up before the callback was registered. */
	conn_mgr_mon_resend_status();

	LOG_INF("Waiting for the network");
	k_sem_take(&network_up, K_FOREVER);

#if defined(CONFIG_AZURE_IOT_HUB_DPS)
	err = dps_run();
	if (err) {
		LOG_ERR("Provisioning failed: %d", err);
		return 0;
	}
#endif

	err = azure_iot_hub_init(azure_event_handler);
	if (err) {
		LOG_ERR("azure_iot_hub_init: %d", err);
		return 0;
	}

	cfg.hostname.ptr = hostname;
	cfg.hostname.size = strlen(hostname);
	cfg.device_id.ptr = device_id;
	cfg.device_id.size = strlen(device_id);
	cfg.use_dps = IS_ENABLED(CONFIG_AZURE_IOT_HUB_DPS);

	err = azure_iot_hub_connect(&cfg);
	if (err < 0) {
		LOG_ERR("azure_iot_hub_connect: %d", err);
		return 0;
	}
	if (err > 0) {
		/* A DNS failure is reported as a positive getaddrinfo() code. */
		LOG_ERR("azure_iot_hub_connect: DNS error %d", err);
		return 0;
	}

	LOG_INF("Connection request sent");
	return 0;
}
