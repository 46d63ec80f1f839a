/* Compiles include/net/azure_iot_hub.h on its own (C11 and C++11), and uses every name the
 * original header declares, so that a missing or renamed one fails the build. */
#include <net/azure_iot_hub.h>

#if defined(FAKE_ZEPHYR_MQTT_H) && !defined(FAKE_ZEPHYR_MQTT_INCLUDED)
#error "on Zephyr the header must take enum mqtt_qos from <zephyr/net/mqtt.h>"
#endif

#ifndef AZURE_IOT_HUB__
#error "include guard AZURE_IOT_HUB__ missing"
#endif

static void handler(struct azure_iot_hub_evt *evt)
{
	(void)evt;
}

int header_only_use_everything(void);
int header_only_use_everything(void)
{
	azure_iot_hub_evt_handler_t h = handler;
	struct azure_iot_hub_property prop = { { NULL, 0 }, { NULL, 0 } };
	struct azure_iot_hub_msg msg;
	struct azure_iot_hub_result result;
	struct azure_iot_hub_config cfg;
	struct azure_iot_hub_method method;
	struct azure_iot_hub_evt evt;
	enum azure_iot_hub_evt_type t = AZURE_IOT_HUB_EVT_CONNECTING;
	enum azure_iot_hub_topic_type tt = AZURE_IOT_HUB_TOPIC_DEVICEBOUND;
	enum mqtt_qos q = MQTT_QOS_0_AT_MOST_ONCE;
	int sum = 0;

	msg.topic.type = AZURE_IOT_HUB_TOPIC_EVENT;
	msg.topic.name.ptr = NULL;
	msg.topic.name.size = 0;
	msg.topic.properties = &prop;
	msg.topic.property_count = 1;
	msg.payload.ptr = NULL;
	msg.payload.size = 0;
	msg.request_id.ptr = NULL;
	msg.request_id.size = 0;
	msg.qos = MQTT_QOS_1_AT_LEAST_ONCE;
	msg.message_id = 1;
	msg.dup_flag = 0;
	msg.retain_flag = 0;
	result.request_id = msg.request_id;
	result.status = 200;
	result.payload = msg.payload;
	cfg.hostname = msg.payload;
	cfg.device_id = msg.payload;
	cfg.use_dps = false;
	method.name = msg.payload;
	method.request_id = msg.payload;
	method.payload = msg.payload;
	evt.type = AZURE_IOT_HUB_EVT_ERROR;
	evt.data.msg = msg;
	evt.data.method = method;
	evt.data.result = result;
	evt.data.err = 0;
	evt.data.persistent_session = false;
	evt.data.message_id = 0;
	evt.topic = msg.topic;
	sum += (int)t + (int)tt + (int)q + evt.data.err;

	sum += AZURE_IOT_HUB_EVT_CONNECTED + AZURE_IOT_HUB_EVT_CONNECTION_FAILED +
	       AZURE_IOT_HUB_EVT_READY + AZURE_IOT_HUB_EVT_DISCONNECTED +
	       AZURE_IOT_HUB_EVT_DATA_RECEIVED + AZURE_IOT_HUB_EVT_PUBACK +
	       AZURE_IOT_HUB_EVT_PINGRESP + AZURE_IOT_HUB_EVT_TWIN_RECEIVED +
	       AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED + AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS +
	       AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL + AZURE_IOT_HUB_EVT_DIRECT_METHOD +
	       AZURE_IOT_HUB_EVT_FOTA_START + AZURE_IOT_HUB_EVT_FOTA_DONE +
	       AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING + AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE +
	       AZURE_IOT_HUB_EVT_FOTA_ERROR + AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE;
	sum += AZURE_IOT_HUB_TOPIC_DIRECT_METHOD + AZURE_IOT_HUB_TOPIC_TWIN_DESIRED +
	       AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT + AZURE_IOT_HUB_TOPIC_DPS +
	       AZURE_IOT_HUB_TOPIC_TWIN_REPORTED + AZURE_IOT_HUB_TOPIC_TWIN_REQUEST +
	       AZURE_IOT_HUB_TOPIC_UNKNOWN + MQTT_QOS_2_EXACTLY_ONCE;

	/* Every function, with the original's parameter types. */
	int (*init)(azure_iot_hub_evt_handler_t) = azure_iot_hub_init;
	int (*connect)(const struct azure_iot_hub_config *) = azure_iot_hub_connect;
	int (*disconnect)(void) = azure_iot_hub_disconnect;
	int (*send)(const struct azure_iot_hub_msg *const) = azure_iot_hub_send;
	int (*respond)(struct azure_iot_hub_result *) = azure_iot_hub_method_respond;

	(void)h;
	(void)cfg;
	(void)evt;
	(void)init;
	(void)connect;
	(void)disconnect;
	(void)send;
	(void)respond;
	return sum;
}
