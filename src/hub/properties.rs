//! Property bags: `key=value&key2=value2`, as IoT Hub carries them in topic names.
//!
//! Outgoing bags are written verbatim (keys and values are not URL-encoded, as in the original
//! library and the Azure SDK for Embedded C: the caller encodes, for example `%24.ct`). Incoming
//! bags are handed over as received (still encoded).

use super::scan::find_byte;
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
/// and `&` (every refused byte is below 64: one shift and test of a mask per byte).
const REFUSED: u64 = (1 << 0) | (1 << b'#') | (1 << b'+') | (1 << b'&');
/// [`REFUSED`] and `=` (property keys, twin request IDs).
const REFUSED_KEY: u64 = REFUSED | (1 << b'=');

/// Checks a value that goes into a topic verbatim (request IDs, property keys and values): it
/// must be UTF-8 without NUL, `#`, `+` (they would change the topic's meaning) and `&` (and `=`
/// unless `allow_equals`). One called copy (connect, request IDs, the refusal path of publish).
#[inline(never)]
pub(crate) fn valid_component(bytes: &[u8], allow_equals: bool) -> bool {
    let refused = if allow_equals { REFUSED } else { REFUSED_KEY };
    // One pass; the UTF-8 check only when a non-ASCII byte was seen.
    let mut high = 0u8;
    for &b in bytes {
        if b < 64 && (refused >> b) & 1 != 0 {
            return false;
        }
        high |= b;
    }
    high < 0x80 || core::str::from_utf8(bytes).is_ok()
}

/// Copies `src` to `dst` (as long) and checks it as [`valid_component`] does (with
/// `refused`) in the same pass; false when it is refused.
#[inline(always)]
fn copy_checked(dst: &mut [u8], src: &[u8], refused: u64) -> bool {
    let mut high = 0u8;
    for (d, &b) in dst.iter_mut().zip(src) {
        *d = b;
        if b < 64 && (refused >> b) & 1 != 0 {
            return false;
        }
        high |= b;
    }
    high < 0x80 || core::str::from_utf8(src).is_ok()
}

/// The list as a slice of [`Property`] for the publish path, when it is one. Not on Zephyr,
/// where the only list is the C API's array (`as_slice` is `None` for it): the code for slices
/// would be dead there.
#[inline(always)]
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
#[inline(always)]
pub(crate) fn put_bag(dst: &mut [u8], list: &dyn PropertyList) -> Option<usize> {
    match slice_of(list) {
        Some(props) => put_pairs(dst, props.iter().map(|p| Some((p.key, p.value)))),
        None => put_pairs(dst, (0..list.count()).map(|i| list.get(i))),
    }
}

/// [`put_bag`] for the properties `pairs` yields (`None`: one cannot be read).
#[inline(always)]
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
    let mut len = 0usize;
    for i in 0..list.count() {
        let (k, v) = list.get(i).ok_or(PropertyError::Invalid)?;
        if k.is_empty() || !valid_component(k, false) || !valid_component(v, true) {
            return Err(PropertyError::Invalid);
        }
        len += k.len() + 1 + v.len() + 1;
    }
    Ok(len.saturating_sub(1))
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

/// The properties of a [`PropertyBag`]: `&` and `=` found eight bytes at a time (the bag of a
/// C2D message is most of its topic).
struct BagIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for BagIter<'a> {
    type Item = (&'a str, &'a str);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            // `&` and `=` are ASCII, so the splits below are at char boundaries (`get` checks).
            let (kv, rest) = match find_byte(self.rest.as_bytes(), b'&') {
                Some(at) => (self.rest.get(..at)?, self.rest.get(at + 1..)?),
                None => (self.rest, ""),
            };
            self.rest = rest;
            if kv.is_empty() {
                continue;
            }
            return Some(match find_byte(kv.as_bytes(), b'=') {
                Some(at) => (kv.get(..at)?, kv.get(at + 1..)?),
                None => (kv, ""),
            });
        }
    }
}

/// An incoming property bag, parsed lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyBag<'a>(pub &'a str);

impl<'a> PropertyBag<'a> {
    /// The raw bag as received.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Iterates over `(key, value)`; a property without `=` has an empty value. Empty segments
    /// (`a=1&&b=2`) are skipped.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        BagIter { rest: self.0 }
    }

    /// The value of the first property named `key`. Off the hot paths (twin and DPS topics): a
    /// plain byte loop, one small copy, not the inlined eight-bytes-at-a-time iterator.
    #[inline(never)]
    pub fn get(&self, key: &str) -> Option<&'a str> {
        // A key never holds `=` (the first one ends it).
        if key.as_bytes().contains(&b'=') {
            return None;
        }
        let mut rest = self.0;
        while !rest.is_empty() {
            let b = rest.as_bytes();
            let end = b.iter().position(|&c| c == b'&').unwrap_or(b.len());
            // `&` is ASCII: a char boundary (`split_at_checked` checks anyway).
            let (seg, tail) = rest.split_at_checked(end)?;
            // Empty segments are skipped (as by `iter`); `key=value` or `key` alone.
            if let Some(v) = seg.strip_prefix(key).filter(|_| !seg.is_empty()) {
                match v.as_bytes().first() {
                    None => return Some(v),
                    Some(b'=') => return v.get(1..),
                    Some(_) => {}
                }
            }
            rest = tail.get(1..).unwrap_or_default();
        }
        None
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
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
        let bag = PropertyBag(
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
        assert_eq!(PropertyBag("").len(), 0);
        assert_eq!(PropertyBag("&&a=1&").len(), 1);
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
                let want = PropertyBag(bag)
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v);
                assert_eq!(PropertyBag(bag).get(key), want, "{bag} {key}");
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
        ] {
            let got: heapless::Vec<(&str, &str), 16> = PropertyBag(bag).iter().collect();
            assert_eq!(got, reference(bag), "{bag}");
        }
    }
}
