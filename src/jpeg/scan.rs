//! Walking one scan's MCUs (jdinput.c `per_scan_setup`, jdcoefct.c): interleaved scans cover whole
//! MCUs of h×v blocks per component, including the padding blocks past the image edge;
//! a single-component scan covers only that component's ceil(width/8) × ceil(height/8) blocks,
//! one block per MCU. Restart markers come every `restart_interval` MCUs.

use super::bits::BitReader;
use super::layout::Layout;
use super::Error;

/// A component's DCT coefficients (natural order), either for the whole padded block grid or,
/// when a baseline image is decoded in one pass, for one MCU row at a time.
pub(super) struct Coefs {
    /// Blocks per row (the MCU-padded width).
    pub width: usize,
    /// Block rows held.
    pub rows: usize,
    /// The block row held first (always 0 for a whole-image buffer).
    pub first_row: usize,
    pub windowed: bool,
    pub blocks: Vec<[i16; 64]>,
}

impl Coefs {
    pub fn whole(width: usize, rows: usize) -> Self {
        Coefs { width, rows, first_row: 0, windowed: false, blocks: vec![[0; 64]; width * rows] }
    }

    pub fn window(width: usize, rows: usize) -> Self {
        Coefs { windowed: true, ..Coefs::whole(width, rows) }
    }

    pub fn block(&self, x: usize, y: usize) -> Option<&[i16; 64]> {
        let r = y.checked_sub(self.first_row).filter(|&r| r < self.rows)?;
        if x >= self.width {
            return None;
        }
        self.blocks.get(r * self.width + x)
    }

    fn block_mut(&mut self, x: usize, y: usize) -> Result<&mut [i16; 64], Error> {
        let outside = Error::Corrupt("block outside the coefficient buffer");
        let r = y.checked_sub(self.first_row).filter(|&r| r < self.rows).ok_or(outside)?;
        if x >= self.width {
            return Err(outside);
        }
        self.blocks.get_mut(r * self.width + x).ok_or(outside)
    }
}

/// Decodes blocks of one kind of scan (sequential, or one of the four progressive kinds).
pub(super) trait BlockDecoder {
    /// Called after every restart marker: DC predictions and EOB runs start over.
    fn restart(&mut self);
    /// Decode one block of the scan's component number `scan_comp` into `block`.
    fn decode_block(&mut self, bits: &mut BitReader, scan_comp: usize, block: &mut [i16; 64]) -> Result<(), Error>;
}

/// Decode every MCU of a scan whose components are `comps` (frame indices, scan order). After
/// each MCU row, `row_done(coefs, mcu_row)` is called; windowed buffers move down one MCU row
/// before the next.
pub(super) fn run<D: BlockDecoder>(
    bits: &mut BitReader,
    layout: &Layout,
    comps: &[usize],
    restart_interval: u16,
    coefs: &mut [Coefs],
    decoder: &mut D,
    mut row_done: impl FnMut(&mut [Coefs], usize) -> Result<(), Error>,
) -> Result<(), Error> {
    let bad = Error::Corrupt("bad scan component");
    let interleaved = comps.len() > 1;
    let (mcus_x, mcus_y) = if interleaved {
        let blocks: usize = comps.iter().map(|&c| layout.comps.get(c).map_or(99, |l| l.h * l.v)).sum();
        if blocks > 10 {
            return Err(Error::Corrupt("more than 10 blocks per MCU"));
        }
        (layout.mcus_x, layout.mcus_y)
    } else {
        let l = layout.comps.get(*comps.first().ok_or(bad)?).ok_or(bad)?;
        (l.blocks_w, l.blocks_h)
    };

    let mut restarts_to_go = restart_interval;
    let mut next_restart = 0u8;
    for my in 0..mcus_y {
        for &c in comps {
            let l = layout.comps.get(c).ok_or(bad)?;
            let coef = coefs.get_mut(c).ok_or(bad)?;
            if coef.windowed {
                coef.first_row = if interleaved { my * l.v } else { my };
            }
        }
        for mx in 0..mcus_x {
            if restart_interval != 0 {
                if restarts_to_go == 0 {
                    bits.restart(next_restart)?;
                    next_restart = (next_restart + 1) & 7;
                    restarts_to_go = restart_interval;
                    decoder.restart();
                }
                restarts_to_go -= 1;
            }
            if interleaved {
                for (sc, &c) in comps.iter().enumerate() {
                    let l = layout.comps.get(c).ok_or(bad)?;
                    let coef = coefs.get_mut(c).ok_or(bad)?;
                    for v in 0..l.v {
                        for h in 0..l.h {
                            let block = coef.block_mut(mx * l.h + h, my * l.v + v)?;
                            decoder.decode_block(bits, sc, block)?;
                        }
                    }
                }
            } else {
                let block = coefs.get_mut(comps[0]).ok_or(bad)?.block_mut(mx, my)?;
                decoder.decode_block(bits, 0, block)?;
            }
        }
        row_done(coefs, my)?;
    }
    Ok(())
}
