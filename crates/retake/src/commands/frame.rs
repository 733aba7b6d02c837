//! `retake frame`: export the frame a user will edit.

use std::path::Path;

use retake_media::{extract_frame, save_png, Limits};

use crate::exit::{input_error, output_error, CliError};
use crate::progress::spinner;

/// Writes the frame at `at` seconds as a PNG at the output size and orientation; with
/// `json`, says what it wrote as JSON on stdout.
pub fn run(
    clip: &Path,
    at: f64,
    output: &Path,
    limits: &Limits,
    json: bool,
    quiet: bool,
) -> Result<(), CliError> {
    crate::exit::require_file(clip)?;
    // Decoding up to a late frame of a long clip takes a moment.
    let bar = spinner(&format!("decoding {} up to {at} s", clip.display()), quiet);
    let frame = extract_frame(clip, at, limits);
    bar.finish_and_clear();
    let frame = frame.map_err(input_error)?;
    save_png(&frame, output).map_err(output_error)?;
    if json {
        let report = serde_json::json!({
            "output": output,
            "width": frame.width(),
            "height": frame.height(),
            "at_s": at,
        });
        println!("{report:#}");
    } else if !quiet {
        eprintln!(
            "wrote {} ({}x{}); edit it and pass it back with --first-frame",
            output.display(),
            frame.width(),
            frame.height()
        );
    }
    Ok(())
}
