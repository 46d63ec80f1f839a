/* Azure FOTA through the hub's C API (include/net/azure_iot_hub.h), against the hub emulator
 * driven by tests/capi_fota.rs: with CONFIG_AZURE_FOTA the library runs FOTA on the twin before
 * the application sees it and raises AZURE_IOT_HUB_EVT_FOTA_* (nrf-api.md section 5.4).
 * 1. connect: CONNECTED, READY, then the twin GET FOTA forces (TWIN_RECEIVED);
 * 2. "job": the service sets a desired firmware object; FOTA_START comes before the
 *    TWIN_DESIRED_RECEIVED of that patch, then FOTA_DONE (the image is written by the library);
 * 3. "bad": an invalid firmware object: FOTA_ERROR, then TWIN_DESIRED_RECEIVED; no FOTA_START.
 * Prints PASS when every check held. */
#include "common.h"

static void wait_stdin(const char *what)
{
	char line[64];

	printf("AWAIT %s\n", what);
	fflush(stdout);
	CHECK(fgets(line, sizeof(line), stdin) != NULL);
}

static int index_of(int type, int from)
{
	int at = -1;

	pthread_mutex_lock(&event_lock);
	for (int i = from; i < event_count; i++) {
		if (events[i].type == type) {
			at = i;
			break;
		}
	}
	pthread_mutex_unlock(&event_lock);
	return at;
}

int main(void)
{
	int from = 0;
	int start;

	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	CHECK_EQ(azure_iot_hub_connect(NULL), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTED, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_READY, 10);
	/* CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST=n in the environment: FOTA forces it. */
	wait_event_from(&from, AZURE_IOT_HUB_EVT_TWIN_RECEIVED, 10);

	wait_stdin("job");
	start = from;
	wait_event_from(&from, AZURE_IOT_HUB_EVT_FOTA_START, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_FOTA_DONE, 30);
	{
		int desired = start;

		wait_event_from(&desired, AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED, 10);
		CHECK(desired - 1 > index_of(AZURE_IOT_HUB_EVT_FOTA_START, start));
	}
	CHECK_EQ(count_events(AZURE_IOT_HUB_EVT_FOTA_ERROR), 0);
	printf("DONE\n");
	fflush(stdout);

	wait_stdin("bad");
	start = from;
	wait_event_from(&from, AZURE_IOT_HUB_EVT_FOTA_ERROR, 10);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED, 10);
	CHECK_EQ(count_events(AZURE_IOT_HUB_EVT_FOTA_START), 1);

	CHECK_EQ(azure_iot_hub_disconnect(), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 10);
	printf("PASS\n");
	return 0;
}
