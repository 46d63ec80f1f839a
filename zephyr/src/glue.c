/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Real functions around Zephyr's static inline APIs, for the Rust library.
 * See ../include/azure_iot_hub_zephyr_glue.h for the contract.
 */

#include <errno.h>
#include <string.h>

#include <zephyr/fatal.h>
#include <zephyr/kernel.h>
#include <zephyr/net/socket.h>
#if __has_include(<zephyr/random/random.h>)
#include <zephyr/random/random.h>
#else
#include <zephyr/random/rand32.h>
#endif

#if defined(CONFIG_DATE_TIME)
#include <date_time.h>
#elif defined(CONFIG_POSIX_CLOCK) || defined(CONFIG_POSIX_TIMERS)
#if defined(CONFIG_POSIX_API)
#include <time.h>
#else
#include <zephyr/posix/time.h>
#endif
#define AZHUB_Z_HAVE_REALTIME 1
#endif

#include "azure_iot_hub_zephyr_glue.h"

/* ---- Time, randomness ------------------------------------------------------------------ */

int64_t azhub_z_uptime_ms(void)
{
	return k_uptime_get();
}

void azhub_z_sleep_ms(int32_t ms)
{
	(void)k_msleep(ms);
}

int azhub_z_random(void *dst, size_t len)
{
	if (dst == NULL && len > 0) {
		return -EINVAL;
	}
#if defined(CONFIG_CSPRNG_ENABLED)
	return sys_csrand_get(dst, len);
#else
	uint8_t *out = dst;

	while (len > 0) {
		uint32_t r = sys_rand32_get();
		size_t n = MIN(len, sizeof(r));

		memcpy(out, &r, n);
		out += n;
		len -= n;
	}
	return 0;
#endif
}

uint32_t azhub_z_rand32(void)
{
	return sys_rand32_get();
}

__weak int64_t azure_iot_hub_rs_unix_time(void)
{
#if defined(CONFIG_DATE_TIME)
	int64_t ms;
	int err = date_time_now(&ms);

	return err == 0 ? ms / 1000 : (err < 0 ? err : -ENODATA);
#elif defined(AZHUB_Z_HAVE_REALTIME)
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
		return -errno;
	}
	return (int64_t)ts.tv_sec;
#else
	return -ENOTSUP;
#endif
}

/* ---- Worker thread and synchronisation ------------------------------------------------- */

K_THREAD_STACK_DEFINE(azhub_z_stack, CONFIG_MQTT_HELPER_STACK_SIZE);
static struct k_thread azhub_z_thread;

/* No started flag: the library calls this once, from its first initialisation (under its
 * lock, after it claimed the transmit buffer, which happens once per boot). The entry is the
 * library's azhub_rs_worker(), a k_thread_entry_t itself: no trampoline, no arguments.
 */
void azhub_z_thread_start(void)
{
	k_tid_t tid = k_thread_create(&azhub_z_thread, azhub_z_stack,
				      K_THREAD_STACK_SIZEOF(azhub_z_stack), azhub_rs_worker, NULL,
				      NULL, NULL, K_LOWEST_APPLICATION_THREAD_PRIO, 0, K_NO_WAIT);
	/* Without CONFIG_THREAD_NAME (its default) k_thread_name_set() only returns -ENOSYS: no
	 * call, and no name string in flash.
	 */
	if (IS_ENABLED(CONFIG_THREAD_NAME)) {
		(void)k_thread_name_set(tid, "azure_iot_hub");
	}
}

/* Before the thread is created no thread runs on azhub_z_thread: the comparison alone says it. */
bool azhub_z_on_worker(void)
{
	return k_current_get() == &azhub_z_thread;
}

void azhub_z_panic(void)
{
#if defined(ARCH_EXCEPT)
	k_panic();
	CODE_UNREACHABLE;
#else
	/* What k_panic() does on architectures without ARCH_EXCEPT (native_sim), without its
	 * "@ file:line" print: the panic was logged before (src/port/zephyr/panic.rs).
	 */
	z_fatal_error(K_ERR_KERNEL_PANIC, NULL);
	for (;;) {
		/* Not reached: the current thread is aborted. */
	}
#endif
}

/* Semaphores: 0 to 2 the worker's (start, finished, wake), 3 and 4 the DPS thread's (only with
 * DPS). Mutexes 3 and 4 are DPS's (3 unused since the settings cache went, created with the
 * semaphores in one loop; 4 the C API's DPS state): without DPS they are not created.
 */
#define GLUE_SEM_COUNT AZHUB_Z_SEM_COUNT
#if defined(CONFIG_AZURE_IOT_HUB_DPS)
#define GLUE_MUTEX_COUNT AZHUB_Z_MUTEX_COUNT
#else
#define GLUE_MUTEX_COUNT 3
#endif
BUILD_ASSERT(GLUE_SEM_COUNT <= AZHUB_Z_SEM_COUNT && GLUE_MUTEX_COUNT <= AZHUB_Z_MUTEX_COUNT);

/* As many semaphores as mutexes in every build (3, or 5 with DPS): semaphore i and mutex i
 * share an entry, so that one loop over one array (one pointer) creates both.
 */
BUILD_ASSERT(GLUE_SEM_COUNT == GLUE_MUTEX_COUNT);

static struct {
	struct k_sem sem;
	struct k_mutex mutex;
} azhub_z_sync[GLUE_SEM_COUNT];

static int glue_sync_init(void)
{
	for (int i = 0; i < GLUE_SEM_COUNT; i++) {
		k_sem_init(&azhub_z_sync[i].sem, 0, 1);
		k_mutex_init(&azhub_z_sync[i].mutex);
	}
	return 0;
}

SYS_INIT(glue_sync_init, POST_KERNEL, 0);

/* The ids are the library's constants (src/port/zephyr/sys.rs): checked only by assertions
 * (CONFIG_ASSERT), and Zephyr's return codes passed on as they are (the library tests for 0).
 * They are size_t (Rust's usize), not int: an index of pointer width needs no sign extension.
 */
/* The header's tick type is the kernel's, so the library's ticks (K_TICKS_FOREVER included)
 * pass through unchanged.
 */
BUILD_ASSERT(__builtin_types_compatible_p(azhub_z_ticks_t, k_ticks_t));

int azhub_z_sem_take(size_t id, azhub_z_ticks_t ticks)
{
	__ASSERT_NO_MSG(id < GLUE_SEM_COUNT);
	return k_sem_take(&azhub_z_sync[id].sem, Z_TIMEOUT_TICKS(ticks));
}

void azhub_z_sem_give(size_t id)
{
	__ASSERT_NO_MSG(id < GLUE_SEM_COUNT);
	k_sem_give(&azhub_z_sync[id].sem);
}

void azhub_z_sem_reset(size_t id)
{
	__ASSERT_NO_MSG(id < GLUE_SEM_COUNT);
	k_sem_reset(&azhub_z_sync[id].sem);
}

/* With K_FOREVER k_mutex_lock() returns 0: it neither times out nor, in a thread (the library
 * never locks in an ISR), fails.
 */
void azhub_z_mutex_lock(size_t id)
{
	__ASSERT_NO_MSG(id < GLUE_MUTEX_COUNT);
	(void)k_mutex_lock(&azhub_z_sync[id].mutex, K_FOREVER);
}

int azhub_z_mutex_unlock(size_t id)
{
	__ASSERT_NO_MSG(id < GLUE_MUTEX_COUNT);
	return k_mutex_unlock(&azhub_z_sync[id].mutex);
}

/* ---- Sockets --------------------------------------------------------------------------- */

int azhub_z_errno(void)
{
	return errno;
}

int azhub_z_socket(int family, int type, int proto)
{
	return zsock_socket(family, type, proto);
}

int azhub_z_connect(int fd, const void *addr, size_t addrlen)
{
	return zsock_connect(fd, (const struct sockaddr *)addr, (socklen_t)addrlen);
}

/* The whole of @p buf, blocking (under SO_SNDTIMEO), a call interrupted (EINTR) made again: the
 * library's one write loop, here so that each turn calls zsock_send() and reads errno itself.
 * send() writes at most what it was given; were it to answer more, what is left would be
 * negative and end the loop as "all written" (as the library's clamped cut did), without a
 * read past @p buf. (A slice's length, @p len is at most SSIZE_MAX.)
 */
int azhub_z_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t left = (ssize_t)len;

	while (left > 0) {
		ssize_t n = zsock_send(fd, p, left, 0);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return errno;
		}
		if (n == 0) {
			return 0;
		}
		p += n;
		left -= n;
	}
	return -1;
}

ssize_t azhub_z_recv(int fd, void *buf, size_t len, int flags)
{
	return zsock_recv(fd, buf, len, flags);
}

int azhub_z_close(int fd)
{
	return zsock_close(fd);
}

int azhub_z_shutdown(int fd, int how)
{
	return zsock_shutdown(fd, how);
}

int azhub_z_setsockopt(int fd, int level, int optname, const void *optval, size_t optlen)
{
	return zsock_setsockopt(fd, level, optname, optval, (socklen_t)optlen);
}

/* The events come back in the result: poll() counts the descriptors whose revents is not 0,
 * so with one descriptor a positive result means revents is not 0 (the flags are positive).
 * revents is not set before the call: poll() writes it (POSIX; Zephyr's native poll, its TLS
 * poll over offloaded sockets and the offloaded ones clear or fill it in), and it is read only
 * after a positive result.
 */
int azhub_z_poll(int fd, short events, int timeout_ms)
{
	struct zsock_pollfd pfd;
	int ret;

	pfd.fd = fd;
	pfd.events = events;
	ret = zsock_poll(&pfd, 1, timeout_ms);

	return ret > 0 ? (uint16_t)pfd.revents : ret;
}

/* sin_port and sin6_port follow the family at the same offset: one store fills in the port. */
BUILD_ASSERT(offsetof(struct sockaddr_in, sin_port) == offsetof(struct sockaddr_in6, sin6_port));
/* The room azhub_z_resolve() is given, sizeof(struct sockaddr), holds what it copies. */
BUILD_ASSERT(sizeof(struct sockaddr) >= sizeof(struct sockaddr_in) &&
	     (!IS_ENABLED(CONFIG_NET_IPV6) || sizeof(struct sockaddr) >= sizeof(struct sockaddr_in6)));

/* Numeric addresses (such as CONFIG_MQTT_HELPER_STATIC_IP_ADDRESS) need no parsing here:
 * zsock_getaddrinfo() resolves them itself, without DNS (try_resolve_literal_addr() on the
 * native stack, from Zephyr 3.4 on; the modem with offloaded sockets), as the original
 * mqtt_helper relies on for its static address.
 */
int azhub_z_resolve(const char *host, uint16_t port, void *addr)
{
	struct zsock_addrinfo *result;
	struct zsock_addrinfo *ai;
	/* No hints: Zephyr's getaddrinfo() then takes what the hints { .ai_socktype = SOCK_STREAM }
	 * of the original mqtt_helper ask for (any family, no flags, SOCK_STREAM results), and only
	 * the address and the family of a result are used below.
	 */
	int err = zsock_getaddrinfo(host, NULL, NULL, &result);

	if (err) {
		/* Same convention as the original mqtt_helper: the negated getaddrinfo() code. */
		return -err;
	}

	/* The first IPv4 (or, with IPv6, IPv6) result, with the family and the port (the library
	 * takes the family and the length from the family field). @p addr has
	 * room for either (the contract: sizeof(struct sockaddr), which holds a sockaddr_in6 when
	 * IPv6 is on), so its size needs no test.
	 */
	err = -ENOENT;
	for (ai = result; ai != NULL; ai = ai->ai_next) {
		/* Read once: the copy below could overwrite *ai as far as the compiler knows. */
		int fam = ai->ai_family;
		bool v6 = IS_ENABLED(CONFIG_NET_IPV6) && fam == AF_INET6;

		if (v6 || fam == AF_INET) {
			size_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

			memcpy(addr, ai->ai_addr, len);
			((struct sockaddr *)addr)->sa_family = fam;
			((struct sockaddr_in *)addr)->sin_port = htons(port);
			err = 0;
			break;
		}
	}
	zsock_freeaddrinfo(result);
	return err;
}
