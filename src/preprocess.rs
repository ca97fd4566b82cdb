//! Upright RGB → the `pixel_values` tensor SigLIP expects, matching Hugging Face's
//! `SiglipImageProcessor`: resize to size×size without keeping the aspect ratio using PIL's
//! antialiased convolution filters on 8-bit data, rescale by 1/255, normalise by mean/std.
//!
//! The resize is `resample`, a bit-exact port of PIL's (see there for why).

use image::RgbImage;

use crate::descriptor::ModelDescriptor;
use crate::resample::Resample;

/// Resize to `size`×`size` as PIL does; returns packed 8-bit RGB.
pub fn resize_rgb(image: &RgbImage, size: u32, resample: Resample) -> Vec<u8> {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let size = size as usize;
    crate::resample::resize_rgb(image.as_raw(), (width, height), (size, size), resample)
}

/// Rescale and normalise packed RGB (HWC, 8-bit) into planar CHW floats with Hugging Face's exact
/// float arithmetic: `f32(x as f64 · rescale)`, then `(v − mean) / std` in f32. The order and the
/// precision matter: the quantised models requantise their input at run time, so a last-bit
/// difference in `pixel_values` can flip an int8 value and move the embedding.
pub fn normalize_to_chw(rgb: &[u8], descriptor: &ModelDescriptor) -> Vec<f32> {
    let plane = rgb.len() / 3;
    let mut chw = vec![0f32; rgb.len()];
    for channel in 0..3 {
        let (mean, std) = (descriptor.image_mean[channel], descriptor.image_std[channel]);
        let table: Vec<f32> =
            (0..=255u8).map(|x| ((x as f64 * descriptor.rescale_factor) as f32 - mean) / std).collect();
        let out = &mut chw[channel * plane..(channel + 1) * plane];
        for (dst, px) in out.iter_mut().zip(rgb.chunks_exact(3)) {
            *dst = table[px[channel] as usize];
        }
    }
    chw
}

/// The whole preprocessing: `[3, size, size]` floats in CHW order.
pub fn pixel_values(image: &RgbImage, descriptor: &ModelDescriptor) -> Vec<f32> {
    normalize_to_chw(&resize_rgb(image, descriptor.image_size, descriptor.resample), descriptor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor() -> ModelDescriptor {
        serde_json::from_value(crate::descriptor::tests::sample()).unwrap()
    }

    #[test]
    fn normalises_to_minus_one_one_planar() {
        let rgb = [0u8, 255, 51, 255, 0, 102];
        let chw = normalize_to_chw(&rgb, &descriptor());
        let expected = [-1.0, 1.0, 1.0, -1.0, -0.6, -0.2];
        for (a, b) in chw.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{chw:?}");
        }
    }

    #[test]
    fn constant_image_stays_constant_through_resize() {
        let image = RgbImage::from_pixel(333, 77, image::Rgb([10, 128, 250]));
        let resized = resize_rgb(&image, 224, Resample::Bicubic);
        assert_eq!(resized.len(), 224 * 224 * 3);
        assert!(resized.chunks_exact(3).all(|p| p == [10, 128, 250]));
    }
}
