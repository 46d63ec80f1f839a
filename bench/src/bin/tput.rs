//! `tput [N] [RUNS]`: the throughput comparison alone, each run printed.
fn main() {
    let mut a = std::env::args().skip(1);
    let n = a.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let runs = a.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    for _ in 0..runs {
        let t = iot_bench::throughput::run(n);
        println!(
            "library {:.0} msg/s, plain {:.0} msg/s, ratio {:.2}; CPU us/msg: library {:.2} + worker {:.2} vs plain {:.2}; hub emulator {:.2} vs {:.2}",
            t.library,
            t.plain,
            t.library / t.plain,
            t.library_cpu_us,
            t.worker_cpu_us,
            t.plain_cpu_us,
            t.library_hub_cpu_us,
            t.plain_hub_cpu_us
        );
    }
}
