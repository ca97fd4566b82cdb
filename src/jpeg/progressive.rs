//! Progressive Huffman scans (ITU T.81 G.1.2, libjpeg's jdphuff.c): DC first and refinement
//! scans (possibly interleaved), AC first scans with end-of-band runs and AC refinement scans
//! with correction bits, each for a spectral band `ss..=se` and successive-approximation bit
//! `al`.

use super::bits::BitReader;
use super::huffman::{receive_extend, HuffTable};
use super::scan::BlockDecoder;
use super::{Error, ZIGZAG};

pub(super) struct DcFirst<'t> {
    pub tables: Vec<&'t HuffTable>,
    pub al: u8,
    pub predictions: [i32; 4],
}

impl BlockDecoder for DcFirst<'_> {
    fn restart(&mut self) {
        self.predictions = [0; 4];
    }

    fn decode_block(&mut self, bits: &mut BitReader, sc: usize, block: &mut [i16; 64]) -> Result<(), Error> {
        let table = *self.tables.get(sc).ok_or(Error::Corrupt("bad scan component"))?;
        let s = u32::from(table.decode(bits)?);
        let diff = receive_extend(bits, s)?;
        let prediction = &mut self.predictions[sc & 3];
        *prediction = prediction.checked_add(diff).ok_or(Error::Corrupt("DC coefficient overflows"))?;
        block[0] = (i64::from(*prediction) << self.al) as i16;
        Ok(())
    }
}

pub(super) struct DcRefine {
    pub al: u8,
}

impl BlockDecoder for DcRefine {
    fn restart(&mut self) {}

    fn decode_block(&mut self, bits: &mut BitReader, _sc: usize, block: &mut [i16; 64]) -> Result<(), Error> {
        if bits.bit()? {
            block[0] |= (1i32 << self.al) as i16;
        }
        Ok(())
    }
}

pub(super) struct AcFirst<'t> {
    pub table: &'t HuffTable,
    pub ss: u8,
    pub se: u8,
    pub al: u8,
    pub eobrun: u32,
}

impl BlockDecoder for AcFirst<'_> {
    fn restart(&mut self) {
        self.eobrun = 0;
    }

    fn decode_block(&mut self, bits: &mut BitReader, _sc: usize, block: &mut [i16; 64]) -> Result<(), Error> {
        if self.eobrun > 0 {
            self.eobrun -= 1;
            return Ok(());
        }
        let se = usize::from(self.se);
        let mut k = usize::from(self.ss);
        while k <= se {
            let rs = self.table.decode(bits)?;
            let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
            if s != 0 {
                k += r as usize;
                if k > se {
                    return Err(Error::Corrupt("AC coefficient past the band"));
                }
                let value = receive_extend(bits, s)?;
                block[ZIGZAG[k]] = (i64::from(value) << self.al) as i16;
            } else if r == 15 {
                k += 15;
            } else {
                // EOBr: this block and 2^r + (r bits) − 1 more end here.
                self.eobrun = (1 << r) + bits.bits(r)? - 1;
                break;
            }
            k += 1;
        }
        Ok(())
    }
}

pub(super) struct AcRefine<'t> {
    pub table: &'t HuffTable,
    pub ss: u8,
    pub se: u8,
    pub al: u8,
    pub eobrun: u32,
}

impl AcRefine<'_> {
    /// A correction bit for an already non-zero coefficient: if set, move it one step of
    /// 2^al further from zero (unless that bit is already there).
    fn correct(&self, bits: &mut BitReader, coef: &mut i16) -> Result<(), Error> {
        let p1 = (1i32 << self.al) as i16;
        if bits.bit()? && *coef & p1 == 0 {
            *coef = if *coef >= 0 { coef.wrapping_add(p1) } else { coef.wrapping_sub(p1) };
        }
        Ok(())
    }
}

impl BlockDecoder for AcRefine<'_> {
    fn restart(&mut self) {
        self.eobrun = 0;
    }

    fn decode_block(&mut self, bits: &mut BitReader, _sc: usize, block: &mut [i16; 64]) -> Result<(), Error> {
        let se = usize::from(self.se);
        let mut k = usize::from(self.ss);
        if self.eobrun == 0 {
            while k <= se {
                let rs = self.table.decode(bits)?;
                let (mut r, s) = (i32::from(rs >> 4), rs & 15);
                let mut new_value = 0i16;
                if s != 0 {
                    if s != 1 {
                        // libjpeg warns and carries on; the file is corrupt.
                        return Err(Error::Corrupt("bad progressive refinement code"));
                    }
                    new_value = if bits.bit()? { (1i32 << self.al) as i16 } else { (-1i32 << self.al) as i16 };
                } else if r != 15 {
                    self.eobrun = (1 << r) + bits.bits(r as u32)?;
                    break;
                }
                // Skip r zero coefficients (correcting the non-zero ones passed on the way) and
                // stop on the next zero one, which becomes `new_value` (ZRL: s = 0, 16 zeros).
                loop {
                    let coef = &mut block[ZIGZAG[k]];
                    if *coef != 0 {
                        self.correct(bits, coef)?;
                    } else {
                        r -= 1;
                        if r < 0 {
                            break;
                        }
                    }
                    k += 1;
                    if k > se {
                        break;
                    }
                }
                if new_value != 0 {
                    if k > se {
                        return Err(Error::Corrupt("AC coefficient past the band"));
                    }
                    block[ZIGZAG[k]] = new_value;
                }
                k += 1;
            }
        }
        if self.eobrun > 0 {
            // Inside an end-of-band run: only correction bits for the non-zero coefficients left.
            while k <= se {
                let coef = &mut block[ZIGZAG[k]];
                if *coef != 0 {
                    self.correct(bits, coef)?;
                }
                k += 1;
            }
            self.eobrun -= 1;
        }
        Ok(())
    }
}
