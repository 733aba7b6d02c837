//! Painted looks: oil paint (a Kuwahara filter) and watercolour (the same abstraction,
//! washed out, with pigment pooled at the edges and paper grain).

use rayon::prelude::*;

use crate::plane::{luma, scaled, value_noise, Plane};

/// The Kuwahara filter: each pixel takes the mean colour of whichever of its four
/// overlapping quadrants (squares of side `2k + 1` with the pixel at a corner) is most
/// uniform. The quadrants are mixed by weights that fall steeply with their variance (the
/// smooth variant), which avoids the blocky artefacts of a hard choice. Texture flattens
/// into strokes; an edge stays sharp, because on each side of it one quadrant lies wholly on
/// that side and wins.
pub(crate) fn kuwahara(w: usize, h: usize, src: &[[f32; 3]], k: usize) -> Vec<[f32; 3]> {
    let chan = |c: usize| Plane::from_fn(w, h, src, |p| p[c]);
    let sq = Plane::from_fn(w, h, src, |p| p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
    let [r, g, b, s] = [chan(0), chan(1), chan(2), sq].map(|p| p.box_mean(k));
    // Each window's mean colour and variance, once; every pixel then reads four of them.
    let stats: Vec<[f32; 4]> = (0..w * h)
        .into_par_iter()
        .map(|i| {
            let m = [r.data[i], g.data[i], b.data[i]];
            let var = s.data[i] - (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]);
            [m[0], m[1], m[2], var.max(0.0)]
        })
        .collect();
    let at = |x: isize, y: isize| {
        let x = x.clamp(0, w as isize - 1) as usize;
        let y = y.clamp(0, h as isize - 1) as usize;
        stats[y * w + x]
    };
    let k = k as isize;
    let mut out = vec![[0f32; 3]; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let y = y as isize;
        for (x, o) in row.iter_mut().enumerate() {
            let x = x as isize;
            let quads = [
                at(x - k, y - k),
                at(x + k, y - k),
                at(x - k, y + k),
                at(x + k, y + k),
            ];
            const EPS: f32 = 1e-4;
            let least = quads.iter().map(|q| q[3]).fold(f32::MAX, f32::min);
            let mut acc = [0f32; 3];
            let mut total = 0.0;
            for q in quads {
                let ratio = (least + EPS) / (q[3] + EPS);
                let wt = (ratio * ratio) * (ratio * ratio);
                total += wt;
                for c in 0..3 {
                    acc[c] += q[c] * wt;
                }
            }
            *o = acc.map(|a| a / total);
        }
    });
    out
}

/// More saturation, the luma kept.
fn saturate(c: [f32; 3], amount: f32) -> [f32; 3] {
    let y = luma(c);
    c.map(|v| y + (v - y) * amount)
}

/// Oil paint: two Kuwahara passes (broad strokes, then a finer one that rounds their
/// corners), colours a little richer.
pub(crate) fn oil_paint(w: usize, h: usize, src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let broad = kuwahara(w, h, src, scaled(w, h, 4.0));
    let fine = kuwahara(w, h, &broad, scaled(w, h, 2.0));
    fine.into_par_iter().map(|c| saturate(c, 1.15)).collect()
}

/// Watercolour: the frame abstracted into flat areas (Kuwahara), laid down as thin washes
/// (pigment density cut to three quarters), the density varied by paper grain and raised
/// along every edge, where pigment pools as a wash dries.
pub(crate) fn watercolour(w: usize, h: usize, src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let flat = kuwahara(w, h, src, scaled(w, h, 3.0));
    let lum = Plane::from_fn(w, h, &flat, luma).blur(scaled(w, h, 1.5));
    let edges = lum.gradient();
    let (coarse, fine) = (scaled(w, h, 60.0) as f32, scaled(w, h, 3.0) as f32);
    flat.par_iter()
        .enumerate()
        .map(|(i, &c)| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let grain = 0.55 * value_noise(x, y, coarse, 11) + 0.45 * value_noise(x, y, fine, 12);
            let e = edges.data[i];
            let pooled = 1.0 + 1.2 * (e / 0.25).min(1.0);
            let density = 0.72 * (1.0 + 0.35 * (grain - 0.5)) * pooled;
            c.map(|v| 1.0 - (1.0 - v) * density)
        })
        .collect()
}
