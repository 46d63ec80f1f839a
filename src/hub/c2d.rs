//! Cloud-to-device messages: `devices/{device_id}/messages/devicebound/{property_bag}`.

use super::properties::PropertyBag;

/// The subscription filter for C2D messages (the Azure SDK for Embedded C constant, which the
/// original library subscribes to).
pub const SUBSCRIBE_FILTER: &str = "devices/+/messages/devicebound/#";

const MARKER: &str = "/messages/devicebound/";

/// The property bag of a C2D topic, if `topic` is one. As in the original, the device ID in the
/// topic is not checked; everything after `/messages/devicebound/` is the (still URL-encoded) bag.
pub fn parse(topic: &str) -> Option<PropertyBag<'_>> {
    let at = super::scan::find(topic, MARKER)?;
    Some(PropertyBag(&topic[at + MARKER.len()..]))
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
        assert_eq!(parse("devices/d/messages/events/"), None);
    }
}
