//! What a port's worker delivers to the application's handler: the same on every port.

use crate::hub;

/// Why the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// `disconnect()` (or `abort()`) was called.
    Requested,
    /// The hub refused CONNACK (the return code came as an event before).
    Refused,
    /// The peer closed the connection or the socket failed.
    Transport,
    /// The peer broke the protocol.
    Protocol(hub::ProtocolError),
    /// A reconnect attempt failed before CONNACK (DNS, TCP or TLS; the log says which).
    ConnectFailed,
    /// The library closed the connection to present a fresh SAS token.
    TokenRenewal,
}

/// What the worker delivers to the handler.
#[derive(Debug)]
pub enum PortEvent<'a> {
    /// An event from the core, where the worker holds it (the core's result, not a copy).
    Hub(&'a hub::Event<'a>),
    /// The peer broke the protocol; the connection is closed next.
    ProtocolError(hub::ProtocolError),
    /// The connection ended (always the last event of a connection, and with automatic
    /// reconnect the last event of the session: the library does not reconnect after it).
    Disconnected(CloseReason),
    /// Automatic reconnect or SAS renewal: the connection (or a reconnect attempt) ended, and the
    /// library tries again after `retry_in_ms` (`Reconnecting` comes then). Instead of
    /// `Disconnected`, which stays the session's final event.
    ConnectionLost {
        /// Why it ended.
        reason: CloseReason,
        /// The backoff delay before the next attempt.
        retry_in_ms: u64,
    },
    /// A reconnect attempt starts now (DNS, TCP, TLS, CONNECT); `Hub(Connected)` follows, or
    /// `ConnectionLost` when it fails.
    Reconnecting {
        /// Attempts in this session so far, this one included.
        attempt: u32,
    },
}
