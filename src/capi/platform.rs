//! What the C API needs from its platform, so that the same code serves both ports: a mutex
//! usable in a `static`, the one client, text fields of the port's `ConnectConfig`, and the
//! errno carried by the port's errors.
//!
//! * Linux (`std`): `std::sync::Mutex`, a `OnceLock<HubClient>`, `String` fields, `io::Error`.
//! * Zephyr (`zephyr`): the glue's kernel mutexes, the port's single client, `heapless::String`
//!   fields, positive errno numbers.
//!
//! Payloads are not copied: both ports frame with [`crate::mqtt::Framer::nul_terminated`], so
//! every payload (the end of a PUBLISH body) is followed by a NUL in the receive buffer.

use core::ffi::c_int;

use super::error::Error;
#[cfg(not(feature = "zephyr"))]
pub(crate) use std_impl::*;
#[cfg(feature = "zephyr")]
pub(crate) use zephyr_impl::*;

/// A text field of the port's `ConnectConfig`.
pub(crate) trait SetText {
    /// Replaces the text; `Error::ConfigTooLong` if it does not fit.
    fn set_text(&mut self, s: &str) -> Result<(), Error>;
}

#[cfg(not(feature = "zephyr"))]
mod std_impl {
    use super::*;
    use std::boxed::Box;
    use std::string::String;
    use std::sync::{Mutex as StdMutex, MutexGuard, OnceLock};

    use crate::capi::events;
    use crate::capi::types::iot_hub_state;
    use crate::port::HubClient;

    /// A mutex that can live in a `static`. `ID` names the kernel mutex on Zephyr; unused here.
    pub(crate) struct Mutex<T, const ID: usize>(StdMutex<T>);

    impl<T, const ID: usize> Mutex<T, ID> {
        pub(crate) const fn new(value: T) -> Self {
            Mutex(StdMutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            // A panic aborts (both profiles), so a poisoned lock only means "a thread died
            // holding it".
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    static CLIENT: OnceLock<HubClient> = OnceLock::new();

    /// The C API's state, under a mutex of its own.
    static STATE: Mutex<iot_hub_state, 2> = Mutex::new(iot_hub_state::STATE_UNINIT);

    /// The C API's state, locked.
    pub(crate) type StateGuard = MutexGuard<'static, iot_hub_state>;

    /// Locks the C API's state.
    pub(crate) fn state() -> StateGuard {
        STATE.lock()
    }

    /// Creates the client (once) with the C API's event conversion as its handler.
    pub(crate) fn init_client(_st: &mut StateGuard) -> Result<(), Error> {
        CLIENT.get_or_init(|| HubClient::new(Box::new(events::on_port_event)));
        Ok(())
    }

    /// The next MQTT packet identifier, once [`init_client`] has run.
    pub(crate) fn next_packet_id(_st: &mut StateGuard) -> Option<u16> {
        client().map(|c| c.next_packet_id())
    }

    /// The client, once [`init_client`] has run.
    pub(crate) fn client() -> Option<&'static HubClient> {
        CLIENT.get()
    }

    /// Publishes through the client (`NotConnected` before [`init_client`]).
    pub(crate) fn publish(msg: &crate::hub::Message<'_>) -> Result<u16, crate::port::SendError> {
        let client = client().ok_or(crate::port::SendError::Publish(
            crate::hub::PublishError::NotConnected,
        ))?;
        client.publish(msg)
    }

    impl SetText for String {
        fn set_text(&mut self, s: &str) -> Result<(), Error> {
            *self = String::from(s);
            Ok(())
        }
    }

    /// What the port's `SendError::Io` carries.
    pub(crate) type IoError = std::io::Error;

    /// What the port's `ConnectError::Tls` carries.
    pub(crate) type TlsError = String;

    /// The errno of a failed socket call, or `otherwise`.
    pub(crate) fn os_errno(e: &std::io::Error, otherwise: c_int) -> c_int {
        match e.raw_os_error() {
            Some(n) if n > 0 => n,
            _ => otherwise,
        }
    }

    /// The errno of a failed resolution, or `otherwise`.
    pub(crate) fn dns_errno(e: &std::io::Error, otherwise: c_int) -> c_int {
        os_errno(e, otherwise)
    }

    /// The Plug and Play model ID the connection announces (not encoded), if any.
    pub(crate) fn model_id(cc: &Target) -> Option<&str> {
        cc.extensions.model_id.as_deref()
    }

    /// What azure_iot_hub_connect() connects with: the port's configuration.
    pub(crate) type Target = crate::port::ConnectConfig;

    /// The configuration from Kconfig (and the environment), as the C API starts from it.
    pub(crate) fn target() -> Target {
        let mut cc = Target::from_config();
        // FOTA forces the twin GET after SUBACK (nrf-api.md section 4.4).
        #[cfg(feature = "fota")]
        {
            cc.options.auto_twin_request = true;
        }
        cc
    }

    /// The size of the user-name buffer, with its NUL.
    pub(crate) fn user_name_buf_size(cc: &Target) -> usize {
        cc.options.user_name_buf_size
    }

    /// What connect and disconnect go through: the client.
    pub(crate) type Handle = &'static HubClient;

    /// The client, once [`init_client`] has run.
    pub(crate) fn handle() -> Option<Handle> {
        client()
    }

    /// Connects the client.
    pub(crate) fn connect(client: Handle, cc: &Target) -> Result<(), crate::port::ConnectError> {
        client.connect(cc)
    }

    /// Disconnects the client, after unlocking the state; when it refuses, back to
    /// DISCONNECTED unless the state moved on meanwhile.
    pub(crate) fn disconnect(st: StateGuard, client: Handle) -> Result<(), Error> {
        drop(st);
        client.disconnect().map_err(|_| {
            let mut st = state();
            if *st == iot_hub_state::STATE_DISCONNECTING {
                *st = iot_hub_state::STATE_DISCONNECTED;
            }
            Error::DisconnectFailed
        })
    }
}

#[cfg(feature = "zephyr")]
mod zephyr_impl {
    use super::*;

    use core::ops::{Deref, DerefMut};

    use crate::capi::events;
    use crate::capi::types::iot_hub_state;
    use crate::port::{HubClient, KGuard, Link, PortEvent, LINK};

    /// The C API's state, locked: a field of the port's link, under the link's lock (the C API
    /// has no mutex of its own), so that init, disconnect and the message ID reach the client
    /// in the same critical section as the state.
    pub(crate) struct StateGuard(KGuard<'static, Link, { crate::port::sys::MUTEX_LINK }>);

    impl Deref for StateGuard {
        type Target = iot_hub_state;
        fn deref(&self) -> &iot_hub_state {
            &self.0.capi_state
        }
    }

    impl DerefMut for StateGuard {
        fn deref_mut(&mut self) -> &mut iot_hub_state {
            &mut self.0.capi_state
        }
    }

    /// Locks the C API's state (and the port's link).
    pub(crate) fn state() -> StateGuard {
        StateGuard(LINK.lock())
    }

    fn handler(_client: &HubClient, ev: &PortEvent<'_>) {
        events::on_port_event(ev);
    }

    /// Initialises the port (once) with the C API's event conversion as its handler, under the
    /// lock the caller holds.
    pub(crate) fn init_client(st: &mut StateGuard) -> Result<(), Error> {
        crate::port::init_locked(&mut st.0, handler);
        Ok(())
    }

    /// The next MQTT packet identifier, once [`init_client`] has run (`TX` claimed: see the
    /// port's `ClientSlot`).
    pub(crate) fn next_packet_id(st: &mut StateGuard) -> Option<u16> {
        let client = st.0.client.as_mut()?;
        Some(client.next_packet_id())
    }

    /// Publishes through the port, without looking the client up: the C API publishes only
    /// when CONNECTED, which only an initialised client reaches (and before [`init_client`]
    /// the port's empty client answers `NotConnected` too, as the lookup would).
    pub(crate) use crate::port::publish;

    impl<const N: usize> SetText for heapless::String<N> {
        /// One copy of the whole text (`push_str` copies byte by byte, storing the length after
        /// each). Refused (and left empty) when longer than `N`, as `push_str` refuses it.
        fn set_text(&mut self, s: &str) -> Result<(), Error> {
            let bytes = s.as_bytes();
            // SAFETY: the vector gets the whole of `s`, a `&str`, so it holds UTF-8.
            let v = unsafe { self.as_mut_vec() };
            v.clear();
            if bytes.len() > N {
                return Err(Error::ConfigTooLong);
            }
            // SAFETY: the vector has room for `N >= bytes.len()` bytes, which the copy
            // initialises before `set_len` counts them; `s` and the vector do not overlap (the
            // vector is borrowed mutably here).
            unsafe {
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr(), bytes.len());
                v.set_len(bytes.len());
            }
            Ok(())
        }
    }

    /// What the port's `SendError::Io` carries.
    pub(crate) type IoError = i32;

    /// What the port's `ConnectError::Tls` carries.
    pub(crate) type TlsError = i32;

    /// The errno of a failed socket call (positive, Zephyr's numbers), or `otherwise`.
    pub(crate) fn os_errno(e: &i32, otherwise: c_int) -> c_int {
        if *e > 0 {
            *e
        } else {
            otherwise
        }
    }

    /// A failed resolution: the glue reports `getaddrinfo()` codes, which are not errno values.
    pub(crate) fn dns_errno(_e: &i32, otherwise: c_int) -> c_int {
        otherwise
    }

    /// The Plug and Play model ID the connection announces (not encoded), if any: the Kconfig
    /// value, which `ConnectConfig::from_config` put in `cc` and the C API never changes (a
    /// constant, so that a build without a model ID links no code for it).
    pub(crate) fn model_id(_cc: &Target) -> Option<&'static str> {
        let m = crate::config::AZURE_IOT_HUB_MODEL_ID;
        (!m.is_empty()).then_some(m)
    }

    /// What azure_iot_hub_connect() connects with: the host name and device ID, every other
    /// setting a Kconfig constant (with FOTA, the twin GET forced: the port's `CapiTarget`).
    pub(crate) type Target = crate::port::CapiTarget;

    /// The Kconfig host name and device ID.
    pub(crate) fn target() -> Target {
        <crate::port::CapiPick<{ crate::port::RECONNECTS }> as crate::port::CapiTargetOf>::kconfig()
    }

    /// The size of the user-name buffer, with its NUL (`CONFIG_AZURE_IOT_HUB_USER_NAME_BUF_SIZE`).
    pub(crate) fn user_name_buf_size(_cc: &Target) -> usize {
        crate::config::AZURE_IOT_HUB_USER_NAME_BUF_SIZE
    }

    /// What connect and disconnect go through: nothing, as the port's connect and disconnect
    /// reach the client through the link. The C API connects only when DISCONNECTED and
    /// disconnects only when CONNECTED (or reconnecting), which only an initialised client
    /// reaches, so no lookup of the client is needed to refuse them before init.
    #[derive(Clone, Copy)]
    pub(crate) struct Handle;

    /// See [`Handle`].
    pub(crate) fn handle() -> Option<Handle> {
        Some(Handle)
    }

    /// Connects the client.
    pub(crate) fn connect(_: Handle, cc: &Target) -> Result<(), crate::port::ConnectError> {
        crate::port::connect_capi(cc)
    }

    /// Disconnects the client, with the link (and the state) still locked; when it refuses,
    /// back to DISCONNECTED unless the state moved on meanwhile (it cannot in a build that does
    /// not reconnect, a constant: there the port keeps the lock taken here, under which the
    /// state was set to DISCONNECTING).
    pub(crate) fn disconnect(st: StateGuard, _: Handle) -> Result<(), Error> {
        crate::port::disconnect_locked(st.0, |link| {
            if !crate::port::RECONNECTS || link.capi_state == iot_hub_state::STATE_DISCONNECTING {
                link.capi_state = iot_hub_state::STATE_DISCONNECTED;
            }
        })
        .map_err(|_| Error::DisconnectFailed)
    }
}
