//! Fuzz target: see fuzz/README.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| retake_media::fuzzing::image(data));
