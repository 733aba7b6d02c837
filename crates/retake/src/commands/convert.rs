//! `retake convert`: the output path with no restyling.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use retake_media::{transcode, EncodeSettings, Limits, MediaError, TranscodeOptions, VideoReader};

use crate::exit::{input_error, CliError};
use crate::progress::frames_bar;

/// How `retake convert` writes its output.
pub struct ConvertOptions {
    /// Drop the audio.
    pub mute: bool,
    /// Print a JSON report when done.
    pub json: bool,
    /// The encoder and its settings.
    pub encode: EncodeSettings,
}

/// Re-encodes `clip` to `output` as retake writes every output.
pub fn run(
    clip: &Path,
    output: &Path,
    opts: ConvertOptions,
    limits: &Limits,
    quiet: bool,
    cancel: &AtomicBool,
) -> Result<(), CliError> {
    crate::exit::require_file(clip)?;
    let reader = VideoReader::open(clip, limits).map_err(input_error)?;
    let bar = frames_bar(reader.frame_count(), "convert", quiet);
    let options = TranscodeOptions {
        mute: opts.mute,
        encode: opts.encode,
    };
    let report = transcode::<MediaError, _>(
        reader,
        output,
        options,
        |_, frame| Ok(frame),
        &mut |done, _| bar.set_position(done as u64),
        cancel,
    )
    .map_err(CliError::from_media)?;
    bar.finish_and_clear();
    if opts.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::internal(e.into()))?;
        println!("{text}");
    } else if !quiet {
        crate::exit::print_notes(&report);
        eprintln!(
            "wrote {} ({}x{}, {} frames at 24 fps{})",
            output.display(),
            report.width,
            report.height,
            report.frames,
            if report.audio_copied {
                ", audio copied"
            } else {
                ""
            }
        );
    }
    Ok(())
}
