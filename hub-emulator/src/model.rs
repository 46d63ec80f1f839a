//! The JSON types of the service API, shared by the server, the typed client and the CLI.
//!
//! Field names follow the Azure REST API where it has an equivalent (camelCase,
//! `deviceId`, `etag`, `properties.desired`, `verificationCode`, `registrationId`, ...).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How a device authenticates to the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Authentication {
    /// X.509 CA-signed: the device certificate chains to a registered, verified CA and its CN
    /// is the device ID.
    #[serde(rename = "certificateAuthority")]
    CertificateAuthority,
    /// X.509 self-signed (or any certificate) recognised by its SHA-1 or SHA-256 thumbprint
    /// (hex, case and colons ignored).
    #[serde(rename = "selfSigned", rename_all = "camelCase")]
    SelfSigned {
        primary_thumbprint: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secondary_thumbprint: Option<String>,
    },
    /// SAS tokens signed with one of two symmetric keys (base64). Empty keys are generated.
    #[serde(rename = "sas", rename_all = "camelCase")]
    Sas {
        #[serde(default)]
        primary_key: String,
        #[serde(default)]
        secondary_key: String,
    },
}

impl Authentication {
    /// A SAS authentication whose keys the emulator generates.
    pub fn sas_generated() -> Authentication {
        Authentication::Sas {
            primary_key: String::new(),
            secondary_key: String::new(),
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Authentication::CertificateAuthority => "certificateAuthority",
            Authentication::SelfSigned { .. } => "selfSigned",
            Authentication::Sas { .. } => "sas",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    #[default]
    Enabled,
    Disabled,
}

/// What the service sends to create or update a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSpec {
    pub authentication: Authentication,
    #[serde(default)]
    pub status: Status,
}

/// A device identity as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub device_id: String,
    pub authentication: Authentication,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub etag: String,
    /// `Connected` or `Disconnected` (filled in by the server on reads).
    #[serde(default)]
    pub connection_state: String,
    #[serde(default)]
    pub last_activity_time: String,
    #[serde(default)]
    pub created_time: String,
}

/// A device twin as the service sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Twin {
    pub device_id: String,
    #[serde(default)]
    pub etag: String,
    /// Sum of the desired and reported versions (it grows with every change).
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub tags: Map<String, Value>,
    pub properties: TwinProperties,
    #[serde(default)]
    pub connection_state: String,
}

/// `desired` and `reported`, each with its `$version` member, as on the device side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwinProperties {
    pub desired: Value,
    pub reported: Value,
}

impl Twin {
    pub fn desired_version(&self) -> u64 {
        self.properties.desired["$version"].as_u64().unwrap_or(0)
    }
    pub fn reported_version(&self) -> u64 {
        self.properties.reported["$version"].as_u64().unwrap_or(0)
    }
}

/// A twin update from the service: a JSON merge patch of desired properties and tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TwinPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<TwinPatchProperties>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TwinPatchProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Value>,
}

impl TwinPatch {
    pub fn desired(patch: Value) -> TwinPatch {
        TwinPatch {
            tags: None,
            properties: Some(TwinPatchProperties {
                desired: Some(patch),
            }),
        }
    }
}

/// A direct-method call (body of `POST /devices/{id}/methods`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodRequest {
    pub method_name: String,
    #[serde(default)]
    pub payload: Value,
    #[serde(default = "default_method_timeout")]
    pub response_timeout_in_seconds: f64,
}

fn default_method_timeout() -> f64 {
    30.0
}

/// The device's answer to a direct method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodResponse {
    pub status: i64,
    /// The device's payload: JSON if it parsed as JSON, else a string; `null` if empty.
    pub payload: Value,
}

/// A cloud-to-device message (body of `POST /devices/{id}/messages`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct C2dMessage {
    /// UTF-8 body. Ignored when `payloadBase64` is set.
    #[serde(default)]
    pub payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
    /// Application properties (sent URL-encoded in the topic's property bag).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
}

/// Answer to a C2D send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct C2dSent {
    pub message_id: String,
    /// `delivered` (handed to the connection) or `queued` (device offline or not subscribed).
    pub state: String,
}

/// One device-to-cloud message as the service monitor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryEvent {
    /// Position in the emulator's event log (for `GET /events?since=`).
    pub seq: u64,
    pub device_id: String,
    /// The body: UTF-8 text, or base64 when `payloadEncoding` is `base64`.
    pub payload: String,
    pub payload_encoding: String,
    /// Application properties, URL-decoded.
    pub properties: BTreeMap<String, String>,
    /// System properties: `message-id`, `correlation-id`, `content-type`, `content-encoding`,
    /// `user-id`, `iothub-creation-time-utc`, `iothub-connection-device-id`,
    /// `iothub-connection-auth-method`, `iothub-enqueuedtime`, `iothub-message-source`, ...
    pub system_properties: BTreeMap<String, String>,
    pub enqueued_time: String,
    /// The MQTT topic the device published to.
    pub topic: String,
}

impl TelemetryEvent {
    /// The body as bytes (decoding base64 when needed).
    pub fn payload_bytes(&self) -> Vec<u8> {
        if self.payload_encoding == "base64" {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(&self.payload)
                .unwrap_or_default()
        } else {
            self.payload.as_bytes().to_vec()
        }
    }
}

/// A page of the event log (`GET /events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<TelemetryEvent>,
    /// The `since` to ask for next.
    pub next: u64,
}

/// A CA certificate registered with the hub (and usable by DPS enrollment groups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaCertificate {
    pub name: String,
    /// PEM of the CA certificate.
    pub certificate: String,
    pub subject: String,
    /// SHA-1 thumbprint, upper-case hex (as the portal shows it).
    pub thumbprint: String,
    pub is_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub created: String,
}

/// Body of `PUT /certificates/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaUpload {
    pub certificate: String,
    /// Mark verified at once (Azure's "set certificate status to verified on upload").
    #[serde(default)]
    pub is_verified: bool,
}

/// Body of `POST /certificates/{name}/verify`: a proof-of-possession certificate, signed by the
/// CA, whose CN is the verification code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaProof {
    pub certificate: String,
}

/// How a DPS enrollment attests a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Attestation {
    /// The device certificate chains to the registered, verified CA `caName`; its CN is the
    /// registration ID.
    #[serde(rename = "x509CA", rename_all = "camelCase")]
    X509Ca { ca_name: String },
    /// The device certificate's SHA-1 or SHA-256 thumbprint (individual enrollments).
    #[serde(rename = "x509Thumbprint", rename_all = "camelCase")]
    X509Thumbprint {
        primary_thumbprint: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secondary_thumbprint: Option<String>,
    },
    /// SAS with `skn=registration`. For a group the device key is
    /// `base64(HMAC-SHA256(base64dec(groupKey), registrationId))`. Empty keys are generated.
    #[serde(rename = "symmetricKey", rename_all = "camelCase")]
    SymmetricKey {
        #[serde(default)]
        primary_key: String,
        #[serde(default)]
        secondary_key: String,
    },
}

impl Attestation {
    pub fn kind(&self) -> &'static str {
        match self {
            Attestation::X509Ca { .. } => "x509CA",
            Attestation::X509Thumbprint { .. } => "x509Thumbprint",
            Attestation::SymmetricKey { .. } => "symmetricKey",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentGroup {
    #[serde(default)]
    pub enrollment_group_id: String,
    pub attestation: Attestation,
    #[serde(default)]
    pub provisioning_status: Status,
    /// Desired properties given to devices this group creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_twin: Option<Value>,
    #[serde(default)]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndividualEnrollment {
    #[serde(default)]
    pub registration_id: String,
    /// The device ID to assign (default: the registration ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    pub attestation: Attestation,
    #[serde(default)]
    pub provisioning_status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_twin: Option<Value>,
    #[serde(default)]
    pub etag: String,
}

/// Fault kinds (see `POST /faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// Close every matching device connection now (one-shot, not kept).
    Drop,
    /// Delay every response to a device (CONNACK, SUBACK, PUBACK, PINGRESP, twin, DPS).
    Delay,
    /// Refuse new connections: CONNACK `connackCode` (default 3, server unavailable), or close
    /// the TCP connection before TLS when `connackCode` is 0.
    Refuse,
    /// Answer twin GET/PATCH and DPS requests with 429.
    Throttle,
    /// Make DPS registrations end with status `failed`.
    DpsFail,
}

/// A fault to inject (body of `POST /faults`), and an active fault (in `GET /faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub kind: FaultKind,
    /// Only this device (or DPS registration ID); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// For `delay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// For `refuse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connack_code: Option<u8>,
    /// For `dpsFail`: the `registrationState.errorCode` (default 500000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u64>,
    /// How long the fault lasts; until `DELETE /faults` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    /// Set by the server: the fault's ID (for `DELETE /faults/{id}`).
    #[serde(default)]
    pub id: u64,
    /// Set by the server: seconds left, when the fault has a duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_secs: Option<f64>,
}

impl Fault {
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            device_id: None,
            delay_ms: None,
            connack_code: None,
            error_code: None,
            duration_secs: None,
            id: 0,
            remaining_secs: None,
        }
    }
    pub fn for_device(mut self, id: &str) -> Fault {
        self.device_id = Some(id.to_string());
        self
    }
    pub fn lasting(mut self, secs: f64) -> Fault {
        self.duration_secs = Some(secs);
        self
    }
    pub fn delay(ms: u64) -> Fault {
        let mut f = Fault::new(FaultKind::Delay);
        f.delay_ms = Some(ms);
        f
    }
}

/// Answer to `POST /faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultAdded {
    pub id: u64,
    /// For `drop`: how many connections were closed.
    #[serde(default)]
    pub dropped: usize,
}

/// A connected device or DPS client (`GET /connections`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub id: u64,
    /// `hub` or `dps`.
    pub kind: String,
    pub device_id: String,
    pub auth: String,
    pub peer: String,
    pub keep_alive: u16,
    pub subscriptions: Vec<String>,
    pub connected_at: String,
    /// The IoT Plug and Play model ID of the user name's `model-id` (URL-decoded), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

/// The service API's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: u64,
    pub message: String,
}

/// `GET /` : what is running where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub hub_hostname: String,
    pub dps_id_scope: String,
    pub mqtt_addr: String,
    /// The HTTPS firmware file server (FOTA downloads).
    #[serde(default)]
    pub files_https_addr: String,
    pub ca_pem_path: String,
    pub state_dir: String,
    pub version: String,
}
