//! Baselines the propagator is measured against: naive flow warping, and a frozen first frame.

use crate::flow::{bidirectional_flow, occlusion_mask, FlowParams};
use crate::plane::{check_size, ColorImage, Plane};
use crate::EngineError;
use retake_media::RgbFrame;

/// Naive propagation: warp the previous output along the source flow, and fill pixels that are
/// newly revealed or came from outside the picture with the source frame recoloured to the
/// keyframe's palette (Reinhard per-channel mean/std transfer).
pub struct NaiveWarp {
    w: usize,
    h: usize,
    key_stats: [(f32, f32); 3],
    prev_out: ColorImage,
    prev_luma: Option<Plane>,
    flow: FlowParams,
}

fn stats(img: &ColorImage) -> [(f32, f32); 3] {
    let n = img.data().len() as f32;
    let mut out = [(0.0, 0.0); 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mean = img.data().iter().map(|p| p[k]).sum::<f32>() / n;
        let var = img
            .data()
            .iter()
            .map(|p| (p[k] - mean).powi(2))
            .sum::<f32>()
            / n;
        *o = (mean, var.sqrt().max(1e-3));
    }
    out
}

impl NaiveWarp {
    /// Starts from the styled keyframe (also the output for the first pushed frame).
    pub fn new(keyframe: &RgbFrame) -> Self {
        let key = ColorImage::from_frame(keyframe);
        Self {
            w: key.width(),
            h: key.height(),
            key_stats: stats(&key),
            prev_out: key,
            prev_luma: None,
            flow: FlowParams::default(),
        }
    }

    /// The output for the next source frame.
    pub fn push(&mut self, source: &RgbFrame) -> Result<RgbFrame, EngineError> {
        check_size("source frame", source, self.w, self.h)?;
        let src = ColorImage::from_frame(source);
        let luma = src.luma();
        if let Some(prev) = &self.prev_luma {
            let (bwd, fwd) = bidirectional_flow(&luma, prev, &self.flow)?;
            let occ = occlusion_mask(&bwd, &fwd);
            let s = stats(&src);
            let mut out = ColorImage::new(self.w, self.h);
            for y in 0..self.h {
                for x in 0..self.w {
                    let i = y * self.w + x;
                    let b = bwd.get(x, y);
                    let (qx, qy) = (x as f32 + b[0], y as f32 + b[1]);
                    let outside = qx < -0.5
                        || qy < -0.5
                        || qx > self.w as f32 - 0.5
                        || qy > self.h as f32 - 0.5;
                    out.data_mut()[i] = if occ[i] || outside {
                        let p = src.data()[i];
                        [0, 1, 2].map(|k| {
                            (p[k] - s[k].0) / s[k].1 * self.key_stats[k].1 + self.key_stats[k].0
                        })
                    } else {
                        self.prev_out.sample(qx, qy)
                    };
                }
            }
            self.prev_out = out;
        }
        self.prev_luma = Some(luma);
        self.prev_out.to_frame()
    }
}

/// The frozen baseline: the keyframe, unchanged, for every frame.
pub fn frozen(keyframe: &RgbFrame) -> RgbFrame {
    keyframe.clone()
}
