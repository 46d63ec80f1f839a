//! Platform ports: drive the sans-IO core over a real transport.
//!
//! The Linux (std) port: [`HubClient`] runs one connection on a worker thread over TCP + rustls.
//! The C API (`crate::capi`) is a thin layer over this interface; the Zephyr port will offer the
//! same interface over Zephyr sockets.
//!
//! Threading contract (the original's): events are delivered on the worker thread; the handler
//! may call [`HubClient::publish`] and [`HubClient::disconnect`] from inside the handler. Event
//! data is valid only during the handler call.

mod event;
pub use event::{CloseReason, PortEvent};

#[cfg(not(feature = "zephyr"))]
mod linux;
#[cfg(not(feature = "zephyr"))]
pub use linux::*;

/// The Zephyr port (feature `zephyr`, which takes precedence over `std`): see
/// `src/port/zephyr/mod.rs` and docs/zephyr.md.
#[cfg(feature = "zephyr")]
mod zephyr;
#[cfg(feature = "zephyr")]
pub use zephyr::*;
