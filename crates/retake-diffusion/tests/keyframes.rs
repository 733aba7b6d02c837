//! The keyframe session on a tiny model: sizes, determinism, the anchor, cross-frame
//! attention, cancellation and progress.

use retake_diffusion::keyframes::{KeyframeParams, KeyframeRequest, Progress};
use retake_diffusion::tiny::{write_tiny_model, TinySpec};
use retake_diffusion::{DiffusionEngine, DiffusionError, EngineOptions};
use retake_media::RgbFrame;
use std::sync::atomic::AtomicBool;

fn frame(w: u32, h: u32, phase: u32) -> RgbFrame {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let v = ((x + phase) * 7 + y * 3) % 256;
            data.extend([v as u8, (255 - v) as u8, ((x * y + phase) % 256) as u8]);
        }
    }
    RgbFrame::from_raw(w, h, data).unwrap()
}

fn engine(dir: &std::path::Path) -> DiffusionEngine {
    write_tiny_model(dir, TinySpec::default()).unwrap();
    let opts = EngineOptions {
        steps: Some(2),
        resolution: Some(32),
        ..Default::default()
    };
    DiffusionEngine::load(dir, opts).unwrap()
}

fn params() -> KeyframeParams {
    KeyframeParams::from_mode(&retake_engine::Mode::Flex2.params())
}

fn run(
    eng: &DiffusionEngine,
    frames: &[RgbFrame],
    p: KeyframeParams,
    seed: u64,
    first: Option<&RgbFrame>,
) -> Vec<RgbFrame> {
    let req = KeyframeRequest {
        frames,
        prompt: "neon city",
        negative_prompt: "",
        params: p,
        seed,
        first_frame: first,
    };
    eng.restyle_keyframes(&req, &mut |_| {}, &AtomicBool::new(false))
        .unwrap()
}

fn diff(a: &RgbFrame, b: &RgbFrame) -> f64 {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.data().len() as f64
}

#[test]
fn keyframes_keep_size_and_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let eng = engine(tmp.path());
    let frames = [frame(40, 30, 0), frame(40, 30, 3), frame(40, 30, 9)];
    let a = run(&eng, &frames, params(), 5, None);
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|f| (f.width(), f.height()) == (40, 30)));
    assert_eq!(
        a,
        run(&eng, &frames, params(), 5, None),
        "same seed, same keyframes"
    );
    let b = run(&eng, &frames, params(), 6, None);
    assert!(diff(&a[0], &b[0]) > 0.5, "another seed changes the result");
    // Restyling really changes the frame.
    assert!(diff(&a[1], &frames[1]) > 2.0);
}

#[test]
fn an_identical_frame_reproduces_the_anchor_under_cross_frame_attention() {
    // Attending over [self; anchor] with self == anchor duplicates every key, which leaves
    // softmax attention unchanged: the keyframe must come out as the anchor did.
    let tmp = tempfile::tempdir().unwrap();
    let eng = engine(tmp.path());
    let f = frame(32, 32, 1);
    let out = run(&eng, &[f.clone(), f.clone()], params(), 3, None);
    assert!(diff(&out[0], &out[1]) < 0.02, "{}", diff(&out[0], &out[1]));
}

#[test]
fn cross_frame_attention_pulls_keyframes_towards_the_anchor() {
    let tmp = tempfile::tempdir().unwrap();
    let eng = engine(tmp.path());
    let frames = [frame(32, 32, 0), frame(32, 32, 40)];
    let mut p = params();
    p.color_match = 0.0;
    let with = run(&eng, &frames, p, 3, None);
    p.cross_frame = false;
    let without = run(&eng, &frames, p, 3, None);
    assert_eq!(with[0], without[0], "the anchor itself is unaffected");
    assert!(
        diff(&with[1], &without[1]) > 0.1,
        "the hook changes keyframe 1"
    );
}

#[test]
fn a_user_first_frame_is_keyframe_zero_and_the_anchor() {
    let tmp = tempfile::tempdir().unwrap();
    let eng = engine(tmp.path());
    let frames = [frame(40, 30, 0), frame(40, 30, 5)];
    let user = RgbFrame::filled(80, 60, [200, 40, 40]);
    let out = run(&eng, &frames, params(), 1, Some(&user));
    assert_eq!(out[0], RgbFrame::filled(40, 30, [200, 40, 40]));
    let plain = run(&eng, &frames, params(), 1, None);
    assert!(
        diff(&out[1], &plain[1]) > 1.0,
        "the user's anchor changes the other keyframes"
    );
    // Colour matching pulls keyframe 1 towards the red anchor.
    let red = |f: &RgbFrame| {
        f.data()
            .chunks(3)
            .map(|p| p[0] as f64 - p[2] as f64)
            .sum::<f64>()
    };
    assert!(red(&out[1]) > red(&plain[1]));
}

#[test]
fn progress_cancel_and_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let eng = engine(tmp.path());
    let frames = [frame(32, 32, 0), frame(32, 32, 2)];
    let mut seen: Vec<Progress> = Vec::new();
    let req = KeyframeRequest {
        frames: &frames,
        prompt: "x",
        negative_prompt: "",
        params: params(),
        seed: 0,
        first_frame: None,
    };
    eng.restyle_keyframes(&req, &mut |p| seen.push(p), &AtomicBool::new(false))
        .unwrap();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(
        seen.last()
            .map(|p| (p.keyframe, p.keyframes, p.step, p.steps)),
        Some((1, 2, 2, 2))
    );

    let e = eng
        .restyle_keyframes(&req, &mut |_| {}, &AtomicBool::new(true))
        .unwrap_err();
    assert!(matches!(e, DiffusionError::Cancelled), "{e}");

    let mixed = [frame(32, 32, 0), frame(40, 32, 0)];
    let e = eng
        .restyle_keyframes(
            &KeyframeRequest {
                frames: &mixed,
                ..req.clone()
            },
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap_err();
    assert!(e.to_string().contains("differ in size"), "{e}");
    let mut bad = params();
    bad.strength = 0.0;
    let e = eng
        .restyle_keyframes(
            &KeyframeRequest { params: bad, ..req },
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap_err();
    assert!(e.to_string().contains("strength"), "{e}");
}
