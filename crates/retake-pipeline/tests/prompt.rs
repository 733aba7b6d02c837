//! The prompt path end to end on a tiny random-weight model written in the real diffusers
//! layout: keyframes chosen by motion, restyled, propagated, encoded.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use retake_diffusion::tiny::{write_tiny_model, TinySpec};
use retake_media::{save_png, RgbFrame};
use retake_pipeline::{
    modify, resolve_model, DiffusionEngine, EngineOptions, ModifyRequest, PipelineError, Progress,
    Stage,
};
use retake_testkit::{args, clip_from, ffmpeg_rgb_frames, pattern, psnr, scratch};

fn clip() -> PathBuf {
    clip_from(
        "prompt-clip.mp4",
        &[
            pattern("96x64", "24", 1.5),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    )
}

fn engine(dir: &Path) -> DiffusionEngine {
    write_tiny_model(dir, TinySpec::default()).unwrap();
    let options = EngineOptions {
        steps: Some(2),
        resolution: Some(64),
        ..EngineOptions::default()
    };
    DiffusionEngine::load(&resolve_model(dir, None).unwrap(), options).unwrap()
}

fn run(
    req: &ModifyRequest,
    eng: &DiffusionEngine,
) -> (retake_pipeline::ModifyReport, Vec<Progress>) {
    let mut seen = Vec::new();
    let report = modify(
        req,
        Some(eng),
        &mut |p| seen.push(p),
        &AtomicBool::new(false),
    )
    .unwrap();
    (report, seen)
}

#[test]
fn a_prompt_alone_restyles_keyframes_and_propagates_between_them() {
    let dir = tempfile::tempdir().unwrap();
    let eng = engine(dir.path());
    let out = scratch("prompt-out.mp4");
    let req = ModifyRequest {
        prompt: Some("a yarn doll".into()),
        seed: 5,
        ..ModifyRequest::new(clip(), &out)
    };
    let (report, seen) = run(&req, &eng);
    assert_eq!(report.media.frames, 36);
    assert_eq!(report.keyframes[0], 0);
    assert!(report.keyframes.len() >= 2, "{:?}", report.keyframes);
    // Keyframes first (all their steps), then every frame.
    let k = seen.iter().filter(|p| p.stage == Stage::Keyframes).count();
    assert!(k > 0);
    assert!(seen[..k].iter().all(|p| p.stage == Stage::Keyframes));
    let last = seen.last().unwrap();
    assert_eq!((last.stage, last.done, last.total), (Stage::Frames, 36, 36));
    assert_eq!(last.percent(), 100);
    assert!(seen[k - 1].percent() <= 80);

    // The same seed gives the same clip; the output is not the source.
    let again = scratch("prompt-again.mp4");
    run(
        &ModifyRequest {
            output: again.clone(),
            ..req.clone()
        },
        &eng,
    );
    let (a, b) = (
        ffmpeg_rgb_frames(&out, 96, 64, ""),
        ffmpeg_rgb_frames(&again, 96, 64, ""),
    );
    assert_eq!(a, b);
    let src = ffmpeg_rgb_frames(&clip(), 96, 64, "fps=24");
    assert!(psnr(&a[0], &src[0]) < 30.0, "keyframe 0 was restyled");
}

#[test]
fn with_a_first_frame_the_prompt_keeps_it_as_keyframe_zero() {
    let dir = tempfile::tempdir().unwrap();
    let eng = engine(dir.path());
    let first = RgbFrame::filled(96, 64, [200, 40, 90]);
    let first_path = scratch("prompt-first.png");
    save_png(&first, &first_path).unwrap();
    let out = scratch("prompt-first-out.mp4");
    let req = ModifyRequest {
        prompt: Some("film noir".into()),
        first_frame: Some(first_path),
        ..ModifyRequest::new(clip(), &out)
    };
    let (report, _) = run(&req, &eng);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let frames = ffmpeg_rgb_frames(&out, 96, 64, "");
    assert!(psnr(&frames[0], first.data()) > 35.0);
}

#[test]
fn without_a_model_a_prompt_alone_is_unavailable_and_with_a_first_frame_noted() {
    let out = scratch("prompt-none.mp4");
    let req = ModifyRequest {
        prompt: Some("neon city".into()),
        ..ModifyRequest::new(clip(), &out)
    };
    let e = modify(&req, None, &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(e, PipelineError::Unavailable(_)), "{e}");
    assert!(e.to_string().contains("--model-dir"), "{e}");
    assert!(!out.exists());

    let first_path = scratch("prompt-none-first.png");
    save_png(&RgbFrame::filled(96, 64, [1, 2, 3]), &first_path).unwrap();
    let req = ModifyRequest {
        first_frame: Some(first_path),
        ..req
    };
    let report = modify(&req, None, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(report.keyframes, vec![0]);
    assert!(
        report.notes[0].contains("prompt was not used"),
        "{:?}",
        report.notes
    );
}

#[test]
fn model_folders_are_resolved_or_refused_with_what_is_wrong() {
    let root = tempfile::tempdir().unwrap();
    let e = resolve_model(&root.path().join("nope"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
    let e = resolve_model(root.path(), None).unwrap_err().to_string();
    assert!(e.contains("holds no diffusers model"), "{e}");
    write_tiny_model(&root.path().join("alpha"), TinySpec::default()).unwrap();
    assert_eq!(
        resolve_model(root.path(), None).unwrap(),
        root.path().join("alpha")
    );
    write_tiny_model(&root.path().join("beta"), TinySpec::default()).unwrap();
    let e = resolve_model(root.path(), None).unwrap_err().to_string();
    assert!(
        e.contains("alpha, beta") && e.contains("--diffusion-model"),
        "{e}"
    );
    assert_eq!(
        resolve_model(root.path(), Some("beta")).unwrap(),
        root.path().join("beta")
    );
    let e = resolve_model(root.path(), Some("gamma"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no model `gamma`") && e.contains("alpha, beta"),
        "{e}"
    );
    std::fs::remove_file(root.path().join("beta/vae/config.json")).unwrap();
    let e = resolve_model(root.path(), Some("beta"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("vae/config.json is missing"), "{e}");
    // A model folder itself is taken as is.
    assert_eq!(
        resolve_model(&root.path().join("alpha"), None).unwrap(),
        root.path().join("alpha")
    );
}
