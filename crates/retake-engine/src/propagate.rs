//! Streaming propagation of one styled keyframe through the following source frames.

use crate::cut::CutDetector;
use crate::flow::{bidirectional_flow, occlusion_mask, FlowField, FlowParams};
use crate::mode::ModeParams;
use crate::patchmatch::{score, search, Guides, Nnf, Search};
use crate::plane::{check_size, ColorImage, Plane};
use crate::region::{composite, edit_alpha, Regions};
use crate::synth::{appearance, edit_map, key_guides, render, temporal, Residual};
use crate::EngineError;
use rayon::prelude::*;
use retake_media::RgbFrame;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Resolution and effort of the synthesis; the defaults meet the 720p speed target.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSettings {
    /// The patch search and flow run at a size whose longer side is at most this.
    pub max_working_side: usize,
    /// Patch radius at working resolution (side = 2r + 1).
    pub patch_radius: usize,
    /// PatchMatch iterations per frame while tracking.
    pub iterations: usize,
    /// PatchMatch iterations on the first frame after a cut (no temporal help).
    pub reset_iterations: usize,
    /// Random-search radius (working pixels) around tracked matches.
    pub local_radius: f32,
    /// Share of each output pixel taken from the previous output carried along the flow (0
    /// turns the temporal blend off). Where the freshly synthesised pixel disagrees strongly
    /// with the carried one (a revealed area, a change of light), the fresh one wins.
    pub temporal_blend: f32,
    /// Colour difference (0–255 scale) at which the carried pixel's share has fallen to 1/e.
    pub blend_tolerance: f32,
    /// Edit size (mean RGB difference between keyframe and its source, 0–255) below which an
    /// area counts as unedited and keeps the source's own appearance; 0 turns this off.
    pub edit_tolerance: f32,
    /// Draw each part of a local edit (a connected piece of the keyframe's edited pixels:
    /// a badge, a sticker, a logo) as a whole, through one map from the keyframe (shift,
    /// turn and change of size) fitted to the flow over the part and around it (see `crate::region`), instead of
    /// matching its pixels one by one: a small painted detail then moves with its object and
    /// stays as crisp as it was painted, instead of being re-matched to unedited look-alikes
    /// or smeared where the flow is poor. Where something passes in front of a part, it is
    /// hidden there. Only other pixels are searched, and they may not match the parts.
    pub hold_regions: bool,
    /// Parts are drawn whole only for local edits: when more than this share of the keyframe
    /// is edited (a restyle, a recoloured figure), the search's appearance match finds the
    /// edit again by itself and follows non-rigid motion better.
    pub hold_max_share: f32,
    /// Flow parameters (at working resolution).
    pub flow: FlowParams,
}

impl Default for SynthSettings {
    fn default() -> Self {
        Self {
            max_working_side: 640,
            patch_radius: 2,
            iterations: 2,
            reset_iterations: 6,
            local_radius: 4.0,
            temporal_blend: 0.85,
            blend_tolerance: 40.0,
            edit_tolerance: 20.0,
            hold_regions: true,
            hold_max_share: 0.03,
            flow: FlowParams::default(),
        }
    }
}

/// Where a propagator's time went, summed over the frames pushed so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimes {
    /// Colour conversion, downsampling and guide channels.
    pub guides: Duration,
    /// Optical flow (forward and backward) and the occlusion mask.
    pub flow: Duration,
    /// Carrying the field along the flow and the PatchMatch passes.
    pub search: Duration,
    /// Full-resolution rendering and the temporal blend.
    pub render: Duration,
}

/// Carries a styled keyframe through the following frames, one `push` per source frame.
/// Memory is a fixed handful of full- and working-resolution buffers, whatever the clip length.
pub struct Propagator {
    w: usize,
    h: usize,
    f: usize,
    mode: ModeParams,
    settings: SynthSettings,
    seed: u64,
    style: ColorImage,
    /// The keyframe's source at full resolution, and where the keyframe differs from it.
    key_src: ColorImage,
    edit: Plane,
    /// The parts of a local edit, drawn whole (none for larger edits or with holding off),
    /// with the keyframe's source at working resolution and the edit's crisp alpha at full
    /// resolution, which drawing them needs.
    regions: Option<(Regions, ColorImage, Plane)>,
    key: Guides,
    tgt: Guides,
    nnf: Nnf,
    prev_luma: Option<Plane>,
    prev_out: ColorImage,
    out: ColorImage,
    /// The previous output at full resolution, for the temporal blend.
    prev_full: ColorImage,
    cut: CutDetector,
    cuts: Vec<usize>,
    index: usize,
    cancel: Option<Arc<AtomicBool>>,
    times: StageTimes,
}

impl Propagator {
    /// Starts from `keyframe` (the edited frame) and `key_source` (the source frame it was made from).
    pub fn new(
        keyframe: &RgbFrame,
        key_source: &RgbFrame,
        mode: &ModeParams,
        seed: u64,
    ) -> Result<Self, EngineError> {
        Self::with_settings(keyframe, key_source, mode, seed, SynthSettings::default())
    }

    /// As [`Propagator::new`], with explicit resolution/effort settings.
    pub fn with_settings(
        keyframe: &RgbFrame,
        key_source: &RgbFrame,
        mode: &ModeParams,
        seed: u64,
        settings: SynthSettings,
    ) -> Result<Self, EngineError> {
        let (w, h) = (key_source.width() as usize, key_source.height() as usize);
        check_size("keyframe", keyframe, w, h)?;
        if w < 16 || h < 16 {
            return Err(EngineError::TooSmall { w, h, min: 16 });
        }
        if settings.max_working_side < 32 {
            return Err(EngineError::InvalidParam {
                name: "max_working_side",
                value: settings.max_working_side.to_string(),
                hint: "use at least 32 (640 is the default)",
            });
        }
        let f = w.max(h).div_ceil(settings.max_working_side).max(1);
        let edit_radius = 2 * settings.patch_radius * f;
        let style = ColorImage::from_frame(keyframe);
        let src = ColorImage::from_frame(key_source);
        let key = key_guides(&src.downsample(f), &style.downsample(f), mode);
        let (ww, wh) = (key.w, key.h);
        if ww < 2 * settings.patch_radius + 2 || wh < 2 * settings.patch_radius + 2 {
            return Err(EngineError::TooSmall {
                w,
                h,
                min: (2 * settings.patch_radius + 2) * f,
            });
        }
        let edit = edit_map(&style, &src, edit_radius);
        let key_edited: Vec<bool> = edit
            .downsample(f)
            .data()
            .iter()
            .map(|&e| settings.edit_tolerance > 0.0 && e >= settings.edit_tolerance)
            .collect();
        let edited = key_edited.iter().filter(|&&e| e).count();
        let regions = if settings.hold_regions
            && edited > 0
            && edited as f32 <= settings.hold_max_share * key_edited.len() as f32
        {
            let src_ws = src.downsample(f);
            let r = Regions::find(&key_edited, &src_ws);
            let alpha = edit_alpha(&style, &src, settings.edit_tolerance);
            Some((r, src_ws, alpha)).filter(|(r, _, _)| !r.is_empty())
        } else {
            None
        };
        Ok(Self {
            w,
            h,
            f,
            mode: *mode,
            settings,
            seed,
            edit,
            regions,
            key_src: src,
            style,
            key,
            tgt: Guides::empty(ww, wh),
            nnf: Nnf::identity(ww, wh),
            prev_luma: None,
            prev_out: ColorImage::new(ww, wh),
            out: ColorImage::new(w, h),
            prev_full: ColorImage::new(w, h),
            cut: CutDetector::new(),
            cuts: Vec::new(),
            index: 0,
            cancel: None,
            times: StageTimes::default(),
        })
    }

    /// Makes `push` stop with [`EngineError::Cancelled`] once `flag` is set.
    pub fn set_cancel_flag(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    /// Indices (in push order, from 0) of frames that started a new shot; there the edit was
    /// re-matched from the keyframe by appearance alone.
    pub fn cuts(&self) -> &[usize] {
        &self.cuts
    }

    /// Number of frames pushed so far.
    pub fn frames_done(&self) -> usize {
        self.index
    }

    /// Time spent per stage so far.
    pub fn times(&self) -> StageTimes {
        self.times
    }

    /// The current nearest-neighbour field (keyframe positions at working resolution).
    pub fn nnf(&self) -> &Nnf {
        &self.nnf
    }

    /// Renders the next source frame in the keyframe's style.
    pub fn push(&mut self, source: &RgbFrame) -> Result<RgbFrame, EngineError> {
        check_size("source frame", source, self.w, self.h)?;
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(EngineError::Cancelled);
        }
        let t0 = Instant::now();
        let src_full = ColorImage::from_frame(source);
        let src = src_full.downsample(self.f);
        let luma = src.luma();
        let (ww, wh) = (self.key.w, self.key.h);
        let is_cut = self.cut.push(&luma) && self.index > 0;
        if is_cut {
            self.cuts.push(self.index);
        }
        appearance(&src, &luma, &self.mode, &mut self.tgt.app);
        let tg = Instant::now();
        self.times.guides += tg - t0;
        let mut flow_time = Duration::ZERO;
        let mut tmask = vec![0.0f32; ww * wh];
        let mut track = Vec::new();
        let mut hold = Vec::new();
        let mut vis = Vec::new();
        let mut carried = None;
        let iterations;
        match (&self.prev_luma, is_cut) {
            (Some(prev), false) => {
                let t1 = Instant::now();
                let (bwd, fwd) = bidirectional_flow(&luma, prev, &self.flow_params())?;
                let occ = occlusion_mask(&bwd, &fwd);
                flow_time = t1.elapsed();
                let old = &self.nnf.pos;
                let prev_out = &self.prev_out;
                let mut warped = ColorImage::new(ww, wh);
                let mut pos = vec![[0.0f32; 2]; ww * wh];
                pos.par_chunks_mut(ww)
                    .zip(warped.data_mut().par_chunks_mut(ww))
                    .zip(tmask.par_chunks_mut(ww))
                    .enumerate()
                    .for_each(|(y, ((pr, wr), tr))| {
                        for x in 0..ww {
                            let b = bwd.get(x, y);
                            let q = [x as f32 + b[0], y as f32 + b[1]];
                            let qx = ((q[0].max(0.0) + 0.5) as usize).min(ww - 1);
                            let qy = ((q[1].max(0.0) + 0.5) as usize).min(wh - 1);
                            let (dx, dy) = (q[0] - qx as f32, q[1] - qy as f32);
                            let o = old[qy * ww + qx];
                            pr[x] = [o[0] + dx, o[1] + dy];
                            wr[x] = prev_out.sample(q[0], q[1]);
                            tr[x] = if occ[y * ww + x] { 0.0 } else { 1.0 };
                        }
                    });
                temporal(&warped, &self.mode, &mut self.tgt.tmp);
                self.nnf.pos.clone_from(&pos);
                if let Some((regions, _, _)) = &mut self.regions {
                    // The parts of a local edit move as wholes, along the flow.
                    regions.advance(&fwd, &bwd, prev, &luma);
                }
                carried = Some((bwd, occ));
                track = pos;
                iterations = self.settings.iterations;
            }
            _ => {
                // First frame or a new shot: match the keyframe by appearance alone.
                self.nnf = Nnf::identity(ww, wh);
                temporal(&ColorImage::new(ww, wh), &self.mode, &mut self.tgt.tmp);
                iterations = if self.index == 0 {
                    self.settings.iterations
                } else {
                    // Where the parts of a local edit went across the cut is unknown.
                    if let Some((regions, _, _)) = &mut self.regions {
                        regions.gone = true;
                    }
                    self.settings.reset_iterations
                };
            }
        }
        if let Some((regions, key_src_ws, _)) = &self.regions {
            if !regions.is_empty() {
                // The pixels showing a part of a local edit take their keyframe positions
                // from the part's map (the identity on the keyframe's own frame).
                hold = vec![false; ww * wh];
                vis = vec![0.0f32; ww * wh];
                let mut anchor = vec![[0.0f32; 2]; ww * wh];
                regions.place(&src, key_src_ws, &mut hold, &mut anchor, &mut vis);
                for (i, _) in hold.iter().enumerate().filter(|(_, &h)| h) {
                    self.nnf.pos[i] = anchor[i];
                }
            }
        }
        let forbid: &[bool] = match &self.regions {
            Some((r, _, _)) if !r.gone => &r.key_mask,
            _ => &[],
        };
        let wpos = self.mode.position_weight * ((2 * self.settings.patch_radius + 1).pow(2)) as f32;
        let s = Search {
            radius: self.settings.patch_radius,
            iterations,
            local_radius: self.settings.local_radius,
            global_radius: (ww.max(wh) / 2) as f32,
            temporal: &tmask,
            track: if track.is_empty() {
                None
            } else {
                Some((&track, wpos))
            },
            hold: &hold,
            forbid,
            seed: self.seed ^ (self.index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D),
        };
        self.tgt.pack();
        score(&mut self.nnf, &self.key, &self.tgt, &s);
        search(&mut self.nnf, &self.key, &self.tgt, &s);
        let t3 = Instant::now();
        self.times.flow += flow_time;
        self.times.search += (t3 - tg).saturating_sub(flow_time);
        let residual = Residual {
            src: &src_full,
            key_src: &self.key_src,
            edit: &self.edit,
            floor: self.mode.detail_blend,
            tolerance: self.settings.edit_tolerance,
        };
        std::mem::swap(&mut self.out, &mut self.prev_full);
        render(
            &self.style,
            &self.nnf,
            self.f,
            Some(&residual),
            &mut self.out,
        );
        if let Some((bwd, occ)) = carried {
            if self.settings.temporal_blend > 0.0 {
                blend_carried(
                    &mut self.out,
                    &self.prev_full,
                    &bwd,
                    &occ,
                    &hold,
                    self.f,
                    self.settings.temporal_blend,
                    self.settings.blend_tolerance,
                );
            }
        }
        if let (Some((regions, _, alpha)), false) = (&self.regions, vis.is_empty()) {
            composite(
                regions,
                alpha,
                &self.style,
                &self.key_src,
                &src_full,
                self.f,
                &vis,
                self.mode.detail_blend,
                &mut self.out,
            );
        }
        self.prev_out = self.out.downsample(self.f);
        self.times.render += t3.elapsed();
        self.prev_luma = Some(luma);
        self.index += 1;
        self.out.to_frame()
    }

    fn flow_params(&self) -> FlowParams {
        let mut p = self.settings.flow.clone();
        // Past ~400 px the finest pyramid level adds time but little accuracy for synthesis.
        if self.key.w.max(self.key.h) > 400 {
            p.finest_level = p.finest_level.max(1);
        }
        p
    }
}

/// Mixes the previous output, carried along the backward flow (working resolution, `f` times
/// coarser), into `out` where the flow is trusted. The carried share falls off with the colour
/// difference, so the blend steadies flicker without dragging stale colour into real changes.
/// Pixels in `held` (working resolution) are left as rendered.
#[allow(clippy::too_many_arguments)]
fn blend_carried(
    out: &mut ColorImage,
    prev: &ColorImage,
    bwd: &FlowField,
    occ: &[bool],
    held: &[bool],
    f: usize,
    share: f32,
    tolerance: f32,
) {
    let w = out.width();
    let (fw, fh) = (bwd.width(), bwd.height());
    let fs = f as f32;
    let inv_tol = 1.0 / (tolerance * tolerance).max(1e-6);
    out.data_mut()
        .par_chunks_mut(w)
        .enumerate()
        .for_each(|(y, row)| {
            let v = (y as f32 + 0.5) / fs - 0.5;
            let oy = ((v.max(0.0) + 0.5) as usize).min(fh - 1);
            for (x, o) in row.iter_mut().enumerate() {
                let u = (x as f32 + 0.5) / fs - 0.5;
                let ox = ((u.max(0.0) + 0.5) as usize).min(fw - 1);
                // Held pixels are steady already, and carrying the previous output again and
                // again would blur the edit they show.
                if occ[oy * fw + ox] || held.get(oy * fw + ox).copied().unwrap_or(false) {
                    continue;
                }
                let b = bwd.sample(u, v);
                let c = prev.sample(x as f32 + b[0] * fs, y as f32 + b[1] * fs);
                let d2 =
                    ((c[0] - o[0]).powi(2) + (c[1] - o[1]).powi(2) + (c[2] - o[2]).powi(2)) / 3.0;
                let x = d2 * inv_tol;
                if x > 16.0 {
                    continue; // the carried share would be below 1e-7
                }
                let a = share * (-x).exp();
                for k in 0..3 {
                    o[k] += a * (c[k] - o[k]);
                }
            }
        });
}
