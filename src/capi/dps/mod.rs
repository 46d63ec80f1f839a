//! The C API of the nRF Connect SDK v2.9.0 `include/net/azure_iot_hub_dps.h`: the types here
//! (laid out as the original's, checked at compile time and from C by `tests/capi_layout.rs`),
//! the functions in `api` (with a port).
//!
//! The header is generated from this module alone by the pinned cbindgen with
//! `cbindgen_dps.toml` (`AZURE_IOT_HUB_BLESS=1 cargo test --test capi_header`); the items here are
//! excluded from `azure_iot_hub.h`. Behaviour and differences: docs/dps.md.
#![allow(non_camel_case_types)]

use core::mem::{offset_of, size_of};

use crate::capi::types::azure_iot_hub_buf;

#[cfg(all(feature = "std", not(feature = "zephyr")))]
mod api;
#[cfg(all(feature = "std", not(feature = "zephyr")))]
pub use api::*;
// The Zephyr implementation is pulled in with include! so that cbindgen, which generates the
// header from this module and skips macro calls, sees each function once (in `api`).
#[cfg(feature = "zephyr")]
mod zephyr_api {
    include!("zephyr_api.rs");
}
#[cfg(feature = "zephyr")]
pub use zephyr_api::*;

/// DPS registration status, reported through the handler of struct azure_iot_hub_dps_config.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum azure_iot_hub_dps_reg_status {
    /// The registration has not started (reported from inside azure_iot_hub_dps_init()).
    AZURE_IOT_HUB_DPS_REG_STATUS_NOT_STARTED,
    /// The registration request was sent, or DPS answered that it is still assigning (reported
    /// again for every such answer).
    AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNING,
    /// The device is assigned to an IoT hub: azure_iot_hub_dps_hostname_get() and
    /// azure_iot_hub_dps_device_id_get() return the assignment, which is stored.
    AZURE_IOT_HUB_DPS_REG_STATUS_ASSIGNED,
    /// The registration failed (refused by DPS, timed out, or the connection was lost).
    AZURE_IOT_HUB_DPS_REG_STATUS_FAILED,
}

/// DPS registration status handler. Called from inside azure_iot_hub_dps_init() (NOT_STARTED)
/// and from the library's DPS thread (ASSIGNING, ASSIGNED, FAILED). It may call the get
/// functions; it must not block for long.
pub type azure_iot_hub_dps_handler_t =
    Option<unsafe extern "C" fn(status: azure_iot_hub_dps_reg_status)>;

/// DPS configuration.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct azure_iot_hub_dps_config {
    /// Status handler (required).
    pub handler: azure_iot_hub_dps_handler_t,
    /// ID scope. A NULL pointer or a size of 0 selects CONFIG_AZURE_IOT_HUB_DPS_ID_SCOPE.
    pub id_scope: azure_iot_hub_buf,
    /// Registration ID. A NULL pointer or a size of 0 selects CONFIG_AZURE_IOT_HUB_DPS_REG_ID.
    pub reg_id: azure_iot_hub_buf,
}

// nrf-api.md section 2.3: 20 bytes on 32-bit targets (handler 0, id_scope 4, reg_id 12), 40 on
// 64-bit (0, 8, 24).
const _: () = {
    let w = size_of::<usize>();
    assert!(size_of::<azure_iot_hub_dps_config>() == if w == 4 { 20 } else { 40 });
    assert!(offset_of!(azure_iot_hub_dps_config, handler) == 0);
    assert!(offset_of!(azure_iot_hub_dps_config, id_scope) == w);
    assert!(offset_of!(azure_iot_hub_dps_config, reg_id) == 3 * w);
    assert!(size_of::<azure_iot_hub_dps_reg_status>() == 4);
};
