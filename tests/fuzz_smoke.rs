//! The fuzz targets on the stable toolchain: each target (`fuzz/src/targets.rs`, the same bodies
//! cargo-fuzz runs) over its committed corpus (`fuzz/corpus/<target>/`) and then over
//! deterministic mutations of it (bit flips, byte changes, insertions, deletions, splices,
//! random bytes) from a fixed-seed PRNG. A panic (a parser bug or a broken invariant) fails the
//! test and prints the input. `AZURE_IOT_HUB_FUZZ_ITERATIONS` sets the mutations per target
//! (default 20,000); the test prints what it ran and how long it took.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Interesting bytes for MQTT, topics, JSON and HTTP.
const DICT: &[&[u8]] = &[
    b"\x20\x02\x00\x00",
    b"\x90\x06\x00\x01\x00\x00\x00\x00",
    b"\xff\xff\xff\x7f",
    b"$iothub/",
    b"?$rid=",
    b"&$version=",
    b"devices/dev/messages/devicebound/",
    b"%",
    b"&",
    b"=",
    b"{\"",
    b"\":",
    b"}",
    b"[",
    b"\r\n",
    b"\r\n\r\n",
    b"Content-Length: ",
    b"Content-Range: bytes ",
    b"99999999999999999999",
    b"-1",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&seeds[rng.below(seeds.len())]);
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let b = rng.next() as u8;
                out.insert(i, b);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                out.drain(i..i + n);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            5 => {
                let i = rng.below(len + 1);
                let word = DICT[rng.below(DICT.len())];
                out.splice(i..i, word.iter().copied());
            }
            6 if len > 1 => {
                let i = rng.below(len);
                let j = rng.below(len);
                out.swap(i, j);
            }
            _ => {
                let n = rng.below(64);
                for _ in 0..n {
                    out.push(rng.next() as u8);
                }
            }
        }
    }
}

fn run_one(target: &str, data: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| targets::run(target, data))).is_err() {
        panic!(
            "fuzz target {target} panicked on {} bytes: {:?}\n(write them to \
             fuzz/corpus/{target}/crash-… to replay)",
            data.len(),
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn fuzz_targets_smoke() {
    let iterations: usize = std::env::var("AZURE_IOT_HUB_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    for (n, target) in targets::TARGETS.iter().enumerate() {
        let seeds = corpus(target);
        assert!(!seeds.is_empty(), "no corpus for {target}");
        let t = Instant::now();
        for s in &seeds {
            run_one(target, s);
        }
        let mut rng = Rng(0x5EED_0000 + n as u64);
        let mut input = Vec::new();
        let mut bytes = 0usize;
        for _ in 0..iterations {
            mutate(&mut rng, &seeds, &mut input);
            bytes += input.len();
            run_one(target, &input);
        }
        eprintln!(
            "fuzz smoke {target}: {} corpus + {iterations} mutated inputs ({bytes} bytes) in {:.2?}",
            seeds.len(),
            t.elapsed()
        );
    }
}

/// The harness can fail: a target that panics is reported.
#[test]
fn a_panicking_target_is_caught() {
    let r = catch_unwind(|| targets::run("no-such-target", b""));
    assert!(r.is_err());
}
