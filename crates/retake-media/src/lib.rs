//! Media foundation for retake: probe, decode, retime to 24 fps, resize, encode and mux.
//!
//! Everything here is pure Rust plus OpenH264 compiled from source, so a plain `cargo build`
//! is enough on a fresh machine; the optional `ffmpeg` feature adds libx264 encoding and
//! FFmpeg decoding through the system's FFmpeg libraries. Frames stream through one at a time: memory stays at a few
//! frames whatever the clip's length.

pub mod color;
pub mod demux;
mod error;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod h264;
mod image_io;
mod limits;
pub mod mux;
mod probe;
mod reader;
mod resolution;
pub mod retime;
mod transcode;
pub mod transform;
mod writer;

pub use error::{Limit, MediaError, Result};
pub use frame::RgbFrame;
pub use h264::encode::{EncodeSettings, EncoderKind};
pub use image_io::{decode_image, load_image, save_png};
pub use limits::Limits;
pub use probe::{probe, AudioInfo, OutputInfo, ProbeInfo, VideoInfo};
pub use reader::{extract_frame, AudioSource, VideoReader};
pub use resolution::{Resolution, UnknownResolution, MAX_OUTPUT_SIDE};
pub use retime::OUTPUT_FPS;
pub use transcode::{
    transcode, transcode_with, FrameProcessor, FrameSink, TranscodeOptions, TranscodeReport,
};
pub use transform::SizeCap;
pub use writer::VideoWriter;
