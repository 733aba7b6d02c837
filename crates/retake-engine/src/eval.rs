//! Measuring modified clips: the per-clip scores `retake eval` reports, and the suite of
//! synthetic clips with known motion that QUALITY.md is made from.

use crate::baseline::{frozen, NaiveWarp};
use crate::edits::Edit;
use crate::flow::{bidirectional_flow, occlusion_mask, FlowField, FlowParams};
use crate::metrics::{edge_ssim, endpoint_error, psnr, ssim, temporal_change_error, warping_error};
use crate::mode::Mode;
use crate::plane::{ColorImage, Plane};
use crate::propagate::{Propagator, SynthSettings};
use crate::retention::{EditTracker, FrameRetention};
use crate::scene::{Scene, SceneKind};
use crate::EngineError;
use retake_media::RgbFrame;
use serde::Serialize;
use std::fmt::Write;

/// Scores of one modified clip against its source and the edited first frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClipScores {
    /// Frames compared.
    pub frames: usize,
    /// PSNR (dB) of output frame 0 against the edited first frame.
    pub first_frame_psnr: f64,
    /// SSIM (luma) of output frame 0 against the edited first frame.
    pub first_frame_ssim: f64,
    /// Mean warping error (0–255) between consecutive output frames along the source's flow,
    /// occluded pixels masked: lower is steadier.
    pub warping_error: f64,
    /// Mean SSIM between the edge maps of output and source frames: how much structure is kept.
    pub edge_ssim: f64,
    /// Flicker: how far the output's frame-to-frame change, along the source's flow (occluded
    /// pixels masked), is from the source's own change (0–255, mean absolute; lower is
    /// steadier). An output that changes exactly as the source does scores 0.
    pub flicker: f64,
    /// Edit retention (see [`crate::retention`]): the share of the first frame's edit still
    /// in the output where the edited region is tracked, mean over frames 1.., 0–1.
    pub edit_retention: f64,
    /// The same over the last quarter of the frames.
    pub edit_retention_last_quarter: f64,
    /// Edit retention per quarter of the clip (frames 1.. split in four).
    pub edit_retention_by_quarter: [f64; 4],
    /// Share of the edited region (by edit size) the flow still tracks in the last quarter:
    /// how much of it the retention figures speak for.
    pub edit_tracked_last_quarter: f64,
}

/// Accumulates [`ClipScores`] one frame pair at a time, so a clip never has to be in memory.
pub struct ClipEvaluator {
    first: RgbFrame,
    flow: FlowParams,
    max_side: usize,
    prev: Option<(Plane, RgbFrame, RgbFrame)>,
    scores: ClipScores,
    warp_sum: f64,
    edge_sum: f64,
    flicker_sum: f64,
    tracker: Option<EditTracker>,
    /// Per frame from 1: retention and tracked share.
    retention: Vec<FrameRetention>,
}

impl ClipEvaluator {
    /// Starts with the edited first frame the output should begin with.
    pub fn new(first_frame: &RgbFrame) -> Self {
        Self {
            first: first_frame.clone(),
            flow: FlowParams::default(),
            max_side: 640,
            prev: None,
            scores: ClipScores::default(),
            warp_sum: 0.0,
            edge_sum: 0.0,
            flicker_sum: 0.0,
            tracker: None,
            retention: Vec::new(),
        }
    }

    /// Adds the next source frame and the output frame made from it.
    pub fn push(&mut self, source: &RgbFrame, output: &RgbFrame) -> Result<(), EngineError> {
        let (w, h) = (source.width() as usize, source.height() as usize);
        crate::plane::check_size("output frame", output, w, h)?;
        if self.scores.frames == 0 {
            crate::plane::check_size("edited first frame", &self.first, w, h)?;
            self.scores.first_frame_psnr = psnr(output, &self.first)?;
            self.scores.first_frame_ssim = ssim(output, &self.first)?;
        }
        // Flow at a working size, as the engine computes it, scaled back to the frame.
        let f = w.max(h).div_ceil(self.max_side).max(1);
        let luma = Plane::luma(source).downsample(f);
        let src_ws = ColorImage::from_frame(source).downsample(f);
        let out_ws = ColorImage::from_frame(output).downsample(f);
        if let Some((prev_luma, prev_src, prev_out)) = &self.prev {
            let (fwd, bwd) = bidirectional_flow(prev_luma, &luma, &self.flow)?;
            let occ_prev = occlusion_mask(&fwd, &bwd);
            if let Some(t) = self.tracker.as_mut() {
                self.retention.push(t.advance(&bwd, &fwd, &src_ws, &out_ws));
            }
            let (flow, occ) = upscale(&fwd, &occ_prev, w, h);
            self.warp_sum += warping_error(prev_out, output, &flow, &occ)?;
            self.flicker_sum +=
                temporal_change_error(prev_out, output, prev_src, source, &flow, &occ)?;
        } else {
            let first = ColorImage::from_frame(&self.first).downsample(f);
            self.tracker = Some(EditTracker::new(&first, &src_ws)).filter(|t| t.has_edit());
        }
        self.edge_sum += edge_ssim(output, source)?;
        self.scores.frames += 1;
        self.prev = Some((luma, source.clone(), output.clone()));
        Ok(())
    }

    /// The scores over every frame pushed.
    pub fn finish(mut self) -> ClipScores {
        let n = self.scores.frames;
        self.scores.warping_error = self.warp_sum / n.saturating_sub(1).max(1) as f64;
        self.scores.edge_ssim = self.edge_sum / n.max(1) as f64;
        self.scores.flicker = self.flicker_sum / n.saturating_sub(1).max(1) as f64;
        let r = &self.retention;
        let mean = |rs: &[FrameRetention], f: fn(&FrameRetention) -> f64| {
            rs.iter().map(f).sum::<f64>() / rs.len().max(1) as f64
        };
        self.scores.edit_retention = mean(r, |x| x.retention);
        let quarter = |k: usize| &r[k * r.len() / 4..(k + 1) * r.len() / 4];
        for k in 0..4 {
            self.scores.edit_retention_by_quarter[k] = mean(quarter(k), |x| x.retention);
        }
        self.scores.edit_retention_last_quarter = self.scores.edit_retention_by_quarter[3];
        self.scores.edit_tracked_last_quarter = mean(quarter(3), |x| x.tracked);
        self.scores
    }
}

/// A working-resolution flow and occlusion mask at frame size (nearest for the mask).
fn upscale(flow: &FlowField, occ: &[bool], w: usize, h: usize) -> (FlowField, Vec<bool>) {
    if flow.width() == w && flow.height() == h {
        return (flow.clone(), occ.to_vec());
    }
    let (fw, fh) = (flow.width(), flow.height());
    let mask = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            occ[(y * fh / h).min(fh - 1) * fw + (x * fw / w).min(fw - 1)]
        })
        .collect();
    (flow.resize(w, h), mask)
}

/// What the suite runs.
#[derive(Clone, Debug)]
pub struct SuiteConfig {
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Mode for the propagation engine.
    pub mode: Mode,
    /// Synthesis settings (a profile's).
    pub settings: SynthSettings,
    /// Scenes to run.
    pub scenes: Vec<SceneKind>,
    /// Seed of the scenes and the engine.
    pub seed: u64,
}

impl Default for SuiteConfig {
    fn default() -> Self {
        Self {
            width: 256,
            height: 144,
            frames: 24,
            mode: Mode::Flex1,
            settings: SynthSettings::default(),
            scenes: SceneKind::ALL.to_vec(),
            seed: 21,
        }
    }
}

/// One method's scores on one clip, averaged over frames 1..n against the known truth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MethodScores {
    /// Edit carry-through: PSNR (dB) against the edit applied to every source frame.
    pub psnr: f64,
    /// Warping error (0–255) between consecutive outputs along the true flow.
    pub warping_error: f64,
    /// Temporal-change error (0–255): how far the output's frame-to-frame change is from
    /// the truth's ([`temporal_change_error`]); flicker and smearing both raise it.
    pub temporal_error: f64,
    /// Edge-map SSIM against the source frame.
    pub edge_ssim: f64,
}

/// One clip of the suite: a scene with an edit, three methods.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteRow {
    /// The scene.
    pub scene: String,
    /// The edit.
    pub edit: String,
    /// The propagation engine.
    pub ours: MethodScores,
    /// Baseline (a): warp the previous output, fill holes with a palette-matched source.
    pub naive: MethodScores,
    /// Baseline (b): the edited first frame, frozen.
    pub frozen: MethodScores,
    /// The truth's own warping error (what a perfect output scores).
    pub truth_warping_error: f64,
}

/// Flow accuracy on one scene.
#[derive(Clone, Debug, Serialize)]
pub struct FlowRow {
    /// The scene.
    pub scene: String,
    /// Mean end-point error (px) of our flow against the true flow, occluded pixels masked.
    pub epe: f64,
    /// The same for a zero flow, for scale.
    pub epe_zero: f64,
}

/// Everything the suite measured.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    /// Frame size and count, mode.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Mode used.
    pub mode: Mode,
    /// One row per scene and edit.
    pub rows: Vec<SuiteRow>,
    /// One row per scene.
    pub flow: Vec<FlowRow>,
}

/// Runs every scene and edit through the engine and both baselines.
pub fn run_suite(
    cfg: &SuiteConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SuiteReport, EngineError> {
    if cfg.frames < 3 {
        return Err(EngineError::InvalidParam {
            name: "frames",
            value: cfg.frames.to_string(),
            hint: "use at least 3 frames per clip",
        });
    }
    let total = cfg.scenes.len() * (Edit::ALL.len() + 1);
    let mut done = 0;
    let mut rows = Vec::new();
    let mut flow = Vec::new();
    for &kind in &cfg.scenes {
        let scene = Scene::new(kind, cfg.width, cfg.height, cfg.frames, cfg.seed)?;
        let frames: Vec<RgbFrame> = (0..cfg.frames).map(|i| scene.frame(i)).collect();
        let truths: Vec<(FlowField, Vec<bool>)> =
            (0..cfg.frames - 1).map(|i| scene.flow(i)).collect();
        flow.push(flow_row(kind, &frames, &truths)?);
        done += 1;
        progress(done, total);
        for edit in Edit::ALL {
            rows.push(suite_row(cfg, &scene, &frames, &truths, edit)?);
            done += 1;
            progress(done, total);
        }
    }
    Ok(SuiteReport {
        width: cfg.width,
        height: cfg.height,
        frames: cfg.frames,
        mode: cfg.mode,
        rows,
        flow,
    })
}

fn flow_row(
    kind: SceneKind,
    frames: &[RgbFrame],
    truths: &[(FlowField, Vec<bool>)],
) -> Result<FlowRow, EngineError> {
    let (mut epe, mut zero) = (0.0, 0.0);
    for (i, (truth, occ)) in truths.iter().enumerate() {
        let (a, b) = (Plane::luma(&frames[i]), Plane::luma(&frames[i + 1]));
        let (fwd, _) = bidirectional_flow(&a, &b, &FlowParams::default())?;
        epe += endpoint_error(&fwd, truth, occ)?;
        let z = FlowField::zeros(truth.width(), truth.height());
        zero += endpoint_error(&z, truth, occ)?;
    }
    let n = truths.len() as f64;
    Ok(FlowRow {
        scene: kind.to_string(),
        epe: epe / n,
        epe_zero: zero / n,
    })
}

fn suite_row(
    cfg: &SuiteConfig,
    scene: &Scene,
    frames: &[RgbFrame],
    truths: &[(FlowField, Vec<bool>)],
    edit: Edit,
) -> Result<SuiteRow, EngineError> {
    let key = edit.apply(scene, 0);
    let mut ours = Propagator::with_settings(
        &key,
        &frames[0],
        &cfg.mode.params(),
        cfg.seed,
        cfg.settings.clone(),
    )?;
    let mut naive = NaiveWarp::new(&key);
    let mut sums = [MethodScores::default(); 3];
    let mut truth_warp = 0.0;
    let mut prev: Option<([RgbFrame; 3], RgbFrame)> = None;
    for (i, src) in frames.iter().enumerate() {
        let outs = [ours.push(src)?, naive.push(src)?, frozen(&key)];
        let truth = if i == 0 {
            key.clone()
        } else {
            edit.apply(scene, i)
        };
        if let Some((p, pt)) = &prev {
            let (flow, occ) = &truths[i - 1];
            truth_warp += warping_error(pt, &truth, flow, occ)?;
            for k in 0..3 {
                sums[k].psnr += psnr(&outs[k], &truth)?;
                sums[k].warping_error += warping_error(&p[k], &outs[k], flow, occ)?;
                sums[k].temporal_error +=
                    temporal_change_error(&p[k], &outs[k], pt, &truth, flow, occ)?;
                sums[k].edge_ssim += edge_ssim(&outs[k], src)?;
            }
        }
        prev = Some((outs, truth));
    }
    let n = (frames.len() - 1) as f64;
    let avg = |s: MethodScores| MethodScores {
        psnr: s.psnr / n,
        warping_error: s.warping_error / n,
        temporal_error: s.temporal_error / n,
        edge_ssim: s.edge_ssim / n,
    };
    Ok(SuiteRow {
        scene: scene.kind().to_string(),
        edit: edit.name().to_string(),
        ours: avg(sums[0]),
        naive: avg(sums[1]),
        frozen: avg(sums[2]),
        truth_warping_error: truth_warp / n,
    })
}

impl SuiteReport {
    /// The report as Markdown tables (the body of QUALITY.md).
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}x{}, {} frames per clip, mode {}. Carry-through: PSNR (dB) against the edit \
             applied to every source frame, higher is better. Temporal error: how far each \
             output's frame-to-frame change (along the true flow, occlusions masked) is from \
             the truth's, 0–255, lower is better. Warping error: the usual consecutive-frame \
             warping error along the true flow, 0–255, with the truth's own value for scale. \
             Edge SSIM: structure kept from the source, higher is better.\n",
            self.width, self.height, self.frames, self.mode
        );
        let _ = writeln!(
            s,
            "| scene | edit | PSNR ours | naive | frozen | temporal err ours | naive | frozen \
             | warp err ours | naive | frozen | truth | edge SSIM ours | naive |"
        );
        let _ = writeln!(
            s,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} | \
                 {:.2} | {:.2} | {:.3} | {:.3} |",
                r.scene,
                r.edit,
                r.ours.psnr,
                r.naive.psnr,
                r.frozen.psnr,
                r.ours.temporal_error,
                r.naive.temporal_error,
                r.frozen.temporal_error,
                r.ours.warping_error,
                r.naive.warping_error,
                r.frozen.warping_error,
                r.truth_warping_error,
                r.ours.edge_ssim,
                r.naive.edge_ssim,
            );
        }
        let _ = writeln!(
            s,
            "\nOptical flow, mean end-point error (px) against the true motion, occluded pixels \
             masked:\n\n| scene | EPE ours | EPE of zero flow |\n|---|---|---|"
        );
        for f in &self.flow {
            let _ = writeln!(s, "| {} | {:.3} | {:.3} |", f.scene, f.epe, f.epe_zero);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::recolour;

    #[test]
    fn a_perfect_output_scores_perfectly_and_a_frozen_one_does_not() {
        let s = Scene::new(SceneKind::Translate, 64, 48, 4, 1).unwrap();
        let src: Vec<_> = (0..4).map(|i| s.frame(i)).collect();
        let edited: Vec<_> = src.iter().map(recolour).collect();
        let mut good = ClipEvaluator::new(&edited[0]);
        let mut still = ClipEvaluator::new(&edited[0]);
        for (s, e) in src.iter().zip(&edited) {
            good.push(s, e).unwrap();
            still.push(s, &edited[0]).unwrap();
        }
        let (good, still) = (good.finish(), still.finish());
        assert_eq!(good.frames, 4);
        assert_eq!(good.first_frame_psnr, 100.0);
        assert!((good.first_frame_ssim - 1.0).abs() < 1e-9);
        assert!(
            good.warping_error < still.warping_error,
            "{good:?} {still:?}"
        );
        assert!(good.edge_ssim > still.edge_ssim);
    }

    #[test]
    fn wrong_sizes_are_refused() {
        let mut e = ClipEvaluator::new(&RgbFrame::filled(32, 32, [0; 3]));
        let a = RgbFrame::filled(32, 32, [0; 3]);
        let b = RgbFrame::filled(16, 32, [0; 3]);
        assert!(e.push(&a, &b).is_err());
        let mut e = ClipEvaluator::new(&b);
        assert!(e.push(&a, &a).is_err());
    }

    #[test]
    fn the_suite_needs_a_few_frames() {
        let cfg = SuiteConfig {
            frames: 2,
            ..SuiteConfig::default()
        };
        assert!(run_suite(&cfg, &mut |_, _| {}).is_err());
    }
}
