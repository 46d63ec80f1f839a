//! Azure FOTA on Zephyr (feature `fota`): the library of `azure_fota.h` without `std` or a heap.
//!
//! * [`process`] runs the core's decisions ([`crate::fota::Fota`]) under the FOTA lock and
//!   raises the notices (REPORT, START, ERROR) on the caller's thread (the hub's worker).
//! * A download thread (`download_client`, stack `CONFIG_AZURE_IOT_HUB_RS_FOTA_STACK_SIZE`,
//!   started by [`init`]) takes each job: HTTP/1.1 range requests of `fwFragmentSize` bytes over
//!   a Zephyr socket, TLS by security tag when the location says `https://` or
//!   `CONFIG_AZURE_FOTA_TLS` is set, resumed on a new connection after a drop (the shared
//!   [`crate::fota::job`] logic, as on Linux), into the glue's firmware sink (dfu_target,
//!   flash_img + MCUboot, or stream_flash on `slot1_partition`); then DONE or ERROR.
//!
//! See docs/fota.md and docs/zephyr.md.

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void};
use core::fmt;
use core::mem::size_of;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use super::bindings as b;
use super::sync::StaticBuf;
use super::sys;
use crate::config as k;
use crate::fota::firmware::FirmwareSink;
use crate::fota::http::{Download, HttpError, Progress};
use crate::fota::job::{
    FeedError, ImageWriter, NoticeKind, Report, Retry, RetryDecision, Target, DEFAULT_MAX_RETRIES,
};
use crate::fota::{Action, FirmwareError, Fota, FotaOptions, FwStatus, MAX_VERSION_LEN};
use crate::sink::Cursor;

/// Log target, as the original's log module.
const LOG: &str = "azure_fota";

/// Largest `fwFragmentSize` accepted (bytes per range request; the response streams through a
/// small receive buffer, so this bounds only the request).
pub const MAX_FRAGMENT_SIZE: u32 = 16 * 1024;
/// Receive buffer of the download thread.
const RX_LEN: usize = 1024;
/// How long the download waits for data before it treats the connection as dropped.
const READ_TIMEOUT_MS: c_int = 30_000;

mod glue {
    use core::ffi::{c_int, c_void};
    extern "C" {
        pub(super) fn azhub_z_fota_thread_start(entry: extern "C" fn(*mut c_void)) -> c_int;
        pub(super) fn azhub_z_fota_lock(timeout_ms: i32) -> c_int;
        pub(super) fn azhub_z_fota_unlock();
        pub(super) fn azhub_z_fota_job_wait(timeout_ms: i32) -> c_int;
        pub(super) fn azhub_z_fota_job_post();
        pub(super) fn azhub_z_fota_sink_erases() -> bool;
        pub(super) fn azhub_z_fota_sink_prepare(size: u64) -> c_int;
        pub(super) fn azhub_z_fota_sink_write(data: *const c_void, len: usize) -> c_int;
        pub(super) fn azhub_z_fota_sink_finish() -> c_int;
        pub(super) fn azhub_z_fota_sink_abort();
    }
}

/// Why a FOTA job failed. Numbers are positive errno values of this Zephyr build (the glue's
/// negative returns negated), except [`FotaError::Dns`] (the resolver's code, as for MQTT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FotaError {
    /// `azure_fota_init` was not called.
    NotInitialised,
    /// The desired firmware object is invalid (wrong type, bad fragment size, bad field).
    Invalid(FirmwareError),
    /// The image server answered wrongly (a status such as 404, a malformed response), or the
    /// location is invalid.
    Http(HttpError),
    /// The server name could not be resolved (after the retries).
    Dns(i32),
    /// The connection could not be made or kept (after the retries).
    Io(i32),
    /// Setting up TLS on the socket failed, or the handshake was refused.
    Tls(i32),
    /// The firmware sink failed (flash, DFU target).
    Sink(i32),
    /// The download thread could not start.
    Thread(i32),
}

impl fmt::Display for FotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FotaError::NotInitialised => f.write_str("not initialised"),
            FotaError::Invalid(e) => write!(f, "invalid firmware object: {e:?}"),
            FotaError::Http(e) => write!(f, "image server: {e:?}"),
            FotaError::Dns(e) => write!(f, "cannot resolve the server: {e}"),
            FotaError::Io(e) => write!(f, "connection: errno {e}"),
            FotaError::Tls(e) => write!(f, "TLS: errno {e}"),
            FotaError::Sink(e) => write!(f, "firmware storage: {e}"),
            FotaError::Thread(e) => write!(f, "download thread: {e}"),
        }
    }
}

/// What the FOTA library tells its user (the C API's callback, or the hub).
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// What happened.
    pub kind: NoticeKind,
    /// The reported-properties JSON to publish (Report, Start, Done, Error).
    pub report: Option<&'a Report>,
    /// The version being downloaded (Start).
    pub version: Option<&'a str>,
    /// Why (Error).
    pub error: Option<FotaError>,
}

/// Receives the notices: on the caller of [`process`] (Report, Start, Error of an invalid
/// object or of a download that could not start) or on the download thread (Done, Error,
/// ErasePending, EraseDone). Runs without the FOTA lock: it may call [`process`] and
/// [`status`].
pub type Notify = fn(&Notice<'_>);

/// A download handed to the download thread.
struct Job {
    target: Target,
    download: Download,
}

struct State {
    fota: Option<Fota>,
    notify: Option<Notify>,
    job: Option<Job>,
}

/// A mutex over the glue's FOTA k_mutex (the same discipline as the port's `KMutex`: never
/// locked twice on one thread).
struct FotaLock {
    held: AtomicBool,
    value: UnsafeCell<State>,
}

// SAFETY: the value is only reached through a guard, and a guard exists only while the kernel
// mutex is held by the current thread (and `held` refuses a second guard on that thread).
unsafe impl Sync for FotaLock {}

struct Guard<'a>(&'a FotaLock);

impl FotaLock {
    fn lock(&self) -> Guard<'_> {
        // SAFETY: no preconditions; waiting forever is allowed from threads.
        let rc = unsafe { glue::azhub_z_fota_lock(-1) };
        if rc != 0 {
            panic!("FOTA lock failed: {rc}");
        }
        if self.held.swap(true, Ordering::Acquire) {
            panic!("recursive lock of the FOTA state");
        }
        Guard(self)
    }
}

impl Deref for Guard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        // SAFETY: this guard is the only reference while the kernel mutex is held.
        unsafe { &*self.0.value.get() }
    }
}

impl DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        // SAFETY: as in `deref`; `&mut self` makes the borrow exclusive.
        unsafe { &mut *self.0.value.get() }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.held.store(false, Ordering::Release);
        // SAFETY: this thread holds the mutex (taken in `lock`).
        unsafe { glue::azhub_z_fota_unlock() };
    }
}

static STATE: FotaLock = FotaLock {
    held: AtomicBool::new(false),
    value: UnsafeCell::new(State {
        fota: None,
        notify: None,
        job: None,
    }),
};

static RX: StaticBuf<RX_LEN> = StaticBuf::new();

fn raise(notify: Option<Notify>, notice: Notice<'_>) {
    if let Some(f) = notify {
        f(&notice);
    }
}

/// Initialises FOTA (the running version is `CONFIG_AZURE_FOTA_APP_VERSION`) and starts the
/// download thread on the first call; later calls only replace `notify` (a running download
/// continues).
pub fn init(notify: Notify) -> Result<(), FotaError> {
    let first = {
        let mut st = STATE.lock();
        st.notify = Some(notify);
        if st.fota.is_none() {
            st.fota = Some(Fota::new(
                k::AZURE_FOTA_APP_VERSION,
                FotaOptions {
                    max_fragment_size: MAX_FRAGMENT_SIZE,
                },
            ));
            true
        } else {
            false
        }
    };
    if first {
        ::log::info!(target: LOG, "current firmware version: {}", k::AZURE_FOTA_APP_VERSION);
        // SAFETY: `download_main` is a valid entry that ignores its argument.
        let rc = unsafe { glue::azhub_z_fota_thread_start(download_main) };
        if rc != 0 && rc != -(b::EALREADY as c_int) {
            ::log::error!(target: LOG, "cannot start the download thread: {rc}");
            STATE.lock().fota = None;
            return Err(FotaError::Thread(rc));
        }
    }
    Ok(())
}

/// The current `fwUpdateStatus` (None before [`init`]).
pub fn status() -> Option<FwStatus> {
    STATE.lock().fota.as_ref().map(Fota::status)
}

/// True while a download runs.
pub fn is_downloading() -> bool {
    STATE.lock().fota.as_ref().is_some_and(Fota::is_downloading)
}

/// Reads a twin document or a desired patch (exactly `json`), as `azure_fota_msg_process`:
/// `Ok(true)` when a download started (START raised), `Ok(false)` when there is nothing to do
/// (REPORT raised when the reported status needs it; ERROR for an invalid object), `Err` when
/// the download could not start (ERROR raised) or FOTA is not initialised.
pub fn process(json: &[u8]) -> Result<bool, FotaError> {
    let mut st = STATE.lock();
    let notify = st.notify;
    let Some(fota) = st.fota.as_mut() else {
        return Err(FotaError::NotInitialised);
    };
    let outcome = fota.process(json);
    match outcome.action {
        Action::None => {
            let report = outcome.report.then(|| Report::of(fota));
            drop(st);
            if let Some(r) = report {
                raise(
                    notify,
                    Notice {
                        kind: NoticeKind::Report,
                        report: Some(&r),
                        version: None,
                        error: None,
                    },
                );
            }
            Ok(false)
        }
        Action::Invalid(e) => {
            let report = Report::of(fota);
            drop(st);
            ::log::warn!(target: LOG, "invalid firmware object: {e:?}");
            raise(
                notify,
                Notice {
                    kind: NoticeKind::Error,
                    report: Some(&report),
                    version: None,
                    error: Some(FotaError::Invalid(e)),
                },
            );
            Ok(false)
        }
        Action::Download(job) => {
            let prepared = Target::parse(job.host, k::AZURE_FOTA_TLS, k::AZURE_FOTA_DOWNLOAD_PORT)
                .and_then(|target| {
                    let download = Download::new(&target.host_header, job.path, job.fragment_size)?;
                    Ok(Job { target, download })
                })
                .map_err(FotaError::Http);
            match prepared {
                Ok(new_job) => {
                    fota.download_started();
                    let report = Report::of(fota);
                    let mut version = heapless::String::<MAX_VERSION_LEN>::new();
                    let _ = version.push_str(fota.pending_version().unwrap_or(""));
                    ::log::info!(target: LOG, "downloading firmware version {version} from {}/{}", job.host, job.path);
                    st.job = Some(new_job);
                    drop(st);
                    raise(
                        notify,
                        Notice {
                            kind: NoticeKind::Start,
                            report: Some(&report),
                            version: Some(&version),
                            error: None,
                        },
                    );
                    // Only now may the download thread raise DONE or ERROR.
                    // SAFETY: no preconditions.
                    unsafe { glue::azhub_z_fota_job_post() };
                    Ok(true)
                }
                Err(e) => {
                    fota.download_failed();
                    let report = Report::of(fota);
                    drop(st);
                    ::log::error!(target: LOG, "cannot start the download: {e}");
                    raise(
                        notify,
                        Notice {
                            kind: NoticeKind::Error,
                            report: Some(&report),
                            version: None,
                            error: Some(e),
                        },
                    );
                    Err(e)
                }
            }
        }
    }
}

/// dfu_target's erase notifications (called by the glue on the download thread).
#[no_mangle]
pub extern "C" fn azhub_rs_fota_erase_event(done: bool) {
    let notify = STATE.lock().notify;
    raise(
        notify,
        Notice {
            kind: if done {
                NoticeKind::EraseDone
            } else {
                NoticeKind::ErasePending
            },
            report: None,
            version: None,
            error: None,
        },
    );
}

/// The glue's firmware sink (writes in order; `offset` is checked).
#[derive(Debug, Default)]
struct GlueSink {
    next: u64,
}

fn rc(r: c_int) -> Result<(), i32> {
    if r < 0 {
        Err(-r)
    } else {
        Ok(())
    }
}

impl FirmwareSink for GlueSink {
    type Error = i32;

    fn erases(&self) -> bool {
        // SAFETY: no preconditions.
        unsafe { glue::azhub_z_fota_sink_erases() }
    }

    fn prepare(&mut self, size: u64) -> Result<(), i32> {
        self.next = 0;
        // SAFETY: no preconditions.
        rc(unsafe { glue::azhub_z_fota_sink_prepare(size) })
    }

    fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), i32> {
        if offset != self.next {
            return Err(b::EINVAL as i32);
        }
        // SAFETY: `bytes` is valid for reads of its length during the call.
        rc(unsafe { glue::azhub_z_fota_sink_write(bytes.as_ptr().cast(), bytes.len()) })?;
        self.next += bytes.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), i32> {
        // SAFETY: no preconditions.
        rc(unsafe { glue::azhub_z_fota_sink_finish() })
    }

    fn abort(&mut self) {
        // SAFETY: no preconditions.
        unsafe { glue::azhub_z_fota_sink_abort() }
    }
}

/// The download thread: one job at a time, forever.
extern "C" fn download_main(_arg: *mut c_void) {
    let Some(rx) = RX.take() else {
        ::log::error!(target: LOG, "download buffer already taken");
        return;
    };
    loop {
        // SAFETY: no preconditions; waits forever.
        if unsafe { glue::azhub_z_fota_job_wait(-1) } != 0 {
            continue;
        }
        let job = STATE.lock().job.take();
        if let Some(job) = job {
            run(job, rx);
        }
    }
}

fn run(mut job: Job, rx: &mut [u8]) {
    let mut sink = GlueSink::default();
    let result =
        fetch(&mut job, &mut sink, rx).and_then(|()| sink.finish().map_err(FotaError::Sink));
    if result.is_err() {
        sink.abort();
    }
    let (report, notify) = {
        let mut st = STATE.lock();
        let notify = st.notify;
        let Some(fota) = st.fota.as_mut() else {
            return;
        };
        match result {
            Ok(()) => fota.download_done(),
            Err(_) => fota.download_failed(),
        }
        (Report::of(fota), notify)
    };
    match result {
        Ok(()) => {
            ::log::info!(target: LOG, "firmware image complete ({} bytes)", job.download.offset())
        }
        Err(e) => ::log::error!(target: LOG, "download failed: {e}"),
    }
    raise(
        notify,
        Notice {
            kind: if result.is_ok() {
                NoticeKind::Done
            } else {
                NoticeKind::Error
            },
            report: Some(&report),
            version: None,
            error: result.err(),
        },
    );
}

/// Why one connection ended.
enum Failure {
    /// Reconnect and resume (this error if the retries run out).
    Dropped(FotaError),
    /// The job cannot succeed.
    Fatal(FotaError),
}

fn fetch(job: &mut Job, sink: &mut GlueSink, rx: &mut [u8]) -> Result<(), FotaError> {
    let mut retry = Retry::new(DEFAULT_MAX_RETRIES);
    let mut writer = ImageWriter::new();
    loop {
        let before = job.download.offset();
        let err = match open(&job.target) {
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Dropped(e)) => e,
            Ok(fd) => {
                let r = transfer(fd, &mut job.download, &mut writer, sink, rx);
                // SAFETY: the socket opened by `open`, used by this thread only.
                unsafe { sys::azhub_z_close(fd) };
                match r {
                    Ok(()) => return Ok(()),
                    Err(Failure::Fatal(e)) => return Err(e),
                    Err(Failure::Dropped(e)) => e,
                }
            }
        };
        job.download.handle_closed();
        match retry.dropped(job.download.offset() > before) {
            RetryDecision::GiveUp(n) => {
                ::log::error!(target: LOG, "giving up after {n} attempts without progress");
                return Err(err);
            }
            RetryDecision::After(ms) => {
                ::log::warn!(target: LOG, "download interrupted at byte {}: {err}; resuming", job.download.offset());
                // SAFETY: no preconditions.
                unsafe { sys::azhub_z_sleep_ms(ms.min(i32::MAX as u32) as i32) };
            }
        }
    }
}

fn setsockopt_raw(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: usize,
) -> Result<(), i32> {
    // SAFETY: the callers pass a pointer valid for `len` bytes for the duration of the call.
    if unsafe { sys::azhub_z_setsockopt(fd, level, name, value, len) } < 0 {
        Err(sys::errno())
    } else {
        Ok(())
    }
}

/// A NUL-terminated copy of a host name (at most `MAX_HOST_LEN` bytes).
fn c_name(s: &str) -> [u8; crate::fota::http::MAX_HOST_LEN + 1] {
    let mut buf = [0u8; crate::fota::http::MAX_HOST_LEN + 1];
    let n = s.len().min(buf.len() - 1);
    buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    buf
}

/// Resolves and connects (with the TLS handshake when the target asks for TLS).
fn open(t: &Target) -> Result<c_int, Failure> {
    let c = sys::consts();
    let name = c_name(&t.name);
    let mut addr = [0u8; 64];
    // SAFETY: every pointer is valid for the call; `addr` has room for any address.
    let r = unsafe { sys::azhub_z_resolve(name.as_ptr().cast(), t.port, addr.as_mut_ptr().cast()) };
    if r != 0 {
        return Err(Failure::Dropped(FotaError::Dns(r)));
    }
    // SAFETY: the resolver succeeded, so `addr` holds its address.
    let (family, addrlen) = unsafe { sys::resolved_family(addr.as_ptr().cast()) };
    let proto = if t.tls {
        c.ipproto_tls_1_2
    } else {
        c.ipproto_tcp
    };
    // SAFETY: plain system call.
    let fd = unsafe { sys::azhub_z_socket(family, c.sock_stream, proto) };
    if fd < 0 {
        return Err(Failure::Dropped(FotaError::Io(sys::errno())));
    }
    let fail = |e: Failure| {
        // SAFETY: the socket opened above, not shared.
        unsafe { sys::azhub_z_close(fd) };
        e
    };
    if t.tls {
        // -1 (the default) means no credentials on a modem; as on Linux, the MQTT primary
        // tag's CA then verifies the server.
        let tag: i32 = if k::AZURE_FOTA_SEC_TAG >= 0 {
            k::AZURE_FOTA_SEC_TAG
        } else {
            k::MQTT_HELPER_SEC_TAG
        };
        let tls = |r: Result<(), i32>| r.map_err(|e| fail(Failure::Fatal(FotaError::Tls(e))));
        tls(setsockopt_raw(
            fd,
            c.sol_tls,
            c.tls_sec_tag_list,
            (&tag as *const i32).cast(),
            size_of::<i32>(),
        ))?;
        tls(setsockopt_raw(
            fd,
            c.sol_tls,
            c.tls_hostname,
            name.as_ptr().cast(),
            t.name.len() + 1,
        ))?;
        let verify: c_int = c.tls_peer_verify_required;
        tls(setsockopt_raw(
            fd,
            c.sol_tls,
            c.tls_peer_verify,
            (&verify as *const c_int).cast(),
            size_of::<c_int>(),
        ))?;
    }
    // SAFETY: `addr` holds `addrlen` bytes of a socket address filled by the resolver.
    if unsafe { sys::azhub_z_connect(fd, addr.as_ptr().cast(), addrlen) } < 0 {
        let e = sys::errno();
        if t.tls && e == c.econnaborted {
            // Zephyr's TLS socket reports a failed handshake (a refused certificate, a wrong
            // host name) as ECONNABORTED from connect(): retrying cannot help (as on Linux).
            ::log::error!(target: LOG, "TLS handshake with {}:{} failed", t.name, t.port);
            return Err(fail(Failure::Fatal(FotaError::Tls(e))));
        }
        ::log::warn!(target: LOG, "connect() to {}:{} failed: errno {e}", t.name, t.port);
        return Err(fail(Failure::Dropped(FotaError::Io(e))));
    }
    Ok(fd)
}

fn transfer(
    fd: c_int,
    download: &mut Download,
    writer: &mut ImageWriter,
    sink: &mut GlueSink,
    rx: &mut [u8],
) -> Result<(), Failure> {
    let c = sys::consts();
    let notify = STATE.lock().notify;
    loop {
        let mut req = [0u8; 512];
        let mut cur = Cursor::new(&mut req);
        download
            .write_request(&mut cur)
            .map_err(|_| Failure::Fatal(FotaError::Http(HttpError::InvalidLocation)))?;
        super::net::send_all(fd, cur.written()).map_err(|e| Failure::Dropped(FotaError::Io(e)))?;
        loop {
            // SAFETY: plain system call on the download's socket.
            let n = unsafe { sys::azhub_z_poll(fd, c.pollin, READ_TIMEOUT_MS) };
            if n == 0 {
                return Err(Failure::Dropped(FotaError::Io(b::ETIMEDOUT as i32)));
            }
            if n < 0 {
                let e = sys::errno();
                if e == c.eintr {
                    continue;
                }
                return Err(Failure::Dropped(FotaError::Io(e)));
            }
            // SAFETY: `rx` is valid for writes of its length during the call.
            let got = unsafe { sys::azhub_z_recv(fd, rx.as_mut_ptr().cast(), rx.len(), 0) };
            if got == 0 {
                return Err(Failure::Dropped(FotaError::Io(b::ENOTCONN as i32)));
            }
            if got < 0 {
                let e = sys::errno();
                if e == c.eintr || e == c.eagain {
                    continue;
                }
                return Err(Failure::Dropped(FotaError::Io(e)));
            }
            let got = (got as usize).min(rx.len());
            let progress = writer
                .feed(download, &rx[..got], sink, &mut |kind| {
                    raise(
                        notify,
                        Notice {
                            kind,
                            report: None,
                            version: None,
                            error: None,
                        },
                    )
                })
                .map_err(|e| {
                    Failure::Fatal(match e {
                        FeedError::Http(e) => FotaError::Http(e),
                        FeedError::Sink(e) => FotaError::Sink(e),
                    })
                })?;
            match progress {
                Progress::Pending => {}
                Progress::NextRequest => break,
                Progress::Done => return Ok(()),
            }
        }
    }
}
