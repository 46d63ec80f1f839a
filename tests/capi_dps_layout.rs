//! The ABI of `include/net/azure_iot_hub_dps.h` as a C compiler sees it (tests/c/dps_layout.c,
//! 64-bit and `-m32`), against the original's numbers (nrf-api.md section 2.3: the config is 20
//! bytes on 32-bit targets, 40 on 64-bit) and against the Rust types.
//!
//! As tests/capi_layout.rs: the 32-bit build needs gcc-multilib, unless
//! `AZURE_IOT_HUB_SKIP_M32=1` is set.
#![cfg(all(feature = "capi", feature = "dps"))]

use std::collections::BTreeMap;
use std::mem::{align_of, offset_of, size_of};

use azure_iot_hub::capi::dps::*;

mod capi_common;

fn c_values(flags: &[&str]) -> Option<BTreeMap<String, usize>> {
    capi_common::layout_values("dps_layout", flags)
}

fn expected(bits: usize) -> BTreeMap<String, usize> {
    let w = bits / 8;
    [
        ("sizeof(struct azure_iot_hub_dps_config)", 5 * w),
        ("alignof(struct azure_iot_hub_dps_config)", w),
        ("offsetof(struct azure_iot_hub_dps_config, handler)", 0),
        ("offsetof(struct azure_iot_hub_dps_config, id_scope)", w),
        ("offsetof(struct azure_iot_hub_dps_config, reg_id)", 3 * w),
        ("sizeof(enum azure_iot_hub_dps_reg_status)", 4),
        ("sizeof(azure_iot_hub_dps_handler_t)", w),
        ("AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED", 0),
        ("AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING", 1),
        ("AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED", 2),
        ("AZURE_IOT_HUB_DPS_REG_STATUS_FAILED", 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[test]
fn dps_layout_64_bit_matches_c_and_rust() {
    let c = c_values(&[]).expect("cc cannot build dps_layout.c");
    assert_eq!(c, expected(64));
    use azure_iot_hub_dps_reg_status::*;
    type Cfg = azure_iot_hub_dps_config;
    let rust: BTreeMap<String, usize> = [
        ("sizeof(struct azure_iot_hub_dps_config)", size_of::<Cfg>()),
        (
            "alignof(struct azure_iot_hub_dps_config)",
            align_of::<Cfg>(),
        ),
        (
            "offsetof(struct azure_iot_hub_dps_config, handler)",
            offset_of!(Cfg, handler),
        ),
        (
            "offsetof(struct azure_iot_hub_dps_config, id_scope)",
            offset_of!(Cfg, id_scope),
        ),
        (
            "offsetof(struct azure_iot_hub_dps_config, reg_id)",
            offset_of!(Cfg, reg_id),
        ),
        (
            "sizeof(enum azure_iot_hub_dps_reg_status)",
            size_of::<azure_iot_hub_dps_reg_status>(),
        ),
        (
            "sizeof(azure_iot_hub_dps_handler_t)",
            size_of::<azure_iot_hub_dps_handler_t>(),
        ),
        (
            "AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED",
            AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED as usize,
        ),
        (
            "AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING",
            AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING as usize,
        ),
        (
            "AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED",
            AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED as usize,
        ),
        (
            "AZURE_IOT_HUB_DPS_REG_STATUS_FAILED",
            AZURE_IOT_HUB_DPS_REG_STATUS_FAILED as usize,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(rust, c);
}

#[test]
fn dps_layout_32_bit_matches_the_original() {
    match c_values(&["-m32"]) {
        Some(c) => assert_eq!(c, expected(32)),
        None if std::env::var("AZURE_IOT_HUB_SKIP_M32").is_ok_and(|v| v == "1") => {
            eprintln!("skipped: cc -m32 is unavailable and AZURE_IOT_HUB_SKIP_M32=1");
        }
        None => panic!(
            "cc -m32 cannot build: install gcc-multilib, or set AZURE_IOT_HUB_SKIP_M32=1 to skip"
        ),
    }
}
