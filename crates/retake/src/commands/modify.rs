//! `retake modify`: carry an edited first frame through the whole clip.

use std::sync::atomic::AtomicBool;

use indicatif::ProgressBar;
use retake_pipeline::{
    modify, resolve_model, DiffusionEngine, EngineOptions, ErrorKind, ModifyRequest, PipelineError,
    Stage,
};

use crate::cli::DiffusionArgs;
use crate::exit::{CliError, CANCELLED, INPUT, INTERNAL, OUTPUT, USAGE};
use crate::progress::{count_bar, frames_bar, spinner};

/// Maps a pipeline failure to the exit code it stands for.
pub fn pipeline_error(e: PipelineError) -> CliError {
    let code = match e.kind() {
        ErrorKind::Input => INPUT,
        ErrorKind::Output => OUTPUT,
        ErrorKind::Unavailable => USAGE,
        ErrorKind::Cancelled => CANCELLED,
        ErrorKind::Internal => INTERNAL,
    };
    let error = match e {
        PipelineError::Media(m) => crate::exit::with_flag(m),
        other => other.into(),
    };
    CliError { code, error }
}

/// Loads the diffusion model when a prompt will use it.
fn load_engine(
    req: &ModifyRequest,
    args: &DiffusionArgs,
    quiet: bool,
) -> Result<Option<DiffusionEngine>, CliError> {
    let (Some(_), Some(dir)) = (&req.prompt, &args.model_dir) else {
        return Ok(None);
    };
    let folder = resolve_model(dir, args.diffusion_model.as_deref()).map_err(pipeline_error)?;
    let bar = spinner(&format!("loading {}", folder.display()), quiet);
    let options = EngineOptions {
        steps: args.steps.map(|s| s as usize),
        resolution: args.diffusion_size,
        device: args.device,
        dtype: args.dtype,
        vae: args.vae.clone(),
        ..EngineOptions::default()
    };
    let engine = DiffusionEngine::load(&folder, options);
    bar.finish_and_clear();
    Ok(Some(
        engine.map_err(|e| CliError::usage(anyhow::anyhow!("{e}")))?,
    ))
}

/// Runs the modification end to end.
pub fn run(
    req: ModifyRequest,
    diffusion: &DiffusionArgs,
    json: bool,
    quiet: bool,
    cancel: &AtomicBool,
) -> Result<(), CliError> {
    crate::exit::require_file(&req.clip)?;
    if req.keyframes.len() > retake_pipeline::MAX_KEYFRAMES {
        return Err(CliError::usage(anyhow::anyhow!(
            "{} --keyframe flags; the most is {} — drop some",
            req.keyframes.len(),
            retake_pipeline::MAX_KEYFRAMES
        )));
    }
    for (_, k) in &req.keyframes {
        crate::exit::require_file(k)?;
    }
    let can_prompt = req.prompt.is_some() && diffusion.model_dir.is_some();
    match &req.first_frame {
        Some(f) => crate::exit::require_file(f)?,
        None if can_prompt || req.look.is_some() || !req.keyframes.is_empty() => {}
        None => {
            let why = if req.prompt.is_some() {
                retake_pipeline::PROMPT_NEEDS_MODEL.to_string()
            } else {
                "nothing to apply; export a frame with `retake frame CLIP -o frame.png`, edit it, \
                 and pass it with --first-frame frame.png, or pick a built-in look with --look \
                 NAME (`retake looks` lists them), or give a --prompt and --model-dir"
                    .to_string()
            };
            return Err(CliError::usage(anyhow::anyhow!(why)));
        }
    }
    let engine = load_engine(&req, diffusion, quiet)?;
    let mut bar: Option<(Stage, ProgressBar)> = None;
    let label = req.mode.name();
    let result = modify(
        &req,
        engine.as_ref(),
        &mut |p| {
            if bar.as_ref().is_none_or(|(s, _)| *s != p.stage) {
                if let Some((_, old)) = bar.take() {
                    old.finish_and_clear();
                }
                let b = match p.stage {
                    Stage::Keyframes => count_bar(p.total, "keyframes", "steps", quiet),
                    Stage::Frames => frames_bar(p.total, label, quiet),
                };
                bar = Some((p.stage, b));
            }
            if let Some((_, b)) = &bar {
                b.set_position(p.done as u64);
            }
        },
        cancel,
    );
    if let Some((_, b)) = bar {
        b.finish_and_clear();
    }
    let report = result.map_err(pipeline_error)?;
    let fps = retake_media::OUTPUT_FPS as f64;
    if json {
        let mut v = serde_json::to_value(&report).map_err(|e| CliError::internal(e.into()))?;
        v["output"] = serde_json::json!(req.output);
        v["scene_cuts_s"] = serde_json::json!(report
            .scene_cuts
            .iter()
            .map(|&c| c as f64 / fps)
            .collect::<Vec<_>>());
        println!("{v:#}");
    } else if !quiet {
        crate::exit::print_notes(&report.media);
        for n in &report.notes {
            eprintln!("note: {n}");
        }
        if let Some(d) = &report.diffusion {
            let e = &d.engine;
            eprintln!(
                "restyled {} keyframe(s) from the prompt in {:.1} s ({}, {} VAE, {} {}, {} step(s) at {} px)",
                d.keyframes_restyled,
                d.seconds,
                e.model.file_name().map_or_else(|| e.model.display().to_string(), |n| n.to_string_lossy().into_owned()),
                e.vae,
                e.device,
                e.dtype,
                e.steps,
                e.resolution
            );
        }
        for c in &report.scene_cuts {
            eprintln!(
                "note: scene cut at {t:.2} s (frame {c}): the edit was re-matched from the nearest \
                 keyframe by appearance; for best results edit the new shot's first frame too \
                 (`retake frame CLIP --at {t:.2}`) and pass it with --keyframe {t:.2}=IMAGE",
                t = *c as f64 / fps
            );
        }
        // How the frames were styled: the look on every frame, or propagated at a mode.
        let how = match &report.look {
            Some(l) if report.keyframes.is_empty() => {
                format!(
                    "look {} at {} on every frame",
                    l.look.name(),
                    l.look.strength()
                )
            }
            Some(l) => format!(
                "look {} at {}, mode {}, {} profile",
                l.look.name(),
                l.look.strength(),
                report.mode,
                report.profile
            ),
            None => format!("mode {}, {} profile", report.mode, report.profile),
        };
        eprintln!(
            "wrote {} ({}x{}, {} frames at 24 fps, {how}{})",
            req.output.display(),
            report.media.width,
            report.media.height,
            report.media.frames,
            if report.media.audio_copied {
                ", audio copied"
            } else {
                ""
            }
        );
    }
    Ok(())
}
