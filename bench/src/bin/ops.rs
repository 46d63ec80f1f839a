//! `ops OP N`: runs one core operation N times (for callgrind: instructions(N) - instructions(0)
//! divided by N is the cost of one operation).
fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().expect("usage: ops telemetry|c2d|method N");
    let n: u64 = args.next().and_then(|s| s.parse().ok()).expect("N");
    let sum = iot_bench::ops::run(&op, n);
    std::process::exit(if sum == usize::MAX { 1 } else { 0 });
}
