//! The extensions on Zephyr (docs/extensions.md): automatic reconnect, SAS token renewal, the
//! persistent session's QoS 1 outbox, the Plug and Play model ID and SAS tokens from a device
//! key. The bookkeeping is the core's ([`crate::hub::session`], shared with the Linux port);
//! this file adds the Zephyr side: static buffers sized by Kconfig (zero bytes when an option is
//! off), the wall clock and the randomness from the glue, and the retry loop, which runs on the
//! worker thread after the connection it served was lost.
//!
//! The retry loop waits for the policy's deadline on the glue's semaphore `SEM_WAKE`, which
//! `disconnect()`/`abort()` give, then connects exactly as `connect()` does (resolve, socket,
//! TLS, CONNECT) and returns to the worker's main loop, which serves the new connection. The core
//! sends SUBSCRIBE again after every CONNACK, so the subscriptions come back by themselves.

use core::ffi::c_int;

use super::worker::{deliver, emit};
use super::{
    net, sys, CloseReason, ConnectConfig, ConnectError, Link, PortEvent, StaticBuf, Target, LINK,
    LOG_TRANSPORT,
};
use crate::backoff::BackoffConfig;
use crate::config as k;
use crate::hub::outbox::Outbox;
use crate::hub::reconnect::{Loss, ReconnectConfig};
use crate::hub::session::{self as core_session, Next, Session};
use crate::hub::{self, Event, PublishError};
use crate::mqtt::QoS;
use crate::sas;
use crate::sink::Cursor;

/// Bytes of the QoS 1 outbox: `CONFIG_AZURE_IOT_HUB_QOS1_QUEUE_SIZE` with a persistent session,
/// none otherwise.
pub const OUTBOX_SIZE: usize = if k::AZURE_IOT_HUB_PERSISTENT_SESSION {
    k::AZURE_IOT_HUB_QOS1_QUEUE_SIZE
} else {
    0
};

/// Room for a SAS token (`SharedAccessSignature sr=…&sig=…&se=…`): a host name and device ID of
/// up to 128 characters each that need no URL encoding fit. None without a SAS key in Kconfig.
pub const SAS_TOKEN_MAX: usize = if k::AZURE_IOT_HUB_SAS_KEY.is_empty() {
    0
} else {
    512
};

/// Room for the URL-encoded model ID (each byte may become `%XX`).
const MODEL_ID_MAX: usize = 3 * k::AZURE_IOT_HUB_MODEL_ID.len();

/// One session slot when an extension needs it (reconnect, SAS), none otherwise.
const SESSION_SLOTS: usize = if RECONNECTS { 1 } else { 0 };

/// True when this build can reconnect on its own (automatic reconnect or SAS renewal): only then
/// does the port deliver `ConnectionLost` and `Reconnecting`, so the C API links their handling
/// only then.
pub(crate) const RECONNECTS: bool =
    k::AZURE_IOT_HUB_AUTO_RECONNECT || !k::AZURE_IOT_HUB_SAS_KEY.is_empty();

/// Tokens older than this are taken for a wall clock that was never set (2020-01-01).
const CLOCK_PLAUSIBLE_FROM: i64 = 1_577_836_800;

/// The extensions' settings ([`ConnectConfig::extensions`]). Strings are `'static` (Kconfig
/// values or the application's constants); the buffers they need are sized by Kconfig, so a
/// model ID or SAS key longer than the Kconfig one does not fit (connect() then fails with
/// `InvalidConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extensions {
    /// Automatic reconnect (`CONFIG_AZURE_IOT_HUB_AUTO_RECONNECT`, `_RECONNECT_BACKOFF_MIN_MS`,
    /// `_MAX_MS`, `_RECONNECT_JITTER_MS`). Off by default.
    pub reconnect: ReconnectConfig,
    /// Persistent session (`CONFIG_AZURE_IOT_HUB_PERSISTENT_SESSION`; the outbox exists only
    /// with the option).
    pub persistent_session: bool,
    /// IoT Plug and Play model ID, not encoded (`CONFIG_AZURE_IOT_HUB_MODEL_ID`; empty: none).
    pub model_id: &'static str,
    /// The device key, base64 (`CONFIG_AZURE_IOT_HUB_SAS_KEY`; empty: X.509).
    pub sas_key: &'static str,
    /// Lifetime of each token (`CONFIG_AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC`).
    pub sas_validity_secs: u32,
}

fn ms(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

impl Extensions {
    /// The Kconfig values of this build.
    pub fn from_config() -> Self {
        Extensions {
            reconnect: ReconnectConfig {
                enabled: k::AZURE_IOT_HUB_AUTO_RECONNECT,
                backoff: BackoffConfig {
                    min_ms: ms(k::AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS),
                    max_ms: ms(k::AZURE_IOT_HUB_RECONNECT_BACKOFF_MAX_MS),
                    jitter_ms: ms(k::AZURE_IOT_HUB_RECONNECT_JITTER_MS),
                },
            },
            persistent_session: k::AZURE_IOT_HUB_PERSISTENT_SESSION,
            model_id: k::AZURE_IOT_HUB_MODEL_ID,
            sas_key: k::AZURE_IOT_HUB_SAS_KEY,
            sas_validity_secs: u32::try_from(k::AZURE_IOT_HUB_SAS_TOKEN_VALIDITY_SEC)
                .unwrap_or(u32::MAX)
                .max(2),
        }
    }
}

/// The session slot. Without reconnect or a SAS key in Kconfig (`SESSION_SLOTS == 0`) every
/// accessor is a constant, so that such builds link none of the session code.
struct Slot(heapless::Vec<Session<ConnectConfig>, SESSION_SLOTS>);

impl Slot {
    fn first(&self) -> Option<&Session<ConnectConfig>> {
        if SESSION_SLOTS == 0 {
            return None;
        }
        self.0.first()
    }

    fn first_mut(&mut self) -> Option<&mut Session<ConnectConfig>> {
        if SESSION_SLOTS == 0 {
            return None;
        }
        self.0.first_mut()
    }

    /// False when there is no slot (the session is dropped).
    fn push(&mut self, s: Session<ConnectConfig>) -> bool {
        SESSION_SLOTS != 0 && self.0.push(s).is_ok()
    }

    fn clear(&mut self) {
        // Without a slot the vector is always empty: no store to make it so.
        if SESSION_SLOTS != 0 {
            self.0.clear();
        }
    }
}

/// The outbox, if any. Without a persistent session in Kconfig there is none (`init` makes it
/// only with the option), known at build time: such builds link none of the outbox code.
struct OutboxSlot(Option<Outbox<&'static mut [u8]>>);

impl OutboxSlot {
    fn as_mut(&mut self) -> Option<&mut Outbox<&'static mut [u8]>> {
        if !k::AZURE_IOT_HUB_PERSISTENT_SESSION {
            return None;
        }
        self.0.as_mut()
    }

    fn as_ref(&self) -> Option<&Outbox<&'static mut [u8]>> {
        if !k::AZURE_IOT_HUB_PERSISTENT_SESSION {
            return None;
        }
        self.0.as_ref()
    }

    fn is_some(&self) -> bool {
        self.as_ref().is_some()
    }

    fn is_none(&self) -> bool {
        self.as_ref().is_none()
    }
}

/// The extensions' part of the port's state (in [`Link`], under its lock).
pub(crate) struct ExtState {
    /// The session that outlives its connections (at most one).
    session: Slot,
    /// The persistent session's unacknowledged QoS 1 messages.
    outbox: OutboxSlot,
    /// The return code of the last refused CONNACK.
    refused_code: u8,
    /// QoS 1 messages re-sent with DUP after reconnects.
    resent: u32,
    /// Sessions that ended with their final `Disconnected` delivered.
    ended: u32,
    /// The SAS token of the connection being set up.
    token: [u8; SAS_TOKEN_MAX],
    /// The URL-encoded model ID of the connection being set up.
    model_id: [u8; MODEL_ID_MAX],
}

impl ExtState {
    pub(crate) const fn new() -> Self {
        ExtState {
            session: Slot(heapless::Vec::new()),
            outbox: OutboxSlot(None),
            refused_code: 0,
            resent: 0,
            ended: 0,
            token: [0; SAS_TOKEN_MAX],
            model_id: [0; MODEL_ID_MAX],
        }
    }
}

static OUTBOX: StaticBuf<OUTBOX_SIZE> = StaticBuf::new();

/// At the port's initialisation: the outbox's static buffer.
pub(crate) fn init(link: &mut Link) {
    if k::AZURE_IOT_HUB_PERSISTENT_SESSION && link.ext.outbox.is_none() {
        link.ext.outbox.0 = OUTBOX.take().map(Outbox::new);
    }
}

/// The wall clock for a token's expiry: `azure_iot_hub_rs_unix_time()`, a weak function of the
/// glue (Zephyr's realtime clock, or NCS `date_time`) that the application may replace.
fn unix_now() -> Result<u64, ConnectError> {
    // SAFETY: no preconditions (the glue's, or the application's, implementation).
    let t = unsafe { sys::azure_iot_hub_rs_unix_time() };
    if t < CLOCK_PLAUSIBLE_FROM {
        ::log::error!(target: LOG_TRANSPORT, "SAS: no wall-clock time ({t}); set the clock or provide azure_iot_hub_rs_unix_time()");
        let c = sys::consts();
        return Err(ConnectError::Tls(if t < 0 {
            i32::try_from(-t).unwrap_or(c.enotsup)
        } else {
            c.eagain
        }));
    }
    Ok(t as u64)
}

/// Queues CONNECT in the client with what the extensions add: clean session 0 and C2D with
/// QoS 1 for a persistent session, a fresh SAS token as the password, the model ID in the user
/// name. Under the lock, before the socket is opened.
pub(crate) fn connect_client<T: Target>(
    link: &mut Link,
    config: &T,
    now_ms: u64,
) -> Result<(), ConnectError> {
    let ext = &config.extensions();
    let Link {
        client, ext: st, ..
    } = link;
    // Connects run only once a `HubClient` exists (its `connect`, the worker's retries).
    let client = client.get_mut();
    let mut options = config.options();
    if ext.persistent_session && st.outbox.is_some() {
        options.clean_session = false;
        client.set_c2d_qos(QoS::AtLeastOnce);
    } else {
        // A clean session: the hub forgets the packet IDs, so nothing can be re-sent.
        if let Some(o) = st.outbox.as_mut() {
            o.clear();
        }
        client.set_c2d_qos(QoS::AtMostOnce);
    }
    client.set_options(options);
    let invalid = ConnectError::InvalidConfig;
    let model_id = if ext.model_id.is_empty() {
        None
    } else if MODEL_ID_MAX == 0 {
        // No room without a model ID in Kconfig (what the empty buffer gives), known at build time.
        return Err(invalid(hub::ConnectError::UserNameTooLong));
    } else {
        let mut cur = Cursor::new(&mut st.model_id);
        core_session::write_url_encoded(&mut cur, ext.model_id)
            .map_err(|_| invalid(hub::ConnectError::UserNameTooLong))?;
        let n = cur.len();
        // ASCII by construction.
        core::str::from_utf8(&st.model_id[..n]).ok()
    };
    let password = if ext.sas_key.is_empty() {
        None
    } else if SAS_TOKEN_MAX == 0 {
        // No room for a token without a SAS key in Kconfig (the same error the full buffer
        // gives); a constant test, so that such builds link no SHA-256/HMAC code.
        return Err(invalid(hub::ConnectError::BufferTooSmall));
    } else {
        let expiry = unix_now()? + u64::from(ext.sas_validity_secs);
        let resource = sas::Resource::Hub {
            host: config.hostname(),
            device_id: config.device_id(),
        };
        let mut cur = Cursor::new(&mut st.token);
        sas::write_token(&mut cur, &resource, ext.sas_key, expiry).map_err(|e| match e {
            sas::SasError::InvalidKey => {
                ::log::error!(target: LOG_TRANSPORT, "SAS key unusable (not base64)");
                ConnectError::Tls(sys::consts().einval)
            }
            sas::SasError::BufferFull => invalid(hub::ConnectError::BufferTooSmall),
        })?;
        let n = cur.len();
        Some(&st.token[..n])
    };
    // Disconnected: `connect_from` connects only without an active link, and every link ends
    // in `close_link`, which tells the client (`handle_closed`).
    let checked = hub::Checked {
        ids: T::VALID_IDS,
        user_name: T::USER_NAME_CHECKED,
    };
    client
        .connect_idle(
            config.hostname(),
            config.device_id(),
            password,
            model_id,
            now_ms,
            checked,
        )
        .map_err(invalid)
}

/// A session is between connections (waiting for its deadline or attempting).
pub(crate) fn is_reconnecting(link: &Link) -> bool {
    link.ext.session.first().is_some_and(Session::is_retrying)
}

/// The connection's worker runs: an application connect starts a session when an extension
/// needs one; an attempt of the retry loop ends the session's wait.
pub(crate) fn started<T: Target>(link: &mut Link, config: &T, from_retry: bool) {
    let ext = &config.extensions();
    if from_retry {
        if let Some(s) = link.ext.session.first_mut() {
            s.attempt_started();
        }
        return;
    }
    link.ext.session.clear();
    if core_session::needed(&ext.reconnect, !ext.sas_key.is_empty()) {
        let validity = (!ext.sas_key.is_empty()).then_some(ext.sas_validity_secs);
        // Without a slot (a constant) the config is not even cloned.
        if SESSION_SLOTS == 0
            || !link
                .ext
                .session
                .push(Session::new(config.to_config(), ext.reconnect, validity))
        {
            // No slot: the build has neither reconnect nor a SAS key in Kconfig.
            ::log::warn!(target: LOG_TRANSPORT, "reconnect/SAS renewal not configured in Kconfig; the session will not reconnect");
        }
    }
}

/// A QoS 1 publish about to be written: a copy into the outbox (or `OutboxFull`). True when
/// stored.
pub(crate) fn store(
    ext: &mut ExtState,
    qos: QoS,
    packet_id: u16,
    parts: &[&[u8]],
) -> Result<bool, PublishError> {
    core_session::store(ext.outbox.as_mut(), qos, packet_id, parts)
}

/// What an event means for the session, under the lock, after the client's own packets were
/// written: CONNACK starts the renewal clock and writes the outbox again with DUP; PUBACK frees
/// its message; a refusal is remembered (code 3 is retried, the others end the session).
pub(crate) fn on_event(
    link: &mut Link,
    fd: c_int,
    event: &Event<'_>,
    now_ms: u64,
) -> Result<(), i32> {
    match *event {
        Event::Connected { session_present } => {
            if let Some(s) = link.ext.session.first_mut() {
                s.connected(now_ms);
            }
            if let Some(o) = link.ext.outbox.as_mut() {
                if !o.is_empty() {
                    ::log::info!(target: LOG_TRANSPORT, "re-sending {} unacknowledged QoS 1 message(s) (session present: {session_present})", o.count());
                    let n = core_session::resend(o, |p| net::send_all(fd, p))?;
                    link.ext.resent = link.ext.resent.saturating_add(n as u32);
                }
            }
        }
        Event::Puback { packet_id } => {
            if let Some(o) = link.ext.outbox.as_mut() {
                o.ack(packet_id);
            }
        }
        // Only `after_loss` reads it, and only for a session: not stored in a build without a
        // session slot (a constant test).
        Event::ConnectionRefused { return_code } if SESSION_SLOTS != 0 => {
            link.ext.refused_code = return_code;
        }
        _ => {}
    }
    Ok(())
}

/// The renewal deadline of the connected session's token, if any.
pub(crate) fn renewal_deadline(link: &Link) -> Option<u64> {
    link.ext.session.first()?.renewal_deadline()
}

/// When the token must be renewed: DISCONNECT is written; true if the connection is to close.
pub(crate) fn renew_if_due(link: &mut Link, now_ms: u64) -> bool {
    let due = link
        .ext
        .session
        .first()
        .is_some_and(|s| s.renewal_due(now_ms));
    if !due || link.client.as_mut().is_none_or(|c| c.disconnect().is_err()) {
        return false;
    }
    ::log::info!(target: LOG_TRANSPORT, "renewing the SAS token: reconnecting");
    let _ = net::flush(link, now_ms);
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

/// The connection ended for `reason` (under the lock, `close_requested` folded in): the delay
/// before the next attempt, or `None` when there is no session or it ends now (it is then
/// forgotten; the caller delivers `Disconnected` and calls [`ended`]).
/// The clock is read only when there is a session.
pub(crate) fn after_loss(link: &mut Link, reason: CloseReason) -> (Option<u64>, bool) {
    let refused = link.ext.refused_code;
    let Some(s) = link.ext.session.first_mut() else {
        return (None, false);
    };
    let next = s.lost(loss(reason, refused), sys::now_ms(), random_u32());
    if next.is_none() {
        link.ext.session.clear();
    }
    (next, true)
}

/// The final `Disconnected` of a session was delivered (wakes `disconnect()`/`abort()`).
pub(crate) fn ended() {
    let mut link = LINK.lock();
    link.ext.ended = link.ext.ended.wrapping_add(1);
    drop(link);
    // SAFETY: a glue semaphore id.
    unsafe { sys::azhub_z_sem_give(sys::SEM_FINISHED) };
}

fn random_u32() -> u32 {
    // SAFETY: no preconditions.
    unsafe { sys::azhub_z_rand32() }
}

/// Ends the session with its final `Disconnected(reason)`.
fn end(reason: CloseReason) {
    LINK.lock().ext.session.clear();
    ::log::info!(target: LOG_TRANSPORT, "reconnecting stopped: {reason:?}");
    emit(&PortEvent::Disconnected(reason));
    ended();
}

/// The retry loop, on the worker, after it delivered `ConnectionLost`. Returns when a new
/// connection was handed to the worker's main loop, or when the session ended.
pub(crate) fn retry_loop() {
    loop {
        let (attempt, config) = loop {
            let mut link = LINK.lock();
            let Some(s) = link.ext.session.first_mut() else {
                return;
            };
            match s.next(sys::now_ms()) {
                Next::Attempt(n) => break (n, s.config.clone()),
                Next::Wait(ms) => {
                    drop(link);
                    // At most i32::MAX ms, as K_MSEC took it.
                    let ticks = sys::ms_to_ticks(ms.min(i32::MAX as u64) as u32);
                    // Given by disconnect()/abort(); a timeout is the deadline.
                    // SAFETY: a glue semaphore id; this is the worker thread.
                    unsafe { sys::azhub_z_sem_take(sys::SEM_WAKE, ticks) };
                }
                Next::End => {
                    drop(link);
                    end(CloseReason::Requested);
                    return;
                }
            }
        };
        ::log::info!(target: LOG_TRANSPORT, "reconnect attempt {attempt}");
        deliver(&PortEvent::Reconnecting { attempt });
        // The handler may have called disconnect() on this event.
        if LINK
            .lock()
            .ext
            .session
            .first()
            .is_none_or(Session::is_stopped)
        {
            end(CloseReason::Requested);
            return;
        }
        let result = net::connect_from(&config, true);
        let mut link = LINK.lock();
        match result {
            Ok(()) => return,
            Err(ConnectError::Busy) => {
                // The application connected by itself meanwhile: its connection rules.
                if let Some(s) = link.ext.session.first_mut() {
                    s.attempt_started();
                }
                return;
            }
            Err(e) => {
                ::log::warn!(target: LOG_TRANSPORT, "reconnect attempt {attempt} failed: {e}");
            }
        }
        let now = sys::now_ms();
        let Some(s) = link.ext.session.first_mut() else {
            return;
        };
        match s.lost(Loss::ConnectFailed, now, random_u32()) {
            Some(retry_in_ms) => {
                drop(link);
                ::log::info!(target: LOG_TRANSPORT, "reconnecting in {retry_in_ms} ms");
                deliver(&PortEvent::ConnectionLost {
                    reason: CloseReason::ConnectFailed,
                    retry_in_ms,
                });
            }
            None => {
                let stopped = s.is_stopped();
                drop(link);
                end(if stopped {
                    CloseReason::Requested
                } else {
                    CloseReason::ConnectFailed
                });
                return;
            }
        }
    }
}

/// `disconnect()` of a live connection: the session (if any) must not reconnect after it, even
/// when the worker sees the connection lost before it sees the request.
pub(crate) fn mark_stopped(link: &mut Link) {
    if let Some(s) = link.ext.session.first_mut() {
        s.stop();
    }
}

/// `disconnect()`/`abort()` while a session exists: stops it (also a connection or an attempt
/// in progress) and, unless on the worker, waits until its final `Disconnected` was delivered.
/// False when there is no session.
pub(crate) fn stop() -> bool {
    // Without a session slot there is never a session: no lock round trip to find out.
    if SESSION_SLOTS == 0 {
        return false;
    }
    let mark = {
        let mut link = LINK.lock();
        let Some(s) = link.ext.session.first_mut() else {
            return false;
        };
        s.stop();
        if link.active {
            link.close_requested = true;
        }
        link.ext.ended
    };
    // SAFETY: a glue semaphore id.
    unsafe { sys::azhub_z_sem_give(sys::SEM_WAKE) };
    // SAFETY: compares k_current_get() with the glue's worker thread.
    if unsafe { sys::azhub_z_on_worker() } {
        return true;
    }
    while LINK.lock().ext.ended == mark {
        // Bounded wait: several threads may wait, and the semaphore has a limit of 1.
        // SAFETY: a glue semaphore id.
        unsafe { sys::azhub_z_sem_take(sys::SEM_FINISHED, sys::ms_to_ticks(50)) };
    }
    true
}

/// QoS 1 messages waiting for their PUBACK.
pub(crate) fn unacknowledged(link: &Link) -> usize {
    link.ext.outbox.as_ref().map_or(0, Outbox::count)
}

/// QoS 1 messages re-sent with DUP so far.
pub(crate) fn resent(link: &Link) -> u32 {
    link.ext.resent
}
