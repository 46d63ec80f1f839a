//! Direct methods: requests on `$iothub/methods/POST/{name}/?$rid={rid}`, responses on
//! `$iothub/methods/res/{status}/?$rid={rid}`.

use crate::mqtt::TopicText;
use crate::sink::{Overflow, Sink};

/// The subscription filter for direct methods.
pub const SUBSCRIBE_FILTER: &str = "$iothub/methods/POST/#";

const PREFIX: &str = "$iothub/methods/POST/";
pub(crate) const RID: &[u8] = b"/?$rid=";

/// A parsed method-request topic: parts of the topic, `&str` or [`crate::mqtt::Text`] as the
/// topic was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodTopic<S> {
    /// The method name.
    pub name: S,
    /// The request ID: the rest of the topic after `$rid=` (as the original, not split on `&`).
    pub request_id: S,
}

/// Why a method topic was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodTopicError {
    /// Not a method topic.
    NotMethod,
    /// A method topic without `/?$rid=`, or with an empty name or request ID.
    Malformed,
}

/// Parses a method-request topic.
pub fn parse<'a, S: TopicText<'a>>(topic: S) -> Result<MethodTopic<S>, MethodTopicError> {
    // Fixed-size compares (inlined moves, no `memcmp` call).
    // (The bytes of the subscription filter, `$iothub/methods/POST/#`.)
    const PREFIX_BYTES: &[u8; 21] = super::subscribe::shared(b"$iothub/methods/POST/");
    let t = topic.bytes();
    if t.first_chunk::<21>() != Some(PREFIX_BYTES) {
        return Err(MethodTopicError::NotMethod);
    }
    let bytes = t.get(PREFIX.len()..).unwrap_or_default();
    // The first `/?$rid=`: candidates are the `/`s.
    let mut from = 0;
    let at = PREFIX.len()
        + loop {
            let slash = from
                + bytes
                    .get(from..)
                    .and_then(|b| super::scan::find_byte(b, b'/'))
                    .ok_or(MethodTopicError::Malformed)?;
            if bytes
                .get(slash..)
                .and_then(|b| b.first_chunk::<7>())
                .is_some_and(is_rid)
            {
                break slash;
            }
            from = slash + 1;
        };
    // `at` and `at + 7` are at ASCII bytes matched (`part` checks anyway for a `&str`).
    let (name, request_id) = topic
        .part(PREFIX.len(), at)
        .zip(topic.tail(at + RID.len()))
        .ok_or(MethodTopicError::Malformed)?;
    if name.bytes().is_empty() || request_id.bytes().is_empty() {
        return Err(MethodTopicError::Malformed);
    }
    Ok(MethodTopic { name, request_id })
}

/// `w` is `/?$rid=`: compared as two overlapping 4-byte words (two compares with constants, not
/// the 7-byte value assembled from three loads).
#[inline(always)]
fn is_rid(w: &[u8; 7]) -> bool {
    let word = |b: Option<&[u8; 4]>| b.map(|b| u32::from_le_bytes(*b));
    let r = b"/?$rid=";
    word(w.first_chunk()) == word(r.first_chunk()) && word(w.last_chunk()) == word(r.last_chunk())
}

/// The length [`write_response_topic`] writes (computed: the status is not formatted twice).
pub fn response_topic_len(status: u32, request_id_len: usize) -> usize {
    RES_PREFIX.len() + super::scan::decimal_len(status) + RID.len() + request_id_len
}

pub(crate) const RES_PREFIX: &[u8] = b"$iothub/methods/res/";

/// Writes the response topic. The status is written in full (the original truncated it to 16 bits).
pub fn write_response_topic<S: Sink>(
    s: &mut S,
    status: u32,
    request_id: &str,
) -> Result<(), Overflow> {
    s.put(RES_PREFIX)?;
    s.put_decimal(status)?;
    s.put(RID)?;
    s.put(request_id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Cursor;

    /// `is_rid` is equality with `/?$rid=`: every byte of it matters (any one changed to any
    /// other value is refused).
    #[test]
    fn is_rid_is_equality() {
        let rid: [u8; 7] = *b"/?$rid=";
        assert!(is_rid(&rid));
        for i in 0..7 {
            for v in 0..=255u8 {
                let mut w = rid;
                w[i] = v;
                assert_eq!(is_rid(&w), v == rid[i], "{i} {v}");
            }
        }
    }

    #[test]
    fn request_vectors() {
        assert_eq!(
            parse("$iothub/methods/POST/led/?$rid=1"),
            Ok(MethodTopic {
                name: "led",
                request_id: "1"
            })
        );
        assert_eq!(
            parse("$iothub/methods/POST/reboot/?$rid=ab&c=d"),
            Ok(MethodTopic {
                name: "reboot",
                request_id: "ab&c=d"
            })
        );
        assert_eq!(
            parse("$iothub/methods/POST//?$rid=1"),
            Err(MethodTopicError::Malformed)
        );
        assert_eq!(
            parse("$iothub/methods/POST/led/?$rid="),
            Err(MethodTopicError::Malformed)
        );
        assert_eq!(
            parse("$iothub/methods/POST/led"),
            Err(MethodTopicError::Malformed)
        );
        assert_eq!(
            parse("$iothub/twin/res/200/?$rid=1"),
            Err(MethodTopicError::NotMethod)
        );
        // The first `/?$rid=`, past other slashes; nothing but the exact prefix is a method.
        assert_eq!(
            parse("$iothub/methods/POST/a/b/?x/?$rid=5/?$rid=6"),
            Ok(MethodTopic {
                name: "a/b/?x",
                request_id: "5/?$rid=6"
            })
        );
        assert_eq!(
            parse("$iothub/methods/POST/"),
            Err(MethodTopicError::Malformed)
        );
        assert_eq!(
            parse("$iothub/methods/POS/led/?$rid=1"),
            Err(MethodTopicError::NotMethod)
        );
        assert_eq!(parse("$iothub"), Err(MethodTopicError::NotMethod));
    }

    #[test]
    fn response_vectors() {
        let mut buf = [0u8; 64];
        let mut c = Cursor::new(&mut buf);
        write_response_topic(&mut c, 200, "7").unwrap();
        assert_eq!(c.written(), b"$iothub/methods/res/200/?$rid=7");
        let mut c = Cursor::new(&mut buf);
        write_response_topic(&mut c, 65_536, "x").unwrap();
        assert_eq!(c.written(), b"$iothub/methods/res/65536/?$rid=x");
        for (status, rid) in [(0, "1"), (9, "ab"), (10, ""), (200, "7"), (u32::MAX, "xyz")] {
            let mut c = Cursor::new(&mut buf);
            write_response_topic(&mut c, status, rid).unwrap();
            assert_eq!(response_topic_len(status, rid.len()), c.len(), "{status}");
        }
    }
}
