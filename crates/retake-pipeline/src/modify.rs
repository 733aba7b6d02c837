//! `modify`: an edited first frame (and later prompt keyframes) carried through a clip.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use retake_engine::{Controls, KeyframeSequencer, Mode, Profile};
use retake_media::{
    extract_frame, load_image, transcode_with, EncodeSettings, FrameProcessor, FrameSink, Limits,
    MediaError, RgbFrame, TranscodeOptions, TranscodeReport, VideoReader, OUTPUT_FPS,
};
use serde::Serialize;

use crate::check::{check_motion, fit_first_frame};
use crate::look::{apply_look, LookRequest, PerFrameLook};
use crate::prompt::{choose_keyframes, collect_frames, restyle, Restyle};
use crate::PipelineError;
use retake_diffusion::{DiffusionEngine, EngineSummary};

/// What to tell someone who sent a prompt and no first frame to a build without a model.
pub const PROMPT_NEEDS_MODEL: &str = "modifying from a prompt alone needs a diffusion model, \
    and none is configured: point --model-dir (RETAKE_MODEL_DIR) at a diffusers model folder, \
    or use a built-in look instead (`--look NAME`; `retake looks` lists them), or export a \
    frame with `retake frame CLIP -o frame.png`, edit it, and send it as the first frame";

/// Where a keyframe sits in the clip.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyframeAt {
    /// A time in seconds: the output frame nearest it.
    Seconds(f64),
    /// A source frame, counted from 0 in presentation order (the source's own frame rate):
    /// the output frame nearest the time it is shown.
    SourceFrame(usize),
}

impl std::fmt::Display for KeyframeAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyframeAt::Seconds(s) => write!(f, "{s} s"),
            KeyframeAt::SourceFrame(i) => write!(f, "source frame {i}"),
        }
    }
}

/// The most keyframes one run takes (besides the first frame).
pub const MAX_KEYFRAMES: usize = 64;

/// One clip to modify, every input on local disk.
#[derive(Clone, Debug)]
pub struct ModifyRequest {
    /// The source clip.
    pub clip: PathBuf,
    /// The edited first frame (PNG, JPEG or WebP).
    pub first_frame: Option<PathBuf>,
    /// More edited frames, each at a time or a source frame (e.g. the first frame of a new
    /// shot); the engine blends between neighbouring keyframes. At most [`MAX_KEYFRAMES`].
    pub keyframes: Vec<(KeyframeAt, PathBuf)>,
    /// What to change, in words.
    pub prompt: Option<String>,
    /// A built-in look for the first frame (yours, or the clip's own) and every keyframe.
    pub look: Option<LookRequest>,
    /// How far the output may move from the source.
    pub mode: Mode,
    /// How much work to spend per frame.
    pub profile: Profile,
    /// How strongly structure and motion hold, on top of the mode.
    pub controls: Controls,
    /// Seed for the engine's random search; the same seed gives the same output.
    pub seed: u64,
    /// Where the MP4 goes (written to a temporary file, renamed when complete).
    pub output: PathBuf,
    /// Drop the audio.
    pub mute: bool,
    /// Limits the clip is checked against.
    pub limits: Limits,
    /// Encoder settings.
    pub encode: EncodeSettings,
}

impl ModifyRequest {
    /// A request with default mode, profile, seed, limits and encoding.
    pub fn new(clip: impl Into<PathBuf>, output: impl Into<PathBuf>) -> Self {
        Self {
            clip: clip.into(),
            first_frame: None,
            keyframes: Vec::new(),
            prompt: None,
            look: None,
            mode: Mode::default(),
            profile: Profile::default(),
            controls: Controls::default(),
            seed: 0,
            output: output.into(),
            mute: false,
            limits: Limits::default(),
            encode: EncodeSettings::default(),
        }
    }
}

/// The two long stages of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The diffusion engine restyling keyframes (counted in denoising steps).
    Keyframes,
    /// Every frame rendered and encoded (counted in frames).
    Frames,
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// Units of the stage done.
    pub done: usize,
    /// Units of the stage in all.
    pub total: usize,
    /// Whether the run has a keyframe stage at all.
    pub with_keyframes: bool,
}

impl Progress {
    /// The whole run done, as a percentage. With a keyframe stage it takes the first 80 %:
    /// on a CPU diffusion dominates the run.
    pub fn percent(&self) -> u8 {
        let f = self.done as f64 / self.total.max(1) as f64;
        let p = match (self.stage, self.with_keyframes) {
            (Stage::Keyframes, _) => 80.0 * f,
            (Stage::Frames, true) => 80.0 + 20.0 * f,
            (Stage::Frames, false) => 100.0 * f,
        };
        p.clamp(0.0, 100.0) as u8
    }
}

/// What a finished run did.
#[derive(Clone, Debug, Serialize)]
pub struct ModifyReport {
    /// Frames, size, audio and damage, as written.
    #[serde(flatten)]
    pub media: TranscodeReport,
    /// The mode used.
    pub mode: Mode,
    /// The profile used.
    pub profile: Profile,
    /// The seed used.
    pub seed: u64,
    /// Output frame indices of the keyframes (none when a colour-grade look was applied to
    /// every frame directly).
    pub keyframes: Vec<usize>,
    /// The built-in look applied, if any.
    pub look: Option<LookRequest>,
    /// Output frame indices where a new shot starts; there the edit was re-matched from the
    /// nearest keyframe by appearance.
    pub scene_cuts: Vec<usize>,
    /// Things the user should know (an unused prompt, say).
    pub notes: Vec<String>,
    /// The diffusion engine that restyled keyframes from the prompt, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diffusion: Option<DiffusionReport>,
}

/// What restyled the keyframes: the engine (model, autoencoder, device, …) and its time.
#[derive(Clone, Debug, Serialize)]
pub struct DiffusionReport {
    /// The model, the autoencoder used (`vae`: `full` or `tiny`), device, dtype, steps.
    #[serde(flatten)]
    pub engine: EngineSummary,
    /// Keyframes restyled from the prompt.
    pub keyframes_restyled: usize,
    /// Seconds spent restyling them.
    pub seconds: f64,
}

/// The transcoder's processing stage: the keyframe sequencer (propagation), or a colour
/// grade applied to each frame.
enum Styler {
    Keyframes(Box<KeyframeSequencer>),
    EachFrame(PerFrameLook),
}

impl FrameProcessor for Styler {
    type Error = PipelineError;

    fn push(&mut self, i: usize, f: RgbFrame, emit: &mut FrameSink<'_>) -> Result<(), Self::Error> {
        match self {
            Styler::Keyframes(s) => {
                s.push(i, f, &mut |frame| emit(frame).map_err(PipelineError::from))
            }
            Styler::EachFrame(l) => l.push(i, f, emit),
        }
    }

    fn finish(&mut self, emit: &mut FrameSink<'_>) -> Result<(), Self::Error> {
        match self {
            Styler::Keyframes(s) => s.finish(&mut |frame| emit(frame).map_err(PipelineError::from)),
            Styler::EachFrame(l) => l.finish(emit),
        }
    }
}

/// Opening an input: a file that cannot be read is the input's fault, not ours.
fn input(path: &Path, e: MediaError) -> PipelineError {
    match e {
        MediaError::Io { source, .. } => {
            PipelineError::Input(format!("{}: {source}", path.display()))
        }
        MediaError::Image { path, reason } => PipelineError::Input(format!(
            "{}: not a PNG, JPEG or WebP image retake can read: {reason}",
            path.display()
        )),
        other => PipelineError::Media(other),
    }
}

/// The output frame a keyframe time falls on, refusing times outside the clip.
fn keyframe_index(at: f64, frames: usize) -> Result<usize, String> {
    let duration = frames as f64 / OUTPUT_FPS as f64;
    if !at.is_finite() || at < 0.0 || at >= duration {
        return Err(format!(
            "a keyframe is at {at} s but the clip runs from 0 to {duration:.3} s; export it with \
             `retake frame CLIP --at SECONDS`"
        ));
    }
    Ok(((at * OUTPUT_FPS as f64).round() as usize).min(frames - 1))
}

/// The output frame each keyframe falls on, in the order given; `first_frame` says an edited
/// first frame takes output frame 0 too. Refuses a place outside the clip and two keyframes
/// on one output frame, with a message that says which.
pub fn place_keyframes(
    reader: &VideoReader,
    at: &[KeyframeAt],
    first_frame: bool,
) -> Result<Vec<usize>, String> {
    if at.len() > MAX_KEYFRAMES {
        return Err(format!(
            "{} keyframes; the most is {MAX_KEYFRAMES} — drop some",
            at.len()
        ));
    }
    let total = reader.frame_count();
    let times = reader.source_times();
    let mut placed = Vec::with_capacity(at.len());
    for a in at {
        let index = match *a {
            KeyframeAt::Seconds(s) => keyframe_index(s, total)?,
            KeyframeAt::SourceFrame(i) => match times.get(i) {
                Some(&t) => retake_media::retime::output_index_at(t, total),
                None => {
                    return Err(format!(
                        "a keyframe is at source frame {i} but the clip has {} frames (0 to {}); \
                         count frames from 0 in the source's own frame rate",
                        times.len(),
                        times.len().saturating_sub(1)
                    ))
                }
            },
        };
        placed.push(index);
    }
    let mut taken: Vec<(usize, String)> = Vec::new();
    if first_frame {
        taken.push((0, "the first frame".into()));
    }
    for (a, &k) in at.iter().zip(&placed) {
        if let Some((_, other)) = taken.iter().find(|(i, _)| *i == k) {
            let why = match a {
                KeyframeAt::SourceFrame(_) if (times.len() as f64) > total as f64 * 1.01 => {
                    " (the source has more frames per second than the 24 fps output)"
                }
                _ => "",
            };
            return Err(format!(
                "the keyframes at {other} and at {a} both fall on output frame {k} ({:.3} s){why}; \
                 give each its own frame",
                k as f64 / OUTPUT_FPS as f64
            ));
        }
        taken.push((k, a.to_string()));
    }
    Ok(placed)
}

/// Runs one clip end to end: decode, (restyle keyframes from the prompt when `diffusion` is
/// given), style every frame from the keyframes, encode with the source audio. `progress`
/// hears about every step; setting `cancel` stops the run with nothing written at `output`.
pub fn modify(
    req: &ModifyRequest,
    diffusion: Option<&DiffusionEngine>,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<ModifyReport, PipelineError> {
    let prompt = req
        .prompt
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let restyler = match (prompt, diffusion) {
        (Some(p), Some(engine)) => Some((p, engine)),
        _ => None,
    };
    let look = req.look.as_ref();
    let mut notes = Vec::new();
    let edited = req.first_frame.is_some() || !req.keyframes.is_empty();
    match (edited, prompt, restyler.is_some(), look) {
        (false, None, _, None) => {
            return Err(PipelineError::Input(
                "nothing to apply: give an edited first frame (export one with `retake frame`), \
                 a built-in look (`retake looks` lists them) or a prompt"
                    .into(),
            ))
        }
        (false, Some(_), false, None) => {
            return Err(PipelineError::Unavailable(PROMPT_NEEDS_MODEL.into()))
        }
        (edited, Some(_), false, _) => notes.push(format!(
            "the prompt was not used: prompts need a diffusion model (--model-dir); {} \
             the look",
            if edited {
                "the edited frames set"
            } else {
                "the built-in look sets"
            }
        )),
        _ => {}
    }
    // A colour grade alone is applied to every frame: exact, and nothing to propagate.
    let each_frame = look
        .filter(|l| {
            l.per_pixel()
                && req.first_frame.is_none()
                && req.keyframes.is_empty()
                && restyler.is_none()
        })
        .map(|l| l.look);
    let reader = VideoReader::open(&req.clip, &req.limits).map_err(|e| input(&req.clip, e))?;
    check_motion(reader.info().video.frame_count, reader.frame_count())
        .map_err(PipelineError::Input)?;
    let (width, height) = reader.output_size();
    // Where the user's own keyframes fall (refusing places outside the clip or shared).
    let places: Vec<KeyframeAt> = req.keyframes.iter().map(|(a, _)| *a).collect();
    let indices = place_keyframes(&reader, &places, req.first_frame.is_some())
        .map_err(PipelineError::Input)?;
    let key_at_zero = indices.contains(&0);
    let first = match (&req.first_frame, look) {
        (Some(path), _) => {
            let img = load_image(path).map_err(|e| input(path, e))?;
            Some(fit_first_frame(img, width, height)?)
        }
        // The look goes on the clip's own first frame, unless a keyframe takes its place.
        (None, Some(_)) if each_frame.is_none() && !key_at_zero => {
            Some(extract_frame(&req.clip, 0.0, &req.limits).map_err(|e| input(&req.clip, e))?)
        }
        _ => None,
    };
    let mut first = match (first, look) {
        (Some(f), Some(l)) => Some(apply_look(&f, l)?),
        (f, _) => f,
    };
    // The user's own keyframes.
    let mut keyframes: Vec<(usize, RgbFrame)> = Vec::new();
    for ((at, path), index) in req.keyframes.iter().zip(indices) {
        let img = load_image(path).map_err(|e| input(path, e))?;
        let img = fit_first_frame(img, width, height).map_err(|e| match e {
            PipelineError::Input(m) => PipelineError::Input(format!(
                "the keyframe at {at} ({}): {}",
                path.display(),
                m.replacen("the first frame", "it", 1)
            )),
            other => other,
        })?;
        let img = match look {
            Some(l) => apply_look(&img, l)?,
            None => img,
        };
        keyframes.push((index, img));
    }
    // A keyframe on frame 0 plays the first frame's part (it anchors a prompt's restyle).
    if first.is_none() {
        if let Some(at) = keyframes.iter().position(|(i, _)| *i == 0) {
            first = Some(keyframes.remove(at).1);
        }
    }
    let params = req.mode.params().with_controls(&req.controls);
    let mut diffusion = None;
    match restyler {
        Some((prompt, engine)) => {
            let mut picked =
                choose_keyframes(&req.clip, &req.limits, params.keyframe_interval, cancel)?;
            // Frames the user edited are not restyled.
            picked.retain(|i| *i == 0 || !keyframes.iter().any(|(k, _)| k == i));
            let sources = collect_frames(&req.clip, &req.limits, &picked, cancel)?;
            let started = std::time::Instant::now();
            let styled = restyle(
                &Restyle {
                    engine,
                    prompt,
                    mode: &params,
                    seed: req.seed,
                    first_frame: first.as_ref(),
                },
                &sources,
                &mut |done, total| {
                    progress(Progress {
                        stage: Stage::Keyframes,
                        done,
                        total,
                        with_keyframes: true,
                    })
                },
                cancel,
            )?;
            diffusion = Some(DiffusionReport {
                engine: engine.summary(),
                keyframes_restyled: styled.len(),
                seconds: started.elapsed().as_secs_f64(),
            });
            keyframes.extend(picked.into_iter().zip(styled));
        }
        None => {
            if let Some(f) = first {
                keyframes.push((0, f));
            }
        }
    }
    keyframes.sort_by_key(|(i, _)| *i);
    let with_keyframes = restyler.is_some();
    let keyframe_indices: Vec<usize> = keyframes.iter().map(|(i, _)| *i).collect();
    let engine_cancel = Arc::new(AtomicBool::new(false));
    let mut stage = match each_frame {
        Some(l) => {
            notes.push(format!(
                "{} is a colour grade: it was applied to every frame directly, with nothing \
                 to propagate",
                l.name()
            ));
            Styler::EachFrame(PerFrameLook(l))
        }
        None => {
            let mut sequencer =
                KeyframeSequencer::new(keyframes, &params, req.seed, req.profile.settings())?;
            // The engine checks an owned flag inside long steps; mirror the caller's into it.
            sequencer.set_cancel_flag(engine_cancel.clone());
            Styler::Keyframes(Box::new(sequencer))
        }
    };
    let options = TranscodeOptions {
        encode: req.encode,
        mute: req.mute,
    };
    let finished = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                if cancel.load(Ordering::Relaxed) {
                    engine_cancel.store(true, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let r = transcode_with(
            reader,
            &req.output,
            options,
            &mut stage,
            &mut |done, total| {
                progress(Progress {
                    stage: Stage::Frames,
                    done,
                    total,
                    with_keyframes,
                })
            },
            cancel,
        );
        finished.store(true, Ordering::Relaxed);
        r
    });
    let media = result.map_err(|e| match e {
        PipelineError::Engine(retake_engine::EngineError::Cancelled) => {
            PipelineError::Media(MediaError::Cancelled)
        }
        PipelineError::Media(MediaError::Io { path, source }) if path != req.clip => {
            PipelineError::Output(MediaError::Io { path, source })
        }
        other => other,
    })?;
    Ok(ModifyReport {
        media,
        mode: req.mode,
        profile: req.profile,
        seed: req.seed,
        keyframes: if each_frame.is_some() {
            Vec::new()
        } else {
            keyframe_indices
        },
        look: req.look.clone(),
        scene_cuts: match &stage {
            Styler::Keyframes(s) => s.cuts().to_vec(),
            Styler::EachFrame(_) => Vec::new(),
        },
        notes,
        diffusion,
    })
}
