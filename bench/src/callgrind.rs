//! Instructions per operation with valgrind's callgrind: the `ops` binary runs an operation N
//! times and 0 times (same setup); the difference divided by N is one operation's cost.
use std::path::Path;
use std::process::Command;

/// Instructions callgrind collected for `ops OP N`.
pub fn collected(ops: &Path, op: &str, n: u64) -> Result<u64, String> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(ops)
        .args([op, &n.to_string()])
        .output()
        .map_err(|e| format!("valgrind: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ops {op} {n} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| {
            l.split_once("Collected : ")
                .map(|(_, n)| n.trim().to_string())
        })
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no callgrind total in: {err}"))
}

/// Instructions of one `op`, rounded.
pub fn per_op(ops: &Path, op: &str, n: u64) -> Result<u64, String> {
    let base = collected(ops, op, 0)?;
    let all = collected(ops, op, n)?;
    Ok(((all.saturating_sub(base)) as f64 / n as f64).round() as u64)
}
