//! Marker segments (jdmarker.c): SOI, APP0 (JFIF), APP1 (Exif), APP14 (Adobe), DQT, DHT, DRI,
//! SOF0/1/2, SOS, EOI; other markers are skipped by their length. Everything up to the first
//! SOS decides the colour space, as libjpeg's `default_decompress_parms` does.

use super::bits::next_marker;
use super::huffman::HuffSpec;
use super::{Error, ARITHMETIC, DNL_HEIGHT, HIERARCHICAL, LOSSLESS, NOT_8_BIT, ZIGZAG};

#[derive(Clone, Debug)]
pub(super) struct Component {
    pub id: u8,
    pub h: u8,
    pub v: u8,
    pub tq: u8,
}

#[derive(Clone, Debug)]
pub(super) struct Frame {
    pub progressive: bool,
    pub width: u16,
    pub height: u16,
    pub components: Vec<Component>,
}

#[derive(Clone, Debug)]
pub(super) struct ScanComponent {
    /// Index into `Frame::components`.
    pub index: usize,
    pub dc_table: u8,
    pub ac_table: u8,
}

#[derive(Clone, Debug)]
pub(super) struct ScanHeader {
    pub components: Vec<ScanComponent>,
    pub ss: u8,
    pub se: u8,
    pub ah: u8,
    pub al: u8,
}

/// Everything the markers before (and between) scans define.
#[derive(Default)]
pub(super) struct Header<'a> {
    pub frame: Option<Frame>,
    /// Quantisation tables in natural (row-major) order.
    pub quant: [Option<[u16; 64]>; 4],
    pub dc: [Option<HuffSpec>; 4],
    pub ac: [Option<HuffSpec>; 4],
    pub restart_interval: u16,
    pub saw_jfif: bool,
    pub adobe_transform: Option<u8>,
    /// The first APP1 Exif payload, after `Exif\0\0` (what Pillow's `exif_transpose` reads).
    pub exif: Option<&'a [u8]>,
}

pub(super) enum Next {
    Scan(ScanHeader),
    /// EOI, or the end of the data.
    End,
}

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DQT: u8 = 0xDB;
const DRI: u8 = 0xDD;
const DHT: u8 = 0xC4;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP14: u8 = 0xEE;

impl<'a> Header<'a> {
    /// Check SOI and return the position after it.
    pub fn start(data: &[u8]) -> Result<usize, Error> {
        if data.len() < 4 || data[0] != 0xFF || data[1] != SOI {
            return Err(Error::Corrupt("not a JPEG file (no SOI marker)"));
        }
        Ok(2)
    }

    /// Read markers from `*pos` up to the next SOS (whose header is returned, with `*pos` at
    /// the start of its entropy-coded data) or EOI / the end of the data.
    pub fn read_markers(&mut self, data: &'a [u8], pos: &mut usize) -> Result<Next, Error> {
        // Each iteration consumes at least one byte, so this ends.
        loop {
            let Some((marker, after)) = next_marker(data, *pos) else {
                *pos = data.len();
                return Ok(Next::End);
            };
            *pos = after;
            match marker {
                EOI => return Ok(Next::End),
                // Parameterless markers: RSTn, TEM. A second SOI is an error in libjpeg.
                0xD0..=0xD7 | 0x01 => continue,
                SOI => return Err(Error::Corrupt("SOI marker inside the image")),
                _ => {}
            }
            let payload = segment(data, pos)?;
            match marker {
                0xC0..=0xC2 => self.read_sof(marker, payload)?,
                0xC9..=0xCB => return Err(Error::Unsupported(ARITHMETIC)),
                0xC3 => return Err(Error::Unsupported(LOSSLESS)),
                0xC5..=0xC7 | 0xCD..=0xCF => return Err(Error::Unsupported(HIERARCHICAL)),
                DHT => self.read_dht(payload)?,
                DQT => self.read_dqt(payload)?,
                DRI => {
                    if payload.len() != 2 {
                        return Err(Error::Corrupt("bad DRI length"));
                    }
                    self.restart_interval = u16::from_be_bytes([payload[0], payload[1]]);
                }
                SOS => return Ok(Next::Scan(self.read_sos(payload)?)),
                // jdmarker.c examine_app0: at least 14 bytes starting "JFIF\0".
                APP0 if payload.len() >= 14 && payload.starts_with(b"JFIF\0") => self.saw_jfif = true,
                APP1 if self.exif.is_none() && payload.starts_with(b"Exif\0\0") => {
                    self.exif = Some(&payload[6..]);
                }
                // examine_app14: at least 12 bytes starting "Adobe"; the transform is byte 11.
                APP14 if payload.len() >= 12 && payload.starts_with(b"Adobe") => {
                    self.adobe_transform = Some(payload[11]);
                }
                // COM, other APPn, DNL, DAC with Huffman coding, …: skipped.
                _ => {}
            }
        }
    }

    fn read_sof(&mut self, marker: u8, p: &[u8]) -> Result<(), Error> {
        if self.frame.is_some() {
            return Err(Error::Corrupt("more than one SOF marker"));
        }
        if p.len() < 6 {
            return Err(Error::Corrupt("SOF segment too short"));
        }
        if p[0] != 8 {
            return Err(Error::Unsupported(NOT_8_BIT));
        }
        let height = u16::from_be_bytes([p[1], p[2]]);
        let width = u16::from_be_bytes([p[3], p[4]]);
        let n = usize::from(p[5]);
        if height == 0 {
            return Err(Error::Unsupported(DNL_HEIGHT));
        }
        if width == 0 || n == 0 || p.len() != 6 + 3 * n {
            return Err(Error::Corrupt("bad SOF segment"));
        }
        let mut components = Vec::with_capacity(n);
        for c in p[6..].chunks_exact(3) {
            let (h, v) = (c[1] >> 4, c[1] & 15);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
                return Err(Error::Corrupt("bad sampling factors or quantisation table"));
            }
            if components.iter().any(|other: &Component| other.id == c[0]) {
                // libjpeg-turbo renames duplicates; rare enough to leave to the fallback.
                return Err(Error::Unsupported("duplicate component ids"));
            }
            components.push(Component { id: c[0], h, v, tq: c[2] });
        }
        self.frame = Some(Frame { progressive: marker == 0xC2, width, height, components });
        Ok(())
    }

    fn read_dht(&mut self, mut p: &[u8]) -> Result<(), Error> {
        let bad = Error::Corrupt("bad DHT segment");
        while !p.is_empty() {
            if p.len() < 17 {
                return Err(bad);
            }
            let (class, index) = (p[0] >> 4, usize::from(p[0] & 15));
            let mut counts = [0u8; 17];
            counts[1..].copy_from_slice(&p[1..17]);
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            if total > 256 || p.len() < 17 + total || index > 3 {
                return Err(bad);
            }
            let spec = HuffSpec { counts, values: p[17..17 + total].to_vec() };
            match class {
                0 => self.dc[index] = Some(spec),
                1 => self.ac[index] = Some(spec),
                _ => return Err(bad),
            }
            p = &p[17 + total..];
        }
        Ok(())
    }

    fn read_dqt(&mut self, mut p: &[u8]) -> Result<(), Error> {
        let bad = Error::Corrupt("bad DQT segment");
        while !p.is_empty() {
            let (precision, index) = (p[0] >> 4, usize::from(p[0] & 15));
            let size = match precision {
                0 => 64,
                1 => 128,
                _ => return Err(bad),
            };
            if index > 3 || p.len() < 1 + size {
                return Err(bad);
            }
            let mut table = [0u16; 64];
            for (k, &natural) in ZIGZAG.iter().enumerate() {
                table[natural] = if precision == 0 {
                    u16::from(p[1 + k])
                } else {
                    u16::from_be_bytes([p[1 + 2 * k], p[2 + 2 * k]])
                };
            }
            self.quant[index] = Some(table);
            p = &p[1 + size..];
        }
        Ok(())
    }

    fn read_sos(&self, p: &[u8]) -> Result<ScanHeader, Error> {
        let frame = self.frame.as_ref().ok_or(Error::Corrupt("SOS before SOF"))?;
        let bad = Error::Corrupt("bad SOS segment");
        let n = usize::from(*p.first().ok_or(bad)?);
        if !(1..=4).contains(&n) || p.len() != 4 + 2 * n {
            return Err(bad);
        }
        let mut components: Vec<ScanComponent> = Vec::with_capacity(n);
        for c in p[1..1 + 2 * n].chunks_exact(2) {
            let index = frame
                .components
                .iter()
                .position(|fc| fc.id == c[0])
                .ok_or(Error::Corrupt("SOS names an unknown component"))?;
            if components.iter().any(|sc| sc.index == index) {
                return Err(Error::Corrupt("SOS names a component twice"));
            }
            let (dc_table, ac_table) = (c[1] >> 4, c[1] & 15);
            if dc_table > 3 || ac_table > 3 {
                return Err(bad);
            }
            components.push(ScanComponent { index, dc_table, ac_table });
        }
        let tail = &p[1 + 2 * n..];
        Ok(ScanHeader { components, ss: tail[0], se: tail[1], ah: tail[2] >> 4, al: tail[2] & 15 })
    }
}

const SEGMENT_PAST_END: Error = Error::Corrupt("marker segment runs past the end of the file");

/// Whether the file ends before its EOI marker, as a truncated file does (libjpeg, and so
/// Pillow, refuses those). The segments before the first SOS are skipped by their lengths (an
/// Exif thumbnail holds an EOI of its own); after it, markers are found as the decoder meets
/// them, through the entropy-coded data. A header that is damaged rather than cut short is not
/// called truncated.
pub(super) fn is_truncated(data: &[u8]) -> bool {
    let mut pos = 2;
    loop {
        let Some((marker, after)) = next_marker(data, pos) else { return true };
        pos = after;
        match marker {
            SOS => break,
            EOI => return false,
            0xD0..=0xD7 | 0x01 | SOI => {}
            _ => match segment(data, &mut pos) {
                Ok(_) => {}
                Err(error) => return error == SEGMENT_PAST_END,
            },
        }
    }
    !std::iter::successors(next_marker(data, pos), |&(_, after)| next_marker(data, after)).any(|(marker, _)| marker == EOI)
}

/// The payload of the length-prefixed segment at `*pos`, advancing past it.
fn segment<'a>(data: &'a [u8], pos: &mut usize) -> Result<&'a [u8], Error> {
    let bad = SEGMENT_PAST_END;
    let len = match data.get(*pos..*pos + 2) {
        Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
        None => return Err(bad),
    };
    if len < 2 {
        return Err(Error::Corrupt("bad marker segment length"));
    }
    let payload = data.get(*pos + 2..*pos + len).ok_or(bad)?;
    *pos += len;
    Ok(payload)
}
