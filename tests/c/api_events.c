/* Events in situations the hub emulator creates on request of tests/capi.rs (each phase starts
 * when a line arrives on stdin):
 * 1. a refused connection: CONNECTION_FAILED with the CONNACK code, then DISCONNECTED;
 * 2. a slow CONNACK: connect() returns 0, and until CONNACK -EINPROGRESS / -ENOTCONN;
 * 3. a C2D message larger than the receive buffer: ERROR_MSG_SIZE with its topic, and the next
 *    message still arrives, with at most CONFIG_AZURE_IOT_HUB_MSG_PROPERTY_RECV_MAX_COUNT (3)
 *    properties, as received;
 * 4. the hub drops the connection: DISCONNECTED. */
#include "common.h"

static void wait_stdin(const char *what)
{
	char line[64];

	printf("AWAIT %s\n", what);
	fflush(stdout);
	CHECK(fgets(line, sizeof(line), stdin) != NULL);
}

int main(void)
{
	struct azure_iot_hub_msg msg;
	struct recorded r;
	int from = 0;
	int i;

	memset(&msg, 0, sizeof(msg));
	msg.topic.type = AZURE_IOT_HUB_TOPIC_EVENT;
	CHECK_EQ(azure_iot_hub_init(record_handler), 0);

	/* 1. Refused. */
	wait_stdin("refused");
	CHECK_EQ(azure_iot_hub_connect(NULL), 0);
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTION_FAILED, 10);
	CHECK_EQ(r.err, 3); /* MQTT_SERVER_UNAVAILABLE */
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 10);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	CHECK_EQ(count_events(AZURE_IOT_HUB_EVT_CONNECTED), 0);

	/* 2. CONNACK late. */
	wait_stdin("slow");
	CHECK_EQ(azure_iot_hub_connect(NULL), 0);
	CHECK_EQ(iot_hub_state_get(), STATE_CONNECTING);
	CHECK_EQ(azure_iot_hub_connect(NULL), -EINPROGRESS);
	CHECK_EQ(azure_iot_hub_init(record_handler), -EALREADY);
	CHECK_EQ(azure_iot_hub_disconnect(), -ENOTCONN);
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOTCONN);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTED, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_READY, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_TWIN_RECEIVED, 10);
	CHECK_EQ(iot_hub_state_get(), STATE_CONNECTED);

	/* 3. Too large, then a normal message with 5 properties. */
	wait_stdin("c2d");
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE, 10);
	CHECK_EQ(r.topic_type, AZURE_IOT_HUB_TOPIC_DEVICEBOUND);
	CHECK(strstr(r.topic, "/messages/devicebound/") != NULL);
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_DATA_RECEIVED, 10);
	CHECK(strcmp(r.payload, "small") == 0);
	CHECK(r.payload_nul_terminated);
	CHECK_EQ(r.topic_type, AZURE_IOT_HUB_TOPIC_DEVICEBOUND);
	CHECK_EQ(r.property_count, 3);
	printf("PROPS %s\n", r.properties);
	for (i = 0; i < event_count; i++) {
		CHECK(events[i].type != AZURE_IOT_HUB_EVT_ERROR);
	}

	/* 4. Dropped by the hub. */
	wait_stdin("drop");
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 10);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	CHECK_EQ(azure_iot_hub_disconnect(), -ENOTCONN);
	printf("PASS\n");
	return 0;
}
