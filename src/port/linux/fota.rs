//! Azure FOTA on Linux: the library of `azure_fota.h` ([`FotaAgent`]: the core's decisions, the
//! reports, a download thread) and its use by the hub ([`HubFota`]: reports published as
//! reported properties, FOTA events for the application).
//!
//! The download runs on its own thread (the original's `download_client` thread): HTTP/1.1 range
//! requests of `fwFragmentSize` bytes over TLS (rustls, the CA of `CONFIG_AZURE_FOTA_SEC_TAG`
//! from the certificates folder) or plain TCP when `CONFIG_AZURE_FOTA_TLS=n`, resuming from the
//! next missing byte after a dropped connection, into a [`FirmwareSink`] (by default
//! [`FileSink`]: a temporary file renamed into place when the image is complete). See
//! docs/fota.md.

use std::boxed::Box;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{format, vec};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::{HubClient, PortEvent};
use crate::config as k;
use crate::fota::http::{Download, HttpError, Progress};
use crate::fota::job::{FeedError, ImageWriter, Report, Retry, RetryDecision, Target};
use crate::fota::{Action, FirmwareError, FirmwareSink, Fota, FotaOptions, FwStatus};
use crate::hub::{Event, Received};
use crate::sink::Cursor;

/// Log target, as the original's log module.
const LOG: &str = "azure_fota";

/// Largest `fwFragmentSize` accepted by default (bytes per range request).
pub const DEFAULT_MAX_FRAGMENT_SIZE: u32 = 16 * 1024;

/// FOTA settings: the `CONFIG_AZURE_FOTA_*` options, and where images and certificates live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FotaSettings {
    /// The running firmware version (`CONFIG_AZURE_FOTA_APP_VERSION`).
    pub app_version: String,
    /// HTTPS (`CONFIG_AZURE_FOTA_TLS`); an `http://` or `https://` prefix on the host decides
    /// instead.
    pub tls: bool,
    /// Security tag of the server's CA (`CONFIG_AZURE_FOTA_SEC_TAG`); see [`FotaSettings::ca_file`].
    pub sec_tag: i32,
    /// Port when the host names none (`CONFIG_AZURE_FOTA_DOWNLOAD_PORT`; 80 when TLS is off and
    /// this is 443).
    pub download_port: u16,
    /// The certificates folder (`CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER`).
    pub certificates: PathBuf,
    /// `CONFIG_MQTT_HELPER_SEC_TAG` (for the tag → file mapping).
    pub mqtt_sec_tag: i32,
    /// `CONFIG_MQTT_HELPER_SECONDARY_SEC_TAG` (for the tag → file mapping).
    pub mqtt_secondary_sec_tag: i32,
    /// Where the image goes (`CONFIG_AZURE_FOTA_IMAGE_FILE`).
    pub image_file: PathBuf,
    /// Largest `fwFragmentSize` accepted.
    pub max_fragment_size: u32,
    /// Connection attempts in a row without a new byte before the download fails.
    pub max_retries: u32,
    /// Connect, TLS handshake and read timeout.
    pub io_timeout: Duration,
}

fn env_var(name: &str) -> Option<String> {
    let raw = std::env::var(["CONFIG_", name].concat()).ok()?;
    let raw = raw.trim();
    Some(
        match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
            None => raw.to_string(),
        },
    )
}

fn env_parsed<T: std::str::FromStr>(name: &str) -> Option<T> {
    let v = env_var(name)?;
    let parsed = v.parse().ok();
    if parsed.is_none() {
        log::warn!(target: LOG, "ignoring CONFIG_{name}={v:?}: not a valid value");
    }
    parsed
}

impl FotaSettings {
    /// The compile-time (Kconfig) values only.
    pub fn kconfig_defaults() -> Self {
        FotaSettings {
            app_version: k::AZURE_FOTA_APP_VERSION.to_string(),
            tls: k::AZURE_FOTA_TLS,
            sec_tag: k::AZURE_FOTA_SEC_TAG,
            download_port: k::AZURE_FOTA_DOWNLOAD_PORT,
            certificates: PathBuf::from(k::MQTT_HELPER_CERTIFICATES_FOLDER),
            mqtt_sec_tag: k::MQTT_HELPER_SEC_TAG,
            mqtt_secondary_sec_tag: k::MQTT_HELPER_SECONDARY_SEC_TAG,
            image_file: PathBuf::from(k::AZURE_FOTA_IMAGE_FILE),
            max_fragment_size: DEFAULT_MAX_FRAGMENT_SIZE,
            max_retries: crate::fota::job::DEFAULT_MAX_RETRIES,
            io_timeout: Duration::from_secs(30),
        }
    }

    /// The Kconfig values, overridden at run time by environment variables of the same names
    /// (`CONFIG_AZURE_FOTA_APP_VERSION`, `_TLS`, `_SEC_TAG`, `_DOWNLOAD_PORT`, `_IMAGE_FILE`,
    /// `CONFIG_MQTT_HELPER_CERTIFICATES_FOLDER`, `_SEC_TAG`, `_SECONDARY_SEC_TAG`).
    pub fn from_config() -> Self {
        let mut s = Self::kconfig_defaults();
        if let Some(v) = env_var("AZURE_FOTA_APP_VERSION") {
            s.app_version = v;
        }
        if let Some(v) = env_var("AZURE_FOTA_TLS") {
            match v.as_str() {
                "y" | "1" | "true" | "yes" => s.tls = true,
                "n" | "0" | "false" | "no" | "" => s.tls = false,
                _ => log::warn!(target: LOG, "ignoring CONFIG_AZURE_FOTA_TLS={v:?}"),
            }
        }
        if let Some(v) = env_parsed("AZURE_FOTA_SEC_TAG") {
            s.sec_tag = v;
        }
        if let Some(v) = env_parsed("AZURE_FOTA_DOWNLOAD_PORT") {
            s.download_port = v;
        }
        if let Some(v) = env_var("AZURE_FOTA_IMAGE_FILE") {
            s.image_file = PathBuf::from(v);
        }
        if let Some(v) = env_var("MQTT_HELPER_CERTIFICATES_FOLDER") {
            s.certificates = PathBuf::from(v);
        }
        if let Some(v) = env_parsed("MQTT_HELPER_SEC_TAG") {
            s.mqtt_sec_tag = v;
        }
        if let Some(v) = env_parsed("MQTT_HELPER_SECONDARY_SEC_TAG") {
            s.mqtt_secondary_sec_tag = v;
        }
        s
    }

    /// The CA file the image server must chain to: `ca-cert-2.pem` when `sec_tag` is the MQTT
    /// secondary tag (and not also the primary), otherwise `ca-cert.pem` (the primary tag's CA,
    /// also for -1: Linux has no modem key store whose meaning -1 could take).
    pub fn ca_file(&self) -> PathBuf {
        let secondary = self.sec_tag > -1
            && self.sec_tag == self.mqtt_secondary_sec_tag
            && self.sec_tag != self.mqtt_sec_tag;
        self.certificates.join(if secondary {
            "ca-cert-2.pem"
        } else {
            "ca-cert.pem"
        })
    }
}

/// Why a FOTA job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FotaError {
    /// The desired firmware object is invalid (wrong type, bad fragment size, bad field).
    Invalid(FirmwareError),
    /// The image server answered wrongly (a status such as 404, or a malformed response).
    Http(HttpError),
    /// The server could not be reached, or the connection kept failing.
    Io(String),
    /// TLS setup failed (CA file, server name).
    Tls(String),
    /// The firmware sink failed.
    Sink(String),
    /// The download thread could not start.
    Thread(String),
}

impl fmt::Display for FotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FotaError::Invalid(e) => write!(f, "invalid firmware object: {e:?}"),
            FotaError::Http(e) => write!(f, "image server: {e:?}"),
            FotaError::Io(e) => write!(f, "connection: {e}"),
            FotaError::Tls(e) => write!(f, "TLS: {e}"),
            FotaError::Sink(e) => write!(f, "firmware storage: {e}"),
            FotaError::Thread(e) => write!(f, "download thread: {e}"),
        }
    }
}

impl std::error::Error for FotaError {}

/// The kinds of `enum azure_fota_evt_type`, in its order (shared with the Zephyr port).
pub use crate::fota::job::NoticeKind as FotaEventKind;

/// What the FOTA library tells its user (the hub, or the application of `azure_fota.h`).
#[derive(Debug, Clone, Copy)]
pub struct FotaNotice<'a> {
    /// What happened.
    pub kind: FotaEventKind,
    /// The reported-properties JSON to publish (Report, Start, Done, Error).
    pub report: Option<&'a str>,
    /// The version being downloaded (Start).
    pub version: Option<&'a str>,
    /// Why (Error).
    pub error: Option<&'a FotaError>,
}

type Notify = Box<dyn Fn(&FotaNotice<'_>) + Send + Sync + 'static>;
type SinkFactory = Box<
    dyn Fn() -> Box<dyn FirmwareSink<Error = io::Error> + Send + 'static> + Send + Sync + 'static,
>;

struct State {
    fota: Fota,
}

struct Inner {
    state: Mutex<State>,
    idle: Condvar,
    settings: FotaSettings,
    notify: Notify,
    sink: SinkFactory,
}

/// The Azure FOTA library: reads twin documents, reports, downloads. Cheap to clone.
#[derive(Clone)]
pub struct FotaAgent {
    inner: Arc<Inner>,
}

impl fmt::Debug for FotaAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FotaAgent")
            .field("status", &self.status())
            .field("downloading", &self.is_downloading())
            .finish()
    }
}

fn report_of(fota: &Fota) -> String {
    Report::of(fota).as_str().to_string()
}

impl FotaAgent {
    /// FOTA with the default sink ([`FileSink`] on `settings.image_file`). `notify` is called
    /// from inside [`FotaAgent::process`] (Report, Start, Error) and from the download thread
    /// (Done, Error, ErasePending, EraseDone).
    pub fn new(
        settings: FotaSettings,
        notify: impl Fn(&FotaNotice<'_>) + Send + Sync + 'static,
    ) -> Self {
        let path = settings.image_file.clone();
        Self::with_sink(settings, move || Box::new(FileSink::new(&path)), notify)
    }

    /// FOTA writing each image to a fresh sink from `sink`.
    pub fn with_sink(
        settings: FotaSettings,
        sink: impl Fn() -> Box<dyn FirmwareSink<Error = io::Error> + Send + 'static>
            + Send
            + Sync
            + 'static,
        notify: impl Fn(&FotaNotice<'_>) + Send + Sync + 'static,
    ) -> Self {
        log::info!(target: LOG, "current firmware version: {}", settings.app_version);
        let fota = Fota::new(
            &settings.app_version,
            FotaOptions {
                max_fragment_size: settings.max_fragment_size,
            },
        );
        FotaAgent {
            inner: Arc::new(Inner {
                state: Mutex::new(State { fota }),
                idle: Condvar::new(),
                settings,
                notify: Box::new(notify),
                sink: Box::new(sink),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings.
    pub fn settings(&self) -> &FotaSettings {
        &self.inner.settings
    }

    /// The current `fwUpdateStatus`.
    pub fn status(&self) -> FwStatus {
        self.lock().fota.status()
    }

    /// True while a download runs.
    pub fn is_downloading(&self) -> bool {
        self.lock().fota.is_downloading()
    }

    /// Waits until no download runs (at most `timeout`); true when idle.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let mut st = self.lock();
        while st.fota.is_downloading() {
            let now = Instant::now();
            if now >= end {
                return false;
            }
            st = self
                .inner
                .idle
                .wait_timeout(st, end - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Reads a twin document or a desired patch (exactly `json`; no NUL needed), as
    /// `azure_fota_msg_process`: `Ok(true)` when a download started, `Ok(false)` when there is
    /// nothing to do (no firmware object, same version, same job, a download already running,
    /// or an invalid firmware object, which raised an Error notice), `Err` when the download
    /// could not start (an Error notice was raised).
    pub fn process(&self, json: &[u8]) -> Result<bool, FotaError> {
        let mut st = self.lock();
        let outcome = st.fota.process(json);
        match outcome.action {
            Action::None => {
                let report = outcome.report.then(|| report_of(&st.fota));
                drop(st);
                if let Some(r) = report {
                    self.notice(FotaEventKind::Report, Some(&r), None, None);
                }
                Ok(false)
            }
            Action::Invalid(e) => {
                let report = report_of(&st.fota);
                drop(st);
                log::warn!(target: LOG, "invalid firmware object: {e:?}");
                let err = FotaError::Invalid(e);
                self.notice(FotaEventKind::Error, Some(&report), None, Some(&err));
                Ok(false)
            }
            Action::Download(job) => {
                let version = st.fota.pending_version().unwrap_or("").to_string();
                let started = self.start(job.host, job.path, job.fragment_size);
                match started {
                    Ok(go) => {
                        st.fota.download_started();
                        let report = report_of(&st.fota);
                        drop(st);
                        log::info!(target: LOG, "downloading firmware version {version} from {}/{}", job.host, job.path);
                        self.notice(FotaEventKind::Start, Some(&report), Some(&version), None);
                        // Only now may the thread report Done or Error.
                        let _ = go.send(());
                        Ok(true)
                    }
                    Err(e) => {
                        st.fota.download_failed();
                        let report = report_of(&st.fota);
                        drop(st);
                        self.inner.idle.notify_all();
                        log::error!(target: LOG, "cannot start the download: {e}");
                        self.notice(FotaEventKind::Error, Some(&report), None, Some(&e));
                        Err(e)
                    }
                }
            }
        }
    }

    fn notice(
        &self,
        kind: FotaEventKind,
        report: Option<&str>,
        version: Option<&str>,
        error: Option<&FotaError>,
    ) {
        (self.inner.notify)(&FotaNotice {
            kind,
            report,
            version,
            error,
        });
    }

    /// Checks the location and starts the download thread, which waits for the returned
    /// sender before it touches the network.
    fn start(&self, host: &str, path: &str, fragment: u32) -> Result<mpsc::Sender<()>, FotaError> {
        let s = &self.inner.settings;
        let target = Target::parse(host, s.tls, s.download_port).map_err(FotaError::Http)?;
        let download =
            Download::new(&target.host_header, path, fragment).map_err(FotaError::Http)?;
        let tls = if target.tls {
            Some(Arc::new(tls_config(&self.inner.settings.ca_file())?))
        } else {
            None
        };
        let (tx, rx) = mpsc::channel::<()>();
        let agent = self.clone();
        std::thread::Builder::new()
            .name(String::from("download_client"))
            .spawn(move || {
                if rx.recv().is_err() {
                    return;
                }
                agent.run(target, download, tls);
            })
            .map_err(|e| FotaError::Thread(e.to_string()))?;
        Ok(tx)
    }

    /// The download thread.
    fn run(&self, target: Target, mut download: Download, tls: Option<Arc<ClientConfig>>) {
        let mut sink = (self.inner.sink)();
        let result = fetch(
            self,
            &target,
            &mut download,
            tls.as_ref(),
            &mut *sink,
            &self.inner.settings,
        );
        let result =
            result.and_then(|()| sink.finish().map_err(|e| FotaError::Sink(e.to_string())));
        let mut st = self.lock();
        let kind = match &result {
            Ok(()) => {
                st.fota.download_done();
                FotaEventKind::Done
            }
            Err(_) => {
                sink.abort();
                st.fota.download_failed();
                FotaEventKind::Error
            }
        };
        let report = report_of(&st.fota);
        drop(st);
        self.inner.idle.notify_all();
        match &result {
            Ok(()) => {
                log::info!(target: LOG, "firmware image complete ({} bytes)", download.offset())
            }
            Err(e) => log::error!(target: LOG, "download failed: {e}"),
        }
        self.notice(kind, Some(&report), None, result.as_ref().err());
    }
}

fn tls_config(ca: &Path) -> Result<ClientConfig, FotaError> {
    let pem = fs::read(ca).map_err(|e| FotaError::Tls(format!("{}: {e}", ca.display())))?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut BufReader::new(&pem[..])) {
        let cert = cert.map_err(|e| FotaError::Tls(format!("{}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| FotaError::Tls(format!("{}: {e}", ca.display())))?;
    }
    if roots.is_empty() {
        return Err(FotaError::Tls(format!(
            "{}: no CA certificate",
            ca.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FotaError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

fn open(
    target: &Target,
    tls: Option<&Arc<ClientConfig>>,
    timeout: Duration,
) -> io::Result<Box<dyn Stream>> {
    let addrs: Vec<_> = (target.name.as_str(), target.port)
        .to_socket_addrs()?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(timeout))?;
                tcp.set_write_timeout(Some(timeout))?;
                let _ = tcp.set_nodelay(true);
                return match tls {
                    None => Ok(Box::new(tcp)),
                    Some(cfg) => {
                        let name = ServerName::try_from(target.name.to_string())
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                        let conn =
                            ClientConnection::new(cfg.clone(), name).map_err(io::Error::other)?;
                        let mut s = StreamOwned::new(conn, tcp);
                        while s.conn.is_handshaking() {
                            s.conn.complete_io(&mut s.sock)?;
                        }
                        Ok(Box::new(s))
                    }
                };
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Downloads the whole image into `sink`, reconnecting after drops.
fn fetch(
    agent: &FotaAgent,
    target: &Target,
    download: &mut Download,
    tls: Option<&Arc<ClientConfig>>,
    sink: &mut dyn FirmwareSink<Error = io::Error>,
    s: &FotaSettings,
) -> Result<(), FotaError> {
    let mut retry = Retry::new(s.max_retries);
    let mut writer = ImageWriter::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let before = download.offset();
        let err = match open(target, tls, s.io_timeout) {
            // rustls reports a refused certificate (or another TLS failure) as InvalidData:
            // retrying cannot help.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(FotaError::Tls(format!(
                    "handshake with {}:{} failed: {e}",
                    target.name, target.port
                )))
            }
            Err(e) => e,
            Ok(mut stream) => {
                match transfer(agent, &mut *stream, download, sink, &mut writer, &mut buf) {
                    Ok(()) => return Ok(()),
                    Err(Failure::Fatal(e)) => return Err(e),
                    Err(Failure::Dropped(e)) => e,
                }
            }
        };
        download.handle_closed();
        match retry.dropped(download.offset() > before) {
            RetryDecision::GiveUp(attempts) => {
                return Err(FotaError::Io(format!(
                    "{}:{}: {err} (after {attempts} attempts)",
                    target.name, target.port
                )))
            }
            RetryDecision::After(ms) => {
                log::warn!(target: LOG, "download interrupted at byte {}: {err}; resuming", download.offset());
                std::thread::sleep(Duration::from_millis(u64::from(ms)));
            }
        }
    }
}

enum Failure {
    /// The connection failed: reconnect and resume.
    Dropped(io::Error),
    /// The job cannot succeed.
    Fatal(FotaError),
}

fn transfer(
    agent: &FotaAgent,
    stream: &mut dyn Stream,
    download: &mut Download,
    sink: &mut dyn FirmwareSink<Error = io::Error>,
    writer: &mut ImageWriter,
    buf: &mut [u8],
) -> Result<(), Failure> {
    loop {
        let mut req = [0u8; 512];
        let mut c = Cursor::new(&mut req);
        download
            .write_request(&mut c)
            .map_err(|_| Failure::Fatal(FotaError::Http(HttpError::InvalidLocation)))?;
        stream.write_all(c.written()).map_err(Failure::Dropped)?;
        stream.flush().map_err(Failure::Dropped)?;
        loop {
            let n = match stream.read(buf) {
                Ok(0) => {
                    return Err(Failure::Dropped(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    )))
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Dropped(e)),
            };
            let progress = writer
                .feed(download, &buf[..n], sink, &mut |kind| {
                    agent.notice(kind, None, None, None)
                })
                .map_err(|e| {
                    Failure::Fatal(match e {
                        FeedError::Http(e) => FotaError::Http(e),
                        FeedError::Sink(e) => FotaError::Sink(e.to_string()),
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

/// The Linux firmware sink: the image is written to `<file>.part` and renamed to `<file>` when
/// complete, so `<file>` is always either the previous image or a whole new one. Preparing
/// erases nothing (no ERASE_PENDING / ERASE_DONE events).
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

impl FileSink {
    /// A sink for `path`.
    pub fn new(path: &Path) -> Self {
        let mut temp = std::ffi::OsString::from(path.as_os_str());
        temp.push(".part");
        FileSink {
            path: path.to_path_buf(),
            temp: PathBuf::from(temp),
            file: None,
        }
    }

    /// The temporary file the image is written to.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }
}

impl FirmwareSink for FileSink {
    type Error = io::Error;

    fn prepare(&mut self, size: u64) -> io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.temp)?;
        file.set_len(size)?;
        self.file = Some(file);
        Ok(())
    }

    fn write(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("sink not prepared"))?;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(bytes)
    }

    fn finish(&mut self) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("sink not prepared"))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.path)
    }

    fn abort(&mut self) {
        self.file = None;
        let _ = fs::remove_file(&self.temp);
    }
}

/// What [`HubFota`] tells the application (after the report is published), as the hub's
/// `AZURE_IOT_HUB_EVT_FOTA_*` events.
#[derive(Debug, Clone, Copy)]
pub enum FotaEvent<'a> {
    /// FOTA_START: downloading `version`.
    Start {
        /// The version being downloaded.
        version: &'a str,
    },
    /// FOTA_DONE: the image is stored; reboot to apply it.
    Done,
    /// FOTA_ERASE_PENDING.
    ErasePending,
    /// FOTA_ERASE_DONE.
    EraseDone,
    /// FOTA_ERROR.
    Error(&'a FotaError),
}

/// FOTA inside the hub: every twin document and desired patch goes through the FOTA library
/// before the application sees it ([`HubFota::handle`]); reports are published as reported
/// properties (QoS 0, generated request ID); the application gets [`FotaEvent`]s.
///
/// Call [`HubFota::handle`] first in the client's handler. It requests the twin on READY when
/// the connection does not (the original forces the twin GET when FOTA is on).
#[derive(Clone)]
pub struct HubFota {
    agent: FotaAgent,
    client: Arc<Mutex<Option<HubClient>>>,
}

impl fmt::Debug for HubFota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubFota")
            .field("agent", &self.agent)
            .finish()
    }
}

impl HubFota {
    /// FOTA with the default file sink; `on_event` runs on the client's worker thread (Start,
    /// Error of an invalid object) or on the download thread (Done, Error, erase events).
    pub fn new(
        settings: FotaSettings,
        on_event: impl Fn(&FotaEvent<'_>) + Send + Sync + 'static,
    ) -> Self {
        let path = settings.image_file.clone();
        Self::with_sink(settings, move || Box::new(FileSink::new(&path)), on_event)
    }

    /// FOTA with images written to sinks from `sink`.
    pub fn with_sink(
        settings: FotaSettings,
        sink: impl Fn() -> Box<dyn FirmwareSink<Error = io::Error> + Send + 'static>
            + Send
            + Sync
            + 'static,
        on_event: impl Fn(&FotaEvent<'_>) + Send + Sync + 'static,
    ) -> Self {
        let client: Arc<Mutex<Option<HubClient>>> = Arc::new(Mutex::new(None));
        let publisher = client.clone();
        let agent = FotaAgent::with_sink(settings, sink, move |n| {
            if let Some(report) = n.report {
                let c = publisher.lock().unwrap_or_else(|e| e.into_inner());
                match c.as_ref().map(|c| c.report_properties(report.as_bytes())) {
                    Some(Ok(_)) => log::debug!(target: LOG, "reported {report}"),
                    Some(Err(e)) => log::warn!(target: LOG, "cannot report {report}: {e}"),
                    None => log::warn!(target: LOG, "no connection to report {report}"),
                }
            }
            let ev = match n.kind {
                FotaEventKind::Report => return,
                FotaEventKind::Start => FotaEvent::Start {
                    version: n.version.unwrap_or(""),
                },
                FotaEventKind::Done => FotaEvent::Done,
                FotaEventKind::ErasePending => FotaEvent::ErasePending,
                FotaEventKind::EraseDone => FotaEvent::EraseDone,
                FotaEventKind::Error => match n.error {
                    Some(e) => FotaEvent::Error(e),
                    None => return,
                },
            };
            on_event(&ev);
        });
        HubFota { agent, client }
    }

    /// The FOTA library underneath.
    pub fn agent(&self) -> &FotaAgent {
        &self.agent
    }

    /// Feeds a client event: twin documents and desired patches are processed (reports
    /// published, the download started). Returns what the FOTA library returned for them.
    ///
    /// On READY it requests the twin when the connection does not do so itself
    /// (`auto_twin_request` off): FOTA forces the twin GET, as in the original.
    pub fn handle(
        &self,
        client: &HubClient,
        event: &PortEvent<'_>,
    ) -> Option<Result<bool, FotaError>> {
        let payload = match event {
            PortEvent::Hub(Event::Message {
                payload,
                kind: Received::TwinDocument { .. } | Received::TwinDesired { .. },
                ..
            }) => *payload,
            PortEvent::Hub(Event::Ready { .. }) => {
                let auto = client.shared.lock().client.options().auto_twin_request;
                if !auto {
                    if let Err(e) = client.request_twin() {
                        log::warn!(target: LOG, "cannot request the twin: {e}");
                    }
                }
                return None;
            }
            _ => return None,
        };
        {
            let mut c = self.client.lock().unwrap_or_else(|e| e.into_inner());
            if c.is_none() {
                // A view that does not keep the connection alive.
                *c = Some(HubClient::view(client.shared.clone()));
            }
        }
        Some(self.agent.process(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> FotaSettings {
        FotaSettings {
            certificates: PathBuf::from("certs"),
            mqtt_sec_tag: 10,
            mqtt_secondary_sec_tag: 11,
            ..FotaSettings::kconfig_defaults()
        }
    }

    #[test]
    fn sec_tag_maps_to_a_ca_file() {
        let mut s = settings();
        s.sec_tag = -1;
        assert_eq!(s.ca_file(), Path::new("certs/ca-cert.pem"));
        s.sec_tag = 10;
        assert_eq!(s.ca_file(), Path::new("certs/ca-cert.pem"));
        s.sec_tag = 11;
        assert_eq!(s.ca_file(), Path::new("certs/ca-cert-2.pem"));
        s.sec_tag = 42;
        assert_eq!(s.ca_file(), Path::new("certs/ca-cert.pem"));
    }

    #[test]
    fn file_sink_renames_when_complete_and_cleans_up_on_abort() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/firmware.bin");
        let mut s = FileSink::new(&path);
        s.prepare(6).unwrap();
        s.write(0, b"abc").unwrap();
        s.write(3, b"def").unwrap();
        assert!(!path.exists());
        s.finish().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"abcdef");
        let mut s = FileSink::new(&path);
        s.prepare(3).unwrap();
        s.write(0, b"xyz").unwrap();
        s.abort();
        assert!(!s.temp_path().exists());
        assert_eq!(fs::read(&path).unwrap(), b"abcdef");
    }
}
