/* The extensions through the unchanged C API, configured by environment variables at run time
 * (docs/extensions.md): automatic reconnect, persistent session with a QoS 1 outbox, Plug and
 * Play model ID. Driven by tests/capi.rs, which sets
 *   CONFIG_AZURE_IOT_HUB_AUTO_RECONNECT=y (backoff 200..400 ms, jitter 10 ms),
 *   CONFIG_AZURE_IOT_HUB_PERSISTENT_SESSION=y, CONFIG_AZURE_IOT_HUB_QOS1_QUEUE_SIZE=300,
 *   CONFIG_AZURE_IOT_HUB_MODEL_ID=dtmi:com:example:Thermostat;1
 * and acts on the hub when a line "AWAIT <what>" appears:
 * 1. "full": the hub holds back PUBACKs; QoS 1 sends succeed until the outbox is full, then
 *    azure_iot_hub_send() returns -ENOMEM (nothing dropped, nothing sent);
 * 2. "drop": the hub drops the connection: DISCONNECTED with data.err != 0 (a reconnect follows),
 *    CONNECTING, CONNECTED, READY; both QoS 1 messages are acknowledged (re-sent after the
 *    reconnect when their PUBACK had not come);
 * 3. "stop": dropped again; azure_iot_hub_disconnect() during the backoff returns 0 and the final
 *    DISCONNECTED has data.err == 0; no reconnect attempt follows. */
#include <unistd.h>

#include "common.h"

static int disconnected_err[MAX_EVENTS];
static int disconnected_count;

static void capture(struct azure_iot_hub_evt *evt)
{
	if (evt->type == AZURE_IOT_HUB_EVT_DISCONNECTED && disconnected_count < MAX_EVENTS) {
		disconnected_err[disconnected_count++] = evt->data.err;
	}
}

static void wait_stdin(const char *what)
{
	char line[64];

	printf("AWAIT %s\n", what);
	fflush(stdout);
	CHECK(fgets(line, sizeof(line), stdin) != NULL);
}

int main(void)
{
	static char body[100];
	struct azure_iot_hub_msg msg;
	int from = 0;
	int accepted = 0;
	int ret;
	int acked = 0;
	int connecting;

	memset(body, 'x', sizeof(body));
	memset(&msg, 0, sizeof(msg));
	msg.topic.type = AZURE_IOT_HUB_TOPIC_EVENT;
	msg.qos = MQTT_QOS_1_AT_LEAST_ONCE;
	msg.payload.ptr = body;
	msg.payload.size = sizeof(body);
	on_event = capture;

	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	CHECK_EQ(azure_iot_hub_connect(NULL), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTED, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_READY, 10);
	printf("READY\n");

	/* 1. The outbox fills up. */
	wait_stdin("full");
	for (;;) {
		ret = azure_iot_hub_send(&msg);
		if (ret != 0) {
			break;
		}
		accepted++;
		CHECK(accepted < 10);
	}
	CHECK_EQ(ret, -ENOMEM);
	printf("FULL after %d\n", accepted);
	CHECK_EQ(accepted, 2);
	/* QoS 0 does not use the outbox. */
	msg.qos = MQTT_QOS_0_AT_MOST_ONCE;
	CHECK_EQ(azure_iot_hub_send(&msg), 0);
	msg.qos = MQTT_QOS_1_AT_LEAST_ONCE;

	/* 2. Dropped: the library reconnects and re-sends. */
	wait_stdin("drop");
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 10);
	CHECK(disconnected_count == 1 && disconnected_err[0] != 0);
	printf("DISCONNECTED err %d\n", disconnected_err[0]);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTING, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTED, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_READY, 10);
	/* Both QoS 1 messages acknowledged, before the drop or re-sent after it. */
	while (count_events(AZURE_IOT_HUB_EVT_PUBACK) < 2) {
		CHECK(acked++ < 1000);
		usleep(10000);
	}
	CHECK_EQ(iot_hub_state_get(), STATE_CONNECTED);
	CHECK_EQ(azure_iot_hub_send(&msg), 0);
	printf("RECONNECTED\n");

	/* 3. Dropped again; disconnect() during the backoff ends the session. */
	wait_stdin("stop");
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 10);
	CHECK(disconnected_err[disconnected_count - 1] != 0);
	connecting = count_events(AZURE_IOT_HUB_EVT_CONNECTING);
	CHECK_EQ(azure_iot_hub_disconnect(), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 10);
	CHECK_EQ(disconnected_err[disconnected_count - 1], 0);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	sleep(1);
	CHECK_EQ(count_events(AZURE_IOT_HUB_EVT_CONNECTING), connecting);
	CHECK_EQ(azure_iot_hub_disconnect(), -ENOTCONN);
	printf("PASS\n");
	return 0;
}
