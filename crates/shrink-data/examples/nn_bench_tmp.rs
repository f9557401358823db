use std::time::Instant;
fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(10000);
    let src = shrink_data::load("mnist", &Default::default()).unwrap();
    let x = &src.train.x[..n * 784];
    let t = Instant::now();
    let nn = shrink_data::nearest_neighbours(x, n, 784, None);
    let s = t.elapsed().as_secs_f64();
    println!("n {n}: {s:.2} s, {:.1} GFMA/s, checksum {}", (n * n * 784) as f64 / s / 1e9, nn.iter().map(|&v| v as u64).sum::<u64>());
}
