//! The `retake` binary, driven as a user would: exit codes, messages and files.

mod common;

use common::*;
use retake_testkit::{args, clip_from, ffprobe_json, pattern, psnr, scratch};

#[test]
fn probe_prints_text_and_json() {
    let clip = clip_with_audio();
    let o = retake(&["probe", &s(&clip)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("h264 High"), "{text}");
    assert!(
        text.contains("320x240") && text.contains("30.000 fps"),
        "{text}"
    );
    assert!(text.contains("aac, 1 ch, 48000 Hz"), "{text}");
    assert!(
        text.contains("output     320x240 at 24 fps, 48 frames"),
        "{text}"
    );
    assert!(text.contains("status     ready"), "{text}");
    let o = retake(&["probe", "--json", &s(&clip)]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["video"]["frame_count"], 60);
    assert_eq!(v["video"]["b_frames"], true);
    assert_eq!(v["output"]["frames"], 48);
    assert_eq!(v["audio"]["passthrough"], true);
}

#[test]
fn probe_reports_over_limit_clips_without_failing() {
    let clip = clip_with_audio();
    let o = retake(&["probe", "--max-duration", "1", &s(&clip)]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("the limit is 1 s"), "{text}");
}

#[test]
fn frame_exports_png_at_output_size() {
    let big = clip_from(
        "cli-big.mp4",
        &[
            pattern("1920x1080", "24", 0.5),
            args(&[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ]),
        ],
    );
    let png = scratch("frame.png");
    let o = retake(&["frame", &s(&big), "--at", "0.25", "-o", &s(&png)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = retake_media::load_image(&png).unwrap();
    assert_eq!((img.width(), img.height()), (1280, 720));
    let o = retake(&["frame", &s(&big), "--at", "0.25", "-o", &s(&png), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(v["output"], s(&png));
    assert_eq!(v["at_s"], 0.25);
}

#[test]
fn frame_rejects_negative_time() {
    let png = scratch("neg.png");
    let o = retake(&["frame", &s(&clip_with_audio()), "--at=-1", "-o", &s(&png)]);
    assert_clean_failure(&o, 3, "--at must be a time in seconds");
    assert!(!png.exists());
}

#[test]
fn convert_writes_a_browser_ready_24fps_mp4_with_audio() {
    let clip = clip_with_audio();
    let out = scratch("converted.mp4");
    let o = retake(&["convert", &s(&clip), "-o", &s(&out), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["frames"], 48);
    assert_eq!(report["audio_copied"], true);
    // --quiet means quiet: nothing from retake or the libraries under it on stderr.
    let o = retake(&["convert", &s(&clip), "-o", &s(&out), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let v = ffprobe_json(&out, &["-show_streams", "-show_format"]);
    let streams = v["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["r_frame_rate"], "24/1");
    assert_eq!(video["nb_frames"], "48");
    assert!(streams
        .iter()
        .any(|s| s["codec_type"] == "audio" && s["codec_name"] == "aac"));
    let dur: f64 = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((dur - 2.0).abs() < 0.05, "duration {dur}");
    // No temporaries left beside the output.
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.contains("converted.mp4"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn exported_frame_lines_up_with_the_output() {
    let clip = clip_with_audio();
    let png = scratch("align.png");
    let out = scratch("align.mp4");
    assert!(retake(&["frame", &s(&clip), "-o", &s(&png)])
        .status
        .success());
    assert!(retake(&["convert", &s(&clip), "-o", &s(&out), "--mute"])
        .status
        .success());
    let edited = retake_media::load_image(&png).unwrap();
    let mut reader =
        retake_media::VideoReader::open(&out, &retake_media::Limits::default()).unwrap();
    let first = reader.next_frame().unwrap().unwrap();
    assert_eq!(
        (first.width(), first.height()),
        (edited.width(), edited.height())
    );
    let p = psnr(first.data(), edited.data());
    assert!(
        p > 30.0,
        "frame 0 of the output differs from the exported frame: {p:.1} dB"
    );
}

#[test]
fn bad_inputs_fail_cleanly_with_exit_code_3() {
    let missing = scratch("does-not-exist.mp4");
    assert_clean_failure(&retake(&["probe", &s(&missing)]), 3, "does-not-exist.mp4");
    let empty = scratch("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert_clean_failure(&retake(&["probe", &s(&empty)]), 3, "empty");
    let garbage = scratch("garbage.mov");
    std::fs::write(&garbage, vec![7u8; 10_000]).unwrap();
    let out = scratch("never.mp4");
    assert_clean_failure(
        &retake(&["convert", &s(&garbage), "-o", &s(&out)]),
        3,
        "not a video",
    );
    assert!(!out.exists());
    let long = clip_from(
        "cli-long.mp4",
        &[
            pattern("64x64", "24", 3.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    assert_clean_failure(
        &retake(&["convert", &s(&long), "-o", &s(&out), "--max-duration", "2"]),
        3,
        "trim it, or raise the limit with --max-duration",
    );
    assert!(!out.exists());
}

#[test]
fn bad_command_lines_exit_2() {
    let o = retake(&["convert"]);
    assert_eq!(o.status.code(), Some(2));
    let o = retake(&["probe", "x.mp4", "--size-cap", "huge"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("LONGxSHORT"));
}

/// Without the `ffmpeg` feature, asking for x264 is refused before any work, saying how to
/// get it; with it, `--encoder x264-444` writes High 4:4:4 that ffmpeg reads at 24 fps.
#[test]
fn encoder_choice() {
    let clip = clip_with_audio();
    let out = scratch("encoder-choice.mp4");
    let o = retake(&["convert", &s(&clip), "-o", &s(&out), "--encoder", "vp9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("openh264, x264 or x264-444"),
        "{}",
        stderr(&o)
    );
    let o = retake(&[
        "convert",
        &s(&clip),
        "-o",
        &s(&out),
        "--encoder",
        "x264-444",
    ]);
    if cfg!(feature = "ffmpeg") {
        assert!(o.status.success(), "{}", stderr(&o));
        let v = ffprobe_json(&out, &["-show_streams"]);
        let streams = v["streams"].as_array().unwrap();
        let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
        assert_eq!(video["profile"], "High 4:4:4 Predictive");
        assert_eq!(video["pix_fmt"], "yuv444p");
        assert_eq!(video["r_frame_rate"], "24/1");
        assert!(streams.iter().any(|s| s["codec_type"] == "audio"));
        std::fs::remove_file(&out).unwrap();
    } else {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("`ffmpeg` feature"), "{e}");
        assert!(e.contains("--encoder openh264"), "{e}");
        assert!(!out.exists());
        // The environment variable is checked the same way.
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_retake"))
            .args(["convert", &s(&clip), "-o", &s(&out)])
            .env("RETAKE_ENCODER", "x264")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("`ffmpeg` feature"));
    }
}

#[test]
fn unwritable_output_exits_4_or_1_without_leaving_files() {
    let clip = clip_with_audio();
    let o = retake(&["frame", &s(&clip), "-o", "/nonexistent-dir/frame.png"]);
    assert_clean_failure(&o, 4, "frame.png");
}
