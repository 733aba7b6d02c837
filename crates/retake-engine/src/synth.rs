//! Guide channels for the patch search, and rendering an output frame from the keyframe through
//! a nearest-neighbour field (upsampled to full resolution, overlapping patches voted).

use crate::mode::ModeParams;
use crate::patchmatch::{Guides, Nnf, APP};
use crate::plane::{ColorImage, Plane, Taps};
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
    let mut g = Guides::empty(src.width(), src.height());
    appearance(src, &src.luma(), m, &mut g.app);
    temporal(style, m, &mut g.tmp);
    g.pack();
    g
}

/// How much of the source's own change since the keyframe goes into the output: its luminance
/// change at the `floor` share everywhere, and where the keyframe left the source unedited
/// (its edit map well below `tolerance`) the whole change, so untouched areas keep the
/// source's own appearance.
pub(crate) struct Residual<'a> {
    /// The current source frame.
    pub src: &'a ColorImage,
    /// The keyframe's source frame.
    pub key_src: &'a ColorImage,
    /// Per-pixel size of the edit (mean |keyframe − its source|, blurred), 0–255 scale.
    pub edit: &'a Plane,
    /// Share of the source's change carried everywhere (the mode's detail blend).
    pub floor: f32,
    /// Edit size at which the share has fallen back to `floor` by 1/e.
    pub tolerance: f32,
}

/// The edit map of a keyframe: mean absolute RGB difference to its source, blurred over about
/// a patch so isolated pixels neither count as edits nor escape them.
pub(crate) fn edit_map(style: &ColorImage, key_src: &ColorImage, radius: usize) -> Plane {
    let d: Vec<f32> = style
        .data()
        .iter()
        .zip(key_src.data())
        .map(|(a, b)| ((a[0] - b[0]).abs() + (a[1] - b[1]).abs() + (a[2] - b[2]).abs()) / 3.0)
        .collect();
    match Plane::from_vec(style.width(), style.height(), d) {
        Ok(p) => p.box_blur(radius),
        Err(_) => Plane::new(style.width(), style.height()),
    }
}

/// Renders the full-resolution output. Every full-resolution pixel blends the keyframe looked up
/// through the displacements of its nearest working-resolution neighbours (a bilinear vote of
/// overlapping patches), so seams between patches are soft while coherent areas stay sharp.
/// With `residual`, the source's change since the keyframe is added back (see [`Residual`]).
pub(crate) fn render(
    style: &ColorImage,
    nnf: &Nnf,
    f: usize,
    residual: Option<&Residual<'_>>,
    out: &mut ColorImage,
) {
    let w = out.width();
    let (nw, nh) = (nnf.w, nnf.h);
    let fs = f as f32;
    // The keyframe, its source and its edit map are sampled through the same taps.
    if let Some(r) = residual {
        let size = (style.width(), style.height());
        assert!(
            (r.key_src.width(), r.key_src.height()) == size
                && (r.edit.width(), r.edit.height()) == size,
            "the keyframe, its source and its edit map differ in size"
        );
    }
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
                let mut ks = [0.0f32; 3];
                let mut edit = 0.0f32;
                type Lookup = ([f32; 2], [f32; 3], [f32; 3], f32);
                let mut last: Option<Lookup> = None;
                for (qx, qy, wt) in qs {
                    let p = nnf.pos[qy * nw + qx];
                    let d = [(p[0] - qx as f32) * fs, (p[1] - qy as f32) * fs];
                    // Coherent neighbours share a displacement: reuse the lookup.
                    let (c, k, e) = match last {
                        Some((ld, c, k, e))
                            if (ld[0] - d[0]).abs() < 0.05 && (ld[1] - d[1]).abs() < 0.05 =>
                        {
                            (c, k, e)
                        }
                        _ => {
                            let (sx, sy) = (x as f32 + d[0], y as f32 + d[1]);
                            let t = Taps::new(sx, sy, style.width(), style.height());
                            let c = style.sample_taps(&t);
                            let (k, e) = match residual {
                                Some(r) => (r.key_src.sample_taps(&t), r.edit.sample_taps(&t)),
                                None => ([0.0; 3], 0.0),
                            };
                            last = Some((d, c, k, e));
                            (c, k, e)
                        }
                    };
                    for i in 0..3 {
                        acc[i] += wt * c[i];
                        ks[i] += wt * k[i];
                    }
                    edit += wt * e;
                }
                if let Some(r) = residual {
                    // Unedited areas take the source's whole change; edited ones its luminance
                    // change only, at the floor share, so the edit's colours stay.
                    let keep = if r.tolerance > 0.0 {
                        let t = edit / r.tolerance;
                        if t > 4.0 {
                            0.0
                        } else {
                            (-t * t).exp()
                        }
                    } else {
                        0.0
                    };
                    let s = r.src.data()[y * w + x];
                    let d = [s[0] - ks[0], s[1] - ks[1], s[2] - ks[2]];
                    let dy = (1.0 - keep) * r.floor * (0.299 * d[0] + 0.587 * d[1] + 0.114 * d[2]);
                    for i in 0..3 {
                        acc[i] += keep * d[i] + dy;
                    }
                }
                *o = acc;
            }
        });
}
