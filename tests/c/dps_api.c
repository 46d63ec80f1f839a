/* The DPS C API (include/net/azure_iot_hub_dps.h): every function and return code in its
 * situation, the status handler sequence, and azure_iot_hub_connect() with use_dps. Driven by
 * tests/capi_dps.rs, which starts the emulator and sets the environment:
 *   DPS_ID_SCOPE, DPS_REG_ID  the ID scope and registration ID the program passes to init;
 *   CONFIG_*                  the library's configuration (certificates, DPS host and port,
 *                             settings file, CONFIG_AZURE_IOT_HUB_DPS=y for connect).
 * Modes (argv[1]): api, reboot, fail, connect, connect-again, connect-fail, connect-timeout. */
#include "common.h"

#include <net/azure_iot_hub_dps.h>

#define MAX_STATUS 64
static int statuses[MAX_STATUS];
static int status_count;
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t status_cond = PTHREAD_COND_INITIALIZER;

static void dps_handler(enum azure_iot_hub_dps_reg_status status)
{
	pthread_mutex_lock(&status_lock);
	printf("DPS status %d\n", (int)status);
	fflush(stdout);
	if (status_count < MAX_STATUS) {
		statuses[status_count++] = (int)status;
	}
	pthread_cond_broadcast(&status_cond);
	pthread_mutex_unlock(&status_lock);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits for ASSIGNED or FAILED; returns it. */
static int wait_final(int secs)
{
	struct timespec deadline;
	int last = -1;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += secs;
	pthread_mutex_lock(&status_lock);
	for (;;) {
		last = status_count ? statuses[status_count - 1] : -1;
		if (last == AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED ||
		    last == AZURE_IOT_HUB_DPS_REG_STATUS_FAILED) {
			break;
		}
		if (pthread_cond_timedwait(&status_cond, &status_lock, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&status_lock);
			printf("FAIL: no final DPS status within %d s\n", secs);
			exit(1);
		}
	}
	pthread_mutex_unlock(&status_lock);
	return last;
}

static void reset_statuses(void)
{
	pthread_mutex_lock(&status_lock);
	status_count = 0;
	pthread_mutex_unlock(&status_lock);
}

static struct azure_iot_hub_dps_config dps_config(void)
{
	struct azure_iot_hub_dps_config cfg = {
		.handler = dps_handler,
		.id_scope = buf_str(getenv("DPS_ID_SCOPE")),
		.reg_id = buf_str(getenv("DPS_REG_ID")),
	};
	return cfg;
}

/* The get functions: repointing, copying, too small. */
static void check_get(int (*get)(struct azure_iot_hub_buf *), const char *want)
{
	struct azure_iot_hub_buf b = { NULL, 0 };
	char small[3];
	char big[200];
	size_t n = strlen(want);

	CHECK_EQ(get(NULL), -EINVAL);
	/* {NULL, 0}: repointed at the library's NUL-terminated copy (as the original). */
	CHECK_EQ(get(&b), 0);
	CHECK(b.ptr != NULL);
	CHECK_EQ(b.size, n);
	CHECK_EQ(strcmp(b.ptr, want), 0);
	/* A buffer too small: nothing written. */
	memset(small, 'x', sizeof(small));
	b.ptr = small;
	b.size = sizeof(small);
	CHECK_EQ(get(&b), -EMSGSIZE);
	CHECK_EQ(b.size, sizeof(small));
	CHECK_EQ(small[0], 'x');
	/* Exactly the length: copied, no room for the NUL. */
	memset(big, 'x', sizeof(big));
	b.ptr = big;
	b.size = n;
	CHECK_EQ(get(&b), 0);
	CHECK_EQ(b.ptr, big);
	CHECK_EQ(memcmp(big, want, n), 0);
	CHECK_EQ(big[n], 'x');
	/* Room to spare: copied and NUL-terminated; size is the length. */
	b.size = sizeof(big);
	CHECK_EQ(get(&b), 0);
	CHECK_EQ(b.size, n);
	CHECK_EQ(strcmp(big, want), 0);
}

static void mode_api(void)
{
	struct azure_iot_hub_dps_config cfg = dps_config();
	struct azure_iot_hub_dps_config bad = cfg;
	struct azure_iot_hub_buf b = { NULL, 0 };
	char big[300];

	/* Before init. */
	CHECK_EQ(azure_iot_hub_dps_hostname_get(NULL), -EINVAL);
	CHECK_EQ(azure_iot_hub_dps_hostname_get(&b), -ENOENT);
	CHECK_EQ(azure_iot_hub_dps_device_id_get(&b), -ENOENT);
	CHECK_EQ(azure_iot_hub_dps_start(), -EACCES);
	CHECK_EQ(azure_iot_hub_dps_hostname_delete(), 0);
	CHECK_EQ(azure_iot_hub_dps_device_id_delete(), 0);
	CHECK_EQ(azure_iot_hub_dps_reset(), 0);

	/* init: arguments. */
	CHECK_EQ(azure_iot_hub_dps_init(NULL), -EINVAL);
	bad.handler = NULL;
	CHECK_EQ(azure_iot_hub_dps_init(&bad), -EINVAL);
	bad = cfg;
	bad.id_scope = buf_str(NULL); /* CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE is empty */
	CHECK_EQ(azure_iot_hub_dps_init(&bad), -EFAULT);
	bad = cfg;
	bad.reg_id = buf_str("\xff\xfe");
	CHECK_EQ(azure_iot_hub_dps_init(&bad), -EINVAL);
	CHECK_EQ(status_count, 0);

	/* The payload extension. */
	memset(big, ' ', sizeof(big));
	CHECK_EQ(azure_iot_hub_dps_payload_set(big, sizeof(big)), -EMSGSIZE);
	CHECK_EQ(azure_iot_hub_dps_payload_set("\xff", 1), -EINVAL);
	CHECK_EQ(azure_iot_hub_dps_payload_set("{\"tier\":\"gold\"}", 15), 0);

	/* init reports NOT_STARTED before it returns. */
	CHECK_EQ(azure_iot_hub_dps_init(&cfg), 0);
	CHECK_EQ(status_count, 1);
	CHECK_EQ(statuses[0], AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED);

	/* A registration: while it runs, start/init/reset are refused. */
	CHECK_EQ(azure_iot_hub_dps_start(), 0);
	CHECK_EQ(azure_iot_hub_dps_start(), -EACCES);
	CHECK_EQ(azure_iot_hub_dps_init(&cfg), -EACCES);
	CHECK_EQ(azure_iot_hub_dps_reset(), -EACCES);
	CHECK_EQ(wait_final(20), AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED);
	/* NOT_STARTED, ASSIGNING (register sent), ASSIGNING (202)..., ASSIGNED. */
	CHECK(status_count >= 3);
	for (int i = 1; i < status_count - 1; i++) {
		CHECK_EQ(statuses[i], AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING);
	}
	check_get(azure_iot_hub_dps_hostname_get, "localhost");
	check_get(azure_iot_hub_dps_device_id_get, getenv("DPS_REG_ID"));

	/* Assigned and stored: start does nothing. */
	CHECK_EQ(azure_iot_hub_dps_start(), -EALREADY);

	/* Delete one value: start registers again. */
	CHECK_EQ(azure_iot_hub_dps_hostname_delete(), 0);
	CHECK_EQ(azure_iot_hub_dps_hostname_get(&b), -ENOENT);
	CHECK_EQ(azure_iot_hub_dps_device_id_get(&b), 0);
	reset_statuses();
	CHECK_EQ(azure_iot_hub_dps_start(), 0);
	CHECK_EQ(wait_final(20), AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED);
	check_get(azure_iot_hub_dps_hostname_get, "localhost");

	/* Reset: everything forgotten, init needed again. */
	CHECK_EQ(azure_iot_hub_dps_reset(), 0);
	CHECK_EQ(azure_iot_hub_dps_hostname_get(&b), -ENOENT);
	CHECK_EQ(azure_iot_hub_dps_device_id_get(&b), -ENOENT);
	CHECK_EQ(azure_iot_hub_dps_start(), -EACCES);
	reset_statuses();
	CHECK_EQ(azure_iot_hub_dps_init(&cfg), 0);
	CHECK_EQ(azure_iot_hub_dps_hostname_get(&b), -ENOENT);
	CHECK_EQ(azure_iot_hub_dps_start(), 0);
	CHECK_EQ(wait_final(20), AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED);

	/* The payload is sent: one that makes the request invalid JSON is refused by DPS (400);
	 * without it the same device registers. The payload survives reset. */
	CHECK_EQ(azure_iot_hub_dps_payload_set("{", 1), 0);
	CHECK_EQ(azure_iot_hub_dps_reset(), 0);
	reset_statuses();
	CHECK_EQ(azure_iot_hub_dps_init(&cfg), 0);
	CHECK_EQ(azure_iot_hub_dps_start(), 0);
	CHECK_EQ(wait_final(20), AZURE_IOT_HUB_DPS_REG_STATUS_FAILED);
	CHECK_EQ(azure_iot_hub_dps_hostname_get(&b), -ENOENT);
	CHECK_EQ(azure_iot_hub_dps_payload_set(NULL, 0), 0);
	reset_statuses();
	CHECK_EQ(azure_iot_hub_dps_start(), 0);
	CHECK_EQ(wait_final(20), AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED);
	printf("REGISTERED\n");
}

/* A second process with the same settings file: the assignment is there after init. */
static void mode_reboot(void)
{
	struct azure_iot_hub_dps_config cfg = dps_config();
	struct azure_iot_hub_buf b = { NULL, 0 };

	CHECK_EQ(azure_iot_hub_dps_hostname_get(&b), -ENOENT);
	CHECK_EQ(azure_iot_hub_dps_init(&cfg), 0);
	check_get(azure_iot_hub_dps_hostname_get, "localhost");
	check_get(azure_iot_hub_dps_device_id_get, getenv("DPS_REG_ID"));
	CHECK_EQ(azure_iot_hub_dps_start(), -EALREADY);
	/* Only NOT_STARTED: no registration. */
	CHECK_EQ(status_count, 1);
}

/* DPS refuses: FAILED at once, nothing assigned. */
static void mode_fail(void)
{
	struct azure_iot_hub_dps_config cfg = dps_config();
	struct azure_iot_hub_buf b = { NULL, 0 };
	double t;

	CHECK_EQ(azure_iot_hub_dps_init(&cfg), 0);
	t = now_s();
	CHECK_EQ(azure_iot_hub_dps_start(), 0);
	CHECK_EQ(wait_final(20), AZURE_IOT_HUB_DPS_REG_STATUS_FAILED);
	printf("failed after %.0f ms\n", (now_s() - t) * 1000);
	CHECK(now_s() - t < 5.0);
	CHECK_EQ(azure_iot_hub_dps_hostname_get(&b), -ENOENT);
	/* A failed registration can be started again (and fails again). */
	reset_statuses();
	CHECK_EQ(azure_iot_hub_dps_start(), 0);
	CHECK_EQ(wait_final(20), AZURE_IOT_HUB_DPS_REG_STATUS_FAILED);
}

static void connect_ready(bool use_dps)
{
	struct azure_iot_hub_config cfg = { .use_dps = use_dps };
	int from = total_events();

	CHECK_EQ(azure_iot_hub_connect(&cfg), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_CONNECTED, 20);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_READY, 20);
	CHECK_EQ(azure_iot_hub_disconnect(), 0);
	wait_event_from(&from, AZURE_IOT_HUB_EVT_DISCONNECTED, 20);
}

static void mode_connect(bool again)
{
	struct azure_iot_hub_buf b = { NULL, 0 };

	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	connect_ready(true);
	CHECK_EQ(azure_iot_hub_dps_hostname_get(&b), 0);
	CHECK_EQ(strcmp(b.ptr, "localhost"), 0);
	CHECK_EQ(azure_iot_hub_dps_device_id_get(&b), 0);
	CHECK_EQ(strcmp(b.ptr, getenv("CONFIG_AZURE_IOT_HUB_DEVICE_ID")), 0);
	if (!again) {
		/* With DPS compiled in, use_dps = false still falls back to the Kconfig host name. */
		connect_ready(false);
		/* The stored assignment: no registration. */
		connect_ready(true);
	}
	CHECK_EQ(events[0].type, AZURE_IOT_HUB_EVT_CONNECTING);
	CHECK_EQ(events[1].type, AZURE_IOT_HUB_EVT_CONNECTED);
}

/* connect(use_dps) when DPS refuses (at once) or is silent (the timeout). */
static void mode_connect_error(int want, double min_s, double max_s)
{
	struct azure_iot_hub_config cfg = { .use_dps = true };
	double t;
	int err;

	CHECK_EQ(azure_iot_hub_init(record_handler), 0);
	t = now_s();
	err = azure_iot_hub_connect(&cfg);
	t = now_s() - t;
	printf("connect returned %d after %.0f ms\n", err, t * 1000);
	CHECK_EQ(err, want);
	CHECK(t >= min_s && t < max_s);
	CHECK_EQ(iot_hub_state_get(), STATE_DISCONNECTED);
	CHECK_EQ(total_events(), 1);
	CHECK_EQ(events[0].type, AZURE_IOT_HUB_EVT_CONNECTING);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "api")) {
		mode_api();
	} else if (!strcmp(mode, "reboot")) {
		mode_reboot();
	} else if (!strcmp(mode, "fail")) {
		mode_fail();
	} else if (!strcmp(mode, "connect")) {
		mode_connect(false);
	} else if (!strcmp(mode, "connect-again")) {
		mode_connect(true);
	} else if (!strcmp(mode, "connect-fail")) {
		mode_connect_error(-ECONNREFUSED, 0.0, 5.0);
	} else if (!strcmp(mode, "connect-timeout")) {
		mode_connect_error(-ETIMEDOUT, 0.9, 4.0);
	} else {
		printf("FAIL: unknown mode %s\n", mode);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
