//! Stream framing over a caller-owned receive buffer.
//!
//! Bytes from the transport are appended with [`Framer::spare`] + [`Framer::commit`] (read
//! straight into the buffer) or [`Framer::push`] (copy). [`Framer::next`] yields one packet at a
//! time, borrowed from the buffer; the packet is released on the next call. A packet larger than
//! the buffer is reported once as [`Framed::Oversize`] (with whatever prefix fits, so the topic can
//! be named) and then skipped byte by byte as it arrives, so the stream stays in sync.
//!
//! [`Framer::nul_terminated`] keeps the last byte of the buffer for a terminator: every packet
//! body it yields is followed in memory by a 0 byte (the byte there, possibly the start of the
//! next packet, is saved and put back when the packet is released). A C layer can then hand the
//! payload, which is always the end of a PUBLISH body, to C code as a NUL-terminated string
//! without copying it.

/// A decoded fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type (1..=15, 0 is reserved).
    pub packet_type: u8,
    /// The low nibble of the first byte.
    pub flags: u8,
    /// The remaining length.
    pub remaining_length: usize,
    /// Bytes taken by the fixed header (2 to 5).
    pub header_length: usize,
}

impl FixedHeader {
    /// Parses a fixed header from the start of `bytes`. `Ok(None)` means more bytes are needed.
    pub fn parse(bytes: &[u8]) -> Result<Option<FixedHeader>, FrameError> {
        let Some(&first) = bytes.first() else {
            return Ok(None);
        };
        let mut len = 0usize;
        for i in 0..4 {
            let Some(&b) = bytes.get(1 + i) else {
                return Ok(None);
            };
            len |= ((b & 0x7F) as usize) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(Some(FixedHeader {
                    packet_type: first >> 4,
                    flags: first & 0x0F,
                    remaining_length: len,
                    header_length: 2 + i,
                }));
            }
        }
        Err(FrameError::InvalidRemainingLength)
    }

    /// Header plus body.
    pub fn total_length(&self) -> usize {
        self.header_length + self.remaining_length
    }
}

/// The stream cannot be framed any more; the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A remaining length with a continuation bit in its fourth byte.
    InvalidRemainingLength,
}

/// What [`Framer::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed<'a> {
    /// A complete packet: its header and exactly its remaining-length bytes.
    Packet {
        /// Fixed header.
        header: FixedHeader,
        /// The body.
        body: &'a [u8],
    },
    /// A packet larger than the buffer. It is reported once and then discarded as it arrives.
    Oversize {
        /// Fixed header.
        header: FixedHeader,
        /// The body bytes that fit in the buffer (a prefix).
        prefix: &'a [u8],
    },
}

/// `Framer::restore_at` when no terminator is to be taken back.
const NO_RESTORE: usize = usize::MAX;

/// Frames MQTT packets out of a byte stream, in a caller-owned buffer.
#[derive(Debug)]
pub struct Framer<B> {
    buf: B,
    /// Bytes in the buffer; the unframed ones always start at 0 (released bytes are moved out
    /// before the next packet is looked at).
    len: usize,
    /// Bytes to drop from the start of the stream before the next packet: the packet last
    /// yielded, or an oversize packet, which may not have arrived yet (dropped as it does).
    skip: usize,
    /// Bytes kept back at the end of the buffer (1 with a terminator, else 0).
    reserve: usize,
    /// Where the terminator of the packet last yielded was written, and the byte it replaced.
    /// ([`NO_RESTORE`] when there is none: an index `get_mut` never finds, so putting the byte
    /// back needs no separate test.)
    restore_at: usize,
    restore_byte: u8,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Framer<B> {
    /// A framer over `buf`; its whole length is the largest packet it can hold.
    pub fn new(buf: B) -> Self {
        Framer {
            buf,
            len: 0,
            skip: 0,
            reserve: 0,
            restore_at: NO_RESTORE,
            restore_byte: 0,
        }
    }

    /// A framer over `buf` that follows every packet body it yields with a 0 byte in the
    /// buffer (see the module documentation). The largest packet is one byte shorter than the
    /// buffer: give it the packet size you need plus one.
    pub fn nul_terminated(buf: B) -> Self {
        let mut f = Framer::new(buf);
        f.reserve = usize::from(!f.buf.as_ref().is_empty());
        f
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.as_ref().len()
    }

    /// The largest packet [`Framer::next`] yields whole.
    pub fn max_packet(&self) -> usize {
        self.capacity() - self.reserve
    }

    /// Bytes buffered and not yet framed (neither the packet last yielded nor the bytes of an
    /// oversize packet still to be skipped).
    pub fn buffered(&self) -> usize {
        self.len - self.skip.min(self.len)
    }

    /// Forgets everything (a new connection).
    pub fn reset(&mut self) {
        self.restore_at = NO_RESTORE;
        self.len = 0;
        self.skip = 0;
    }

    #[inline]
    fn release_and_compact(&mut self) {
        if let Some(b) = self.buf.as_mut().get_mut(self.restore_at) {
            *b = self.restore_byte;
        }
        self.restore_at = NO_RESTORE;
        // Nothing released, nothing to skip: nothing to do.
        if self.skip == 0 {
            return;
        }
        let len = self.len;
        // The released packet, or as much of an oversize one as has arrived (the rest is
        // dropped as it arrives).
        let start = self.skip.min(len);
        self.skip -= start;
        // What is left moves to the start (`start` is not 0 here unless the buffer is empty:
        // something was released or skipped). `get_mut` and `start < len`: no panic path.
        if start < len {
            if let Some(b) = self.buf.as_mut().get_mut(..len) {
                b.copy_within(start.., 0);
            }
            self.len = len - start;
        } else {
            self.len = 0;
        }
    }

    /// Free space to read into; call [`Framer::commit`] with the number of bytes read.
    /// Releases the previous packet first.
    pub fn spare(&mut self) -> &mut [u8] {
        self.release_and_compact();
        let len = self.len;
        self.buf.as_mut().get_mut(len..).unwrap_or_default()
    }

    /// Marks `n` bytes of [`Framer::spare`] as filled (clamped to the space there is).
    pub fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(self.capacity());
    }

    /// Copies as much of `data` as fits; returns the number of bytes taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let mut taken = 0;
        while taken < data.len() {
            let spare = self.spare();
            if spare.is_empty() {
                break;
            }
            let n = spare.len().min(data.len() - taken);
            spare[..n].copy_from_slice(&data[taken..taken + n]);
            self.commit(n);
            taken += n;
        }
        taken
    }

    /// The next packet, if a whole one (or an oversize one's prefix) is buffered.
    // Not an `Iterator`: each packet borrows the buffer until the next call (a lending iterator).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Framed<'_>>, FrameError> {
        self.release_and_compact();
        if self.skip > 0 {
            return Ok(None);
        }
        let len = self.len;
        // (`len` never exceeds the buffer: `commit` clamps it.)
        let Some(header) = self
            .buf
            .as_ref()
            .get(..len)
            .map_or(Ok(None), FixedHeader::parse)?
        else {
            return Ok(None);
        };
        let total = header.total_length();
        // Where the body (or an oversize packet's prefix) ends: both cut from the buffer by one
        // `get` below, not one each.
        let oversize = total > self.max_packet();
        let end = if oversize {
            // Wait until the buffer is full so the prefix holds as much as possible.
            if len < self.capacity() {
                return Ok(None);
            }
            len
        } else {
            if len < total {
                return Ok(None);
            }
            // The packet starts at 0; with a terminator kept back, `total <= capacity - 1`, so
            // the byte after the packet is in the buffer. Without one it is written too when
            // there is room (not tested for: nobody sees it, as it is put back before the
            // buffer is looked at again).
            if let Some(b) = self.buf.as_mut().get_mut(total) {
                (self.restore_at, self.restore_byte) = (total, *b);
                *b = 0;
            }
            total
        };
        // The packet (whole or not) is dropped when the next is looked at.
        self.skip = total;
        let body = self
            .buf
            .as_ref()
            .get(header.header_length..end)
            .unwrap_or(&[]);
        Ok(Some(if oversize {
            Framed::Oversize {
                header,
                prefix: body,
            }
        } else {
            Framed::Packet { header, body }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_vectors() {
        assert_eq!(FixedHeader::parse(&[]), Ok(None));
        assert_eq!(FixedHeader::parse(&[0x30]), Ok(None));
        assert_eq!(FixedHeader::parse(&[0x30, 0x80]), Ok(None));
        let h = FixedHeader::parse(&[0x32, 0x80, 0x01]).unwrap().unwrap();
        assert_eq!(
            (h.packet_type, h.flags, h.remaining_length, h.header_length),
            (3, 2, 128, 3)
        );
        assert_eq!(
            FixedHeader::parse(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F])
                .unwrap()
                .unwrap()
                .remaining_length,
            268_435_455
        );
        assert_eq!(
            FixedHeader::parse(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(FrameError::InvalidRemainingLength)
        );
    }

    #[test]
    fn a_plain_framer_puts_back_the_byte_after_a_packet() {
        // Three packets back to back in one read, the last one filling the buffer: the byte
        // after each (written over while it is yielded) is the next packet's first again.
        let stream = [
            0x40, 0x02, 0x00, 0x07, 0xD0, 0x00, 0x30, 0x03, 0x00, 0x01, b'a',
        ];
        let mut f = Framer::new([0u8; 11]);
        assert_eq!(f.push(&stream), 11);
        let mut got = heapless::Vec::<(u8, heapless::Vec<u8, 8>), 4>::new();
        while let Some(Framed::Packet { header, body }) = f.next().unwrap() {
            got.push((header.packet_type, heapless::Vec::from_slice(body).unwrap()))
                .unwrap();
        }
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].0, &got[0].1[..]), (4, &[0x00, 0x07][..]));
        assert_eq!((got[1].0, &got[1].1[..]), (13, &[][..]));
        assert_eq!((got[2].0, &got[2].1[..]), (3, &[0x00, 0x01, b'a'][..]));
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn frames_packets_split_across_reads() {
        let stream = [0xD0, 0x00, 0x40, 0x02, 0x00, 0x07, 0x20, 0x02, 0x00, 0x00];
        let mut f = Framer::new([0u8; 16]);
        let mut got = heapless::Vec::<(u8, usize), 8>::new();
        for b in stream {
            f.push(&[b]);
            while let Some(Framed::Packet { header, body }) = f.next().unwrap() {
                got.push((header.packet_type, body.len())).unwrap();
            }
        }
        assert_eq!(&got[..], &[(13, 0), (4, 2), (2, 2)]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn oversize_packet_is_reported_once_then_skipped_in_sync() {
        let mut f = Framer::new([0u8; 8]);
        // PUBLISH, remaining length 20: topic "a/b", then 15 payload bytes. Then a PINGRESP.
        let mut stream: heapless::Vec<u8, 64> = heapless::Vec::new();
        stream
            .extend_from_slice(&[0x30, 20, 0, 3, b'a', b'/', b'b'])
            .unwrap();
        stream.extend_from_slice(&[7u8; 15]).unwrap();
        stream.extend_from_slice(&[0xD0, 0x00]).unwrap();
        let mut events = heapless::Vec::<&'static str, 8>::new();
        let mut fed = 0;
        while fed < stream.len() {
            fed += f.push(&stream[fed..(fed + 3).min(stream.len())]);
            loop {
                match f.next().unwrap() {
                    Some(Framed::Oversize { header, prefix }) => {
                        assert_eq!(header.remaining_length, 20);
                        assert_eq!(&prefix[..5], &[0, 3, b'a', b'/', b'b']);
                        events.push("oversize").unwrap();
                    }
                    Some(Framed::Packet { header, .. }) => {
                        assert_eq!(header.packet_type, 13);
                        events.push("pingresp").unwrap();
                    }
                    None => break,
                }
            }
        }
        assert_eq!(&events[..], &["oversize", "pingresp"]);
    }

    #[test]
    fn bytes_of_an_oversize_packet_being_skipped_are_not_buffered() {
        let mut f = Framer::new([0u8; 4]);
        // PUBLISH, remaining length 6 (8 bytes in all), then a PINGRESP.
        assert_eq!(f.push(&[0x30, 6, 0, 1]), 4);
        assert!(matches!(f.next(), Ok(Some(Framed::Oversize { .. }))));
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.push(&[b'a', 1, 2]), 3);
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.push(&[3, 0xD0]), 2);
        assert_eq!(f.buffered(), 1);
        assert_eq!(f.push(&[0x00]), 1);
        assert!(matches!(
            f.next(),
            Ok(Some(Framed::Packet { header, body: [] })) if header.packet_type == 13
        ));
        assert_eq!(f.buffered(), 0);
        assert_eq!(f.next(), Ok(None));
    }

    #[test]
    fn broken_length_is_fatal() {
        let mut f = Framer::new([0u8; 8]);
        f.push(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(f.next(), Err(FrameError::InvalidRemainingLength));
    }

    #[test]
    fn packet_exactly_buffer_sized() {
        let mut f = Framer::new([0u8; 4]);
        assert_eq!(f.push(&[0x40, 0x02, 0x00, 0x01, 0xD0]), 4);
        assert!(matches!(f.next().unwrap(), Some(Framed::Packet { .. })));
        assert_eq!(f.push(&[0xD0, 0x00]), 2);
        assert!(matches!(
            f.next().unwrap(),
            Some(Framed::Packet {
                header: FixedHeader {
                    packet_type: 13,
                    ..
                },
                ..
            })
        ));
    }

    #[test]
    fn nul_terminated_bodies_keep_the_next_packet_intact() {
        // PUBLISH "t" + "ab", immediately followed by a PUBACK for packet 7, in one read.
        let stream = [
            0x30, 0x05, 0x00, 0x01, b't', b'a', b'b', 0x40, 0x02, 0x00, 0x07,
        ];
        let mut f = Framer::nul_terminated([0xEEu8; 16]);
        assert_eq!(f.max_packet(), 15);
        assert_eq!(f.push(&stream), stream.len());
        let Some(Framed::Packet { body, .. }) = f.next().unwrap() else {
            panic!("no packet")
        };
        assert_eq!(body, &[0x00, 0x01, b't', b'a', b'b']);
        // The byte after the body is the terminator (the PUBACK's first byte, saved).
        assert_eq!(f.buf[7], 0);
        match f.next().unwrap() {
            Some(Framed::Packet { header, body }) => {
                assert_eq!((header.packet_type, body), (4, &[0x00, 0x07][..]));
            }
            other => panic!("{other:?}"),
        }
        // Terminated in free space too.
        assert_eq!(f.buf[4], 0);
        assert_eq!(f.next().unwrap(), None);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn nul_terminated_keeps_one_byte_back() {
        // A 4-byte packet in a 5-byte buffer: whole, and terminated in the last byte.
        let mut f = Framer::nul_terminated([0xEEu8; 5]);
        assert_eq!(f.push(&[0x40, 0x02, 0x00, 0x01]), 4);
        assert!(matches!(f.next().unwrap(), Some(Framed::Packet { .. })));
        assert_eq!(f.buf[4], 0);
        // A 5-byte packet no longer fits whole: reported once as oversize, then skipped.
        assert_eq!(f.push(&[0x30, 0x03, 0x00, 0x01, b't']), 5);
        assert!(matches!(f.next().unwrap(), Some(Framed::Oversize { .. })));
        assert_eq!(f.push(&[0xD0, 0x00]), 2);
        assert!(matches!(
            f.next().unwrap(),
            Some(Framed::Packet {
                header: FixedHeader {
                    packet_type: 13,
                    ..
                },
                ..
            })
        ));
        // Reset forgets the saved byte instead of writing it into the next connection's data.
        let mut f = Framer::nul_terminated([0u8; 8]);
        f.push(&[0xD0, 0x00, 0xD0]);
        assert!(f.next().unwrap().is_some());
        f.reset();
        f.push(&[0x20, 0x02, 0x00, 0x00]);
        assert!(matches!(
            f.next().unwrap(),
            Some(Framed::Packet { body: &[0, 0], .. })
        ));
        assert_eq!(f.buf[4], 0);
    }
}
