//! A file-backed settings store (what Zephyr's settings subsystem is on a device), for the DPS
//! assignment.
//!
//! The file is text, one `key=value` per line after a header line, with bytes other than
//! printable ASCII (and `%`, `=`) written as `%XX`:
//!
//! ```text
//! # azure_iot_hub settings v1
//! azure_iot_hub/hostname=my-hub.azure-devices.net
//! azure_iot_hub/device_id=my-device
//! ```
//!
//! Every change rewrites the whole file atomically: the new contents go to `<file>.tmp`, which
//! is flushed to disk (`fsync`) and renamed over the file, and then the folder is flushed. A
//! power cut leaves either the old or the new file; a `.tmp` left behind is ignored (and
//! replaced by the next write). A file that cannot be parsed is logged and treated as empty (the
//! device provisions again), never a crash.

use std::format;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::string::String;
use std::sync::Mutex;
use std::vec::Vec;

use crate::dps::settings::{Key, SettingsStore};

const HEADER: &str = "# azure_iot_hub settings v1";
const LOG: &str = "azure_iot_hub_dps";

/// The entries of a file, in file order.
type Entries = Vec<(String, Vec<u8>)>;

/// Serialises every read-modify-write of every settings file in the process.
static WRITE_LOCK: Mutex<()> = Mutex::new(());

/// Settings in one file (see the module documentation for the format and the atomic writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSettings {
    path: PathBuf,
}

impl FileSettings {
    /// A store in `path` (created on the first write, with its folder).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileSettings { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        self.path.with_file_name(name)
    }

    /// Every entry. A missing file is empty; an unreadable or corrupt one is an error for
    /// [`FileSettings::read`]'s callers to decide about.
    fn read_raw(&self) -> io::Result<Option<Entries>> {
        let text = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
            Err(e) => return Err(e),
        };
        Ok(parse(&text))
    }

    /// Every entry; a corrupt file is logged and reads as empty.
    pub fn read(&self) -> io::Result<Entries> {
        match self.read_raw()? {
            Some(entries) => Ok(entries),
            None => {
                log::warn!(
                    target: LOG,
                    "settings file {} is corrupt; treating it as empty",
                    self.path.display()
                );
                Ok(Vec::new())
            }
        }
    }

    fn modify(&self, change: impl FnOnce(&mut Entries)) -> io::Result<()> {
        let _guard = WRITE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries = self.read()?;
        let before = entries.clone();
        change(&mut entries);
        if entries == before && self.path.exists() {
            return Ok(());
        }
        self.write_atomically(&serialise(&entries))
    }

    fn write_atomically(&self, contents: &[u8]) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir)?;
        let tmp = self.temp_path();
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(contents)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        // The rename itself must reach the disk too.
        File::open(&dir)?.sync_all()?;
        Ok(())
    }
}

impl FileSettings {
    /// Reads the value of `key` (any key, not only the assignment's) into `buf`: `None` when it
    /// is not stored, otherwise its full length (only `buf.len()` bytes are copied when it is
    /// longer).
    pub fn get(&self, key: &str, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let entries = self.read()?;
        Ok(entries.iter().find(|(k, _)| k == key).map(|(_, v)| {
            let n = v.len().min(buf.len());
            buf[..n].copy_from_slice(&v[..n]);
            v.len()
        }))
    }

    /// Writes `key` (printable ASCII without `=` and `%`), atomically.
    pub fn set(&self, key: &str, value: &[u8]) -> io::Result<()> {
        if !valid_key(key) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid settings key {key:?}"),
            ));
        }
        self.modify(|entries| match entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_vec(),
            None => entries.push((key.into(), value.to_vec())),
        })
    }

    /// Deletes `key` (a key that is not stored too), atomically.
    pub fn remove(&self, key: &str) -> io::Result<()> {
        self.modify(|entries| entries.retain(|(k, _)| k != key))
    }
}

/// The assignment's keys under their stored names.
impl SettingsStore for FileSettings {
    type Error = io::Error;

    fn load(&mut self, key: Key, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.get(key.as_str(), buf)
    }

    fn save(&mut self, key: Key, value: &[u8]) -> io::Result<()> {
        self.set(key.as_str(), value)
    }

    fn delete(&mut self, key: Key) -> io::Result<()> {
        self.remove(key.as_str())
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b'=' && b != b'%')
}

fn plain(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && b != b'%' && b != b'='
}

fn serialise(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    for (k, v) in entries {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        for &b in v {
            if plain(b) {
                out.push(b);
            } else {
                out.extend_from_slice(format!("%{b:02X}").as_bytes());
            }
        }
        out.push(b'\n');
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `None` when the file is not a settings file of this format (or is damaged).
fn parse(text: &[u8]) -> Option<Entries> {
    let text = core::str::from_utf8(text).ok()?;
    let mut lines = text.split('\n');
    if lines.next()? != HEADER {
        return None;
    }
    if !text.ends_with('\n') {
        return None;
    }
    let mut entries: Entries = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (key, raw) = line.split_once('=')?;
        if !valid_key(key) || entries.iter().any(|(k, _)| k == key) {
            return None;
        }
        let raw = raw.as_bytes();
        let mut value = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'%' => {
                    let hi = hex(*raw.get(i + 1)?)?;
                    let lo = hex(*raw.get(i + 2)?)?;
                    value.push(hi << 4 | lo);
                    i += 3;
                }
                b if plain(b) => {
                    value.push(b);
                    i += 1;
                }
                _ => return None,
            }
        }
        entries.push((key.into(), value));
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dps::settings::{load_assignment, store_assignment, KEY_HOSTNAME};

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn round_trip_with_escapes() {
        let d = dir();
        let s = FileSettings::new(d.path().join("sub/settings"));
        assert_eq!(s.get("a/b", &mut [0; 4]).unwrap(), None);
        s.set("a/b", b"x=1 %\n\xff").unwrap();
        s.set("c", b"").unwrap();
        let text = fs::read_to_string(s.path()).unwrap();
        assert_eq!(text, format!("{HEADER}\na/b=x%3D1%20%25%0A%FF\nc=\n"));
        let mut buf = [0u8; 16];
        assert_eq!(s.get("a/b", &mut buf).unwrap(), Some(7));
        assert_eq!(&buf[..7], b"x=1 %\n\xff");
        let mut small = [0u8; 2];
        assert_eq!(s.get("a/b", &mut small).unwrap(), Some(7));
        assert_eq!(&small, b"x=");
        s.remove("a/b").unwrap();
        s.remove("missing").unwrap();
        assert_eq!(s.read().unwrap(), [("c".into(), Vec::new())]);
        assert!(s.set("bad=key", b"").is_err());
        assert!(!s.temp_path().exists());
    }

    #[test]
    fn survives_a_reopen() {
        let d = dir();
        let path = d.path().join("settings");
        store_assignment(&mut FileSettings::new(&path), "hub.example", "dev-1").unwrap();
        let (a, _) = load_assignment(&mut FileSettings::new(&path)).unwrap();
        assert_eq!(a.hostname.as_deref(), Some("hub.example"));
        assert_eq!(a.device_id.as_deref(), Some("dev-1"));
    }

    /// A power cut during a write leaves the temporary file half written: it is ignored, the
    /// previous contents stay, and the next write replaces it.
    #[test]
    fn partial_temp_file_is_ignored() {
        let d = dir();
        let mut s = FileSettings::new(d.path().join("settings"));
        store_assignment(&mut s, "old-hub", "old-dev").unwrap();
        fs::write(s.temp_path(), format!("{HEADER}\n{KEY_HOSTNAME}=new-h")).unwrap();
        let (a, _) = load_assignment(&mut s).unwrap();
        assert_eq!(
            (a.hostname.as_deref(), a.device_id.as_deref()),
            (Some("old-hub"), Some("old-dev"))
        );
        s.save(Key::DeviceId, b"dev-2").unwrap();
        assert!(!s.temp_path().exists());
        let (a, _) = load_assignment(&mut s).unwrap();
        assert_eq!(a.device_id.as_deref(), Some("dev-2"));
    }

    /// Damaged files read as empty (logged), and the next write starts a fresh file.
    #[test]
    fn corrupt_file_reads_as_empty() {
        let d = dir();
        let path = d.path().join("settings");
        let mut s = FileSettings::new(&path);
        for bad in [
            &b"garbage"[..],
            b"",
            b"# azure_iot_hub settings v1\nazure_iot_hub/hostname",
            b"# azure_iot_hub settings v1\nazure_iot_hub/hostname=a%G1\n",
            b"# azure_iot_hub settings v1\nazure_iot_hub/hostname=a%2\n",
            b"# azure_iot_hub settings v1\nk=a\nk=b\n",
            b"# azure_iot_hub settings v1\nk=a b\n",
            b"# azure_iot_hub settings v1\nk=\xff\n",
            b"\x00\x01\x02",
        ] {
            fs::write(&path, bad).unwrap();
            assert_eq!(s.read().unwrap(), [], "{bad:?}");
            let (a, _) = load_assignment(&mut s).unwrap();
            assert!(!a.is_complete());
        }
        s.set("k", b"v").unwrap();
        assert_eq!(s.read().unwrap(), [("k".into(), b"v".to_vec())]);
    }

    /// Many threads writing different keys of one file lose nothing.
    #[test]
    fn concurrent_writers() {
        let d = dir();
        let path = d.path().join("settings");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let s = FileSettings::new(path);
                    for i in 0..10 {
                        s.set(&format!("t{t}/k{i}"), b"v").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(FileSettings::new(path).read().unwrap().len(), 40);
    }
}
