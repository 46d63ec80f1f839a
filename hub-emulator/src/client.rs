//! A blocking, typed client of the service API (ureq). The CLI uses it, and so can tests.

use crate::model::*;
use crate::util::url_encode;
use crate::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A client of a running emulator's service API.
#[derive(Clone)]
pub struct ServiceClient {
    base: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("base", &self.base)
            .finish()
    }
}

fn seg(s: &str) -> String {
    url_encode(s)
}

impl ServiceClient {
    /// `url` is the service API's base, e.g. `http://127.0.0.1:8080`.
    pub fn new(url: &str) -> ServiceClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(330)))
            .build()
            .into();
        ServiceClient {
            base: url.trim_end_matches('/').to_string(),
            agent,
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn finish<T: DeserializeOwned>(
        &self,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, Error> {
        let mut resp = r.map_err(|e| Error::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| Error::Transport(e.to_string()))?;
        if !(200..300).contains(&status) {
            let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(b) => (b.error_code, b.message),
                Err(_) => (0, text),
            };
            return Err(Error::Http {
                status,
                code,
                message,
            });
        }
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|e| Error::Json(format!("{e}: {text}")))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.finish(self.agent.get(format!("{}{path}", self.base)).call())
    }
    fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, Error> {
        self.finish(
            self.agent
                .put(format!("{}{path}", self.base))
                .send_json(body),
        )
    }
    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, Error> {
        self.finish(
            self.agent
                .post(format!("{}{path}", self.base))
                .send_json(body),
        )
    }
    fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, Error> {
        self.finish(
            self.agent
                .patch(format!("{}{path}", self.base))
                .send_json(body),
        )
    }
    fn delete(&self, path: &str) -> Result<(), Error> {
        self.finish::<Value>(self.agent.delete(format!("{}{path}", self.base)).call())
            .map(|_| ())
    }

    /// What is running where.
    pub fn info(&self) -> Result<Info, Error> {
        self.get("/")
    }

    // ------------------------------------------------------------ devices

    pub fn list_devices(&self) -> Result<Vec<Device>, Error> {
        self.get("/devices")
    }
    pub fn get_device(&self, id: &str) -> Result<Device, Error> {
        self.get(&format!("/devices/{}", seg(id)))
    }
    /// Creates or updates a device. SAS keys left empty are generated.
    pub fn put_device(&self, id: &str, spec: &DeviceSpec) -> Result<Device, Error> {
        self.put(&format!("/devices/{}", seg(id)), spec)
    }
    /// Creates (or updates) an enabled device with this authentication.
    pub fn create_device(&self, id: &str, auth: Authentication) -> Result<Device, Error> {
        self.put_device(
            id,
            &DeviceSpec {
                authentication: auth,
                status: Status::Enabled,
            },
        )
    }
    /// Creates an enabled X.509 CA-authenticated device.
    pub fn create_x509_ca_device(&self, id: &str) -> Result<Device, Error> {
        self.create_device(id, Authentication::CertificateAuthority)
    }
    /// Creates an enabled SAS device with generated keys.
    pub fn create_sas_device(&self, id: &str) -> Result<Device, Error> {
        self.create_device(id, Authentication::sas_generated())
    }
    /// Enables or disables a device (its connection is closed when disabled).
    pub fn set_device_status(&self, id: &str, status: Status) -> Result<Device, Error> {
        let d = self.get_device(id)?;
        self.put_device(
            id,
            &DeviceSpec {
                authentication: d.authentication,
                status,
            },
        )
    }
    pub fn delete_device(&self, id: &str) -> Result<(), Error> {
        self.delete(&format!("/devices/{}", seg(id)))
    }
    /// Whether the device has a live hub connection.
    pub fn is_connected(&self, id: &str) -> Result<bool, Error> {
        Ok(self.get_device(id)?.connection_state == "Connected")
    }
    pub fn connections(&self) -> Result<Vec<ConnectionInfo>, Error> {
        self.get("/connections")
    }
    /// Polls until the device is connected (`true`) or disconnected (`false`).
    pub fn wait_connected(
        &self,
        id: &str,
        connected: bool,
        timeout: Duration,
    ) -> Result<(), Error> {
        let end = Instant::now() + timeout;
        loop {
            if self.is_connected(id)? == connected {
                return Ok(());
            }
            if Instant::now() >= end {
                return Err(Error::Timeout(format!(
                    "device {id} did not become {}",
                    if connected {
                        "connected"
                    } else {
                        "disconnected"
                    }
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // ------------------------------------------------------------ twins

    pub fn get_twin(&self, id: &str) -> Result<Twin, Error> {
        self.get(&format!("/devices/{}/twin", seg(id)))
    }
    pub fn patch_twin(&self, id: &str, patch: &TwinPatch) -> Result<Twin, Error> {
        self.patch(&format!("/devices/{}/twin", seg(id)), patch)
    }
    /// Merge-patches the desired properties (`null` deletes) and pushes the patch to the
    /// device if it is connected and subscribed.
    pub fn update_desired(&self, id: &str, patch: Value) -> Result<Twin, Error> {
        self.patch_twin(id, &TwinPatch::desired(patch))
    }

    // ------------------------------------------------------------ methods and C2D

    /// Invokes a direct method. A device that is not connected gives `Error::Http` 404, one
    /// that does not answer in time 504.
    pub fn invoke_method(
        &self,
        id: &str,
        method: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<MethodResponse, Error> {
        self.post(
            &format!("/devices/{}/methods", seg(id)),
            &MethodRequest {
                method_name: method.to_string(),
                payload,
                response_timeout_in_seconds: timeout.as_secs_f64(),
            },
        )
    }
    pub fn send_c2d(&self, id: &str, msg: &C2dMessage) -> Result<C2dSent, Error> {
        self.post(&format!("/devices/{}/messages", seg(id)), msg)
    }
    /// Sends a UTF-8 C2D message with application properties.
    pub fn send_c2d_text(
        &self,
        id: &str,
        payload: &str,
        properties: &[(&str, &str)],
    ) -> Result<C2dSent, Error> {
        self.send_c2d(
            id,
            &C2dMessage {
                payload: payload.to_string(),
                properties: properties
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            },
        )
    }

    // ------------------------------------------------------------ telemetry

    /// One page of telemetry events after `since` (`None`: only new ones), waiting up to
    /// `wait` for the first.
    pub fn events_page(
        &self,
        since: Option<u64>,
        device: Option<&str>,
        wait: Duration,
    ) -> Result<EventPage, Error> {
        let mut q = format!("/events?timeoutMs={}", wait.as_millis());
        if let Some(s) = since {
            q.push_str(&format!("&since={s}"));
        }
        if let Some(d) = device {
            q.push_str(&format!("&deviceId={}", seg(d)));
        }
        self.get(&q)
    }

    /// A blocking iterator over telemetry events from now on.
    pub fn events(&self) -> Result<Events, Error> {
        let start = self.events_page(None, None, Duration::ZERO)?.next;
        Ok(self.events_from(start))
    }

    /// A blocking iterator over telemetry events with `seq > since` (0: everything the
    /// emulator still holds).
    pub fn events_from(&self, since: u64) -> Events {
        Events {
            client: self.clone(),
            since,
            device: None,
            buffered: VecDeque::new(),
            deadline: None,
        }
    }

    /// Waits for a telemetry event matching `pred`, looking at every event the emulator still
    /// holds (so an event sent just before the call is found too).
    pub fn wait_for_event<F: FnMut(&TelemetryEvent) -> bool>(
        &self,
        mut pred: F,
        timeout: Duration,
    ) -> Result<TelemetryEvent, Error> {
        let mut ev = self.events_from(0).until(Instant::now() + timeout);
        for e in &mut ev {
            let e = e?;
            if pred(&e) {
                return Ok(e);
            }
        }
        Err(Error::Timeout("no matching telemetry event".into()))
    }

    // ------------------------------------------------------------ CAs

    pub fn list_cas(&self) -> Result<Vec<CaCertificate>, Error> {
        self.get("/certificates")
    }
    pub fn get_ca(&self, name: &str) -> Result<CaCertificate, Error> {
        self.get(&format!("/certificates/{}", seg(name)))
    }
    /// Registers (uploads) a CA certificate, unverified unless `verified`.
    pub fn register_ca(
        &self,
        name: &str,
        pem: &str,
        verified: bool,
    ) -> Result<CaCertificate, Error> {
        self.put(
            &format!("/certificates/{}", seg(name)),
            &CaUpload {
                certificate: pem.to_string(),
                is_verified: verified,
            },
        )
    }
    /// Registers a CA certificate as verified in one call (test helper).
    pub fn register_verified_ca(&self, name: &str, pem: &str) -> Result<CaCertificate, Error> {
        self.register_ca(name, pem, true)
    }
    /// Generates the CA's verification code (`verificationCode` in the answer).
    pub fn ca_verification_code(&self, name: &str) -> Result<String, Error> {
        let ca: CaCertificate = self.post(
            &format!("/certificates/{}/verification-code", seg(name)),
            &Value::Null,
        )?;
        ca.verification_code
            .ok_or_else(|| Error::Json("no verificationCode in the answer".into()))
    }
    /// Verifies the CA with a proof-of-possession certificate (signed by the CA, CN = code).
    pub fn verify_ca(&self, name: &str, proof_pem: &str) -> Result<CaCertificate, Error> {
        self.post(
            &format!("/certificates/{}/verify", seg(name)),
            &CaProof {
                certificate: proof_pem.to_string(),
            },
        )
    }
    pub fn delete_ca(&self, name: &str) -> Result<(), Error> {
        self.delete(&format!("/certificates/{}", seg(name)))
    }

    // ------------------------------------------------------------ DPS

    pub fn list_enrollment_groups(&self) -> Result<Vec<EnrollmentGroup>, Error> {
        self.get("/enrollment-groups")
    }
    pub fn get_enrollment_group(&self, id: &str) -> Result<EnrollmentGroup, Error> {
        self.get(&format!("/enrollment-groups/{}", seg(id)))
    }
    pub fn put_enrollment_group(
        &self,
        id: &str,
        g: &EnrollmentGroup,
    ) -> Result<EnrollmentGroup, Error> {
        self.put(&format!("/enrollment-groups/{}", seg(id)), g)
    }
    /// Creates an enabled enrollment group attested by the registered CA `ca_name`.
    pub fn create_ca_enrollment_group(
        &self,
        id: &str,
        ca_name: &str,
    ) -> Result<EnrollmentGroup, Error> {
        self.put_enrollment_group(
            id,
            &EnrollmentGroup {
                enrollment_group_id: id.to_string(),
                attestation: Attestation::X509Ca {
                    ca_name: ca_name.to_string(),
                },
                provisioning_status: Status::Enabled,
                initial_twin: None,
                etag: String::new(),
            },
        )
    }
    pub fn delete_enrollment_group(&self, id: &str) -> Result<(), Error> {
        self.delete(&format!("/enrollment-groups/{}", seg(id)))
    }
    pub fn list_enrollments(&self) -> Result<Vec<IndividualEnrollment>, Error> {
        self.get("/enrollments")
    }
    pub fn get_enrollment(&self, id: &str) -> Result<IndividualEnrollment, Error> {
        self.get(&format!("/enrollments/{}", seg(id)))
    }
    pub fn put_enrollment(
        &self,
        id: &str,
        e: &IndividualEnrollment,
    ) -> Result<IndividualEnrollment, Error> {
        self.put(&format!("/enrollments/{}", seg(id)), e)
    }
    /// Creates an enabled individual enrollment.
    pub fn create_enrollment(
        &self,
        registration_id: &str,
        attestation: Attestation,
    ) -> Result<IndividualEnrollment, Error> {
        self.put_enrollment(
            registration_id,
            &IndividualEnrollment {
                registration_id: registration_id.to_string(),
                device_id: None,
                attestation,
                provisioning_status: Status::Enabled,
                initial_twin: None,
                etag: String::new(),
            },
        )
    }
    pub fn delete_enrollment(&self, id: &str) -> Result<(), Error> {
        self.delete(&format!("/enrollments/{}", seg(id)))
    }

    // ------------------------------------------------------------ faults

    pub fn add_fault(&self, f: &Fault) -> Result<FaultAdded, Error> {
        self.post("/faults", f)
    }
    pub fn list_faults(&self) -> Result<Vec<Fault>, Error> {
        self.get("/faults")
    }
    /// Clears every fault.
    pub fn clear_faults(&self) -> Result<(), Error> {
        self.delete("/faults")
    }
    pub fn clear_fault(&self, id: u64) -> Result<(), Error> {
        self.delete(&format!("/faults/{id}"))
    }
    /// Closes every device connection now (or one device's). Returns how many were closed.
    pub fn drop_connections(&self, device: Option<&str>) -> Result<usize, Error> {
        let mut f = Fault::new(FaultKind::Drop);
        f.device_id = device.map(str::to_string);
        Ok(self.add_fault(&f)?.dropped)
    }

    // ------------------------------------------------------------ files

    /// Stores a file for the firmware file server (`GET {url}/files/{path}`).
    pub fn put_file(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        let p: String = path.split('/').map(seg).collect::<Vec<_>>().join("/");
        self.finish::<Value>(
            self.agent
                .put(format!("{}/files/{p}", self.base))
                .send(data),
        )
        .map(|_| ())
    }

    // ------------------------------------------------------------ FOTA

    /// Starts an Azure FOTA job: uploads `data` as file `path`, then sets the device's desired
    /// `firmware` object (`fwVersion`, `jobId` — a new UUID when `None` —, `fwLocation`
    /// `{host: "localhost:<HTTPS files port>", path, protocol: "https"}`, `fwFragmentSize`).
    /// Returns the job ID.
    pub fn fota_start(
        &self,
        device: &str,
        path: &str,
        data: &[u8],
        version: &str,
        job_id: Option<&str>,
        fragment_size: u32,
    ) -> Result<String, Error> {
        let info = self.info()?;
        let port = info
            .files_https_addr
            .rsplit_once(':')
            .map(|(_, p)| p.to_string())
            .ok_or_else(|| Error::Config("the emulator has no HTTPS file server".into()))?;
        self.put_file(path, data)?;
        let job = job_id.map_or_else(new_uuid, str::to_string);
        self.update_desired(
            device,
            serde_json::json!({"firmware": {
                "fwVersion": version,
                "jobId": job,
                "fwLocation": {"host": format!("localhost:{port}"), "path": path, "protocol": "https"},
                "fwFragmentSize": fragment_size,
            }}),
        )?;
        Ok(job)
    }
}

/// A random (version 4) UUID, as Azure FOTA job IDs are.
pub fn new_uuid() -> String {
    let mut b = crate::util::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::util::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Blocking iterator over telemetry events (long-polls `GET /events`).
pub struct Events {
    client: ServiceClient,
    since: u64,
    device: Option<String>,
    buffered: VecDeque<TelemetryEvent>,
    deadline: Option<Instant>,
}

impl Events {
    /// Only events of this device.
    pub fn device(mut self, id: &str) -> Events {
        self.device = Some(id.to_string());
        self
    }
    /// End the iteration at `deadline`.
    pub fn until(mut self, deadline: Instant) -> Events {
        self.deadline = Some(deadline);
        self
    }
    /// The next event, waiting at most `timeout`.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<TelemetryEvent>, Error> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(e) = self.buffered.pop_front() {
                return Ok(Some(e));
            }
            let now = Instant::now();
            if now >= end {
                return Ok(None);
            }
            let wait = (end - now).min(Duration::from_secs(20));
            let page = self
                .client
                .events_page(Some(self.since), self.device.as_deref(), wait)?;
            self.since = page.next;
            self.buffered.extend(page.events);
        }
    }
}

impl Iterator for Events {
    type Item = Result<TelemetryEvent, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        let timeout = match self.deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(u32::MAX as u64),
        };
        self.next_timeout(timeout).transpose()
    }
}
