//! `retake eval`: the repo's own quality metrics, on a modified clip or on the built-in suite
//! of synthetic clips with known motion.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use retake_engine::eval::{run_suite, ClipEvaluator, SuiteConfig};
use retake_engine::{EngineError, Mode, Profile};
use retake_media::{load_image, Limits, MediaError, VideoReader};
use retake_pipeline::fit_first_frame;

use crate::commands::modify::pipeline_error;
use crate::exit::{input_error, CliError};
use crate::progress::{count_bar, frames_bar};

/// Scores `output` (made from `source` and `first_frame`) and prints the scores.
pub fn clip(
    source: &Path,
    first_frame: &Path,
    output: &Path,
    json: bool,
    limits: &Limits,
    quiet: bool,
    cancel: &AtomicBool,
) -> Result<(), CliError> {
    for p in [source, first_frame, output] {
        crate::exit::require_file(p)?;
    }
    let mut src = VideoReader::open(source, limits).map_err(input_error)?;
    let mut out = VideoReader::open(output, limits).map_err(input_error)?;
    if src.output_size() != out.output_size() || src.frame_count() != out.frame_count() {
        let (sw, sh) = src.output_size();
        let (ow, oh) = out.output_size();
        return Err(CliError::input(anyhow::anyhow!(
            "{} has {} frames of {ow}x{oh} but {} gives {} frames of {sw}x{sh} at 24 fps; \
             evaluate the output made from this source",
            output.display(),
            out.frame_count(),
            source.display(),
            src.frame_count()
        )));
    }
    let (w, h) = src.output_size();
    let first = load_image(first_frame).map_err(input_error)?;
    let first = fit_first_frame(first, w, h).map_err(pipeline_error)?;
    let mut eval = ClipEvaluator::new(&first);
    let bar = frames_bar(src.frame_count(), "eval", quiet);
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(CliError::from_media(MediaError::Cancelled));
        }
        let (a, b) = (
            src.next_frame().map_err(input_error)?,
            out.next_frame().map_err(input_error)?,
        );
        match (a, b) {
            (Some(a), Some(b)) => eval.push(&a, &b).map_err(engine_error)?,
            _ => break,
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let scores = eval.finish();
    if json {
        let v = serde_json::to_string_pretty(&scores).map_err(|e| CliError::internal(e.into()))?;
        println!("{v}");
    } else {
        println!("frames               {}", scores.frames);
        println!(
            "first frame          PSNR {:.2} dB, SSIM {:.4} (against the edited first frame)",
            scores.first_frame_psnr, scores.first_frame_ssim
        );
        println!(
            "temporal stability   warping error {:.3} (0-255, lower is steadier)",
            scores.warping_error
        );
        println!(
            "flicker              {:.3} (0-255: the output's change along the source's flow \
             against the source's own; lower is steadier)",
            scores.flicker
        );
        println!(
            "structure kept       edge SSIM {:.4} (against the source)",
            scores.edge_ssim
        );
        let q = scores.edit_retention_by_quarter;
        println!(
            "edit retention       {:.3} mean, {:.3} in the last quarter (by quarter {:.2} {:.2} \
             {:.2} {:.2}; 0-1, the share of the first frame's edit still there where its \
             region is tracked, {:.0} % of it in the last quarter)",
            scores.edit_retention,
            scores.edit_retention_last_quarter,
            q[0],
            q[1],
            q[2],
            q[3],
            100.0 * scores.edit_tracked_last_quarter
        );
    }
    Ok(())
}

/// Runs the synthetic suite (engine against both baselines) and prints its tables.
pub fn suite(
    width: usize,
    height: usize,
    frames: usize,
    mode: Mode,
    profile: Profile,
    json: bool,
    quiet: bool,
) -> Result<(), CliError> {
    let cfg = SuiteConfig {
        width,
        height,
        frames,
        mode,
        settings: profile.settings(),
        ..SuiteConfig::default()
    };
    let mut bar = None;
    let report = run_suite(&cfg, &mut |done, total| {
        bar.get_or_insert_with(|| count_bar(total, "suite", "clips", quiet))
            .set_position(done as u64)
    })
    .map_err(engine_error)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        let v = serde_json::to_string_pretty(&report).map_err(|e| CliError::internal(e.into()))?;
        println!("{v}");
    } else {
        print!("{}", report.markdown());
    }
    Ok(())
}

fn engine_error(e: EngineError) -> CliError {
    match e {
        EngineError::Cancelled => CliError::from_media(MediaError::Cancelled),
        EngineError::SizeMismatch { .. }
        | EngineError::TooSmall { .. }
        | EngineError::InvalidParam { .. } => CliError::input(e.into()),
        other => CliError::internal(other.into()),
    }
}
