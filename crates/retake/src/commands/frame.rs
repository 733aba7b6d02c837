//! `retake frame`: export the frame a user will edit.

use std::path::Path;

use retake_media::{extract_frame, save_png, Limits, MediaError, RgbFrame, VideoReader};

use crate::exit::{input_error, output_error, CliError};
use crate::progress::spinner;

/// Which frame to export.
#[derive(Clone, Copy, Debug)]
pub enum At {
    /// The output frame nearest this time, seconds.
    Seconds(f64),
    /// The output frame nearest source frame N (what `--keyframe fN=IMAGE` takes back).
    SourceFrame(usize),
}

/// The output frame nearest source frame `n`.
fn source_frame(clip: &Path, n: usize, limits: &Limits) -> Result<(RgbFrame, usize), MediaError> {
    let mut reader = VideoReader::open(clip, limits)?;
    let count = reader.source_times().len();
    let index = reader.output_index_of_source(n).ok_or_else(|| {
        MediaError::InvalidArgument(format!(
            "--source-frame {n} is past the clip's last frame; it has {count} frames (0 to {})",
            count.saturating_sub(1)
        ))
    })?;
    Ok((reader.frame_at(index)?, index))
}

/// Writes the chosen frame as a PNG at the output size and orientation; with `json`, says
/// what it wrote as JSON on stdout.
pub fn run(
    clip: &Path,
    at: At,
    output: &Path,
    limits: &Limits,
    json: bool,
    quiet: bool,
) -> Result<(), CliError> {
    crate::exit::require_file(clip)?;
    // Decoding up to a late frame of a long clip takes a moment.
    let what = match at {
        At::Seconds(s) => format!("{s} s"),
        At::SourceFrame(n) => format!("source frame {n}"),
    };
    let bar = spinner(&format!("decoding {} up to {what}", clip.display()), quiet);
    let frame = match at {
        At::Seconds(s) => extract_frame(clip, s, limits).map(|f| (f, None)),
        At::SourceFrame(n) => source_frame(clip, n, limits).map(|(f, i)| (f, Some(i))),
    };
    bar.finish_and_clear();
    let (frame, index) = frame.map_err(input_error)?;
    save_png(&frame, output).map_err(output_error)?;
    let back = match at {
        At::Seconds(s) => format!("--first-frame (or --keyframe {s}={})", output.display()),
        At::SourceFrame(n) => format!("--keyframe f{n}={}", output.display()),
    };
    if json {
        let mut report = serde_json::json!({
            "output": output,
            "width": frame.width(),
            "height": frame.height(),
        });
        match at {
            At::Seconds(s) => report["at_s"] = serde_json::json!(s),
            At::SourceFrame(n) => {
                report["source_frame"] = serde_json::json!(n);
                report["output_frame"] = serde_json::json!(index);
            }
        }
        println!("{report:#}");
    } else if !quiet {
        eprintln!(
            "wrote {} ({}x{}); edit it and pass it back with {back}",
            output.display(),
            frame.width(),
            frame.height()
        );
    }
    Ok(())
}
