//! Where a downloaded image goes: the one interface between the FOTA download and the storage
//! of a platform (a file on Linux; DFU target / `flash_img` on Zephyr).

/// Storage for a firmware image, written in order from offset 0 (after a resumed download the
/// next write continues exactly where the last one ended).
///
/// The port calls [`FirmwareSink::prepare`] once, before the first byte, when the image size is
/// known; then [`FirmwareSink::write`] for every piece of the image; then
/// [`FirmwareSink::finish`] once the last byte is written. [`FirmwareSink::abort`] discards a
/// partial image when the download fails.
pub trait FirmwareSink {
    /// Why the storage failed.
    type Error: core::fmt::Debug;

    /// True when [`FirmwareSink::prepare`] erases storage, which can take seconds on flash: the
    /// port then raises `ERASE_PENDING` before it and `ERASE_DONE` after it.
    fn erases(&self) -> bool {
        false
    }

    /// Gets ready for an image of `size` bytes (erasing what must be erased).
    fn prepare(&mut self, size: u64) -> Result<(), Self::Error>;

    /// Stores `bytes` at `offset` in the image.
    fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), Self::Error>;

    /// The image is complete: make it the one to boot (or install) next.
    fn finish(&mut self) -> Result<(), Self::Error>;

    /// The download failed: discard what was written. Never fails.
    fn abort(&mut self) {}
}

/// A sink over a caller-owned buffer (tests, small images, RAM staging).
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    len: usize,
    finished: bool,
}

/// The image does not fit, or was written out of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceSinkError {
    /// The image is larger than the buffer.
    TooLarge,
    /// A write did not continue where the previous one ended.
    OutOfOrder,
}

impl<'a> SliceSink<'a> {
    /// A sink that stores the image at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceSink {
            buf,
            len: 0,
            finished: false,
        }
    }

    /// The image bytes written so far.
    pub fn image(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// True once [`FirmwareSink::finish`] was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

impl FirmwareSink for SliceSink<'_> {
    type Error = SliceSinkError;

    fn prepare(&mut self, size: u64) -> Result<(), Self::Error> {
        if size > self.buf.len() as u64 {
            return Err(SliceSinkError::TooLarge);
        }
        self.len = 0;
        self.finished = false;
        Ok(())
    }

    fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), Self::Error> {
        if offset != self.len as u64 {
            return Err(SliceSinkError::OutOfOrder);
        }
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(SliceSinkError::TooLarge)?;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(SliceSinkError::TooLarge)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Self::Error> {
        self.finished = true;
        Ok(())
    }

    fn abort(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_sink_in_order_only() {
        let mut buf = [0u8; 8];
        let mut s = SliceSink::new(&mut buf);
        assert!(!s.erases());
        assert_eq!(s.prepare(9), Err(SliceSinkError::TooLarge));
        s.prepare(8).unwrap();
        s.write(0, b"abc").unwrap();
        assert_eq!(s.write(4, b"x"), Err(SliceSinkError::OutOfOrder));
        s.write(3, b"defgh").unwrap();
        assert_eq!(s.write(8, b"i"), Err(SliceSinkError::TooLarge));
        s.finish().unwrap();
        assert!(s.is_finished());
        assert_eq!(s.image(), b"abcdefgh");
        s.abort();
        assert_eq!(s.image(), b"");
    }
}
