//! The footprint results scripts/footprint.sh leaves in `$CARGO_TARGET_DIR/footprint.txt`.
use std::collections::BTreeMap;

/// key=value pairs, empty when the file is missing.
pub fn load() -> BTreeMap<String, String> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target-bench".into());
    let text = std::fs::read_to_string(format!("{dir}/footprint.txt")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}
