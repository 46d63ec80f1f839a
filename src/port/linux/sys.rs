//! The two system calls std does not offer: waiting for input with a timeout without owning the
//! socket (poll(2)), and a read that never blocks on a blocking socket (recv with MSG_DONTWAIT).

use std::io;
use std::os::fd::RawFd;

/// Waits until `fd` is readable (or closed, or failed). `timeout_ms` `None` waits forever.
/// Returns `Ok(false)` on timeout.
pub(crate) fn wait_readable(fd: RawFd, timeout_ms: Option<u64>) -> io::Result<bool> {
    let timeout: libc::c_int = match timeout_ms {
        None => -1,
        Some(ms) => libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX),
    };
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is a valid, initialised `pollfd` that lives across the call, and nfds (1)
        // is the number of entries it points to. `fd` is owned by the connection, which only the
        // polling thread drops, so it is open for the whole call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A reader over a socket descriptor that returns `WouldBlock` instead of waiting, whatever the
/// socket's blocking mode (writers on other threads keep their blocking writes and send timeout).
pub(crate) struct NoWait(pub(crate) RawFd);

impl io::Read for NoWait {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the
            // call; the descriptor is open (see `wait_readable`).
            let n = unsafe {
                libc::recv(
                    self.0,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                // Non-negative and at most `buf.len()`, so it fits.
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
