/* A stand-in for Zephyr's <zephyr/net/mqtt.h>, only for tests/capi_header.rs: it defines what
 * azure_iot_hub.h takes from it, with Zephyr's values, and a marker the test checks. */
#ifndef FAKE_ZEPHYR_NET_MQTT_H
#define FAKE_ZEPHYR_NET_MQTT_H
#define FAKE_ZEPHYR_MQTT_INCLUDED 1
enum mqtt_qos {
	MQTT_QOS_0_AT_MOST_ONCE = 0x00,
	MQTT_QOS_1_AT_LEAST_ONCE = 0x01,
	MQTT_QOS_2_EXACTLY_ONCE = 0x02
};
#endif
