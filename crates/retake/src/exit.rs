//! Exit codes and the one-line error a user sees.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success |
//! | 1    | failure inside retake or the system (disk full, encoder failure, bug) |
//! | 2    | bad command line (unknown flag, bad value) |
//! | 3    | the input was rejected: unreadable, unsupported, damaged or over a limit |
//! | 4    | the output could not be written |
//! | 130  | cancelled (Ctrl-C); no output file was created |

use std::path::Path;

use retake_media::{Limit, MediaError, TranscodeReport};

/// Exit code: failure inside retake or the system.
pub const INTERNAL: i32 = 1;
/// Exit code: bad command line.
pub const USAGE: i32 = 2;
/// Exit code: the input was rejected.
pub const INPUT: i32 = 3;
/// Exit code: the output could not be written.
pub const OUTPUT: i32 = 4;
/// Exit code: cancelled.
pub const CANCELLED: i32 = 130;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code.
    pub code: i32,
    /// What to print.
    pub error: anyhow::Error,
}

impl CliError {
    /// An input problem.
    pub fn input(error: anyhow::Error) -> Self {
        Self { code: INPUT, error }
    }

    /// A bad or incomplete command line.
    pub fn usage(error: anyhow::Error) -> Self {
        Self { code: USAGE, error }
    }

    /// A failure inside retake or the system.
    pub fn internal(error: anyhow::Error) -> Self {
        Self {
            code: INTERNAL,
            error,
        }
    }

    /// Classifies a media error from a whole read-process-write run.
    pub fn from_media(e: MediaError) -> Self {
        let code = match &e {
            MediaError::Cancelled => CANCELLED,
            MediaError::Io { .. } | MediaError::Stream(_) | MediaError::Encode(_) => INTERNAL,
            MediaError::InvalidArgument(_) | MediaError::InvalidFrame(_) => INTERNAL,
            _ => INPUT,
        };
        Self {
            code,
            error: with_flag(e),
        }
    }
}

/// The flag that raises a limit on the command line, if one does.
pub fn limit_flag(limit: Limit) -> Option<&'static str> {
    match limit {
        Limit::Duration => Some("--max-duration"),
        Limit::FileSize => Some("--max-bytes"),
        Limit::InputSide | Limit::MinSide => None,
    }
}

/// A media error as the CLI says it: a limit names the flag that raises it.
pub fn with_flag(e: MediaError) -> anyhow::Error {
    match &e {
        MediaError::LimitExceeded { limit, message } => match limit_flag(*limit) {
            Some(flag) => anyhow::anyhow!("{message}, or raise the limit with {flag}"),
            None => e.into(),
        },
        _ => e.into(),
    }
}

/// Maps an error met while reading the input.
pub fn input_error(e: MediaError) -> CliError {
    match e {
        MediaError::Cancelled => CliError::from_media(e),
        other => CliError::input(with_flag(other)),
    }
}

/// Maps an error met while writing the output.
pub fn output_error(e: MediaError) -> CliError {
    CliError {
        code: OUTPUT,
        error: e.into(),
    }
}

/// Fails with a clear message if `path` is not a readable file.
pub fn require_file(path: &Path) -> Result<(), CliError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(CliError::input(anyhow::anyhow!(
            "{}: not a file",
            path.display()
        ))),
        Err(e) => Err(CliError::input(anyhow::anyhow!("{}: {e}", path.display()))),
    }
}

/// Prints what a user should know about a finished run (dropped audio, damaged frames).
pub fn print_notes(report: &TranscodeReport) {
    if let Some(note) = &report.audio_dropped {
        eprintln!("note: {note}");
    }
    if report.damaged_frames > 0 {
        eprintln!(
            "note: {} damaged source frame(s) could not be decoded; each gap shows the nearest \
             good frame",
            report.damaged_frames
        );
    }
}
