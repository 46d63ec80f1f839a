/* While azure_iot_hub_connect() blocks (the server accepts TCP and never answers the TLS
 * handshake): -EINPROGRESS, -EALREADY from init (even with a NULL handler: the state is checked
 * first), -ENOTCONN from disconnect/send/method_respond. Closing the server's socket ends the
 * connect with a negative errno and the state back to DISCONNECTED. */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_result = 1;

static void *connect_thread(void *arg)
{
	struct azure_iot_hub_config *cfg = arg;

	connect_result = azure_iot_hub_connect(cfg);
	return NULL;
}

int main(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	int conn;
	char port[16];
	struct azure_iot_hub_config cfg;
	struct azure_iot_hub_msg msg;
	struct azure_iot_hub_result result;
	pthread_t t;
	int from = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(listener, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(listener, 1), 0);
	CHECK_EQ(getsockname(listener, (struct sockaddr *)&a, &len), 0);
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
	setenv("CONFIG_MQTT_HELPER_PORT", port, 1);

	memset(&cfg, 0, sizeof(cfg));
	cfg.hostname = buf_str("localhost");
	cfg.device_id = buf_str("silent-server-device");
	memset(&msg, 0, sizeof(msg));
	msg.topic.type = AZURE_IOT_HUB_TOPIC_EVENT;
	memset(&result, 0, sizeof(result));
	result.request_id = buf_str("1");

	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	CHECK_EQ(pthread_create(&t, NULL, connect_thread, &cfg), 0);
	conn = accept(listener, NULL, NULL);
	CHECK(conn >= 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTING, 5);

	CHECK_EQ(iot_hub_state_get(), STATE_CONNECTING);
	CHECK_EQ(azure_iot_hub_connect(&cfg), -EINPROGRESS);
	CHECK_EQ(azure_iot_hub_connect(NULL), -EINPROGRESS);
	CHECK_EQ(azure_iot_hub_init(record_handler), -EALREADY);
	CHECK_EQ(azure_iot_hub_init(NULL), -EALREADY);
	CHECK_EQ(azure_iot_hub_disconnect(), -ENOTCONN);
	CHECK_EQ(azure_iot_hub_send(NULL), -EINVAL);
	CHECK_EQ(azure_iot_hub_send(&msg), -ENOTCONN);
	CHECK_EQ(azure_iot_hub_method_respond(NULL), -EINVAL);
	CHECK_EQ(azure_iot_hub_method_respond(&result), -ENOTCONN);
	CHECK_EQ(connect_result, 1); /* still blocked */

	close(conn);
	close(listener);
	CHECK_EQ(pthread_join(t, NULL), 0);
	printf("connect after the server closed: %d\n", connect_result);
	CHECK(connect_result < 0);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	CHECK_EQ(total_events(), 1); /* CONNECTING only: the return code reports the failure */
	printf("PASS\n");
	return 0;
}
