//! The keyframe session: restyles a clip's keyframes from a prompt, the first one (or the
//! user's own first frame) being the anchor that every other keyframe attends to.

use crate::color::match_colors;
use crate::engine::DiffusionEngine;
use crate::error::{DiffusionError, Result};
use crate::image::{frame_to_tensor, resize, tensor_to_frame, working_size};
use crate::noise::NoiseRng;
use crate::scheduler::{inference_steps_for, Sampler, SchedulerKind};
use crate::unet::FrameHook;
use candle_core::{DType, Tensor};
use retake_engine::ModeParams;
use retake_media::transform::FrameResizer;
use retake_media::RgbFrame;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the diffusion engine takes from a mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyframeParams {
    /// img2img denoising strength in (0, 1]: how far from the source a keyframe may move.
    pub strength: f32,
    /// How strongly the source's coarse layout is held during denoising, in [0, 1].
    pub structure_hold: f32,
    /// How far each keyframe's colour statistics move to the anchor's, in [0, 1].
    pub color_match: f32,
    /// Whether keyframes attend to the anchor (cross-frame attention).
    pub cross_frame: bool,
}

impl KeyframeParams {
    /// The diffusion parameters of a mode: strength and structure hold from the mode table.
    pub fn from_mode(p: &ModeParams) -> Self {
        Self {
            strength: p.strength,
            structure_hold: p.structure_hold,
            color_match: 0.75,
            cross_frame: true,
        }
    }
}

/// Where a keyframe session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Keyframe being worked on (0 = anchor).
    pub keyframe: usize,
    /// Number of keyframes.
    pub keyframes: usize,
    /// Denoising steps done for this keyframe.
    pub step: usize,
    /// Denoising steps per keyframe.
    pub steps: usize,
}

/// One keyframe session's input.
#[derive(Clone, Debug)]
pub struct KeyframeRequest<'a> {
    /// The source frames of the keyframes, in clip order; all the same size.
    pub frames: &'a [RgbFrame],
    /// What the result should look like.
    pub prompt: &'a str,
    /// What it should not look like (used with guidance).
    pub negative_prompt: &'a str,
    /// Strength and friends, usually [`KeyframeParams::from_mode`].
    pub params: KeyframeParams,
    /// Seed of the noise (same seed, same keyframes).
    pub seed: u64,
    /// The user's edited first frame: keyframe 0 is then this frame and sets the style.
    pub first_frame: Option<&'a RgbFrame>,
}

/// Two passes of a 5×5 box blur per channel: the coarse layout of a latent.
fn blur(x: &Tensor) -> candle_core::Result<Tensor> {
    let c = x.dim(1)?;
    let k = Tensor::full(1f32 / 25.0, (c, 1, 5, 5), x.device())?.to_dtype(x.dtype())?;
    let once = |t: &Tensor| t.conv2d(&k, 2, 1, 1, c);
    once(&once(x)?)
}

impl DiffusionEngine {
    /// The sampler for one keyframe session at `strength`.
    fn session_sampler(&self, strength: f64) -> Result<Sampler> {
        let steps = self.steps();
        let kind = self.options.scheduler.resolve(&self.scheduler_cfg);
        let n = if kind == SchedulerKind::Lcm {
            steps
        } else {
            inference_steps_for(steps, strength)
        };
        self.sampler(n, strength)
    }

    /// Restyles each keyframe source frame; returns one frame per source, same size as it.
    /// Keyframe 0 is the anchor (or, with `first_frame`, that frame itself); the others attend
    /// to it and have their colours matched to it. Checks `cancel` before every UNet call.
    pub fn restyle_keyframes(
        &self,
        req: &KeyframeRequest<'_>,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<Vec<RgbFrame>> {
        let Some(first) = req.frames.first() else {
            return Ok(Vec::new());
        };
        let p = req.params;
        if !(p.strength > 0.0 && p.strength <= 1.0) {
            return Err(DiffusionError::InvalidParam(format!(
                "strength {} must be in (0, 1]",
                p.strength
            )));
        }
        let (sw, sh) = (first.width(), first.height());
        if let Some(f) = req
            .frames
            .iter()
            .find(|f| (f.width(), f.height()) != (sw, sh))
        {
            return Err(DiffusionError::Frame(format!(
                "keyframes differ in size ({sw}x{sh} and {}x{}) — pass frames of one clip",
                f.width(),
                f.height()
            )));
        }
        let long = self
            .options
            .resolution
            .unwrap_or(self.native)
            .max(self.size_multiple());
        let (w, h) = working_size(sw, sh, long, self.size_multiple());
        let guidance = self.guidance_scale();
        let ctx = self.conditioning(req.prompt, req.negative_prompt, guidance)?;
        let sampler = self.session_sampler(p.strength as f64)?;
        let steps = sampler.len();
        let n = req.frames.len();
        let mut resizer = FrameResizer::default();
        let f = self.vae.factor();
        let lat_shape = [
            1,
            self.vae.latent_channels(),
            h as usize / f,
            w as usize / f,
        ];
        // One noise for all keyframes: the same noise under each frame steadies the look.
        let noise = NoiseRng::new(req.seed).tensor(&lat_shape, DType::F32, &self.device)?;
        let hook = FrameHook::recorder();
        let encode = |frame: &RgbFrame, r: &mut FrameResizer| -> Result<Tensor> {
            let small = resize(r, frame, w, h)?;
            let t = frame_to_tensor(&small, self.dtype, &self.device)?;
            Ok(self.encode_image(&t)?.to_dtype(DType::F32)?)
        };

        let mut out = Vec::with_capacity(n);
        // The anchor: either the user's frame (recorded along the noised path to it) or keyframe 0.
        // Record the anchor only when some keyframe will attend to it.
        let attend = p.cross_frame && n > 1;
        let anchor_hook = attend.then_some(&hook);
        let anchor_small = match req.first_frame {
            Some(user) => {
                let z = encode(user, &mut resizer)?;
                let timesteps = if attend { sampler.timesteps() } else { &[] };
                for (i, &t) in timesteps.iter().enumerate() {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(DiffusionError::Cancelled);
                    }
                    let x = sampler.scale_model_input(&sampler.add_noise(&z, &noise, i)?, i)?;
                    self.guided(&x, t, &ctx, guidance, Some(&hook))?;
                    progress(Progress {
                        keyframe: 0,
                        keyframes: n,
                        step: i + 1,
                        steps,
                    });
                }
                out.push(resize(&mut resizer, user, sw, sh)?);
                resize(&mut resizer, user, w, h)?
            }
            None => {
                let styled = self.restyle_one(
                    first,
                    0,
                    n,
                    &sampler,
                    &ctx,
                    guidance,
                    &noise,
                    anchor_hook,
                    p,
                    req.seed,
                    (w, h),
                    &mut resizer,
                    progress,
                    cancel,
                )?;
                out.push(resize(&mut resizer, &styled, sw, sh)?);
                styled
            }
        };
        for (k, src) in req.frames.iter().enumerate().skip(1) {
            // Each keyframe replays the anchor's recording from its first layer and step.
            hook.start_attending();
            let h_opt = attend.then_some(&hook);
            let styled = self.restyle_one(
                src,
                k,
                n,
                &sampler,
                &ctx,
                guidance,
                &noise,
                h_opt,
                p,
                req.seed,
                (w, h),
                &mut resizer,
                progress,
                cancel,
            )?;
            let matched = match_colors(&styled, &anchor_small, p.color_match);
            out.push(resize(&mut resizer, &matched, sw, sh)?);
        }
        Ok(out)
    }

    /// img2img of one keyframe at the working size, with structure hold.
    #[allow(clippy::too_many_arguments)]
    fn restyle_one(
        &self,
        src: &RgbFrame,
        k: usize,
        n: usize,
        sampler: &Sampler,
        ctx: &Tensor,
        guidance: f64,
        noise: &Tensor,
        hook: Option<&FrameHook>,
        p: KeyframeParams,
        seed: u64,
        (w, h): (u32, u32),
        resizer: &mut FrameResizer,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<RgbFrame> {
        let small = resize(resizer, src, w, h)?;
        let z = self
            .encode_image(&frame_to_tensor(&small, self.dtype, &self.device)?)?
            .to_dtype(DType::F32)?;
        let coarse = blur(&z)?;
        let steps = sampler.len();
        let hold = p.structure_hold.clamp(0.0, 1.0) as f64;
        let mut rng = NoiseRng::new(seed.wrapping_add(1 + k as u64));
        let (shape, dev) = (z.dims().to_vec(), self.device.clone());
        let mut step_noise = || Ok(rng.tensor(&shape, DType::F32, &dev)?);
        let lat = self.img2img_latents(
            &z,
            noise,
            ctx,
            guidance,
            sampler,
            hook,
            &mut step_noise,
            cancel,
            |s| {
                progress(Progress {
                    keyframe: k,
                    keyframes: n,
                    step: s.index + 1,
                    steps,
                });
                if hold <= 0.0 {
                    return Ok(None);
                }
                let wgt = hold * (1.0 - s.index as f64 / steps as f64) * sampler.x0_gain(s.index);
                let delta = (&coarse - blur(s.x0)?)?;
                Ok(Some((s.sample + (delta * wgt)?)?))
            },
        )?;
        tensor_to_frame(&self.decode_latents(&lat)?)
    }
}

/// Per-frame motion: mean absolute luma change from the previous frame (on a 64-pixel-wide
/// thumbnail), 0 for the first frame. Cheap stand-in for optical-flow magnitude.
pub fn motion_magnitudes(frames: &[RgbFrame]) -> Vec<f32> {
    let thumb = |f: &RgbFrame| -> Vec<f32> {
        let (w, h) = (f.width() as usize, f.height() as usize);
        let step = (w / 64).max(1);
        let mut v = Vec::new();
        for y in (0..h).step_by(step) {
            for x in (0..w).step_by(step) {
                let p = f.pixel(x as u32, y as u32);
                v.push(0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32);
            }
        }
        v
    };
    let mut out = Vec::with_capacity(frames.len());
    let mut prev: Option<Vec<f32>> = None;
    for f in frames {
        let t = thumb(f);
        out.push(match &prev {
            Some(p) if p.len() == t.len() => {
                p.iter().zip(&t).map(|(a, b)| (a - b).abs()).sum::<f32>() / t.len() as f32
            }
            Some(_) => f32::MAX,
            None => 0.0,
        });
        prev = Some(t);
    }
    out
}

/// Keyframe indices for a clip with per-frame `motion` (from [`motion_magnitudes`] or flow):
/// frame 0 always; then a new keyframe once the motion since the last one exceeds what
/// `interval` average frames would bring, no closer than `interval / 4` frames and no further
/// than `2 × interval`. `interval` 0 means only the first frame.
pub fn pick_keyframes(motion: &[f32], interval: u32) -> Vec<usize> {
    if motion.is_empty() {
        return Vec::new();
    }
    let mut keys = vec![0];
    if interval == 0 || motion.len() < 2 {
        return keys;
    }
    let interval = interval as usize;
    let mean =
        motion[1..].iter().map(|m| m.min(1e6) as f64).sum::<f64>() / (motion.len() - 1) as f64;
    let budget = mean * interval as f64;
    let (min_gap, max_gap) = ((interval / 4).max(1), interval * 2);
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &m) in motion.iter().enumerate().skip(1) {
        acc += m.min(1e6) as f64;
        let gap = i - last;
        if gap >= max_gap || (gap >= min_gap && budget > 0.0 && acc >= budget) {
            keys.push(i);
            last = i;
            acc = 0.0;
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_follow_motion() {
        // Still for 40 frames, then fast motion for 40.
        let mut m = vec![0.0; 1];
        m.extend(std::iter::repeat_n(0.1, 39));
        m.extend(std::iter::repeat_n(5.0, 40));
        let k = pick_keyframes(&m, 10);
        assert_eq!(k[0], 0);
        let still = k.iter().filter(|&&i| i < 40).count();
        let fast = k.iter().filter(|&&i| i >= 40).count();
        assert!(fast > still * 2, "{k:?}");
        for w in k.windows(2) {
            assert!(w[1] - w[0] >= 2 && w[1] - w[0] <= 20, "{k:?}");
        }
        assert_eq!(pick_keyframes(&m, 0), vec![0]);
        assert!(pick_keyframes(&[], 8).is_empty());
        // Uniform motion: about one keyframe per interval.
        let u = vec![1.0; 97];
        let k = pick_keyframes(&u, 16);
        assert_eq!(k, vec![0, 16, 32, 48, 64, 80, 96]);
    }

    #[test]
    fn motion_of_a_moving_bar() {
        let frame = |x0: u32| {
            let mut f = RgbFrame::filled(64, 32, [0, 0, 0]);
            for y in 0..32 {
                for x in x0..x0 + 8 {
                    let i = ((y * 64 + x) * 3) as usize;
                    f.data_mut()[i..i + 3].copy_from_slice(&[255, 255, 255]);
                }
            }
            f
        };
        let m = motion_magnitudes(&[frame(0), frame(0), frame(8), frame(40)]);
        assert_eq!(m[0], 0.0);
        assert_eq!(m[1], 0.0);
        assert!(m[2] > 0.0 && m[3] > 0.0);
        assert!((m[2] - m[3]).abs() < 1e-3, "equal areas change: {m:?}");
    }

    #[test]
    fn mode_table_maps_monotonically() {
        let ps: Vec<_> = retake_engine::Mode::ALL
            .iter()
            .map(|m| KeyframeParams::from_mode(&m.params()))
            .collect();
        for w in ps.windows(2) {
            assert!(w[1].strength > w[0].strength);
            assert!(w[1].structure_hold < w[0].structure_hold);
        }
        assert!(ps[0].structure_hold > 0.4 && ps[8].structure_hold < 0.05);
    }
}
