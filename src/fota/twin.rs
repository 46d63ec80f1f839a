//! The twin JSON Azure FOTA reads: `firmware` under `desired` (or at the root of a desired
//! patch), and `reported.firmware` of a full twin.

use serde::de::IgnoredAny;
use serde::Deserialize;

/// `fwVersion`: a string, or a number formatted in decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version<'a> {
    /// A string, as received.
    Text(&'a str),
    /// A number.
    Number(i64),
}

/// Where to download from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Location<'a> {
    /// Host name (optionally with `:port`).
    #[serde(borrow)]
    pub host: &'a str,
    /// Path of the image on the host.
    #[serde(borrow)]
    pub path: &'a str,
}

/// The desired `firmware` object with `fwVersion` of type `V` (serde-json-core cannot look
/// ahead, so a string and a number are tried one after the other).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDesired<'a, V> {
    #[serde(default = "none")]
    fw_version: Option<V>,
    #[serde(borrow, default)]
    job_id: Option<&'a str>,
    #[serde(borrow, default)]
    fw_location: Option<Location<'a>>,
    #[serde(default)]
    fw_fragment_size: Option<u32>,
}

/// The desired `firmware` object, as received (fields not yet validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DesiredFirmware<'a> {
    /// `fwVersion`.
    pub fw_version: Option<Version<'a>>,
    /// `jobId`.
    pub job_id: Option<&'a str>,
    /// `fwLocation`.
    pub fw_location: Option<Location<'a>>,
    /// `fwFragmentSize`.
    pub fw_fragment_size: Option<u32>,
}

/// The reported `firmware` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ReportedFirmware<'a> {
    /// `fwUpdateStatus`.
    #[serde(borrow, default)]
    pub fw_update_status: Option<&'a str>,
    /// `currentFwVersion`.
    #[serde(borrow, default)]
    pub current_fw_version: Option<&'a str>,
    /// `pendingFwVersion`.
    #[serde(borrow, default)]
    pub pending_fw_version: Option<&'a str>,
    /// `jobId`.
    #[serde(borrow, default)]
    pub job_id: Option<&'a str>,
}

/// A `firmware` member: absent, parsed, or of the wrong shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<T> {
    /// Absent.
    Absent,
    /// Present and of the right types.
    Ok(T),
    /// Present with a wrong type somewhere.
    Invalid,
}

/// What a twin document or desired patch says about firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmwareTwin<'a> {
    /// The desired `firmware` object.
    pub desired: Member<DesiredFirmware<'a>>,
    /// `None`: no `reported` object. `Some(Absent)`: `reported` without `firmware`.
    pub reported: Option<Member<ReportedFirmware<'a>>>,
}

#[derive(Deserialize)]
struct Section<F> {
    #[serde(default = "none")]
    firmware: Option<F>,
}

fn none<T>() -> Option<T> {
    None
}

/// The desired side only (the reported side is skipped, whatever its shape).
#[derive(Deserialize)]
struct DesiredDoc<'a, V> {
    #[serde(borrow, default = "none")]
    desired: Option<Section<RawDesired<'a, V>>>,
    #[serde(borrow, default = "none")]
    firmware: Option<RawDesired<'a, V>>,
}

fn desired_side<'a, V: Deserialize<'a>>(
    json: &'a [u8],
    version: impl Fn(V) -> Version<'a>,
) -> Option<Member<DesiredFirmware<'a>>> {
    let (doc, _) = serde_json_core::from_slice::<DesiredDoc<'a, V>>(json).ok()?;
    let raw = match (doc.desired, doc.firmware) {
        (Some(section), _) => section.firmware,
        (None, f) => f,
    };
    Some(raw.map_or(Member::Absent, |r| {
        Member::Ok(DesiredFirmware {
            fw_version: r.fw_version.map(version),
            job_id: r.job_id,
            fw_location: r.fw_location,
            fw_fragment_size: r.fw_fragment_size,
        })
    }))
}

/// The reported side only.
#[derive(Deserialize)]
struct ReportedDoc<'a> {
    #[serde(borrow, default = "none")]
    reported: Option<Section<ReportedFirmware<'a>>>,
}

/// Only which members exist, whatever their shape.
#[derive(Deserialize)]
struct Shape {
    #[serde(default)]
    desired: Option<ShapeSection>,
    #[serde(default)]
    reported: Option<ShapeSection>,
    #[serde(default)]
    firmware: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ShapeSection {
    #[serde(default)]
    firmware: Option<IgnoredAny>,
}

/// Deepest nesting of objects and arrays accepted. Azure limits desired and reported
/// properties to a depth of 10 (the full twin document adds two levels).
pub const MAX_DEPTH: usize = 16;

/// The deepest nesting of `{`/`[` outside strings (no recursion; malformed input counts too).
fn nesting_depth(json: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

/// Parses the firmware parts of a twin document (`{"desired":..,"reported":..}`) or a desired
/// patch (`{"firmware":..,"$version":n}`). Each side is read on its own, so a wrong type in one
/// makes that side [`Member::Invalid`] without hiding the other. A document that is not a JSON
/// object (with object-valued `desired`/`reported`) is [`NotJson`].
pub fn parse(json: &[u8]) -> Result<FirmwareTwin<'_>, NotJson> {
    // The JSON parser recurses once per nesting level: bound the depth first, so that no
    // document can exhaust a small stack.
    if nesting_depth(json) > MAX_DEPTH {
        return Err(NotJson);
    }
    let (shape, _) = serde_json_core::from_slice::<Shape>(json).map_err(|_| NotJson)?;
    let desired_present = match &shape.desired {
        Some(d) => d.firmware.is_some(),
        None => shape.firmware.is_some(),
    };
    let desired = desired_side::<&str>(json, Version::Text)
        .or_else(|| desired_side::<i64>(json, Version::Number))
        .unwrap_or(if desired_present {
            Member::Invalid
        } else {
            Member::Absent
        });
    let reported = match &shape.reported {
        None => None,
        Some(r) if r.firmware.is_none() => Some(Member::Absent),
        Some(_) => Some(match serde_json_core::from_slice::<ReportedDoc<'_>>(json) {
            Ok((doc, _)) => doc
                .reported
                .and_then(|s| s.firmware)
                .map_or(Member::Absent, Member::Ok),
            Err(_) => Member::Invalid,
        }),
    };
    Ok(FirmwareTwin { desired, reported })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_twin() {
        let t = parse(br#"{"desired":{"firmware":{"fwVersion":"v2.0.0","jobId":"3a1b","fwLocation":{"host":"fw.example.com","path":"app_update.bin","protocol":"https"},"fwFragmentSize":1800},"$version":4},"reported":{"firmware":{"fwUpdateStatus":"current","currentFwVersion":"v1.0.0","jobId":"old"},"$version":9}}"#).unwrap();
        assert_eq!(
            t.desired,
            Member::Ok(DesiredFirmware {
                fw_version: Some(Version::Text("v2.0.0")),
                job_id: Some("3a1b"),
                fw_location: Some(Location {
                    host: "fw.example.com",
                    path: "app_update.bin"
                }),
                fw_fragment_size: Some(1800),
            })
        );
        assert_eq!(
            t.reported,
            Some(Member::Ok(ReportedFirmware {
                fw_update_status: Some("current"),
                current_fw_version: Some("v1.0.0"),
                pending_fw_version: None,
                job_id: Some("old"),
            }))
        );
    }

    #[test]
    fn desired_patch_and_numbers() {
        let t = parse(br#"{"firmware":{"fwVersion":7,"fwLocation":{"host":"h","path":"p"},"fwFragmentSize":100},"$version":3}"#).unwrap();
        assert!(matches!(
            t.desired,
            Member::Ok(DesiredFirmware {
                fw_version: Some(Version::Number(7)),
                ..
            })
        ));
        assert_eq!(t.reported, None);
    }

    #[test]
    fn absent_members() {
        let t = parse(br#"{"desired":{"telemetryInterval":5},"reported":{"x":1}}"#).unwrap();
        assert_eq!(t.desired, Member::Absent);
        assert_eq!(t.reported, Some(Member::Absent));
        let t = parse(br#"{"telemetryInterval":5,"$version":2}"#).unwrap();
        assert_eq!(t.desired, Member::Absent);
    }

    #[test]
    fn wrong_types_are_invalid_not_crashes() {
        for doc in [
            &br#"{"firmware":{"fwVersion":"1","jobId":5,"fwLocation":{"host":"h","path":"p"},"fwFragmentSize":1}}"#[..],
            br#"{"firmware":{"fwVersion":"1","fwLocation":{"host":7,"path":"p"},"fwFragmentSize":1}}"#,
            br#"{"firmware":{"fwVersion":"1","fwLocation":"nope","fwFragmentSize":1}}"#,
            br#"{"firmware":{"fwVersion":true}}"#,
            br#"{"firmware":{"fwFragmentSize":"big"}}"#,
            br#"{"firmware":[1,2,3]}"#,
            br#"{"firmware":"v2"}"#,
        ] {
            let t = parse(doc).unwrap();
            assert_eq!(t.desired, Member::Invalid, "{}", core::str::from_utf8(doc).unwrap());
        }
        let t = parse(br#"{"desired":{"firmware":{"fwVersion":"1","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":1}},"reported":{"firmware":{"fwUpdateStatus":3}}}"#).unwrap();
        assert_eq!(t.reported, Some(Member::Invalid));
        assert!(matches!(t.desired, Member::Ok(_)));
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let mut doc = [0u8; 40_000];
        doc[..12].copy_from_slice(br#"{"firmware":"#);
        for (i, b) in doc[12..20_012].iter_mut().enumerate() {
            *b = if i < 10_000 { b'[' } else { b']' };
        }
        doc[20_012] = b'}';
        assert_eq!(parse(&doc[..20_013]), Err(NotJson));
        // Brackets inside strings do not count; depth 16 is accepted.
        let ok = br#"{"firmware":{"fwVersion":"[[[[[[[[[[[[[[[[[[[[","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":1},"x":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}"#;
        assert!(matches!(parse(ok).unwrap().desired, Member::Ok(_)));
        assert_eq!(nesting_depth(ok), 16);
        assert_eq!(nesting_depth(br#""\"[""#), 0);
        assert_eq!(nesting_depth(br#""\\"["#), 1);
        let too_deep = br#"{"firmware":{"fwVersion":"2","fwLocation":{"host":"h","path":"p"},"fwFragmentSize":1},"x":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}"#;
        assert_eq!(parse(too_deep), Err(NotJson));
    }

    #[test]
    fn not_json() {
        for doc in [&b""[..], b"[]", b"nul", b"{\"a\":", b"\xff"] {
            assert_eq!(parse(doc), Err(NotJson));
        }
    }
}
