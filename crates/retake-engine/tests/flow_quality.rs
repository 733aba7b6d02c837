//! Flow accuracy and occlusion detection on synthetic clips with known motion.

use retake_engine::metrics::endpoint_error;
use retake_engine::{bidirectional_flow, occlusion_mask, FlowParams, Plane, Scene, SceneKind};

fn mean_epe(kind: SceneKind) -> f64 {
    let s = Scene::new(kind, 160, 120, 4, 11).unwrap();
    let mut total = 0.0;
    for i in 0..3 {
        let (a, b) = (Plane::luma(&s.frame(i)), Plane::luma(&s.frame(i + 1)));
        let (fwd, _) = bidirectional_flow(&a, &b, &FlowParams::default()).unwrap();
        let (truth, occ) = s.flow(i);
        total += endpoint_error(&fwd, &truth, &occ).unwrap();
    }
    total / 3.0
}

#[test]
fn flow_is_accurate_on_translation() {
    let e = mean_epe(SceneKind::Translate);
    eprintln!("translate EPE {e:.3}");
    assert!(
        e < 0.5,
        "mean EPE {e:.3} px on a translating scene; expected < 0.5"
    );
}

#[test]
fn flow_is_accurate_on_rotation_and_zoom() {
    for kind in [SceneKind::RotateZoom, SceneKind::PanZoom] {
        let e = mean_epe(kind);
        eprintln!("{kind} EPE {e:.3}");
        assert!(e < 1.5, "mean EPE {e:.3} px on {kind}; expected < 1.5");
    }
}

#[test]
fn forward_backward_check_finds_the_occluded_region() {
    let s = Scene::new(SceneKind::Occlusion, 160, 120, 12, 5).unwrap();
    let i = 8;
    let (a, b) = (Plane::luma(&s.frame(i)), Plane::luma(&s.frame(i + 1)));
    let (fwd, bwd) = bidirectional_flow(&a, &b, &FlowParams::default()).unwrap();
    let found = occlusion_mask(&fwd, &bwd);
    let (_, truth) = s.flow(i);
    let hit = found.iter().zip(&truth).filter(|(f, t)| **f && **t).count() as f64;
    let true_n = truth.iter().filter(|t| **t).count() as f64;
    let found_n = found.iter().filter(|f| **f).count() as f64;
    let recall = hit / true_n;
    let precision = hit / found_n.max(1.0);
    eprintln!("occlusion recall {recall:.2} precision {precision:.2} ({true_n} true px)");
    assert!(true_n > 50.0);
    assert!(recall > 0.5, "recall {recall:.2}");
    assert!(precision > 0.3, "precision {precision:.2}");
}
