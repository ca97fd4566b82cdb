//! Image bytes → upright 8-bit RGB, with the limits Azure Image Analysis enforces, under one
//! memory budget.
//!
//! The header is read first and the declared size checked before any pixel buffer exists, so a
//! tiny file that declares a gigantic canvas (a decompression bomb) is refused cheaply. Then the
//! peak memory decoding will take (the decoder's buffers, the RGB result, the conversion and the
//! EXIF rotation between them) is worked out from the header and checked against
//! `DECODE_MEMORY_BUDGET`, again before anything is allocated.

use std::borrow::Cow;
use std::io::Cursor;

use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage, RgbaImage};

use crate::error::{Result, SightlineError};
use crate::jpeg;

/// Azure Image Analysis 4.0 accepts files up to 20 MB…
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// …whose sides are between 50 and 16,000 pixels.
pub const MIN_IMAGE_SIDE: u32 = 50;
pub const MAX_IMAGE_SIDE: u32 = 16_000;
/// The most memory decoding one image may take at its peak, besides the file's own bytes. An
/// 8-bit RGB image of the largest size Azure accepts (16,000 × 16,000: 768 MB) fits, so that
/// ordinary JPEGs, PNGs, BMPs and opaque WebPs of every accepted size decode; what needs more (a
/// full-size 16-bit or RGBA canvas, a huge progressive JPEG, a rotated full-size photo) is refused
/// up front with `InvalidImageSize` and the size that would fit. Peak memory for a whole analysis
/// stays under 1 GiB natively and in a browser tab (see README, "What it accepts").
pub const DECODE_MEMORY_BUDGET: u64 = 768 * 1024 * 1024;

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
    match sniff_format(bytes)? {
        ImageFormat::Jpeg => decode_jpeg(bytes),
        // The ICC profile is never applied (PIL's convert("RGB") ignores it too), and a
        // compressed iCCP chunk can inflate to gigabytes before a pixel is read.
        ImageFormat::Png => decode_with_image_crate(&png_without_icc_profile(bytes), ImageFormat::Png, 0),
        ImageFormat::WebP => decode_with_image_crate(&lossless_webp_as_rgba(bytes), ImageFormat::WebP, 0),
        format => decode_with_image_crate(bytes, format, 0),
    }
}

/// An image file's bytes, for `decode_image`: its size is checked before anything is read, the
/// read stops at the limit whatever the file does meanwhile, and only regular files are read (a
/// FIFO would block, `/dev/zero` never ends). Native only: the browser has `Blob.size`.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_image_file(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let unreadable = |reason: String| SightlineError::FileUnreadable { path: path.display().to_string(), reason };
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if !metadata.is_file() {
        let what = if metadata.is_dir() { "a directory" } else { "not a regular file (a device, FIFO or socket)" };
        return Err(unreadable(format!("it is {what}; give an image file")));
    }
    let too_large = |size: u64| SightlineError::ImageTooLarge { size: usize::try_from(size).unwrap_or(usize::MAX), limit: MAX_IMAGE_BYTES };
    if metadata.len() > MAX_IMAGE_BYTES as u64 {
        return Err(too_large(metadata.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(MAX_IMAGE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| unreadable(e.to_string()))?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(too_large(bytes.len() as u64)); // it grew while being read
    }
    Ok(bytes)
}

/// The `image` crate's decoders, after the budget check. `decoder_extra`: what the decoder
/// allocates beyond its output buffer, when the format's own estimate does not know it (the
/// fallback JPEG decoder's planes).
fn decode_with_image_crate(bytes: &[u8], format: ImageFormat, decoder_extra: u64) -> Result<DecodedImage> {
    let format_name = format_name(format);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::no_limits();
    limits.max_alloc = Some(DECODE_MEMORY_BUDGET);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(format_name, e))?;

    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let native = decoder.total_bytes();
    let extra = decoder_extra + match format {
        ImageFormat::Gif => gif_first_frame_bytes(bytes)?,
        ImageFormat::WebP => webp_planes_bytes(bytes, width, height),
        // The tiff crate decodes into a buffer of its own, which the `image` crate then copies.
        ImageFormat::Tiff => native,
        _ => 0,
    };
    let converts = !matches!(decoder.color_type(), ColorType::Rgb8 | ColorType::Rgba8);
    check_budget(format_name, width, height, peak_bytes(width, height, native, native.saturating_add(extra), converts, rotates(orientation)))?;

    let image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(format_name, e))?;
    Ok(DecodedImage { rgb: upright_rgb(image, orientation), format })
}

/// Peak bytes from decoding to the upright RGB result: while decoding (`decoding`: the output
/// buffer of `native` bytes and the decoder's own), while converting to RGB (the native image and
/// the RGB copy, unless it is RGB already or RGBA, which is compacted in place), and while
/// rotating (two RGB images).
fn peak_bytes(width: u32, height: u32, native: u64, decoding: u64, converts: bool, rotates: bool) -> u64 {
    let rgb = 3 * u64::from(width) * u64::from(height);
    let converting = if converts { native + rgb } else { native };
    let rotating = if rotates { 2 * rgb } else { rgb };
    decoding.max(converting).max(rotating)
}

fn rotates(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

fn check_budget(format: &str, width: u32, height: u32, needed: u64) -> Result<()> {
    if needed <= DECODE_MEMORY_BUDGET {
        Ok(())
    } else {
        Err(over_budget(format, width, height, needed))
    }
}

fn over_budget(format: &str, width: u32, height: u32, needed: u64) -> SightlineError {
    // The longer side that would fit, scaling both sides alike (memory grows with the area).
    let scale = (DECODE_MEMORY_BUDGET as f64 / needed as f64).sqrt();
    let fits = ((f64::from(width.max(height)) * scale) as u32 / 100 * 100).max(MIN_IMAGE_SIDE);
    SightlineError::ImageNeedsTooMuchMemory {
        format: format.to_string(),
        width,
        height,
        needed_mb: needed.div_ceil(1_000_000),
        budget_mb: DECODE_MEMORY_BUDGET / 1_000_000,
        fits,
    }
}

/// Apply the EXIF orientation and convert to 8-bit RGB. Alpha is dropped, not composited: that
/// is what PIL's convert("RGB") does and what the reference preprocessing therefore saw during
/// training and evaluation. Converting first and rotating the RGB result gives the same pixels
/// as the other order, with less memory.
fn upright_rgb(image: DynamicImage, orientation: Orientation) -> RgbImage {
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageRgba8(rgba) => drop_alpha_in_place(rgba),
        other => other.to_rgb8(),
    };
    if orientation == Orientation::NoTransforms {
        return rgb;
    }
    let mut image = DynamicImage::ImageRgb8(rgb);
    image.apply_orientation(orientation);
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    }
}

/// RGBA → RGB in the same buffer (a full-size RGBA canvas and its RGB copy would not both fit).
fn drop_alpha_in_place(rgba: RgbaImage) -> RgbImage {
    let (width, height) = rgba.dimensions();
    let mut bytes = rgba.into_raw();
    let pixels = bytes.len() / 4;
    for i in 0..pixels {
        bytes.copy_within(4 * i..4 * i + 3, 3 * i);
    }
    bytes.truncate(3 * pixels);
    bytes.shrink_to_fit();
    RgbImage::from_raw(width, height, bytes).expect("3 bytes for each of width × height pixels")
}

/// JPEG through [`crate::jpeg`], which decodes exactly as Pillow's libjpeg-turbo does. What it
/// declines goes to the `image` crate's lenient decoder (zune-jpeg) when that can read it safely
/// (see `decode_jpeg_leniently`); variants nothing here reads are refused by name. The size and
/// memory limits apply before anything is allocated.
fn decode_jpeg(bytes: &[u8]) -> Result<DecodedImage> {
    let info = match jpeg::read_info(bytes) {
        Ok(info) => info,
        Err(declined) => return decode_jpeg_leniently(bytes, None, declined),
    };
    check_dimensions(info.width, info.height)?;
    // Pillow's exif_transpose reads the first Exif segment.
    let orientation = info.exif.and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    let (width, height) = (info.width, info.height);
    // After decoding: the decoder's output (gray or RGB), its RGB copy, the rotation.
    let output = u64::from(width) * u64::from(height) * if info.components == 1 { 1 } else { 3 };
    check_budget("JPEG", width, height, peak_bytes(width, height, output, 0, info.components == 1, rotates(orientation)))?;
    let image = match jpeg::decode(bytes, DECODE_MEMORY_BUDGET) {
        Ok(image) => image,
        Err(jpeg::Error::TooLarge { needed, .. }) => return Err(over_budget("JPEG", width, height, needed)),
        Err(declined) => return decode_jpeg_leniently(bytes, Some(&info), declined),
    };
    let (width, height) = (image.width, image.height);
    let Some(rgb) = RgbImage::from_raw(width, height, image.into_rgb()) else {
        return Err(SightlineError::CorruptImage { format: "JPEG".into(), reason: "the decoded size does not match the header".into() });
    };
    Ok(DecodedImage { rgb: upright_rgb(DynamicImage::ImageRgb8(rgb), orientation), format: ImageFormat::Jpeg })
}

/// A JPEG the exact decoder declined (`declined` says why). Refused when no decoder here reads
/// the variant, when the file is truncated (Pillow refuses those: "image file is truncated"), or
/// when its sampling layout is one the lenient decoder mishandles (zune-jpeg 0.5 panics on some
/// damaged files with unusual chroma sampling); otherwise zune-jpeg reads it, leniently but not
/// exactly, under the same memory budget.
fn decode_jpeg_leniently(bytes: &[u8], info: Option<&jpeg::Info>, declined: jpeg::Error) -> Result<DecodedImage> {
    if !declined.fallback_can_try() {
        let jpeg::Error::Unsupported(variant) = declined else { unreachable!("only Unsupported variants are final") };
        return Err(SightlineError::UnsupportedImageFormat {
            detected: Some(format!("{variant}; save it again as an ordinary baseline or progressive JPEG, or as PNG")),
        });
    }
    if jpeg::is_truncated(bytes) {
        return Err(SightlineError::CorruptImage {
            format: "JPEG".into(),
            reason: "the file is truncated (it ends before its end-of-image marker); the reference decoder refuses it too".into(),
        });
    }
    let components = info.map_or(4, |i| i.components as u64);
    if let Some(info) = info {
        let (h0, v0) = info.sampling[0];
        let usual = info.sampling[1..].iter().all(|&(h, v)| (h, v) == (1, 1) || (h, v) == (h0, v0));
        if !usual || h0 > 2 || v0 > 2 {
            return Err(SightlineError::CorruptImage {
                format: "JPEG".into(),
                reason: format!("{declined}, with a chroma sampling layout ({:?}) the fallback decoder cannot read safely", info.sampling),
            });
        }
    }
    // zune-jpeg keeps every component's plane, and for progressive or multi-scan files every
    // coefficient (2 bytes a sample), besides the RGB output the budget check adds.
    let samples = info.map_or(0, |i| u64::from(i.width) * u64::from(i.height)) * components;
    guard_panics(|| decode_with_image_crate(bytes, ImageFormat::Jpeg, 3 * samples))
}

/// What a JPEG the fallback decoder panicked on is told (natively; see `guard_panics`).
pub const FALLBACK_PANICKED: &str = "the fallback decoder failed on this damaged file";

/// Run a third-party decoder so that a panic in it (a bug on hostile input) is this image's
/// error, not the end of a batch. Natively only: in WebAssembly a panic aborts, so the inputs
/// known to trigger one are refused before (see `decode_jpeg_leniently`).
fn guard_panics(decode: impl FnOnce() -> Result<DecodedImage>) -> Result<DecodedImage> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
            Err(SightlineError::CorruptImage { format: "JPEG".into(), reason: FALLBACK_PANICKED.into() })
        })
    }
    #[cfg(target_arch = "wasm32")]
    decode()
}

/// The PNG without its iCCP chunk (the profile is never used), borrowed when it has none.
fn png_without_icc_profile(bytes: &[u8]) -> Cow<'_, [u8]> {
    let chunks = || {
        let mut pos = 8;
        std::iter::from_fn(move || {
            let header = bytes.get(pos..pos + 8)?;
            let length = u32::from_be_bytes(header[..4].try_into().unwrap()) as usize;
            let range = pos..pos.checked_add(12)?.checked_add(length)?.min(bytes.len());
            pos = range.end;
            Some((&header[4..8] == b"iCCP", range))
        })
    };
    if !chunks().any(|(iccp, _)| iccp) {
        return Cow::Borrowed(bytes);
    }
    let mut out = bytes[..8].to_vec();
    for (_, range) in chunks().filter(|(iccp, _)| !iccp) {
        out.extend_from_slice(&bytes[range]);
    }
    Cow::Owned(out)
}

/// A WebP's chunks after the RIFF header: each chunk's FourCC and the offset of its payload.
fn webp_chunks(bytes: &[u8]) -> impl Iterator<Item = (&[u8], usize)> {
    let mut pos = 12;
    std::iter::from_fn(move || {
        let header = bytes.get(pos..pos + 8)?;
        let length = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
        let payload = pos + 8;
        pos = payload.saturating_add(length).saturating_add(length & 1);
        Some((&header[..4], payload))
    })
}

/// A lossless WebP with its "alpha is used" hint set. The hint does not change decoding (the
/// VP8L bitstream always codes ARGB), but image-webp decodes an opaque lossless image into an
/// RGBA buffer and then copies it to RGB (7 bytes a pixel at the peak); told there is alpha, it
/// decodes straight into the RGBA output, which `upright_rgb` compacts in place (4 bytes).
fn lossless_webp_as_rgba(bytes: &[u8]) -> Cow<'_, [u8]> {
    let with_bit = |at: usize| {
        let mut patched = bytes.to_vec();
        patched[at] |= 0x10;
        Cow::Owned(patched)
    };
    let mut chunks = webp_chunks(bytes);
    match chunks.next() {
        // Bit 28 of the 32 after the signature byte.
        Some((b"VP8L", payload)) if bytes.get(payload + 4).is_some_and(|b| b & 0x10 == 0) => with_bit(payload + 4),
        // Not animated, no alpha flag: patch only when the image is lossless and has no ALPH.
        Some((b"VP8X", payload)) if bytes.get(payload).is_some_and(|b| b & 0x12 == 0) => {
            match chunks.map(|(kind, _)| kind).find(|kind| matches!(*kind, b"VP8L" | b"VP8 " | b"ALPH")) {
                Some(b"VP8L") => with_bit(payload),
                _ => Cow::Borrowed(bytes),
            }
        }
        _ => Cow::Borrowed(bytes),
    }
}

/// What the `image` crate's GIF decoder allocates for the first frame besides the screen-size
/// output: the frame's own RGBA buffer and its indices. The frame's sides are checked like the
/// screen's: a 50×50 screen may not carry a 19,000 × 20,000 frame.
fn gif_first_frame_bytes(bytes: &[u8]) -> Result<u64> {
    let corrupt = |reason: &str| SightlineError::CorruptImage { format: "GIF".into(), reason: reason.into() };
    let flags = *bytes.get(10).ok_or_else(|| corrupt("no logical screen descriptor"))?;
    let mut pos = 13 + if flags & 0x80 != 0 { 3 << ((flags & 7) + 1) } else { 0 };
    loop {
        match bytes.get(pos) {
            Some(0x21) => {
                // An extension: label, then data sub-blocks up to a zero-length one.
                pos += 2;
                loop {
                    let size = usize::from(*bytes.get(pos).ok_or_else(|| corrupt("truncated extension"))?);
                    pos += 1 + size;
                    if size == 0 {
                        break;
                    }
                }
            }
            Some(0x2C) => {
                let descriptor = bytes.get(pos + 1..pos + 9).ok_or_else(|| corrupt("truncated image descriptor"))?;
                let side = |i: usize| u32::from(u16::from_le_bytes([descriptor[i], descriptor[i + 1]]));
                let (width, height) = (side(4), side(6));
                if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
                    return Err(SightlineError::ImageDimensionsOutOfRange { width, height, min: MIN_IMAGE_SIDE, max: MAX_IMAGE_SIDE });
                }
                return Ok(5 * u64::from(width) * u64::from(height));
            }
            Some(0x3B) | None => return Err(corrupt("no image in the file")),
            Some(_) => return Err(corrupt("unknown block")),
        }
    }
}

/// A lossy WebP is decoded to Y, U and V planes (and an alpha plane) before RGB: 1.5 (2.5)
/// bytes a pixel besides the output. Lossless ones decode straight into it.
fn webp_planes_bytes(bytes: &[u8], width: u32, height: u32) -> u64 {
    let (mut lossy, mut alpha) = (false, false);
    for (kind, _) in webp_chunks(bytes) {
        lossy |= kind == b"VP8 ";
        alpha |= kind == b"ALPH";
    }
    let pixels = u64::from(width) * u64::from(height);
    match (lossy, alpha) {
        (false, _) => 0,
        (true, false) => pixels * 3 / 2,
        (true, true) => pixels * 5 / 2,
    }
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
        // One line, whatever the decoder's message holds (zune's end in a newline).
        other => SightlineError::CorruptImage { format: format.to_string(), reason: other.to_string().split_whitespace().collect::<Vec<_>>().join(" ") },
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

    /// What the exact decoder declines goes to the `image` crate's lenient one, as before it,
    /// unless the file is truncated: Pillow refuses those.
    #[test]
    fn damaged_jpegs_fall_back_and_truncated_ones_are_refused() {
        let photo = include_bytes!("../tests/golden/inputs/photo.jpg");
        let mut damaged = photo.to_vec();
        let sos = damaged.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let data_start = sos + 2 + usize::from(u16::from_be_bytes([damaged[sos + 2], damaged[sos + 3]]));
        damaged[data_start..data_start + 4].fill(0xFE);
        assert!(jpeg::decode(&damaged, u64::MAX).is_err());
        let decoded = decode_image(&damaged).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (320, 240));

        let cut = &photo[..photo.len() * 2 / 3];
        assert!(jpeg::is_truncated(cut) && !jpeg::is_truncated(photo));
        let error = decode_image(cut).unwrap_err();
        assert_eq!(error.code(), "InvalidImageFormat");
        assert!(error.to_string().contains("truncated"), "{error}");
    }

    #[test]
    fn the_budget_counts_conversion_and_rotation() {
        let (w, h) = (10_000, 10_000);
        let rgb = 3 * 100_000_000;
        assert_eq!(peak_bytes(w, h, rgb, rgb, false, false), rgb);
        assert_eq!(peak_bytes(w, h, 4 * 100_000_000, 4 * 100_000_000, false, false), 4 * 100_000_000, "RGBA is compacted in place");
        assert_eq!(peak_bytes(w, h, 8 * 100_000_000, 8 * 100_000_000, true, false), 8 * 100_000_000 + rgb);
        assert_eq!(peak_bytes(w, h, rgb, rgb, false, true), 2 * rgb);
        let error = check_budget("PNG", 16_000, 16_000, 2 * 16_000 * 16_000 * 4).unwrap_err();
        assert_eq!(error.code(), "InvalidImageSize");
        assert!(error.to_string().contains("at most 10000 pixels"), "{error}");
    }

    #[test]
    fn rgba_drops_its_alpha_in_place() {
        let rgba = RgbaImage::from_fn(61, 53, |x, y| image::Rgba([x as u8, y as u8, (x * y) as u8, 7]));
        let expected = DynamicImage::ImageRgba8(rgba.clone()).to_rgb8();
        assert_eq!(drop_alpha_in_place(rgba), expected);
    }

    #[test]
    fn an_icc_profile_is_dropped_before_decoding() {
        let plain = png(64, 64);
        // IHDR ends at byte 33; the inserted chunk is never read, so its CRC does not matter.
        let chunk: &[u8] = b"\0\0\0\x04iCCPx\0\0\0\0\0\0\0";
        let with_icc = [&plain[..33], chunk, &plain[33..]].concat();
        assert!(matches!(png_without_icc_profile(&with_icc), Cow::Owned(ref stripped) if *stripped == plain));
        assert!(matches!(png_without_icc_profile(&plain), Cow::Borrowed(_)));
    }

    #[test]
    fn decoder_messages_are_one_line() {
        let error = decode_error("JPEG", ImageError::IoError(std::io::Error::other("first\nsecond  ")));
        assert_eq!(error.to_string(), "the JPEG image is corrupt or truncated: first second");
    }

    #[test]
    fn truncated_file_is_corrupt_not_a_panic() {
        let bytes = png(300, 300);
        let err = decode_image(&bytes[..bytes.len() / 2]).unwrap_err();
        assert_eq!(err.code(), "InvalidImageFormat", "{err}");
    }
}
