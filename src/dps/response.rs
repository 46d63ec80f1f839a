//! DPS response topics and payloads.

use crate::mqtt::{is_utf8, Text};

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
    /// The status named `s` (as received).
    fn from_name(s: &[u8]) -> Option<Self> {
        Some(
            match lookup(s, FIRST_STATUS, FIRST_LITERAL)? - FIRST_STATUS {
                0 => OperationStatus::Assigning,
                1 => OperationStatus::Assigned,
                2 => OperationStatus::Failed,
                3 => OperationStatus::Disabled,
                4 => OperationStatus::Unassigned,
                _ => return None,
            },
        )
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

/// `$dps/registrations/res/`: the subscription filter without its `#`, cut at compile time
/// from the SUBSCRIBE packet (a part of its bytes in flash: no copy of its own, and not a
/// comparison at run time).
const RESPONSE_PREFIX: &[u8] = {
    let filter = super::SUBSCRIBE_FILTER.as_bytes();
    let (prefix, hash) = filter.split_at(filter.len() - 1);
    assert!(hash[0] == b'#');
    super::in_subscribe(prefix)
};

/// Parses a DPS response topic (a `&str`, or the received [`Text`](crate::mqtt::Text): no
/// UTF-8 check of it); `None` if it is not one.
pub fn parse_topic<'a>(topic: impl Into<crate::mqtt::Text<'a>>) -> Option<ResponseTopic> {
    let topic = topic.into();
    let bytes = topic.as_bytes();
    let prefix = RESPONSE_PREFIX;
    let rest = bytes.strip_prefix(prefix)?;
    // The status up to the first `/` (the query after it), or to the end.
    let (status, after) = match rest.iter().position(|&c| c == b'/') {
        Some(end) => (rest.get(..end)?, end + 1),
        None => (rest, rest.len()),
    };
    if status.len() > 3 {
        return None;
    }
    let status = decimal(status)? as u16;
    // The query after an optional `?`.
    let mut query = prefix.len() + after;
    if bytes.get(query) == Some(&b'?') {
        query += 1;
    }
    let retry_after_secs = crate::hub::properties::find_value(topic, query, "retry-after")
        .and_then(|v| {
            // An optional `+` (a pattern, not a call to compare one byte).
            let v = match v.as_bytes() {
                [b'+', digits @ ..] => digits,
                v => v,
            };
            decimal(v)
        });
    Some(ResponseTopic {
        status,
        retry_after_secs,
    })
}

/// Unsigned decimal digits (at least one) within `u32`.
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    // In 64 bits, refused as soon as it leaves `u32` (so it never overflows).
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        v = v * 10 + u64::from(d);
        if d > 9 || v > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(v as u32)
}

/// The fields of a DPS response body the library uses. Strings are borrowed as received
/// (JSON escapes are not undone), as [`Text`]: the body was checked to be UTF-8 once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistrationResponse<'a> {
    /// `operationId`.
    pub operation_id: Option<Text<'a>>,
    /// `status`.
    pub status: Option<OperationStatus>,
    /// `registrationState.assignedHub`.
    pub assigned_hub: Option<Text<'a>>,
    /// `registrationState.deviceId`.
    pub device_id: Option<Text<'a>>,
    /// `registrationState.errorCode`.
    pub state_error_code: Option<u32>,
    /// `registrationState.errorMessage`.
    pub state_error_message: Option<Text<'a>>,
    /// Top-level `errorCode` (error bodies).
    pub error_code: Option<u32>,
    /// Top-level `message` (error bodies).
    pub message: Option<Text<'a>>,
}

/// Why a response body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseError;

/// The names [`parse_response`] looks up, slot by slot: the body's members (`operationId`,
/// `status`, `errorCode`, `message`, `registrationState`), `registrationState`'s
/// (`assignedHub`, `deviceId`, `errorCode`, `errorMessage`), then the operation statuses from
/// slot [`FIRST_STATUS`] (in [`OperationStatus`]'s order). Only [`NAMES`] is in flash.
const NAME_LIST: [&str; 17] = [
    "operationId",
    "status",
    "errorCode",
    "message",
    "registrationState",
    "assignedHub",
    "deviceId",
    "errorCode",
    "errorMessage",
    "assigning",
    "assigned",
    "failed",
    "disabled",
    "unassigned",
    "true",
    "false",
    "null",
];
/// [`NAME_LIST`] as one string, each name after its length byte (no table of slices).
const NAMES: [u8; names_len()] = names();
/// `registrationState`'s slot (its value is read, not kept), and the first status's.
const STATE: usize = 4;
const FIRST_STATUS: usize = 9;
/// The JSON literals' first slot (`true`, `false`, `null`), after the statuses.
const FIRST_LITERAL: usize = 14;
const SLOTS: usize = 9;
/// The slots that hold unsigned integers (the others hold strings).
const NUMBERS: u32 = 1 << 2 | 1 << 7;

const fn names_len() -> usize {
    let (mut n, mut i) = (0, 0);
    while i < NAME_LIST.len() {
        n += 1 + NAME_LIST[i].len();
        i += 1;
    }
    n
}

const fn names() -> [u8; names_len()] {
    let mut out = [0; names_len()];
    let (mut at, mut i) = (0, 0);
    while i < NAME_LIST.len() {
        let name = NAME_LIST[i].as_bytes();
        assert!(name.len() < 256);
        out[at] = name.len() as u8;
        let mut j = 0;
        while j < name.len() {
            out[at + 1 + j] = name[j];
            j += 1;
        }
        at += 1 + name.len();
        i += 1;
    }
    out
}

/// The slot of `name` (as received) among slots `first..end`.
fn lookup(name: &[u8], first: usize, end: usize) -> Option<usize> {
    // The walk ends with the table (one end test); the first match from `first` on is the
    // one in `first..end` if there is one there.
    let (mut at, mut slot) = (0, 0);
    loop {
        let start = at + 1;
        at = start + usize::from(*NAMES.get(start - 1)?);
        if slot >= first && NAMES.get(start..at) == Some(name) {
            return (slot < end).then_some(slot);
        }
        slot += 1;
    }
}

/// Parses a DPS response body. Needs `operationId` and `status`, or an `errorCode`, like the
/// Azure SDK for Embedded C; an unknown status string is an error.
///
/// A hand-written scanner (no serde): the body must be UTF-8 and one JSON object (whitespace
/// around it allowed, nothing else); the fields above are read where they are strings (or
/// `null`) and unsigned integers (or `null`); every other value is checked as JSON and skipped,
/// nested up to [`MAX_DEPTH`] levels. A repeated field is an error. Strings must not hold
/// control characters; escapes are checked to be a backslash and one character, and kept as
/// received.
pub fn parse_response<'a>(payload: &'a [u8]) -> Result<RegistrationResponse<'a>, ResponseError> {
    // The slots are a local of their own, which the scanner fills through a reference: made
    // in place, not in a temporary copied into the scanner (flash, measured).
    let mut raw = [None; SLOTS];
    let mut p = Scan {
        s: payload,
        i: 0,
        seen: 0,
        raw: &mut raw,
    };
    if !is_utf8(payload) || p.body().is_none() || !p.at_end() {
        return Err(ResponseError);
    }
    // A span of the UTF-8 body between ASCII quotes is UTF-8.
    let text = |v: Option<&'a [u8]>| v.map(Text::checked);
    // A number slot holds digits, without a leading zero (a string, a sign, a fraction, an
    // exponent, `true` or `false` fail as digits).
    let number = |v: Option<&'a [u8]>| match v {
        Some([b'0', _, ..]) => Err(ResponseError),
        Some(v) => decimal(v).map(Some).ok_or(ResponseError),
        None => Ok(None),
    };
    let status = match raw[1] {
        Some(s) => Some(OperationStatus::from_name(s).ok_or(ResponseError)?),
        None => None,
    };
    let r = RegistrationResponse {
        operation_id: text(raw[0]),
        status,
        assigned_hub: text(raw[5]),
        device_id: text(raw[6]),
        state_error_code: number(raw[7])?,
        state_error_message: text(raw[8]),
        error_code: number(raw[2])?,
        message: text(raw[3]),
    };
    if !((r.operation_id.is_some() && r.status.is_some()) || r.error_code.is_some()) {
        return Err(ResponseError);
    }
    Ok(r)
}

/// Deepest nesting of skipped values (objects and arrays) accepted.
pub const MAX_DEPTH: u32 = 64;

/// A cursor over the body. Every read is bounds-checked with `get`: it never panics.
struct Scan<'a, 'r> {
    s: &'a [u8],
    i: usize,
    /// The slots seen (a repeated member is an error, as with serde's derive).
    seen: u32,
    /// Each slot's value as received: a string's bytes between its quotes, a number slot's
    /// token (`None`: absent or `null`).
    raw: &'r mut [Option<&'a [u8]>; SLOTS],
}

impl<'a> Scan<'a, '_> {
    /// The next byte that is not JSON whitespace (not consumed); 0 at the end. A NUL byte is
    /// not JSON outside a string (where it is refused as a control character), so every
    /// caller refuses it as it refuses the end: one register, not an `Option` (flash). Only the
    /// test for trailing bytes tells them apart ([`Scan::at_end`]).
    fn peek(&mut self) -> u8 {
        while let Some(&c) = self.s.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return c;
            }
            self.i += 1;
        }
        0
    }

    /// Nothing but whitespace is left.
    fn at_end(&mut self) -> bool {
        self.peek();
        self.i >= self.s.len()
    }

    /// Consumes `c` if it comes next (after whitespace).
    fn eat(&mut self, c: u8) -> bool {
        let yes = self.peek() == c;
        if yes {
            self.i += 1;
        }
        yes
    }

    /// Consumes the next byte if it is in `lo..=hi`. Inlined: with the constant bounds of each
    /// call it is a compare or two, smaller than the call (flash).
    #[inline(always)]
    fn take(&mut self, lo: u8, hi: u8) -> bool {
        let yes = self.s.get(self.i).is_some_and(|c| (lo..=hi).contains(c));
        if yes {
            self.i += 1;
        }
        yes
    }

    /// Digits (at least one).
    fn digits(&mut self) -> Option<()> {
        let start = self.i;
        while self.take(b'0', b'9') {}
        (self.i != start).then_some(())
    }

    /// A string, a number, `true`, `false` or `null`, whose first byte `c` is next. Strings
    /// must not hold control characters; an escape is a backslash and one character (not a
    /// control character; it may be a quote). Numbers have the JSON form, except that leading
    /// zeros are accepted.
    fn scalar(&mut self, c: u8) -> Option<()> {
        match c {
            b'"' => {
                self.i += 1;
                loop {
                    let c = *self.s.get(self.i)?;
                    self.i += 1;
                    match c {
                        b'"' => return Some(()),
                        b'\\' if self.take(0x20, 0xFF) => {}
                        c if c < 0x20 || c == b'\\' => return None,
                        _ => {}
                    }
                }
            }
            // `true`, `false` or `null`: the letters, one of the three (what follows a value
            // in a container is never a letter, so taking them all refuses no valid body).
            b'a'..=b'z' => {
                let start = self.i;
                while self.take(b'a', b'z') {}
                let word = self.s.get(start..self.i)?;
                lookup(word, FIRST_LITERAL, usize::MAX).map(|_| ())
            }
            _ => {
                self.take(b'-', b'-');
                self.digits()?;
                if self.take(b'.', b'.') {
                    self.digits()?;
                }
                if self.take(b'e', b'e') || self.take(b'E', b'E') {
                    let _ = self.take(b'+', b'+') || self.take(b'-', b'-');
                    self.digits()?;
                }
                Some(())
            }
        }
    }

    /// A member's key and its colon: the key's bytes between its quotes.
    fn key(&mut self) -> Option<&'a [u8]> {
        if self.peek() != b'"' {
            return None;
        }
        let start = self.i + 1;
        self.scalar(b'"')?;
        let key = self.s.get(start..self.i - 1)?;
        self.eat(b':').then_some(key)
    }

    /// The body: one loop over every value, its nesting tracked in a bit stack (1: object), not
    /// by recursion. The members of the body (depth 1) and of `registrationState` (depth 2) are
    /// read into the slots; every other value is checked and skipped, nested up to
    /// [`MAX_DEPTH`] levels below the object whose member it is.
    ///
    /// Called, not inlined into `parse_response` and the DPS thread (smaller, measured).
    #[inline(never)]
    fn body(&mut self) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        // The bit stack holds the skipped containers only: the objects whose members are read
        // (the body, `registrationState`) are the levels up to `base`.
        // `base`: 2 in `registrationState`, else 1.
        let (mut stack, mut depth, mut base, mut first) = (0u64, 1u32, 1u32, true);
        loop {
            // After a value or an opening (`first`: no comma before the first value): close
            // containers until one goes on; then the next value's slot, if it has one.
            let slot = loop {
                let obj = depth <= base || stack & 1 == 1;
                if !self.eat(if obj { b'}' } else { b']' }) {
                    if !first && !self.eat(b',') {
                        return None;
                    }
                    if !obj {
                        break None;
                    }
                    let key = self.key()?;
                    // The body's members (`base` 1) or `registrationState`'s (2).
                    break if depth == 1 {
                        lookup(key, 0, STATE + 1)
                    } else if depth == base {
                        lookup(key, STATE + 1, FIRST_STATUS)
                    } else {
                        None
                    };
                }
                if depth == 1 {
                    return Some(());
                }
                if depth > base {
                    stack >>= 1;
                } else {
                    base = 1;
                }
                depth -= 1;
                first = false;
            };
            let c = self.peek();
            let start = self.i;
            first = false;
            match slot {
                None => {
                    if c == b'{' || c == b'[' {
                        if depth - base == MAX_DEPTH {
                            return None;
                        }
                        self.i += 1;
                        depth += 1;
                        stack = stack << 1 | u64::from(c == b'{');
                        first = true;
                    } else {
                        self.scalar(c)?;
                    }
                }
                Some(slot) => {
                    if self.seen & 1 << slot != 0 {
                        return None;
                    }
                    self.seen |= 1 << slot;
                    if slot == STATE && c == b'{' {
                        self.i += 1;
                        depth += 1;
                        (base, first) = (2, true);
                        continue;
                    } else if slot == STATE && c != b'n' {
                        return None;
                    }
                    self.scalar(c)?;
                    // `null` leaves the slot empty; a string slot needs a string; a number
                    // slot's token is checked as digits.
                    if c != b'n' {
                        let (a, b) = if NUMBERS & 1 << slot != 0 {
                            (start, self.i)
                        } else if c == b'"' {
                            (start + 1, self.i - 1)
                        } else {
                            return None;
                        };
                        *self.raw.get_mut(slot)? = Some(self.s.get(a..b)?);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner as it was before it was rewritten smaller: the oracle of
    /// `new_scanner_agrees_with_the_old_one`.
    mod oracle {
        use crate::dps::response::{OperationStatus, RegistrationResponse, ResponseError};
        use crate::mqtt::{is_utf8, Text};

        /// `OperationStatus::parse` as it was.
        fn status(s: &[u8]) -> Option<OperationStatus> {
            let (name, status) = match (s.len(), s.first()) {
                (9, _) => ("assigning", OperationStatus::Assigning),
                (8, Some(b'a')) => ("assigned", OperationStatus::Assigned),
                (8, _) => ("disabled", OperationStatus::Disabled),
                (6, _) => ("failed", OperationStatus::Failed),
                (10, _) => ("unassigned", OperationStatus::Unassigned),
                _ => return None,
            };
            (name.as_bytes() == s).then_some(status)
        }

        /// Unsigned decimal digits (at least one) within `u32`.
        fn decimal(digits: &[u8]) -> Option<u32> {
            if digits.is_empty() {
                return None;
            }
            let mut v: u32 = 0;
            for &c in digits {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    return None;
                }
                v = v.checked_mul(10)?.checked_add(u32::from(d))?;
            }
            Some(v)
        }

        /// The members read, in [`parse_response`]'s slots: the top level's (`operationId`,
        /// `status`, `errorCode`, `message`), then `registrationState`'s (`assignedHub`, `deviceId`,
        /// `errorCode`, `errorMessage`), then `registrationState` itself (whose slot holds nothing):
        /// key `i` is `KEY_NAMES[KEY_SPANS[i].0..KEY_SPANS[i].1]` (one string and a table of bytes, not
        /// a table of slices).
        const KEY_NAMES: &[u8] =
            b"operationIdstatuserrorCodemessageassignedHubdeviceIderrorMessageregistrationState";
        const KEY_SPANS: [(u8, u8); SLOTS + 1] = [
            (0, 11),
            (11, 17),
            (17, 26),
            (26, 33),
            (33, 44),
            (44, 52),
            (17, 26),
            (52, 64),
            (64, 81),
        ];
        const SLOTS: usize = 8;
        /// The slots that hold unsigned integers (the others hold strings).
        const NUMBERS: u32 = 1 << 2 | 1 << 6;
        /// The keys read in the body's members (and `registrationState`), and in `registrationState`'s.
        const TOP_KEYS: u32 = 0b1_0000_1111;
        const STATE_KEYS: u32 = 0b0_1111_0000;
        /// What the next value is read as, besides a slot (`0..SLOTS`): `registrationState` (an object
        /// or `null`), a value checked and skipped, the body (an object).
        const STATE: usize = SLOTS;
        const ANY: usize = SLOTS + 1;
        const BODY: usize = SLOTS + 2;

        /// Parses a DPS response body. Needs `operationId` and `status`, or an `errorCode`, like the
        /// Azure SDK for Embedded C; an unknown status string is an error.
        ///
        /// A hand-written scanner (no serde): the body must be UTF-8 and one JSON object (whitespace
        /// around it allowed, nothing else); the fields above are read where they are strings (or
        /// `null`) and unsigned integers (or `null`); every other value is checked as JSON and skipped,
        /// nested up to [`MAX_DEPTH`] levels. A repeated field is an error. Strings must not hold
        /// control characters; escapes are checked to be a backslash and one character, and kept as
        /// received.
        pub(super) fn parse_response(
            payload: &[u8],
        ) -> Result<RegistrationResponse<'_>, ResponseError> {
            if !is_utf8(payload) {
                return Err(ResponseError);
            }
            let mut p = Scan {
                s: payload,
                i: 0,
                seen: 0,
                raw: [None; SLOTS],
            };
            p.body()?;
            if p.peek().is_some() {
                return Err(ResponseError);
            }
            let mut strs: [Option<Text<'_>>; SLOTS] = [None; SLOTS];
            let mut nums: [Option<u32>; SLOTS] = [None; SLOTS];
            for (i, span) in p.raw.iter().enumerate() {
                if let Some((a, b)) = *span {
                    let v = payload.get(a..b).ok_or(ResponseError)?;
                    if NUMBERS & 1 << i != 0 {
                        // No leading zero (sign, fraction and exponent fail as digits).
                        if v.len() > 1 && v[0] == b'0' {
                            return Err(ResponseError);
                        }
                        nums[i] = Some(decimal(v).ok_or(ResponseError)?);
                    } else {
                        // A span of the UTF-8 body between ASCII quotes: UTF-8.
                        strs[i] = Some(Text::checked(v));
                    }
                }
            }
            let status = match strs[1] {
                Some(s) => Some(status(s.as_bytes()).ok_or(ResponseError)?),
                None => None,
            };
            let r = RegistrationResponse {
                operation_id: strs[0],
                status,
                assigned_hub: strs[4],
                device_id: strs[5],
                state_error_code: nums[6],
                state_error_message: strs[7],
                error_code: nums[2],
                message: strs[3],
            };
            if !((r.operation_id.is_some() && r.status.is_some()) || r.error_code.is_some()) {
                return Err(ResponseError);
            }
            Ok(r)
        }

        /// Deepest nesting of skipped values (objects and arrays) accepted.
        const MAX_DEPTH: u32 = 64;

        type R<T> = Result<T, ResponseError>;

        /// A cursor over the body. Every read is bounds-checked with `get`: it never panics.
        struct Scan<'a> {
            s: &'a [u8],
            i: usize,
            /// The keys seen (a repeated member is an error, as with serde's derive).
            seen: u32,
            /// Each slot's value: the string between its quotes or the integer's digits (`None`: absent
            /// or `null`).
            raw: [Option<(usize, usize)>; SLOTS],
        }

        impl Scan<'_> {
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

            /// Consumes the rest of `word`, whose first byte was peeked.
            fn word(&mut self, word: &[u8]) -> R<()> {
                for &w in word {
                    if self.s.get(self.i) != Some(&w) {
                        return Err(ResponseError);
                    }
                    self.i += 1;
                }
                Ok(())
            }

            /// A string: the span of its bytes between the quotes, as received.
            fn raw_str(&mut self) -> R<(usize, usize)> {
                if !self.eat(b'"') {
                    return Err(ResponseError);
                }
                let start = self.i;
                loop {
                    let c = *self.s.get(self.i).ok_or(ResponseError)?;
                    self.i += 1;
                    match c {
                        b'"' => return Ok((start, self.i - 1)),
                        // The escaped character may be a quote; it must not be a control character.
                        b'\\' if self.s.get(self.i).is_some_and(|&e| e >= 0x20) => self.i += 1,
                        c if c < 0x20 || c == b'\\' => return Err(ResponseError),
                        _ => {}
                    }
                }
            }

            /// Digits (at least one).
            fn digits(&mut self) -> R<()> {
                let start = self.i;
                while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
                if self.i == start {
                    Err(ResponseError)
                } else {
                    Ok(())
                }
            }

            /// A JSON number of any form.
            fn number(&mut self) -> R<()> {
                if self.s.get(self.i) == Some(&b'-') {
                    self.i += 1;
                }
                self.digits()?;
                if self.s.get(self.i) == Some(&b'.') {
                    self.i += 1;
                    self.digits()?;
                }
                if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
                    self.i += 1;
                    if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                        self.i += 1;
                    }
                    self.digits()?;
                }
                Ok(())
            }

            /// A member's key and its colon: what its value is read as. Keys are looked up only in the
            /// members of the body and of `registrationState` (`keys`; 0 elsewhere).
            fn key(&mut self, keys: u32) -> R<usize> {
                let (a, b) = self.raw_str()?;
                if !self.eat(b':') {
                    return Err(ResponseError);
                }
                let key = self.s.get(a..b).ok_or(ResponseError)?;
                for (i, &(a, b)) in KEY_SPANS.iter().enumerate() {
                    if keys & 1 << i != 0
                        && KEY_NAMES.get(usize::from(a)..usize::from(b)) == Some(key)
                    {
                        if self.seen & 1 << i != 0 {
                            return Err(ResponseError);
                        }
                        self.seen |= 1 << i;
                        return Ok(i);
                    }
                }
                Ok(ANY)
            }

            /// The body: one loop over every value, nesting tracked in a bit stack (1: object), not by
            /// recursion. The members of the body (depth 1) and of `registrationState` (depth 2) are
            /// read into the slots; every other value is checked and skipped.
            fn body(&mut self) -> R<()> {
                let mut stack: u64 = 0;
                let mut depth: u32 = 0;
                // The depth of the object whose members are read: 1, or 2 in `registrationState`.
                let mut base: u32 = 1;
                let mut want = BODY;
                loop {
                    // A value.
                    let c = self.peek().ok_or(ResponseError)?;
                    let start = self.i;
                    let container = c == b'{' || (c == b'[' && want == ANY);
                    if c == b'n' && want != BODY {
                        self.word(b"null")?;
                    } else if container && want >= STATE {
                        // Levels in a skipped value count from the object whose member it is (the
                        // bit stack may lose the bits of those two objects: they are known).
                        if depth == MAX_DEPTH + base {
                            return Err(ResponseError);
                        }
                        self.i += 1;
                        depth += 1;
                        let obj = c == b'{';
                        stack = stack << 1 | u64::from(obj);
                        if want == STATE {
                            base = 2;
                        }
                        if !self.eat(if obj { b'}' } else { b']' }) {
                            want = if obj {
                                self.members_of(depth, base)?
                            } else {
                                ANY
                            };
                            continue;
                        }
                        depth -= 1;
                        stack >>= 1;
                        if depth < 2 {
                            base = 1;
                        }
                    } else if want >= STATE && want != ANY {
                        return Err(ResponseError);
                    } else if want < SLOTS && NUMBERS & 1 << want == 0 || c == b'"' && want == ANY {
                        let span = self.raw_str()?;
                        if want < SLOTS {
                            self.raw[want] = Some(span);
                        }
                    } else if want == ANY && c == b't' {
                        self.word(b"true")?;
                    } else if want == ANY && c == b'f' {
                        self.word(b"false")?;
                    } else {
                        self.number()?;
                        if want < SLOTS {
                            self.raw[want] = Some((start, self.i));
                        }
                    }
                    // After a value: close containers until one goes on.
                    loop {
                        if depth == 0 {
                            return Ok(());
                        }
                        let obj = depth <= base || stack & 1 == 1;
                        if self.eat(b',') {
                            want = if obj {
                                self.members_of(depth, base)?
                            } else {
                                ANY
                            };
                            break;
                        }
                        if !self.eat(if obj { b'}' } else { b']' }) {
                            return Err(ResponseError);
                        }
                        depth -= 1;
                        stack >>= 1;
                        if depth < 2 {
                            base = 1;
                        }
                    }
                }
            }

            /// The next member's key in an object at `depth`.
            fn members_of(&mut self, depth: u32, base: u32) -> R<usize> {
                let keys = match (depth == base, base) {
                    (false, _) => 0,
                    (true, 1) => TOP_KEYS,
                    (true, _) => STATE_KEYS,
                };
                self.key(keys)
            }
        }
    }

    fn text(s: &str) -> Option<Text<'_>> {
        Some(Text::from(s))
    }

    #[test]
    fn names() {
        let slot = |name: &str, from, to| lookup(name.as_bytes(), from, to);
        let top = [
            "operationId",
            "status",
            "errorCode",
            "message",
            "registrationState",
        ];
        for (i, name) in top.iter().enumerate() {
            assert_eq!(slot(name, 0, STATE + 1), Some(i), "{name}");
        }
        assert_eq!(slot("registrationState", 0, STATE + 1), Some(STATE));
        let state = ["assignedHub", "deviceId", "errorCode", "errorMessage"];
        for (i, name) in state.iter().enumerate() {
            assert_eq!(slot(name, STATE + 1, FIRST_STATUS), Some(5 + i), "{name}");
            assert_eq!(slot(name, 0, STATE + 1), (i == 2).then_some(2), "{name}");
        }
        let statuses = ["assigning", "assigned", "failed", "disabled", "unassigned"];
        for (i, name) in statuses.iter().enumerate() {
            assert_eq!(slot(name, FIRST_STATUS, usize::MAX), Some(FIRST_STATUS + i));
            assert_eq!(slot(name, 0, FIRST_STATUS), None);
        }
        assert_eq!(slot("assigning", STATE + 1, FIRST_STATUS), None);
        for name in [
            "",
            "operationI",
            "Status",
            "assignedHubx",
            "s\\\"x",
            "\"",
            "status\"",
        ] {
            assert_eq!(slot(name, 0, usize::MAX), None, "{name}");
        }
        assert_eq!(SLOTS, FIRST_STATUS);
    }

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

    /// `decimal` is `u32`'s parse without a sign: every digit string around the limits, with
    /// leading zeros, and with each byte value in each place.
    #[test]
    fn decimal_is_the_unsigned_parse() {
        let want = |b: &[u8]| {
            core::str::from_utf8(b)
                .ok()
                .filter(|s| !s.starts_with('+'))
                .and_then(|s| s.parse::<u32>().ok())
        };
        let mut cases: std::vec::Vec<std::vec::Vec<u8>> = std::vec::Vec::new();
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            429496729,
            429496730,
            4294967294,
            4294967295,
            4294967296,
            4294967299,
            4294967300,
            9999999999,
            42949672950,
            9_999_999_999_999_999_999,
        ] {
            for zeros in 0..3 {
                let mut v = std::vec![b'0'; zeros];
                v.extend_from_slice(std::format!("{n}").as_bytes());
                cases.push(v);
            }
        }
        cases.push(std::vec::Vec::new());
        for base in [&b"4294967295"[..], b"12"] {
            for at in 0..base.len() {
                for c in 0..=255u8 {
                    let mut v = base.to_vec();
                    v[at] = c;
                    cases.push(v);
                }
            }
        }
        for c in &cases {
            assert_eq!(decimal(c), want(c), "{c:?}");
        }
    }

    /// `parse_topic` as it was before the status's `/` was taken from where it was found:
    /// the same answers for every tail built from the pieces below.
    #[test]
    fn topic_parser_agrees_with_the_old_one() {
        fn old(topic: &str) -> Option<ResponseTopic> {
            let bytes = topic.as_bytes();
            let prefix = RESPONSE_PREFIX;
            let rest = bytes.strip_prefix(prefix)?;
            let end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
            let status = rest.get(..end)?;
            if status.len() > 3 {
                return None;
            }
            let status = decimal(status)? as u16;
            let mut query = prefix.len() + end;
            if bytes.get(query) == Some(&b'/') {
                query += 1;
            }
            if bytes.get(query) == Some(&b'?') {
                query += 1;
            }
            let retry_after_secs =
                crate::hub::properties::find_value(Text::from(topic), query, "retry-after")
                    .and_then(|v| {
                        let v = match v.as_bytes() {
                            [b'+', digits @ ..] => digits,
                            v => v,
                        };
                        decimal(v)
                    });
            Some(ResponseTopic {
                status,
                retry_after_secs,
            })
        }
        let pieces = [
            "",
            "/",
            "?",
            "//",
            "/?",
            "?/",
            "200",
            "1234",
            "4",
            "a",
            "&",
            "$rid=1",
            "retry-after=5",
            "retry-after=+7",
            "retry-after",
            "retry-after=",
            "&retry-after=9",
        ];
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let topic = std::format!("$dps/registrations/res/{a}{b}{c}{d}");
                        assert_eq!(parse_topic(topic.as_str()), old(&topic), "{topic}");
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 80_000);
    }

    #[test]
    fn assigning_and_assigned_bodies() {
        let r = parse_response(br#"{"operationId":"4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d","status":"assigning"}"#).unwrap();
        assert_eq!(r.status, Some(OperationStatus::Assigning));
        assert_eq!(
            r.operation_id,
            text("4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d")
        );
        let r = parse_response(
            br#"{"operationId":"4.x","status":"assigned","registrationState":{"x509":{"enrollmentGroupId":"g"},"registrationId":"dev","createdDateTimeUtc":"2026-01-01T00:00:00Z","assignedHub":"hub.azure-devices.net","deviceId":"dev","status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2026-01-01T00:00:01Z","etag":"IjEi","payload":{"a":[1,2,{"b":null}]}}}"#,
        )
        .unwrap();
        assert_eq!(r.assigned_hub, text("hub.azure-devices.net"));
        assert_eq!(r.device_id, text("dev"));
    }

    #[test]
    fn error_and_failure_bodies() {
        let r = parse_response(br#"{"errorCode":401002,"trackingId":"t","message":"Unauthorized","timestampUtc":"2026-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(r.error_code, Some(401002));
        assert_eq!(r.message, text("Unauthorized"));
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
        assert_eq!(r.operation_id, text("o\\\"1"));
        assert_eq!(r.status, Some(OperationStatus::Assigned));
        assert_eq!((r.assigned_hub, r.device_id), (text("h"), text("d")));
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
        // The same limit for a skipped value in `registrationState` (counted from its object,
        // one level deeper than the body), objects and arrays mixed, and the members after it
        // still read (the bit stack gives back the levels it closed).
        let nest_in_state = |n: usize| {
            let mut v = b"{\"errorCode\":1,\"registrationState\":{\"x\":".to_vec();
            for i in 0..n {
                v.extend_from_slice(if i % 2 == 0 { b"{\"k\":" } else { b"[" });
            }
            v.push(b'0');
            for i in (0..n).rev() {
                v.push(if i % 2 == 0 { b'}' } else { b']' });
            }
            v.extend_from_slice(b",\"deviceId\":\"d\"},\"message\":\"m\"}");
            v
        };
        let deepest = nest_in_state(MAX_DEPTH as usize);
        let r = parse_response(&deepest).unwrap();
        assert_eq!(Ok(r), oracle::parse_response(&deepest));
        assert_eq!(r.device_id, Some(Text::checked(b"d")));
        assert_eq!(r.message, Some(Text::checked(b"m")));
        assert_eq!(
            parse_response(&nest_in_state(MAX_DEPTH as usize + 1)),
            Err(ResponseError)
        );
    }

    /// The end of the input and a NUL byte read the same to the scanner (`peek` answers 0 for
    /// both), but neither is accepted where the other was not: a NUL put in each place of a
    /// body, or after it, gets the old scanner's answer.
    #[test]
    fn nul_bytes_are_refused_as_the_old_scanner_does() {
        let body = br#"{"operationId":"4.x","status":"assigned","registrationState":{"x":[1,{"y":"z"},null,true],"assignedHub":"h","deviceId":"d","errorCode":5}, "errorCode" : 7 }"#;
        assert!(parse_response(body).is_ok());
        for at in 0..=body.len() {
            for replace in [false, true] {
                let mut b = body.to_vec();
                if replace && at < b.len() {
                    b[at] = 0;
                } else {
                    b.insert(at, 0);
                }
                assert_eq!(parse_response(&b), oracle::parse_response(&b), "{at}");
                assert!(parse_response(&b).is_err(), "{at}");
            }
        }
        let mut b = body.to_vec();
        b.extend_from_slice(b" \0");
        assert_eq!(parse_response(&b), Err(ResponseError));
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
            br#"{"errorCode":1,"registrationState":{},"registrationState":null}"#,
            br#"{"errorCode":1,"registrationState":{"deviceId":"a","deviceId":"b"}}"#,
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

    /// A small deterministic PRNG (SplitMix64) for the differential test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a [u8]]) -> &'a [u8] {
            from[self.below(from.len())]
        }
    }

    const KEYS: &[&[u8]] = &[
        b"operationId",
        b"status",
        b"errorCode",
        b"message",
        b"registrationState",
        b"assignedHub",
        b"deviceId",
        b"errorMessage",
        b"x",
        b"",
        b"stat\\u0075s",
        b"errorcode",
        b"registrationStat",
    ];
    const SCALARS: &[&[u8]] = &[
        b"\"assigned\"",
        b"\"assigning\"",
        b"\"failed\"",
        b"\"disabled\"",
        b"\"unassigned\"",
        b"\"weird\"",
        b"\"\"",
        b"\"a\\\"b\\\\\"",
        b"\"h\xc3\xa9\"",
        b"\"o.1\"",
        b"0",
        b"7",
        b"01",
        b"00",
        b"-1",
        b"-0",
        b"1.5",
        b"0.0",
        b"1e3",
        b"2E-7",
        b"401002",
        b"4294967295",
        b"4294967296",
        b"99999999999",
        b"true",
        b"false",
        b"null",
    ];
    const INSERTS: &[&[u8]] = &[
        b"\"",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\\",
        b" ",
        b"\n",
        b"\t",
        b"0",
        b"1",
        b"9",
        b"-",
        b"+",
        b".",
        b"e",
        b"E",
        b"null",
        b"nul",
        b"true",
        b"\xff",
        b"\xc3",
        b"\x80",
        b"\xe2\x82\xac",
        b"\x01",
        b"\x00",
        b"\\\"",
        b"\\\\",
        b"\\u0041",
        b"\\\x01",
        b"\\\x1f",
        b"\x1f",
        b"\\ ",
        b"\x7f",
        b"{}",
        b"[]",
        b"\"errorCode\":1,",
        b"\"status\":\"assigned\",",
        b"\"operationId\":\"o\",",
        b"\"registrationState\":{},",
        b"\"deviceId\":\"d\",",
        b",\"errorCode\":2",
    ];

    /// A random JSON value (mostly well formed), `top`: an object with the body's keys.
    fn value(r: &mut Rng, out: &mut std::vec::Vec<u8>, depth: u32) {
        match r.below(if depth > 4 { 3 } else { 8 }) {
            0..=2 => out.extend_from_slice(r.pick(SCALARS)),
            3..=5 => {
                out.push(b'{');
                for i in 0..r.below(5) {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'"');
                    out.extend_from_slice(r.pick(KEYS));
                    out.extend_from_slice(b"\":");
                    value(r, out, depth + 1);
                }
                out.push(b'}');
            }
            _ => {
                out.push(b'[');
                for i in 0..r.below(4) {
                    if i > 0 {
                        out.push(b',');
                    }
                    value(r, out, depth + 1);
                }
                out.push(b']');
            }
        }
    }

    /// A body that often parses: the body's members with values of the right kinds, a
    /// `registrationState`, other members.
    fn body(r: &mut Rng) -> std::vec::Vec<u8> {
        let mut out = b"{".to_vec();
        let members = r.below(6) + 1;
        for i in 0..members {
            if i > 0 {
                out.push(b',');
            }
            match r.below(9) {
                0 => out.extend_from_slice(b"\"operationId\":\"4.abc\""),
                1 => {
                    out.extend_from_slice(b"\"status\":");
                    out.extend_from_slice(r.pick(&SCALARS[..7]));
                }
                2 => out.extend_from_slice(b"\"errorCode\":401002"),
                3 => out.extend_from_slice(b"\"message\":\"m\""),
                4 | 5 => {
                    out.extend_from_slice(b"\"registrationState\":{");
                    for j in 0..r.below(5) {
                        if j > 0 {
                            out.push(b',');
                        }
                        out.push(b'"');
                        out.extend_from_slice(r.pick(KEYS));
                        out.extend_from_slice(b"\":");
                        match r.below(3) {
                            0 => out.extend_from_slice(b"\"v\""),
                            1 => out.extend_from_slice(b"5"),
                            _ => value(r, &mut out, 2),
                        }
                    }
                    out.push(b'}');
                }
                _ => {
                    out.push(b'"');
                    out.extend_from_slice(r.pick(KEYS));
                    out.extend_from_slice(b"\":");
                    value(r, &mut out, 1);
                }
            }
        }
        out.push(b'}');
        out
    }

    /// Nesting around the limit: in a member of the body, of `registrationState`, of both kinds.
    fn nested(r: &mut Rng) -> std::vec::Vec<u8> {
        let n = MAX_DEPTH as usize - 2 + r.below(5);
        let mut out = b"{\"errorCode\":1,".to_vec();
        let state = r.below(2) == 0;
        if state {
            out.extend_from_slice(b"\"registrationState\":{\"deviceId\":\"d\",");
        }
        out.extend_from_slice(b"\"x\":");
        let mut close = std::vec::Vec::new();
        for _ in 0..n {
            if r.below(2) == 0 {
                out.push(b'[');
                close.push(b']');
            } else {
                out.extend_from_slice(b"{\"a\":");
                close.push(b'}');
            }
        }
        out.push(b'1');
        close.reverse();
        out.extend_from_slice(&close);
        if state {
            out.push(b'}');
        }
        out.push(b'}');
        out
    }

    fn mutate(r: &mut Rng, b: &mut std::vec::Vec<u8>) {
        let at = r.below(b.len() + 1);
        match r.below(8) {
            0 if at < b.len() => b[at] ^= 1 << r.below(8),
            1 if at < b.len() => {
                b.remove(at);
            }
            2 => b.truncate(at),
            3 => {
                // A copy of a piece elsewhere (repeated members, unbalanced brackets).
                let from = r.below(b.len() + 1);
                let to = (from + r.below(24)).min(b.len());
                let piece = b[from..to].to_vec();
                let at = r.below(b.len() + 1);
                b.splice(at..at, piece);
            }
            4 => {
                // A value wrapped in an array or an object.
                let (open, close): (&[u8], &[u8]) = if r.below(2) == 0 {
                    (b"[", b"]")
                } else {
                    (b"{\"k\":", b"}")
                };
                let end = (at + r.below(16)).min(b.len());
                b.splice(end..end, close.iter().copied());
                b.splice(at..at, open.iter().copied());
            }
            5 => {
                let s = r.pick(SCALARS);
                b.splice(at..at, s.iter().copied());
            }
            _ => {
                let s = r.pick(INSERTS);
                b.splice(at..at, s.iter().copied());
            }
        }
    }

    #[test]
    fn new_scanner_agrees_with_the_old_one() {
        let seeds: &[&[u8]] = &[
            br#"{"operationId":"4.d0a671905ea5b2c8.42d78160-4c78-479e-8be7-61d5e55dac0d","status":"assigning"}"#,
            br#"{"operationId":"4.x","status":"assigned","registrationState":{"x509":{"enrollmentGroupId":"g"},"registrationId":"dev","createdDateTimeUtc":"2026-01-01T00:00:00Z","assignedHub":"hub.azure-devices.net","deviceId":"dev","status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2026-01-01T00:00:01Z","etag":"IjEi","payload":{"a":[1,2,{"b":null}]}}}"#,
            br#"{"errorCode":401002,"trackingId":"t","message":"Unauthorized","timestampUtc":"2026-01-01T00:00:00Z"}"#,
            br#"{"operationId":"o","status":"disabled","registrationState":{"registrationId":"d","status":"disabled","errorCode":400207,"errorMessage":"Enrollment disabled"}}"#,
            b" {\"operationId\" : \"o\\\"1\" ,\n\"status\":\"assigned\",\"message\":null,\"errorCode\":null,\"x\":[true,false,null,-1.5e+3,{},[],{\"a\":[{\"b\":\"}\"}]}],\"registrationState\":{\"deviceId\":\"d\",\"assignedHub\":\"h\",\"errorMessage\":null}}\r\n",
            br#"{"errorCode":4294967295,"registrationState":null}"#,
        ];
        let mut r = Rng(0x5EED_0FD5);
        let (mut total, mut ok) = (0u32, 0u32);
        let mut check = |b: &[u8]| {
            let new = parse_response(b);
            assert_eq!(
                new,
                oracle::parse_response(b),
                "{:?}",
                std::string::String::from_utf8_lossy(b)
            );
            total += 1;
            ok += u32::from(new.is_ok());
        };
        for _ in 0..40_000 {
            let mut b = match r.below(8) {
                0..=2 => r.pick(seeds).to_vec(),
                3 => nested(&mut r),
                _ => body(&mut r),
            };
            check(&b);
            for _ in 0..4 {
                for _ in 0..r.below(3) + 1 {
                    mutate(&mut r, &mut b);
                }
                check(&b);
            }
        }
        assert!(total >= 200_000, "{total}");
        // Enough of both answers for the comparison to mean something.
        assert!(
            ok > total / 10 && ok < total - total / 10,
            "{ok} of {total}"
        );
    }
}
