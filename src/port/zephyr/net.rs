//! The application-thread side: connecting and publishing over a Zephyr (TLS) socket.

use core::ffi::{c_int, c_void};
use core::mem::{size_of, MaybeUninit};

use super::{session, sys, ConnectError, Link, SendError, Target, LINK, LOG_HUB, LOG_TRANSPORT};
use crate::hub::{self, Message};

/// Room for any socket address (`struct sockaddr_in6` is 24 bytes in Zephyr).
const SOCKADDR_ROOM: usize = 64;

/// Writes all of `bytes` (blocking, under `SO_SNDTIMEO`). Returns the errno on failure (0 when
/// send() wrote nothing). The loop is the glue's (`azhub_z_send_all`).
// Inlined without DPS (flush and publish, -14 B); with DPS, whose thread writes too, called.
#[cfg_attr(not(feature = "dps"), inline(always))]
#[cfg_attr(feature = "dps", inline)]
pub(crate) fn send_all(fd: c_int, bytes: &[u8]) -> Result<(), i32> {
    // SAFETY: `bytes` is valid for reads of its length for the duration of the call.
    let e = unsafe { sys::azhub_z_send_all(fd, bytes.as_ptr().cast(), bytes.len()) };
    if e < 0 {
        Ok(())
    } else {
        Err(e)
    }
}

fn break_link(link: &mut Link, err: i32) {
    ::log::warn!(target: LOG_TRANSPORT, "write failed: errno {err}; closing the connection");
    link.broken = true;
}

/// Writes the client's queued packets.
pub(crate) fn flush(link: &mut Link, now_ms: u64) -> Result<(), i32> {
    let fd = link.fd;
    let result = (|| {
        let client = link.client.get_mut();
        if fd < 0 {
            return Err(0);
        }
        // Once: `send_all` writes the whole queue, and marking it written empties it.
        if let Some(bytes) = client.poll_transmit() {
            let n = bytes.len();
            send_all(fd, bytes)?;
            client.transmit_complete(n, now_ms);
        }
        Ok(())
    })();
    if let Err(e) = result {
        break_link(link, e);
    }
    result
}

pub(crate) fn publish(msg: &Message<'_>) -> Result<u16, SendError> {
    let mut link = LINK.lock();
    // Without a socket (-1) the client is not connected either (`close_link` sets both; the
    // state reaches Connected only through a CONNACK read from the socket): the core refuses
    // it as not connected, as this test would.
    if link.broken {
        return Err(SendError::Publish(hub::PublishError::NotConnected));
    }
    let now = sys::now_ms();
    let fd = link.fd;
    let Link { client, ext, .. } = &mut *link;
    // A handle (the only way here) exists only once the client does (`ClientSlot::get_mut`).
    let client = client.get_mut();
    let mut out = client.publish(msg, now).map_err(SendError::Publish)?;
    // One send, so one TLS record, for a packet whose payload fits in the transmit buffer
    // after its header: Zephyr's TLS sockets (and offloaded TLS) make a record of every send,
    // and of every buffer of a sendmsg. A larger payload goes in a second send.
    out.gather();
    let packet_id = out.packet_id;
    // A persistent session keeps a copy until PUBACK (or says it has no room).
    let stored = match session::store(ext, msg.qos, packet_id, &[out.packet_header(), out.body()]) {
        Ok(stored) => stored,
        Err(e) => {
            drop(out);
            return Err(SendError::Publish(e));
        }
    };
    let (head, body) = (out.head(), out.body());
    let size = head.len() + body.len();
    // One call site for both parts (the body is empty once gathered).
    let written = [head, body]
        .into_iter()
        .try_for_each(|part| send_all(fd, part));
    match written {
        Ok(()) => {
            out.sent();
            client.packet_written(now);
            ::log::debug!(target: LOG_HUB, "published {size} bytes, packet id {packet_id}");
            Ok(packet_id)
        }
        Err(e) => {
            drop(out);
            break_link(&mut link, e);
            if stored {
                // Kept in the outbox: it goes out again (DUP) after the reconnect.
                return Ok(packet_id);
            }
            Err(SendError::Io(e))
        }
    }
}

/// Room for a host name as a C string (at most 128 bytes and the NUL), filled by [`c_string`].
/// Not zeroed first: C reads it only up to the NUL that `c_string` writes.
type CName = [MaybeUninit<u8>; 130];

/// Writes `s` NUL-terminated into `buf` (host names are at most 128 bytes); false if it does
/// not fit or holds a NUL. One byte loop, into the caller's buffer: no 130-byte return copy.
fn c_string(s: &str, buf: &mut CName) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() >= buf.len() {
        return false;
    }
    let mut end = 0;
    for (d, &b) in buf.iter_mut().zip(bytes) {
        if b == 0 {
            return false;
        }
        d.write(b);
        end += 1;
    }
    if let Some(nul) = buf.get_mut(end) {
        nul.write(0);
    }
    true
}

/// Sets a socket option; the errno on failure. `len` is the size of what `value` points to.
fn setsockopt_raw(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: usize,
) -> Result<(), i32> {
    // SAFETY: the caller passes a pointer valid for `len` bytes for the duration of the call.
    if unsafe { sys::azhub_z_setsockopt(fd, level, name, value, len) } < 0 {
        Err(sys::errno())
    } else {
        Ok(())
    }
}

/// Sets a TLS option (`SOL_TLS`) to an `int`, a tag list or a string; the errno on failure.
/// One called copy for the four TLS options.
#[inline(never)]
fn tls_option(fd: c_int, name: c_int, value: *const c_void, len: usize) -> Result<(), i32> {
    setsockopt_raw(fd, sys::consts().sol_tls, name, value, len)
}

/// Opens and connects the socket; returns it (the TLS handshake is part of connect). Also the
/// DPS connection's (`dps.rs`).
// Not inlined, also where `connect_from` is its only caller (builds without DPS): its error
// paths then return their `ConnectError` as they are, instead of being merged with the
// caller's result handling.
#[inline(never)]
pub(crate) fn establish<T: Target>(config: &T) -> Result<c_int, ConnectError> {
    let c = sys::consts();
    let host = if config.static_ip().is_empty() {
        config.hostname()
    } else {
        config.static_ip()
    };
    // One buffer for the name to resolve and then the TLS host name (the same text unless a
    // static IP is set).
    let mut name: CName = [MaybeUninit::uninit(); 130];
    if !c_string(host, &mut name) {
        return Err(ConnectError::Dns(-c.einval));
    }
    // Not zeroed first: only the resolver's bytes are read (the family here, the `addrlen`
    // bytes by C).
    let mut addr = [MaybeUninit::<u8>::uninit(); SOCKADDR_ROOM];
    // SAFETY: every pointer is valid for the call; `addr` has room for any address.
    let rc = unsafe {
        sys::azhub_z_resolve(
            name.as_ptr().cast(),
            config.port(),
            addr.as_mut_ptr().cast(),
        )
    };
    if rc != 0 {
        ::log::error!(target: LOG_TRANSPORT, "getaddrinfo() failed for {host}: {rc}");
        return Err(ConnectError::Dns(rc));
    }
    // SAFETY: the resolver succeeded, so `addr` holds its address.
    let (family, addrlen) = unsafe { sys::resolved_family(addr.as_ptr().cast()) };
    let proto = if config.tls() {
        c.ipproto_tls_1_2
    } else {
        c.ipproto_tcp
    };
    // SAFETY: plain system call.
    let fd = unsafe { sys::azhub_z_socket(family, c.sock_stream, proto) };
    if fd < 0 {
        let e = sys::errno();
        ::log::error!(target: LOG_TRANSPORT, "socket() failed: errno {e}");
        return Err(ConnectError::Tcp(e));
    }
    // One close for every failure after the socket was opened.
    if let Err(e) = set_up(fd, config, host, &mut name, &addr, addrlen) {
        // SAFETY: `fd` is the socket opened above, not yet shared.
        unsafe { sys::azhub_z_close(fd) };
        return Err(e);
    }
    Ok(fd)
}

/// The socket's options (TLS, send timeout), then connect (with the TLS handshake).
fn set_up<T: Target>(
    fd: c_int,
    config: &T,
    host: &str,
    name: &mut CName,
    addr: &[MaybeUninit<u8>; SOCKADDR_ROOM],
    addrlen: usize,
) -> Result<(), ConnectError> {
    let c = sys::consts();
    if config.tls() {
        // Every failure of the TLS setup is `Tls`: one conversion for all of them.
        set_up_tls(fd, config, name).map_err(ConnectError::Tls)?;
    }
    if let Some(secs) = config.send_timeout_secs() {
        // `tv_sec` is `long` or `time_t` depending on the libc: not always wider than u32.
        #[allow(clippy::unnecessary_fallible_conversions)]
        let tv = super::bindings::azhub_timeval_t {
            tv_sec: secs.try_into().unwrap_or(i32::MAX.into()),
            ..Default::default()
        };
        let tv_len = size_of::<super::bindings::azhub_timeval_t>();
        let tv_ptr = (&tv as *const super::bindings::azhub_timeval_t).cast();
        if let Err(e) = setsockopt_raw(fd, c.sol_socket, c.so_sndtimeo, tv_ptr, tv_len) {
            ::log::warn!(target: LOG_TRANSPORT, "cannot set the send timeout: errno {e}");
        }
    }
    // SAFETY: `addr` holds `addrlen` bytes of a socket address written by the resolver (connect
    // reads only those).
    if unsafe { sys::azhub_z_connect(fd, addr.as_ptr().cast(), addrlen) } < 0 {
        let e = sys::errno();
        ::log::error!(target: LOG_TRANSPORT, "connect() to {host}:{} failed: errno {e}", config.port());
        return Err(ConnectError::Tcp(e));
    }
    Ok(())
}

/// The TLS options (security tags, host name, peer verification, `TLS_NATIVE`): the errno of
/// the first that failed.
fn set_up_tls<T: Target>(fd: c_int, config: &T, name: &mut CName) -> Result<(), i32> {
    let c = sys::consts();
    // The secondary tag is passed only when there is one (the length leaves it out).
    let cred = config.credentials();
    let tags = [cred.sec_tag, cred.secondary_sec_tag];
    let ntags = if tags[1] != -1 { 2 } else { 1 };
    tls_option(
        fd,
        c.tls_sec_tag_list,
        tags.as_ptr().cast(),
        ntags * size_of::<i32>(),
    )?;
    if !config.static_ip().is_empty() && !c_string(config.hostname(), name) {
        return Err(c.einval);
    }
    tls_option(
        fd,
        c.tls_hostname,
        name.as_ptr().cast(),
        config.hostname().len() + 1,
    )?;
    let verify: c_int = c.tls_peer_verify_required;
    tls_option(
        fd,
        c.tls_peer_verify,
        (&verify as *const c_int).cast(),
        size_of::<c_int>(),
    )?;
    if config.native_tls() {
        if c.tls_native < 0 {
            ::log::error!(target: LOG_TRANSPORT, "TLS_NATIVE is not available in this Zephyr");
            return Err(c.enotsup);
        }
        let one: c_int = 1;
        tls_option(
            fd,
            c.tls_native,
            (&one as *const c_int).cast(),
            size_of::<c_int>(),
        )?;
    }
    Ok(())
}

pub(crate) fn connect<T: Target>(config: &T) -> Result<(), ConnectError> {
    connect_from(config, false)
}

/// `connect()`, also for the retry loop (`from_retry`: the session's own attempt, which may run
/// while the session is between connections).
pub(crate) fn connect_from<T: Target>(config: &T, from_retry: bool) -> Result<(), ConnectError> {
    let (generation, rx) = {
        let mut link = LINK.lock();
        if link.active || (session::is_reconnecting(&link) && !from_retry) {
            return Err(ConnectError::Busy);
        }
        // The receive buffer (with DPS: unless a registration holds it; every failure below
        // gives it back by dropping it).
        let rx = super::lend_rx()?;
        // CONNECT with what the extensions add (session, SAS token, model ID).
        session::connect_client(&mut link, config, sys::now_ms())?;
        link.active = true;
        link.close_requested = false;
        link.broken = false;
        link.generation += 1;
        (link.generation, rx)
    };
    ::log::info!(target: LOG_TRANSPORT, "connecting to {}:{} as {}", config.hostname(), config.port(), config.device_id());
    let established = establish(config);
    let mut link = LINK.lock();
    let result = established.and_then(|fd| {
        link.fd = fd;
        if link.close_requested {
            return Err(ConnectError::Tcp(sys::consts().econnaborted));
        }
        flush(&mut link, sys::now_ms()).map_err(ConnectError::Tcp)
    });
    match result {
        Ok(()) => {
            ::log::info!(target: LOG_TRANSPORT, "connected, CONNECT sent");
            session::started(&mut link, config, from_retry);
            super::hand_rx(&mut link, rx);
            drop(link);
            // SAFETY: a glue semaphore id.
            unsafe { sys::azhub_z_sem_give(sys::SEM_START) };
            Ok(())
        }
        Err(e) => {
            ::log::warn!(target: LOG_TRANSPORT, "connect failed: {e}");
            close_link(&mut link);
            link.finished = generation;
            Err(e)
        }
    }
}

/// Forgets the connection: closes its socket (if any), tells the client, clears the flags. One
/// called copy for a connection that failed before the worker had it (`connect_from`), one
/// that ended (the worker's `finish`), and the zero client's setup (`HubClient::new`, with no
/// socket yet).
pub(crate) fn close_link(link: &mut Link) {
    if link.fd >= 0 {
        // SAFETY: the link's socket, which only its owner closes: `connect_from` before it wakes
        // the worker (the socket `establish` opened), the worker once it served the connection.
        unsafe { sys::azhub_z_close(link.fd) };
    }
    link.fd = -1;
    link.client.get_mut().handle_closed();
    link.active = false;
    link.close_requested = false;
    link.broken = false;
}
