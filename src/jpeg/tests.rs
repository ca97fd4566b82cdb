//! Robustness: truncated and corrupted files make the decoder return an error (or some image),
//! never panic, and the memory limit is enforced from the header. Bit-exactness with Pillow is
//! tested in tests/jpeg_pil.rs (natively, with Python) and tests/parity.rs (also in wasm).

use super::*;

macro_rules! fixtures {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)) as &[u8])),*]
    };
}

const FILES: &[(&str, &[u8])] = fixtures![
    "tests/golden/inputs/photo.jpg",
    "tests/golden/inputs/exif_rot6.jpg",
    "tests/data/jpeg/prog420-rst.jpg",
    "tests/data/jpeg/prog444.jpg",
    "tests/data/jpeg/gray-prog.jpg",
    "tests/data/jpeg/base422-rst-rows.jpg",
    "tests/data/jpeg/rgb-prog.jpg",
    "tests/data/jpeg/seq-3scans.jpg",
    "tests/data/jpeg/sof440.jpg",
    "tests/data/jpeg/sof411.jpg",
];

/// A decode that must not panic; an image it returns must have the declared shape.
fn try_decode(data: &[u8]) -> bool {
    let _ = read_info(data);
    match decode(data, 64 << 20) {
        Ok(image) => {
            assert_eq!(image.pixels.len(), image.width as usize * image.height as usize * image.channels);
            true
        }
        Err(_) => false,
    }
}

/// xorshift64*: deterministic "random" corruption.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn every_fixture_decodes() {
    for (name, data) in FILES {
        let image = decode(data, u64::MAX).unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = read_info(data).unwrap();
        assert_eq!((image.width, image.height), (info.width, info.height), "{name}");
    }
}

#[test]
fn truncated_files_never_panic() {
    for (name, data) in FILES {
        // Every prefix through the headers and into the first scan, then a sample of the rest
        // (fewer for the larger files: this test runs unoptimised).
        let (head, samples) = if data.len() < 4096 { (1200, 300) } else { (0, 150) };
        let step = (data.len() / samples).max(1);
        let lengths = (0..data.len().min(head)).chain((head..data.len()).step_by(step));
        for len in lengths {
            let decoded = try_decode(&data[..len]);
            // Without EOI the last MCUs are missing: only a file cut in its last few bytes may
            // still be complete.
            assert!(!decoded || len + 64 >= data.len(), "{name} cut to {len} of {} bytes decoded", data.len());
        }
    }
}

#[test]
fn corrupted_files_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (_, data) in FILES {
        // Each header byte set to values that matter to parsers (in the small fixtures: this
        // test runs unoptimised).
        let header_end = data.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap_or(data.len()) + 16;
        let small = data.len() < 4096;
        let values: &[u8] = if small { &[0x00, 0x01, 0x11, 0x7F, 0xFF] } else { &[] };
        for i in (0..header_end.min(data.len())).step_by(if small { 1 } else { 7 }) {
            for value in values.iter().copied().chain([data[i] ^ 0x80, data[i].wrapping_add(1)]) {
                let mut bytes = data.to_vec();
                bytes[i] = value;
                try_decode(&bytes);
            }
        }
        // Random bytes anywhere, one to four at a time, and random cuts.
        for _ in 0..if small { 300 } else { 60 } {
            let mut bytes = data.to_vec();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                bytes.truncate(rng.below(bytes.len()));
            }
            try_decode(&bytes);
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(12345);
    for _ in 0..2000 {
        let len = rng.below(300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if bytes.len() >= 2 {
            bytes[..2].copy_from_slice(&[0xFF, 0xD8]);
        }
        try_decode(&bytes);
    }
}

/// A 65,535 × 65,535 frame in a few hundred bytes: refused from its header, before any
/// coefficient or sample buffer exists.
#[test]
fn memory_limit_applies_before_allocation() {
    let (_, photo) = FILES[0];
    let mut bomb = photo.to_vec();
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    let info = read_info(&bomb).unwrap();
    assert_eq!((info.width, info.height), (65_535, 65_535));
    match decode(&bomb, 1 << 30) {
        Err(Error::TooLarge { needed, limit }) => assert!(needed > 12_000_000_000 && limit == 1 << 30),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(decode(photo, 1000), Err(Error::TooLarge { .. })));
}

#[test]
fn refuses_what_it_does_not_imitate() {
    let (_, photo) = FILES[0];
    // A 12-bit frame.
    let mut bytes = photo.to_vec();
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bytes[sof + 4] = 12;
    assert!(matches!(decode(&bytes, u64::MAX), Err(Error::Unsupported(_))));
    // Arithmetic coding (SOF9).
    let mut bytes = photo.to_vec();
    bytes[sof + 1] = 0xC9;
    assert!(matches!(decode(&bytes, u64::MAX), Err(Error::Unsupported(_))));
    // A progressive file cut after its first scans: libjpeg would smooth the blocks.
    let (_, progressive) = FILES[2];
    let scans: Vec<usize> = progressive.windows(2).enumerate().filter(|(_, w)| *w == [0xFF, 0xDA]).map(|(i, _)| i).collect();
    assert!(scans.len() > 3);
    let mut cut = progressive[..scans[3]].to_vec();
    cut.extend_from_slice(&[0xFF, 0xD9]);
    assert_eq!(decode(&cut, u64::MAX).unwrap_err(), Error::Unsupported("progressive JPEG without its final refinement scans"));
    // A corrupt Huffman code in the first scan.
    let mut bytes = photo.to_vec();
    let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let data_start = sos + 2 + usize::from(u16::from_be_bytes([bytes[sos + 2], bytes[sos + 3]]));
    bytes[data_start..data_start + 4].fill(0xFE);
    assert!(matches!(decode(&bytes, u64::MAX), Err(Error::Corrupt(_))));
}

