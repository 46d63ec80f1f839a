//! The reconnect policy: when to try again after a connection ended, and when to renew a SAS
//! token by reconnecting. Sans-IO like the rest of the core: the port tells it what happened and
//! what time it is (milliseconds on its monotonic clock) and gives it randomness for the jitter;
//! it answers with deadlines. The port owns the waiting and the connecting.
//!
//! ```text
//!  connect() ─► attempt ──CONNACK accepted──► connected() ─── renewal due ──► lost(Renewal)
//!                  ▲  └─fails─► lost(ConnectFailed|Refused)        └─ drop ──► lost(Transport|Protocol)
//!                  └──────────── due(now) ◄── deadline = now + backoff ◄──────────┘
//! ```
//!
//! With reconnect off (the original's behaviour, the default) every loss ends the session, except
//! a token renewal, which the library started itself and always follows with one immediate
//! attempt.

use crate::backoff::{Backoff, BackoffConfig};

/// Reconnect settings. The default is off (the original's behaviour), with
/// [`BackoffConfig::default`] delays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconnectConfig {
    /// Reconnect automatically (`CONFIG_AZURE_IOT_HUB_AUTO_RECONNECT`, default off).
    pub enabled: bool,
    /// The delays between attempts (`CONFIG_AZURE_IOT_HUB_RECONNECT_BACKOFF_MIN_MS`, `_MAX_MS`,
    /// `CONFIG_AZURE_IOT_HUB_RECONNECT_JITTER_MS`).
    pub backoff: BackoffConfig,
}

/// Why a connection (or an attempt at one) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// The application asked (`disconnect()`, `abort()`): never retried.
    Requested,
    /// The peer closed the connection, or the socket failed.
    Transport,
    /// The peer broke the protocol, or stopped answering PINGREQ.
    Protocol,
    /// DNS, TCP or TLS failed while connecting.
    ConnectFailed,
    /// CONNACK refused with this return code. Only 3 (server unavailable) is retried: 1, 2, 4
    /// and 5 (protocol version, identifier, credentials, not authorised) do not change by waiting.
    Refused(u8),
    /// The library closed the connection to present a fresh SAS token: one attempt at once.
    Renewal,
}

impl Loss {
    /// True for the losses that another attempt may cure.
    pub fn is_transient(self) -> bool {
        match self {
            Loss::Requested => false,
            Loss::Refused(code) => code == 3,
            Loss::Transport | Loss::Protocol | Loss::ConnectFailed | Loss::Renewal => true,
        }
    }
}

/// The policy's state for one session (from `connect()` until it gives up or is stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    cfg: ReconnectConfig,
    backoff: Backoff,
    next_attempt_ms: Option<u64>,
    renew_at_ms: Option<u64>,
    reconnects: u32,
}

impl Reconnect {
    /// A policy with no attempt scheduled.
    pub fn new(cfg: ReconnectConfig) -> Self {
        Reconnect {
            cfg,
            backoff: Backoff::new(cfg.backoff),
            next_attempt_ms: None,
            renew_at_ms: None,
            reconnects: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ReconnectConfig {
        &self.cfg
    }

    /// Failed attempts since the last accepted CONNACK.
    pub fn failed_attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// Attempts started by the policy (not by the application) in this session.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// CONNACK accepted at `now_ms`: the backoff starts from its minimum again. With a SAS token
    /// valid for `token_validity_secs`, the renewal is due after 80 % of it (IoT Hub cannot
    /// re-authenticate a live MQTT 3.1.1 connection, so the port reconnects with a new token).
    pub fn connected(&mut self, now_ms: u64, token_validity_secs: Option<u32>) {
        self.backoff.reset();
        self.next_attempt_ms = None;
        self.renew_at_ms = token_validity_secs.map(|v| now_ms.saturating_add(renew_after_ms(v)));
    }

    /// When the connected session's token must be renewed, if it has one.
    pub fn renewal_deadline(&self) -> Option<u64> {
        self.renew_at_ms
    }

    /// True when the token renewal is due.
    pub fn renewal_due(&self, now_ms: u64) -> bool {
        self.renew_at_ms.is_some_and(|t| now_ms >= t)
    }

    /// The connection (or an attempt) ended at `now_ms` for `why`. Returns when to try again, or
    /// `None` to end the session. `random` is any random number (it only picks the jitter).
    pub fn lost(&mut self, why: Loss, now_ms: u64, random: u32) -> Option<u64> {
        self.renew_at_ms = None;
        let deadline = match why {
            Loss::Renewal => Some(now_ms),
            _ if !self.cfg.enabled || !why.is_transient() => None,
            _ => Some(now_ms.saturating_add(self.backoff.next_delay(random))),
        };
        self.next_attempt_ms = deadline;
        deadline
    }

    /// The next attempt's deadline, if one is scheduled.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_attempt_ms
    }

    /// True when the scheduled attempt is due; the caller then calls [`Reconnect::attempt`].
    pub fn due(&self, now_ms: u64) -> bool {
        self.next_attempt_ms.is_some_and(|t| now_ms >= t)
    }

    /// The port starts the scheduled attempt now.
    pub fn attempt(&mut self) {
        self.next_attempt_ms = None;
        self.reconnects = self.reconnects.saturating_add(1);
    }

    /// The application ended the session: nothing more is scheduled.
    pub fn stop(&mut self) {
        self.next_attempt_ms = None;
        self.renew_at_ms = None;
    }
}

/// When a token valid for `validity_secs` is renewed: after 80 % of its life (as azure-iot-sdk-c
/// renews a one-hour token after 48 minutes).
pub fn renew_after_ms(validity_secs: u32) -> u64 {
    u64::from(validity_secs) * 800
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(enabled: bool) -> ReconnectConfig {
        ReconnectConfig {
            enabled,
            backoff: BackoffConfig {
                min_ms: 100,
                max_ms: 1_000,
                jitter_ms: 0,
            },
        }
    }

    #[test]
    fn off_gives_up_except_for_renewal() {
        let mut r = Reconnect::new(cfg(false));
        assert_eq!(r.lost(Loss::Transport, 10, 0), None);
        assert_eq!(r.lost(Loss::ConnectFailed, 10, 0), None);
        assert_eq!(r.lost(Loss::Renewal, 10, 0), Some(10));
        assert!(r.due(10));
    }

    #[test]
    fn permanent_refusals_and_requests_end_the_session() {
        let mut r = Reconnect::new(cfg(true));
        for code in [1, 2, 4, 5] {
            assert_eq!(r.lost(Loss::Refused(code), 0, 0), None, "code {code}");
        }
        assert_eq!(r.lost(Loss::Requested, 0, 0), None);
        assert_eq!(r.lost(Loss::Refused(3), 0, 0), Some(100));
    }
}
