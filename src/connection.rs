//! The framer and the client together, for callers that drive both from one thread (tests,
//! benches, a fleet simulator). Ports that let the application publish while an event is being
//! handled keep the two halves apart instead.

use crate::hub::{Client, Event, Options, ProtocolError};
use crate::mqtt::{Framed, Framer};

/// A client with its receive framer.
pub struct Connection<T, R> {
    /// The transmit side and protocol state.
    pub client: Client<T>,
    /// The receive side.
    pub framer: Framer<R>,
}

impl<T: AsRef<[u8]> + AsMut<[u8]>, R: AsRef<[u8]> + AsMut<[u8]>> Connection<T, R> {
    /// A connection over a transmit and a receive buffer.
    pub fn new(tx: T, rx: R, opts: Options) -> Self {
        Connection {
            client: Client::new(tx, opts),
            framer: Framer::new(rx),
        }
    }

    /// Copies received bytes in; returns how many were taken (all, unless the buffer is full of
    /// unread packets: poll events, then push the rest).
    pub fn handle_input(&mut self, data: &[u8]) -> usize {
        self.framer.push(data)
    }

    /// The next event from the bytes received so far.
    pub fn poll_event(&mut self, now_ms: u64) -> Result<Option<Event<'_>>, ProtocolError> {
        match self.framer.next().map_err(ProtocolError::Frame)? {
            None => Ok(None),
            Some(Framed::Oversize { header, prefix }) => self
                .client
                .handle_oversize(header, prefix, now_ms)
                .map(Some),
            Some(Framed::Packet { header, body }) => {
                self.client.handle_packet(header, body, now_ms).map(Some)
            }
        }
    }

    /// The transport closed.
    pub fn handle_closed(&mut self) {
        self.client.handle_closed();
        self.framer.reset();
    }
}
