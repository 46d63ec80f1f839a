//! Device-to-cloud telemetry: `devices/{device_id}/messages/events/{property_bag}`.

use super::properties::{write_bag, PropertyList};
use super::scan::{fill, Out};
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
    // (`put_topic` writes the same; the tests compare them.)
    write_bag(s, properties)
}

/// [`write_topic`] for the publish path: the same bytes, through the inlined [`Out`].
#[inline(always)]
pub(crate) fn put_topic(
    o: &mut Out<'_>,
    device_id: &[u8],
    properties: &dyn PropertyList,
    bag_len: usize,
) -> Result<(), Overflow> {
    o.bytes_fixed(PREFIX)?;
    o.bytes_short(device_id)?;
    o.bytes_fixed(SUFFIX)?;
    // The bag's length is known (`bag_len`): one bounds check for all of it, then byte by byte.
    let mut w = o.take(bag_len)?.iter_mut();
    if let Some(props) = properties.as_slice() {
        for (i, p) in props.iter().enumerate() {
            put_property(&mut w, i, p.key, p.value)?;
        }
    } else {
        for i in 0..properties.count() {
            let (k, v) = properties.get(i).ok_or(Overflow)?;
            put_property(&mut w, i, k, v)?;
        }
    }
    // A list that changed length since it was measured is refused, not sent half-written.
    match w.next() {
        None => Ok(()),
        Some(_) => Err(Overflow),
    }
}

/// `&` (but before the first), key, `=`, value.
#[inline(always)]
fn put_property(
    w: &mut core::slice::IterMut<'_, u8>,
    i: usize,
    k: &[u8],
    v: &[u8],
) -> Result<(), Overflow> {
    if i > 0 {
        *w.next().ok_or(Overflow)? = b'&';
    }
    fill(w, k)?;
    *w.next().ok_or(Overflow)? = b'=';
    fill(w, v)
}

const PREFIX: &[u8; 8] = b"devices/";
const SUFFIX: &[u8; 17] = b"/messages/events/";

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
        // The publish path's writer writes the same bytes, and refuses what does not fit.
        let mut out = [0u8; 128];
        let mut o = Out::new(&mut out);
        put_topic(&mut o, b"my-device", &props, 7).unwrap();
        let n = o.len();
        assert_eq!(&out[..n], c.written());
        let mut small = [0u8; 40];
        assert_eq!(
            put_topic(&mut Out::new(&mut small), b"my-device", &props, 7),
            Err(Overflow)
        );
        // A bag length that does not match the list is refused.
        for wrong in [6, 8] {
            assert_eq!(
                put_topic(&mut Out::new(&mut out), b"my-device", &props, wrong),
                Err(Overflow)
            );
        }
        assert_eq!(crate::hub::properties::bag_len(&props), Ok(7));
    }
}
