//! Small helpers: time stamps, URL encoding, random IDs and keys, thumbprints, property bags.

use base64::Engine;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 UTC time with milliseconds and a `Z`, e.g. `2024-05-01T12:00:00.123Z`.
pub fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_millis())
}

pub fn rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Percent-encodes everything but the RFC 3986 unreserved characters (upper-case hex).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (a malformed escape is kept as is; `+` stays `+`).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a query-style property string `k=v&k2&k3=` into raw (still encoded) pairs.
pub fn split_props(s: &str) -> Vec<(&str, &str)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k, v),
            None => (p, ""),
        })
        .collect()
}

/// The value of `name` in a topic's `?a=b&c=d` part (raw).
pub fn query_param<'a>(topic: &'a str, name: &str) -> Option<&'a str> {
    let q = topic.split_once('?')?.1;
    split_props(q)
        .into_iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("the OS random source failed");
    b
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A random 32-byte key, base64 (like the keys Azure generates).
pub fn random_key() -> String {
    B64.encode(random_bytes::<32>())
}

/// A random UUID (version 4) string.
pub fn uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An etag-like random token.
pub fn etag() -> String {
    B64.encode(random_bytes::<6>())
}

/// SHA-1 thumbprint of a DER certificate, upper-case hex.
pub fn sha1_thumbprint(der: &[u8]) -> String {
    use sha1::Digest;
    hex(&sha1::Sha1::digest(der)).to_uppercase()
}

/// SHA-256 thumbprint of a DER certificate, upper-case hex.
pub fn sha256_thumbprint(der: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(der)).to_uppercase()
}

/// Normalises a thumbprint for comparison: hex digits only, upper case.
pub fn normalize_thumbprint(t: &str) -> String {
    t.chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect::<String>()
        .to_uppercase()
}

/// Whether `der`'s SHA-1 or SHA-256 thumbprint is one of `expected` (empty entries ignored).
pub fn thumbprint_matches(der: &[u8], expected: &[&str]) -> bool {
    let s1 = sha1_thumbprint(der);
    let s256 = sha256_thumbprint(der);
    expected
        .iter()
        .map(|e| normalize_thumbprint(e))
        .any(|e| !e.is_empty() && (e == s1 || e == s256))
}

/// `base64(HMAC-SHA256(base64dec(key), message))`; `None` if the key is not base64.
pub fn hmac_b64(key_b64: &str, message: &[u8]) -> Option<String> {
    use hmac::Mac;
    let key = B64.decode(key_b64.trim()).ok()?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(message);
    Some(B64.encode(mac.finalize().into_bytes()))
}

/// The key of a device in a symmetric-key enrollment group.
pub fn derive_device_key(group_key_b64: &str, registration_id: &str) -> Option<String> {
    hmac_b64(group_key_b64, registration_id.as_bytes())
}

/// Builds a SAS token (the same format devices send), for tests and the CLI.
pub fn sas_token(resource: &str, key_b64: &str, expiry: u64, policy: Option<&str>) -> String {
    let sr = url_encode(resource);
    let sig = hmac_b64(key_b64, format!("{sr}\n{expiry}").as_bytes()).unwrap_or_default();
    let mut t = format!(
        "SharedAccessSignature sr={sr}&sig={}&se={expiry}",
        url_encode(&sig)
    );
    if let Some(p) = policy {
        t.push_str("&skn=");
        t.push_str(p);
    }
    t
}

/// A parsed SAS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sas {
    /// `sr` as it appears in the token (URL-encoded).
    pub sr_raw: String,
    /// `sr` decoded.
    pub resource: String,
    /// `sig` decoded (base64 text).
    pub sig: String,
    pub expiry: u64,
    pub skn: Option<String>,
}

pub fn parse_sas(password: &str) -> Result<Sas, &'static str> {
    let rest = password
        .trim()
        .strip_prefix("SharedAccessSignature ")
        .ok_or("not a SharedAccessSignature")?;
    let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
    for (k, v) in split_props(rest.trim()) {
        match k {
            "sr" => sr = Some(v),
            "sig" => sig = Some(v),
            "se" => se = Some(v),
            "skn" => skn = Some(v),
            _ => {}
        }
    }
    let sr = sr.ok_or("no sr")?;
    let sig = sig.ok_or("no sig")?;
    let expiry = se
        .ok_or("no se")?
        .parse::<u64>()
        .map_err(|_| "se is not a number")?;
    Ok(Sas {
        sr_raw: sr.to_string(),
        resource: url_decode(sr),
        sig: url_decode(sig),
        expiry,
        skn: skn.map(url_decode),
    })
}

impl Sas {
    /// Whether one of `keys` signed this token. The string to sign is `sr` as sent (any
    /// percent-encoding case), or the canonical encodings of the decoded resource.
    pub fn signed_by(&self, keys: &[&str]) -> bool {
        let canonical = url_encode(&self.resource);
        let candidates = [
            self.sr_raw.clone(),
            canonical.clone(),
            lower_escapes(&canonical),
        ];
        for key in keys.iter().filter(|k| !k.is_empty()) {
            for sr in &candidates {
                if let Some(expected) = hmac_b64(key, format!("{sr}\n{}", self.expiry).as_bytes()) {
                    if constant_time_eq(expected.as_bytes(), self.sig.as_bytes()) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

fn lower_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut esc = 0;
    for c in s.chars() {
        if c == '%' {
            esc = 2;
            out.push(c);
        } else if esc > 0 {
            esc -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000, 5), "2023-11-14T22:13:20.005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn url_coding() {
        assert_eq!(
            url_encode("/devices/d1/messages/deviceBound"),
            "%2Fdevices%2Fd1%2Fmessages%2FdeviceBound"
        );
        assert_eq!(url_encode("$.mid"), "%24.mid");
        assert_eq!(url_decode("%24.ct"), "$.ct");
        assert_eq!(url_decode("application%2Fjson"), "application/json");
        assert_eq!(url_decode("a%2"), "a%2");
        assert_eq!(url_decode("%"), "%");
        assert_eq!(url_decode("%zz"), "%zz");
        assert_eq!(
            split_props("a=1&b&c="),
            vec![("a", "1"), ("b", ""), ("c", "")]
        );
        assert_eq!(query_param("$iothub/twin/GET/?$rid=12", "$rid"), Some("12"));
    }

    #[test]
    fn sas_roundtrip() {
        let key = random_key();
        let t = sas_token(
            "myhub.azure-devices.net/devices/dev1",
            &key,
            2_000_000_000,
            None,
        );
        let s = parse_sas(&t).unwrap();
        assert_eq!(s.resource, "myhub.azure-devices.net/devices/dev1");
        assert!(s.signed_by(&[&key]));
        assert!(!s.signed_by(&[&random_key()]));
        // The DPS flavour: lower-case escapes in sr and in the string to sign.
        let sr = "0ne00000000%2fregistrations%2freg1";
        let sig = hmac_b64(&key, format!("{sr}\n123").as_bytes()).unwrap();
        let t = format!(
            "SharedAccessSignature sr={sr}&sig={}&se=123&skn=registration",
            url_encode(&sig)
        );
        let s = parse_sas(&t).unwrap();
        assert_eq!(s.resource, "0ne00000000/registrations/reg1");
        assert_eq!(s.skn.as_deref(), Some("registration"));
        assert!(s.signed_by(&[&key]));
    }
}
