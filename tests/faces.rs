//! YuNet face detection on ../shared/images/faces, natively and in WebAssembly (Node): the exact
//! number of faces, each overlapping a hand-checked box, and smart crops that keep every face.

use sightline::people::iou;
use sightline::{AnalyzeOptions, Analyzer, PeopleDetector};

#[path = "support/tiny_vision.rs"]
mod tiny_vision;
use tiny_vision::tiny_vision_model;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const YUNET: &[u8] = include_bytes!("../models/yunet/face_detection_yunet_2026may.onnx");

/// Boxes (left, top, width, height) checked by eye on the images: each is the face from hairline
/// or brow to chin.
const FACES: &[(&str, &[u8], &[[f32; 4]])] = &[
    ("astronaut", include_bytes!("../../shared/images/faces/astronaut.png"), &[[178.0, 63.0, 90.0, 113.0]]),
    ("grace_hopper", include_bytes!("../../shared/images/faces/grace_hopper.jpg"), &[[183.0, 120.0, 170.0, 212.0]]),
    ("obama", include_bytes!("../../shared/images/faces/obama.jpg"), &[[371.0, 90.0, 240.0, 329.0]]),
    (
        "two_people",
        include_bytes!("../../shared/images/faces/two_people.jpg"),
        &[[241.0, 30.0, 143.0, 197.0], [787.0, 47.0, 149.0, 207.0]],
    ),
];

#[test]
fn yunet_finds_exactly_the_faces_that_are_there() {
    let detector = PeopleDetector::load(YUNET).unwrap();
    for (name, bytes, truth) in FACES {
        let image = sightline::decode_image(bytes).unwrap();
        let faces = detector.detect(&image.rgb, 0.6).unwrap();
        assert_eq!(faces.len(), truth.len(), "{name}: {faces:?}");
        for expected in *truth {
            let best = faces.iter().map(|f| iou(&f.rect, expected)).fold(0.0, f32::max);
            assert!(best >= 0.5, "{name}: best IoU {best} with {expected:?}");
            let face = faces.iter().find(|f| iou(&f.rect, expected) == best).unwrap();
            // Eyes, nose and mouth corners lie inside the face box.
            for [x, y] in face.landmarks {
                assert!(x >= expected[0] && x <= expected[0] + expected[2] && y >= expected[1] && y <= expected[1] + expected[3], "{name}: landmark {x},{y}");
            }
            #[cfg(not(target_arch = "wasm32"))]
            println!("{name}: IoU {best:.3} score {:.3}", face.score);
        }
    }
}

#[test]
fn smart_crops_keep_the_faces() {
    let analyzer = Analyzer::new().with_siglip(tiny_vision_model()).with_people(PeopleDetector::load(YUNET).unwrap());
    let ratios = vec![0.75, 1.0, 4.0 / 3.0, 1.8];
    let options = AnalyzeOptions {
        features: vec!["smartCrops".into(), "people".into()],
        smartcrops_aspect_ratios: Some(ratios.clone()),
        ..Default::default()
    };
    for (name, bytes, truth) in FACES {
        let result = analyzer.analyze(bytes, &options).unwrap();
        let people = result.people_result.unwrap().values;
        assert_eq!(people.len(), truth.len(), "{name}");
        assert_eq!(result.faces.unwrap().len(), truth.len(), "{name}");
        for (crop, ratio) in result.smart_crops_result.unwrap().values.iter().zip(&ratios) {
            let c = crop.bounding_box;
            assert!((c.w as f32 / c.h as f32 - ratio).abs() <= 0.01 * ratio, "{name} {ratio}");
            let inside = |face: &[f32; 4]| {
                face[0] >= c.x as f32
                    && face[1] >= c.y as f32
                    && face[0] + face[2] <= (c.x + c.w) as f32
                    && face[1] + face[3] <= (c.y + c.h) as f32
            };
            // All faces when their union fits in a crop of this size, else at least one whole face.
            let union_w = truth.iter().map(|f| f[0] + f[2]).fold(0.0, f32::max) - truth.iter().map(|f| f[0]).fold(f32::MAX, f32::min);
            let union_h = truth.iter().map(|f| f[1] + f[3]).fold(0.0, f32::max) - truth.iter().map(|f| f[1]).fold(f32::MAX, f32::min);
            let kept = truth.iter().filter(|f| inside(f)).count();
            if union_w <= c.w as f32 && union_h <= c.h as f32 {
                assert_eq!(kept, truth.len(), "{name} ratio {ratio}: crop {c:?} cuts a face");
            } else {
                assert!(kept >= 1, "{name} ratio {ratio}: crop {c:?} keeps no face whole");
            }
        }
    }
}
