//! src/resample.rs against Pillow itself (scripts/golden/pil_resize.py): random-noise RGB images of
//! hundreds of sizes (tall, wide, square, up- and downscaling, mixed, 4000×3000), resized to
//! 224×224, 384×384 and non-square sizes with BICUBIC and BILINEAR, must come out byte-identical.
//! Noise is the worst case for the pass order (Pillow 13 sometimes filters vertically first; the
//! two orders differ by a level or two), so the fixed cases, a third of the random ones and every
//! mismatch are also resized in the other order, to count the cases that actually decide the order
//! and to say which order Pillow took when a case fails. SIGHTLINE_RESIZE_CASES sets the number of
//! random sizes (default 240). scripts/setup installs Pillow; `PYTHON` selects the interpreter.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use sightline::resample::{resize_rgb, resize_rgb_in_order, PassOrder};
use sightline::Resample;

mod common;
use common::repo;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

#[derive(Clone, Copy, Debug)]
struct Case {
    size: (usize, usize),
    out: (usize, usize),
    filter: Resample,
    random: bool,
}

fn cases() -> Vec<Case> {
    use Resample::{Bicubic, Bilinear};
    let square = |s| (s, s);
    let mut cases = Vec::new();
    // The shapes that matter for the pass order, at SigLIP's 224×224.
    let fixed = [
        (60, 600), (600, 60), (1000, 30), (30, 1000), (225, 2000), (2000, 225), (300, 301), (301, 300),
        (50, 50), (4000, 3000), (3000, 4000), (224, 1000), (1000, 224), (100, 500), (500, 100),
        (1000, 700), (700, 1000), (224, 225), (225, 224), (50, 2000), (2000, 50), (16000, 60),
        // Around the threshold in_h − out_h vs 2·(in_w − out_w): ties, one over, one under.
        (324, 424), (324, 425), (324, 423), (274, 324), (274, 325), (225, 226), (225, 227),
        (100, 225), (100, 223), (223, 226), (300, 377), (300, 376), (300, 375), (1224, 2224), (1224, 2225),
    ];
    for &size in &fixed {
        cases.push(Case { size, out: square(224), filter: Bicubic, random: false });
    }
    for &size in &[(60, 600), (600, 60), (1224, 2225), (1224, 2224), (300, 377), (384, 1000), (1000, 384)] {
        cases.push(Case { size, out: square(384), filter: Bicubic, random: false });
        cases.push(Case { size, out: square(224), filter: Bilinear, random: false });
    }
    for &(size, out) in &[
        ((640, 480), (320, 240)), ((480, 640), (240, 320)), ((1000, 1000), (100, 300)),
        ((1000, 1000), (300, 100)), ((200, 900), (960, 48)), ((900, 200), (48, 960)), ((50, 60), (300, 400)),
    ] {
        cases.push(Case { size, out, filter: Bicubic, random: false });
        cases.push(Case { size, out, filter: Bilinear, random: false });
    }
    // Random sizes: mostly 224×224 bicubic (what SigLIP uses), some 384×384, random outputs and
    // bilinear (faces and OCR resize bilinearly to other sizes).
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let random: usize = std::env::var("SIGHTLINE_RESIZE_CASES").map_or(240, |n| n.parse().expect("a count"));
    for i in 0..random {
        let size = (rng.range(50, 2000), rng.range(50, 2000));
        let (out, filter) = match i % 6 {
            0 => (square(384), Bicubic),
            1 => ((rng.range(16, 600), rng.range(16, 600)), Bicubic),
            2 => ((rng.range(16, 600), rng.range(16, 600)), Bilinear),
            _ => (square(224), Bicubic),
        };
        cases.push(Case { size, out, filter, random: true });
    }
    cases
}

fn other(order: PassOrder) -> PassOrder {
    match order {
        PassOrder::HorizontalFirst => PassOrder::VerticalFirst,
        PassOrder::VerticalFirst => PassOrder::HorizontalFirst,
    }
}

#[test]
fn resizes_random_sizes_exactly_like_pillow() {
    let started = Instant::now();
    let cases = cases();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(repo().join("scripts/golden/pil_resize.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());

    // A thread generates the noise and streams it to Pillow; the images come back over a channel.
    let (send, receive) = sync_channel::<Vec<u8>>(2);
    let writer_cases = cases.clone();
    let writer = std::thread::spawn(move || {
        let mut rng = Rng(0x0dd_ba11_cafe_f00d);
        for case in writer_cases {
            let (w, h) = case.size;
            let mut src = vec![0u8; w * h * 3];
            rng.fill(&mut src);
            let filter = match case.filter {
                Resample::Bicubic => "bicubic",
                Resample::Bilinear => "bilinear",
            };
            let header = format!("{w} {h} {} {} {filter}\n", case.out.0, case.out.1);
            stdin.write_all(header.as_bytes()).and_then(|_| stdin.write_all(&src)).expect("write to Python");
            if send.send(src).is_err() {
                return;
            }
        }
    });

    let (mut exact, mut decisive, mut vertical_first, mut both_orders_equal) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    let mut rng = Rng(7);
    for case in &cases {
        let src = receive.recv().expect("the writer thread is alive");
        let mut theirs = vec![0u8; case.out.0 * case.out.1 * 3];
        stdout.read_exact(&mut theirs).unwrap_or_else(|e| panic!("{case:?}: Pillow's output: {e}"));
        let ours = resize_rgb(&src, case.size, case.out, case.filter);
        let order = PassOrder::pillow(case.size, case.out);
        vertical_first += usize::from(order == PassOrder::VerticalFirst);
        let needs_both = case.size.0 != case.out.0 && case.size.1 != case.out.1;
        let check_other = needs_both && (!case.random || ours != theirs || rng.range(0, 2) == 0);
        let alternative =
            check_other.then(|| resize_rgb_in_order(&src, case.size, case.out, case.filter, other(order)));
        match &alternative {
            Some(alt) if *alt == ours => both_orders_equal += 1,
            Some(_) => decisive += 1,
            None => {}
        }
        if ours == theirs {
            exact += 1;
        } else {
            let max = ours.iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            let other_matches = alternative.as_ref() == Some(&theirs);
            println!(
                "MISMATCH {}x{} -> {}x{} {:?}: rule says {order:?}, max |Δ| {max}; {:?} {}",
                case.size.0,
                case.size.1,
                case.out.0,
                case.out.1,
                case.filter,
                other(order),
                if other_matches { "matches Pillow" } else { "does not match either" }
            );
            failures.push(*case);
        }
    }
    writer.join().unwrap();
    assert!(child.wait().unwrap().success(), "scripts/golden/pil_resize.py failed (is Pillow installed?)");
    println!(
        "{exact} of {} resizes byte-identical to Pillow ({vertical_first} vertical-first by the rule; \
         {decisive} where the two orders differ, {both_orders_equal} where they agree); {:.1}s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(cases.len() >= 250);
    assert!(failures.is_empty(), "{} resizes differ from Pillow: {failures:?}", failures.len());
    // The comparison must exercise the order: most noise resizes differ between the two orders.
    assert!(decisive >= 100 && vertical_first >= 50, "too few cases decide the pass order");
}
