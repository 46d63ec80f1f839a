//! Evidence for docs/notes/mqttrs.md: mqttrs 0.4.1's decoder panics on truncated packets that our
//! decoder rejects with an error. If a future mqttrs fixes this, the first test fails and the note
//! should be revisited.

use azure_iot_hub::mqtt::{decode_packet, Framed, Framer};
use std::panic;

const TRUNCATED: &[&[u8]] = &[
    &[0x40, 0x00],       // PUBACK without packet id
    &[0x20, 0x01, 0x00], // CONNACK with one byte
    // PUBLISH whose topic length points past the packet, followed by the next packet's bytes.
    &[
        0x30, 0x03, 0x00, 0x09, b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a',
    ],
];

#[test]
fn mqttrs_panics_where_our_decoder_returns_an_error() {
    panic::set_hook(Box::new(|_| {}));
    for bytes in TRUNCATED {
        let theirs = panic::catch_unwind(|| {
            let _ = mqttrs::decode_slice(bytes);
        });
        assert!(
            theirs.is_err(),
            "mqttrs no longer panics on {bytes:02x?}: revisit docs/notes/mqttrs.md"
        );
        let mut f = Framer::new([0u8; 16]);
        f.push(bytes);
        match f.next().unwrap() {
            Some(Framed::Packet { header, body }) => {
                assert!(decode_packet(header, body).is_err(), "{bytes:02x?}")
            }
            other => panic!("{other:?}"),
        }
    }
    let _ = panic::take_hook();
}
