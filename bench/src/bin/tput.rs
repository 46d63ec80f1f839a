//! `tput [N] [RUNS]`: the throughput comparison alone, each run printed.
fn main() {
    let mut a = std::env::args().skip(1);
    let n = a.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let runs = a.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    for _ in 0..runs {
        let t = iot_bench::throughput::run(n);
        println!(
            "library {:.0} msg/s, plain {:.0} msg/s, ratio {:.2}; sending thread {:.2} vs {:.2} us CPU/msg",
            t.library,
            t.plain,
            t.library / t.plain,
            t.library_cpu_us,
            t.plain_cpu_us
        );
    }
}
