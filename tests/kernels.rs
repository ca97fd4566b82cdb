//! kernels/: every int8 kernel this machine (or this WebAssembly engine) runs gives onnxruntime's
//! `DynamicQuantizeMatMul` numbers exactly, on ragged shapes. The same file runs natively and in
//! wasm (scripts/test): SIMD128 in V8, AVX2, VNNI and AVX-512 VNNI natively where the machine has
//! them. The relaxed-SIMD kernel runs in the relaxed build, which checks itself against the portable
//! kernel in Chromium (tests/browser). The attention's softmax kernels are checked against f64.

use sightline_kernels::qgemm::{dynamic_quantize_matmul, quantization_parameters, Kernel, PackedWeights};
use sightline_kernels::softmax;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// The operator's definition, written the slow way: ONNX DynamicQuantizeLinear, MatMulInteger in
/// i64, then `acc · (x_scale · w_scale) + bias` in f32.
#[allow(clippy::too_many_arguments)]
fn reference(x: &[f32], m: usize, k: usize, w: &[u8], n: usize, w_zp: u8, w_scale: f32, bias: Option<&[f32]>) -> Vec<f32> {
    let (scale, zp) = quantization_parameters(x);
    let q: Vec<i64> =
        x.iter().map(|&v| ((v / scale).round_ties_even() as i64 + zp as i64).clamp(0, 255)).collect();
    let mut y = vec![0f32; m * n];
    for r in 0..m {
        for c in 0..n {
            let acc: i64 =
                (0..k).map(|i| (q[r * k + i] - zp as i64) * (w[i * n + c] as i64 - w_zp as i64)).sum();
            y[r * n + c] = acc as i32 as f32 * (scale * w_scale) + bias.map_or(0.0, |b| b[c]);
        }
    }
    y
}

fn pseudo_random(len: usize, seed: u64) -> impl Iterator<Item = u64> {
    let mut s = seed;
    (0..len).map(move |_| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        s >> 33
    })
}

#[test]
fn every_kernel_matches_the_definition_on_ragged_shapes() {
    let kernels = Kernel::available();
    assert!(kernels.len() >= 2 || cfg!(not(any(target_arch = "wasm32", target_arch = "x86_64"))), "{kernels:?}");
    for &(m, k, n, with_bias, w_zp) in &[
        (1, 1, 1, false, 0u8),
        // Empty products: no rows, and K = 0 (only the bias).
        (0, 4, 4, false, 1),
        (3, 0, 5, true, 9),
        (5, 7, 9, true, 131),
        (4, 16, 8, false, 255),
        (13, 33, 47, true, 128),
        (196, 96, 40, true, 7),
        (3, 300, 17, false, 131),
        (9, 3072, 24, true, 120),
        // Several K blocks and column blocks, both ragged.
        (6, 1027, 301, true, 3),
    ] {
        // Mostly positive activations one time, mixed the next: zero points at both ends.
        let offset = if k % 2 == 0 { 2.5 } else { 0.3 };
        let x: Vec<f32> = pseudo_random(m * k, 1).map(|v| (v % 2000) as f32 / 300.0 - offset).collect();
        let w: Vec<u8> = pseudo_random(k * n, 2).map(|v| v as u8).collect();
        let bias: Vec<f32> = pseudo_random(n, 3).map(|v| (v % 100) as f32 / 7.0 - 5.0).collect();
        let bias = with_bias.then_some(bias);
        let want = reference(&x, m, k, &w, n, w_zp, 0.0123, bias.as_deref());
        for &kernel in &kernels {
            let packed = PackedWeights::pack_for(kernel, &w, k, n, w_zp, 0.0123, bias.clone());
            let mut y = vec![f32::NAN; m * n];
            dynamic_quantize_matmul(&x, m, &packed, &mut y);
            assert_eq!(y, want, "{kernel:?} on {m}x{k}x{n}");
        }
    }
}

/// The threaded build's split (row panels of the int8 products, heads of the attention products)
/// gives the same bits as one thread, on shapes whose rows and heads do not divide evenly.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn products_split_across_threads_give_the_same_bits() {
    use sightline_kernels::{parallel, sgemm};
    let single_threaded = |m: usize, k: usize, n: usize| {
        let x: Vec<f32> = pseudo_random(m * k, 11).map(|v| (v % 2000) as f32 / 300.0 - 2.5).collect();
        let w: Vec<u8> = pseudo_random(k * n, 12).map(|v| v as u8).collect();
        let packed = PackedWeights::pack(&w, k, n, 119, 0.0123, None);
        let mut y = vec![0f32; m * n];
        dynamic_quantize_matmul(&x, m, &packed, &mut y);
        (x, packed, y)
    };
    let cases: Vec<_> = [(1, 64, 40), (7, 96, 40), (29, 200, 33), (197, 64, 130)].iter().map(|&(m, k, n)| (m, k, n, single_threaded(m, k, n))).collect();
    let (batches, m, k, n) = (7, 13, 11, 9);
    let a: Vec<f32> = pseudo_random(batches * m * k, 13).map(|v| (v % 1000) as f32 / 100.0 - 5.0).collect();
    let b: Vec<f32> = pseudo_random(batches * k * n, 14).map(|v| (v % 1000) as f32 / 100.0 - 5.0).collect();
    let mut one_by_one = vec![0f32; batches * m * n];
    for (i, c) in one_by_one.chunks_exact_mut(m * n).enumerate() {
        sgemm::matmul(&a[i * m * k..][..m * k], &b[i * k * n..][..k * n], m, k, n, c);
    }

    parallel::use_thread_pool();
    rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("a pool").install(|| {
        assert_eq!(parallel::threads(), 3);
        for (m, k, n, (x, packed, want)) in &cases {
            let mut y = vec![f32::NAN; m * n];
            dynamic_quantize_matmul(x, *m, packed, &mut y);
            assert_eq!(&y, want, "{m}x{k}x{n}");
        }
        let mut c = vec![f32::NAN; batches * m * n];
        sgemm::matmul_batches(&a, &b, batches, m, k, n, &mut c);
        assert_eq!(c, one_by_one);
    });
}

#[test]
fn every_kernel_is_exact_at_the_extremes() {
    // Quantised activations at 0 and 255 against weights at 0 and 255 with both zero-point ends:
    // the sums that saturate a 16-bit intermediate (pmaddubsw) or overflow a signed byte.
    let (m, k, n) = (5, 67, 19);
    let x: Vec<f32> = pseudo_random(m * k, 4).map(|v| if v % 3 == 0 { -1.0 } else { 3.0 }).collect();
    let w: Vec<u8> = pseudo_random(k * n, 5).map(|v| if v % 5 < 2 { 0 } else { 255 }).collect();
    for w_zp in [0u8, 1, 128, 254, 255] {
        let want = reference(&x, m, k, &w, n, w_zp, 0.5, None);
        for kernel in Kernel::available() {
            let packed = PackedWeights::pack_for(kernel, &w, k, n, w_zp, 0.5, None);
            let mut y = vec![f32::NAN; m * n];
            dynamic_quantize_matmul(&x, m, &packed, &mut y);
            assert_eq!(y, want, "{kernel:?} with weight zero point {w_zp}");
        }
    }
}

#[test]
fn activations_are_quantized_as_onnx_specifies() {
    // ONNX's DynamicQuantizeLinear examples (Operators.md), read back through an identity matrix.
    for (x, want_scale, want_zp, want_q) in [
        (vec![0., 2., -3., -2.5, 1.34, 0.5], 5.0f32 / 255.0, 153, vec![153, 255, 0, 26, 221, 179]),
        (vec![-1., -2.1, -1.3, -2.5, -3.34, -4.], 4.0 / 255.0, 255, vec![191, 121, 172, 96, 42, 0]),
        (
            vec![1., 2.1, 1.3, 2.5, 3.34, 4., 1.5, 2.6, 3.9, 4., 3., 2.345],
            4.0 / 255.0,
            0,
            vec![64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149],
        ),
    ] {
        let (scale, zp) = quantization_parameters(&x);
        assert_eq!((scale, zp), (want_scale, want_zp));
        let k = x.len();
        let identity: Vec<u8> = (0..k * k).map(|i| (i / k == i % k) as u8).collect();
        for kernel in Kernel::available() {
            let packed = PackedWeights::pack_for(kernel, &identity, k, k, 0, 1.0, None);
            let mut y = vec![0f32; k];
            dynamic_quantize_matmul(&x, 1, &packed, &mut y);
            let q: Vec<i32> = y.iter().map(|v| (v / scale).round() as i32 + zp).collect();
            assert_eq!(q, want_q, "{kernel:?}");
        }
    }
    // All zeros: onnxruntime's scale 1 and zero point 0, not a division by zero.
    assert_eq!(quantization_parameters(&[0.0; 5]), (1.0, 0));
}

#[test]
fn every_f32_kernel_gives_the_same_bits_as_the_definition() {
    use sightline_kernels::sgemm;
    for &(m, k, n) in &[(1, 1, 1), (0, 3, 4), (3, 0, 4), (5, 7, 9), (4, 64, 8), (196, 64, 196), (13, 196, 64), (9, 300, 17)] {
        let a: Vec<f32> = pseudo_random(m * k, 6).map(|v| (v % 2000) as f32 / 700.0 - 1.4).collect();
        let b: Vec<f32> = pseudo_random(k * n, 7).map(|v| (v % 2000) as f32 / 900.0 - 1.1).collect();
        // Sequential sums over k, a multiply and an add each: the kernels' order and rounding.
        let mut want = vec![0f32; m * n];
        for r in 0..m {
            for c in 0..n {
                want[r * n + c] = (0..k).fold(0.0f32, |acc, i| acc + a[r * k + i] * b[i * n + c]);
            }
        }
        for kernel in sgemm::Kernel::available() {
            let mut c = vec![f32::NAN; m * n];
            sgemm::matmul_with(kernel, &a, &b, m, k, n, &mut c);
            assert_eq!(c, want, "{kernel:?} on {m}x{k}x{n}");
        }
    }
}

/// The tile tract's own f32 products run on (`sgemm::accumulate_tile`) adds to what the tile held,
/// and gives the definition's sums (to rounding: its fused multiply-add in the relaxed-SIMD
/// modules rounds once per step).
#[test]
fn the_accumulating_f32_tile_adds_the_product() {
    use sightline_kernels::sgemm::{accumulate_tile, MR, NR};
    for k in [0usize, 1, 3, 64, 301] {
        let a: Vec<f32> = pseudo_random(k * MR, 8).map(|v| (v % 2000) as f32 / 700.0 - 1.4).collect();
        let b: Vec<f32> = pseudo_random(k * NR, 9).map(|v| (v % 2000) as f32 / 900.0 - 1.1).collect();
        let mut tile = [[0f32; NR]; MR];
        for (r, row) in tile.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = (r * NR + c) as f32 - 10.0;
            }
        }
        let start = tile;
        accumulate_tile(&a, &b, k, &mut tile);
        for r in 0..MR {
            for c in 0..NR {
                let want = (0..k).fold(start[r][c] as f64, |acc, i| acc + a[i * MR + r] as f64 * b[i * NR + c] as f64);
                let scale: f64 = (0..k).map(|i| (a[i * MR + r] as f64 * b[i * NR + c] as f64).abs()).sum::<f64>() + start[r][c].abs() as f64;
                assert!((tile[r][c] as f64 - want).abs() <= 1e-6 * scale.max(1.0), "k={k} ({r}, {c}): {} vs {want}", tile[r][c]);
            }
        }
    }
}

/// tract runs its f32 products with more than one column (every convolution of the OCR and face
/// networks) on Sightline's 4×8 tile in WebAssembly, and keeps its own kernels natively; the same
/// for its channel-last depthwise convolutions.
#[test]
fn tract_runs_sightline_f32_tile_in_webassembly() {
    use sightline::tract_routines::{f32_product_kernel, WASM_F32_TILE};
    for n in [Some(2), Some(8), Some(1000), None] {
        let chosen = f32_product_kernel(64, 96, n);
        assert_eq!(chosen.as_deref() == Some(WASM_F32_TILE), cfg!(target_arch = "wasm32"), "n = {n:?}: {chosen:?}");
    }
    assert_ne!(f32_product_kernel(64, 96, Some(1)).as_deref(), Some(WASM_F32_TILE), "matrix-vector products stay tract's");
    // And its channel-last depthwise convolutions on Sightline's kernel.
    use sightline::tract_routines::{depthwise_kernel, WASM_DEPTHWISE};
    assert_eq!(depthwise_kernel().as_deref() == Some(WASM_DEPTHWISE), cfg!(target_arch = "wasm32"), "{:?}", depthwise_kernel());
}

/// The fastest kernel is the one the machine is expected to have, when the test script knows it
/// (scripts/test reads the CPU's flags): a probe that wrongly refused VNNI or the relaxed dot
/// product would leave the speed on the table silently.
#[test]
fn the_expected_kernel_is_chosen() {
    let expected = if cfg!(target_arch = "wasm32") {
        // Only the relaxed build has the relaxed kernel; the other one always runs SIMD128.
        option_env!("SIGHTLINE_EXPECT_WASM_INT8_KERNEL").map(|k| if cfg!(feature = "relaxed-simd") { k } else { "simd128" })
    } else {
        option_env!("SIGHTLINE_EXPECT_NATIVE_INT8_KERNEL")
    };
    let best = Kernel::best();
    match expected {
        Some(expected) if !expected.is_empty() => assert_eq!(best.name(), expected, "available: {:?}", Kernel::available()),
        _ => assert!(Kernel::available().contains(&best)),
    }
}

// The attention's softmax (kernels/src/softmax.rs), against f64.
fn softmax_reference(row: &[f32]) -> Vec<f32> {
    let max = row.iter().cloned().fold(f64::NEG_INFINITY, |m, v| m.max(v as f64));
    let e: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| (v / sum) as f32).collect()
}

#[test]
fn every_softmax_kernel_matches_f64_on_every_row_length() {
    for kernel in softmax::Kernel::available() {
        for row_len in [1usize, 3, 4, 7, 8, 9, 15, 16, 17, 24, 196, 197] {
            let rows = 3;
            let x: Vec<f32> = (0..rows * row_len).map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 13.0).collect();
            let mut y = x.clone();
            kernel.run(&mut y, row_len);
            for (r, (got, input)) in y.chunks(row_len).zip(x.chunks(row_len)).enumerate() {
                for (g, w) in got.iter().zip(softmax_reference(input)) {
                    assert!((g - w).abs() <= 1e-6 * w.max(1e-3), "{kernel:?} row_len {row_len} row {r}: {g} vs {w}");
                }
            }
        }
    }
}

#[test]
fn softmax_extremes() {
    for kernel in softmax::Kernel::available() {
        // Very negative scores underflow to exactly 0; the rest still sums to 1.
        let mut y = vec![0.0, -200.0, f32::NEG_INFINITY, 3.0, -1e30, 1.0, 0.5, -90.0, 2.0];
        kernel.run(&mut y, 9);
        assert_eq!([y[1], y[2], y[4], y[7]], [0.0; 4], "{kernel:?}");
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{kernel:?}: {y:?}");
        // Large scores do not overflow: only differences from the maximum matter.
        let mut y = vec![1e30, 1e30, 88.0, 89.0];
        kernel.run(&mut y, 4);
        assert_eq!(&y[..2], &[0.5, 0.5], "{kernel:?}");
        // A NaN poisons its row only.
        let mut y = vec![1.0, f32::NAN, 2.0, 3.0, 1.0, 1.0, 1.0, 1.0];
        kernel.run(&mut y, 4);
        assert!(y[..4].iter().all(|v| v.is_nan()), "{kernel:?}: {y:?}");
        assert_eq!(&y[4..], &[0.25; 4], "{kernel:?}");
    }
}

/// A 5×5 depthwise layer over a channel-last 7×9 image with 21 channels (every block size and
/// remainder), stride 1 and 2, against the definition: the portable loop natively, the SIMD128
/// kernel in WebAssembly (which tract runs for PP-LCNet's depthwise layers there).
#[test]
fn depthwise_every_position_and_channel_against_the_definition() {
    let (h, w, channels, kh, kw) = (7usize, 9usize, 21usize, 5usize, 5usize);
    let k_stride = 24;
    let input: Vec<f32> = (0..h * w * channels).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
    let kernel: Vec<f32> = (0..kh * kw * k_stride).map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0).collect();
    let bias: Vec<f32> = (0..channels).map(|c| c as f32 / 4.0 - 2.0).collect();
    // Valid positions of one output row: taps over the kh×kw window from the row's start.
    let taps: Vec<usize> = (0..kh * kw).collect();
    let offsets: Vec<isize> = (0..kh).flat_map(|y| (0..kw).map(move |x| ((y * w + x) * channels) as isize)).collect();
    for stride in [1usize, 2] {
        let len = (w - kw) / stride + 1;
        let mut output = vec![f32::NAN; len * channels];
        // SAFETY: every tap of every position reads inside `input`; `output` holds len rows.
        unsafe {
            sightline_kernels::depthwise::depthwise_c_f32(input.as_ptr(), output.as_mut_ptr(), kernel.as_ptr(), &taps, &offsets, bias.as_ptr(), channels, k_stride, len,
                (stride * channels) as isize, channels as isize);
        }
        for i in 0..len {
            for c in 0..channels {
                let want = taps.iter().zip(&offsets).fold(bias[c], |sum, (&t, &o)| sum + kernel[t * k_stride + c] * input[(i * stride * channels) as usize + o as usize + c]);
                let got = output[i * channels + c];
                assert!((got - want).abs() <= 1e-4 * want.abs().max(1.0), "stride {stride}, position {i}, channel {c}: {got} vs {want}");
            }
        }
    }
}
