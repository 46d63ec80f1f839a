//! `bench [--quick]`: every measurement, printed as one table next to the original's numbers and
//! the targets (issue 7). `./scripts/bench.sh` builds what it needs and runs it.
use iot_bench::throughput::{self, Peer};
use iot_bench::{callgrind, fleet, wire};
use std::time::Duration;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut row = |what: &str, orig: &str, target: &str, ours: String, ok: Option<bool>| {
        rows.push([
            what.into(),
            orig.into(),
            target.into(),
            ours,
            match ok {
                Some(true) => "yes".into(),
                Some(false) => "NO".into(),
                None => "-".into(),
            },
        ]);
    };

    // Footprint: scripts/footprint.sh writes target-bench/footprint.txt (key=value lines).
    let fp = iot_bench::footprint::load();
    let kb = |k: &str| fp.get(k).cloned();
    let num = |k: &str| kb(k).and_then(|v| v.parse::<u64>().ok());
    match num("hub_text") {
        Some(h) => row(
            "flash, hub only: core + C API + port, null transport (Linux x86_64, opt z, logging off)",
            "15,362 B (native_sim_64)",
            "<= 12,290 B",
            format!("{h} B"),
            Some(h <= 12_290),
        ),
        None => row("flash, hub only", "15,362 B", "<= 12,290 B", "not measured (scripts/footprint.sh failed)".into(), None),
    }
    match num("hub_dps_text") {
        Some(d) => row(
            "flash, hub + DPS (same)",
            "26,260 B",
            "<= 21,008 B",
            format!("{d} B"),
            Some(d <= 21_008),
        ),
        None => row(
            "flash, hub + DPS",
            "26,260 B",
            "<= 21,008 B",
            "not measured (the DPS build of scripts/footprint.sh failed)".into(),
            None,
        ),
    }
    if let Some(r) = num("hub_ram") {
        row(
            "RAM, hub only: .data + .bss + worker stack (default Kconfig buffers)",
            "7,934 B",
            "<= 7,934 B",
            format!("{r} B"),
            Some(r <= 7_934),
        );
    }
    // No target row: the original's hub + DPS RAM was not measured (its DPS shares the MQTT
    // helper's buffers and thread with the hub, as ours shares the receive buffer).
    if let Some(r) = num("hub_dps_ram") {
        row("RAM, hub + DPS (same)", "-", "-", format!("{r} B"), None);
    }
    // The issue's own yardstick, when scripts/footprint.sh found a Zephyr tree: the same program
    // built for Zephyr native_sim_64 (bench/footprint/zephyr), measured from the linker map.
    for (key, what, orig, limit) in [
        (
            "zephyr_hub_flash",
            "flash, hub only, Zephyr native_sim_64 (logging off, every API function called)",
            "15,362 B",
            12_290,
        ),
        (
            "zephyr_hub_dps_flash",
            "flash, hub + DPS, Zephyr native_sim_64 (same)",
            "26,260 B",
            21_008,
        ),
        (
            "zephyr_hub_ram",
            "RAM, hub only, Zephyr native_sim_64: .data + .bss incl. the worker stack",
            "7,934 B",
            7_934,
        ),
    ] {
        if let Some(v) = num(key) {
            // Rust runtime helpers from the library's archive that only another library calls
            // (mbed TLS's `__udivti3`): not the library's, not counted (zephyr_map.py).
            let foreign = key
                .strip_suffix("_flash")
                .and_then(|k| num(&format!("{k}_foreign")))
                .filter(|&f| f > 0);
            let note = foreign.map_or(String::new(), |f| {
                format!(" (+ {} B of runtime helpers only mbed TLS calls)", group(f))
            });
            row(
                what,
                orig,
                &format!("<= {}", group(limit)),
                format!("{} B{note}", group(v)),
                Some(v <= limit),
            );
        }
    }
    if let Some(r) = num("zephyr_hub_dps_ram") {
        row(
            "RAM, hub + DPS, Zephyr native_sim_64 (same)",
            "-",
            "-",
            format!("{} B", group(r)),
            None,
        );
    }
    if let Some(a) = kb("heap_allocs") {
        row(
            "heap allocations (the library links no allocator)",
            "-",
            "0",
            a.clone(),
            Some(a == "0"),
        );
    }

    // Instructions (callgrind).
    let ops = iot_bench::ops_binary();
    for (op, name, orig, target) in [
        (
            "telemetry",
            "instructions per telemetry send",
            891u64,
            445u64,
        ),
        (
            "c2d",
            "instructions per received C2D (3 properties)",
            2021,
            1010,
        ),
        (
            "method",
            "instructions per direct method (parse + response topic)",
            1133,
            566,
        ),
    ] {
        match callgrind::per_op(&ops, op, if quick { 100 } else { 10_000 }) {
            Ok(n) => row(
                name,
                &orig.to_string(),
                &format!("<= {target}"),
                format!("{n}"),
                Some(n <= target),
            ),
            Err(e) => row(
                name,
                &orig.to_string(),
                &format!("<= {target}"),
                format!("not measured: {e}"),
                None,
            ),
        }
    }

    // The direct method with the MQTT framing and decoding of the request too (not in the
    // original's definition of the row above; shown so the whole receive path is visible).
    let e2e = callgrind::per_op(&ops, "method_e2e", if quick { 100 } else { 10_000 })
        .map_or_else(|e| format!("not measured: {e}"), |n| format!("{n}"));
    row(
        "instructions per direct method incl. MQTT framing + decode",
        "-",
        "-",
        e2e,
        None,
    );

    // Bytes on the wire.
    let b = wire::core_bytes();
    row(
        "bytes: CONNECT (X.509)",
        "122",
        "<= 122",
        b.connect.to_string(),
        Some(b.connect <= 122),
    );
    row(
        "bytes: SUBSCRIBE",
        "127",
        "-",
        b.subscribe.to_string(),
        None,
    );
    row("bytes: twin GET", "30", "-", b.twin_get.to_string(), None);
    row(
        "bytes: telemetry QoS 1 (a=1&b=2, 38 B)",
        "85",
        "-",
        b.telemetry.to_string(),
        None,
    );
    for v in ["1.2", "1.3"] {
        let t = wire::tls_capture(v);
        let tele: usize = t.telemetry_records.iter().sum();
        let recs = t.telemetry_records.len();
        let (orig, target, ok) = if v == "1.2" {
            (
                "143 B (2 records)",
                "<= 114 B, 1 record",
                Some(tele <= 114 && recs == 1),
            )
        } else {
            ("-", "1 record", Some(recs == 1))
        };
        row(
            &format!("telemetry QoS 1 over {} ({})", t.version, t.suite),
            orig,
            target,
            format!("{tele} B in {recs} record(s)"),
            ok,
        );
        if !t.connect_records.is_empty() {
            row(
                &format!("{}: CONNECT / SUBSCRIBE / twin GET records", t.version),
                "-",
                "1 record each",
                t.connect_records
                    .iter()
                    .map(|r| format!("{r} B"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                Some(t.connect_records.len() == 3),
            );
        }
        let need = if v == "1.2" { 5 } else { 4 };
        row(
            &format!("round trips TCP connect -> READY, {}", t.version),
            "-",
            &format!(
                "<= {need} (TCP 1 + TLS {} + CONNECT 1 + SUBSCRIBE 1)",
                need - 3
            ),
            t.round_trips_to_ready.to_string(),
            Some(t.round_trips_to_ready <= need),
        );
    }

    // Throughput, against each peer: the best rate of 5 runs each way (the machine is shared
    // and noisy), and the least CPU per message each side spent (the library's: its sending
    // thread and its worker in the same run). The ratios of the single runs (both sides of a
    // run share the machine's state) are printed too: their spread shows how much of the figure
    // is noise. The target applies to the sink, which keeps up with either client, so the rates
    // are the clients'; against the hub emulator (saturated on 2 cores) they are its own.
    let n = if quick { 500 } else { 100_000 };
    for peer in [Peer::Sink, Peer::Emulator] {
        let (mut lib, mut plain) = (0.0f64, 0.0f64);
        let mut lib_cpu = (f64::INFINITY, 0.0, 0.0);
        let (mut plain_cpu, mut lib_peer, mut plain_peer) =
            (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        let mut ratios = Vec::new();
        for _ in 0..if quick { 1 } else { 5 } {
            let t = throughput::run(n, peer);
            ratios.push(t.library / t.plain);
            lib = lib.max(t.library);
            plain = plain.max(t.plain);
            let total = t.library_cpu_us + t.worker_cpu_us;
            if total < lib_cpu.0 {
                lib_cpu = (total, t.library_cpu_us, t.worker_cpu_us);
            }
            plain_cpu = plain_cpu.min(t.plain_cpu_us);
            lib_peer = lib_peer.min(t.library_peer_cpu_us);
            plain_peer = plain_peer.min(t.plain_peer_cpu_us);
        }
        let best = (lib / plain, lib, plain);
        ratios.sort_by(f64::total_cmp);
        let (what, target, met) = match peer {
            Peer::Sink => ("peer: a sink that keeps up", ">= 0.8", Some(best.0 >= 0.8)),
            Peer::Emulator => ("peer: the hub emulator, saturated", "-", None),
        };
        row(
            &format!(
                "QoS 1 telemetry over loopback TLS vs same bytes on a plain TLS socket; {what}"
            ),
            "-",
            target,
            format!(
                "{:.2} ({:.0} vs {:.0} msg/s, {n} msgs; single runs {:.2} to {:.2}, median {:.2})",
                best.0,
                best.1,
                best.2,
                ratios[0],
                ratios[ratios.len() - 1],
                ratios[ratios.len() / 2]
            ),
            met,
        );
        row(
            &format!("CPU per message: library (sending thread + worker) vs plain; {what}"),
            "-",
            "-",
            format!(
                "{:.2} ({:.2} + {:.2}) vs {plain_cpu:.2} us",
                lib_cpu.0, lib_cpu.1, lib_cpu.2
            ),
            None,
        );
        row(
            &format!("CPU per message of the peer serving each; {what}"),
            "-",
            "-",
            format!("{lib_peer:.2} vs {plain_peer:.2} us"),
            None,
        );
    }

    // Fleet.
    let (devices, secs) = if quick { (200, 2) } else { (10_000, 20) };
    let f = fleet::run(devices, 2, Duration::from_secs(secs));
    row(
        "fleet: devices connected at once (emulator in a child process)",
        "-",
        ">= 10,000",
        format!(
            "{} of {} (all READY in {:.1} s)",
            f.connected, f.devices, f.connect_secs
        ),
        Some(f.connected >= 10_000),
    );
    row(
        "fleet: telemetry rate, 1 msg/s per device, QoS 1",
        "-",
        "= devices / s",
        format!(
            "{:.0} sent/s, {:.0} PUBACKs/s over {:.0} s",
            f.sent_per_sec, f.acked_per_sec, f.window_secs
        ),
        Some(f.sent_per_sec >= 0.98 * f.connected as f64),
    );
    row(
        "fleet: CPU (cores busy) fleet / hub",
        "-",
        "2 cores",
        format!("{:.2} / {:.2}", f.fleet_cpu, f.hub_cpu),
        None,
    );
    row(
        "fleet: memory (RSS) fleet / hub",
        "-",
        "-",
        format!(
            "{} MiB ({:.1} KiB per device) / {} MiB",
            f.fleet_rss_kib / 1024,
            f.fleet_rss_kib as f64 / f.devices.max(1) as f64,
            f.hub_rss_kib / 1024
        ),
        None,
    );

    print_table(&rows);
}

fn print_table(rows: &[[String; 5]]) {
    let head = ["measurement", "original", "target", "this library", "met"];
    let mut w = head.map(str::len);
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: [&str; 5]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        println!("| {} |", parts.join(" | "));
    };
    line(head);
    println!(
        "|{}|",
        w.iter()
            .map(|n| "-".repeat(n + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for r in rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
}

/// 12345 -> "12,345".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
