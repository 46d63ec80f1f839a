//! The port-independent part of a FOTA download job, shared by the Linux and Zephyr ports:
//! where to connect ([`Target`]), feeding received bytes through the range downloader into a
//! [`FirmwareSink`] ([`ImageWriter`]), when to give up after dropped connections ([`Retry`]),
//! the kinds of notices a FOTA library raises ([`NoticeKind`]) and the report buffer
//! ([`Report`]).
//!
//! A port only adds the sockets (TLS or not), the thread, the lock around [`super::Fota`] and
//! the delivery of notices.

use heapless::String;

use super::http::{Download, HttpError, Progress, MAX_HOST_LEN};
use super::{FirmwareSink, Fota, MAX_JOB_ID_LEN, MAX_VERSION_LEN};
use crate::sink::Cursor;

/// The kinds of `enum azure_fota_evt_type`, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A report to publish (no application event).
    Report,
    /// The download started.
    Start,
    /// The image is complete: reboot to apply it.
    Done,
    /// The download failed, or the firmware object was invalid.
    Error,
    /// The sink is erasing storage.
    ErasePending,
    /// The erase is done.
    EraseDone,
}

/// Where the image server is: `fwLocation.host` with an optional `http://` / `https://` prefix
/// (which decides TLS; otherwise `CONFIG_AZURE_FOTA_TLS` does) and an optional `:port`
/// (otherwise `CONFIG_AZURE_FOTA_DOWNLOAD_PORT`, and 80 when TLS is off and that option is 443).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or address without the port (DNS, TLS server name).
    pub name: String<MAX_HOST_LEN>,
    /// TCP port.
    pub port: u16,
    /// The `Host:` header value (host and port as written, without the scheme).
    pub host_header: String<MAX_HOST_LEN>,
    /// HTTPS.
    pub tls: bool,
}

impl Target {
    /// Parses `fwLocation.host`.
    pub fn parse(host: &str, default_tls: bool, download_port: u16) -> Result<Target, HttpError> {
        let (tls, rest) = if let Some(r) = host.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = host.strip_prefix("http://") {
            (false, r)
        } else {
            (default_tls, host)
        };
        let rest = rest.trim_end_matches('/');
        let (name, port) = match rest.rsplit_once(':') {
            Some((n, p)) => (n, p.parse::<u16>().map_err(|_| HttpError::InvalidLocation)?),
            None => {
                let port = if !tls && download_port == 443 {
                    80
                } else {
                    download_port
                };
                (rest, port)
            }
        };
        if name.is_empty() || port == 0 {
            return Err(HttpError::InvalidLocation);
        }
        Ok(Target {
            name: String::try_from(name).map_err(|_| HttpError::InvalidLocation)?,
            port,
            host_header: String::try_from(rest).map_err(|_| HttpError::InvalidLocation)?,
            tls,
        })
    }
}

/// Why feeding bytes failed: the job cannot succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedError<E> {
    /// The server's response is wrong (status, framing).
    Http(HttpError),
    /// The sink failed.
    Sink(E),
}

/// Drives the image into a [`FirmwareSink`]: prepares it (with the erase notices) before the
/// first body byte, then writes every body byte at its offset. One per job; keep it across
/// reconnections.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImageWriter {
    prepared: bool,
}

impl ImageWriter {
    /// A writer for a new job.
    pub fn new() -> Self {
        ImageWriter { prepared: false }
    }

    /// True once the sink was prepared.
    pub fn is_prepared(&self) -> bool {
        self.prepared
    }

    /// Feeds bytes received on the connection. Returns at the end of a response
    /// ([`Progress::NextRequest`]: write the next request; [`Progress::Done`]: call the sink's
    /// `finish`) or when `data` is used up ([`Progress::Pending`]). Bytes after the end of a
    /// response are ignored (a server sends nothing unasked). `erase` receives
    /// [`NoticeKind::ErasePending`] and [`NoticeKind::EraseDone`] around `prepare` when the
    /// sink erases.
    pub fn feed<S: FirmwareSink + ?Sized>(
        &mut self,
        download: &mut Download,
        data: &[u8],
        sink: &mut S,
        erase: &mut dyn FnMut(NoticeKind),
    ) -> Result<Progress, FeedError<S::Error>> {
        let mut consumed = 0;
        while consumed < data.len() {
            let mut sink_err = None;
            let prepared = &mut self.prepared;
            let (used, progress) = download
                .handle_input(&data[consumed..], &mut |offset, bytes, total| {
                    if sink_err.is_some() {
                        return;
                    }
                    if !*prepared {
                        let erases = sink.erases();
                        if erases {
                            erase(NoticeKind::ErasePending);
                        }
                        if let Err(e) = sink.prepare(total) {
                            sink_err = Some(e);
                            return;
                        }
                        if erases {
                            erase(NoticeKind::EraseDone);
                        }
                        *prepared = true;
                    }
                    if let Err(e) = sink.write(offset, bytes) {
                        sink_err = Some(e);
                    }
                })
                .map_err(FeedError::Http)?;
            if let Some(e) = sink_err {
                return Err(FeedError::Sink(e));
            }
            consumed += used;
            if progress != Progress::Pending {
                return Ok(progress);
            }
            if used == 0 {
                break;
            }
        }
        Ok(Progress::Pending)
    }
}

/// What to do after a dropped connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Reconnect after this many milliseconds and resume.
    After(u32),
    /// Give up: this many attempts in a row brought no new byte.
    GiveUp(u32),
}

/// The resume policy: up to `max_retries` reconnections in a row without a new byte, waiting
/// 100 ms × the attempt number before each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    max_retries: u32,
    failures: u32,
}

/// Reconnections in a row without a new byte before a download fails (both ports).
pub const DEFAULT_MAX_RETRIES: u32 = 5;

impl Retry {
    /// A policy allowing `max_retries` fruitless reconnections in a row.
    pub fn new(max_retries: u32) -> Self {
        Retry {
            max_retries,
            failures: 0,
        }
    }

    /// The connection (or the attempt to open it) failed; `progressed` says whether it brought
    /// new bytes since the previous failure.
    pub fn dropped(&mut self, progressed: bool) -> RetryDecision {
        if progressed {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures > self.max_retries {
            RetryDecision::GiveUp(self.failures)
        } else {
            RetryDecision::After(100u32.saturating_mul(self.failures))
        }
    }
}

/// Bytes a report can take: the fixed text, the running version escaped (6 bytes per byte at
/// worst), the pending version and job ID as written.
pub const REPORT_MAX_LEN: usize = 128 + 6 * MAX_VERSION_LEN + MAX_VERSION_LEN + MAX_JOB_ID_LEN;

/// A report written into a fixed buffer (no heap), NUL-terminated for C.
#[derive(Clone)]
pub struct Report {
    buf: [u8; REPORT_MAX_LEN + 1],
    len: usize,
}

impl core::fmt::Debug for Report {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Report").field(&self.as_str()).finish()
    }
}

impl Report {
    /// The report of `fota`'s current status.
    pub fn of(fota: &Fota) -> Report {
        let mut buf = [0u8; REPORT_MAX_LEN + 1];
        let len = {
            let mut c = Cursor::new(&mut buf[..REPORT_MAX_LEN]);
            // Cannot overflow: REPORT_MAX_LEN bounds every field; an empty report otherwise.
            match fota.write_report(&mut c) {
                Ok(()) => c.len(),
                Err(_) => 0,
            }
        };
        Report { buf, len }
    }

    /// The JSON.
    pub fn as_str(&self) -> &str {
        // Built from &str pieces and ASCII escapes only.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// The JSON followed by a NUL byte (for C).
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        &self.buf[..=self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fota::firmware::{SliceSink, SliceSinkError};
    use crate::fota::FotaOptions;

    #[test]
    fn host_forms() {
        let t = Target::parse("fw.example.com", true, 443).unwrap();
        assert_eq!(
            (t.name.as_str(), t.port, t.tls, t.host_header.as_str()),
            ("fw.example.com", 443, true, "fw.example.com")
        );
        let t = Target::parse("http://fw.example.com", true, 443).unwrap();
        assert_eq!((t.port, t.tls), (80, false));
        let t = Target::parse("https://localhost:8443/", false, 80).unwrap();
        assert_eq!((t.name.as_str(), t.port, t.tls), ("localhost", 8443, true));
        assert_eq!(t.host_header.as_str(), "localhost:8443");
        let t = Target::parse("fw", false, 443).unwrap();
        assert_eq!((t.port, t.tls), (80, false));
        let t = Target::parse("127.0.0.1:8080", true, 443).unwrap();
        assert_eq!((t.name.as_str(), t.port, t.tls), ("127.0.0.1", 8080, true));
        for bad in ["h:99999", "https://", "h:0", ":80", "h:x"] {
            assert_eq!(
                Target::parse(bad, false, 443),
                Err(HttpError::InvalidLocation),
                "{bad}"
            );
        }
        let long = [b'a'; MAX_HOST_LEN + 1];
        let long = core::str::from_utf8(&long).unwrap();
        assert_eq!(
            Target::parse(long, false, 443),
            Err(HttpError::InvalidLocation)
        );
    }

    fn response(start: u64, data: &[u8], total: u64) -> heapless::Vec<u8, 512> {
        let mut v = heapless::Vec::new();
        let head = alloc_free_head(start, data.len() as u64, total);
        v.extend_from_slice(head.as_bytes()).unwrap();
        v.extend_from_slice(data).unwrap();
        v
    }

    fn alloc_free_head(start: u64, len: u64, total: u64) -> heapless::String<160> {
        use core::fmt::Write;
        let mut s = heapless::String::new();
        write!(
            s,
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {}-{}/{}\r\nContent-Length: {}\r\n\r\n",
            start,
            start + len - 1,
            total,
            len
        )
        .unwrap();
        s
    }

    struct ErasingSink<'a>(SliceSink<'a>);
    impl FirmwareSink for ErasingSink<'_> {
        type Error = SliceSinkError;
        fn erases(&self) -> bool {
            true
        }
        fn prepare(&mut self, size: u64) -> Result<(), Self::Error> {
            self.0.prepare(size)
        }
        fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), Self::Error> {
            self.0.write(offset, bytes)
        }
        fn finish(&mut self) -> Result<(), Self::Error> {
            self.0.finish()
        }
    }

    #[test]
    fn writer_prepares_once_with_erase_notices_and_survives_a_drop() {
        let image: [u8; 10] = *b"0123456789";
        let mut store = [0u8; 16];
        let mut sink = ErasingSink(SliceSink::new(&mut store));
        let mut d = Download::new("h", "/p", 4).unwrap();
        let mut w = ImageWriter::new();
        let mut notices: heapless::Vec<NoticeKind, 8> = heapless::Vec::new();
        let mut req = [0u8; 256];

        d.write_request(&mut Cursor::new(&mut req)).unwrap();
        let r = response(0, &image[..4], 10);
        // Byte by byte: prepared once.
        for (i, b) in r.iter().enumerate() {
            let p = w
                .feed(&mut d, core::slice::from_ref(b), &mut sink, &mut |n| {
                    notices.push(n).unwrap()
                })
                .unwrap();
            let last = i + 1 == r.len();
            assert_eq!(
                p,
                if last {
                    Progress::NextRequest
                } else {
                    Progress::Pending
                }
            );
        }
        assert_eq!(
            notices.as_slice(),
            &[NoticeKind::ErasePending, NoticeKind::EraseDone]
        );
        assert!(w.is_prepared());
        // Second fragment cut after 2 body bytes.
        d.write_request(&mut Cursor::new(&mut req)).unwrap();
        let r = response(4, &image[4..8], 10);
        let cut = r.len() - 2;
        let no_erase = &mut |_n: NoticeKind| panic!("prepared twice");
        assert_eq!(
            w.feed(&mut d, &r[..cut], &mut sink, no_erase).unwrap(),
            Progress::Pending
        );
        d.handle_closed();
        assert_eq!(d.offset(), 6);
        d.write_request(&mut Cursor::new(&mut req)).unwrap();
        let r = response(6, &image[6..10], 10);
        let mut with_trailing = r.clone();
        with_trailing.extend_from_slice(b"junk").unwrap();
        assert_eq!(
            w.feed(&mut d, &with_trailing, &mut sink, no_erase).unwrap(),
            Progress::Done
        );
        assert_eq!(sink.0.image(), &image);
    }

    #[test]
    fn writer_reports_http_and_sink_errors() {
        let mut store = [0u8; 4];
        let mut sink = SliceSink::new(&mut store);
        let mut d = Download::new("h", "/p", 4).unwrap();
        let mut w = ImageWriter::new();
        let mut req = [0u8; 256];
        d.write_request(&mut Cursor::new(&mut req)).unwrap();
        // Image larger than the sink.
        let r = response(0, b"abcd", 10);
        assert_eq!(
            w.feed(&mut d, &r, &mut sink, &mut |_| {}),
            Err(FeedError::Sink(SliceSinkError::TooLarge))
        );
        let mut d = Download::new("h", "/p", 4).unwrap();
        let mut w = ImageWriter::new();
        d.write_request(&mut Cursor::new(&mut req)).unwrap();
        assert_eq!(
            w.feed(
                &mut d,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                &mut sink,
                &mut |_| {}
            ),
            Err(FeedError::Http(HttpError::Status(404)))
        );
        assert!(!w.is_prepared());
    }

    #[test]
    fn retry_gives_up_after_fruitless_attempts_only() {
        let mut r = Retry::new(3);
        assert_eq!(r.dropped(false), RetryDecision::After(100));
        assert_eq!(r.dropped(false), RetryDecision::After(200));
        // Progress resets the count.
        assert_eq!(r.dropped(true), RetryDecision::After(100));
        assert_eq!(r.dropped(false), RetryDecision::After(200));
        assert_eq!(r.dropped(false), RetryDecision::After(300));
        assert_eq!(r.dropped(false), RetryDecision::GiveUp(4));
    }

    #[test]
    fn report_fits_the_longest_fields_and_ends_with_nul() {
        let version = [b'"'; MAX_VERSION_LEN];
        let running = core::str::from_utf8(&version).unwrap();
        let mut f = Fota::new(running, FotaOptions::default());
        let mut doc: heapless::String<512> = heapless::String::new();
        use core::fmt::Write;
        write!(
            doc,
            r#"{{"firmware":{{"fwVersion":"{}","jobId":"{}","fwLocation":{{"host":"h","path":"p"}},"fwFragmentSize":10}}}}"#,
            "v".repeat_n(MAX_VERSION_LEN),
            "j".repeat_n(MAX_JOB_ID_LEN)
        )
        .unwrap();
        assert!(matches!(
            f.process(doc.as_bytes()).action,
            crate::fota::Action::Download(_)
        ));
        f.download_started();
        let r = Report::of(&f);
        assert!(r
            .as_str()
            .starts_with(r#"{"firmware":{"fwUpdateStatus":"downloading""#));
        assert!(r.as_str().ends_with("\"}}"), "{}", r.as_str());
        assert_eq!(r.as_bytes_with_nul().last(), Some(&0));
        assert_eq!(r.as_bytes_with_nul().len(), r.as_str().len() + 1);
    }

    trait RepeatN {
        fn repeat_n(&self, n: usize) -> heapless::String<64>;
    }
    impl RepeatN for str {
        fn repeat_n(&self, n: usize) -> heapless::String<64> {
            let mut s = heapless::String::new();
            for _ in 0..n {
                s.push_str(self).unwrap();
            }
            s
        }
    }
}
