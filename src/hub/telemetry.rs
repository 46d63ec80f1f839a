//! Device-to-cloud telemetry: `devices/{device_id}/messages/events/{property_bag}`.

use super::properties::{write_bag, PropertyList};
use crate::sink::{Overflow, Sink};

/// Writes the telemetry topic. The property bag follows the trailing `/` directly, with no `?`,
/// as the original library sends it.
pub fn write_topic<S: Sink>(
    s: &mut S,
    device_id: &str,
    properties: &dyn PropertyList,
) -> Result<(), Overflow> {
    s.put(PREFIX)?;
    s.put(device_id.as_bytes())?;
    s.put(SUFFIX)?;
    // (`Client::publish` writes the same through `properties::put_bag`; the tests compare them.)
    write_bag(s, properties)
}

pub(crate) const PREFIX: &[u8; 8] = b"devices/";
pub(crate) const SUFFIX: &[u8; 17] = b"/messages/events/";

/// The length [`write_topic`] writes for a device ID and a bag of these lengths.
pub fn topic_len(device_id_len: usize, bag_len: usize) -> usize {
    PREFIX.len() + device_id_len + SUFFIX.len() + bag_len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::properties::Property;
    use crate::sink::{measure, Cursor};

    #[test]
    fn topic_vectors() {
        let mut buf = [0u8; 128];
        let mut c = Cursor::new(&mut buf);
        write_topic(&mut c, "my-device", &crate::hub::properties::NO_PROPERTIES).unwrap();
        assert_eq!(c.written(), b"devices/my-device/messages/events/");

        let props = [Property::new("a", "1"), Property::new("b", "2")];
        let mut c = Cursor::new(&mut buf);
        write_topic(&mut c, "my-device", &props).unwrap();
        assert_eq!(c.written(), b"devices/my-device/messages/events/a=1&b=2");
        assert_eq!(
            measure(|m| write_topic(m, "my-device", &props)).unwrap(),
            c.len()
        );
        assert_eq!(topic_len(9, 7), c.len());
        // The publish path's bag writer writes the same bytes (its length is what it wrote),
        // and refuses a bag that does not fit.
        use crate::hub::properties::put_bag;
        let mut bag = [0u8; 8];
        assert_eq!(put_bag(&mut bag, &props), Some(7));
        assert_eq!(&bag[..7], &c.written()[34..]);
        assert_eq!(put_bag(&mut [0u8; 6], &props), None);
        assert_eq!(put_bag(&mut [0u8; 7], &props), Some(7));
        assert_eq!(crate::hub::properties::bag_len(&props), Ok(7));
    }
}
