//! A small PNG of an image, upright, for pages showing formats browsers cannot display (TIFF)
//! and so every preview matches the pixel coordinates of the results.

use std::io::Cursor;

use image::{imageops::FilterType, ImageFormat};

use crate::decode::decode_image;
use crate::error::{Result, SightlineError};

/// The image decoded (EXIF orientation applied), scaled so its longer side is at most
/// `max_side` (never enlarged), as PNG bytes.
pub fn preview_png(image_bytes: &[u8], max_side: u32) -> Result<Vec<u8>> {
    if max_side == 0 {
        return Err(SightlineError::argument("the preview's longest side must be at least 1 pixel"));
    }
    let image = decode_image(image_bytes)?.rgb;
    let (w, h) = (image.width(), image.height());
    let scale = (max_side as f64 / w.max(h) as f64).min(1.0);
    let (pw, ph) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
    let preview = if (pw, ph) == (w, h) { image } else { image::imageops::resize(&image, pw, ph, FilterType::Triangle) };
    let mut png = Vec::new();
    preview.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).map_err(SightlineError::inference)?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_upright_small_pngs() {
        let tiff = include_bytes!("../../shared/images/ocr/phototest.tif");
        let png = preview_png(tiff, 320).unwrap();
        let decoded = image::load_from_memory_with_format(&png, ImageFormat::Png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (320, 240));
        // Stored sideways with EXIF orientation 6: the preview is upright (wider than tall).
        let sideways = include_bytes!("../../shared/images/ocr/simple-90.jpg");
        let upright = image::load_from_memory(&preview_png(sideways, 4096).unwrap()).unwrap();
        assert_eq!((upright.width(), upright.height()), (320, 180));
        assert_eq!(preview_png(b"not an image", 100).unwrap_err().code(), "InvalidImageFormat");
    }
}
