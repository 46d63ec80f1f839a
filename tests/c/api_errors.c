/* Every function's return codes that need no hub, in the original's order of checks:
 * before init, after init while disconnected, invalid configurations, transport failures. */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static struct azure_iot_hub_msg event_msg(void)
{
	struct azure_iot_hub_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.topic.type = AZURE_IOT_HUB_TOPIC_EVENT;
	msg.payload = buf_str("{}");
	msg.qos = MQTT_QOS_0_AT_MOST_ONCE;
	return msg;
}

/* A TCP port on 127.0.0.1 where nothing listens. */
static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

int main(void)
{
	struct azure_iot_hub_msg msg = event_msg();
	struct azure_iot_hub_result result;
	struct azure_iot_hub_config cfg;
	char long_name[200];
	char port[16];
	int from = 0;

	memset(&result, 0, sizeof(result));
	result.request_id = buf_str("1");
	result.status = 200;

	/* Before init. */
	CHECK_EQ(iot_hub_state_get(), STATE_UNINIT);
	CHECK_EQ(azure_iot_hub_send(NULL), -EINVAL);
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOTCONN);
	CHECK_EQ(azure_iot_hub_method_respond(NULL), -EINVAL);
	CHECK_EQ(azure_iot_hub_method_respond(&result), -ENOTCONN);
	CHECK_EQ(azure_iot_hub_disconnect(), -ENOTCONN);
	CHECK_EQ(azure_iot_hub_connect(NULL), -ENOENT);
	CHECK_EQ(azure_iot_hub_init(NULL), -EINVAL);
	CHECK_EQ(iot_hub_state_get(), STATE_UNINIT);

	/* Init, and init again while disconnected. */
	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	CHECK_EQ(azure_iot_hub_init(NULL), -EINVAL);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);

	/* Disconnected: the NULL checks come first, then the state. */
	CHECK_EQ(azure_iot_hub_send(NULL), -EINVAL);
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOTCONN);
	msg.topic.type = AZURE_IOT_HUB_TOPIC_DEVICEBOUND; /* unsupported, but the state is first */
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOTCONN);
	msg = event_msg();
	CHECK_EQ(azure_iot_hub_method_respond(NULL), -EINVAL);
	CHECK_EQ(azure_iot_hub_method_respond(&result), -ENOTCONN);
	CHECK_EQ(azure_iot_hub_disconnect(), -ENOTCONN);

	/* Invalid configurations: refused before AZURE_IOT_HUB_EVT_CONNECTING. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.hostname.ptr = NULL;
	cfg.hostname.size = 5;
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EINVAL);
	cfg.hostname = buf_str("localhost");
	cfg.device_id.ptr = NULL;
	cfg.device_id.size = 3;
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EINVAL);
	cfg.device_id = buf_str("dev#1");
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EINVAL);
	cfg.device_id = buf_str("dev\xff");
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EINVAL);
	cfg.device_id = buf_str("dev-1");
	cfg.hostname = buf_str("host+name");
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EINVAL);
	memset(long_name, 'a', sizeof(long_name));
	cfg.hostname.ptr = long_name;
	cfg.hostname.size = 129;
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EMSGSIZE);
	cfg.hostname = buf_str("localhost");
	cfg.device_id.ptr = long_name;
	cfg.device_id.size = 129;
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EMSGSIZE);
	/* Each fits, but the user name does not fit CONFIG_AZURE_IOT_HUB_USER_NAME_BUF_SIZE. */
	cfg.hostname.ptr = long_name;
	cfg.hostname.size = 100;
	cfg.device_id.ptr = long_name;
	cfg.device_id.size = 100;
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EMSGSIZE);
	CHECK_EQ(count_events(AZURE_IOT_HUB_EVT_CONNECTING), 0);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);

	/* Transport failures: CONNECTING, then a negative errno and the state back to
	 * DISCONNECTED. use_dps is ignored when DPS is not compiled in (as the original). */
	cfg.hostname = buf_str("does-not-exist.invalid");
	cfg.device_id = buf_str("dev-1");
	cfg.use_dps = true;
	{
		int err = azure_iot_hub_connect(&cfg);

		printf("dns failure: %d\n", err);
		CHECK(err < 0);
		CHECK_EQ(err, -EHOSTUNREACH); /* no errno from the resolver */
	}
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTING, 1);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);

	snprintf(port, sizeof(port), "%d", closed_port());
	setenv("CONFIG_MQTT_HELPER_PORT", port, 1);
	cfg.hostname = buf_str("127.0.0.1");
	CHECK_EQ(azure_iot_hub_connect(&cfg), -ECONNREFUSED);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTING, 1);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	CHECK_EQ(count_events(AZURE_IOT_HUB_EVT_DISCONNECTED), 0);
	CHECK_EQ(total_events(), 2);

	/* Still usable. */
	CHECK_EQ(azure_iot_hub_disconnect(), -ENOTCONN);
	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	printf("PASS\n");
	return 0;
}
