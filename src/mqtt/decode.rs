//! Decoder for the packets a server may send to a client.

use super::encode::QoS;
use super::framer::FixedHeader;
use super::packet_type as pt;
use super::text::Text;

/// Why a framed packet was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A packet type a server never sends to a client (CONNECT, SUBSCRIBE, PINGREQ, ...), or a
    /// reserved type.
    UnexpectedType(u8),
    /// Fixed-header flags that the specification forbids for this type.
    InvalidFlags,
    /// The remaining length does not match the packet's contents.
    InvalidLength,
    /// A CONNACK return code above 5, or reserved CONNACK flags set.
    InvalidConnack,
    /// A SUBACK return code other than 0, 1, 2 or 0x80.
    InvalidSubackCode,
    /// A packet identifier of zero.
    ZeroPacketId,
    /// QoS bits `11`.
    InvalidQoS,
    /// A PUBLISH whose topic name is empty, not UTF-8, or holds U+0000 or a wildcard; with its
    /// packet identifier (QoS 1 and 2), so that the packet, well framed, can be acknowledged.
    InvalidTopic(Option<u16>),
}

/// The return codes of a SUBACK, one per requested filter, already validated, with the mask of
/// the refused ones that the validation computed on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubackCodes<'a> {
    codes: &'a [u8],
    refused: u32,
}

impl<'a> SubackCodes<'a> {
    /// The codes if each is a granted QoS (0, 1, 2) or a failure (0x80), with the failures'
    /// mask: one pass for both.
    fn checked(codes: &'a [u8]) -> Option<Self> {
        let mut refused = 0;
        let mut bit = 1u32;
        for &c in codes {
            match c {
                0..=2 => {}
                0x80 => refused |= bit,
                _ => return None,
            }
            // After the 32nd filter the bit is gone: later codes change nothing.
            bit <<= 1;
        }
        Some(SubackCodes { codes, refused })
    }

    /// The raw return codes (0, 1, 2 = granted QoS; 0x80 = failure).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.codes
    }

    /// True when every filter was granted.
    pub fn all_granted(&self) -> bool {
        self.codes.iter().all(|&c| c != 0x80)
    }

    /// Bit `i` set when filter `i` was refused (first 32 filters).
    pub fn failure_mask(&self) -> u32 {
        self.refused
    }
}

/// An incoming PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundPublish<'a> {
    /// The topic name (validated UTF-8 with no U+0000 and no wildcard).
    pub topic: Text<'a>,
    /// The application payload.
    pub payload: &'a [u8],
    /// The delivery QoS.
    pub qos: QoS,
    /// The packet identifier (QoS 1 and 2).
    pub packet_id: Option<u16>,
    /// DUP flag.
    pub dup: bool,
    /// RETAIN flag.
    pub retain: bool,
}

/// A packet a server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// CONNACK.
    Connack {
        /// Session-present flag.
        session_present: bool,
        /// Return code 0..=5.
        return_code: u8,
    },
    /// PUBLISH.
    Publish(InboundPublish<'a>),
    /// PUBACK.
    Puback(u16),
    /// SUBACK.
    Suback {
        /// Packet identifier of the SUBSCRIBE.
        packet_id: u16,
        /// One code per filter.
        codes: SubackCodes<'a>,
    },
    /// UNSUBACK.
    Unsuback(u16),
    /// PINGRESP.
    Pingresp,
}

fn packet_id(body: &[u8], at: usize) -> Result<u16, DecodeError> {
    let Some(&[hi, lo]) = body.get(at..at + 2) else {
        return Err(DecodeError::InvalidLength);
    };
    match u16::from_be_bytes([hi, lo]) {
        0 => Err(DecodeError::ZeroPacketId),
        id => Ok(id),
    }
}

fn only_packet_id(body: &[u8]) -> Result<u16, DecodeError> {
    if body.len() != 2 {
        return Err(DecodeError::InvalidLength);
    }
    packet_id(body, 0)
}

/// Checks an MQTT topic name as received: UTF-8, no U+0000, no wildcards (`None`: it is not a
/// valid topic name; an `Option` is returned in two registers, a `Result` through memory).
/// Never inlined: one copy of the checks for every caller (flash).
#[inline(never)]
pub(crate) fn topic_name(bytes: &[u8]) -> Option<Text<'_>> {
    // The ASCII fast path answers for nearly every topic (ASCII is UTF-8: no conversion is
    // needed, the topic stays bytes); a topic with a byte >= 0x80 (or one the fast path cannot
    // clear) gets the exact check.
    if !ascii_clean(bytes) && !super::utf8_without(bytes, super::NUL_OR_WILDCARD) {
        return None;
    }
    Some(Text::checked(bytes))
}

/// True only if `bytes` is all ASCII with no NUL, `#` or `+` (false says nothing: the exact
/// check, [`super::utf8_without`], decides then). One word per loop turn, no branch per word, and the
/// slice's last word checked once more for the rest: the word check is written twice, not four
/// times (two words per turn and the last two words again cost 57 B more code for 26
/// instructions less on the C2D topic, 942 against 968: flash is the scarcer budget; four
/// words per turn 48 B more again for 3 less). With `z` the word with `#`/`+` bytes turned to
/// zero, `(w - ONES) | (z - ONES)` has a high bit set: in a word of ASCII bytes, exactly when a
/// byte is zero in `w` or `z` (a borrow only follows a zero byte); for any byte >= 0x80, always
/// (0x82..=0xFF keep it after subtracting at most 2 in `w`; 0x80 and 0x81 are 0xA3 and 0xA2 in
/// `z`). About 1.5 instructions a byte; the exact byte-by-byte check costs about 6.
#[inline(always)]
fn ascii_clean(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn flags(w: &[u8]) -> u64 {
        // A short word (never, for the callers' 8-byte words) counts as dirty.
        let Some(w) = w.first_chunk::<8>() else {
            return HIGH;
        };
        let w = u64::from_le_bytes(*w);
        // `#` (0x23) and `+` (0x2B) differ only in bit 3: both become 0x2B, then zero.
        let z = (w | (ONES * 0x08)) ^ (ONES * u64::from(b'+'));
        w.wrapping_sub(ONES) | z.wrapping_sub(ONES)
    }
    // The slice's last word first: for a length not a multiple of 8 it covers the last (up to
    // 7) bytes, overlapping what the loop checks (a repeated byte changes nothing); a slice
    // under 8 bytes has none and is left to the exact check.
    let mut acc = bytes.last_chunk::<8>().map_or(HIGH, |w| flags(w));
    for w in bytes.chunks_exact(8) {
        acc |= flags(w);
    }
    acc & HIGH == 0
}

/// Decodes one packet from its fixed header and exactly its `remaining length` bytes.
pub fn decode_packet(header: FixedHeader, body: &[u8]) -> Result<Inbound<'_>, DecodeError> {
    if header.packet_type == pt::PUBLISH {
        return decode_publish(header, body).map(Inbound::Publish);
    }
    decode_control(header, body)
}

/// [`decode_packet`] for every packet type but PUBLISH, which it refuses as unexpected (for a
/// caller that decodes a PUBLISH on its own path, with [`decode_publish`]).
pub(crate) fn decode_control(header: FixedHeader, body: &[u8]) -> Result<Inbound<'_>, DecodeError> {
    let t = header.packet_type;
    // The other packets a server sends, all with flags 0 (one check for all of them).
    const SERVER: u32 = (1 << pt::CONNACK)
        | (1 << pt::PUBACK)
        | (1 << pt::SUBACK)
        | (1 << pt::UNSUBACK)
        | (1 << pt::PINGRESP);
    if (SERVER >> t.min(31)) & 1 == 0 {
        return Err(DecodeError::UnexpectedType(t));
    }
    if header.flags != 0 {
        return Err(DecodeError::InvalidFlags);
    }
    match t {
        pt::CONNACK => {
            let [flags, code] = body else {
                return Err(DecodeError::InvalidLength);
            };
            if flags & 0xFE != 0 || *code > 5 {
                return Err(DecodeError::InvalidConnack);
            }
            Ok(Inbound::Connack {
                session_present: flags & 1 == 1,
                return_code: *code,
            })
        }
        pt::SUBACK => {
            if body.len() < 3 {
                return Err(DecodeError::InvalidLength);
            }
            let id = packet_id(body, 0)?;
            let codes = SubackCodes::checked(body.get(2..).unwrap_or_default())
                .ok_or(DecodeError::InvalidSubackCode)?;
            Ok(Inbound::Suback {
                packet_id: id,
                codes,
            })
        }
        pt::PINGRESP => {
            if !body.is_empty() {
                return Err(DecodeError::InvalidLength);
            }
            Ok(Inbound::Pingresp)
        }
        // PUBACK and UNSUBACK (the types left): a packet identifier alone, one check for both
        // (three cases, not five: no jump table).
        _ => {
            let id = only_packet_id(body)?;
            Ok(if t == pt::PUBACK {
                Inbound::Puback(id)
            } else {
                Inbound::Unsuback(id)
            })
        }
    }
}

/// The packet identifier of a PUBLISH (QoS 1 or 2) from as many body bytes as are at hand,
/// without validating the topic.
pub fn publish_packet_id(header: FixedHeader, prefix: &[u8]) -> Option<u16> {
    if (header.flags >> 1) & 3 == 0 {
        return None;
    }
    let len = prefix
        .get(0..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)?;
    packet_id(prefix, 2 + len).ok()
}

/// The topic and packet identifier of a PUBLISH, from as many body bytes as are at hand
/// (used to name a message that is too large to buffer).
pub fn publish_prefix(header: FixedHeader, prefix: &[u8]) -> (Option<Text<'_>>, Option<u16>) {
    let topic = prefix
        .get(0..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .and_then(|len| prefix.get(2..2 + len))
        .and_then(topic_name);
    (topic, publish_packet_id(header, prefix))
}

/// Decodes a PUBLISH ([`decode_packet`] for packet type 3).
pub(crate) fn decode_publish(
    header: FixedHeader,
    body: &[u8],
) -> Result<InboundPublish<'_>, DecodeError> {
    let Some(qos) = QoS::from_bits((header.flags >> 1) & 3) else {
        return Err(DecodeError::InvalidQoS);
    };
    let dup = header.flags & 0x08 != 0;
    let retain = header.flags & 0x01 != 0;
    if qos == QoS::AtMostOnce && dup {
        return Err(DecodeError::InvalidFlags);
    }
    let len = body
        .get(0..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .ok_or(DecodeError::InvalidLength)?;
    let topic_bytes = body.get(2..2 + len).ok_or(DecodeError::InvalidLength)?;
    let mut at = 2 + len;
    let packet_id = if qos == QoS::AtMostOnce {
        None
    } else {
        let id = packet_id(body, at)?;
        at += 2;
        Some(id)
    };
    let topic = topic_name(topic_bytes)
        .filter(|t| !t.is_empty())
        .ok_or(DecodeError::InvalidTopic(packet_id))?;
    Ok(InboundPublish {
        topic,
        payload: body.get(at..).unwrap_or_default(),
        qos,
        packet_id,
        dup,
        retain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{utf8_without, NUL_OR_WILDCARD};

    fn hdr(b: u8, len: usize) -> FixedHeader {
        FixedHeader {
            packet_type: b >> 4,
            flags: b & 0x0F,
            remaining_length: len,
            header_length: 2,
        }
    }

    fn dec(bytes: &[u8]) -> Result<Inbound<'_>, DecodeError> {
        decode_packet(hdr(bytes[0], bytes.len() - 2), &bytes[2..])
    }

    /// The two halves of `decode_packet` a caller may use on their own (the hub client without
    /// DPS) answer as it does.
    #[test]
    fn publish_and_control_halves_are_decode_packet() {
        for bytes in [
            &[0x20u8, 2, 0, 0][..],
            &[0x20, 2, 1, 5],
            &[0x20, 2, 0, 6],
            &[0x40, 2, 0, 7],
            &[0xB0, 2, 0, 7],
            &[0x90, 3, 0, 1, 0x80],
            &[0xD0, 0],
            &[0xD0, 1, 0],
            &[0x10, 0],
            &[0x42, 2, 0, 7],
            &[0x30, 5, 0, 3, b'a', b'/', b'b'],
            &[0x32, 7, 0, 3, b'a', b'/', b'b', 0, 9],
            &[0x32, 7, 0, 3, b'a', b'#', b'b', 0, 9],
            &[0x36, 2, 0, 0],
        ] {
            let header = hdr(bytes[0], bytes.len() - 2);
            let body = &bytes[2..];
            let half = if header.packet_type == pt::PUBLISH {
                assert_eq!(
                    decode_control(header, body),
                    Err(DecodeError::UnexpectedType(pt::PUBLISH))
                );
                decode_publish(header, body).map(Inbound::Publish)
            } else {
                decode_control(header, body)
            };
            assert_eq!(half, decode_packet(header, body), "{bytes:?}");
        }
    }

    #[test]
    fn connack_vectors() {
        assert_eq!(
            dec(&[0x20, 2, 0, 0]),
            Ok(Inbound::Connack {
                session_present: false,
                return_code: 0
            })
        );
        assert_eq!(
            dec(&[0x20, 2, 1, 5]),
            Ok(Inbound::Connack {
                session_present: true,
                return_code: 5
            })
        );
        assert_eq!(dec(&[0x20, 2, 0, 6]), Err(DecodeError::InvalidConnack));
        assert_eq!(dec(&[0x20, 2, 2, 0]), Err(DecodeError::InvalidConnack));
        assert_eq!(dec(&[0x20, 1, 0]), Err(DecodeError::InvalidLength));
        assert_eq!(dec(&[0x21, 2, 0, 0]), Err(DecodeError::InvalidFlags));
    }

    #[test]
    fn puback_and_truncations_never_panic() {
        assert_eq!(dec(&[0x40, 2, 0x12, 0x34]), Ok(Inbound::Puback(0x1234)));
        // mqttrs 0.4.1 panics on this one (index out of bounds); we reject it.
        assert_eq!(dec(&[0x40, 0]), Err(DecodeError::InvalidLength));
        assert_eq!(dec(&[0x40, 2, 0, 0]), Err(DecodeError::ZeroPacketId));
        assert_eq!(dec(&[0x90, 0]), Err(DecodeError::InvalidLength));
        assert_eq!(dec(&[0x90, 2, 0, 1]), Err(DecodeError::InvalidLength));
        assert_eq!(dec(&[0xB0, 1, 0]), Err(DecodeError::InvalidLength));
        assert_eq!(dec(&[0xD0, 1, 0]), Err(DecodeError::InvalidLength));
    }

    /// `SubackCodes::checked` answers as the two passes it replaced: the code check, then the
    /// failure mask (first 32 filters), for lists of every length up to 40 over valid and
    /// invalid codes.
    #[test]
    fn suback_check_and_mask_in_one_pass() {
        fn reference(codes: &[u8]) -> Option<u32> {
            if codes.iter().any(|&c| !matches!(c, 0 | 1 | 2 | 0x80)) {
                return None;
            }
            let mut mask = 0u32;
            for (i, &c) in codes.iter().enumerate().take(32) {
                if c == 0x80 {
                    mask |= 1 << i;
                }
            }
            Some(mask)
        }
        let alphabet = [0u8, 1, 2, 0x80, 3, 0x7F, 0x81, 0xFF];
        let mut seed = 0x2545_F491u32;
        for len in 0..=40 {
            for _ in 0..200 {
                let codes: std::vec::Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        // Mostly valid codes, so that long valid lists occur.
                        let i = (seed % 37) as usize;
                        alphabet[if i < 36 {
                            i % 4
                        } else {
                            4 + (seed as usize >> 8) % 4
                        }]
                    })
                    .collect();
                let got = SubackCodes::checked(&codes).map(|c| c.failure_mask());
                assert_eq!(got, reference(&codes), "{codes:?}");
            }
        }
    }

    #[test]
    fn suback_vectors() {
        match dec(&[0x90, 6, 0, 9, 0, 1, 0x80, 2]).unwrap() {
            Inbound::Suback { packet_id, codes } => {
                assert_eq!(packet_id, 9);
                assert!(!codes.all_granted());
                assert_eq!(codes.failure_mask(), 0b0100);
            }
            other => panic!("{other:?}"),
        }
        // Only the first 32 filters have a bit; later codes change nothing.
        let mut codes = [0x80u8; 40];
        codes[39] = 0;
        assert_eq!(
            SubackCodes::checked(&codes).unwrap().failure_mask(),
            u32::MAX
        );
        codes[31] = 1;
        assert_eq!(
            SubackCodes::checked(&codes).unwrap().failure_mask(),
            u32::MAX >> 1
        );
        assert_eq!(
            dec(&[0x90, 3, 0, 9, 3]),
            Err(DecodeError::InvalidSubackCode)
        );
    }

    #[test]
    fn publish_vectors() {
        let p = dec(&[0x32, 9, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i']).unwrap();
        assert_eq!(
            p,
            Inbound::Publish(InboundPublish {
                topic: "a/b".into(),
                payload: b"hi",
                qos: QoS::AtLeastOnce,
                packet_id: Some(7),
                dup: false,
                retain: false
            })
        );
        // Topic length beyond the packet (mqttrs slices out of range here when more bytes follow).
        assert_eq!(dec(&[0x30, 3, 0, 9, b'a']), Err(DecodeError::InvalidLength));
        // QoS 1 without a packet identifier.
        assert_eq!(dec(&[0x32, 3, 0, 1, b'a']), Err(DecodeError::InvalidLength));
        assert_eq!(dec(&[0x36, 3, 0, 1, b'a']), Err(DecodeError::InvalidQoS));
        assert_eq!(
            dec(&[0x30, 3, 0, 1, 0xFF]),
            Err(DecodeError::InvalidTopic(None))
        );
        assert_eq!(
            dec(&[0x30, 3, 0, 1, b'#']),
            Err(DecodeError::InvalidTopic(None))
        );
        assert_eq!(dec(&[0x30, 2, 0, 0]), Err(DecodeError::InvalidTopic(None)));
        // QoS 1 and 2: with the packet identifier, for the PUBACK.
        assert_eq!(
            dec(&[0x32, 5, 0, 1, b'+', 0, 7]),
            Err(DecodeError::InvalidTopic(Some(7)))
        );
        assert_eq!(
            dec(&[0x34, 4, 0, 0, 1, 2]),
            Err(DecodeError::InvalidTopic(Some(0x102)))
        );
        // The exact check finds a NUL or wildcard at every position, and nothing in
        // bytes next to them (0x01, 0x22, 0x24, 0x2A, 0x2C, 0x80, 0xFF).
        let mut topic = [b'a'; 21];
        for at in 0..topic.len() {
            for bad in [0u8, b'#', b'+'] {
                topic = [b'a'; 21];
                topic[at] = bad;
                assert!(!utf8_without(&topic, NUL_OR_WILDCARD), "{at} {bad}");
            }
        }
        let near = [
            1u8, 0x22, 0x24, 0x2A, 0x2C, 0xC3, 0xA9, b'a', 1, 0x22, 0x24, 0x2A, 0x2C, 0x7F,
        ];
        assert!(utf8_without(&near, NUL_OR_WILDCARD));
        assert!(utf8_without(&topic[..0], NUL_OR_WILDCARD));
        // The ASCII fast path: for every length up to 72 and every position, a NUL, wildcard or
        // byte >= 0x80 (alone, or after a 0x01 whose borrow could hide it) is never cleared;
        // all-ASCII clean topics (including the bytes next to the bad ones) always are.
        let fill = b"az%&=/$.AZ09-_~!\x01\x22\x24\x2A\x2C\x7F";
        for len in 0..=72usize {
            let mut buf = [0u8; 72];
            for (i, b) in buf.iter_mut().enumerate() {
                *b = fill[i % fill.len()];
            }
            let clean = &buf[..len];
            // (A clean topic under 8 bytes is left to the exact check.)
            assert_eq!(ascii_clean(clean), len >= 8, "{len}");
            assert_eq!(topic_name(clean).map(|t| t.len()), Some(len));
            for at in 0..len {
                for bad in [0u8, b'#', b'+', 0x80, 0xC3, 0xFF] {
                    for prev in [b'a', 1] {
                        let mut t = buf;
                        let t = &mut t[..len];
                        t[at] = bad;
                        if at > 0 {
                            t[at - 1] = prev;
                        }
                        assert!(!ascii_clean(t), "{len} {at} {bad} {prev}");
                        let exact = t.iter().any(|&b| matches!(b, 0 | b'#' | b'+'))
                            || core::str::from_utf8(t).is_err();
                        assert_eq!(topic_name(t).is_none(), exact, "{len} {at} {bad}");
                    }
                }
            }
        }
        assert_eq!(dec(&[0x38, 3, 0, 1, b'a']), Err(DecodeError::InvalidFlags));
        // The topic is handed out as the received bytes, ASCII or not (`Text`).
        for t in [
            "a/b",
            "devices/d/messages/devicebound/x=1",
            "é/ü/€/𝄞",
            "long-é-topic/é",
        ] {
            let text = topic_name(t.as_bytes()).unwrap();
            assert_eq!(text.as_bytes().as_ptr(), t.as_ptr());
            assert_eq!(text.as_str(), t);
        }
    }

    #[test]
    fn server_never_sends_these() {
        for b in [0x00u8, 0x10, 0x50, 0x62, 0x70, 0x82, 0xA2, 0xC0, 0xE0, 0xF0] {
            assert_eq!(
                dec(&[b, 0]),
                Err(DecodeError::UnexpectedType(b >> 4)),
                "{b:#x}"
            );
        }
    }

    #[test]
    fn type_is_checked_before_flags_and_length() {
        // A type a server never sends is that error whatever its flags and body.
        for t in [0u8, 1, 5, 6, 7, 8, 10, 12, 14, 15, 16, 20, 36, 255] {
            let h = FixedHeader {
                packet_type: t,
                flags: 0x0F,
                remaining_length: 1,
                header_length: 2,
            };
            assert_eq!(
                decode_packet(h, &[9]),
                Err(DecodeError::UnexpectedType(t)),
                "{t}"
            );
        }
        // Flags before length, for every type a server sends except PUBLISH.
        for b in [0x21u8, 0x48, 0x92, 0xB4, 0xD1] {
            assert_eq!(dec(&[b, 1, 0]), Err(DecodeError::InvalidFlags), "{b:#x}");
        }
        assert_eq!(dec(&[0xB0, 2, 0, 5]), Ok(Inbound::Unsuback(5)));
        assert_eq!(dec(&[0xB0, 2, 0, 0]), Err(DecodeError::ZeroPacketId));
    }

    #[test]
    fn publish_prefix_names_oversize_messages() {
        let h = hdr(0x32, 1000);
        assert_eq!(
            publish_prefix(h, &[0, 3, b'a', b'/', b'b', 0, 5, 1, 2]),
            (Some("a/b".into()), Some(5))
        );
        assert_eq!(publish_prefix(h, &[0, 3, b'a']), (None, None));
        assert_eq!(publish_prefix(h, &[0, 1, 0xFF, 0, 9]), (None, Some(9)));
        assert_eq!(publish_prefix(h, &[0]), (None, None));
    }

    #[test]
    fn agrees_with_mqttrs_on_well_formed_packets() {
        let mut buf = [0u8; 64];
        let publish = mqttrs::Packet::Publish(mqttrs::Publish {
            dup: true,
            qospid: mqttrs::QosPid::AtLeastOnce(mqttrs::Pid::try_from(300).unwrap()),
            retain: false,
            topic_name: "$iothub/twin/res/200/?$rid=1",
            payload: b"{}",
        });
        let n = mqttrs::encode_slice(&publish, &mut buf).unwrap();
        let p = dec(&buf[..n]).unwrap();
        assert_eq!(
            p,
            Inbound::Publish(InboundPublish {
                topic: "$iothub/twin/res/200/?$rid=1".into(),
                payload: b"{}",
                qos: QoS::AtLeastOnce,
                packet_id: Some(300),
                dup: true,
                retain: false
            })
        );
        let n = mqttrs::encode_slice(&mqttrs::Packet::Pingresp, &mut buf).unwrap();
        assert_eq!(dec(&buf[..n]), Ok(Inbound::Pingresp));
    }
}
