//! Persistence: JSON files under the state directory, each written atomically (a temporary
//! file, then a rename) by one writer thread, in the order the changes were made. Several
//! queued writes of the same file collapse into the last one.

use crate::Error;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A file name for an ID: letters, digits, `-` and `_` kept, everything else `%XX`.
pub fn file_name_for(id: &str) -> String {
    let mut s = String::new();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

enum Op {
    Write(PathBuf, Vec<u8>),
    Remove(PathBuf),
    Flush(mpsc::Sender<()>),
}

/// The background writer.
pub(crate) struct Store {
    pub dir: PathBuf,
    tx: Option<mpsc::Sender<Op>>,
    thread: Option<JoinHandle<()>>,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(dir.join("devices"))?;
        let (tx, rx) = mpsc::channel::<Op>();
        let thread = std::thread::Builder::new()
            .name("hub-emulator-store".into())
            .spawn(move || writer(rx))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn device_path(&self, id: &str) -> PathBuf {
        self.dir
            .join("devices")
            .join(format!("{}.json", file_name_for(id)))
    }

    pub fn write(&self, path: PathBuf, bytes: Vec<u8>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Op::Write(path, bytes));
        }
    }

    pub fn remove(&self, path: PathBuf) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Op::Remove(path));
        }
    }

    /// Waits until everything queued so far is on disk.
    pub fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done_tx, done_rx) = mpsc::channel();
            if tx.send(Op::Flush(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
        }
    }

    /// Reads every `devices/*.json` file.
    pub fn load_dir<T: serde::de::DeserializeOwned>(&self, sub: &str) -> Vec<T> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(self.dir.join(sub)) else {
            return out;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&p)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(v) => out.push(v),
                Err(e) => tracing::warn!("ignoring unreadable state file {}: {e}", p.display()),
            }
        }
        out
    }

    /// Reads one JSON file, `T::default()` if it is missing or unreadable.
    pub fn load_file<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> T {
        let p = self.dir.join(name);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!("ignoring unreadable state file {}: {e}", p.display());
                T::default()
            }),
            Err(_) => T::default(),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn writer(rx: mpsc::Receiver<Op>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(op) = rx.try_recv() {
            batch.push(op);
        }
        // Keep only the last write or removal of each path, in order of those last ops.
        let mut last: HashMap<PathBuf, usize> = HashMap::new();
        for (i, op) in batch.iter().enumerate() {
            match op {
                Op::Write(p, _) | Op::Remove(p) => {
                    last.insert(p.clone(), i);
                }
                Op::Flush(_) => {}
            }
        }
        let mut flushes = Vec::new();
        for (i, op) in batch.into_iter().enumerate() {
            match op {
                Op::Write(p, b) if last.get(&p) == Some(&i) => {
                    if let Err(e) = write_atomic(&p, &b) {
                        tracing::error!("cannot write {}: {e}", p.display());
                    }
                }
                Op::Remove(p) if last.get(&p) == Some(&i) => {
                    let _ = std::fs::remove_file(&p);
                }
                Op::Flush(done) => flushes.push(done),
                _ => {}
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}
