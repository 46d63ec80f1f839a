//! Encoders for the packets a client sends. Each writes through a [`Sink`], so it can be
//! measured first and written second.

use crate::sink::{Overflow, Sink};

/// The largest remaining length MQTT 3.1.1 can express (four length bytes).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Quality of service of a PUBLISH or subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QoS {
    /// At most once.
    AtMostOnce = 0,
    /// At least once.
    AtLeastOnce = 1,
    /// Exactly once (IoT Hub closes the connection on a QoS 2 publish).
    ExactlyOnce = 2,
}

impl QoS {
    /// From the two-bit wire value.
    pub fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// Why a packet could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The destination buffer is too small.
    BufferFull,
    /// A string is longer than 65,535 bytes, or the packet longer than MQTT allows.
    TooLong,
}

impl From<Overflow> for EncodeError {
    fn from(_: Overflow) -> Self {
        EncodeError::BufferFull
    }
}

/// Bytes needed to encode `len` as a remaining length (1 to 4), or `None` if it is too large.
pub fn remaining_length_size(len: usize) -> Option<usize> {
    match len {
        0..=127 => Some(1),
        128..=16_383 => Some(2),
        16_384..=2_097_151 => Some(3),
        2_097_152..=MAX_REMAINING_LENGTH => Some(4),
        _ => None,
    }
}

/// Writes `len` as an MQTT variable-byte integer.
pub fn put_remaining_length<S: Sink>(s: &mut S, len: usize) -> Result<(), EncodeError> {
    let (bytes, n) = remaining_length_bytes(len)?;
    s.put(bytes.get(..n).unwrap_or_default())?;
    Ok(())
}

/// `len` as an MQTT variable-byte integer: its bytes and how many there are (1 to 4). Not
/// generic, so every encoder shares one copy.
fn remaining_length_bytes(len: usize) -> Result<([u8; 4], usize), EncodeError> {
    if len > MAX_REMAINING_LENGTH {
        return Err(EncodeError::TooLong);
    }
    // At most 4 bytes (len <= MAX_REMAINING_LENGTH); no indexing, so no panic path.
    let mut bytes = [0u8; 4];
    let mut n = len;
    let mut i = 0;
    for slot in bytes.iter_mut() {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        *slot = b;
        i += 1;
        if n == 0 {
            break;
        }
    }
    Ok((bytes, i))
}

/// Writes a fixed header: the first byte and the remaining length, in one write.
pub(crate) fn put_fixed_header<S: Sink>(
    s: &mut S,
    first: u8,
    len: usize,
) -> Result<(), EncodeError> {
    let ([a, b, c, d], n) = remaining_length_bytes(len)?;
    let h = [first, a, b, c, d];
    s.put(h.get(..=n).unwrap_or_default())?;
    Ok(())
}

/// A length-prefixed string. Not inlined: CONNECT writes up to three (will topic and message,
/// password) and SUBSCRIBE one per filter.
#[inline(never)]
fn put_str<S: Sink>(s: &mut S, bytes: &[u8]) -> Result<(), EncodeError> {
    let len = u16::try_from(bytes.len()).map_err(|_| EncodeError::TooLong)?;
    s.put_u16(len)?;
    s.put(bytes)?;
    Ok(())
}

/// The contents of a CONNECT packet.
#[derive(Debug, Clone, Copy)]
pub struct Connect<'a> {
    /// Client identifier.
    pub client_id: &'a str,
    /// Keep-alive in seconds (0 disables it).
    pub keep_alive: u16,
    /// Clean-session flag.
    pub clean_session: bool,
    /// The user name, if any.
    pub user_name: Option<UserName<'a>>,
    /// The password, if any.
    pub password: Option<&'a [u8]>,
    /// Last will: topic, message, QoS, retain.
    pub will: Option<(&'a str, &'a [u8], QoS, bool)>,
}

/// A user name as IoT Hub and DPS build it, around the client ID (both put it there):
/// `{host}{path}{client ID}{query}`, then `&model-id={model ID}` with a model ID. Its pieces
/// are written one after the other by the encoder (no array of pieces to build).
#[derive(Debug, Clone, Copy)]
pub struct UserName<'a> {
    /// The host name (IoT Hub) or ID scope (DPS).
    pub host: &'a str,
    /// What comes between the host and the client ID.
    pub path: &'a str,
    /// What follows the client ID.
    pub query: &'a str,
    /// An IoT Plug and Play model ID (already URL-encoded), or `None`.
    pub model_id: Option<&'a str>,
}

/// What comes before a model ID in the user name.
const MODEL_ID_PREFIX: &[u8] = b"&model-id=";

/// Encodes a CONNECT packet (protocol level 4, MQTT 3.1.1).
// Inlined, so that a caller without a will or a model ID (the hub without one, and DPS) links
// only the copy without their code (one copy for both).
#[inline(always)]
pub fn encode_connect<S: Sink>(s: &mut S, c: &Connect<'_>) -> Result<(), EncodeError> {
    let model = c.user_name.is_some_and(|u| u.model_id.is_some());
    match (c.will.is_some(), model) {
        (false, false) => connect_packet::<S, false, false>(s, c),
        (false, true) => connect_packet::<S, false, true>(s, c),
        (true, false) => connect_packet::<S, true, false>(s, c),
        (true, true) => connect_packet::<S, true, true>(s, c),
    }
}

/// [`encode_connect`]; `WILL` false: `c.will` is `None`; `MODEL` false: the user name has no
/// model ID.
fn connect_packet<S: Sink, const WILL: bool, const MODEL: bool>(
    s: &mut S,
    c: &Connect<'_>,
) -> Result<(), EncodeError> {
    let will = if WILL { c.will } else { None };
    let mut flags = 0u8;
    let mut len = 10 + 2 + c.client_id.len();
    if c.clean_session {
        flags |= 0x02;
    }
    if let Some((topic, msg, qos, retain)) = will {
        flags |= 0x04 | ((qos as u8) << 3) | if retain { 0x20 } else { 0 };
        len += 2 + topic.len() + 2 + msg.len();
    }
    // The user name's length, computed once.
    let mut user_len = 0;
    if let Some(u) = c.user_name {
        user_len = u.host.len() + u.path.len() + c.client_id.len() + u.query.len();
        if let Some(m) = u.model_id.filter(|_| MODEL) {
            user_len += MODEL_ID_PREFIX.len() + m.len();
        }
        flags |= 0x80;
        len += 2 + user_len;
    }
    if let Some(p) = c.password {
        flags |= 0x40;
        len += 2 + p.len();
    }
    // The client ID's and the user name's lengths are MQTT two-byte lengths. A user name holds
    // the client ID, so its check covers both (one test instead of two).
    let id = c.client_id.as_bytes();
    let longest = if c.user_name.is_some() {
        user_len
    } else {
        id.len()
    };
    if longest > usize::from(u16::MAX) {
        return Err(EncodeError::TooLong);
    }
    // The rest's length is known: checked against the room left once, its pieces are then
    // written with no test each (each one fits).
    put_fixed_header(s, 0x10, len)?;
    if s.room() < len {
        return Err(EncodeError::BufferFull);
    }
    // Protocol name and level, flags, keep-alive and the client ID's length in one write.
    let [ka_hi, ka_lo] = c.keep_alive.to_be_bytes();
    let [id_hi, id_lo] = (id.len() as u16).to_be_bytes();
    let _ = s.put(&[
        0, 4, b'M', b'Q', b'T', b'T', 4, flags, ka_hi, ka_lo, id_hi, id_lo,
    ]);
    let _ = s.put(id);
    if let Some((topic, msg, _, _)) = will {
        put_str(s, topic.as_bytes())?;
        put_str(s, msg)?;
    }
    if let Some(u) = c.user_name {
        let _ = s.put_u16(user_len as u16);
        let _ = s.put(u.host.as_bytes());
        let _ = s.put(u.path.as_bytes());
        let _ = s.put(id);
        let _ = s.put(u.query.as_bytes());
        if let Some(m) = u.model_id.filter(|_| MODEL) {
            let _ = s.put(MODEL_ID_PREFIX);
            let _ = s.put(m.as_bytes());
        }
    }
    if let Some(p) = c.password {
        put_str(s, p)?;
    }
    Ok(())
}

/// Encodes a SUBSCRIBE packet for `filters` (topic filter, requested QoS).
pub fn encode_subscribe<S: Sink>(
    s: &mut S,
    packet_id: u16,
    filters: &[(&str, QoS)],
) -> Result<(), EncodeError> {
    let len = 2 + filters.iter().map(|(f, _)| 2 + f.len() + 1).sum::<usize>();
    put_fixed_header(s, 0x82, len)?;
    s.put_u16(packet_id)?;
    for (filter, qos) in filters {
        put_str(s, filter.as_bytes())?;
        s.put_u8(*qos as u8)?;
    }
    Ok(())
}

/// The length of the SUBSCRIBE packet for `filters` (fixed header, packet identifier, and for
/// each filter its two-byte length, its bytes and its QoS): the size of the array
/// [`subscribe_template`] fills. Its remaining length must fit one byte (checked there).
pub(crate) const fn subscribe_len(filters: &[&str]) -> usize {
    let mut n = 2 + 2;
    let mut i = 0;
    while i < filters.len() {
        n += 2 + filters[i].len() + 1;
        i += 1;
    }
    n
}

/// Byte equality in a `const fn` (where `==` on slices is not available).
pub(crate) const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `bytes` where `packet` (a [`subscribe_template`] in a static) holds them, found at compile
/// time (a compile error if it does not): the same bytes, with no second copy in flash. The
/// hub's topic parsers and the DPS client cut their constant topic pieces from their SUBSCRIBE
/// filters with it.
pub(crate) const fn subscribe_part(packet: &'static [u8], bytes: &[u8]) -> &'static [u8] {
    let mut at = 0;
    while at + bytes.len() <= packet.len() {
        let part = packet.split_at(at).1.split_at(bytes.len()).0;
        if same_bytes(part, bytes) {
            return part;
        }
        at += 1;
    }
    panic!("not in the SUBSCRIBE packet")
}

/// SUBSCRIBE for `filters`, laid out at compile time as [`encode_subscribe`] writes it, with
/// packet identifier 0 (bytes 2 and 3) and every filter at QoS 0 (its last byte), for a client
/// that patches those and queues the constant instead of running the encoder. The QoS byte of
/// filter `i` is at `subscribe_len(&filters[..=i]) - 1`. `LEN` is [`subscribe_len`]`(filters)`.
pub(crate) const fn subscribe_template<const LEN: usize>(filters: &[&str]) -> [u8; LEN] {
    assert!(LEN == subscribe_len(filters) && LEN - 2 < 128);
    let mut p = [0u8; LEN];
    p[0] = 0x82;
    p[1] = (LEN - 2) as u8;
    let mut at = 4;
    let mut i = 0;
    while i < filters.len() {
        let f = filters[i].as_bytes();
        p[at] = (f.len() >> 8) as u8;
        p[at + 1] = f.len() as u8;
        at += 2;
        let mut j = 0;
        while j < f.len() {
            p[at] = f[j];
            at += 1;
            j += 1;
        }
        // The QoS byte stays 0.
        at += 1;
        i += 1;
    }
    p
}

/// Encodes the fixed header, topic and packet identifier of a PUBLISH whose topic is produced by
/// `topic` (exactly `topic_len` bytes) and whose payload of `payload_len` bytes the caller sends
/// right after these bytes. `packet_id` is used for QoS 1 and 2 only.
#[allow(clippy::too_many_arguments)]
pub fn encode_publish_header<S: Sink>(
    s: &mut S,
    topic_len: usize,
    topic: impl FnOnce(&mut S) -> Result<(), Overflow>,
    qos: QoS,
    packet_id: u16,
    dup: bool,
    retain: bool,
    payload_len: usize,
) -> Result<(), EncodeError> {
    let topic_len16 = u16::try_from(topic_len).map_err(|_| EncodeError::TooLong)?;
    let pid_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
    let len = 2usize
        .checked_add(topic_len)
        .and_then(|l| l.checked_add(pid_len))
        .and_then(|l| l.checked_add(payload_len))
        .ok_or(EncodeError::TooLong)?;
    let first = 0x30 | ((dup as u8) << 3) | ((qos as u8) << 1) | retain as u8;
    put_fixed_header(s, first, len)?;
    s.put_u16(topic_len16)?;
    topic(s)?;
    if qos != QoS::AtMostOnce {
        s.put_u16(packet_id)?;
    }
    Ok(())
}

/// Encodes a PUBACK.
pub fn encode_puback<S: Sink>(s: &mut S, packet_id: u16) -> Result<(), EncodeError> {
    let [hi, lo] = packet_id.to_be_bytes();
    s.put(&[0x40, 0x02, hi, lo])?;
    Ok(())
}

/// Encodes a PINGREQ.
pub fn encode_pingreq<S: Sink>(s: &mut S) -> Result<(), EncodeError> {
    s.put(&[0xC0, 0x00])?;
    Ok(())
}

/// Encodes a DISCONNECT.
pub fn encode_disconnect<S: Sink>(s: &mut S) -> Result<(), EncodeError> {
    s.put(&[0xE0, 0x00])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{measure, Cursor};

    fn enc(f: impl FnOnce(&mut Cursor<'_>) -> Result<(), EncodeError>) -> heapless::Vec<u8, 512> {
        let mut buf = [0u8; 512];
        let mut c = Cursor::new(&mut buf);
        f(&mut c).unwrap();
        heapless::Vec::from_slice(c.written()).unwrap()
    }

    #[test]
    fn remaining_length_vectors() {
        for (n, bytes) in [
            (0usize, &[0x00u8][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (MAX_REMAINING_LENGTH, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            assert_eq!(&enc(|c| put_remaining_length(c, n))[..], bytes, "{n}");
            assert_eq!(remaining_length_size(n), Some(bytes.len()));
        }
        assert_eq!(remaining_length_size(MAX_REMAINING_LENGTH + 1), None);
        let mut buf = [0u8; 8];
        assert_eq!(
            put_remaining_length(&mut Cursor::new(&mut buf), MAX_REMAINING_LENGTH + 1),
            Err(EncodeError::TooLong)
        );
    }

    #[test]
    fn connect_literal_vector() {
        let user = UserName {
            host: "h",
            path: "/",
            query: "/?api-version=2020-09-30",
            model_id: None,
        };
        let bytes = enc(|c| {
            encode_connect(
                c,
                &Connect {
                    client_id: "d",
                    keep_alive: 60,
                    clean_session: true,
                    user_name: Some(user),
                    password: None,
                    will: None,
                },
            )
        });
        let mut expected: heapless::Vec<u8, 128> = heapless::Vec::new();
        expected
            .extend_from_slice(&[
                0x10,
                10 + 3 + 2 + 27,
                0,
                4,
                b'M',
                b'Q',
                b'T',
                b'T',
                4,
                0x82,
                0,
                60,
                0,
                1,
                b'd',
                0,
                27,
            ])
            .unwrap();
        expected
            .extend_from_slice(b"h/d/?api-version=2020-09-30")
            .unwrap();
        assert_eq!(&bytes[..], &expected[..]);
    }

    #[test]
    fn connect_matches_mqttrs_oracle() {
        let user = UserName {
            host: "host.example",
            path: "/",
            query: "/?api-version=2020-09-30",
            model_id: Some("dtmi:x;1"),
        };
        let bytes = enc(|c| {
            encode_connect(
                c,
                &Connect {
                    client_id: "dev-1",
                    keep_alive: 1767,
                    clean_session: true,
                    user_name: Some(user),
                    password: Some(b"secret"),
                    will: Some((
                        "devices/dev-1/messages/events/",
                        b"{}",
                        QoS::AtLeastOnce,
                        false,
                    )),
                },
            )
        });
        match mqttrs::decode_slice(&bytes).unwrap().unwrap() {
            mqttrs::Packet::Connect(c) => {
                assert_eq!(c.client_id, "dev-1");
                assert_eq!(c.keep_alive, 1767);
                assert!(c.clean_session);
                assert_eq!(
                    c.username,
                    Some("host.example/dev-1/?api-version=2020-09-30&model-id=dtmi:x;1")
                );
                assert_eq!(c.password, Some(&b"secret"[..]));
                let w = c.last_will.unwrap();
                assert_eq!(w.topic, "devices/dev-1/messages/events/");
                assert_eq!(w.qos, mqttrs::QoS::AtLeastOnce);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subscribe_matches_mqttrs_oracle() {
        let filters = [
            ("$iothub/methods/POST/#", QoS::AtMostOnce),
            ("$iothub/twin/res/#", QoS::AtLeastOnce),
        ];
        let bytes = enc(|c| encode_subscribe(c, 7, &filters));
        match mqttrs::decode_slice(&bytes).unwrap().unwrap() {
            mqttrs::Packet::Subscribe(s) => {
                assert_eq!(s.pid.get(), 7);
                assert_eq!(s.topics.len(), 2);
                assert_eq!(s.topics[0].topic_path.as_str(), "$iothub/methods/POST/#");
                assert_eq!(s.topics[1].qos, mqttrs::QoS::AtLeastOnce);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn publish_header_then_payload_matches_mqttrs_oracle() {
        let topic = "devices/d/messages/events/a=1&b=2";
        let payload = b"{\"temperature\":25.1}";
        for (qos, dup, retain) in [
            (QoS::AtMostOnce, false, false),
            (QoS::AtLeastOnce, true, true),
        ] {
            let mut bytes = enc(|c| {
                encode_publish_header(
                    c,
                    topic.len(),
                    |s| s.put(topic.as_bytes()),
                    qos,
                    513,
                    dup,
                    retain,
                    payload.len(),
                )
            });
            let hdr_len = bytes.len();
            assert_eq!(
                hdr_len,
                2 + 2 + topic.len() + if qos == QoS::AtMostOnce { 0 } else { 2 }
            );
            bytes.extend_from_slice(payload).unwrap();
            match mqttrs::decode_slice(&bytes).unwrap().unwrap() {
                mqttrs::Packet::Publish(p) => {
                    assert_eq!(p.topic_name, topic);
                    assert_eq!(p.payload, payload);
                    assert_eq!(p.dup, dup);
                    assert_eq!(p.retain, retain);
                    match qos {
                        QoS::AtMostOnce => assert_eq!(p.qospid, mqttrs::QosPid::AtMostOnce),
                        _ => assert_eq!(
                            p.qospid,
                            mqttrs::QosPid::AtLeastOnce(mqttrs::Pid::try_from(513).unwrap())
                        ),
                    }
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn small_packets() {
        assert_eq!(
            &enc(|c| encode_puback(c, 0x1234))[..],
            &[0x40, 0x02, 0x12, 0x34]
        );
        assert_eq!(&enc(|c| encode_pingreq(c))[..], &[0xC0, 0x00]);
        assert_eq!(&enc(|c| encode_disconnect(c))[..], &[0xE0, 0x00]);
    }

    #[test]
    fn measure_equals_written_length() {
        let user = UserName {
            host: "a",
            path: "/",
            query: "b",
            model_id: Some("m"),
        };
        let c = Connect {
            client_id: "x",
            keep_alive: 1,
            clean_session: false,
            user_name: Some(user),
            password: None,
            will: None,
        };
        let n = measure(|m| encode_connect(m, &c).map_err(|_| Overflow)).unwrap();
        assert_eq!(n, enc(|s| encode_connect(s, &c)).len());
    }

    #[test]
    fn connect_short_buffer_is_buffer_full() {
        // The pieces after the fixed header are written unchecked once the room was checked:
        // every buffer shorter than the packet is refused, and one as long holds it exactly,
        // for each shape (will, model ID, password).
        let will = ("t", &b"m"[..], QoS::AtLeastOnce, true);
        for (model_id, password, will) in [
            (None, None, None),
            (Some("dtmi:x;1"), Some(&b"pw"[..]), None),
            (None, Some(&b"pw"[..]), Some(will)),
            (Some("m"), None, Some(will)),
        ] {
            let c = Connect {
                client_id: "dev",
                keep_alive: 30,
                clean_session: true,
                user_name: Some(UserName {
                    host: "h",
                    path: "/",
                    query: "/?q",
                    model_id,
                }),
                password,
                will,
            };
            let full = enc(|s| encode_connect(s, &c));
            for n in 0..full.len() {
                let mut buf = [0u8; 512];
                let mut cur = Cursor::new(&mut buf[..n]);
                assert_eq!(encode_connect(&mut cur, &c), Err(EncodeError::BufferFull));
            }
            let mut buf = [0u8; 512];
            let mut cur = Cursor::new(&mut buf[..full.len()]);
            encode_connect(&mut cur, &c).unwrap();
            assert_eq!(cur.written(), &full[..]);
        }
    }

    #[test]
    fn connect_lengths_over_u16_are_too_long() {
        // Counted, not written: a client ID, or a user name (which holds the client ID), of more
        // than 65,535 bytes is refused whichever of the two is too long.
        let long = core::str::from_utf8(&[b'a'; 70_000]).unwrap();
        let user = |host| UserName {
            host,
            path: "/",
            query: "q",
            model_id: None,
        };
        let connect = |client_id, user_name| Connect {
            client_id,
            keep_alive: 1,
            clean_session: true,
            user_name,
            password: None,
            will: None,
        };
        let count = |c: &Connect<'_>| encode_connect(&mut crate::sink::Counter::default(), c);
        let too_long = Err(EncodeError::TooLong);
        assert_eq!(count(&connect(long, None)), too_long);
        assert_eq!(count(&connect(long, Some(user("h")))), too_long);
        assert_eq!(count(&connect("d", Some(user(long)))), too_long);
        // A user name of 65,535 bytes (the host, "/", "d" and "q") fits; one more does not.
        let host = &long[..65_535 - 3];
        assert_eq!(count(&connect("d", Some(user(host)))), Ok(()));
        let host = &long[..65_536 - 3];
        assert_eq!(count(&connect("d", Some(user(host)))), too_long);
        assert_eq!(count(&connect(&long[..65_535], None)), Ok(()));
    }

    #[test]
    fn overflow_reports_buffer_full() {
        let mut buf = [0u8; 3];
        assert_eq!(
            encode_puback(&mut Cursor::new(&mut buf), 1),
            Err(EncodeError::BufferFull)
        );
    }
}
