//! The connection's worker thread: waits for input or the keep-alive deadline, moves decrypted
//! bytes into the framer, feeds packets to the client, flushes what the client queued, and
//! delivers events. It holds the link lock only to touch the client or the TLS connection, never
//! while it waits or runs the handler.

use std::io::{self, Read};
use std::net::Shutdown;
use std::os::fd::RawFd;
use std::string::String;
use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use super::{
    net, session, sys, CloseReason, HubClient, PortEvent, Shared, LOG_HUB, LOG_TRANSPORT, WORKER_OF,
};
use crate::hub::{Event, ProtocolError};
use crate::mqtt::{Framed, Framer};

/// The smallest receive buffer the worker uses (a CONNACK and a SUBACK must fit).
const MIN_RX_BUFFER: usize = 16;

pub(crate) fn spawn(shared: Arc<Shared>, fd: RawFd, rx_buffer_size: usize) -> io::Result<()> {
    std::thread::Builder::new()
        .name(String::from("mqtt_helper"))
        .spawn(move || run(shared, fd, rx_buffer_size))
        .map(|_| ())
}

fn run(shared: Arc<Shared>, fd: RawFd, rx_buffer_size: usize) {
    WORKER_OF.with(|w| w.set(Arc::as_ptr(&shared) as usize));
    let view = HubClient::view(shared.clone());
    // One byte more for the NUL the framer writes after each body (the C API's payloads).
    let mut framer = Framer::nul_terminated(vec![0u8; rx_buffer_size.max(MIN_RX_BUFFER) + 1]);
    let reason = serve(&shared, &view, &mut framer, fd);
    finish(&shared, &view, reason);
}

fn deliver(shared: &Shared, view: &HubClient, event: &PortEvent<'_>) {
    log::debug!(target: LOG_HUB, "event: {event:?}");
    let mut handler = shared.handler.lock().unwrap_or_else(|e| e.into_inner());
    handler(view, event);
}

fn protocol_error(shared: &Shared, view: &HubClient, e: ProtocolError) -> CloseReason {
    log::error!(target: LOG_TRANSPORT, "protocol error: {e:?}");
    deliver(shared, view, &PortEvent::ProtocolError(e));
    CloseReason::Protocol(e)
}

/// PUBACKs handled under one lock, delivered once it is released (at most `ACK_RUN` at a time).
#[derive(Default)]
struct AckRun {
    ids: [u16; ACK_RUN],
    len: usize,
}

const ACK_RUN: usize = 32;

impl AckRun {
    /// Notes one; false when the run is full and must be delivered.
    fn push(&mut self, packet_id: u16) -> bool {
        self.ids[self.len] = packet_id;
        self.len += 1;
        self.len < ACK_RUN
    }

    fn deliver(&mut self, shared: &Shared, view: &HubClient) {
        for &packet_id in &self.ids[..self.len] {
            deliver(shared, view, &PortEvent::Hub(&Event::Puback { packet_id }));
        }
        self.len = 0;
    }
}

/// Why the packet loop stops before the framer is empty.
enum Stop {
    Protocol(ProtocolError),
    /// `disconnect()` or `abort()` was called (seen before a run starts, never inside one).
    Requested,
}

/// Runs the connection until it ends; returns why.
fn serve(
    shared: &Shared,
    view: &HubClient,
    framer: &mut Framer<Vec<u8>>,
    fd: RawFd,
) -> CloseReason {
    let mut had_input = false;
    loop {
        // 1. Every packet the framer holds, one event each. A run of PUBACKs (a burst of QoS 1
        // messages acknowledged together) is handled under one lock and delivered after it:
        // taking the lock for each would make a sending thread wait for it, and be woken, once
        // per acknowledgement.
        let mut acks = AckRun::default();
        let mut held = None;
        let stopped = loop {
            let framed = match framer.next() {
                Ok(Some(f)) => f,
                Ok(None) => break None,
                Err(e) => break Some(Stop::Protocol(ProtocolError::Frame(e))),
            };
            let link = held.get_or_insert_with(|| shared.lock());
            if link.close_requested {
                // Only ever seen with an empty run: `close_requested` is written under the link
                // lock, which the worker holds from a run's first PUBACK to its delivery.
                debug_assert_eq!(acks.len, 0, "close requested while a run held the lock");
                break Some(Stop::Requested);
            }
            let now = shared.now_ms();
            let handled = match framed {
                Framed::Packet { header, body } => link.client.handle_packet(header, body, now),
                Framed::Oversize { header, prefix } => {
                    link.client.handle_oversize(header, prefix, now)
                }
            };
            let event = match handled {
                Ok(event) => event,
                Err(e) => break Some(Stop::Protocol(e)),
            };
            // PUBACK, SUBSCRIBE, the twin GET: on the wire before the application sees the event.
            let flushed = net::flush(link, now).and_then(|()| session::on_event(link, &event, now));
            let ack = match (event, &flushed) {
                (Event::Puback { packet_id }, Ok(())) => Some(packet_id),
                _ => None,
            };
            if ack.is_some_and(|id| acks.push(id)) {
                continue;
            }
            // The run is full, or another event: the run first, without the lock.
            held = None;
            acks.deliver(shared, view);
            if ack.is_some() {
                continue;
            }
            if let Event::MessageTooLarge { topic, size } = event {
                log::warn!(target: LOG_HUB, "incoming message of {size} bytes on {topic:?} exceeds the receive buffer; skipped");
            }
            deliver(shared, view, &PortEvent::Hub(&event));
            if let Event::ConnectionRefused { return_code } = event {
                shared.lock().refused_code = return_code;
                log::warn!(target: LOG_TRANSPORT, "connection refused, CONNACK return code {return_code}");
                return CloseReason::Refused;
            }
            if flushed.is_err() {
                return CloseReason::Transport;
            }
        };
        // The PUBACKs handled before the connection stops are delivered too.
        drop(held);
        acks.deliver(shared, view);
        match stopped {
            Some(Stop::Protocol(e)) => return protocol_error(shared, view, e),
            Some(Stop::Requested) => return CloseReason::Requested,
            None => {}
        }

        // 2. Decrypted bytes rustls already holds.
        let mut link = shared.lock();
        if link.close_requested {
            return CloseReason::Requested;
        }
        if link.broken {
            return CloseReason::Transport;
        }
        let Some(conn) = link.conn.as_mut() else {
            return CloseReason::Transport;
        };
        let spare = framer.spare();
        if spare.is_empty() {
            // Cannot happen: a full buffer always yields a packet or an oversize report.
            log::error!(target: LOG_TRANSPORT, "receive buffer full without a packet");
            return CloseReason::Transport;
        }
        match conn.tls.reader().read(spare) {
            Ok(0) => {
                log::info!(target: LOG_TRANSPORT, "the server closed the TLS session");
                return CloseReason::Transport;
            }
            Ok(n) => {
                framer.commit(n);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                log::info!(target: LOG_TRANSPORT, "connection lost: {e}");
                return CloseReason::Transport;
            }
        }

        // 3. Keep-alive.
        let now = shared.now_ms();
        if let Err(e) = link.client.handle_timeout(now) {
            drop(link);
            return protocol_error(shared, view, e);
        }
        if net::flush(&mut link, now).is_err() {
            return CloseReason::Transport;
        }
        if session::renew_if_due(&mut link, now) {
            return CloseReason::TokenRenewal;
        }
        let deadline = match (link.client.poll_timeout(), session::renewal_deadline(&link)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline.map(|deadline| deadline.saturating_sub(now));
        drop(link);

        // 4. Wait for input, without the lock. Right after input, the worker first gives up
        // the processor once and reads again without waiting: input that comes in a stream
        // (the PUBACKs of a burst of QoS 1 messages) is then read without a sleep in poll(2)
        // and a wake-up for every few packets, which cost this thread, and the peer that has to
        // wake it, more than the reading itself (`scripts/bench.sh`: the worker's CPU per
        // message 4.2-5.2 -> 1.0-3.6 us). Only after a read that found nothing does it sleep.
        if std::mem::take(&mut had_input) {
            std::thread::yield_now();
        } else {
            match sys::wait_readable(fd, timeout) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    log::error!(target: LOG_TRANSPORT, "poll failed: {e}");
                    return CloseReason::Transport;
                }
            }
        }

        // 5. Read what is there (never blocks) and decrypt it.
        let mut link = shared.lock();
        if link.close_requested {
            return CloseReason::Requested;
        }
        let Some(conn) = link.conn.as_mut() else {
            return CloseReason::Transport;
        };
        match conn.tls.read_tls(&mut sys::NoWait(fd)) {
            Ok(0) => {
                log::info!(target: LOG_TRANSPORT, "the server closed the connection");
                return CloseReason::Transport;
            }
            Ok(_) => {
                had_input = true;
                let processed = conn.tls.process_new_packets();
                // Alerts, key updates: whatever rustls wants to answer.
                let flushed = net::flush_tls(conn);
                if let Err(e) = processed {
                    log::error!(target: LOG_TRANSPORT, "TLS error: {e}");
                    return CloseReason::Transport;
                }
                if let Err(e) = flushed {
                    log::info!(target: LOG_TRANSPORT, "connection lost: {e}");
                    return CloseReason::Transport;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                log::info!(target: LOG_TRANSPORT, "connection lost: {e}");
                return CloseReason::Transport;
            }
        }
    }
}

/// Forgets the connection and delivers `Disconnected`. The handler lock is taken first and held
/// until the event is delivered, so a connection started meanwhile (by another thread, or by the
/// handler itself) delivers its events only after this one's `Disconnected`.
fn finish(shared: &Arc<Shared>, view: &HubClient, reason: CloseReason) {
    let mut handler = shared.handler.lock().unwrap_or_else(|e| e.into_inner());
    let (reason, generation, conn, retry_in_ms) = {
        let mut link = shared.lock();
        let reason = if link.close_requested {
            CloseReason::Requested
        } else {
            reason
        };
        link.client.handle_closed();
        let conn = link.conn.take();
        link.active = false;
        link.close_requested = false;
        link.broken = false;
        // Automatic reconnect / SAS renewal: does the session go on?
        let retry_in_ms = session::after_loss(&mut link, reason, shared.now_ms());
        (reason, link.generation, conn, retry_in_ms)
    };
    if let Some(conn) = conn {
        let _ = conn.tcp.shutdown(Shutdown::Both);
        drop(conn);
    }
    log::info!(target: LOG_TRANSPORT, "disconnected: {reason:?}");
    let event = match retry_in_ms {
        Some(retry_in_ms) => {
            log::info!(target: LOG_TRANSPORT, "reconnecting in {retry_in_ms} ms");
            PortEvent::ConnectionLost {
                reason,
                retry_in_ms,
            }
        }
        None => PortEvent::Disconnected(reason),
    };
    log::debug!(target: LOG_HUB, "event: {event:?}");
    handler(view, &event);
    drop(handler);
    let mut link = shared.lock();
    link.finished = link.finished.max(generation);
    drop(link);
    shared.finished_cv.notify_all();
    if retry_in_ms.is_some() {
        session::retry_loop(shared, view);
    }
}
