//! Quality metrics: PSNR, SSIM, edge-map SSIM, temporal warping error and flow end-point error.

use crate::flow::FlowField;
use crate::plane::{ColorImage, Plane};
use crate::EngineError;
use retake_media::RgbFrame;

fn same_size(a: &RgbFrame, b: &RgbFrame) -> Result<(), EngineError> {
    if a.width() != b.width() || a.height() != b.height() {
        return Err(EngineError::SizeMismatch {
            what: "second frame",
            got_w: b.width() as usize,
            got_h: b.height() as usize,
            want_w: a.width() as usize,
            want_h: a.height() as usize,
        });
    }
    Ok(())
}

/// Peak signal-to-noise ratio over all RGB samples, in dB (peak 255; capped at 100 dB when equal).
pub fn psnr(a: &RgbFrame, b: &RgbFrame) -> Result<f64, EngineError> {
    same_size(a, b)?;
    let mse = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.data().len() as f64;
    Ok(if mse == 0.0 {
        100.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    })
}

/// Separable Gaussian blur (sigma 1.5, 11 taps), clamped at the borders.
fn gauss(p: &Plane) -> Plane {
    let k: Vec<f32> = (-5..=5)
        .map(|i: i32| (-(i * i) as f32 / (2.0 * 1.5 * 1.5)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    let (w, h) = (p.width(), p.height());
    let mut tmp = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let v: f32 = k
                .iter()
                .enumerate()
                .map(|(i, kv)| kv * p.at(x as isize + i as isize - 5, y as isize))
                .sum();
            tmp.data_mut()[y * w + x] = v / s;
        }
    }
    let mut out = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let v: f32 = k
                .iter()
                .enumerate()
                .map(|(i, kv)| kv * tmp.at(x as isize, y as isize + i as isize - 5))
                .sum();
            out.data_mut()[y * w + x] = v / s;
        }
    }
    out
}

/// Mean SSIM of two planes in `[0, 1]` (Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03).
pub fn ssim_plane(a: &Plane, b: &Plane) -> Result<f64, EngineError> {
    if a.width() != b.width() || a.height() != b.height() {
        return Err(EngineError::SizeMismatch {
            what: "second plane",
            got_w: b.width(),
            got_h: b.height(),
            want_w: a.width(),
            want_h: a.height(),
        });
    }
    let mul = |x: &Plane, y: &Plane| {
        let d = x.data().iter().zip(y.data()).map(|(p, q)| p * q).collect();
        Plane::from_vec(x.width(), x.height(), d)
    };
    let (ma, mb) = (gauss(a), gauss(b));
    let (saa, sbb, sab) = (gauss(&mul(a, a)?), gauss(&mul(b, b)?), gauss(&mul(a, b)?));
    let (c1, c2) = (0.01f64 * 0.01, 0.03f64 * 0.03);
    let mut total = 0.0;
    for i in 0..a.data().len() {
        let (mx, my) = (ma.data()[i] as f64, mb.data()[i] as f64);
        let vx = saa.data()[i] as f64 - mx * mx;
        let vy = sbb.data()[i] as f64 - my * my;
        let cov = sab.data()[i] as f64 - mx * my;
        total +=
            ((2.0 * mx * my + c1) * (2.0 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
    Ok(total / a.data().len() as f64)
}

/// SSIM of the luma of two frames.
pub fn ssim(a: &RgbFrame, b: &RgbFrame) -> Result<f64, EngineError> {
    same_size(a, b)?;
    ssim_plane(&Plane::luma(a), &Plane::luma(b))
}

/// SSIM between the gradient-magnitude maps of two frames: how much of the structure is kept.
pub fn edge_ssim(output: &RgbFrame, source: &RgbFrame) -> Result<f64, EngineError> {
    same_size(output, source)?;
    let norm = |p: Plane| {
        let d = p.data().iter().map(|v| (v * 2.0).min(1.0)).collect();
        Plane::from_vec(p.width(), p.height(), d)
    };
    ssim_plane(
        &norm(Plane::luma(output).edges())?,
        &norm(Plane::luma(source).edges())?,
    )
}

/// Temporal warping error: mean absolute RGB difference (0–255 scale) between `prev` and `next`
/// warped back along `flow` (the forward flow of the *source* from prev to next), over the
/// pixels not marked in `occluded`.
pub fn warping_error(
    prev: &RgbFrame,
    next: &RgbFrame,
    flow: &FlowField,
    occluded: &[bool],
) -> Result<f64, EngineError> {
    same_size(prev, next)?;
    let nx = ColorImage::from_frame(next);
    mean_along_flow(prev, flow, occluded, |i, qx, qy| {
        let q = nx.sample(qx, qy);
        let p = &prev.data()[i * 3..i * 3 + 3];
        (0..3)
            .map(|k| (q[k] as f64 - p[k] as f64).abs())
            .sum::<f64>()
            / 3.0
    })
}

/// The mean of `cost(i, qx, qy)` over the pixels of `frame`'s size not marked in `occluded`,
/// where `i` is the pixel's index and `(qx, qy)` where `flow` carries it; zero when every
/// pixel is occluded.
fn mean_along_flow(
    frame: &RgbFrame,
    flow: &FlowField,
    occluded: &[bool],
    cost: impl Fn(usize, f32, f32) -> f64,
) -> Result<f64, EngineError> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if flow.width() != w || flow.height() != h || occluded.len() != w * h {
        return Err(EngineError::SizeMismatch {
            what: "flow",
            got_w: flow.width(),
            got_h: flow.height(),
            want_w: w,
            want_h: h,
        });
    }
    let (mut sum, mut n) = (0.0f64, 0usize);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if occluded[i] {
                continue;
            }
            let f = flow.get(x, y);
            sum += cost(i, x as f32 + f[0], y as f32 + f[1]);
            n += 1;
        }
    }
    Ok(if n == 0 { 0.0 } else { sum / n as f64 })
}

/// Temporal-change error against a ground truth: the mean absolute difference (0–255 scale)
/// between the output's frame-to-frame change and the truth's, both measured along the true
/// flow over unoccluded pixels. Zero when the output changes exactly as the truth does; a
/// flickering output scores high, and so does one that stays still (or blurs) where the truth
/// changes. Needs clips with known motion and a known edited truth.
pub fn temporal_change_error(
    prev_out: &RgbFrame,
    out: &RgbFrame,
    prev_truth: &RgbFrame,
    truth: &RgbFrame,
    flow: &FlowField,
    occluded: &[bool],
) -> Result<f64, EngineError> {
    same_size(prev_out, out)?;
    same_size(prev_out, prev_truth)?;
    same_size(prev_out, truth)?;
    let (o, t) = (ColorImage::from_frame(out), ColorImage::from_frame(truth));
    mean_along_flow(out, flow, occluded, |i, qx, qy| {
        let (qo, qt) = (o.sample(qx, qy), t.sample(qx, qy));
        let po = &prev_out.data()[i * 3..i * 3 + 3];
        let pt = &prev_truth.data()[i * 3..i * 3 + 3];
        (0..3)
            .map(|k| ((qo[k] - po[k] as f32) - (qt[k] - pt[k] as f32)).abs() as f64)
            .sum::<f64>()
            / 3.0
    })
}

/// Mean end-point error (pixels) of `flow` against `truth`, over pixels where `mask` is false
/// (pass an all-false mask, or `&[]`, to use every pixel).
pub fn endpoint_error(
    flow: &FlowField,
    truth: &FlowField,
    mask: &[bool],
) -> Result<f64, EngineError> {
    if flow.width() != truth.width() || flow.height() != truth.height() {
        return Err(EngineError::SizeMismatch {
            what: "ground-truth flow",
            got_w: truth.width(),
            got_h: truth.height(),
            want_w: flow.width(),
            want_h: flow.height(),
        });
    }
    let (mut s, mut n) = (0.0f64, 0usize);
    for (i, (a, b)) in flow.data().iter().zip(truth.data()).enumerate() {
        if mask.get(i).copied().unwrap_or(false) {
            continue;
        }
        s += (((a[0] - b[0]) as f64).powi(2) + ((a[1] - b[1]) as f64).powi(2)).sqrt();
        n += 1;
    }
    Ok(if n == 0 { 0.0 } else { s / n as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_frames_score_perfectly() {
        let s = crate::scene::Scene::new(crate::scene::SceneKind::Translate, 48, 40, 2, 3).unwrap();
        let f = s.frame(0);
        assert_eq!(psnr(&f, &f).unwrap(), 100.0);
        assert!((ssim(&f, &f).unwrap() - 1.0).abs() < 1e-6);
        let g = crate::edits::recolour(&f);
        assert!(psnr(&f, &g).unwrap() < 30.0);
        assert!(ssim(&f, &s.frame(1)).unwrap() < 0.99);
    }

    #[test]
    fn warping_error_is_small_along_true_motion() {
        let s = crate::scene::Scene::new(crate::scene::SceneKind::Translate, 64, 48, 2, 3).unwrap();
        let (flow, occ) = s.flow(0);
        let along = warping_error(&s.frame(0), &s.frame(1), &flow, &occ).unwrap();
        let zero =
            warping_error(&s.frame(0), &s.frame(1), &FlowField::zeros(64, 48), &occ).unwrap();
        assert!(zero > 2.0 * along, "along {along} zero {zero}");
    }
}
