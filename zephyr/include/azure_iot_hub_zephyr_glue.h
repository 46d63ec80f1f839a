/*
 * Copyright (c) 2025 The azure-iot-hub-rs authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The C glue between the Rust library and Zephyr.
 *
 * Zephyr implements many of its APIs as static inline functions or macros (system calls,
 * logging, thread stacks, settings handlers, compiled-in certificates). Rust cannot call those
 * directly, so this file declares small real functions that do it. The Rust Zephyr port
 * declares the same prototypes in an `extern "C"` block; nothing else in the library is C.
 *
 * Rules: every function is callable from any thread unless noted; sizes are size_t, timeouts
 * are milliseconds (negative = forever, 0 = no wait) except the semaphore wait's, which is in
 * kernel ticks; errors are negative errno values.
 * Functions named azhub_rs_* are the other direction: implemented in Rust, called from C.
 */

#ifndef AZURE_IOT_HUB_ZEPHYR_GLUE_H__
#define AZURE_IOT_HUB_ZEPHYR_GLUE_H__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Logging (src/log_*.c) ------------------------------------------------------------- */

/** Log modules, named as in the original library. */
enum azhub_z_log_module {
	AZHUB_Z_LOG_AZURE_IOT_HUB = 0,     /* "azure_iot_hub", CONFIG_AZURE_IOT_HUB_LOG_LEVEL */
	AZHUB_Z_LOG_AZURE_IOT_HUB_DPS = 1, /* "azure_iot_hub_dps", same level option */
	AZHUB_Z_LOG_AZURE_FOTA = 2,        /* "azure_fota", CONFIG_AZURE_FOTA_LOG_LEVEL */
	AZHUB_Z_LOG_MQTT_HELPER = 3,       /* "mqtt_helper", CONFIG_MQTT_HELPER_LOG_LEVEL */
};

/**
 * Compiled-in maximum level of a module: 0 off, 1 error, 2 warning, 3 info, 4 debug.
 * Lets Rust skip formatting messages that would be dropped.
 */
int azhub_z_log_level(int module);

/**
 * Log one line. @p msg need not be NUL-terminated; it is copied (and cut to
 * CONFIG_AZURE_IOT_HUB_RS_LOG_LINE_MAX - 1 bytes) before it reaches Zephyr logging, so the
 * buffer may be reused as soon as the call returns (deferred logging included).
 */
void azhub_z_log(int module, int level, const char *msg, size_t len);

/** Log "panic" and call k_panic() (a Rust panic ends here). */
__attribute__((noreturn)) void azhub_z_panic(void);

/* ---- Time, randomness (src/glue.c) ---------------------------------------------------- */

/** Milliseconds since boot (k_uptime_get()). */
int64_t azhub_z_uptime_ms(void);

/** Sleep the calling thread (k_msleep()). */
void azhub_z_sleep_ms(int32_t ms);

/** Fill @p dst with random bytes: sys_csrand_get() when available, else sys_rand32_get(). */
int azhub_z_random(void *dst, size_t len);

/** sys_rand32_get() (the reconnect backoff's jitter; no cryptographic quality needed). */
uint32_t azhub_z_rand32(void);

/**
 * Wall-clock time in seconds since the Unix epoch, for the expiry of SAS tokens
 * (CONFIG_AZURE_IOT_HUB_SAS_KEY), or a negative errno when the time is not known.
 * The glue's definition is weak: with CONFIG_DATE_TIME (nRF Connect SDK) date_time_now(),
 * else with CONFIG_POSIX_CLOCK or CONFIG_POSIX_TIMERS clock_gettime(CLOCK_REALTIME), else
 * -ENOTSUP. An application with its own time source (SNTP, a modem, an RTC) defines this
 * function itself. Values before 2020 are taken for a clock that was never set.
 */
int64_t azure_iot_hub_rs_unix_time(void);

/* ---- Worker thread and synchronisation (src/glue.c) ----------------------------------- */

/**
 * Start the library's worker thread on azhub_rs_worker(): stack CONFIG_MQTT_HELPER_STACK_SIZE,
 * priority K_LOWEST_APPLICATION_THREAD_PRIO, name "azure_iot_hub". Call it once per boot (the
 * library does, from its first initialisation). It cannot fail (k_thread_create()).
 */
void azhub_z_thread_start(void);

/** The worker thread's entry, implemented by the Rust library (a k_thread_entry_t; the
 * arguments are NULL and unused). */
void azhub_rs_worker(void *p1, void *p2, void *p3);

/** True when called on the worker thread started by azhub_z_thread_start(). */
bool azhub_z_on_worker(void);

/** Number of semaphores and mutexes this file owns (ids 0 .. count-1): semaphores 0 to 2 are
 * the worker's (start, finished, wake); with CONFIG_AZURE_IOT_HUB_DPS two semaphores more, the
 * DPS thread's (AZHUB_Z_DPS_SEM_*). */
#if defined(CONFIG_AZURE_IOT_HUB_DPS)
#define AZHUB_Z_SEM_COUNT 5
#else
#define AZHUB_Z_SEM_COUNT 3
#endif
#define AZHUB_Z_MUTEX_COUNT 5

/** Zephyr's k_ticks_t (checked in src/glue.c): 64 bits with CONFIG_TIMEOUT_64BIT. */
#if defined(CONFIG_TIMEOUT_64BIT)
typedef int64_t azhub_z_ticks_t;
#else
typedef uint32_t azhub_z_ticks_t;
#endif

/** Semaphores: initial count 0, limit 1. @p id must be one of them (checked only with
 * CONFIG_ASSERT). @p ticks is the wait in kernel ticks, as Z_TIMEOUT_TICKS() takes it: the
 * library converts milliseconds as K_MSEC() does (rounded up; src/port/zephyr/sys.rs), and
 * passes K_TICKS_FOREVER ((k_ticks_t)-1) to wait forever, so the glue has no conversion.
 * @return what k_sem_take() returns: 0, -EBUSY (no wait) or -EAGAIN. */
int azhub_z_sem_take(size_t id, azhub_z_ticks_t ticks);
void azhub_z_sem_give(size_t id);
void azhub_z_sem_reset(size_t id);

/** Recursive mutexes (k_mutex). @p id must be one of them (checked only with CONFIG_ASSERT).
 * The lock waits forever (the library never locks with a timeout), so it cannot fail: called
 * from threads only, k_mutex_lock() with K_FOREVER returns 0.
 * @return (unlock) what k_mutex_unlock() returns (0 on success). */
void azhub_z_mutex_lock(size_t id);
int azhub_z_mutex_unlock(size_t id);

/* ---- Sockets (src/glue.c) ------------------------------------------------------------- */

/* Zephyr's socket calls are system calls (static inline). These return what the zsock_*
 * functions return (-1 and errno on failure); azhub_z_errno() reads errno.
 */
int azhub_z_errno(void);
int azhub_z_socket(int family, int type, int proto);
int azhub_z_connect(int fd, const void *addr, size_t addrlen);
/** Write all @p len bytes of @p buf (zsock_send() until done, again after EINTR).
 * @return -1 when every byte was written; else the errno of the failed send, or 0 when send()
 *         wrote nothing. */
int azhub_z_send_all(int fd, const void *buf, size_t len);
ssize_t azhub_z_recv(int fd, void *buf, size_t len, int flags);
int azhub_z_close(int fd);
int azhub_z_shutdown(int fd, int how);
int azhub_z_setsockopt(int fd, int level, int optname, const void *optval, size_t optlen);
/** poll() on one descriptor: its returned events (not 0, as poll() counts only descriptors
 * with events), 0 on a timeout, or -1 with errno set. */
int azhub_z_poll(int fd, short events, int timeout_ms);

/**
 * Resolve @p host (a name or a numeric address: zsock_getaddrinfo() takes both) and copy the first IPv6 or IPv4 result,
 * with @p port filled in, into @p addr, which must have room for sizeof(struct sockaddr)
 * bytes (any address: not tested). On success the address's family field (sa_family, AF_INET
 * or AF_INET6) tells the caller the family and the length (sizeof(struct sockaddr_in) or
 * sizeof(struct sockaddr_in6)). No pointer may be NULL.
 * @return 0; a negative errno; or, like the original, a positive DNS_EAI_* code negated
 *         (getaddrinfo() failure).
 */
int azhub_z_resolve(const char *host, uint16_t port, void *addr);

/* The socket and TLS constants, errno values and struct zsock_timeval are not here: the Rust
 * build takes them from Zephyr's headers with bindgen (zephyr/build_bindings.rs). */

/* ---- TLS credentials (src/certs.c) ---------------------------------------------------- */

/**
 * With CONFIG_MQTT_HELPER_PROVISION_CERTIFICATES and CONFIG_NET_SOCKETS_SOCKOPT_TLS: add the
 * PEM files compiled from the application's certificate folder to MQTT_HELPER_SEC_TAG (and
 * the "-2" files to MQTT_HELPER_SECONDARY_SEC_TAG when it is not -1). Called once per boot,
 * by the library's first initialisation; -EEXIST from Zephyr is not an error (so calling it
 * again adds nothing and succeeds). @return 0 or a negative errno.
 */
int azhub_z_provision_certificates(void);

/* ---- Settings (src/settings.c, only with CONFIG_AZURE_IOT_HUB_DPS) --------------------- */

/**
 * A settings handler for the subtree "azure_iot_hub" is registered statically, like the
 * original's. While azhub_z_settings_load() runs with a non-NULL @p into, for every stored key
 * it loads on that thread, it calls azhub_rs_settings_set() with @p into, the key below the
 * subtree ("hostname", "hostname_len", "device_id", "device_id_len"; never NULL) and the value
 * (never NULL, also when len is 0), implemented by the Rust library; other loads (another
 * thread's settings_load()) are not handed over. Nothing is called when loading ends (no
 * commit handler).
 */
void azhub_rs_settings_set(void *into, const char *key, const void *value, size_t len);

/** settings_subsys_init() then settings_load_subtree("azure_iot_hub"), handing the values to
 * azhub_rs_settings_set() with @p into unless it is NULL. */
int azhub_z_settings_load(void *into);

/* ---- DPS thread (src/dps.c, only with CONFIG_AZURE_IOT_HUB_DPS) ---------------------- */

/**
 * Start the library's DPS thread (at most once per boot): stack CONFIG_MQTT_HELPER_STACK_SIZE,
 * priority K_LOWEST_APPLICATION_THREAD_PRIO, name "azure_iot_hub_dps". @p entry is the thread's
 * entry itself (a k_thread_entry_t, called with three NULL arguments: no trampoline).
 * Nothing to answer: k_thread_create cannot fail, and a second call does nothing.
 */
void azhub_z_dps_thread_start(void (*entry)(void *p1, void *p2, void *p3));

/** True when called on the DPS thread (from a DPS status handler). */
bool azhub_z_dps_on_thread(void);

/** The DPS thread's semaphores, ids for azhub_z_sem_take() and azhub_z_sem_give() (src/glue.c):
 * a registration to run, one ended. */
#define AZHUB_Z_DPS_SEM_JOB 3
#define AZHUB_Z_DPS_SEM_DONE 4

#ifdef __cplusplus
}
#endif

#endif /* AZURE_IOT_HUB_ZEPHYR_GLUE_H__ */
