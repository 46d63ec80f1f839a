//! The extensions' core pieces on a virtual clock, with literal packets: the reconnect policy
//! (backoff timing, jitter, renewal), a persistent session's QoS 1 resend with DUP, the QoS 1
//! C2D subscription, and the Plug and Play model ID in CONNECT. No sockets, no threads, no sleep.

use azure_iot_hub::backoff::BackoffConfig;
use azure_iot_hub::hub::outbox::{Outbox, OutboxFull};
use azure_iot_hub::hub::reconnect::{renew_after_ms, Loss, Reconnect, ReconnectConfig};
use azure_iot_hub::hub::{properties::NO_PROPERTIES, Event, Message, MessageKind, Options};
use azure_iot_hub::mqtt::QoS;
use azure_iot_hub::Connection;

type Conn = Connection<Vec<u8>, Vec<u8>>;

fn take_tx(c: &mut Conn, now: u64) -> Vec<u8> {
    let out = c
        .client
        .poll_transmit()
        .map(|b| b.to_vec())
        .unwrap_or_default();
    c.client.transmit_complete(out.len(), now);
    out
}

/// The CONNECT flags byte (after the protocol name and level).
fn connect_flags(connect: &[u8]) -> u8 {
    let at = connect.windows(5).position(|w| w == b"MQTT\x04").unwrap();
    connect[at + 5]
}

fn policy(min: u64, max: u64, jitter: u64) -> Reconnect {
    Reconnect::new(ReconnectConfig {
        enabled: true,
        backoff: BackoffConfig {
            min_ms: min,
            max_ms: max,
            jitter_ms: jitter,
        },
    })
}

/// An outage of failed attempts on a virtual clock: each attempt is due exactly at the deadline
/// (not a millisecond earlier), the delays double up to the cap, and an accepted CONNACK
/// restarts the sequence at its minimum.
#[test]
fn backoff_timing_on_a_virtual_clock() {
    let mut r = policy(1_000, 8_000, 0);
    let mut now = 50_000u64;
    let mut deadline = r.lost(Loss::Transport, now, 7).unwrap();
    let mut attempts_at = Vec::new();
    for _ in 0..7 {
        assert!(!r.due(deadline - 1), "due early at {}", deadline - 1);
        assert!(r.due(deadline));
        assert_eq!(r.poll_timeout(), Some(deadline));
        now = deadline;
        r.attempt();
        attempts_at.push(now - 50_000);
        assert_eq!(r.poll_timeout(), None);
        // The attempt takes 20 ms and fails.
        now += 20;
        deadline = r.lost(Loss::ConnectFailed, now, 7).unwrap();
    }
    // 1 s, then 2, 4, 8, 8, 8, 8 s after each 20 ms attempt.
    assert_eq!(
        attempts_at,
        [1_000, 3_020, 7_040, 15_060, 23_080, 31_100, 39_120]
    );
    assert_eq!(r.failed_attempts(), 8);
    assert_eq!(r.reconnects(), 7);
    r.attempt();
    r.connected(now + 5, None);
    assert_eq!(r.failed_attempts(), 0);
    assert_eq!(r.lost(Loss::Protocol, 100_000, 7), Some(101_000));
}

/// Jitter: the delay is min..=min+jitter and spreads over the whole range for varied randomness.
#[test]
fn jitter_spreads_a_fleet() {
    let mut seen = std::collections::BTreeSet::new();
    for device in 0..200u32 {
        let mut r = policy(1_000, 60_000, 500);
        let d = r
            .lost(Loss::Transport, 0, device.wrapping_mul(2_654_435_761))
            .unwrap();
        assert!((1_000..=1_500).contains(&d), "{d}");
        seen.insert(d);
    }
    assert!(seen.len() > 100, "only {} distinct delays", seen.len());
}

/// Token renewal: due at 80 % of the validity after CONNACK, then one immediate attempt even with
/// reconnect off; a failure of that attempt ends the session when reconnect is off.
#[test]
fn token_renewal_on_a_virtual_clock() {
    assert_eq!(renew_after_ms(3_600), 2_880_000);
    let mut r = Reconnect::new(ReconnectConfig::default());
    assert!(!r.config().enabled);
    r.connected(1_000, Some(3));
    assert_eq!(r.renewal_deadline(), Some(3_400));
    assert!(!r.renewal_due(3_399));
    assert!(r.renewal_due(3_400));
    assert_eq!(r.lost(Loss::Renewal, 3_400, 0), Some(3_400));
    assert!(r.due(3_400));
    r.attempt();
    assert_eq!(r.renewal_deadline(), None);
    assert_eq!(r.lost(Loss::ConnectFailed, 3_410, 0), None);
    // Without a token there is nothing to renew.
    r.connected(5_000, None);
    assert_eq!(r.renewal_deadline(), None);
    r.stop();
    assert_eq!(r.poll_timeout(), None);
}

fn connack(c: &mut Conn, session_present: bool, now: u64) -> Event<'_> {
    c.handle_input(&[0x20, 2, u8::from(session_present), 0]);
    c.poll_event(now).unwrap().unwrap()
}

/// A persistent session: CONNECT has clean session 0, C2D is subscribed with QoS 1, a QoS 1
/// message without PUBACK stays in the outbox across the reconnect and goes out again with DUP
/// and its original packet ID; the PUBACK then empties the outbox.
#[test]
fn persistent_session_resends_with_dup() {
    let opts = Options {
        clean_session: false,
        auto_twin_request: false,
        ..Options::default()
    };
    let mut c: Conn = Connection::new(vec![0; 512], vec![0; 512], opts);
    c.client.set_c2d_qos(QoS::AtLeastOnce);
    let mut outbox = Outbox::new([0u8; 64]);

    c.client.connect("h", "d", None, None, 0).unwrap();
    let connect = take_tx(&mut c, 0);
    // Connect flags: user name (0x80), no password, clean session bit (0x02) off.
    assert_eq!(connect_flags(&connect), 0x80);
    assert!(matches!(
        connack(&mut c, false, 1),
        Event::Connected {
            session_present: false
        }
    ));
    let subscribe = take_tx(&mut c, 1);
    let c2d_filter = b"devices/+/messages/devicebound/#";
    let at = subscribe
        .windows(c2d_filter.len())
        .position(|w| w == c2d_filter)
        .unwrap();
    assert_eq!(subscribe[at + c2d_filter.len()], 1, "C2D QoS 1");
    assert_eq!(subscribe[subscribe.len() - 1], 0, "twin responses QoS 0");

    let msg = Message {
        kind: MessageKind::Telemetry {
            properties: &NO_PROPERTIES,
        },
        payload: b"t1",
        qos: QoS::AtLeastOnce,
        packet_id: Some(7),
        dup: false,
        retain: false,
    };
    let out = c.client.publish(&msg, 2).unwrap();
    outbox
        .store(out.packet_id, &[out.packet_header(), out.body()])
        .unwrap();
    out.sent();
    // The connection drops before the PUBACK.
    c.handle_closed();

    c.client.connect("h", "d", None, None, 10).unwrap();
    take_tx(&mut c, 10);
    assert!(matches!(
        connack(&mut c, true, 11),
        Event::Connected {
            session_present: true
        }
    ));
    outbox.mark_duplicates();
    let resent: Vec<(u16, Vec<u8>)> = outbox.packets().map(|(i, p)| (i, p.to_vec())).collect();
    let topic = b"devices/d/messages/events/";
    let mut expected = vec![0x3A, (2 + topic.len() + 2 + 2) as u8, 0, topic.len() as u8];
    expected.extend_from_slice(topic);
    expected.extend_from_slice(&[0, 7, b't', b'1']);
    assert_eq!(resent, [(7, expected)]);

    c.handle_input(&[0x40, 2, 0, 7]);
    assert!(matches!(
        c.poll_event(12).unwrap(),
        Some(Event::Puback { packet_id: 7 })
    ));
    assert!(outbox.ack(7));
    assert!(outbox.is_empty());
}

/// The bounded outbox says "full" instead of dropping: the application keeps its message.
#[test]
fn full_outbox_refuses() {
    let mut outbox = Outbox::new([0u8; 40]);
    outbox.store(1, &[&[0x32, 20], &[0u8; 20]]).unwrap();
    assert_eq!(outbox.store(2, &[&[0x32, 20], &[0u8; 20]]), Err(OutboxFull));
    assert_eq!(outbox.count(), 1);
}

/// The default session (clean session 1) subscribes to C2D with QoS 0, as the original.
#[test]
fn default_subscribes_qos0() {
    let mut c: Conn = Connection::new(vec![0; 512], vec![0; 512], Options::default());
    c.client.connect("h", "d", None, None, 0).unwrap();
    let connect = take_tx(&mut c, 0);
    assert_eq!(connect_flags(&connect), 0x82);
    connack(&mut c, false, 1);
    let subscribe = take_tx(&mut c, 1);
    let c2d_filter = b"devices/+/messages/devicebound/#";
    let at = subscribe
        .windows(c2d_filter.len())
        .position(|w| w == c2d_filter)
        .unwrap();
    assert_eq!(subscribe[at + c2d_filter.len()], 0);
}

/// The model ID goes into the CONNECT user name as `&model-id=` (URL-encoded by the caller).
#[test]
fn model_id_in_connect() {
    let mut c: Conn = Connection::new(vec![0; 512], vec![0; 512], Options::default());
    c.client
        .connect(
            "h",
            "d",
            Some(b"SharedAccessSignature sr=x"),
            Some("dtmi%3Acom%3Aexample%3AThermostat%3B1"),
            0,
        )
        .unwrap();
    let connect = take_tx(&mut c, 0);
    let text = String::from_utf8_lossy(&connect);
    assert!(
        text.contains(
            "&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1\0\x1aSharedAccessSignature sr=x"
        ),
        "{text:?}"
    );
    // User name and password flags.
    assert_eq!(connect_flags(&connect), 0xC2);
}
