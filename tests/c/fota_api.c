/* include/net/azure_fota.h under AddressSanitizer: every function and return code of nrf-api.md
 * section 1.3, the size argument honoured (buffers without a NUL, trailing bytes ignored), and
 * the events of a download that starts (1) and then fails (the server refuses the connection).
 * The harness (tests/capi_fota.rs) runs it with CONFIG_AZURE_FOTA_APP_VERSION=1.0.0 and
 * CONFIG_AZURE_FOTA_TLS=n. Prints one line per event; exits 0 when every check passed. */
#include <net/azure_fota.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int events[64];
static char reports[64][256];
static char versions[64][64];
static int count;
static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                     \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static void handler(struct azure_fota_event *evt)
{
	pthread_mutex_lock(&lock);
	if (count < 64) {
		events[count] = evt->type;
		snprintf(reports[count], sizeof(reports[count]), "%s",
			 evt->report ? evt->report : "(null)");
		snprintf(versions[count], sizeof(versions[count]), "%s",
			 evt->version ? evt->version : "(null)");
		printf("event %d report %s version %s\n", evt->type, reports[count],
		       versions[count]);
		fflush(stdout);
		count++;
	}
	pthread_mutex_unlock(&lock);
}

static int events_seen(void)
{
	pthread_mutex_lock(&lock);
	int n = count;
	pthread_mutex_unlock(&lock);
	return n;
}

/* The JSON in a heap buffer of exactly its length: no NUL after it (ASan catches an over-read). */
static int process(const char *json)
{
	size_t n = strlen(json);
	char *buf = malloc(n);
	memcpy(buf, json, n);
	int r = azure_fota_msg_process(buf, n);
	free(buf);
	return r;
}

static void wait_events(int n)
{
	for (int i = 0; i < 1000 && events_seen() < n; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

#define JOB(version, job, host, frag)                                                              \
	"{\"firmware\":{\"fwVersion\":\"" version "\",\"jobId\":\"" job                            \
	"\",\"fwLocation\":{\"host\":\"" host "\",\"path\":\"fw.bin\"},\"fwFragmentSize\":" frag  \
	"},\"$version\":3}"

int main(void)
{
	/* Not initialised. */
	CHECK(azure_fota_msg_process("{}", 2) == -EINVAL);
	CHECK(azure_fota_init(NULL) == -EINVAL);
	CHECK(azure_fota_msg_process("{}", 2) == -EINVAL);
	CHECK(azure_fota_init(handler) == 0);

	/* Nothing to do: no firmware object, not JSON, empty, the running version. */
	CHECK(process("{\"telemetryInterval\":5,\"$version\":2}") == 0);
	CHECK(process("not json") == 0);
	CHECK(azure_fota_msg_process(NULL, 0) == 0);
	CHECK(azure_fota_msg_process(NULL, 5) == -EINVAL);
	CHECK(process(JOB("1.0.0", "job-same", "127.0.0.1:1", "1024")) == 0);
	CHECK(events_seen() == 0);

	/* The size is honoured: a document cut short is not JSON (0), bytes after it are ignored. */
	const char *job = JOB("2.0.0", "job-c", "127.0.0.1:1", "1024");
	CHECK(azure_fota_msg_process(job, strlen(job) - 1) == 0);
	CHECK(events_seen() == 0);
	size_t n = strlen(job);
	char *padded = malloc(n + 8);
	memcpy(padded, job, n);
	memcpy(padded + n, "garbage!", 8);
	/* A download starts: 1, then START with the version and the "downloading" report. */
	CHECK(azure_fota_msg_process(padded, n) == 1);
	free(padded);
	CHECK(events_seen() >= 1);
	CHECK(events[0] == AZURE_FOTA_EVT_START);
	CHECK(strcmp(versions[0], "2.0.0") == 0);
	CHECK(strcmp(reports[0], "{\"firmware\":{\"fwUpdateStatus\":\"downloading\","
				 "\"currentFwVersion\":\"1.0.0\",\"pendingFwVersion\":\"2.0.0\","
				 "\"jobId\":\"job-c\"}}") == 0);
	/* While it runs, messages are ignored. */
	CHECK(process(JOB("3.0.0", "job-d", "127.0.0.1:1", "1024")) == 0);

	/* Port 1 refuses: after the retries, ERROR with the "error" report. */
	wait_events(2);
	CHECK(events_seen() == 2);
	CHECK(events[1] == AZURE_FOTA_EVT_ERROR);
	CHECK(strstr(reports[1], "\"fwUpdateStatus\":\"error\"") != NULL);
	CHECK(strcmp(versions[1], "(null)") == 0);

	/* The same job is not attempted again; a new job is. */
	CHECK(process(JOB("2.0.0", "job-c", "127.0.0.1:1", "1024")) == 0);
	CHECK(events_seen() == 2);

	/* An invalid firmware object: 0 and ERROR with the "error" report, no download. */
	CHECK(process("{\"firmware\":{\"fwVersion\":\"4\",\"jobId\":\"j4\",\"fwLocation\":{\"host\":5,"
		      "\"path\":\"p\"},\"fwFragmentSize\":1024}}") == 0);
	CHECK(events_seen() == 3);
	CHECK(events[2] == AZURE_FOTA_EVT_ERROR);
	CHECK(process(JOB("4", "j5", "127.0.0.1:1", "0")) == 0);
	CHECK(events_seen() == 4);
	CHECK(events[3] == AZURE_FOTA_EVT_ERROR);

	/* A full twin whose reported side needs an update: REPORT only. */
	CHECK(process("{\"desired\":{\"$version\":1},\"reported\":{\"$version\":1}}") == 0);
	CHECK(events_seen() == 5);
	CHECK(events[4] == AZURE_FOTA_EVT_REPORT);
	CHECK(strstr(reports[4], "\"currentFwVersion\":\"1.0.0\"") != NULL);

	/* Re-init keeps working and replaces the handler. */
	CHECK(azure_fota_init(handler) == 0);

	printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
	return failures ? 1 : 0;
}
