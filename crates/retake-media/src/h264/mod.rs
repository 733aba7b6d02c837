//! H.264: parameter sets, decoding and encoding.

pub mod decode;
pub mod encode;
#[cfg(feature = "ffmpeg")]
mod ffdecode;
pub mod sps;
#[cfg(feature = "ffmpeg")]
mod x264;
