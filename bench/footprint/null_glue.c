/*
 * The null transport: the Zephyr port's C glue (zephyr/include/azure_iot_hub_zephyr_glue.h)
 * implemented on a Linux host with sockets that go nowhere. connect() and send() succeed and
 * discard; recv() hands out whatever null_transport_feed() queued (so the receive path is
 * linked and live), else the poll times out. Threads and semaphores are pthreads.
 * Used only to measure the library's footprint (scripts/footprint.sh).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <errno.h>
#include <azure_iot_hub_zephyr_glue.h>

static pthread_mutex_t feed_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t feed_buf[512];
static size_t feed_len;

void null_transport_feed(const void *bytes, size_t len)
{
	pthread_mutex_lock(&feed_lock);
	if (len > sizeof(feed_buf) - feed_len) {
		len = sizeof(feed_buf) - feed_len;
	}
	memcpy(feed_buf + feed_len, bytes, len);
	feed_len += len;
	pthread_mutex_unlock(&feed_lock);
}

int azhub_z_log_level(int module) { (void)module; return 0; }
void azhub_z_log(int module, int level, const char *msg, size_t len)
{
	(void)module; (void)level; (void)msg; (void)len;
}
void azhub_z_panic(void) { abort(); }

int64_t azhub_z_uptime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
void azhub_z_sleep_ms(int32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}
int azhub_z_random(void *dst, size_t len) { memset(dst, 0x5a, len); return 0; }
uint32_t azhub_z_rand32(void) { return 0x5a5a5a5a; }
int64_t azure_iot_hub_rs_unix_time(void) { return -ENOTSUP; }

static pthread_t worker;
static bool worker_started;
static void *trampoline(void *p) { azhub_rs_worker(NULL, NULL, NULL); (void)p; return NULL; }
void azhub_z_thread_start(void)
{
	worker_started = pthread_create(&worker, NULL, trampoline, NULL) == 0;
}
bool azhub_z_on_worker(void) { return worker_started && pthread_equal(pthread_self(), worker); }

static pthread_mutex_t sem_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sem_cond = PTHREAD_COND_INITIALIZER;
/* As many kernel objects as zephyr/src/glue.c creates: the worker's 3 semaphores and 3 mutexes;
 * with DPS the DPS thread's semaphores (ids 3 and 4, AZHUB_Z_DPS_SEM_*) and mutexes 3 and 4. */
#ifdef WITH_DPS
static int sem_count[AZHUB_Z_DPS_SEM_DONE + 1];
static pthread_mutex_t mutexes[AZHUB_Z_MUTEX_COUNT] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};
#else
static int sem_count[3];
static pthread_mutex_t mutexes[3] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};
#endif

#define NSEMS (sizeof(sem_count) / sizeof(sem_count[0]))
#define NMUTEXES (sizeof(mutexes) / sizeof(mutexes[0]))

/* Ticks at 1000 Hz (the stand-in bindings' AZHUB_TICKS_PER_SEC): milliseconds, and forever,
 * (azhub_z_ticks_t)-1 (K_TICKS_FOREVER), read as an int32_t is -1.
 */
int azhub_z_sem_take(size_t id, azhub_z_ticks_t ticks)
{
	int32_t timeout_ms = (int32_t)ticks;
	struct timespec until;
	if (id >= NSEMS) { return -EINVAL; }
	clock_gettime(CLOCK_REALTIME, &until);
	if (timeout_ms > 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
	}
	pthread_mutex_lock(&sem_lock);
	while (sem_count[id] == 0) {
		if (timeout_ms == 0) { pthread_mutex_unlock(&sem_lock); return -EAGAIN; }
		int r = timeout_ms < 0 ? pthread_cond_wait(&sem_cond, &sem_lock)
				       : pthread_cond_timedwait(&sem_cond, &sem_lock, &until);
		if (r == ETIMEDOUT) { pthread_mutex_unlock(&sem_lock); return -EAGAIN; }
	}
	sem_count[id]--;
	pthread_mutex_unlock(&sem_lock);
	return 0;
}
void azhub_z_sem_give(size_t id)
{
	if (id >= NSEMS) { return; }
	pthread_mutex_lock(&sem_lock);
	sem_count[id] = 1;
	pthread_cond_broadcast(&sem_cond);
	pthread_mutex_unlock(&sem_lock);
}
void azhub_z_sem_reset(size_t id)
{
	if (id >= NSEMS) { return; }
	pthread_mutex_lock(&sem_lock);
	sem_count[id] = 0;
	pthread_mutex_unlock(&sem_lock);
}
void azhub_z_mutex_lock(size_t id)
{
	if (id >= NMUTEXES) { abort(); }
	(void)pthread_mutex_lock(&mutexes[id]);
}
int azhub_z_mutex_unlock(size_t id)
{
	if (id >= NMUTEXES) { return -EINVAL; }
	return pthread_mutex_unlock(&mutexes[id]) ? -1 : 0;
}

int azhub_z_errno(void) { return errno; }
int azhub_z_socket(int family, int type, int proto) { (void)family; (void)type; (void)proto; return 3; }
/* Set when the DPS thread is "started" (below): the registration's connect is refused. */
static bool refuse_next_connect;
int azhub_z_connect(int fd, const void *addr, size_t addrlen)
{
	(void)fd; (void)addr; (void)addrlen;
#ifdef WITH_DPS
	if (refuse_next_connect) {
		refuse_next_connect = false;
		errno = ECONNREFUSED;
		return -1;
	}
#endif
	return 0;
}
int azhub_z_send_all(int fd, const void *buf, size_t len) { (void)fd; (void)buf; (void)len; return -1; }
ssize_t azhub_z_recv(int fd, void *buf, size_t len, int flags)
{
	(void)fd; (void)flags;
	pthread_mutex_lock(&feed_lock);
	size_t n = feed_len < len ? feed_len : len;
	memcpy(buf, feed_buf, n);
	memmove(feed_buf, feed_buf + n, feed_len - n);
	feed_len -= n;
	pthread_mutex_unlock(&feed_lock);
	if (n == 0) { errno = EAGAIN; return -1; }
	return (ssize_t)n;
}
int azhub_z_close(int fd) { (void)fd; return 0; }
int azhub_z_shutdown(int fd, int how) { (void)fd; (void)how; return 0; }
int azhub_z_setsockopt(int fd, int level, int optname, const void *optval, size_t optlen)
{
	(void)fd; (void)level; (void)optname; (void)optval; (void)optlen;
	return 0;
}
int azhub_z_poll(int fd, short events, int timeout_ms)
{
	(void)fd;
	pthread_mutex_lock(&feed_lock);
	bool ready = feed_len > 0;
	pthread_mutex_unlock(&feed_lock);
	if (!ready) { azhub_z_sleep_ms(timeout_ms < 0 || timeout_ms > 10 ? 10 : timeout_ms); }
	return ready ? events : 0;
}
int azhub_z_resolve(const char *host, uint16_t port, void *addr)
{
	(void)host; (void)port;
	/* An IPv6 address (Zephyr's AF_INET6 is 2, its sockaddr_in6 24 bytes), zeroed. */
	uint16_t family = 2;

	memset(addr, 0, 24);
	memcpy(addr, &family, sizeof(family));
	return 0;
}
int azhub_z_provision_certificates(void) { return 0; }
int azhub_z_settings_load(void *into) { (void)into; return 0; }

/* Zephyr settings (real functions in Zephyr): nothing is stored. */
int settings_save_one(const char *name, const void *value, size_t len)
{
	(void)name; (void)value; (void)len;
	return 0;
}
int settings_delete(const char *name) { (void)name; return 0; }

/* The DPS thread (zephyr/src/dps.c). The thread is not started: over
 * the null transport it would read the bytes fed for the hub connection. Its code is linked
 * all the same (the entry is passed here), so the footprint counts it. The registration's
 * connect, which follows, is refused, so the start fails and gives the receive buffer back
 * for the hub's connection (as the -EAGAIN this returned did). */
void azhub_z_dps_thread_start(void (*entry)(void *p1, void *p2, void *p3))
{
	(void)entry;
	refuse_next_connect = true;
}
bool azhub_z_dps_on_thread(void) { return false; }
