//! Baseline and extended sequential Huffman scans (jdhuff.c `decode_mcu`): a DC difference
//! added to the component's prediction, then run/size-coded AC coefficients up to EOB.

use super::bits::BitReader;
use super::huffman::{receive_extend, HuffTable};
use super::scan::BlockDecoder;
use super::{Error, ZIGZAG};

pub(super) struct Sequential<'t> {
    /// DC and AC table of each scan component.
    pub tables: Vec<(&'t HuffTable, &'t HuffTable)>,
    pub predictions: [i32; 4],
}

impl BlockDecoder for Sequential<'_> {
    fn restart(&mut self) {
        self.predictions = [0; 4];
    }

    fn decode_block(&mut self, bits: &mut BitReader, sc: usize, block: &mut [i16; 64]) -> Result<(), Error> {
        let (dc, ac) = *self.tables.get(sc).ok_or(Error::Corrupt("bad scan component"))?;
        *block = [0; 64];
        let s = u32::from(dc.decode(bits)?);
        let diff = receive_extend(bits, s)?;
        // libjpeg adds as unsigned so that corrupt files cannot overflow; JCOEF keeps 16 bits.
        let prediction = &mut self.predictions[sc & 3];
        *prediction = prediction.wrapping_add(diff);
        block[0] = *prediction as i16;
        let mut k = 1usize;
        while k < 64 {
            let rs = ac.decode(bits)?;
            let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
            if s != 0 {
                k += r;
                // libjpeg would clamp into position 63; no valid encoder gets here.
                let &pos = ZIGZAG.get(k).ok_or(Error::Corrupt("AC coefficient past the block"))?;
                block[pos] = receive_extend(bits, s)? as i16;
                k += 1;
            } else if r == 15 {
                k += 16;
            } else {
                break;
            }
        }
        Ok(())
    }
}
