//! Azure FOTA: firmware updates through the device twin, sans-IO.
//!
//! [`Fota::process`] reads a twin document or desired patch and says what to do: publish a
//! report, start a download, or nothing. The download itself is done by a port (see
//! [`http`]); its outcome comes back through [`Fota::download_started`],
//! [`Fota::download_failed`] and [`Fota::download_done`]. [`Fota::write_report`] writes the
//! reported-properties JSON for the current status. [`job`] holds what both ports' download
//! threads share (target parsing, feeding the sink, the resume policy, the report buffer).
//!
//! Fixed against the original (nrf-api.md section 8, items 29-31): types are checked (a wrong
//! type is an error, not a crash), the job-ID comparison is exact (not a prefix), the version
//! comparison is exact, and the buffer's length is honoured (no NUL terminator needed).

pub mod firmware;
pub mod http;
pub mod job;
pub mod twin;

pub use firmware::FirmwareSink;

use heapless::String;

use crate::sink::{Overflow, Sink};
use twin::{DesiredFirmware, Member, Version};

/// Longest version string kept (`CONFIG_AZURE_FOTA_VERSION_MAX_LEN` minus the NUL).
pub const MAX_VERSION_LEN: usize = crate::config::AZURE_FOTA_VERSION_MAX_LEN - 1;
/// Longest job ID kept (`CONFIG_AZURE_FOTA_JOB_ID_MAX_LEN` minus the NUL).
pub const MAX_JOB_ID_LEN: usize = crate::config::AZURE_FOTA_JOB_ID_MAX_LEN - 1;

/// `fwUpdateStatus` values, in the original's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FwStatus {
    /// `current`
    Current,
    /// `downloading`
    Downloading,
    /// `applying`
    Applying,
    /// `rebooting` (never set, as in the original)
    Rebooting,
    /// `error`
    Error,
    /// `rolledback`
    Rolledback,
}

impl FwStatus {
    /// The string written to the twin.
    pub fn as_str(self) -> &'static str {
        match self {
            FwStatus::Current => "current",
            FwStatus::Downloading => "downloading",
            FwStatus::Applying => "applying",
            FwStatus::Rebooting => "rebooting",
            FwStatus::Error => "error",
            FwStatus::Rolledback => "rolledback",
        }
    }
}

/// A download to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadJob<'a> {
    /// `fwLocation.host` (may carry `:port`).
    pub host: &'a str,
    /// `fwLocation.path`.
    pub path: &'a str,
    /// `fwFragmentSize`: bytes per range request.
    pub fragment_size: u32,
}

/// Why a firmware object was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmwareError {
    /// A member has the wrong type.
    WrongType,
    /// `fwFragmentSize` is 0 or larger than allowed.
    BadFragmentSize,
    /// The version, job ID, host or path is empty where required, or too long.
    BadField,
}

/// What [`Fota::process`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// Publish [`Fota::write_report`] now (the reported status needed an update).
    pub report: bool,
    /// What to do next.
    pub action: Action<'a>,
}

/// The next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Nothing (no firmware object, same version, same job, or a download is running).
    None,
    /// Start this download, then call [`Fota::download_started`] or [`Fota::download_failed`].
    Download(DownloadJob<'a>),
    /// The firmware object is invalid: the status is now `error`; report it and raise the
    /// error event.
    Invalid(FirmwareError),
}

/// FOTA settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FotaOptions {
    /// Largest `fwFragmentSize` accepted (the download buffer).
    pub max_fragment_size: u32,
}

impl Default for FotaOptions {
    fn default() -> Self {
        FotaOptions {
            max_fragment_size: 16 * 1024,
        }
    }
}

/// Azure FOTA state.
#[derive(Debug, Clone)]
pub struct Fota {
    opts: FotaOptions,
    running: String<MAX_VERSION_LEN>,
    status: FwStatus,
    downloading: bool,
    last_job_id: String<MAX_JOB_ID_LEN>,
    job_id: String<MAX_JOB_ID_LEN>,
    pending_version: String<MAX_VERSION_LEN>,
}

fn set<const N: usize>(dst: &mut String<N>, src: &str) -> Result<(), FirmwareError> {
    dst.clear();
    dst.push_str(src).map_err(|_| FirmwareError::BadField)
}

fn version_text(v: Version<'_>, out: &mut String<MAX_VERSION_LEN>) -> Result<(), FirmwareError> {
    match v {
        Version::Text(t) if !t.is_empty() => set(out, t),
        Version::Text(_) => Err(FirmwareError::BadField),
        Version::Number(n) => {
            out.clear();
            let mut digits = [0u8; 21];
            let mut c = crate::sink::Cursor::new(&mut digits);
            if n < 0 {
                let _ = c.put_u8(b'-');
            }
            // A sign and 20 digits always fit.
            let _ = c.put_decimal_u64(n.unsigned_abs());
            for &b in c.written() {
                let _ = out.push(b as char);
            }
            Ok(())
        }
    }
}

impl Fota {
    /// FOTA for firmware that runs `running_version` (`CONFIG_AZURE_FOTA_APP_VERSION`).
    pub fn new(running_version: &str, opts: FotaOptions) -> Self {
        let mut running = String::new();
        // Longer versions are cut at the buffer, as the original's buffer does.
        for c in running_version.chars() {
            if running.push(c).is_err() {
                break;
            }
        }
        Fota {
            opts,
            running,
            status: FwStatus::Current,
            downloading: false,
            last_job_id: String::new(),
            job_id: String::new(),
            pending_version: String::new(),
        }
    }

    /// The current `fwUpdateStatus`.
    pub fn status(&self) -> FwStatus {
        self.status
    }

    /// True while a download runs.
    pub fn is_downloading(&self) -> bool {
        self.downloading
    }

    /// The running version.
    pub fn running_version(&self) -> &str {
        &self.running
    }

    /// The version being downloaded or applied (this session's job), if any.
    pub fn pending_version(&self) -> Option<&str> {
        (!self.job_id.is_empty() || !self.pending_version.is_empty())
            .then_some(self.pending_version.as_str())
    }

    /// Reads a twin document or desired patch (`json`, exactly its bytes; no NUL needed).
    pub fn process<'a>(&mut self, json: &'a [u8]) -> Outcome<'a> {
        if self.downloading {
            return Outcome {
                report: false,
                action: Action::None,
            };
        }
        let Ok(doc) = twin::parse(json) else {
            return Outcome {
                report: false,
                action: Action::None,
            };
        };
        let report = self.check_reported(&doc.reported);
        let action = match doc.desired {
            Member::Absent => Action::None,
            Member::Invalid => self.invalid(FirmwareError::WrongType),
            Member::Ok(fw) => self.check_desired(fw),
        };
        Outcome { report, action }
    }

    fn invalid(&mut self, e: FirmwareError) -> Action<'static> {
        self.status = FwStatus::Error;
        Action::Invalid(e)
    }

    /// The reported-status check of the original (section 5.2 step 2). Returns whether a
    /// report is needed.
    fn check_reported(&mut self, reported: &Option<Member<twin::ReportedFirmware<'_>>>) -> bool {
        let fw = match reported {
            None => return false,
            Some(Member::Absent) => return true,
            Some(Member::Invalid) => return true,
            Some(Member::Ok(fw)) => fw,
        };
        if let Some(job) = fw.job_id {
            let _ = set(&mut self.last_job_id, job);
        }
        let (Some(status), Some(current)) = (fw.fw_update_status, fw.current_fw_version) else {
            return false;
        };
        let Some(pending) = fw.pending_fw_version else {
            return true;
        };
        let running = self.running.as_str();
        match status {
            "current" => {
                self.status = FwStatus::Current;
                current != running
            }
            "applying" => {
                self.status = if running == pending {
                    FwStatus::Current
                } else if running == current {
                    FwStatus::Rolledback
                } else {
                    FwStatus::Current
                };
                true
            }
            "downloading" => {
                // We are not downloading (checked by the caller), so it was interrupted.
                self.status = FwStatus::Error;
                true
            }
            "error" => {
                self.status = FwStatus::Error;
                false
            }
            _ => {
                self.status = FwStatus::Current;
                true
            }
        }
    }

    fn check_desired<'a>(&mut self, fw: DesiredFirmware<'a>) -> Action<'a> {
        let (Some(version), Some(location), Some(fragment)) =
            (fw.fw_version, fw.fw_location, fw.fw_fragment_size)
        else {
            // A patch that does not carry a whole firmware object: nothing to start.
            return Action::None;
        };
        if fragment == 0 || fragment > self.opts.max_fragment_size {
            return self.invalid(FirmwareError::BadFragmentSize);
        }
        if location.host.is_empty() || location.path.is_empty() {
            return self.invalid(FirmwareError::BadField);
        }
        let mut desired_version = String::<MAX_VERSION_LEN>::new();
        if let Err(e) = version_text(version, &mut desired_version) {
            return self.invalid(e);
        }
        let job = fw.job_id.unwrap_or("");
        if job.len() > MAX_JOB_ID_LEN {
            return self.invalid(FirmwareError::BadField);
        }
        // Already attempted, or already running: nothing to do. The status keeps what the
        // reported-status check found (e.g. `rolledback`), which the report carries.
        if (!self.last_job_id.is_empty() && self.last_job_id.as_str() == job)
            || desired_version.as_str() == self.running.as_str()
        {
            return Action::None;
        }
        self.pending_version = desired_version;
        let _ = set(&mut self.job_id, job);
        self.downloading = true;
        self.status = FwStatus::Downloading;
        Action::Download(DownloadJob {
            host: location.host,
            path: location.path,
            fragment_size: fragment,
        })
    }

    /// The download started: the job counts as attempted. Report, then raise FOTA_START.
    pub fn download_started(&mut self) {
        self.last_job_id = self.job_id.clone();
    }

    /// The download could not start or failed: status `error`. Report, then raise FOTA_ERROR.
    pub fn download_failed(&mut self) {
        self.downloading = false;
        self.status = FwStatus::Error;
    }

    /// The image is complete: status `applying`. Report, then raise FOTA_DONE (reboot).
    pub fn download_done(&mut self) {
        self.downloading = false;
        self.status = FwStatus::Applying;
    }

    /// Writes the reported-properties JSON for the current status.
    pub fn write_report<S: Sink>(&self, s: &mut S) -> Result<(), Overflow> {
        s.put(b"{\"firmware\":{\"fwUpdateStatus\":\"")?;
        s.put(self.status.as_str().as_bytes())?;
        s.put(b"\",\"currentFwVersion\":\"")?;
        put_json_str(s, &self.running)?;
        if !self.job_id.is_empty() {
            s.put(b"\",\"pendingFwVersion\":\"")?;
            // Both come from a JSON string as written in the twin (serde-json-core hands over the
            // escaped text), so they are valid string bodies already, and written verbatim the
            // reported jobId compares equal with the desired one after a restart.
            s.put(self.pending_version.as_bytes())?;
            s.put(b"\",\"jobId\":\"")?;
            s.put(self.job_id.as_bytes())?;
        }
        s.put(b"\"}}")
    }
}

/// Writes a string's characters escaped for a JSON string body.
fn put_json_str<S: Sink>(s: &mut S, text: &str) -> Result<(), Overflow> {
    for b in text.bytes() {
        match b {
            b'"' => s.put(b"\\\"")?,
            b'\\' => s.put(b"\\\\")?,
            0..=0x1F => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                s.put(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ])?
            }
            _ => s.put_u8(b)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Cursor;

    fn report(f: &Fota) -> heapless::String<256> {
        let mut buf = [0u8; 256];
        let mut c = Cursor::new(&mut buf);
        f.write_report(&mut c).unwrap();
        heapless::String::try_from(core::str::from_utf8(c.written()).unwrap()).unwrap()
    }

    const JOB: &[u8] = br#"{"desired":{"firmware":{"fwVersion":"2.0.0","jobId":"job-1","fwLocation":{"host":"fw.local","path":"app.bin"},"fwFragmentSize":1024}},"reported":{"firmware":{"fwUpdateStatus":"current","currentFwVersion":"1.0.0"}}}"#;

    #[test]
    fn new_job_starts_a_download_then_applies() {
        let mut f = Fota::new("1.0.0", FotaOptions::default());
        let o = f.process(JOB);
        // pendingFwVersion missing in reported → report needed.
        assert!(o.report);
        assert_eq!(
            o.action,
            Action::Download(DownloadJob {
                host: "fw.local",
                path: "app.bin",
                fragment_size: 1024
            })
        );
        f.download_started();
        assert_eq!(
            report(&f).as_str(),
            r#"{"firmware":{"fwUpdateStatus":"downloading","currentFwVersion":"1.0.0","pendingFwVersion":"2.0.0","jobId":"job-1"}}"#
        );
        // A twin while downloading is ignored.
        assert_eq!(f.process(JOB).action, Action::None);
        f.download_done();
        assert_eq!(f.status(), FwStatus::Applying);
        assert!(report(&f).contains("\"applying\""));
    }

    #[test]
    fn restart_with_the_new_version_is_current_and_with_the_old_is_rolledback() {
        let twin = br#"{"desired":{"firmware":{"fwVersion":"2.0.0","jobId":"job-1","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":512}},"reported":{"firmware":{"fwUpdateStatus":"applying","currentFwVersion":"1.0.0","pendingFwVersion":"2.0.0","jobId":"job-1"}}}"#;
        let mut new = Fota::new("2.0.0", FotaOptions::default());
        let o = new.process(twin);
        assert!(o.report);
        assert_eq!(o.action, Action::None);
        assert_eq!(new.status(), FwStatus::Current);
        assert_eq!(
            report(&new).as_str(),
            r#"{"firmware":{"fwUpdateStatus":"current","currentFwVersion":"2.0.0"}}"#
        );

        let mut old = Fota::new("1.0.0", FotaOptions::default());
        let o = old.process(twin);
        assert!(o.report);
        // Same job: not downloaded again.
        assert_eq!(o.action, Action::None);
        assert_eq!(old.status(), FwStatus::Rolledback);
        assert!(report(&old).contains("\"rolledback\""));
    }

    #[test]
    fn job_ids_compare_exactly_not_by_prefix() {
        let twin = br#"{"desired":{"firmware":{"fwVersion":"3","jobId":"job-12","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":512}},"reported":{"firmware":{"fwUpdateStatus":"current","currentFwVersion":"1","pendingFwVersion":"2","jobId":"job-1"}}}"#;
        let mut f = Fota::new("1", FotaOptions::default());
        assert!(matches!(f.process(twin).action, Action::Download(_)));
    }

    #[test]
    fn same_version_does_nothing() {
        let mut f = Fota::new("2.0.0", FotaOptions::default());
        assert_eq!(f.process(JOB).action, Action::None);
        assert_eq!(f.status(), FwStatus::Current);
    }

    #[test]
    fn interrupted_download_reports_error() {
        let twin = br#"{"desired":{},"reported":{"firmware":{"fwUpdateStatus":"downloading","currentFwVersion":"1","pendingFwVersion":"2","jobId":"j"}}}"#;
        let mut f = Fota::new("1", FotaOptions::default());
        let o = f.process(twin);
        assert!(o.report);
        assert_eq!(f.status(), FwStatus::Error);
    }

    #[test]
    fn invalid_objects_are_errors() {
        for (doc, e) in [
            (&br#"{"firmware":{"fwVersion":"2","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":0}}"#[..], FirmwareError::BadFragmentSize),
            (br#"{"firmware":{"fwVersion":"2","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":99999999}}"#, FirmwareError::BadFragmentSize),
            (br#"{"firmware":{"fwVersion":"2","jobId":1,"fwLocation":{"host":"h","path":"p"},"fwFragmentSize":10}}"#, FirmwareError::WrongType),
            (br#"{"firmware":{"fwVersion":"","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":10}}"#, FirmwareError::BadField),
            (br#"{"firmware":{"fwVersion":"2","fwLocation":{"host":"","path":"p"},"fwFragmentSize":10}}"#, FirmwareError::BadField),
        ] {
            let mut f = Fota::new("1", FotaOptions::default());
            assert_eq!(f.process(doc).action, Action::Invalid(e), "{}", core::str::from_utf8(doc).unwrap());
            assert_eq!(f.status(), FwStatus::Error);
            assert!(!f.is_downloading());
        }
    }

    #[test]
    fn numeric_version_and_escaped_running_version() {
        let mut f = Fota::new("v\"1", FotaOptions::default());
        let o = f.process(br#"{"firmware":{"fwVersion":42,"fwLocation":{"host":"h","path":"p"},"fwFragmentSize":10}}"#);
        assert!(matches!(o.action, Action::Download(_)));
        assert_eq!(f.pending_version(), Some("42"));
        assert!(report(&f).contains(r#""currentFwVersion":"v\"1""#));
    }

    #[test]
    fn twin_strings_go_back_as_written() {
        // serde-json-core hands over escaped strings as they are written; the report writes them
        // back the same way (valid JSON, and the job ID compares equal after a restart).
        let mut f = Fota::new("1", FotaOptions::default());
        let o = f.process(br#"{"firmware":{"fwVersion":"2\"x","jobId":"j\\1","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":10}}"#);
        assert!(matches!(o.action, Action::Download(_)));
        f.download_started();
        assert_eq!(
            report(&f).as_str(),
            r#"{"firmware":{"fwUpdateStatus":"downloading","currentFwVersion":"1","pendingFwVersion":"2\"x","jobId":"j\\1"}}"#
        );
        // After a restart the reported job is the desired one: not downloaded again.
        let twin = br#"{"desired":{"firmware":{"fwVersion":"2\"x","jobId":"j\\1","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":10}},"reported":{"firmware":{"fwUpdateStatus":"downloading","currentFwVersion":"1","pendingFwVersion":"2\"x","jobId":"j\\1"}}}"#;
        let mut again = Fota::new("1", FotaOptions::default());
        assert_eq!(again.process(twin).action, Action::None);
        assert_eq!(again.status(), FwStatus::Error);
    }

    #[test]
    fn mutated_twins_never_panic() {
        let mut x: u32 = 0x9e37_79b9;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut buf = [0u8; 512];
        for _ in 0..3000 {
            let n = JOB.len();
            buf[..n].copy_from_slice(JOB);
            for _ in 0..(1 + next() % 3) {
                let i = (next() as usize) % n;
                const ALPHABET: &[u8] = b"{}[]\":,0123456789aeflnrstu\\ -.";
                buf[i] = ALPHABET[(next() as usize) % ALPHABET.len()];
            }
            let cut = n - (next() as usize) % 8;
            let mut f = Fota::new("1.0.0", FotaOptions::default());
            let _ = f.process(&buf[..cut]);
            let _ = report(&f);
        }
    }

    #[test]
    fn start_failure_reports_error() {
        let mut f = Fota::new("1", FotaOptions::default());
        assert!(matches!(f.process(JOB).action, Action::Download(_)));
        f.download_failed();
        assert_eq!(f.status(), FwStatus::Error);
        assert!(!f.is_downloading());
        assert!(report(&f).contains("\"error\""));
    }
}
