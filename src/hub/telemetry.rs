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
    s.put(b"devices/")?;
    s.put(device_id.as_bytes())?;
    s.put(b"/messages/events/")?;
    write_bag(s, properties)
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
    }
}
