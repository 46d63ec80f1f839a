//! DPS response topics and payloads.

use serde::Deserialize;

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawState<'a> {
    #[serde(borrow, default)]
    assigned_hub: Option<&'a str>,
    #[serde(borrow, default)]
    device_id: Option<&'a str>,
    #[serde(default)]
    error_code: Option<u32>,
    #[serde(borrow, default)]
    error_message: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw<'a> {
    #[serde(borrow, default)]
    operation_id: Option<&'a str>,
    #[serde(borrow, default)]
    status: Option<&'a str>,
    #[serde(borrow, default)]
    registration_state: Option<RawState<'a>>,
    #[serde(default)]
    error_code: Option<u32>,
    #[serde(borrow, default)]
    message: Option<&'a str>,
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
pub fn parse_response(payload: &[u8]) -> Result<RegistrationResponse<'_>, ResponseError> {
    let (raw, _) = serde_json_core::from_slice::<Raw<'_>>(payload).map_err(|_| ResponseError)?;
    let status = match raw.status {
        Some(s) => Some(OperationStatus::parse(s).ok_or(ResponseError)?),
        None => None,
    };
    if !((raw.operation_id.is_some() && status.is_some()) || raw.error_code.is_some()) {
        return Err(ResponseError);
    }
    let st = raw.registration_state;
    Ok(RegistrationResponse {
        operation_id: raw.operation_id,
        status,
        assigned_hub: st.as_ref().and_then(|s| s.assigned_hub),
        device_id: st.as_ref().and_then(|s| s.device_id),
        state_error_code: st.as_ref().and_then(|s| s.error_code),
        state_error_message: st.as_ref().and_then(|s| s.error_message),
        error_code: raw.error_code,
        message: raw.message,
    })
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
