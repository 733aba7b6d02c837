//! Runs the official `segmind` Python SDK (tests/sdk/test_segmind.py, with pytest) against the
//! real server on loopback: the synchronous endpoint with URLs and with files, the SDK's
//! default asynchronous flow, and errors. Needs `pip install segmind pytest`.

mod common;

use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use common::*;
use retake_service::{ClipPipeline, MediaPipeline, PipelineError, PipelineJob, PipelineOutput};

/// The real pipeline, except that a prompt of `__fail__` fails the way a damaged clip does
/// (test double for a failure after the request was accepted).
struct FailOnPrompt(MediaPipeline);

impl ClipPipeline for FailOnPrompt {
    fn run(
        &self,
        job: &PipelineJob,
        progress: &dyn Fn(u8),
        cancel: &AtomicBool,
    ) -> Result<PipelineOutput, PipelineError> {
        if job.prompt.as_deref() == Some("__fail__") {
            return Err(PipelineError::Input(
                "frame 3 could not be decoded; re-encode the clip".into(),
            ));
        }
        self.0.run(job, progress, cancel)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_segmind_sdk_drives_the_sync_and_async_endpoints() {
    let python = python_with("segmind, pytest, httpx");
    let t = TestServer::start_with(|_| {}, Arc::new(FailOnPrompt(MediaPipeline::default()))).await;
    let files = Files::start().await;
    let k = t.key("sdk", 5.0);
    let poor = t.key("poor", 0.0);
    let clip_path = small_clip();
    let media = files.put("clip.mp4", std::fs::read(&clip_path).unwrap());
    let frame = edited_first_frame(&clip_path);
    let first = files.put("first.png", frame.clone());
    let frame_path = t.dir.path().join("first.png");
    std::fs::write(&frame_path, frame).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/test_segmind.py");
    let (base, credits) = (format!("{}/v1", t.base()), t.url("/credits"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&script)
            .env("RETAKE_SEGMIND_BASE", base)
            .env("RETAKE_API_KEY", &k.token)
            .env("RETAKE_POOR_KEY", &poor.token)
            .env("RETAKE_MEDIA_URL", media)
            .env("RETAKE_FIRST_FRAME_URL", first)
            .env("RETAKE_CLIP_PATH", &clip_path)
            .env("RETAKE_FRAME_PATH", &frame_path)
            .env("RETAKE_CREDITS_URL", credits)
            .env_remove("SEGMIND_API_KEY")
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
    assert!(text.contains("6 passed"), "{text}");
}

#[tokio::test]
async fn a_sync_request_past_its_timeout_is_cancelled_uncharged_and_answers_504() {
    let gate = Gate::new();
    let t = TestServer::start_with(
        |c| c.sync_timeout = std::time::Duration::from_millis(1500),
        Arc::new(gate),
    )
    .await;
    let files = Files::start().await;
    let k = t.key("a", 1.0);
    let clip_path = small_clip();
    let media = files.put("clip.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("first.png", edited_first_frame(&clip_path));
    let resp = t
        .http
        .post(format!("{}/v1/modify-video", t.base()))
        .header("x-api-key", &k.token)
        .json(&serde_json::json!({"video_url": media, "first_frame_url": first}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    assert_eq!(remaining(&resp), Some(1.0), "not charged");
    let body: serde_json::Value = resp.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("sync_timeout"), "{detail}");
    assert_eq!(body["error"], body["detail"], "Segmind's SDK reads `error`");
    let list: serde_json::Value = t.get(&k.token, "/generations").await.json().await.unwrap();
    assert_eq!(list["generations"][0]["state"], "failed");
    assert!(list["generations"][0]["failure_reason"]
        .as_str()
        .unwrap()
        .contains("sync_timeout"));
}

#[tokio::test]
async fn a_sync_client_that_goes_away_cancels_its_generation() {
    let gate = Gate::new();
    let started = gate.started.clone();
    let t = TestServer::start_with(|_| {}, Arc::new(gate)).await;
    let files = Files::start().await;
    let k = t.key("a", 1.0);
    let clip_path = small_clip();
    let media = files.put("clip.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("first.png", edited_first_frame(&clip_path));
    let req = t
        .http
        .post(format!("{}/v1/modify-video", t.base()))
        .header("x-api-key", &k.token)
        .timeout(std::time::Duration::from_secs(60))
        .json(&serde_json::json!({"video_url": media, "first_frame_url": first}))
        .send();
    let client = tokio::spawn(req);
    for _ in 0..400 {
        if started.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    client.abort(); // the client hangs up mid-wait
    let list: serde_json::Value = t.get(&k.token, "/generations").await.json().await.unwrap();
    let id = list["generations"][0]["id"].as_str().unwrap().to_string();
    let g = wait_for(&t, &k.token, &id, 30, |g| g["state"] == "failed").await;
    assert!(
        g["failure_reason"]
            .as_str()
            .unwrap()
            .contains("disconnected"),
        "{g}"
    );
    assert_eq!(remaining(&t.get(&k.token, "/credits").await), Some(1.0));
}
