//! Huffman tables as jdhuff.c `jpeg_make_d_derived_tbl` builds and checks them, and symbol
//! decoding: a 9-bit lookup for short codes, then the canonical `maxcode` walk of ITU T.81
//! F.2.2.3 for codes of up to 16 bits.

use super::bits::BitReader;
use super::Error;

/// A DHT table as it appears in the file: `counts[l]` codes of length `l` (1..=16), then the
/// symbols in code order.
#[derive(Clone, Debug)]
pub(super) struct HuffSpec {
    pub counts: [u8; 17],
    pub values: Vec<u8>,
}

const LOOKUP_BITS: u32 = 9;

pub(super) struct HuffTable {
    /// Indexed by the next 9 bits: `length << 8 | symbol` for codes of up to 9 bits, 0 otherwise.
    lookup: Box<[u16; 1 << LOOKUP_BITS]>,
    /// Largest code of each length (-1: none).
    maxcode: [i32; 17],
    /// Index into `values` of code `c` of length `l`: `c + valoffset[l]`.
    valoffset: [i32; 17],
    values: [u8; 256],
}

impl HuffTable {
    pub fn new(spec: &HuffSpec, dc: bool) -> Result<Self, Error> {
        let bad = Error::Corrupt("bad Huffman table");
        // Code lengths in symbol order.
        let mut sizes = [0u8; 257];
        let mut n = 0usize;
        for (len, &count) in spec.counts.iter().enumerate().skip(1) {
            for _ in 0..count {
                *sizes.get_mut(n).ok_or(bad)? = len as u8;
                n += 1;
            }
        }
        if n > 256 || spec.values.len() < n {
            return Err(bad);
        }
        // Canonical codes; libjpeg refuses a table whose codes overflow their length.
        let mut codes = [0u32; 256];
        let mut code = 0u32;
        let mut si = u32::from(sizes[0]);
        let mut p = 0usize;
        while sizes[p] != 0 {
            while u32::from(sizes[p]) == si {
                codes[p] = code;
                code += 1;
                p += 1;
            }
            if code >= 1 << si {
                return Err(bad);
            }
            code <<= 1;
            si += 1;
        }
        let mut maxcode = [-1i32; 17];
        let mut valoffset = [0i32; 17];
        let mut p = 0usize;
        for len in 1..=16usize {
            let count = usize::from(spec.counts[len]);
            if count > 0 {
                valoffset[len] = p as i32 - codes[p] as i32;
                p += count;
                maxcode[len] = codes[p - 1] as i32;
            }
        }
        let mut values = [0u8; 256];
        values[..n].copy_from_slice(&spec.values[..n]);
        if dc && values[..n].iter().any(|&v| v > 15) {
            return Err(bad);
        }
        let mut lookup = Box::new([0u16; 1 << LOOKUP_BITS]);
        for i in 0..n {
            let len = u32::from(sizes[i]);
            if len <= LOOKUP_BITS {
                let shift = LOOKUP_BITS - len;
                let first = (codes[i] << shift) as usize;
                let entry = (len as u16) << 8 | u16::from(values[i]);
                for slot in lookup.iter_mut().skip(first).take(1 << shift) {
                    *slot = entry;
                }
            }
        }
        Ok(HuffTable { lookup, maxcode, valoffset, values })
    }

    /// Decode one symbol. A code that is not in the table, or that would need bits past the
    /// end of the segment, is an error (libjpeg warns and substitutes 0).
    #[inline]
    pub fn decode(&self, bits: &mut BitReader) -> Result<u8, Error> {
        let (peek, available) = bits.peek16();
        let entry = self.lookup[(peek >> (16 - LOOKUP_BITS)) as usize];
        if entry != 0 {
            let len = u32::from(entry >> 8);
            if len > available {
                return Err(Error::Corrupt("entropy-coded data ends early"));
            }
            bits.consume(len)?;
            return Ok(entry as u8);
        }
        for len in LOOKUP_BITS + 1..=16 {
            let code = (peek >> (16 - len)) as i32;
            if code <= self.maxcode[len as usize] {
                bits.consume(len)?;
                let index = code + self.valoffset[len as usize];
                return usize::try_from(index)
                    .ok()
                    .and_then(|i| self.values.get(i).copied())
                    .ok_or(Error::Corrupt("bad Huffman code"));
            }
        }
        Err(Error::Corrupt("bad Huffman code"))
    }
}

/// ITU T.81 F.2.2.1 EXTEND (libjpeg's HUFF_EXTEND): the `s`-bit magnitude category value `x`
/// as a signed number.
#[inline]
pub(super) fn extend(x: u32, s: u32) -> i32 {
    if s == 0 {
        0
    } else if x < 1 << (s - 1) {
        x as i32 - (1 << s) + 1
    } else {
        x as i32
    }
}

/// `s` bits read and extended.
#[inline]
pub(super) fn receive_extend(bits: &mut BitReader, s: u32) -> Result<i32, Error> {
    Ok(extend(bits.bits(s)?, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_short_and_long_codes() {
        // Lengths: one code of 1 bit (0), one of 2 bits (10), and 12-bit codes after that.
        let mut counts = [0u8; 17];
        counts[1] = 1;
        counts[2] = 1;
        counts[12] = 2;
        let spec = HuffSpec { counts, values: vec![7, 9, 3, 4] };
        let table = HuffTable::new(&spec, false).unwrap();
        // 0 | 10 | 110000000000 | 110000000001 then padding ones
        let stream = [0b0101_1000, 0b0000_0001, 0b1000_0000, 0b0011_1111];
        let mut bits = BitReader::new(&stream, 0);
        let got: Vec<u8> = (0..4).map(|_| table.decode(&mut bits).unwrap()).collect();
        assert_eq!(got, [7, 9, 3, 4]);
    }

    #[test]
    fn refuses_overfull_tables_and_big_dc_symbols() {
        let mut counts = [0u8; 17];
        counts[1] = 3;
        assert!(HuffTable::new(&HuffSpec { counts, values: vec![0, 1, 2] }, false).is_err());
        let mut counts = [0u8; 17];
        counts[2] = 1;
        assert!(HuffTable::new(&HuffSpec { counts, values: vec![16] }, true).is_err());
        assert!(HuffTable::new(&HuffSpec { counts, values: vec![16] }, false).is_ok());
    }

    #[test]
    fn extend_matches_t81() {
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0b011, 3), -4);
        assert_eq!(extend(0b100, 3), 4);
        assert_eq!(extend(0, 15), -32767);
    }
}
