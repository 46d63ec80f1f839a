//! Azure IoT Hub device library for microcontrollers.
//!
//! * [`mqtt`], [`hub`]: the sans-IO core. `no_std`, no heap, no `unsafe`, no clock, no sockets:
//!   bytes and time go in, bytes, events and deadlines come out. Buffers belong to the caller.
//! * [`Connection`]: the core's two halves (framer and client) together, for single-threaded use.
//! * `port` (feature `std`): the Linux port, a worker thread over TCP + rustls.
//! * `capi` (feature `capi`): the C API of the nRF Connect SDK's `azure_iot_hub.h`.
//!
//! Several clients can live in one process: nothing in the core is global.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod backoff;
pub mod config;
pub mod dps;
pub mod fota;
pub mod hub;
pub mod mqtt;
pub mod sas;
pub mod sink;

mod connection;
pub use connection::Connection;

#[cfg(any(feature = "std", feature = "zephyr"))]
#[allow(unsafe_code)]
pub mod port;

#[cfg(feature = "capi")]
#[allow(unsafe_code)]
pub mod capi;
