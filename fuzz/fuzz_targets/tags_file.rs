#![no_main]

#[path = "../targets.rs"]
mod targets;
mod model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::tags_file_target(model::tiny(), data));
