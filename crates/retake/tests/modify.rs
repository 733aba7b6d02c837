//! `retake modify` driven as a user would: export a frame, edit it, carry it through the clip.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use retake_engine::edits::recolour;
use retake_media::transform::FrameResizer;
use retake_media::{load_image, save_png, RgbFrame};
use retake_testkit::{args, clip_from, ffmpeg_rgb_frames, ffprobe_json, pattern, psnr, scratch};

/// Exports frame 0 of `clip` and writes a recoloured copy of it: the user's edit.
fn edited_first_frame(clip: &Path, name: &str) -> (PathBuf, RgbFrame) {
    let exported = scratch(&format!("{name}-export.png"));
    let o = retake(&["frame", &s(clip), "-o", &s(&exported), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let edited = recolour(&load_image(&exported).unwrap());
    let path = scratch(&format!("{name}-edited.png"));
    save_png(&edited, &path).unwrap();
    (path, edited)
}

/// Runs `retake modify CLIP --first-frame FIRST -o OUT` with extra flags.
fn modify_clip(clip: &Path, first: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let (clip, first, out) = (s(clip), s(first), s(out));
    let mut a = vec!["modify", &clip, "--first-frame", &first, "-o", &out];
    a.extend_from_slice(extra);
    retake(&a)
}

fn frames_of(path: &Path, w: u32, h: u32) -> Vec<RgbFrame> {
    ffmpeg_rgb_frames(path, w, h, "")
        .into_iter()
        .map(|d| RgbFrame::from_raw(w, h, d).unwrap())
        .collect()
}

#[test]
fn carries_the_edit_through_the_clip_with_audio_and_timing_kept() {
    let clip = clip_with_audio();
    let (first, edited) = edited_first_frame(&clip, "carry");
    let out = scratch("carry-out.mp4");
    let o = modify_clip(
        &clip,
        &first,
        &out,
        &["--mode", "flex_2", "--model", "ray-flash-2", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["frames"], 48);
    assert_eq!(report["mode"], "flex_2");
    assert_eq!(report["profile"], "fast");
    assert_eq!(report["keyframes"], serde_json::json!([0]));
    assert_eq!(report["audio_copied"], true);

    let probe = ffprobe_json(&out, &["-show_streams", "-show_format"]);
    let streams = probe["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["r_frame_rate"], "24/1");
    assert!(streams.iter().any(|s| s["codec_type"] == "audio"));
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 2.0).abs() < 0.1, "duration {duration}");

    let source = frames_of(&clip, 320, 240);
    let output = frames_of(&out, 320, 240);
    assert_eq!(output.len(), 48);
    let p0 = psnr(output[0].data(), edited.data());
    assert!(p0 > 35.0, "frame 0 should be the edited frame: {p0:.1} dB");
    // The source is 30 fps; output frame 47 (1.958 s) shows source frame 59.
    let last = &output[47];
    let truth = recolour(&source[59]);
    let to_edit = psnr(last.data(), truth.data());
    let to_source = psnr(last.data(), source[59].data());
    assert!(
        to_edit > to_source + 3.0,
        "the last frame should carry the edit: {to_edit:.1} dB to the edited source, \
         {to_source:.1} dB to the unedited one"
    );
}

#[test]
fn a_first_frame_at_another_scale_is_resized() {
    let clip = clip_with_audio();
    let (_, edited) = edited_first_frame(&clip, "scaled");
    let big = FrameResizer::default().resize(edited, 640, 480).unwrap();
    let path = scratch("scaled-640.png");
    save_png(&big, &path).unwrap();
    let out = scratch("scaled-out.mp4");
    let o = modify_clip(&clip, &path, &out, &["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.exists());
}

#[test]
fn bad_first_frames_and_clips_are_refused_with_what_to_do() {
    let clip = clip_with_audio();
    let out = scratch("refused.mp4");
    let square = scratch("square.png");
    save_png(&RgbFrame::filled(100, 100, [50; 3]), &square).unwrap();
    let o = modify_clip(&clip, &square, &out, &[]);
    assert_clean_failure(&o, 3, "resize yours to 320x240");
    assert!(!out.exists());

    let garbage = scratch("garbage.png");
    std::fs::write(&garbage, b"not an image at all").unwrap();
    let o = modify_clip(&clip, &garbage, &out, &[]);
    assert_clean_failure(&o, 3, "garbage.png");
    assert!(!out.exists());

    let one = clip_from(
        "one-frame.mp4",
        &[
            pattern("64x48", "24", 1.0 / 24.0),
            args(&["-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let small = scratch("small.png");
    save_png(&RgbFrame::filled(64, 48, [9; 3]), &small).unwrap();
    let o = modify_clip(&one, &small, &out, &[]);
    assert_clean_failure(&o, 3, "single frame");
    assert!(!out.exists());
}

#[test]
fn bad_modes_models_and_missing_edits_are_usage_errors() {
    let clip = clip_with_audio();
    let out = scratch("usage.mp4");
    let o = retake(&["modify", &s(&clip), "--mode", "bold", "-o", &s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for m in ["adhere_1", "flex_2", "reimagine_3"] {
        assert!(err.contains(m), "{err}");
    }
    let o = retake(&["modify", &s(&clip), "--model", "ray-3", "-o", &s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ray-flash-2"), "{}", stderr(&o));
    let o = retake(&["modify", &s(&clip), "--prompt", "film noir", "-o", &s(&out)]);
    assert_clean_failure(&o, 2, "diffusion model");
    for (flag, value, says) in [("--dtype", "f64", "bf16"), ("--device", "tpu", "cuda:N")] {
        let o = retake(&["modify", &s(&clip), flag, value, "-o", &s(&out)]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    let o = retake(&["modify", &s(&clip), "-o", &s(&out)]);
    assert_clean_failure(&o, 2, "--first-frame");
    assert!(!out.exists());
}

/// Runs `retake eval` on a source, its edited first frame and an output, with extra flags.
fn eval_clip(source: &Path, first: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    let (source, first, output) = (s(source), s(first), s(output));
    let mut a = vec![
        "eval",
        "--source",
        &source,
        "--first-frame",
        &first,
        "--output",
        &output,
    ];
    a.extend_from_slice(extra);
    retake(&a)
}

#[test]
fn eval_scores_a_modified_clip_and_refuses_a_mismatched_one() {
    let clip = clip_with_audio();
    let (first, _) = edited_first_frame(&clip, "eval");
    let out = scratch("eval-out.mp4");
    let o = modify_clip(&clip, &first, &out, &["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = eval_clip(&clip, &first, &out, &["--json", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["frames"], 48);
    assert!(v["first_frame_psnr"].as_f64().unwrap() > 35.0, "{v}");
    assert!(v["first_frame_ssim"].as_f64().unwrap() > 0.9, "{v}");
    let warp = v["warping_error"].as_f64().unwrap();
    assert!(warp > 0.0 && warp < 20.0, "{v}");
    assert!(v["edge_ssim"].as_f64().unwrap() > 0.3, "{v}");

    // The source scored as its own output: a perfect structure score, a poor first frame.
    let o = eval_clip(&clip, &first, &clip, &["--json", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let same: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(same["edge_ssim"].as_f64().unwrap() > 0.99, "{same}");
    assert!(same["first_frame_psnr"].as_f64().unwrap() < v["first_frame_psnr"].as_f64().unwrap());

    let other = clip_from(
        "eval-other.mp4",
        &[
            pattern("320x240", "24", 1.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let o = eval_clip(&clip, &first, &other, &[]);
    assert_clean_failure(&o, 3, "24 frames");
    let o = retake(&["eval", "--source", &s(&clip)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn eval_suite_covers_every_scene_and_edit() {
    let o = retake(&[
        "eval", "--suite", "--size", "64x48", "--frames", "4", "--json", "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 15);
    assert_eq!(v["flow"].as_array().unwrap().len(), 5);
    for r in v["rows"].as_array().unwrap() {
        assert!(
            r["ours"]["psnr"].as_f64().unwrap() > r["frozen"]["psnr"].as_f64().unwrap(),
            "{r}"
        );
    }
    let o = retake(&["eval", "--suite", "--frames", "2"]);
    assert_clean_failure(&o, 3, "at least 3 frames");
}

#[test]
fn a_scene_cut_is_found_and_reported() {
    let clip = clip_from(
        "cut.mp4",
        &[args(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x96:rate=24:duration=1",
            "-f",
            "lavfi",
            "-i",
            "mandelbrot=size=160x96:rate=24",
            "-filter_complex",
            "[1:v]trim=duration=1,setpts=PTS-STARTPTS[b];[0:v][b]concat=n=2:v=1:a=0",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ])],
    );
    let (first, _) = edited_first_frame(&clip, "cut");
    let out = scratch("cut-out.mp4");
    let o = modify_clip(&clip, &first, &out, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["frames"], 48);
    assert_eq!(v["scene_cuts"], serde_json::json!([24]), "{v}");
    let o = modify_clip(&clip, &first, &out, &[]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("scene cut at 1.00 s"), "{}", stderr(&o));

    // An edited keyframe for the second shot carries that shot's edit much better.
    let second = scratch("cut-second.png");
    let o = retake(&[
        "frame",
        &s(&clip),
        "--at",
        "1.0",
        "-o",
        &s(&second),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let second_edit = recolour(&load_image(&second).unwrap());
    save_png(&second_edit, &second).unwrap();
    let with_key = scratch("cut-keyed.mp4");
    let keyframe = format!("1.0={}", s(&second));
    let o = modify_clip(
        &clip,
        &first,
        &with_key,
        &["--keyframe", &keyframe, "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["keyframes"], serde_json::json!([0, 24]), "{v}");
    assert_eq!(v["frames"], 48);
    let source = frames_of(&clip, 160, 96);
    let truth = recolour(&source[40]);
    let keyed = psnr(frames_of(&with_key, 160, 96)[40].data(), truth.data());
    let unkeyed = psnr(frames_of(&out, 160, 96)[40].data(), truth.data());
    assert!(
        keyed > unkeyed + 3.0,
        "with the keyframe {keyed:.1} dB, without {unkeyed:.1} dB"
    );
}

#[test]
fn bad_keyframes_are_refused() {
    let clip = clip_with_audio();
    let (first, _) = edited_first_frame(&clip, "badkey");
    let out = scratch("badkey.mp4");
    let late = format!("5={}", s(&first));
    let o = modify_clip(&clip, &first, &out, &["--keyframe", &late]);
    assert_clean_failure(&o, 3, "runs from 0 to 2.000 s");
    let zero = format!("0={}", s(&first));
    let o = modify_clip(&clip, &first, &out, &["--keyframe", &zero]);
    assert_clean_failure(&o, 3, "both fall on output frame 0");
    let o = modify_clip(&clip, &first, &out, &["--keyframe", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SECONDS=IMAGE"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn keyframes_at_source_frames_and_a_resolution_tier() {
    // 192×144 at 30 fps for 1 s: source frame 15 is shown at 0.5 s, output frame 12.
    let clip = clip_from(
        "srcframe-192.mp4",
        &[
            pattern("192x144", "30", 1.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "2"]),
        ],
    );
    let export = |n: &str, name: &str| {
        let png = scratch(&format!("srcframe-{name}.png"));
        let o = retake(&[
            "frame",
            &s(&clip),
            "--source-frame",
            n,
            "-o",
            &s(&png),
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let edited = recolour(&load_image(&png).unwrap());
        save_png(&edited, &png).unwrap();
        (png, edited, v)
    };
    let (k0, _, v0) = export("0", "a");
    let (k15, edited15, v15) = export("15", "b");
    assert_eq!(
        (v0["source_frame"].as_u64(), v0["output_frame"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(v15["output_frame"], 12, "{v15}");
    let out = scratch("srcframe-out.mp4");
    let (a, b) = (format!("f0={}", s(&k0)), format!("f15={}", s(&k15)));
    let o = retake(&[
        "modify",
        &s(&clip),
        "--keyframe",
        &a,
        "--keyframe",
        &b,
        "--resolution",
        "360p",
        "--upscale",
        "-o",
        &s(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["keyframes"], serde_json::json!([0, 12]), "{v}");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(480), Some(360)),
        "{v}"
    );
    assert_eq!(v["frames"], 24);
    // The keyframe's frame is its image (scaled up with the clip), up to the resampling and
    // the encoder's loss, and far from the unedited source.
    let frames = frames_of(&out, 480, 360);
    let truth = FrameResizer::default().resize(edited15, 480, 360).unwrap();
    let p = psnr(frames[12].data(), truth.data());
    let source = frames_of(&clip, 480, 360);
    let to_source = psnr(frames[12].data(), source[15].data());
    assert!(
        p > 27.0 && p > to_source + 6.0,
        "frame 12: {p:.1} dB to its keyframe, {to_source:.1} dB to the source"
    );

    // Without --upscale the 144-line source keeps its size under a higher tier.
    let o = retake(&[
        "modify",
        &s(&clip),
        "--keyframe",
        &a,
        "--resolution",
        "720p",
        "-o",
        &s(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(192), Some(144)),
        "{v}"
    );

    // Bad places and tiers are refused by name.
    let _ = std::fs::remove_file(&out);
    let past = format!("f30={}", s(&k0));
    let o = retake(&["modify", &s(&clip), "--keyframe", &past, "-o", &s(&out)]);
    assert_clean_failure(
        &o,
        3,
        "source frame 30 but the clip has 30 frames (0 to 29)",
    );
    let o = retake(&[
        "modify",
        &s(&clip),
        "--first-frame",
        &s(&k0),
        "--keyframe",
        &a,
        "-o",
        &s(&out),
    ]);
    assert_clean_failure(&o, 3, "both fall on output frame 0");
    let o = retake(&[
        "modify",
        &s(&clip),
        "--keyframe",
        &a,
        "--resolution",
        "4k",
        "-o",
        &s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`4k` is not a resolution"),
        "{}",
        stderr(&o)
    );
    let o = retake(&[
        "modify",
        &s(&clip),
        "--keyframe",
        "fx=a.png",
        "-o",
        &s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("fN=IMAGE"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn a_portrait_clip_is_made_at_1080p_when_asked() {
    // 360×640 portrait, 6 frames: 1080p scaled up is 1080×1920, aspect and duration kept.
    let clip = clip_from(
        "portrait-360.mp4",
        &[
            pattern("360x640", "24", 0.25),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let (first, _) = edited_first_frame(&clip, "portrait");
    let out = scratch("portrait-1080.mp4");
    let o = modify_clip(
        &clip,
        &first,
        &out,
        &["--resolution", "1080p", "--upscale", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            v["width"].as_u64(),
            v["height"].as_u64(),
            v["frames"].as_u64()
        ),
        (Some(1080), Some(1920), Some(6)),
        "{v}"
    );
    let probe = ffprobe_json(&out, &["-show_streams"]);
    let video = &probe["streams"][0];
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(1080), Some(1920))
    );
    assert_eq!(video["r_frame_rate"], "24/1");
}
