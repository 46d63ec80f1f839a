//! A small MQTT 3.1.1 codec, both directions.
//!
//! The server decodes what devices send and encodes what it answers; the tests use the same
//! code for their tiny client. Every read is bounds-checked first: garbage, truncated or
//! oversized input yields an error, never a panic. [`decode`] returns `Ok(None)` while a
//! packet is still incomplete, and checks the fixed header's remaining length against a limit
//! before any of the packet is buffered.

use std::fmt;

/// Largest remaining length the MQTT variable-length integer can express (4 bytes).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub protocol_name: String,
    pub protocol_level: u8,
    pub clean_session: bool,
    pub keep_alive: u16,
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

impl Connect {
    /// A CONNECT for MQTT 3.1.1 with the given client ID and no will.
    pub fn new(client_id: &str) -> Connect {
        Connect {
            protocol_name: "MQTT".into(),
            protocol_level: 4,
            clean_session: true,
            keep_alive: 60,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: u8,
    pub retain: bool,
    pub topic: String,
    /// Present for QoS 1 and 2.
    pub pid: Option<u16>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Connect),
    Connack {
        session_present: bool,
        code: u8,
    },
    Publish(Publish),
    Puback(u16),
    Pubrec(u16),
    Pubrel(u16),
    Pubcomp(u16),
    Subscribe {
        pid: u16,
        filters: Vec<(String, u8)>,
    },
    Suback {
        pid: u16,
        codes: Vec<u8>,
    },
    Unsubscribe {
        pid: u16,
        filters: Vec<String>,
    },
    Unsuback(u16),
    Pingreq,
    Pingresp,
    Disconnect,
}

impl Packet {
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::Connack { .. } => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::Puback(_) => "PUBACK",
            Packet::Pubrec(_) => "PUBREC",
            Packet::Pubrel(_) => "PUBREL",
            Packet::Pubcomp(_) => "PUBCOMP",
            Packet::Subscribe { .. } => "SUBSCRIBE",
            Packet::Suback { .. } => "SUBACK",
            Packet::Unsubscribe { .. } => "UNSUBSCRIBE",
            Packet::Unsuback(_) => "UNSUBACK",
            Packet::Pingreq => "PINGREQ",
            Packet::Pingresp => "PINGRESP",
            Packet::Disconnect => "DISCONNECT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The remaining length exceeds the caller's limit (checked before buffering).
    TooLarge { remaining: usize, limit: usize },
    /// The bytes are not a valid MQTT 3.1.1 packet.
    Malformed(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { remaining, limit } => {
                write!(f, "packet of {remaining} B exceeds the limit of {limit} B")
            }
            DecodeError::Malformed(why) => write!(f, "malformed packet: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Reads the fixed header. `Ok(None)`: more bytes are needed. Otherwise `(header length,
/// remaining length)`.
pub fn fixed_header(buf: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let mut value: usize = 0;
    let mut shift = 0;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        value |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return Ok(Some((2 + i, value)));
        }
        shift += 7;
    }
    Err(DecodeError::Malformed(
        "remaining length longer than 4 bytes",
    ))
}

/// Decodes one packet from the front of `buf`. Returns the packet and the number of bytes it
/// used, or `Ok(None)` if `buf` holds only part of a packet. `limit` bounds the remaining
/// length; it is checked as soon as the fixed header is complete.
pub fn decode(buf: &[u8], limit: usize) -> Result<Option<(Packet, usize)>, DecodeError> {
    let Some((hlen, remaining)) = fixed_header(buf)? else {
        return Ok(None);
    };
    if remaining > limit {
        return Err(DecodeError::TooLarge { remaining, limit });
    }
    let total = hlen + remaining;
    if buf.len() < total {
        return Ok(None);
    }
    let packet = decode_body(buf[0], &buf[hlen..total])?;
    Ok(Some((packet, total)))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(DecodeError::Malformed("truncated"))?;
        self.pos += 1;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let hi = self.u8()? as u16;
        let lo = self.u8()? as u16;
        Ok(hi << 8 | lo)
    }
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u16()? as usize;
        if self.left() < len {
            return Err(DecodeError::Malformed("length prefix beyond packet"));
        }
        let s = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(s)
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.bytes()?;
        let s = std::str::from_utf8(b).map_err(|_| DecodeError::Malformed("invalid UTF-8"))?;
        if s.contains('\0') {
            return Err(DecodeError::Malformed("NUL in string"));
        }
        Ok(s.to_string())
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
    fn end(&self) -> Result<(), DecodeError> {
        if self.left() == 0 {
            Ok(())
        } else {
            Err(DecodeError::Malformed("trailing bytes"))
        }
    }
}

fn decode_body(first: u8, body: &[u8]) -> Result<Packet, DecodeError> {
    let kind = first >> 4;
    let flags = first & 0x0f;
    let mut r = Reader::new(body);
    let expect_flags = |want: u8| {
        if flags == want {
            Ok(())
        } else {
            Err(DecodeError::Malformed("invalid fixed-header flags"))
        }
    };
    let packet = match kind {
        1 => {
            expect_flags(0)?;
            let protocol_name = r.string()?;
            let protocol_level = r.u8()?;
            let cflags = r.u8()?;
            if cflags & 0x01 != 0 {
                return Err(DecodeError::Malformed("reserved CONNECT flag set"));
            }
            let keep_alive = r.u16()?;
            let client_id = r.string()?;
            let will = if cflags & 0x04 != 0 {
                let topic = r.string()?;
                let payload = r.bytes()?.to_vec();
                let qos = (cflags >> 3) & 0x03;
                if qos > 2 {
                    return Err(DecodeError::Malformed("will QoS 3"));
                }
                Some(Will {
                    topic,
                    payload,
                    qos,
                    retain: cflags & 0x20 != 0,
                })
            } else {
                if cflags & 0x38 != 0 {
                    return Err(DecodeError::Malformed("will flags without will"));
                }
                None
            };
            let username = if cflags & 0x80 != 0 {
                Some(r.string()?)
            } else {
                None
            };
            let password = if cflags & 0x40 != 0 {
                Some(r.bytes()?.to_vec())
            } else {
                None
            };
            r.end()?;
            Packet::Connect(Connect {
                protocol_name,
                protocol_level,
                clean_session: cflags & 0x02 != 0,
                keep_alive,
                client_id,
                will,
                username,
                password,
            })
        }
        2 => {
            expect_flags(0)?;
            let sp = r.u8()?;
            let code = r.u8()?;
            r.end()?;
            Packet::Connack {
                session_present: sp & 1 != 0,
                code,
            }
        }
        3 => {
            let qos = (flags >> 1) & 0x03;
            if qos == 3 {
                return Err(DecodeError::Malformed("PUBLISH with QoS 3"));
            }
            let topic = r.string()?;
            let pid = if qos > 0 {
                let id = r.u16()?;
                if id == 0 {
                    return Err(DecodeError::Malformed("packet id 0"));
                }
                Some(id)
            } else {
                None
            };
            let payload = r.rest().to_vec();
            Packet::Publish(Publish {
                dup: flags & 0x08 != 0,
                qos,
                retain: flags & 0x01 != 0,
                topic,
                pid,
                payload,
            })
        }
        4 | 5 | 7 | 11 => {
            expect_flags(0)?;
            let id = r.u16()?;
            r.end()?;
            match kind {
                4 => Packet::Puback(id),
                5 => Packet::Pubrec(id),
                7 => Packet::Pubcomp(id),
                _ => Packet::Unsuback(id),
            }
        }
        6 => {
            expect_flags(2)?;
            let id = r.u16()?;
            r.end()?;
            Packet::Pubrel(id)
        }
        8 => {
            expect_flags(2)?;
            let pid = r.u16()?;
            let mut filters = Vec::new();
            while r.left() > 0 {
                let f = r.string()?;
                let q = r.u8()?;
                if q & 0xfc != 0 || q == 3 {
                    return Err(DecodeError::Malformed("invalid requested QoS"));
                }
                filters.push((f, q));
            }
            if filters.is_empty() {
                return Err(DecodeError::Malformed("SUBSCRIBE without filters"));
            }
            Packet::Subscribe { pid, filters }
        }
        9 => {
            expect_flags(0)?;
            let pid = r.u16()?;
            let codes = r.rest().to_vec();
            Packet::Suback { pid, codes }
        }
        10 => {
            expect_flags(2)?;
            let pid = r.u16()?;
            let mut filters = Vec::new();
            while r.left() > 0 {
                filters.push(r.string()?);
            }
            if filters.is_empty() {
                return Err(DecodeError::Malformed("UNSUBSCRIBE without filters"));
            }
            Packet::Unsubscribe { pid, filters }
        }
        12..=14 => {
            expect_flags(0)?;
            r.end()?;
            match kind {
                12 => Packet::Pingreq,
                13 => Packet::Pingresp,
                _ => Packet::Disconnect,
            }
        }
        _ => return Err(DecodeError::Malformed("reserved packet type")),
    };
    Ok(packet)
}

fn put_len(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let len = b.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&b[..len]);
}

/// Appends the encoding of `p` to `out`.
pub fn encode(p: &Packet, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    let first: u8 = match p {
        Packet::Connect(c) => {
            put_bytes(&mut body, c.protocol_name.as_bytes());
            body.push(c.protocol_level);
            let mut f = 0u8;
            if c.clean_session {
                f |= 0x02;
            }
            if let Some(w) = &c.will {
                f |= 0x04 | (w.qos & 3) << 3;
                if w.retain {
                    f |= 0x20;
                }
            }
            if c.password.is_some() {
                f |= 0x40;
            }
            if c.username.is_some() {
                f |= 0x80;
            }
            body.push(f);
            body.extend_from_slice(&c.keep_alive.to_be_bytes());
            put_bytes(&mut body, c.client_id.as_bytes());
            if let Some(w) = &c.will {
                put_bytes(&mut body, w.topic.as_bytes());
                put_bytes(&mut body, &w.payload);
            }
            if let Some(u) = &c.username {
                put_bytes(&mut body, u.as_bytes());
            }
            if let Some(pw) = &c.password {
                put_bytes(&mut body, pw);
            }
            0x10
        }
        Packet::Connack {
            session_present,
            code,
        } => {
            body.push(*session_present as u8);
            body.push(*code);
            0x20
        }
        Packet::Publish(pb) => {
            put_bytes(&mut body, pb.topic.as_bytes());
            if pb.qos > 0 {
                body.extend_from_slice(&pb.pid.unwrap_or(1).to_be_bytes());
            }
            body.extend_from_slice(&pb.payload);
            0x30 | (pb.dup as u8) << 3 | (pb.qos & 3) << 1 | pb.retain as u8
        }
        Packet::Puback(id) => {
            body.extend_from_slice(&id.to_be_bytes());
            0x40
        }
        Packet::Pubrec(id) => {
            body.extend_from_slice(&id.to_be_bytes());
            0x50
        }
        Packet::Pubrel(id) => {
            body.extend_from_slice(&id.to_be_bytes());
            0x62
        }
        Packet::Pubcomp(id) => {
            body.extend_from_slice(&id.to_be_bytes());
            0x70
        }
        Packet::Subscribe { pid, filters } => {
            body.extend_from_slice(&pid.to_be_bytes());
            for (f, q) in filters {
                put_bytes(&mut body, f.as_bytes());
                body.push(*q);
            }
            0x82
        }
        Packet::Suback { pid, codes } => {
            body.extend_from_slice(&pid.to_be_bytes());
            body.extend_from_slice(codes);
            0x90
        }
        Packet::Unsubscribe { pid, filters } => {
            body.extend_from_slice(&pid.to_be_bytes());
            for f in filters {
                put_bytes(&mut body, f.as_bytes());
            }
            0xa2
        }
        Packet::Unsuback(id) => {
            body.extend_from_slice(&id.to_be_bytes());
            0xb0
        }
        Packet::Pingreq => 0xc0,
        Packet::Pingresp => 0xd0,
        Packet::Disconnect => 0xe0,
    };
    out.push(first);
    put_len(out, body.len());
    out.extend_from_slice(&body);
}

/// Encodes one packet into a new buffer.
pub fn to_bytes(p: &Packet) -> Vec<u8> {
    let mut v = Vec::new();
    encode(p, &mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(p: Packet) {
        let b = to_bytes(&p);
        let (q, n) = decode(&b, 1 << 20).unwrap().unwrap();
        assert_eq!(n, b.len());
        assert_eq!(p, q);
        // Every strict prefix is incomplete, never an error or a panic.
        for i in 0..b.len() {
            assert_eq!(decode(&b[..i], 1 << 20), Ok(None), "prefix {i} of {p:?}");
        }
    }

    #[test]
    fn roundtrips() {
        let mut c = Connect::new("dev1");
        c.username = Some("localhost/dev1/?api-version=2020-09-30".into());
        c.password = Some(b"pw".to_vec());
        c.will = Some(Will {
            topic: "devices/dev1/messages/events/".into(),
            payload: b"bye".to_vec(),
            qos: 1,
            retain: false,
        });
        roundtrip(Packet::Connect(c));
        roundtrip(Packet::Connack {
            session_present: false,
            code: 5,
        });
        roundtrip(Packet::Publish(Publish {
            dup: false,
            qos: 1,
            retain: true,
            topic: "a/b".into(),
            pid: Some(7),
            payload: vec![1, 2, 3],
        }));
        roundtrip(Packet::Publish(Publish {
            dup: false,
            qos: 0,
            retain: false,
            topic: "a".into(),
            pid: None,
            payload: vec![0; 300],
        }));
        roundtrip(Packet::Puback(9));
        roundtrip(Packet::Subscribe {
            pid: 3,
            filters: vec![("$iothub/twin/res/#".into(), 1), ("x".into(), 0)],
        });
        roundtrip(Packet::Suback {
            pid: 3,
            codes: vec![0, 1, 0x80],
        });
        roundtrip(Packet::Unsubscribe {
            pid: 4,
            filters: vec!["x".into()],
        });
        roundtrip(Packet::Unsuback(4));
        roundtrip(Packet::Pingreq);
        roundtrip(Packet::Pingresp);
        roundtrip(Packet::Disconnect);
        roundtrip(Packet::Pubrel(5));
    }

    #[test]
    fn literal_vectors() {
        assert_eq!(to_bytes(&Packet::Puback(0x0102)), [0x40, 0x02, 0x01, 0x02]);
        assert_eq!(to_bytes(&Packet::Pingresp), [0xd0, 0x00]);
        assert_eq!(
            to_bytes(&Packet::Connack {
                session_present: false,
                code: 0
            }),
            [0x20, 0x02, 0x00, 0x00]
        );
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        // PUBACK with no packet id (mqttrs panics on this one).
        assert!(decode(&[0x40, 0x00], 100).is_err());
        assert!(decode(&[0x00, 0x00], 100).is_err());
        assert!(decode(&[0xf0, 0x00], 100).is_err());
        assert!(decode(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], 100).is_err());
        assert_eq!(
            decode(&[0x30, 0xff, 0xff, 0x7f], 1000),
            Err(DecodeError::TooLarge {
                remaining: 2_097_151,
                limit: 1000
            })
        );
        // SUBSCRIBE with wrong flags, with no filters.
        assert!(decode(&[0x80, 0x02, 0x00, 0x01], 100).is_err());
        assert!(decode(&[0x82, 0x02, 0x00, 0x01], 100).is_err());
        // A string length that runs past the packet.
        assert!(decode(&[0x30, 0x03, 0x00, 0x09, b'a'], 100).is_err());
        // Pseudo-random bytes never panic.
        let mut x: u32 = 0x1234_5678;
        for _ in 0..20_000 {
            let mut b = Vec::new();
            for _ in 0..(x % 24) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b.push(x as u8);
            }
            let _ = decode(&b, 64);
            x = x.wrapping_add(1);
        }
    }
}
