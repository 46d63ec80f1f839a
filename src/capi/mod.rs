//! The C API of the nRF Connect SDK v2.9.0 `include/net/azure_iot_hub.h`, over the port.
//!
//! * [`types`]: the `#[repr(C)]` types, laid out as the original's (checked at compile time).
//! * [`errno`]: the errno numbers, from `libc` on a host and Zephyr's numbers otherwise.
//! * `api` (with a port): the exported functions `azure_iot_hub_init`, `_connect`,
//!   `_disconnect`, `_send`, `_method_respond` and the non-API `iot_hub_state_get`, with the
//!   original's state machine and order of checks.
//! * `events`: the port's events turned into `struct azure_iot_hub_evt` for the C handler.
//! * `error`: every failure and the one table from failure to errno.
//!
//! This module and the ports are the only places with `unsafe`; every `unsafe` block says why it
//! is sound. The header `include/net/azure_iot_hub.h` is generated from these types by a pinned
//! cbindgen (`AZURE_IOT_HUB_BLESS=1 cargo test --test capi_header`). The deliberate differences
//! from the original are listed in `docs/differences.md`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

/// `include/net/azure_iot_hub_dps.h` (feature `dps`).
#[cfg(feature = "dps")]
pub mod dps;
pub mod errno;
/// `include/net/azure_fota.h` (feature `fota`).
#[cfg(feature = "fota")]
pub mod fota;
pub mod types;

#[cfg(any(feature = "std", feature = "zephyr"))]
mod api;
#[cfg(any(feature = "std", feature = "zephyr"))]
mod error;
#[cfg(any(feature = "std", feature = "zephyr"))]
mod events;
#[cfg(any(feature = "std", feature = "zephyr"))]
mod platform;

#[cfg(any(feature = "std", feature = "zephyr"))]
pub use api::*;
pub use types::*;
