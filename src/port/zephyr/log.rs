//! The `log` facade over Zephyr logging, under the original library's module names.
//!
//! Targets map to modules: `mqtt_helper` and anything under `…::port` to `mqtt_helper`,
//! `azure_iot_hub_dps` and `…::dps` to `azure_iot_hub_dps`, `azure_fota` and `…::fota` to
//! `azure_fota`, everything else to `azure_iot_hub`. A line is formatted into a stack buffer of
//! `LINE_MAX` bytes (longer lines are cut) and copied by the glue before it reaches Zephyr.

use core::fmt::Write;

use super::sys;

const LINE_MAX: usize = 128;

struct ZephyrLogger;

static LOGGER: ZephyrLogger = ZephyrLogger;

fn module_of(target: &str) -> core::ffi::c_int {
    // A byte scan: `str::contains` would link the two-way string searcher.
    let has = |part: &str| {
        let p = part.as_bytes();
        target.as_bytes().windows(p.len()).any(|w| w == p)
    };
    if target == "mqtt_helper" || has("::port") {
        sys::LOG_MQTT_HELPER
    } else if has("dps") {
        sys::LOG_AZURE_IOT_HUB_DPS
    } else if has("fota") {
        sys::LOG_AZURE_FOTA
    } else {
        sys::LOG_AZURE_IOT_HUB
    }
}

fn zephyr_level(level: log::Level) -> core::ffi::c_int {
    match level {
        log::Level::Error => 1,
        log::Level::Warn => 2,
        log::Level::Info => 3,
        log::Level::Debug | log::Level::Trace => 4,
    }
}

/// A line buffer that keeps what fits.
struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = LINE_MAX - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl log::Log for ZephyrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let module = module_of(metadata.target());
        // SAFETY: reads a compile-time constant of the glue.
        let max = unsafe { sys::azhub_z_log_level(module) };
        zephyr_level(metadata.level()) <= max
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = Line {
            buf: [0; LINE_MAX],
            len: 0,
        };
        let _ = write!(line, "{}", record.args());
        // SAFETY: the pointer and length describe `line.buf`, valid for the call; the glue
        // copies the bytes before it returns.
        unsafe {
            sys::azhub_z_log(
                module_of(record.target()),
                zephyr_level(record.level()),
                line.buf.as_ptr().cast(),
                line.len,
            )
        };
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls do nothing). Not with logging compiled out
/// (`log/max_level_off`, CONFIG_LOG=n): no log call reaches it, and installing it would link
/// the formatting machinery of `core::fmt` for nothing.
pub(crate) fn init() {
    if log::STATIC_MAX_LEVEL == log::LevelFilter::Off {
        return;
    }
    #[cfg(target_has_atomic = "ptr")]
    let installed = log::set_logger(&LOGGER).is_ok();
    // Cortex-M0 has no compare-and-swap: the racy variant, called under the port's link lock.
    #[cfg(not(target_has_atomic = "ptr"))]
    // SAFETY: only `HubClient::new` calls this, with the link lock held, so never concurrently.
    let installed = unsafe { log::set_logger_racy(&LOGGER).is_ok() };
    if installed {
        log::set_max_level(log::LevelFilter::Debug);
    }
}
