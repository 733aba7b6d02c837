//! The studio (the web page at `/`): its headers and info route over plain HTTP, and the
//! whole flow in a real browser — Debian's Chromium, headless, driven by Selenium from
//! tests/studio/test_studio.py — against the real server on loopback with the real media
//! pipeline. `bash scripts/setup.sh` installs Chromium, chromedriver and Selenium.
//!
//! Screenshots (1280 and 390 px wide) and the downloaded output are kept in
//! `$CARGO_TARGET_TMPDIR/studio/`; with `RETAKE_UPDATE_DOCS=1` the screenshots are also
//! copied to `docs/` for the README.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use retake_service::{
    ClipPipeline, MediaPipeline, PipelineError, PipelineJob, PipelineOutput, ServiceConfig,
};

/// The real pipeline, except that a job whose prompt is `__hold__` reports 50 % and waits
/// until it is cancelled (test double for a long job, so the browser can reload and cancel
/// mid-job).
struct HoldOnPrompt(MediaPipeline);

impl ClipPipeline for HoldOnPrompt {
    fn run(
        &self,
        job: &PipelineJob,
        progress: &dyn Fn(u8),
        cancel: &AtomicBool,
    ) -> Result<PipelineOutput, PipelineError> {
        if job.prompt.as_deref() == Some("__hold__") {
            progress(50);
            let deadline = Instant::now() + Duration::from_secs(120);
            while !cancel.load(Ordering::SeqCst) {
                if Instant::now() > deadline {
                    return Err(PipelineError::Input("held job never cancelled".into()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            return Err(PipelineError::Cancelled);
        }
        self.0.run(job, progress, cancel)
    }
}

/// Uploads cap for the browser test: the small clip fits, a file one byte over does not.
const MAX_BYTES: u64 = 2_000_000;

/// Prices high enough that the 1 s test clip costs more than the 0.01 minimum, so the quote
/// the page shows and the charge it checks are real numbers: 2.06 on ray-2, 1.5 on ray-3.2.
fn tweak(c: &mut ServiceConfig) {
    c.max_bytes = MAX_BYTES;
    c.catalogue = serde_json::from_value(serde_json::json!({
        "ray-2": {"price": {"per_mpx": 7.0}},
        "ray-3.2": {"price": {"per_second": {"360p": 1.5, "540p": 2.5, "720p": 3.5, "1080p": 8}}},
    }))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_info_route_are_served_with_a_strict_policy() {
    let t = TestServer::start_with(tweak, Arc::new(MediaPipeline::default())).await;
    let base = t.base();
    for (path, kind) in [
        ("/", "text/html"),
        ("/studio/", "text/html"),
        ("/studio/studio.js", "text/javascript"),
        ("/studio/api.js", "text/javascript"),
        ("/studio/frames.js", "text/javascript"),
        ("/studio/look.js", "text/javascript"),
        ("/studio/follow.js", "text/javascript"),
        ("/studio/compare.js", "text/javascript"),
        ("/studio/history.js", "text/javascript"),
        ("/studio/request.js", "text/javascript"),
        ("/studio/studio.css", "text/css"),
        ("/studio/icon.svg", "image/svg+xml"),
    ] {
        let r = t.http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        let ct = h["content-type"].to_str().unwrap();
        assert!(ct.starts_with(kind), "{path}: {ct}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("style-src 'self';"), "{csp}");
        assert!(
            csp.contains(&format!("media-src 'self' blob: {base};")),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
    }
    let page = t
        .http
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<script type="module" src="/studio/studio.js"></script>"#));

    // The info route needs no key and says what the page checks before uploading.
    let info: serde_json::Value = t
        .http
        .get(format!("{base}/studio/v1/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["max_bytes"], MAX_BYTES);
    assert_eq!(info["max_image_bytes"], t.config.max_image_bytes);
    assert_eq!(info["size_cap"], "1280x720");
    assert_eq!(info["output_fps"], 24);
    assert_eq!(info["prompts_need_no_frame"], false);
    let names = |k: &str, field: &str| -> Vec<String> {
        info[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[field].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("models", "id"), ["ray-2", "ray-flash-2"]);
    assert_eq!(info["models"][0]["max_duration_s"], 10.0);
    assert_eq!(info["keyframe_model"]["id"], "ray-3.2");
    assert_eq!(
        info["resolutions"],
        serde_json::json!(["360p", "540p", "720p", "1080p"])
    );
    assert_eq!(info["max_keyframes"], 64);
    let r = t
        .http
        .get(format!("{base}/studio/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        names("modes", "name"),
        [
            "adhere_1",
            "adhere_2",
            "adhere_3",
            "flex_1",
            "flex_2",
            "flex_3",
            "reimagine_1",
            "reimagine_2",
            "reimagine_3"
        ]
    );
    let looks = names("looks", "name");
    assert_eq!(looks.len(), retake_pipeline::looks::catalogue().len());
    assert!(looks.contains(&"watercolour".to_string()));
    for m in info["modes"].as_array().unwrap() {
        assert!(m["description"].as_str().unwrap().len() > 20, "{m}");
    }
    // The route is in the OpenAPI document.
    let doc: serde_json::Value = t
        .http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/studio/v1/info"]["get"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_runs_the_whole_job_in_headless_chromium() {
    let python = python_with("selenium, pytest, requests");
    let t = TestServer::start_with(tweak, Arc::new(HoldOnPrompt(MediaPipeline::default()))).await;
    let k = t.key("studio", 50.0).await;
    let clip = small_clip();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("studio");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/studio/test_studio.py");
    let base = t.base();
    let out_dir = out.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&script)
            .env("RETAKE_BASE", base)
            .env("RETAKE_API_KEY", &k.token)
            .env("RETAKE_CREDITS", "50")
            .env("RETAKE_CLIP", &clip)
            .env("RETAKE_MAX_BYTES", MAX_BYTES.to_string())
            .env("RETAKE_OUT", &out_dir)
            .output()
    })
    .await
    .unwrap()
    .expect("cannot run pytest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "pytest failed:\n{text}");
    assert!(text.contains("7 passed"), "{text}");

    // The file the page's download link served: an H.264 MP4 at exactly 24 fps, 1 s long.
    let probe = retake_testkit::ffprobe_json(
        &out.join("output.mp4"),
        &["-show_streams", "-show_format", "-count_frames"],
    );
    let video = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("no video stream")
        .clone();
    assert_eq!(video["codec_name"], "h264", "{video}");
    assert_eq!(video["r_frame_rate"], "24/1", "{video}");
    assert_eq!(video["avg_frame_rate"], "24/1", "{video}");
    assert_eq!(video["nb_read_frames"], "24", "{video}");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(128), Some(96))
    );

    for shot in ["studio-desktop.png", "studio-phone.png"] {
        let png = std::fs::read(out.join(shot)).unwrap();
        assert_eq!(&png[1..4], b"PNG", "{shot}");
        if std::env::var_os("RETAKE_UPDATE_DOCS").is_some() {
            let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(shot), png).unwrap();
        }
    }
}
