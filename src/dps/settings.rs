//! The DPS assignment in persistent settings: which keys, how values are checked when they are
//! loaded, and in which order they are written, shared by every port (Linux: a file; Zephyr:
//! the settings subsystem). A port implements [`SettingsStore`], keyed by [`Key`] (the stored
//! names are [`Key::as_str`]; a store may index a table by the key instead); the rest is here:
//! [`load_assignment`] (the load rule, [`load_value`], for both values), [`store_assignment`]
//! (the write order, [`store_checked`]), [`delete_field`] and [`delete_assignment`].
//!
//! Keys (the original's, nrf-api.md section 4.10):
//!
//! | key | value |
//! |---|---|
//! | `azure_iot_hub/hostname` | the assigned IoT Hub host name, raw bytes, no NUL, at most `CONFIG_AZURE_IOT_HUB_DPS_HOSTNAME_MAX_LEN - 1` |
//! | `azure_iot_hub/device_id` | the assigned device ID, raw bytes, no NUL, at most `CONFIG_AZURE_IOT_HUB_DPS_DEVICE_ID_MAX_LEN - 1` |
//!
//! The original also wrote `azure_iot_hub/hostname_len` and `azure_iot_hub/device_id_len` (a
//! native `size_t`, read back as `uint32_t`, and needed before the value key was loaded). They
//! are **not written** here: a settings value knows its own length. They are deleted with their
//! value, and ignored when loaded, so settings written by the original load unchanged.
//!
//! Loaded values are checked (length, UTF-8, characters an MQTT user name and topic can carry);
//! a value that fails is treated as absent, so the device provisions again instead of using a
//! corrupt name. An assignment is complete only when both keys hold valid values.
//!
//! Write order ([`store_assignment`]): the device ID is deleted first, then the host name and the
//! device ID are written. A power cut at any point leaves either the old assignment, an
//! incomplete one (which means "not assigned"), or the new one, never a host name of one
//! assignment with the device ID of another.

use heapless::String;

use crate::config;
use crate::mqtt::{utf8_without, Text};

/// The settings subtree of the assignment.
pub const SUBTREE: &str = "azure_iot_hub";
/// Key of the assigned host name.
pub const KEY_HOSTNAME: &str = "azure_iot_hub/hostname";
/// Key of the assigned device ID.
pub const KEY_DEVICE_ID: &str = "azure_iot_hub/device_id";
/// The original's length key of the host name (deleted, never written, ignored on load).
pub const KEY_HOSTNAME_LEN: &str = "azure_iot_hub/hostname_len";
/// The original's length key of the device ID (deleted, never written, ignored on load).
pub const KEY_DEVICE_ID_LEN: &str = "azure_iot_hub/device_id_len";

/// Longest assigned host name kept (`CONFIG_AZURE_IOT_HUB_DPS_HOSTNAME_MAX_LEN` minus the NUL).
pub const HOSTNAME_MAX_LEN: usize = config::AZURE_IOT_HUB_DPS_HOSTNAME_MAX_LEN - 1;
/// Longest assigned device ID kept (`CONFIG_AZURE_IOT_HUB_DPS_DEVICE_ID_MAX_LEN` minus the NUL).
pub const DEVICE_ID_MAX_LEN: usize = config::AZURE_IOT_HUB_DPS_DEVICE_ID_MAX_LEN - 1;

/// A key the assignment uses: the two values and the original's length key of each (the
/// discriminant is the key's index, 0 to 3, for stores that keep a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Key {
    /// [`KEY_HOSTNAME`].
    Hostname = 0,
    /// [`KEY_DEVICE_ID`].
    DeviceId = 1,
    /// [`KEY_HOSTNAME_LEN`] (deleted, never written, never loaded).
    HostnameLen = 2,
    /// [`KEY_DEVICE_ID_LEN`] (deleted, never written, never loaded).
    DeviceIdLen = 3,
}

impl Key {
    /// Every key, in index order.
    pub const ALL: [Key; 4] = [
        Key::Hostname,
        Key::DeviceId,
        Key::HostnameLen,
        Key::DeviceIdLen,
    ];

    /// The stored name (`azure_iot_hub/hostname`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Key::Hostname => KEY_HOSTNAME,
            Key::DeviceId => KEY_DEVICE_ID,
            Key::HostnameLen => KEY_HOSTNAME_LEN,
            Key::DeviceIdLen => KEY_DEVICE_ID_LEN,
        }
    }
}

/// A key-value store that survives a restart (Zephyr settings, a file, flash...), keyed by
/// [`Key`] (a store that needs the stored name has [`Key::as_str`]).
pub trait SettingsStore {
    /// The store's error.
    type Error;

    /// Reads `key` into `buf`. Returns `Ok(None)` when the key does not exist, otherwise the
    /// value's full length, which may exceed `buf.len()` (then only `buf.len()` bytes are
    /// copied).
    fn load(&mut self, key: Key, buf: &mut [u8]) -> Result<Option<usize>, Self::Error>;

    /// Writes `key`. When this returns, the value must survive a power cut.
    fn save(&mut self, key: Key, value: &[u8]) -> Result<(), Self::Error>;

    /// Deletes `key`; deleting a key that does not exist succeeds.
    fn delete(&mut self, key: Key) -> Result<(), Self::Error>;
}

/// One of the two stored values (its discriminant is its [`Key`]'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    /// The assigned IoT Hub host name.
    Hostname = 0,
    /// The assigned device ID.
    DeviceId = 1,
}

impl Field {
    /// Its key.
    pub const fn key(self) -> Key {
        match self {
            Field::Hostname => Key::Hostname,
            Field::DeviceId => Key::DeviceId,
        }
    }

    /// The original's length key for it.
    pub const fn len_key(self) -> Key {
        match self {
            Field::Hostname => Key::HostnameLen,
            Field::DeviceId => Key::DeviceIdLen,
        }
    }

    /// The longest value kept.
    pub const fn max_len(self) -> usize {
        match self {
            Field::Hostname => HOSTNAME_MAX_LEN,
            Field::DeviceId => DEVICE_ID_MAX_LEN,
        }
    }
}

/// Why a value is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidValue {
    /// Empty.
    Empty,
    /// Longer than [`Field::max_len`].
    TooLong,
    /// Not UTF-8, or holds characters an MQTT user name, client ID or topic cannot carry
    /// (NUL, `#`, `+`, `&`, `=`, control characters, `"`, `\`, `/` in a device ID).
    BadCharacters,
}

/// Checks a value for `field` (before it is stored, and after it is loaded): the value as
/// [`Text`].
///
/// Inlined over the called [`refusal`], whose answer is one byte in a register (this
/// `Result` of a slice is returned through memory; flash, measured).
#[inline(always)]
pub fn validate(field: Field, value: &[u8]) -> Result<Text<'_>, InvalidValue> {
    match refusal(field, value) {
        None => Ok(Text::checked(value)),
        Some(why) => Err(why),
    }
}

/// Why `value` is not usable for `field` ([`validate`]); `None`: it is.
#[inline(never)]
fn refusal(field: Field, value: &[u8]) -> Option<InvalidValue> {
    if value.is_empty() {
        return Some(InvalidValue::Empty);
    }
    if value.len() > field.max_len() {
        return Some(InvalidValue::TooLong);
    }
    // The bytes below 64 by a mask (controls, NUL, `"`, `#`, `&`, `+`, `=`, and `/` and space
    // in a host name), in the UTF-8 check's own pass; then DEL and `\\`.
    let mut refused: u64 =
        0xffff_ffff | (1 << b'"') | (1 << b'#') | (1 << b'&') | (1 << b'+') | (1 << b'=');
    if field == Field::Hostname {
        refused |= (1 << b'/') | (1 << b' ');
    }
    if !utf8_without(value, refused) || value.iter().any(|&b| b == 0x7f || b == b'\\') {
        return Some(InvalidValue::BadCharacters);
    }
    None
}

/// The stored assignment, as far as it is there and valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredAssignment {
    /// The assigned host name.
    pub hostname: Option<String<HOSTNAME_MAX_LEN>>,
    /// The assigned device ID.
    pub device_id: Option<String<DEVICE_ID_MAX_LEN>>,
}

impl StoredAssignment {
    /// Both values are there: DPS need not run.
    pub fn is_complete(&self) -> bool {
        self.hostname.is_some() && self.device_id.is_some()
    }
}

/// What [`load_assignment`] found wrong, per field (for a log line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The host name was stored but not usable.
    pub hostname: Option<InvalidValue>,
    /// The device ID was stored but not usable.
    pub device_id: Option<InvalidValue>,
}

/// The load rule for one value: reads `field` into `buf` (at least [`Field::max_len`] bytes; a
/// longer value is recognised by the length the store reports, without reading it) and checks
/// it with [`validate`]. The value, or why there is none (`None`: not stored; `Some`:
/// stored but not usable, to be logged and treated as absent). [`load_assignment`] uses it for
/// both fields, and a port that keeps the values in buffers of its own may call it directly.
pub fn load_value<'b, S: SettingsStore>(
    store: &mut S,
    field: Field,
    buf: &'b mut [u8],
) -> Result<Result<Text<'b>, Option<InvalidValue>>, S::Error> {
    let Some(len) = store.load(field.key(), buf)? else {
        return Ok(Err(None));
    };
    Ok(stored_value(field, buf, len).map_err(Some))
}

/// The load rule for a value of `len` bytes stored for `field`, of which `buf` holds what fit:
/// the value if [`validate`] accepts it, `TooLong` if it did not fit. [`load_value`] applies it
/// to what a [`SettingsStore`] read, and a port whose settings hand it the values (Zephyr's C
/// API) to what it kept.
#[inline]
pub fn stored_value(field: Field, buf: &[u8], len: usize) -> Result<Text<'_>, InvalidValue> {
    match buf.get(..len) {
        Some(value) => validate(field, value),
        None => Err(InvalidValue::TooLong),
    }
}

/// Loads `field` into `slot` (in place); why a stored value is not usable.
fn load_field<S: SettingsStore, const N: usize>(
    store: &mut S,
    field: Field,
    slot: &mut Option<String<N>>,
) -> Result<Option<InvalidValue>, S::Error> {
    let mut buf = [0u8; N];
    Ok(match load_value(store, field, &mut buf)? {
        Ok(s) => {
            // Cannot fail: `s` fits the buffer of `N` bytes.
            let _ = slot.insert(String::new()).push_str(s.as_str());
            None
        }
        Err(e) => e,
    })
}

/// Loads the assignment. Values that are stored but not valid are left out (and reported).
pub fn load_assignment<S: SettingsStore>(
    store: &mut S,
) -> Result<(StoredAssignment, LoadReport), S::Error> {
    let mut a = StoredAssignment {
        hostname: None,
        device_id: None,
    };
    let hostname = load_field(store, Field::Hostname, &mut a.hostname)?;
    let device_id = load_field(store, Field::DeviceId, &mut a.device_id)?;
    Ok((
        a,
        LoadReport {
            hostname,
            device_id,
        },
    ))
}

/// Why [`store_assignment`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError<E> {
    /// The host name or the device ID cannot be stored (nothing was written).
    Invalid(Field, InvalidValue),
    /// The store failed.
    Store(E),
}

/// Writes a new assignment: checks both values, then deletes the device ID, writes the host
/// name, then the device ID ([`store_checked`]; the device ID completes the assignment, see the
/// module documentation). The values are text or bytes (`&str`, `&[u8]`...).
pub fn store_assignment<S: SettingsStore>(
    store: &mut S,
    hostname: impl AsRef<[u8]>,
    device_id: impl AsRef<[u8]>,
) -> Result<(), StoreError<S::Error>> {
    let (hostname, device_id) = (hostname.as_ref(), device_id.as_ref());
    validate(Field::Hostname, hostname).map_err(|e| StoreError::Invalid(Field::Hostname, e))?;
    validate(Field::DeviceId, device_id).map_err(|e| StoreError::Invalid(Field::DeviceId, e))?;
    store_checked(store, hostname, device_id).map_err(StoreError::Store)
}

/// [`store_assignment`] of values already checked with [`validate`] (as the DPS driver checks
/// an assignment, `crate::dps::driver`): the writes alone, in the same order.
pub fn store_checked<S: SettingsStore>(
    store: &mut S,
    hostname: &[u8],
    device_id: &[u8],
) -> Result<(), S::Error> {
    store.delete(Field::DeviceId.key())?;
    store.save(Field::Hostname.key(), hostname)?;
    store.save(Field::DeviceId.key(), device_id)
}

/// Deletes one value and the original's length key for it.
pub fn delete_field<S: SettingsStore>(store: &mut S, field: Field) -> Result<(), S::Error> {
    store.delete(field.key())?;
    store.delete(field.len_key())
}

/// Deletes the whole assignment (device ID first, so that a power cut leaves it incomplete).
pub fn delete_assignment<S: SettingsStore>(store: &mut S) -> Result<(), S::Error> {
    delete_field(store, Field::DeviceId)?;
    delete_field(store, Field::Hostname)
}

#[cfg(test)]
mod tests {
    use super::*;
    use heapless::{LinearMap, Vec};

    /// A store in memory that can fail its n-th write (a "power cut").
    #[derive(Default)]
    struct Mem {
        map: LinearMap<Key, Vec<u8, 300>, 8>,
        writes_left: Option<usize>,
    }

    impl Mem {
        fn tick(&mut self) -> Result<(), ()> {
            match &mut self.writes_left {
                Some(0) => Err(()),
                Some(n) => {
                    *n -= 1;
                    Ok(())
                }
                None => Ok(()),
            }
        }
    }

    impl SettingsStore for Mem {
        type Error = ();
        fn load(&mut self, key: Key, buf: &mut [u8]) -> Result<Option<usize>, ()> {
            Ok(self.map.get(&key).map(|v| {
                let n = v.len().min(buf.len());
                buf[..n].copy_from_slice(&v[..n]);
                v.len()
            }))
        }
        fn save(&mut self, key: Key, value: &[u8]) -> Result<(), ()> {
            self.tick()?;
            self.map
                .insert(key, Vec::from_slice(value).unwrap())
                .map_err(|_| ())?;
            Ok(())
        }
        fn delete(&mut self, key: Key) -> Result<(), ()> {
            self.tick()?;
            self.map.remove(&key);
            Ok(())
        }
    }

    #[test]
    fn keys_and_their_names() {
        let names = [
            KEY_HOSTNAME,
            KEY_DEVICE_ID,
            KEY_HOSTNAME_LEN,
            KEY_DEVICE_ID_LEN,
        ];
        for (i, key) in Key::ALL.into_iter().enumerate() {
            assert_eq!(key as usize, i);
            assert_eq!(key.as_str(), names[i]);
        }
        for field in [Field::Hostname, Field::DeviceId] {
            assert_eq!(field.key() as usize, field as usize);
            assert_eq!(field.len_key() as usize, field as usize + 2);
        }
    }

    /// The checked writes: the same order as [`store_assignment`], nothing checked.
    #[test]
    fn store_checked_writes_in_order() {
        for cut in 0..4 {
            let mut m = Mem::default();
            store_checked(&mut m, b"old-hub", b"old-dev").unwrap();
            m.writes_left = Some(cut);
            assert_eq!(
                store_checked(&mut m, b"new-hub", b"new-dev").is_ok(),
                cut >= 3
            );
            let hostname = if cut >= 2 { "new-hub" } else { "old-hub" };
            assert_eq!(
                m.map.get(&Key::Hostname).unwrap().as_slice(),
                hostname.as_bytes()
            );
            let device_id = m.map.get(&Key::DeviceId).map(|v| v.as_slice());
            match cut {
                0 => assert_eq!(device_id, Some(&b"old-dev"[..])),
                1 | 2 => assert_eq!(device_id, None),
                _ => assert_eq!(device_id, Some(&b"new-dev"[..])),
            }
        }
    }

    #[test]
    fn store_and_load() {
        let mut m = Mem::default();
        store_assignment(&mut m, "hub.azure-devices.net", "dev-1").unwrap();
        let (a, r) = load_assignment(&mut m).unwrap();
        assert!(a.is_complete());
        assert_eq!(a.hostname.as_deref(), Some("hub.azure-devices.net"));
        assert_eq!(a.device_id.as_deref(), Some("dev-1"));
        assert_eq!(r, LoadReport::default());
        assert!(!m.map.contains_key(&Key::HostnameLen));
        delete_assignment(&mut m).unwrap();
        assert!(m.map.is_empty());
        assert_eq!(
            load_assignment(&mut m).unwrap().0,
            StoredAssignment::default()
        );
    }

    #[test]
    fn original_length_keys_are_ignored_and_deleted() {
        let mut m = Mem::default();
        m.save(Key::HostnameLen, &9usize.to_ne_bytes()).unwrap();
        m.save(Key::Hostname, b"localhost").unwrap();
        m.save(Key::DeviceIdLen, &2u32.to_ne_bytes()).unwrap();
        m.save(Key::DeviceId, b"d2").unwrap();
        let (a, _) = load_assignment(&mut m).unwrap();
        assert_eq!(
            (a.hostname.as_deref(), a.device_id.as_deref()),
            (Some("localhost"), Some("d2"))
        );
        delete_field(&mut m, Field::Hostname).unwrap();
        assert!(!m.map.contains_key(&Key::HostnameLen) && !m.map.contains_key(&Key::Hostname));
        assert!(m.map.contains_key(&Key::DeviceIdLen));
    }

    #[test]
    fn invalid_values_are_absent() {
        let mut m = Mem::default();
        m.save(Key::Hostname, &[b'h'; HOSTNAME_MAX_LEN + 1])
            .unwrap();
        m.save(Key::DeviceId, b"a#b").unwrap();
        let (a, r) = load_assignment(&mut m).unwrap();
        assert!(!a.is_complete());
        assert_eq!(a, StoredAssignment::default());
        assert_eq!(r.hostname, Some(InvalidValue::TooLong));
        assert_eq!(r.device_id, Some(InvalidValue::BadCharacters));
        m.save(Key::Hostname, &[b'h'; HOSTNAME_MAX_LEN]).unwrap();
        m.save(Key::DeviceId, &[0xff, 0xfe]).unwrap();
        let (a, r) = load_assignment(&mut m).unwrap();
        assert_eq!(a.hostname.as_ref().map(|h| h.len()), Some(HOSTNAME_MAX_LEN));
        assert_eq!(r.device_id, Some(InvalidValue::BadCharacters));
        m.save(Key::DeviceId, b"").unwrap();
        assert_eq!(
            load_assignment(&mut m).unwrap().1.device_id,
            Some(InvalidValue::Empty)
        );
    }

    #[test]
    fn validate_gives_the_text() {
        assert_eq!(
            validate(Field::DeviceId, "dev-é".as_bytes()),
            Ok(Text::from("dev-é"))
        );
        // Overlong, surrogate, cut short: not UTF-8.
        for bad in [&b"\xc0\x80"[..], b"\xed\xa0\x80", b"d\xc3"] {
            assert_eq!(
                validate(Field::DeviceId, bad),
                Err(InvalidValue::BadCharacters)
            );
        }
    }

    /// `refusal` tests the bytes below 64 in the UTF-8 check's pass, then DEL and `\\`: the
    /// same answers as the byte-by-byte rule it replaced, for every byte in every place and
    /// every two-byte sequence, in both fields.
    #[test]
    fn refusal_agrees_with_the_byte_rule() {
        fn byte_rule(field: Field, v: &[u8]) -> Option<InvalidValue> {
            let bad = |b: u8| {
                b < 0x20
                    || b"\"#&+=\x7f\\".contains(&b)
                    || (field == Field::Hostname && (b == b'/' || b == b' '))
            };
            if v.is_empty() {
                Some(InvalidValue::Empty)
            } else if v.len() > field.max_len() {
                Some(InvalidValue::TooLong)
            } else if v.iter().any(|&b| bad(b)) || core::str::from_utf8(v).is_err() {
                Some(InvalidValue::BadCharacters)
            } else {
                None
            }
        }
        for field in [Field::Hostname, Field::DeviceId] {
            for a in 0..=255u8 {
                for v in [&[a][..], &[b'x', a, b'y'], &[a, b'y'], &[b'x', a]] {
                    assert_eq!(refusal(field, v), byte_rule(field, v), "{field:?} {v:x?}");
                }
                for b in 0..=255u8 {
                    let v = [b'x', a, b];
                    assert_eq!(refusal(field, &v), byte_rule(field, &v), "{field:?} {v:x?}");
                }
            }
        }
    }

    #[test]
    fn refuses_to_store_invalid_values() {
        let mut m = Mem::default();
        assert_eq!(
            store_assignment(&mut m, "a/b", "d"),
            Err(StoreError::Invalid(
                Field::Hostname,
                InvalidValue::BadCharacters
            ))
        );
        assert_eq!(
            store_assignment(&mut m, "h", ""),
            Err(StoreError::Invalid(Field::DeviceId, InvalidValue::Empty))
        );
        assert!(m.map.is_empty());
    }

    /// A power cut after each write of a re-provisioning: the old pair, an incomplete one, or
    /// the new pair; never a mix.
    #[test]
    fn power_cut_never_mixes_assignments() {
        for cut in 0..4 {
            let mut m = Mem::default();
            store_assignment(&mut m, "old-hub", "old-dev").unwrap();
            m.writes_left = Some(cut);
            let r = store_assignment(&mut m, "new-hub", "new-dev");
            assert_eq!(r.is_ok(), cut >= 3, "cut {cut}");
            m.writes_left = None;
            let (a, _) = load_assignment(&mut m).unwrap();
            let pair = (a.hostname.as_deref(), a.device_id.as_deref());
            match cut {
                0 => assert_eq!(pair, (Some("old-hub"), Some("old-dev"))),
                1 => assert_eq!(pair, (Some("old-hub"), None)),
                2 => assert_eq!(pair, (Some("new-hub"), None)),
                _ => assert_eq!(pair, (Some("new-hub"), Some("new-dev"))),
            }
            assert_eq!(a.is_complete(), cut == 0 || cut >= 3);
        }
    }
}
