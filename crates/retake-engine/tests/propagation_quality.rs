//! The propagator against the baselines on every synthetic scene and edit, plus cuts and
//! determinism.

use retake_engine::edits::Edit;
use retake_engine::eval::{run_suite, SuiteConfig};
use retake_engine::metrics::psnr;
use retake_engine::{Mode, Propagator, Scene, SceneKind};
use retake_media::RgbFrame;

/// The margins QUALITY.md states, checked on every scene and edit of the suite (smaller
/// frames than QUALITY.md's table, same code). Carry-through: PSNR against the edited truth.
/// Temporal error: distance of the output's frame-to-frame change from the truth's.
const PSNR_OVER_NAIVE_DB: f64 = 2.0;
const PSNR_OVER_FROZEN_DB: f64 = 10.0;
const TEMPORAL_VS_NAIVE: f64 = 1.0;
const MEAN_TEMPORAL_VS_NAIVE: f64 = 0.9;
const TEMPORAL_VS_FROZEN: f64 = 0.5;

fn check(kind: SceneKind) {
    let cfg = SuiteConfig {
        width: 160,
        height: 96,
        frames: 12,
        scenes: vec![kind],
        ..SuiteConfig::default()
    };
    let report = run_suite(&cfg, &mut |_, _| {}).unwrap();
    let mut failures = Vec::new();
    let (mut ours_t, mut naive_t) = (0.0, 0.0);
    for r in &report.rows {
        let (o, n, f) = (r.ours, r.naive, r.frozen);
        eprintln!(
            "{kind:>12} {:>9}: PSNR ours {:.2} naive {:.2} frozen {:.2} | temporal ours {:.3} \
             naive {:.3} frozen {:.3}",
            r.edit, o.psnr, n.psnr, f.psnr, o.temporal_error, n.temporal_error, f.temporal_error
        );
        ours_t += o.temporal_error;
        naive_t += n.temporal_error;
        if o.psnr < n.psnr + PSNR_OVER_NAIVE_DB || o.psnr < f.psnr + PSNR_OVER_FROZEN_DB {
            failures.push(format!("{}: carry-through margin missed", r.edit));
        }
        if o.temporal_error > TEMPORAL_VS_NAIVE * n.temporal_error
            || o.temporal_error > TEMPORAL_VS_FROZEN * f.temporal_error
        {
            failures.push(format!("{}: temporal margin missed", r.edit));
        }
    }
    if ours_t > MEAN_TEMPORAL_VS_NAIVE * naive_t {
        failures.push(format!(
            "mean temporal error {:.3} is not {MEAN_TEMPORAL_VS_NAIVE} x naive's {:.3}",
            ours_t / 3.0,
            naive_t / 3.0
        ));
    }
    assert!(failures.is_empty(), "{kind}: {failures:?}");
}

#[test]
fn beats_baselines_on_translation() {
    check(SceneKind::Translate);
}

#[test]
fn beats_baselines_on_rotation_and_zoom() {
    check(SceneKind::RotateZoom);
}

#[test]
fn beats_baselines_on_camera_pan_and_zoom() {
    check(SceneKind::PanZoom);
}

#[test]
fn beats_baselines_through_occlusion() {
    check(SceneKind::Occlusion);
}

#[test]
fn beats_baselines_on_the_demo_scene() {
    check(SceneKind::Demo);
}

#[test]
fn identical_runs_give_identical_frames() {
    let scene = Scene::new(SceneKind::Demo, 96, 64, 5, 3).unwrap();
    let key = Edit::Painterly.apply(&scene, 0);
    let run = || {
        let mut p = Propagator::new(&key, &scene.frame(0), &Mode::Reimagine2.params(), 42).unwrap();
        (0..5)
            .map(|i| p.push(&scene.frame(i)).unwrap())
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    // The same on any machine: the thread count does not change a pixel.
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        assert!(
            pool.install(run) == a,
            "{threads} threads changed the output"
        );
    }
    assert!(
        psnr(&a[0], &key).unwrap() > 40.0,
        "frame 0 should give back the keyframe"
    );
}

#[test]
fn a_cut_is_reported_and_the_edit_rematched() {
    let a = Scene::new(SceneKind::Translate, 96, 64, 4, 3).unwrap();
    let c = Scene::new(SceneKind::PanZoom, 96, 64, 4, 77).unwrap();
    let key = Edit::Recolour.apply(&a, 0);
    let mut p = Propagator::new(&key, &a.frame(0), &Mode::Flex1.params(), 1).unwrap();
    let mut last = None;
    for i in 0..4 {
        p.push(&a.frame(i)).unwrap();
    }
    // A second shot of different content: the recolour must still be carried.
    for i in 0..3 {
        last = Some(p.push(&c.frame(i)).unwrap());
    }
    assert_eq!(p.cuts(), &[4]);
    let out = last.unwrap();
    let truth = Edit::Recolour.apply(&c, 2);
    let unedited = c.frame(2);
    assert!(psnr(&out, &truth).unwrap() > psnr(&out, &unedited).unwrap() + 3.0);
}

#[test]
fn cancellation_stops_push() {
    let s = Scene::new(SceneKind::Translate, 64, 48, 2, 3).unwrap();
    let mut p = Propagator::new(&s.frame(0), &s.frame(0), &Mode::Flex1.params(), 1).unwrap();
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    p.set_cancel_flag(flag);
    assert_eq!(
        p.push(&s.frame(0)),
        Err(retake_engine::EngineError::Cancelled)
    );
}

#[test]
fn wrong_sizes_are_refused_with_a_fix() {
    let a = RgbFrame::filled(64, 48, [9; 3]);
    let b = RgbFrame::filled(32, 48, [9; 3]);
    let e = Propagator::new(&b, &a, &Mode::Flex1.params(), 1)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("resize"), "{e}");
}
