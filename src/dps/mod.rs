//! Device Provisioning Service, sans-IO: register, poll the operation status after
//! `retry-after`, and report the assignment (hub host name and device ID).
//!
//! Inputs and outputs mirror [`crate::hub::Client`]: [`DpsClient::connect`],
//! [`DpsClient::handle_packet`], [`DpsClient::handle_timeout`], [`DpsClient::poll_timeout`],
//! [`DpsClient::poll_transmit`]. The retry wait is a deadline, never a sleep, so a port's worker
//! keeps serving other work while DPS waits.

pub mod driver;
mod response;
pub mod settings;

pub use response::{
    parse_response, parse_topic, OperationStatus, RegistrationResponse, ResponseTopic,
};

use heapless::{String, Vec};

use crate::hub::properties::valid_component;
use crate::mqtt::{
    self, decode_packet, encode_connect, put_fixed_header, Connect, Cursor, DecodeError,
    FixedHeader, Inbound, Text, UserName,
};
use crate::sink::{Overflow, Sink};

/// The DPS MQTT api-version (that of the Azure SDK for Embedded C).
pub const API_VERSION: &str = "2019-03-31";
/// The one subscription DPS needs.
pub const SUBSCRIBE_FILTER: &str = "$dps/registrations/res/#";
/// `retry-after` when DPS does not send one (the original's default).
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 20;
/// Longest ID scope / registration ID stored.
pub const MAX_ID_LEN: usize = 128;
/// Longest custom registration payload (raw JSON) stored.
pub const MAX_REGISTRATION_PAYLOAD_LEN: usize = 256;
/// Longest operation ID stored (`CONFIG_AZURE_IOT_HUB_DPS_OPERATION_ID_BUFFER_SIZE` minus the NUL).
pub const MAX_OPERATION_ID_LEN: usize =
    crate::config::AZURE_IOT_HUB_DPS_OPERATION_ID_BUFFER_SIZE - 1;

/// [`valid_component`], called rather than inlined: the DPS code checks IDs and assignments in
/// several places, one copy of the loop is enough (flash).
#[inline(never)]
pub(crate) fn component_ok(bytes: &[u8], allow_equals: bool) -> bool {
    valid_component(bytes, allow_equals)
}

/// The user name's tail: `/api-version=` and [`API_VERSION`] as one piece.
const API_VERSION_QUERY: &str = "/api-version=2019-03-31";
const _: () = {
    let (q, v) = (API_VERSION_QUERY.as_bytes(), API_VERSION.as_bytes());
    assert!(q.len() == 13 + v.len());
    let mut i = 0;
    while i < v.len() {
        assert!(q[13 + i] == v[i]);
        i += 1;
    }
};

/// An ID scope or registration ID that CONNECT and the register request can carry: 1 to
/// [`MAX_ID_LEN`] bytes, JSON-safe (no control character, `"` or `\\`) and a topic component.
/// One called copy for both IDs.
#[inline(never)]
fn id_ok(id: &str) -> bool {
    let json_safe = id.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    !id.is_empty() && id.len() <= MAX_ID_LEN && json_safe && component_ok(id.as_bytes(), false)
}

/// SUBSCRIBE to [`SUBSCRIBE_FILTER`] at QoS 0 with packet ID 0 (bytes 2 and 3), laid out at
/// compile time as `encode_subscribe` writes it (a test compares them): queued through the
/// called [`DpsClient::push_bytes`] with the packet ID set, instead of an inlined encoder. A
/// static, in flash once: the response topic's prefix points into it ([`in_subscribe`]).
static SUBSCRIBE: [u8; mqtt::subscribe_len(&[SUBSCRIBE_FILTER])] =
    mqtt::subscribe_template(&[SUBSCRIBE_FILTER]);

/// `bytes` where [`SUBSCRIBE`] holds them, as the hub's `subscribe::shared` (no second copy in
/// flash; a compile error if they are not there).
const fn in_subscribe(bytes: &[u8]) -> &'static [u8] {
    mqtt::subscribe_part(&SUBSCRIBE, bytes)
}

/// `/registrations/`, the user name's path, from [`SUBSCRIBE`]'s filter (no copy of its own).
const REGISTRATIONS_PATH: &str = match core::str::from_utf8(in_subscribe(b"/registrations/")) {
    Ok(path) => path,
    Err(_) => panic!("not UTF-8"),
};

/// `$dps/registrations/`, where both request topics start: from [`SUBSCRIBE`]'s filter, a
/// piece of its own (no copy of it in each topic).
const TOPIC_START: &[u8] = in_subscribe(b"$dps/registrations/");

/// The register request's topic after [`TOPIC_START`].
const REGISTER_TOPIC: &[u8] = b"PUT/iotdps-register/?$rid=1";

/// A cursor over the free part of a client's transmit buffer, after its `tx_len` queued bytes
/// (an emptied queue is at 0: [`DpsClient::transmit_complete`]); the caller adds what it wrote
/// to `tx_len`. One called copy for every packet.
#[inline(never)]
fn spare<B: AsMut<[u8]>>(tx: &mut B, tx_len: usize) -> Cursor<'_> {
    Cursor::new(tx.as_mut().get_mut(tx_len..).unwrap_or_default())
}

/// DPS settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpsOptions {
    /// The whole registration must finish within this (`CONFIG_AZURE_IOT_HUB_DPS_TIMEOUT_SEC`);
    /// like the original, the timer restarts on every packet from DPS.
    pub timeout_secs: u32,
    /// Status queries allowed before giving up (the original's hard-coded 10).
    pub max_status_queries: u32,
    /// MQTT keep-alive for the DPS connection.
    pub keep_alive_secs: u16,
}

impl Default for DpsOptions {
    fn default() -> Self {
        DpsOptions {
            timeout_secs: crate::config::AZURE_IOT_HUB_DPS_TIMEOUT_SEC as u32,
            max_status_queries: 10,
            keep_alive_secs: crate::config::MQTT_KEEPALIVE,
        }
    }
}

/// Where the registration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpsState {
    /// Nothing started.
    Idle,
    /// CONNECT queued.
    Connecting,
    /// SUBSCRIBE queued.
    Subscribing,
    /// Register request sent, or waiting for the next status query.
    Assigning,
    /// Finished (assigned or failed); the transport should be closed.
    Done,
}

/// Why registration failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpsFailure<'a> {
    /// CONNACK refused, with its return code.
    ConnectionRefused(u8),
    /// SUBACK refused the response subscription.
    SubscribeRefused,
    /// DPS answered with an error status (not 429 or 500, which are retried), e.g. 401.
    Status {
        /// The status from the topic.
        status: u16,
        /// `errorCode`, e.g. 401002.
        error_code: Option<u32>,
        /// `message`, as received (JSON-escaped).
        message: Option<Text<'a>>,
    },
    /// The operation ended `failed`, `disabled` or `unassigned`.
    NotAssigned {
        /// The final status.
        status: OperationStatus,
        /// `registrationState.errorCode`.
        error_code: Option<u32>,
        /// `registrationState.errorMessage`, as received.
        message: Option<Text<'a>>,
    },
    /// A response that cannot be parsed, or an assignment without hub or device ID.
    Malformed,
    /// An operation ID longer than the buffer.
    OperationIdTooLong,
    /// More status queries than allowed.
    TooManyQueries,
    /// No answer within the timeout.
    Timeout,
}

/// What a DPS packet or timeout means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpsEvent<'a> {
    /// The register request is queued (status ASSIGNING from now on).
    Registering,
    /// DPS answered 429 or 500: the last request is repeated after `retry_after_secs`.
    Throttled {
        /// The status.
        status: u16,
        /// Seconds until the request is repeated.
        retry_after_secs: u32,
    },
    /// DPS is assigning; the next status query is due after `retry_after_secs`.
    Assigning {
        /// The operation ID.
        operation_id: Text<'a>,
        /// Seconds until the next query.
        retry_after_secs: u32,
    },
    /// Assigned: connect to `assigned_hub` as `device_id`. The transport should be closed.
    Assigned {
        /// The IoT Hub host name.
        assigned_hub: Text<'a>,
        /// The device ID to use there.
        device_id: Text<'a>,
    },
    /// Registration failed. The transport should be closed.
    Failed(DpsFailure<'a>),
}

/// Why [`DpsClient::connect`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpsConnectError {
    /// Already running.
    Busy,
    /// Empty or too long ID scope or registration ID, or characters that cannot go in a topic.
    InvalidId,
    /// The registration payload is longer than [`MAX_REGISTRATION_PAYLOAD_LEN`].
    PayloadTooLong,
    /// The CONNECT does not fit the transmit buffer.
    BufferTooSmall,
}

/// The DPS client state machine over a caller-owned transmit buffer.
pub struct DpsClient<B> {
    tx: B,
    tx_len: usize,
    tx_sent: usize,
    opts: DpsOptions,
    state: DpsState,
    registration_id: String<MAX_ID_LEN>,
    registration_payload: Option<String<MAX_REGISTRATION_PAYLOAD_LEN>>,
    /// The operation ID as received (bytes: it is only copied and sent back).
    operation_id: Vec<u8, MAX_OPERATION_ID_LEN>,
    packet_id: u16,
    queries: u32,
    /// When the next request is due (0: none; a due time is at least a second after the clock's
    /// start, so 0 is never one).
    query_due_ms: u64,
    deadline_ms: u64,
    last_tx_ms: u64,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> DpsClient<B> {
    /// A DPS client (`const`: a port can keep one in a static).
    pub const fn new(tx: B, opts: DpsOptions) -> Self {
        DpsClient {
            tx,
            tx_len: 0,
            tx_sent: 0,
            opts,
            state: DpsState::Idle,
            registration_id: String::new(),
            registration_payload: None,
            operation_id: Vec::new(),
            packet_id: 0,
            queries: 0,
            query_due_ms: 0,
            deadline_ms: 0,
            last_tx_ms: 0,
        }
    }

    /// Replaces the options (they apply from the next [`DpsClient::connect`]).
    pub fn set_options(&mut self, opts: DpsOptions) {
        self.opts = opts;
    }

    /// State.
    pub fn state(&self) -> DpsState {
        self.state
    }

    fn push(
        &mut self,
        write: impl FnOnce(&mut Cursor<'_>) -> Result<(), mqtt::EncodeError>,
    ) -> Result<(), Overflow> {
        let mut c = spare(&mut self.tx, self.tx_len);
        write(&mut c).map_err(|_| Overflow)?;
        let n = c.len();
        self.tx_len += n;
        Ok(())
    }

    /// Queues a packet laid out by the caller (SUBSCRIBE, PINGREQ, PUBACK), all or nothing: one
    /// called copy instead of a [`Self::push`] per packet kind.
    #[inline(never)]
    fn push_bytes(&mut self, packet: &[u8]) -> Result<(), Overflow> {
        let mut c = spare(&mut self.tx, self.tx_len);
        c.put(packet)?;
        self.tx_len += c.len();
        Ok(())
    }

    /// One called copy (SUBSCRIBE and the requests).
    #[inline(never)]
    fn next_packet_id(&mut self) -> u16 {
        self.packet_id = self.packet_id.wrapping_add(1).max(1);
        self.packet_id
    }

    /// Queues CONNECT for `registration_id` in `id_scope`. `password` is a SAS token (X.509:
    /// `None`). The registration request carries `{"registrationId":..}` and, when given,
    /// `"payload":<registration_payload>` (raw JSON, for custom allocation; not validated).
    pub fn connect(
        &mut self,
        id_scope: &str,
        registration_id: &str,
        password: Option<&[u8]>,
        registration_payload: Option<&str>,
        now_ms: u64,
    ) -> Result<(), DpsConnectError> {
        if !matches!(self.state, DpsState::Idle | DpsState::Done) {
            return Err(DpsConnectError::Busy);
        }
        if !id_ok(id_scope) || !id_ok(registration_id) {
            return Err(DpsConnectError::InvalidId);
        }
        if registration_payload.is_some_and(|p| p.len() > MAX_REGISTRATION_PAYLOAD_LEN) {
            return Err(DpsConnectError::PayloadTooLong);
        }
        // Copied in place (it fits: checked above).
        self.registration_payload = None;
        if let Some(p) = registration_payload {
            let _ = self.registration_payload.insert(String::new()).push_str(p);
        }
        self.registration_id.clear();
        let _ = self.registration_id.push_str(registration_id);
        self.operation_id.clear();
        self.tx_len = 0;
        self.tx_sent = 0;
        self.queries = 0;
        self.query_due_ms = 0;
        let connect = Connect {
            client_id: registration_id,
            keep_alive: self.opts.keep_alive_secs,
            clean_session: true,
            // `{id_scope}/registrations/{registration_id}/api-version=...`
            user_name: Some(UserName {
                host: id_scope,
                path: REGISTRATIONS_PATH,
                query: API_VERSION_QUERY,
                model_id: None,
            }),
            password,
            will: None,
        };
        self.push(|c| encode_connect(c, &connect))
            .map_err(|_| DpsConnectError::BufferTooSmall)?;
        self.state = DpsState::Connecting;
        self.restart_timer(now_ms);
        self.last_tx_ms = now_ms;
        Ok(())
    }

    /// One called copy (connect and every packet).
    #[inline(never)]
    fn restart_timer(&mut self, now_ms: u64) {
        self.deadline_ms = now_ms + u64::from(self.opts.timeout_secs) * 1000;
    }

    /// Bytes waiting to be written.
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        let p = self
            .tx
            .as_ref()
            .get(self.tx_sent..self.tx_len)
            .unwrap_or_default();
        (!p.is_empty()).then_some(p)
    }

    /// `n` bytes of [`DpsClient::poll_transmit`] were written.
    pub fn transmit_complete(&mut self, n: usize, now_ms: u64) {
        self.tx_sent = (self.tx_sent + n).min(self.tx_len);
        // All written: the queue starts again at 0 (so `spare` needs no test: `tx_sent` equals
        // `tx_len` only when both are 0).
        if self.tx_sent == self.tx_len {
            self.tx_len = 0;
            self.tx_sent = 0;
        }
        if n > 0 {
            self.last_tx_ms = now_ms;
        }
    }

    /// The next deadline: a status query, a keep-alive PINGREQ, or the overall timeout.
    pub fn poll_timeout(&self) -> Option<u64> {
        if matches!(self.state, DpsState::Idle | DpsState::Done) {
            return None;
        }
        let mut t = self.deadline_ms;
        if self.query_due_ms != 0 {
            t = t.min(self.query_due_ms);
        }
        if let Some(p) = self.ping_due() {
            t = t.min(p);
        }
        Some(t)
    }

    /// When the keep-alive PINGREQ is due (keep-alive 0: never).
    fn ping_due(&self) -> Option<u64> {
        let k = self.opts.keep_alive_secs;
        (k > 0).then(|| self.last_tx_ms + u64::from(k) * 1000)
    }

    /// Time passed: sends the status query when due, a PINGREQ to keep the connection, or fails
    /// with [`DpsFailure::Timeout`].
    pub fn handle_timeout(&mut self, now_ms: u64) -> Option<DpsEvent<'static>> {
        if matches!(self.state, DpsState::Idle | DpsState::Done) {
            return None;
        }
        if now_ms >= self.deadline_ms {
            self.state = DpsState::Done;
            return Some(DpsEvent::Failed(DpsFailure::Timeout));
        }
        if self.query_due_ms != 0 && now_ms >= self.query_due_ms {
            self.query_due_ms = 0;
            if let Err(f) = self.queue_status_query() {
                self.state = DpsState::Done;
                return Some(DpsEvent::Failed(f));
            }
            return None;
        }
        if self.ping_due().is_some_and(|p| now_ms >= p) {
            // PINGREQ.
            let _ = self.push_bytes(&[0xC0, 0x00]);
            self.last_tx_ms = now_ms;
        }
        None
    }

    /// Queues the register request (`status_query` false) or the status query as a QoS 1
    /// PUBLISH, written straight from the stored IDs (no copies, one code path for both): after
    /// the fixed header, the topic's length, the topic, the packet ID and the payload are one
    /// list of pieces, written by one loop.
    fn queue_request(&mut self, status_query: bool) -> Result<(), Overflow> {
        let [id_hi, id_lo] = self.next_packet_id().to_be_bytes();
        let rid = self.registration_id.as_bytes();
        // `{"registrationId":"<id>"}` or `{"registrationId":"<id>","payload":<json>}`.
        const OPEN: &[u8] = b"{\"registrationId\":\"";
        let (topic, op): (&[u8], &[u8]) = if status_query {
            (
                b"GET/iotdps-get-operationstatus/?$rid=1&operationId=",
                &self.operation_id,
            )
        } else {
            (REGISTER_TOPIC, b"")
        };
        let (mid, custom, close): (&[u8], &[u8], &[u8]) = match &self.registration_payload {
            None => (b"\"}", b"", b""),
            Some(p) => (b"\",\"payload\":", p.as_bytes(), b"}"),
        };
        // An operation ID is at most `MAX_OPERATION_ID_LEN` bytes, whose Kconfig option has no
        // upper bound: a topic too long for its two-byte length cannot be sent.
        let [len_hi, len_lo] = u16::try_from(TOPIC_START.len() + topic.len() + op.len())
            .map_err(|_| Overflow)?
            .to_be_bytes();
        let (len, id) = ([len_hi, len_lo], [id_hi, id_lo]);
        let pieces: [&[u8]; 10] = [
            &len,
            TOPIC_START,
            topic,
            op,
            &id,
            OPEN,
            rid,
            mid,
            custom,
            close,
        ];
        // The status query has no payload.
        let pieces = pieces
            .get(..if status_query { 5 } else { 10 })
            .unwrap_or_default();
        let remaining = pieces.iter().map(|p| p.len()).sum();
        let mut c = spare(&mut self.tx, self.tx_len);
        // QoS 1, no DUP or RETAIN.
        put_fixed_header(&mut c, 0x32, remaining).map_err(|_| Overflow)?;
        pieces.iter().try_for_each(|p| c.put(p))?;
        self.tx_len += c.len();
        Ok(())
    }

    fn queue_register(&mut self) -> Result<(), Overflow> {
        self.queue_request(false)
    }

    fn queue_status_query(&mut self) -> Result<(), DpsFailure<'static>> {
        self.queries += 1;
        if self.queries > self.opts.max_status_queries {
            return Err(DpsFailure::TooManyQueries);
        }
        // Throttled before DPS gave an operation ID: register again (one call for both).
        let query = !self.operation_id.is_empty();
        self.queue_request(query).map_err(|_| {
            if query {
                DpsFailure::OperationIdTooLong
            } else {
                DpsFailure::Malformed
            }
        })
    }

    /// A complete packet from DPS. Errors mean the connection must close.
    pub fn handle_packet<'p>(
        &mut self,
        header: FixedHeader,
        body: &'p [u8],
        now_ms: u64,
    ) -> Result<Option<DpsEvent<'p>>, DecodeError> {
        if matches!(self.state, DpsState::Idle | DpsState::Done) {
            return Ok(None);
        }
        self.restart_timer(now_ms);
        let packet = decode_packet(header, body)?;
        let fail = |s: &mut Self, f| {
            s.state = DpsState::Done;
            Ok(Some(DpsEvent::Failed(f)))
        };
        let state = self.state;
        match packet {
            Inbound::Connack { return_code, .. } if state == DpsState::Connecting => {
                if return_code != 0 {
                    return fail(self, DpsFailure::ConnectionRefused(return_code));
                }
                let [hi, lo] = self.next_packet_id().to_be_bytes();
                let mut subscribe = SUBSCRIBE;
                (subscribe[2], subscribe[3]) = (hi, lo);
                if self.push_bytes(&subscribe).is_err() {
                    return fail(self, DpsFailure::Malformed);
                }
                self.state = DpsState::Subscribing;
                Ok(None)
            }
            Inbound::Suback { codes, .. } if state == DpsState::Subscribing => {
                if !codes.all_granted() {
                    return fail(self, DpsFailure::SubscribeRefused);
                }
                if self.queue_register().is_err() {
                    return fail(self, DpsFailure::Malformed);
                }
                self.state = DpsState::Assigning;
                Ok(Some(DpsEvent::Registering))
            }
            Inbound::Puback(_) | Inbound::Pingresp => Ok(None),
            Inbound::Publish(p) if state == DpsState::Assigning => {
                if let Some(id) = p.packet_id {
                    let [hi, lo] = id.to_be_bytes();
                    // PUBACK.
                    let _ = self.push_bytes(&[0x40, 0x02, hi, lo]);
                }
                let Some(topic) = parse_topic(p.topic) else {
                    return Ok(None);
                };
                let Ok(resp) = parse_response(p.payload) else {
                    return fail(self, DpsFailure::Malformed);
                };
                Ok(Some(self.decide(topic, resp, now_ms)))
            }
            _ => Err(DecodeError::UnexpectedType(header.packet_type)),
        }
    }

    fn decide<'p>(
        &mut self,
        topic: ResponseTopic,
        r: RegistrationResponse<'p>,
        now_ms: u64,
    ) -> DpsEvent<'p> {
        let retry_after = topic
            .retry_after_secs
            .filter(|&s| s > 0)
            .unwrap_or(DEFAULT_RETRY_AFTER_SECS);
        let due = now_ms + u64::from(retry_after) * 1000;
        if matches!(topic.status, 429 | 500) {
            // Throttled or a server error: repeat the last request later.
            self.query_due_ms = due;
            return DpsEvent::Throttled {
                status: topic.status,
                retry_after_secs: retry_after,
            };
        }
        if topic.status >= 400 {
            self.state = DpsState::Done;
            return DpsEvent::Failed(DpsFailure::Status {
                status: topic.status,
                error_code: r.error_code,
                message: r.message,
            });
        }
        match r.status {
            Some(OperationStatus::Assigned) => {
                self.state = DpsState::Done;
                match (r.assigned_hub, r.device_id) {
                    (Some(h), Some(d)) if !h.is_empty() && !d.is_empty() => DpsEvent::Assigned {
                        assigned_hub: h,
                        device_id: d,
                    },
                    _ => DpsEvent::Failed(DpsFailure::Malformed),
                }
            }
            Some(
                s @ (OperationStatus::Failed
                | OperationStatus::Disabled
                | OperationStatus::Unassigned),
            ) => {
                self.state = DpsState::Done;
                DpsEvent::Failed(DpsFailure::NotAssigned {
                    status: s,
                    error_code: r.state_error_code,
                    message: r.state_error_message,
                })
            }
            Some(OperationStatus::Assigning) | None => {
                let Some(op) = r.operation_id.filter(|o| !o.is_empty()) else {
                    self.state = DpsState::Done;
                    return DpsEvent::Failed(DpsFailure::Malformed);
                };
                if op.len() > MAX_OPERATION_ID_LEN || !component_ok(op.as_bytes(), true) {
                    self.state = DpsState::Done;
                    return DpsEvent::Failed(DpsFailure::OperationIdTooLong);
                }
                self.operation_id.clear();
                let _ = self.operation_id.extend_from_slice(op.as_bytes());
                self.query_due_ms = due;
                DpsEvent::Assigning {
                    operation_id: op,
                    retry_after_secs: retry_after,
                }
            }
        }
    }

    /// Forgets the registration the client was in, without an event: it is idle, so the next
    /// [`DpsClient::connect`] (which resets everything else it uses) is accepted. For a port
    /// that keeps one client for every registration and starts each afresh: a state store,
    /// where [`DpsClient::handle_closed`] also clears what `connect` clears anyway.
    pub fn abandon(&mut self) {
        self.state = DpsState::Idle;
    }

    /// The transport closed. Unless registration already finished, that is a failure the
    /// caller reports (the original reports FAILED when the connection drops).
    ///
    /// Inlined: a few stores, while a call returns its event through memory, and most callers
    /// (the ports' error paths) drop it (flash).
    #[inline(always)]
    pub fn handle_closed(&mut self) -> Option<DpsEvent<'static>> {
        let was = self.state;
        self.state = if was == DpsState::Idle {
            DpsState::Idle
        } else {
            DpsState::Done
        };
        self.tx_len = 0;
        self.tx_sent = 0;
        self.query_due_ms = 0;
        match was {
            DpsState::Idle | DpsState::Done => None,
            _ => Some(DpsEvent::Failed(DpsFailure::Malformed)),
        }
    }
}
