//! The C API's side of automatic reconnect and SAS renewal (docs/extensions.md). The header has
//! no reconnect event, so the existing events tell the story:
//!
//! * the connection is lost and the library will try again: AZURE_IOT_HUB_EVT_DISCONNECTED with
//!   `data.err` set to the (negative) reason; state DISCONNECTED. With the default configuration
//!   (no reconnect) DISCONNECTED always has `data.err = 0`, as the original: `data.err != 0`
//!   means "a reconnect follows";
//! * an attempt starts: AZURE_IOT_HUB_EVT_CONNECTING; state CONNECTING;
//! * then CONNECTED and READY as after `azure_iot_hub_connect()`, or DISCONNECTED (with
//!   `data.err`) again when the attempt fails;
//! * the session ends: DISCONNECTED with `data.err = 0` (after `azure_iot_hub_disconnect()`,
//!   which also stops a pending reconnect, or when a refusal ends it).
//!
//! Reasons: `-ECONNRESET` the connection dropped, `-EPROTO`/`-ETIMEDOUT`/`-ENOBUFS` a protocol
//! error (as AZURE_IOT_HUB_EVT_ERROR reports it), `-ECONNREFUSED` CONNACK 3 (server
//! unavailable), `-ENOTCONN` a reconnect attempt failed before CONNACK (DNS, TCP, TLS),
//! `-EAGAIN` the SAS token is being renewed.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::port::PortEvent;

/// A session reconnects: between a lost connection and the session's final DISCONNECTED.
static RECONNECTING: AtomicBool = AtomicBool::new(false);

// Whether the port can reconnect on its own: always on Linux, on Zephyr only when Kconfig turns
// on automatic reconnect or a SAS key (otherwise the code below is constant-false and dropped).
use crate::port::RECONNECTS;

/// True while the library reconnects on its own (so `azure_iot_hub_disconnect()` must stop it).
pub(in crate::capi) fn active() -> bool {
    RECONNECTS && RECONNECTING.load(Ordering::SeqCst)
}

/// The session's final DISCONNECTED.
pub(in crate::capi) fn ended() {
    if RECONNECTS {
        RECONNECTING.store(false, Ordering::SeqCst);
    }
}

#[cfg(any(feature = "std", feature = "zephyr"))]
mod imp {
    use core::ffi::c_int;

    use super::{Ordering, PortEvent, RECONNECTING};
    use crate::capi::api::transition;
    use crate::capi::errno::{neg, EAGAIN, ECONNREFUSED, ECONNRESET, ENOTCONN};
    use crate::capi::error::protocol_errno;
    use crate::capi::types::azure_iot_hub_evt_type::*;
    use crate::capi::types::iot_hub_state::*;
    use crate::capi::types::*;
    use crate::port::CloseReason;

    /// `data.err` of a DISCONNECTED that a reconnect follows.
    pub(in crate::capi) fn reason_errno(reason: CloseReason) -> c_int {
        match reason {
            CloseReason::Protocol(p) => protocol_errno(p),
            CloseReason::Refused => neg(ECONNREFUSED),
            CloseReason::ConnectFailed => neg(ENOTCONN),
            CloseReason::TokenRenewal => neg(EAGAIN),
            CloseReason::Transport | CloseReason::Requested => neg(ECONNRESET),
        }
    }

    /// The reconnect events: their type, with `data.err` set in `evt`; `None` for others.
    pub(in crate::capi) fn on_port_event(
        ev: &PortEvent<'_>,
        evt: &mut azure_iot_hub_evt,
    ) -> Option<azure_iot_hub_evt_type> {
        if !super::RECONNECTS {
            return None;
        }
        let (state, t) = match *ev {
            PortEvent::ConnectionLost {
                reason,
                retry_in_ms,
            } => {
                log::info!("connection lost ({reason:?}); reconnecting in {retry_in_ms} ms");
                evt.data.err = reason_errno(reason);
                (STATE_DISCONNECTED, AZURE_IOT_HUB_EVT_DISCONNECTED)
            }
            PortEvent::Reconnecting { attempt } => {
                log::info!("reconnect attempt {attempt}");
                (STATE_CONNECTING, AZURE_IOT_HUB_EVT_CONNECTING)
            }
            _ => return None,
        };
        RECONNECTING.store(true, Ordering::SeqCst);
        transition(state);
        Some(t)
    }
}

#[cfg(any(feature = "std", feature = "zephyr"))]
pub(in crate::capi) use imp::on_port_event;

/// Ports without reconnect have no such events.
#[cfg(not(any(feature = "std", feature = "zephyr")))]
pub(in crate::capi) fn on_port_event(
    _ev: &PortEvent<'_>,
    _evt: &mut crate::capi::types::azure_iot_hub_evt,
) -> Option<crate::capi::types::azure_iot_hub_evt_type> {
    None
}
