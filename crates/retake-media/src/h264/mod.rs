//! H.264: parameter sets, decoding and encoding.

pub mod decode;
pub mod encode;
pub mod sps;
