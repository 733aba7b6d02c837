//! Runs the official `segmind` Python SDK and the `requests` calls of Segmind's page
//! (tests/sdk/test_segmind.py, with pytest) against the real server on loopback: the
//! synchronous endpoint with URLs and with files, the asynchronous flow, and errors; and
//! curl's file form with the files under the URL fields' names. Needs `pip install segmind
//! requests pytest`.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::*;
use retake_service::MediaPipeline;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_segmind_sdk_drives_the_sync_and_async_endpoints() {
    let python = python_with("segmind, pytest, httpx, requests");
    let t = TestServer::start_with(|_| {}, Arc::new(FailOnPrompt(MediaPipeline::default()))).await;
    let files = Files::start().await;
    let k = t.key("sdk", 5.0).await;
    let poor = t.key("poor", 0.0).await;
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
    assert!(text.contains("10 passed"), "{text}");
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
    let k = t.key("a", 1.0).await;
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
    let k = t.key("a", 1.0).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sends_the_files_under_the_url_field_names() {
    let t = TestServer::start().await;
    let k = t.key("curl", 1.0).await;
    let clip = small_clip();
    let frame = t.dir.path().join("frame.png");
    std::fs::write(&frame, edited_first_frame(&clip)).unwrap();
    let out = t.dir.path().join("out.mp4");
    let url = format!("{}/v1/modify-video", t.base());
    // As a new user tries it from Segmind's page: -F with @file under the URL fields.
    let run = |parts: Vec<String>| {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-o"])
            .arg(&out)
            .args(["-w", "%{http_code}"]);
        cmd.args(["-H", &format!("x-api-key: {}", k.token)]);
        for p in parts {
            cmd.args(["-F", &p]);
        }
        let o = cmd
            .arg(&url)
            .output()
            .expect("curl runs (scripts/setup.sh installs it)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let form = |video: &str| {
        vec![
            format!("video_url=@{video}"),
            format!("first_frame_url=@{}", frame.display()),
            "mode=adhere_1".to_string(),
            "prompt=woman in a yarn doll style".to_string(),
        ]
    };
    let code = tokio::task::block_in_place(|| run(form(&clip.display().to_string())));
    assert_eq!(
        code,
        "200",
        "{}",
        String::from_utf8_lossy(&std::fs::read(&out).unwrap())
    );
    assert_eq!(&std::fs::read(&out).unwrap()[4..8], b"ftyp");
    assert_eq!(remaining(&t.get(&k.token, "/credits").await), Some(0.99));

    // Two files for the clip are a mistake, named.
    let mut twice = form(&clip.display().to_string());
    twice.push(format!("video=@{}", clip.display()));
    let code = tokio::task::block_in_place(|| run(twice));
    let body: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(code, "400", "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("two files for the clip"),
        "{body}"
    );
    assert_eq!(remaining(&t.get(&k.token, "/credits").await), Some(0.99));
}
