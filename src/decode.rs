//! Image bytes → upright 8-bit RGB, with the limits Azure Image Analysis enforces.
//!
//! The header is read first and the declared size checked before any pixel buffer exists, so a
//! tiny file that declares a gigantic canvas (a decompression bomb) is refused cheaply.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::{Result, SightlineError};
use crate::jpeg;

/// Azure Image Analysis 4.0 accepts files up to 20 MB…
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// …whose sides are between 50 and 16,000 pixels.
pub const MIN_IMAGE_SIDE: u32 = 50;
pub const MAX_IMAGE_SIDE: u32 = 16_000;
/// Cap on what one decoder may allocate: a full-size 16-bit RGBA canvas would need 2 GB, more
/// than a browser tab can give; 8-bit RGB at the maximum size (768 MB) still fits.
const MAX_DECODER_ALLOC: u64 = 1536 * 1024 * 1024;

/// The formats Sightline decodes (the same set Azure accepts, minus ICO/MPO).
pub const SUPPORTED_FORMATS: [ImageFormat; 6] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::WebP,
    ImageFormat::Gif,
    ImageFormat::Bmp,
    ImageFormat::Tiff,
];

/// A decoded image, upright (EXIF orientation applied), as PIL's `convert("RGB")` would give it.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub rgb: RgbImage,
    pub format: ImageFormat,
}

impl DecodedImage {
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    pub fn height(&self) -> u32 {
        self.rgb.height()
    }
}

pub fn decode_image(bytes: &[u8]) -> Result<DecodedImage> {
    if bytes.is_empty() {
        return Err(SightlineError::EmptyImage);
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(SightlineError::ImageTooLarge { size: bytes.len(), limit: MAX_IMAGE_BYTES });
    }
    let format = sniff_format(bytes)?;
    if format == ImageFormat::Jpeg {
        if let Some(decoded) = decode_jpeg_like_pillow(bytes)? {
            return Ok(decoded);
        }
    }
    let format_name = format_name(format);

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::no_limits();
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(format_name, e))?;

    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;

    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(format_name, e))?;
    Ok(DecodedImage { rgb: upright_rgb(image, orientation), format })
}

/// Apply the EXIF orientation and convert to 8-bit RGB. Alpha is dropped, not composited: that
/// is what PIL's convert("RGB") does and what the reference preprocessing therefore saw during
/// training and evaluation.
fn upright_rgb(mut image: DynamicImage, orientation: Orientation) -> RgbImage {
    image.apply_orientation(orientation);
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    }
}

/// JPEG through [`crate::jpeg`], which decodes exactly as Pillow's libjpeg-turbo does. `None`
/// when it declines (a variant it does not handle, a defect it does not imitate libjpeg's
/// recovery from, or more memory than allowed): the `image` crate's decoder then takes the file,
/// with every check below. The size limits apply before anything is allocated.
fn decode_jpeg_like_pillow(bytes: &[u8]) -> Result<Option<DecodedImage>> {
    let Ok(info) = jpeg::read_info(bytes) else { return Ok(None) };
    check_dimensions(info.width, info.height)?;
    let Ok(image) = jpeg::decode(bytes, MAX_DECODER_ALLOC) else { return Ok(None) };
    let (width, height) = (image.width, image.height);
    let Some(rgb) = RgbImage::from_raw(width, height, image.into_rgb()) else { return Ok(None) };
    // Pillow's exif_transpose reads the first Exif segment.
    let orientation = info.exif.and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    Ok(Some(DecodedImage { rgb: upright_rgb(DynamicImage::ImageRgb8(rgb), orientation), format: ImageFormat::Jpeg }))
}

fn check_dimensions(width: u32, height: u32) -> Result<()> {
    let in_range = |side: u32| (MIN_IMAGE_SIDE..=MAX_IMAGE_SIDE).contains(&side);
    if in_range(width) && in_range(height) {
        Ok(())
    } else {
        Err(SightlineError::ImageDimensionsOutOfRange {
            width,
            height,
            min: MIN_IMAGE_SIDE,
            max: MAX_IMAGE_SIDE,
        })
    }
}

/// Identify the container from its magic bytes, naming common formats we do not decode so the
/// user learns what they actually sent.
fn sniff_format(bytes: &[u8]) -> Result<ImageFormat> {
    if let Ok(format) = image::guess_format(bytes) {
        if SUPPORTED_FORMATS.contains(&format) {
            return Ok(format);
        }
        return Err(SightlineError::UnsupportedImageFormat {
            detected: Some(format_name(format).to_string()),
        });
    }
    let head = &bytes[..bytes.len().min(512)];
    let starts = |magic: &[u8]| head.starts_with(magic);
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    let detected = if head.len() >= 12 && &head[4..8] == b"ftyp" {
        match &head[8..12] {
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => Some("HEIC/HEIF"),
            b"avif" | b"avis" => Some("AVIF"),
            _ => Some("an ISO media (MP4/MOV) file"),
        }
    } else if starts(b"%PDF") {
        Some("PDF")
    } else if contains(b"<svg") {
        Some("SVG")
    } else if starts(b"\xFF\x0A") || starts(b"\x00\x00\x00\x0CJXL ") {
        Some("JPEG XL")
    } else {
        None
    };
    Err(SightlineError::UnsupportedImageFormat { detected: detected.map(str::to_string) })
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Hdr => "Radiance HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Farbfeld => "Farbfeld",
        ImageFormat::Qoi => "QOI",
        _ => "unknown",
    }
}

fn decode_error(format: &str, error: ImageError) -> SightlineError {
    match error {
        ImageError::Unsupported(e) => SightlineError::UnsupportedImageFormat {
            detected: Some(format!("{format} variant: {e}")),
        },
        ImageError::Limits(e) => SightlineError::CorruptImage {
            format: format.to_string(),
            reason: format!("decoding would need more memory than allowed ({e})"),
        },
        other => SightlineError::CorruptImage { format: format.to_string(), reason: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        RgbImage::new(width, height)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn refuses_empty_and_oversized_input() {
        assert_eq!(decode_image(&[]).unwrap_err(), SightlineError::EmptyImage);
        let big = vec![0u8; MAX_IMAGE_BYTES + 1];
        assert!(matches!(decode_image(&big), Err(SightlineError::ImageTooLarge { .. })));
    }

    #[test]
    fn names_formats_it_does_not_decode() {
        let err = decode_image(b"%PDF-1.7 hello").unwrap_err();
        assert!(err.to_string().contains("PDF"), "{err}");
        let err = decode_image(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic").unwrap_err();
        assert!(err.to_string().contains("HEIC"), "{err}");
        let err = decode_image(b"just some text, not an image").unwrap_err();
        assert_eq!(err.code(), "InvalidImageFormat");
    }

    #[test]
    fn refuses_a_bomb_from_its_header() {
        // 60000×60000 declared in a 69-byte file: refused before a pixel buffer is allocated.
        let bomb = include_bytes!("../tests/data/bomb-60000x60000.png");
        let err = decode_image(bomb).unwrap_err();
        assert!(matches!(err, SightlineError::ImageDimensionsOutOfRange { width: 60_000, .. }), "{err}");
        assert_eq!(err.code(), "InvalidImageDimension");
    }

    #[test]
    fn enforces_side_limits() {
        assert!(decode_image(&png(50, 50)).is_ok());
        assert!(matches!(
            decode_image(&png(49, 200)),
            Err(SightlineError::ImageDimensionsOutOfRange { width: 49, height: 200, .. })
        ));
    }

    #[test]
    fn refuses_a_jpeg_bomb_from_its_header() {
        let mut bomb = include_bytes!("../tests/golden/inputs/photo.jpg").to_vec();
        let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]); // 60000 × 60000
        let err = decode_image(&bomb).unwrap_err();
        assert!(matches!(err, SightlineError::ImageDimensionsOutOfRange { width: 60_000, .. }), "{err}");
    }

    /// What the exact decoder declines goes to the `image` crate's lenient one, as before it.
    #[test]
    fn truncated_jpeg_falls_back_to_the_lenient_decoder() {
        let photo = include_bytes!("../tests/golden/inputs/photo.jpg");
        let cut = &photo[..photo.len() * 2 / 3];
        assert!(jpeg::decode(cut, u64::MAX).is_err());
        let decoded = decode_image(cut).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (320, 240));
        let exact = decode_image(photo).unwrap();
        assert_ne!(decoded.rgb, exact.rgb);
    }

    #[test]
    fn truncated_file_is_corrupt_not_a_panic() {
        let bytes = png(300, 300);
        let err = decode_image(&bytes[..bytes.len() / 2]).unwrap_err();
        assert_eq!(err.code(), "InvalidImageFormat", "{err}");
    }
}
