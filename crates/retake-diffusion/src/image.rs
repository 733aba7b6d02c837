//! Frames ↔ tensors, and the working size a model wants.

use crate::error::{DiffusionError, Result};
use candle_core::{DType, Device, Tensor};
use retake_media::transform::FrameResizer;
use retake_media::RgbFrame;

/// `(1, 3, h, w)` in [-1, 1] from an RGB frame.
pub fn frame_to_tensor(f: &RgbFrame, dtype: DType, dev: &Device) -> Result<Tensor> {
    let (w, h) = (f.width() as usize, f.height() as usize);
    let mut planar = vec![0f32; 3 * w * h];
    for (i, px) in f.data().chunks_exact(3).enumerate() {
        for c in 0..3 {
            planar[c * w * h + i] = px[c] as f32 / 255.0 * 2.0 - 1.0;
        }
    }
    Ok(Tensor::from_vec(planar, (1, 3, h, w), dev)?.to_dtype(dtype)?)
}

/// An RGB frame from `(1, 3, h, w)` in about [-1, 1] (clamped, rounded like diffusers).
pub fn tensor_to_frame(t: &Tensor) -> Result<RgbFrame> {
    let (_, c, h, w) = t.dims4()?;
    if c != 3 {
        return Err(DiffusionError::Frame(format!(
            "decoded image has {c} channels, expected 3"
        )));
    }
    let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    let mut data = vec![0u8; 3 * w * h];
    for i in 0..w * h {
        for ch in 0..3 {
            let x = (v[ch * w * h + i] / 2.0 + 0.5).clamp(0.0, 1.0);
            data[i * 3 + ch] = (x * 255.0).round() as u8;
        }
    }
    Ok(RgbFrame::from_raw(w as u32, h as u32, data)?)
}

/// The size to run a `w`×`h` frame at: the longer side at `long`, aspect kept, both sides
/// multiples of `multiple`.
pub fn working_size(w: u32, h: u32, long: u32, multiple: u32) -> (u32, u32) {
    let m = multiple.max(1);
    let scale = long as f64 / w.max(h) as f64;
    let fit = |v: u32| (((v as f64 * scale) / m as f64).round() as u32).max(1) * m;
    (fit(w), fit(h))
}

/// Resizes with the media crate's Lanczos resizer.
pub fn resize(r: &mut FrameResizer, f: &RgbFrame, w: u32, h: u32) -> Result<RgbFrame> {
    Ok(r.resize(f.clone(), w, h)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sizes() {
        let f = RgbFrame::from_raw(2, 1, vec![0, 128, 255, 10, 20, 30]).unwrap();
        let t = frame_to_tensor(&f, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(tensor_to_frame(&t).unwrap(), f);
        assert_eq!(working_size(1280, 720, 512, 64), (512, 320));
        assert_eq!(working_size(720, 1280, 512, 64), (320, 512));
        assert_eq!(working_size(100, 100, 512, 64), (512, 512));
    }
}
