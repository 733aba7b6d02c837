//! Fuzz target: see fuzz/README.md.
#![no_main]

use std::sync::OnceLock;

use retake_service::fuzzing::Harness;

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(Harness::new)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness().segmind_json(data));
