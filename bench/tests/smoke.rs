//! Each measurement once, small, with sanity checks (the full table: `./scripts/bench.sh`).
use iot_bench::throughput::{self, Peer};
use iot_bench::{callgrind, fleet, ops, wire};
use std::time::Duration;

#[test]
fn core_operations_run_and_callgrind_counts_them() {
    for op in ops::OPS {
        assert!(ops::run(op, 10) > 0, "{op}");
    }
    // valgrind is part of the bench toolbox; skip the count where it is missing.
    if std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("valgrind not installed: callgrind part skipped");
        return;
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_ops"));
    let n = callgrind::per_op(bin, "telemetry", 20).unwrap();
    // A debug build: far more than the release figure, but bounded.
    assert!(n > 50 && n < 200_000, "{n}");
}

#[test]
fn packet_sizes_from_the_core() {
    let b = wire::core_bytes();
    // The original's host and device: CONNECT 5 bytes shorter (DeviceClientType), the same
    // SUBSCRIBE and telemetry, a twin GET with a 1-digit request ID.
    assert_eq!(
        (b.connect, b.subscribe, b.twin_get, b.telemetry),
        (117, 127, 28, 85)
    );
}

#[test]
fn one_tls_record_per_packet() {
    let t = wire::tls_capture("1.2");
    assert_eq!(t.version, "TLS 1.2");
    // 85 bytes + 5 header + 8 explicit nonce + 16 tag.
    assert_eq!(t.telemetry_records, vec![85 + 29], "{t:?}");
    assert_eq!(
        t.connect_records,
        vec![117 + 29, 127 + 29, 28 + 29],
        "{t:?}"
    );
    assert!(t.round_trips_to_ready <= 5, "{t:?}");
    let t = wire::tls_capture("1.3");
    assert_eq!(t.telemetry_records, vec![85 + 22], "{t:?}");
    assert!(t.round_trips_to_ready <= 4, "{t:?}");
}

#[test]
fn throughput_both_ways_against_each_peer() {
    for peer in [Peer::Sink, Peer::Emulator] {
        let t = throughput::run(200, peer);
        assert!(t.library > 0.0 && t.plain > 0.0, "{t:?}");
        // Sending, reading the PUBACKs and serving the messages cost each thread some CPU, and
        // far less than a millisecond a message.
        for cpu in [
            t.library_cpu_us,
            t.plain_cpu_us,
            t.worker_cpu_us,
            t.library_peer_cpu_us,
            t.plain_peer_cpu_us,
        ] {
            assert!(cpu > 0.0 && cpu < 1000.0, "{peer:?} {t:?}");
        }
    }
}

#[test]
fn small_fleet_in_process() {
    let emu = hub_emulator::Emulator::start(hub_emulator::Config::temp()).unwrap();
    let ep = fleet::Endpoint {
        mqtt: emu.mqtt_addr(),
        url: emu.http_url(),
        ca_pem: emu.ca_pem(),
        pid: std::process::id().to_string(),
    };
    let r = fleet::run_on(&ep, 20, 2, Duration::from_secs(1));
    assert_eq!(r.connected, 20, "{r:?}");
    assert!(r.sent_per_sec > 5.0 && r.acked_per_sec > 5.0, "{r:?}");
}
