//! What every port's DPS driver does between the socket and [`DpsClient`], written once: take
//! the next packet from the [`Framer`], hand it to the client, and say what it means for the
//! application (nothing, ASSIGNING, or the end of the registration with a usable assignment or
//! a failure). The Linux port (`src/port/linux/dps.rs`) and the Zephyr port
//! (`src/port/zephyr/dps.rs`) differ only in how they read, write, wait and report.

use super::settings::{validate, Field, InvalidValue};
use super::{DpsClient, DpsEvent, DpsFailure};
use crate::mqtt::{DecodeError, FrameError, Framed, Framer, Text};

/// A usable assignment (both values pass the settings checks, so they can be stored and used in
/// the hub's MQTT user name and topics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigned<'a> {
    /// The IoT Hub host name (`assignedHub`).
    pub hostname: Text<'a>,
    /// The device ID (`deviceId`).
    pub device_id: Text<'a>,
}

/// Why a registration ended without an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// The core's verdict (refusals, `failed`/`disabled`/`unassigned`, malformed answers,
    /// too many queries, the timeout).
    Dps(DpsFailure<'a>),
    /// The byte stream is not MQTT.
    Framing(FrameError),
    /// A packet larger than the receive buffer (its total length).
    Oversize(usize),
    /// A packet that does not decode, or that DPS must not send.
    Decode(DecodeError),
    /// `assigned`, but the host name or device ID cannot be stored or used.
    Unusable {
        /// `assignedHub` as received.
        hostname: Text<'a>,
        /// `deviceId` as received.
        device_id: Text<'a>,
        /// What is wrong with the first bad one.
        why: InvalidValue,
    },
    /// The connection closed (or a read or write failed) before the end.
    ConnectionLost,
}

/// The four answers a C API gives for a failure (`-ECONNREFUSED`, `-ETIMEDOUT`, `-EBADMSG`,
/// `-ECONNABORTED`; docs/dps.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// DPS refused: CONNACK or SUBACK refused, an error status, `failed`, `disabled`,
    /// `unassigned`.
    Rejected,
    /// Nothing from DPS in time, or too many status queries.
    Timeout,
    /// An answer that cannot be used.
    Protocol,
    /// The connection was lost.
    ConnectionLost,
}

impl Failure<'_> {
    /// The class of this failure.
    pub fn kind(&self) -> FailureKind {
        match self {
            Failure::Dps(
                DpsFailure::ConnectionRefused(_)
                | DpsFailure::SubscribeRefused
                | DpsFailure::Status { .. }
                | DpsFailure::NotAssigned { .. },
            ) => FailureKind::Rejected,
            Failure::Dps(DpsFailure::Timeout | DpsFailure::TooManyQueries) => FailureKind::Timeout,
            Failure::Dps(DpsFailure::Malformed | DpsFailure::OperationIdTooLong)
            | Failure::Framing(_)
            | Failure::Oversize(_)
            | Failure::Decode(_)
            | Failure::Unusable { .. } => FailureKind::Protocol,
            Failure::ConnectionLost => FailureKind::ConnectionLost,
        }
    }
}

/// What one packet meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// Nothing for the application (CONNACK, SUBACK, PUBACK, PINGRESP, a message on another
    /// topic). The port writes what the client queued.
    Quiet,
    /// The registration goes on: [`DpsEvent::Registering`], [`DpsEvent::Assigning`] or
    /// [`DpsEvent::Throttled`]. The port writes what the client queued, then reports ASSIGNING.
    Progress(DpsEvent<'a>),
    /// The registration is over: the port writes what the client queued (a PUBACK), closes
    /// the connection and reports ASSIGNED or FAILED.
    Done(Result<Assigned<'a>, Failure<'a>>),
}

/// Checks an assignment with the settings rules (length, UTF-8, characters an MQTT user name
/// and topic can carry).
pub fn check_assignment<'a>(
    hostname: Text<'a>,
    device_id: Text<'a>,
) -> Result<Assigned<'a>, Failure<'a>> {
    let unusable = |why| Failure::Unusable {
        hostname,
        device_id,
        why,
    };
    validate(Field::Hostname, hostname.as_bytes()).map_err(unusable)?;
    validate(Field::DeviceId, device_id.as_bytes()).map_err(unusable)?;
    Ok(Assigned {
        hostname,
        device_id,
    })
}

/// The next packet the framer holds, handled by `client`; `None` when the framer needs more
/// bytes.
pub fn next_step<'f, B, R>(
    client: &mut DpsClient<B>,
    framer: &'f mut Framer<R>,
    now_ms: u64,
) -> Option<Step<'f>>
where
    B: AsRef<[u8]> + AsMut<[u8]>,
    R: AsRef<[u8]> + AsMut<[u8]>,
{
    let step = match framer.next() {
        Ok(None) => return None,
        Err(e) => Step::Done(Err(Failure::Framing(e))),
        Ok(Some(Framed::Oversize { header, .. })) => {
            Step::Done(Err(Failure::Oversize(header.total_length())))
        }
        Ok(Some(Framed::Packet { header, body })) => {
            match client.handle_packet(header, body, now_ms) {
                Err(e) => Step::Done(Err(Failure::Decode(e))),
                Ok(None) => Step::Quiet,
                Ok(Some(DpsEvent::Assigned {
                    assigned_hub,
                    device_id,
                })) => Step::Done(check_assignment(assigned_hub, device_id)),
                Ok(Some(DpsEvent::Failed(f))) => Step::Done(Err(Failure::Dps(f))),
                Ok(Some(e)) => Step::Progress(e),
            }
        }
    };
    Some(step)
}

/// Time passed: the client's deadlines (status query, keep-alive, timeout). A failure ends the
/// registration.
pub fn on_timeout<B>(client: &mut DpsClient<B>, now_ms: u64) -> Result<(), Failure<'static>>
where
    B: AsRef<[u8]> + AsMut<[u8]>,
{
    match client.handle_timeout(now_ms) {
        Some(DpsEvent::Failed(f)) => Err(Failure::Dps(f)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dps::DpsOptions;

    fn client() -> DpsClient<[u8; 1024]> {
        let mut c = DpsClient::new(
            [0u8; 1024],
            DpsOptions {
                timeout_secs: 5,
                max_status_queries: 10,
                keep_alive_secs: 0,
            },
        );
        c.connect("scope", "reg", None, None, 0).unwrap();
        let n = c.poll_transmit().unwrap().len();
        c.transmit_complete(n, 0);
        c
    }

    fn publish(topic: &str, payload: &str) -> ([u8; 512], usize) {
        let mut p = [0u8; 512];
        let rem = 2 + topic.len() + payload.len();
        assert!(rem < 16384);
        p[0] = 0x30;
        p[1] = (rem % 128) as u8 | 0x80;
        p[2] = (rem / 128) as u8;
        p[3] = 0;
        p[4] = topic.len() as u8;
        p[5..5 + topic.len()].copy_from_slice(topic.as_bytes());
        p[5 + topic.len()..3 + rem].copy_from_slice(payload.as_bytes());
        (p, 3 + rem)
    }

    fn registered() -> (DpsClient<[u8; 1024]>, Framer<[u8; 512]>) {
        let mut c = client();
        let mut f = Framer::new([0u8; 512]);
        f.push(&[0x20, 2, 0, 0]); // CONNACK
        assert_eq!(next_step(&mut c, &mut f, 1), Some(Step::Quiet));
        assert_eq!(next_step(&mut c, &mut f, 1), None);
        f.push(&[0x90, 3, 0, 1, 0]); // SUBACK
        assert_eq!(
            next_step(&mut c, &mut f, 2),
            Some(Step::Progress(DpsEvent::Registering))
        );
        (c, f)
    }

    #[test]
    fn assigning_then_assigned() {
        let (mut c, mut f) = registered();
        let (p, n) = publish(
            "$dps/registrations/res/202/?$rid=1&retry-after=1",
            r#"{"operationId":"op1","status":"assigning"}"#,
        );
        f.push(&p[..n]);
        assert_eq!(
            next_step(&mut c, &mut f, 3),
            Some(Step::Progress(DpsEvent::Assigning {
                operation_id: "op1".into(),
                retry_after_secs: 1
            }))
        );
        let (p, n) = publish(
            "$dps/registrations/res/200/?$rid=1",
            r#"{"operationId":"op1","status":"assigned","registrationState":{"assignedHub":"h.net","deviceId":"d1"}}"#,
        );
        f.push(&p[..n]);
        assert_eq!(
            next_step(&mut c, &mut f, 4),
            Some(Step::Done(Ok(Assigned {
                hostname: "h.net".into(),
                device_id: "d1".into()
            })))
        );
    }

    #[test]
    fn an_unusable_assignment_is_a_protocol_failure() {
        let (mut c, mut f) = registered();
        let (p, n) = publish(
            "$dps/registrations/res/200/?$rid=1",
            r#"{"operationId":"op1","status":"assigned","registrationState":{"assignedHub":"h/x","deviceId":"d1"}}"#,
        );
        f.push(&p[..n]);
        let Some(Step::Done(Err(e))) = next_step(&mut c, &mut f, 4) else {
            panic!("expected a failure");
        };
        assert!(matches!(e, Failure::Unusable { hostname, .. } if hostname == "h/x"));
        assert_eq!(e.kind(), FailureKind::Protocol);
    }

    #[test]
    fn failures_and_their_kinds() {
        let (mut c, mut f) = registered();
        let (p, n) = publish(
            "$dps/registrations/res/200/?$rid=1",
            r#"{"operationId":"op1","status":"disabled","registrationState":{"errorCode":400207}}"#,
        );
        f.push(&p[..n]);
        let Some(Step::Done(Err(e))) = next_step(&mut c, &mut f, 4) else {
            panic!("expected a failure");
        };
        assert_eq!(e.kind(), FailureKind::Rejected);

        let (mut c, mut f) = registered();
        let (p, n) = publish("$dps/registrations/res/200/?$rid=1", "{not json");
        f.push(&p[..n]);
        let Some(Step::Done(Err(e))) = next_step(&mut c, &mut f, 4) else {
            panic!("expected a failure");
        };
        assert_eq!(e, Failure::Dps(DpsFailure::Malformed));
        assert_eq!(e.kind(), FailureKind::Protocol);

        let (mut c, _) = registered();
        assert_eq!(on_timeout(&mut c, 1000), Ok(()));
        let e = on_timeout(&mut c, 2 + 5000).unwrap_err();
        assert_eq!(e, Failure::Dps(DpsFailure::Timeout));
        assert_eq!(e.kind(), FailureKind::Timeout);

        let mut c = client();
        let mut f = Framer::new([0u8; 8]);
        f.push(&[0x30, 100, 0, 1, b'a', 0, 0, 0]);
        assert_eq!(
            next_step(&mut c, &mut f, 1),
            Some(Step::Done(Err(Failure::Oversize(102))))
        );
        assert_eq!(Failure::ConnectionLost.kind(), FailureKind::ConnectionLost);
    }
}
