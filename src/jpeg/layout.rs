//! Frame geometry (jdinput.c `initial_setup`), the upsampling method of each component
//! (jdsample.c `jinit_upsampler` with `do_fancy_upsampling`) and the colour space
//! (jdapimin.c `default_decompress_parms`).

use super::markers::{Frame, Header};
use super::{Error, FRACTIONAL_SAMPLING};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Upsample {
    /// Full resolution: no work.
    Full,
    /// 2:1 horizontally, triangle filter (`h2v1_fancy_upsample`).
    H2V1Fancy,
    /// 2:1 vertically, triangle filter (`h1v2_fancy_upsample`).
    H1V2Fancy,
    /// 2:1 both ways, triangle filter (`h2v2_fancy_upsample`).
    H2V2Fancy,
    /// Any other integral ratio: pixel replication (`int_upsample`, `h2v1_upsample`,
    /// `h2v2_upsample`).
    Box { h: usize, v: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ColorSpace {
    Gray,
    YCbCr,
    Rgb,
}

#[derive(Clone, Debug)]
pub(super) struct CompLayout {
    pub h: usize,
    pub v: usize,
    pub tq: usize,
    /// The component's own size in samples: ceil(image size · factor / max factor).
    pub width: usize,
    pub height: usize,
    /// Blocks holding real samples: ceil(size / 8). A non-interleaved scan codes exactly these.
    pub blocks_w: usize,
    pub blocks_h: usize,
    /// Blocks an interleaved scan codes (whole MCUs): MCUs · factor.
    pub padded_w: usize,
    pub padded_h: usize,
    pub upsample: Upsample,
}

#[derive(Clone, Debug)]
pub(super) struct Layout {
    pub width: usize,
    pub height: usize,
    pub mcus_x: usize,
    pub mcus_y: usize,
    pub comps: Vec<CompLayout>,
    pub color: ColorSpace,
}

fn div_ceil(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

impl Layout {
    pub fn new(frame: &Frame, header: &Header) -> Result<Self, Error> {
        let color = color_space(frame, header)?;
        let (width, height) = (usize::from(frame.width), usize::from(frame.height));
        let hmax = frame.components.iter().map(|c| usize::from(c.h)).max().unwrap_or(1);
        let vmax = frame.components.iter().map(|c| usize::from(c.v)).max().unwrap_or(1);
        let mcus_x = div_ceil(width, 8 * hmax);
        let mcus_y = div_ceil(height, 8 * vmax);
        let mut comps = Vec::with_capacity(frame.components.len());
        for c in &frame.components {
            let (h, v) = (usize::from(c.h), usize::from(c.v));
            let cw = div_ceil(width * h, hmax);
            let ch = div_ceil(height * v, vmax);
            let upsample = if h == hmax && v == vmax {
                Upsample::Full
            } else if h * 2 == hmax && v == vmax {
                if cw > 2 { Upsample::H2V1Fancy } else { Upsample::Box { h: 2, v: 1 } }
            } else if h == hmax && v * 2 == vmax {
                Upsample::H1V2Fancy
            } else if h * 2 == hmax && v * 2 == vmax {
                if cw > 2 { Upsample::H2V2Fancy } else { Upsample::Box { h: 2, v: 2 } }
            } else if hmax % h == 0 && vmax % v == 0 {
                Upsample::Box { h: hmax / h, v: vmax / v }
            } else {
                return Err(Error::Unsupported(FRACTIONAL_SAMPLING));
            };
            comps.push(CompLayout {
                h,
                v,
                tq: usize::from(c.tq),
                width: cw,
                height: ch,
                blocks_w: div_ceil(cw, 8),
                blocks_h: div_ceil(ch, 8),
                padded_w: mcus_x * h,
                padded_h: mcus_y * v,
                upsample,
            });
        }
        Ok(Layout { width, height, mcus_x, mcus_y, comps, color })
    }
}

fn color_space(frame: &Frame, header: &Header) -> Result<ColorSpace, Error> {
    match frame.components.len() {
        1 => Ok(ColorSpace::Gray),
        3 => {
            let ids: Vec<u8> = frame.components.iter().map(|c| c.id).collect();
            Ok(if header.saw_jfif {
                ColorSpace::YCbCr
            } else if let Some(transform) = header.adobe_transform {
                if transform == 0 { ColorSpace::Rgb } else { ColorSpace::YCbCr }
            } else if ids == [b'R', b'G', b'B'] {
                ColorSpace::Rgb
            } else {
                ColorSpace::YCbCr
            })
        }
        4 => Err(Error::Unsupported("CMYK or YCCK JPEG")),
        _ => Err(Error::Unsupported("JPEG with 2 or more than 4 components")),
    }
}
