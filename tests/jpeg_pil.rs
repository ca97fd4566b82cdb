//! src/jpeg against Pillow (libjpeg-turbo) itself: every JPEG that scripts/golden/jpeg_variants.py
//! makes (quality, subsampling 4:4:4/4:2:2/4:2:0/4:4:0/4:1:1/1x4, baseline and progressive,
//! restart markers, optimized Huffman tables, grayscale, Adobe RGB, odd and tiny sizes) plus the
//! JPEGs in ../shared and tests/golden/inputs must decode to exactly the bytes Pillow decodes,
//! and `decode_image` must return them upright (EXIF orientation applied). scripts/setup
//! installs Pillow; `PYTHON` selects the interpreter.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use sightline::decode_image;
use sightline::jpeg;

mod common;
use common::{repo, shared};

fn generate() -> Vec<Value> {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jpeg_pil");
    let _ = std::fs::remove_dir_all(&out_dir);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(repo().join("scripts/golden/jpeg_variants.py"))
        .arg(&out_dir)
        .arg("--shared")
        .arg(shared())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "scripts/golden/jpeg_variants.py failed (is Pillow installed? scripts/setup installs it):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).expect("manifest is JSON").as_array().unwrap().clone()
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (max |difference|, number of differing samples)
fn compare(ours: &[u8], theirs: &[u8]) -> (u8, usize) {
    assert_eq!(ours.len(), theirs.len());
    ours.iter().zip(theirs).fold((0, 0), |(max, n), (a, b)| {
        let d = a.abs_diff(*b);
        (max.max(d), n + usize::from(d != 0))
    })
}

#[test]
fn decodes_every_variant_exactly_like_pillow() {
    let cases = generate();
    assert!(cases.len() > 250, "expected the full set of variants, got {}", cases.len());
    let (mut exact, mut refused, mut upright_checked) = (0, 0, 0);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let what = case["what"].as_str().unwrap();
        let data = read(case["path"].as_str().unwrap());
        let (w, h) = (case["width"].as_u64().unwrap() as u32, case["height"].as_u64().unwrap() as u32);
        if !case["exact"].as_bool().unwrap() {
            let result = jpeg::decode(&data, u64::MAX);
            assert!(matches!(result, Err(jpeg::Error::Unsupported(_))), "{name}: expected a refusal, got {result:?}");
            println!("{name:>34} {w:>4}x{h:<4} refused as expected ({what})");
            refused += 1;
            continue;
        }
        let theirs = read(case["rgb"].as_str().unwrap());
        match jpeg::decode(&data, u64::MAX) {
            Ok(image) => {
                assert_eq!((image.width, image.height), (w, h), "{name}: size");
                let (max, n) = compare(&image.into_rgb(), &theirs);
                println!("{name:>34} {w:>4}x{h:<4} max |Δ| {max}, {n} samples differ  ({what})");
                if max == 0 {
                    exact += 1;
                } else {
                    failures.push(format!("{name}: max |Δ| {max} on {n} samples"));
                }
            }
            Err(e) => {
                println!("{name:>34} {w:>4}x{h:<4} NOT DECODED: {e}  ({what})");
                failures.push(format!("{name}: {e}"));
            }
        }
        // The public entry point: size limits, EXIF orientation, this decoder and no fallback.
        if w >= 50 && h >= 50 {
            let decoded = decode_image(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (reference, rw, rh) = match case.get("upright") {
                Some(path) => (
                    read(path.as_str().unwrap()),
                    case["upright_width"].as_u64().unwrap() as u32,
                    case["upright_height"].as_u64().unwrap() as u32,
                ),
                None => (theirs, w, h),
            };
            assert_eq!((decoded.width(), decoded.height()), (rw, rh), "{name}: size after EXIF orientation");
            let (max, n) = compare(decoded.rgb.as_raw(), &reference);
            assert_eq!(max, 0, "{name}: decode_image differs from Pillow's exif_transpose().convert(\"RGB\") on {n} samples");
            upright_checked += 1;
        }
    }
    println!(
        "{exact} of {} JPEGs decoded byte-identical to Pillow, {refused} refused as expected; {upright_checked} checked upright through decode_image",
        cases.len() - refused
    );
    assert!(failures.is_empty(), "not bit-exact with Pillow:\n{}", failures.join("\n"));
}

/// The speed of both decoders on the largest photo, upscaled to 12 megapixels by Pillow. Run
/// with `--release --ignored --nocapture` for meaningful numbers.
#[test]
#[ignore]
fn decode_time_12_megapixels() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jpeg_pil_large");
    std::fs::create_dir_all(&dir).unwrap();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert('RGB').resize((4240, 2832), Image.Resampling.BICUBIC)\nfor sub, prog in (('4:2:0', False), ('4:4:4', False), ('4:2:0', True)):\n    im.save(f'{sys.argv[2]}/large-{sub.replace(\":\", \"\")}-{\"prog\" if prog else \"base\"}.jpg', quality=90, subsampling=sub, progressive=prog)\n";
    let status = Command::new(&python)
        .args(["-c", script])
        .arg(shared().join("images/photos/coffee.png"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    for name in ["large-420-base", "large-444-base", "large-420-prog"] {
        let data = std::fs::read(dir.join(format!("{name}.jpg"))).unwrap();
        let start = Instant::now();
        let image = jpeg::decode(&data, u64::MAX).unwrap();
        let ours = start.elapsed();
        let start = Instant::now();
        let old = image::load_from_memory_with_format(&data, image::ImageFormat::Jpeg).unwrap().to_rgb8();
        let theirs = start.elapsed();
        assert_eq!((old.width(), old.height()), (image.width, image.height));
        let start = Instant::now();
        decode_image(&data).unwrap();
        let public = start.elapsed();
        println!(
            "{name} ({}x{}, {} KB): src/jpeg {:.0} ms, image/zune-jpeg {:.0} ms, decode_image {:.0} ms",
            image.width,
            image.height,
            data.len() / 1024,
            ours.as_secs_f64() * 1e3,
            theirs.as_secs_f64() * 1e3,
            public.as_secs_f64() * 1e3
        );
    }
}
