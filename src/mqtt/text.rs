//! [`Text`]: received text (a topic, or a part of one) kept as bytes that are known to be UTF-8.

use core::fmt;

/// Text received in a topic name, kept as the bytes it arrived in: the topic itself, a C2D
/// property bag, a method name, a request ID, a version.
///
/// Always valid UTF-8: the decoder checked the whole topic (see
/// [`decode_packet`](super::decode_packet): UTF-8 with no U+0000, `#` or `+`), and the parts of
/// it the library hands out are cut at ASCII delimiters (`/`, `?`, `&`, `=`), which leave valid
/// UTF-8 on both sides. So the bytes reach C code (or any reader of bytes) without a conversion,
/// and [`Text::as_str`] is there for Rust code that wants a `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Text<'a>(&'a [u8]);

impl<'a> Text<'a> {
    /// Text of bytes the caller has checked to be UTF-8 (or cut from such text at ASCII
    /// delimiters).
    #[inline(always)]
    pub(crate) fn checked(bytes: &'a [u8]) -> Self {
        debug_assert!(core::str::from_utf8(bytes).is_ok());
        Text(bytes)
    }

    /// The bytes.
    #[inline(always)]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The text as a `&str` (a UTF-8 check of the bytes, which always succeeds; the C API and
    /// the hot paths read [`Text::as_bytes`] instead).
    pub fn as_str(&self) -> &'a str {
        core::str::from_utf8(self.0).unwrap_or_default()
    }

    /// Its length in bytes.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// True when `bytes` are UTF-8: exactly what `core::str::from_utf8` accepts (the test
/// `is_utf8_agrees_with_core` compares them on every sequence of up to three bytes and on
/// four-byte sequences around every boundary), with about a quarter of its code and no table.
/// `core::str::from_utf8` stays for Rust callers of [`Text::as_str`].
#[inline(always)]
pub fn is_utf8(bytes: &[u8]) -> bool {
    utf8_without(bytes, 0)
}

/// The bytes a topic name never holds, NUL, `#` and `+`, as a [`utf8_without`] mask: the
/// decoder's exact topic check refuses them, and the property checks these and more. The UTF-8
/// check refuses them in its own pass, so there is no byte loop for them alone.
pub(crate) const NUL_OR_WILDCARD: u64 = 1 | (1 << b'#') | (1 << b'+');

/// True when `bytes` are UTF-8 (exactly as [`is_utf8`]) and hold none of the ASCII bytes below
/// 64 whose bit is set in `refused` (bit `b` for byte `b`; NUL, `#`, `+`, `&`, `=` are what the
/// callers refuse). The one UTF-8 check the C API (connect's strings, request IDs), the
/// decoder's exact topic check and the property checks link: the refused bytes are tested in
/// the same pass, so none of them needs a byte loop of its own. Never panics (every read is
/// `Iterator::next`; the shift is by less than 64).
#[inline(never)]
pub(crate) fn utf8_without(bytes: &[u8], refused: u64) -> bool {
    let mut it = bytes.iter();
    while let Some(&b) = it.next() {
        if b < 0x80 {
            if b < 64 && (refused >> b) & 1 != 0 {
                return false;
            }
            continue;
        }
        // How many continuation bytes follow: the lead byte's leading ones but one (0xC0 and
        // 0xC1 only start overlong forms, 0xF5 and above code points over U+10FFFF, 0x80..=0xBF
        // continue).
        if !(0xC2..=0xF4).contains(&b) {
            return false;
        }
        let more = b.leading_ones() - 1;
        // The code point: the lead byte's low 5, 4 or 3 bits, then 6 of each continuation byte.
        let mut cp = u32::from(b & (0x3F >> more));
        for _ in 0..more {
            match it.next() {
                Some(&c) if c & 0xC0 == 0x80 => cp = cp << 6 | u32::from(c & 0x3F),
                _ => return false,
            }
        }
        // Overlong forms (under 0x800 in three bytes, under 0x10000 in four; never in two, after
        // 0xC2), surrogates and code points above U+10FFFF (RFC 3629 section 4).
        if cp >> (5 * more + 1) == 0 || (0xD800..=0xDFFF).contains(&cp) || cp > 0x10_FFFF {
            return false;
        }
    }
    true
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for super::Text<'_> {}
}

/// What the topic parsers ([`crate::hub::classify`] and the parsers it calls) read: a `&str`,
/// whose parts they hand out as `&str`, or a received [`Text`], whose parts they hand out as
/// [`Text`] (no UTF-8 check: the parts are cut at ASCII delimiters).
pub trait TopicText<'a>: Copy + sealed::Sealed {
    /// The bytes.
    fn bytes(self) -> &'a [u8];
    /// The bytes `from..to`, cut at ASCII delimiters (`None` if out of range).
    fn part(self, from: usize, to: usize) -> Option<Self>;
    /// The bytes from `from` on, cut at an ASCII delimiter (`None` if out of range).
    fn tail(self, from: usize) -> Option<Self>;
    /// As [`Text`].
    fn text(self) -> Text<'a>;
}

impl<'a> TopicText<'a> for &'a str {
    #[inline(always)]
    fn bytes(self) -> &'a [u8] {
        self.as_bytes()
    }
    #[inline(always)]
    fn part(self, from: usize, to: usize) -> Option<Self> {
        self.get(from..to)
    }
    #[inline(always)]
    fn tail(self, from: usize) -> Option<Self> {
        self.get(from..)
    }
    #[inline(always)]
    fn text(self) -> Text<'a> {
        Text(self.as_bytes())
    }
}

impl<'a> TopicText<'a> for Text<'a> {
    #[inline(always)]
    fn bytes(self) -> &'a [u8] {
        self.0
    }
    #[inline(always)]
    fn part(self, from: usize, to: usize) -> Option<Self> {
        // Cut at ASCII bytes: UTF-8 on both sides.
        self.0.get(from..to).map(Text::checked)
    }
    #[inline(always)]
    fn tail(self, from: usize) -> Option<Self> {
        self.0.get(from..).map(Text::checked)
    }
    #[inline(always)]
    fn text(self) -> Text<'a> {
        self
    }
}

impl<'a> From<&'a str> for Text<'a> {
    #[inline(always)]
    fn from(s: &'a str) -> Self {
        Text(s.as_bytes())
    }
}

impl<'a> From<Text<'a>> for &'a str {
    fn from(t: Text<'a>) -> Self {
        t.as_str()
    }
}

#[cfg(feature = "std")]
impl From<Text<'_>> for std::string::String {
    fn from(t: Text<'_>) -> Self {
        t.as_str().into()
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<Text<'_>> for str {
    fn eq(&self, other: &Text<'_>) -> bool {
        self.as_bytes() == other.0
    }
}

impl PartialEq<Text<'_>> for &str {
    fn eq(&self, other: &Text<'_>) -> bool {
        self.as_bytes() == other.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_its_bytes_and_its_str() {
        let t = Text::from("a/é");
        assert_eq!(t.as_bytes(), "a/é".as_bytes());
        assert_eq!(t.as_str(), "a/é");
        assert_eq!(t.len(), 4);
        assert!(!t.is_empty() && Text::default().is_empty());
        assert_eq!(t, "a/é");
        assert_eq!("a/é", t);
        assert_ne!(t, "a/e");
        assert_eq!(std::format!("{t} {t:?}"), "a/é \"a/é\"");
        let s: &str = t.into();
        assert_eq!(s, "a/é");
    }

    /// `utf8_without` is `is_utf8` and no refused byte: for the callers' masks (and every single
    /// bit below 64), on every sequence of one and two bytes and on text around a refused byte.
    #[test]
    fn utf8_without_refuses_exactly_the_masked_bytes() {
        let masks = [
            1 | (1 << b'#') | (1 << b'+'),
            1 | (1 << b'#') | (1 << b'+') | (1 << b'&'),
            1 | (1 << b'#') | (1 << b'+') | (1 << b'&') | (1 << b'='),
        ];
        let singles = (0..64).map(|b| 1u64 << b);
        for mask in masks.into_iter().chain(singles) {
            let want = |t: &[u8]| {
                core::str::from_utf8(t).is_ok() && !t.iter().any(|&b| b < 64 && mask >> b & 1 != 0)
            };
            for a in 0..=255u8 {
                assert_eq!(utf8_without(&[a], mask), want(&[a]), "{mask:x} {a}");
                for b in 0..=255u8 {
                    let t = [b'x', 0xC3, 0xA9, a, b, 0xE2, 0x82, 0xAC];
                    assert_eq!(utf8_without(&t, mask), want(&t), "{mask:x} {a} {b}");
                }
            }
        }
    }

    fn agrees(b: &[u8]) {
        assert_eq!(is_utf8(b), core::str::from_utf8(b).is_ok(), "{b:02x?}");
    }

    /// `is_utf8` against `core::str::from_utf8` (the C API turns what it accepts into `&str`
    /// without a second check): every sequence of one, two and three bytes; every lead and
    /// second byte with the third and fourth at each boundary of the encoding; each of those
    /// after ASCII and before more text; and every code point encoded.
    #[test]
    fn is_utf8_agrees_with_core() {
        assert!(is_utf8(b""));
        for a in 0..=255u8 {
            agrees(&[a]);
            for b in 0..=255u8 {
                agrees(&[a, b]);
                if a >= 0x80 {
                    for c in 0..=255u8 {
                        agrees(&[a, b, c]);
                    }
                }
            }
        }
        let edges = [
            0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
            0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
        ];
        for a in 0xC0..=0xFFu8 {
            for b in 0..=255u8 {
                for &c in &edges {
                    for &d in &edges {
                        agrees(&[a, b, c, d]);
                        agrees(&[b'x', a, b, c, d, b'y']);
                    }
                }
            }
        }
        let mut buf = [0u8; 4];
        for cp in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let e = cp.encode_utf8(&mut buf).as_bytes();
            assert!(is_utf8(e), "{cp:?}");
            // Cut short, it is not UTF-8 (unless the cut leaves nothing).
            if e.len() > 1 {
                agrees(&e[..e.len() - 1]);
            }
        }
    }
}
