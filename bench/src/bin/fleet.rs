fn main() {
    let mut a = std::env::args().skip(1);
    let n = a.next().and_then(|s| s.parse().ok()).unwrap_or(10000);
    let secs = a.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    println!(
        "{:?}",
        iot_bench::fleet::run(n, 2, std::time::Duration::from_secs(secs))
    );
}
