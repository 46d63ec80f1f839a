// Stand-in for the bindgen output of zephyr/build_bindings.rs, used only when cargo runs
// outside a Zephyr build (`cargo check --features zephyr` in CI, with no Zephyr tree): it lets
// the port type-check. The values are Zephyr's with newlib/picolibc, but firmware never uses
// this file: the Zephyr build always generates the real one from its own headers.
pub const EINTR: u32 = 4;
pub const EAGAIN: u32 = 11;
pub const ENOENT: u32 = 2;
pub const EIO: u32 = 5;
pub const ENXIO: u32 = 6;
pub const ENOMEM: u32 = 12;
pub const EACCES: u32 = 13;
pub const EFAULT: u32 = 14;
pub const EINVAL: u32 = 22;
pub const ENOMSG: u32 = 35;
pub const EBADMSG: u32 = 77;
pub const EPROTO: u32 = 71;
pub const EMSGSIZE: u32 = 122;
pub const ENOTSUP: u32 = 134;
pub const ENOBUFS: u32 = 105;
pub const ECONNABORTED: u32 = 113;
pub const ENOTCONN: u32 = 128;
pub const ETIMEDOUT: u32 = 116;
pub const EHOSTUNREACH: u32 = 118;
pub const EALREADY: u32 = 120;
pub const EINPROGRESS: u32 = 119;
pub const ECONNREFUSED: u32 = 111;
pub const EEXIST: u32 = 17;
pub const ECONNRESET: u32 = 104;
pub const AF_INET: u32 = 1;
pub const AF_INET6: u32 = 2;
pub const ZSOCK_POLLIN: u32 = 1;
pub const ZSOCK_POLLOUT: u32 = 4;
pub const ZSOCK_POLLERR: u32 = 8;
pub const ZSOCK_POLLHUP: u32 = 16;
pub const ZSOCK_POLLNVAL: u32 = 32;
pub const ZSOCK_MSG_DONTWAIT: u32 = 64;
pub const SOL_TLS: u32 = 282;
pub const TLS_SEC_TAG_LIST: u32 = 1;
pub const TLS_HOSTNAME: u32 = 2;
pub const TLS_PEER_VERIFY: u32 = 5;
pub const TLS_NATIVE: u32 = 11;
pub const TLS_PEER_VERIFY_NONE: u32 = 0;
pub const TLS_PEER_VERIFY_OPTIONAL: u32 = 1;
pub const TLS_PEER_VERIFY_REQUIRED: u32 = 2;
pub const SOL_SOCKET: u32 = 1;
pub const SO_SNDTIMEO: u32 = 21;
pub type net_ip_protocol = ::core::ffi::c_uint;
pub const IPPROTO_TCP: net_ip_protocol = 6;
pub type net_ip_protocol_secure = ::core::ffi::c_uint;
pub const IPPROTO_TLS_1_2: net_ip_protocol_secure = 258;
pub type net_sock_type = ::core::ffi::c_uint;
pub const SOCK_STREAM: net_sock_type = 1;
pub type sec_tag_t = ::core::ffi::c_int;
#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct azhub_timeval_t {
    pub tv_sec: ::core::ffi::c_long,
    pub tv_usec: ::core::ffi::c_long,
}
/// `k_ticks_t` without `CONFIG_TIMEOUT_64BIT`, as the glue header declares it then.
pub type k_ticks_t = u32;
/// 1000 Hz: a tick is a millisecond (bench/footprint/null_glue.c counts them so).
pub const AZHUB_TICKS_PER_SEC: u32 = 1000;
/// `sizeof(struct sockaddr_in)` and `sizeof(struct sockaddr_in6)` in Zephyr.
pub const AZHUB_SOCKADDR_IN_LEN: u32 = 8;
pub const AZHUB_SOCKADDR_IN6_LEN: u32 = 24;
