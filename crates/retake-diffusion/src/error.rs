//! The one error type of the diffusion crate; every variant says what to change.

use std::path::PathBuf;

/// What went wrong while loading a model or restyling keyframes.
#[derive(Debug, thiserror::Error)]
pub enum DiffusionError {
    /// The model folder does not exist or is not a folder.
    #[error("model folder {0} does not exist — point --model-dir / RETAKE_MODEL_DIR at a diffusers model folder (one with model_index.json)")]
    NoModelDir(PathBuf),
    /// A file the model needs is missing from the folder.
    #[error("model folder {dir} is incomplete: {file} is missing — copy the whole diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/)")]
    MissingFile {
        /// The model folder.
        dir: PathBuf,
        /// The missing file, relative to the folder.
        file: String,
    },
    /// An autoencoder folder (given with `--vae DIR` / `diffusion_vae`) does not exist.
    #[error("autoencoder folder {0} does not exist — give --vae (diffusion_vae) auto, full, tiny, or the folder of a diffusers autoencoder (config.json and diffusion_pytorch_model.safetensors)")]
    NoVaeDir(PathBuf),
    /// An autoencoder folder lacks a file.
    #[error("autoencoder folder {dir} is incomplete: {file} is missing — a diffusers autoencoder folder holds config.json and diffusion_pytorch_model.safetensors (for the tiny autoencoder, copy TAESD's diffusers folder whole)")]
    MissingVaeFile {
        /// The autoencoder folder.
        dir: PathBuf,
        /// The missing file, relative to the folder.
        file: String,
    },
    /// The tiny autoencoder was asked for and the model folder has none.
    #[error("model folder {0} has no tiny autoencoder — copy TAESD's diffusers folder (config.json naming AutoencoderTiny, and its weights) into it as vae_tiny/, pass that folder with --vae DIR, or use --vae full")]
    NoTinyVae(PathBuf),
    /// A JSON config could not be read or does not describe a supported model.
    #[error("bad config {path}: {reason}")]
    BadConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong and what to change.
        reason: String,
    },
    /// A weights file could not be read or lacks a tensor the architecture needs.
    #[error("bad weights in {path}: {reason} — the file does not match its config.json; re-copy the model folder")]
    BadWeights {
        /// The weights file (or the component folder).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The model's architecture is recognised but not supported by this engine.
    #[error("{0}")]
    Unsupported(String),
    /// A request parameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
    /// A frame could not be used (size, conversion).
    #[error("frame: {0}")]
    Frame(String),
    /// The work was cancelled through the cancellation flag.
    #[error("cancelled")]
    Cancelled,
    /// The tensor backend failed (out of memory, device error).
    #[error("diffusion backend: {0} — on out-of-memory, use smaller frames, fp16 weights or a smaller attention slice")]
    Backend(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl From<candle_core::Error> for DiffusionError {
    fn from(e: candle_core::Error) -> Self {
        DiffusionError::Backend(first_line(&e))
    }
}

/// candle appends a backtrace to messages when RUST_BACKTRACE is set; keep the message.
pub(crate) fn first_line(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    s.lines().next().unwrap_or("").trim().to_string()
}

impl From<retake_media::MediaError> for DiffusionError {
    fn from(e: retake_media::MediaError) -> Self {
        DiffusionError::Frame(e.to_string())
    }
}

/// Result with [`DiffusionError`].
pub type Result<T, E = DiffusionError> = std::result::Result<T, E>;
