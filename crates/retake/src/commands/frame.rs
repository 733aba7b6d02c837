//! `retake frame`: export the frame a user will edit.

use std::path::Path;

use retake_media::{extract_frame, save_png, Limits};

use crate::exit::{input_error, output_error, CliError};

/// Writes the frame at `at` seconds as a PNG at the output size and orientation.
pub fn run(
    clip: &Path,
    at: f64,
    output: &Path,
    limits: &Limits,
    quiet: bool,
) -> Result<(), CliError> {
    crate::exit::require_file(clip)?;
    let frame = extract_frame(clip, at, limits).map_err(input_error)?;
    save_png(&frame, output).map_err(output_error)?;
    if !quiet {
        eprintln!(
            "wrote {} ({}x{}); edit it and pass it back with --first-frame",
            output.display(),
            frame.width(),
            frame.height()
        );
    }
    Ok(())
}
