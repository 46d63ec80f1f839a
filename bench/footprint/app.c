/*
 * Calls every function of azure_iot_hub.h (and, with -DWITH_DPS, azure_iot_hub_dps.h) once,
 * over the null transport, so the linker keeps what an application of the library keeps.
 * CONNACK and SUBACK are fed in so the connection reaches READY and the receive path runs.
 */
#include <stdio.h>
#include <string.h>
#include <net/azure_iot_hub.h>
#ifdef WITH_DPS
#include <net/azure_iot_hub_dps.h>
#endif

void null_transport_feed(const void *bytes, size_t len);
int iot_hub_state_get(void); /* not in the header, as in the original */
#ifdef __ZEPHYR__
/* The program's own wait, as an application's: the glue's azhub_z_sleep_ms() is linked only
 * when the library calls it (DPS, FOTA), so a hub-only image does not hold it.
 */
#include <zephyr/kernel.h>
#define settle_ms(ms) k_msleep(ms)
#else
/* On the host the null glue's sleep (the null glue is in both programs, so not counted). */
void azhub_z_sleep_ms(int32_t ms);
#define settle_ms(ms) azhub_z_sleep_ms(ms)
#endif

static volatile int events;
static void handler(struct azure_iot_hub_evt *evt) { events += (int)evt->type + 1; }

#ifdef WITH_DPS
static void dps_handler(enum azure_iot_hub_dps_reg_status status) { events += (int)status; }
#endif

int main(void)
{
	int r = azure_iot_hub_init(handler);
#ifdef WITH_DPS
	struct azure_iot_hub_dps_config dps = { 0 };
	dps.handler = dps_handler;
	dps.reg_id.ptr = "my-device";
	dps.reg_id.size = 9;
	dps.id_scope.ptr = "0ne00000000";
	dps.id_scope.size = 11;
	r |= azure_iot_hub_dps_init(&dps);
	char host[64], dev[64];
	struct azure_iot_hub_buf hb = { .ptr = host, .size = sizeof(host) };
	struct azure_iot_hub_buf db = { .ptr = dev, .size = sizeof(dev) };
	r |= azure_iot_hub_dps_hostname_get(&hb);
	r |= azure_iot_hub_dps_device_id_get(&db);
	r |= azure_iot_hub_dps_payload_set("{}", 2);
	r |= azure_iot_hub_dps_start();
	r |= azure_iot_hub_dps_hostname_delete();
	r |= azure_iot_hub_dps_device_id_delete();
	r |= azure_iot_hub_dps_reset();
#endif
	struct azure_iot_hub_config cfg = { 0 };
	cfg.hostname.ptr = "myhub.azure-devices.net";
	cfg.hostname.size = strlen(cfg.hostname.ptr);
	cfg.device_id.ptr = "my-device";
	cfg.device_id.size = 9;
	static const unsigned char connack[] = { 0x20, 2, 0, 0 };
	static const unsigned char suback[] = { 0x90, 6, 0, 1, 0, 0, 0, 0 };
	null_transport_feed(connack, sizeof(connack));
	r |= azure_iot_hub_connect(&cfg);
	null_transport_feed(suback, sizeof(suback));
	settle_ms(100);
	struct azure_iot_hub_property props[] = {
		{ .key = { .ptr = "a", .size = 1 }, .value = { .ptr = "1", .size = 1 } },
		{ .key = { .ptr = "b", .size = 1 }, .value = { .ptr = "2", .size = 1 } },
	};
	struct azure_iot_hub_msg msg = { 0 };
	msg.topic.type = AZURE_IOT_HUB_TOPIC_EVENT;
	msg.topic.properties = props;
	msg.topic.property_count = 2;
	msg.payload.ptr = "{\"temperature\":21.55,\"humidity\":40.25}";
	msg.payload.size = 38;
	msg.qos = MQTT_QOS_1_AT_LEAST_ONCE;
	r |= azure_iot_hub_send(&msg);
	struct azure_iot_hub_result res = { 0 };
	res.request_id.ptr = "1";
	res.request_id.size = 1;
	res.status = 200;
	res.payload.ptr = "{}";
	res.payload.size = 2;
	r |= azure_iot_hub_method_respond(&res);
	int state = iot_hub_state_get();
	r |= azure_iot_hub_disconnect();
	printf("result %d, state %d, events %d\n", r, state, events);
	return 0;
}
