//! Guide channels for the patch search, and rendering an output frame from the keyframe through
//! a nearest-neighbour field (upsampled to full resolution, overlapping patches voted).

use crate::mode::ModeParams;
use crate::patchmatch::{Guides, Nnf, APP};
use crate::plane::{ColorImage, Plane};
use rayon::prelude::*;

/// Appearance channels (luma, chroma, edges) of a working-resolution source image, weighted.
pub(crate) fn appearance(img: &ColorImage, luma: &Plane, m: &ModeParams, out: &mut Vec<f32>) {
    let edges = luma.edges();
    let (wy, wc, we) = (
        m.appearance_weight.sqrt(),
        (0.5 * m.appearance_weight).sqrt(),
        m.edge_weight.sqrt(),
    );
    out.clear();
    out.reserve(img.data().len() * APP);
    for (i, p) in img.data().iter().enumerate() {
        let y = luma.data()[i];
        out.extend_from_slice(&[
            wy * y,
            wc * (p[2] / 255.0 - y),
            wc * (p[0] / 255.0 - y),
            we * 2.0 * edges.data()[i],
        ]);
    }
}

/// Temporal channels: colours scaled to `[0, 1]` and weighted.
pub(crate) fn temporal(img: &ColorImage, m: &ModeParams, out: &mut Vec<[f32; 3]>) {
    let s = m.temporal_weight.sqrt() / 255.0;
    out.clear();
    out.extend(img.data().iter().map(|p| [p[0] * s, p[1] * s, p[2] * s]));
}

/// Builds the keyframe-side guides: its source's appearance and the style itself.
pub(crate) fn key_guides(src: &ColorImage, style: &ColorImage, m: &ModeParams) -> Guides {
    let mut g = Guides {
        w: src.width(),
        h: src.height(),
        app: Vec::new(),
        tmp: Vec::new(),
    };
    appearance(src, &src.luma(), m, &mut g.app);
    temporal(style, m, &mut g.tmp);
    g
}

/// Renders the full-resolution output. Every full-resolution pixel blends the keyframe looked up
/// through the displacements of its nearest working-resolution neighbours (a bilinear vote of
/// overlapping patches), so seams between patches are soft while coherent areas stay sharp.
/// With `detail`, the change of source luminance since the keyframe is added back.
pub(crate) fn render(
    style: &ColorImage,
    nnf: &Nnf,
    f: usize,
    detail: Option<(&Plane, &Plane, f32)>,
    out: &mut ColorImage,
) {
    let w = out.width();
    let (nw, nh) = (nnf.w, nnf.h);
    let fs = f as f32;
    out.data_mut()
        .par_chunks_mut(w)
        .enumerate()
        .for_each(|(y, row)| {
            let v = ((y as f32 + 0.5) / fs - 0.5).clamp(0.0, (nh - 1) as f32);
            let q0y = (v as usize).min(nh - 1);
            let q1y = (q0y + 1).min(nh - 1);
            let fy = v - q0y as f32;
            for (x, o) in row.iter_mut().enumerate() {
                let u = ((x as f32 + 0.5) / fs - 0.5).clamp(0.0, (nw - 1) as f32);
                let q0x = (u as usize).min(nw - 1);
                let q1x = (q0x + 1).min(nw - 1);
                let fx = u - q0x as f32;
                let qs = [
                    (q0x, q0y, (1.0 - fx) * (1.0 - fy)),
                    (q1x, q0y, fx * (1.0 - fy)),
                    (q0x, q1y, (1.0 - fx) * fy),
                    (q1x, q1y, fx * fy),
                ];
                let mut acc = [0.0f32; 3];
                let mut kl = 0.0f32;
                let mut last: Option<([f32; 2], [f32; 3], f32)> = None;
                for (qx, qy, wt) in qs {
                    let p = nnf.pos[qy * nw + qx];
                    let d = [(p[0] - qx as f32) * fs, (p[1] - qy as f32) * fs];
                    // Coherent neighbours share a displacement: reuse the lookup.
                    let (c, l) = match last {
                        Some((ld, c, l))
                            if (ld[0] - d[0]).abs() < 0.05 && (ld[1] - d[1]).abs() < 0.05 =>
                        {
                            (c, l)
                        }
                        _ => {
                            let (sx, sy) = (x as f32 + d[0], y as f32 + d[1]);
                            let c = style.sample(sx, sy);
                            let l = detail.map_or(0.0, |(_, ks, _)| ks.sample(sx, sy));
                            last = Some((d, c, l));
                            (c, l)
                        }
                    };
                    acc[0] += wt * c[0];
                    acc[1] += wt * c[1];
                    acc[2] += wt * c[2];
                    kl += wt * l;
                }
                if let Some((src, _, a)) = detail {
                    let add = a * 255.0 * (src.data()[y * w + x] - kl);
                    acc = acc.map(|c| c + add);
                }
                *o = acc;
            }
        });
}
