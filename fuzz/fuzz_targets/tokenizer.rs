#![no_main]

#[path = "../targets.rs"]
mod targets;
mod model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::tokenizer_target(model::tiny(), data));
