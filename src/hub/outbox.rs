//! QoS 1 messages kept until PUBACK, in a bounded caller-owned buffer, for persistent sessions.
//!
//! After [`super::Client::publish`] of a QoS 1 message, store its packet (header + payload)
//! here; remove it on PUBACK ([`Outbox::ack`]); after a reconnect, send every stored packet again
//! with the DUP flag ([`Outbox::mark_duplicates`], [`Outbox::packets`]). When the buffer is full,
//! [`Outbox::store`] refuses, so the caller can tell the application instead of dropping data.

/// The outbox has no room for this packet now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxFull;

const RECORD_HEADER: usize = 6; // packet id (2) + length (4)

/// Stored packets, oldest first.
#[derive(Debug)]
pub struct Outbox<B> {
    buf: B,
    len: usize,
    count: usize,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Outbox<B> {
    /// An empty outbox over `buf`.
    pub fn new(buf: B) -> Self {
        Outbox {
            buf,
            len: 0,
            count: 0,
        }
    }

    /// Messages stored.
    pub fn count(&self) -> usize {
        self.count
    }

    /// True when nothing waits for a PUBACK.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The buffer's size in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.as_ref().len()
    }

    /// Bytes free.
    pub fn free(&self) -> usize {
        self.buf.as_ref().len() - self.len
    }

    /// True if a packet of `len` bytes would fit now.
    pub fn fits(&self, len: usize) -> bool {
        len.checked_add(RECORD_HEADER)
            .is_some_and(|n| n <= self.free())
    }

    /// Stores the packet made of `parts` (its header, then its payload) under `packet_id`.
    pub fn store(&mut self, packet_id: u16, parts: &[&[u8]]) -> Result<(), OutboxFull> {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        if !self.fits(n) || u32::try_from(n).is_err() {
            return Err(OutboxFull);
        }
        let at = self.len;
        let buf = self.buf.as_mut();
        buf[at..at + 2].copy_from_slice(&packet_id.to_be_bytes());
        buf[at + 2..at + 6].copy_from_slice(&(n as u32).to_be_bytes());
        let mut w = at + RECORD_HEADER;
        for p in parts {
            buf[w..w + p.len()].copy_from_slice(p);
            w += p.len();
        }
        self.len = w;
        self.count += 1;
        Ok(())
    }

    fn records(&self) -> impl Iterator<Item = (usize, u16, usize)> + '_ {
        let buf = &self.buf.as_ref()[..self.len];
        let mut at = 0;
        core::iter::from_fn(move || {
            let head = buf.get(at..at + RECORD_HEADER)?;
            let id = u16::from_be_bytes([head[0], head[1]]);
            let n = u32::from_be_bytes([head[2], head[3], head[4], head[5]]) as usize;
            let start = at;
            at += RECORD_HEADER + n;
            Some((start, id, n))
        })
    }

    /// PUBACK for `packet_id`: forgets that packet. False if it was not stored.
    pub fn ack(&mut self, packet_id: u16) -> bool {
        let Some((start, _, n)) = self.records().find(|&(_, id, _)| id == packet_id) else {
            return false;
        };
        let end = start + RECORD_HEADER + n;
        let len = self.len;
        self.buf.as_mut().copy_within(end..len, start);
        self.len -= end - start;
        self.count -= 1;
        true
    }

    /// Sets the DUP flag on every stored packet (before sending them again).
    pub fn mark_duplicates(&mut self) {
        let mut at = 0;
        while at + RECORD_HEADER <= self.len {
            let buf = self.buf.as_mut();
            let n =
                u32::from_be_bytes([buf[at + 2], buf[at + 3], buf[at + 4], buf[at + 5]]) as usize;
            if n > 0 {
                buf[at + RECORD_HEADER] |= 0x08;
            }
            at += RECORD_HEADER + n;
        }
    }

    /// The stored packets, oldest first: (packet id, the whole PUBLISH).
    pub fn packets(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        let buf = self.buf.as_ref();
        self.records()
            .map(move |(start, id, n)| (id, &buf[start + RECORD_HEADER..start + RECORD_HEADER + n]))
    }

    /// Forgets everything (a clean session: the hub will not expect these packet IDs).
    pub fn clear(&mut self) {
        self.len = 0;
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_ack_resend_in_order() {
        let mut o = Outbox::new([0u8; 64]);
        o.store(1, &[&[0x32, 5], b"abc"]).unwrap();
        o.store(2, &[&[0x32, 5], b"def"]).unwrap();
        o.store(3, &[&[0x32, 5], b"ghi"]).unwrap();
        assert_eq!(o.count(), 3);
        assert!(o.ack(2));
        assert!(!o.ack(2));
        o.mark_duplicates();
        let got: heapless::Vec<(u16, heapless::Vec<u8, 8>), 4> = o
            .packets()
            .map(|(id, p)| (id, heapless::Vec::from_slice(p).unwrap()))
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 1);
        assert_eq!(&got[0].1[..], &[0x3A, 5, b'a', b'b', b'c']);
        assert_eq!(got[1].0, 3);
        assert!(o.ack(1) && o.ack(3));
        assert!(o.is_empty());
        assert_eq!(o.free(), 64);
    }

    #[test]
    fn full_outbox_refuses_and_keeps_what_it_has() {
        let mut o = Outbox::new([0u8; 20]);
        o.store(1, &[b"0123456789"]).unwrap();
        assert_eq!(o.store(2, &[b"0123456789"]), Err(OutboxFull));
        assert_eq!(o.count(), 1);
        assert!(o.ack(1));
        o.store(2, &[b"0123456789"]).unwrap();
    }
}
