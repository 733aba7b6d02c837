//! The propagator against the baselines on every synthetic scene and edit, plus cuts and
//! determinism. Frames are small because this crate's tests run unoptimised.

use retake_engine::baseline::{frozen, NaiveWarp};
use retake_engine::edits::{self, Edit};
use retake_engine::metrics::{psnr, warping_error};
use retake_engine::{FlowField, Mode, Propagator, Scene, SceneKind};
use retake_media::RgbFrame;

const W: usize = 112;
const H: usize = 84;
const N: usize = 7;

/// Mean over frames 1..N of PSNR against the edited source frame, and of the warping error
/// (mean abs RGB difference along the true flow, occluded pixels masked).
#[derive(Default, Debug, Clone, Copy)]
struct Score {
    psnr: f64,
    warp: f64,
}

fn truth(edit: Edit, scene: &Scene, frame: &RgbFrame, i: usize) -> RgbFrame {
    match edit {
        Edit::Recolour => edits::recolour(frame),
        Edit::Painterly => edits::painterly(frame),
        Edit::Local => edits::local_edit(frame, &scene.edit_mask(i)),
    }
}

fn evaluate(
    scene: &Scene,
    frames: &[RgbFrame],
    flows: &[(FlowField, Vec<bool>)],
    edit: Edit,
) -> [Score; 3] {
    let key = truth(edit, scene, &frames[0], 0);
    let mut prop = Propagator::new(&key, &frames[0], &Mode::Flex1.params(), 7).unwrap();
    let mut naive = NaiveWarp::new(&key);
    let mut scores = [Score::default(); 3];
    let mut prev: Option<[RgbFrame; 3]> = None;
    for (i, src) in frames.iter().enumerate() {
        let outs = [
            prop.push(src).unwrap(),
            naive.push(src).unwrap(),
            frozen(&key),
        ];
        if let Some(p) = &prev {
            let truth = truth(edit, scene, src, i);
            let (flow, occ) = &flows[i - 1];
            for k in 0..3 {
                scores[k].psnr += psnr(&outs[k], &truth).unwrap() / (N - 1) as f64;
                scores[k].warp +=
                    warping_error(&p[k], &outs[k], flow, occ).unwrap() / (N - 1) as f64;
            }
        }
        prev = Some(outs);
    }
    scores
}

/// Against the frozen frame: a clear win on every edit. Against naive warping: never clearly
/// worse on any edit, and clearly better in edit carry-through averaged over the edits.
fn check(kind: SceneKind) {
    let scene = Scene::new(kind, W, H, N, 21).unwrap();
    let frames: Vec<_> = (0..N).map(|i| scene.frame(i)).collect();
    let flows: Vec<_> = (0..N - 1).map(|i| scene.flow(i)).collect();
    let mut failures = Vec::new();
    let (mut ours_mean, mut naive_mean) = (0.0, 0.0);
    for edit in Edit::ALL {
        let [ours, naive, frozen] = evaluate(&scene, &frames, &flows, edit);
        eprintln!(
            "{kind:>12} {:>9}: PSNR ours {:.2} naive {:.2} frozen {:.2} | warp ours {:.2} naive {:.2} frozen {:.2}",
            edit.name(),
            ours.psnr,
            naive.psnr,
            frozen.psnr,
            ours.warp,
            naive.warp,
            frozen.warp
        );
        ours_mean += ours.psnr / 3.0;
        naive_mean += naive.psnr / 3.0;
        if ours.psnr < frozen.psnr + 8.0 || ours.warp > 0.6 * frozen.warp {
            failures.push(format!(
                "{}: not clearly better than the frozen frame",
                edit.name()
            ));
        }
        if ours.psnr < naive.psnr - 1.5 || ours.warp > naive.warp + 0.5 {
            failures.push(format!("{}: worse than naive warping", edit.name()));
        }
    }
    if ours_mean < naive_mean + 1.5 {
        failures.push(format!(
            "mean PSNR {ours_mean:.2} vs naive {naive_mean:.2}: less than 1.5 dB better"
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
