//! Byte scanning for topic parsing, cheaper than `str::find` with a string pattern (whose
//! searcher set-up costs more than the short topics it searches), and [`Out`], the writer of
//! the hot publish paths (telemetry, method responses).

#[cfg(test)]
use crate::sink::Sink;
use crate::sink::{copy, Overflow};

/// The writer of the hot publish paths: a [`Cursor`] (the encoders' writer, so both share its
/// one called `Sink::put` for pieces of any length) with more ways to write: the topic pieces
/// of a publish header (no dynamic call per piece as through [`crate::sink::Sink`]; the
/// compiler inlines what pays at the build's opt-level), short pieces without a `memcpy` call.
/// Every write is bounds-checked; nothing panics.
pub(crate) use crate::sink::Cursor as Out;

impl Out<'_> {
    /// One byte.
    #[inline]
    pub(crate) fn u8(&mut self, b: u8) -> Result<(), Overflow> {
        *self.buf.get_mut(self.len).ok_or(Overflow)? = b;
        self.len += 1;
        Ok(())
    }

    /// A big-endian `u16`.
    #[inline]
    pub(crate) fn u16(&mut self, v: u16) -> Result<(), Overflow> {
        self.bytes_fixed(&v.to_be_bytes())
    }

    /// Bytes of a length known at compile time (the copy becomes plain moves).
    #[inline]
    pub(crate) fn bytes_fixed<const N: usize>(&mut self, b: &[u8; N]) -> Result<(), Overflow> {
        let dst: &mut [u8; N] = self
            .buf
            .get_mut(self.len..)
            .and_then(|free| free.first_chunk_mut::<N>())
            .ok_or(Overflow)?;
        *dst = *b;
        self.len += N;
        Ok(())
    }

    /// `prefix`, `mid` and `suffix` with one bounds check: the head of the telemetry topic, with
    /// `mid` the device ID (at most 128 bytes), usually 8 to 16 bytes long: then two
    /// overlapping 8-byte moves in place, any other length one copy. (`last_chunk` would leave
    /// a check of its pointer behind, and is not inlined at `opt-level = "z"`.)
    #[inline]
    pub(crate) fn bytes_around<const P: usize, const S: usize>(
        &mut self,
        prefix: &[u8; P],
        mid: &[u8],
        suffix: &[u8; S],
    ) -> Result<(), Overflow> {
        let n = mid.len();
        // (A slice is at most `isize::MAX` bytes long: the sum does not overflow.)
        let dst = self.take(P + n + S)?;
        // The fixed pieces as array moves (also where `copy_from_slice` is not inlined); `m`
        // is `n` bytes long, as `mid` (the ranges below are in bounds).
        if let Some((p, rest)) = dst.split_first_chunk_mut::<P>() {
            *p = *prefix;
            if let Some((m, s)) = rest.split_last_chunk_mut::<S>() {
                *s = *suffix;
                if (8..=16).contains(&n) {
                    if let (Some(d), Some(s)) = (m.first_chunk_mut::<8>(), mid.first_chunk::<8>()) {
                        *d = *s;
                    }
                    // The last 8 bytes: `get` and 8-byte chunks rather than indexing, which
                    // left a dead bounds-check panic behind.
                    let last = m.get_mut(n - 8..).and_then(|t| t.first_chunk_mut::<8>());
                    if let (Some(d), Some(s)) =
                        (last, mid.get(n - 8..).and_then(|t| t.first_chunk::<8>()))
                    {
                        *d = *s;
                    }
                } else {
                    copy(m, mid);
                }
            }
        }
        Ok(())
    }

    /// `v` in decimal, whose length (`decimal_len(v)`) the caller knows, then `suffix`, with
    /// one bounds check: the digits are written in place from the last (no measuring pass, no
    /// copy), the suffix as plain moves (a method response's status and `/?$rid=`).
    #[inline]
    pub(crate) fn decimal_then<const N: usize>(
        &mut self,
        mut v: u32,
        len: usize,
        suffix: &[u8; N],
    ) -> Result<(), Overflow> {
        // (`len` is at most 10: the sum does not overflow.)
        if let Some((digits, s)) = self.take(len + N)?.split_last_chunk_mut::<N>() {
            *s = *suffix;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
        Ok(())
    }

    /// The next `n` bytes, to be filled by the caller (counted as written).
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&mut [u8], Overflow> {
        let dst = self
            .buf
            .get_mut(self.len..)
            .and_then(|free| free.get_mut(..n))
            .ok_or(Overflow)?;
        self.len += n;
        Ok(dst)
    }

    /// The free space after what was written (to be filled by the caller, then [`Out::skip`]).
    #[inline]
    pub(crate) fn free(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or_default()
    }

    /// Counts `n` more bytes as written (filled through [`Out::free`]).
    #[inline]
    pub(crate) fn skip(&mut self, n: usize) {
        self.len += n;
    }

    /// Moves the write position to `at` (to write a header before what was written).
    #[inline]
    pub(crate) fn seek(&mut self, at: usize) {
        self.len = at;
    }

    /// Moves the bytes from `from` to the write position `by` bytes up (the gap left is
    /// filled later), and the position with them. For the rare publish whose header turns out
    /// longer than the one its topic was written after.
    #[inline]
    pub(crate) fn shift_up(&mut self, from: usize, by: usize) -> Result<(), Overflow> {
        let mut i = self.len;
        while i > from {
            i -= 1;
            let b = *self.buf.get(i).ok_or(Overflow)?;
            *self.buf.get_mut(i + by).ok_or(Overflow)? = b;
        }
        self.len += by;
        Ok(())
    }

    /// An MQTT remaining length (1 to 4 bytes).
    #[inline]
    pub(crate) fn remaining_length(&mut self, mut n: usize) -> Result<(), Overflow> {
        loop {
            let b = (n % 128) as u8;
            n /= 128;
            if n == 0 {
                return self.u8(b);
            }
            self.u8(b | 0x80)?;
        }
    }
}

/// Number of decimal digits of `v` (a loop: a few instructions more than a table of limits
/// for a status of 3 digits, and a tenth of its code).
#[inline]
pub(crate) fn decimal_len(mut v: u32) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// Index of the first occurrence of `needle` in `hay`. Candidates are the places of
/// `needle[anchor]` (a byte chosen to be rare in topics, like the `b` of `devicebound`), found
/// eight bytes at a time.
#[inline]
pub(crate) fn find_anchored(hay: &[u8], needle: &[u8], anchor: usize) -> Option<usize> {
    let &a = needle.get(anchor)?;
    let mut from = anchor;
    loop {
        let p = from + find_byte(hay.get(from..)?, a)?;
        let at = p - anchor;
        if hay.get(at..).is_some_and(|h| h.starts_with(needle)) {
            return Some(at);
        }
        from = p + 1;
    }
}

/// Index of the first `byte` in `hay`, eight bytes at a time. Called, not inlined: flash is the
/// scarcer budget (docs/performance.md, sixth round).
#[inline(never)]
pub(crate) fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(byte);
    let mut words = hay.chunks_exact(8);
    let mut at = 0;
    // One `Some` for both loops (one return path).
    let found = 'found: {
        for word in &mut words {
            let Some(word) = word.first_chunk::<8>() else {
                break;
            };
            let x = u64::from_le_bytes(*word) ^ pattern;
            // High bit set in the bytes of `x` that are zero; the lowest one is exact.
            let zero = x.wrapping_sub(ONES) & !x & HIGH;
            if zero != 0 {
                break 'found at + (zero.trailing_zeros() / 8) as usize;
            }
            at += 8;
        }
        for &b in words.remainder() {
            if b == byte {
                break 'found at;
            }
            at += 1;
        }
        return None;
    };
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_agrees_with_position() {
        let hay = b"%24.mid=7&%24.to=%2Fdevices%2Fd%2Fmessages&color=blue&x";
        for len in 0..=hay.len() {
            for from in 0..len {
                let h = &hay[from..len];
                for b in [b'&', b'=', b'x', b'%', b'#'] {
                    assert_eq!(
                        find_byte(h, b),
                        h.iter().position(|&c| c == b),
                        "{from}..{len} {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn find_anchored_agrees_with_str_find() {
        let m = "/messages/devicebound/";
        for h in [
            "devices/d/messages/devicebound/a",
            "/messages/devicebound/",
            "/messages/devicebound",
            "x/messages/deviceboun/messages/devicebound/",
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/messages/devicebound/b",
            "$iothub/methods/POST/led/?$rid=1",
            "",
        ] {
            for anchor in [0, 16, 21] {
                assert_eq!(
                    find_anchored(h.as_bytes(), m.as_bytes(), anchor),
                    h.find(m),
                    "{h}"
                );
            }
        }
        assert_eq!(find_anchored(b"abc", b"bc", 5), None);
    }

    #[test]
    fn out_bytes_around_every_length_exactly() {
        // Every length of the middle piece through the 8-byte moves and the copy, at an odd
        // offset, with the bytes around untouched; one byte too many is refused unwritten.
        let src: [u8; 40] = core::array::from_fn(|i| b'A' + i as u8);
        for n in 0..=40 {
            let mut buf = [0xEEu8; 48];
            let mut o = Out::new(&mut buf[..n + 5]);
            o.u8(b'<').unwrap();
            o.bytes_around(b"[", &src[..n], b"]").unwrap();
            o.u8(b'>').unwrap();
            assert_eq!(o.len(), n + 4);
            assert_eq!(o.bytes_around(b"[", &src[..0], b"]"), Err(Overflow));
            assert_eq!(o.len(), n + 4);
            assert_eq!(&buf[..2], b"<[");
            assert_eq!(&buf[2..n + 2], &src[..n], "{n}");
            assert_eq!(&buf[n + 2..n + 4], b"]>");
            assert!(buf[n + 4..].iter().all(|&b| b == 0xEE), "{n}");
        }
    }

    #[test]
    fn out_writes_and_refuses_overflow() {
        let mut buf = [0u8; 12];
        let mut o = Out::new(&mut buf);
        o.u8(1).unwrap();
        o.u16(0x0203).unwrap();
        o.bytes_fixed(b"ab").unwrap();
        o.put(b"cdefghi").unwrap();
        assert_eq!(o.len(), 12);
        assert_eq!(o.u8(0), Err(Overflow));
        assert_eq!(o.put(b"x"), Err(Overflow));
        assert_eq!(o.bytes_fixed(b"x"), Err(Overflow));
        assert_eq!(o.len(), 12);
        assert_eq!(&buf, b"\x01\x02\x03abcdefghi");
        for n in [0u32, 7, 10, 99, 100, 65_535, 1_000_000_000, u32::MAX] {
            let want = std::format!("{n}");
            assert_eq!(decimal_len(n), want.len());
        }
        let mut buf = [0u8; 5];
        let mut o = Out::new(&mut buf);
        o.put(b"abc").unwrap();
        assert_eq!(o.put(b"def"), Err(Overflow));
        o.put(b"de").unwrap();
        assert_eq!(o.len(), 5);
        assert_eq!(&buf, b"abcde");
        for (n, want) in [
            (0usize, &[0u8][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut buf = [0u8; 4];
            let mut o = Out::new(&mut buf);
            o.remaining_length(n).unwrap();
            let len = o.len();
            assert_eq!(&buf[..len], want, "{n}");
        }
    }
}
