/* Connected to the local hub (host, device ID, port and certificates from the CONFIG_*
 * environment, through a NULL config): every return code of send() and method_respond() in its
 * situation, twin results with data.result filled, PUBACKs with the message IDs, direct methods
 * answered from inside the handler (driven by tests/capi.rs over stdin/stdout), disconnect,
 * reconnect, and disconnect from inside the handler. */
#include "common.h"

static char long_text[256];

static struct azure_iot_hub_buf text_of(size_t n)
{
	struct azure_iot_hub_buf b = { long_text, n };

	return b;
}

static struct azure_iot_hub_msg msg_of(enum azure_iot_hub_topic_type type, const char *payload)
{
	struct azure_iot_hub_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.topic.type = type;
	msg.payload = buf_str(payload);
	msg.qos = MQTT_QOS_0_AT_MOST_ONCE;
	return msg;
}

static int method_status = 200;
static int respond_result = 1;
static int disconnect_in_handler;
static int disconnect_in_handler_result = 1;

static void handler_actions(struct azure_iot_hub_evt *evt)
{
	if (evt->type == AZURE_IOT_HUB_EVT_DIRECT_METHOD) {
		struct azure_iot_hub_result result;
		char body[128];

		snprintf(body, sizeof(body), "{\"method\":\"%.*s\",\"echo\":%.*s}",
			 (int)evt->data.method.name.size, evt->data.method.name.ptr,
			 (int)evt->data.method.payload.size, evt->data.method.payload.ptr);
		memset(&result, 0, sizeof(result));
		result.request_id = evt->data.method.request_id;
		result.status = (uint32_t)method_status;
		result.payload = buf_str(body);
		respond_result = azure_iot_hub_method_respond(&result);
		printf("RESPONDED %d\n", respond_result);
		fflush(stdout);
	}
	if (evt->type == AZURE_IOT_HUB_EVT_READY && disconnect_in_handler) {
		disconnect_in_handler_result = azure_iot_hub_disconnect();
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
	struct azure_iot_hub_msg msg;
	struct azure_iot_hub_property props[3];
	struct azure_iot_hub_result result;
	struct recorded r;
	int from = 0;

	memset(long_text, 'r', sizeof(long_text));
	on_event = handler_actions;

	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	CHECK_EQ(azure_iot_hub_connect(NULL), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTING, 1);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTED, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_READY, 10);
	/* CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST: the twin arrives by itself. */
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_TWIN_RECEIVED, 10);
	CHECK_EQ(r.topic_type, AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT);
	CHECK(strlen(r.request_id) > 0);
	CHECK(strstr(r.topic, "$iothub/twin/res/200/") == r.topic);
	CHECK(r.payload[0] == '{' && strstr(r.payload, "\"desired\"") != NULL);
	CHECK(r.payload_nul_terminated);
	CHECK_EQ(iot_hub_state_get(), STATE_CONNECTED);

	/* connect() and init() while connected. */
	CHECK_EQ(azure_iot_hub_connect(NULL), -EALREADY);
	CHECK_EQ(azure_iot_hub_init(record_handler), -EALREADY);
	CHECK_EQ(azure_iot_hub_init(NULL), -EALREADY);

	/* send(): NULL, then the topic type, then the arguments. */
	CHECK_EQ(azure_iot_hub_send(NULL), -EINVAL);
	{
		static const int unsupported[] = {
			AZURE_IOT_HUB_TOPIC_DEVICEBOUND, AZURE_IOT_HUB_TOPIC_DIRECT_METHOD,
			AZURE_IOT_HUB_TOPIC_TWIN_DESIRED, AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT,
			AZURE_IOT_HUB_TOPIC_DPS, AZURE_IOT_HUB_TOPIC_UNKNOWN, 9, -1, 1000,
		};
		for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
			msg = msg_of(AZURE_IOT_HUB_TOPIC_EVENT, "{}");
			memcpy(&msg.topic.type, &unsupported[i], sizeof(int));
			CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG);
		}
	}
	msg = msg_of(AZURE_IOT_HUB_TOPIC_EVENT, "{}");
	msg.qos = MQTT_QOS_2_EXACTLY_ONCE;
	CHECK_EQ(azure_iot_hub_send(&msg), -EINVAL);
	{
		int bad_qos = 7;

		memcpy(&msg.qos, &bad_qos, sizeof(int));
		CHECK_EQ(azure_iot_hub_send(&msg), -EINVAL);
	}
	msg = msg_of(AZURE_IOT_HUB_TOPIC_EVENT, NULL);
	msg.payload.size = 4; /* NULL payload with a size */
	CHECK_EQ(azure_iot_hub_send(&msg), -EINVAL);

	msg = msg_of(AZURE_IOT_HUB_TOPIC_EVENT, "{}");
	msg.topic.properties = NULL;
	msg.topic.property_count = 1;
	CHECK_EQ(azure_iot_hub_send(&msg), -EINVAL);
	memset(props, 0, sizeof(props));
	msg.topic.properties = props;
	props[0].key.ptr = NULL; /* NULL key */
	props[0].key.size = 0;
	props[0].value = buf_str("v");
	CHECK_EQ(azure_iot_hub_send(&msg), -EINVAL);
	props[0].key = buf_str("k");
	props[0].value.ptr = NULL;
	props[0].value.size = 2; /* NULL value with a size */
	CHECK_EQ(azure_iot_hub_send(&msg), -EINVAL);
	props[0].key = buf_str("a&b"); /* would start another property */
	props[0].value = buf_str("v");
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG);
	props[0].key = buf_str("k");
	props[0].value = buf_str("x#y"); /* a wildcard in a topic */
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG);
	props[0].key = buf_str("");
	props[0].key.ptr = (char *)"";
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG); /* empty key */
	/* Longer than CONFIG_AZURE_IOT_HUB_MSG_PROPERTY_BUFFER_SIZE (128). */
	props[0].key = buf_str("k1");
	props[0].value = text_of(60);
	props[1].key = buf_str("k2");
	props[1].value = text_of(60);
	props[2].key = buf_str("k3");
	props[2].value = text_of(60);
	msg.topic.property_count = 3;
	CHECK_EQ(azure_iot_hub_send(&msg), -EMSGSIZE);
	/* Fits the property buffer, but not the topic (CONFIG_AZURE_IOT_HUB_TOPIC_MAX_LEN 100). */
	msg.topic.property_count = 1;
	props[0].value = text_of(90);
	CHECK_EQ(azure_iot_hub_send(&msg), -EMSGSIZE);

	/* Twin topics: the request ID is checked like a property. */
	msg = msg_of(AZURE_IOT_HUB_TOPIC_TWIN_REPORTED, "{\"a\":1}");
	msg.request_id = text_of(90);
	CHECK_EQ(azure_iot_hub_send(&msg), -EMSGSIZE);
	msg.request_id = buf_str("r#1");
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG);
	msg.request_id = buf_str("r&1");
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG);
	msg.request_id = buf_str("r\xff"); /* not UTF-8: the core's check, as a '#' */
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG);
	msg.request_id = buf_str("\xc3(");
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG);
	msg.request_id.ptr = NULL;
	msg.request_id.size = 3;
	CHECK_EQ(azure_iot_hub_send(&msg), -EINVAL);
	msg = msg_of(AZURE_IOT_HUB_TOPIC_TWIN_REQUEST, "");
	msg.request_id = buf_str("g=1");
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOMSG);
	CHECK_EQ(iot_hub_state_get(), STATE_CONNECTED);

	/* Telemetry that goes: QoS 1 with a chosen and with a generated message ID. */
	msg = msg_of(AZURE_IOT_HUB_TOPIC_EVENT, "{\"n\":1}");
	msg.qos = MQTT_QOS_1_AT_LEAST_ONCE;
	msg.message_id = 4242;
	CHECK_EQ(azure_iot_hub_send(&msg), 0);
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_PUBACK, 10);
	CHECK_EQ(r.message_id, 4242);
	msg.message_id = 0;
	CHECK_EQ(azure_iot_hub_send(&msg), 0);
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_PUBACK, 10);
	CHECK(r.message_id != 0 && r.message_id != 4242);
	/* With properties, one of them with an empty value ("batch=") and one without a pointer. */
	msg = msg_of(AZURE_IOT_HUB_TOPIC_EVENT, "{\"n\":2}");
	props[0].key = buf_str("%24.ct");
	props[0].value = buf_str("application%2Fjson");
	props[1].key = buf_str("batch");
	props[1].value.ptr = NULL;
	props[1].value.size = 0;
	props[2].key = buf_str("app");
	props[2].value = buf_str("capi");
	msg.topic.properties = props;
	msg.topic.property_count = 3;
	CHECK_EQ(azure_iot_hub_send(&msg), 0);

	/* Twin: reported properties (204), a request the hub refuses (400: data.result filled),
	 * and a GET with our own request ID. */
	msg = msg_of(AZURE_IOT_HUB_TOPIC_TWIN_REPORTED, "{\"capi\":true}");
	msg.request_id = buf_str("rep-1");
	CHECK_EQ(azure_iot_hub_send(&msg), 0);
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS, 10);
	CHECK_EQ(r.status, 204);
	CHECK(strcmp(r.request_id, "rep-1") == 0);
	CHECK_EQ(r.topic_type, AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT);
	msg = msg_of(AZURE_IOT_HUB_TOPIC_TWIN_REPORTED, "this is not JSON");
	msg.request_id = buf_str("bad-1");
	CHECK_EQ(azure_iot_hub_send(&msg), 0);
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL, 10);
	CHECK(r.status >= 400);
	CHECK(strcmp(r.request_id, "bad-1") == 0);
	CHECK_EQ(r.topic_type, AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT);
	CHECK(r.payload_nul_terminated);
	msg = msg_of(AZURE_IOT_HUB_TOPIC_TWIN_REQUEST, "");
	msg.request_id = buf_str("get-1");
	CHECK_EQ(azure_iot_hub_send(&msg), 0);
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_TWIN_RECEIVED, 10);
	CHECK(strcmp(r.request_id, "get-1") == 0);
	CHECK(strstr(r.payload, "\"capi\":true") != NULL);
	/* A generated request ID. */
	msg.request_id.size = 0;
	CHECK_EQ(azure_iot_hub_send(&msg), 0);
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_TWIN_RECEIVED, 10);
	CHECK(strlen(r.request_id) > 0 && strcmp(r.request_id, "get-1") != 0);

	/* method_respond(): NULL, then the state, then the response. */
	CHECK_EQ(azure_iot_hub_method_respond(NULL), -EINVAL);
	memset(&result, 0, sizeof(result));
	result.status = 200;
	result.request_id = buf_str("");
	CHECK_EQ(azure_iot_hub_method_respond(&result), -EFAULT); /* empty request ID */
	result.request_id = buf_str("r#");
	CHECK_EQ(azure_iot_hub_method_respond(&result), -EFAULT);
	result.request_id = buf_str("r\xff"); /* not UTF-8 */
	CHECK_EQ(azure_iot_hub_method_respond(&result), -EFAULT);
	result.request_id = text_of(95); /* the topic is longer than 100 */
	CHECK_EQ(azure_iot_hub_method_respond(&result), -EFAULT);
	result.request_id.ptr = NULL;
	result.request_id.size = 2;
	CHECK_EQ(azure_iot_hub_method_respond(&result), -EINVAL);
	result.request_id = buf_str("1");
	result.payload.ptr = NULL;
	result.payload.size = 2;
	CHECK_EQ(azure_iot_hub_method_respond(&result), -EINVAL);

	/* Direct methods, answered from inside the handler. */
	wait_stdin("method 1");
	r = wait_event_from(&from, AZURE_IOT_HUB_EVT_DIRECT_METHOD, 10);
	CHECK(strcmp(r.method, "echo") == 0);
	CHECK_EQ(r.topic_type, AZURE_IOT_HUB_TOPIC_DIRECT_METHOD);
	CHECK(r.payload_nul_terminated);
	CHECK_EQ(respond_result, 0);
	method_status = 70000; /* the whole uint32_t goes out */
	respond_result = 1;
	wait_stdin("method 2");
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DIRECT_METHOD, 10);
	CHECK_EQ(respond_result, 0);

	/* Disconnect; then everything reports -ENOTCONN. */
	wait_stdin("disconnect");
	CHECK_EQ(azure_iot_hub_disconnect(), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 10);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	CHECK_EQ(azure_iot_hub_disconnect(), -ENOTCONN);
	msg = msg_of(AZURE_IOT_HUB_TOPIC_EVENT, "{}");
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOTCONN);
	result.request_id = buf_str("1");
	result.payload = buf_str("{}");
	CHECK_EQ(azure_iot_hub_method_respond(&result), -ENOTCONN);

	/* Init again while disconnected, connect again, and disconnect from inside the handler. */
	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	disconnect_in_handler = 1;
	CHECK_EQ(azure_iot_hub_connect(NULL), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_READY, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 10);
	CHECK_EQ(disconnect_in_handler_result, 0);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	CHECK_EQ(count_events(AZURE_IOT_HUB_EVT_ERROR), 0);
	CHECK_EQ(count_events(AZURE_IOT_HUB_EVT_CONNECTING), 2);
	printf("PASS\n");
	return 0;
}
