//! Why a run produced no output, and what kind of failure that is for the caller.

use retake_engine::EngineError;
use retake_media::MediaError;

/// A failed run. Nothing is ever left at the output path when a run fails.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Reading, decoding, encoding or writing media failed.
    #[error(transparent)]
    Media(MediaError),
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(EngineError),
    /// An input cannot be used; the message says what to change.
    #[error("{0}")]
    Input(String),
    /// The request needs something this build or configuration lacks (a diffusion model).
    #[error("{0}")]
    Unavailable(String),
    /// The output could not be written.
    #[error("{0}")]
    Output(MediaError),
    /// The diffusion engine failed while running (out of memory, a backend error).
    #[error("{0}")]
    Diffusion(String),
}

/// The classes of failure the CLI's exit codes and the server's states tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user's input was refused (unreadable, unsupported, over a limit, wrong shape).
    Input,
    /// The output could not be written.
    Output,
    /// A model or engine is missing.
    Unavailable,
    /// The cancel flag was set.
    Cancelled,
    /// A failure inside retake or the system.
    Internal,
}

impl PipelineError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Media(MediaError::Cancelled)
            | PipelineError::Engine(EngineError::Cancelled) => ErrorKind::Cancelled,
            PipelineError::Media(
                MediaError::Io { .. }
                | MediaError::Stream(_)
                | MediaError::Encode(_)
                | MediaError::InvalidFrame(_)
                | MediaError::InvalidArgument(_),
            ) => ErrorKind::Internal,
            PipelineError::Media(_) | PipelineError::Input(_) => ErrorKind::Input,
            PipelineError::Engine(
                EngineError::SizeMismatch { .. }
                | EngineError::TooSmall { .. }
                | EngineError::UnknownMode(_)
                | EngineError::UnknownProfile(_),
            ) => ErrorKind::Input,
            PipelineError::Engine(_) => ErrorKind::Internal,
            PipelineError::Unavailable(_) => ErrorKind::Unavailable,
            PipelineError::Output(_) => ErrorKind::Output,
            PipelineError::Diffusion(_) => ErrorKind::Internal,
        }
    }
}

impl From<MediaError> for PipelineError {
    fn from(e: MediaError) -> Self {
        PipelineError::Media(e)
    }
}

impl From<EngineError> for PipelineError {
    fn from(e: EngineError) -> Self {
        PipelineError::Engine(e)
    }
}
