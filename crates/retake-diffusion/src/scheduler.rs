//! Samplers: DDIM, Euler (discrete) and the LCM-style few-step sampler, following diffusers'
//! schedules exactly (timestep spacing, img2img start step, noise scaling).

use crate::config::SchedulerConfig;
use crate::error::{DiffusionError, Result};
use candle_core::Tensor;

/// Which sampler to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SchedulerKind {
    /// The one in the model's `scheduler_config.json` (DDIM for DDIM/PNDM/DDPM models,
    /// Euler for Euler-family ones, LCM for LCM).
    #[default]
    Auto,
    /// Deterministic DDIM (eta = 0).
    Ddim,
    /// Euler discrete (no churn).
    Euler,
    /// Few-step consistency sampling (LCM; also suits SD-Turbo): predict x0, re-noise.
    Lcm,
}

impl SchedulerKind {
    /// Parses `auto`, `ddim`, `euler` or `lcm`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "ddim" => Ok(Self::Ddim),
            "euler" => Ok(Self::Euler),
            "lcm" | "turbo" => Ok(Self::Lcm),
            other => Err(DiffusionError::InvalidParam(format!(
                "unknown scheduler {other:?} — use auto, ddim, euler or lcm"
            ))),
        }
    }

    /// Resolves `Auto` from the model's scheduler class.
    pub fn resolve(self, cfg: &SchedulerConfig) -> Self {
        if self != Self::Auto {
            return self;
        }
        match cfg.class_name.as_deref().unwrap_or("") {
            c if c.starts_with("Euler") => Self::Euler,
            c if c.starts_with("LCM") => Self::Lcm,
            _ => Self::Ddim,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prediction {
    Epsilon,
    V,
    Sample,
}

/// A ready-to-run img2img sampling plan: the timesteps actually run and their noise levels.
#[derive(Clone, Debug)]
pub struct Sampler {
    kind: SchedulerKind,
    prediction: Prediction,
    alphas_cumprod: Vec<f64>,
    final_alpha: f64,
    /// All timesteps of the schedule; the run starts at `start`.
    timesteps: Vec<f64>,
    /// Euler: one sigma per timestep plus the final one.
    sigmas: Vec<f64>,
    start: usize,
    num_train: usize,
    num_inference: usize,
    timestep_scaling: f64,
    /// DDIM/LCM: clamp range of the predicted x0.
    clip: Option<f64>,
}

fn alphas_cumprod(cfg: &SchedulerConfig) -> Result<Vec<f64>> {
    let n = cfg.num_train_timesteps;
    if n < 2 {
        return Err(DiffusionError::InvalidParam(
            "num_train_timesteps must be at least 2".into(),
        ));
    }
    let betas: Vec<f64> = match cfg.beta_schedule.as_str() {
        "scaled_linear" => {
            let (a, b) = (cfg.beta_start.sqrt(), cfg.beta_end.sqrt());
            (0..n)
                .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).powi(2))
                .collect()
        }
        "linear" => (0..n)
            .map(|i| cfg.beta_start + (cfg.beta_end - cfg.beta_start) * i as f64 / (n - 1) as f64)
            .collect(),
        "squaredcos_cap_v2" => {
            let f = |t: f64| {
                ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
                    .cos()
                    .powi(2)
            };
            (0..n)
                .map(|i| (1.0 - f((i + 1) as f64 / n as f64) / f(i as f64 / n as f64)).min(0.999))
                .collect()
        }
        other => {
            return Err(DiffusionError::InvalidParam(format!(
            "beta_schedule {other} is not supported — scaled_linear, linear or squaredcos_cap_v2"
        )))
        }
    };
    let mut acc = 1.0;
    Ok(betas
        .iter()
        .map(|b| {
            acc *= 1.0 - b;
            acc
        })
        .collect())
}

/// The first `steps` timesteps by diffusers' `timestep_spacing` rules.
fn spaced_timesteps(cfg: &SchedulerConfig, steps: usize) -> Result<Vec<f64>> {
    let n = cfg.num_train_timesteps;
    Ok(match cfg.timestep_spacing.as_str() {
        "linspace" => (0..steps)
            .rev()
            .map(|i| {
                let v = if steps == 1 {
                    0.0
                } else {
                    (n - 1) as f64 * i as f64 / (steps - 1) as f64
                };
                v.round()
            })
            .collect(),
        "leading" => {
            let ratio = n / steps;
            (0..steps)
                .rev()
                .map(|i| (i * ratio + cfg.steps_offset) as f64)
                .collect()
        }
        "trailing" => {
            let ratio = n as f64 / steps as f64;
            (0..steps)
                .map(|i| (n as f64 - i as f64 * ratio).round() - 1.0)
                .collect()
        }
        other => {
            return Err(DiffusionError::InvalidParam(format!(
                "timestep_spacing {other} is not supported — linspace, leading or trailing"
            )))
        }
    })
}

impl Sampler {
    /// Plans img2img with `num_inference_steps` for the full schedule and `strength` in (0, 1]:
    /// like diffusers, only the last `int(steps × strength)` steps run (LCM: its own rule).
    pub fn img2img(
        kind: SchedulerKind,
        cfg: &SchedulerConfig,
        num_inference_steps: usize,
        strength: f64,
    ) -> Result<Self> {
        let kind = kind.resolve(cfg);
        if !(strength > 0.0 && strength <= 1.0) {
            return Err(DiffusionError::InvalidParam(format!(
                "strength {strength} must be in (0, 1]"
            )));
        }
        if num_inference_steps == 0 || num_inference_steps > cfg.num_train_timesteps {
            return Err(DiffusionError::InvalidParam(format!(
                "steps {num_inference_steps} must be between 1 and {}",
                cfg.num_train_timesteps
            )));
        }
        let prediction = match cfg.prediction_type.as_str() {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::V,
            "sample" => Prediction::Sample,
            other => {
                return Err(DiffusionError::InvalidParam(format!(
                    "prediction_type {other} is not supported — epsilon, v_prediction or sample"
                )))
            }
        };
        if cfg.use_karras_sigmas && kind == SchedulerKind::Euler {
            return Err(DiffusionError::InvalidParam(
                "Karras sigmas are not supported — set use_karras_sigmas to false or pick ddim"
                    .into(),
            ));
        }
        let acp = alphas_cumprod(cfg)?;
        let n = cfg.num_train_timesteps;
        let (timesteps, start) = if kind == SchedulerKind::Lcm {
            let orig = cfg.original_inference_steps.clamp(1, n);
            let k = n / orig;
            let count = (orig as f64 * strength) as usize;
            if count < num_inference_steps {
                return Err(DiffusionError::InvalidParam(format!(
                    "LCM: {num_inference_steps} steps need strength ≥ {:.3} — lower the steps or raise the strength",
                    num_inference_steps as f64 / orig as f64
                )));
            }
            let origin: Vec<usize> = (1..=count).rev().map(|i| i * k - 1).collect();
            let ts = (0..num_inference_steps)
                .map(|i| {
                    origin[(i as f64 * count as f64 / num_inference_steps as f64).floor() as usize]
                        as f64
                })
                .collect();
            (ts, 0)
        } else {
            let ts = spaced_timesteps(cfg, num_inference_steps)?;
            let init = ((num_inference_steps as f64 * strength) as usize).min(num_inference_steps);
            if init == 0 {
                return Err(DiffusionError::InvalidParam(format!(
                    "{num_inference_steps} steps at strength {strength} run no step — raise the steps or the strength"
                )));
            }
            (ts, num_inference_steps - init)
        };
        let sigmas = if kind == SchedulerKind::Euler {
            let full: Vec<f64> = acp.iter().map(|a| ((1.0 - a) / a).sqrt()).collect();
            let mut s: Vec<f64> = timesteps
                .iter()
                .map(|&t| {
                    let t = t.clamp(0.0, (n - 1) as f64);
                    let (lo, frac) = (t.floor() as usize, t - t.floor());
                    let hi = (lo + 1).min(n - 1);
                    // diffusers stores sigmas as f32.
                    (full[lo] + (full[hi] - full[lo]) * frac) as f32 as f64
                })
                .collect();
            s.push(0.0);
            s
        } else {
            Vec::new()
        };
        Ok(Self {
            kind,
            prediction,
            final_alpha: if cfg.set_alpha_to_one { 1.0 } else { acp[0] },
            alphas_cumprod: acp,
            timesteps,
            sigmas,
            start,
            num_train: n,
            num_inference: num_inference_steps,
            timestep_scaling: cfg.timestep_scaling,
            clip: match kind {
                SchedulerKind::Lcm => cfg.clip_sample.unwrap_or(false),
                SchedulerKind::Euler => false,
                _ => cfg.clip_sample.unwrap_or(true),
            }
            .then_some(cfg.clip_sample_range),
        })
    }

    /// The sampler in use.
    pub fn kind(&self) -> SchedulerKind {
        self.kind
    }

    /// The timesteps that run, in order.
    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps[self.start..]
    }

    /// Number of denoising steps that run.
    pub fn len(&self) -> usize {
        self.timesteps.len() - self.start
    }

    /// Whether no step runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn acp(&self, t: f64) -> f64 {
        self.alphas_cumprod[(t.max(0.0) as usize).min(self.num_train - 1)]
    }

    /// Noises clean latents `x0` to the level of run step `i` (0 = the img2img start).
    pub fn add_noise(&self, x0: &Tensor, noise: &Tensor, i: usize) -> Result<Tensor> {
        let j = self.start + i;
        let out = if self.kind == SchedulerKind::Euler {
            (x0 + (noise * self.sigmas[j])?)?
        } else {
            let a = self.acp(self.timesteps[j]);
            ((x0 * a.sqrt())? + (noise * (1.0 - a).sqrt())?)?
        };
        Ok(out)
    }

    /// Scales the latent before the UNet at run step `i` (Euler divides by √(σ²+1)).
    pub fn scale_model_input(&self, x: &Tensor, i: usize) -> Result<Tensor> {
        if self.kind == SchedulerKind::Euler {
            let s = self.sigmas[self.start + i];
            Ok((x / (s * s + 1.0).sqrt())?)
        } else {
            Ok(x.clone())
        }
    }

    /// One step from `sample` with the model output at run step `i`. Returns the next sample
    /// and the predicted clean latents. `noise` is drawn only by the LCM sampler between steps.
    pub fn step(
        &self,
        out: &Tensor,
        i: usize,
        sample: &Tensor,
        noise: &mut dyn FnMut() -> Result<Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let j = self.start + i;
        let t = self.timesteps[j];
        match self.kind {
            SchedulerKind::Euler => {
                let s = self.sigmas[j];
                let x0 = match self.prediction {
                    Prediction::Epsilon => (sample - (out * s)?)?,
                    Prediction::V => {
                        ((out * (-s / (s * s + 1.0).sqrt()))? + (sample / (s * s + 1.0))?)?
                    }
                    Prediction::Sample => out.clone(),
                };
                let deriv = ((sample - &x0)? / s)?;
                let prev = (sample + (deriv * (self.sigmas[j + 1] - s))?)?;
                Ok((prev, x0))
            }
            SchedulerKind::Ddim | SchedulerKind::Auto => {
                let prev_t = t - (self.num_train / self.num_inference) as f64;
                let a = self.acp(t);
                let ap = if prev_t >= 0.0 {
                    self.acp(prev_t)
                } else {
                    self.final_alpha
                };
                let (x0, eps) = self.split(out, sample, a)?;
                let prev = ((&x0 * ap.sqrt())? + (eps * (1.0 - ap).sqrt())?)?;
                Ok((prev, x0))
            }
            SchedulerKind::Lcm => {
                let a = self.acp(t);
                let (x0, _) = self.split(out, sample, a)?;
                let st = t * self.timestep_scaling;
                let sd2 = 0.25;
                let c_skip = sd2 / (st * st + sd2);
                let c_out = st / (st * st + sd2).sqrt();
                let denoised = ((&x0 * c_out)? + (sample * c_skip)?)?;
                if j + 1 < self.timesteps.len() {
                    let ap = self.acp(self.timesteps[j + 1]);
                    let prev = ((&denoised * ap.sqrt())? + (noise()? * (1.0 - ap).sqrt())?)?;
                    Ok((prev, denoised))
                } else {
                    Ok((denoised.clone(), denoised))
                }
            }
        }
    }

    /// How much the next sample moves per unit change of the predicted clean latents at run
    /// step `i` (used to steer x0 without knowing the sampler's internals).
    pub fn x0_gain(&self, i: usize) -> f64 {
        let j = self.start + i;
        let t = self.timesteps[j];
        match self.kind {
            SchedulerKind::Euler => 1.0 - self.sigmas[j + 1] / self.sigmas[j],
            SchedulerKind::Ddim | SchedulerKind::Auto => {
                let prev_t = t - (self.num_train / self.num_inference) as f64;
                let ap = if prev_t >= 0.0 {
                    self.acp(prev_t)
                } else {
                    self.final_alpha
                };
                ap.sqrt()
            }
            SchedulerKind::Lcm => match self.timesteps.get(j + 1) {
                Some(&tn) => self.acp(tn).sqrt(),
                None => 1.0,
            },
        }
    }

    fn split(&self, out: &Tensor, sample: &Tensor, a: f64) -> Result<(Tensor, Tensor)> {
        let b = 1.0 - a;
        let (x0, eps) = match self.prediction {
            Prediction::Epsilon => (((sample - (out * b.sqrt())?)? / a.sqrt())?, out.clone()),
            Prediction::V => (
                ((sample * a.sqrt())? - (out * b.sqrt())?)?,
                ((out * a.sqrt())? + (sample * b.sqrt())?)?,
            ),
            Prediction::Sample => (out.clone(), ((sample - (out * a.sqrt())?)? / b.sqrt())?),
        };
        // diffusers clamps x0 after computing eps from the unclamped one.
        Ok(match self.clip {
            Some(r) => (x0.clamp(-r, r)?, eps),
            None => (x0, eps),
        })
    }
}

/// The smallest `num_inference_steps` for which img2img at `strength` runs `steps` steps.
pub fn inference_steps_for(steps: usize, strength: f64) -> usize {
    let steps = steps.max(1);
    let mut n = steps;
    while ((n as f64 * strength) as usize) < steps && n < 10_000 {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> SchedulerConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn spacing_matches_diffusers() {
        let c = cfg(r#"{"timestep_spacing": "leading", "steps_offset": 1}"#);
        assert_eq!(spaced_timesteps(&c, 4).unwrap(), [751.0, 501.0, 251.0, 1.0]);
        let c = cfg(r#"{"timestep_spacing": "trailing"}"#);
        assert_eq!(
            spaced_timesteps(&c, 4).unwrap(),
            [999.0, 749.0, 499.0, 249.0]
        );
        assert_eq!(spaced_timesteps(&c, 3).unwrap(), [999.0, 666.0, 332.0]);
        let c = cfg(r#"{"timestep_spacing": "linspace"}"#);
        assert_eq!(spaced_timesteps(&c, 3).unwrap(), [999.0, 500.0, 0.0]);
    }

    #[test]
    fn strength_picks_the_start_step() {
        let c = cfg(r#"{"timestep_spacing": "trailing"}"#);
        let s = Sampler::img2img(SchedulerKind::Ddim, &c, 4, 0.5).unwrap();
        assert_eq!(s.timesteps(), [499.0, 249.0]);
        let s = Sampler::img2img(SchedulerKind::Euler, &c, 4, 0.5).unwrap();
        assert_eq!(s.timesteps(), [499.0, 249.0]);
        assert!(Sampler::img2img(SchedulerKind::Ddim, &c, 1, 0.5).is_err());
        assert_eq!(inference_steps_for(1, 0.5), 2);
        assert_eq!(inference_steps_for(4, 0.3), 14);
    }

    #[test]
    fn lcm_schedule_matches_diffusers() {
        let c = SchedulerConfig::default();
        // diffusers: LCMScheduler().set_timesteps(4, strength=1.0) → [999, 759, 499, 259].
        let s = Sampler::img2img(SchedulerKind::Lcm, &c, 4, 1.0).unwrap();
        assert_eq!(s.timesteps(), [999.0, 759.0, 499.0, 259.0]);
        let s = Sampler::img2img(SchedulerKind::Lcm, &c, 2, 0.5).unwrap();
        assert_eq!(s.timesteps(), [499.0, 259.0]);
    }
}
