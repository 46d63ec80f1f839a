//! Cloud-to-device messages: `devices/{device_id}/messages/devicebound/{property_bag}`.

use super::properties::PropertyBag;
use crate::mqtt::TopicText;

/// The subscription filter for C2D messages (the Azure SDK for Embedded C constant, which the
/// original library subscribes to).
pub const SUBSCRIBE_FILTER: &str = "devices/+/messages/devicebound/#";

/// (The bytes of the subscription filter, `devices/+/messages/devicebound/#`.)
const MARKER: &[u8; 22] = super::subscribe::shared(b"/messages/devicebound/");

/// The property bag of a C2D topic, if `topic` is one. As in the original, the device ID in the
/// topic is not checked; everything after `/messages/devicebound/` is the (still URL-encoded) bag.
pub fn parse<'a, S: TopicText<'a>>(topic: S) -> Option<PropertyBag<'a>> {
    let t = topic.bytes();
    let at = marker_at(t)?;
    // `part`: no slicing panic path (and its formatting) linked.
    Some(PropertyBag(topic.tail(at + MARKER.len())?.text()))
}

/// Where the first `/messages/devicebound/` starts: searched by the `b` of `devicebound` (rare
/// in topics: in IoT Hub's own form, `devices/{id}/messages/devicebound/...`, usually the first
/// one after the device ID; method and twin topics have none). No fast path for that form: its
/// prefix and slash checks cost more code than the search they save (about one instruction).
#[inline(always)]
fn marker_at(t: &[u8]) -> Option<usize> {
    super::scan::find_anchored(t, MARKER, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2d_vectors() {
        let t = "devices/useragent_c/messages/devicebound/%24.mid=79eadb01-bd0d-472d-bd35-ccb76e70eab8&%24.to=%2Fdevices%2Fuseragent_c%2Fmessages%2FdeviceBound&abc=123";
        let bag = parse(t).unwrap();
        assert_eq!(
            bag.get("%24.mid"),
            Some("79eadb01-bd0d-472d-bd35-ccb76e70eab8")
        );
        assert_eq!(bag.get("abc"), Some("123"));
        assert_eq!(bag.len(), 3);
        // An unencoded `/` in `$.to` stays inside the bag.
        let t = "devices/d/messages/devicebound/$.to=/devices/d/messages/deviceBound&abc=123";
        assert_eq!(
            parse(t).unwrap().get("$.to"),
            Some("/devices/d/messages/deviceBound")
        );
        assert_eq!(parse("devices/d/messages/devicebound/").unwrap().len(), 0);
        // Anywhere in the topic, first occurrence, as the original (devices/ and the ID unchecked).
        for t in [
            "devices/messages/devicebound/a=1",
            "devices/d/x/messages/devicebound/a=1",
            "devices/d/messages/devicebound/messages/devicebound/a=1",
            "$iothub/methods/POST/x/messages/devicebound/a=1",
            "/messages/devicebound/a=1",
            "devices//messages/devicebound/a=1",
            "devices/d",
            "devices/",
            "/messages/devicebound",
            "x/messages/deviceboundx",
            "devices/bob-b/messages/devicebound/b=b",
            "devices/messages/devicebound/messages/devicebound/",
            "devices/b/messages/deviceboun/messages/devicebound/x",
        ] {
            let want = t
                .find("/messages/devicebound/")
                .map(|at| &t[at + MARKER.len()..]);
            assert_eq!(parse(t).map(|b| b.as_str()), want, "{t}");
            let text = parse(crate::mqtt::Text::from(t)).map(|b| b.as_bytes());
            assert_eq!(text, want.map(str::as_bytes), "{t}");
        }
        assert_eq!(parse("devices/d/messages/events/"), None);
    }
}
