//! A JPEG decoder that reproduces libjpeg-turbo's default decompression bit for bit: what
//! Pillow, and therefore Hugging Face's SigLIP preprocessing, produces for a JPEG.
//!
//! That means JDCT_ISLOW (jidctint.c), fancy upsampling (jdsample.c) and jdcolor.c's fixed-point
//! YCbCr → RGB, for 8-bit baseline, extended-sequential and progressive Huffman-coded files
//! with 1 (grayscale) or 3 (YCbCr or RGB) components and any integral sampling ratios. The
//! `image` crate's decoder (zune-jpeg) differs from libjpeg by a few levels on chroma-subsampled
//! files, which moves SigLIP embeddings measurably.
//!
//! Everything else (12-bit, arithmetic coding, lossless, CMYK/YCCK, DNL, progressive files that
//! stop before their last refinement, where libjpeg would smooth blocks) and every defect
//! (truncated data, bad Huffman codes, missing restart markers, …) is an [`Error`]: libjpeg
//! recovers from defects in its own way, which this decoder does not imitate, so the caller
//! falls back to a lenient decoder instead. Decoding never panics on any input; the memory it
//! needs is computed from the frame header and checked against a limit before it allocates.
//!
//! Modules, in decoding order: `markers` (segments), `bits` and `huffman` (entropy-coded data),
//! `scan` with `sequential` and `progressive` (coefficients), `idct`, `upsample`, `color`;
//! `layout` holds the geometry.

mod bits;
mod color;
mod huffman;
mod idct;
mod layout;
mod markers;
mod progressive;
mod scan;
mod sequential;
mod upsample;
#[cfg(test)]
mod tests;

use std::fmt;

use huffman::HuffTable;
use layout::{ColorSpace, CompLayout, Layout};
use markers::{Header, Next, ScanHeader};
use scan::Coefs;
use upsample::{Plane, Scratch};

/// Zigzag index → natural (row-major) position in the 8×8 block (libjpeg's
/// `jpeg_natural_order`).
pub(crate) const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// More scans than any real encoder writes (libjpeg's progressive scripts use ≤ 10); a limit
/// keeps a small file of empty scans over a large frame from costing minutes.
const MAX_SCANS: usize = 256;

/// Why this decoder did not produce an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A valid JPEG this decoder does not handle (see the module documentation).
    Unsupported(&'static str),
    /// A defect in the data.
    Corrupt(&'static str),
    /// Decoding would allocate more than the caller's limit.
    TooLarge { needed: u64, limit: u64 },
}

// JPEG variants libjpeg-turbo (and so Pillow) refuses, or that the fallback decoder (zune-jpeg)
// cannot decode either: `Error::fallback_can_try` keeps them from it.
pub(crate) const ARITHMETIC: &str = "arithmetic-coded JPEG";
pub(crate) const LOSSLESS: &str = "lossless JPEG";
pub(crate) const HIERARCHICAL: &str = "hierarchical (differential) JPEG";
pub(crate) const NOT_8_BIT: &str = "12-bit JPEG (only 8-bit samples are decoded)";
pub(crate) const DNL_HEIGHT: &str = "JPEG whose height is given by a DNL marker";
pub(crate) const FRACTIONAL_SAMPLING: &str = "JPEG with a fractional chroma sampling ratio";

impl Error {
    /// Whether a lenient decoder may still read what this decoder declined. `false` for the
    /// variants above: no decoder here reads them, so they are refused with their name.
    pub fn fallback_can_try(&self) -> bool {
        !matches!(self, Error::Unsupported(what) if [ARITHMETIC, LOSSLESS, HIERARCHICAL, NOT_8_BIT, DNL_HEIGHT, FRACTIONAL_SAMPLING].contains(what))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported(what) => write!(f, "unsupported JPEG: {what}"),
            Error::Corrupt(what) => write!(f, "corrupt JPEG: {what}"),
            Error::TooLarge { needed, limit } => {
                write!(f, "decoding needs {needed} bytes, more than the limit of {limit}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// What the markers before the first scan say.
#[derive(Clone, Debug)]
pub struct Info<'a> {
    pub width: u32,
    pub height: u32,
    pub components: usize,
    /// Each component's horizontal and vertical sampling factors, in frame order.
    pub sampling: Vec<(u8, u8)>,
    pub progressive: bool,
    /// The first APP1 Exif payload (a TIFF structure, after `Exif\0\0`), for the orientation.
    pub exif: Option<&'a [u8]>,
}

/// A decoded image: 8-bit grayscale (1 channel) or RGB (3 channels), rows top to bottom, as
/// stored (no EXIF orientation applied).
#[derive(Clone, Debug)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl Image {
    /// RGB bytes: grayscale is replicated into the three channels, as PIL's `convert("RGB")`.
    pub fn into_rgb(self) -> Vec<u8> {
        if self.channels == 3 {
            self.pixels
        } else {
            self.pixels.iter().flat_map(|&v| [v, v, v]).collect()
        }
    }
}

/// Whether the file ends before its EOI marker (see `markers::is_truncated`).
pub fn is_truncated(data: &[u8]) -> bool {
    markers::is_truncated(data)
}

/// Read the headers up to the first scan, without decoding or allocating pixel memory.
pub fn read_info(data: &[u8]) -> Result<Info<'_>, Error> {
    let mut pos = Header::start(data)?;
    let mut header = Header::default();
    if let Next::End = header.read_markers(data, &mut pos)? {
        return Err(Error::Corrupt("no image data"));
    }
    let frame = header.frame.as_ref().ok_or(Error::Corrupt("no SOF marker"))?;
    Ok(Info {
        width: u32::from(frame.width),
        height: u32::from(frame.height),
        components: frame.components.len(),
        sampling: frame.components.iter().map(|c| (c.h, c.v)).collect(),
        progressive: frame.progressive,
        exif: header.exif,
    })
}

/// Decode a JPEG exactly as libjpeg-turbo (Pillow) does, allocating at most about `max_alloc`
/// bytes, or say why not.
pub fn decode(data: &[u8], max_alloc: u64) -> Result<Image, Error> {
    let mut pos = Header::start(data)?;
    let mut header = Header::default();
    let Next::Scan(first_scan) = header.read_markers(data, &mut pos)? else {
        return Err(Error::Corrupt("no image data"));
    };
    let frame = header.frame.clone().ok_or(Error::Corrupt("no SOF marker"))?;
    let layout = Layout::new(&frame, &header)?;
    let n = layout.comps.len();
    // A baseline file whose first scan holds every component is decoded one MCU row at a time;
    // anything else keeps every coefficient until the last scan.
    let one_pass = !frame.progressive && first_scan.components.len() == n;
    let window_rows = |l: &CompLayout| if n == 1 { 1 } else { l.v };

    let channels: u64 = if layout.color == ColorSpace::Gray { 1 } else { 3 };
    let mut needed = layout.width as u64 * layout.height as u64 * channels;
    for l in &layout.comps {
        needed += (l.blocks_w * 64) as u64 * l.blocks_h as u64;
        let rows = if one_pass { window_rows(l) } else { l.padded_h };
        needed += (l.padded_w * 128) as u64 * rows as u64;
    }
    // Within the limit (and the address space), every buffer size below fits in usize.
    if needed > max_alloc || usize::try_from(needed).map_or(true, |n| n > isize::MAX as usize) {
        return Err(Error::TooLarge { needed, limit: max_alloc });
    }

    let mut planes: Vec<Plane> = layout
        .comps
        .iter()
        .map(|l| Plane { data: vec![0; l.blocks_w * 64 * l.blocks_h], stride: l.blocks_w * 8 })
        .collect();
    let mut coefs: Vec<Coefs> = layout
        .comps
        .iter()
        .map(|l| {
            if one_pass {
                Coefs::window(l.padded_w, window_rows(l))
            } else {
                Coefs::whole(l.padded_w, l.padded_h)
            }
        })
        .collect();
    // Quantisation tables are latched when a component's first scan starts (jdinput.c).
    let mut quant: Vec<Option<[i16; 64]>> = vec![None; n];
    // Per component and coefficient, the successive-approximation bit last decoded (-1:
    // never): jdphuff.c's `coef_bits`. For sequential files only [0] is used, as a count.
    let mut progress = vec![[-1i8; 64]; n];

    let mut scan = first_scan;
    for scan_number in 1.. {
        if scan_number > MAX_SCANS {
            return Err(Error::Unsupported("too many scans"));
        }
        let comps: Vec<usize> = scan.components.iter().map(|c| c.index).collect();
        for &c in &comps {
            if quant[c].is_none() {
                let table = header.quant[layout.comps[c].tq].ok_or(Error::Corrupt("missing quantisation table"))?;
                // libjpeg's ISLOW multipliers are `short`: 16-bit tables wrap as in C.
                quant[c] = Some(table.map(|q| q as i16));
            }
        }
        let mut bits = bits::BitReader::new(data, pos);
        if frame.progressive {
            decode_progressive_scan(&scan, &header, &layout, &mut coefs, &mut progress, &mut bits)?;
        } else {
            if scan.ss != 0 || scan.se != 63 || scan.ah != 0 || scan.al != 0 {
                return Err(Error::Unsupported("sequential scan with spectral selection"));
            }
            if (one_pass && scan_number > 1) || comps.iter().any(|&c| progress[c][0] >= 0) {
                return Err(Error::Unsupported("component coded in more than one scan"));
            }
            let tables = scan
                .components
                .iter()
                .map(|c| Ok((table(&header, c.dc_table, true)?, table(&header, c.ac_table, false)?)))
                .collect::<Result<Vec<_>, Error>>()?;
            let tables: Vec<(&HuffTable, &HuffTable)> = tables.iter().map(|(dc, ac)| (dc, ac)).collect();
            let mut decoder = sequential::Sequential { tables, predictions: [0; 4] };
            let (layout, quant, planes) = (&layout, &quant, &mut planes);
            scan::run(&mut bits, layout, &comps, header.restart_interval, &mut coefs, &mut decoder, |coefs, _| {
                if one_pass {
                    for (c, coef) in coefs.iter().enumerate() {
                        let rows = coef.first_row..coef.first_row + coef.rows;
                        idct_rows(coef, &layout.comps[c], quant[c].as_ref(), &mut planes[c], rows)?;
                    }
                }
                Ok(())
            })?;
            for &c in &comps {
                progress[c][0] = 0;
            }
        }
        pos = bits.position();
        match header.read_markers(data, &mut pos)? {
            Next::Scan(next) => scan = next,
            Next::End => break,
        }
    }

    if frame.progressive {
        // libjpeg smooths blocks (jdcoefct.c decompress_smooth_data) while DC or any of the first
        // nine AC coefficients lacks refinement; that is not implemented.
        if progress.iter().any(|bits| bits[..10].iter().any(|&b| b != 0)) {
            return Err(Error::Unsupported("progressive JPEG without its final refinement scans"));
        }
    } else if progress.iter().any(|p| p[0] < 0) {
        return Err(Error::Corrupt("component without a scan"));
    }
    if !one_pass {
        for (c, coef) in coefs.iter().enumerate() {
            idct_rows(coef, &layout.comps[c], quant[c].as_ref(), &mut planes[c], 0..layout.comps[c].blocks_h)?;
        }
    }
    drop(coefs);

    let pixels = output(&layout, &planes)?;
    Ok(Image {
        width: layout.width as u32,
        height: layout.height as u32,
        channels: channels as usize,
        pixels,
    })
}

/// The derived Huffman table `index` of the DC or AC class, which must have been defined.
fn table(header: &Header, index: u8, dc: bool) -> Result<HuffTable, Error> {
    let specs = if dc { &header.dc } else { &header.ac };
    let spec = specs
        .get(usize::from(index))
        .and_then(|s| s.as_ref())
        .ok_or(Error::Unsupported("scan uses an undefined Huffman table"))?;
    HuffTable::new(spec, dc)
}

fn decode_progressive_scan(
    scan: &ScanHeader,
    header: &Header,
    layout: &Layout,
    coefs: &mut [Coefs],
    progress: &mut [[i8; 64]],
    bits: &mut bits::BitReader,
) -> Result<(), Error> {
    let (ss, se, ah, al) = (scan.ss, scan.se, scan.ah, scan.al);
    // jdphuff.c start_pass_phuff_decoder's checks.
    let bad = if ss == 0 { se != 0 } else { ss > se || se > 63 || scan.components.len() != 1 };
    if bad || (ah != 0 && al != ah.wrapping_sub(1)) || al > 13 {
        return Err(Error::Corrupt("bad progressive scan parameters"));
    }
    let comps: Vec<usize> = scan.components.iter().map(|c| c.index).collect();
    // Inconsistent progressions only draw warnings from libjpeg, which decodes them as they
    // come; so does this decoder. The record serves the completeness check at the end.
    for &c in &comps {
        for bit in &mut progress[c][usize::from(ss)..=usize::from(se)] {
            *bit = al as i8;
        }
    }
    let ri = header.restart_interval;
    let no_rows = |_: &mut [Coefs], _| Ok(());
    if ss == 0 {
        if ah == 0 {
            let tables = scan
                .components
                .iter()
                .map(|c| table(header, c.dc_table, true))
                .collect::<Result<Vec<_>, Error>>()?;
            let mut decoder = progressive::DcFirst { tables: tables.iter().collect(), al, predictions: [0; 4] };
            scan::run(bits, layout, &comps, ri, coefs, &mut decoder, no_rows)
        } else {
            scan::run(bits, layout, &comps, ri, coefs, &mut progressive::DcRefine { al }, no_rows)
        }
    } else {
        let ac = table(header, scan.components[0].ac_table, false)?;
        if ah == 0 {
            let mut decoder = progressive::AcFirst { table: &ac, ss, se, al, eobrun: 0 };
            scan::run(bits, layout, &comps, ri, coefs, &mut decoder, no_rows)
        } else {
            let mut decoder = progressive::AcRefine { table: &ac, ss, se, al, eobrun: 0 };
            scan::run(bits, layout, &comps, ri, coefs, &mut decoder, no_rows)
        }
    }
}

/// Dequantise and inverse-transform block rows `rows` of a component into its plane (only the
/// blocks that hold image samples, as jdcoefct.c does).
fn idct_rows(
    coefs: &Coefs,
    comp: &CompLayout,
    quant: Option<&[i16; 64]>,
    plane: &mut Plane,
    rows: std::ops::Range<usize>,
) -> Result<(), Error> {
    let quant = quant.ok_or(Error::Corrupt("missing quantisation table"))?;
    let stride = plane.stride;
    for by in rows.start..rows.end.min(comp.blocks_h) {
        let band = plane
            .data
            .get_mut(by * 8 * stride..(by + 1) * 8 * stride)
            .ok_or(Error::Corrupt("block row outside the plane"))?;
        for bx in 0..comp.blocks_w {
            let block = coefs.block(bx, by).ok_or(Error::Corrupt("block outside the coefficients"))?;
            idct::islow(block, quant, &mut band[bx * 8..], stride);
        }
    }
    Ok(())
}

/// Upsample and colour-convert the planes into interleaved output rows.
fn output(layout: &Layout, planes: &[Plane]) -> Result<Vec<u8>, Error> {
    let (width, height) = (layout.width, layout.height);
    let mut scratch: Vec<Scratch> = layout.comps.iter().map(|l| Scratch::new(l, width)).collect();
    let missing = Error::Corrupt("missing component");
    match layout.color {
        ColorSpace::Gray => {
            let mut out = vec![0u8; width * height];
            let (plane, comp, s) = (&planes[0], &layout.comps[0], &mut scratch[0]);
            for (y, out_row) in out.chunks_exact_mut(width).enumerate() {
                let row = upsample::row(plane, comp, y, width, s)?;
                out_row.copy_from_slice(row.get(..width).ok_or(missing)?);
            }
            Ok(out)
        }
        ColorSpace::YCbCr | ColorSpace::Rgb => {
            let mut out = vec![0u8; width * height * 3];
            let [s0, s1, s2] = &mut scratch[..] else { return Err(missing) };
            let tables = color::YccTables::new();
            for (y, out_row) in out.chunks_exact_mut(width * 3).enumerate() {
                let c0 = upsample::row(&planes[0], &layout.comps[0], y, width, s0)?;
                let c1 = upsample::row(&planes[1], &layout.comps[1], y, width, s1)?;
                let c2 = upsample::row(&planes[2], &layout.comps[2], y, width, s2)?;
                if c0.len() < width || c1.len() < width || c2.len() < width {
                    return Err(missing);
                }
                if layout.color == ColorSpace::YCbCr {
                    tables.convert_row(c0, c1, c2, out_row);
                } else {
                    color::interleave_row(c0, c1, c2, out_row);
                }
            }
            Ok(out)
        }
    }
}
