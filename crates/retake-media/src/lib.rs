//! Media foundation for retake: probe, decode, retime to 24 fps, resize, encode and mux.
//!
//! Everything here is pure Rust plus OpenH264 compiled from source, so a plain `cargo build`
//! is enough on a fresh machine.

mod error;
mod frame;
pub mod mux;

pub use error::{MediaError, Result};
pub use frame::RgbFrame;
