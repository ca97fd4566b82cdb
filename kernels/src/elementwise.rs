//! Element-wise chains in one pass: the activations that follow PP-LCNet's convolutions, which
//! tract runs as a chain of seven or three steps over 16,384-element chunks (`OptBinChain`: each
//! step one more pass through the chunk, which spills out of L1). Here every element is loaded
//! once, goes through the whole chain in registers and is stored once.
//!
//! Each step is the one tract would have done, in the same order, a multiply and an add never fused
//! (Rust does not contract them), so the results are tract's to the bit for every finite input (the
//! bounds compare as `<` and `>`: only the sign of a zero bound may differ, which the next multiply
//! by the input and the affine step keep within that zero).

/// PP-LCNet's hard-swish and the learnable affine block after it:
/// `y = clamp(x·mul + add, lo, hi) · x`, then `y·scale + shift`. `out[i]` from `x[i]`.
pub fn hard_swish_affine(x: &[f32], out: &mut [f32], [mul, add, hi, lo, scale, shift]: [f32; 6]) {
    assert_eq!(x.len(), out.len());
    for (o, &v) in out.iter_mut().zip(x) {
        let gate = v * mul + add;
        let gate = if gate < hi { gate } else { hi };
        let gate = if gate > lo { gate } else { lo };
        *o = gate * v * scale + shift;
    }
}

/// `(x + a)·m + b`: a bias tract did not fold into the convolution before it, then an affine
/// block. `out[i]` from `x[i]`.
pub fn add_mul_add(x: &[f32], out: &mut [f32], [a, m, b]: [f32; 3]) {
    assert_eq!(x.len(), out.len());
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v + a) * m + b;
    }
}

/// `(x + bias[c])·m + b` over channel-last data: element `i` is in channel `i mod bias.len()`.
pub fn channel_add_mul_add(x: &[f32], out: &mut [f32], bias: &[f32], [m, b]: [f32; 2]) {
    assert_eq!(x.len(), out.len());
    assert!(!bias.is_empty() && x.len() % bias.len() == 0);
    for (x, out) in x.chunks_exact(bias.len()).zip(out.chunks_exact_mut(bias.len())) {
        for ((o, &v), &a) in out.iter_mut().zip(x).zip(bias) {
            *o = (v + a) * m + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_in_tracts_order() {
        let x: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) / 3.0).collect();
        let mut out = vec![0.0; x.len()];
        let p = [1.0 / 6.0, 0.5, 1.0, 0.0, 0.75, -0.125];
        hard_swish_affine(&x, &mut out, p);
        for (&v, &o) in x.iter().zip(&out) {
            let mut y = v * p[0];
            y += p[1];
            y = y.min(p[2]);
            y = y.max(p[3]);
            y *= v;
            y *= p[4];
            y += p[5];
            assert_eq!(o.to_bits(), y.to_bits(), "{v}");
        }
        add_mul_add(&x, &mut out, [0.25, -2.0, 3.0]);
        for (&v, &o) in x.iter().zip(&out) {
            assert_eq!(o, (v + 0.25) * -2.0 + 3.0);
        }
        let bias = [0.5, -1.0, 2.0];
        let x = &x[..36];
        let mut out = vec![0.0; x.len()];
        channel_add_mul_add(x, &mut out, &bias, [1.5, -0.25]);
        for (i, (&v, &o)) in x.iter().zip(&out).enumerate() {
            assert_eq!(o, (v + bias[i % 3]) * 1.5 - 0.25);
        }
    }
}
