//! The worker thread: waits for a connection from `connect()`, then reads the socket, feeds the
//! framer and the client, sends keep-alive PINGREQs, and delivers the events. It holds the link
//! lock only to touch the client, never while it waits for the socket or runs the handler.

use core::ffi::{c_int, c_void};

#[cfg(not(feature = "dps"))]
use super::RX;
use super::{
    handler, net, session, sys, CloseReason, HubClient, PortEvent, RxBuf, LINK, LOG_HUB,
    LOG_TRANSPORT,
};
use crate::hub::{Event, ProtocolError};
use crate::mqtt::{Framed, Framer};

/// Longest single wait for input: how quickly `disconnect()`/`abort()` from another thread is
/// noticed (Zephyr's `shutdown()` does not wake a `poll()` on every socket type).
const POLL_SLICE_MS: u64 = 100;

/// The worker thread's entry: the glue's `azhub_z_thread_start` passes it to
/// `k_thread_create` itself (a `k_thread_entry_t`, no trampoline; the arguments are NULL).
#[no_mangle]
pub extern "C" fn azhub_rs_worker(_p1: *mut c_void, _p2: *mut c_void, _p3: *mut c_void) {
    // Without DPS the receive buffer is this thread's for good: reached without a claim, so
    // that there is no "already taken" exit to compile (nothing else takes it).
    // SAFETY: the glue runs this entry on its one thread, started once per boot
    // (`HubClient::new`, after it claimed `TX` under the link lock; the glue's contract), and
    // without DPS nothing else reaches `RX`: this is the only reference to the buffer, for good.
    #[cfg(not(feature = "dps"))]
    let mut framer = Framer::nul_terminated(unsafe { &mut *RX.ptr() } as &mut [u8]);
    loop {
        // Waiting forever, k_sem_take() returns 0: no result to test.
        // SAFETY: a glue semaphore id; waiting forever is allowed on this thread.
        unsafe { sys::azhub_z_sem_take(sys::SEM_START, sys::FOREVER) };
        #[cfg(not(feature = "dps"))]
        let fd = LINK.lock().fd;
        // With DPS, also the buffer `connect()` lent for this connection: it sets both before
        // it wakes this thread. The buffer goes back before the connection's end is reported,
        // so that a registration started then can have it.
        #[cfg(feature = "dps")]
        let (fd, Some(mut framer)) = ({
            let mut link = LINK.lock();
            (link.fd, link.rx.take().map(Framer::nul_terminated))
        }) else {
            continue;
        };
        // No test of `fd`: the semaphore is given only by `net::connect_from`, after it set
        // `link.fd` to the socket `establish` opened (>= 0), and only this thread's `finish`
        // sets it back to -1 (`close_link`) once that connection is served (a failed connect
        // closes it without waking this thread; with DPS the receive buffer is handed over
        // with the socket, before the same give).
        framer.reset();
        let reason = serve(&mut framer, fd);
        #[cfg(feature = "dps")]
        drop(framer);
        finish(reason);
    }
}

/// Logs `event` (debug) and hands it to the handler.
#[inline]
pub(super) fn deliver(event: &PortEvent<'_>) {
    ::log::debug!(target: LOG_HUB, "event: {event:?}");
    emit(event);
}

/// Hands `event` to the handler, if one is registered (without a log line: for the events
/// their callers log themselves). Every event is handed over on the worker thread.
#[inline(never)]
pub(super) fn emit(event: &PortEvent<'_>) {
    if let Some(h) = handler() {
        h(&HubClient { _private: () }, event);
    }
}

fn protocol_error(e: ProtocolError) -> CloseReason {
    ::log::error!(target: LOG_TRANSPORT, "protocol error: {e:?}");
    deliver(&PortEvent::ProtocolError(e));
    CloseReason::Protocol(e)
}

fn serve(framer: &mut Framer<RxBuf>, fd: c_int) -> CloseReason {
    loop {
        // 1. Every packet the framer holds, one event each.
        loop {
            let framed = match framer.next() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return protocol_error(ProtocolError::Frame(e)),
            };
            let mut link = LINK.lock();
            if link.close_requested {
                return CloseReason::Requested;
            }
            let now = sys::now_ms();
            let Some(client) = link.client.as_mut() else {
                return CloseReason::Transport;
            };
            let handled = match framed {
                Framed::Packet { header, body } => client.handle_packet(header, body, now),
                Framed::Oversize { header, prefix } => client.handle_oversize(header, prefix, now),
            };
            // Borrowed where the core's result is (delivered by reference: no copy).
            let event = match handled {
                Ok(ref event) => event,
                Err(e) => {
                    drop(link);
                    return protocol_error(e);
                }
            };
            // PUBACK, SUBSCRIBE, the twin GET, then the outbox's re-sends: on the wire before the
            // application sees the event.
            let flushed = net::flush(&mut link, now)
                .and_then(|()| session::on_event(&mut link, fd, event, now));
            drop(link);
            if let Event::MessageTooLarge { topic, size } = *event {
                ::log::warn!(target: LOG_HUB, "incoming message of {size} bytes on {topic:?} exceeds the receive buffer; skipped");
            }
            deliver(&PortEvent::Hub(event));
            if let Event::ConnectionRefused { return_code } = *event {
                ::log::warn!(target: LOG_TRANSPORT, "connection refused, CONNACK return code {return_code}");
                return CloseReason::Refused;
            }
            if flushed.is_err() {
                return CloseReason::Transport;
            }
        }

        // 2. Keep-alive, and how long to wait.
        let mut link = LINK.lock();
        if link.close_requested {
            return CloseReason::Requested;
        }
        if link.broken {
            return CloseReason::Transport;
        }
        let now = sys::now_ms();
        // No test of the slot: the worker runs only once `HubClient::new` set the client up (it
        // starts the thread after that). (The same in the packet loop above costs hub +13 B.)
        let client = link.client.get_mut();
        if let Err(e) = client.handle_timeout(now) {
            drop(link);
            return protocol_error(e);
        }
        let deadline = client.poll_timeout();
        if net::flush(&mut link, now).is_err() {
            return CloseReason::Transport;
        }
        // SAS: a fresh token needs a new connection (MQTT 3.1.1 cannot re-authenticate).
        if session::renew_if_due(&mut link, now) {
            return CloseReason::TokenRenewal;
        }
        let deadline = match (deadline, session::renewal_deadline(&link)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        drop(link);
        let wait = deadline
            .map_or(POLL_SLICE_MS, |d| d.saturating_sub(now))
            .min(POLL_SLICE_MS);

        // 3. Wait for input, without the lock; 4. read what is there.
        if !receive(framer, fd, wait as c_int) {
            return CloseReason::Transport;
        }
    }
}

/// Waits up to `wait_ms` for input on `fd` and reads what there is into `framer`: the
/// connection's receive step, for the worker and the DPS thread. `false` when the connection is
/// lost (logged); `true` when it goes on (bytes read, none yet, or a call interrupted).
// With DPS two threads call it; without, the worker alone, where inlining it costs nothing.
#[cfg_attr(not(feature = "dps"), inline(always))]
pub(super) fn receive(framer: &mut Framer<RxBuf>, fd: c_int, wait_ms: c_int) -> bool {
    let c = sys::consts();
    // SAFETY: plain system call on the caller's open socket.
    let revents = unsafe { sys::azhub_z_poll(fd, c.pollin, wait_ms) };
    if revents < 0 {
        return interrupted(::log::Level::Error, "poll() failed");
    }
    if revents == 0 {
        return true;
    }
    let (ok, bad) = (c.pollin | c.pollhup, c.pollerr | c.pollnval);
    if revents & c_int::from(ok) == 0 && revents & c_int::from(bad) != 0 {
        ::log::info!(target: LOG_TRANSPORT, "socket error (revents {revents:#x})");
        return false;
    }
    let spare = framer.spare();
    if spare.is_empty() {
        // The framer reports an oversize packet before its buffer is full; not reached.
        ::log::error!(target: LOG_TRANSPORT, "receive buffer full without a packet");
        return false;
    }
    // SAFETY: `spare` is valid for writes of its length for the duration of the call.
    let n =
        unsafe { sys::azhub_z_recv(fd, spare.as_mut_ptr().cast(), spare.len(), c.msg_dontwait) };
    if n == 0 {
        ::log::info!(target: LOG_TRANSPORT, "the server closed the connection");
        return false;
    }
    if n < 0 {
        return interrupted(::log::Level::Info, "connection lost");
    }
    framer.commit(usize::try_from(n).unwrap_or(0));
    true
}

/// After a failed poll() or recv(): true (go on) when the call was interrupted or found nothing
/// to read (EINTR, EAGAIN), else false, with `what` and the errno logged at `level`. One test
/// for both calls (poll() does not report EAGAIN, so it goes on only after EINTR, as before).
fn interrupted(level: ::log::Level, what: &str) -> bool {
    let c = sys::consts();
    let e = sys::errno();
    if e == c.eagain || e == c.eintr {
        return true;
    }
    ::log::log!(target: LOG_TRANSPORT, level, "{what}: errno {e}");
    false
}

/// Forgets the connection, closes the socket and delivers `Disconnected` (or, when the session
/// reconnects, `ConnectionLost` and then runs the retry loop). A connection started meanwhile
/// delivers its events after this one's end: this thread serves it once this returns.
fn finish(reason: CloseReason) {
    let (reason, generation, (retry_in_ms, had_session)) = {
        let mut link = LINK.lock();
        let reason = if link.close_requested {
            CloseReason::Requested
        } else {
            reason
        };
        net::close_link(&mut link);
        // Automatic reconnect / SAS renewal: does the session go on?
        let next = session::after_loss(&mut link, reason);
        (reason, link.generation, next)
    };
    ::log::info!(target: LOG_TRANSPORT, "disconnected: {reason:?}");
    let event = match retry_in_ms {
        Some(retry_in_ms) => {
            ::log::info!(target: LOG_TRANSPORT, "reconnecting in {retry_in_ms} ms");
            PortEvent::ConnectionLost {
                reason,
                retry_in_ms,
            }
        }
        None => PortEvent::Disconnected(reason),
    };
    emit(&event);
    let mut link = LINK.lock();
    link.finished = link.finished.max(generation);
    drop(link);
    // SAFETY: a glue semaphore id.
    unsafe { sys::azhub_z_sem_give(sys::SEM_FINISHED) };
    if retry_in_ms.is_some() {
        session::retry_loop();
    } else if had_session {
        // The session's final event was delivered.
        session::ended();
    }
}
