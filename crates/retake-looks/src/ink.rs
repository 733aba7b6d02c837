//! Drawn looks: a comic (posterised flat colour, ink outlines) and a pencil sketch.

use rayon::prelude::*;

use crate::paint::kuwahara;
use crate::plane::{luma, scaled, Plane};

/// Colour levels per channel in the comic look.
pub(crate) const COMIC_LEVELS: u32 = 5;

/// Comic: detail flattened (Kuwahara), colours richer and posterised to
/// [`COMIC_LEVELS`] levels per channel, and black ink wherever the flattened image has an
/// edge.
pub(crate) fn comic(w: usize, h: usize, src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let flat = kuwahara(w, h, src, scaled(w, h, 3.0));
    let lum = Plane::from_fn(w, h, &flat, luma);
    let ink = lum.gradient().dilate(scaled(w, h, 1.0).saturating_sub(1));
    let steps = (COMIC_LEVELS - 1) as f32;
    flat.par_iter()
        .zip(ink.data.par_iter())
        .map(|(&c, &edge)| {
            if edge > 0.12 {
                return [0.0; 3];
            }
            let y = luma(c);
            c.map(|v| {
                let v = (y + (v - y) * 1.4).clamp(0.0, 1.0);
                (v * steps).round() / steps
            })
        })
        .collect()
}

/// Pencil sketch: the luma divided by its blurred negative (a colour dodge), which is white
/// where the image is flat and dark along edges, times diagonal hatching where the image
/// is dark (crossed where it is darker still). Grey only.
pub(crate) fn pencil_sketch(w: usize, h: usize, src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let lum = Plane::from_fn(w, h, src, luma);
    let inverse = Plane {
        w,
        h,
        data: lum.data.iter().map(|v| 1.0 - v).collect(),
    }
    .blur(scaled(w, h, 8.0));
    let period = scaled(w, h, 7.0).max(3) as i64;
    let line = |d: i64| {
        // Thin dark lines, one pixel at small sizes, two at 720p and up.
        let m = d.rem_euclid(period);
        if m == 0 || (period > 5 && m == 1) {
            1.0
        } else {
            0.0
        }
    };
    (0..w * h)
        .into_par_iter()
        .map(|i| {
            let g = lum.data[i];
            let dodge = (g / (1.0 - inverse.data[i]).max(1e-3)).min(1.0);
            let stroke = dodge * dodge;
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            let dark = 1.0 - g;
            let hatch = 1.0
                - 0.45 * ((dark - 0.45) / 0.2).clamp(0.0, 1.0) * line(x + y)
                - 0.45 * ((dark - 0.7) / 0.15).clamp(0.0, 1.0) * line(x - y);
            // A little of the tone, so that shapes read as well as their outlines.
            let tone = 0.8 + 0.2 * g;
            [stroke * hatch * tone; 3]
        })
        .collect()
}
