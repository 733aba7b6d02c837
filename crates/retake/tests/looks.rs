//! `retake looks`, `retake look` and `retake modify --look`, driven as a user would.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use retake_media::{load_image, save_png, RgbFrame};
use retake_pipeline::looks::{Look, LookName};
use retake_testkit::{ffmpeg_rgb_frames, psnr, scratch};

/// A colourful 160x120 picture with a hard-edged square, saved as PNG.
fn picture(name: &str) -> (PathBuf, RgbFrame) {
    let (w, h) = (160u32, 120u32);
    let mut data = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let inside = (50..110).contains(&x) && (30..90).contains(&y);
            data.extend(if inside {
                [30, 60, 140]
            } else {
                [(x * 255 / w) as u8, (y * 255 / h) as u8, 160]
            });
        }
    }
    let f = RgbFrame::from_raw(w, h, data).unwrap();
    let p = scratch(name);
    save_png(&f, &p).unwrap();
    (p, f)
}

fn chroma(p: &[u8]) -> u8 {
    p.iter().max().unwrap() - p.iter().min().unwrap()
}

fn look_cmd(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let (input, out) = (s(input), s(out));
    let mut a = vec!["look", &input, "-o", &out];
    a.extend_from_slice(extra);
    retake(&a)
}

#[test]
fn looks_lists_every_look_with_what_it_does() {
    let o = retake(&["looks"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for l in LookName::ALL {
        let line = text
            .lines()
            .find(|line| line.starts_with(l.name()))
            .unwrap_or_else(|| panic!("{} missing from:\n{text}", l.name()));
        assert!(line.contains(l.description()), "{line}");
    }
    assert!(text.contains("retake modify CLIP --look NAME"), "{text}");
    let o = retake(&["looks", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, LookName::ALL.map(LookName::name));
    assert_eq!(v[9]["takes_hsl"], true);
    assert!(v[0]["description"]
        .as_str()
        .unwrap()
        .contains("black and white"));
}

#[test]
fn look_writes_the_styled_image() {
    let (input, src) = picture("look-in.png");
    let out = scratch("look-noir.png");
    let o = look_cmd(&input, &out, &["--look", "noir", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["look"]["name"], "film_noir");
    assert_eq!(v["look"]["strength"], 1.0);
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(160), Some(120))
    );
    let noir = load_image(&out).unwrap();
    assert!(noir.data().chunks(3).all(|p| chroma(p) == 0), "colour left");
    // The same as the library's own result, and strength 0 leaves the picture alone.
    let want = Look::new(LookName::FilmNoir, 1.0)
        .unwrap()
        .apply(&src, None)
        .unwrap();
    assert_eq!(noir, want);
    let o = look_cmd(
        &input,
        &out,
        &["--look", "sepia", "--strength", "0", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(load_image(&out).unwrap(), src);
    // Recolour takes hue, saturation and lightness: all the saturation gone is grey.
    let o = look_cmd(
        &input,
        &out,
        &["--look", "recolour", "--saturation", "-1", "--hue", "-40"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(load_image(&out)
        .unwrap()
        .data()
        .chunks(3)
        .all(|p| chroma(p) <= 1));
}

#[test]
fn a_mask_confines_the_look_and_may_be_another_scale() {
    let (input, src) = picture("mask-in.png");
    // White on the left half, black on the right, at twice the size.
    let mut m = Vec::new();
    for _ in 0..240 {
        for x in 0..320 {
            m.extend([if x < 160 { 255u8 } else { 0 }; 3]);
        }
    }
    let mask = scratch("mask-2x.png");
    save_png(&RgbFrame::from_raw(320, 240, m).unwrap(), &mask).unwrap();
    let out = scratch("masked.png");
    let o = look_cmd(&input, &out, &["--look", "comic", "--mask", &s(&mask)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = load_image(&out).unwrap();
    let full = Look::new(LookName::Comic, 1.0)
        .unwrap()
        .apply(&src, None)
        .unwrap();
    for y in 0..120 {
        for x in (0..70).chain(90..160) {
            let want = if x < 80 {
                full.pixel(x, y)
            } else {
                src.pixel(x, y)
            };
            assert_eq!(got.pixel(x, y), want, "({x}, {y})");
        }
    }
}

#[test]
fn bad_looks_strengths_and_masks_are_refused_with_what_to_do() {
    let (input, _) = picture("bad-in.png");
    let out = scratch("never.png");
    let o = look_cmd(&input, &out, &["--look", "vaporwave"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no look `vaporwave`"), "{err}");
    for l in LookName::ALL {
        assert!(err.contains(l.name()), "{err}");
    }
    for bad in ["1.5", "-0.2", "lots", "NaN"] {
        let o = look_cmd(&input, &out, &["--look", "sepia", "--strength", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&o).contains("from 0 (no change) to 1"),
            "{}",
            stderr(&o)
        );
    }
    let o = look_cmd(&input, &out, &["--look", "sepia", "--hue", "90"]);
    assert_clean_failure(&o, 2, "only to the `recolour` look");
    let o = look_cmd(&input, &out, &["--look", "recolour", "--lightness", "3"]);
    assert_clean_failure(&o, 2, "lightness must be from -1");
    let square = scratch("square-mask.png");
    save_png(&RgbFrame::filled(100, 100, [255; 3]), &square).unwrap();
    let o = look_cmd(&input, &out, &["--look", "comic", "--mask", &s(&square)]);
    assert_clean_failure(&o, 3, "is 100x100 but the frame is 160x120");
    let o = look_cmd(&scratch("missing.png"), &out, &["--look", "comic"]);
    assert_clean_failure(&o, 3, "missing.png");
    let garbage = scratch("garbage-look.png");
    std::fs::write(&garbage, b"no image here").unwrap();
    let o = look_cmd(&garbage, &out, &["--look", "comic"]);
    assert_clean_failure(&o, 3, "not a PNG, JPEG or WebP");
    assert!(!out.exists());
    let o = look_cmd(
        &input,
        Path::new("/nonexistent-dir/x.png"),
        &["--look", "comic"],
    );
    assert_clean_failure(&o, 4, "x.png");
}

/// PSNR of the BT.709 luma of two RGB buffers.
fn luma_psnr(a: &[u8], b: &[u8]) -> f64 {
    let y = |f: &[u8]| -> Vec<u8> {
        f.chunks(3)
            .map(|p| {
                (0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64).round() as u8
            })
            .collect()
    };
    psnr(&y(a), &y(b))
}

fn frames_of(path: &Path) -> Vec<Vec<u8>> {
    ffmpeg_rgb_frames(path, 320, 240, "")
}

#[test]
fn modify_with_a_colour_grade_styles_every_frame() {
    let clip = clip_with_audio();
    let out = scratch("modify-noir.mp4");
    let o = retake(&[
        "modify",
        &s(&clip),
        "--look",
        "film_noir",
        "-o",
        &s(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["look"]["name"], "film_noir");
    assert_eq!(report["keyframes"], serde_json::json!([]));
    assert_eq!(report["audio_copied"], true);
    let frames = frames_of(&out);
    assert_eq!(frames.len(), 48);
    for (i, f) in frames.iter().enumerate() {
        let worst = f.chunks(3).map(chroma).max().unwrap();
        assert!(worst <= 6, "frame {i} has colour: {worst}");
    }
}

#[test]
fn modify_with_a_painted_look_styles_the_first_frame_and_propagates_it() {
    let clip = clip_with_audio();
    let exported = scratch("look-frame0.png");
    assert!(
        retake(&["frame", &s(&clip), "-o", &s(&exported), "--quiet"])
            .status
            .success()
    );
    let want0 = Look::new(LookName::Comic, 0.7)
        .unwrap()
        .apply(&load_image(&exported).unwrap(), None)
        .unwrap();
    let out = scratch("modify-comic.mp4");
    let o = retake(&[
        "modify",
        &s(&clip),
        "--look",
        "comic",
        "--look-strength",
        "0.7",
        "--model",
        "ray-flash-2",
        "-o",
        &s(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["keyframes"], serde_json::json!([0]));
    assert_eq!(report["look"]["strength"], 0.7);
    let frames = frames_of(&out);
    assert_eq!(frames.len(), 48);
    // Frame 0 is the styled frame, later frames carry the look: each is closer to the look
    // of its source than to the source. Compared on luma: 4:2:0 chroma alone costs the
    // comic's saturated flats and black lines 10 dB of RGB PSNR.
    let source = frames_of(&clip_with_audio());
    let (p0, p0_source) = (
        luma_psnr(&frames[0], want0.data()),
        luma_psnr(&frames[0], &source[0]),
    );
    assert!(
        p0 > 30.0 && p0 > p0_source + 8.0,
        "frame 0: {p0:.1} dB to the styled frame, {p0_source:.1} dB to the source"
    );
    let last = &frames[47];
    let styled_last = Look::new(LookName::Comic, 0.7)
        .unwrap()
        .apply(
            &RgbFrame::from_raw(320, 240, source[59].clone()).unwrap(),
            None,
        )
        .unwrap();
    let (to_look, to_source) = (
        luma_psnr(last, styled_last.data()),
        luma_psnr(last, &source[59]),
    );
    assert!(
        to_look > to_source + 1.0,
        "{to_look:.1} dB to the look, {to_source:.1} to the source"
    );
}

#[test]
fn modify_refuses_a_bad_look_before_writing_anything() {
    let clip = clip_with_audio();
    let out = scratch("modify-bad-look.mp4");
    let o = retake(&["modify", &s(&clip), "--look", "glitter", "-o", &s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the looks are: film_noir"),
        "{}",
        stderr(&o)
    );
    let o = retake(&[
        "modify",
        &s(&clip),
        "--look",
        "comic",
        "--look-strength",
        "2",
        "-o",
        &s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = retake(&["modify", &s(&clip), "--hue", "30", "-o", &s(&out)]);
    assert_clean_failure(&o, 2, "--look recolour");
    let wide = scratch("wide-mask.png");
    save_png(&RgbFrame::filled(400, 100, [255; 3]), &wide).unwrap();
    let o = retake(&[
        "modify",
        &s(&clip),
        "--look",
        "recolour",
        "--look-mask",
        &s(&wide),
        "-o",
        &s(&out),
    ]);
    assert_clean_failure(&o, 3, "is 400x100 but the frame is 320x240");
    assert!(!out.exists());
}
