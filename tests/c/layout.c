/* Sizes, alignments, offsets and enum values of every public type of
 * include/net/azure_iot_hub.h. The static asserts hold the numbers of the nRF Connect SDK v2.9.0
 * header (nrf-api.md section 2.3) for 32- and 64-bit targets; the program also prints every
 * number as "name value" lines, which tests/capi_layout.rs compares with the same table and with
 * Rust's size_of/offset_of. */
#include <net/azure_iot_hub.h>

#include <stdalign.h>
#include <stdio.h>

#if UINTPTR_MAX == 0xffffffffu
#define W(v32, v64) (v32)
#else
#define W(v32, v64) (v64)
#endif

#define SIZE(T, v32, v64)                                                                          \
	_Static_assert(sizeof(T) == W(v32, v64), "sizeof " #T);                                    \
	printf("sizeof(%s) %zu\n", #T, sizeof(T));
#define ALIGN(T, v32, v64)                                                                         \
	_Static_assert(alignof(T) == W(v32, v64), "alignof " #T);                                  \
	printf("alignof(%s) %zu\n", #T, (size_t)alignof(T));
#define OFF(T, f, v32, v64)                                                                        \
	_Static_assert(offsetof(T, f) == W(v32, v64), "offsetof " #T "." #f);                      \
	printf("offsetof(%s, %s) %zu\n", #T, #f, offsetof(T, f));
#define VAL(e, v)                                                                                  \
	_Static_assert((e) == (v), #e);                                                            \
	printf("%s %d\n", #e, (int)(e));

int main(void)
{
	printf("pointer_bits %d\n", (int)(sizeof(void *) * 8));

	SIZE(struct azure_iot_hub_buf, 8, 16)
	ALIGN(struct azure_iot_hub_buf, 4, 8)
	OFF(struct azure_iot_hub_buf, ptr, 0, 0)
	OFF(struct azure_iot_hub_buf, size, 4, 8)

	SIZE(struct azure_iot_hub_property, 16, 32)
	ALIGN(struct azure_iot_hub_property, 4, 8)
	OFF(struct azure_iot_hub_property, key, 0, 0)
	OFF(struct azure_iot_hub_property, value, 8, 16)

	SIZE(struct azure_iot_hub_topic_data, 20, 40)
	ALIGN(struct azure_iot_hub_topic_data, 4, 8)
	OFF(struct azure_iot_hub_topic_data, type, 0, 0)
	OFF(struct azure_iot_hub_topic_data, name, 4, 8)
	OFF(struct azure_iot_hub_topic_data, properties, 12, 24)
	OFF(struct azure_iot_hub_topic_data, property_count, 16, 32)

	SIZE(struct azure_iot_hub_msg, 44, 80)
	ALIGN(struct azure_iot_hub_msg, 4, 8)
	OFF(struct azure_iot_hub_msg, topic, 0, 0)
	OFF(struct azure_iot_hub_msg, payload, 20, 40)
	OFF(struct azure_iot_hub_msg, request_id, 28, 56)
	OFF(struct azure_iot_hub_msg, qos, 36, 72)
	OFF(struct azure_iot_hub_msg, message_id, 40, 76)
	OFF(struct azure_iot_hub_msg, dup_flag, 42, 78)
	OFF(struct azure_iot_hub_msg, retain_flag, 43, 79)

	SIZE(struct azure_iot_hub_method, 24, 48)
	ALIGN(struct azure_iot_hub_method, 4, 8)
	OFF(struct azure_iot_hub_method, name, 0, 0)
	OFF(struct azure_iot_hub_method, request_id, 8, 16)
	OFF(struct azure_iot_hub_method, payload, 16, 32)

	SIZE(struct azure_iot_hub_result, 20, 40)
	ALIGN(struct azure_iot_hub_result, 4, 8)
	OFF(struct azure_iot_hub_result, request_id, 0, 0)
	OFF(struct azure_iot_hub_result, status, 8, 16)
	OFF(struct azure_iot_hub_result, payload, 12, 24)

	SIZE(struct azure_iot_hub_evt, 68, 128)
	ALIGN(struct azure_iot_hub_evt, 4, 8)
	OFF(struct azure_iot_hub_evt, type, 0, 0)
	OFF(struct azure_iot_hub_evt, data, 4, 8)
	OFF(struct azure_iot_hub_evt, data.msg, 4, 8)
	OFF(struct azure_iot_hub_evt, data.method, 4, 8)
	OFF(struct azure_iot_hub_evt, data.result, 4, 8)
	OFF(struct azure_iot_hub_evt, data.err, 4, 8)
	OFF(struct azure_iot_hub_evt, data.persistent_session, 4, 8)
	OFF(struct azure_iot_hub_evt, data.message_id, 4, 8)
	OFF(struct azure_iot_hub_evt, data.msg.payload, 24, 48)
	OFF(struct azure_iot_hub_evt, topic, 48, 88)
	SIZE(((struct azure_iot_hub_evt *)0)->data, 44, 80)

	SIZE(struct azure_iot_hub_config, 20, 40)
	ALIGN(struct azure_iot_hub_config, 4, 8)
	OFF(struct azure_iot_hub_config, hostname, 0, 0)
	OFF(struct azure_iot_hub_config, device_id, 8, 16)
	OFF(struct azure_iot_hub_config, use_dps, 16, 32)

	SIZE(azure_iot_hub_evt_handler_t, 4, 8)
	SIZE(enum azure_iot_hub_evt_type, 4, 4)
	SIZE(enum azure_iot_hub_topic_type, 4, 4)
	SIZE(enum mqtt_qos, 4, 4)

	VAL(AZURE_IOT_HUB_EVT_CONNECTING, 1)
	VAL(AZURE_IOT_HUB_EVT_CONNECTED, 2)
	VAL(AZURE_IOT_HUB_EVT_CONNECTION_FAILED, 3)
	VAL(AZURE_IOT_HUB_EVT_READY, 4)
	VAL(AZURE_IOT_HUB_EVT_DISCONNECTED, 5)
	VAL(AZURE_IOT_HUB_EVT_DATA_RECEIVED, 6)
	VAL(AZURE_IOT_HUB_EVT_PUBACK, 7)
	VAL(AZURE_IOT_HUB_EVT_PINGRESP, 8)
	VAL(AZURE_IOT_HUB_EVT_TWIN_RECEIVED, 9)
	VAL(AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED, 10)
	VAL(AZURE_IOT_HUB_EVT_TWIN_RESULT_SUCCESS, 11)
	VAL(AZURE_IOT_HUB_EVT_TWIN_RESULT_FAIL, 12)
	VAL(AZURE_IOT_HUB_EVT_DIRECT_METHOD, 13)
	VAL(AZURE_IOT_HUB_EVT_FOTA_START, 14)
	VAL(AZURE_IOT_HUB_EVT_FOTA_DONE, 15)
	VAL(AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING, 16)
	VAL(AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE, 17)
	VAL(AZURE_IOT_HUB_EVT_FOTA_ERROR, 18)
	VAL(AZURE_IOT_HUB_EVT_ERROR_MSG_SIZE, 19)
	VAL(AZURE_IOT_HUB_EVT_ERROR, 20)

	VAL(AZURE_IOT_HUB_TOPIC_DEVICEBOUND, 0)
	VAL(AZURE_IOT_HUB_TOPIC_DIRECT_METHOD, 1)
	VAL(AZURE_IOT_HUB_TOPIC_TWIN_DESIRED, 2)
	VAL(AZURE_IOT_HUB_TOPIC_TWIN_REQUEST_RESULT, 3)
	VAL(AZURE_IOT_HUB_TOPIC_DPS, 4)
	VAL(AZURE_IOT_HUB_TOPIC_EVENT, 5)
	VAL(AZURE_IOT_HUB_TOPIC_TWIN_REPORTED, 6)
	VAL(AZURE_IOT_HUB_TOPIC_TWIN_REQUEST, 7)
	VAL(AZURE_IOT_HUB_TOPIC_UNKNOWN, 8)

	VAL(MQTT_QOS_0_AT_MOST_ONCE, 0)
	VAL(MQTT_QOS_1_AT_LEAST_ONCE, 1)
	VAL(MQTT_QOS_2_EXACTLY_ONCE, 2)
	return 0;
}
