//! Device Provisioning Service on Zephyr (feature `dps`): the core's [`DpsClient`] over a
//! socket of its own, driven by the library's DPS thread.
//!
//! * [`start`] runs on the caller's thread, as the original's `azure_iot_hub_dps_start()`:
//!   it validates, resolves `CONFIG_AZURE_IOT_HUB_DPS_HOSTNAME` (or connects to
//!   `CONFIG_MQTT_HELPER_STATIC_IP_ADDRESS`, as the original's MQTT helper did for DPS too),
//!   opens the socket (TLS by security tag with `TLS_HOSTNAME` = the DPS host name, unless
//!   `CONFIG_AZURE_IOT_HUB_RS_TLS=n`), connects on `CONFIG_MQTT_HELPER_PORT`, writes CONNECT
//!   and hands the socket to the DPS thread. It returns as soon as CONNECT is written.
//! * The DPS thread (the glue's `azhub_z_dps_thread_start`, started on the first registration,
//!   stack `CONFIG_MQTT_HELPER_STACK_SIZE`) runs the registration with the core's driver step
//!   (`crate::dps::driver`, shared with the Linux port): it waits in `poll()` until the core's
//!   next deadline (a status query after `retry-after`, a PINGREQ, the
//!   `CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC` timeout), so a `retry-after` wait is not a sleep and
//!   the hub's worker thread is never involved. It calls [`Hooks::on_assigning`] after the
//!   register request and on every `assigning` or throttled answer, [`Hooks::on_assigned`] with
//!   a usable assignment, closes the connection and calls [`Hooks::on_end`] with the result.
//! * Buffers are static: transmit sized from `CONFIG_AZURE_IOT_HUB_DPS_USER_NAME_BUFFER_SIZE`,
//!   `CONFIG_AZURE_IOT_HUB_DPS_TOPIC_BUFFER_SIZE` and the longest registration ID and payload;
//!   receive: the hub's (`CONFIG_MQTT_HELPER_RX_TX_BUFFER_SIZE +
//!   CONFIG_MQTT_HELPER_PAYLOAD_BUFFER_LEN`), lent to each registration and given back before
//!   its end is reported, as the original's DPS used the MQTT helper's buffers. So a
//!   registration cannot start while the hub's connection holds it ([`StartError::HubConnected`]),
//!   and the hub cannot connect while a registration runs.

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use super::{net, sys, ConnectError, KconfigTarget, RxBuf, Target};
use crate::config as k;
use crate::dps::driver::{self, Failure, FailureKind, Step};
use crate::dps::{
    DpsClient, DpsConnectError, DpsOptions, API_VERSION, MAX_ID_LEN, MAX_REGISTRATION_PAYLOAD_LEN,
};
use crate::mqtt::{Framer, Text};

/// Log target, as the original's DPS log module.
pub(crate) const LOG_DPS: &str = "azure_iot_hub_dps";

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The transmit buffer: the largest of CONNECT (client ID and user name) and a PUBACK with the
/// register request (topic, `{"registrationId":…,"payload":…}`) or a status query.
pub const TX_BUFFER_SIZE: usize = max(
    k::AZURE_IOT_HUB_DPS_USER_NAME_BUFFER_SIZE + MAX_ID_LEN + 32,
    k::AZURE_IOT_HUB_DPS_TOPIC_BUFFER_SIZE + MAX_ID_LEN + MAX_REGISTRATION_PAYLOAD_LEN + 64,
);
/// The receive buffer's size: the hub's buffer, lent to each registration (`super::RX`), as the
/// original's DPS used the MQTT helper's buffers.
pub const RX_BUFFER_SIZE: usize = super::RX_BUFFER_SIZE;

/// What a registration needs.
#[derive(Debug, Clone, Copy)]
pub struct DpsConfig<'a> {
    /// ID scope.
    pub id_scope: &'a str,
    /// Registration ID (MQTT client ID).
    pub registration_id: &'a str,
    /// JSON sent as the register request's `payload` (extension); `None`: none.
    pub registration_payload: Option<&'a str>,
}

/// The application side of a registration (the C API's): called on the DPS thread, without any
/// lock of this module's statics other than the registration's own (so `on_assigning` and
/// `on_assigned` must not start a registration; `on_end` may). Static calls: the DPS thread is
/// started with the implementation of the first [`prepare`] (there is one, the C API's).
pub trait Hooks {
    /// The register request was sent, or DPS answered `assigning` or throttled.
    fn on_assigning();
    /// DPS assigned a usable host name and device ID (borrowed from the receive buffer, valid
    /// for the call); `on_end` follows with `Ok`.
    fn on_assigned(hostname: Text<'_>, device_id: Text<'_>);
    /// The registration ended (the DPS connection is closed).
    fn on_end(result: Result<(), FailureKind>);
}

/// Why [`start`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// A registration is running.
    Busy,
    /// The ID scope, registration ID or payload cannot be sent (empty, too long, characters a
    /// topic or user name cannot carry), or no DPS host name.
    InvalidConfig,
    /// DNS, socket, TLS options or connect failed, or writing CONNECT failed.
    Transport(ConnectError),
    /// The IoT Hub connection holds the receive buffer that registrations share with it (as
    /// the original's DPS shares the hub's MQTT helper): disconnect first.
    HubConnected,
}

/// The DPS client, with its transmit buffer in place.
type Client = DpsClient<[u8; TX_BUFFER_SIZE]>;

/// The registration's state, owned by the starting thread, then by the DPS thread.
///
/// Every field starts as zero bytes, so the static lives in `.bss`, not in flash: the client is
/// built by a `const fn` with zero options (set by every `start`), the framer is written by
/// each `start` (an `Option` of it would not be zero: its `None` is a niche value).
struct Job {
    client: Client,
    /// The framer over the lent receive buffer, while a registration has it (`stage` not
    /// `Idle`).
    framer: MaybeUninit<Framer<RxBuf>>,
    stage: Stage,
    /// The registration's socket (meaningful while `Running`).
    fd: c_int,
}

/// Where the job is. One state, not a "has the framer" and a "handed over" flag: a registration
/// handed to the DPS thread always has its framer, so the thread has no "no framer" case.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No registration holds the framer (the zero value: the static stays in `.bss`).
    Idle = 0,
    /// [`prepare`] wrote the framer; not yet handed to the DPS thread.
    Prepared,
    /// Handed to the DPS thread ([`open`]), not yet ended.
    Running,
}

impl Job {
    /// Drops the framer, which gives the receive buffer back (for the hub's next connection).
    /// One called copy for its three callers (flash, measured).
    #[inline(never)]
    fn give_back(&mut self) {
        if core::mem::replace(&mut self.stage, Stage::Idle) != Stage::Idle {
            // SAFETY: the stage was not `Idle`, so `framer` holds a value, and it is `Idle` now,
            // so this value is dropped once and never read again until `framer` is written anew.
            unsafe { self.framer.assume_init_drop() };
        }
    }
}

/// A cell that one thread at a time may use; a second user is refused, never made to wait
/// (only `start` and the DPS thread use it, and the job's stage orders them).
struct TryCell<T> {
    busy: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `TryGuard`, and `busy` (swapped with acquire and
// released on drop) lets at most one guard exist at a time.
unsafe impl<T: Send> Sync for TryCell<T> {}

struct TryGuard<'a, T>(&'a TryCell<T>);

impl<T> TryCell<T> {
    const fn new(value: T) -> Self {
        TryCell {
            busy: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn try_lock(&self) -> Option<TryGuard<'_, T>> {
        (!self.busy.swap(true, Ordering::Acquire)).then_some(TryGuard(self))
    }
}

impl<T> core::ops::Deref for TryGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (see `TryCell`).
        unsafe { &*self.0.value.get() }
    }
}

impl<T> core::ops::DerefMut for TryGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard is the only one; `&mut self` makes the borrow exclusive.
        unsafe { &mut *self.0.value.get() }
    }
}

impl<T> Drop for TryGuard<'_, T> {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

static JOB: TryCell<Job> = TryCell::new(Job {
    client: DpsClient::new(
        [0; TX_BUFFER_SIZE],
        DpsOptions {
            timeout_secs: 0,
            max_status_queries: 0,
            keep_alive_secs: 0,
        },
    ),
    framer: MaybeUninit::uninit(),
    stage: Stage::Idle,
    fd: 0,
});

fn options() -> DpsOptions {
    DpsOptions {
        timeout_secs: u32::try_from(k::AZURE_IOT_HUB_DPS_TIMEOUT_SEC)
            .unwrap_or(u32::MAX)
            .max(1),
        max_status_queries: 10,
        keep_alive_secs: k::MQTT_KEEPALIVE,
    }
}

/// The user name `<id_scope>/registrations/<registration_id>/api-version=…` fits
/// `CONFIG_AZURE_IOT_HUB_DPS_USER_NAME_BUFFER_SIZE` (with its NUL, as the original's buffer).
fn user_name_fits(config: &DpsConfig<'_>) -> bool {
    let len = config.id_scope.len()
        + "/registrations/".len()
        + config.registration_id.len()
        + "/api-version=".len()
        + API_VERSION.len();
    len < k::AZURE_IOT_HUB_DPS_USER_NAME_BUFFER_SIZE
}

/// A registration whose CONNECT is queued by [`prepare`]; [`open`] connects and hands it to
/// the DPS thread. It holds the job, so no other registration can start meanwhile, and the
/// receive buffer, which it gives back when it is dropped without being handed over.
pub struct Prepared(TryGuard<'static, Job>);

impl Drop for Prepared {
    fn drop(&mut self) {
        if self.0.stage != Stage::Running {
            self.0.give_back();
        }
    }
}

/// Checks the configuration, starts the DPS thread (once) and queues CONNECT; the IDs and the
/// payload are copied into the client, so `config` may borrow a locked context (nothing here
/// waits: the job is only tried).
pub fn prepare<H: Hooks>(config: &DpsConfig<'_>) -> Result<Prepared, StartError> {
    if k::AZURE_IOT_HUB_DPS_HOSTNAME.is_empty() || !user_name_fits(config) {
        ::log::error!(target: LOG_DPS, "no DPS host name, or the DPS user name does not fit CONFIG_AZURE_IOT_HUB_DPS_USER_NAME_BUFFER_SIZE");
        return Err(StartError::InvalidConfig);
    }
    let mut job = JOB.try_lock().ok_or(StartError::Busy)?;
    if job.stage == Stage::Running {
        return Err(StartError::Busy);
    }
    // The glue starts the thread once and does nothing after that (its own flag: no second
    // one here); starting cannot fail (`k_thread_create`), so there is no answer to test.
    // SAFETY: `thread_main` is a valid thread entry that ignores its arguments.
    unsafe { sys::azhub_z_dps_thread_start(thread_main::<H>) };
    // The receive buffer, unless the hub's connection holds it. A registration that ended,
    // or was never handed to the DPS thread, gave it back: the stage is `Idle` here, and
    // `give_back` only makes sure of it (before the lend, which it would otherwise undo).
    job.give_back();
    let Some(rx) = super::RX.lend() else {
        ::log::error!(target: LOG_DPS, "the IoT Hub connection holds the receive buffer; disconnect first");
        return Err(StartError::HubConnected);
    };
    job.framer.write(Framer::new(rx));
    job.stage = Stage::Prepared;
    // From here on, a failure drops `Prepared`, which gives the buffer back.
    let mut prepared = Prepared(job);
    let client = &mut prepared.0.client;
    let now = sys::now_ms();
    client.set_options(options());
    // Whatever an earlier registration left (one that was prepared but never handed to the
    // DPS thread stops where it failed): the client is made idle here, once for all of them
    // (`abandon`: `connect` resets the rest).
    client.abandon();
    client
        .connect(
            config.id_scope,
            config.registration_id,
            None,
            config.registration_payload,
            now,
        )
        .map_err(|e| {
            ::log::error!(target: LOG_DPS, "cannot register {:?} in {:?}: {e:?}", config.registration_id, config.id_scope);
            match e {
                DpsConnectError::Busy => StartError::Busy,
                _ => StartError::InvalidConfig,
            }
        })?;
    // The framer needs no reset: it was made new above, over the lent buffer.
    ::log::info!(target: LOG_DPS, "registering {} in {}", config.registration_id, config.id_scope);
    Ok(prepared)
}

/// Connects to DPS, writes the CONNECT [`prepare`] queued and hands the registration to the
/// DPS thread.
pub fn open(mut prepared: Prepared) -> Result<(), StartError> {
    let job = &mut prepared.0;
    let client = &mut job.client;
    let mut cc = KconfigTarget {
        hostname: heapless::String::new(),
        device_id: heapless::String::new(),
    };
    // Whether the Kconfig host name fits is known at build time (no error path for a call
    // that cannot fail).
    if k::AZURE_IOT_HUB_DPS_HOSTNAME.len() > crate::hub::MAX_HOSTNAME_LEN {
        return Err(StartError::InvalidConfig);
    }
    let _ = cc.hostname.push_str(k::AZURE_IOT_HUB_DPS_HOSTNAME);
    ::log::info!(
        target: LOG_DPS,
        "registering at {}:{}",
        k::AZURE_IOT_HUB_DPS_HOSTNAME,
        k::MQTT_HELPER_PORT
    );
    // A failure leaves the client as it is: the next `prepare` resets it (`abandon`)
    // before its CONNECT, and nothing else reads it meanwhile (one reset, not one per path).
    // Every way out lets go of the job at one place (one drop, flash).
    let result = 'open: {
        // Through the `ConnectConfig` the hub's connections use when a session reconnects (one
        // `establish` in the build; see `CapiTarget`).
        let established = if super::RECONNECTS {
            net::establish(&cc.to_config())
        } else {
            net::establish(&cc)
        };
        let fd = match established {
            Ok(fd) => fd,
            Err(e) => break 'open Err(StartError::Transport(e)),
        };
        if let Err(e) = flush(client, fd) {
            // SAFETY: the socket opened above, not shared with anyone.
            unsafe { sys::azhub_z_close(fd) };
            break 'open Err(StartError::Transport(ConnectError::Tcp(e)));
        }
        job.fd = fd;
        job.stage = Stage::Running;
        Ok(())
    };
    drop(prepared);
    if result.is_ok() {
        // SAFETY: a glue semaphore id.
        unsafe { sys::azhub_z_sem_give(sys::DPS_SEM_JOB) };
    }
    result
}

/// Writes what the client queued: all of it in one `send_all`, which writes every byte or
/// fails, so nothing is left after it (no loop).
fn flush(client: &mut Client, fd: c_int) -> Result<(), i32> {
    if let Some(bytes) = client.poll_transmit() {
        let n = bytes.len();
        net::send_all(fd, bytes)?;
        client.transmit_complete(n, sys::now_ms());
    }
    Ok(())
}

/// The DPS thread's entry (Zephyr's `k_thread_entry_t`: the glue passes it to `k_thread_create`
/// itself; the three arguments are NULL).
extern "C" fn thread_main<H: Hooks>(_: *mut c_void, _: *mut c_void, _: *mut c_void) {
    loop {
        // SAFETY: a glue semaphore id; waiting forever is allowed on this thread.
        if unsafe { sys::azhub_z_sem_take(sys::DPS_SEM_JOB, sys::FOREVER) } != 0 {
            continue;
        }
        // `start` gives the semaphore after it let go of the job; another `start` may hold it
        // for a moment (and be refused): wait for it, 1 ms at a time. The wait is on the job
        // semaphore, which no one gives meanwhile (no registration can be handed over while
        // this one is `Running`): a sleep with the call this thread already makes, so the
        // glue's sleep is not linked for it.
        let mut job = loop {
            if let Some(job) = JOB.try_lock() {
                break job;
            }
            // SAFETY: a glue semaphore id; a bounded wait is allowed on this thread.
            let _ = unsafe { sys::azhub_z_sem_take(sys::DPS_SEM_JOB, sys::ms_to_ticks(1)) };
        };
        if job.stage != Stage::Running {
            continue;
        }
        let Job {
            client, framer, fd, ..
        } = &mut *job;
        let fd = *fd;
        // SAFETY: a `Running` job has its framer (written by `prepare` before the stage left
        // `Idle`; dropped only by `give_back`, below).
        let result = run::<H>(client, unsafe { framer.assume_init_mut() }, fd);
        // SAFETY: the registration's socket; only this thread uses it now.
        unsafe { sys::azhub_z_close(fd) };
        // The receive buffer goes back before the end is reported: the hub's connect() that
        // follows a registration needs it (and the job is `Idle` again).
        job.give_back();
        drop(job);
        if let Err(e) = &result {
            ::log::warn!(target: LOG_DPS, "registration failed: {e:?}");
        }
        H::on_end(result);
        // SAFETY: a glue semaphore id.
        unsafe { sys::azhub_z_sem_give(sys::DPS_SEM_DONE) };
    }
}

fn log_failure(f: &Failure<'_>) {
    match f {
        Failure::Unusable {
            hostname,
            device_id,
            why,
        } => {
            ::log::error!(target: LOG_DPS, "assignment {hostname:?} / {device_id:?} cannot be used: {why:?}")
        }
        f => ::log::warn!(target: LOG_DPS, "{f:?}"),
    }
}

/// The registration on the DPS thread, until it ends; the connection is closed gracefully
/// (DISCONNECT) unless it was lost. The client is left as it ends: nothing reads it until the
/// next `prepare`, which makes it idle (`abandon`) before its CONNECT.
fn run<H: Hooks>(
    client: &mut Client,
    framer: &mut Framer<RxBuf>,
    fd: c_int,
) -> Result<(), FailureKind> {
    // Each ending is written once (flash): a lost connection leaves the block `'lost`; DPS's
    // last answer or a deadline leaves the loop `'run` with the result, then DISCONNECT.
    'lost: {
        let result = 'run: loop {
            // 1. Every packet the framer holds.
            loop {
                let now = sys::now_ms();
                let Some(step) = driver::next_step(client, framer, now) else {
                    break;
                };
                let progress = match step {
                    Step::Quiet => false,
                    Step::Progress(e) => {
                        ::log::debug!(target: LOG_DPS, "{e:?}");
                        true
                    }
                    Step::Done(r) => {
                        // The PUBACK of the last answer, then DISCONNECT.
                        let _ = flush(client, fd);
                        break 'run match r {
                            Ok(a) => {
                                ::log::info!(target: LOG_DPS, "assigned to {} as {}", a.hostname, a.device_id);
                                H::on_assigned(a.hostname, a.device_id);
                                Ok(())
                            }
                            Err(f) => {
                                log_failure(&f);
                                Err(f.kind())
                            }
                        };
                    }
                };
                // PUBACK, SUBSCRIBE, the register request: out before the status is reported.
                if flush(client, fd).is_err() {
                    break 'lost;
                }
                if progress {
                    H::on_assigning();
                }
            }

            // 2. Deadlines: status query, keep-alive, timeout.
            let now = sys::now_ms();
            if let Err(f) = driver::on_timeout(client, now) {
                log_failure(&f);
                break 'run Err(f.kind());
            }
            if flush(client, fd).is_err() {
                break 'lost;
            }
            let wait = client
                .poll_timeout()
                .map_or(1000, |d| d.saturating_sub(now))
                .min(i32::MAX as u64);

            // 3. Wait for input until the next deadline; 4. read what is there.
            if !super::worker::receive(framer, fd, wait as c_int) {
                break 'lost;
            }
        };
        // DISCONNECT; a failure to write it changes nothing.
        let _ = net::send_all(fd, &[0xe0, 0x00]);
        return result;
    }
    ::log::warn!(target: LOG_DPS, "the DPS connection was lost");
    Err(FailureKind::ConnectionLost)
}

/// Whether the caller is the DPS thread (a status handler): it must not wait for a registration.
pub fn on_dps_thread() -> bool {
    // SAFETY: compares k_current_get() with the glue's DPS thread.
    unsafe { sys::azhub_z_dps_on_thread() }
}

/// Waits up to `timeout_ms` (negative: forever) for the end of a registration (any: callers
/// check their own generation). Returns false on timeout.
pub fn wait_end(timeout_ms: i32) -> bool {
    // SAFETY: a glue semaphore id.
    unsafe { sys::azhub_z_sem_take(sys::DPS_SEM_DONE, sys::ms_or_forever(timeout_ms)) == 0 }
}
