//! Byte sinks: the one place where the core writes bytes.
//!
//! Every encoder in the core writes through [`Sink`], so each one can be run twice: once into a
//! [`Counter`] to learn the exact size (the Azure SDK for Embedded C "compute the size first"
//! style), then into a [`Cursor`] over a caller-owned buffer. A write that does not fit fails with
//! [`Overflow`] and leaves the cursor where it was before that write.

/// The destination is full: the write did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// Something bytes can be written to.
pub trait Sink {
    /// Appends `bytes`, all or nothing.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow>;

    /// How many more bytes fit: an encoder that checked its whole length against it may then
    /// ignore each piece's result. A sink with no limit of its own (a [`Counter`]) has no limit.
    fn room(&self) -> usize {
        usize::MAX
    }

    /// Appends one byte.
    fn put_u8(&mut self, byte: u8) -> Result<(), Overflow> {
        self.put(&[byte])
    }

    /// Appends a big-endian `u16` (MQTT's two-byte integer).
    fn put_u16(&mut self, value: u16) -> Result<(), Overflow> {
        self.put(&value.to_be_bytes())
    }

    /// Appends an unsigned integer in decimal, without allocation.
    fn put_decimal(&mut self, value: u32) -> Result<(), Overflow> {
        self.put_decimal_u64(u64::from(value))
    }

    /// Appends an unsigned 64-bit integer in decimal, without allocation.
    fn put_decimal_u64(&mut self, value: u64) -> Result<(), Overflow> {
        // u64::MAX has 20 digits. No indexing: no panic path (and no formatting code) linked.
        let mut digits = [0u8; 20];
        let mut n = value;
        let mut at = digits.len();
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
            at -= 1;
            if n == 0 {
                break;
            }
        }
        self.put(digits.get(at..).unwrap_or_default())
    }
}

/// Counts bytes instead of storing them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        self.0 = self.0.checked_add(bytes.len()).ok_or(Overflow)?;
        Ok(())
    }
    fn put_u8(&mut self, _byte: u8) -> Result<(), Overflow> {
        self.0 = self.0.checked_add(1).ok_or(Overflow)?;
        Ok(())
    }
}

/// Writes into a caller-owned slice.
#[derive(Debug)]
pub struct Cursor<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) len: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Cursor { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl Sink for Cursor<'_> {
    fn room(&self) -> usize {
        self.buf.len().wrapping_sub(self.len)
    }
    fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let end = self.len.checked_add(bytes.len()).ok_or(Overflow)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Overflow)?;
        copy(dst, bytes);
        self.len = end;
        Ok(())
    }
    // Single bytes are stored directly rather than through a `memcpy` call. (A `u16` goes
    // through `put`: no hot path writes one through a cursor, and the call is smaller.)
    fn put_u8(&mut self, byte: u8) -> Result<(), Overflow> {
        let slot = self.buf.get_mut(self.len).ok_or(Overflow)?;
        *slot = byte;
        self.len += 1;
        Ok(())
    }
}

/// Copies `src` into `dst`, which is as long (what every caller checked): a zip (a byte loop or
/// a `memcpy` call, as the compiler sees fit), not `copy_from_slice`, whose called helper
/// checks the lengths again and links a panic path.
#[inline(always)]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// The number of bytes `write` produces.
pub fn measure(
    write: impl FnOnce(&mut Counter) -> Result<(), Overflow>,
) -> Result<usize, Overflow> {
    let mut c = Counter::default();
    write(&mut c)?;
    Ok(c.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_formats_full_width() {
        let mut buf = [0u8; 16];
        for (n, s) in [
            (0u32, "0"),
            (7, "7"),
            (1234, "1234"),
            (u32::MAX, "4294967295"),
        ] {
            let mut c = Cursor::new(&mut buf);
            c.put_decimal(n).unwrap();
            assert_eq!(c.written(), s.as_bytes());
            assert_eq!(measure(|m| m.put_decimal(n)).unwrap(), s.len());
        }
    }

    #[test]
    fn cursor_overflow_is_all_or_nothing() {
        let mut buf = [0u8; 4];
        let mut c = Cursor::new(&mut buf);
        c.put(b"abc").unwrap();
        assert_eq!(c.put(b"de"), Err(Overflow));
        assert_eq!(c.written(), b"abc");
        c.put(b"d").unwrap();
        assert_eq!(c.written(), b"abcd");
    }
}
