//! SigLIP's similarity arithmetic: unit-length embeddings, cosine, and the sigmoid that turns a
//! cosine into an independent probability per label (SigLIP is trained with a sigmoid loss, so
//! unlike CLIP's softmax the labels do not compete and need not sum to one).

use serde::Serialize;

/// Scale `v` to unit length in place (left as is when it is all zeros).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One label's zero-shot score against one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    pub label: String,
    /// sigmoid(logit): the probability that the label describes the image.
    pub confidence: f32,
    /// exp(logit_scale)·cosine + logit_bias.
    pub logit: f32,
    pub cosine: f32,
}

/// SigLIP's calibration: how a cosine between unit image and text embeddings becomes a logit,
/// `exp(logit_scale)·cos + logit_bias`, and a probability, its sigmoid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    scale: f32,
    bias: f32,
}

impl Calibration {
    /// From the checkpoint's `logit_scale` (a log) and `logit_bias`.
    pub fn new(logit_scale: f32, logit_bias: f32) -> Calibration {
        Calibration { scale: logit_scale.exp(), bias: logit_bias }
    }

    pub fn logit(&self, image_embedding: &[f32], text_embedding: &[f32]) -> f32 {
        self.scale * cosine(image_embedding, text_embedding) + self.bias
    }

    pub fn probability(&self, image_embedding: &[f32], text_embedding: &[f32]) -> f32 {
        sigmoid(self.logit(image_embedding, text_embedding))
    }
}

/// Score every label; `text_embeddings[i]` is the (unit) embedding of `labels[i]`'s prompt.
pub fn zero_shot(
    image_embedding: &[f32],
    labels: &[String],
    text_embeddings: &[Vec<f32>],
    calibration: Calibration,
) -> Vec<LabelScore> {
    labels
        .iter()
        .zip(text_embeddings)
        .map(|(label, text)| {
            let logit = calibration.logit(image_embedding, text);
            LabelScore { label: label.clone(), confidence: sigmoid(logit), logit, cosine: cosine(image_embedding, text) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_siglip_check_numbers() {
        // transformers' SigLIP integration test: logit -0.7567 ↔ p = 0.319.
        assert!((sigmoid(-0.7567) - 0.3193).abs() < 1e-3);
        // A cosine that gives that logit with the real constants round-trips.
        let (scale, bias) = (4.7649970054626465f32, -12.9324369430542f32);
        let cos = (-0.7567 - bias) / scale.exp();
        let s = zero_shot(&[1.0, 0.0], &["x".into()], &[vec![cos, 0.0]], Calibration::new(scale, bias));
        assert!((s[0].logit + 0.7567).abs() < 1e-4, "{s:?}");
    }

    #[test]
    fn normalize_handles_zero_and_scales_to_unit() {
        let mut zero = [0.0f32; 3];
        l2_normalize(&mut zero);
        assert_eq!(zero, [0.0; 3]);
        let mut v = [3.0f32, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-7 && (v[1] - 0.8).abs() < 1e-7);
    }
}
