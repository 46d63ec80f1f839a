//! `hub-emulator`: run the local IoT Hub + DPS (`serve`), or drive a running one over its
//! service API (every other subcommand), in the spirit of `az iot hub` / `az iot dps`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use hub_emulator::model::*;
use hub_emulator::{util, Config, Emulator, Error, ServiceClient};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "hub-emulator",
    version,
    about = "A local Azure IoT Hub + DPS emulator"
)]
struct Cli {
    /// The service API of a running emulator.
    #[arg(
        long,
        global = true,
        env = "HUB_EMULATOR_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the emulator (MQTT/TLS for devices, HTTP for the service API).
    Serve(ServeArgs),
    /// Device identities (az iot hub device-identity).
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Device twins.
    #[command(subcommand)]
    Twin(TwinCmd),
    /// Direct methods.
    #[command(subcommand)]
    Method(MethodCmd),
    /// Cloud-to-device messages.
    #[command(subcommand)]
    C2d(C2dCmd),
    /// Print telemetry as JSON lines (az iot hub monitor-events).
    Monitor(MonitorArgs),
    /// CA certificates (az iot hub certificate).
    #[command(subcommand)]
    Ca(CaCmd),
    /// Device Provisioning Service enrollments.
    #[command(subcommand)]
    Dps(DpsCmd),
    /// Fault injection.
    #[command(subcommand)]
    Fault(FaultCmd),
    /// List live device and DPS connections.
    Connections,
    /// Firmware file server (for FOTA): upload a file served at {url}/files/{path}.
    #[command(subcommand)]
    File(FileCmd),
    /// Azure FOTA: start a firmware update through the device twin.
    #[command(subcommand)]
    Fota(FotaCmd),
    /// Show what the running emulator serves where.
    Info,
}

#[derive(Args)]
struct ServeArgs {
    /// State folder (devices, twins, CAs, enrollments, emulator-ca.pem).
    #[arg(long, default_value = "hub-emulator-state")]
    state: PathBuf,
    #[arg(long, default_value = "127.0.0.1")]
    mqtt_addr: IpAddr,
    #[arg(long, default_value_t = 8883)]
    mqtt_port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    http_addr: IpAddr,
    #[arg(long, default_value_t = 8080)]
    http_port: u16,
    /// Port of the HTTPS firmware file server (FOTA downloads; same address as the service API).
    #[arg(long, default_value_t = 8443)]
    files_https_port: u16,
    /// Host name of the hub (user names, SAS resource, DPS assignedHub).
    #[arg(long, default_value = "localhost")]
    hub_hostname: String,
    /// DPS ID scope.
    #[arg(long, default_value = "0ne00000000")]
    id_scope: String,
    /// retry-after of DPS 202 answers (seconds).
    #[arg(long, default_value_t = 3)]
    dps_retry_after: u32,
    /// Status polls answered `assigning` before the final status.
    #[arg(long, default_value_t = 1)]
    dps_assigning_polls: u32,
    /// Extra names or IPs for the server certificate (repeatable).
    #[arg(long = "cert-name")]
    cert_names: Vec<String>,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum AuthKind {
    /// X.509 CA-signed (CN = device ID).
    X509Ca,
    /// X.509 self-signed, by thumbprint.
    SelfSigned,
    /// SAS (keys generated unless given).
    Sas,
}

#[derive(Subcommand)]
enum DeviceCmd {
    /// Create (or update) a device.
    Create {
        id: String,
        #[arg(long, value_enum, default_value = "x509-ca")]
        auth: AuthKind,
        #[arg(long)]
        primary_thumbprint: Option<String>,
        #[arg(long)]
        secondary_thumbprint: Option<String>,
        /// Self-signed: take the primary thumbprint (SHA-1) from this PEM certificate.
        #[arg(long)]
        cert: Option<PathBuf>,
        #[arg(long)]
        primary_key: Option<String>,
        #[arg(long)]
        secondary_key: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    List,
    Show {
        id: String,
    },
    Delete {
        id: String,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    /// Print a SAS token for a SAS device (its primary key).
    SasToken {
        id: String,
        /// Validity in seconds.
        #[arg(long, default_value_t = 3600)]
        duration: u64,
    },
    /// Print the connection string of a SAS device.
    ConnectionString {
        id: String,
    },
}

#[derive(Subcommand)]
enum TwinCmd {
    Show {
        id: String,
    },
    /// Merge-patch the desired properties (null deletes), e.g. '{"led":true}'.
    UpdateDesired {
        id: String,
        patch: String,
    },
    /// Merge-patch the tags.
    UpdateTags {
        id: String,
        patch: String,
    },
}

#[derive(Subcommand)]
enum MethodCmd {
    /// Invoke a direct method and print its status and payload.
    Invoke {
        id: String,
        name: String,
        /// JSON payload.
        #[arg(long, default_value = "null")]
        payload: String,
        /// Response timeout in seconds.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
}

#[derive(Subcommand)]
enum C2dCmd {
    /// Send a C2D message.
    Send {
        id: String,
        #[arg(long, default_value = "")]
        payload: String,
        /// Application property key=value (repeatable).
        #[arg(long = "property", short = 'p')]
        properties: Vec<String>,
        #[arg(long)]
        message_id: Option<String>,
        #[arg(long)]
        correlation_id: Option<String>,
        #[arg(long)]
        content_type: Option<String>,
        #[arg(long)]
        content_encoding: Option<String>,
    },
}

#[derive(Args)]
struct MonitorArgs {
    /// Only this device.
    #[arg(long)]
    device: Option<String>,
    /// Start with every event the emulator still holds.
    #[arg(long)]
    from_start: bool,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<usize>,
    /// Stop after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
}

#[derive(Subcommand)]
enum CaCmd {
    /// Register (upload) a CA certificate.
    Register {
        name: String,
        /// PEM file of the CA certificate.
        #[arg(long)]
        cert: PathBuf,
        /// Mark it verified at once.
        #[arg(long)]
        verified: bool,
    },
    List,
    Show {
        name: String,
    },
    Delete {
        name: String,
    },
    /// Generate a verification code (the CN of the proof-of-possession certificate).
    VerificationCode {
        name: String,
    },
    /// Verify with a proof-of-possession certificate signed by the CA.
    Verify {
        name: String,
        #[arg(long)]
        cert: PathBuf,
    },
}

#[derive(Subcommand)]
enum DpsCmd {
    /// Enrollment groups.
    #[command(subcommand)]
    Group(GroupCmd),
    /// Individual enrollments.
    #[command(subcommand)]
    Enrollment(EnrollmentCmd),
}

#[derive(Subcommand)]
enum GroupCmd {
    /// Create (or update) an enrollment group.
    Create {
        id: String,
        /// Attest by this registered CA.
        #[arg(long, conflicts_with = "symmetric_key")]
        ca: Option<String>,
        /// Attest by a symmetric group key (device key = HMAC(group key, registration ID)).
        #[arg(long)]
        symmetric_key: bool,
        #[arg(long)]
        primary_key: Option<String>,
        #[arg(long)]
        disabled: bool,
        /// Desired properties of the devices it creates (JSON).
        #[arg(long)]
        initial_twin: Option<String>,
    },
    List,
    Show {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Subcommand)]
enum EnrollmentCmd {
    /// Create (or update) an individual enrollment.
    Create {
        registration_id: String,
        #[arg(long)]
        ca: Option<String>,
        #[arg(long)]
        thumbprint: Option<String>,
        #[arg(long)]
        secondary_thumbprint: Option<String>,
        /// Attest by the thumbprint (SHA-1) of this PEM certificate.
        #[arg(long)]
        cert: Option<PathBuf>,
        #[arg(long)]
        symmetric_key: bool,
        #[arg(long)]
        primary_key: Option<String>,
        /// Device ID to assign (default: the registration ID).
        #[arg(long)]
        device_id: Option<String>,
        #[arg(long)]
        disabled: bool,
        #[arg(long)]
        initial_twin: Option<String>,
    },
    List,
    Show {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Subcommand)]
enum FaultCmd {
    /// Close every device connection now (or one device's).
    Drop {
        #[arg(long)]
        device: Option<String>,
    },
    /// Delay every response to devices by MS milliseconds.
    Delay {
        ms: u64,
        #[command(flatten)]
        common: FaultCommon,
    },
    /// Refuse new connections (CONNACK code, default 3; 0 closes before TLS).
    Refuse {
        #[arg(long)]
        code: Option<u8>,
        #[command(flatten)]
        common: FaultCommon,
    },
    /// Answer twin and DPS requests with 429.
    Throttle {
        #[command(flatten)]
        common: FaultCommon,
    },
    /// Make DPS registrations end `failed`.
    DpsFail {
        #[arg(long)]
        error_code: Option<u64>,
        #[command(flatten)]
        common: FaultCommon,
    },
    /// List active faults.
    List,
    /// Clear one fault (by ID) or all.
    Clear { id: Option<u64> },
}

#[derive(Args)]
struct FaultCommon {
    /// Only this device or registration ID.
    #[arg(long)]
    device: Option<String>,
    /// Seconds; until cleared when absent.
    #[arg(long)]
    duration: Option<f64>,
}

#[derive(Subcommand)]
enum FotaCmd {
    /// Upload FILE and set the desired `firmware` object of DEVICE (a new job).
    Start {
        device: String,
        /// The firmware image.
        #[arg(long)]
        file: PathBuf,
        /// The new firmware version (`fwVersion`).
        #[arg(long)]
        version: String,
        /// The job ID (`jobId`; a new UUID by default).
        #[arg(long)]
        job_id: Option<String>,
        /// Bytes per range request (`fwFragmentSize`).
        #[arg(long, default_value_t = 4096)]
        fragment_size: u32,
        /// Path of the image on the file server (default: fota/<file name>).
        #[arg(long)]
        path: Option<String>,
    },
}

#[derive(Subcommand)]
enum FileCmd {
    /// Upload FILE to be served at {url}/files/PATH.
    Put { path: String, file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.cmd, Cmd::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|e| e.to_string())
    );
}

/// `--disabled` as an enrollment's provisioning status.
fn enrollment_status(disabled: bool) -> Status {
    if disabled {
        Status::Disabled
    } else {
        Status::Enabled
    }
}

/// `--initial-twin JSON`, parsed.
fn parse_initial_twin(json: Option<String>) -> Result<Option<Value>, Error> {
    json.map(|t| parse_json(&t, "--initial-twin")).transpose()
}

fn parse_json(s: &str, what: &str) -> Result<Value, Error> {
    serde_json::from_str(s).map_err(|e| Error::Config(format!("{what} is not JSON: {e}")))
}

fn read(path: &PathBuf) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))
}

fn fault(kind: FaultKind, c: FaultCommon) -> Fault {
    let mut f = Fault::new(kind);
    f.device_id = c.device;
    f.duration_secs = c.duration;
    f
}

fn run(cli: Cli) -> Result<(), Error> {
    let svc = ServiceClient::new(&cli.url);
    match cli.cmd {
        Cmd::Serve(a) => {
            let mut cfg = Config::new(a.state);
            cfg.mqtt_addr = SocketAddr::new(a.mqtt_addr, a.mqtt_port);
            cfg.http_addr = SocketAddr::new(a.http_addr, a.http_port);
            cfg.files_https_addr = SocketAddr::new(a.http_addr, a.files_https_port);
            cfg.hub_hostname = a.hub_hostname;
            cfg.dps_id_scope = a.id_scope;
            cfg.dps_retry_after_secs = a.dps_retry_after;
            cfg.dps_assigning_polls = a.dps_assigning_polls;
            cfg.server_cert_names = a.cert_names;
            cfg.worker_threads = a.threads;
            let emu = Emulator::start(cfg)?;
            eprintln!(
                "hub-emulator: devices connect to mqtts://{} (trust {}), service API at {}, firmware files at https://{}",
                emu.mqtt_addr(),
                emu.ca_pem_path().display(),
                emu.http_url(),
                emu.files_https_addr()
            );
            emu.wait_for_shutdown_signal();
            eprintln!("hub-emulator: shutting down");
            drop(emu);
        }
        Cmd::Info => print_json(&svc.info()?),
        Cmd::Connections => print_json(&svc.connections()?),
        Cmd::Device(d) => match d {
            DeviceCmd::Create {
                id,
                auth,
                primary_thumbprint,
                secondary_thumbprint,
                cert,
                primary_key,
                secondary_key,
                disabled,
            } => {
                let from_cert = cert.map(|c| thumbprint_of(&c)).transpose()?;
                let authentication = match auth {
                    AuthKind::X509Ca => Authentication::CertificateAuthority,
                    AuthKind::SelfSigned => Authentication::SelfSigned {
                        primary_thumbprint: primary_thumbprint.or(from_cert).ok_or_else(|| {
                            Error::Config("--primary-thumbprint or --cert is required".into())
                        })?,
                        secondary_thumbprint,
                    },
                    AuthKind::Sas => Authentication::Sas {
                        primary_key: primary_key.unwrap_or_default(),
                        secondary_key: secondary_key.unwrap_or_default(),
                    },
                };
                let spec = DeviceSpec {
                    authentication,
                    status: if disabled {
                        Status::Disabled
                    } else {
                        Status::Enabled
                    },
                };
                print_json(&svc.put_device(&id, &spec)?);
            }
            DeviceCmd::List => print_json(&svc.list_devices()?),
            DeviceCmd::Show { id } => print_json(&svc.get_device(&id)?),
            DeviceCmd::Delete { id } => {
                svc.delete_device(&id)?;
                eprintln!("device {id} deleted");
            }
            DeviceCmd::Enable { id } => print_json(&svc.set_device_status(&id, Status::Enabled)?),
            DeviceCmd::Disable { id } => print_json(&svc.set_device_status(&id, Status::Disabled)?),
            DeviceCmd::SasToken { id, duration } => {
                let (key, host) = sas_key(&svc, &id)?;
                let token = util::sas_token(
                    &format!("{host}/devices/{id}"),
                    &key,
                    util::unix_now() + duration,
                    None,
                );
                println!("{token}");
            }
            DeviceCmd::ConnectionString { id } => {
                let (key, host) = sas_key(&svc, &id)?;
                println!("HostName={host};DeviceId={id};SharedAccessKey={key}");
            }
        },
        Cmd::Twin(t) => match t {
            TwinCmd::Show { id } => print_json(&svc.get_twin(&id)?),
            TwinCmd::UpdateDesired { id, patch } => {
                print_json(&svc.update_desired(&id, parse_json(&patch, "the patch")?)?)
            }
            TwinCmd::UpdateTags { id, patch } => print_json(&svc.patch_twin(
                &id,
                &TwinPatch {
                    tags: Some(parse_json(&patch, "the patch")?),
                    properties: None,
                },
            )?),
        },
        Cmd::Method(MethodCmd::Invoke {
            id,
            name,
            payload,
            timeout,
        }) => {
            let r = svc.invoke_method(
                &id,
                &name,
                parse_json(&payload, "--payload")?,
                Duration::from_secs_f64(timeout.max(0.001)),
            )?;
            print_json(&r);
        }
        Cmd::C2d(C2dCmd::Send {
            id,
            payload,
            properties,
            message_id,
            correlation_id,
            content_type,
            content_encoding,
        }) => {
            let mut props = std::collections::BTreeMap::new();
            for p in properties {
                let (k, v) = p.split_once('=').unwrap_or((p.as_str(), ""));
                props.insert(k.to_string(), v.to_string());
            }
            let msg = C2dMessage {
                payload,
                payload_base64: None,
                properties: props,
                message_id,
                correlation_id,
                content_type,
                content_encoding,
            };
            print_json(&svc.send_c2d(&id, &msg)?);
        }
        Cmd::Monitor(m) => {
            let mut ev = if m.from_start {
                svc.events_from(0)
            } else {
                svc.events()?
            };
            if let Some(d) = &m.device {
                ev = ev.device(d);
            }
            if let Some(t) = m.timeout {
                ev = ev.until(Instant::now() + Duration::from_secs_f64(t.max(0.0)));
            }
            for (i, e) in ev.enumerate() {
                let e = e?;
                let mut v = serde_json::to_value(&e).map_err(|e| Error::Json(e.to_string()))?;
                if let Some(o) = v.as_object_mut() {
                    o.remove("topic");
                    o.remove("seq");
                }
                println!("{}", serde_json::to_string(&v).unwrap_or_default());
                if m.count.is_some_and(|c| i + 1 >= c) {
                    break;
                }
            }
        }
        Cmd::Ca(c) => match c {
            CaCmd::Register {
                name,
                cert,
                verified,
            } => print_json(&svc.register_ca(&name, &read(&cert)?, verified)?),
            CaCmd::List => print_json(&svc.list_cas()?),
            CaCmd::Show { name } => print_json(&svc.get_ca(&name)?),
            CaCmd::Delete { name } => {
                svc.delete_ca(&name)?;
                eprintln!("CA {name} deleted");
            }
            CaCmd::VerificationCode { name } => println!("{}", svc.ca_verification_code(&name)?),
            CaCmd::Verify { name, cert } => print_json(&svc.verify_ca(&name, &read(&cert)?)?),
        },
        Cmd::Dps(DpsCmd::Group(g)) => match g {
            GroupCmd::Create {
                id,
                ca,
                symmetric_key,
                primary_key,
                disabled,
                initial_twin,
            } => {
                let attestation = match (ca, symmetric_key) {
                    (Some(ca_name), false) => Attestation::X509Ca { ca_name },
                    (None, true) => Attestation::SymmetricKey {
                        primary_key: primary_key.unwrap_or_default(),
                        secondary_key: String::new(),
                    },
                    _ => {
                        return Err(Error::Config(
                            "give one of --ca NAME or --symmetric-key".into(),
                        ))
                    }
                };
                let g = EnrollmentGroup {
                    enrollment_group_id: id.clone(),
                    attestation,
                    provisioning_status: enrollment_status(disabled),
                    initial_twin: parse_initial_twin(initial_twin)?,
                    etag: String::new(),
                };
                print_json(&svc.put_enrollment_group(&id, &g)?);
            }
            GroupCmd::List => print_json(&svc.list_enrollment_groups()?),
            GroupCmd::Show { id } => print_json(&svc.get_enrollment_group(&id)?),
            GroupCmd::Delete { id } => {
                svc.delete_enrollment_group(&id)?;
                eprintln!("enrollment group {id} deleted");
            }
        },
        Cmd::Dps(DpsCmd::Enrollment(e)) => match e {
            EnrollmentCmd::Create {
                registration_id,
                ca,
                thumbprint,
                secondary_thumbprint,
                cert,
                symmetric_key,
                primary_key,
                device_id,
                disabled,
                initial_twin,
            } => {
                let thumbprint = match cert {
                    Some(c) => Some(thumbprint_of(&c)?),
                    None => thumbprint,
                };
                let attestation = match (ca, thumbprint, symmetric_key) {
                    (Some(ca_name), None, false) => Attestation::X509Ca { ca_name },
                    (None, Some(t), false) => Attestation::X509Thumbprint {
                        primary_thumbprint: t,
                        secondary_thumbprint,
                    },
                    (None, None, true) => Attestation::SymmetricKey {
                        primary_key: primary_key.unwrap_or_default(),
                        secondary_key: String::new(),
                    },
                    _ => {
                        return Err(Error::Config(
                            "give one of --ca NAME, --thumbprint T or --symmetric-key".into(),
                        ))
                    }
                };
                let e = IndividualEnrollment {
                    registration_id: registration_id.clone(),
                    device_id,
                    attestation,
                    provisioning_status: enrollment_status(disabled),
                    initial_twin: parse_initial_twin(initial_twin)?,
                    etag: String::new(),
                };
                print_json(&svc.put_enrollment(&registration_id, &e)?);
            }
            EnrollmentCmd::List => print_json(&svc.list_enrollments()?),
            EnrollmentCmd::Show { id } => print_json(&svc.get_enrollment(&id)?),
            EnrollmentCmd::Delete { id } => {
                svc.delete_enrollment(&id)?;
                eprintln!("enrollment {id} deleted");
            }
        },
        Cmd::Fault(f) => match f {
            FaultCmd::Drop { device } => {
                let n = svc.drop_connections(device.as_deref())?;
                println!("dropped {n} connection(s)");
            }
            FaultCmd::Delay { ms, common } => {
                let mut f = fault(FaultKind::Delay, common);
                f.delay_ms = Some(ms);
                print_json(&svc.add_fault(&f)?);
            }
            FaultCmd::Refuse { code, common } => {
                let mut f = fault(FaultKind::Refuse, common);
                f.connack_code = code;
                print_json(&svc.add_fault(&f)?);
            }
            FaultCmd::Throttle { common } => {
                print_json(&svc.add_fault(&fault(FaultKind::Throttle, common))?)
            }
            FaultCmd::DpsFail { error_code, common } => {
                let mut f = fault(FaultKind::DpsFail, common);
                f.error_code = error_code;
                print_json(&svc.add_fault(&f)?);
            }
            FaultCmd::List => print_json(&svc.list_faults()?),
            FaultCmd::Clear { id } => {
                match id {
                    Some(id) => svc.clear_fault(id)?,
                    None => svc.clear_faults()?,
                }
                eprintln!("faults cleared");
            }
        },
        Cmd::Fota(FotaCmd::Start {
            device,
            file,
            version,
            job_id,
            fragment_size,
            path,
        }) => {
            let data = std::fs::read(&file)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?;
            let path = path.unwrap_or_else(|| {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "firmware.bin".into());
                format!("fota/{name}")
            });
            let job = svc.fota_start(
                &device,
                &path,
                &data,
                &version,
                job_id.as_deref(),
                fragment_size,
            )?;
            print_json(
                &serde_json::json!({"jobId": job, "path": path, "size": data.len(), "fwVersion": version}),
            );
        }
        Cmd::File(FileCmd::Put { path, file }) => {
            let data = std::fs::read(&file)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?;
            svc.put_file(&path, &data)?;
            println!("{}/files/{path}", svc.url());
        }
    }
    Ok(())
}

fn thumbprint_of(path: &PathBuf) -> Result<String, Error> {
    hub_emulator::pki::pem_thumbprint(&read(path)?)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

fn sas_key(svc: &ServiceClient, id: &str) -> Result<(String, String), Error> {
    let d = svc.get_device(id)?;
    let Authentication::Sas { primary_key, .. } = d.authentication else {
        return Err(Error::Config(format!("device {id} does not use SAS")));
    };
    Ok((primary_key, svc.info()?.hub_hostname))
}
