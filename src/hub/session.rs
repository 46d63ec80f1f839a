//! The session that outlives its connections, shared by the ports (sans-IO, `no_std`, no heap):
//! the reconnect policy's bookkeeping between connections (automatic reconnect, SAS renewal),
//! and the persistent session's QoS 1 outbox at work (store before writing, forget on PUBACK,
//! write again with DUP after CONNACK).
//!
//! A port keeps one [`Session`] per application `connect()` when an extension needs one
//! ([`needed`]), tells it what happened ([`Session::connected`], [`Session::lost`]) and asks it
//! what to do next ([`Session::next`]). The waiting, the connecting and the writing stay in the
//! port; `C` is the port's connection configuration, kept to reconnect with.

use super::outbox::Outbox;
use super::reconnect::{Loss, Reconnect, ReconnectConfig};
use super::PublishError;
use crate::mqtt::QoS;
use crate::sink::{Overflow, Sink};

/// True when a connection needs a [`Session`]: automatic reconnect, or a SAS key (whose token
/// is renewed by reconnecting, also with reconnect off).
pub fn needed(reconnect: &ReconnectConfig, sas_key: bool) -> bool {
    reconnect.enabled || sas_key
}

/// What the port does next between connections ([`Session::next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this many milliseconds (or until woken), then ask again.
    Wait(u64),
    /// Start reconnect attempt number `n` (1, 2, ... in this session) now.
    Attempt(u32),
    /// The session is over (stopped, or nothing is scheduled): deliver the final disconnect.
    End,
}

/// One application session: from `connect()` until `disconnect()` or a loss that ends it.
#[derive(Debug, Clone)]
pub struct Session<C> {
    /// The configuration the application connected with (a SAS token is made again from it at
    /// every attempt).
    pub config: C,
    policy: Reconnect,
    token_validity_secs: Option<u32>,
    retrying: bool,
    stop: bool,
}

impl<C> Session<C> {
    /// A session for `config`. `token_validity_secs`: the lifetime of the SAS tokens made for
    /// it (renewed after 80 %), or `None` without a SAS key.
    pub fn new(config: C, reconnect: ReconnectConfig, token_validity_secs: Option<u32>) -> Self {
        Session {
            config,
            policy: Reconnect::new(reconnect),
            token_validity_secs,
            retrying: false,
            stop: false,
        }
    }

    /// The reconnect policy.
    pub fn policy(&self) -> &Reconnect {
        &self.policy
    }

    /// True between connections: waiting for the backoff deadline or attempting.
    pub fn is_retrying(&self) -> bool {
        self.retrying
    }

    /// True once the application asked to stop ([`Session::stop`]).
    pub fn is_stopped(&self) -> bool {
        self.stop
    }

    /// The application's `disconnect()`/`abort()`: no further attempt.
    pub fn stop(&mut self) {
        self.stop = true;
        self.policy.stop();
    }

    /// A connection of this session is set up (its worker runs): no longer between
    /// connections.
    pub fn attempt_started(&mut self) {
        self.retrying = false;
    }

    /// CONNACK accepted at `now_ms`: the backoff restarts from its minimum; the token's renewal
    /// is scheduled.
    pub fn connected(&mut self, now_ms: u64) {
        self.policy.connected(now_ms, self.token_validity_secs);
    }

    /// When the connected session's token must be renewed, if it has one.
    pub fn renewal_deadline(&self) -> Option<u64> {
        self.policy.renewal_deadline()
    }

    /// True when the token renewal is due (the port then sends DISCONNECT and closes, and the
    /// loss is [`Loss::Renewal`]).
    pub fn renewal_due(&self, now_ms: u64) -> bool {
        self.policy.renewal_due(now_ms)
    }

    /// The connection (or an attempt) ended at `now_ms` for `why`. Returns the delay before the
    /// next attempt, or `None` when the session ends (stopped, or a loss waiting cannot cure).
    /// `random` picks the jitter.
    pub fn lost(&mut self, why: Loss, now_ms: u64, random: u32) -> Option<u64> {
        let deadline = if self.stop {
            None
        } else {
            self.policy.lost(why, now_ms, random)
        };
        match deadline {
            Some(d) => {
                self.retrying = true;
                Some(d.saturating_sub(now_ms))
            }
            None => {
                self.retrying = false;
                None
            }
        }
    }

    /// What to do at `now_ms` between connections. [`Next::Attempt`] counts the attempt.
    pub fn next(&mut self, now_ms: u64) -> Next {
        if self.stop {
            return Next::End;
        }
        match self.policy.poll_timeout() {
            None => Next::End,
            Some(deadline) if now_ms >= deadline => {
                self.policy.attempt();
                Next::Attempt(self.policy.reconnects())
            }
            Some(deadline) => Next::Wait(deadline - now_ms),
        }
    }
}

/// A QoS 1 publish about to be written: keeps a copy (`parts`: its header, then its body) in
/// the persistent session's outbox, or refuses when the outbox is full. Returns true when the
/// message was stored; QoS 0, and no outbox, store nothing.
pub fn store<B: AsRef<[u8]> + AsMut<[u8]>>(
    outbox: Option<&mut Outbox<B>>,
    qos: QoS,
    packet_id: u16,
    parts: &[&[u8]],
) -> Result<bool, PublishError> {
    match outbox {
        Some(o) if qos == QoS::AtLeastOnce => {
            o.store(packet_id, parts)
                .map_err(|_| PublishError::OutboxFull)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// After an accepted CONNACK: sets DUP on every unacknowledged message and hands each, oldest
/// first, to `write`. Returns how many were written; stops at the first write error.
pub fn resend<B: AsRef<[u8]> + AsMut<[u8]>, E>(
    outbox: &mut Outbox<B>,
    mut write: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<usize, E> {
    if outbox.is_empty() {
        return Ok(0);
    }
    outbox.mark_duplicates();
    let mut n = 0;
    for (_, packet) in outbox.packets() {
        write(packet)?;
        n += 1;
    }
    Ok(n)
}

/// The length of `text` percent-encoded by [`write_url_encoded`].
pub fn url_encoded_len(text: &str) -> usize {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                1
            } else {
                3
            }
        })
        .sum()
}

/// Writes `s` percent-encoded (everything but RFC 3986's unreserved characters, upper-case hex),
/// as the user name carries a Plug and Play model ID (`:` is `%3A`, `;` is `%3B`).
pub fn write_url_encoded<S: Sink + ?Sized>(s: &mut S, text: &str) -> Result<(), Overflow> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.put_u8(b)?;
        } else {
            s.put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::BackoffConfig;
    use crate::sink::Cursor;

    fn cfg(enabled: bool) -> ReconnectConfig {
        ReconnectConfig {
            enabled,
            backoff: BackoffConfig {
                min_ms: 100,
                max_ms: 400,
                jitter_ms: 0,
            },
        }
    }

    #[test]
    fn waits_attempts_and_ends() {
        let mut s = Session::new((), cfg(true), None);
        assert_eq!(s.lost(Loss::Transport, 1_000, 0), Some(100));
        assert!(s.is_retrying());
        assert_eq!(s.next(1_040), Next::Wait(60));
        assert_eq!(s.next(1_100), Next::Attempt(1));
        // Nothing scheduled until the attempt's outcome is known.
        assert_eq!(s.next(1_100), Next::End);
        assert_eq!(s.lost(Loss::ConnectFailed, 1_200, 0), Some(200));
        assert_eq!(s.next(1_400), Next::Attempt(2));
        s.attempt_started();
        assert!(!s.is_retrying());
        s.connected(1_500);
        // The backoff starts from its minimum again after an accepted CONNACK.
        assert_eq!(s.lost(Loss::Protocol, 2_000, 0), Some(100));
        s.stop();
        assert!(s.is_stopped());
        assert_eq!(s.next(5_000), Next::End);
        assert_eq!(s.lost(Loss::Transport, 5_000, 0), None);
        assert!(!s.is_retrying());
    }

    #[test]
    fn off_only_renews() {
        let mut s = Session::new((), cfg(false), Some(10));
        assert!(needed(&cfg(false), true));
        assert!(!needed(&cfg(false), false));
        s.connected(0);
        assert_eq!(s.renewal_deadline(), Some(8_000));
        assert!(!s.renewal_due(7_999));
        assert!(s.renewal_due(8_000));
        assert_eq!(s.lost(Loss::Renewal, 8_000, 0), Some(0));
        assert_eq!(s.next(8_000), Next::Attempt(1));
        assert_eq!(s.lost(Loss::ConnectFailed, 8_100, 0), None);
        assert_eq!(s.lost(Loss::Refused(5), 8_100, 0), None);
    }

    #[test]
    fn outbox_store_and_resend_with_dup() {
        let mut o = Outbox::new([0u8; 32]);
        assert_eq!(
            store(Some(&mut o), QoS::AtMostOnce, 1, &[&[0x30, 1], b"a"]),
            Ok(false)
        );
        assert_eq!(
            store(None::<&mut Outbox<[u8; 4]>>, QoS::AtLeastOnce, 1, &[b"a"]),
            Ok(false)
        );
        assert_eq!(
            store(
                Some(&mut o),
                QoS::AtLeastOnce,
                7,
                &[&[0x32, 5, 0, 1, b't', 0, 7], b"x"]
            ),
            Ok(true)
        );
        assert_eq!(
            store(Some(&mut o), QoS::AtLeastOnce, 8, &[&[0u8; 30]]),
            Err(PublishError::OutboxFull)
        );
        let mut written = heapless::Vec::<heapless::Vec<u8, 16>, 2>::new();
        let n = resend(&mut o, |p| {
            written.push(heapless::Vec::from_slice(p).unwrap()).unwrap();
            Ok::<(), ()>(())
        });
        assert_eq!(n, Ok(1));
        assert_eq!(&written[0][..], &[0x3A, 5, 0, 1, b't', 0, 7, b'x']);
        assert_eq!(resend(&mut o, |_| Err(9)), Err(9));
        assert!(o.ack(7));
        assert_eq!(resend(&mut o, |_| Err(9)), Ok(0));
    }

    #[test]
    fn url_encoding() {
        let mut buf = [0u8; 64];
        let mut c = Cursor::new(&mut buf);
        write_url_encoded(&mut c, "dtmi:com:example:Thermostat;1").unwrap();
        assert_eq!(c.written(), b"dtmi%3Acom%3Aexample%3AThermostat%3B1");
        assert_eq!(url_encoded_len("dtmi:com:example:Thermostat;1"), c.len());
        assert_eq!(url_encoded_len(""), 0);
        let mut small = [0u8; 4];
        assert!(write_url_encoded(&mut Cursor::new(&mut small), "a:b").is_err());
    }
}
