//! Shared by the C API tests: the staticlib built once by a nested cargo into
//! `target/capi-build` (its own target directory, so it never waits for the lock of the cargo
//! running the tests), and C programs from tests/c compiled against include/ with
//! AddressSanitizer and UndefinedBehaviorSanitizer.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The repository.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `source` (against include/) to an object file that is thrown away: the header checks.
pub fn compile_only(compiler: &str, args: &[&str], source: &Path) {
    let stem = source
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("header");
    let out = std::env::temp_dir().join(format!(
        "azure_iot_hub_{stem}_{}_{}.o",
        compiler.replace('+', "x"),
        std::process::id()
    ));
    let status = Command::new(compiler)
        .args(args)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    let _ = std::fs::remove_file(&out);
    assert!(
        status.success(),
        "{compiler} {args:?} failed on {}",
        source.display()
    );
}

/// Where the nested build and the compiled programs go.
pub fn build_dir() -> PathBuf {
    root().join("target").join("capi-build")
}

/// Builds the staticlib once per test process and returns its path.
pub fn staticlib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--lib", "--quiet", "--target-dir"])
            .arg(build_dir())
            .current_dir(root());
        // The C programs expect the Kconfig defaults; keep the caller's CONFIG_* out of the build.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("CONFIG_") || k == "AZURE_IOT_HUB_DOTCONFIG" || k == "CARGO_TARGET_DIR"
            {
                cmd.env_remove(k);
            }
        }
        let status = cmd.status().expect("cannot run cargo");
        assert!(status.success(), "cargo build --lib failed");
        let lib = build_dir().join("debug").join("libazure_iot_hub.a");
        assert!(lib.exists(), "{} missing", lib.display());
        lib
    })
}

/// Compiles tests/c/<name>.c with the sanitizers against the staticlib (once per test process).
pub fn program(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let lib = staticlib();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let dir = build_dir().join("c");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(name);
    let out = Command::new("cc")
        .args([
            "-std=c11",
            "-D_GNU_SOURCE",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-O1",
        ])
        .args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/c").join(format!("{name}.c")))
        .arg(lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .expect("cannot run cc");
    assert!(
        out.status.success(),
        "compiling {name}.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    built.insert(name.to_string(), exe.clone());
    exe
}

/// What the pinned cbindgen generates from `src` (a path in the repository) with `config`.
pub fn generate_header(config: &str, src: &str) -> String {
    let cfg = cbindgen::Config::from_file(root().join(config)).expect(config);
    let bindings = cbindgen::Builder::new()
        .with_config(cfg)
        .with_src(root().join(src))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed on {src}: {e}"));
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

/// The committed `header` must equal `generated`; with `AZURE_IOT_HUB_BLESS=1` it is written
/// instead. `test` names the test target that regenerates it. Returns false when it blessed.
pub fn check_committed_header(generated: &str, header: &str, test: &str) -> bool {
    let path = root().join(header);
    if std::env::var_os("AZURE_IOT_HUB_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, generated).unwrap();
        eprintln!("wrote {}", path.display());
        return false;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b);
        panic!(
            "{} differs from what cbindgen generates (first differing line: {}).\n\
             Regenerate it with:\n\n    AZURE_IOT_HUB_BLESS=1 cargo test --test {test}\n",
            path.display(),
            first.map_or_else(
                || "a missing or extra line at the end".to_string(),
                |i| (i + 1).to_string()
            ),
        );
    }
    true
}

/// Compiles and runs the layout program tests/c/<name>.c (it prints `<what> <number>` lines and
/// static-asserts the original's layout) with extra compiler `flags`, and returns what it printed.
/// A failed static assertion, or any failure without extra flags, fails the test; `None` means
/// only that the compiler cannot build for `flags` (e.g. no 32-bit toolchain for `-m32`).
pub fn layout_values(
    name: &str,
    flags: &[&str],
) -> Option<std::collections::BTreeMap<String, usize>> {
    let exe = std::env::temp_dir().join(format!(
        "azure_iot_hub_{name}_{}_{}",
        flags.join("").replace('-', ""),
        std::process::id()
    ));
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .args(flags)
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/c").join(format!("{name}.c")))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cannot run cc");
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !flags.iter().all(|f| *f == "-m64")
                && !stderr.contains("static assert")
                && !stderr.contains("static_assert")
                && !stderr.contains("_Static_assert"),
            "{name}.c: the header's layout differs from the original's ({flags:?}):\n{stderr}"
        );
        eprintln!("cc {flags:?} cannot build {name}.c: {stderr}");
        return None;
    }
    let run = Command::new(&exe)
        .output()
        .expect("cannot run the layout program");
    let _ = std::fs::remove_file(&exe);
    assert!(run.status.success(), "{name} failed");
    let text = String::from_utf8(run.stdout).expect("UTF-8 output");
    Some(
        text.lines()
            .map(|line| {
                let (k, v) = line.rsplit_once(' ').expect("`<what> <number>` lines");
                (k.to_string(), v.parse().expect("a number"))
            })
            .collect(),
    )
}
