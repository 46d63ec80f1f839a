//! The extensions at work in the port: a session that outlives its connections (automatic
//! reconnect, SAS token renewal), and the persistent session's QoS 1 outbox.
//!
//! The retry loop runs on the worker of the connection that was lost: it delivers
//! `ConnectionLost`, waits for the policy's deadline (a condition variable, so `disconnect()`
//! wakes it at once), delivers `Reconnecting` and calls the same `net::connect` as the
//! application, which starts a fresh worker for the new connection. The session's bookkeeping
//! and the outbox's use ([`crate::hub::session`], shared with the Zephyr port) and the policy
//! ([`crate::hub::reconnect::Reconnect`]) are the core's, tested on a virtual clock.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;
use std::vec;

use super::extensions::{hub_sas_token, random_u32};
use super::{
    net, CloseReason, ConnectConfig, ConnectError, HubClient, Link, PortEvent, Shared,
    LOG_TRANSPORT,
};
use crate::hub::outbox::Outbox;
use crate::hub::reconnect::Loss;
use crate::hub::session::{self as core_session, Next};
use crate::hub::{Event, PublishError};
use crate::mqtt::QoS;

std::thread_local! {
    /// Set while the retry loop calls `net::connect` on this thread.
    static IN_RETRY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True when `net::connect` was called by the retry loop.
pub(crate) fn from_retry() -> bool {
    IN_RETRY.with(|f| f.get())
}

/// An application session that the library keeps alive across connections (the core's, with
/// the configuration the application connected with: the token is made again each time).
pub(crate) type Session = core_session::Session<ConnectConfig>;

/// Called by `net::connect` under the lock, before anything else: makes the configuration this
/// connection uses (a fresh SAS token, clean session 0 for a persistent session) and sets up the
/// outbox and the C2D QoS.
pub(crate) fn prepare(
    link: &mut Link,
    config: &ConnectConfig,
) -> Result<ConnectConfig, ConnectError> {
    let mut c = config.clone();
    let ext = &config.extensions;
    if let Some(key) = &ext.sas_key {
        let token = hub_sas_token(&c.hostname, &c.device_id, key, ext.sas_validity_secs)
            .map_err(|e| ConnectError::Tls(std::format!("SAS key unusable: {e:?}")))?;
        c.password = Some(token);
    }
    if ext.persistent_session {
        c.options.clean_session = false;
        let size = ext.qos1_queue_size;
        let keep = link.outbox.as_ref().is_some_and(|o| o.capacity() == size);
        if !keep {
            let mut fresh = Outbox::new(vec![0u8; size]);
            if let Some(old) = &link.outbox {
                for (id, p) in old.packets() {
                    if fresh.store(id, &[p]).is_err() {
                        log::warn!(target: LOG_TRANSPORT, "outbox shrunk: message {id} dropped");
                    }
                }
            }
            link.outbox = Some(fresh);
        }
    } else {
        // A clean session: the hub forgets the packet IDs, so nothing can be resent.
        link.outbox = None;
    }
    Ok(c)
}

/// Called by `net::connect` under the lock once the connection's worker runs: an application
/// connect starts a session when an extension needs one; a retry ends the session's wait.
pub(crate) fn started(link: &mut Link, config: &ConnectConfig, from_retry: bool) {
    let ext = &config.extensions;
    if from_retry {
        if let Some(s) = link.session.as_mut() {
            s.attempt_started();
        }
    } else {
        link.session = core_session::needed(&ext.reconnect, ext.sas_key.is_some()).then(|| {
            Session::new(
                config.clone(),
                ext.reconnect,
                ext.sas_key.as_ref().map(|_| ext.sas_validity_secs),
            )
        });
    }
}

/// A QoS 1 publish about to be written: keep a copy in the outbox, or refuse when it is full.
/// Returns true when the message was stored.
pub(crate) fn store(
    outbox: &mut Option<Outbox<std::vec::Vec<u8>>>,
    qos: QoS,
    packet_id: u16,
    parts: &[&[u8]],
) -> Result<bool, PublishError> {
    core_session::store(outbox.as_mut(), qos, packet_id, parts)
}

/// What an event means for the session, under the lock and after the client's own packets were
/// flushed: CONNACK starts the renewal clock and re-sends the outbox with DUP; PUBACK frees its
/// message.
pub(crate) fn on_event(link: &mut Link, event: &Event<'_>, now_ms: u64) -> io::Result<()> {
    match *event {
        Event::Connected { session_present } => {
            if let Some(s) = link.session.as_mut() {
                s.connected(now_ms);
            }
            let Link {
                outbox,
                conn,
                resent,
                ..
            } = link;
            if let (Some(o), Some(conn)) = (outbox.as_mut(), conn.as_mut()) {
                if !o.is_empty() {
                    *resent += o.count() as u64;
                    log::info!(target: LOG_TRANSPORT, "re-sending {} unacknowledged QoS 1 message(s) (session present: {session_present})", o.count());
                    core_session::resend(o, |p| net::write_all(conn, p, &[]))?;
                }
            }
            Ok(())
        }
        Event::Puback { packet_id } => {
            if let Some(o) = link.outbox.as_mut() {
                o.ack(packet_id);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The renewal deadline of the connected session's token, if any.
pub(crate) fn renewal_deadline(link: &Link) -> Option<u64> {
    link.session.as_ref()?.renewal_deadline()
}

/// When the token must be renewed: sends DISCONNECT and closes; true if it did.
pub(crate) fn renew_if_due(link: &mut Link, now_ms: u64) -> bool {
    let due = link.session.as_ref().is_some_and(|s| s.renewal_due(now_ms));
    if !due || link.client.disconnect().is_err() {
        return false;
    }
    log::info!(target: LOG_TRANSPORT, "renewing the SAS token: reconnecting");
    let _ = net::flush(link, now_ms);
    if let Some(conn) = link.conn.as_mut() {
        conn.tls.send_close_notify();
        let _ = net::flush_tls(conn);
        let _ = conn.tcp.shutdown(Shutdown::Both);
    }
    true
}

fn loss(reason: CloseReason, refused_code: u8) -> Loss {
    match reason {
        CloseReason::Requested => Loss::Requested,
        CloseReason::Refused => Loss::Refused(refused_code),
        CloseReason::Transport => Loss::Transport,
        CloseReason::Protocol(_) => Loss::Protocol,
        CloseReason::ConnectFailed => Loss::ConnectFailed,
        CloseReason::TokenRenewal => Loss::Renewal,
    }
}

/// The connection ended for `reason` (under the lock, `close_requested` already folded into
/// it): schedules the next attempt if the session goes on. Returns the delay, or `None` when
/// the session ends (and forgets it).
pub(crate) fn after_loss(link: &mut Link, reason: CloseReason, now_ms: u64) -> Option<u64> {
    let refused = link.refused_code;
    let s = link.session.as_mut()?;
    let next = s.lost(loss(reason, refused), now_ms, random_u32());
    if next.is_none() {
        link.session = None;
    }
    next
}

fn deliver(shared: &Shared, view: &HubClient, event: &PortEvent<'_>) {
    log::debug!(target: super::LOG_HUB, "event: {event:?}");
    let mut handler = shared.handler.lock().unwrap_or_else(|e| e.into_inner());
    handler(view, event);
}

/// Ends the session with a final `Disconnected(reason)`.
fn end(shared: &Shared, view: &HubClient, reason: CloseReason) {
    let mut handler = shared.handler.lock().unwrap_or_else(|e| e.into_inner());
    shared.lock().session = None;
    log::info!(target: LOG_TRANSPORT, "reconnecting stopped: {reason:?}");
    handler(view, &PortEvent::Disconnected(reason));
    drop(handler);
    shared.finished_cv.notify_all();
}

/// The retry loop, on the worker whose connection was lost (after it delivered
/// `ConnectionLost`). Returns when a new connection's worker runs, or when the session ended.
pub(crate) fn retry_loop(shared: &Arc<Shared>, view: &HubClient) {
    loop {
        let (attempt, config) = {
            let mut link = shared.lock();
            loop {
                let Some(s) = link.session.as_mut() else {
                    return;
                };
                let wait = match s.next(shared.now_ms()) {
                    Next::Attempt(n) => break (n, s.config.clone()),
                    Next::Wait(ms) => ms,
                    Next::End => {
                        drop(link);
                        end(shared, view, CloseReason::Requested);
                        return;
                    }
                };
                link = shared
                    .wake
                    .wait_timeout(link, Duration::from_millis(wait))
                    .map_or_else(|e| e.into_inner().0, |r| r.0);
            }
        };
        deliver(shared, view, &PortEvent::Reconnecting { attempt });
        // The handler may have called disconnect() on this event.
        if shared
            .lock()
            .session
            .as_ref()
            .is_none_or(|s| s.is_stopped())
        {
            end(shared, view, CloseReason::Requested);
            return;
        }
        IN_RETRY.with(|f| f.set(true));
        let result = net::connect(shared, &config);
        IN_RETRY.with(|f| f.set(false));
        let mut link = shared.lock();
        let now = shared.now_ms();
        let reason = match result {
            Ok(()) => return,
            Err(ConnectError::Busy) => {
                // The application connected by itself meanwhile: its connection rules.
                if let Some(s) = link.session.as_mut() {
                    s.attempt_started();
                }
                return;
            }
            Err(e) => {
                log::warn!(target: LOG_TRANSPORT, "reconnect attempt {attempt} failed: {e}");
                CloseReason::ConnectFailed
            }
        };
        let Some(s) = link.session.as_mut() else {
            return;
        };
        match s.lost(Loss::ConnectFailed, now, random_u32()) {
            Some(retry_in_ms) => {
                drop(link);
                deliver(
                    shared,
                    view,
                    &PortEvent::ConnectionLost {
                        reason,
                        retry_in_ms,
                    },
                );
            }
            None => {
                let stopped = s.is_stopped();
                drop(link);
                let why = if stopped {
                    CloseReason::Requested
                } else {
                    reason
                };
                end(shared, view, why);
                return;
            }
        }
    }
}

/// `disconnect()`/`abort()` during a session that reconnects: stops the loop (also an attempt
/// in progress) and waits until the session's final `Disconnected` was delivered (unless on the
/// worker). Returns false when there is no such session.
pub(crate) fn stop(shared: &Arc<Shared>, on_worker: bool) -> bool {
    let mut link = shared.lock();
    let Some(s) = link.session.as_mut() else {
        return false;
    };
    s.stop();
    if link.active {
        link.close_requested = true;
        if let Some(conn) = link.conn.as_mut() {
            let _ = conn.tcp.shutdown(Shutdown::Both);
        } else if let Some(tcp) = link.handshaking.as_ref() {
            let _ = tcp.shutdown(Shutdown::Both);
        }
    }
    shared.wake.notify_all();
    if on_worker {
        return true;
    }
    while link.session.is_some() || link.active {
        link = shared
            .finished_cv
            .wait(link)
            .unwrap_or_else(|e| e.into_inner());
    }
    true
}

/// A session reconnects (it is between connections or attempting one).
pub(crate) fn is_reconnecting(link: &Link) -> bool {
    link.session.as_ref().is_some_and(|s| s.is_retrying())
}
