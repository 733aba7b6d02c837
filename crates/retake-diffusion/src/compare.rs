//! Numerical comparison of tensors: how the parity and unit tests measure agreement.

use candle_core::{DType, Result, Tensor};

/// The largest absolute value in `t`, computed in f32.
pub fn max_abs(t: &Tensor) -> Result<f32> {
    t.to_dtype(DType::F32)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar()
}

/// The largest absolute difference between `a` and `b` (same shape), computed in f32.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    max_abs(&(a.to_dtype(DType::F32)? - b.to_dtype(DType::F32)?)?)
}
