//! A panic logs where it happened and ends in `k_panic()` (through the glue).

use core::panic::PanicInfo;

use super::sys;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    ::log::error!(target: "azure_iot_hub", "panic: {info}");
    // SAFETY: k_panic() does not return.
    unsafe { sys::azhub_z_panic() }
}
