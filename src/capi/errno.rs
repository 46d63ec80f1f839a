//! The errno numbers the C API returns (as negative values).
//!
//! On a host with a C library (feature `std`: the Linux port) they come from `libc`, so a C
//! program compares them with its own `<errno.h>`. With the Zephyr port (feature `zephyr`), or
//! without any port, they are the newlib/picolibc numbers Zephyr uses (nrf-api.md section 1).
#![allow(missing_docs)]

use core::ffi::c_int;

#[cfg(all(feature = "std", not(feature = "zephyr")))]
mod values {
    use core::ffi::c_int;
    pub const ENOENT: c_int = libc::ENOENT;
    pub const EIO: c_int = libc::EIO;
    pub const ENXIO: c_int = libc::ENXIO;
    pub const ENOMEM: c_int = libc::ENOMEM;
    pub const EACCES: c_int = libc::EACCES;
    pub const EFAULT: c_int = libc::EFAULT;
    pub const EINVAL: c_int = libc::EINVAL;
    pub const ENOMSG: c_int = libc::ENOMSG;
    pub const EBADMSG: c_int = libc::EBADMSG;
    pub const EPROTO: c_int = libc::EPROTO;
    pub const EMSGSIZE: c_int = libc::EMSGSIZE;
    pub const ENOTSUP: c_int = libc::ENOTSUP;
    pub const ENOBUFS: c_int = libc::ENOBUFS;
    pub const ECONNABORTED: c_int = libc::ECONNABORTED;
    pub const ENOTCONN: c_int = libc::ENOTCONN;
    pub const ETIMEDOUT: c_int = libc::ETIMEDOUT;
    pub const EHOSTUNREACH: c_int = libc::EHOSTUNREACH;
    pub const EALREADY: c_int = libc::EALREADY;
    pub const EINPROGRESS: c_int = libc::EINPROGRESS;
    pub const ECONNRESET: c_int = libc::ECONNRESET;
    pub const ECONNREFUSED: c_int = libc::ECONNREFUSED;
    pub const EAGAIN: c_int = libc::EAGAIN;
}

/// With the Zephyr port: the numbers of the libc this Zephyr build uses, from its `<errno.h>`
/// through bindgen (newlib/picolibc numbers on boards, the host's with native_sim's external
/// libc).
#[cfg(feature = "zephyr")]
mod values {
    use crate::port::bindings as b;
    use core::ffi::c_int;
    pub const ENOENT: c_int = b::ENOENT as c_int;
    pub const EIO: c_int = b::EIO as c_int;
    pub const ENXIO: c_int = b::ENXIO as c_int;
    pub const ENOMEM: c_int = b::ENOMEM as c_int;
    pub const EACCES: c_int = b::EACCES as c_int;
    pub const EFAULT: c_int = b::EFAULT as c_int;
    pub const EINVAL: c_int = b::EINVAL as c_int;
    pub const ENOMSG: c_int = b::ENOMSG as c_int;
    pub const EBADMSG: c_int = b::EBADMSG as c_int;
    pub const EPROTO: c_int = b::EPROTO as c_int;
    pub const EMSGSIZE: c_int = b::EMSGSIZE as c_int;
    pub const ENOTSUP: c_int = b::ENOTSUP as c_int;
    pub const ENOBUFS: c_int = b::ENOBUFS as c_int;
    pub const ECONNABORTED: c_int = b::ECONNABORTED as c_int;
    pub const ENOTCONN: c_int = b::ENOTCONN as c_int;
    pub const ETIMEDOUT: c_int = b::ETIMEDOUT as c_int;
    pub const EHOSTUNREACH: c_int = b::EHOSTUNREACH as c_int;
    pub const EALREADY: c_int = b::EALREADY as c_int;
    pub const EINPROGRESS: c_int = b::EINPROGRESS as c_int;
    pub const ECONNRESET: c_int = b::ECONNRESET as c_int;
    pub const ECONNREFUSED: c_int = b::ECONNREFUSED as c_int;
    pub const EAGAIN: c_int = b::EAGAIN as c_int;
}

#[cfg(not(any(feature = "std", feature = "zephyr")))]
mod values {
    use core::ffi::c_int;
    pub const ENOENT: c_int = 2;
    pub const EIO: c_int = 5;
    pub const ENXIO: c_int = 6;
    pub const ENOMEM: c_int = 12;
    pub const EACCES: c_int = 13;
    pub const EFAULT: c_int = 14;
    pub const EINVAL: c_int = 22;
    pub const ENOMSG: c_int = 35;
    pub const EBADMSG: c_int = 77;
    pub const EPROTO: c_int = 71;
    pub const EMSGSIZE: c_int = 122;
    pub const ENOTSUP: c_int = 134;
    pub const ENOBUFS: c_int = 105;
    pub const ECONNABORTED: c_int = 113;
    pub const ENOTCONN: c_int = 128;
    pub const ETIMEDOUT: c_int = 116;
    pub const EHOSTUNREACH: c_int = 118;
    pub const EALREADY: c_int = 120;
    pub const EINPROGRESS: c_int = 119;
    pub const ECONNRESET: c_int = 104;
    pub const ECONNREFUSED: c_int = 111;
    pub const EAGAIN: c_int = 11;
}

pub use values::*;

/// `-e`: the form the API returns.
pub const fn neg(e: c_int) -> c_int {
    -e
}
