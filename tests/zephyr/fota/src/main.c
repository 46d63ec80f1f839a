/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Azure FOTA through the Rust Zephyr port, end to end over loopback TCP: the scripted MQTT
 * broker (broker.c) serves a twin whose desired "firmware" object points to the tiny HTTP
 * server (http.c); the library downloads the image in fwFragmentSize ranges on its
 * download_client thread into slot1_partition (read back byte by byte), resumes after the
 * server cuts a connection, reports downloading -> applying, and raises the hub's FOTA events.
 * Then a desired patch with a missing image (404: FOTA_ERROR, "error" reported), an invalid
 * object, and azure_fota_msg_process's return codes. Tests run in the order of their names.
 * With overlay-tls.conf the same over HTTPS (CONFIG_AZURE_FOTA_TLS, CONFIG_AZURE_FOTA_SEC_TAG).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/storage/flash_map.h>
#if defined(CONFIG_AZURE_FOTA_TLS)
#include <zephyr/net/tls_credentials.h>
#endif
#if defined(CONFIG_MCUBOOT_IMG_MANAGER)
#include <zephyr/dfu/mcuboot.h>
#endif
#include <zephyr/ztest.h>

#include <net/azure_fota.h>
#include <net/azure_iot_hub.h>

#include "broker.h"
#include "http.h"

#define FRAGMENT 2048
#define FRAGMENTS ((HTTP_IMAGE_SIZE + FRAGMENT - 1) / FRAGMENT)
#define MAX_EVENTS 64

static const char twin_doc[] =
	"{\"desired\":{\"firmware\":{\"fwVersion\":\"2.0.0\",\"jobId\":\"job-1\","
	"\"fwLocation\":{\"host\":\"127.0.0.1:18080\",\"path\":\"fw/app.bin\","
	"\"protocol\":\"http\"},\"fwFragmentSize\":2048},\"$version\":2},"
	"\"reported\":{\"$version\":1}}";

static K_MUTEX_DEFINE(events_lock);
static K_SEM_DEFINE(event_sem, 0, MAX_EVENTS);
static enum azure_iot_hub_evt_type events[MAX_EVENTS];
static int event_count;

static void handler(struct azure_iot_hub_evt *const evt)
{
	if (evt->type == AZURE_IOT_HUB_EVT_PINGRESP) {
		return;
	}
	k_mutex_lock(&events_lock, K_FOREVER);
	if (event_count < MAX_EVENTS) {
		events[event_count++] = evt->type;
	}
	k_mutex_unlock(&events_lock);
	k_sem_give(&event_sem);
}

/* Index of the first event of @p type at or after @p from, or -1. */
static int find_event(enum azure_iot_hub_evt_type type, int from)
{
	int found = -1;

	k_mutex_lock(&events_lock, K_FOREVER);
	for (int i = from; i < event_count; i++) {
		if (events[i] == type) {
			found = i;
			break;
		}
	}
	k_mutex_unlock(&events_lock);
	return found;
}

static int wait_event(enum azure_iot_hub_evt_type type, int from, int timeout_ms)
{
	int64_t end = k_uptime_get() + timeout_ms;

	while (true) {
		int i = find_event(type, from);

		if (i >= 0 || k_uptime_get() >= end) {
			return i;
		}
		(void)k_sem_take(&event_sem, K_MSEC(50));
	}
}

static int events_now(void)
{
	int n;

	k_mutex_lock(&events_lock, K_FOREVER);
	n = event_count;
	k_mutex_unlock(&events_lock);
	return n;
}

static struct broker_record rec;

/* rec.report[i] is the firmware report of @p status for the job from 1.0.0 to @p pending. */
static void assert_report(int i, const char *status, const char *pending, const char *job)
{
	char want[BROKER_TEXT_MAX];

	snprintf(want, sizeof(want),
		 "{\"firmware\":{\"fwUpdateStatus\":\"%s\",\"currentFwVersion\":\"1.0.0\","
		 "\"pendingFwVersion\":\"%s\",\"jobId\":\"%s\"}}",
		 status, pending, job);
	zassert_ok(strcmp(rec.report[i], want), "report %d: %s", i, rec.report[i]);
}

#if defined(CONFIG_AZURE_FOTA_TLS)
/* The CA that signed the HTTPS server's certificate, in CONFIG_AZURE_FOTA_SEC_TAG. */
static const unsigned char fota_ca[] = {
#include "fota-ca-cert.pem.inc"
	0};
/* Another CA with the same subject name and another key (test_3_tls_needs_the_ca). */
static const unsigned char wrong_ca[] = {
#include "fota-wrong-ca-cert.pem.inc"
	0};
#endif

static void *setup(void)
{
#if defined(CONFIG_AZURE_FOTA_TLS)
	zassert_ok(tls_credential_add(CONFIG_AZURE_FOTA_SEC_TAG, TLS_CREDENTIAL_CA_CERTIFICATE,
				      fota_ca, sizeof(fota_ca)));
#endif
	broker_set_twin(twin_doc);
	broker_start();
	http_start();
	return NULL;
}

ZTEST(azure_fota, test_1_update_from_the_twin)
{
	const struct flash_area *fa;
	static uint8_t slot[HTTP_IMAGE_SIZE];
	int start, twin, erase_pending, erase_done, done;

	/* The connection is cut halfway through the third range: resumed from the next byte. */
	http_cut_request(3);
	zassert_ok(azure_iot_hub_init(handler));
	zassert_ok(azure_iot_hub_connect(NULL));
	zassert_true(wait_event(AZURE_IOT_HUB_EVT_READY, 0, 10000) >= 0, "no READY");

	/* FOTA forces the twin GET (CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST=n here). */
	twin = wait_event(AZURE_IOT_HUB_EVT_TWIN_RECEIVED, 0, 10000);
	zassert_true(twin >= 0, "no TWIN_RECEIVED");
	start = find_event(AZURE_IOT_HUB_EVT_FOTA_START, 0);
	zassert_true(start >= 0 && start < twin, "FOTA_START (%d) not before TWIN_RECEIVED (%d)",
		     start, twin);

	done = wait_event(AZURE_IOT_HUB_EVT_FOTA_DONE, 0, 30000);
	zassert_true(done >= 0, "no FOTA_DONE");
	zassert_equal(find_event(AZURE_IOT_HUB_EVT_FOTA_ERROR, 0), -1, "FOTA_ERROR raised");
	erase_pending = find_event(AZURE_IOT_HUB_EVT_FOTA_ERASE_PENDING, 0);
	erase_done = find_event(AZURE_IOT_HUB_EVT_FOTA_ERASE_DONE, 0);
	zassert_true(start < erase_pending && erase_pending < erase_done && erase_done < done,
		     "order START %d, ERASE_PENDING %d, ERASE_DONE %d, DONE %d", start,
		     erase_pending, erase_done, done);

	/* Every fragment once, plus the one that was cut; two connections. */
	zassert_equal(http_requests(), FRAGMENTS + 1, "%d requests", http_requests());
	zassert_equal(http_connections(), 2, "%d connections", http_connections());

	/* The image is in slot1, byte-exact. */
	zassert_ok(flash_area_open(FIXED_PARTITION_ID(slot1_partition), &fa));
	zassert_ok(flash_area_read(fa, 0, slot, sizeof(slot)));
	for (size_t i = 0; i < sizeof(slot); i++) {
		zassert_equal(slot[i], http_image_byte(i), "byte %zu: %02x != %02x", i, slot[i],
			      http_image_byte(i));
	}
	/* Nothing after it: the slot was erased first. */
	zassert_ok(flash_area_read(fa, HTTP_IMAGE_SIZE, slot, 64));
	for (size_t i = 0; i < 64; i++) {
		zassert_equal(slot[i], 0xff, "byte %zu after the image", i);
	}
	flash_area_close(fa);
#if defined(CONFIG_MCUBOOT_IMG_MANAGER)
	/* flash_img + MCUboot: the upgrade is requested (test swap at the next boot). */
	zassert_equal(mcuboot_swap_type(), BOOT_SWAP_TYPE_TEST, "swap type %d",
		      mcuboot_swap_type());
#endif

	/* Reported: downloading, then applying (one report each, as the original). */
	zassert_true(broker_wait_reports(2, 5000), "reports missing");
	broker_get(&rec);
	zassert_equal(rec.reports, 2, "%d reports", rec.reports);
	assert_report(0, "downloading", "2.0.0", "job-1");
	assert_report(1, "applying", "2.0.0", "job-1");
	zassert_equal(rec.twin_gets, 1);
}

ZTEST(azure_fota, test_2_missing_image_is_an_error)
{
	int from = events_now();
	int requests = http_requests();
	int start, desired, error;

	zassert_ok(broker_push("$iothub/twin/PATCH/properties/desired/?$version=3",
			       "{\"firmware\":{\"fwVersion\":\"3.0.0\",\"jobId\":\"job-2\","
			       "\"fwLocation\":{\"host\":\"127.0.0.1:18080\","
			       "\"path\":\"fw/missing.bin\"},\"fwFragmentSize\":1024},"
			       "\"$version\":3}"));
	error = wait_event(AZURE_IOT_HUB_EVT_FOTA_ERROR, from, 10000);
	zassert_true(error >= 0, "no FOTA_ERROR");
	start = find_event(AZURE_IOT_HUB_EVT_FOTA_START, from);
	desired = find_event(AZURE_IOT_HUB_EVT_TWIN_DESIRED_RECEIVED, from);
	zassert_true(start >= 0 && start < desired && start < error,
		     "START %d, DESIRED %d, ERROR %d", start, desired, error);
	zassert_equal(find_event(AZURE_IOT_HUB_EVT_FOTA_DONE, from), -1);
	/* A 404 ends the job at once: one request. */
	zassert_equal(http_requests(), requests + 1);
	zassert_equal(http_not_found(), 1);

	zassert_true(broker_wait_reports(4, 5000), "reports missing");
	broker_get(&rec);
	assert_report(2, "downloading", "3.0.0", "job-2");
	assert_report(3, "error", "3.0.0", "job-2");
}

ZTEST(azure_fota, test_3_invalid_object_and_return_codes)
{
	static const char invalid[] =
		"{\"firmware\":{\"fwVersion\":\"4.0.0\",\"jobId\":\"job-3\","
		"\"fwLocation\":{\"host\":\"127.0.0.1:18080\",\"path\":\"fw/app.bin\"},"
		"\"fwFragmentSize\":0}}";
	static const char same_job[] =
		"{\"firmware\":{\"fwVersion\":\"3.0.0\",\"jobId\":\"job-2\","
		"\"fwLocation\":{\"host\":\"127.0.0.1:18080\",\"path\":\"fw/app.bin\"},"
		"\"fwFragmentSize\":1024}}trailing bytes are not read";
	int from = events_now();
	int requests = http_requests();

	zassert_equal(azure_fota_msg_process(NULL, 4), -EINVAL);
	zassert_equal(azure_fota_msg_process(NULL, 0), 0);
	zassert_equal(azure_fota_msg_process("{}", 2), 0);
	zassert_equal(azure_fota_msg_process("not json", 8), 0);
	/* The job already attempted: nothing (exactly the object's bytes are read). */
	zassert_equal(azure_fota_msg_process(same_job, strlen(same_job) - 27), 0);
	zassert_equal(events_now(), from, "events for nothing");

	/* fwFragmentSize 0: invalid, FOTA_ERROR and an "error" report, no request. */
	zassert_equal(azure_fota_msg_process(invalid, strlen(invalid)), 0);
	zassert_true(wait_event(AZURE_IOT_HUB_EVT_FOTA_ERROR, from, 5000) >= 0, "no FOTA_ERROR");
	zassert_true(broker_wait_reports(5, 5000), "no report");
	broker_get(&rec);
	zassert_not_null(strstr(rec.report[4], "\"fwUpdateStatus\":\"error\""), "%s",
			 rec.report[4]);
	zassert_equal(http_requests(), requests);
	zassert_equal(azure_fota_init(NULL), -EINVAL);
}

#if defined(CONFIG_AZURE_FOTA_TLS)
/* The server is verified: with another CA (same subject, other key) in
 * CONFIG_AZURE_FOTA_SEC_TAG the handshake fails, no request reaches the server, and the job
 * ends with FOTA_ERROR at once. */
ZTEST(azure_fota, test_3_tls_needs_the_ca)
{
	static const char job[] =
		"{\"firmware\":{\"fwVersion\":\"5.0.0\",\"jobId\":\"job-5\","
		"\"fwLocation\":{\"host\":\"127.0.0.1:18080\",\"path\":\"fw/app.bin\"},"
		"\"fwFragmentSize\":1024}}";
	int from = events_now();
	int requests = http_requests();

	zassert_ok(tls_credential_delete(CONFIG_AZURE_FOTA_SEC_TAG,
					 TLS_CREDENTIAL_CA_CERTIFICATE));
	zassert_ok(tls_credential_add(CONFIG_AZURE_FOTA_SEC_TAG, TLS_CREDENTIAL_CA_CERTIFICATE,
				      wrong_ca, sizeof(wrong_ca)));
	int64_t t0 = k_uptime_get();

	zassert_equal(azure_fota_msg_process(job, strlen(job)), 1);
	zassert_true(wait_event(AZURE_IOT_HUB_EVT_FOTA_ERROR, from, 20000) >= 0, "no FOTA_ERROR");
	/* At once: a refused handshake is not retried (5 retries would wait 1.5 s). */
	zassert_true(k_uptime_get() - t0 < 1000, "FOTA_ERROR after %d ms",
		     (int)(k_uptime_get() - t0));
	zassert_equal(find_event(AZURE_IOT_HUB_EVT_FOTA_DONE, from), -1);
	zassert_equal(http_requests(), requests, "a request got through");
	zassert_true(broker_wait_reports(7, 5000), "reports missing");
	broker_get(&rec);
	zassert_not_null(strstr(rec.report[6], "\"fwUpdateStatus\":\"error\""), "%s",
			 rec.report[6]);
	zassert_ok(tls_credential_delete(CONFIG_AZURE_FOTA_SEC_TAG,
					 TLS_CREDENTIAL_CA_CERTIFICATE));
	zassert_ok(tls_credential_add(CONFIG_AZURE_FOTA_SEC_TAG, TLS_CREDENTIAL_CA_CERTIFICATE,
				      fota_ca, sizeof(fota_ca)));
}
#endif

ZTEST(azure_fota, test_4_disconnect)
{
	int from = events_now();

	zassert_ok(azure_iot_hub_disconnect());
	zassert_true(wait_event(AZURE_IOT_HUB_EVT_DISCONNECTED, from, 5000) >= 0);
	zassert_true(broker_wait_closed(5000));
}

ZTEST_SUITE(azure_fota, NULL, setup, NULL, NULL, NULL);
