//! The errors the media crate can return; each says what the user can change.

use std::path::PathBuf;

/// The limits an input can break ([`crate::Limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// `Limits::max_duration_s`.
    Duration,
    /// `Limits::max_file_bytes`.
    FileSize,
    /// `Limits::max_input_side`.
    InputSide,
    /// The fixed smallest side, 16 px; nothing lowers it.
    MinSide,
}

/// Everything that can go wrong while probing, decoding, converting or writing media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An I/O error with no single file to blame (e.g. on a stream).
    #[error("I/O error: {0}")]
    Stream(#[from] std::io::Error),
    /// The file is empty.
    #[error("the file is empty (0 bytes)")]
    Empty,
    /// The bytes are not an MP4/MOV container at all.
    #[error("not a video retake can read: {0}")]
    NotAVideo(String),
    /// The container is damaged or cut short.
    #[error("the file is damaged or truncated: {0}")]
    Corrupt(String),
    /// The container holds no video track.
    #[error("the file has no video stream")]
    NoVideoStream,
    /// The video uses a codec or profile the decoder lacks.
    #[error("unsupported video codec: {0}")]
    UnsupportedCodec(String),
    /// The video breaks a configured limit (duration, size, dimensions). The message says
    /// what to change about the input; `limit` lets each front end add how to raise it.
    #[error("{message}")]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// What is over it, and by how much.
        message: String,
    },
    /// The H.264 decoder could not decode the stream.
    #[error("H.264 decode failed: {0}")]
    Decode(String),
    /// The H.264 encoder failed.
    #[error("H.264 encode failed: {0}")]
    Encode(String),
    /// An image could not be read or written.
    #[error("image {path}: {reason}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A frame buffer does not match its stated size.
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    /// A caller passed arguments that cannot work (a programming or configuration error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The work was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
}

impl MediaError {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MediaError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;
