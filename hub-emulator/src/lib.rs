//! A local Azure IoT Hub and Device Provisioning Service for tests and demos.
//!
//! * Device side: MQTT 3.1.1 over TLS on one port for both the hub and DPS (told apart by the
//!   CONNECT user name), X.509 CA-signed, X.509 thumbprint and SAS authentication, telemetry,
//!   C2D, twins, direct methods, DPS registration.
//! * Service side: an HTTP/JSON API ([`ServiceClient`] is its typed blocking client, and the
//!   `hub-emulator` CLI is built on it).
//!
//! In-process use (tests):
//!
//! ```no_run
//! use hub_emulator::{Config, Emulator};
//! let emu = Emulator::start(Config::ephemeral("/tmp/emu-state")).unwrap();
//! let svc = emu.service();
//! svc.create_sas_device("dev1").unwrap();
//! println!("MQTT on {}, trust {}", emu.mqtt_addr(), emu.ca_pem_path().display());
//! ```
//!
//! See docs/emulator.md for the CLI and the HTTP API.

pub mod client;
mod conn;
mod files_https;
mod http;
mod hub;
pub mod model;
pub mod mqtt;
pub mod pki;
mod store;
pub mod util;

pub use client::{Events, ServiceClient};
pub use files_https::FileServerControl;
pub use model::*;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Limits the emulator enforces, for tests that probe them.
pub mod limits {
    pub use crate::hub::{
        MAX_C2D_BYTES, MAX_C2D_QUEUE, MAX_D2C_BYTES, MAX_SUBSCRIPTIONS, MAX_TWIN_DEPTH,
        MAX_TWIN_SECTION_BYTES,
    };
}

/// Errors of the emulator and of its client.
#[derive(Debug)]
pub enum Error {
    Io(std::io::Error),
    Tls(String),
    Cert(String),
    /// The service answered with an error status.
    Http {
        status: u16,
        code: u64,
        message: String,
    },
    /// The HTTP request did not complete.
    Transport(String),
    Json(String),
    Timeout(String),
    Config(String),
}

impl Error {
    /// The HTTP status of a service error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Tls(e) => write!(f, "TLS error: {e}"),
            Error::Cert(e) => write!(f, "certificate error: {e}"),
            Error::Http {
                status,
                code,
                message,
            } => write!(f, "HTTP {status} (errorCode {code}): {message}"),
            Error::Transport(e) => write!(f, "cannot reach the emulator: {e}"),
            Error::Json(e) => write!(f, "unexpected JSON: {e}"),
            Error::Timeout(e) => write!(f, "timed out: {e}"),
            Error::Config(e) => write!(f, "configuration error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Devices, twins, CAs, enrollments, files and the emulator's own certificates live here.
    pub state_dir: PathBuf,
    /// MQTT/TLS listener (hub and DPS). Port 0 picks a free port.
    pub mqtt_addr: SocketAddr,
    /// Service API listener. Port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// HTTPS firmware file server (FOTA downloads). Port 0 picks a free port.
    pub files_https_addr: SocketAddr,
    /// The hub host name devices use in their user name and DPS returns as `assignedHub`.
    pub hub_hostname: String,
    /// The DPS ID scope devices must use.
    pub dps_id_scope: String,
    /// `retry-after` of DPS 202 answers, in seconds.
    pub dps_retry_after_secs: u32,
    /// How many status polls answer `assigning` before the final status.
    pub dps_assigning_polls: u32,
    /// Extra DNS names or IP addresses for the server certificate (besides `localhost`,
    /// `127.0.0.1` and `::1`).
    pub server_cert_names: Vec<String>,
    /// Tokio worker threads.
    pub worker_threads: usize,
    /// Delete `state_dir` when the emulator is dropped.
    pub remove_state_on_drop: bool,
}

impl Config {
    /// The `serve` defaults: 127.0.0.1:8883 and 127.0.0.1:8080, DPS retry-after 3 s.
    pub fn new(state_dir: impl Into<PathBuf>) -> Config {
        Config {
            state_dir: state_dir.into(),
            mqtt_addr: SocketAddr::from(([127, 0, 0, 1], 8883)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            files_https_addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
            hub_hostname: "localhost".into(),
            dps_id_scope: "0ne00000000".into(),
            dps_retry_after_secs: 3,
            dps_assigning_polls: 1,
            server_cert_names: Vec::new(),
            worker_threads: 2,
            remove_state_on_drop: false,
        }
    }

    /// Test defaults: ephemeral ports on 127.0.0.1, DPS retry-after 1 s.
    pub fn ephemeral(state_dir: impl Into<PathBuf>) -> Config {
        Config {
            mqtt_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            files_https_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dps_retry_after_secs: 1,
            ..Config::new(state_dir)
        }
    }

    /// Test defaults in a new unique folder under the system temp dir, removed on drop.
    pub fn temp() -> Config {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hub-emulator-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            util::hex(&util::random_bytes::<4>())
        ));
        Config {
            remove_state_on_drop: true,
            ..Config::ephemeral(dir)
        }
    }
}

/// A running emulator. It runs on its own tokio runtime (background threads), so plain
/// `#[test]` functions can use it. Dropping it stops the servers and flushes the state.
pub struct Emulator {
    runtime: Option<tokio::runtime::Runtime>,
    hub: Option<Arc<hub::Hub>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    mqtt_addr: SocketAddr,
    http_addr: SocketAddr,
    files_addr: SocketAddr,
    files_ctl: Arc<FileServerControl>,
    tls: Arc<rustls::ServerConfig>,
    cfg: Config,
}

impl Emulator {
    /// Creates or loads the state, binds both listeners and starts serving.
    pub fn start(cfg: Config) -> Result<Emulator, Error> {
        // rustls may find more than one provider in the process; be explicit.
        let _ = rustls::crypto::ring::default_provider().install_default();
        std::fs::create_dir_all(&cfg.state_dir)?;
        let mut names = cfg.server_cert_names.clone();
        names.push(cfg.hub_hostname.clone());
        let tls = pki::server_tls_config(&cfg.state_dir, &names)?;
        let store = store::Store::open(&cfg.state_dir)?;
        let hub = hub::Hub::open(
            hub::HubSettings {
                hub_hostname: cfg.hub_hostname.clone(),
                dps_id_scope: cfg.dps_id_scope.clone(),
                dps_retry_after_secs: cfg.dps_retry_after_secs,
                dps_assigning_polls: cfg.dps_assigning_polls,
            },
            store,
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.worker_threads.max(1))
            .thread_name("hub-emulator")
            .enable_all()
            .build()?;
        let (mqtt, http, files) = runtime.block_on(async {
            let m = tokio::net::TcpListener::bind(cfg.mqtt_addr).await;
            let h = tokio::net::TcpListener::bind(cfg.http_addr).await;
            let f = tokio::net::TcpListener::bind(cfg.files_https_addr).await;
            (m, h, f)
        });
        let mqtt = mqtt.map_err(|e| {
            Error::Config(format!("cannot listen on {} (MQTT): {e}", cfg.mqtt_addr))
        })?;
        let http = http.map_err(|e| {
            Error::Config(format!("cannot listen on {} (HTTP): {e}", cfg.http_addr))
        })?;
        let files = files.map_err(|e| {
            Error::Config(format!(
                "cannot listen on {} (HTTPS files): {e}",
                cfg.files_https_addr
            ))
        })?;
        let mqtt_addr = mqtt.local_addr()?;
        let http_addr = http.local_addr()?;
        let files_addr = files.local_addr()?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
        let files_ctl = Arc::new(FileServerControl::default());
        runtime.spawn(files_https::accept_loop(
            files,
            acceptor.clone(),
            cfg.state_dir.join("files"),
            files_ctl.clone(),
            shutdown_rx.clone(),
        ));
        runtime.spawn(conn::accept_loop(
            hub.clone(),
            mqtt,
            acceptor,
            shutdown_rx.clone(),
        ));
        let ctx = Arc::new(http::Ctx {
            hub: hub.clone(),
            info: Info {
                hub_hostname: cfg.hub_hostname.clone(),
                dps_id_scope: cfg.dps_id_scope.clone(),
                mqtt_addr: mqtt_addr.to_string(),
                files_https_addr: files_addr.to_string(),
                ca_pem_path: cfg.state_dir.join(pki::CA_CERT_FILE).display().to_string(),
                state_dir: cfg.state_dir.display().to_string(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        });
        let app = http::router(ctx);
        let mut srx = shutdown_rx;
        runtime.spawn(async move {
            let serve = axum::serve(http, app);
            tokio::select! {
                r = serve => if let Err(e) = r { tracing::error!("HTTP server: {e}") },
                _ = srx.changed() => {}
            }
        });
        tracing::info!(
            "hub-emulator: MQTT/TLS on {mqtt_addr} (hub \"{}\", DPS scope \"{}\"), service API on http://{http_addr}, state in {}",
            cfg.hub_hostname,
            cfg.dps_id_scope,
            cfg.state_dir.display()
        );
        Ok(Emulator {
            runtime: Some(runtime),
            hub: Some(hub),
            shutdown,
            mqtt_addr,
            http_addr,
            files_addr,
            files_ctl,
            tls,
            cfg,
        })
    }

    /// Where devices connect (hub and DPS).
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.mqtt_addr
    }
    /// The service API's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
    /// The HTTPS firmware file server's address (FOTA `fwLocation.host` is `localhost:<port>`).
    pub fn files_https_addr(&self) -> SocketAddr {
        self.files_addr
    }
    /// Fault knobs and counters of the HTTPS file server.
    pub fn file_server(&self) -> &FileServerControl {
        &self.files_ctl
    }
    /// The service API's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }
    /// The emulator's server CA (PEM), for devices to trust.
    pub fn ca_pem_path(&self) -> PathBuf {
        self.cfg.state_dir.join(pki::CA_CERT_FILE)
    }
    /// The server CA as PEM text.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_pem_path()).unwrap_or_default()
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// The TLS server configuration of its listeners (its server certificate and CA chain, the
    /// client-certificate request, the versions `HUB_EMULATOR_TLS` allows), for another server
    /// in a test or benchmark that clients configured for this emulator must trust.
    pub fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.clone()
    }
    pub fn state_dir(&self) -> &std::path::Path {
        &self.cfg.state_dir
    }
    /// A client of this emulator's service API.
    pub fn service(&self) -> ServiceClient {
        ServiceClient::new(&self.http_url())
    }
    /// Live connections (hub and DPS).
    pub fn connection_count(&self) -> usize {
        self.hub.as_ref().map_or(0, |h| h.connection_count())
    }
    /// Waits until everything changed so far is written to the state folder.
    pub fn flush(&self) {
        if let Some(h) = &self.hub {
            h.store.flush();
        }
    }
    /// Blocks until Ctrl-C (or SIGTERM), for `serve`.
    pub fn wait_for_shutdown_signal(&self) {
        if let Some(rt) = &self.runtime {
            rt.block_on(async {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{signal, SignalKind};
                    let mut term = signal(SignalKind::terminate()).ok();
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
                    }
                }
                #[cfg(not(unix))]
                {
                    let _ = tokio::signal::ctrl_c().await;
                }
            });
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        if let Some(h) = self.hub.take() {
            h.store.flush();
        }
        if self.cfg.remove_state_on_drop {
            let _ = std::fs::remove_dir_all(&self.cfg.state_dir);
        }
    }
}
