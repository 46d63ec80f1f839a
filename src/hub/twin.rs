//! Device twin: GET and reported-properties PATCH requests, responses on
//! `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`, desired-property patches on
//! `$iothub/twin/PATCH/properties/desired/?$version={v}`.

use super::properties::find_value as value;
use crate::mqtt::TopicText;
use crate::sink::{Overflow, Sink};

/// The subscription filter for desired-property patches.
pub const DESIRED_FILTER: &str = "$iothub/twin/PATCH/properties/desired/#";
/// The subscription filter for twin responses.
pub const RESPONSE_FILTER: &str = "$iothub/twin/res/#";

/// The topic of a twin GET before the request ID.
const GET_TOPIC: &[u8; 23] = b"$iothub/twin/GET/?$rid=";
/// The fixed header and topic length of a twin GET (remaining length and topic length 0, to be
/// set) and its topic's prefix: what the client queues before the request ID. A `static`, in
/// flash once: [`GET_PREFIX`] is its end.
pub(crate) static GET_HEAD: [u8; 4 + GET_TOPIC.len()] = {
    let mut h = [0u8; 4 + GET_TOPIC.len()];
    h[0] = 0x30;
    let mut i = 0;
    while i < GET_TOPIC.len() {
        h[4 + i] = GET_TOPIC[i];
        i += 1;
    }
    h
};
/// `$iothub/twin/GET/?$rid=`: the end of [`GET_HEAD`] (no second copy of the bytes).
pub(crate) const GET_PREFIX: &[u8] = GET_HEAD.split_at(4).1;

pub(crate) const REPORTED_PREFIX: &[u8] = b"$iothub/twin/PATCH/properties/reported/?$rid=";

/// Writes `$iothub/twin/GET/?$rid={rid}`.
pub fn write_get_topic<S: Sink>(s: &mut S, request_id: &str) -> Result<(), Overflow> {
    s.put(GET_PREFIX)?;
    s.put(request_id.as_bytes())
}

/// The length of the GET topic for a request ID of `request_id_len` bytes (computed, so that
/// the client needs no measuring pass, and no second copy of the topic writer, for it).
pub fn get_topic_len(request_id_len: usize) -> usize {
    GET_PREFIX.len() + request_id_len
}

/// Writes `$iothub/twin/PATCH/properties/reported/?$rid={rid}`.
pub fn write_reported_topic<S: Sink>(s: &mut S, request_id: &str) -> Result<(), Overflow> {
    s.put(REPORTED_PREFIX)?;
    s.put(request_id.as_bytes())
}

/// The length of the reported-properties topic for a request ID of `request_id_len` bytes.
pub fn reported_topic_len(request_id_len: usize) -> usize {
    REPORTED_PREFIX.len() + request_id_len
}

/// A parsed twin topic: parts of the topic, `&str` or [`crate::mqtt::Text`] as the topic was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwinTopic<S> {
    /// A response to a GET or PATCH. Its `$version` (after a reported PATCH) is found when
    /// asked, by [`response_version`].
    Response {
        /// The status code.
        status: u16,
        /// The `$rid` of the request.
        request_id: S,
    },
    /// A desired-properties patch.
    Desired {
        /// `$version` of the patch.
        version: S,
    },
}

/// Why a twin topic was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwinTopicError {
    /// Not a twin topic.
    NotTwin,
    /// A twin topic with a bad status, or without `$rid` (responses) or `$version` (patches).
    Malformed,
}

const TWIN: usize = "$iothub/twin/".len();
const RES: usize = TWIN + "res/".len();

/// The status of a twin response topic and where its query starts, or `None` if `bytes` is not
/// a response topic (`Err(Malformed)`: it is one, with a bad status).
#[inline(always)]
fn response_status(bytes: &[u8]) -> Option<Result<(u16, usize), TwinTopicError>> {
    // Each kind's whole prefix at once (two compares, not a shared `$iothub/twin/` and then
    // each tail: one compare less in the code). (The bytes of the subscription filter,
    // `$iothub/twin/res/#`.)
    const RES_BYTES: &[u8; RES] = super::subscribe::shared(b"$iothub/twin/res/");
    let b = bytes.strip_prefix(RES_BYTES)?;
    // `{status}/?{query}`: the status is what comes before the first `/?`, and must be 1 to
    // 3 digits. Equivalently: 1 to 3 leading digits followed by `/?` (a `/?` earlier than
    // the first non-digit is impossible, one later leaves a non-digit in the status).
    let mut status = 0u16;
    let mut digits = 0;
    while let Some(&d) = b.get(digits).filter(|d| d.is_ascii_digit() && digits < 3) {
        status = status * 10 + u16::from(d - b'0');
        digits += 1;
    }
    if digits == 0 || b.get(digits..).and_then(|r| r.first_chunk::<2>()) != Some(b"/?") {
        return Some(Err(TwinTopicError::Malformed));
    }
    Some(Ok((status, RES + digits + 2)))
}

/// `$version` of a twin response topic (present after a reported PATCH), if `topic` is a
/// response topic that has one. Found when asked: the client's events do not carry it (the C
/// API never reads it).
pub fn response_version<'a, S: TopicText<'a>>(topic: S) -> Option<S> {
    let (_, bag) = response_status(topic.bytes())?.ok()?;
    value(topic, bag, "$version")
}

/// Parses a twin topic.
pub fn parse<'a, S: TopicText<'a>>(topic: S) -> Result<TwinTopic<S>, TwinTopicError> {
    const DESIRED: usize = TWIN + "PATCH/properties/desired/?".len();
    let bytes = topic.bytes();
    if let Some(r) = response_status(bytes) {
        let (status, bag) = r?;
        let request_id = value(topic, bag, "$rid")
            .filter(|r| !r.bytes().is_empty())
            .ok_or(TwinTopicError::Malformed)?;
        return Ok(TwinTopic::Response { status, request_id });
    }
    // (The bytes of the subscription filter, `$iothub/twin/PATCH/properties/desired/#`, then
    // the `?` that starts the query.)
    const DESIRED_BYTES: &[u8; DESIRED - 1] =
        super::subscribe::shared(b"$iothub/twin/PATCH/properties/desired/");
    if bytes
        .strip_prefix(DESIRED_BYTES)
        .is_some_and(|q| q.first() == Some(&b'?'))
    {
        let version = value(topic, DESIRED, "$version")
            .filter(|v| !v.bytes().is_empty())
            .ok_or(TwinTopicError::Malformed)?;
        return Ok(TwinTopic::Desired { version });
    }
    Err(TwinTopicError::NotTwin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Cursor;

    #[test]
    fn request_topic_vectors() {
        let mut buf = [0u8; 64];
        let mut c = Cursor::new(&mut buf);
        write_get_topic(&mut c, "1234567").unwrap();
        assert_eq!(c.written(), b"$iothub/twin/GET/?$rid=1234567");
        let mut c = Cursor::new(&mut buf);
        write_reported_topic(&mut c, "42").unwrap();
        assert_eq!(
            c.written(),
            b"$iothub/twin/PATCH/properties/reported/?$rid=42"
        );
    }

    #[test]
    fn topic_lengths_are_the_written_lengths() {
        for rid in ["", "1", "4294967295", "abc-def"] {
            let n = crate::sink::measure(|m| write_get_topic(m, rid)).unwrap();
            assert_eq!(get_topic_len(rid.len()), n, "{rid}");
            let n = crate::sink::measure(|m| write_reported_topic(m, rid)).unwrap();
            assert_eq!(reported_topic_len(rid.len()), n, "{rid}");
        }
        assert_eq!(get_topic_len(7), "$iothub/twin/GET/?$rid=1234567".len());
    }

    #[test]
    fn response_topic_vectors() {
        assert_eq!(
            parse("$iothub/twin/res/200/?$rid=1"),
            Ok(TwinTopic::Response {
                status: 200,
                request_id: "1",
            })
        );
        assert_eq!(response_version("$iothub/twin/res/200/?$rid=1"), None);
        assert_eq!(
            parse("$iothub/twin/res/204/?$rid=2&$version=3"),
            Ok(TwinTopic::Response {
                status: 204,
                request_id: "2",
            })
        );
        assert_eq!(
            response_version("$iothub/twin/res/204/?$rid=2&$version=3"),
            Some("3")
        );
        assert_eq!(
            parse("$iothub/twin/res/429/?$rid=9&retry-after=5"),
            Ok(TwinTopic::Response {
                status: 429,
                request_id: "9",
            })
        );
        assert_eq!(
            response_version("$iothub/twin/res/429/?$rid=9&retry-after=5"),
            None
        );
        assert_eq!(
            parse("$iothub/twin/res/204/?$version=3"),
            Err(TwinTopicError::Malformed)
        );
        assert_eq!(
            parse("$iothub/twin/res/2x4/?$rid=1"),
            Err(TwinTopicError::Malformed)
        );
        assert_eq!(
            parse("$iothub/twin/res/99999/?$rid=1"),
            Err(TwinTopicError::Malformed)
        );
        assert_eq!(
            parse("$iothub/twin/res/200"),
            Err(TwinTopicError::Malformed)
        );
    }

    #[test]
    fn response_version_is_the_version_of_a_response_topic() {
        for (topic, want) in [
            ("$iothub/twin/res/204/?$rid=2&$version=3", Some("3")),
            ("$iothub/twin/res/204/?$version=3&$rid=2", Some("3")),
            ("$iothub/twin/res/004/?$rid=2&&$version=", Some("")),
            ("$iothub/twin/res/204/?$rid=2&$versions=3", None),
            ("$iothub/twin/res/204/?$rid=2", None),
            ("$iothub/twin/res/2x4/?$rid=2&$version=3", None),
            ("$iothub/twin/res/2044/?$rid=2&$version=3", None),
            ("$iothub/twin/res/204?$rid=2&$version=3", None),
            ("$iothub/twin/PATCH/properties/desired/?$version=3", None),
            ("devices/d/messages/devicebound/$version=3", None),
        ] {
            assert_eq!(response_version(topic), want, "{topic}");
            let text = crate::mqtt::Text::from(topic);
            assert_eq!(response_version(text).map(|v| v.as_str()), want, "{topic}");
        }
    }

    #[test]
    fn desired_topic_vectors() {
        assert_eq!(
            parse("$iothub/twin/PATCH/properties/desired/?$version=12"),
            Ok(TwinTopic::Desired { version: "12" })
        );
        assert_eq!(
            parse("$iothub/twin/PATCH/properties/desired/?x=1"),
            Err(TwinTopicError::Malformed)
        );
        assert_eq!(
            parse("$iothub/twin/GET/?$rid=1"),
            Err(TwinTopicError::NotTwin)
        );
        assert_eq!(parse("devices/x"), Err(TwinTopicError::NotTwin));
    }
}
