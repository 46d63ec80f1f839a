//! The SUBSCRIBE packet for [`super::SUBSCRIPTIONS`], laid out at compile time: from one
//! connection to the next only its packet identifier and the QoS of the C2D filter change, so
//! the client copies a constant and patches three bytes instead of running the generic encoder
//! (smaller code, same bytes: see the test against `encode_subscribe`).

use super::{c2d, SUBSCRIPTIONS};
use crate::mqtt::{same_bytes, subscribe_len, subscribe_part, subscribe_template, QoS};

/// The whole packet: fixed header (2 bytes) and body.
pub const LEN: usize = subscribe_len(&SUBSCRIPTIONS);

/// The packet with packet identifier 0 and every QoS 0, and where the C2D filter's QoS byte is
/// (the last byte of the packet cut after that filter).
const TEMPLATE: ([u8; LEN], usize) = {
    let mut i = 0;
    while !same_bytes(
        SUBSCRIPTIONS[i].as_bytes(),
        c2d::SUBSCRIBE_FILTER.as_bytes(),
    ) {
        i += 1;
    }
    let c2d_qos_at = subscribe_len(SUBSCRIPTIONS.split_at(i + 1).0) - 1;
    (subscribe_template::<LEN>(&SUBSCRIPTIONS), c2d_qos_at)
};

/// [`TEMPLATE`]'s packet, in flash once: [`write`] copies it, and the topic parsers' constant
/// prefixes (which its filters hold) point into it ([`shared`]) rather than being copies of
/// their own.
static PACKET: [u8; LEN] = TEMPLATE.0;

/// `bytes` where the SUBSCRIBE packet holds them (found at compile time; a compile error if it
/// does not): the same bytes, with no second copy in flash.
pub(crate) const fn shared<const N: usize>(bytes: &[u8; N]) -> &'static [u8; N] {
    match subscribe_part(&PACKET, bytes).first_chunk::<N>() {
        Some(part) => part,
        None => panic!("not in the SUBSCRIBE packet"),
    }
}

/// Writes SUBSCRIBE with `packet_id`, the C2D filter at `c2d_qos`, the others at QoS 0, into
/// `p` (the client's transmit queue: no copy of the packet on the stack first).
/// `p` holds at least [`LEN`] bytes (the caller has tested it, so the tests here fold).
#[inline(always)]
pub fn write(p: &mut [u8], packet_id: u16, c2d_qos: QoS) {
    let c2d_qos_at = TEMPLATE.1;
    if let Some(p) = p.get_mut(..LEN) {
        p.copy_from_slice(&PACKET);
    }
    // Two stores (a byte copy loop through a stack slot otherwise).
    if let [_, _, hi, lo, ..] = p {
        [*hi, *lo] = packet_id.to_be_bytes();
    }
    if let Some(q) = p.get_mut(c2d_qos_at) {
        *q = c2d_qos as u8;
    }
}

/// SUBSCRIBE with `packet_id`, the C2D filter at `c2d_qos`, the others at QoS 0.
#[cfg(test)]
pub fn packet(packet_id: u16, c2d_qos: QoS) -> [u8; LEN] {
    let mut p = [0; LEN];
    write(&mut p, packet_id, c2d_qos);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::encode_subscribe;
    use crate::sink::Cursor;

    #[test]
    fn same_bytes_as_the_encoder() {
        for (id, qos) in [
            (1, QoS::AtMostOnce),
            (0x1234, QoS::AtLeastOnce),
            (u16::MAX, QoS::AtMostOnce),
        ] {
            let filters = SUBSCRIPTIONS.map(|f| {
                (
                    f,
                    if f == c2d::SUBSCRIBE_FILTER {
                        qos
                    } else {
                        QoS::AtMostOnce
                    },
                )
            });
            let mut buf = [0u8; 256];
            let mut c = Cursor::new(&mut buf);
            encode_subscribe(&mut c, id, &filters).unwrap();
            assert_eq!(&packet(id, qos)[..], c.written(), "{id} {qos:?}");
        }
        // The original's SUBSCRIBE is 127 bytes (docs/performance.md).
        assert_eq!(LEN, 127);
    }
}
