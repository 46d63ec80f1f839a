//! Many concurrent device connections (ignored by default; run with
//! `cargo test -p hub-emulator --release --test scale -- --ignored --nocapture`,
//! `HUB_EMU_SCALE_N` sets the count, default 2000).

mod common;

use common::*;
use hub_emulator::mqtt::Packet;
use hub_emulator::{util, Authentication};
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

#[test]
#[ignore]
fn thousands_of_concurrent_connections() {
    let n: usize = std::env::var("HUB_EMU_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let env = start();
    let key = util::random_key();
    let rss0 = rss_kib();
    let t0 = Instant::now();
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("scale-{i}");
        env.svc
            .create_device(
                &id,
                Authentication::Sas {
                    primary_key: key.clone(),
                    secondary_key: key.clone(),
                },
            )
            .unwrap();
        let token = util::sas_token(
            &format!("localhost/devices/{id}"),
            &key,
            util::unix_now() + 3600,
            None,
        );
        let (mut c, code) = env.connect_device(&id, None, Some(&token), 600);
        assert_eq!(code, Some(0), "device {i}");
        c.subscribe(&[("$iothub/twin/res/#", 0)]);
        clients.push(c);
    }
    let connect_time = t0.elapsed();
    assert_eq!(env.emu.connection_count(), n);
    let rss1 = rss_kib();
    // Every device does a twin round trip.
    let t1 = Instant::now();
    for c in clients.iter_mut() {
        c.publish("$iothub/twin/GET/?$rid=1", b"", 0);
    }
    for c in clients.iter_mut() {
        c.expect_publish("$iothub/twin/res/200/", Duration::from_secs(30));
    }
    let rtt_time = t1.elapsed();
    assert_eq!(env.svc.drop_connections(None).unwrap(), n);
    for c in clients.iter_mut() {
        let _ = c.send(&Packet::Pingreq);
    }
    println!(
        "{n} connections in {connect_time:?}; {n} twin GETs in {rtt_time:?}; \
         process RSS +{} KiB (client and server, {} KiB per connection pair)",
        rss1.saturating_sub(rss0),
        rss1.saturating_sub(rss0) / n as u64
    );
}
