//! Runs the official `lumaai` Python SDK (tests/sdk/test_lumaai.py, with pytest) against the
//! real server on loopback. Needs `pip install lumaai pytest`.

mod common;

use std::process::Command;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lumaai_sdk_drives_a_full_cycle() {
    let python = python_with("lumaai, pytest, httpx");
    let t = TestServer::start().await;
    let files = Files::start().await;
    let k = t.key("sdk", 3.0).await;
    let other = t.key("other", 3.0).await;
    let clip_path = small_clip();
    let media = files.put("clip.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("first.png", edited_first_frame(&clip_path));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/test_lumaai.py");
    let base = t.url("");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&script)
            .env("RETAKE_BASE_URL", base)
            .env("RETAKE_API_KEY", &k.token)
            .env("RETAKE_OTHER_KEY", &other.token)
            .env("RETAKE_MEDIA_URL", media)
            .env("RETAKE_FIRST_FRAME_URL", first)
            .env("RETAKE_CREDITS", "3.0")
            .env_remove("LUMAAI_API_KEY")
            .env_remove("LUMAAI_BASE_URL")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pytest failed:\n{text}");
    assert!(text.contains("4 passed"), "{text}");
}
