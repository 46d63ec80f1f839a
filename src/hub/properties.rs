//! Property bags: `key=value&key2=value2`, as IoT Hub carries them in topic names.
//!
//! Outgoing bags are written verbatim (keys and values are not URL-encoded, as in the original
//! library and the Azure SDK for Embedded C: the caller encodes, for example `%24.ct`). Incoming
//! bags are handed over as received (still encoded).

use super::scan::find_byte;
use crate::mqtt::{Text, TopicText};
use crate::sink::{Overflow, Sink};

/// One property of an outgoing message. An empty value is written as `key=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property<'a> {
    /// The key (must not be empty).
    pub key: &'a [u8],
    /// The value (may be empty).
    pub value: &'a [u8],
}

impl<'a> Property<'a> {
    /// A property from two strings.
    pub const fn new(key: &'a str, value: &'a str) -> Self {
        Property {
            key: key.as_bytes(),
            value: value.as_bytes(),
        }
    }
}

/// A list of outgoing properties. Implemented for slices of [`Property`]; the C API implements
/// it over the caller's `struct azure_iot_hub_property` array without copying.
pub trait PropertyList {
    /// Number of properties.
    fn count(&self) -> usize;
    /// Property `i` as (key, value), or `None` if it cannot be read (for example a NULL key).
    fn get(&self, i: usize) -> Option<(&[u8], &[u8])>;
    /// The list as a slice of [`Property`], when it is one: the publish path then reads the
    /// properties without a dynamic call each. `None` (the default): through [`Self::get`].
    fn as_slice(&self) -> Option<&[Property<'_>]> {
        None
    }
}

impl PropertyList for &[Property<'_>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        <[Property<'_>]>::get(self, i).map(|p| (p.key, p.value))
    }
    fn as_slice(&self) -> Option<&[Property<'_>]> {
        Some(self)
    }
}

impl<const N: usize> PropertyList for [Property<'_>; N] {
    fn count(&self) -> usize {
        N
    }
    fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        <[Property<'_>]>::get(self, i).map(|p| (p.key, p.value))
    }
    fn as_slice(&self) -> Option<&[Property<'_>]> {
        Some(self)
    }
}

/// No properties.
pub const NO_PROPERTIES: [Property<'static>; 0] = [];

/// Bytes a topic component never holds: NUL, `#`, `+` (they would change the topic's meaning)
/// and `&` (every refused byte is below 64: a [`crate::mqtt::utf8_without`] mask).
const REFUSED: u64 = crate::mqtt::NUL_OR_WILDCARD | (1 << b'&');
/// [`REFUSED`] and `=` (property keys, twin request IDs).
const REFUSED_KEY: u64 = REFUSED | (1 << b'=');

/// Checks a value that goes into a topic verbatim (request IDs, property keys and values): it
/// must be UTF-8 without NUL, `#`, `+` (they would change the topic's meaning) and `&` (and `=`
/// unless `allow_equals`). One called copy (connect, request IDs, the refusal path of publish):
/// the UTF-8 check, which refuses those bytes in the same pass.
#[inline(never)]
pub(crate) fn valid_component(bytes: &[u8], allow_equals: bool) -> bool {
    let refused = if allow_equals { REFUSED } else { REFUSED_KEY };
    crate::mqtt::utf8_without(bytes, refused)
}

/// Copies `src` to `dst` (as long) and checks it as [`valid_component`] does (with
/// `refused`) in the same pass; false when it is refused.
#[inline]
fn copy_checked(dst: &mut [u8], src: &[u8], refused: u64) -> bool {
    let mut high = 0u8;
    for (d, &b) in dst.iter_mut().zip(src) {
        *d = b;
        if b < 64 && (refused >> b) & 1 != 0 {
            return false;
        }
        high |= b;
    }
    high < 0x80 || crate::mqtt::is_utf8(src)
}

/// The list as a slice of [`Property`] for the publish path, when it is one. Not on Zephyr,
/// where the only list is the C API's array (`as_slice` is `None` for it): the code for slices
/// would be dead there.
#[inline]
fn slice_of(list: &dyn PropertyList) -> Option<&[Property<'_>]> {
    if cfg!(feature = "zephyr") {
        None
    } else {
        list.as_slice()
    }
}

/// Writes the bag of `list` at the start of `dst` and checks every property in the same
/// pass (one pass: its length is what was written); `None` when one is refused or the bag does
/// not fit `dst`. A slice of [`Property`] is read without a dynamic call per property.
#[inline]
pub(crate) fn put_bag(dst: &mut [u8], list: &dyn PropertyList) -> Option<usize> {
    match slice_of(list) {
        Some(props) => put_pairs(dst, props.iter().map(|p| Some((p.key, p.value)))),
        // (`bag_into` wrote it whole only when its whole length fits.)
        None => bag_into(dst, list).ok().filter(|&n| n <= dst.len()),
    }
}

/// Checks every property of `list` and writes its bag at the start of `dst` as far as it fits:
/// the bag's whole length (saturating; the bag was written whole only when that is at most
/// `dst.len()`), or `Invalid` when a property is refused. One called copy, through
/// [`PropertyList::get`], for the publish path of a list that is not a slice (the C API's array)
/// and for [`bag_len`] (the refusal path, with an empty `dst`): its checks and its length are
/// those of [`bag_len`] by construction.
#[inline(never)]
fn bag_into(dst: &mut [u8], list: &dyn PropertyList) -> Result<usize, PropertyError> {
    let mut o = crate::sink::Cursor::new(dst);
    let mut len = 0usize;
    for i in 0..list.count() {
        let (k, v) = list.get(i).ok_or(PropertyError::Invalid)?;
        if k.is_empty() || !valid_component(k, false) || !valid_component(v, true) {
            return Err(PropertyError::Invalid);
        }
        // `key=value&`: the last `&` is not part of the bag (written after it when there is
        // room, where nothing reads it). A piece that does not fit is not written (`put`
        // writes all or nothing), and the pieces after it may then land too early: the length
        // is then over `dst.len()`, and the bag is not used.
        let _ = o.put(k);
        let _ = o.put_u8(b'=');
        let _ = o.put(v);
        let _ = o.put_u8(b'&');
        len = len.saturating_add(k.len() + 1 + v.len() + 1);
    }
    Ok(len.saturating_sub(1))
}

/// [`put_bag`] for the properties `pairs` yields (`None`: one cannot be read).
#[inline]
fn put_pairs<'a>(
    dst: &mut [u8],
    pairs: impl Iterator<Item = Option<(&'a [u8], &'a [u8])>>,
) -> Option<usize> {
    let cap = dst.len();
    let mut rest = dst;
    for kv in pairs {
        let (k, v) = kv?;
        if k.is_empty() {
            return None;
        }
        // `&` before all but the first (keys are not empty: nothing written means the first),
        // key, `=`, value, each checked as written.
        let mut r = rest;
        if r.len() != cap {
            let (amp, tail) = r.split_first_mut()?;
            *amp = b'&';
            r = tail;
        }
        let (dk, tail) = r.split_at_mut_checked(k.len())?;
        if !copy_checked(dk, k, REFUSED_KEY) {
            return None;
        }
        let (eq, tail) = tail.split_first_mut()?;
        *eq = b'=';
        let (dv, tail) = tail.split_at_mut_checked(v.len())?;
        if !copy_checked(dv, v, REFUSED) {
            return None;
        }
        rest = tail;
    }
    Some(cap - rest.len())
}

/// Why a property list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyError {
    /// A key is missing or empty, or a key or value holds `&`, `#`, `+`, NUL, a `=` in the key,
    /// or bytes that are not UTF-8.
    Invalid,
}

/// Validates every property of `list`.
pub fn validate(list: &dyn PropertyList) -> Result<(), PropertyError> {
    bag_len(list).map(|_| ())
}

/// Validates every property of `list` and returns the length [`write_bag`] will write, in one
/// pass.
pub fn bag_len(list: &dyn PropertyList) -> Result<usize, PropertyError> {
    bag_into(&mut [], list)
}

/// Writes `k1=v1&k2=v2...`. Call [`validate`] first.
pub fn write_bag<S: Sink>(s: &mut S, list: &dyn PropertyList) -> Result<(), Overflow> {
    for i in 0..list.count() {
        let (k, v) = list.get(i).ok_or(Overflow)?;
        if i > 0 {
            s.put_u8(b'&')?;
        }
        s.put(k)?;
        s.put_u8(b'=')?;
        s.put(v)?;
    }
    Ok(())
}

/// The properties of a [`PropertyBag`] as bytes: each `&` found eight bytes at a time (the bag
/// of a C2D message is most of its topic), the `=` of the (short) key byte by byte.
#[derive(Debug, Clone)]
pub struct BagBytes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for BagBytes<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            // The segment up to the `&` (or the end), and what follows the `&`.
            let (kv, rest) = match find_byte(self.rest, b'&') {
                Some(at) => (self.rest.get(..at)?, self.rest.get(at + 1..)?),
                None => (self.rest, &b""[..]),
            };
            self.rest = rest;
            if kv.is_empty() {
                continue;
            }
            // Keys are short: their `=` by a plain byte loop (a small copy of code).
            return Some(match kv.iter().position(|&c| c == b'=') {
                Some(at) => (kv.get(..at)?, kv.get(at + 1..)?),
                None => (kv, &b""[..]),
            });
        }
    }
}

/// The value of the first property named `key` (which holds no `=`) in the bag that starts at
/// `start` in `text`, as a part of `text`. Off the hot paths (twin and DPS topics): a plain byte loop, one called
/// copy for each kind of text, not the inlined eight-bytes-at-a-time iterator.
#[inline(never)]
pub(crate) fn find_value<'a, S: TopicText<'a>>(text: S, mut start: usize, key: &str) -> Option<S> {
    let (bytes, key) = (text.bytes(), key.as_bytes());
    while let Some(rest) = bytes.get(start..).filter(|r| !r.is_empty()) {
        let end = rest.iter().position(|&c| c == b'&').unwrap_or(rest.len());
        let seg = rest.get(..end)?;
        // Empty segments are skipped (as by `iter`); `key=value` or `key` alone: cut at `&`,
        // `=` or after the key, UTF-8 on both sides.
        if let Some(v) = seg.strip_prefix(key).filter(|_| !seg.is_empty()) {
            let at = start + key.len();
            let value = match v.first() {
                None => (at, at),
                Some(b'=') => (at + 1, start + end),
                Some(_) => (1, 0),
            };
            if value.0 <= value.1 {
                return text.part(value.0, value.1);
            }
        }
        start += end + 1;
    }
    None
}

/// An incoming property bag (as received: still URL-encoded), parsed lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PropertyBag<'a>(pub Text<'a>);

impl<'a> PropertyBag<'a> {
    /// The raw bag as received.
    pub fn as_str(&self) -> &'a str {
        self.0.as_str()
    }

    /// The raw bag as received, as bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }

    /// Iterates over `(key, value)` as bytes (each valid UTF-8: cut at `&` and `=`); a property
    /// without `=` has an empty value. Empty segments (`a=1&&b=2`) are skipped. What the C API
    /// hands to C.
    #[inline]
    pub fn iter_bytes(&self) -> BagBytes<'a> {
        BagBytes {
            rest: self.0.as_bytes(),
        }
    }

    /// Iterates over `(key, value)` as text: [`PropertyBag::iter_bytes`] with each part checked
    /// to be UTF-8 again to make a `&str` of it (for Rust applications; the C API reads bytes).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.iter_bytes()
            .map(|(k, v)| (Text::checked(k).as_str(), Text::checked(v).as_str()))
    }

    /// The value of the first property named `key` (see [`PropertyBag::get_text`]).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.get_text(key).map(|v| v.as_str())
    }

    /// The value of the first property named `key`, as [`Text`].
    pub fn get_text(&self, key: &str) -> Option<Text<'a>> {
        // A key never holds `=` (the first one ends it).
        if key.as_bytes().contains(&b'=') {
            return None;
        }
        find_value(self.0, 0, key)
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.iter_bytes().count()
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.iter_bytes().next().is_none()
    }
}

impl<'a> From<&'a str> for PropertyBag<'a> {
    fn from(s: &'a str) -> Self {
        PropertyBag(s.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Cursor;

    #[test]
    fn writes_bag_verbatim() {
        let props = [
            Property::new("batch", ""),
            Property::new("%24.ct", "application%2Fjson"),
            Property::new("%24.ce", "utf-8"),
        ];
        validate(&props).unwrap();
        let mut buf = [0u8; 128];
        let mut c = Cursor::new(&mut buf);
        write_bag(&mut c, &props).unwrap();
        assert_eq!(
            c.written(),
            b"batch=&%24.ct=application%2Fjson&%24.ce=utf-8"
        );
    }

    /// A list that is not a slice (as the C API's array): read through `get` alone.
    struct ByGet<'a>(&'a [Property<'a>]);

    impl PropertyList for ByGet<'_> {
        fn count(&self) -> usize {
            self.0.len()
        }
        fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
            self.0.get(i).map(|p| (p.key, p.value))
        }
    }

    #[test]
    fn bag_through_get_is_the_slices_for_every_room() {
        let lists: [&[Property<'_>]; 6] = [
            &[],
            &[Property::new("a", "1")],
            &[Property::new("a", ""), Property::new("bc", "d=e")],
            &[
                Property::new("%24.ct", "x"),
                Property::new("k", "v"),
                Property::new("é", "ü"),
            ],
            &[Property::new("a", "1"), Property::new("b&", "2")],
            &[Property::new("a", "1"), Property::new("", "2")],
        ];
        for props in lists {
            let whole = props.len() * 2
                + props
                    .iter()
                    .map(|p| p.key.len() + p.value.len())
                    .sum::<usize>();
            for room in 0..whole + 2 {
                let (mut a, mut b) = ([0xAAu8; 32], [0xAAu8; 32]);
                let via_slice = put_bag(&mut a[..room], &props);
                let via_get = put_bag(&mut b[..room], &ByGet(props));
                assert_eq!(via_get, via_slice, "{props:?} in {room}");
                if let Some(n) = via_get {
                    assert_eq!(b[..n], a[..n], "{props:?} in {room}");
                }
            }
            // The refusal path's length and checks: the slice writer's with room to spare.
            let expected = put_bag(&mut [0u8; 32], &props).ok_or(PropertyError::Invalid);
            assert_eq!(bag_len(&ByGet(props)), expected, "{props:?}");
        }
        assert_eq!(
            bag_len(&ByGet(&[Property::new("ab", "c"), Property::new("d", "")])),
            Ok(7)
        );
    }

    #[test]
    fn refuses_components_that_change_the_topic() {
        for (k, v) in [
            ("", "x"),
            ("a&b", "x"),
            ("a", "x&y"),
            ("a=b", "x"),
            ("a", "#"),
            ("a", "+"),
            ("a", "\0"),
        ] {
            assert_eq!(
                validate(&[Property::new(k, v)]),
                Err(PropertyError::Invalid),
                "{k}={v}"
            );
        }
        assert_eq!(
            validate(&[Property {
                key: b"\xff",
                value: b""
            }]),
            Err(PropertyError::Invalid)
        );
        validate(&[Property::new("a", "b=c")]).unwrap();
    }

    #[test]
    fn parses_incoming_bag() {
        let bag = PropertyBag::from(
            "%24.mid=abc&%24.to=%2Fdevices%2Fd%2Fmessages%2FdeviceBound&prop1&prop2=&k=v=w",
        );
        let all: heapless::Vec<(&str, &str), 8> = bag.iter().collect();
        assert_eq!(
            &all[..],
            &[
                ("%24.mid", "abc"),
                ("%24.to", "%2Fdevices%2Fd%2Fmessages%2FdeviceBound"),
                ("prop1", ""),
                ("prop2", ""),
                ("k", "v=w")
            ]
        );
        assert_eq!(bag.get("k"), Some("v=w"));
        assert_eq!(bag.get("nope"), None);
        assert_eq!(PropertyBag::from("").len(), 0);
        assert_eq!(PropertyBag::from("&&a=1&").len(), 1);
    }

    #[test]
    fn component_check_agrees_with_its_definition() {
        for b in 0..=255u8 {
            for allow_equals in [false, true] {
                let refused = matches!(b, 0 | b'#' | b'+' | b'&') || (!allow_equals && b == b'=');
                let want = !refused && core::str::from_utf8(&[b]).is_ok();
                assert_eq!(valid_component(&[b'a', b, b'z'], allow_equals), want, "{b}");
            }
        }
        assert!(valid_component("é".as_bytes(), false));
        assert!(!valid_component(b"\xC3", false));
    }

    #[test]
    fn get_agrees_with_the_first_match_of_iter() {
        let bags = [
            "",
            "&",
            "=",
            "a",
            "a=",
            "=a",
            "a=1&b=2",
            "&&a=1&",
            "a=1&a=2",
            "ab=1&a=2",
            "a&a=2",
            "=x&a=1",
            "k=v=w&é=ü&x",
            "$rid=1&$version=3",
            "$version=&$rid=7",
        ];
        for bag in bags {
            for key in ["", "a", "b", "ab", "k", "é", "x", "$rid", "$version", "a=1"] {
                let want = PropertyBag::from(bag)
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v);
                assert_eq!(PropertyBag::from(bag).get(key), want, "{bag} {key}");
            }
        }
    }

    #[test]
    fn bag_iteration_agrees_with_split() {
        fn reference(bag: &str) -> heapless::Vec<(&str, &str), 16> {
            bag.split('&')
                .filter(|s| !s.is_empty())
                .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
                .collect()
        }
        for bag in [
            "",
            "&",
            "a",
            "a=",
            "=a",
            "a=1&b=2",
            "&&a=1&",
            "%24.mid=7&%24.to=%2Fdevices%2Fmy-device%2Fmessages%2Fdevicebound&color=blue",
            "k=v=w&é=ü&x",
            "aaaaaaaaaaaaaaaaaaaaaaaa=bbbbbbbbbbbbbbbbbbbbbbbbbbbb&cccccccccccccccc",
            "1234567=&12345678=x&123456789=y=z&12345678&1234567812345678=q",
        ] {
            let got: heapless::Vec<(&str, &str), 16> = PropertyBag::from(bag).iter().collect();
            assert_eq!(got, reference(bag), "{bag}");
            // As bytes (what the C API reads), the same parts.
            assert!(PropertyBag::from(bag)
                .iter_bytes()
                .eq(got.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes()))));
        }
    }
}
