//! Drawing the parts of a local edit into the output, straight from the keyframe.

use super::Regions;
use crate::plane::{ColorImage, Plane};
use rayon::prelude::*;

/// How much of the edit each keyframe pixel carries, 0–1: none below half the tolerance of
/// difference to the source, all from one and a half times it, crisp (not blurred).
pub(crate) fn edit_alpha(style: &ColorImage, key_src: &ColorImage, tolerance: f32) -> Plane {
    let t = tolerance.max(1.0);
    let data: Vec<f32> = style
        .data()
        .iter()
        .zip(key_src.data())
        .map(|(a, b)| {
            let d = ((a[0] - b[0]).abs() + (a[1] - b[1]).abs() + (a[2] - b[2]).abs()) / 3.0;
            ((d - 0.5 * t) / t).clamp(0.0, 1.0)
        })
        .collect();
    Plane::from_vec(style.width(), style.height(), data)
        .unwrap_or_else(|_| Plane::new(style.width(), style.height()))
}

/// Draws every tracked part into the full-resolution output straight from the keyframe
/// through its map: `style`, `key_src` and `src` are the keyframe, its source and the current
/// source at full resolution, `f` the working-resolution factor, `vis` the visibility from
/// [`Regions::place`] at working resolution, `floor` the share of the source's change of
/// luminance carried into edited pixels.
#[allow(clippy::too_many_arguments)]
pub(crate) fn composite(
    regions: &Regions,
    alpha_full: &Plane,
    style: &ColorImage,
    key_src: &ColorImage,
    src: &ColorImage,
    f: usize,
    vis: &[f32],
    floor: f32,
    out: &mut ColorImage,
) {
    if regions.is_empty() {
        return;
    }
    let (w, h) = (out.width(), out.height());
    let (vw, vh) = (regions.w, regions.h);
    let fs = f as f32;
    let vis_at = |x: f32, y: f32| -> f32 {
        // Working coordinates of a full-resolution position, bilinear.
        let u = ((x - (fs - 1.0) / 2.0) / fs).clamp(0.0, (vw - 1) as f32);
        let v = ((y - (fs - 1.0) / 2.0) / fs).clamp(0.0, (vh - 1) as f32);
        let (x0, y0) = (u as usize, v as usize);
        let (x1, y1) = ((x0 + 1).min(vw - 1), (y0 + 1).min(vh - 1));
        let (fx, fy) = (u - x0 as f32, v - y0 as f32);
        let top = vis[y0 * vw + x0] * (1.0 - fx) + vis[y0 * vw + x1] * fx;
        let bot = vis[y1 * vw + x0] * (1.0 - fx) + vis[y1 * vw + x1] * fx;
        top + (bot - top) * fy
    };
    for r in regions.list.iter().filter(|r| r.tracked) {
        let full = r.map.finer(f);
        let Some(inv) = full.inverse() else { continue };
        let fp = r.footprint(vw, vh);
        let x0 = (fp[0] * f).min(w - 1);
        let y0 = (fp[1] * f).min(h - 1);
        let x1 = ((fp[2] + 1) * f).min(w) - 1;
        let y1 = ((fp[3] + 1) * f).min(h) - 1;
        let (kx0, ky0) = ((r.bbox[0] * f) as f32, (r.bbox[1] * f) as f32);
        let (kx1, ky1) = (
            ((r.bbox[2] + 1) * f - 1) as f32,
            ((r.bbox[3] + 1) * f - 1) as f32,
        );
        out.data_mut()[y0 * w..(y1 + 1) * w]
            .par_chunks_mut(w)
            .enumerate()
            .for_each(|(dy, row)| {
                let y = y0 + dy;
                for (x, o) in row.iter_mut().enumerate().take(x1 + 1).skip(x0) {
                    let k = inv.apply([x as f32, y as f32]);
                    if k[0] < kx0 || k[1] < ky0 || k[0] > kx1 || k[1] > ky1 {
                        continue;
                    }
                    let a = alpha_full.sample(k[0], k[1]);
                    if a <= 0.0 {
                        continue;
                    }
                    let v = ((vis_at(x as f32, y as f32) - 0.3) / 0.4).clamp(0.0, 1.0);
                    let a = a * v;
                    if a <= 0.0 {
                        continue;
                    }
                    let c = style.sample(k[0], k[1]);
                    let ks = key_src.sample(k[0], k[1]);
                    let s = src.data()[y * w + x];
                    let luma = |p: [f32; 3]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                    let dy = floor * (luma(s) - luma(ks));
                    for i in 0..3 {
                        o[i] += a * (c[i] + dy - o[i]);
                    }
                }
            });
    }
}
