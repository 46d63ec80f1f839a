//! `tput [N] [RUNS] [emulator]`: the throughput comparison alone, each run printed; against the
//! minimal sink (the bench's target row), or with `emulator` against the hub emulator.
use iot_bench::throughput::{self, Peer};

fn main() {
    let mut a = std::env::args().skip(1);
    let n = a.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let runs = a.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let peer = match a.next().as_deref() {
        Some("emulator") => Peer::Emulator,
        _ => Peer::Sink,
    };
    for _ in 0..runs {
        let t = throughput::run(n, peer);
        println!(
            "library {:.0} msg/s, plain {:.0} msg/s, ratio {:.2}; CPU us/msg: library {:.2} + worker {:.2} vs plain {:.2}; peer ({peer:?}) {:.2} vs {:.2}",
            t.library,
            t.plain,
            t.library / t.plain,
            t.library_cpu_us,
            t.worker_cpu_us,
            t.plain_cpu_us,
            t.library_peer_cpu_us,
            t.plain_peer_cpu_us
        );
    }
}
