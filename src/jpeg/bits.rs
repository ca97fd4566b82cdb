//! Reading entropy-coded data: bits MSB first, byte stuffing (`FF 00` is a data byte `FF`), fill
//! bytes (`FF FF … FF 00` too), and stopping at the first marker, as libjpeg's jdhuff.c
//! `jpeg_fill_bit_buffer` does. Where libjpeg would pad with zero bits after a marker and warn
//! ("premature end of data segment"), this reader fails: the caller falls back to another
//! decoder.

use super::Error;

pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to load; at a marker, the position of its first `FF`.
    pos: usize,
    /// Loaded bits, most significant first; everything below the top `nbits` bits is zero.
    acc: u64,
    nbits: u32,
    /// A marker (or the end of the data) stops loading.
    stopped: bool,
}

const OUT_OF_DATA: Error = Error::Corrupt("entropy-coded data ends early");

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader { data, pos, acc: 0, nbits: 0, stopped: false }
    }

    /// Where to look for the next marker once this segment's bits are no longer needed.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Load whole bytes until at least 57 bits are buffered or a marker is reached.
    #[inline]
    fn refill(&mut self) {
        while self.nbits <= 56 && !self.stopped {
            let byte = match self.data.get(self.pos) {
                None => {
                    self.stopped = true;
                    break;
                }
                Some(&0xFF) => {
                    let mut p = self.pos + 1;
                    while self.data.get(p) == Some(&0xFF) {
                        p += 1;
                    }
                    if self.data.get(p) == Some(&0) {
                        self.pos = p + 1;
                        0xFF
                    } else {
                        // A marker (or the end of the data): stop in front of it.
                        self.stopped = true;
                        break;
                    }
                }
                Some(&b) => {
                    self.pos += 1;
                    b
                }
            };
            self.acc |= u64::from(byte) << (56 - self.nbits);
            self.nbits += 8;
        }
    }

    /// The next `n` (≤ 16) bits as an unsigned number.
    #[inline]
    pub fn bits(&mut self, n: u32) -> Result<u32, Error> {
        if n == 0 {
            return Ok(0);
        }
        debug_assert!(n <= 16);
        if self.nbits < n {
            self.refill();
            if self.nbits < n {
                return Err(OUT_OF_DATA);
            }
        }
        let value = (self.acc >> (64 - n)) as u32;
        self.acc <<= n;
        self.nbits -= n;
        Ok(value)
    }

    #[inline]
    pub fn bit(&mut self) -> Result<bool, Error> {
        Ok(self.bits(1)? != 0)
    }

    /// The next 16 bits without consuming them (zeros past a marker) and how many of them are
    /// real data.
    #[inline]
    pub fn peek16(&mut self) -> (u32, u32) {
        if self.nbits < 16 {
            self.refill();
        }
        ((self.acc >> 48) as u32, self.nbits.min(16))
    }

    /// Consume `n` bits previously seen through [`peek16`](Self::peek16).
    #[inline]
    pub fn consume(&mut self, n: u32) -> Result<(), Error> {
        if n > self.nbits || n > 16 {
            return Err(OUT_OF_DATA);
        }
        self.acc <<= n;
        self.nbits -= n;
        Ok(())
    }

    /// Process a restart marker (jdhuff.c `process_restart`): drop the buffered bits, skip to the
    /// next marker and require it to be `RSTn` with the expected `n`. libjpeg would try to
    /// resynchronise on a wrong marker; this decoder gives up instead.
    pub fn restart(&mut self, expected: u8) -> Result<(), Error> {
        self.acc = 0;
        self.nbits = 0;
        match next_marker(self.data, self.pos) {
            Some((marker, after)) if marker == 0xD0 + (expected & 7) => {
                self.pos = after;
                self.stopped = false;
                Ok(())
            }
            Some(_) => Err(Error::Corrupt("missing or out-of-order restart marker")),
            None => Err(OUT_OF_DATA),
        }
    }
}

/// libjpeg's jdmarker.c `next_marker`: skip anything up to an `FF`, swallow fill bytes and
/// stuffed zeros, and return the marker code with the position just after it.
pub(super) fn next_marker(data: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    loop {
        while *data.get(pos)? != 0xFF {
            pos += 1;
        }
        while *data.get(pos)? == 0xFF {
            pos += 1;
        }
        let code = *data.get(pos)?;
        pos += 1;
        if code != 0 {
            return Some((code, pos));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_fill_bytes_and_markers() {
        let data = [0b1010_0000, 0xFF, 0x00, 0xFF, 0xFF, 0x00, 0x12, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(4).unwrap(), 0b1010);
        assert_eq!(r.bits(4).unwrap(), 0);
        assert_eq!(r.bits(8).unwrap(), 0xFF);
        assert_eq!(r.bits(8).unwrap(), 0xFF);
        assert_eq!(r.bits(8).unwrap(), 0x12);
        assert!(r.bits(1).is_err(), "bits past the EOI marker are not data");
        assert_eq!(next_marker(&data, r.position()), Some((0xD9, 9)));
    }

    #[test]
    fn restart_requires_the_expected_marker() {
        let data = [0xAB, 0xFF, 0xD3, 0xCD, 0xFF, 0xD5];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(3).unwrap(), 0b101);
        r.restart(3).unwrap();
        assert_eq!(r.bits(8).unwrap(), 0xCD);
        assert!(r.restart(4).is_err());
    }
}
