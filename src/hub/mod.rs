//! The IoT Hub protocol, one file per feature (as the Azure SDK for Embedded C lays it out), and
//! the sans-IO [`Client`] that drives it.

pub mod c2d;
mod client;
pub mod methods;
pub mod outbox;
pub mod properties;
pub mod reconnect;
mod scan;
pub mod session;
mod subscribe;
pub mod telemetry;
pub mod twin;

pub use crate::mqtt::{Text, TopicText};
#[allow(unused_imports)] // used by the C API only
pub(crate) use client::{publish_event, valid_id, Checked};
pub use client::{
    Client, ConnectError, Event, Message, MessageKind, Options, Outgoing, ProtocolError,
    PublishError, Received, State, MAX_DEVICE_ID_LEN, MAX_HOSTNAME_LEN,
};
pub use properties::{BagBytes, Property, PropertyBag, PropertyList};

use crate::sink::{Overflow, Sink};

/// The IoT Hub MQTT api-version the library speaks (that of the Azure SDK for Embedded C).
pub const API_VERSION: &str = "2020-09-30";

/// `DeviceClientType` sent in the user name.
// Short on purpose: it is in every CONNECT (the original's `azsdk-c%2F1.4.0-beta.2` is 22 bytes).
pub const DEVICE_CLIENT_TYPE: &str = concat!("iothub-rs%2F", env!("CARGO_PKG_VERSION"));

/// What follows `{host}/{device ID}` in the user name: the api-version and the
/// `DeviceClientType` above, as one constant (one piece of CONNECT instead of four).
pub(crate) const USER_NAME_SUFFIX: &str = concat!(
    "/?api-version=2020-09-30&DeviceClientType=iothub-rs%2F",
    env!("CARGO_PKG_VERSION")
);

// USER_NAME_SUFFIX is exactly "/?api-version=" API_VERSION "&DeviceClientType="
// DEVICE_CLIENT_TYPE (checked at compile time).
const _: () = {
    let s = USER_NAME_SUFFIX.as_bytes();
    let parts: [&[u8]; 4] = [
        b"/?api-version=",
        API_VERSION.as_bytes(),
        b"&DeviceClientType=",
        DEVICE_CLIENT_TYPE.as_bytes(),
    ];
    let mut at = 0;
    let mut k = 0;
    while k < parts.len() {
        let p = parts[k];
        let mut j = 0;
        while j < p.len() {
            assert!(at < s.len() && s[at] == p[j]);
            at += 1;
            j += 1;
        }
        k += 1;
    }
    assert!(at == s.len());
};

/// The four subscriptions, in the original's order, all QoS 0.
pub const SUBSCRIPTIONS: [&str; 4] = [
    c2d::SUBSCRIBE_FILTER,
    methods::SUBSCRIBE_FILTER,
    twin::DESIRED_FILTER,
    twin::RESPONSE_FILTER,
];

/// Writes the MQTT user name: `{host}/{device_id}/?api-version=2020-09-30&DeviceClientType=...`
/// and, with a Plug and Play model ID, `&model-id=...` (URL-encoded by the caller).
pub fn write_user_name<S: Sink>(
    s: &mut S,
    hostname: &str,
    device_id: &str,
    model_id: Option<&str>,
) -> Result<(), Overflow> {
    s.put(hostname.as_bytes())?;
    s.put_u8(b'/')?;
    s.put(device_id.as_bytes())?;
    s.put(USER_NAME_SUFFIX.as_bytes())?;
    if let Some(m) = model_id {
        s.put(b"&model-id=")?;
        s.put(m.as_bytes())?;
    }
    Ok(())
}

/// The length of the user name [`write_user_name`] writes (computed: no measuring pass).
pub fn user_name_len(hostname: &str, device_id: &str, model_id: Option<&str>) -> usize {
    const FIXED: usize = "/".len() + USER_NAME_SUFFIX.len();
    let model = model_id.map_or(0, |m| "&model-id=".len() + m.len());
    hostname.len() + device_id.len() + FIXED + model
}

/// What an incoming topic is, tried in the original's order: C2D, direct method, twin. Its
/// parts are `&str` or [`Text`], as the topic was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubTopic<'a, S = &'a str> {
    /// A cloud-to-device message with its property bag.
    C2d(PropertyBag<'a>),
    /// A direct-method request.
    Method(methods::MethodTopic<S>),
    /// A twin response or desired patch.
    Twin(twin::TwinTopic<S>),
    /// A method or twin topic missing a required part (`$rid`, `$version`, name, status).
    Malformed,
    /// Anything else.
    Unknown,
}

/// Classifies an incoming topic: a `&str`, or a received [`Text`] (what the client does, with
/// no UTF-8 conversion).
pub fn classify<'a, S: TopicText<'a>>(topic: S) -> HubTopic<'a, S> {
    classify_into(topic, AsHubTopic)
}

/// What [`classify_into`] makes of each kind of topic: a [`HubTopic`], or what the client makes
/// of it directly (its [`Event`], built where the topic's parts are, with no `HubTopic` to
/// convert afterwards).
pub(crate) trait TopicKinds<'a, S> {
    type Out;
    fn c2d(self, bag: PropertyBag<'a>) -> Self::Out;
    fn method(self, m: methods::MethodTopic<S>) -> Self::Out;
    fn twin(self, t: twin::TwinTopic<S>) -> Self::Out;
    fn malformed(self) -> Self::Out;
    fn unknown(self) -> Self::Out;
}

struct AsHubTopic;

impl<'a, S> TopicKinds<'a, S> for AsHubTopic {
    type Out = HubTopic<'a, S>;
    fn c2d(self, bag: PropertyBag<'a>) -> Self::Out {
        HubTopic::C2d(bag)
    }
    fn method(self, m: methods::MethodTopic<S>) -> Self::Out {
        HubTopic::Method(m)
    }
    fn twin(self, t: twin::TwinTopic<S>) -> Self::Out {
        HubTopic::Twin(t)
    }
    fn malformed(self) -> Self::Out {
        HubTopic::Malformed
    }
    fn unknown(self) -> Self::Out {
        HubTopic::Unknown
    }
}

/// [`classify`], handing each kind of topic to `kinds`: C2D, direct method, twin, in the
/// original's order.
#[inline(always)]
pub(crate) fn classify_into<'a, S: TopicText<'a>, K: TopicKinds<'a, S>>(
    topic: S,
    kinds: K,
) -> K::Out {
    if let Some(bag) = c2d::parse(topic) {
        return kinds.c2d(bag);
    }
    match methods::parse(topic) {
        Ok(m) => return kinds.method(m),
        Err(methods::MethodTopicError::Malformed) => return kinds.malformed(),
        Err(methods::MethodTopicError::NotMethod) => {}
    }
    match twin::parse(topic) {
        Ok(t) => kinds.twin(t),
        Err(twin::TwinTopicError::Malformed) => kinds.malformed(),
        Err(twin::TwinTopicError::NotTwin) => kinds.unknown(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Cursor;

    #[test]
    fn user_name_len_is_the_written_length() {
        for (h, d, m) in [
            ("hub.azure-devices.net", "my-device", None),
            ("h", "d", Some("dtmi%3Acom%3Aexample%3AThermostat%3B1")),
            ("", "", Some("")),
        ] {
            let n = crate::sink::measure(|s| write_user_name(s, h, d, m)).unwrap();
            assert_eq!(user_name_len(h, d, m), n, "{h} {d} {m:?}");
        }
    }

    #[test]
    fn user_name_vector() {
        let mut buf = [0u8; 160];
        let mut c = Cursor::new(&mut buf);
        write_user_name(&mut c, "hub.azure-devices.net", "my-device", None).unwrap();
        let s = core::str::from_utf8(c.written()).unwrap();
        assert!(
            s.starts_with(
                "hub.azure-devices.net/my-device/?api-version=2020-09-30&DeviceClientType="
            ),
            "{s}"
        );
        let mut c = Cursor::new(&mut buf);
        write_user_name(
            &mut c,
            "h",
            "d",
            Some("dtmi%3Acom%3Aexample%3AThermostat%3B1"),
        )
        .unwrap();
        assert!(core::str::from_utf8(c.written())
            .unwrap()
            .ends_with("&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1"));
    }

    #[test]
    fn twin_response_status_agrees_with_split_once() {
        // The status check as it was: what precedes the first `/?` is 1 to 3 ASCII digits.
        fn reference(rest: &str) -> Option<(u16, &str)> {
            let (status, query) = rest.split_once("/?")?;
            if status.is_empty() || status.len() > 3 || !status.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Some((status.parse().ok()?, query))
        }
        for rest in [
            "200/?$rid=1",
            "2/?$rid=1",
            "20/?$rid=1",
            "2000/?$rid=1",
            "/?$rid=1",
            "2x0/?$rid=1",
            "200/x/?$rid=1",
            "200/",
            "200",
            "",
            "999/?$rid=1&$version=2",
            "0/?$rid=a/?b",
            "12/?",
            "1é/?$rid=1",
        ] {
            let topic = std::format!("$iothub/twin/res/{rest}");
            let got = match twin::parse(topic.as_str()) {
                Ok(twin::TwinTopic::Response { status, .. }) => Some(status),
                Ok(other) => panic!("{other:?}"),
                Err(twin::TwinTopicError::Malformed) => None,
                Err(e) => panic!("{e:?}"),
            };
            let want = reference(rest)
                .filter(|(_, q)| {
                    PropertyBag::from(*q)
                        .get("$rid")
                        .is_some_and(|r| !r.is_empty())
                })
                .map(|(s, _)| s);
            assert_eq!(got, want, "{rest}");
        }
    }

    #[test]
    fn classify_vectors() {
        assert!(matches!(
            classify("devices/d/messages/devicebound/a=1"),
            HubTopic::C2d(_)
        ));
        assert!(matches!(
            classify("$iothub/methods/POST/led/?$rid=3"),
            HubTopic::Method(_)
        ));
        assert!(matches!(
            classify("$iothub/twin/res/200/?$rid=3"),
            HubTopic::Twin(_)
        ));
        assert_eq!(classify("$iothub/twin/res/200/?x=3"), HubTopic::Malformed);
        assert_eq!(classify("$iothub/methods/POST/led"), HubTopic::Malformed);
        assert_eq!(classify("some/other/topic"), HubTopic::Unknown);
        assert_eq!(classify("$iothub/twin/GET/?$rid=1"), HubTopic::Unknown);
    }
}
