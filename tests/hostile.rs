//! Hostile input, sent as an attacker would: decompression bombs within Azure's limits (20 MB,
//! sides 50 to 16,000), files that are not what they claim, damaged JPEGs that crash decoders,
//! and the CLI's own inputs (a 2.5 GB file, `/dev/zero`, a FIFO, a dangling link, a closed
//! stdout). Each file is built here (the bombs are tiny), and each case must end in a typed
//! error or a result, with the good files of the same run kept, under the memory budget:
//! measured as the peak RSS of the process that decoded it.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sightline::{decode_image, DECODE_MEMORY_BUDGET};

mod common;
use common::{model_dir, read, repo, shared};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// What a child process did, and its peak resident memory (`wait4`'s `ru_maxrss`).
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    peak_rss: u64,
}

/// Run a command to its end, measuring its peak RSS.
fn measure(command: &mut Command) -> Run {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the command starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child, whose pid std gave us; `status` and `usage` are ours.
    let waited = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(waited, child.id() as libc::pid_t, "wait4 failed");
    Run {
        status: ExitStatus::from_raw(status),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        peak_rss: usage.ru_maxrss as u64 * 1024,
    }
}

/// `sightline ARGS…` from the repository root.
fn cli(args: &[&str]) -> Run {
    measure(Command::new(env!("CARGO_BIN_EXE_sightline")).args(args).current_dir(repo()))
}

/// `sightline embed FILES… --model TINY --json`.
fn embed(files: &[&Path]) -> Run {
    let model = model_dir().display().to_string();
    let mut args = vec!["embed".to_string(), "--model".into(), model, "--json".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    cli(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A scratch folder of this test's own.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sightline-hostile-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The one JSON entry per file `embed --json` printed, as (has an embedding, error code).
fn entries(run: &Run) -> Vec<(bool, Option<String>)> {
    let all: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    all.as_array()
        .unwrap()
        .iter()
        .map(|e| (e["embedding"].is_array(), e["error"]["code"].as_str().map(str::to_string)))
        .collect()
}

// ---- the hostile files ---------------------------------------------------------------------------

/// A PNG chunk with its CRC.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    [&(data.len() as u32).to_be_bytes()[..], kind, data, &crc.sum().to_be_bytes()].concat()
}

fn ihdr(width: u32, height: u32, bit_depth: u8, color_type: u8) -> Vec<u8> {
    chunk(b"IHDR", &[&width.to_be_bytes()[..], &height.to_be_bytes(), &[bit_depth, color_type, 0, 0, 0]].concat())
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A PNG whose pixels are all zero, written row by row (never whole in memory).
fn zero_png(width: u32, height: u32, bit_depth: png::BitDepth, color: png::ColorType) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(std::io::Cursor::new(&mut out), width, height);
    encoder.set_color(color);
    encoder.set_depth(bit_depth);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap();
    let row = vec![0u8; width as usize * color.samples() * (bit_depth as usize).div_ceil(8)];
    let mut stream = writer.stream_writer().unwrap();
    for _ in 0..height {
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    drop(writer);
    out
}

/// A lossless WebP of `width`×`height` zero pixels in 28 bytes: each of its five prefix codes
/// has one symbol, so pixels take no bits at all.
fn webp_bomb(width: u32, height: u32, alpha: bool) -> Vec<u8> {
    let mut bits: Vec<bool> = Vec::new();
    let mut put = |value: u32, count: u32| bits.extend((0..count).map(|i| value >> i & 1 == 1));
    put(0x2f, 8); // VP8L signature
    put(width - 1, 14);
    put(height - 1, 14);
    put(u32::from(alpha), 1);
    put(0, 3); // version
    put(0, 1); // no transform
    put(0, 1); // no colour cache
    put(0, 1); // no meta prefix codes
    for _ in 0..5 {
        put(1, 1); // simple code
        put(0, 1); // one symbol
        put(0, 1); // of 1 bit
        put(0, 1); // symbol 0
    }
    let payload: Vec<u8> = bits.chunks(8).map(|b| b.iter().enumerate().map(|(i, &bit)| u8::from(bit) << i).sum()).collect();
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(4 + 8 + payload.len() as u32).to_le_bytes());
    file.extend_from_slice(b"WEBPVP8L");
    file.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    file.extend_from_slice(&payload);
    file
}

/// `data` with its first SOF's height and width replaced.
fn jpeg_declaring(data: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut bytes = data.to_vec();
    let sof = bytes.windows(2).position(|w| matches!(w, [0xFF, 0xC0..=0xC2])).expect("a SOF marker");
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

fn photo_jpg() -> Vec<u8> {
    read(repo().join("tests/golden/inputs/photo.jpg"))
}

fn coffee() -> PathBuf {
    shared().join("images/photos/coffee.png")
}

// ---- decompression bombs under the budget -----------------------------------------------------

/// Each bomb is refused from its header, by a process that never grows past a few hundred MB
/// (the model and the runtime), and the good file next to it still gets its embedding.
#[test]
fn bombs_are_refused_before_their_pixels_exist() {
    let dir = scratch("bombs");
    let iccp_bomb = {
        // A 64×64 PNG whose iCCP profile inflates to 1.4 GB (written compressed, in pieces).
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 16 * MIB as usize];
        for _ in 0..(1400 / 16) {
            zlib.write_all(&zeros).unwrap();
        }
        let profile = [&b"bomb\0\0"[..], &zlib.finish().unwrap()].concat();
        let small = zero_png(64, 64, png::BitDepth::Eight, png::ColorType::Rgb);
        // Insert the iCCP chunk right after IHDR (8 + 25 bytes).
        [&small[..33], &chunk(b"iCCP", &profile), &small[33..]].concat()
    };
    assert!(iccp_bomb.len() < 20_000_000, "{} bytes", iccp_bomb.len());
    // A GIF with a 50×50 screen whose first frame declares 19,000 × 20,000.
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[50, 0, 50, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255]); // screen + 2-colour table
    gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 0x38, 0x4A, 0x20, 0x4E, 0]); // 19000 × 20000 at 0,0
    gif.extend_from_slice(&[2, 1, 0x2C, 0, 0x3B]); // LZW (minimum code size 2): clear, end; trailer
    let rgba16 = [PNG_SIGNATURE, &ihdr(9000, 9000, 16, 6), &chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0]), &chunk(b"IEND", &[])].concat();

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("webp-16000-rgba.webp", webp_bomb(16_000, 16_000, true), "InvalidImageSize"),
        ("webp-16000-opaque.webp", webp_bomb(16_000, 16_000, false), "InvalidImageSize"),
        ("progressive-16000.jpg", jpeg_declaring(&read(repo().join("tests/data/jpeg/prog444.jpg")), 16_000, 16_000), "InvalidImageSize"),
        ("baseline-16000.jpg", jpeg_declaring(&photo_jpg(), 16_000, 16_000), "InvalidImageSize"),
        ("rgba16-9000.png", rgba16, "InvalidImageSize"),
        ("gif-frame.gif", gif, "InvalidImageDimension"),
        ("iccp-bomb.png", iccp_bomb, ""),
    ];
    for (name, bytes, code) in &cases {
        let bomb = write(&dir, name, bytes);
        let run = embed(&[&bomb, &coffee()]);
        let got = entries(&run);
        println!("{name:>24} {:>9} bytes: peak RSS {:>5} MiB, {:?}", bytes.len(), run.peak_rss / MIB, got[0].1);
        assert!(run.peak_rss < 400 * MIB, "{name}: peak RSS {} MiB", run.peak_rss / MIB);
        assert!(got[1].0, "{name}: the good file next to it was embedded");
        if code.is_empty() {
            assert!(got[0].0, "{name}: decoded without its profile: {}", run.stderr);
        } else {
            assert_eq!(got[0].1.as_deref(), Some(*code), "{name}: {}", run.stderr);
            assert_eq!(run.status.code(), Some(1));
        }
        assert_eq!(run.stderr.lines().filter(|l| l.starts_with("error: ")).count(), usize::from(!code.is_empty()), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    let run = embed(&[&dir.join("baseline-16000.jpg")]);
    assert!(run.stderr.contains("scale it down to at most"), "the message says what fits: {}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The largest images the budget admits decode within it: a full-size 8-bit RGB PNG, and a
/// lossless WebP and an RGBA PNG just under the limit. Each decodes in a process of its own
/// (this test binary, re-run for one probe) so that its peak RSS is its own.
#[test]
fn the_largest_accepted_images_stay_under_one_gib() {
    let dir = scratch("largest");
    let cases = [
        ("rgb-16000.png", zero_png(16_000, 16_000, png::BitDepth::Eight, png::ColorType::Rgb)),
        ("webp-14000-opaque.webp", webp_bomb(14_000, 14_000, false)),
        ("rgba-14000.png", zero_png(14_000, 14_000, png::BitDepth::Eight, png::ColorType::Rgba)),
    ];
    for (name, bytes) in cases {
        let path = write(&dir, name, &bytes);
        let run = measure(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "decode_probe", "--nocapture", "--test-threads=1"])
                .env("SIGHTLINE_DECODE_PROBE", &path),
        );
        println!("{name:>24} {:>9} bytes: peak RSS {:>5} MiB", bytes.len(), run.peak_rss / MIB);
        assert!(run.status.success() && run.stdout.contains("decoded"), "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.peak_rss <= GIB, "{name}: peak RSS {} MiB", run.peak_rss / MIB);
        assert!(run.peak_rss <= DECODE_MEMORY_BUDGET + 64 * MIB, "{name}: {} MiB, over the decode budget", run.peak_rss / MIB);
    }
    // The whole analysis of the full-size image, with the features that allocate the most
    // besides decoding (the text detector's ~530 MB, the face detector), as the CLI runs it.
    let model = model_dir().display().to_string();
    let image = dir.join("rgb-16000.png").display().to_string();
    let run = cli(&["analyze", &image, "--model", &model, "--features", "read,people,color", "--json"]);
    println!("analyze rgb-16000.png (read, people, color): peak RSS {} MiB", run.peak_rss / MIB);
    assert!(run.status.success() && run.stdout.contains("\"width\": 16000"), "{}", run.stderr);
    assert!(run.peak_rss <= GIB, "peak RSS {} MiB", run.peak_rss / MIB);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Decodes the file `SIGHTLINE_DECODE_PROBE` names; a no-op in an ordinary run.
#[test]
fn decode_probe() {
    if let Some(path) = std::env::var_os("SIGHTLINE_DECODE_PROBE") {
        let image = decode_image(&read(path)).expect("decodes");
        println!("decoded {}x{}", image.width(), image.height());
    }
}

// ---- JPEGs that broke decoders -------------------------------------------------------------------

/// A multi-scan sequential 4:4:4 JPEG whose third component claims 4×1 sampling (or 2×1) and
/// whose second SOS length is damaged made zune-jpeg 0.5.15 panic (an unwrap in its AVX2 IDCT):
/// the whole run ended with exit 101 and no output. Now it is this file's error, and the others
/// stand. (The same files are in fuzz/regressions/decode_image/.)
#[test]
fn a_jpeg_that_crashed_the_fallback_decoder_is_one_error() {
    let dir = scratch("zune");
    let original = read(repo().join("tests/data/jpeg/seq-3scans.jpg"));
    let sof = original.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let scans: Vec<usize> = original.windows(2).enumerate().filter(|(_, w)| *w == [0xFF, 0xDA]).map(|(i, _)| i).collect();
    assert!(scans.len() >= 3, "a multi-scan file");
    for sampling in [0x41, 0x21] {
        let mut bytes = original.clone();
        bytes[sof + 10 + 1] = 0x11; // 4:4:4
        bytes[sof + 10 + 2 * 3 + 1] = sampling; // the third component's sampling factors
        bytes[scans[1] + 3] ^= 0x05; // the second SOS's length, damaged
        let bad = write(&dir, &format!("sampling-{sampling:x}.jpg"), &bytes);
        let run = embed(&[&coffee(), &bad, &coffee()]);
        assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
        let got = entries(&run);
        assert_eq!(got.len(), 3);
        assert!(got[0].0 && got[2].0, "the good files keep their results");
        assert_eq!(got[1].1.as_deref(), Some("InvalidImageFormat"), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Cut to a third of its bytes, a baseline JPEG was analysed as if whole (the lenient decoder
/// filled the rest grey); Pillow refuses it, and so does Sightline now.
#[test]
fn a_truncated_jpeg_is_refused_as_the_reference_does() {
    let dir = scratch("truncated");
    let photo = photo_jpg();
    let cut = write(&dir, "cut.jpg", &photo[..photo.len() / 3]);
    let run = embed(&[&cut, &coffee()]);
    let got = entries(&run);
    assert_eq!(got[0].1.as_deref(), Some("InvalidImageFormat"));
    assert!(got[1].0);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), run.stderr.lines().filter(|l| !l.is_empty()).count());
    let python = Command::new("python3")
        .args(["-c", "import sys, PIL.Image; PIL.Image.open(sys.argv[1]).load()"])
        .arg(&cut)
        .output()
        .expect("python3 runs");
    assert!(!python.status.success() && String::from_utf8_lossy(&python.stderr).contains("truncated"), "Pillow refuses it too");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Arithmetic-coded, 12-bit, lossless and hierarchical JPEGs are named, not called corrupt.
#[test]
fn jpeg_variants_nothing_here_decodes_are_named() {
    let photo = photo_jpg();
    let sof = photo.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let variant = |marker: u8, precision: u8| {
        let mut bytes = photo.clone();
        bytes[sof + 1] = marker;
        bytes[sof + 4] = precision;
        decode_image(&bytes).unwrap_err()
    };
    for (marker, precision, name) in [(0xC9, 8, "arithmetic-coded"), (0xC1, 12, "12-bit"), (0xC3, 8, "lossless"), (0xC5, 8, "hierarchical")] {
        let error = variant(marker, precision);
        assert_eq!(error.code(), "InvalidImageFormat", "{error}");
        assert!(error.to_string().contains(name), "{error}");
        assert!(!error.to_string().contains("corrupt"), "{error}");
    }
}

// ---- what the CLI is given -------------------------------------------------------------------------

#[test]
fn huge_and_endless_files_are_refused_before_they_are_read() {
    let dir = scratch("files");
    // 2.5 GB, sparse: costs no disk, and must cost no memory either.
    let huge = dir.join("huge.png");
    std::fs::File::create(&huge).unwrap().set_len(2_500_000_000).unwrap();
    let fifo = dir.join("fifo.png");
    let c_path = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let started = Instant::now();
    let run = embed(&[&huge, Path::new("/dev/zero"), &fifo, &coffee()]);
    assert!(started.elapsed() < Duration::from_secs(60), "nothing blocked");
    let got = entries(&run);
    assert_eq!(got[0].1.as_deref(), Some("InvalidImageSize"), "{}", run.stderr);
    assert_eq!(got[1].1.as_deref(), Some("FileUnreadable"), "{}", run.stderr);
    assert_eq!(got[2].1.as_deref(), Some("FileUnreadable"), "{}", run.stderr);
    assert!(got[3].0);
    assert!(run.peak_rss < 400 * MIB, "peak RSS {} MiB", run.peak_rss / MIB);
    assert!(run.stderr.contains("2500000000 bytes"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dangling_link_is_reported_and_the_walk_goes_on() {
    let dir = scratch("walk");
    std::fs::copy(coffee(), dir.join("a.png")).unwrap();
    std::os::unix::fs::symlink(dir.join("missing.png"), dir.join("b.png")).unwrap();
    std::fs::copy(coffee(), dir.join("c.png")).unwrap();
    let run = embed(&[&dir]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let got = entries(&run);
    assert_eq!(got.len(), 3, "{}", run.stdout);
    assert!(got[0].0 && got[2].0);
    assert_eq!(got[1].1.as_deref(), Some("FileUnreadable"));
    assert!(run.stderr.contains("b.png") && run.stderr.contains("dangling"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let model = model_dir().display().to_string();
    let photos = shared().join("images/photos").display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["embed", "--model", &model, "--json", &photos])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // like `| head` that has read all it wanted
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
