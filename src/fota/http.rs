//! A sans-IO HTTP/1.1 range downloader for firmware images.
//!
//! Requests `fwFragmentSize` bytes at a time (`Range: bytes=a-b`), hands body bytes to the
//! caller with their offset, and resumes from the next missing byte after a dropped connection
//! (call [`Download::handle_closed`], reconnect, and send [`Download::write_request`] again).
//! Responses: `206` with `Content-Range`, or `200` for a server that ignores ranges (accepted
//! only from offset 0, as the whole image). No chunked encoding (firmware servers send lengths).

use heapless::String;

use crate::sink::{Overflow, Sink};

/// Longest host name (with `:port`).
pub const MAX_HOST_LEN: usize = 128;
/// Longest path.
pub const MAX_PATH_LEN: usize = 256;
/// Longest response header block.
pub const MAX_HEADER_LEN: usize = 1024;

/// Why a download failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// Host or path empty, too long, or with characters that cannot go in a request line.
    InvalidLocation,
    /// A status other than 200/206 (e.g. 404), with the status.
    Status(u16),
    /// A response that cannot be parsed, or whose range or length does not match the request.
    Malformed,
    /// Headers longer than [`MAX_HEADER_LEN`].
    HeadersTooLong,
    /// Chunked or another unsupported transfer encoding.
    Unsupported,
}

/// What input produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes of the current response are expected.
    Pending,
    /// The fragment is complete: send the next request.
    NextRequest,
    /// The whole image is here.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Headers,
    Body { remaining: u64 },
    Idle,
}

/// One image download.
#[derive(Debug)]
pub struct Download {
    host: String<MAX_HOST_LEN>,
    path: String<MAX_PATH_LEN>,
    fragment: u32,
    offset: u64,
    total: Option<u64>,
    phase: Phase,
    header: heapless::Vec<u8, MAX_HEADER_LEN>,
}

fn request_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b > 0x20 && b < 0x7F)
}

impl Download {
    /// A download of `path` from `host` in fragments of `fragment_size` bytes.
    pub fn new(host: &str, path: &str, fragment_size: u32) -> Result<Self, HttpError> {
        if !request_safe(host) || !request_safe(path) || fragment_size == 0 {
            return Err(HttpError::InvalidLocation);
        }
        let mut p = String::new();
        if !path.starts_with('/') {
            p.push('/').map_err(|_| HttpError::InvalidLocation)?;
        }
        p.push_str(path).map_err(|_| HttpError::InvalidLocation)?;
        Ok(Download {
            host: String::try_from(host).map_err(|_| HttpError::InvalidLocation)?,
            path: p,
            fragment: fragment_size,
            offset: 0,
            total: None,
            phase: Phase::Idle,
            header: heapless::Vec::new(),
        })
    }

    /// Host name without the port.
    pub fn host_name(&self) -> &str {
        self.host.split(':').next().unwrap_or("")
    }

    /// The port in the host, if any.
    pub fn port(&self) -> Option<u16> {
        self.host.split_once(':').and_then(|(_, p)| p.parse().ok())
    }

    /// Bytes received so far (the next offset).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The image size, once a response told it.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// True when every byte is here.
    pub fn is_done(&self) -> bool {
        self.total.is_some_and(|t| self.offset >= t)
    }

    /// Writes the next range request and expects its response.
    pub fn write_request<S: Sink>(&mut self, s: &mut S) -> Result<(), Overflow> {
        let end = self.offset + u64::from(self.fragment) - 1;
        let end = self.total.map_or(end, |t| end.min(t.saturating_sub(1)));
        s.put(b"GET ")?;
        s.put(self.path.as_bytes())?;
        s.put(b" HTTP/1.1\r\nHost: ")?;
        s.put(self.host.as_bytes())?;
        s.put(b"\r\nRange: bytes=")?;
        s.put_decimal_u64(self.offset)?;
        s.put_u8(b'-')?;
        s.put_decimal_u64(end)?;
        s.put(b"\r\nConnection: keep-alive\r\n\r\n")?;
        self.phase = Phase::Headers;
        self.header.clear();
        Ok(())
    }

    /// The connection dropped: the next request resumes at [`Download::offset`].
    pub fn handle_closed(&mut self) {
        self.phase = Phase::Idle;
        self.header.clear();
    }

    /// Bytes from the server. `body` receives image bytes with their offset in the image and
    /// the image size (known from the response headers before the first body byte).
    /// Returns the bytes of `data` consumed (stops at the end of the response) and the progress.
    pub fn handle_input(
        &mut self,
        data: &[u8],
        body: &mut dyn FnMut(u64, &[u8], u64),
    ) -> Result<(usize, Progress), HttpError> {
        let mut used = 0;
        while used < data.len() {
            match self.phase {
                Phase::Idle => return Ok((used, Progress::Pending)),
                Phase::Headers => {
                    let b = data[used];
                    used += 1;
                    self.header.push(b).map_err(|_| HttpError::HeadersTooLong)?;
                    if self.header.ends_with(b"\r\n\r\n") {
                        let remaining = self.parse_headers()?;
                        self.phase = Phase::Body { remaining };
                        if remaining == 0 {
                            return Ok((used, self.fragment_done()));
                        }
                    }
                }
                Phase::Body { remaining } => {
                    let n = (data.len() - used).min(remaining.min(usize::MAX as u64) as usize);
                    body(self.offset, &data[used..used + n], self.total.unwrap_or(0));
                    self.offset += n as u64;
                    used += n;
                    let left = remaining - n as u64;
                    self.phase = Phase::Body { remaining: left };
                    if left == 0 {
                        return Ok((used, self.fragment_done()));
                    }
                }
            }
        }
        Ok((used, Progress::Pending))
    }

    fn fragment_done(&mut self) -> Progress {
        self.phase = Phase::Idle;
        if self.is_done() {
            Progress::Done
        } else {
            Progress::NextRequest
        }
    }

    /// Parses the status line and headers; returns the body length.
    fn parse_headers(&mut self) -> Result<u64, HttpError> {
        let text = core::str::from_utf8(&self.header).map_err(|_| HttpError::Malformed)?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().ok_or(HttpError::Malformed)?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(HttpError::Malformed);
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(HttpError::Malformed)?;
        let mut content_length = None;
        let mut content_range = None;
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').ok_or(HttpError::Malformed)?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.parse::<u64>().map_err(|_| HttpError::Malformed)?);
            } else if name.eq_ignore_ascii_case("content-range") {
                content_range = Some(parse_content_range(value).ok_or(HttpError::Malformed)?);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && !value.eq_ignore_ascii_case("identity")
            {
                return Err(HttpError::Unsupported);
            }
        }
        match status {
            206 => {
                let (start, end, total) = content_range.ok_or(HttpError::Malformed)?;
                let len = end
                    .checked_sub(start)
                    .map(|l| l + 1)
                    .ok_or(HttpError::Malformed)?;
                if start != self.offset || content_length.is_some_and(|l| l != len) || end >= total
                {
                    return Err(HttpError::Malformed);
                }
                if self.total.is_some_and(|t| t != total) {
                    return Err(HttpError::Malformed);
                }
                self.total = Some(total);
                Ok(len)
            }
            200 if self.offset == 0 => {
                let len = content_length.ok_or(HttpError::Malformed)?;
                if len == 0 {
                    // An empty image is never a firmware update.
                    return Err(HttpError::Malformed);
                }
                self.total = Some(len);
                Ok(len)
            }
            other => Err(HttpError::Status(other)),
        }
    }
}

/// `bytes a-b/total`
fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    Some((
        a.trim().parse().ok()?,
        b.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Cursor;

    fn request(d: &mut Download) -> heapless::String<256> {
        let mut buf = [0u8; 256];
        let mut c = Cursor::new(&mut buf);
        d.write_request(&mut c).unwrap();
        heapless::String::try_from(core::str::from_utf8(c.written()).unwrap()).unwrap()
    }

    fn response(start: u64, data: &[u8], total: u64) -> heapless::Vec<u8, 512> {
        let mut v = heapless::Vec::new();
        let mut head: heapless::String<200> = heapless::String::new();
        use core::fmt::Write;
        write!(head, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {}-{}/{}\r\nContent-Length: {}\r\n\r\n", start, start + data.len() as u64 - 1, total, data.len()).unwrap();
        v.extend_from_slice(head.as_bytes()).unwrap();
        v.extend_from_slice(data).unwrap();
        v
    }

    #[test]
    fn downloads_in_fragments_and_resumes_after_a_drop() {
        let image: [u8; 10] = *b"0123456789";
        let mut got = [0u8; 10];
        let mut d = Download::new("fw.local:8443", "app.bin", 4).unwrap();
        assert_eq!(d.host_name(), "fw.local");
        assert_eq!(d.port(), Some(8443));
        assert_eq!(
            request(&mut d).as_str(),
            "GET /app.bin HTTP/1.1\r\nHost: fw.local:8443\r\nRange: bytes=0-3\r\nConnection: keep-alive\r\n\r\n"
        );
        let r = response(0, &image[0..4], 10);
        let (n, p) = d
            .handle_input(&r, &mut |off, b, _| {
                got[off as usize..off as usize + b.len()].copy_from_slice(b)
            })
            .unwrap();
        assert_eq!((n, p), (r.len(), Progress::NextRequest));
        assert!(request(&mut d).contains("Range: bytes=4-7"));
        // Half a fragment, then the connection drops.
        let r = response(4, &image[4..8], 10);
        let cut = r.len() - 2;
        let (_, p) = d
            .handle_input(&r[..cut], &mut |off, b, _| {
                got[off as usize..off as usize + b.len()].copy_from_slice(b)
            })
            .unwrap();
        assert_eq!(p, Progress::Pending);
        assert_eq!(d.offset(), 6);
        d.handle_closed();
        assert!(request(&mut d).contains("Range: bytes=6-9"));
        let r = response(6, &image[6..10], 10);
        let (_, p) = d
            .handle_input(&r, &mut |off, b, _| {
                got[off as usize..off as usize + b.len()].copy_from_slice(b)
            })
            .unwrap();
        assert_eq!(p, Progress::Done);
        assert_eq!(got, image);
    }

    #[test]
    fn last_fragment_is_clamped_to_the_image() {
        let mut d = Download::new("h", "/p", 8).unwrap();
        request(&mut d);
        d.handle_input(&response(0, b"01234567", 10), &mut |_, _, _| {})
            .unwrap();
        assert!(request(&mut d).contains("Range: bytes=8-9"));
    }

    #[test]
    fn errors() {
        let mut d = Download::new("h", "/p", 8).unwrap();
        request(&mut d);
        assert_eq!(
            d.handle_input(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                &mut |_, _, _| {}
            ),
            Err(HttpError::Status(404))
        );
        let mut d = Download::new("h", "/p", 8).unwrap();
        request(&mut d);
        assert_eq!(
            d.handle_input(
                b"HTTP/1.1 206 OK\r\nContent-Range: bytes 4-7/10\r\n\r\n",
                &mut |_, _, _| {}
            ),
            Err(HttpError::Malformed)
        );
        let mut d = Download::new("h", "/p", 8).unwrap();
        request(&mut d);
        assert_eq!(
            d.handle_input(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                &mut |_, _, _| {}
            ),
            Err(HttpError::Unsupported)
        );
        let mut d = Download::new("h", "/p", 8).unwrap();
        request(&mut d);
        assert_eq!(
            d.handle_input(
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                &mut |_, _, _| {}
            ),
            Err(HttpError::Malformed)
        );
        let mut d = Download::new("h", "/p", 8).unwrap();
        request(&mut d);
        assert_eq!(
            d.handle_input(b"garbage\r\n\r\n", &mut |_, _, _| {}),
            Err(HttpError::Malformed)
        );
        let mut d = Download::new("h", "/p", 8).unwrap();
        request(&mut d);
        let long = [b'a'; MAX_HEADER_LEN + 1];
        assert_eq!(
            d.handle_input(&long, &mut |_, _, _| {}),
            Err(HttpError::HeadersTooLong)
        );
        assert_eq!(
            Download::new("", "/p", 8).err(),
            Some(HttpError::InvalidLocation)
        );
        assert_eq!(
            Download::new("h", "/a b", 8).err(),
            Some(HttpError::InvalidLocation)
        );
        assert_eq!(
            Download::new("h", "/p", 0).err(),
            Some(HttpError::InvalidLocation)
        );
    }

    #[test]
    fn arbitrary_input_never_panics() {
        // Pseudo-random bytes, and mutations of a valid response, in random-sized pieces.
        let valid = response(0, b"0123", 10);
        let mut x: u32 = 0x1234_5678;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for round in 0..2000 {
            let mut d = Download::new("h", "/p", 4).unwrap();
            request(&mut d);
            let mut data = [0u8; 96];
            let len = (next() % 96) as usize;
            if round % 2 == 0 {
                let n = valid.len().min(len);
                data[..n].copy_from_slice(&valid[..n]);
                for _ in 0..(next() % 4) {
                    let i = (next() as usize) % len.max(1);
                    data[i] = next() as u8;
                }
            } else {
                for b in data.iter_mut().take(len) {
                    *b = next() as u8;
                }
            }
            let mut at = 0;
            while at < len {
                let piece = 1 + (next() as usize) % (len - at);
                match d.handle_input(&data[at..at + piece], &mut |_, _, _| {}) {
                    Ok((used, _)) if used > 0 => at += used,
                    _ => break,
                }
            }
        }
    }

    #[test]
    fn server_without_ranges_sends_the_whole_image() {
        let mut d = Download::new("h", "/p", 4).unwrap();
        request(&mut d);
        let mut n = 0;
        let (_, p) = d
            .handle_input(
                b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef",
                &mut |_, b, _| n += b.len(),
            )
            .unwrap();
        assert_eq!((p, n), (Progress::Done, 6));
    }
}
