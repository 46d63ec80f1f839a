//! DPS response topics and payloads.

/// The operation status DPS reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    /// Still working.
    Assigning,
    /// Done: a hub was assigned.
    Assigned,
    /// Done: it failed.
    Failed,
    /// Done: the enrollment is disabled.
    Disabled,
    /// Done: no hub could be assigned (the original kept polling here; we stop).
    Unassigned,
}

impl OperationStatus {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "assigning" => Self::Assigning,
            "assigned" => Self::Assigned,
            "failed" => Self::Failed,
            "disabled" => Self::Disabled,
            "unassigned" => Self::Unassigned,
            _ => return None,
        })
    }
}

/// `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]`, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseTopic {
    /// The status code.
    pub status: u16,
    /// `retry-after`, seconds.
    pub retry_after_secs: Option<u32>,
}

/// Parses a DPS response topic; `None` if it is not one.
pub fn parse_topic(topic: &str) -> Option<ResponseTopic> {
    let rest = topic.strip_prefix("$dps/registrations/res/")?;
    let (status, query) = rest.split_once('/').unwrap_or((rest, ""));
    if status.is_empty() || status.len() > 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let status = status.parse().ok()?;
    let query = query.strip_prefix('?').unwrap_or(query);
    let retry_after_secs = crate::hub::PropertyBag(query)
        .get("retry-after")
        .and_then(|v| v.parse().ok());
    Some(ResponseTopic {
        status,
        retry_after_secs,
    })
}

/// The fields of a DPS response body the library uses. Strings are borrowed as received
/// (JSON escapes are not undone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistrationResponse<'a> {
    /// `operationId`.
    pub operation_id: Option<&'a str>,
    /// `status`.
    pub status: Option<OperationStatus>,
    /// `registrationState.assignedHub`.
    pub assigned_hub: Option<&'a str>,
    /// `registrationState.deviceId`.
    pub device_id: Option<&'a str>,
    /// `registrationState.errorCode`.
    pub state_error_code: Option<u32>,
    /// `registrationState.errorMessage`.
    pub state_error_message: Option<&'a str>,
    /// Top-level `errorCode` (error bodies).
    pub error_code: Option<u32>,
    /// Top-level `message` (error bodies).
    pub message: Option<&'a str>,
}

/// Why a response body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseError;

/// Parses a DPS response body. Needs `operationId` and `status`, or an `errorCode`, like the
/// Azure SDK for Embedded C; an unknown status string is an error.
///
/// A hand-written scanner (no serde): the body must be one JSON object (whitespace around it
/// allowed, nothing else); the fields above are read where they are strings (or `null`) and
/// unsigned integers (or `null`); every other value is checked as JSON and skipped, nested up
/// to [`MAX_DEPTH`] levels. A repeated field is an error. Strings must be UTF-8 without control
/// characters; escapes are checked to be a backslash and one character, and kept as received.
pub fn parse_response(payload: &[u8]) -> Result<RegistrationResponse<'_>, ResponseError> {
    let mut r = RegistrationResponse::default();
    let mut status = None;
    let mut p = Scan { s: payload, i: 0 };
    p.object(|p, key| {
        match key {
            b"operationId" => set(&mut r.operation_id, p.opt_str()?),
            b"status" => set(&mut status, p.opt_str()?),
            b"errorCode" => set(&mut r.error_code, p.opt_u32()?),
            b"message" => set(&mut r.message, p.opt_str()?),
            b"registrationState" if p.null()? => Ok(()),
            b"registrationState" => p.object(|p, key| {
                match key {
                    b"assignedHub" => set(&mut r.assigned_hub, p.opt_str()?),
                    b"deviceId" => set(&mut r.device_id, p.opt_str()?),
                    b"errorCode" => set(&mut r.state_error_code, p.opt_u32()?),
                    b"errorMessage" => set(&mut r.state_error_message, p.opt_str()?),
                    _ => return Ok(false),
                }
                .map(|_| true)
            }),
            _ => return Ok(false),
        }
        .map(|_| true)
    })?;
    if p.peek().is_some() {
        return Err(ResponseError);
    }
    r.status = match status {
        Some(s) => Some(OperationStatus::parse(s).ok_or(ResponseError)?),
        None => None,
    };
    if !((r.operation_id.is_some() && r.status.is_some()) || r.error_code.is_some()) {
        return Err(ResponseError);
    }
    Ok(r)
}

/// Deepest nesting of skipped values (objects and arrays) accepted.
pub const MAX_DEPTH: u32 = 64;

type R<T> = Result<T, ResponseError>;

/// Stores a field's value; a field seen twice is an error (as serde's derive).
fn set<T>(slot: &mut Option<T>, v: Option<T>) -> R<()> {
    if slot.is_some() {
        return Err(ResponseError);
    }
    *slot = v;
    Ok(())
}

/// A cursor over the body. Every read is bounds-checked with `get`: it never panics.
struct Scan<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    /// The next byte that is not JSON whitespace (not consumed).
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.s.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    /// Consumes `c` if it comes next (after whitespace).
    fn eat(&mut self, c: u8) -> bool {
        let yes = self.peek() == Some(c);
        if yes {
            self.i += 1;
        }
        yes
    }

    /// Consumes `word` exactly (after whitespace).
    fn word(&mut self, word: &[u8]) -> R<()> {
        self.peek();
        let end = self.i + word.len();
        if self.s.get(self.i..end) != Some(word) {
            return Err(ResponseError);
        }
        self.i = end;
        Ok(())
    }

    /// Consumes `null` if it comes next.
    fn null(&mut self) -> R<bool> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        self.word(b"null").map(|_| true)
    }

    /// A string's bytes between the quotes, as received.
    fn raw_str(&mut self) -> R<&'a [u8]> {
        if !self.eat(b'"') {
            return Err(ResponseError);
        }
        let start = self.i;
        loop {
            let c = *self.s.get(self.i).ok_or(ResponseError)?;
            self.i += 1;
            match c {
                b'"' => return self.s.get(start..self.i - 1).ok_or(ResponseError),
                // The escaped character may be a quote; it must not be a control character.
                b'\\' if self.s.get(self.i).is_some_and(|&e| e >= 0x20) => self.i += 1,
                c if c < 0x20 || c == b'\\' => return Err(ResponseError),
                _ => {}
            }
        }
    }

    /// A string value, UTF-8 checked.
    fn str(&mut self) -> R<&'a str> {
        core::str::from_utf8(self.raw_str()?).map_err(|_| ResponseError)
    }

    fn opt_str(&mut self) -> R<Option<&'a str>> {
        if self.null()? {
            return Ok(None);
        }
        self.str().map(Some)
    }

    /// An unsigned integer without sign, fraction, exponent or leading zero, within `u32`.
    fn opt_u32(&mut self) -> R<Option<u32>> {
        if self.null()? {
            return Ok(None);
        }
        let start = self.i;
        let mut v: u32 = 0;
        while let Some(d) = self
            .s
            .get(self.i)
            .and_then(|c| c.checked_sub(b'0'))
            .filter(|&d| d < 10)
        {
            if self.i > start && v == 0 {
                return Err(ResponseError);
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u32::from(d)))
                .ok_or(ResponseError)?;
            self.i += 1;
        }
        if self.i == start || matches!(self.s.get(self.i), Some(b'.' | b'e' | b'E')) {
            return Err(ResponseError);
        }
        Ok(Some(v))
    }

    /// A JSON number of any form (skipped).
    fn number(&mut self) -> R<()> {
        self.eat(b'-');
        let digits = |p: &mut Self| {
            let start = p.i;
            while p.s.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            if p.i == start {
                Err(ResponseError)
            } else {
                Ok(())
            }
        };
        digits(self)?;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            digits(self)?;
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            digits(self)?;
        }
        Ok(())
    }

    /// A member's key and its colon.
    fn key(&mut self) -> R<&'a [u8]> {
        let k = self.raw_str()?;
        if !self.eat(b':') {
            return Err(ResponseError);
        }
        Ok(k)
    }

    /// An object; `field` reads the value of a key it knows and returns true, or returns false
    /// and the value is skipped.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> R<bool>) -> R<()> {
        if !self.eat(b'{') {
            return Err(ResponseError);
        }
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            let k = self.key()?;
            if !field(self, k)? {
                self.skip()?;
            }
            if self.eat(b'}') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(ResponseError);
            }
        }
    }

    /// Any JSON value, checked and skipped; nesting is tracked in a bit stack (1: object), not
    /// by recursion.
    fn skip(&mut self) -> R<()> {
        let mut stack: u64 = 0;
        let mut depth = 0;
        loop {
            // A value.
            match self.peek().ok_or(ResponseError)? {
                c @ (b'{' | b'[') => {
                    self.i += 1;
                    let obj = c == b'{';
                    if depth == MAX_DEPTH {
                        return Err(ResponseError);
                    }
                    depth += 1;
                    stack = stack << 1 | u64::from(obj);
                    if !self.eat(if obj { b'}' } else { b']' }) {
                        if obj {
                            self.key()?;
                        }
                        continue;
                    }
                    depth -= 1;
                    stack >>= 1;
                }
                b'"' => {
                    self.str()?;
                }
                b't' => self.word(b"true")?,
                b'f' => self.word(b"false")?,
                b'n' => self.word(b"null")?,
                _ => self.number()?,
            }
            // After a value: close containers until one goes on.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let obj = stack & 1 == 1;
                if self.eat(b',') {
                    if obj {
                        self.key()?;
                    }
                    break;
                }
                if !self.eat(if obj { b'}' } else { b']' }) {
                    return Err(ResponseError);
                }
                depth -= 1;
                stack >>= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_vectors() {
        assert_eq!(
            parse_topic("$dps/registrations/res/202/?$rid=1&retry-after=3"),
            Some(ResponseTopic {
                status: 202,
                retry_after_secs: Some(3)
            })
        );
        assert_eq!(
            parse_topic("$dps/registrations/res/200/?$rid=1"),
            Some(ResponseTopic {
                status: 200,
                retry_after_secs: None
            })
        );
        assert_eq!(
            parse_topic("$dps/registrations/res/429/?retry-after=7&$rid=1"),
            Some(ResponseTopic {
                status: 429,
                retry_after_secs: Some(7)
            })
        );
        assert_eq!(parse_topic("$dps/registrations/res/2a2/?$rid=1"), None);
        assert_eq!(parse_topic("$iothub/twin/res/200/?$rid=1"), None);
    }

    #[test]
    fn assigning_and_assigned_bodies() {
        let r = parse_response(br#"{"operationId":"4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d","status":"assigning"}"#).unwrap();
        assert_eq!(r.status, Some(OperationStatus::Assigning));
        assert_eq!(
            r.operation_id,
            Some("4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d")
        );
        let r = parse_response(
            br#"{"operationId":"4.x","status":"assigned","registrationState":{"x509":{"enrollmentGroupId":"g"},"registrationId":"dev","createdDateTimeUtc":"2026-01-01T00:00:00Z","assignedHub":"hub.azure-devices.net","deviceId":"dev","status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2026-01-01T00:00:01Z","etag":"IjEi","payload":{"a":[1,2,{"b":null}]}}}"#,
        )
        .unwrap();
        assert_eq!(r.assigned_hub, Some("hub.azure-devices.net"));
        assert_eq!(r.device_id, Some("dev"));
    }

    #[test]
    fn error_and_failure_bodies() {
        let r = parse_response(br#"{"errorCode":401002,"trackingId":"t","message":"Unauthorized","timestampUtc":"2026-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(r.error_code, Some(401002));
        assert_eq!(r.message, Some("Unauthorized"));
        let r = parse_response(br#"{"operationId":"o","status":"disabled","registrationState":{"registrationId":"d","status":"disabled","errorCode":400207,"errorMessage":"Enrollment disabled"}}"#).unwrap();
        assert_eq!(r.status, Some(OperationStatus::Disabled));
        assert_eq!(r.state_error_code, Some(400207));
    }

    #[test]
    fn nulls_escapes_nesting_and_whitespace() {
        let r = parse_response(
            b" {\"operationId\" : \"o\\\"1\" ,\n\"status\":\"assigned\",\"message\":null,\"errorCode\":null,\"x\":[true,false,null,-1.5e+3,{},[],{\"a\":[{\"b\":\"}\"}]}],\"registrationState\":{\"deviceId\":\"d\",\"assignedHub\":\"h\",\"errorMessage\":null}}\r\n",
        )
        .unwrap();
        assert_eq!(r.operation_id, Some("o\\\"1"));
        assert_eq!(r.status, Some(OperationStatus::Assigned));
        assert_eq!((r.assigned_hub, r.device_id), (Some("h"), Some("d")));
        assert_eq!((r.message, r.error_code), (None, None));
        let r = parse_response(br#"{"errorCode":4294967295,"registrationState":null}"#).unwrap();
        assert_eq!(r.error_code, Some(u32::MAX));
        assert_eq!(r.assigned_hub, None);
        // Nesting: up to MAX_DEPTH levels in a skipped value, then an error (no recursion).
        let nest = |n: usize| {
            let mut v = b"{\"errorCode\":1,\"x\":".to_vec();
            v.extend(core::iter::repeat_n(b'[', n));
            v.extend(core::iter::repeat_n(b']', n));
            v.push(b'}');
            v
        };
        assert!(parse_response(&nest(MAX_DEPTH as usize)).is_ok());
        assert_eq!(
            parse_response(&nest(MAX_DEPTH as usize + 1)),
            Err(ResponseError)
        );
        assert_eq!(parse_response(&nest(100_000)), Err(ResponseError));
    }

    #[test]
    fn every_prefix_of_a_body_is_refused_without_panic() {
        let body = br#"{"operationId":"4.x","status":"assigned","registrationState":{"x":[1,{"y":"z"}],"assignedHub":"h","deviceId":"d","errorCode":5}}"#;
        assert!(parse_response(body).is_ok());
        for n in 0..body.len() {
            assert_eq!(parse_response(&body[..n]), Err(ResponseError), "{n}");
        }
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            br#"{"status":"assigned"}"#,
            br#"{"operationId":"o","status":"weird"}"#,
            br#"{"operationId":5,"status":"assigning"}"#,
            br#"{"operationId":"o","status":"assigning""#,
            b"\xff\xfe",
            // Trailing bytes, a repeated field, numbers that are not u32, bad nesting.
            br#"{"operationId":"o","status":"assigning"}x"#,
            br#"{"operationId":"o","operationId":"p","status":"assigning"}"#,
            br#"{"errorCode":-1}"#,
            br#"{"errorCode":1.5}"#,
            br#"{"errorCode":01}"#,
            br#"{"errorCode":4294967296}"#,
            br#"{"errorCode":1,"x":[1,,2]}"#,
            br#"{"errorCode":1,"x":{"a" 1}}"#,
            br#"{"errorCode":1,"x":[1}"#,
            br#"{"errorCode":1,"x":tru}"#,
            br#"{"errorCode":1,"x":"a\"#,
            b"{\"errorCode\":1,\"x\":\"\x01\"}",
            b"{\"errorCode\":1,\"x\":\"\xc3\"}",
            br#"{"errorCode":1,}"#,
            br#"{"operationId":"o","status":"assigned","registrationState":[]}"#,
        ] {
            assert_eq!(
                parse_response(bad),
                Err(ResponseError),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }
}
