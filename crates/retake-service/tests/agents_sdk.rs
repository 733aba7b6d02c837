//! Runs the official `luma-agents` Python SDK (tests/sdk/test_luma_agents.py, with pytest)
//! against the real server on loopback: files, a video edit with three keyframes, a chained
//! edit, deletes, and every refused request. Then checks the outputs here, frame by frame.
//! Needs `pip install luma-agents pytest httpx` (scripts/setup.sh).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use retake_engine::edits::recolour;
use retake_media::{save_png, RgbFrame};
use retake_testkit::{args, clip_from, ffmpeg_rgb_frames, ffprobe_json, pattern, psnr, scratch};

/// Source frames the three keyframes are pinned to (of 24).
const KEYFRAMES: [usize; 3] = [0, 11, 20];

fn frames_of(path: &Path, w: u32, h: u32) -> Vec<RgbFrame> {
    ffmpeg_rgb_frames(path, w, h, "")
        .into_iter()
        .map(|d| RgbFrame::from_raw(w, h, d).unwrap())
        .collect()
}

/// Checks an output: H.264 at 24 fps, 1 s, `w`×`h`.
fn check_output(path: &Path, w: u64, h: u64) {
    let probe = ffprobe_json(path, &["-show_streams", "-show_format"]);
    let video = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap()
        .clone();
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["r_frame_rate"], "24/1");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(w), Some(h))
    );
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 1.0).abs() < 0.05, "duration {duration}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_luma_agents_sdk_edits_with_keyframes_files_and_chains() {
    let python = python_with("luma_agents, pytest, httpx");
    let t = TestServer::start_with(
        |c| c.max_bytes = 2_000_000,
        std::sync::Arc::new(retake_service::MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let k = t.key("agents", 20.0).await;
    let other = t.key("other", 20.0).await;
    // 640×480, 24 fps, 1 s; a 360p edit makes 480×360.
    let clip = clip_from(
        "agents-640.mp4",
        &[
            pattern("640x480", "24", 1.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12"]),
        ],
    );
    let source = frames_of(&clip, 480, 360);
    assert_eq!(source.len(), 24);
    let mut keyframes = Vec::new();
    let mut edited = Vec::new();
    let mut last = None;
    for &i in &KEYFRAMES {
        let img = recolour(&source[i]);
        let path = scratch(&format!("agents-key-{i}.png"));
        save_png(&img, &path).unwrap();
        keyframes.push(format!("{i}={}", path.display()));
        edited.push(img);
        last = Some(path);
    }
    // The third keyframe is also sent as a URL.
    let keyframe_url = files.put("key.png", std::fs::read(last.unwrap()).unwrap());
    // The chained edit pins the first output's frame 0, recoloured again.
    let chain_key = scratch("agents-chain.png");
    save_png(&recolour(&edited[0]), &chain_key).unwrap();
    let out = tempfile::tempdir().unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/test_luma_agents.py");
    let (agents, credits) = (format!("{}/agents/v1", t.base()), t.url("/credits"));
    let (key, other_key, out_dir) = (k.token.clone(), other.token.clone(), out.path().to_owned());
    let clip_s = clip.display().to_string();
    let keyframes_s = keyframes.join(",");
    let chain_s = chain_key.display().to_string();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&script)
            .env("RETAKE_AGENTS_URL", agents)
            .env("RETAKE_CREDITS_URL", credits)
            .env("RETAKE_API_KEY", key)
            .env("RETAKE_OTHER_KEY", other_key)
            .env("RETAKE_CLIP", clip_s)
            .env("RETAKE_KEYFRAMES", keyframes_s)
            .env("RETAKE_KEYFRAME_URL", keyframe_url)
            .env("RETAKE_CHAIN_KEYFRAME", chain_s)
            .env("RETAKE_MAX_BYTES", "2000000")
            .env("RETAKE_OUT", &out_dir)
            .env_remove("LUMA_API_KEY")
            .env_remove("LUMA_BASE_URL")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "pytest failed:\n{text}");
    assert!(text.contains("2 passed"), "{text}");

    // The edit: 480×360 at 24 fps for 1 s, each keyframe's frame its image.
    let edit = out.path().join("edit.mp4");
    check_output(&edit, 480, 360);
    let frames = frames_of(&edit, 480, 360);
    assert_eq!(frames.len(), 24);
    for (&i, img) in KEYFRAMES.iter().zip(&edited) {
        let p = psnr(frames[i].data(), img.data());
        assert!(p > 30.0, "output frame {i} against its keyframe: {p:.1} dB");
        let to_source = psnr(frames[i].data(), source[i].data());
        assert!(
            p > to_source + 3.0,
            "frame {i}: {p:.1} dB, {to_source:.1} to the source"
        );
    }
    // Between keyframes the edit is carried, not the source.
    let mid = 16;
    let truth = recolour(&source[mid]);
    let (to_edit, to_source) = (
        psnr(frames[mid].data(), truth.data()),
        psnr(frames[mid].data(), source[mid].data()),
    );
    assert!(
        to_edit > to_source + 3.0,
        "frame {mid}: {to_edit:.1} / {to_source:.1} dB"
    );

    // The chained edit starts from the first one's output and keeps its size.
    let chain = out.path().join("chain.mp4");
    check_output(&chain, 480, 360);
    let chained = frames_of(&chain, 480, 360);
    let want = recolour(&edited[0]);
    let p = psnr(chained[0].data(), want.data());
    assert!(
        p > 30.0,
        "the chained edit's frame 0 against its keyframe: {p:.1} dB"
    );
}
