//! MQTT 3.1.1 for a client: the packets a device sends (encoders) and the packets a server may
//! send (decoder), plus stream framing with caller-owned buffers.
//!
//! No-panic contract: every decoder checks a length before it reads, and returns
//! [`DecodeError`] for anything the specification does not allow a server to send. Framing
//! errors (a broken fixed header) are fatal for the stream; content errors inside a well-framed
//! packet are not, because the next packet's start is still known.
//!
//! Why not `mqttrs`' decoder: see `docs/notes/mqttrs.md` (it indexes without length checks on
//! truncated packets, and it cannot encode a PUBLISH header without copying the payload).
//! `mqttrs` remains the test oracle for this codec.

mod decode;
mod encode;
mod framer;
mod text;

pub use crate::sink::Cursor;
pub(crate) use decode::{decode_control, decode_publish};
pub use decode::{
    decode_packet, publish_packet_id, publish_prefix, DecodeError, Inbound, InboundPublish,
    SubackCodes,
};
pub use encode::{
    encode_connect, encode_disconnect, encode_pingreq, encode_puback, encode_publish_header,
    encode_subscribe, put_remaining_length, remaining_length_size, Connect, EncodeError, QoS,
    UserName, MAX_REMAINING_LENGTH,
};
pub(crate) use encode::{
    put_fixed_header, same_bytes, subscribe_len, subscribe_part, subscribe_template,
};
pub use framer::{FixedHeader, FrameError, Framed, Framer};
pub use text::{is_utf8, Text, TopicText};
pub(crate) use text::{utf8_without, NUL_OR_WILDCARD};

/// MQTT control packet types (the high nibble of the first byte).
pub mod packet_type {
    /// CONNECT
    pub const CONNECT: u8 = 1;
    /// CONNACK
    pub const CONNACK: u8 = 2;
    /// PUBLISH
    pub const PUBLISH: u8 = 3;
    /// PUBACK
    pub const PUBACK: u8 = 4;
    /// PUBREC
    pub const PUBREC: u8 = 5;
    /// PUBREL
    pub const PUBREL: u8 = 6;
    /// PUBCOMP
    pub const PUBCOMP: u8 = 7;
    /// SUBSCRIBE
    pub const SUBSCRIBE: u8 = 8;
    /// SUBACK
    pub const SUBACK: u8 = 9;
    /// UNSUBSCRIBE
    pub const UNSUBSCRIBE: u8 = 10;
    /// UNSUBACK
    pub const UNSUBACK: u8 = 11;
    /// PINGREQ
    pub const PINGREQ: u8 = 12;
    /// PINGRESP
    pub const PINGRESP: u8 = 13;
    /// DISCONNECT
    pub const DISCONNECT: u8 = 14;
}
