//! The sans-IO IoT Hub client.
//!
//! Inputs: [`Client::connect`], [`Client::publish`], [`Client::disconnect`] (application calls),
//! [`Client::handle_packet`] / [`Client::handle_oversize`] (packets framed by
//! [`crate::mqtt::Framer`]), [`Client::handle_timeout`] (time), [`Client::handle_closed`] (the
//! transport ended). Outputs: the [`Event`] each packet yields, bytes from
//! [`Client::poll_transmit`], and the next deadline from [`Client::poll_timeout`].
//!
//! The receive side (the framer's buffer, which events borrow) and the transmit side (this
//! struct) are separate, so an application may call `publish` while it still holds an event.
//! Time is milliseconds on any monotonic clock the caller likes.

use core::num::NonZeroU32;

use heapless::String;

use super::properties::{self, valid_component, PropertyBag, PropertyList};
use super::scan::Out;
use super::{methods, subscribe, telemetry, twin};

use crate::mqtt::Text;
use crate::mqtt::{
    self, decode_packet, encode_connect, Connect, DecodeError, FixedHeader, Inbound,
    InboundPublish, QoS, UserName,
};
use crate::sink::{copy, Cursor, Overflow, Sink};

/// Longest host name the client stores.
pub const MAX_HOSTNAME_LEN: usize = 128;
/// Longest device ID the client stores (IoT Hub allows 128 characters).
pub const MAX_DEVICE_ID_LEN: usize = 128;

// One length limit serves both names ([`valid_id`]).
const _: () = assert!(MAX_HOSTNAME_LEN == MAX_DEVICE_ID_LEN);

/// A host name or device ID CONNECT can carry: 1 to 128 bytes of UTF-8 that a topic may hold
/// (no NUL, `#`, `+`, `&`, `=`). One called copy for every connect path (C API and core).
/// Without DPS inlined (the characters' test stays one called copy, `valid_component`): the
/// C API's tests of the lengths then tell the compiler that the host name and device ID are at
/// most 128 bytes where `Client::connect` and its CONNECT encoder (inlined there, as only the hub
/// uses it) follow, so that their tests against two-byte lengths fold away; the repeated tests in
/// `Client::connect` fold into the C API's. With DPS the encoder is a shared function, where
/// nothing folds, so the inlined tests would only add code.
#[cfg_attr(feature = "dps", inline(never))]
#[cfg_attr(not(feature = "dps"), inline(always))]
pub(crate) fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_HOSTNAME_LEN && valid_component(s.as_bytes(), false)
}

/// Settings that stay the same across connections. Defaults are the original's Kconfig defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// MQTT keep-alive in seconds (`CONFIG_MQTT_KEEPALIVE`, Zephyr's default 60). 0 disables it.
    pub keep_alive_secs: u16,
    /// The CONNECT clean-session flag.
    pub clean_session: bool,
    /// Request the twin when the subscriptions are acknowledged
    /// (`CONFIG_AZURE_IOT_HUB_AUTO_DEVICE_TWIN_REQUEST`).
    pub auto_twin_request: bool,
    /// Longest topic the client will publish (`CONFIG_AZURE_IOT_HUB_TOPIC_MAX_LEN`).
    pub topic_max_len: usize,
    /// Longest property bag (`CONFIG_AZURE_IOT_HUB_MSG_PROPERTY_BUFFER_SIZE`).
    pub property_buffer_size: usize,
    /// Size of the user-name buffer including its NUL (`CONFIG_AZURE_IOT_HUB_USER_NAME_BUF_SIZE`).
    pub user_name_buf_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_alive_secs: 60,
            clean_session: true,
            auto_twin_request: true,
            topic_max_len: 100,
            property_buffer_size: 128,
            user_name_buf_size: 160,
        }
    }
}

/// Where the client is in its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No connection.
    Disconnected,
    /// CONNECT queued, waiting for CONNACK.
    Connecting,
    /// CONNACK accepted, SUBSCRIBE queued, waiting for SUBACK.
    Connected,
    /// Subscriptions acknowledged.
    Ready,
    /// DISCONNECT queued; the transport should be closed once it is sent.
    Disconnecting,
}

/// Why [`Client::connect`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// Not in [`State::Disconnected`].
    NotDisconnected,
    /// The host name is empty, or longer than [`MAX_HOSTNAME_LEN`].
    InvalidHostname,
    /// The device ID is empty, longer than [`MAX_DEVICE_ID_LEN`], or not a valid client ID.
    InvalidDeviceId,
    /// The user name does not fit `user_name_buf_size`.
    UserNameTooLong,
    /// The CONNECT packet does not fit the transmit buffer.
    BufferTooSmall,
}

/// What the caller of [`Client::connect_idle`] checked already, as [`Client::connect`] would.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "zephyr"), allow(dead_code))]
pub(crate) struct Checked {
    /// The host name and device ID are valid ([`valid_id`]).
    pub(crate) ids: bool,
    /// The user name, with the model ID, fits the user-name buffer with its NUL.
    pub(crate) user_name: bool,
}

impl Checked {
    /// Nothing checked.
    pub(crate) const NOTHING: Checked = Checked {
        ids: false,
        user_name: false,
    };
}

/// Why [`Client::publish`] refused. Nothing was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishError {
    /// Not connected (no accepted CONNACK).
    NotConnected,
    /// A property, request ID or status that cannot be put in a topic.
    InvalidArgument,
    /// The property bag is longer than `property_buffer_size`.
    PropertiesTooLong,
    /// The topic is longer than `topic_max_len`, or the packet longer than MQTT allows.
    TopicTooLong,
    /// The transmit buffer cannot hold the packet header now.
    BufferFull,
    /// QoS 2: IoT Hub closes the connection on a QoS 2 publish.
    UnsupportedQoS,
    /// A persistent session's QoS 1 outbox ([`super::outbox::Outbox`]) has no room for the
    /// message until PUBACKs free some: try again later (nothing was dropped or sent).
    OutboxFull,
}

/// The connection must be closed: the peer broke the protocol, or stopped answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// The byte stream cannot be framed.
    Frame(mqtt::FrameError),
    /// A packet that is malformed or that a server must not send.
    Decode(DecodeError),
    /// A well-formed packet at the wrong time (a second CONNACK, a SUBACK before CONNACK, ...).
    Unexpected(u8),
    /// No PINGRESP (nor any other packet) within a keep-alive period after PINGREQ.
    KeepAliveTimeout,
    /// The transmit buffer is full, so a required acknowledgement could not be queued.
    TransmitBufferFull,
}

/// What a packet from the hub means for the application. Borrowed data points into the
/// receive buffer and is valid until the framer is used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// CONNACK accepted; the subscriptions are queued.
    Connected {
        /// The session-present flag.
        session_present: bool,
    },
    /// CONNACK refused, with its return code (1..=5). The transport should be closed.
    ConnectionRefused {
        /// The CONNACK return code.
        return_code: u8,
    },
    /// SUBACK received. `refused` has bit `i` set if subscription `i` of
    /// [`super::SUBSCRIPTIONS`] was refused by the hub.
    Ready {
        /// Refused subscriptions.
        refused: u32,
    },
    /// PUBACK for a QoS 1 message the device sent.
    Puback {
        /// Its packet identifier.
        packet_id: u16,
    },
    /// PINGRESP.
    Pingresp,
    /// A message from the hub, on one of its topics (or on one the library does not know):
    /// what it is, with the parts of its topic, is `kind`.
    Message {
        /// The full topic.
        topic: Text<'a>,
        /// The body.
        payload: &'a [u8],
        /// What the topic says the message is.
        kind: Received<'a>,
    },
    /// A message larger than the receive buffer. It was skipped (and acknowledged if QoS 1), and
    /// the stream is still in sync.
    MessageTooLarge {
        /// Its topic, when the buffer held it.
        topic: Option<Text<'a>>,
        /// Its size on the wire.
        size: usize,
    },
    /// A message on a method or twin topic that lacks a required part, or with a topic that is
    /// not UTF-8. It was skipped.
    Malformed {
        /// The topic, when it was valid (UTF-8, no U+0000 or wildcard).
        topic: Option<Text<'a>>,
    },
}

impl<'a> Event<'a> {
    /// The twin `$version` an event carries: a desired patch's, or that of a twin response
    /// after a reported PATCH ([`Received::TwinResult`]'s topic, read when asked). `None` for
    /// every other event.
    pub fn twin_version(&self) -> Option<Text<'a>> {
        match *self {
            Event::Message {
                kind: Received::TwinDesired { version },
                ..
            } => Some(version),
            Event::Message {
                topic,
                kind: Received::TwinResult { .. },
                ..
            } => twin::response_version(topic),
            _ => None,
        }
    }
}

/// What a received message ([`Event::Message`]) is, by its topic, with the topic's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<'a> {
    /// A cloud-to-device message.
    C2d {
        /// Its properties, as received (URL-encoded).
        properties: PropertyBag<'a>,
    },
    /// A direct-method call (the payload is the call's); answer it with
    /// [`MessageKind::MethodResponse`].
    DirectMethod {
        /// Method name.
        name: Text<'a>,
        /// Request ID to answer with.
        request_id: Text<'a>,
    },
    /// The full twin document (response status 200; the payload is
    /// `{"desired":{...},"reported":{...}}`).
    TwinDocument {
        /// `$rid` of the GET.
        request_id: Text<'a>,
    },
    /// A desired-properties patch (the payload is the patch JSON, with `"$version"`).
    TwinDesired {
        /// `$version` of the patch.
        version: Text<'a>,
    },
    /// Any other twin response: 204 after a reported PATCH, or an error status (the payload is
    /// the response body, an error description for failures). Its `$version` (after a
    /// reported PATCH) is found in the topic when asked: [`Event::twin_version`].
    TwinResult {
        /// `$rid` of the request.
        request_id: Text<'a>,
        /// The status code.
        status: u16,
    },
    /// A topic the library does not know. The message was skipped.
    UnknownTopic,
}

/// What to publish.
#[derive(Clone, Copy)]
pub enum MessageKind<'a> {
    /// Telemetry on `devices/{id}/messages/events/` with a property bag.
    Telemetry {
        /// Application and system properties, written verbatim.
        properties: &'a dyn PropertyList,
    },
    /// A twin GET; the request ID is generated when `None` (or empty).
    TwinGet {
        /// `$rid`: UTF-8 without NUL, `#`, `+`, `&` or `=` ([`PublishError::InvalidArgument`]
        /// otherwise). Bytes, checked once by [`Client::publish`] (the C API passes its buffer
        /// as it is).
        request_id: Option<&'a [u8]>,
    },
    /// A reported-properties PATCH; the request ID is generated when `None` (or empty).
    TwinReported {
        /// `$rid`, as for [`MessageKind::TwinGet`].
        request_id: Option<&'a [u8]>,
    },
    /// The response to a direct method.
    MethodResponse {
        /// The request ID of the call (an event's `request_id.as_bytes()`): not empty, UTF-8
        /// without NUL, `#`, `+` or `&` ([`PublishError::InvalidArgument`] otherwise).
        request_id: &'a [u8],
        /// The status (any integer, as IoT Hub allows).
        status: u32,
    },
}

/// An outgoing PUBLISH.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    /// Topic kind and its parameters.
    pub kind: MessageKind<'a>,
    /// The body.
    pub payload: &'a [u8],
    /// QoS 0 or 1.
    pub qos: QoS,
    /// The packet identifier; `None` takes the next one from the client's sequence.
    pub packet_id: Option<u16>,
    /// DUP flag.
    pub dup: bool,
    /// RETAIN flag (IoT Hub forwards it as the `mqtt-retain` property).
    pub retain: bool,
}

/// A PUBLISH ready to go: write [`Outgoing::head`] and then [`Outgoing::body`] to the transport,
/// and call [`Outgoing::sent`]. Dropping it unsent takes its header back out of the queue, so a
/// failed write never leaves half a packet queued.
pub struct Outgoing<'c, 'b> {
    /// The transmit buffer: from `*sent_at` anything queued before, then this packet's header,
    /// up to `*len`; free space after it.
    buf: &'c mut [u8],
    len: &'c mut usize,
    sent_at: &'c mut usize,
    /// The length of this packet in the queue, which ends at `*len` (the end of `head()`): its
    /// header, and its payload once [`Outgoing::gather`] copied it there.
    packet_len: usize,
    body: &'b [u8],
    /// The packet identifier used (meaningful for QoS 1).
    pub packet_id: u16,
    /// The request ID the library generated (twin requests without one), if any.
    pub request_id: Option<RequestId>,
}

/// A generated request ID as text (decimal, up to 10 digits).
pub type RequestId = String<10>;

impl Outgoing<'_, '_> {
    /// Bytes to write first: anything queued before, then this packet's header.
    pub fn head(&self) -> &[u8] {
        self.buf.get(*self.sent_at..*self.len).unwrap_or_default()
    }

    /// This packet's own header (without what was queued before it; with the payload once
    /// gathered, when [`Outgoing::body`] is empty), e.g. to keep a copy, with the body, in an
    /// [`super::outbox::Outbox`].
    pub fn packet_header(&self) -> &[u8] {
        // `packet_len <= *len` always; `get` rather than indexing links no panic path.
        self.buf
            .get((*self.len).wrapping_sub(self.packet_len)..*self.len)
            .unwrap_or_default()
    }

    /// Bytes to write second: the payload, straight from the caller's buffer.
    pub fn body(&self) -> &[u8] {
        self.body
    }

    /// Copies the body into the transmit queue after this packet's header, if it fits there:
    /// then [`Outgoing::head`] ends with the whole packet and [`Outgoing::body`] is empty, so
    /// the packet goes out in one write. For transports that make a TLS record of every write
    /// (Zephyr's TLS sockets, whose `sendmsg` also writes one record per buffer; modems with
    /// offloaded TLS): one record per packet instead of two. A transport with a vectored write
    /// into one record (the Linux port's) needs no copy. `false`, and nothing changed, if the
    /// body does not fit; dropping the `Outgoing` unsent takes the copy back out as well.
    pub fn gather(&mut self) -> bool {
        let n = self.body.len();
        let Some(dst) = self
            .buf
            .get_mut(*self.len..)
            .and_then(|free| free.get_mut(..n))
        else {
            return false;
        };
        copy(dst, self.body);
        *self.len += n;
        self.packet_len += n;
        self.body = &[];
        true
    }

    /// The head and body were written.
    pub fn sent(self) {
        *self.len = 0;
        *self.sent_at = 0;
        // Nothing to take back (`Drop`).
        core::mem::forget(self);
    }
}

impl Drop for Outgoing<'_, '_> {
    fn drop(&mut self) {
        let rollback_to = (*self.len).wrapping_sub(self.packet_len);
        *self.len = rollback_to;
        *self.sent_at = (*self.sent_at).min(rollback_to);
    }
}

/// The transmit queue: packets the client itself generates (CONNECT, SUBSCRIBE, PUBACK, PINGREQ,
/// DISCONNECT, the automatic twin GET) and publish headers, in a caller-owned buffer.
///
/// `sent == len` only when both are 0: what marks the last queued byte written empties the
/// queue (`Client::transmit_complete`, `Outgoing::sent`), and an `Outgoing`'s rollback leaves
/// `sent` at most the length it restores. So appending needs no "all written: start again at
/// 0" test first.
struct TxQueue<B> {
    buf: B,
    len: usize,
    sent: usize,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> TxQueue<B> {
    fn pending(&self) -> &[u8] {
        self.buf
            .as_ref()
            .get(self.sent..self.len)
            .unwrap_or_default()
    }
    fn clear(&mut self) {
        self.len = 0;
        self.sent = 0;
    }
    /// Appends what `write` produces, all or nothing (CONNECT, written by its encoder).
    fn push(
        &mut self,
        write: impl FnOnce(&mut Cursor<'_>) -> Result<(), mqtt::EncodeError>,
    ) -> Result<(), Overflow> {
        let mut c = self.out();
        write(&mut c).map_err(|_| Overflow)?;
        self.len += c.len();
        Ok(())
    }
    /// The next `n` bytes of free space, queued (to be filled by the caller), or an empty slice
    /// (nothing queued) if they do not fit. One called copy for the packets the client lays out
    /// itself (PUBACK, PINGREQ, DISCONNECT, SUBSCRIBE, the automatic twin GET), instead of a
    /// cursor and an encoder call per packet. Empty rather than `None`: each caller tests the
    /// length it needs anyway, and that one test then covers both (an `Option` would be tested
    /// as well: about 9 B per caller).
    #[inline(never)]
    fn reserve(&mut self, n: usize) -> &mut [u8] {
        match self
            .buf
            .as_mut()
            .get_mut(self.len..)
            .and_then(|f| f.get_mut(..n))
        {
            Some(dst) => {
                self.len += n;
                dst
            }
            None => &mut [],
        }
    }
    /// Queues `packet` whole, or nothing if it does not fit.
    #[inline(always)]
    fn push_bytes<const N: usize>(&mut self, packet: [u8; N]) -> Result<(), Overflow> {
        // PUBACK (4 bytes), PINGREQ and DISCONNECT (2): a compile error for any other length.
        const { assert!(N == 2 || N == 4) };
        // A slice pattern: only the length is tested (`first_chunk_mut`'s `Option` would be
        // tested too, as the compiler does not know the called `reserve`'s pointer is not null).
        match (self.reserve(N), packet.as_slice()) {
            ([d0, d1, d2, d3, ..], &[s0, s1, s2, s3]) => {
                (*d0, *d1, *d2, *d3) = (s0, s1, s2, s3);
            }
            ([d0, d1, ..], &[s0, s1]) => {
                (*d0, *d1) = (s0, s1);
            }
            _ => return Err(Overflow),
        }
        Ok(())
    }
    /// A writer (a cursor) over the free space; add what it wrote to `len` to queue it (all or
    /// nothing).
    #[inline(always)]
    fn out(&mut self) -> Out<'_> {
        Out::new(self.buf.as_mut().get_mut(self.len..).unwrap_or_default())
    }
}

/// A PUBLISH topic written straight into the transmit queue, inlined. Telemetry (the hot
/// path: the fixed pieces as plain moves, then the bag, checked while written, with its length
/// what was written: one pass) and method responses (the status's `digits` written in place)
/// each have their own writer; a twin topic is `head` and the request ID. `Err`: the topic
/// does not fit, or (telemetry) a property was refused or the bag is longer than `limits`
/// allow; `Client::refuse` tells which.
#[inline(always)]
fn put_topic(
    o: &mut Out<'_>,
    kind: &MessageKind<'_>,
    device_id: &[u8],
    digits: usize,
    rid: &[u8],
    limits: &KeptOptions,
) -> Result<(), Overflow> {
    match *kind {
        MessageKind::Telemetry { properties } => {
            o.bytes_around(telemetry::PREFIX, device_id, telemetry::SUFFIX)?;
            let bag = properties::put_bag(o.free(), properties).ok_or(Overflow)?;
            o.skip(bag);
            if bag > 0 && bag >= usize::from(limits.property_buffer_size) {
                return Err(Overflow);
            }
        }
        MessageKind::MethodResponse { status, .. } => {
            o.bytes_fixed(b"$iothub/methods/res/")?;
            o.decimal_then(status, digits, b"/?$rid=")?;
            o.put(rid)?;
        }
        _ => {
            o.put(twin_head(kind))?;
            o.put(rid)?;
        }
    }
    Ok(())
}

/// The length of a PUBLISH header (first byte, remaining length, topic length) for a
/// `remaining` length of at most [`mqtt::MAX_REMAINING_LENGTH`]. Called, not inlined: the
/// inlined test and its two paths cost more flash than the call (telemetry 3 instructions).
#[inline(never)]
fn header_len(remaining: usize) -> usize {
    if remaining < 128 {
        4
    } else {
        long_header_len(remaining)
    }
}

/// Moves the topic written at `at` up when its header, for a `remaining` length of 128 or
/// more, is longer than `at` bytes.
#[inline(always)]
fn fit_long_header(o: &mut Out<'_>, at: usize, remaining: usize) -> Result<(), Overflow> {
    let head = long_header_len(remaining);
    if head > at {
        o.shift_up(at, head - at)?;
    }
    Ok(())
}

/// [`header_len`] of a remaining length of 128 or more.
#[inline(never)]
fn long_header_len(remaining: usize) -> usize {
    5 + usize::from(remaining >= 16_384) + usize::from(remaining >= 2_097_152)
}

/// The fixed start of a twin request's topic.
#[inline(always)]
fn twin_head(kind: &MessageKind<'_>) -> &'static [u8] {
    if let MessageKind::TwinGet { .. } = kind {
        twin::GET_PREFIX
    } else {
        twin::REPORTED_PREFIX
    }
}

// The device ID's length is kept in a `u8`.
const _: () = assert!(MAX_DEVICE_ID_LEN <= u8::MAX as usize);

/// [`Options`] as the client keeps them: the sizes as `u16` (10 bytes of static RAM instead of
/// 32 on 64-bit targets). A larger size is kept as 65,535: what it limits (the topic, which
/// holds the property bag, and the user name) is an MQTT string, never longer than that.
#[derive(Debug, Clone, Copy)]
struct KeptOptions {
    keep_alive_secs: u16,
    clean_session: bool,
    auto_twin_request: bool,
    topic_max_len: u16,
    property_buffer_size: u16,
    user_name_buf_size: u16,
}

impl KeptOptions {
    fn new(o: Options) -> Self {
        let kept = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        KeptOptions {
            keep_alive_secs: o.keep_alive_secs,
            clean_session: o.clean_session,
            auto_twin_request: o.auto_twin_request,
            topic_max_len: kept(o.topic_max_len),
            property_buffer_size: kept(o.property_buffer_size),
            user_name_buf_size: kept(o.user_name_buf_size),
        }
    }

    fn options(self) -> Options {
        Options {
            keep_alive_secs: self.keep_alive_secs,
            clean_session: self.clean_session,
            auto_twin_request: self.auto_twin_request,
            topic_max_len: usize::from(self.topic_max_len),
            property_buffer_size: usize::from(self.property_buffer_size),
            user_name_buf_size: usize::from(self.user_name_buf_size),
        }
    }
}

/// PINGREQ and DISCONNECT, queued as they are (the bytes `mqtt::encode_pingreq` and
/// `mqtt::encode_disconnect` write: see the test `fixed_packets_are_the_encoders`).
const PINGREQ: [u8; 2] = [0xC0, 0x00];
const DISCONNECT: [u8; 2] = [0xE0, 0x00];

/// `Client::ping_sent_ms` when no PINGREQ is outstanding.
const NO_PING: u64 = u64::MAX;

/// The IoT Hub client state machine. `B` is the caller-owned transmit buffer (an array, a
/// `&mut [u8]`, a `Vec<u8>`...).
pub struct Client<B> {
    tx: TxQueue<B>,
    opts: KeptOptions,
    state: State,
    /// The device ID (`device_id_len` bytes, UTF-8: checked by `connect`). Not a
    /// `heapless::String`, whose length is a `usize`: 8 bytes less of static RAM.
    device_id: [u8; MAX_DEVICE_ID_LEN],
    device_id_len: u8,
    next_packet_id: u16,
    next_request_id: u32,
    subscribe_id: u16,
    last_tx_ms: u64,
    /// When the unanswered PINGREQ was queued, or [`NO_PING`] (a plain `u64`: 8 bytes less
    /// of static RAM than an `Option`).
    ping_sent_ms: u64,
    c2d_qos: QoS,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Client<B> {
    /// A client that queues its own packets in `tx_buf` (a few hundred bytes: it must hold a
    /// CONNECT and a publish header).
    pub fn new(tx_buf: B, opts: Options) -> Self {
        Client {
            tx: TxQueue {
                buf: tx_buf,
                len: 0,
                sent: 0,
            },
            opts: KeptOptions::new(opts),
            state: State::Disconnected,
            device_id: [0; MAX_DEVICE_ID_LEN],
            device_id_len: 0,
            next_packet_id: 0,
            next_request_id: 0,
            subscribe_id: 0,
            last_tx_ms: 0,
            ping_sent_ms: NO_PING,
            c2d_qos: QoS::AtMostOnce,
        }
    }

    /// The QoS of the C2D subscription (QoS 0 by default, as the original). With a persistent
    /// session, QoS 1 makes the hub queue C2D messages while the device is offline and deliver
    /// them again until acknowledged. Takes effect at the next SUBSCRIBE (after CONNACK).
    pub fn set_c2d_qos(&mut self, qos: QoS) {
        self.c2d_qos = if qos == QoS::AtMostOnce {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
    }

    /// The options (sizes above 65,535 read back as 65,535, see `KeptOptions`).
    pub fn options(&self) -> Options {
        self.opts.options()
    }

    /// Changes the options; takes effect at the next connect.
    pub fn set_options(&mut self, opts: Options) {
        self.opts = KeptOptions::new(opts);
    }

    /// Connection state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The device ID of the current (or last) connection.
    pub fn device_id(&self) -> &str {
        core::str::from_utf8(self.device_id_bytes()).unwrap_or_default()
    }

    fn device_id_bytes(&self) -> &[u8] {
        self.device_id
            .get(..usize::from(self.device_id_len))
            .unwrap_or_default()
    }

    /// True once CONNACK was accepted and until the connection ends.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected | State::Ready)
    }

    /// The next packet identifier: 1, 2, ..., 65535, 1, ... (never 0).
    #[inline(never)]
    pub fn next_packet_id(&mut self) -> u16 {
        self.next_packet_id = self.next_packet_id.wrapping_add(1);
        if self.next_packet_id == 0 {
            self.next_packet_id = 1;
        }
        self.next_packet_id
    }

    /// The next request ID, full width and unique for 2^32 requests.
    pub fn next_request_id(&mut self) -> RequestId {
        self.next_request_id = self.next_request_id.wrapping_add(1);
        let n = self.next_request_id;
        // The decimal digits, most significant first: `div` is the place of the first one
        // (at most 10^9, so it cannot overflow). Ten digits always fit. A `NonZeroU32`
        // divisor: no division-by-zero panic path.
        const TEN: NonZeroU32 = NonZeroU32::new(10).unwrap();
        let mut div = NonZeroU32::MIN;
        // (`n / div >= 10` is `div <= n / 10`: one division, not one per digit.)
        let tenth = n / 10;
        while div.get() <= tenth {
            div = div.saturating_mul(TEN);
        }
        let mut s = RequestId::new();
        loop {
            let _ = s.push(char::from(b'0' + (n / div % 10) as u8));
            match NonZeroU32::new(div.get() / 10) {
                Some(d) => div = d,
                None => break,
            }
        }
        s
    }

    /// Queues CONNECT for `device_id` at `hostname`. `password` is a SAS token, or `None` for
    /// X.509. `model_id` is an IoT Plug and Play model ID, already URL-encoded.
    pub fn connect(
        &mut self,
        hostname: &str,
        device_id: &str,
        password: Option<&[u8]>,
        model_id: Option<&str>,
        now_ms: u64,
    ) -> Result<(), ConnectError> {
        if self.state != State::Disconnected {
            return Err(ConnectError::NotDisconnected);
        }
        self.connect_idle(
            hostname,
            device_id,
            password,
            model_id,
            now_ms,
            Checked::NOTHING,
        )
    }

    /// [`Client::connect`] for a client its caller knows to be disconnected (the Zephyr port
    /// connects only while it has no connection, and every connection ends with
    /// [`Client::handle_closed`]), without the checks `checked` says its caller made already
    /// (the C API's connect checks the host name, device ID and user name before it reports
    /// CONNECTING, or its DPS hook the assigned ones), so that they are not made twice.
    #[inline(always)]
    pub(crate) fn connect_idle(
        &mut self,
        hostname: &str,
        device_id: &str,
        password: Option<&[u8]>,
        model_id: Option<&str>,
        now_ms: u64,
        checked: Checked,
    ) -> Result<(), ConnectError> {
        if !checked.ids {
            if !valid_id(hostname) {
                return Err(ConnectError::InvalidHostname);
            }
            if !valid_id(device_id) {
                return Err(ConnectError::InvalidDeviceId);
            }
        }
        let user_len = super::user_name_len(hostname, device_id, model_id);
        if !checked.user_name && user_len + 1 > usize::from(self.opts.user_name_buf_size) {
            return Err(ConnectError::UserNameTooLong);
        }
        // It fits: the length was checked above (at most 128: a `u8`). The host name is not
        // kept: it is only needed in CONNECT.
        let id = device_id.as_bytes();
        if let Some(slot) = self.device_id.get_mut(..id.len()) {
            crate::sink::copy(slot, id);
            self.device_id_len = id.len() as u8;
        }

        self.tx.clear();
        let connect = Connect {
            client_id: device_id,
            keep_alive: self.opts.keep_alive_secs,
            clean_session: self.opts.clean_session,
            // `{host}/{device_id}{USER_NAME_SUFFIX}[&model-id={model_id}]`, as
            // `super::write_user_name` writes it.
            user_name: Some(UserName {
                host: hostname,
                path: "/",
                query: super::USER_NAME_SUFFIX,
                model_id,
            }),
            password,
            will: None,
        };
        self.tx
            .push(|c| encode_connect(c, &connect))
            .map_err(|_| ConnectError::BufferTooSmall)?;
        self.state = State::Connecting;
        self.last_tx_ms = now_ms;
        self.ping_sent_ms = NO_PING;
        Ok(())
    }

    /// Queues DISCONNECT. The caller sends it, closes the transport and calls
    /// [`Client::handle_closed`].
    pub fn disconnect(&mut self) -> Result<(), State> {
        match self.state {
            State::Connected | State::Ready => {
                // DISCONNECT is two bytes; if the queue is full, closing the transport is enough.
                let _ = self.tx.push_bytes(DISCONNECT);
                self.state = State::Disconnecting;
                Ok(())
            }
            other => Err(other),
        }
    }

    /// The transport is closed (by either side). Forgets the connection.
    pub fn handle_closed(&mut self) {
        self.state = State::Disconnected;
        self.tx.clear();
        self.ping_sent_ms = NO_PING;
    }

    /// Bytes waiting to be written, if any.
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        let p = self.tx.pending();
        (!p.is_empty()).then_some(p)
    }

    /// `n` bytes of [`Client::poll_transmit`] were written.
    #[inline(always)]
    pub fn transmit_complete(&mut self, n: usize, now_ms: u64) {
        let sent = self.tx.sent + n;
        if sent >= self.tx.len {
            self.tx.clear();
        } else {
            self.tx.sent = sent;
        }
        if n > 0 {
            self.last_tx_ms = now_ms;
        }
    }

    /// A whole packet of [`Client::publish`] was written and [`Outgoing::sent`] emptied the
    /// queue: what [`Client::transmit_complete`] then does with the packet's length (never 0),
    /// without the length and its tests (the Zephyr port's publish).
    #[cfg_attr(not(feature = "zephyr"), allow(dead_code))]
    #[inline(always)]
    pub(crate) fn packet_written(&mut self, now_ms: u64) {
        self.last_tx_ms = now_ms;
    }

    /// When [`Client::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !matches!(
            self.state,
            State::Connecting | State::Connected | State::Ready
        ) || self.opts.keep_alive_secs == 0
        {
            return None;
        }
        let period = u64::from(self.opts.keep_alive_secs) * 1000;
        Some(match self.ping_sent_ms {
            NO_PING => self.last_tx_ms + period,
            sent => sent + period,
        })
    }

    /// Time passed: queues PINGREQ when one is due; fails when a PINGREQ went unanswered for a
    /// whole keep-alive period.
    pub fn handle_timeout(&mut self, now_ms: u64) -> Result<(), ProtocolError> {
        let Some(deadline) = self.poll_timeout() else {
            return Ok(());
        };
        if now_ms < deadline {
            return Ok(());
        }
        if self.ping_sent_ms != NO_PING {
            return Err(ProtocolError::KeepAliveTimeout);
        }
        self.tx
            .push_bytes(PINGREQ)
            .map_err(|_| ProtocolError::TransmitBufferFull)?;
        self.ping_sent_ms = now_ms.min(NO_PING - 1);
        Ok(())
    }

    /// Builds a PUBLISH. On success its header is queued (after anything already pending) and
    /// the returned [`Outgoing`] must be written out before the client is used again.
    pub fn publish<'c, 'b>(
        &'c mut self,
        msg: &Message<'b>,
        _now_ms: u64,
    ) -> Result<Outgoing<'c, 'b>, PublishError> {
        if !self.is_connected() {
            return Err(PublishError::NotConnected);
        }
        // The packet identifier's length (QoS 1), and QoS 2 refused.
        let pid_len = match msg.qos {
            QoS::AtMostOnce => 0,
            QoS::AtLeastOnce => 2,
            QoS::ExactlyOnce => return Err(PublishError::UnsupportedQoS),
        };
        let kind = msg.kind;
        let mut generated = None;
        // A method response's status digits.
        let mut digits = 0;
        // The request ID, and the length of the rest of the topic (telemetry: without the bag,
        // whose length is known once it is written).
        let (rid, rest): (&[u8], usize) = match kind {
            MessageKind::Telemetry { .. } => (
                b"",
                telemetry::topic_len(usize::from(self.device_id_len), 0),
            ),
            MessageKind::TwinGet { request_id } | MessageKind::TwinReported { request_id } => {
                let r = match request_id {
                    Some(r) if !r.is_empty() => r,
                    _ => {
                        generated = Some(self.next_request_id());
                        b""
                    }
                };
                (r, twin_head(&kind).len())
            }
            MessageKind::MethodResponse {
                request_id: r,
                status,
            } => {
                if r.is_empty() {
                    return Err(PublishError::InvalidArgument);
                }
                digits = super::scan::decimal_len(status);
                (r, methods::RES_PREFIX.len() + digits + methods::RID.len())
            }
        };
        // A request ID given (not empty: a generated one is left out), checked by one call,
        // UTF-8 included: `=` is allowed in a method response's only.
        if !rid.is_empty() && !valid_component(rid, digits != 0) {
            return Err(PublishError::InvalidArgument);
        }
        let rid = generated.as_ref().map_or(rid, |g| g.as_bytes());
        // The whole topic but a telemetry bag (its length is checked once it is written).
        let known = rest + rid.len();
        // The packet identifier, and the sequence's next state, stored only once the message
        // is written.
        let (packet_id, next_packet_id) = match msg.packet_id {
            Some(id) if id != 0 => (id, self.next_packet_id),
            _ => match self.next_packet_id.wrapping_add(1) {
                0 => (1, 1),
                n => (n, n),
            },
        };
        let limits = &self.opts;
        let (device_id, device_id_len) = (&self.device_id, self.device_id_len);
        // Straight into the queue through the inlined writer (the hot path of every send: no
        // `Sink` call per topic piece): the topic first, after the header it needs without a
        // bag, then the header before it (the topic moved up in the rare case that the bag
        // makes the remaining length one byte longer), then the packet identifier.
        let mut o = self.tx.out();
        let payload_len = msg.payload.len();
        let at = header_len(2 + known + pid_len + payload_len);
        let written = (|| -> Result<usize, Overflow> {
            o.take(at)?;
            let device_id = device_id
                .get(..usize::from(device_id_len))
                .unwrap_or_default();
            put_topic(&mut o, &kind, device_id, digits, rid, limits)?;
            let topic_len = o.len() - at;
            if topic_len > usize::from(limits.topic_max_len)
                || payload_len > mqtt::MAX_REMAINING_LENGTH - topic_len - 4
            {
                return Err(Overflow);
            }
            let remaining = 2 + topic_len + pid_len + payload_len;
            if remaining >= 128 {
                // (Under 128, so was the remaining length `at` was computed from: `at` is
                // the header's length.)
                fit_long_header(&mut o, at, remaining)?;
            }
            if pid_len > 0 {
                o.u16(packet_id)?;
            }
            let n = o.len();
            o.seek(0);
            // (The QoS bits, `qos << 1`, are `pid_len`: 0 for QoS 0, 2 for QoS 1.)
            o.u8(0x30 | ((msg.dup as u8) << 3) | pid_len as u8 | msg.retain as u8)?;
            o.remaining_length(remaining)?;
            // At most `topic_max_len`, a `u16`.
            o.u16(topic_len as u16)?;
            Ok(n)
        })();
        let Ok(n) = written else {
            return Err(self.refuse(msg, known));
        };
        self.next_packet_id = next_packet_id;
        self.tx.len += n;
        let TxQueue { buf, len, sent } = &mut self.tx;
        Ok(Outgoing {
            buf: buf.as_mut(),
            len,
            sent_at: sent,
            packet_len: n,
            body: msg.payload,
            packet_id,
            request_id: generated,
        })
    }

    /// Why a publish was refused (its topic, `known` bytes long without a telemetry bag, was
    /// written unchecked): the first check that fails, in this order: a telemetry property that
    /// is not valid, the bag's length, the topic's (or the packet's) length, the queue's room.
    /// A refusal after the properties were checked uses up a packet identifier.
    #[cold]
    #[inline(never)]
    fn refuse(&mut self, msg: &Message<'_>, known: usize) -> PublishError {
        let mut topic_len = known;
        if let MessageKind::Telemetry { properties } = msg.kind {
            let Ok(bag) = properties::bag_len(properties) else {
                return PublishError::InvalidArgument;
            };
            if bag > 0 && bag >= usize::from(self.opts.property_buffer_size) {
                return PublishError::PropertiesTooLong;
            }
            topic_len += bag;
        }
        if !matches!(msg.packet_id, Some(id) if id != 0) {
            self.next_packet_id();
        }
        if topic_len > usize::from(self.opts.topic_max_len)
            || msg.payload.len() > mqtt::MAX_REMAINING_LENGTH - topic_len - 4
        {
            PublishError::TopicTooLong
        } else {
            PublishError::BufferFull
        }
    }

    fn queue_subscribe(&mut self) -> Result<(), ProtocolError> {
        let id = self.next_packet_id();
        self.subscribe_id = id;
        // The packet laid out at compile time (`subscribe.rs`): the same bytes as
        // `encode_subscribe` with the C2D filter at `c2d_qos` and the others at QoS 0, copied
        // straight into the queue and patched there.
        let qos = self.c2d_qos;
        let dst = self.tx.reserve(subscribe::LEN);
        if dst.len() < subscribe::LEN {
            return Err(ProtocolError::TransmitBufferFull);
        }
        subscribe::write(dst, id, qos);
        Ok(())
    }

    fn queue_twin_get(&mut self) -> Result<(), ProtocolError> {
        let rid = self.next_request_id();
        // QoS 0 carries no packet ID, but one is used up, as for any publish.
        let _ = self.next_packet_id();
        // The topic is at most 23 + 10 bytes: a one-byte remaining length (what
        // `encode_publish_header` writes for it, without its generic code).
        let len = twin::get_topic_len(rid.len());
        let (head, id) = self
            .tx
            .reserve(4 + len)
            .split_first_chunk_mut::<{ 4 + twin::GET_PREFIX.len() }>()
            .ok_or(ProtocolError::TransmitBufferFull)?;
        *head = twin::GET_HEAD;
        head[1] = 2 + len as u8;
        head[3] = len as u8;
        copy(id, rid.as_bytes());
        Ok(())
    }

    /// A packet larger than the receive buffer was skipped by the framer. A QoS 1 PUBLISH is
    /// acknowledged (the application is told with the event) so the hub does not resend it.
    // With DPS called, not inlined into the worker (14 B less there; without DPS, 72 B more).
    #[cfg_attr(feature = "dps", inline(never))]
    pub fn handle_oversize<'p>(
        &mut self,
        header: FixedHeader,
        prefix: &'p [u8],
        now_ms: u64,
    ) -> Result<Event<'p>, ProtocolError> {
        let _ = now_ms;
        self.ping_sent_ms = NO_PING;
        if header.packet_type != mqtt::packet_type::PUBLISH {
            return Err(ProtocolError::Unexpected(header.packet_type));
        }
        let (topic, packet_id) = crate::mqtt::publish_prefix(header, prefix);
        if let Some(id) = packet_id {
            self.queue_puback(id)?;
        }
        Ok(Event::MessageTooLarge {
            topic,
            size: header.total_length(),
        })
    }

    /// A complete packet from the framer. Returns the event it means for the application, or an
    /// error after which the connection must be closed.
    #[inline(never)]
    pub fn handle_packet<'p>(
        &mut self,
        header: FixedHeader,
        body: &'p [u8],
        now_ms: u64,
    ) -> Result<Event<'p>, ProtocolError> {
        let _ = now_ms;
        // Any packet from the server shows the connection is alive.
        self.ping_sent_ms = NO_PING;
        let connected = matches!(
            self.state,
            State::Connected | State::Ready | State::Disconnecting
        );
        // With DPS, whose client shares it, through the called `decode_packet`. Without, the
        // decoder is inlined and a PUBLISH decoded on its own path: no `Inbound` built and taken
        // apart again for the packet most often received (140 B less code, 9 instructions less
        // per message). The same checks in the same order: the packet, then the state it is
        // allowed in.
        let decoded = if cfg!(feature = "dps") {
            decode_packet(header, body)
        } else if header.packet_type == mqtt::packet_type::PUBLISH {
            match mqtt::decode_publish(header, body) {
                Ok(p) if connected => return self.handle_publish(p),
                Ok(_) => return Err(ProtocolError::Unexpected(header.packet_type)),
                Err(e) => Err(e),
            }
        } else {
            mqtt::decode_control(header, body)
        };
        let packet = match decoded {
            Ok(p) => p,
            Err(DecodeError::InvalidTopic(id)) => {
                // A PUBLISH, well framed, so the stream is in sync: skip it, acknowledge it (with
                // the packet identifier the decoder read), report it.
                return self.acknowledged(id, Event::Malformed { topic: None });
            }
            Err(e) => return Err(ProtocolError::Decode(e)),
        };
        // The packet first, then the state it is allowed in; anything else is unexpected
        // (its type is the header's: `decode_packet` returns the variant of that type).
        match packet {
            Inbound::Connack {
                session_present,
                return_code,
            } if self.state == State::Connecting => {
                if return_code != 0 {
                    self.state = State::Disconnected;
                    return Ok(Event::ConnectionRefused { return_code });
                }
                self.state = State::Connected;
                self.queue_subscribe()?;
                Ok(Event::Connected { session_present })
            }
            Inbound::Suback { packet_id, codes }
                if self.state == State::Connected && packet_id == self.subscribe_id =>
            {
                self.state = State::Ready;
                if self.opts.auto_twin_request {
                    self.queue_twin_get()?;
                }
                Ok(Event::Ready {
                    refused: codes.failure_mask(),
                })
            }
            Inbound::Puback(packet_id) if connected => Ok(Event::Puback { packet_id }),
            Inbound::Pingresp if connected => Ok(Event::Pingresp),
            Inbound::Publish(p) if connected => self.handle_publish(p),
            _ => Err(ProtocolError::Unexpected(header.packet_type)),
        }
    }

    /// Queues a PUBACK (one called copy for every path that acknowledges a PUBLISH).
    #[inline(never)]
    fn queue_puback(&mut self, id: u16) -> Result<(), ProtocolError> {
        let [hi, lo] = id.to_be_bytes();
        self.tx
            .push_bytes([0x40, 0x02, hi, lo])
            .map_err(|_| ProtocolError::TransmitBufferFull)
    }

    // Inlined into both of `handle_packet`'s PUBLISH paths (one of them compiled out): called,
    // it takes the packet through memory (about 30 instructions more per message at
    // `opt-level = "s"`).
    #[inline(always)]
    fn handle_publish<'p>(&mut self, p: InboundPublish<'p>) -> Result<Event<'p>, ProtocolError> {
        // IoT Hub never sends QoS 2 (the library subscribes with QoS 0). The decoder reads a
        // packet identifier exactly for QoS 1 and 2, so what is left to acknowledge is QoS 1's.
        if p.qos == QoS::ExactlyOnce {
            return Err(ProtocolError::Unexpected(mqtt::packet_type::PUBLISH));
        }
        // Acknowledged before the application sees it, as the original does.
        self.acknowledged(p.packet_id, publish_event(p.topic, p.payload))
    }

    /// `event`, once the PUBACK for `id` (if any) is queued: one copy for a PUBLISH and a
    /// malformed one.
    #[inline(always)]
    fn acknowledged<'p>(
        &mut self,
        id: Option<u16>,
        event: Event<'p>,
    ) -> Result<Event<'p>, ProtocolError> {
        if let Some(id) = id {
            self.queue_puback(id)?;
        }
        Ok(event)
    }
}

/// The event a PUBLISH on `topic` with `payload` means. One called copy for the client and for
/// whoever needs only what kind of topic a received one is (the C API's MessageTooLarge topic
/// type). The message's kind is built by the classification itself ([`super::classify_into`]),
/// where the topic's parts are: no [`super::HubTopic`] to convert afterwards; the topic and payload
/// are stored once, for every kind.
#[inline(never)]
pub(crate) fn publish_event<'p>(topic: Text<'p>, payload: &'p [u8]) -> Event<'p> {
    match super::classify_into(topic, AsReceived) {
        Some(kind) => Event::Message {
            topic,
            payload,
            kind,
        },
        None => Event::Malformed { topic: Some(topic) },
    }
}

/// Makes each kind of topic a [`Received`] (`None`: malformed), for [`super::classify_into`].
struct AsReceived;

impl<'p> super::TopicKinds<'p, Text<'p>> for AsReceived {
    type Out = Option<Received<'p>>;
    fn c2d(self, properties: PropertyBag<'p>) -> Self::Out {
        Some(Received::C2d { properties })
    }
    fn method(self, m: methods::MethodTopic<Text<'p>>) -> Self::Out {
        Some(Received::DirectMethod {
            name: m.name,
            request_id: m.request_id,
        })
    }
    fn twin(self, t: twin::TwinTopic<Text<'p>>) -> Self::Out {
        Some(match t {
            twin::TwinTopic::Desired { version } => Received::TwinDesired { version },
            twin::TwinTopic::Response {
                status: 200,
                request_id,
            } => Received::TwinDocument { request_id },
            twin::TwinTopic::Response { status, request_id } => {
                Received::TwinResult { request_id, status }
            }
        })
    }
    fn malformed(self) -> Self::Out {
        None
    }
    fn unknown(self) -> Self::Out {
        Some(Received::UnknownTopic)
    }
}

#[cfg(test)]
mod kept_state_tests {
    use super::*;

    #[test]
    fn options_and_device_id_read_back_as_set() {
        let opts = Options {
            keep_alive_secs: 30,
            clean_session: false,
            auto_twin_request: false,
            topic_max_len: 65_535,
            property_buffer_size: 1,
            user_name_buf_size: 300,
        };
        let mut c = Client::new([0u8; 512], opts);
        assert_eq!(c.options(), opts);
        // Sizes beyond what an MQTT string can hold are kept as 65,535.
        c.set_options(Options {
            topic_max_len: 1 << 20,
            ..opts
        });
        assert_eq!(c.options().topic_max_len, 65_535);
        let id = "é-".repeat(42) + "xy"; // 128 bytes
        c.connect("h", &id, None, None, 0).unwrap();
        assert_eq!(c.device_id(), id);
        assert_eq!(
            c.connect("h", &(id.clone() + "z"), None, None, 0),
            Err(ConnectError::NotDisconnected)
        );
        c.handle_closed();
        assert_eq!(
            c.connect("h", &(id + "z"), None, None, 0),
            Err(ConnectError::InvalidDeviceId)
        );
    }

    /// CONNECT's user name, written by the encoder from its pieces, is what
    /// `super::super::write_user_name` writes, with and without a model ID.
    #[test]
    fn connect_user_name_is_write_user_name() {
        for model in [None, Some("dtmi%3Acom%3Aexample%3AThermostat%3B1")] {
            let mut c = Client::new([0u8; 512], Options::default());
            c.connect("hub.example", "dev-1", Some(b"pw"), model, 0)
                .unwrap();
            let packet = c.poll_transmit().unwrap();
            let mut buf = [0u8; 160];
            let mut w = Cursor::new(&mut buf);
            super::super::write_user_name(&mut w, "hub.example", "dev-1", model).unwrap();
            let user = w.written();
            // After the client ID; the password (2 + 2) follows it.
            let at = packet.len() - 4 - user.len() - 2;
            assert_eq!(packet.get(at - 7..at), Some(&b"\0\x05dev-1"[..]));
            let len = u16::try_from(user.len()).unwrap().to_be_bytes();
            assert_eq!(packet.get(at..at + 2), Some(&len[..]));
            assert_eq!(packet.get(at + 2..at + 2 + user.len()), Some(user));
            assert_eq!(&packet[at + 2 + user.len()..], b"\0\x02pw");
        }
    }

    /// The packets the client queues as laid out in place are what the encoders write.
    #[test]
    fn fixed_packets_are_the_encoders() {
        fn encoded(
            f: impl FnOnce(&mut Cursor<'_>) -> Result<(), mqtt::EncodeError>,
        ) -> std::vec::Vec<u8> {
            let mut buf = [0u8; 8];
            let mut c = Cursor::new(&mut buf);
            f(&mut c).unwrap();
            c.written().to_vec()
        }
        assert_eq!(encoded(|c| mqtt::encode_pingreq(c)), PINGREQ);
        assert_eq!(encoded(|c| mqtt::encode_disconnect(c)), DISCONNECT);
        for id in [1u16, 0x1234, u16::MAX] {
            let mut c = Client::new([0u8; 16], Options::default());
            c.queue_puback(id).unwrap();
            let queued = c.poll_transmit().unwrap().to_vec();
            assert_eq!(queued, encoded(|c| mqtt::encode_puback(c, id)));
        }
        // The automatic twin GET, with the shortest and the longest request ID.
        for (n, rid) in [(0, "1"), (u32::MAX - 1, "4294967295")] {
            let mut c = Client::new([0u8; 64], Options::default());
            c.next_request_id = n;
            c.queue_twin_get().unwrap();
            let queued = c.poll_transmit().unwrap().to_vec();
            let mut buf = [0u8; 64];
            let mut w = Cursor::new(&mut buf);
            let topic_len = twin::get_topic_len(rid.len());
            let topic = |s: &mut Cursor<'_>| twin::write_get_topic(s, rid);
            mqtt::encode_publish_header(
                &mut w,
                topic_len,
                topic,
                QoS::AtMostOnce,
                0,
                false,
                false,
                0,
            )
            .unwrap();
            assert_eq!(queued, w.written(), "{rid}");
        }
        // What does not fit is not queued.
        let mut c = Client::new([0u8; 3], Options::default());
        assert_eq!(c.queue_puback(1), Err(ProtocolError::TransmitBufferFull));
        assert_eq!(c.queue_twin_get(), Err(ProtocolError::TransmitBufferFull));
        assert_eq!(c.poll_transmit(), None);
    }

    /// Request IDs are the counter in decimal, at every number of digits and across the wrap.
    #[test]
    fn request_ids_are_decimal() {
        let mut c = Client::new([0u8; 64], Options::default());
        for n in [
            0u32,
            8,
            9,
            10,
            98,
            99,
            100,
            999_999_999,
            1_000_000_000,
            u32::MAX - 1,
        ] {
            c.next_request_id = n;
            let next = n.wrapping_add(1);
            let mut expected = RequestId::new();
            core::fmt::Write::write_fmt(&mut expected, format_args!("{next}")).unwrap();
            assert_eq!(c.next_request_id(), expected);
        }
        c.next_request_id = u32::MAX;
        assert_eq!(c.next_request_id().as_str(), "0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_queue_takes_a_fixed_packet_whole_or_not_at_all() {
        let mut q = TxQueue {
            buf: [0u8; 7],
            len: 0,
            sent: 0,
        };
        assert_eq!(q.push_bytes([1, 2, 3, 4]), Ok(()));
        assert_eq!(q.push_bytes([5, 6]), Ok(()));
        // One byte left: neither size fits, and nothing is queued.
        assert_eq!(q.push_bytes([7, 8]), Err(Overflow));
        assert_eq!(q.push_bytes([7, 8, 9, 10]), Err(Overflow));
        assert_eq!(q.pending(), &[1, 2, 3, 4, 5, 6]);
        assert!(q.reserve(2).is_empty());
        assert_eq!(q.reserve(1).len(), 1);
        assert!(q.reserve(1).is_empty());
        // Everything sent: `Client::transmit_complete` empties the queue (so `sent == len` is
        // never left above 0, and `reserve` and `out` need no test of it), which starts again
        // at 0.
        q.clear();
        assert_eq!(q.push_bytes([9, 9, 9, 9]), Ok(()));
        assert_eq!(q.pending(), &[9, 9, 9, 9]);
    }
}
