//! Preprocessing of the photos in ../shared against Python itself (Pillow, as Hugging Face's
//! SiglipImageProcessor uses it). Their resized copies may not be committed, so the reference is
//! computed here by scripts/golden/pil_pixels.py; scripts/setup installs Pillow.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;
use std::process::Command;

use sightline::preprocess::{normalize_to_chw, resize_rgb};
use sightline::{decode_image, ModelDescriptor};

const SIZE: usize = 224;

mod common;
use common::shared;

#[test]
fn shared_photos_match_python_pil_preprocessing() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let descriptor =
        ModelDescriptor::from_json(&std::fs::read(repo.join("models/siglip-test-tiny/sightline.json")).unwrap()).unwrap();
    let mut photos: Vec<PathBuf> = std::fs::read_dir(shared().join("images/photos"))
        .expect("../shared/images/photos")
        .map(|e| e.unwrap().path())
        .collect();
    photos.sort();
    photos.push(shared().join("images/ocr/simple-90.jpg"));
    assert!(photos.len() >= 5);

    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(repo.join("scripts/golden/pil_pixels.py"))
        .args(&photos)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "the Python reference failed (is Pillow installed? scripts/setup installs it):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), photos.len() * SIZE * SIZE * 3);

    for (photo, reference) in photos.iter().zip(out.stdout.chunks_exact(SIZE * SIZE * 3)) {
        let decoded = decode_image(&std::fs::read(photo).unwrap()).unwrap();
        let ours = normalize_to_chw(&resize_rgb(&decoded.rgb, SIZE as u32, descriptor.resample), &descriptor);
        let theirs = normalize_to_chw(reference, &descriptor);
        let diffs: Vec<f32> = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).collect();
        let max = diffs.iter().cloned().fold(0.0, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        let name = photo.file_name().unwrap().to_string_lossy();
        println!("pixel_values vs Python {name:>14}: max |Δ| {max:.5}  mean |Δ| {mean:.6}");
        assert!(max <= 0.02, "{name}: max |Δ pixel_values| {max} > 0.02");
    }
}
