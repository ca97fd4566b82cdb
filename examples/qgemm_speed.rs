//! The int8 kernels alone (kernels/src/qgemm.rs) on SigLIP B/16's product shapes (196 tokens;
//! q/k/v/out 768×768, fc1 768×3072, fc2 3072×768) and on a 16-column product that is almost all
//! activation quantisation: milliseconds and GMAC/s per kernel this machine runs.
//!
//!   cargo run --release --example qgemm_speed

use std::time::Instant;

use sightline_kernels::qgemm::*;

fn main() {
    for &(m, k, n) in &[(196usize, 768usize, 768usize), (196, 768, 3072), (196, 3072, 768), (196, 768, 16)] {
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0).collect();
        let w: Vec<u8> = (0..k * n).map(|i| (i * 31 % 251) as u8).collect();
        let mut y = vec![0f32; m * n];
        for kernel in Kernel::available() {
            let p = PackedWeights::pack_for(kernel, &w, k, n, 128, 0.01, Some(vec![0.0; n]));
            dynamic_quantize_matmul(&x, m, &p, &mut y);
            let t = Instant::now();
            let reps = 20;
            for _ in 0..reps { dynamic_quantize_matmul(&x, m, &p, &mut y); }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            println!("{m}x{k}x{n} {kernel:?}: {:.2} ms, {:.1} GMAC/s", s * 1e3, (m * k * n) as f64 / s / 1e9);
        }
    }
}
