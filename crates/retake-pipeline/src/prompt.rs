//! Keyframes from a prompt: which frames become keyframes (by motion, and at every scene cut),
//! and their restyling by the diffusion engine. The rest of the clip is propagated from them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use retake_diffusion::{
    list_models, motion_magnitudes, pick_keyframes, DiffusionEngine, DiffusionError,
    KeyframeParams, KeyframeRequest,
};
use retake_engine::cut::CutDetector;
use retake_engine::{ModeParams, Plane};
use retake_media::{Limits, MediaError, RgbFrame, VideoReader};

use crate::PipelineError;

/// Picks the model folder to load: `dir` itself when it is a model, else the one named
/// `name` among its subfolders, else its only usable model.
pub fn resolve_model(dir: &Path, name: Option<&str>) -> Result<PathBuf, PipelineError> {
    if !dir.is_dir() {
        return Err(PipelineError::Unavailable(format!(
            "model folder {} does not exist; point --model-dir (RETAKE_MODEL_DIR) at a diffusers \
             model folder or a folder of them",
            dir.display()
        )));
    }
    let models = list_models(dir);
    let names = || {
        models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match name {
        Some(n) => models.iter().find(|m| m.name == n).ok_or_else(|| {
            PipelineError::Unavailable(format!(
                "no model `{n}` in {}; it has: {}",
                dir.display(),
                if models.is_empty() {
                    "none".into()
                } else {
                    names()
                }
            ))
        })?,
        None => match models.as_slice() {
            [] => {
                return Err(PipelineError::Unavailable(format!(
                    "{} holds no diffusers model (no model_index.json in it or its subfolders)",
                    dir.display()
                )))
            }
            [one] => one,
            _ => {
                return Err(PipelineError::Unavailable(format!(
                    "{} holds several models ({}); pick one with --diffusion-model NAME",
                    dir.display(),
                    names()
                )))
            }
        },
    };
    if let Some(file) = chosen.missing.first() {
        return Err(PipelineError::Unavailable(format!(
            "model {} is incomplete: {file} is missing ({} file(s) in all: {})",
            chosen.dir.display(),
            chosen.missing.len(),
            chosen.missing.join(", ")
        )));
    }
    if let Some(problem) = &chosen.problem {
        return Err(PipelineError::Unavailable(format!(
            "model {} cannot be used: {problem}",
            chosen.dir.display()
        )));
    }
    Ok(chosen.dir.clone())
}

/// Maps an engine error: a user's cancel stays a cancel, a bad model is "unavailable".
pub(crate) fn diffusion_error(e: DiffusionError) -> PipelineError {
    match e {
        DiffusionError::Cancelled => PipelineError::Media(MediaError::Cancelled),
        e @ (DiffusionError::NoModelDir(_)
        | DiffusionError::MissingFile { .. }
        | DiffusionError::NoVaeDir(_)
        | DiffusionError::MissingVaeFile { .. }
        | DiffusionError::NoTinyVae(_)
        | DiffusionError::BadConfig { .. }
        | DiffusionError::BadWeights { .. }
        | DiffusionError::Unsupported(_)) => PipelineError::Unavailable(e.to_string()),
        other => PipelineError::Diffusion(other.to_string()),
    }
}

/// Decodes the clip once and picks its keyframes: frame 0, each scene cut, and more wherever
/// the motion since the last keyframe passes what `interval` frames of average motion give.
pub(crate) fn choose_keyframes(
    clip: &Path,
    limits: &Limits,
    interval: u32,
    cancel: &AtomicBool,
) -> Result<Vec<usize>, PipelineError> {
    let mut reader = VideoReader::open(clip, limits)?;
    let mut motion = Vec::new();
    let mut cuts = Vec::new();
    let mut detector = CutDetector::new();
    let mut prev: Option<RgbFrame> = None;
    let mut index = 0;
    while let Some(frame) = reader.next_frame()? {
        if cancel.load(Ordering::Relaxed) {
            return Err(MediaError::Cancelled.into());
        }
        if detector.push(&Plane::luma(&frame).downsample(4)) && index > 0 {
            cuts.push(index);
        }
        motion.push(match prev.take() {
            Some(p) => motion_magnitudes(&[p, frame.clone()])[1],
            None => 0.0,
        });
        prev = Some(frame);
        index += 1;
    }
    let mut keys = pick_keyframes(&motion, interval);
    keys.extend(cuts);
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

/// Decodes the clip again and keeps the source frames at `indices` (sorted).
pub(crate) fn collect_frames(
    clip: &Path,
    limits: &Limits,
    indices: &[usize],
    cancel: &AtomicBool,
) -> Result<Vec<RgbFrame>, PipelineError> {
    let mut reader = VideoReader::open(clip, limits)?;
    let mut out = Vec::with_capacity(indices.len());
    let mut index = 0;
    while out.len() < indices.len() {
        if cancel.load(Ordering::Relaxed) {
            return Err(MediaError::Cancelled.into());
        }
        if indices[out.len()] == index {
            let Some(frame) = reader.next_frame()? else {
                break;
            };
            out.push(frame);
        } else if !reader.skip_frame()? {
            break;
        }
        index += 1;
    }
    if out.len() != indices.len() {
        return Err(PipelineError::Input(format!(
            "the clip ended after {index} frames, before keyframe {}",
            indices[out.len()]
        )));
    }
    Ok(out)
}

/// What the diffusion step needs besides the frames.
pub(crate) struct Restyle<'a> {
    pub engine: &'a DiffusionEngine,
    pub prompt: &'a str,
    pub mode: &'a ModeParams,
    pub seed: u64,
    pub first_frame: Option<&'a RgbFrame>,
}

/// Restyles the keyframe sources; `progress` hears (steps done, steps in all).
pub(crate) fn restyle(
    r: &Restyle<'_>,
    sources: &[RgbFrame],
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Vec<RgbFrame>, PipelineError> {
    let request = KeyframeRequest {
        frames: sources,
        prompt: r.prompt,
        negative_prompt: "",
        params: KeyframeParams::from_mode(r.mode),
        seed: r.seed,
        first_frame: r.first_frame,
    };
    r.engine
        .restyle_keyframes(
            &request,
            &mut |p| {
                let per = p.steps.max(1);
                progress(p.keyframe * per + p.step, p.keyframes * per)
            },
            cancel,
        )
        .map_err(diffusion_error)
}
