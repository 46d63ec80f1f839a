//! Every failure of the C API and the one table that turns it into the errno the function
//! returns (or the `data.err` of an AZURE_IOT_HUB_EVT_ERROR event).

use core::ffi::c_int;

use super::errno::*;
use super::platform::{dns_errno, os_errno, IoError, TlsError};
use crate::hub::{self, PublishError};
use crate::port::{ConnectError, SendError};

/// Which function (or event) reports the failure: the same cause may mean a different code in
/// each, as the original's header documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Init,
    Connect,
    Disconnect,
    Send,
    MethodRespond,
}

/// Why a call failed, or what an error event reports.
// `repr(u8)`, with the port's `ConnectError` variants first and in its order: on Zephyr (where
// `ConnectError` is `repr(u8)` too) each has the same tag and payload offset as there, so
// `From<ConnectError>` is a plain copy.
#[derive(Debug)]
#[repr(u8)]
pub(crate) enum Error {
    /// The port could not connect: the host name, device ID or user name (the port's
    /// `ConnectError::InvalidConfig`).
    ConnectInvalid(hub::ConnectError),
    /// The port could not connect: resolution failed (the port's `ConnectError::Dns`).
    ConnectDns(IoError),
    /// The port could not connect: the socket or its connect failed (`ConnectError::Tcp`).
    ConnectTcp(IoError),
    /// The port could not connect: TLS failed (the port's `ConnectError::Tls`). The errno does
    /// not depend on the cause, which only `ret`'s debug log prints.
    ConnectTls(#[allow(dead_code)] TlsError),
    /// The port could not connect: a client is already connecting or connected
    /// (`ConnectError::Busy`).
    ConnectBusy,
    /// A DPS registration holds the receive buffer (Zephyr; `ConnectError::ReceiveBufferInUse`).
    #[cfg(all(feature = "zephyr", feature = "dps"))]
    ReceiveBufferInUse,
    /// A NULL argument, or a buffer with `size > 0` and a NULL `ptr`.
    Null,
    /// init: not UNINIT or DISCONNECTED.
    AlreadyInitialised,
    /// connect: CONNECTING.
    ConnectInProgress,
    /// connect: CONNECTED.
    AlreadyConnected,
    /// connect: neither DISCONNECTED, CONNECTING nor CONNECTED (for example UNINIT).
    NotDisconnected,
    /// disconnect, send, method_respond: not CONNECTED.
    NotConnected,
    /// connect: a host name or device ID that is not UTF-8, empty, or not allowed in MQTT.
    InvalidConfig,
    /// connect: a host name or device ID longer than the library stores.
    ConfigTooLong,
    /// connect: `use_dps` with CONFIG_AZURE_IOT_HUB_DPS, which this build cannot do yet.
    DpsUnsupported,
    /// connect with `use_dps`: DPS failed; the positive errno (see capi/dps).
    #[cfg_attr(
        not(all(feature = "dps", any(feature = "std", feature = "zephyr"))),
        allow(dead_code)
    )]
    Dps(c_int),
    /// send: a topic type other than EVENT, TWIN_REPORTED and TWIN_REQUEST.
    UnsupportedTopic,
    /// send: a QoS other than 0 and 1.
    UnsupportedQoS,
    /// disconnect: the transport refused.
    DisconnectFailed,
    /// The core refused the message (the port's `SendError::Publish`).
    Publish(PublishError),
    /// Writing the message to the transport failed (the port's `SendError::Io`).
    SendIo(IoError),
}

// The port's SendError and ConnectError flattened into variants of their own: `Error` is 8
// bytes on Zephyr (one tag, then an `i32` or a byte), so results are returned and passed in
// registers instead of through memory, and the errno table is one match on one tag.
#[cfg(feature = "zephyr")]
const _: () = assert!(core::mem::size_of::<Error>() == 8);

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::InvalidConfig(c) => Error::ConnectInvalid(c),
            ConnectError::Dns(io) => Error::ConnectDns(io),
            ConnectError::Tcp(io) => Error::ConnectTcp(io),
            ConnectError::Tls(t) => Error::ConnectTls(t),
            ConnectError::Busy => Error::ConnectBusy,
            #[cfg(all(feature = "zephyr", feature = "dps"))]
            ConnectError::ReceiveBufferInUse => Error::ReceiveBufferInUse,
        }
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Publish(p) => Error::Publish(p),
            SendError::Io(io) => Error::SendIo(io),
        }
    }
}

/// `data.err` of an AZURE_IOT_HUB_EVT_ERROR for a protocol error (the connection is closed
/// because of it), and the reason of a DISCONNECTED that a reconnect follows. The other error
/// events carry constants: -EINVAL an invalid state transition, -EACCES a refused subscription,
/// -ENOMSG a message on an unknown topic, -EBADMSG a malformed message (events.rs).
pub(crate) fn protocol_errno(p: hub::ProtocolError) -> c_int {
    neg(match p {
        hub::ProtocolError::KeepAliveTimeout => ETIMEDOUT,
        hub::ProtocolError::TransmitBufferFull => ENOBUFS,
        _ => EPROTO,
    })
}

/// THE table: the negative errno for `error` in `op`.
pub(crate) fn errno(op: Op, error: &Error) -> c_int {
    use Error as E;
    use PublishError as P;
    let e = match (op, error) {
        (_, E::Null) => EINVAL,
        (_, E::AlreadyInitialised) => EALREADY,
        (_, E::ConnectInProgress) => EINPROGRESS,
        (_, E::AlreadyConnected) => EALREADY,
        (_, E::NotDisconnected) => ENOENT,
        (_, E::NotConnected) => ENOTCONN,
        (_, E::InvalidConfig) => EINVAL,
        (_, E::ConfigTooLong) => EMSGSIZE,
        (_, E::DpsUnsupported) => ENOTSUP,
        (_, E::Dps(e)) => return neg(*e),
        (_, E::UnsupportedTopic) => ENOMSG,
        (_, E::UnsupportedQoS) => EINVAL,
        (_, E::DisconnectFailed) => ENXIO,

        (_, E::ConnectInvalid(c)) => match c {
            hub::ConnectError::InvalidHostname | hub::ConnectError::InvalidDeviceId => EINVAL,
            hub::ConnectError::UserNameTooLong | hub::ConnectError::BufferTooSmall => EMSGSIZE,
            // The C API's state says DISCONNECTED, but the port is still closing the previous
            // connection (between CONNECTION_FAILED and DISCONNECTED): try again after it.
            hub::ConnectError::NotDisconnected => EINPROGRESS,
        },
        (_, E::ConnectBusy) => EINPROGRESS,
        // A DPS registration holds the receive buffer (Zephyr): try again after it.
        #[cfg(all(feature = "zephyr", feature = "dps"))]
        (_, E::ReceiveBufferInUse) => EINPROGRESS,
        (_, E::ConnectDns(io)) => return neg(dns_errno(io, EHOSTUNREACH)),
        (_, E::ConnectTcp(io)) => return neg(os_errno(io, EIO)),
        (_, E::ConnectTls(_)) => ECONNABORTED,

        // A direct-method response: a response that cannot be built is -EFAULT, a publish the
        // transport refused is -ENXIO (the original's header).
        (Op::MethodRespond, E::Publish(P::NotConnected)) => ENOTCONN,
        (Op::MethodRespond, E::Publish(P::BufferFull) | E::SendIo(_)) => ENXIO,
        (Op::MethodRespond, E::Publish(_)) => EFAULT,

        (_, E::Publish(p)) => match p {
            P::NotConnected => ENOTCONN,
            // Bytes that would change the topic's meaning: the topic would be invalid.
            P::InvalidArgument => ENOMSG,
            P::PropertiesTooLong | P::TopicTooLong => EMSGSIZE,
            P::BufferFull => ENOMEM,
            // A persistent session's QoS 1 outbox is full (docs/extensions.md).
            P::OutboxFull => ENOMEM,
            P::UnsupportedQoS => EINVAL,
        },
        (_, E::SendIo(io)) => return neg(os_errno(io, EIO)),
    };
    neg(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_negative_and_context_matters() {
        let io = || std::io::Error::from_raw_os_error(ECONNRESET_FOR_TEST);
        assert_eq!(
            errno(Op::Send, &SendError::Io(io()).into()),
            -ECONNRESET_FOR_TEST
        );
        assert_eq!(
            errno(Op::MethodRespond, &SendError::Io(io()).into()),
            -ENXIO
        );
        assert_eq!(
            errno(
                Op::MethodRespond,
                &SendError::Publish(PublishError::TopicTooLong).into()
            ),
            -EFAULT
        );
        assert_eq!(
            errno(
                Op::Send,
                &SendError::Publish(PublishError::TopicTooLong).into()
            ),
            -EMSGSIZE
        );
        let dns = std::io::Error::other("failed to lookup address information");
        assert_eq!(
            errno(Op::Connect, &ConnectError::Dns(dns).into()),
            -EHOSTUNREACH
        );
        assert!(errno(Op::Init, &Error::Null) < 0);
    }

    const ECONNRESET_FOR_TEST: c_int = libc::ECONNRESET;
}
