//! `retake modify`: carry an edited first frame through the whole clip.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use retake_engine::{EngineError, Mode, Propagator};
use retake_media::transform::FrameResizer;
use retake_media::{
    load_image, transcode, Limits, MediaError, RgbFrame, TranscodeOptions, VideoReader,
};

use crate::exit::{input_error, CliError, INPUT};
use crate::progress::frames_bar;

/// How far the first frame's aspect ratio may differ from the clip's and still be resized.
const ASPECT_TOLERANCE: f64 = 0.01;

/// What `modify` was asked to do.
pub struct ModifyArgs<'a> {
    /// The source clip.
    pub clip: &'a Path,
    /// The edited first frame.
    pub first_frame: Option<&'a Path>,
    /// A text prompt (needs the diffusion engine).
    pub prompt: Option<&'a str>,
    /// Strength mode.
    pub mode: Mode,
    /// Seed for the engine's random search.
    pub seed: u64,
    /// Output path.
    pub output: &'a Path,
    /// Drop the audio.
    pub mute: bool,
    /// Print a JSON report.
    pub json: bool,
}

/// Either half of the pipeline can fail; both keep their own message.
#[derive(Debug, thiserror::Error)]
enum ModifyError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Runs the modification end to end.
pub fn run(
    a: ModifyArgs,
    limits: &Limits,
    quiet: bool,
    cancel: &AtomicBool,
) -> Result<(), CliError> {
    crate::exit::require_file(a.clip)?;
    let Some(first_frame_path) = a.first_frame else {
        let why = if a.prompt.is_some() {
            "modifying from a prompt alone needs the diffusion engine, which is not in this \
             build yet"
        } else {
            "nothing to apply"
        };
        return Err(CliError::usage(anyhow::anyhow!(
            "{why}; export a frame with `retake frame CLIP -o frame.png`, edit it, and pass it \
             with --first-frame frame.png"
        )));
    };
    crate::exit::require_file(first_frame_path)?;
    let reader = VideoReader::open(a.clip, limits).map_err(input_error)?;
    if reader.info().video.frame_count < 2 || reader.frame_count() < 2 {
        return Err(CliError::input(anyhow::anyhow!(
            "{}: the clip has a single frame, so there is no motion to carry the edit along; \
             use the edited image itself",
            a.clip.display()
        )));
    }
    let (w, h) = reader.output_size();
    let keyframe = fit_first_frame(
        load_image(first_frame_path).map_err(input_error)?,
        w,
        h,
        first_frame_path,
    )?;
    let fps = retake_media::OUTPUT_FPS as f64;
    let bar = frames_bar(reader.frame_count(), a.mode.name(), quiet);
    let mut propagator: Option<Propagator> = None;
    let options = TranscodeOptions {
        mute: a.mute,
        ..Default::default()
    };
    let params = a.mode.params();
    let result = transcode::<ModifyError, _>(
        reader,
        a.output,
        options,
        |i, frame| {
            if i == 0 {
                propagator = Some(Propagator::new(&keyframe, &frame, &params, a.seed)?);
            }
            match propagator.as_mut() {
                Some(p) => Ok(p.push(&frame)?),
                None => Err(EngineError::Frame("the propagator was not started".into()).into()),
            }
        },
        &mut |done, _| bar.set_position(done as u64),
        cancel,
    );
    bar.finish_and_clear();
    let report = result.map_err(|e| match e {
        ModifyError::Media(m) => CliError::from_media(m),
        ModifyError::Engine(EngineError::Cancelled) => CliError::from_media(MediaError::Cancelled),
        ModifyError::Engine(
            e @ (EngineError::SizeMismatch { .. } | EngineError::TooSmall { .. }),
        ) => CliError::input(e.into()),
        ModifyError::Engine(e) => CliError::internal(e.into()),
    })?;
    let cuts: Vec<usize> = propagator.map(|p| p.cuts().to_vec()).unwrap_or_default();
    if a.json {
        let v = serde_json::json!({
            "output": a.output,
            "mode": a.mode.name(),
            "seed": a.seed,
            "frames": report.frames,
            "width": report.width,
            "height": report.height,
            "audio_copied": report.audio_copied,
            "audio_dropped": report.audio_dropped,
            "damaged_frames": report.damaged_frames,
            "scene_cuts_s": cuts.iter().map(|&c| c as f64 / fps).collect::<Vec<_>>(),
        });
        println!("{v:#}");
    } else if !quiet {
        crate::exit::print_notes(&report);
        for c in &cuts {
            eprintln!(
                "note: scene cut at {:.2} s (frame {c}): the edit was re-matched from the first \
                 frame by appearance; for best results supply a keyframe for the new shot",
                *c as f64 / fps
            );
        }
        eprintln!(
            "wrote {} ({}x{}, {} frames at 24 fps, mode {}{})",
            a.output.display(),
            report.width,
            report.height,
            report.frames,
            a.mode,
            if report.audio_copied {
                ", audio copied"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Checks the edited frame against the output size: equal is used as is, the same aspect
/// (within 1 %) is resized, anything else is refused with the size that is expected.
fn fit_first_frame(img: RgbFrame, w: u32, h: u32, path: &Path) -> Result<RgbFrame, CliError> {
    if img.width() == w && img.height() == h {
        return Ok(img);
    }
    let aspect = |a: u32, b: u32| a as f64 / b as f64;
    let ratio = aspect(img.width(), img.height()) / aspect(w, h);
    if (ratio - 1.0).abs() <= ASPECT_TOLERANCE {
        return FrameResizer::default()
            .resize(img, w, h)
            .map_err(|e| CliError::internal(e.into()));
    }
    Err(CliError {
        code: INPUT,
        error: anyhow::anyhow!(
            "{}: the first frame is {}x{} but the clip's frames are {w}x{h} (aspect {:.3} vs \
             {:.3}); edit the frame exported by `retake frame`, or resize yours to {w}x{h}",
            path.display(),
            img.width(),
            img.height(),
            aspect(img.width(), img.height()),
            aspect(w, h)
        ),
    })
}
