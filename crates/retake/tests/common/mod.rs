//! Helpers shared by the CLI tests: run the binary, check one-line failures, make clips.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use retake_testkit::{args, clip_from, pattern, tone};

pub fn retake(a: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_retake"))
        .args(a)
        .env_remove("RETAKE_MAX_DURATION_S")
        .env_remove("RETAKE_MAX_BYTES")
        .env_remove("RETAKE_SIZE_CAP")
        .env_remove("RETAKE_ENCODER")
        .output()
        .expect("cannot run retake")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failed run: given exit code, one `error:` line, no panic.
pub fn assert_clean_failure(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}

pub fn clip_with_audio() -> PathBuf {
    clip_from(
        "cli-av.mp4",
        &[
            pattern("320x240", "30", 2.0),
            tone(2.0),
            args(&[
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-bf",
                "2",
                "-c:a",
                "aac",
                "-shortest",
            ]),
        ],
    )
}

pub fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
