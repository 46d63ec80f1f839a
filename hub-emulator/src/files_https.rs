//! The firmware file server over HTTPS, for FOTA downloads: the files uploaded with
//! `PUT /files/{path}` on the service API are served at `https://<files addr>/{path}` (and at
//! `/files/{path}`), with the emulator's server certificate (the same CA as MQTT). HTTP/1.1 with
//! keep-alive, `GET` and `HEAD`, one `Range: bytes=a-b` (also `a-` and `-n`) → 206.
//!
//! In-process tests drive faults through [`FileServerControl`] (see [`crate::Emulator::file_server`]):
//! hold responses back (so a test can observe a download in progress), cut the next response after
//! N body bytes (a dropped connection mid-download), and count requests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// Largest request header block.
const MAX_REQUEST: usize = 8192;
const NO_CUT: u64 = u64::MAX;

/// Fault knobs and counters of the HTTPS file server.
#[derive(Debug)]
pub struct FileServerControl {
    paused: AtomicBool,
    cut_after: AtomicU64,
    requests: AtomicU64,
    cuts: AtomicU64,
}

impl Default for FileServerControl {
    fn default() -> Self {
        FileServerControl {
            paused: AtomicBool::new(false),
            cut_after: AtomicU64::new(NO_CUT),
            requests: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
        }
    }
}

impl FileServerControl {
    /// While paused, requests are read but answered only after [`FileServerControl::set_paused`]
    /// `(false)`.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }
    /// The next response body is cut after `bytes` bytes and its connection closed (once).
    pub fn cut_next_response_after(&self, bytes: u64) {
        self.cut_after.store(bytes, Ordering::SeqCst);
    }
    /// Requests answered so far (any status).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    /// Connections cut by [`FileServerControl::cut_next_response_after`] so far.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst)
    }
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    files: PathBuf,
    ctl: Arc<FileServerControl>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Small responses must not wait for the peer's delayed ACK (Nagle).
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let files = files.clone();
        let ctl = ctl.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!("files: TLS handshake with {peer} failed: {e}");
                        return;
                    }
                    Err(_) => return,
                };
            if let Err(e) = serve(tls, &files, &ctl).await {
                tracing::debug!("files: connection from {peer}: {e}");
            }
        });
    }
}

struct Request {
    method: String,
    path: String,
    range: Option<String>,
    close: bool,
}

fn parse_request(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?;
    let version = first.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut range = None;
    let mut close = version == "HTTP/1.0";
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("range") {
            range = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let path = target.split('?').next()?.trim_start_matches('/');
    let path = path.strip_prefix("files/").unwrap_or(path).to_string();
    Some(Request {
        method,
        path,
        range,
        close,
    })
}

fn file_path(files: &std::path::Path, path: &str) -> Option<PathBuf> {
    let mut p = files.to_path_buf();
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." || seg.contains('\\') {
            return None;
        }
        p.push(seg);
    }
    Some(p)
}

/// `(start, end)` inclusive, or None when unsatisfiable.
fn range_of(spec: &str, len: usize) -> Option<(usize, usize)> {
    let r = spec.strip_prefix("bytes=")?;
    let (a, b) = r.split_once('-')?;
    let (start, end) = match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
        (Ok(s), Ok(e)) => (s, e.min(len.saturating_sub(1))),
        (Ok(s), Err(_)) if b.trim().is_empty() => (s, len.saturating_sub(1)),
        (Err(_), Ok(n)) if a.trim().is_empty() && n > 0 => {
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        _ => return None,
    };
    (start < len && start <= end).then_some((start, end))
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    files: &std::path::Path,
    ctl: &FileServerControl,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // One request head.
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_REQUEST {
                s.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
                return Ok(());
            }
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        while ctl.paused.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ctl.requests.fetch_add(1, Ordering::SeqCst);
        let Some(req) = parse_request(&head) else {
            s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
            return Ok(());
        };
        let conn = if req.close { "close" } else { "keep-alive" };
        if req.method != "GET" && req.method != "HEAD" {
            let h = format!("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: {conn}\r\n\r\n");
            s.write_all(h.as_bytes()).await?;
            if req.close {
                return Ok(());
            }
            continue;
        }
        let data = match file_path(files, &req.path).map(std::fs::read) {
            Some(Ok(d)) => d,
            _ => {
                tracing::info!("files: {} {} -> 404", req.method, req.path);
                let h = format!(
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: {conn}\r\n\r\n"
                );
                s.write_all(h.as_bytes()).await?;
                if req.close {
                    return Ok(());
                }
                continue;
            }
        };
        let len = data.len();
        let (head, body) = match &req.range {
            Some(spec) => match range_of(spec, len) {
                Some((a, b)) => (
                    format!("HTTP/1.1 206 Partial Content\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {a}-{b}/{len}\r\nContent-Length: {}\r\nConnection: {conn}\r\n\r\n", b - a + 1),
                    &data[a..=b],
                ),
                None => (
                    format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: {conn}\r\n\r\n"),
                    &data[..0],
                ),
            },
            None => (
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: {conn}\r\n\r\n"),
                &data[..],
            ),
        };
        tracing::info!(
            "files: {} {} {:?} -> {}",
            req.method,
            req.path,
            req.range,
            &head[9..12]
        );
        // Head and body in one write (one TLS record when small).
        let mut out = head.into_bytes();
        if req.method == "GET" {
            let cut = ctl.cut_after.swap(NO_CUT, Ordering::SeqCst);
            if cut != NO_CUT && (cut as usize) < body.len() {
                out.extend_from_slice(&body[..cut as usize]);
                s.write_all(&out).await?;
                s.flush().await?;
                ctl.cuts.fetch_add(1, Ordering::SeqCst);
                tracing::info!("files: connection cut after {cut} body bytes (fault)");
                // Close the TCP connection without a TLS close_notify: a dropped connection.
                return Ok(());
            } else if cut != NO_CUT {
                // Not reached in this response: keep it armed for the next one.
                let _ = ctl.cut_after.compare_exchange(
                    NO_CUT,
                    cut - body.len() as u64,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            }
            out.extend_from_slice(body);
        }
        s.write_all(&out).await?;
        s.flush().await?;
        if req.close {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(range_of("bytes=0-3", 10), Some((0, 3)));
        assert_eq!(range_of("bytes=8-20", 10), Some((8, 9)));
        assert_eq!(range_of("bytes=4-", 10), Some((4, 9)));
        assert_eq!(range_of("bytes=-3", 10), Some((7, 9)));
        assert_eq!(range_of("bytes=10-12", 10), None);
        assert_eq!(range_of("bytes=5-2", 10), None);
        assert_eq!(range_of("bytes=x", 10), None);
        assert_eq!(range_of("items=0-1", 10), None);
    }

    #[test]
    fn requests() {
        let r =
            parse_request("GET /files/fw/a.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n")
                .unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "fw/a.bin"));
        assert_eq!(r.range.as_deref(), Some("bytes=0-9"));
        assert!(!r.close);
        let r = parse_request("GET /a.bin HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.path, "a.bin");
        assert!(r.close);
        assert!(parse_request("GET /a SPDY\r\n\r\n").is_none());
        assert!(parse_request("nonsense").is_none());
        assert!(file_path(std::path::Path::new("/f"), "../etc/passwd").is_none());
    }
}
